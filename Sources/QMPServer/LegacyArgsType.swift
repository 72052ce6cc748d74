import QMPCore

/// A command's arguments declared the way QEMU's `qmp-commands.hx` did before the QAPI schema,
/// e.g. `"device:B,target:F,arg:s?"`, and checked with QEMU's messages.
///
/// Letters: `s` `F` `B` a string; `i` `l` `M` `o` an integer; `T` a number (integers too);
/// `b` a boolean; `-` a flag (`force:-f`), an optional boolean; `q` any JSON value; `O` accepts
/// any other arguments too (`device_add device:O`). `?` after the letter makes it optional.
public struct LegacyArgsType: Sendable, Hashable {
    /// One declared argument.
    public struct Entry: Sendable, Hashable {
        /// The argument's name.
        public var name: String
        /// Its type letter.
        public var letter: Character
        /// Whether it may be left out (`?`, or a `-` flag).
        public var optional: Bool
    }

    /// The declared arguments, in order.
    public private(set) var entries: [Entry] = []
    /// An `O` entry: unknown arguments are accepted.
    public private(set) var acceptsUnknown = false

    /// Reads an `args_type` string; throws on one QEMU could not have declared.
    public init(_ text: String) throws(QMPError) {
        guard !text.isEmpty else { return }
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let colon = part.firstIndex(of: ":"), colon != part.startIndex else {
                throw QMPError(code: .invalidArguments, message: "args_type entry '\(part)': expected NAME:TYPE")
            }
            let name = String(part[..<colon])
            let type = part[part.index(after: colon)...]
            guard let letter = type.first else {
                throw QMPError(
                    code: .invalidArguments,
                    message: "args_type entry '\(part)': the type letter is missing"
                )
            }
            if letter == "-" {
                // `force:-f`: a flag; the letter after the dash is HMP's spelling.
                entries.append(Entry(name: name, letter: "-", optional: true))
                continue
            }
            guard "sFBilMoTbqO".contains(letter) else {
                throw QMPError(
                    code: .invalidArguments,
                    message: "args_type entry '\(part)': '\(letter)' is not a QMP argument type"
                )
            }
            let modifier = type.dropFirst()
            guard modifier.isEmpty || modifier == "?" else {
                throw QMPError(
                    code: .invalidArguments,
                    message: "args_type entry '\(part)': expected '?' or nothing after the type letter"
                )
            }
            if letter == "O" {
                acceptsUnknown = true
            }
            entries.append(Entry(name: name, letter: letter, optional: modifier == "?"))
        }
    }

    /// The first problem with `arguments`, in QEMU's words, or `nil`.
    public func check(_ arguments: JSONObject) -> QMPErrorBody? {
        for (key, value) in arguments {
            guard let entry = entries.first(where: { $0.name == key && $0.letter != "O" }) else {
                if acceptsUnknown { continue }
                return Self.error("Parameter '\(key)' is unexpected")
            }
            if let expected = Self.expectedType(entry.letter, value) {
                return Self.error("Invalid parameter type for '\(key)', expected: \(expected)")
            }
        }
        for entry in entries where !entry.optional && entry.letter != "O" && arguments[entry.name] == nil {
            return Self.error("Parameter '\(entry.name)' is missing")
        }
        return nil
    }

    /// The word for what the letter wants when `value` is not one of the kinds it takes, else
    /// `nil`. QEMU's old checker named the kinds by its own words (`int`, `bool`).
    private static func expectedType(_ letter: Character, _ value: JSONValue) -> String? {
        let wanted: (kinds: Set<JSONKind>, word: String)
        switch letter {
        case "s", "F", "B": wanted = ([.string], JSONKind.string.rawValue)
        case "i", "l", "M", "o": wanted = ([.integer], QAPIJSONType.int.rawValue)
        case "T": wanted = ([.integer, .number], JSONKind.number.rawValue)
        case "b", "-": wanted = ([.boolean], "bool")
        default: return nil
        }
        return wanted.kinds.contains(value.kind) ? nil : wanted.word
    }

    private static func error(_ description: String) -> QMPErrorBody {
        QMPErrorBody(errorClass: QMPError.ErrorClass.genericError, description: description)
    }
}

extension QMPCommandTable {
    /// Registers a handler whose arguments are checked against a legacy `args_type` string
    /// before it runs.
    public mutating func register(
        _ name: String,
        argsType: String,
        allowsOutOfBand: Bool = false,
        _ handler: @escaping QMPCommandHandler
    ) throws(QMPError) {
        let declaration = try LegacyArgsType(argsType)
        register(name, allowsOutOfBand: allowsOutOfBand, checkArguments: { declaration.check($0) }, handler)
    }
}
