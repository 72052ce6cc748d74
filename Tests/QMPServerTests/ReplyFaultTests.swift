import QMPClient
import QMPCore
import QMPServer
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// `QMPReplyFault`: a handler's way to put its own bytes on the wire in its reply's place.
@Suite("A command handler's reply fault")
struct ReplyFaultTests {
    static let greeting = QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0), capabilities: [.oob])
    static let handMade = Array(#"{"return": "made by hand"}"#.utf8) + [13, 10]

    static func commands() -> QMPCommandTable {
        var commands = QMPCommandTable()
        commands.registerImmediate("hand-made") { _ in throw QMPReplyFault(writing: handMade, then: .answered) }
        commands.register("hand-made-later") { _ in
            try await Task.sleep(for: .milliseconds(10))
            throw QMPReplyFault(writing: handMade, then: .answered)
        }
        commands.registerImmediate("silent") { _ in throw QMPReplyFault(then: .answered) }
        commands.registerImmediate("stalled") { _ in throw QMPReplyFault(then: .stalled) }
        commands.registerImmediate("cut") { _ in throw QMPReplyFault(writing: Array(#"{"ret"#.utf8), then: .closed) }
        commands.registerImmediate("now") { _ in "now" }
        return commands
    }

    @Test("its bytes go where the reply would, from an immediate or an async handler, and the next command runs")
    func inPlaceOfTheReply() async throws {
        let server = QMPServer(
            configuration: .init(
                greeting: Self.greeting,
                commands: Self.commands(),
                addresses: [.tcp(host: "127.0.0.1", port: 0)]
            )
        )
        try await withRunningServer(server) { address in
            // Without ids (`.whenNeeded` with QEMU 7.2): the hand-made reply is taken as the reply.
            try await withClient(of: address, configuration: .init(inBandIDs: .whenNeeded)) { client in
                let handMade = try await client.execute("hand-made")
                let later = try await client.execute("hand-made-later")
                let next = try await client.execute("now")
                #expect([handMade, later, next] == ["made by hand", "made by hand", "now"])
            }
            try await withClient(of: address, configuration: .init(inBandIDs: .always)) { client in
                let silent = await #expect(throws: QMPError.self) {
                    try await client.execute("silent", timeout: .milliseconds(200))
                }
                #expect(silent?.code == .timeout)
                let next = try await client.execute("now")
                #expect(next == "now")
            }
            try await withClient(of: address) { client in
                let cut = await #expect(throws: QMPError.self) { try await client.execute("cut") }
                #expect(cut?.code == .connectionClosed)
            }
        }
    }

    @Test("a stalled command holds the in-band commands behind it until a shutdown answers both")
    func stalledUntilShutdown() async throws {
        let (listening, announce) = AsyncStream<QMPAddress>.makeStream()
        let server = QMPServer(
            configuration: .init(
                greeting: Self.greeting,
                commands: Self.commands(),
                addresses: [.tcp(host: "127.0.0.1", port: 0)],
                shutdownGracePeriod: .milliseconds(300)
            ),
            onListening: { addresses in
                announce.yield(addresses[0])
                announce.finish()
            }
        )
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                var addresses = listening.makeAsyncIterator()
                let address = try #require(await addresses.next())
                try await withClient(of: address) { client in
                    async let stalled = ServerLifecycleTests.outcome { try await client.execute("stalled") }
                    async let behind = ServerLifecycleTests.outcome { try await client.execute("now") }
                    try await Task.sleep(for: .milliseconds(300))
                    trigger.triggerGracefulShutdown()
                    #expect(await stalled == ServerLifecycleTests.shutDown)
                    #expect(await behind == ServerLifecycleTests.shutDown)
                }
                try await group.waitForAll()
            }
        }
    }
}
