/// A command line, or a line typed at the shell, that cannot be turned into a command; the tool
/// exits with 64 for it. The tool's own error, not a code of `QMPError`: command lines are no
/// part of the protocol.
public struct CommandLineError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}
