import QMPCore

/// What each line typed into `qmp shell` asks for, following qmp-shell's rules (see the
/// reference's §6.3): `command key=value …`, `transaction(` … `)`, HMP mode with `cpu N`; plus a
/// raw JSON object sent as given, `help`, and input continued over several lines. No I/O: the
/// shell glue carries the steps out.
struct ShellInterpreter: Sendable {
    enum Mode: Sendable, Hashable {
        /// QMP commands in qmp-shell syntax.
        case qmp
        /// Every line goes to `human-monitor-command`.
        case hmp
        /// Guest agent commands in qmp-shell syntax: no transactions, no out-of-band.
        case agent
    }

    /// What to do after a line.
    enum Step: Sendable, Hashable {
        /// An empty line, or a transaction action collected: nothing to send.
        case nothing
        /// The input is not finished (an open bracket, or a trailing backslash): read more.
        case more
        /// `help` or `help NAME`.
        case help(topic: String?)
        /// A command to check against the schema and send.
        case execute(name: String, arguments: JSONObject)
        /// A JSON object the user wrote: sent as given, without checking.
        case raw(name: String, arguments: JSONObject?, outOfBand: Bool)
        /// An HMP command line for `human-monitor-command`; the CPU once `cpu N` chose one.
        case hmp(commandLine: String, cpuIndex: Int?)
        /// HMP `cpu N`: check that CPU N exists, then use it.
        case selectCPU(Int)
    }

    let mode: Mode
    /// The CPU that HMP commands run on, once `cpu N` chose one (QEMU's default before).
    var cpuIndex: Int?
    /// Actions collected since `transaction(`; `nil` outside a transaction.
    private(set) var transaction: [JSONValue]?
    /// The lines of an input that continues.
    private(set) var pending: [String] = []

    init(mode: Mode = .qmp) {
        self.mode = mode
    }

    var prompt: String {
        if !pending.isEmpty { return "...... " }
        if transaction != nil { return "TRANS> " }
        switch mode {
        case .qmp: return "(QEMU) "
        case .hmp: return "(HMP) "
        case .agent: return "(QGA) "
        }
    }

    var isInTransaction: Bool { transaction != nil }

    /// Forgets a half-typed multi-line input (Ctrl-C).
    mutating func discardPending() {
        pending = []
    }

    /// The usage line printed after a parse error, as qmp-shell prints it (with its `]`).
    static let usage = "command format: <command-name> [arg-name1=arg1] ... [arg-nameN=argN]"

    /// Interprets one line. A line that finishes a multi-line input is joined with the lines
    /// before it; ``lastInput`` holds the whole input afterwards (for the history).
    mutating func interpret(_ line: String) throws(CommandLineError) -> Step {
        var text = line
        let continues = text.hasSuffix("\\")
        if continues { text.removeLast() }
        let parts = pending + [text]
        let isJSON = parts.joined().first { !$0.isWhitespace } == "{"
        // A raw JSON object may be spread over lines like any JSON; in key=value syntax a space
        // would split a value, so continuation lines join without one.
        let whole = parts.joined(separator: isJSON && !continues ? " " : "")
        if continues || Self.isOpen(whole, quotesCount: isJSON) {
            pending = parts
            return .more
        }
        pending = []
        lastInput = whole
        let trimmed = whole.trimmingWhitespace()
        if trimmed.isEmpty {
            return .nothing
        }
        if mode == .hmp {
            return try hmp(trimmed)
        }
        if trimmed.hasPrefix("{") {
            return try rawJSON(trimmed)
        }
        return try words(CommandLineSyntax.split(trimmed))
    }

    /// The whole input of the last step, continuation lines joined.
    private(set) var lastInput = ""

    private mutating func hmp(_ line: String) throws(CommandLineError) -> Step {
        let words = CommandLineSyntax.split(line)
        if words.first == "cpu" {
            guard words.count == 2, let index = Int(words[1]), index >= 0 else {
                throw CommandLineError(message: "cpu command takes an integer argument")
            }
            return .selectCPU(index)
        }
        return .hmp(commandLine: line, cpuIndex: cpuIndex)
    }

    private mutating func rawJSON(_ text: String) throws(CommandLineError) -> Step {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: text, configuration: .server)
        } catch {
            throw CommandLineError(message: "expected a JSON object, but \(text) is not JSON: \(error.description)")
        }
        guard case .object(let object) = value else {
            throw CommandLineError(message: "expected a JSON object, got \(text)")
        }
        if transaction != nil {
            // Inside a transaction, a JSON object is one action: {"type": ..., "data": {...}}.
            transaction?.append(.object(object))
            return .nothing
        }
        let outOfBand = object["exec-oob"] != nil
        guard case .string(let name)? = object[outOfBand ? "exec-oob" : "execute"] else {
            throw CommandLineError(message: "expected a JSON object with a string member 'execute' or 'exec-oob'")
        }
        var arguments: JSONObject?
        if let given = object["arguments"] {
            guard case .object(let members) = given else {
                throw CommandLineError(message: "expected 'arguments' to be a JSON object")
            }
            arguments = members
        }
        return .raw(name: name, arguments: arguments, outOfBand: outOfBand)
    }

    private mutating func words(_ given: [String]) throws(CommandLineError) -> Step {
        var words = given
        if transaction == nil, words.first == "help" {
            guard words.count <= 2 else {
                throw CommandLineError(message: "help takes at most one name: help [COMMAND]")
            }
            return .help(topic: words.count == 2 ? words[1] : nil)
        }
        if words.first == "transaction(" {
            guard mode != .agent else {
                throw CommandLineError(message: "the guest agent has no transactions")
            }
            transaction = []
            words.removeFirst()
        }
        if transaction != nil, words.first == ")" {
            guard words.count == 1 else {
                throw CommandLineError(message: "Unexpected input after close of Transaction sub-shell")
            }
            let actions = transaction ?? []
            transaction = nil
            return .execute(name: "transaction", arguments: ["actions": .array(actions)])
        }
        if transaction != nil {
            guard let type = words.first else { return .nothing }
            var rest = Array(words.dropFirst())
            let finishes = rest.last == ")"
            if finishes { rest.removeLast() }
            let data = try CommandLineSyntax.arguments(rest)
            transaction?.append(["type": .string(type), "data": .object(data)])
            return finishes ? try self.words([")"]) : .nothing
        }
        let command = try CommandLineSyntax.parse(words)
        return .execute(name: command.name, arguments: command.arguments)
    }

    /// Whether `text` has a bracket left open (outside quotes), or, for JSON, an open string.
    static func isOpen(_ text: String, quotesCount: Bool) -> Bool {
        var depth = 0
        let quoteOpen = CommandLineSyntax.forEachCharacter(of: text) { character, quoted in
            guard !quoted else { return }
            switch character {
            case "{", "[": depth += 1
            case "}", "]": depth -= 1
            default: break
            }
        }
        return depth > 0 || (quotesCount && quoteOpen)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
