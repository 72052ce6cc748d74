import ArgumentParser
import Dispatch
import NIOConcurrencyHelpers
import QAPI
import QGAClient
import QMPClient
import QMPCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct ShellCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "An interactive QMP shell: qmp-shell's syntax, with completion, history and checks.",
        discussion: """
            Lines use qmp-shell's syntax: COMMAND key=value ..., dotted keys nest (a.b=1 gives \
            {"a":{"b":1}}), integers and true/false convert, values starting with { or [ are \
            read as JSON. A line that is a JSON object ({"execute": ...}) is sent as written. \
            'transaction(' starts collecting actions, one per line, and ')' sends them as one \
            transaction. 'help' lists the commands, 'help COMMAND' shows its arguments, \
            'help TYPE' a type's members (an enum's values, a union's branches).

            Tab completes command names, argument names (nested too), enum values, the \
            names of block devices, nodes, jobs, devices and QOM paths the machine has now, \
            and file names where an argument is a path: a string argument whose name ends in \
            file, filename, path or dir (not a QOM path), or a file chardev's in and out. \
            Elsewhere, Tab with no match does \
            nothing. Arguments are checked against the connected QEMU's schema before \
            sending; a refusal names the closest commands, arguments or values, and the QEMU \
            release that introduced or removed what this QEMU lacks. Events \
            are printed as they arrive. History is kept in $XDG_STATE_HOME/qmp/history, or \
            ~/.qmp_history; Ctrl-R searches it. A line ending in \\ or with an open bracket \
            continues on the next. Ctrl-D leaves.

            Without ADDRESS, $QMP_SOCKET is used; without either, a simulated QEMU 7.2 runs \
            inside qmp.

            Examples:
              qmp shell /tmp/qmp.sock
              qmp shell localhost:4444 -p
              qmp shell --launch --machine q35
              qmp shell -H /tmp/qmp.sock          (HMP: 'info block', 'cpu 1')
              qmp shell                           (a simulated QEMU, no installation needed)
              qmp shell --agent /tmp/qga.sock     (a guest agent: qemu-ga's commands)

            In the shell:
              (QEMU) query-status
              (QEMU) blockdev-add driver=null-co node-name=disk0 size=1048576
              (QEMU) transaction(
              TRANS> block-dirty-bitmap-add node=disk0 name=bitmap0
              TRANS> )
              (QEMU) {"execute": "qom-list", "arguments": {"path": "/machine"}}
              (QEMU) help BlockDeviceInfo
              (QEMU) stpo
              error: QEMU 7.2.22 has no command 'stpo'; did you mean stop?

            With --agent, ADDRESS is a guest agent's socket: the lines are agent commands, checked, \
            completed and explained from the schema of the agent's release, which qmp knows \
            (QEMU 1.4 on); there are no events, transactions or out-of-band commands.

            In the agent shell:
              (QGA) guest-ping
              {"return": {}}
              (QGA) guest-file-open path=/etc/hostname mdoe=r
              error: qemu-ga 7.2.22 has no argument 'mdoe' of 'guest-file-open'; did you mean mode?
              (QGA) help guest-exec
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(name: [.customShort("H"), .long], help: "HMP mode: send each line to human-monitor-command.")
    var hmp = false

    @Flag(
        help: """
            Talk to the guest agent (qemu-ga) at ADDRESS: its commands, completion and help from \
            the agent's schema, no events or transactions.
            """
    )
    var agent = false

    @Flag(name: [.customShort("p"), .long], help: "Pretty-print replies (always on at a terminal).")
    var pretty = false

    @Flag(name: [.customShort("v"), .long], help: "Print each command's JSON before sending it.")
    var verbose = false

    @Option(
        name: [.customShort("l"), .customLong("logfile")],
        help: ArgumentHelp(
            "Append every command and its reply to this file, one JSON object a line (indented with --pretty).",
            valueName: "file"
        )
    )
    var logfile: String?

    @Argument(
        help: ArgumentHelp(
            "Unix socket path or HOST:PORT (default: $QMP_SOCKET; neither: a simulated QEMU).",
            valueName: "address"
        )
    )
    var address: String?

    /// Events that may wait for a terminal that falls behind; more are dropped and counted.
    static let eventBacklogLimit = 4096

    func validate() throws {
        if connection.launch && address != nil {
            throw ConnectionOptions.addressWithLaunch
        }
        if agent {
            guard !connection.launch, !hmp else {
                throw ValidationError("--agent talks to a guest agent: it goes with neither --launch nor -H")
            }
            guard address != nil else {
                throw ValidationError(
                    "--agent expects the ADDRESS of the agent's socket (a Unix socket path or HOST:PORT)"
                )
            }
        }
    }

    func run() async throws {
        var address = self.address
        if address == nil, !connection.launch, let socket = ProcessInfo.processInfo.environment["QMP_SOCKET"],
            !socket.isEmpty
        {
            address = socket
        }
        var log: ShellLog?
        if let logfile {
            do {
                log = try ShellLog(path: logfile)
            } catch {
                throw failure(reporting: error)
            }
        }
        let options = ShellSession.Options(mode: hmp ? .hmp : .qmp, pretty: pretty, verbose: verbose, log: log)
        if agent, let address {
            try await runWithAgent(at: address, options: options)
            return
        }
        do {
            try await connection.withClient(address: address) { client in
                try await ShellSession(client: client, options: options).run()
            }
        } catch {
            throw failure(reporting: error)
        }
    }
}

extension ShellCommand {
    /// The shell for the guest agent at `address`.
    func runWithAgent(at address: String, options: ShellSession.Options) async throws {
        // Replies wait as long as --timeout says; syncs and quick commands keep the agent's own
        // short limits, so that an agent that is not there is noticed at once.
        let configuration = QGAClient.Configuration(
            timeouts: QGATimeouts(
                standard: connection.commandTimeout,
                long: max(connection.commandTimeout, .seconds(300))
            ),
            connectTimeout: .seconds(min(connection.timeout, 30))
        )
        do {
            let parsed = try QMPAddress(parsing: address)
            try refuseNonSocket(parsed)
            try await QGAClient.withConnection(to: parsed, configuration: configuration) { client in
                try await AgentShellSession(client: client, address: address, options: options).run()
            }
        } catch {
            throw failure(reporting: error)
        }
    }
}

/// Appends one JSON object a line.
final class ShellLog: @unchecked Sendable {
    // A FILE is used from one task at a time: the shell session's.
    private let file: UnsafeMutablePointer<FILE>

    init(path: String) throws(CommandLineError) {
        guard let file = fopen(path, "a") else {
            let reason = String(cString: strerror(errno))
            throw CommandLineError(message: "cannot open the log file \(path): \(reason)")
        }
        self.file = file
    }

    deinit { fclose(file) }

    func append(_ line: String) {
        fputs(line + "\n", file)
        fflush(file)
    }
}

/// One run of the shell over a connected client.
struct ShellSession {
    struct Options: Sendable {
        var mode: ShellInterpreter.Mode
        var pretty: Bool
        var verbose: Bool
        var log: ShellLog?
    }

    let client: QMPClient
    let options: Options

    /// `$XDG_STATE_HOME/qmp/history` when XDG_STATE_HOME is set, otherwise `~/.qmp_history`.
    static func historyPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            let directory = state + "/qmp"
            _ = mkdir(directory, 0o700)
            return directory + "/history"
        }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return home + "/.qmp_history"
    }

    func run() async throws {
        let client = self.client
        let server = client.greeting.version.map { "QEMU \($0)" } ?? "the server"
        let schema = options.mode == .qmp ? try? await client.schema() : nil
        let version = client.greeting.version
        let help = schema.map { ShellHelp(schema: $0, server: server, version: version) }
        let advice = schema.map { RefusalAdvice(schema: $0, version: version) }
        let context = NIOLockedValueBox(ShellCompleter.Context(mode: options.mode))
        let completer = help.map { ShellCompleter(schema: $0.schema, typeNames: $0.typeNames) }
        let fetches = ShellMachineNames.Requests()
        let terminal = try ShellTerminal(historyPath: Self.historyPath()) { prefix in
            guard let completer else { return .none }
            let here = context.withLockedValue { $0 }
            var names: [String] = []
            switch completer.source(for: prefix, context: here) {
            case .fileNames(let directory)?:
                names = ShellFileNames.entries(in: directory)
            case let source?:
                names = fetches.fetchBlocking(source)
            case nil:
                break
            }
            return completer.complete(prefix, context: here, names: names)
        }
        let output = ShellOutput(terminal: terminal, pretty: options.pretty || isatty(1) == 1)

        terminal.print(options.mode == .hmp ? "Welcome to the HMP shell!" : "Welcome to the QMP shell!")
        terminal.print("Connected to \(server)" + (client.peer.isEmpty ? "" : " at \(client.peer)"))
        if options.mode == .qmp {
            terminal.print(
                schema == nil
                    ? "(no query-qmp-schema here: no completion or checks)"
                    : "Type help for the commands, Tab to complete, Ctrl-D to leave."
            )
        }
        if isatty(0) == 1, let reason = terminal.plainReason {
            terminal.print("(no line editing: \(reason))")
        }
        terminal.print("")
        var interpreter = ShellInterpreter(mode: options.mode)
        terminal.start(prompt: interpreter.prompt)

        let events = client.events(bufferSize: 4096)
        await withTaskGroup(of: Void.self) { group in
            // Events are printed as they come; their stream ends when the connection does.
            group.addTask {
                var backlog = ShellEventBacklog(limit: ShellCommand.eventBacklogLimit)
                do {
                    for try await event in events {
                        guard backlog.admits(pending: terminal.pendingMessages) else { continue }
                        if let notice = backlog.notice(droppedByStream: events.droppedCount) {
                            terminal.print(notice)
                        }
                        output.event(event)
                    }
                } catch {
                    // The connection failed rather than closed: the same for the person typing.
                }
                if let notice = backlog.notice(droppedByStream: events.droppedCount) {
                    terminal.print(notice)
                }
                if !Task.isCancelled {
                    terminal.print("Disconnected")
                    terminal.endInput()
                }
            }
            // The machine's names for Tab, asked for by the terminal thread.
            group.addTask {
                await fetches.serve(client: client)
            }
            await readLines(
                terminal: terminal,
                interpreter: &interpreter,
                context: context,
                help: help,
                advice: advice,
                output: output
            )
            group.cancelAll()
        }
        await terminal.stop()
    }

    /// Reads and performs lines until the input ends.
    private func readLines(
        terminal: ShellTerminal,
        interpreter: inout ShellInterpreter,
        context: NIOLockedValueBox<ShellCompleter.Context>,
        help: ShellHelp?,
        advice: RefusalAdvice?,
        output: ShellOutput
    ) async {
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
                    await perform(step, interpreter: &interpreter, help: help, advice: advice, output: output)
                } catch {
                    if !interpreter.lastInput.trimmingWhitespace().isEmpty {
                        terminal.post(.addHistory(interpreter.lastInput))
                    }
                    output.error("Error while parsing command line: \(error.message)\n\(ShellInterpreter.usage)")
                }
                let inTransaction = interpreter.isInTransaction
                context.withLockedValue { $0.inTransaction = inTransaction }
                terminal.post(.ready(prompt: interpreter.prompt))
            }
        }
    }

    private func perform(
        _ step: ShellInterpreter.Step,
        interpreter: inout ShellInterpreter,
        help: ShellHelp?,
        advice: RefusalAdvice?,
        output: ShellOutput
    ) async {
        switch step {
        case .nothing, .more:
            return
        case .help(let topic):
            guard let help else {
                return output.error("no help: this server has no query-qmp-schema")
            }
            guard let topic else {
                return output.text(help.overview())
            }
            guard let text = help.topic(topic) else {
                return output.error(help.missing(topic))
            }
            output.text(text)
        case .execute(let name, let arguments):
            // Checked only when the schema came at the start (help is made from it), as the
            // banner said; a server that did not give it is not asked again for every command.
            if let advice {
                do {
                    try await client.check(name, arguments: arguments)
                } catch let error as QMPError where error.code == .invalidArguments {
                    return output.error("error: \(error.message)" + advice.advice(for: name, arguments: arguments))
                } catch {
                    // The check could not be made: let QEMU judge.
                }
            }
            await send(name, arguments: arguments, outOfBand: false, output: output)
        case .raw(let name, let arguments, let outOfBand):
            await send(name, arguments: arguments, outOfBand: outOfBand, output: output)
        case .hmp(let commandLine, let cpuIndex):
            do {
                var arguments: JSONObject = ["command-line": .string(commandLine)]
                if let cpuIndex { arguments["cpu-index"] = .int(Int64(cpuIndex)) }
                let reply = try await client.execute("human-monitor-command", arguments: arguments)
                let text = reply.stringValue ?? reply.serialized()
                if !text.isEmpty {
                    output.text(text.replacing("\r\n", with: "\n"))
                }
            } catch let error as QMPError where error.code == .commandFailed {
                output.error("\(error.errorClass ?? "Error"): \(error.message)")
            } catch {
                output.error("error: \(error)")
            }
        case .selectCPU(let index):
            do {
                _ = try await client.execute(
                    "human-monitor-command",
                    arguments: ["command-line": "info version", "cpu-index": .int(Int64(index))]
                )
                interpreter.cpuIndex = index
            } catch let error as QMPError where error.code == .commandFailed {
                output.error("bad CPU index")
            } catch {
                output.error("error: \(error)")
            }
        }
    }

    private func send(_ name: String, arguments: JSONObject?, outOfBand: Bool, output: ShellOutput) async {
        var request: JSONObject = [outOfBand ? "exec-oob" : "execute": .string(name)]
        if let arguments { request["arguments"] = .object(arguments) }
        await options.exchange(request, output: output) {
            outOfBand
                ? try await client.executeOutOfBand(name, arguments: arguments)
                : try await client.execute(name, arguments: arguments)
        }
    }
}

extension ShellSession.Options {
    /// One command as the shell shows it, to QEMU or to the guest agent alike: the request when
    /// verbose, then the reply or the server's error as JSON, and both in the log.
    func exchange(_ request: JSONObject, output: ShellOutput, call: () async throws -> JSONValue) async {
        if verbose {
            output.json(.object(request))
        }
        var response: JSONObject
        do {
            response = ["return": try await call()]
        } catch let error as QMPError where error.code == .commandFailed {
            response = [
                "error": ["class": .string(error.errorClass ?? "GenericError"), "desc": .string(error.message)]
            ]
        } catch {
            output.error("error: \(error)")
            return
        }
        output.json(.object(response), isError: response["error"] != nil)
        if let log {
            var entry = request
            for (key, value) in response { entry[key] = value }
            log.append(JSONValue.object(entry).serialized(style: pretty ? .pretty(indent: 2) : .qemu))
        }
    }
}

/// How the shell prints: through the terminal thread, coloured when it may.
/// Events waiting for a terminal that falls behind (an output nobody reads, a slow remote
/// terminal) are bounded: past the limit they are dropped and counted, and the count is said
/// before the next event that is printed, and when the shell ends. Replies are never dropped.
struct ShellEventBacklog {
    /// The most messages that may wait for the terminal when an event is printed.
    let limit: Int
    /// Events dropped here, not counting those the event stream itself dropped.
    private(set) var dropped = 0
    private var reported = 0

    init(limit: Int) {
        self.limit = limit
    }

    /// Whether an event may be printed while `pending` messages wait; if not, it is counted.
    mutating func admits(pending: Int) -> Bool {
        guard pending >= limit else { return true }
        dropped += 1
        return false
    }

    /// The line that says how many events were dropped since the last such line (here and by
    /// the stream, whose count is `droppedByStream`), or `nil` when none were.
    mutating func notice(droppedByStream: Int) -> String? {
        let total = dropped + droppedByStream
        guard total > reported else { return nil }
        defer { reported = total }
        let count = total - reported
        return "(\(count) event\(count == 1 ? "" : "s") dropped: the terminal fell behind)"
    }
}

struct ShellOutput: Sendable {
    let terminal: ShellTerminal
    let pretty: Bool

    /// Prints text that may span lines; control characters other than line breaks and tabs
    /// are escaped (see ``escapingControlCharacters(_:keepingLineBreaks:)``).
    func text(_ text: String) {
        terminal.print(escapingControlCharacters(text, keepingLineBreaks: true))
    }

    func error(_ text: String) {
        let text = escapingControlCharacters(text, keepingLineBreaks: true)
        terminal.print(terminal.colors ? JSONHighlighter.paint(text, .error) : text)
    }

    func json(_ value: JSONValue, isError: Bool = false) {
        if terminal.colors {
            terminal.print(JSONHighlighter.render(value, keys: isError ? .error : .key))
        } else {
            terminal.print(value.serialized(style: pretty ? .pretty(indent: 2) : .qemu))
        }
    }

    func event(_ event: QMPEvent) {
        let line = event.json.serialized(style: .qemu)
        terminal.print(terminal.colors ? JSONHighlighter.paint(line, .literal) : line)
    }
}

/// The names the machine has now, for completion.
enum ShellMachineNames {
    static func fetch(_ source: ShellCompleter.Source, client: QMPClient) async -> [String] {
        func run(_ name: String, _ arguments: JSONObject? = nil) async -> JSONValue {
            (try? await client.execute(name, arguments: arguments, timeout: .seconds(2))) ?? .array([])
        }
        switch source {
        // Where two queries are needed they run together, so that both fit within the
        // two seconds each may take and the caller's three.
        case .blockDevices:
            async let nodes = run("query-named-block-nodes")
            let blocks = await run("query-block")
            return ShellCompleter.names(in: blocks, member: "device") + ShellCompleter.names(in: blocks, member: "qdev")
                + ShellCompleter.names(in: await nodes, member: "node-name")
        case .nodeNames:
            return ShellCompleter.names(in: await run("query-named-block-nodes"), member: "node-name")
        case .jobs:
            async let blockJobs = run("query-block-jobs")
            return ShellCompleter.names(in: await run("query-jobs"), member: "id")
                + ShellCompleter.names(in: await blockJobs, member: "device")
        case .peripherals:
            return ShellCompleter.qomNames(in: await run("qom-list", ["path": "/machine/peripheral"]), linksOnly: true)
        case .objects:
            return ShellCompleter.qomNames(in: await run("qom-list", ["path": "/objects"]), linksOnly: true)
        case .chardevs:
            return ShellCompleter.names(in: await run("query-chardev"), member: "label")
        case .qomChildren(let path):
            return ShellCompleter.qomNames(in: await run("qom-list", ["path": .string(path)]), linksOnly: true)
        case .qomProperties(let path):
            return ShellCompleter.qomNames(in: await run("qom-list", ["path": .string(path)]), linksOnly: false)
        case .fileNames(let directory):
            return ShellFileNames.entries(in: directory)
        }
    }

    /// Fetches for the terminal thread, which is not part of Swift's cooperative pool and may
    /// wait: it posts a request and waits for the session's task that serves them.
    final class Requests: Sendable {
        struct Request: Sendable {
            let source: ShellCompleter.Source
            let names: NIOLockedValueBox<[String]>
            let done: DispatchSemaphore
        }

        private let requests: AsyncStream<Request>
        private let continuation: AsyncStream<Request>.Continuation

        init() {
            (requests, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        }

        /// ``fetch(_:client:)`` from a thread that may block, for at most three seconds; nothing
        /// once the session has stopped serving.
        func fetchBlocking(_ source: ShellCompleter.Source) -> [String] {
            let request = Request(source: source, names: NIOLockedValueBox([]), done: DispatchSemaphore(value: 0))
            guard case .enqueued = continuation.yield(request) else { return [] }
            _ = request.done.wait(timeout: .now() + 3)
            return request.names.withLockedValue { $0 }
        }

        /// Answers the requests one at a time until the task is cancelled.
        func serve(client: QMPClient) async {
            defer { continuation.finish() }
            for await request in requests {
                let names = await ShellMachineNames.fetch(request.source, client: client)
                request.names.withLockedValue { $0 = names }
                request.done.signal()
            }
        }
    }
}
