import Foundation
import QMPClient
import QMPCore
import QMPServer
import Testing

/// A server with a few commands, on a private Unix socket.
private func withServer<Result: Sendable>(
    addingCommands addCommands: (inout QMPCommandTable) -> Void = { _ in },
    _ body: (QMPServer, QMPAddress) async throws -> Result
) async throws -> Result {
    var commands = QMPCommandTable()
    addCommands(&commands)
    commands.register("query-status") { _ in ["status": "running", "running": true, "singlestep": false] }
    commands.register("echo") { request in .object(request.arguments) }
    commands.register("query-yank", allowsOutOfBand: true) { _ in [] }
    commands.register("fail") { _ in
        throw QMPErrorBody(errorClass: "DeviceNotFound", description: "Device 'x' not found")
    }
    return try await withSocketPath(named: "swift-qmp-server") { path in
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(
                    version: QEMUVersion(major: 7, minor: 2, micro: 0),
                    package: "swift-qmp",
                    capabilities: [.oob]
                ),
                commands: commands,
                addresses: [.unixSocket(path: path)],
                checkArguments: { name, arguments in
                    name == "echo" && arguments["forbidden"] != nil
                        ? QMPErrorBody(errorClass: "GenericError", description: "Parameter 'forbidden' is unexpected")
                        : nil
                },
                // Some tests end with clients that stopped reading: their replies never leave.
                shutdownGracePeriod: .seconds(1)
            )
        )
        return try await withRunningServer(server) { address in try await body(server, address) }
    }
}

