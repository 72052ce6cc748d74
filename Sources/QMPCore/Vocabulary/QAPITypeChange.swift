/// A member's declared type and optionality from `version` on: one step of the member's
/// history, the first step being the first release that had the member.
public struct QAPITypeChange: Sendable, Hashable {
    /// The first release with this type and optionality.
    public var version: QEMUVersion
    /// The QAPI type name as the schema writes it: `str`, `BlockdevOnError`, `[str]`.
    public var type: String
    /// Whether the member may be left out.
    public var isOptional: Bool

    /// A step of a member's history.
    public init(version: QEMUVersion, type: String, isOptional: Bool) {
        self.version = version
        self.type = type
        self.isOptional = isOptional
    }
}
