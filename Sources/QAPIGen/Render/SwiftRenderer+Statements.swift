/// Statements, written at the writer's depth, one or more lines each.
extension SwiftRenderer {
    func render(_ statements: [SwiftStatement], into writer: inout CodeWriter) {
        for statement in statements {
            render(statement, into: &writer)
        }
    }

    func render(_ statement: SwiftStatement, into writer: inout CodeWriter) {
        switch statement {
        case .expression(let value):
            writer.line(expression(value))
        case .binding(let kind, let name, let declaredType, let value):
            let annotation = declaredType.map { ": \(type($0))" } ?? ""
            let initial = value.map { " = \(expression($0))" } ?? ""
            writer.line("\(kind.rawValue) \(name)\(annotation)\(initial)")
        case .assignment(let target, let value):
            writer.line("\(expression(target)) = \(expression(value))")
        case .return(let value):
            writer.line("return \(expression(value))")
        case .throw(let error):
            writer.line("throw \(expression(error))")
        case .switch(let subject, let cases):
            writer.line("switch \(expression(subject)) {")
            // Swift style: the cases of a switch stand level with it.
            for switchCase in cases {
                let label =
                    switchCase.patterns.isEmpty
                    ? "default:" : "case \(switchCase.patterns.map(pattern).joined(separator: ", ")):"
                if let line = oneLine(switchCase.body) {
                    writer.line("\(label) \(line)")
                } else {
                    writer.line(label)
                    writer.indented { render(switchCase.body, into: &$0) }
                }
            }
            writer.line("}")
        case .forIn(let bound, let sequence, let condition, let body):
            let filter = condition.map { " where \(expression($0))" } ?? ""
            writer.line("for \(pattern(bound)) in \(expression(sequence))\(filter) {")
            writer.indented { render(body, into: &$0) }
            writer.line("}")
        case .if(let conditions, let then, let otherwise):
            writer.line("if \(self.conditions(conditions)) {")
            writer.indented { render(then, into: &$0) }
            if otherwise.isEmpty {
                writer.line("}")
            } else {
                writer.line("} else {")
                writer.indented { render(otherwise, into: &$0) }
                writer.line("}")
            }
        case .guard(let conditions, let otherwise):
            writer.line("guard \(self.conditions(conditions)) else {")
            writer.indented { render(otherwise, into: &$0) }
            writer.line("}")
        }
    }

    private func conditions(_ conditions: [SwiftCondition]) -> String {
        conditions.map { condition in
            switch condition {
            case .expression(let value): expression(value)
            case .optionalBinding(let kind, let name, let value): "\(kind.rawValue) \(name) = \(expression(value))"
            }
        }.joined(separator: ", ")
    }

    /// The text of `statements` when they are one statement that fits on one line.
    func oneLine(_ statements: [SwiftStatement]) -> String? {
        guard statements.count == 1 else { return nil }
        var writer = CodeWriter()
        render(statements[0], into: &writer)
        return writer.lines.count == 1 ? writer.lines[0] : nil
    }

    func pattern(_ pattern: SwiftPattern) -> String {
        switch pattern {
        case .value(let value):
            return expression(value)
        case .enumCase(let name, let bindings):
            return bindings.isEmpty ? ".\(name)" : ".\(name)(\(bindings.map { "let \($0)" }.joined(separator: ", ")))"
        case .tuple(let names):
            return "(\(names.joined(separator: ", ")))"
        }
    }
}
