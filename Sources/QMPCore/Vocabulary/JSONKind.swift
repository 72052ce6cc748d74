/// The kinds of JSON value QMP tells apart: what a value is, and what a schema type accepts.
///
/// `integer` and `number` are separate kinds because QEMU's schema separates them: an `int`
/// refuses `1.5`, a `number` takes `1` as well as `1.5`.
public enum JSONKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case null
    case boolean
    case integer
    case number
    case string
    case array
    case object

    /// The word error messages use: `boolean`, `integer`, … (QEMU's words too).
    public var description: String { rawValue }

    /// The word for a type that accepts `kinds`: the widest of them, as QEMU names a `number`
    /// (which also takes integers) `number`; `value` when it accepts every kind, `nil` when none.
    public static func name(accepting kinds: Set<JSONKind>) -> String? {
        if kinds.isEmpty { return nil }
        if kinds.count == allCases.count { return "value" }
        if kinds == [.integer, .number] { return JSONKind.number.rawValue }
        return allCases.filter(kinds.contains).map(\.rawValue).joined(separator: " or ")
    }

    /// The names of the ``JSONValue`` cases that hold a value of this kind: the reverse of
    /// ``JSONValue/kind``, for code that matches values by case (the generator's decoders).
    public var valueCases: [String] {
        switch self {
        case .null: ["null"]
        case .boolean: ["bool"]
        case .integer: ["int", "uint"]
        case .number: ["double"]
        case .string: ["string"]
        case .array: ["array"]
        case .object: ["object"]
        }
    }
}

extension JSONValue {
    /// The value's kind.
    public var kind: JSONKind {
        switch self {
        case .null: .null
        case .bool: .boolean
        case .int, .uint: .integer
        case .double: .number
        case .string: .string
        case .array: .array
        case .object: .object
        }
    }

    /// The name of the value's kind, as used in error messages ("expected object, got string").
    public var kindName: String { kind.rawValue }
}