@Suite("QMP server")
struct QMPServerTests {
    @Test("our client negotiates OOB with it and runs commands")
    func basics() async throws {
        try await withServer { _, address in
            try await withClient(of: address) { client async throws in
                #expect(client.oobEnabled)
                #expect(client.greeting.package == "swift-qmp")
                #expect(try await client.execute("query-status")["status"] == "running")
                #expect(try await client.execute("echo", arguments: ["a": [1, 2]]) == ["a": [1, 2]])
                let failure = await #expect(throws: QMPError.self) { try await client.execute("fail") }
                #expect(failure?.errorClass == "DeviceNotFound")
                let unknown = await #expect(throws: QMPError.self) { try await client.execute("nope") }
                #expect(unknown?.message == "The command nope has not been found")
                let checked = await #expect(throws: QMPError.self) {
                    try await client.execute("echo", arguments: ["forbidden": 1])
                }
                #expect(checked?.message == "Parameter 'forbidden' is unexpected")
            }
        }
    }

    @Test("an out-of-band reply overtakes an in-band command that is still running")
    func outOfBandOvertakes() async throws {
        // No timing: `hold` runs until the test releases it, after the out-of-band reply.
        let (started, starting) = AsyncStream<Void>.makeStream()
        let (released, release) = AsyncStream<Void>.makeStream()
        defer { release.finish() }
        try await withServer(addingCommands: { commands in
            commands.register("hold") { _ in
                starting.yield()
                for await _ in released { break }
                return "released"
            }
        }) { _, address in
            try await withClient(of: address) { client in
                async let held = client.execute("hold")
                for await _ in started { break }
                // Answered while `hold` runs; were it queued behind it, this would time out.
                #expect(try await client.executeOutOfBand("query-yank", timeout: .seconds(10)) == [])
                release.yield()
                let heldResult = try await held
                #expect(heldResult == "released")
            }
        }
    }

    @Test("events reach every client in command mode")
    func broadcast() async throws {
        try await withServer { server, address in
            try await withClient(of: address) { first in
                try await withClient(of: address) { second async throws in
                    var one = first.events().makeAsyncIterator()
                    var two = second.events().makeAsyncIterator()
                    server.broadcast(QMPEvent(name: "STOP", timestamp: .init(seconds: 1, microseconds: 2)))
                    #expect(try await one.next()?.name == "STOP")
                    #expect(try await two.next()?.name == "STOP")
                    #expect(server.connectionCount == 2)
                }
            }
        }
    }

    @Test("many pipelined commands from many tasks each get their own reply")
    func pipelining() async throws {
        try await withServer { _, address in
            try await withClient(of: address) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for n in 0..<500 {
                        group.addTask {
                            let reply = try await client.execute("echo", arguments: ["n": .int(Int64(n))])
                            #expect(reply["n"] == .int(Int64(n)))
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    @Test("100 clients with 100 pipelined commands each all get their own replies")
    func hundredClients() async throws {
        try await withServer { server, address in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for clientNumber in 0..<100 {
                    group.addTask {
                        try await withClient(of: address) { client in
                            try await withThrowingTaskGroup(of: Bool.self) { commands in
                                for n in 0..<100 {
                                    commands.addTask {
                                        let tag = Int64(clientNumber * 1000 + n)
                                        return try await client.execute("echo", arguments: ["n": .int(tag)])["n"]
                                            == .int(tag)
                                    }
                                }
                                return try await commands.reduce(0) { $0 + ($1 ? 1 : 0) }
                            }
                        }
                    }
                }
                let matched = try await group.reduce(0, +)
                #expect(matched == 10_000)
            }
        }
    }

    @Test("shutdown closes the connections of its clients")
    func shutdownClosesClients() async throws {
        let client = try await withServer { _, address in try await QMPClient.connect(to: address) }
        await client.waitUntilClosed()
        #expect(!client.isConnected)
        // Closed by the server already; close() releases the client's side.
        await client.close()
    }
}

@Suite("QMP server under a client that does not read")
struct BackPressureTests {
    @Test("the server stops reading from a client whose replies pile up, so its writes block")
    func writesBlock() async throws {
        try await withServer { server, address in
            guard case .unixSocket(let path) = address else {
                Issue.record("the server listens on a Unix socket here, not on \(address)")
                return
            }
            let raw = try RawSocket(path: path)
            raw.send(#"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}"# + "\n")
            let command = Array(
                (#"{"execute":"echo","arguments":{"pad":"\#(String(repeating: "x", count: 200))"}}"# + "\n").utf8
            )
            raw.makeNonBlocking()
            var written = 0
            var blocked = false
            let limit = 64 << 20
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(20)
            while written < limit && clock.now < deadline {
                let count = command.withUnsafeBytes { write(raw.descriptor, $0.baseAddress, $0.count) }
                if count < 0 {
                    guard errno == EAGAIN || errno == EWOULDBLOCK else { break }
                    // Give the server a moment; if it were still reading, room would appear.
                    try await Task.sleep(for: .milliseconds(200))
                    let retry = command.withUnsafeBytes { write(raw.descriptor, $0.baseAddress, $0.count) }
                    if retry < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                        blocked = true
                        break
                    }
                    written += max(retry, 0)
                    continue
                }
                written += count
            }
            #expect(blocked, "wrote \(written) bytes without the server pushing back")
            #expect(written < limit)
            // What the server keeps for this client is bounded by NIO's write-buffer high-water
            // mark (64 KiB) plus the reply that crossed it, however much the client sent (the
            // rest sits in the kernel's socket buffers, which the kernel bounds).
            let buffered = await server.bufferedOutputBytes()
            #expect(buffered < 256 * 1024, "the server holds \(buffered) bytes for a client that does not read")

            // The server itself is fine and serves others.
            try await withClient(of: address) { other async throws in
                #expect(try await other.execute("query-status")["status"] == "running")
            }
            #expect(server.connectionCount >= 1)
        }
    }
}

@Suite("What the server holds for its clients")
struct BufferedOutputTests {
    @Test("bufferedOutputBytes counts a reply the client has not taken yet")
    func countsUntakenReply() async throws {
        try await withServer { server, address in
            guard case .unixSocket(let path) = address else {
                Issue.record("the server listens on a Unix socket here, not on \(address)")
                return
            }
            let raw = try RawSocket(path: path)
            raw.send(#"{"execute":"qmp_capabilities"}"# + "\n")
            // A 4 MiB reply cannot fit in the socket's buffers; what is left waits in NIO.
            raw.send(#"{"execute":"echo","arguments":{"pad":"\#(String(repeating: "x", count: 4 << 20))"}}"# + "\n")
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            var buffered = 0
            while buffered == 0 && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                buffered = await server.bufferedOutputBytes()
            }
            #expect(buffered > 0, "the server should hold the part of a 4 MiB reply the client has not read")
            #expect(buffered <= (4 << 20) + 1024)
        }
    }
}

/// A bare Unix socket, for clients that misbehave.
final class RawSocket {
    let descriptor: CInt

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let bytes = Array(path.utf8.prefix(buffer.count - 1))
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            close(descriptor)
            throw QMPError(code: .connectionFailed, message: "cannot connect to \(path)")
        }
    }

    deinit { close(descriptor) }

    func makeNonBlocking() {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}

@Suite("QMP server event rate limits")
struct ServerThrottleTests {
    @Test("a burst of RTC_CHANGE reaches clients as the first and, after the interval, the last")
    func burst() async throws {
        var commands = QMPCommandTable()
        commands.register("burst") { request in
            for offset in 1...5 {
                request.server.broadcast(
                    QMPEvent(
                        name: "RTC_CHANGE",
                        data: ["offset": .int(Int64(offset))],
                        timestamp: .init(seconds: 1, microseconds: 0)
                    )
                )
            }
            return [:]
        }
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0), capabilities: [.oob]),
                commands: commands,
                addresses: [.tcp(host: "127.0.0.1", port: 0)],
                throttleInterval: .milliseconds(200)
            )
        )
        try await withRunningServer(server) { address in
            try await withClient(of: address) { client in
                let events = client.events(named: ["RTC_CHANGE"])
                let clock = ContinuousClock()
                let start = clock.now
                try await client.execute("burst")
                var iterator = events.makeAsyncIterator()
                #expect(try await iterator.next()?.data?["offset"] == 1)
                #expect(try await iterator.next()?.data?["offset"] == 5)
                // The last one waited for the interval: a lower bound, so a slow machine cannot fail it.
                #expect(clock.now - start >= .milliseconds(200))
            }
        }
    }
}
