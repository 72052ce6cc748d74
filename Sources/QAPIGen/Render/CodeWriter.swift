/// Lines of source text and how deep the next one is indented: the one place that writes
/// indentation (four spaces a level).
struct CodeWriter {
    private(set) var lines: [String] = []
    private var depth = 0

    /// Appends `text` at the current depth; an empty line gets no indentation.
    mutating func line(_ text: String) {
        lines.append(text.isEmpty ? "" : String(repeating: "    ", count: depth) + text)
    }

    mutating func blankLine() {
        lines.append("")
    }

    /// Runs `body` one level deeper.
    mutating func indented(_ body: (inout CodeWriter) -> Void) {
        depth += 1
        body(&self)
        depth -= 1
    }

    var text: String {
        lines.joined(separator: "\n") + "\n"
    }
}
