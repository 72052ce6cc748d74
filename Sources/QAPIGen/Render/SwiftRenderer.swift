/// Writes ``SwiftFile`` values as source text: the only code in the generator that knows
/// Swift's syntax and layout.
///
/// Layout: four-space indentation; a blank line between top-level declarations, and between
/// members of a type except within a run of enumeration cases, of stored properties, or of
/// static constants and type aliases; the cases of a switch level with the `switch`, a case
/// whose body is one line written on the case's line.
public struct SwiftRenderer: Sendable {
    public init() {}

    public func render(_ file: SwiftFile) -> String {
        var writer = CodeWriter()
        for line in file.header {
            writer.line(Self.trimmingTrailingSpaces("// \(line)"))
        }
        writer.blankLine()
        for module in file.imports {
            writer.line("import \(module)")
        }
        for declaration in file.declarations {
            writer.blankLine()
            render(declaration, into: &writer)
        }
        return writer.text
    }

    static func trimmingTrailingSpaces(_ text: String) -> String {
        var text = Substring(text)
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}

extension SwiftRenderer {
    func render(_ declaration: SwiftDeclaration, into writer: inout CodeWriter) {
        switch declaration {
        case .documented(let comment, let documented):
            for line in comment {
                writer.line(Self.trimmingTrailingSpaces("/// \(line)"))
            }
            render(documented, into: &writer)
        case .structure(let name, let conformances, let members):
            writer.line("public struct \(name)\(Self.conformanceList(conformances)) {")
            writer.indented { renderMembers(members, into: &$0) }
            writer.line("}")
        case .enumeration(let name, let conformances, let isIndirect, let members):
            writer.line("public \(isIndirect ? "indirect " : "")enum \(name)\(Self.conformanceList(conformances)) {")
            writer.indented { renderMembers(members, into: &$0) }
            writer.line("}")
        case .enumCase(let name, let associatedTypes):
            let associated = associatedTypes.isEmpty ? "" : "(\(associatedTypes.map(type).joined(separator: ", ")))"
            writer.line("case \(name)\(associated)")
        case .variable(let variable):
            render(variable, into: &writer)
        case .typeAlias(let name, let aliased):
            writer.line("public typealias \(name) = \(type(aliased))")
        case .initializer(let initializer):
            let parameters = initializer.parameters.map(parameter).joined(separator: ", ")
            let effects = initializer.throwing.map { " throws(\(type($0)))" } ?? ""
            let signature = "public init(\(parameters))\(effects)"
            if initializer.body.isEmpty {
                writer.line(signature + " {}")
            } else {
                writer.line(signature + " {")
                writer.indented { render(initializer.body, into: &$0) }
                writer.line("}")
            }
        }
    }

    private func render(_ variable: SwiftVariable, into writer: inout CodeWriter) {
        let introducer = "\(variable.access.rawValue) \(variable.isStatic ? "static " : "")\(variable.kind.rawValue)"
        let declared = "\(introducer) \(variable.name): \(type(variable.type))"
        switch variable.accessors {
        case .stored:
            guard let value = variable.value else {
                writer.line(declared)
                return
            }
            // A table held by a declaration gets a line per element, so that it reads (and
            // diffs) as a list.
            let elements: [String]? =
                switch value {
                case .literal(.dictionary(let entries)) where !entries.isEmpty:
                    entries.map { "\(expression($0.key)): \(expression($0.value))," }
                case .literal(.array(let items)) where !items.isEmpty:
                    items.map { "\(expression($0))," }
                default:
                    nil
                }
            guard let elements else {
                writer.line("\(declared) = \(expression(value))")
                return
            }
            writer.line("\(declared) = [")
            writer.indented { writer in
                for element in elements { writer.line(element) }
            }
            writer.line("]")
        case .getter(let body):
            writer.line(declared + " {")
            writer.indented { render(body, into: &$0) }
            writer.line("}")
        case .getterAndSetter(let getter, let setter):
            writer.line(declared + " {")
            writer.indented { writer in
                renderAccessor("get", getter, into: &writer)
                renderAccessor("set", setter, into: &writer)
            }
            writer.line("}")
        }
    }

    private func renderAccessor(_ keyword: String, _ body: [SwiftStatement], into writer: inout CodeWriter) {
        if let line = oneLine(body) {
            writer.line("\(keyword) { \(line) }")
        } else {
            writer.line("\(keyword) {")
            writer.indented { render(body, into: &$0) }
            writer.line("}")
        }
    }

    /// Members, with a blank line between them except within a run of the same ``Run``.
    private func renderMembers(_ members: [SwiftDeclaration], into writer: inout CodeWriter) {
        var previous: Run??
        for member in members {
            let run = Self.run(of: member)
            if let previous, previous == nil || previous != run {
                writer.blankLine()
            }
            render(member, into: &writer)
            previous = .some(run)
        }
    }

    /// Kinds of members that stand together without blank lines between them.
    private enum Run {
        case cases
        case storedProperties
        case constants
    }

    private static func run(of declaration: SwiftDeclaration) -> Run? {
        switch declaration {
        case .documented(_, let documented):
            return run(of: documented)
        case .enumCase:
            return .cases
        case .typeAlias:
            return .constants
        case .variable(let variable) where variable.isStatic:
            return .constants
        case .variable(let variable):
            // A getter-and-setter pair stands for storage kept elsewhere; a getter alone is a
            // computation, set apart like an initializer.
            switch variable.accessors {
            case .stored, .getterAndSetter: return .storedProperties
            case .getter: return nil
            }
        case .structure, .enumeration, .initializer:
            return nil
        }
    }

    private func parameter(_ parameter: SwiftParameter) -> String {
        let label = parameter.label.map { "\($0) " } ?? ""
        let defaultValue = parameter.defaultValue.map { " = \(expression($0))" } ?? ""
        return "\(label)\(parameter.name): \(type(parameter.type))\(defaultValue)"
    }

    private static func conformanceList(_ conformances: [String]) -> String {
        conformances.isEmpty ? "" : ": " + conformances.joined(separator: ", ")
    }
}
