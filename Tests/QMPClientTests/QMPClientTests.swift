import Foundation
import NIOCore
import QMPClient
import QMPCore
import Testing

/// Bounds for talking to the scripted servers. Connecting gets plenty of time: a CI machine
/// busy with other builds has been seen to take over half a second to negotiate on loopback.
private let quick = QMPClient.Configuration(connectTimeout: .seconds(10), commandTimeout: .seconds(5))

/// A short connect bound, for the tests that are about the bound itself.
private let shortConnect = QMPClient.Configuration(connectTimeout: .milliseconds(500), commandTimeout: .seconds(5))

/// Runs `body` with a client connected to `server`, then closes both however `body` ends.
private func withClient<Result: Sendable>(
    _ server: FakeServer,
    configuration: QMPClient.Configuration = quick,
    _ body: (QMPClient) async throws -> Result
) async throws -> Result {
    let result: Result
    do {
        result = try await QMPClient.withConnection(to: server.address, configuration: configuration) { client in
            try await body(client)
        }
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
    return result
}

@Suite("Bad input ends in a clear error, never a crash or a hang")
struct BadInputTests {
    @Test("a socket path that does not exist")
    func missingPath() async throws {
        let error = await #expect(throws: QMPError.self) {
            try await QMPClient.connect(to: .unixSocket(path: "/nonexistent/qmp.sock"), configuration: quick)
        }
        #expect(error?.code == .connectionFailed)
        #expect(
            error?.message == "could not connect to QMP socket /nonexistent/qmp.sock: no socket exists at that path"
        )
    }

    @Test("a TCP port nobody listens on")
    func refusedPort() async throws {
        // Bind and close to find a port that is free right now.
        let server = try await FakeServer.start()
        let address = server.address
        await server.stop()
        let error = await #expect(throws: QMPError.self) {
            try await QMPClient.connect(to: address, configuration: quick)
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("could not connect to 127.0.0.1:") == true)
    }

    // Linux only: how a full listen backlog treats a further handshake is the kernel's choice
    // (and SOCK_NONBLOCK is Linux's).
    #if os(Linux)
    @Test("a TCP connect that the peer never completes times out, and says so")
    func connectNeverCompletes() async throws {
        // A listener with a backlog of zero that never accepts: once one connection fills its
        // queue, Linux drops further handshakes, so the next connect hangs.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        try #require(bound && listen(listener, 0) == 0)
        let port = Int(UInt16(bigEndian: address.sin_port))
        // Fill the queue; the kernel completes up to backlog + 1 handshakes by itself.
        var fillers: [CInt] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<2 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue), 0)
            fillers.append(filler)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        let error = await #expect(throws: QMPError.self) {
            try await QMPClient.connect(to: .tcp(host: "127.0.0.1", port: port), configuration: shortConnect)
        }
        #expect(error?.code == .timeout)
        #expect(error?.message == "could not connect to 127.0.0.1:\(port) within 0.5 s")
    }
    #endif

    @Test("a peer that says nothing at all times out naming the greeting")
    func silentPeer() async throws {
        // On a Unix socket the connect itself cannot use up the short bound on a loaded machine.
        try await FakeServer.with(unixSocket: true, greeting: []) { server in
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: QMPError.self) {
                try await QMPClient.connect(to: server.address, configuration: shortConnect)
            }
            #expect(error?.code == .timeout)
            #expect(error?.message.contains("no QMP greeting from \(server.address) within 0.5 s") == true)
            // A monitor busy with another client is silent too: the message says so, and what helps.
            #expect(error?.message.contains("share one through `qmp proxy`") == true)
            // Not a speed check: proof that the wait ends. The bound leaves room for a machine
            // busy with other builds, where 0.5 s has been seen to take over 3; and below the
            // default connect bound of 10 s, so that it fails if the short bound were ignored.
            #expect(clock.now - started < .seconds(8))
        }
    }

    @Test("an HTTP server is not mistaken for QMP")
    func httpServer() async throws {
        let http = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        try await FakeServer.with(greeting: http) { server in
            let error = await #expect(throws: QMPError.self) {
                try await QMPClient.connect(to: server.address, configuration: quick)
            }
            #expect(error?.code == .protocolViolation)
            #expect(error?.message.hasPrefix("expected a QMP greeting, got data that is not QMP's JSON") == true)
        }
    }

    @Test("a JSON server that does not greet like QMP")
    func jsonButNotQMP() async throws {
        try await FakeServer.with(greeting: Array(#"{"hello": "world"}"#.utf8) + [10]) { server in
            let error = await #expect(throws: QMPError.self) {
                try await QMPClient.connect(to: server.address, configuration: quick)
            }
            #expect(error?.code == .protocolViolation)
            #expect(error?.message.contains("expected a QMP") == true)
        }
    }

    @Test("a reply that is malformed JSON fails the call and closes the connection")
    func malformedReply() async throws {
        let server = try await FakeServer.start(
            respond: FakeServer.negotiating { _ in Array(#"{"return": {"status": oops}}"#.utf8) + [13, 10] }
        )
        try await withClient(server) { client in
            let error = await #expect(throws: QMPError.self) { try await client.execute("query-status") }
            #expect(error?.code == .protocolViolation)
            #expect(error?.message.hasPrefix("the server sent malformed JSON") == true)
            #expect(error?.command == "query-status")
            await client.waitUntilClosed()
            #expect(!client.isConnected)
        }
    }

    @Test("a reply larger than the configured limit fails with an error naming the limit")
    func oversizedReply() async throws {
        let big = String(repeating: "x", count: 10_000)
        let server = try await FakeServer.start(
            respond: FakeServer.negotiating { command in
                FakeServer.reply(.string(big), to: command)
            }
        )
        var configuration = quick
        configuration.reader.maximumMessageSize = 4096
        try await withClient(server, configuration: configuration) { client in
            let error = await #expect(throws: QMPError.self) { _ = try await client.execute("query-status") }
            #expect(error?.code == .protocolViolation)
            #expect(error?.message.contains("4096") == true)
        }
    }

    @Test("a peer that closes mid-command fails the call as connection closed")
    func peerClosesMidCommand() async throws {
        let server = try await FakeServer.start(respond: FakeServer.negotiating { _ in [] })
        try await withClient(server) { client in
            let error = await #expect(throws: QMPError.self) { try await client.execute("query-status") }
            #expect(error?.code == .connectionClosed)
            #expect(error?.message.contains("closed by the peer") == true)
        }
    }
}

@Suite("The client over a scripted server")
struct ScriptedClientTests {
    @Test("negotiation asks for OOB only when the greeting offers it")
    func negotiationWithoutOOB() async throws {
        let seen = LockedBox<[JSONValue]>([])
        let greeting =
            Array(
                #"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 11, "major": 2}, "package": ""}, "capabilities": []}}"#
                    .utf8
            ) + [13, 10]
        let server = try await FakeServer.start(greeting: greeting) { command in
            seen.mutate { $0.append(command) }
            return FakeServer.reply([:], to: command)
        }
        try await withClient(server) { client in
            #expect(!client.oobEnabled)
            #expect(client.greeting.version == QEMUVersion(major: 2, minor: 11, micro: 0))
            let negotiation = try #require(seen.value.first)
            #expect(negotiation["execute"] == "qmp_capabilities")
            #expect(negotiation["arguments"] == .object([:]))
            let error = await #expect(throws: QMPError.self) { try await client.executeOutOfBand("query-yank") }
            #expect(error?.code == .unsupported)
        }
    }

    @Test("without negotiation the client talks to a peer that never greets, as the guest agent")
    func guestAgentStyle() async throws {
        let server = try await FakeServer.start(greeting: []) { command in
            FakeServer.reply(["version": "7.2.22"], to: command)
        }
        var configuration = quick
        configuration.skipNegotiation = true
        try await withClient(server, configuration: configuration) { client in
            #expect(client.greeting.version == nil)
            let info = try await client.execute("guest-info")
            #expect(info["version"] == "7.2.22")
        }
    }

    @Test("replies that come back in reverse order are matched by id")
    func outOfOrderReplies() async throws {
        let held = LockedBox<[JSONValue]>([])
        let server = try await FakeServer.start(
            respond: FakeServer.negotiating { command in
                // Hold five commands, then answer them last first, each with its own argument.
                let batch = held.mutate { held -> [JSONValue]? in
                    held.append(command)
                    guard held.count == 5 else { return nil }
                    defer { held.removeAll() }
                    return held
                }
                guard let batch else { return nil }
                return batch.reversed().flatMap { command in
                    FakeServer.reply(command["arguments"]?["n"] ?? .null, to: command)
                }
            }
        )
        var configuration = quick
        configuration.inBandIDs = .always
        try await withClient(server, configuration: configuration) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<5 {
                    group.addTask {
                        let reply = try await client.execute("echo", arguments: ["n": .int(Int64(n))])
                        #expect(reply == .int(Int64(n)))
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test("a call whose reply is late times out, its late reply is dropped, and the connection goes on working")
    func perCallTimeout() async throws {
        let slow = LockedBox<JSONValue?>(nil)
        let server = try await FakeServer.start(
            respond: FakeServer.negotiating { command in
                // As QEMU does with a slow in-band command: its reply comes before the next one's.
                if command["execute"] == "slow" {
                    slow.mutate { $0 = command }
                    return nil
                }
                let late = slow.mutate { held in
                    defer { held = nil }
                    return held.map { FakeServer.reply("late", to: $0) } ?? []
                }
                return late + FakeServer.reply("ok", to: command)
            }
        )
        try await withClient(server) { client in
            let error = await #expect(throws: QMPError.self) {
                try await client.execute("slow", timeout: .milliseconds(200))
            }
            #expect(error?.code == .timeout)
            #expect(error?.command == "slow")
            // Sent with its id (the default, also in band to QEMU 7.2), which the error names.
            #expect(error?.id != nil)
            let pong = try await client.execute("ping")
            #expect(pong == "ok")
        }
    }

    @Test("each call keeps its own limit, whatever the limits of the calls before it")
    func limitsOfSeveralCalls() async throws {
        let server = try await FakeServer.start(respond: FakeServer.negotiating { _ in nil })
        try await withClient(server) { client in
            let clock = ContinuousClock()
            let started = clock.now
            // The long limit is set first; the short one after it must still end on time.
            // Far apart, so that a loaded machine's delays cannot blur which timer ended the
            // short call.
            let long = Task { try await client.execute("hang", timeout: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(20))
            let short = await #expect(throws: QMPError.self) {
                try await client.execute("hang", timeout: .milliseconds(200))
            }
            let shortEnded = clock.now - started
            #expect(short?.code == .timeout)
            #expect(short?.message.contains("within 0.2 s") == true)
            let longError = await #expect(throws: QMPError.self) { try await long.value }
            #expect(longError?.code == .timeout)
            #expect(longError?.message.contains("within 10.0 s") == true)
            // The short limit did not wait for the timer set for the long one.
            #expect(shortEnded < .seconds(5))
        }
    }

    @Test("a task on the connection's event loop executor runs calls without leaving that loop")
    func eventLoopExecutor() async throws {
        let server = try await FakeServer.start(
            respond: FakeServer.negotiating { FakeServer.reply(["n": $0["arguments"]?["n"] ?? .null], to: $0) }
        )
        try await withClient(server) { client in
            try await withTaskExecutorPreference(client.executor) {
                for n in 0..<100 {
                    let reply = try await client.execute("echo", arguments: ["n": .int(Int64(n))])
                    #expect(reply["n"] == .int(Int64(n)))
                    #expect(client.executor.eventLoop.inEventLoop)
                }
            }
        }
    }

    @Test("cancelling the waiting task ends the call at once")
    func cancellation() async throws {
        let server = try await FakeServer.start(respond: FakeServer.negotiating { _ in nil })
        try await withClient(server) { client in
            let task = Task { try await client.execute("hang", timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(100))
            task.cancel()
            let error = await #expect(throws: QMPError.self) { try await task.value }
            #expect(error?.code == .cancelled)
        }
    }

    @Test("an event before the greeting does not disturb connecting")
    func eventsBeforeGreeting() async throws {
        let early = FakeServer.bytes([
            "event": "X_EARLY", "data": ["k": 1], "timestamp": ["seconds": 1, "microseconds": 2],
        ])
        let server = try await FakeServer.start(
            greeting: early + FakeServer.qemuGreeting,
            respond: FakeServer.negotiating { _ in nil }
        )
        // The event comes before connect returns; it reaches nobody, and must not break anything.
        try await withClient(server) { client in
            #expect(client.greeting.package == "fake")
        }
    }

    @Test("a subscriber that does not read loses the oldest events beyond its buffer, and counts them")
    func eventOverflow() async throws {
        let server = try await FakeServer.start(
            respond: FakeServer.negotiating { command in
                var bytes: [UInt8] = []
                for n in 0..<100 {
                    bytes += FakeServer.bytes([
                        "event": "TICK", "data": ["n": .int(Int64(n))], "timestamp": ["seconds": 1, "microseconds": 0],
                    ])
                }
                return bytes + FakeServer.reply([:], to: command)
            }
        )
        try await withClient(server) { client in
            let newest = client.events(named: ["TICK"], bufferSize: 10, whenFull: .dropOldest)
            let oldest = client.events(named: ["TICK"], bufferSize: 10, whenFull: .dropNewest)
            let others = client.events(named: ["SOMETHING_ELSE"], bufferSize: 1)
            try await client.execute("burst")
            #expect(newest.droppedCount == 90)
            #expect(oldest.droppedCount == 90)
            #expect(others.droppedCount == 0)
            var newestIterator = newest.makeAsyncIterator()
            #expect(try await newestIterator.next()?.data?["n"] == 90)
            var oldestIterator = oldest.makeAsyncIterator()
            #expect(try await oldestIterator.next()?.data?["n"] == 0)
        }
    }

    @Test("a subscription ends when its sequence is dropped, read or not")
    func subscriptionLifetime() async throws {
        let server = try await FakeServer.start(respond: FakeServer.negotiating { _ in nil })
        try await withClient(server) { client in
            do {
                let unread = client.events()
                #expect(client.eventSubscriptionCount == 1)
                _ = unread.droppedCount
            }
            #expect(client.eventSubscriptionCount == 0)
            do {
                var iterator = client.events(named: ["X"]).makeAsyncIterator()
                #expect(client.eventSubscriptionCount == 1)
                let reader = Task { try await iterator.next() }
                reader.cancel()
                _ = try? await reader.value
            }
            #expect(client.eventSubscriptionCount == 0)
        }
    }

    @Test("event streams end normally on close and throw when the peer goes away")
    func eventStreamEnds() async throws {
        let dying = FakeServer.negotiating { command in command["execute"] == "die" ? [] : nil }
        try await withClient(try await FakeServer.start(respond: dying)) { client in
            let events = client.events()
            async let dead = try? client.execute("die")
            let error = await #expect(throws: QMPError.self) {
                for try await _ in events {}
            }
            #expect(error?.code == .connectionClosed)
            _ = await dead
        }

        try await withClient(try await FakeServer.start(respond: FakeServer.negotiating { _ in nil })) { other in
            let stream = other.events()
            await other.close()
            var count = 0
            for try await _ in stream { count += 1 }
            #expect(count == 0)
            // Subscribing after the end gives a stream that ends at once.
            for try await _ in other.events() { count += 1 }
            #expect(count == 0)
        }
    }

    @Test("a client takes over an already connected socket")
    func connectedSocket() async throws {
        var pair: [Int32] = [0, 0]
        #if canImport(Glibc)
        let streamType = Int32(SOCK_STREAM.rawValue)
        #else
        let streamType = SOCK_STREAM
        #endif
        try #require(socketpair(AF_UNIX, streamType, 0, &pair) == 0)
        let serverChannel: any Channel
        do {
            serverChannel = try await FakeServer.serve(
                connectedSocket: pair[1],
                respond: FakeServer.negotiating { FakeServer.reply("pong", to: $0) }
            )
        } catch {
            pair.forEach { close($0) }
            throw error
        }
        do {
            // The client owns pair[0] from here on, also when connecting fails.
            let client = try await QMPClient.connect(connectedSocket: pair[0], configuration: quick)
            let reply: JSONValue
            do {
                reply = try await client.execute("ping")
            } catch {
                await client.close()
                throw error
            }
            await client.close()
            #expect(reply == "pong")
        } catch {
            try? await serverChannel.close()
            throw error
        }
        try? await serverChannel.close()
    }
}

/// A value behind a lock, for state shared with a server's responder.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value { lock.withLock { stored } }

    @discardableResult
    func mutate<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.withLock { body(&stored) }
    }
}
