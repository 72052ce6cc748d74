import NIOConcurrencyHelpers
import QMPClient
import QMPCore
import QMPTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

private let quick = QMPClient.Configuration(connectTimeout: .seconds(10), commandTimeout: .seconds(10))

/// Runs `body` with a client of `monitor`, closed however `body` ends.
private func withClient<Result: Sendable>(
    of monitor: FakeMonitor,
    _ body: (QMPClient) async throws -> Result
) async throws -> Result {
    let client = try await QMPClient.connect(to: monitor.address, configuration: quick)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

@Suite("A fake monitor answers from its script")
struct FakeMonitorScriptTests {
    @Test("an expected command gets its scripted reply, and the script is then met")
    func scriptedReply() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("query-status", reply: ["running": true, "status": "running"])
            try await withClient(of: monitor) { client in
                let status = try await client.execute("query-status")
                #expect(status["status"] == "running")
            }
            #expect(monitor.received.map(\.name) == ["query-status"])
            #expect(monitor.unmetExpectations.isEmpty)
            try monitor.verify()
        }
    }

    @Test("an expected error reaches the client as QEMU's class and description")
    func scriptedError() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect(
                "device_del",
                arguments: ["id": "nope"],
                error: QMPErrorBody(errorClass: "DeviceNotFound", description: "Device 'nope' not found")
            )
            try await withClient(of: monitor) { client in
                let error = await #expect(throws: QMPError.self) {
                    try await client.execute("device_del", arguments: ["id": "nope"])
                }
                #expect(error?.code == .commandFailed)
                #expect(error?.errorClass == "DeviceNotFound")
                #expect(error?.message == "Device 'nope' not found")
            }
        }
    }

    @Test("events an expectation emits reach the client with the command they belong to")
    func emittedEvents() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("stop", emitting: [FakeMonitor.Event("STOP")])
            monitor.expect(
                "device_del",
                arguments: ["id": "nic0"],
                emitting: [
                    FakeMonitor.Event("DEVICE_DELETED", data: ["device": "nic0", "path": "/machine/peripheral/nic0"])
                ]
            )
            try await withClient(of: monitor) { client in
                let (_, stopped) = try await client.execute("stop", thenWaitFor: "STOP")
                #expect(stopped.name == "STOP")
                #expect(stopped.timestamp.seconds > 0)
                let (_, deleted) = try await client.execute(
                    "device_del",
                    arguments: ["id": "nic0"],
                    thenWaitFor: "DEVICE_DELETED",
                    matching: { $0.data?["device"] == "nic0" }
                )
                #expect(deleted.data?["path"] == "/machine/peripheral/nic0")
            }
        }
    }

    @Test("an event emitted at any time reaches every negotiated client")
    func emitAtAnyTime() async throws {
        try await withFakeMonitor { monitor in
            try await withClient(of: monitor) { client in
                let events = client.events(named: ["RESET"])
                monitor.emit(FakeMonitor.Event("RESET", data: ["guest": true, "reason": "guest-reset"]))
                var iterator = events.makeAsyncIterator()
                let event = try await iterator.next()
                #expect(event?.data?["reason"] == "guest-reset")
            }
        }
    }

    @Test("the greeting says the version and capabilities the script gives")
    func greeting() async throws {
        let old = QMPGreeting(version: QEMUVersion(major: 2, minor: 11, micro: 1), package: "Debian", capabilities: [])
        try await withFakeMonitor(greeting: old) { monitor in
            try await withClient(of: monitor) { client in
                #expect(client.greeting.version == QEMUVersion(major: 2, minor: 11, micro: 1))
                #expect(client.greeting.package == "Debian")
                #expect(!client.oobEnabled)
            }
        }
    }

    @Test("a TCP monitor listens on 127.0.0.1 at a port the system chose")
    func tcp() async throws {
        try await withFakeMonitor(transport: .tcp) { monitor in
            guard case .tcp(let host, let port) = monitor.address else {
                Issue.record("expected a TCP address, got \(monitor.address)")
                return
            }
            #expect(host == "127.0.0.1")
            #expect(port > 0)
            monitor.expect("query-name", reply: [:])
            try await withClient(of: monitor) { client in
                let name = try await client.execute("query-name")
                #expect(name == [:])
            }
        }
    }

    @Test("expectations of one command are met in the order they were made")
    func orderWithinOneCommand() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("query-status", reply: ["status": "running"])
            monitor.expect("query-status", reply: ["status": "paused"])
            try await withClient(of: monitor) { client in
                let first = try await client.execute("query-status")
                let second = try await client.execute("query-status")
                #expect(first["status"] == "running")
                #expect(second["status"] == "paused")
            }
        }
    }

    @Test("expectations of different commands are met in whatever order the commands come")
    func concurrentCommands() async throws {
        try await withFakeMonitor { monitor in
            let names = ["query-name", "query-uuid", "query-kvm", "query-version"]
            for name in names {
                monitor.expect(name, reply: ["answers": .string(name)])
            }
            try await withClient(of: monitor) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for name in names.reversed() {
                        group.addTask {
                            let reply = try await client.execute(name)
                            #expect(reply["answers"] == .string(name))
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(Set(monitor.received.map(\.name)) == Set(names))
        }
    }
}

@Suite("A fake monitor closes connections when the script says")
struct FakeMonitorClosingTests {
    @Test("thenClose sends the reply, then closes the connection, as QEMU does after quit")
    func replyThenClose() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("quit", emitting: [FakeMonitor.Event("SHUTDOWN", data: ["guest": false])], thenClose: true)
            try await withClient(of: monitor) { client in
                let shutdown = client.events(named: ["SHUTDOWN"])
                let reply = try await client.execute("quit")
                #expect(reply == [:])
                await client.waitUntilClosed()
                #expect(!client.isConnected)
                var iterator = shutdown.makeAsyncIterator()
                let event = try? await iterator.next()
                #expect(event?.name == "SHUTDOWN")
            }
        }
    }

    @Test("a connection closed instead of a reply fails the call as connection closed")
    func closeInsteadOfReply() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("migrate", answer: .closeConnection)
            try await withClient(of: monitor) { client in
                let error = await #expect(throws: QMPError.self) {
                    try await client.execute("migrate", arguments: ["uri": "tcp:0:4444"])
                }
                #expect(error?.code == .connectionClosed)
            }
        }
    }

    @Test("closeConnections drops every client, and the monitor takes new ones")
    func closeConnections() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("query-status", reply: ["status": "running"])
            try await withClient(of: monitor) { client in
                monitor.closeConnections()
                await client.waitUntilClosed()
            }
            try await withClient(of: monitor) { client in
                let status = try await client.execute("query-status")
                #expect(status["status"] == "running")
            }
        }
    }
}

