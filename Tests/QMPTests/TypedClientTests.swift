import Foundation
import QMP
import QMPClient
import QMPCore
import QMPServer
import QMPSimulator
import Testing

/// The typed API over the wire, against the simulated QEMU 7.2.
@Suite("Typed commands against a simulated QEMU 7.2")
struct TypedClientTests {
    /// Checked against the simulator's schema before sending.
    static let checked = QMPClient.Configuration(checksCommands: true)

    /// Runs `body` with a client connected to a fresh simulator; closes both however it ends.
    static func withSimulator(
        configuration: QMPClient.Configuration = QMPClient.Configuration(),
        _ body: (QMPClient) async throws -> Void
    ) async throws {
        let server = QEMUSimulator().makeServer(listeningOn: [.tcp(host: "127.0.0.1", port: 0)])
        try await server.serving { addresses in
            try await QMPClient.withConnection(to: addresses[0], configuration: configuration) { client in
                try await body(client)
            }
        }
    }

    @Test("a typed command returns the typed reply")
    func typedReply() async throws {
        try await Self.withSimulator { client in
            let status = try await client.execute(QueryStatusCommand())
            #expect(status.status == .prelaunch)
            #expect(!status.running)
            let version = try await client.execute(QueryVersionCommand())
            #expect(version.qemu.major == 7 && version.qemu.minor == 2)
        }
    }

    @Test("typed events arrive decoded")
    func typedEvents() async throws {
        try await Self.withSimulator { client in
            let resumes = client.events(of: ResumeEvent.self)
            try await client.execute(ContCommand())
            var iterator = resumes.makeAsyncIterator()
            let resume = try await iterator.next()
            #expect(resume != nil)
        }
    }

    @Test("a command this QEMU no longer has fails before sending and says when it went")
    func removedCommand() async throws {
        try await Self.withSimulator(configuration: Self.checked) { client in
            let error = await #expect(throws: QMPError.self) { try await client.execute(QueryCpusCommand()) }
            #expect(error?.code == .invalidArguments)
            #expect(error?.message == "QEMU 7.2.22 has no command 'query-cpus'; QEMU removed it after 5.2.0")
        }
    }

    @Test("a command newer than this QEMU fails before sending and says when it came")
    func newerCommand() async throws {
        try await Self.withSimulator(configuration: Self.checked) { client in
            let error = await #expect(throws: QMPError.self) { try await client.execute(QueryAudiodevsCommand()) }
            #expect(error?.message == "QEMU 7.2.22 has no command 'query-audiodevs'; it was introduced in 8.0.0")
        }
    }

    @Test("an argument newer than this QEMU fails before sending and says when it came")
    func newerArgument() async throws {
        try await Self.withSimulator(configuration: Self.checked) { client in
            let error = await #expect(throws: QMPError.self) {
                try await client.execute(CalcDirtyRateCommand(calcTime: 1, calcTimeUnit: .millisecond))
            }
            #expect(
                error?.message
                    == "QEMU 7.2.22 has no argument 'calc-time-unit' of 'calc-dirty-rate'; it was introduced in 8.2.0"
            )
        }
    }

    @Test("by default the command goes to the server unchecked, which answers with its own error")
    func uncheckedGoesThrough() async throws {
        try await Self.withSimulator { client in
            let error = await #expect(throws: QMPError.self) { try await client.execute(QueryCpusCommand()) }
            #expect(error?.code == .commandFailed)
            #expect(error?.errorClass == "CommandNotFound")
        }
    }
}
