/// A statement in the body of an initializer, accessor or switch case.
public indirect enum SwiftStatement: Sendable, Hashable {
    /// An expression on its own: a call for its effect, or the value of a one-expression body.
    case expression(SwiftExpression)
    /// `let name: Type = value` or `var …`, the type or the value left out when nil.
    case binding(SwiftBindingKind, name: String, type: SwiftType?, value: SwiftExpression?)
    /// `target = value`.
    case assignment(SwiftExpression, SwiftExpression)
    case `return`(SwiftExpression)
    case `throw`(SwiftExpression)
    case `switch`(SwiftExpression, [SwiftSwitchCase])
    /// `for pattern in sequence where condition { body }`.
    case forIn(SwiftPattern, in: SwiftExpression, where: SwiftExpression?, body: [SwiftStatement])
    /// `if conditions { then } else { otherwise }`, without `else` when `otherwise` is empty.
    case `if`([SwiftCondition], then: [SwiftStatement], else: [SwiftStatement])
    /// `guard conditions else { otherwise }`.
    case `guard`([SwiftCondition], else: [SwiftStatement])
}

/// One condition of an `if` or `guard`; all must hold.
public enum SwiftCondition: Sendable, Hashable {
    /// A Boolean expression.
    case expression(SwiftExpression)
    /// `let name = value`: holds when `value` is not nil, binding it unwrapped.
    case optionalBinding(SwiftBindingKind, name: String, SwiftExpression)
}

public enum SwiftBindingKind: String, Sendable, Hashable {
    case `let`
    case `var`
}

/// One `case …:` or `default:` of a switch, with what it runs.
public struct SwiftSwitchCase: Sendable, Hashable {
    /// The patterns, any of which matches; empty for `default`.
    public var patterns: [SwiftPattern]
    public var body: [SwiftStatement]

    public init(_ patterns: [SwiftPattern], _ body: [SwiftStatement]) {
        self.patterns = patterns
        self.body = body
    }

    public static func `default`(_ body: [SwiftStatement]) -> SwiftSwitchCase {
        SwiftSwitchCase([], body)
    }
}

/// What a `case` matches, or what a `for` binds.
public enum SwiftPattern: Sendable, Hashable {
    /// A value compared with `~=`: `"red"`, `.red`.
    case value(SwiftExpression)
    /// An enumeration case binding its associated values: `.round(let value)`.
    case enumCase(String, binding: [String])
    /// Names bound to the elements of a tuple: `(key, value)`.
    case tuple([String])
}
