import QAPI
import QGAClient
import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `qmp shell --agent ADDRESS`: the shell's syntax, completion, help and checks for a guest
/// agent. The agent has no schema of its own to give, no events and no transactions: the
/// schema is the one of the agent's release in the history the `QGA` bindings carry (see
/// ``AgentSchema``), and each line is one command and its reply.
struct AgentShellSession {
    let client: QGAClient
    let address: String
    let options: ShellSession.Options

    func run() async throws {
        let client = self.client
        // The agent's release picks the schema; guest-info is in every release.
        let info = try await client.execute("guest-info")
        let agentVersion = info["version"]?.stringValue
        let release = AgentSchema.release(forAgentVersion: agentVersion)
        let schema = AgentSchema.introspection(for: release)
        let server = "qemu-ga " + (agentVersion ?? release.description)
        var help = ShellHelp(schema: schema, server: server, version: release, history: AgentSchema.history)
        help.hasTransactions = false
        let advice = RefusalAdvice(schema: schema, version: release, history: AgentSchema.history)
        let completer = ShellCompleter(schema: schema, typeNames: help.typeNames)
        let context = ShellCompleter.Context(mode: .agent)
        // Only the schema completes: file names and the like would be this host's, not the guest's.
        let terminal = try ShellTerminal(historyPath: ShellSession.historyPath()) { prefix in
            completer.complete(prefix, context: context)
        }
        let output = ShellOutput(terminal: terminal, pretty: options.pretty || isatty(1) == 1)

        terminal.print("Welcome to the guest agent shell!")
        terminal.print("Connected to \(escapingControlCharacters(server)) at \(address)")
        terminal.print("Type help for the commands, Tab to complete, Ctrl-D to leave.")
        if isatty(0) == 1, let reason = terminal.plainReason {
            terminal.print("(no line editing: \(reason))")
        }
        terminal.print("")
        var interpreter = ShellInterpreter(mode: .agent)
        terminal.start(prompt: interpreter.prompt)
        inputs: for await input in terminal.inputs {
            switch input {
            case .endOfInput:
                break inputs
            case .interrupt:
                interpreter.discardPending()
                continue inputs
            case .line(let line):
                do {
                    let step = try interpreter.interpret(line)
                    if step != .more, !interpreter.lastInput.trimmingWhitespace().isEmpty {
                        terminal.post(.addHistory(interpreter.lastInput))
                    }
                    await perform(step, schema: schema, help: help, advice: advice, output: output)
                } catch {
                    if !interpreter.lastInput.trimmingWhitespace().isEmpty {
                        terminal.post(.addHistory(interpreter.lastInput))
                    }
                    output.error("Error while parsing command line: \(error.message)\n\(ShellInterpreter.usage)")
                }
                terminal.post(.ready(prompt: interpreter.prompt))
            }
        }
        await terminal.stop()
    }

    private func perform(
        _ step: ShellInterpreter.Step,
        schema: QAPIIntrospection,
        help: ShellHelp,
        advice: RefusalAdvice,
        output: ShellOutput
    ) async {
        switch step {
        case .nothing, .more, .hmp, .selectCPU:
            return
        case .help(let topic):
            guard let topic else { return output.text(help.overview()) }
            guard let text = help.topic(topic) else { return output.error(help.missing(topic)) }
            output.text(text)
        case .execute(let name, let arguments):
            if let problem = Self.problem(name, arguments: arguments, schema: schema, server: help.server) {
                return output.error("error: \(problem)" + advice.advice(for: name, arguments: arguments))
            }
            await send(name, arguments: arguments, output: output)
        case .raw(let name, let arguments, let outOfBand):
            guard !outOfBand else { return output.error("error: the guest agent has no out-of-band commands") }
            await send(name, arguments: arguments, output: output)
        }
    }

    /// What the schema finds wrong with a command, in the words `qmp shell` uses for QEMU's.
    static func problem(_ name: String, arguments: JSONObject?, schema: QAPIIntrospection, server: String) -> String? {
        guard case .command? = schema.entry(named: name)?.metaType else {
            return "\(server) has no command '\(name)'"
        }
        guard let issue = schema.validateArguments(arguments, ofCommand: name).first else { return nil }
        let prefix = "arguments."
        if issue.kind == .unexpected, issue.path.hasPrefix(prefix), !issue.path.dropFirst(prefix.count).contains(".") {
            return "\(server) has no argument '\(issue.path.dropFirst(prefix.count))' of '\(name)'"
        }
        return "\(issue.description) (checked against \(server))"
    }

    private func send(_ name: String, arguments: JSONObject?, output: ShellOutput) async {
        var request: JSONObject = ["execute": .string(name)]
        if let arguments, !arguments.isEmpty { request["arguments"] = .object(arguments) }
        await options.exchange(request, output: output) {
            try await client.execute(name, arguments: arguments.flatMap { $0.isEmpty ? nil : $0 })
        }
    }
}
