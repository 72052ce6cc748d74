/// Swift source as data: the translator builds these values, only the renderer writes text.

public struct SwiftFile: Sendable, Hashable {
    public var header: [String]
    public var imports: [String]
    public var declarations: [SwiftDeclaration]

    public init(header: [String], imports: [String], declarations: [SwiftDeclaration]) {
        self.header = header
        self.imports = imports
        self.declarations = declarations
    }
}

/// A line of code, a block `opening { body } closing`, or a `label:` (a `case` or
/// `default:` of a switch) with the statements under it.
public indirect enum SwiftStatement: Sendable, Hashable {
    case line(String)
    case block(String, [SwiftStatement], closing: String = "}")
    case labeled(String, [SwiftStatement])
}

public struct SwiftEnumCase: Sendable, Hashable {
    public var name: String
    /// Associated value types, unlabelled.
    public var associatedTypes: [String]
    public var comment: [String]

    public init(name: String, associatedTypes: [String] = [], comment: [String] = []) {
        self.name = name
        self.associatedTypes = associatedTypes
        self.comment = comment
    }
}

public indirect enum SwiftDeclaration: Sendable, Hashable {
    case structure(name: String, conformances: [String], comment: [String], members: [SwiftDeclaration])
    /// `indirect` when its cases may hold values that hold the enumeration again.
    case enumeration(name: String, conformances: [String], comment: [String], cases: [SwiftEnumCase], members: [SwiftDeclaration], isIndirect: Bool = false)
    /// `public var name: Type`.
    case property(name: String, type: String, comment: [String])
    /// `public var name: Type` kept in a `QMPIndirect` stored as `_name`, for a struct member
    /// whose type holds the struct again (which a value type cannot store inline).
    case indirectProperty(name: String, type: String, comment: [String])
    /// `public static let name: Type = value`.
    case staticConstant(name: String, type: String, value: String)
    /// `public typealias name = type`.
    case typeAlias(name: String, type: String)
    /// `public var name: Type { body }`.
    case computedProperty(name: String, type: String, body: [SwiftStatement])
    /// `public init(signature) { body }`; `signature` is the parameter list and what follows it.
    case initializer(signature: String, body: [SwiftStatement])
}
