import QMPCore

/// Reads QAPI schema source text.
///
/// The notation accepted:
/// - strings in single or double quotes, with backslash escapes (`\\`, `\'`, `\"`, `\/`,
///   `\b`, `\f`, `\n`, `\r`, `\t`, `\uXXXX`);
/// - `true` and `false`;
/// - objects and arrays with commas between entries (see ``Options`` for the slips QEMU 1.x
///   tolerated);
/// - `#` comments to the end of the line. A documentation block is a run of comment lines
///   opened and closed by a line holding only `##`; the parser notes the symbol it documents
///   (`# @name:`) and discards everything else in it.
///
/// Parsing does not stop at the first error: after a syntax error the parser skips to the next
/// line that starts with `{` and carries on, so one pass reports every broken expression.
public struct QAPIParser: Sendable {
    /// Leniencies for the older schema files.
    public struct Options: Sendable, Hashable {
        /// Accept two object members or array elements with no comma between them.
        /// QEMU 1.1 to 1.5 accepted (and its schemas contain) such slips. On by default.
        public var allowsMissingCommas: Bool
        /// Accept a comma before the closing `}` or `]`. QEMU 1.1 to 1.4 accepted (and its
        /// schemas contain) these too. On by default.
        public var allowsTrailingCommas: Bool
        /// Accept what JSON has and QEMU's parser does not: strings in double quotes, escapes
        /// other than `\\`, and characters outside printable ASCII in strings. No schema on
        /// record uses them. On by default.
        public var allowsJSONStrings: Bool

        /// Leniencies of your choice; by default all of them.
        public init(allowsMissingCommas: Bool = true, allowsTrailingCommas: Bool = true, allowsJSONStrings: Bool = true)
        {
            self.allowsMissingCommas = allowsMissingCommas
            self.allowsTrailingCommas = allowsTrailingCommas
            self.allowsJSONStrings = allowsJSONStrings
        }

        /// No leniencies: QEMU's own parser.
        public static var strict: Options {
            Options(allowsMissingCommas: false, allowsTrailingCommas: false, allowsJSONStrings: false)
        }
    }

    /// The leniencies this parser applies.
    public var options: Options

    /// A parser with the given leniencies.
    public init(options: Options = Options()) {
        self.options = options
    }

    /// Parses the text of one file. `file` is the path used in locations.
    public func parse(_ text: String, file: String) -> QAPIParsedFile {
        var state = ParserState(bytes: Array(text.utf8), file: file, options: options)
        state.parseFile()
        return QAPIParsedFile(file: file, expressions: state.expressions, diagnostics: state.diagnostics)
    }
}

private enum TokenKind: Equatable {
    case openBrace, closeBrace, openBracket, closeBracket, comma, colon
    case string(String)
    case bool(Bool)
    case end
    case invalid(String)

}

private struct Token {
    var kind: TokenKind
    var location: QAPISourceLocation
    /// The token is the first non-blank thing on its line.
    var startsLine: Bool
}

private struct SyntaxError: Error {
    var diagnostic: QAPIDiagnostic
}

private struct ParserState {
    let bytes: [UInt8]
    let file: String
    let options: QAPIParser.Options
    var index = 0
    var line = 1
    var lineStart = 0
    var sawTokenOnLine = false

    // Documentation blocks.
    var inDocBlock = false
    var docBlockSymbol: String?
    var docBlockFirstLine = false
    var pendingDocSymbol: String?

    var current: Token
    var expressions: [QAPIExpression] = []
    var diagnostics: [QAPIDiagnostic] = []

