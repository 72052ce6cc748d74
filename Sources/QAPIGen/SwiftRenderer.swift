/// Writes ``SwiftFile`` values as source text: four-space indentation, one blank line between
/// declarations.
public struct SwiftRenderer: Sendable {
    public init() {}

    public func render(_ file: SwiftFile) -> String {
        var lines: [String] = file.header.map { "// \($0)".trimmingTrailingSpaces() }
        lines.append("")
        lines += file.imports.map { "import \($0)" }
        for declaration in file.declarations {
            lines.append("")
            render(declaration, depth: 0, into: &lines)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func indent(_ depth: Int) -> String {
        String(repeating: "    ", count: depth)
    }

    private func render(_ declaration: SwiftDeclaration, depth: Int, into lines: inout [String]) {
        let pad = indent(depth)
        switch declaration {
        case .structure(let name, let conformances, let comment, let members):
            lines += comment.map { "\(pad)/// \($0)".trimmingTrailingSpaces() }
            lines.append("\(pad)public struct \(name)\(Self.conformanceList(conformances)) {")
            renderMembers(members, depth: depth + 1, into: &lines)
            lines.append("\(pad)}")
        case .enumeration(let name, let conformances, let comment, let cases, let members, let isIndirect):
            lines += comment.map { "\(pad)/// \($0)".trimmingTrailingSpaces() }
            lines.append("\(pad)public \(isIndirect ? "indirect " : "")enum \(name)\(Self.conformanceList(conformances)) {")
            for enumCase in cases {
                lines += enumCase.comment.map { "\(pad)    /// \($0)".trimmingTrailingSpaces() }
                let associated = enumCase.associatedTypes.isEmpty ? "" : "(\(enumCase.associatedTypes.joined(separator: ", ")))"
                lines.append("\(pad)    case \(enumCase.name)\(associated)")
            }
            if !cases.isEmpty && !members.isEmpty {
                lines.append("")
            }
            renderMembers(members, depth: depth + 1, into: &lines)
            lines.append("\(pad)}")
        case .property(let name, let type, let comment):
            lines += comment.map { "\(pad)/// \($0)".trimmingTrailingSpaces() }
            lines.append("\(pad)public var \(name): \(type)")
        case .indirectProperty(let name, let type, let comment):
            let storage = SwiftRenderer.storageName(name)
            lines += comment.map { "\(pad)/// \($0)".trimmingTrailingSpaces() }
            lines.append("\(pad)public var \(name): \(type) {")
            lines.append("\(pad)    get { \(storage).value }")
            lines.append("\(pad)    set { \(storage) = QMPIndirect(newValue) }")
            lines.append("\(pad)}")
            lines.append("\(pad)private var \(storage): QMPIndirect<\(type)>")
        case .staticConstant(let name, let type, let value):
            lines.append("\(pad)public static let \(name): \(type) = \(value)")
        case .typeAlias(let name, let type):
            lines.append("\(pad)public typealias \(name) = \(type)")
        case .computedProperty(let name, let type, let body):
            lines.append("\(pad)public var \(name): \(type) {")
            render(body, depth: depth + 1, into: &lines)
            lines.append("\(pad)}")
        case .initializer(let signature, let body) where body.isEmpty:
            lines.append("\(pad)public init\(signature) {}")
        case .initializer(let signature, let body):
            lines.append("\(pad)public init\(signature) {")
            render(body, depth: depth + 1, into: &lines)
            lines.append("\(pad)}")
        }
    }

    /// Members, with a blank line between groups of different kinds and around bodies.
    private func renderMembers(_ members: [SwiftDeclaration], depth: Int, into lines: inout [String]) {
        var previous: SwiftDeclaration?
        for member in members {
            if let previous, !(Self.isStoredProperty(previous) && Self.isStoredProperty(member))
                && !(Self.isConstant(previous) && Self.isConstant(member))
            {
                lines.append("")
            }
            render(member, depth: depth, into: &lines)
            previous = member
        }
    }

    private func render(_ statements: [SwiftStatement], depth: Int, into lines: inout [String]) {
        for statement in statements {
            switch statement {
            case .line(let text):
                lines.append(text.isEmpty ? "" : indent(depth) + text)
            case .block(let opening, let body, let closing):
                lines.append(indent(depth) + opening + " {")
                // Swift style: the cases of a switch stand level with it.
                render(body, depth: opening.hasPrefix("switch ") ? depth : depth + 1, into: &lines)
                lines.append(indent(depth) + closing)
            case .labeled(let label, let body):
                lines.append(indent(depth) + label)
                render(body, depth: depth + 1, into: &lines)
            }
        }
    }

    private static func isStoredProperty(_ declaration: SwiftDeclaration) -> Bool {
        switch declaration {
        case .property, .indirectProperty: return true
        default: return false
        }
    }

    /// The stored property behind an indirect one: `parent` → `_parent`.
    public static func storageName(_ name: String) -> String {
        "_" + name.replacingOccurrences(of: "`", with: "")
    }

    private static func isConstant(_ declaration: SwiftDeclaration) -> Bool {
        switch declaration {
        case .staticConstant, .typeAlias: return true
        default: return false
        }
    }

    private static func conformanceList(_ conformances: [String]) -> String {
        conformances.isEmpty ? "" : ": " + conformances.joined(separator: ", ")
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
