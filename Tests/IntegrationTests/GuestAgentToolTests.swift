import Foundation
import QMPCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `qmp ga` and `qmp shell --agent` against QEMU's real guest agent, run on this host.
@Suite("qmp ga and the agent shell, against a real qemu-ga")
struct GuestAgentToolTests {
    /// The `qmp ga …` lines of a text (a --help, the README), each as the words to run with
    /// /tmp/ paths moved into the agent's private directory and /tmp/qga.sock its socket.
    static func exampleLines(in text: String) -> [String] {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("qmp ga /") }
            .map { line in
                // A note after the command, in --help's style `(…)` or the README's `# …`.
                var command = line.split(separator: "#", maxSplits: 1)[0]
                if let note = command.range(of: "  (") { command = command[..<note.lowerBound] }
                return command.trimmingCharacters(in: .whitespaces)
            }
    }

    static func words(of line: String, agent: GuestAgentProcess) -> [String] {
        line.split(separator: " ").dropFirst().map { word in
            if word == "/tmp/qga.sock" { return agent.socketPath }
            return String(word).replacing("/tmp/", with: agent.directory.path + "/")
        }
    }

    @Test("every example in qmp ga --help and its actions' --help runs and succeeds")
    func helpExamples() async throws {
        var lines: [String] = []
        for action in ["", "ping", "info", "exec", "cp"] {
            let help = ["ga"] + (action.isEmpty ? [] : ["/tmp/qga.sock", action]) + ["--help"]
            let output = try await QMPExecutable.run(help)
            #expect(output.status == 0, "\(help): \(output.stderr)")
            let examples = Self.exampleLines(in: output.stdout)
            #expect(!examples.isEmpty, "no example in qmp \(help.joined(separator: " "))")
            lines += examples
        }
        try await GuestAgentProcess.with { agent in
            // In the order shown: a later example may use what an earlier one made.
            var seen = Set<String>()
            for line in lines where seen.insert(line).inserted {
                let output = try await QMPExecutable.run(Self.words(of: line, agent: agent))
                #expect(output.status == 0, "\(line): \(output.stderr)")
            }
        }
    }

    @Test("every qmp ga line of the README runs and succeeds")
    func readmeLines() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = Self.exampleLines(in: readme)
        #expect(lines.count >= 3, "README.md shows no qmp ga usage")
        try await GuestAgentProcess.with { agent in
            for line in lines {
                let output = try await QMPExecutable.run(Self.words(of: line, agent: agent))
                #expect(output.status == 0, "\(line): \(output.stderr)")
            }
        }
    }

    @Test("ping says how long the agent took; info shows the host this agent runs on")
    func pingAndInfo() async throws {
        try await GuestAgentProcess.with { agent in
            let ping = try await QMPExecutable.run(["ga", agent.socketPath, "ping"])
            #expect(ping.status == 0, "\(ping.stderr)")
            #expect(ping.stdout.contains("answered guest-ping in "), "\(ping.stdout)")

            let info = try await QMPExecutable.run(["ga", agent.socketPath, "info"])
            #expect(info.status == 0, "\(info.stderr)")
            let lines = info.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("Agent:       qemu-ga ") == true, "\(info.stdout)")
            var name = [CChar](repeating: 0, count: 256)
            gethostname(&name, name.count)
            let hostName = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            #expect(lines.contains("Host name:   \(hostName)"), "\(info.stdout)")
            #expect(lines.contains { $0.hasPrefix("OS:          ") && $0.contains("Linux") || $0.contains("linux") })
            #expect(lines.contains { $0.hasPrefix("Time:        ") && $0.hasSuffix(" UTC") }, "\(info.stdout)")
            #expect(lines.contains("Interfaces:"), "\(info.stdout)")
            #expect(lines.contains { $0.hasPrefix("  lo ") && $0.contains("127.0.0.1/8") }, "\(info.stdout)")

            let json = try await QMPExecutable.run(["ga", agent.socketPath, "info", "--json"])
            #expect(json.status == 0, "\(json.stderr)")
            let object = try #require(try JSONValue(parsing: json.stdout).objectValue)
            #expect(object["host-name"]?["host-name"]?.stringValue == hostName)
            #expect(object["agent"]?["supported_commands"]?.arrayValue?.isEmpty == false)
            #expect(object["time"]?.int64Value != nil)
            #expect(object["unavailable"]?.objectValue != nil)
        }
    }

    @Test("ping --wait waits for an agent that comes up late")
    func pingWaits() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swift-qmp-late-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await GuestAgentProcess.with { agent in
            // A link that names the agent's socket only after a while: until then nothing is there.
            let link = directory.appendingPathComponent("late.sock").path
            let (process, stdout, stderr) = try QMPExecutable.start(["ga", link, "ping", "--wait", "20"])
            try await Task.sleep(for: .seconds(1))
            #expect(process.isRunning)
            #expect(symlink(agent.socketPath, link) == 0)
            let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(30))
            #expect(output.status == 0, "\(output.stderr)")
            #expect(output.stdout.contains("answered guest-ping"))
        }
    }

    @Test("mistakes on the command line: one line that says what was expected, exit 64")
    func commandLineMistakes() async throws {
        let cases: [([String], String)] = [
            (["ga"], "expected the agent's ADDRESS"),
            (["ga", "/tmp/qga.sock"], "expected an action after /tmp/qga.sock: ping, info"),
            (["ga", "info", "/tmp/qga.sock"], "expected the agent's ADDRESS before the action: qmp ga ADDRESS info"),
            (["ga", "/tmp/qga.sock", "pnig"], "'pnig' is no action of qmp ga; expected ping, info"),
            (["ga", "/tmp/qga.sock", "ping", "--wiat", "3"], "Usage: qmp ga ADDRESS ping"),
            (["ga", "/tmp/qga.sock", "info", "--timeout", "0"], "--timeout expects a positive number of seconds"),
        ]
        for (arguments, expected) in cases {
            let output = try await QMPExecutable.run(arguments)
            #expect(output.status == 64, "\(arguments): \(output.stderr)")
            #expect(output.stderr.contains(expected), "\(arguments): \(output.stderr)")
        }
        let suggestion = try await QMPExecutable.run(["ga", "/tmp/qga.sock", "pnig"])
        #expect(suggestion.stderr.contains("did you mean ping?"), "\(suggestion.stderr)")
    }

    @Test("no agent, or an agent that never answers: exit 3 with a line naming the agent and the wait")
    func absentAndSilentAgents() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swift-qmp-silent-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing.sock").path
        let absent = try await QMPExecutable.run(["ga", missing, "ping"])
        #expect(absent.status == 3)
        #expect(
            absent.stderr.hasPrefix("error: could not connect to the guest agent at \(missing)"),
            "\(absent.stderr)"
        )
        #expect(absent.stderr.split(separator: "\n").count == 1, "\(absent.stderr)")

        // A socket that accepts connections (into its backlog) and never reads or answers.
        let silent = directory.appendingPathComponent("silent.sock").path
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in silent.utf8.enumerated() { buffer[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        #expect(listen(listener, 4) == 0)
        let started = ContinuousClock.now
        let output = try await QMPExecutable.run(["ga", silent, "info", "--timeout", "1"])
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(output.status == 3)
        #expect(output.stderr.contains("the guest agent at \(silent) is not responding"), "\(output.stderr)")
        #expect(output.stderr.contains("guest-sync-delimited"), "\(output.stderr)")
    }

    @Test("the agent shell: commands in qmp-shell syntax, checks and help from the agent's schema")
    func agentShell() async throws {
        try await GuestAgentProcess.with { agent in
            let input = [
                "guest-ping",
                "guest-pnig",
                "guest-get-host-name",
                "guest-file-open path=/x mdoe=r",
                "guest-file-open path=\(agent.directory.path)/missing",
                "help guest-file-open",
                "help",
                "transaction(",
            ].joined(separator: "\n")
            let (process, stdout, stderr) = try QMPExecutable.start(
                ["shell", "--agent", agent.socketPath],
                input: input
            )
            let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(30))
            #expect(output.status == 0, "\(output.stderr)")
            let expected = [
                "Welcome to the guest agent shell!",
                "Connected to qemu-ga ",
                #"{"return": {}}"#,
                "error: qemu-ga ", "has no command 'guest-pnig'; did you mean guest-ping?",
                #"{"return": {"host-name": "#,
                "has no argument 'mdoe' of 'guest-file-open'; did you mean mode?",
                #"{"error": {"class": "GenericError""#,
                "command guest-file-open", "path", "mode",
                "commands:",
                "the guest agent has no transactions",
            ]
            var rest = Substring(output.stdout)
            for line in expected {
                guard let found = rest.range(of: line) else {
                    Issue.record("'\(line)' is not in the output (in order):\n\(output.stdout)")
                    return
                }
                rest = rest[found.upperBound...]
            }
            #expect(!output.stdout.contains("transaction( ... )"), "\(output.stdout)")
        }
    }

    @Test("the agent session in qmp shell --help runs as shown against a real agent")
    func shellHelpSession() async throws {
        let help = try await QMPExecutable.run(["shell", "--help"])
        let lines = help.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "In the agent shell:" })
        let session = lines[(start + 1)...].prefix { $0.hasPrefix("  ") }.map { $0.drop { $0 == " " } }
        let input = session.filter { $0.hasPrefix("(QGA) ") }.map { String($0.dropFirst("(QGA) ".count)) }
        // The agent's version is this host's: the example's own is left out of what must match.
        let expected = session.filter { !$0.hasPrefix("(QGA) ") }.flatMap { line in
            line.split(separator: #/qemu-ga [0-9.]+ /#).map(String.init)
        }
        #expect(!input.isEmpty && !expected.isEmpty)
        try await GuestAgentProcess.with { agent in
            let (process, stdout, stderr) = try QMPExecutable.start(
                ["shell", "--agent", agent.socketPath],
                input: input.joined(separator: "\n") + "\n"
            )
            let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(30))
            #expect(output.status == 0, "\(output.stderr)")
            var rest = Substring(output.stdout)
            for piece in expected {
                guard let found = rest.range(of: piece) else {
                    Issue.record("'\(piece)' is not in the output (in order):\n\(output.stdout)")
                    return
                }
                rest = rest[found.upperBound...]
            }
            #expect(!output.stdout.contains("Error while parsing"), "\(output.stdout)")
            #expect(!output.stdout.contains("has no command, event or type"), "\(output.stdout)")
        }
    }

    @Test("qmp shell --agent needs an ADDRESS and goes with neither --launch nor -H")
    func agentShellCommandLine() async throws {
        for (arguments, expected) in [
            (["shell", "--agent"], "--agent expects the ADDRESS"),
            (["shell", "--agent", "--launch"], "goes with neither --launch nor -H"),
            (["shell", "--agent", "-H", "/tmp/qga.sock"], "goes with neither --launch nor -H"),
        ] {
            let output = try await QMPExecutable.run(arguments)
            #expect(output.status == 64, "\(arguments): \(output.stderr)")
            #expect(output.stderr.contains(expected), "\(arguments): \(output.stderr)")
        }
    }
}
