/// Text that came from a server (event names, error descriptions, object names), made safe to
/// print: every control character becomes a visible `\uXXXX`, so that a server cannot move the
/// cursor, recolour or retitle the terminal, or forge lines of output. C1 controls count too,
/// since some terminals act on them as on escape sequences.
///
/// - Parameter keepingLineBreaks: keep newlines and tabs, for text that is meant to span lines
///   (the output of HMP commands, usage texts).
func escapingControlCharacters(_ text: String, keepingLineBreaks: Bool = false) -> String {
    func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        if keepingLineBreaks && (scalar == "\n" || scalar == "\t") {
            return false
        }
        return scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
    guard text.unicodeScalars.contains(where: needsEscape) else {
        return text
    }
    var escaped = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        guard needsEscape(scalar) else {
            escaped.append(scalar)
            continue
        }
        let hex = String(scalar.value, radix: 16)
        escaped.append(contentsOf: "\\u\(String(repeating: "0", count: 4 - hex.count))\(hex)".unicodeScalars)
    }
    return String(escaped)
}