    init(bytes: [UInt8], file: String, options: QAPIParser.Options) {
        self.bytes = bytes
        self.file = file
        self.options = options
        self.current = Token(kind: .end, location: QAPISourceLocation(file: file, line: 1, column: 1), startsLine: true)
        // Skip a UTF-8 byte order mark.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            index = 3
            lineStart = 3
        }
        advance()
    }

    // MARK: Lexing

    func location(at offset: Int) -> QAPISourceLocation {
        var column = 1
        var position = lineStart
        while position < offset {
            // Count scalars: skip UTF-8 continuation bytes.
            if bytes[position] & 0xC0 != 0x80 { column += 1 }
            position += 1
        }
        return QAPISourceLocation(file: file, line: line, column: column)
    }

    mutating func newline(at offset: Int) {
        line += 1
        lineStart = offset + 1
        sawTokenOnLine = false
    }

    mutating func readComment() {
        // `index` is at '#'.
        let start = index
        while index < bytes.count, bytes[index] != 0x0A { index += 1 }
        var text = String(decoding: bytes[start..<index], as: UTF8.self)
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        noteComment(text, alone: !sawTokenOnLine)
    }

    mutating func noteComment(_ text: String, alone: Bool) {
        guard alone else { return }
        if text == "##" {
            if inDocBlock {
                inDocBlock = false
                pendingDocSymbol = docBlockSymbol
            } else {
                inDocBlock = true
                docBlockSymbol = nil
                docBlockFirstLine = true
            }
            return
        }
        guard inDocBlock else { return }
        if docBlockFirstLine {
            docBlockFirstLine = false
            // "# @name:" names the documented symbol.
            var body = Substring(text.dropFirst())
            while body.first == " " { body = body.dropFirst() }
            if body.first == "@", let colon = body.firstIndex(of: ":") {
                let name = body[body.index(after: body.startIndex)..<colon]
                if !name.isEmpty, !name.contains(" ") { docBlockSymbol = String(name) }
            }
        }
    }

    mutating func advance() {
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case 0x0A:
                newline(at: index)
                index += 1
                continue
            case 0x20, 0x09, 0x0D, 0x0C:
                index += 1
                continue
            case UInt8(ascii: "#"):
                readComment()
                continue
            default:
                break
            }
            break
        }
        // A token ends a documentation block that was left open.
        if inDocBlock {
            inDocBlock = false
            pendingDocSymbol = docBlockSymbol
        }
        let startsLine = !sawTokenOnLine
        sawTokenOnLine = true
        let start = index
        let location = location(at: start)
        guard index < bytes.count else {
            current = Token(kind: .end, location: location, startsLine: true)
            return
        }
        let byte = bytes[index]
        let kind: TokenKind
        switch byte {
        case UInt8(ascii: "{"):
            index += 1
            kind = .openBrace
        case UInt8(ascii: "}"):
            index += 1
            kind = .closeBrace
        case UInt8(ascii: "["):
            index += 1
            kind = .openBracket
        case UInt8(ascii: "]"):
            index += 1
            kind = .closeBracket
        case UInt8(ascii: ","):
            index += 1
            kind = .comma
        case UInt8(ascii: ":"):
            index += 1
            kind = .colon
        case UInt8(ascii: "'"):
            kind = readString(quote: byte, location: location)
        case UInt8(ascii: "\"") where options.allowsJSONStrings:
            kind = readString(quote: byte, location: location)
        default:
            var end = index
            while end < bytes.count, isWordByte(bytes[end]) { end += 1 }
            if end == index { end = index + 1 }
            let word = String(decoding: bytes[index..<end], as: UTF8.self)
            index = end
            switch word {
            case "true": kind = .bool(true)
            case "false": kind = .bool(false)
            default: kind = .invalid(word)
            }
        }
        current = Token(kind: kind, location: location, startsLine: startsLine)
    }

    func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"),
            UInt8(ascii: "."), UInt8(ascii: "+"):
            true
        default:
            byte >= 0x80
        }
    }

    /// Why QEMU's parser refuses the string byte at `offset`, if it does: an escape other than
    /// `\\`, or a character outside printable ASCII.
    func refusal(at offset: Int) -> String? {
        let byte = bytes[offset]
        if byte == UInt8(ascii: "\\") {
            guard offset + 1 < bytes.count, bytes[offset + 1] != UInt8(ascii: "\\") else { return nil }
            // Four bytes hold the whole of the first character, whatever it is.
            let following = String(decoding: bytes[(offset + 1)..<min(offset + 5, bytes.count)], as: UTF8.self)
            return "unknown escape \\\(following.unicodeScalars.first.map(String.init) ?? "")"
        }
        return byte < 0x20 || byte >= 0x7F ? "funny character in string" : nil
    }

    mutating func readString(quote: UInt8, location: QAPISourceLocation) -> TokenKind {
        index += 1
        var scalars: [UInt8] = []
        while index < bytes.count {
            let byte = bytes[index]
            if byte == quote {
                index += 1
                return .string(String(decoding: scalars, as: UTF8.self))
            }
            if byte == 0x0A {
                break
            }
            if !options.allowsJSONStrings, let refusal = refusal(at: index) {
                // QEMU refuses the string where it starts, and reads no further.
                diagnostics.append(QAPIDiagnostic.syntax(refusal, at: location))
                while index < bytes.count, bytes[index] != 0x0A { index += 1 }
                return .string(String(decoding: scalars, as: UTF8.self))
            }
            if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                let escaped = bytes[index + 1]
                index += 2
                switch escaped {
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    if index + 4 <= bytes.count,
                        let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(code)
                    {
                        scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                        index += 4
                    } else {
                        diagnostics.append(QAPIDiagnostic.syntax("malformed \\u escape in string", at: location))
                    }
                default: scalars.append(escaped)
                }
                continue
            }
            scalars.append(byte)
            index += 1
        }
        diagnostics.append(QAPIDiagnostic.syntax("missing terminating \"'\"", at: location))
        return .string(String(decoding: scalars, as: UTF8.self))
    }

    // MARK: Parsing

    mutating func parseFile() {
        while current.kind != .end {
            guard current.kind == .openBrace else {
                if case .invalid(let text) = current.kind {
                    report(QAPIDiagnostic.syntax("stray '\(text)'", at: current.location))
                } else {
                    // QEMU reads the value first and then refuses it, as a schema error: at its
                    // line, with no column.
                    var diagnostic = QAPIDiagnostic("top-level expression must be an object", at: current.location)
                    diagnostic.reportedLocation = QAPIReportedLocation(file: file, line: current.location.line)
                    report(diagnostic)
                }
                recover()
                continue
            }
            let docSymbol = pendingDocSymbol
            pendingDocSymbol = nil
            let start = current.location
            do {
                let node = try parseValue()
                expressions.append(QAPIExpression(node: node, documentedSymbol: docSymbol))
            } catch {
                report(error.diagnostic)
                // An error found at a '{' that starts a line most likely means the expression
                // was cut short and the next one begins there.
                if current.kind == .openBrace, current.startsLine, current.location != start { continue }
                recover()
            }
        }
    }

    mutating func report(_ diagnostic: QAPIDiagnostic) {
        diagnostics.append(diagnostic)
    }

    /// Skips to the next `{` that starts a line, where the next expression most likely begins.
    mutating func recover() {
        advance()
        while current.kind != .end, !(current.kind == .openBrace && current.startsLine) {
            advance()
        }
    }

    /// QEMU's words for a token that is not what the grammar wants here: a word that is no
    /// token at all is stray, anything else was not `wanted`.
    static func unexpected(_ kind: TokenKind, wanted: String) -> String {
        if case .invalid(let text) = kind { return "stray '\(text)'" }
        return "expected \(wanted)"
    }

    mutating func parseValue() throws(SyntaxError) -> QAPINode {
        let token = current
        switch token.kind {
        case .string(let string):
            advance()
            return QAPINode(.string(string), at: token.location)
        case .bool(let bool):
            advance()
            return QAPINode(.bool(bool), at: token.location)
        case .openBrace:
            advance()
            return try parseObject(start: token.location)
        case .openBracket:
            advance()
            return try parseArray(start: token.location)
        default:
            throw SyntaxError(
                diagnostic: QAPIDiagnostic.syntax(
                    Self.unexpected(token.kind, wanted: "'{', '[', string, or boolean"),
                    at: token.location
                )
            )
        }
    }

    mutating func parseObject(start: QAPISourceLocation) throws(SyntaxError) -> QAPINode {
        var members: [QAPINode.Member] = []
        if current.kind == .closeBrace {
            advance()
            return QAPINode(.object(members), at: start)
        }
        while true {
            let keyToken = current
            guard case .string(let key) = keyToken.kind else {
                if keyToken.kind == .closeBrace, options.allowsTrailingCommas, !members.isEmpty {
                    advance()
                    return QAPINode(.object(members), at: start)
                }
                throw SyntaxError(
                    diagnostic: QAPIDiagnostic.syntax(
                        Self.unexpected(keyToken.kind, wanted: members.isEmpty ? "string or '}'" : "string"),
                        at: keyToken.location
                    )
                )
            }
            advance()
            guard current.kind == .colon else {
                throw SyntaxError(
                    diagnostic: QAPIDiagnostic.syntax(
                        Self.unexpected(current.kind, wanted: "':'"),
                        at: current.location
                    )
                )
            }
            advance()
            let value = try parseValue()
            if members.contains(where: { $0.key == key }) {
                var duplicate = QAPIDiagnostic.syntax("duplicate key '\(key)'", at: keyToken.location)
                // QEMU notices the duplicate only once it has read the colon, and so reports it
                // where the value starts.
                duplicate.reportedLocation = QAPIReportedLocation(
                    file: file,
                    line: value.location.line,
                    column: value.location.column
                )
                report(duplicate)
            } else {
                members.append(QAPINode.Member(key: key, keyLocation: keyToken.location, value: value))
            }
            switch current.kind {
            case .comma:
                advance()
            case .closeBrace:
                advance()
                return QAPINode(.object(members), at: start)
            case .string where options.allowsMissingCommas:
                continue
            default:
                throw SyntaxError(
                    diagnostic: QAPIDiagnostic.syntax(
                        Self.unexpected(current.kind, wanted: "',' or '}'"),
                        at: current.location
                    )
                )
            }
        }
    }

    mutating func parseArray(start: QAPISourceLocation) throws(SyntaxError) -> QAPINode {
        var elements: [QAPINode] = []
        if current.kind == .closeBracket {
            advance()
            return QAPINode(.array(elements), at: start)
        }
        while true {
            if current.kind == .closeBracket, options.allowsTrailingCommas, !elements.isEmpty {
                advance()
                return QAPINode(.array(elements), at: start)
            }
            elements.append(try parseValue())
            switch current.kind {
            case .comma:
                advance()
            case .closeBracket:
                advance()
                return QAPINode(.array(elements), at: start)
            case .string, .openBrace, .openBracket, .bool:
                if options.allowsMissingCommas { continue }
                fallthrough
            default:
                throw SyntaxError(
                    diagnostic: QAPIDiagnostic.syntax(
                        Self.unexpected(current.kind, wanted: "',' or ']'"),
                        at: current.location
                    )
                )
            }
        }
    }
}
