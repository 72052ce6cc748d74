/// What a QAPI definition is, in the words of QEMU's introspection (`query-qmp-schema`'s
/// `meta-type`).
///
/// A union is an `object` with variants here, as in introspection and in the resolved schema:
/// the schema language's `union` keyword names a way to write an object, not another
/// meta-type, and a second word for it would give two answers to "is this an object?".
public enum QAPIMetaType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case builtin
    case enumeration = "enum"
    case array
    case object
    case alternate
    case command
    case event

    /// The introspection word: `enum`, `object`, …
    public var description: String { rawValue }
}
