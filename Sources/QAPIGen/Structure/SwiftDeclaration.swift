/// A declaration: a type, a member of one, or a case of an enumeration.
public indirect enum SwiftDeclaration: Sendable, Hashable {
    /// A declaration with a documentation comment, one `///` line each.
    case documented([String], SwiftDeclaration)
    case structure(name: String, conformances: [String], members: [SwiftDeclaration])
    /// `indirect` when its cases may hold values that hold the enumeration again. Its cases are
    /// ``enumCase(_:associatedTypes:)`` members.
    case enumeration(name: String, conformances: [String], isIndirect: Bool, members: [SwiftDeclaration])
    /// `case name` or `case name(Type, …)`.
    case enumCase(String, associatedTypes: [SwiftType])
    case variable(SwiftVariable)
    /// `public typealias name = type`.
    case typeAlias(name: String, type: SwiftType)
    case initializer(SwiftInitializer)
}

public enum SwiftAccess: String, Sendable, Hashable {
    case `public`
    case `private`
}

/// A property: stored (with or without an initial value), computed by a getter, or with a
/// getter and a setter.
public struct SwiftVariable: Sendable, Hashable {
    public enum Accessors: Sendable, Hashable {
        /// Stored.
        case stored
        /// `{ statements }`: read-only, computed.
        case getter([SwiftStatement])
        /// `{ get { … } set { … } }`: computed, over storage of its own.
        case getterAndSetter(get: [SwiftStatement], set: [SwiftStatement])
    }

    public var access: SwiftAccess
    public var isStatic: Bool
    public var kind: SwiftBindingKind
    public var name: String
    public var type: SwiftType
    public var value: SwiftExpression?
    public var accessors: Accessors

    public init(
        _ access: SwiftAccess = .public,
        isStatic: Bool = false,
        _ kind: SwiftBindingKind = .var,
        name: String,
        type: SwiftType,
        value: SwiftExpression? = nil,
        accessors: Accessors = .stored
    ) {
        self.access = access
        self.isStatic = isStatic
        self.kind = kind
        self.name = name
        self.type = type
        self.value = value
        self.accessors = accessors
    }
}

/// `public init(parameters) throws(Error) { body }`.
public struct SwiftInitializer: Sendable, Hashable {
    public var parameters: [SwiftParameter]
    /// The error type of a typed `throws`, nil for an initializer that does not throw.
    public var throwing: SwiftType?
    public var body: [SwiftStatement]

    public init(parameters: [SwiftParameter], throwing: SwiftType? = nil, body: [SwiftStatement]) {
        self.parameters = parameters
        self.throwing = throwing
        self.body = body
    }
}

/// `label name: Type = default`.
public struct SwiftParameter: Sendable, Hashable {
    /// The argument label, `_` for none; nil when it is the parameter's name.
    public var label: String?
    public var name: String
    public var type: SwiftType
    public var defaultValue: SwiftExpression?

    public init(label: String? = nil, name: String, type: SwiftType, defaultValue: SwiftExpression? = nil) {
        self.label = label
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
    }
}
