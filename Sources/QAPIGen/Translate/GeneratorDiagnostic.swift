import QAPI

/// Something the generator could not translate, with where it stands in the schema.
public struct GeneratorDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: QAPISourceLocation?
    public var message: String

    public var description: String {
        location.map { "\($0): \(message)" } ?? message
    }
}
