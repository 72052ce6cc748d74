import Foundation
import QMPClient
import QMPCore
import Testing

@testable import QMPTool

@Suite("qmp mock --faults")
struct MockFaultsToolTests {
    private static let clock = ContinuousClock()
    /// Replies matched by id: with a reply dropped, matching by order would pair the next reply
    /// with the dropped one's command.
    private static let withIDs = QMPClient.Configuration(inBandIDs: .always)

    /// Runs `qmp mock` with `arguments` (its `--listen` a socket in a fresh directory, which
    /// `arguments` name as `SOCKET`, and `FAULTS` the scenario file holding `scenario`) while
    /// `body` runs, then stops it with SIGTERM and checks it stopped cleanly.
    private func withMock(
        _ arguments: [String],
        scenario: String,
        _ body: (String) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-faults-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("qmp.sock").path
        let faults = directory.appendingPathComponent("faults.json").path
        try Data(scenario.utf8).write(to: URL(fileURLWithPath: faults))
        let substituted = arguments.map { $0 == "SOCKET" ? socket : $0 == "FAULTS" ? faults : $0 }
        let (process, stdout, stderr) = try QMPExecutable.start(substituted)
        do {
            try await body(socket)
        } catch {
            kill(process.processIdentifier, SIGTERM)
            _ = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
            throw error
        }
        kill(process.processIdentifier, SIGTERM)
        let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stderr.contains("fault rules"))
    }

    private func connect(_ socket: String) async throws -> QMPClient {
        let deadline = Self.clock.now + .seconds(10)
        while true {
            do {
                return try await QMPClient.connect(to: .unixSocket(path: socket), configuration: Self.withIDs)
            } catch let error as QMPError where error.code == .connectionFailed && Self.clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    @Test("the example in qmp mock --help runs: the second query-status is late, query-name never answers")
    func helpExample() async throws {
        let help = try await QMPExecutable.run(["mock", "--help"])
        let lines = help.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex(of: "A scenario, faults.json:"))
        let scenario = lines[(start + 1)...].prefix { !$0.isEmpty }.joined(separator: "\n")
        let example = try #require(lines.first { $0.contains("--faults faults.json") })
        let words = example.split(separator: " ").map(String.init)
        #expect(words.prefix(2) == ["qmp", "mock"])
        let arguments = words.dropFirst().map {
            $0 == "faults.json" ? "FAULTS" : $0 == "/tmp/faulty.sock" ? "SOCKET" : $0
        }
        try await withMock(Array(arguments), scenario: scenario) { socket in
            let client = try await connect(socket)
            let first = try await Self.clock.measure { _ = try await client.execute("query-status") }
            #expect(first < .milliseconds(1500))
            let second = try await Self.clock.measure { _ = try await client.execute("query-status") }
            #expect(second >= .milliseconds(1500))
            let dropped = await #expect(throws: QMPError.self) {
                try await client.execute("query-name", timeout: .milliseconds(300))
            }
            #expect(dropped?.code == .timeout)
            #expect(try await client.execute("query-kvm")["enabled"] == true)
            await client.close()
        }
    }

    @Test("each kind of fault of a scenario file reaches the client as that fault")
    func everyKind() async throws {
        let scenario = """
            {"faults": [
              {"command": "query-uuid", "first": 1, "stall": true},
              {"command": "query-version", "close-mid-reply": 20},
              {"command": "query-name", "garbage-before-reply": "}{"},
              {"command": "query-kvm", "garbage-instead-of-reply": "\\u0007"},
              {"command": "stop", "event-flood": {"event": "FLOOD", "count": 200}},
              {"command": "cont", "event-flood": {"event": "TRICKLE", "count": 3, "per-second": 10}}
            ]}
            """
        try await withMock(["mock", "--faults", "FAULTS", "--listen", "SOCKET"], scenario: scenario) { socket in
            let stalled = try await connect(socket)
            let stall = await #expect(throws: QMPError.self) {
                try await stalled.execute("query-uuid", timeout: .milliseconds(300))
            }
            #expect(stall?.code == .timeout)
            await stalled.close()

            let cut = try await connect(socket)
            let close = await #expect(throws: QMPError.self) { try await cut.execute("query-version") }
            #expect(close?.code == .connectionClosed)
            await cut.close()

            for command in ["query-name", "query-kvm"] {
                let garbled = try await connect(socket)
                let garbage = await #expect(throws: QMPError.self) { try await garbled.execute(command) }
                #expect(garbage?.code == .protocolViolation)
                #expect(garbage?.description.contains("malformed JSON") == true)
                await garbled.close()
            }

            let flooded = try await connect(socket)
            let events = flooded.events(named: ["FLOOD", "TRICKLE"], bufferSize: 1000)
            try await flooded.execute("stop")
            let start = Self.clock.now
            try await flooded.execute("cont")
            var counts: [String: Int] = [:]
            for try await event in events {
                counts[event.name, default: 0] += 1
                if counts["TRICKLE"] == 3 { break }
            }
            #expect(counts == ["FLOOD": 200, "TRICKLE": 3])
            #expect(Self.clock.now - start >= .milliseconds(200))
            // The stall was of the first call only, on a connection now closed.
            #expect(try await flooded.execute("query-uuid")["UUID"] != nil)
            await flooded.close()
        }
    }

    @Test("qmp shell drops the events its unread output cannot take, counts them and says so; replies still come")
    func shellBehindAFlood() async throws {
        let flood = 30_000
        let scenario = """
            {"faults": [{"command": "query-status", "event-flood": {"event": "FLOOD", "count": \(flood)}}]}
            """
        try await withMock(["mock", "--faults", "FAULTS", "--listen", "SOCKET"], scenario: scenario) { socket in
            // The mock serves once a client can connect.
            await (try connect(socket)).close()
            let log = socket + ".log"
            defer { unlink(log) }
            let process = Process()
            process.executableURL = try QMPExecutable.url
            process.arguments = ["shell", "--logfile", log, socket]
            let input = Pipe()
            let stdout = Pipe()
            let stderr = Pipe()
            process.standardInput = input
            process.standardOutput = stdout
            process.standardError = stderr
            try process.run()
            input.fileHandleForWriting.write(Data("query-status\n".utf8))
            // Nobody reads the shell's output until its log has the reply, which comes after
            // every event of the flood: by then the terminal has fallen behind.
            let deadline = Self.clock.now + .seconds(60)
            while !((try? String(contentsOfFile: log, encoding: .utf8))?.contains("\"return\"") ?? false) {
                guard Self.clock.now < deadline, process.isRunning else { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            try input.fileHandleForWriting.close()
            let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(60))

            #expect(output.status == 0, "\(output.stderr)")
            #expect(output.stdout.contains("{\"return\": {\"status\": \"prelaunch\""), "the reply was not printed")
            let lines = output.stdout.split(separator: "\n")
            let printed = lines.filter { $0.contains("\"FLOOD\"") }.count
            let dropped = lines.compactMap { line -> Int? in
                guard line.hasSuffix(" dropped: the terminal fell behind)") else { return nil }
                return Int(line.dropFirst().prefix { $0.isNumber })
            }.reduce(0, +)
            #expect(dropped > 0, "no events were said to be dropped; \(printed) printed")
            #expect(printed + dropped <= flood)
            // What waited in the backlog when the output was read is printed, not lost.
            #expect(printed >= ShellCommand.eventBacklogLimit)
        }
    }

    @Test("a scenario that is not right is refused before serving, naming the file and the rule")
    func refusedScenario() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-faults-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let faults = directory.appendingPathComponent("faults.json").path
        try Data(#"{"faults": [{"command": "stop", "stall": 1}]}"#.utf8).write(to: URL(fileURLWithPath: faults))
        let socket = directory.appendingPathComponent("qmp.sock").path
        let output = try await QMPExecutable.run(["mock", "--faults", faults, "--listen", socket])
        #expect(output.status == 64)
        #expect(output.stderr == "error: \(faults): fault rule 1: \"stall\" expects true\n")
        let replay = try await QMPExecutable.run(["mock", "--replay", faults, "--faults", faults, "--listen", socket])
        #expect(replay.status == 64)
        #expect(replay.stderr.contains("--faults applies to the simulated QEMU, not to --replay"))
    }
}
