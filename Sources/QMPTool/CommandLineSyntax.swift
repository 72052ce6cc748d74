import QMPCore

/// qmp-shell's command syntax: `command key=value …`, so that its users feel at home.
///
/// - Dotted keys nest: `a.b.c=1 a.b.d=true` → `{"a": {"b": {"c": 1, "d": true}}}`.
/// - Values convert in this order: an integer in Python's `int()` syntax (`-3`, `+5`, `1_000`;
///   not `0x10`); `true`/`false` in any case; text starting with `{` or `[` that reads as JSON, or
///   as a Python-style literal with single quotes and `True`/`False`/`None`; anything else is a
///   string (`f=1.5` and `g=null` stay strings, as in qmp-shell).
public enum CommandLineSyntax {
    /// A command name and its arguments.
    public struct Command: Sendable, Hashable {
        public var name: String
        public var arguments: JSONObject
    }

    /// Parses `name key=value …` already split into words.
    public static func parse(_ words: [String]) throws(CommandLineError) -> Command {
        guard let name = words.first else {
            throw CommandLineError(message: "expected a command name, got nothing")
        }
        return Command(name: name, arguments: try arguments(Array(words.dropFirst())))
    }

    /// Turns `key=value` words into an arguments object, merged onto `base`.
    public static func arguments(_ words: [String], base: JSONObject = [:]) throws(CommandLineError) -> JSONObject {
        var result = base
        for word in words {
            guard let equals = word.firstIndex(of: "=") else {
                throw CommandLineError(message: "Expected a key=value pair, got '\(word)'")
            }
            let key = String(word[..<equals])
            let value = parseValue(String(word[word.index(after: equals)...]))
            try set(
                value,
                at: key.split(separator: ".", omittingEmptySubsequences: false).map(String.init),
                in: &result,
                fullKey: key
            )
        }
        return result
    }

    /// Splits a line into words the way qmp-shell does: on whitespace, except inside `"…"` or
    /// `'…'`, whose quote characters stay in the word (`name="a b"` gives the value `"a b"`,
    /// quotes included).
    public static func split(_ line: String) -> [String] {
        var words: [String] = []
        var current: String?
        forEachCharacter(of: line) { character, quoted in
            if !quoted && character.isWhitespace {
                if let word = current {
                    words.append(word)
                    current = nil
                }
            } else {
                current = (current ?? "") + String(character)
            }
        }
        if let word = current {
            words.append(word)
        }
        return words
    }

    /// Calls `body` with each character and whether it lies inside a `"…"` or `'…'` (the quote
    /// characters themselves count as inside; a backslash escapes the next character there).
    /// Returns whether a quote is still open at the end.
    @discardableResult
    static func forEachCharacter(of text: String, _ body: (Character, _ quoted: Bool) -> Void) -> Bool {
        var quote: Character?
        var escaped = false
        for character in text {
            if let open = quote {
                body(character, true)
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == open {
                    quote = nil
                }
            } else if character == "\"" || character == "'" {
                quote = character
                body(character, true)
            } else {
                body(character, false)
            }
        }
        return quote != nil
    }

    /// Converts one value as qmp-shell does.
    public static func parseValue(_ text: String) -> JSONValue {
        if let integer = pythonInteger(text) {
            return integer
        }
        switch text.lowercased() {
        case "true": return .bool(true)
        case "false": return .bool(false)
        default: break
        }
        if text.hasPrefix("{") || text.hasPrefix("[") {
            if let value = try? JSONValue(parsing: text) {
                return value
            }
            if let value = try? JSONValue(parsing: pythonKeywordsAsJSON(text), configuration: .server) {
                return value
            }
        }
        return .string(text)
    }

    private static func set(
        _ value: JSONValue,
        at path: [String],
        in object: inout JSONObject,
        fullKey: String
    ) throws(CommandLineError) {
        let key = path[0]
        if path.count == 1 {
            if object.contains(key: key) {
                if case .object = object[key] {
                    throw CommandLineError(message: "Cannot use \"\(fullKey)\" as both leaf and non-leaf key")
                }
                throw CommandLineError(message: "Cannot set \"\(fullKey)\" multiple times")
            }
            object[key] = value
            return
        }
        var child: JSONObject
        switch object[key] {
        case nil:
            child = [:]
        case .object(let existing)?:
            child = existing
        case _?:
            let prefix = fullKey.split(separator: ".").prefix(fullKey.split(separator: ".").count - path.count + 1)
            throw CommandLineError(
                message: "Cannot use \"\(prefix.joined(separator: "."))\" as both leaf and non-leaf key"
            )
        }
        try set(value, at: Array(path.dropFirst()), in: &child, fullKey: fullKey)
        object[key] = .object(child)
    }

    /// Python's `int()` of a string: optional sign, decimal digits, single underscores between
    /// digits, surrounding whitespace allowed.
    private static func pythonInteger(_ text: String) -> JSONValue? {
        var body = Substring(text.trimmingCharacters(in: " \t\n\r\u{0B}\u{0C}"))
        var negative = false
        if let sign = body.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            body = body.dropFirst()
        }
        guard let first = body.first, first.isASCII, first.isNumber, let last = body.last, last.isASCII, last.isNumber
        else { return nil }
        var digits = ""
        var previousUnderscore = false
        for character in body {
            if character == "_" {
                if previousUnderscore { return nil }
                previousUnderscore = true
                continue
            }
            guard character.isASCII, character.isNumber else { return nil }
            previousUnderscore = false
            digits.append(character)
        }
        if negative {
            if let value = Int64("-" + digits) { return .int(value) }
        } else {
            if let value = Int64(digits) { return .int(value) }
            if let value = UInt64(digits) { return .uint(value) }
        }
        // Beyond 64 bits: Python keeps it exact, JSON readers see a big number.
        return Double((negative ? "-" : "") + digits).map(JSONValue.double)
    }

    /// Replaces Python's `True`, `False`, `None` outside quotes with their JSON spellings.
    private static func pythonKeywordsAsJSON(_ text: String) -> String {
        var output = ""
        var word = ""
        func flush() {
            switch word {
            case "True": output += "true"
            case "False": output += "false"
            case "None": output += "null"
            default: output += word
            }
            word = ""
        }
        forEachCharacter(of: text) { character, quoted in
            if !quoted && (character.isLetter || character == "_") {
                word.append(character)
            } else {
                flush()
                output.append(character)
            }
        }
        flush()
        return output
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
