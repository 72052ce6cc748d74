/// Everything that can go wrong talking QMP, from an error reply of QEMU to a dead connection.
///
/// ``code`` says what kind of failure it is; for an error reply of the server
/// (``Code-swift.struct/commandFailed``) ``errorClass`` holds QEMU's class (`GenericError`,
/// `CommandNotFound`, `DeviceNotFound`, …, kept as a string because other QEMU versions have
/// other classes) and ``message`` QEMU's `desc`.
public struct QMPError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. New codes can be added without breaking code that switches on it.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case commandFailed = "command failed"
            case connectionClosed = "connection closed"
            case connectionFailed = "connection failed"
            case protocolViolation = "protocol violation"
            case negotiationFailed = "negotiation failed"
            case timeout = "timed out"
            case cancelled = "cancelled"
            case unsupported = "unsupported"
            case invalidArguments = "invalid arguments"
            case shutDown = "shut down"
            case wedged = "monitor wedged"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server answered the command with an error reply.
        public static let commandFailed = Code(.commandFailed)
        /// The connection ended (the peer closed it, died, or the client was closed) before a reply.
        public static let connectionClosed = Code(.connectionClosed)
        /// No connection could be made: no such socket, refused, unreachable.
        public static let connectionFailed = Code(.connectionFailed)
        /// The peer said something that is not QMP: not JSON, not a greeting, too large.
        public static let protocolViolation = Code(.protocolViolation)
        /// The server refused capabilities negotiation.
        public static let negotiationFailed = Code(.negotiationFailed)
        /// No answer within the time allowed.
        public static let timeout = Code(.timeout)
        /// The waiting task was cancelled.
        public static let cancelled = Code(.cancelled)
        /// Asked for something this connection cannot do (OOB not offered, fd passing over TCP).
        public static let unsupported = Code(.unsupported)
        /// Input this library was given that it cannot use, found before anything was sent: a
        /// command or argument the connected QEMU lacks, arguments of the wrong shape, an address
        /// or a transcript that does not parse.
        public static let invalidArguments = Code(.invalidArguments)
        /// The client was shut down (a graceful shutdown, or the cancellation of its service's
        /// `run()`) while the call waited: the command may or may not have run.
        public static let shutDown = Code(.shutDown)
        /// Not sent: the monitor has stopped answering (it is wedged) and the client was told to
        /// fail calls at once while it is, rather than queue them behind the silence.
        public static let wedged = Code(.wedged)

        public var description: String { base.rawValue }
    }

    /// QEMU's error classes that exist in every version since 1.2. Others may appear.
    public enum ErrorClass {
        /// Every error QEMU has no more specific class for; most errors since QEMU 1.2.
        public static let genericError = "GenericError"
        /// The command does not exist in this QEMU, or not in this state (before negotiation).
        public static let commandNotFound = "CommandNotFound"
        /// The device exists but is not in a state the command needs.
        public static let deviceNotActive = "DeviceNotActive"
        /// No device, node or object has the name given.
        public static let deviceNotFound = "DeviceNotFound"
        /// KVM lacks a capability the command needs.
        public static let kvmMissingCap = "KVMMissingCap"
    }

    /// What kind of failure this is; match on it rather than on ``message``.
    public var code: Code
    /// QEMU's error class, for ``Code-swift.struct/commandFailed``.
    public var errorClass: String?
    /// QEMU's `desc` for command failures, otherwise what went wrong and what was expected.
    public var message: String
    /// The command this error answers, when there is one.
    public var command: String?
    /// The id the command was sent with; `nil` when it went without one (in-band commands are
    /// matched by order where that is safe).
    public var id: JSONValue?
    /// The pre-1.2 `data` member of an error reply.
    public var data: JSONValue?
    /// The error underneath, e.g. the system call that failed.
    public var underlying: (any Error & Sendable)?

    /// Makes an error; the library makes them, and tests and servers may too.
    public init(
        code: Code,
        errorClass: String? = nil,
        message: String,
        command: String? = nil,
        id: JSONValue? = nil,
        data: JSONValue? = nil,
        underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.errorClass = errorClass
        self.message = message
        self.command = command
        self.id = id
        self.data = data
        self.underlying = underlying
    }

    /// An error reply of the server to `command`.
    public init(reply body: QMPErrorBody, command: String?, id: JSONValue?) {
        self.init(
            code: .commandFailed,
            errorClass: body.errorClass,
            message: body.description,
            command: command,
            id: id,
            data: body.data
        )
    }

    public var description: String {
        var text = ""
        if let command {
            text += "\(command): "
        }
        if let errorClass {
            text += "\(errorClass): \(message)"
        } else {
            text += message
        }
        if let underlying {
            text += " (\(underlying))"
        }
        return text
    }
}
