import ArgumentParser
import QMPClient
import QMPCore

struct ExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run one QMP command and print its reply as JSON.",
        discussion: """
            Arguments use qmp-shell's syntax: key=value, dotted keys nest (a.b=1 gives \
            {"a":{"b":1}}), integers and true/false convert, values starting with { or [ are read \
            as JSON, anything else is a string. --args takes a JSON object to start from.

            Examples:
              qmp exec /tmp/qmp.sock query-status
              qmp exec localhost:4444 device_del id=nic0
              qmp exec /tmp/qmp.sock blockdev-add driver=null-co node-name=disk0 size=1048576
              qmp exec /tmp/qmp.sock object-add --args '{"qom-type":"memory-backend-ram","id":"m0","size":1048576}'
              qmp exec --launch --pretty query-version
              qmp exec query-status                    (a simulated QEMU, no installation needed)
              printf 'stop\\nquery-status\\n' | qmp exec /tmp/qmp.sock -

            With COMMAND '-', commands are read from standard input, one per line (qmp-shell \
            syntax or a JSON object like {"execute": "stop"}; empty lines and lines starting with # \
            are skipped), each reply printed as one line; the first error stops, unless \
            --keep-going.

            On an error reply the class and description go to stderr and the exit code is 1. \
            When QEMU does not know a command, an argument or an enum value, the message adds \
            the closest names it knows, and the QEMU release that introduced or removed it:
              qmp exec query-stat           (...; did you mean query-stats or query-status?)
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Pretty-print the reply.")
    var pretty = false

    @Flag(help: "Send the command out of band (exec-oob); only for commands that allow it.")
    var oob = false

    @Option(help: ArgumentHelp("A JSON object of arguments; key=value pairs are added to it.", valueName: "json"))
    var args: String?

    @Flag(help: "With commands from standard input: go on after an error (the exit code still reports it).")
    var keepGoing = false

    @Argument(
        help: ArgumentHelp(
            "[ADDRESS] COMMAND [key=value ...]; without ADDRESS a simulated QEMU answers",
            valueName: "words"
        )
    )
    var words: [String] = []

    func validate() throws {
        try connection.rejectAddressWithLaunch(words)
        let fromStandardInput = connection.splitAddress(words).rest == ["-"]
        if fromStandardInput && (oob || args != nil) {
            throw ValidationError(
                "--oob and --args apply to one COMMAND, not to commands read from standard input ('-')"
            )
        }
        if !fromStandardInput && keepGoing {
            throw ValidationError("--keep-going applies only to commands read from standard input (COMMAND '-')")
        }
    }

    func run() async throws {
        let (address, commandWords) = connection.splitAddress(words)
        if commandWords == ["-"] {
            try await runFromStandardInput(address: address)
            return
        }
        let command: CommandLineSyntax.Command
        do {
            var base: JSONObject = [:]
            if let args {
                base = try Self.object(parsing: args, what: "--args")
            }
            guard let name = commandWords.first else {
                throw CommandLineError(
                    message: "expected a COMMAND after the ADDRESS (or with no ADDRESS, for the simulated QEMU)"
                )
            }
            command = CommandLineSyntax.Command(
                name: name,
                arguments: try CommandLineSyntax.arguments(Array(commandWords.dropFirst()), base: base)
            )
        } catch {
            throw failure(reporting: error)
        }
        do {
            let reply = try await connection.withClient(address: address) { client in
                do {
                    return try await oob
                        ? client.executeOutOfBand(command.name, arguments: command.arguments)
                        : client.execute(command.name, arguments: command.arguments)
                } catch let error as QMPError where error.code == .commandFailed {
                    throw await Self.advised(error, command: command, client: client)
                }
            }
            printLine(reply.serialized(style: pretty ? .pretty(indent: 2) : .compact))
        } catch {
            throw failure(reporting: error)
        }
    }

    /// One command per line of standard input, over one connection.
    private func runFromStandardInput(address: String?) async throws {
        let style: JSONWriter.Style = pretty ? .pretty(indent: 2) : .compact
        let keepGoing = self.keepGoing
        let outcome: ExitCode?
        do {
            outcome = try await connection.withClient(address: address) { client -> ExitCode? in
                var firstFailure: ExitCode?
                while let line = readLine() {
                    let trimmed = line.drop { $0 == " " || $0 == "\t" }
                    if trimmed.isEmpty || trimmed.hasPrefix("#") {
                        continue
                    }
                    do {
                        let command = try Self.command(fromLine: String(trimmed))
                        do {
                            let reply = try await client.execute(command.name, arguments: command.arguments)
                            printLine(reply.serialized(style: style))
                        } catch let error as QMPError where error.code == .commandFailed {
                            throw await Self.advised(error, command: command, client: client)
                        }
                    } catch let error where (error as? QMPError)?.code == .commandFailed || error is CommandLineError {
                        let code = failure(reporting: error)
                        firstFailure = firstFailure ?? code
                        if !keepGoing {
                            return code
                        }
                    }
                }
                return firstFailure
            }
        } catch {
            throw failure(reporting: error)
        }
        if let outcome {
            throw outcome
        }
    }

    /// QEMU's refusal with what would have worked added (see ``RefusalAdvice``): the closest
    /// names to a mistyped command, argument or enum value, the release that introduced or
    /// removed what this QEMU lacks. The schema is fetched only now, after a refusal, so that a
    /// command that works costs no more than before.
    static func advised(_ error: QMPError, command: CommandLineSyntax.Command, client: QMPClient) async -> QMPError {
        guard let schema = try? await client.schema() else { return error }
        let advice = RefusalAdvice(schema: schema, version: client.greeting.version)
        var advised = error
        advised.message += advice.advice(for: command.name, arguments: command.arguments)
        return advised
    }

    /// `text` as a JSON object. A refusal says where the text went wrong and what was expected
    /// there, never the text itself: arguments carry passwords and secrets, and error output
    /// ends up in logs.
    static func object(parsing text: String, what: String) throws(CommandLineError) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: text, configuration: .server)
        } catch {
            throw CommandLineError(
                message: "\(what) is not valid JSON: \(Self.problem(error)) at byte \(error.offset + 1) of "
                    + "\(text.utf8.count); expected a JSON object such as {\"id\": \"disk0\"} (text not shown)"
            )
        }
        guard case .object(let object) = value else {
            throw CommandLineError(message: "\(what) expects a JSON object, got \(value.kindName)")
        }
        return object
    }

    /// What kind of problem the reader found, in words that quote none of the input.
    private static func problem(_ error: JSONReaderError) -> String {
        switch error.kind {
        case .syntax: "a syntax error or an early end"
        case .lexical: "something that is no JSON token"
        case .depthLimit: "too deeply nested"
        case .sizeLimit: "too long"
        case .tokenCountLimit: "too many tokens"
        }
    }

    /// A line of qmp-shell syntax, or a JSON object with `execute` and `arguments`.
    static func command(fromLine line: String) throws(CommandLineError) -> CommandLineSyntax.Command {
        guard line.hasPrefix("{") else {
            return try CommandLineSyntax.parse(CommandLineSyntax.split(line))
        }
        let object = try Self.object(parsing: line, what: "the line")
        guard case .string(let name)? = object["execute"] else {
            throw CommandLineError(message: "expected a JSON object with a string member 'execute'")
        }
        guard let arguments = object["arguments"] else {
            return CommandLineSyntax.Command(name: name, arguments: [:])
        }
        guard case .object(let given) = arguments else {
            throw CommandLineError(message: "expected 'arguments' to be a JSON object, got \(arguments.kindName)")
        }
        return CommandLineSyntax.Command(name: name, arguments: given)
    }
}
