/// Places diagnostics where QEMU's generator reports them.
enum QEMUReporting {
    /// `diagnostics` with their reported location, definition and include chain filled in, in
    /// the order of their exact locations.
    ///
    /// QEMU knows a schema error's place only as the top-level expression it is in: it reports
    /// the line that expression starts on, after a line naming the definition. A syntax error
    /// keeps the line and column it already has.
    static func place(_ diagnostics: [QAPIDiagnostic], in source: QAPISchemaSource) -> [QAPIDiagnostic] {
        var starts: [String: [QAPIExpression]] = [:]
        for expression in source.expressions + source.includes {
            starts[expression.location.file, default: []].append(expression)
        }
        for file in starts.keys {
            starts[file]!.sort { $0.location < $1.location }
        }
        func chain(_ file: String) -> [QAPISourceLocation] {
            var chain: [QAPISourceLocation] = []
            var current = file
            while let including = source.includedFrom[current], !chain.contains(including) {
                chain.insert(including, at: 0)
                current = including.file
            }
            return chain
        }
        return diagnostics.map { diagnostic in
            var placed = diagnostic
            let file = diagnostic.location.file
            placed.includedFrom = chain(file)
            guard placed.reportedLocation == nil else { return placed }
            let enclosing = starts[file]?.last { $0.location <= diagnostic.location }
            guard let enclosing else {
                placed.reportedLocation = QAPIReportedLocation(file: file, line: diagnostic.location.line)
                return placed
            }
            placed.reportedLocation = QAPIReportedLocation(file: file, line: enclosing.location.line)
            placed.definition = definition(of: enclosing)
            return placed
        }
        .sorted { $0.location < $1.location }
    }

    /// `struct 'Foo'`, as QEMU names the definition an expression makes; `nil` for a directive,
    /// and for an expression QEMU cannot tell the definition of (no keyword, or several, or
    /// the 1.x keyword `type`).
    static func definition(of expression: QAPIExpression) -> String? {
        let metas = ExpressionRules.definitionKeywords.filter { expression[$0] != nil }
        guard metas.count == 1, let meta = metas.first, let name = expression[meta]?.stringValue else { return nil }
        return "\(meta) '\(name)'"
    }
}
