/// Expressions and types, written inline: they never span lines.
extension SwiftRenderer {
    /// The text of an expression, on one line.
    public func expression(_ value: SwiftExpression) -> String {
        switch value {
        case .identifier(let name):
            return name
        case .type(let swiftType):
            return type(swiftType)
        case .literal(let literal):
            return self.literal(literal)
        case .member(let base, let name):
            return (base.map(operand) ?? "") + "." + name
        case .call(let callee, let arguments, let closure):
            let list = arguments.map { argument in
                (argument.label.map { "\($0): " } ?? "") + expression(argument.value)
            }
            let parenthesized = arguments.isEmpty && closure != nil ? "" : "(\(list.joined(separator: ", ")))"
            let trailing = closure.map { " { \(expression($0.body)) }" } ?? ""
            return operand(callee) + parenthesized + trailing
        case .subscripted(let base, let index):
            return "\(operand(base))[\(expression(index))]"
        case .try(let tried):
            return "try \(expression(tried))"
        case .not(let negated):
            return "!\(operand(negated))"
        case .binary(let left, let binaryOperator, let right):
            return "\(expression(left)) \(binaryOperator.rawValue) \(expression(right))"
        case .tuple(let elements):
            return "(\(elements.map(expression).joined(separator: ", ")))"
        case .closure(let closure):
            return "{ \(expression(closure.body)) }"
        case .inoutArgument(let name):
            return "&" + name
        case .consumed(let name):
            return "consume " + name
        }
    }

    /// `value` where a postfix (`.member`, a call, a subscript) follows it: parenthesized
    /// when it would otherwise bind looser than the postfix.
    private func operand(_ value: SwiftExpression) -> String {
        switch value {
        case .try, .not, .binary, .closure, .consumed: "(\(expression(value)))"
        default: expression(value)
        }
    }

    private func literal(_ literal: SwiftLiteral) -> String {
        switch literal {
        case .string(let text):
            let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(escaped)\""
        case .integer(let value):
            return String(value)
        case .bool(let value):
            return value ? "true" : "false"
        case .nil:
            return "nil"
        case .array(let elements):
            return "[\(elements.map(expression).joined(separator: ", "))]"
        case .dictionary(let entries) where entries.isEmpty:
            return "[:]"
        case .dictionary(let entries):
            return "[\(entries.map { "\(expression($0.key)): \(expression($0.value))" }.joined(separator: ", "))]"
        }
    }

    /// A type as written where a type is expected.
    public func type(_ swiftType: SwiftType) -> String {
        switch swiftType {
        case .named(let name):
            return name
        case .array(let element):
            return "[\(type(element))]"
        case .dictionary(let key, let value):
            return "[\(type(key)): \(type(value))]"
        case .optional(let wrapped):
            if case .existentialMetatype = wrapped { return "(\(type(wrapped)))?" }
            return type(wrapped) + "?"
        case .generic(let name, let arguments):
            return "\(name)<\(arguments.map(type).joined(separator: ", "))>"
        case .existentialMetatype(let protocols):
            let composition = protocols.joined(separator: " & ")
            return protocols.count == 1 ? "any \(composition).Type" : "any (\(composition)).Type"
        case .inout(let wrapped):
            return "inout " + type(wrapped)
        }
    }
}
