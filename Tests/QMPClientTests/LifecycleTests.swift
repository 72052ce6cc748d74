import Foundation
import Logging
import QMPClient
import QMPCore
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

private let quick = QMPClient.Configuration(connectTimeout: .seconds(10), commandTimeout: .seconds(30))

/// Answers `qmp_capabilities`, `ping` with `pong`, and nothing else: other commands hang.
private let pongOnly = FakeServer.negotiating { command in
    command["execute"] == "ping" ? FakeServer.reply("pong", to: command) : nil
}

private struct BodyFailed: Error {}

@Suite("A scoped connection: withConnection")
struct WithConnectionTests {
    @Test("returns what its body returns, and closes the connection")
    func returnsAndCloses() async throws {
        try await FakeServer.with(respond: pongOnly) { server in
            let (reply, client) = try await QMPClient.withConnection(
                to: server.address,
                configuration: quick
            ) { client in
                (try await client.execute("ping"), client)
            }
            #expect(reply == "pong")
            #expect(!client.isConnected)
            #expect(try await server.waitUntilNoConnections())
        }
    }

    @Test("closes the connection when its body throws, and rethrows")
    func closesWhenBodyThrows() async throws {
        try await FakeServer.with(respond: pongOnly) { server in
            let escaped = LockedBox<QMPClient?>(nil)
            await #expect(throws: BodyFailed.self) {
                try await QMPClient.withConnection(to: server.address, configuration: quick) { client in
                    escaped.mutate { $0 = client }
                    throw BodyFailed()
                }
            }
            let client = try #require(escaped.value)
            #expect(!client.isConnected)
            #expect(try await server.waitUntilNoConnections())
        }
    }

    @Test("closes the connection when its task is cancelled mid-call")
    func closesWhenCancelled() async throws {
        try await FakeServer.with(respond: pongOnly) { server in
            let escaped = LockedBox<QMPClient?>(nil)
            let task = Task {
                try await QMPClient.withConnection(to: server.address, configuration: quick) { client in
                    escaped.mutate { $0 = client }
                    return try await client.execute("hang")
                }
            }
            #expect(try await eventually { escaped.value != nil && server.openConnections == 1 })
            task.cancel()
            let error = await #expect(throws: QMPError.self) { try await task.value }
            #expect(error?.code == .cancelled)
            let client = try #require(escaped.value)
            #expect(!client.isConnected)
            #expect(try await server.waitUntilNoConnections())
        }
    }
}

@Suite("A long-lived client: the Service")
struct ClientServiceTests {
    @Test("graceful shutdown fails pending calls naming the command, ends events normally, and closes")
    func gracefulShutdown() async throws {
        try await FakeServer.with(respond: pongOnly) { server in
            let client = try await QMPClient.connect(to: server.address, configuration: quick)
            let events = client.events()
            try await testGracefulShutdown { shutDown in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await client.run() }
                    #expect(try await client.execute("ping") == "pong")
                    group.addTask {
                        let error = await #expect(throws: QMPError.self) { try await client.execute("hang") }
                        #expect(error?.code == .shutDown)
                        #expect(error?.command == "hang")
                        #expect(error?.message.contains("graceful shutdown") == true)
                    }
                    // The hanging call is on its way before the shutdown comes.
                    try await Task.sleep(for: .milliseconds(100))
                    shutDown.triggerGracefulShutdown()
                    try await group.waitForAll()
                }
            }
            #expect(!client.isConnected)
            var count = 0
            for try await _ in events { count += 1 }
            #expect(count == 0)
            // Later calls say the same.
            let late = await #expect(throws: QMPError.self) { try await client.execute("ping") }
            #expect(late?.code == .shutDown)
            #expect(try await server.waitUntilNoConnections())
        }
    }

    @Test("in a service group, a SIGTERM-style graceful shutdown ends run() and the group")
    func inServiceGroup() async throws {
        try await FakeServer.with(respond: pongOnly) { server in
            let client = try await QMPClient.connect(to: server.address, configuration: quick)
            try await testGracefulShutdown { shutDown in
                let group = ServiceGroup(services: [client], logger: QMPClient.silentLogger)
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    #expect(try await client.execute("ping") == "pong")
                    shutDown.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
            #expect(!client.isConnected)
        }
    }

    @Test("cancelling run() fails pending calls as shut down and closes")
    func cancellation() async throws {
        try await FakeServer.with(respond: pongOnly) { server in
            let client = try await QMPClient.connect(to: server.address, configuration: quick)
            let run = Task { try await client.run() }
            let pending = Task { try await client.execute("hang") }
            #expect(try await client.execute("ping") == "pong")
            run.cancel()
            try await run.value
            let error = await #expect(throws: QMPError.self) { try await pending.value }
            #expect(error?.code == .shutDown)
            #expect(error?.message.contains("cancelled") == true)
            #expect(!client.isConnected)
        }
    }

    @Test("run() throws when the server goes away, and returns when the client is closed")
    func endsWithTheConnection() async throws {
        let server = FakeServer.negotiating { command in command["execute"] == "die" ? [] : nil }
        try await FakeServer.with(respond: server) { server in
            let client = try await QMPClient.connect(to: server.address, configuration: quick)
            async let running: Void = client.run()
            _ = try? await client.execute("die")
            do {
                try await running
                Issue.record("run() returned although the server went away")
            } catch {
                #expect((error as? QMPError)?.code == .connectionClosed)
            }
        }
        try await FakeServer.with(respond: pongOnly) { server in
            let client = try await QMPClient.connect(to: server.address, configuration: quick)
            async let running: Void = client.run()
            await client.close()
            try await running
        }
    }
}

@Suite("A client dropped without close()")
struct DroppedClientTests {
    @Test("closes its connection: the server sees every one of them go")
    func droppedClientsClose() async throws {
        try await FakeServer.with(respond: pongOnly) { server in
            for _ in 0..<50 {
                let client = try await QMPClient.connect(to: server.address, configuration: quick)
                #expect(try await client.execute("ping") == "pong")
            }
            #expect(try await server.waitUntilNoConnections())
        }
    }

    #if os(Linux)
    @Test("leaves no descriptor of this process open")
    func noDescriptorLeft() async throws {
        try await FakeServer.with(unixSocket: true, respond: pongOnly) { server in
            // Descriptors of this process's sockets to the server: both ends are ours, so an
            // open connection shows as two.
            func socketCount() -> Int {
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
                return entries.count { entry in
                    let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + entry)
                    return target?.hasPrefix("socket:") == true
                }
            }
            let before = socketCount()
            for _ in 0..<50 {
                let client = try await QMPClient.connect(to: server.address, configuration: quick)
                #expect(try await client.execute("ping") == "pong")
            }
            #expect(try await server.waitUntilNoConnections())
            // Other tests of the suite open and close sockets meanwhile, so this is a bound, not
            // an equality: fifty dropped clients left open would be a hundred more.
            #expect(socketCount() - before < 50)
        }
    }
    #endif
}
