import QMPCore

/// A build-time condition (`'if'`) on a definition, member, enum value, branch or feature.
///
/// QEMU compiles a definition only when its condition holds for the build configuration: host
/// features (`CONFIG_SPICE`, `CONFIG_LINUX`, …) and, for the target-specific parts, the target
/// (`TARGET_I386`, `TARGET_S390X`, …). A build's `query-qmp-schema` therefore shows only what that
/// build has.
///
/// The schema language spelled conditions in two ways over time. Both read into this type:
/// - QEMU 3.0 to 6.0: C preprocessor text, `'defined(CONFIG_SPICE)'`,
///   `'defined(TARGET_S390X) || defined(TARGET_I386)'`; a list of such strings means all of them.
/// - QEMU 6.1 on: a symbol `'CONFIG_SPICE'`, or `{'all': […]}`, `{'any': […]}`, `{'not': …}`.
public indirect enum QAPICondition: Sendable, Hashable, CustomStringConvertible {
    /// True when the symbol is defined.
    case defined(String)
    /// True when every operand is true (true when there are none).
    case all([QAPICondition])
    /// True when some operand is true (false when there are none).
    case any([QAPICondition])
    /// True when the operand is false.
    case not(QAPICondition)

    /// Evaluates the condition, asking `isDefined` about each symbol.
    public func evaluate(_ isDefined: (String) -> Bool) -> Bool {
        switch self {
        case .defined(let symbol): isDefined(symbol)
        case .all(let operands): operands.allSatisfy { $0.evaluate(isDefined) }
        case .any(let operands): operands.contains { $0.evaluate(isDefined) }
        case .not(let operand): !operand.evaluate(isDefined)
        }
    }

    /// Whether the condition holds in a build that defines exactly `symbols`.
    public func isSatisfied(by symbols: Set<String>) -> Bool {
        evaluate { symbols.contains($0) }
    }

    /// Every symbol the condition mentions.
    public var symbols: Set<String> {
        switch self {
        case .defined(let symbol): [symbol]
        case .all(let operands), .any(let operands): operands.reduce(into: []) { $0.formUnion($1.symbols) }
        case .not(let operand): operand.symbols
        }
    }

    /// A compact rendering with `&&`, `||` and `!`, e.g. `TARGET_S390X && CONFIG_KVM`.
    public var description: String { render(nested: false) }

    private func render(nested: Bool) -> String {
        switch self {
        case .defined(let symbol):
            return symbol
        case .not(let operand):
            return "!" + operand.render(nested: true)
        case .all(let operands):
            if operands.isEmpty { return "true" }
            if operands.count == 1 { return operands[0].render(nested: nested) }
            let text = operands.map { $0.render(nested: true) }.joined(separator: " && ")
            return nested ? "(\(text))" : text
        case .any(let operands):
            if operands.isEmpty { return "false" }
            if operands.count == 1 { return operands[0].render(nested: nested) }
            let text = operands.map { $0.render(nested: true) }.joined(separator: " || ")
            return nested ? "(\(text))" : text
        }
    }

    /// Reads the C preprocessor spelling of QEMU 3.0–6.0 (`defined(X)`, `!`, `&&`, `||`,
    /// parentheses; a bare identifier counts as `defined(identifier)`).
    /// Returns `nil` when the text is not such an expression.
    public init?(preprocessorExpression text: String) {
        var parser = PreprocessorConditionParser(text: text)
        guard let condition = parser.parseOr(), parser.atEnd else { return nil }
        self = condition
    }
}

private struct PreprocessorConditionParser {
    enum Token: Equatable {
        case identifier(String)
        case not, and, or, open, close
    }

    var tokens: [Token] = []
    var position = 0
    var failed = false

    init(text: String) {
        var characters = Array(text.unicodeScalars)[...]
        while let first = characters.first {
            switch first {
            case " ", "\t":
                characters = characters.dropFirst()
            case "(":
                tokens.append(.open)
                characters = characters.dropFirst()
            case ")":
                tokens.append(.close)
                characters = characters.dropFirst()
            case "!":
                tokens.append(.not)
                characters = characters.dropFirst()
            case "&":
                guard characters.dropFirst().first == "&" else {
                    failed = true
                    return
                }
                tokens.append(.and)
                characters = characters.dropFirst(2)
            case "|":
                guard characters.dropFirst().first == "|" else {
                    failed = true
                    return
                }
                tokens.append(.or)
                characters = characters.dropFirst(2)
            default:
                let word = characters.prefix { $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
                guard !word.isEmpty else {
                    failed = true
                    return
                }
                var identifier = ""
                identifier.unicodeScalars.append(contentsOf: word)
                tokens.append(.identifier(identifier))
                characters = characters.dropFirst(word.count)
            }
        }
    }

    var atEnd: Bool { !failed && position == tokens.count }

    mutating func next() -> Token? {
        guard position < tokens.count else { return nil }
        defer { position += 1 }
        return tokens[position]
    }

    var peek: Token? { position < tokens.count ? tokens[position] : nil }

    mutating func parseOr() -> QAPICondition? {
        guard !failed, var operands = parseAnd().map({ [$0] }) else { return nil }
        while peek == .or {
            position += 1
            guard let operand = parseAnd() else { return nil }
            operands.append(operand)
        }
        return operands.count == 1 ? operands[0] : .any(operands)
    }

    mutating func parseAnd() -> QAPICondition? {
        guard var operands = parseUnary().map({ [$0] }) else { return nil }
        while peek == .and {
            position += 1
            guard let operand = parseUnary() else { return nil }
            operands.append(operand)
        }
        return operands.count == 1 ? operands[0] : .all(operands)
    }

    mutating func parseUnary() -> QAPICondition? {
        switch next() {
        case .not:
            return parseUnary().map { .not($0) }
        case .open:
            guard let inner = parseOr(), next() == .close else { return nil }
            return inner
        case .identifier("defined"):
            if peek == .open {
                position += 1
                guard case .identifier(let symbol)? = next(), next() == .close else { return nil }
                return .defined(symbol)
            }
            guard case .identifier(let symbol)? = next() else { return nil }
            return .defined(symbol)
        case .identifier(let symbol):
            return .defined(symbol)
        default:
            return nil
        }
    }
}
