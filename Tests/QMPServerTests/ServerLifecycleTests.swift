import QMPClient
import QMPCore
import QMPServer
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// The server as a service: what a graceful shutdown and a cancellation do to commands in flight.
@Suite("QMP server lifecycle")
struct ServerLifecycleTests {
    /// What a command came to, as a test compares it.
    enum Outcome: Equatable, CustomStringConvertible {
        case reply(JSONValue)
        case error(String)
        case connectionClosed

        var description: String {
            switch self {
            case .reply(let value): "reply \(value.serialized())"
            case .error(let message): "error '\(message)'"
            case .connectionClosed: "connection closed"
            }
        }
    }

    static func outcome(_ body: () async throws -> JSONValue) async -> Outcome {
        do {
            return .reply(try await body())
        } catch let error as QMPError where error.code == .commandFailed {
            return .error(error.message)
        } catch {
            return .connectionClosed
        }
    }

    static let shutDown = Outcome.error("The server shut down before the command finished")

    /// A server whose `slow` command takes `slowFor`, whose `stuck` command runs until
    /// cancelled, and whose `now` answers at once; `started` hears each `async` handler begin.
    static func makeServer(
        slowFor: Duration,
        gracePeriod: Duration,
        started: AsyncStream<String>.Continuation,
        listening: AsyncStream<QMPAddress>.Continuation
    ) -> QMPServer {
        var commands = QMPCommandTable()
        commands.register("slow") { _ in
            started.yield("slow")
            try await Task.sleep(for: slowFor)
            return "slow done"
        }
        commands.register("stuck", allowsOutOfBand: true) { _ in
            started.yield("stuck")
            try await Task.sleep(for: .seconds(3600))
            return "never"
        }
        commands.registerImmediate("now") { _ in "now" }
        return QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0), capabilities: [.oob]),
                commands: commands,
                addresses: [.tcp(host: "127.0.0.1", port: 0)],
                shutdownGracePeriod: gracePeriod
            ),
            onListening: { addresses in
                listening.yield(addresses[0])
                listening.finish()
            }
        )
    }

    static func first<Element: Sendable>(_ stream: AsyncStream<Element>) async -> Element? {
        for await element in stream { return element }
        return nil
    }

    /// Those that finish within the grace period get their reply, the rest the shutdown error.
    @Test("a graceful shutdown answers every command in flight, and run() returns within the bound")
    func gracefulShutdownWithCommandsInFlight() async throws {
        let grace = Duration.seconds(3)
        let (started, starting) = AsyncStream<String>.makeStream()
        let (listening, announce) = AsyncStream<QMPAddress>.makeStream()
        let server = Self.makeServer(slowFor: .seconds(1), gracePeriod: grace, started: starting, listening: announce)
        let clock = ContinuousClock()
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: ContinuousClock.Instant?.self) { group in
                group.addTask {
                    try await server.run()
                    return clock.now
                }
                let address = try #require(await Self.first(listening))
                try await withClient(of: address) { finishing in
                    try await withClient(of: address) { stuck in
                        // In band, each client's second command waits behind its first.
                        async let slow = Self.outcome { try await finishing.execute("slow") }
                        async let afterSlow = Self.outcome { try await finishing.execute("now") }
                        async let stuckOne = Self.outcome { try await stuck.execute("stuck") }
                        async let afterStuck = Self.outcome { try await stuck.execute("now") }
                        var running: Set<String> = []
                        for await name in started {
                            running.insert(name)
                            if running == ["slow", "stuck"] { break }
                        }
                        // Let the queued commands reach the server before it stops reading.
                        try await Task.sleep(for: .milliseconds(300))
                        let triggered = clock.now
                        trigger.triggerGracefulShutdown()

                        #expect(await slow == .reply("slow done"))
                        #expect(await afterSlow == .reply("now"))
                        #expect(await stuckOne == Self.shutDown)
                        #expect(await afterStuck == Self.shutDown)
                        let returned = try #require(try await group.next() ?? nil)
                        #expect(returned - triggered >= grace)
                        // The margin is for a machine busy with the other tests; a server that
                        // waited for the stuck handler would never return at all.
                        #expect(returned - triggered < grace + .seconds(5), "run() took \(returned - triggered)")
                    }
                }
            }
        }
    }

    @Test("a graceful shutdown with nothing in flight closes the idle connections and returns at once")
    func gracefulShutdownWhenIdle() async throws {
        let (_, starting) = AsyncStream<String>.makeStream()
        let (listening, announce) = AsyncStream<QMPAddress>.makeStream()
        let server = Self.makeServer(slowFor: .zero, gracePeriod: .seconds(30), started: starting, listening: announce)
        let clock = ContinuousClock()
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                let address = try #require(await Self.first(listening))
                try await withClient(of: address) { client in
                    #expect(try await client.execute("now") == "now")
                    let triggered = clock.now
                    trigger.triggerGracefulShutdown()
                    try await group.waitForAll()
                    #expect(clock.now - triggered < .seconds(5))
                    await client.waitUntilClosed()
                    #expect(!client.isConnected)
                    // The listener is gone too.
                    await #expect(throws: QMPError.self) { try await QMPClient.connect(to: address) }
                }
            }
        }
    }

    @Test("cancelling run() answers what is in flight with an error, closes the connections and returns promptly")
    func cancellation() async throws {
        let (started, starting) = AsyncStream<String>.makeStream()
        let (listening, announce) = AsyncStream<QMPAddress>.makeStream()
        let server = Self.makeServer(
            slowFor: .seconds(3600),
            gracePeriod: .seconds(3600),
            started: starting,
            listening: announce
        )
        let clock = ContinuousClock()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let address = try #require(await Self.first(listening))
            try await withClient(of: address) { client in
                async let slow = Self.outcome { try await client.execute("slow") }
                async let stuck = Self.outcome { try await client.executeOutOfBand("stuck", timeout: .seconds(60)) }
                var running: Set<String> = []
                for await name in started {
                    running.insert(name)
                    if running == ["slow", "stuck"] { break }
                }
                let cancelled = clock.now
                group.cancelAll()
                #expect(await slow == Self.shutDown)
                #expect(await stuck == Self.shutDown)
                try await group.waitForAll()
                // Promptly means without waiting for the hour-long grace period or for the
                // minute the out-of-band call may take; the bound leaves room for a busy machine.
                #expect(clock.now - cancelled < .seconds(20), "run() took \(clock.now - cancelled) to end")
                await client.waitUntilClosed()
                #expect(!client.isConnected)
            }
        }
    }

    @Test("a server runs once; a second run() is refused")
    func runsOnce() async throws {
        let (_, starting) = AsyncStream<String>.makeStream()
        let (_, announce) = AsyncStream<QMPAddress>.makeStream()
        let server = Self.makeServer(slowFor: .zero, gracePeriod: .seconds(1), started: starting, listening: announce)
        try await server.serving { _ in }
        await #expect(throws: QMPError.self) { try await server.run() }
    }

    @Test("an address that cannot be bound fails run(), and serving(_:) with it, without running the body")
    func bindFailure() async throws {
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0)),
                commands: QMPCommandTable(),
                addresses: [.unixSocket(path: "/nonexistent-directory/qmp.sock")]
            )
        )
        await #expect(throws: (any Error).self) {
            try await server.serving { _ in Issue.record("the body ran without a listening server") }
        }
    }
}
