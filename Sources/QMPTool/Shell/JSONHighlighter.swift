import QMPCore

/// JSON for people at a terminal: indented, with ANSI colours for keys, strings, numbers and
/// literals.
enum JSONHighlighter {
    enum Color: String {
        case key = "\u{1B}[34m"
        case string = "\u{1B}[32m"
        case number = "\u{1B}[36m"
        case literal = "\u{1B}[35m"
        case error = "\u{1B}[31m"
        case dim = "\u{1B}[2m"
    }

    static let reset = "\u{1B}[0m"

    static func paint(_ text: String, _ color: Color) -> String {
        color.rawValue + text + reset
    }

    /// `value` indented by two spaces per level, coloured; its keys in `keys` (an error reply
    /// shows its keys in the error colour, so that it stands out among the replies).
    static func render(_ value: JSONValue, keys: Color = .key) -> String {
        var out = ""
        write(value, indent: 0, keys: keys, to: &out)
        return out
    }

    private static func write(_ value: JSONValue, indent: Int, keys: Color, to out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closing = String(repeating: "  ", count: indent)
        switch value {
        case .object(let object):
            guard !object.isEmpty else {
                out += "{}"
                return
            }
            out += "{\n"
            for (index, member) in object.enumerated() {
                out += pad + paint(JSONValue.string(member.key).serialized(), keys) + ": "
                write(member.value, indent: indent + 1, keys: keys, to: &out)
                out += index == object.count - 1 ? "\n" : ",\n"
            }
            out += closing + "}"
        case .array(let elements):
            guard !elements.isEmpty else {
                out += "[]"
                return
            }
            out += "[\n"
            for (index, element) in elements.enumerated() {
                out += pad
                write(element, indent: indent + 1, keys: keys, to: &out)
                out += index == elements.count - 1 ? "\n" : ",\n"
            }
            out += closing + "]"
        case .string:
            out += paint(value.serialized(), .string)
        case .bool, .null:
            out += paint(value.serialized(), .literal)
        default:
            out += paint(value.serialized(), .number)
        }
    }
}
