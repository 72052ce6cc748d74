import QMPCore

/// What decides the JSON kinds a QAPI type accepts: its meta-type, and for a built-in which one.
///
/// Both the source model (``QAPIType/Kind``) and introspection (``QAPISchemaInfo/MetaType``)
/// reduce to this, so that there is one answer to "which kinds does this type take" for the
/// resolver's alternate rules, the validator, the schema comparison and the generator alike.
public enum QAPITypeShape: Sendable, Hashable {
    case builtin(QAPIBuiltinType)
    case enumeration
    case array
    case object
    /// The branch types, by name.
    case alternate(branches: [String])

    /// The kinds a value of this type may have. An alternate takes what its branches take;
    /// `branchKinds` gives those (a branch that is not a type takes nothing).
    public func acceptedKinds(branchKinds: (String) -> Set<JSONKind>) -> Set<JSONKind> {
        switch self {
        case .builtin(let builtin): builtin.acceptedKinds
        case .enumeration: [.string]
        case .array: [.array]
        case .object: [.object]
        case .alternate(let branches): branches.reduce(into: []) { $0.formUnion(branchKinds($1)) }
        }
    }

    /// The kinds a value of the type called `name` may have, with `shapes` telling each type's
    /// shape; none for a name that is no type (or an alternate that contains itself).
    public static func acceptedKinds(of name: String, shapes: (String) -> QAPITypeShape?) -> Set<JSONKind> {
        var visiting: Set<String> = []
        func kinds(_ name: String) -> Set<JSONKind> {
            guard let shape = shapes(name), visiting.insert(name).inserted else { return [] }
            defer { visiting.remove(name) }
            return shape.acceptedKinds(branchKinds: kinds)
        }
        return kinds(name)
    }
}

extension QAPIBuiltinType {
    /// The kinds a value of this built-in type may have: those of its `json-type` word.
    public var acceptedKinds: Set<JSONKind> { jsonType.acceptedKinds }

    /// The word introspection names it by (`json-type`), which says the kinds it accepts.
    /// Introspection has one word per set of kinds, so every integer width is `int`.
    public var jsonType: QAPIJSONType {
        switch self {
        case .str: .string
        case .number: .number
        case .bool: .boolean
        case .null: .null
        case .any: .value
        case .int, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .size: .int
        }
    }

    /// The built-in type introspection means by a `json-type` word: the first built-in that
    /// has it. For `int`, which every integer width shares, that is QAPI's own `int` (signed,
    /// 64 bits): the word does not say which width the sources had.
    public init?(jsonType: QAPIJSONType) {
        guard let builtin = Self.allCases.first(where: { $0.jsonType == jsonType }) else { return nil }
        self = builtin
    }
}

extension QAPIType.Kind {
    /// What decides the JSON kinds the type accepts.
    public var shape: QAPITypeShape {
        switch self {
        case .builtin(let builtin): .builtin(builtin)
        case .enumeration: .enumeration
        case .array: .array
        case .object: .object
        case .alternate(let alternate): .alternate(branches: alternate.branches.map(\.type))
        }
    }
}

extension QAPISchema {
    /// The kinds a value of the type called `name` may have; none when there is no such type.
    public func acceptedKinds(of name: String) -> Set<JSONKind> {
        QAPITypeShape.acceptedKinds(of: name) { types[$0]?.kind.shape }
    }
}

extension QAPISchemaInfo {
    /// What decides the JSON kinds the type accepts; `nil` for a command or an event. A
    /// built-in is known by its name when that names one (`uint8` in a model that knows
    /// widths), else by its `json-type`.
    public var shape: QAPITypeShape? {
        switch metaType {
        case .builtin(let jsonType):
            .builtin(QAPIBuiltinType(rawValue: name) ?? QAPIBuiltinType(jsonType: jsonType) ?? .any)
        case .enumeration: .enumeration
        case .array: .array
        case .object: .object
        case .alternate(let memberTypes): .alternate(branches: memberTypes)
        case .command, .event: nil
        }
    }
}

extension QAPIIntrospection {
    /// The kinds a value of the type called `name` may have; none when there is no such type.
    public func acceptedKinds(of name: String) -> Set<JSONKind> {
        facts[name]?.accepted.kinds ?? []
    }
}
