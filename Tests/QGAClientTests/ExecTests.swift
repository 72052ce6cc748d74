import Foundation
import QGAClient
import QMPCore
import Testing

/// `exec` runs a program in the guest and brings back how it ended and what it wrote.
@Suite("Running programs in the guest")
struct ExecTests {
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("a program's exit code, standard output and standard error come back decoded")
    func exitCodeAndOutput() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let result = try await client.exec(
                    "/bin/sh",
                    arguments: ["-c", "printf 'to out'; printf 'to err' >&2; exit 3"]
                )
                #expect(result.pid > 0)
                #expect(result.exitCode == 3)
                #expect(result.signal == nil)
                #expect(Self.text(result.standardOutput) == "to out")
                #expect(Self.text(result.standardError) == "to err")
                #expect(!result.standardOutputTruncated && !result.standardErrorTruncated)
            }
        }
    }

    @Test("input reaches the program's standard input, and the environment given is its environment")
    func inputAndEnvironment() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let input = Array("line one\nline two\n".utf8) + [0, 0xFF, 0x80]
                let echoed = try await client.exec("/bin/cat", input: input)
                #expect(echoed.exitCode == 0)
                #expect(echoed.standardOutput == input)

                let environment = try await client.exec(
                    "/bin/sh",
                    arguments: ["-c", #"printf '%s' "$GREETING""#],
                    environment: ["GREETING=hello from the host"]
                )
                #expect(Self.text(environment.standardOutput) == "hello from the host")
            }
        }
    }

    @Test("a program ended by a signal reports the signal and no exit code")
    func signal() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let result = try await client.exec("/bin/sh", arguments: ["-c", "kill -KILL $$"])
                #expect(result.signal == 9)
                #expect(result.exitCode == nil)
            }
        }
    }

    @Test("without capture the program runs and nothing is collected")
    func withoutCapture() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let marker = agent.directory.appendingPathComponent("ran").path
                let result = try await client.exec(
                    "/bin/sh",
                    arguments: ["-c", "echo discarded; : > '\(marker)'"],
                    captureOutput: false
                )
                #expect(result.exitCode == 0)
                #expect(result.standardOutput.isEmpty)
                #expect(FileManager.default.fileExists(atPath: marker))
            }
        }
    }

    @Test("output over the agent's 16 MiB per stream arrives cut at 16 MiB and reported truncated")
    func truncatedOutput() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let result = try await client.exec(
                    "/bin/sh",
                    arguments: ["-c", "head -c 17000000 /dev/zero; printf 'small' >&2"]
                )
                #expect(result.exitCode == 0)
                #expect(result.standardOutput.count == QGAClient.execOutputLimit)
                #expect(result.standardOutput.allSatisfy { $0 == 0 })
                #expect(result.standardOutputTruncated)
                #expect(Self.text(result.standardError) == "small")
                #expect(!result.standardErrorTruncated)
            }
        }
    }

    @Test("a program that outlives the timeout is reported with its pid, still running")
    func timeout() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let start = ContinuousClock.now
                let error = await #expect(throws: QGAExecError.self) {
                    try await client.exec("/bin/sleep", arguments: ["120"], timeout: .milliseconds(300))
                }
                // Far less than the program runs, with room for a loaded machine.
                #expect(ContinuousClock.now - start < .seconds(60))
                guard case .timedOut(let pid, let path, let limit) = error else {
                    Issue.record("expected timedOut, got \(String(describing: error))")
                    return
                }
                #expect(path == "/bin/sleep")
                #expect(limit == .milliseconds(300))
                #expect(error?.description.contains("may still be running") == true)
                #expect(error?.description.contains("pid \(pid)") == true)
                // The agent runs on this host: the guest's pid is ours to end, and it is alive.
                #expect(kill(pid_t(pid), 0) == 0)
                kill(pid_t(pid), SIGKILL)
            }
        }
    }

    @Test("a program the agent cannot start fails with the agent's error")
    func missingProgram() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let error = await #expect(throws: QMPError.self) {
                    try await client.exec(agent.directory.appendingPathComponent("no-such-program").path)
                }
                #expect(error?.code == .commandFailed)
                #expect(error?.command == "guest-exec")
            }
        }
    }

    // MARK: The one-shot final status

    static let started: JSONValue = ["return": ["pid": 4242]]
    static let finished: JSONValue = [
        "return": ["exited": true, "exitcode": 0, "out-data": "ZG9uZQ==", "out-truncated": false]
    ]
    static let unknownPid: JSONValue = ["error": ["class": "GenericError", "desc": "Invalid parameter 'pid'"]]
    /// Status reads give up after a second: long enough for a loaded machine to answer the
    /// reads that are answered, short enough for a test of the one that is not.
    static let configuration = QGAClient.Configuration(
        timeouts: QGATimeouts(overrides: ["guest-exec-status": .seconds(1)]),
        syncPolicy: .whenOutOfStep
    )

    @Test("a status read whose reply never comes, then an agent that forgot the pid: the status was consumed")
    func finalStatusConsumed() async throws {
        try await FakeAgent.with(answering: { name, index in
            switch (name, index) {
            case ("guest-exec", _): .reply(Self.started)
            // The agent handles the read and reports the final status, which never arrives.
            case ("guest-exec-status", 1): .nothing
            default: .reply(Self.unknownPid)
            }
        }) { agent in
            try await QGAClient.withConnection(
                to: .unixSocket(path: agent.socketPath),
                configuration: Self.configuration
            ) { client in
                let error = await #expect(throws: QGAExecError.self) { try await client.exec("/bin/true") }
                guard case .finalStatusLost(let pid, _, let underlying) = error else {
                    Issue.record("expected finalStatusLost, got \(String(describing: error))")
                    return
                }
                #expect(pid == 4242)
                #expect((underlying as? QMPError)?.code == .timeout)
                #expect(
                    error?.description.contains("consumed by a read of guest-exec-status whose reply was lost") == true
                )
            }
            // The second read came after a sync, so it could not be answered by the first's reply.
            #expect(agent.commands.suffix(3) == ["guest-exec-status", "guest-sync-delimited", "guest-exec-status"])
        }
    }

    @Test("a garbled status reply is read again, and the status the agent still holds is not lost")
    func statusReadAgainAfterGarbledReply() async throws {
        try await FakeAgent.with(answering: { name, index in
            switch (name, index) {
            case ("guest-exec", _): .reply(Self.started)
            case ("guest-exec-status", 1): .bytes(Array(#"{"return": {"exited": tru}}"#.utf8) + [0x0A])
            default: .reply(Self.finished)
            }
        }) { agent in
            try await QGAClient.withConnection(
                to: .unixSocket(path: agent.socketPath),
                configuration: QGAClient.Configuration(syncPolicy: .whenOutOfStep)
            ) { client in
                let result = try await client.exec("/bin/true")
                #expect(result.pid == 4242)
                #expect(result.exitCode == 0)
                #expect(Self.text(result.standardOutput) == "done")
            }
        }
    }

    @Test("an agent that never knew the pid fails with its own error, not a lost status")
    func unknownPidWithoutLostRead() async throws {
        try await FakeAgent.with(answering: { name, _ in
            name == "guest-exec" ? .reply(Self.started) : .reply(Self.unknownPid)
        }) { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let error = await #expect(throws: QMPError.self) { try await client.exec("/bin/true") }
                #expect(error?.code == .commandFailed)
                #expect(error?.command == "guest-exec-status")
            }
        }
    }

    @Test("a reply limit too small for captured output is refused before the program starts")
    func replyLimitTooSmall() async throws {
        try await FakeAgent.with(answering: { _, _ in .reply(Self.started) }) { agent in
            let configuration = QGAClient.Configuration(maximumReplySize: 10 * 1024 * 1024)
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath), configuration: configuration) {
                client in
                let error = await #expect(throws: QMPError.self) { try await client.exec("/bin/true") }
                #expect(error?.code == .invalidArguments)
                #expect(error?.message.contains("maximumReplySize") == true)
            }
            #expect(agent.commands.isEmpty)
        }
    }
}
