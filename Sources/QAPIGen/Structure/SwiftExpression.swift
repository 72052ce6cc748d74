/// A Swift expression: a value, a name, or something computed from them.
public indirect enum SwiftExpression: Sendable, Hashable {
    /// A name in scope: `json`, `self`, `newValue`, `$0`, or `_` on the left of an assignment.
    case identifier(String)
    /// A type used as a value, to call its initializer (`[String](json:path:)`) or to name its
    /// metatype (`Paint.self` through ``member(_:_:)``).
    case type(SwiftType)
    case literal(SwiftLiteral)
    /// `base.name`, or `.name` (an enumeration case or static member the context infers) when
    /// `base` is nil.
    case member(SwiftExpression?, String)
    /// `callee(arguments)`, or `callee(arguments) { closure }` with a trailing closure; without
    /// arguments but with a closure, `callee { closure }`.
    case call(SwiftExpression, [SwiftArgument], trailingClosure: SwiftClosure?)
    /// `base[index]`.
    case subscripted(SwiftExpression, SwiftExpression)
    /// `try expression`.
    case `try`(SwiftExpression)
    /// `!expression`.
    case not(SwiftExpression)
    /// `left operator right`.
    case binary(SwiftExpression, SwiftBinaryOperator, SwiftExpression)
    /// `(first, second, …)`.
    case tuple([SwiftExpression])
    /// A closure written where a function is expected, other than as a trailing closure.
    case closure(SwiftClosure)
    /// `&name`: a variable passed to an `inout` parameter.
    case inoutArgument(String)
    /// `consume name`: the last use of a parameter or variable, handed on without a copy.
    case consumed(String)
}

public enum SwiftLiteral: Sendable, Hashable {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case `nil`
    /// `[a, b]`; a set literal too, where the context wants a set.
    case array([SwiftExpression])
    /// `[key: value, …]`, or `[:]` when empty.
    case dictionary([SwiftDictionaryEntry])
}

public struct SwiftDictionaryEntry: Sendable, Hashable {
    public var key: SwiftExpression
    public var value: SwiftExpression

    public init(_ key: SwiftExpression, _ value: SwiftExpression) {
        self.key = key
        self.value = value
    }
}

public enum SwiftBinaryOperator: String, Sendable, Hashable {
    case equal = "=="
    case nilCoalescing = "??"
}

/// One argument of a call: `label: value`, or `value` alone.
public struct SwiftArgument: Sendable, Hashable {
    public var label: String?
    public var value: SwiftExpression

    public init(label: String? = nil, _ value: SwiftExpression) {
        self.label = label
        self.value = value
    }
}

/// A closure whose body is one expression, using the anonymous parameters `$0`, `$1`, …
/// (the only closures the bindings need).
public struct SwiftClosure: Sendable, Hashable {
    public var body: SwiftExpression

    public init(_ body: SwiftExpression) {
        self.body = body
    }
}

// Builders, so that a translation reads close to the code it makes: `.identifier("object")
// .dot("required").call(.string("name"), .labeled("at", .identifier("path")))`.
extension SwiftExpression {
    public static func string(_ text: String) -> SwiftExpression { .literal(.string(text)) }
    public static func integer(_ value: Int) -> SwiftExpression { .literal(.integer(value)) }
    public static func bool(_ value: Bool) -> SwiftExpression { .literal(.bool(value)) }
    public static let nilLiteral = SwiftExpression.literal(.nil)
    /// `self`.
    public static let selfValue = SwiftExpression.identifier("self")
    public static let emptyDictionary = SwiftExpression.literal(.dictionary([]))

    /// `.name`: a case or static member of the type the context expects.
    public static func dot(_ name: String) -> SwiftExpression { .member(nil, name) }

    public func dot(_ name: String) -> SwiftExpression { .member(self, name) }

    public func call(_ arguments: SwiftArgument...) -> SwiftExpression {
        .call(self, arguments, trailingClosure: nil)
    }

    public func call(_ arguments: [SwiftArgument]) -> SwiftExpression {
        .call(self, arguments, trailingClosure: nil)
    }

    /// A call with only a trailing closure: `object.filter { … }`.
    public func call(trailing closure: SwiftExpression) -> SwiftExpression {
        .call(self, [], trailingClosure: SwiftClosure(closure))
    }

    public func subscripted(_ index: SwiftExpression) -> SwiftExpression { .subscripted(self, index) }
}

extension SwiftArgument {
    public static func labeled(_ label: String, _ value: SwiftExpression) -> SwiftArgument {
        SwiftArgument(label: label, value)
    }

    public static func unlabeled(_ value: SwiftExpression) -> SwiftArgument {
        SwiftArgument(value)
    }
}
