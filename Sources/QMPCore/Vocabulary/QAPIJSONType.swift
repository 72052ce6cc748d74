/// The `json-type` that QEMU's introspection gives a built-in type: one word for the set of
/// JSON kinds the type accepts. Every integer width shares `int`; `value` takes every kind.
public enum QAPIJSONType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case string
    case number
    case int
    case boolean
    case null
    case object
    case array
    case value

    /// The kinds a value of a type with this word may have.
    public var acceptedKinds: Set<JSONKind> {
        switch self {
        case .int: [.integer]
        case .number: [.integer, .number]
        case .value: Set(JSONKind.allCases)
        case .string: [.string]
        case .boolean: [.boolean]
        case .null: [.null]
        case .object: [.object]
        case .array: [.array]
        }
    }

    /// The word for a type that accepts exactly `kinds`; `nil` when no word does.
    public init?(accepting kinds: Set<JSONKind>) {
        guard let word = Self.allCases.first(where: { $0.acceptedKinds == kinds }) else { return nil }
        self = word
    }

    /// The introspection word.
    public var description: String { rawValue }
}