@Suite("A fake monitor reports where the code under test left its script")
struct FakeMonitorVerificationTests {
    /// The error `call` fails with; an issue when it succeeds or fails otherwise.
    static func failure(_ call: () async throws -> JSONValue) async -> QMPError? {
        do {
            let reply = try await call()
            Issue.record("expected an error reply, got \(reply)")
            return nil
        } catch let error as QMPError {
            return error
        } catch {
            Issue.record("expected a QMPError, got \(error)")
            return nil
        }
    }

    @Test("an expected command never sent fails the scope, naming it and where it was expected")
    func unmetExpectation() async throws {
        let error = await #expect(throws: FakeMonitorError.self) {
            try await withFakeMonitor { monitor in
                monitor.expect("query-status", reply: ["status": "running"])
                monitor.expect("cont")
                try await withClient(of: monitor) { client in
                    _ = try await client.execute("query-status")
                }
            }
        }
        #expect(error?.unmetExpectations.count == 1)
        #expect(
            error?.unmetExpectations.first?.hasPrefix("cont (expected at QMPTestSupportTests/FakeMonitorTests.swift:")
                == true
        )
        #expect(error?.unexpectedCommands == [])
        #expect(error?.description.contains("expected, never sent: cont") == true)
    }

    @Test("a command nobody expected gets QEMU's CommandNotFound, and fails the scope")
    func unexpectedCommand() async throws {
        let reply = NIOLockedValueBox<QMPError?>(nil)
        let error = await #expect(throws: FakeMonitorError.self) {
            try await withFakeMonitor { monitor in
                try await withClient(of: monitor) { client in
                    let failed = await Self.failure { try await client.execute("system_reset") }
                    reply.withLockedValue { $0 = failed }
                }
            }
        }
        #expect(reply.withLockedValue { $0 }?.errorClass == "CommandNotFound")
        #expect(reply.withLockedValue { $0 }?.message == "The command system_reset has not been found")
        #expect(error?.unexpectedCommands == ["system_reset"])
        #expect(error?.description.contains("sent, not expected: system_reset") == true)
    }

    @Test("a command with other arguments than expected is unexpected, and its expectation unmet")
    func argumentsDiffer() async throws {
        let reply = NIOLockedValueBox<QMPError?>(nil)
        let error = await #expect(throws: FakeMonitorError.self) {
            try await withFakeMonitor { monitor in
                monitor.expect("device_del", arguments: ["id": "nic0"])
                try await withClient(of: monitor) { client in
                    let failed = await Self.failure {
                        try await client.execute("device_del", arguments: ["id": "nic1"])
                    }
                    reply.withLockedValue { $0 = failed }
                }
            }
        }
        #expect(reply.withLockedValue { $0 }?.errorClass == "GenericError")
        #expect(reply.withLockedValue { $0 }?.message.contains("no expectation left for device_del") == true)
        #expect(
            error?.unmetExpectations.first?.hasPrefix(#"device_del with arguments {"id":"nic0"} (expected at "#) == true
        )
        #expect(error?.unexpectedCommands.first?.hasPrefix("device_del") == true)
        #expect(error?.unexpectedCommands.first?.contains("nic1") == true)
    }

    @Test("arguments match whatever the order of their members")
    func argumentOrder() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("block_resize", arguments: ["node-name": "disk0", "size": 1_048_576])
            try await withClient(of: monitor) { client in
                _ = try await client.execute("block_resize", arguments: ["size": 1_048_576, "node-name": "disk0"])
            }
        }
    }

    @Test("when the body throws, its error comes out and the monitor is gone")
    func bodyThrows() async throws {
        struct Failure: Error {}
        let address = NIOLockedValueBox<QMPAddress?>(nil)
        await #expect(throws: Failure.self) {
            try await withFakeMonitor { monitor in
                address.withLockedValue { $0 = monitor.address }
                monitor.expect("never-sent")
                throw Failure()
            }
        }
        guard case .unixSocket(let path)? = address.withLockedValue({ $0 }) else {
            Issue.record("expected a Unix socket address")
            return
        }
        // The socket and its private directory are removed.
        #expect(access(path, F_OK) != 0)
        #expect(access(String(path.dropLast("/qmp.sock".count)), F_OK) != 0)
        let error = await #expect(throws: QMPError.self) {
            try await QMPClient.connect(to: .unixSocket(path: path), configuration: quick)
        }
        #expect(error?.code == .connectionFailed)
    }
}
