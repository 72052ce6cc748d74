import Foundation
import QMPClient
import QMPCore
import QMPServer
import Testing

/// A server for these tests, on a private Unix socket: immediate and `async` handlers side by
/// side, and a chosen bound on each client's event backlog.
private func withBatchingServer<Result: Sendable>(
    eventBacklogLimit: Int = 64 << 20,
    _ body: (QMPServer, String) async throws -> Result
) async throws -> Result {
    var commands = QMPCommandTable()
    commands.registerImmediate("now") { request in .object(request.arguments) }
    commands.registerImmediate("now-oob", allowsOutOfBand: true) { _ in "oob" }
    commands.registerImmediate("announce") { request in
        request.server.broadcast(QMPEvent(name: "ANNOUNCED", timestamp: .init(seconds: 1, microseconds: 0)))
        return "announced"
    }
    commands.registerImmediate("refuse") { _ in
        throw QMPErrorBody(errorClass: "DeviceNotFound", description: "Device 'x' not found")
    }
    commands.register("later") { request in
        try await Task.sleep(for: .milliseconds(request.arguments["ms"]?.int64Value ?? 100))
        return "later"
    }
    return try await withSocketPath(named: "swift-qmp-batch") { path in
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0), capabilities: [.oob]),
                commands: commands,
                addresses: [.unixSocket(path: path)],
                checkArguments: { name, arguments in
                    name == "now" && arguments["forbidden"] != nil
                        ? QMPErrorBody(errorClass: "GenericError", description: "Parameter 'forbidden' is unexpected")
                        : nil
                },
                eventBacklogLimit: eventBacklogLimit,
                // Some tests end with clients that stopped reading: their replies never leave.
                shutdownGracePeriod: .seconds(1)
            )
        )
        return try await withRunningServer(server) { _ in try await body(server, path) }
    }
}

/// A raw client that reads the server's lines itself, to see their exact order. It polls a
/// non-blocking socket, so that waiting for the server never ties up a thread of the pool that
/// runs the server's `async` handlers.
private final class LineClient {
    let socket: RawSocket
    private var pending: [UInt8] = []

    init(path: String) throws {
        socket = try RawSocket(path: path)
        socket.makeNonBlocking()
    }

    /// The next line, or nil when the connection ends or nothing comes within `timeout`.
    ///
    /// The default is generous because the whole suite shares two pool threads: a resumed
    /// task, this one or the server's `async` handler, queues behind every test not yet
    /// started, and under a debug build that wait once passed 10 s in CI.
    func line(timeout: Duration = .seconds(30)) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let end = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<end], as: UTF8.self)
                pending.removeSubrange(...end)
                return line.hasSuffix("\r") ? String(line.dropLast()) : line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { read(socket.descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                pending += chunk[..<count]
                continue
            }
            guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK, ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    func value(timeout: Duration = .seconds(30)) async throws -> JSONValue? {
        guard let line = try await line(timeout: timeout) else { return nil }
        return try JSONValue(parsing: line)
    }

    /// Reads the greeting and negotiates, with OOB when asked.
    func negotiate(oob: Bool = false) async throws {
        _ = try await value()
        socket.send(
            oob ? #"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}"# : #"{"execute":"qmp_capabilities"}"#
        )
        #expect(try await value() == ["return": [:]])
    }
}

@Suite("QMP server: immediate handlers and batched output")
struct ServerBatchingTests {
    @Test("immediate handlers answer with QEMU's envelope, errors and argument checks included")
    func immediateAnswers() async throws {
        try await withBatchingServer { _, path in
            let client = try await QMPClient.connect(to: .unixSocket(path: path))
            #expect(try await client.execute("now", arguments: ["a": 1]) == ["a": 1])
            let refused = await #expect(throws: QMPError.self) { try await client.execute("refuse") }
            #expect(refused?.errorClass == "DeviceNotFound")
            #expect(refused?.message == "Device 'x' not found")
            let checked = await #expect(throws: QMPError.self) {
                try await client.execute("now", arguments: ["forbidden": 1])
            }
            #expect(checked?.message == "Parameter 'forbidden' is unexpected")
            await client.close()
        }
    }

    @Test("in-band replies keep request order when immediate commands follow a slow one")
    func inBandOrderAcrossKinds() async throws {
        try await withBatchingServer { _, path in
            let raw = try LineClient(path: path)
            try await raw.negotiate(oob: true)
            // One write: the immediate commands arrive while the slow one still runs.
            raw.socket.send(
                #"{"execute":"later","arguments":{"ms":200},"id":1}{"execute":"now","id":2}"#
                    + #"{"execute":"refuse","id":3}{"execute":"nope","id":4}{"execute":"now","id":5}"#
            )
            var ids: [JSONValue] = []
            for _ in 0..<5 {
                guard let reply = try await raw.value() else { break }
                ids.append(reply["id"] ?? .null)
            }
            #expect(ids == [1, 2, 3, 4, 5])
        }
    }

    @Test("an immediate out-of-band command overtakes a slow in-band one")
    func immediateOutOfBandOvertakes() async throws {
        try await withBatchingServer { _, path in
            let raw = try LineClient(path: path)
            try await raw.negotiate(oob: true)
            raw.socket.send(
                #"{"execute":"later","arguments":{"ms":300},"id":"slow"}{"exec-oob":"now-oob","id":"fast"}"#
            )
            #expect(try await raw.value()?["id"] == "fast")
            #expect(try await raw.value()?["id"] == "slow")
        }
    }

    @Test("the events an immediate command causes come before its reply, as in QEMU")
    func eventsBeforeReply() async throws {
        try await withBatchingServer { _, path in
            let raw = try LineClient(path: path)
            try await raw.negotiate()
            raw.socket.send(#"{"execute":"announce","id":7}"#)
            #expect(try await raw.value()?["event"] == "ANNOUNCED")
            #expect(try await raw.value() == ["return": "announced", "id": 7])
        }
    }

    @Test("events are written as QEMU writes them")
    func eventBytes() async throws {
        try await withBatchingServer { server, path in
            let raw = try LineClient(path: path)
            try await raw.negotiate()
            server.broadcast(QMPEvent(name: "STOP", timestamp: .init(seconds: 1_700_000_000, microseconds: 42)))
            server.broadcast(
                QMPEvent(
                    name: "RESET",
                    data: ["guest": false, "reason": "host-qmp-system-reset"],
                    timestamp: .init(seconds: -1, microseconds: -1)
                )
            )
            #expect(
                try await raw.line() == #"{"timestamp": {"seconds": 1700000000, "microseconds": 42}, "event": "STOP"}"#
            )
            #expect(
                try await raw.line()
                    == #"{"timestamp": {"seconds": -1, "microseconds": -1}, "event": "RESET", "data": {"guest": false, "reason": "host-qmp-system-reset"}}"#
            )
        }
    }

    @Test("a burst of events from another task reaches every client complete and in order")
    func burstToSeveralClients() async throws {
        try await withBatchingServer { server, path in
            let count = 20_000
            var clients: [QMPClient] = []
            var streams: [QMPEventStream] = []
            for _ in 0..<3 {
                let client = try await QMPClient.connect(to: .unixSocket(path: path))
                clients.append(client)
                streams.append(client.events(named: ["TICK"], bufferSize: count, whenFull: .dropNewest))
            }
            let producer = Task {
                for index in 0..<count {
                    server.broadcast(
                        QMPEvent(
                            name: "TICK",
                            data: ["n": .int(Int64(index))],
                            timestamp: .init(seconds: 0, microseconds: 0)
                        )
                    )
                }
            }
            await producer.value
            for stream in streams {
                var expected: Int64 = 0
                for try await event in stream {
                    #expect(event.data?["n"]?.int64Value == expected)
                    expected += 1
                    if expected == count { break }
                }
                #expect(expected == Int64(count))
            }
            for client in clients { await client.close() }
        }
    }

    @Test("a client that does not read holds at most its event backlog, and catches up once it reads")
    func slowClientBounded() async throws {
        let limit = 256 * 1024
        try await withBatchingServer(eventBacklogLimit: limit) { server, path in
            let raw = try LineClient(path: path)
            try await raw.negotiate()
            // About 8 MB of events for a client that reads nothing meanwhile.
            for index in 0..<100_000 {
                server.broadcast(
                    QMPEvent(
                        name: "TICK",
                        data: ["n": .int(Int64(index))],
                        timestamp: .init(seconds: 0, microseconds: 0)
                    )
                )
            }
            let buffered = await server.bufferedOutputBytes()
            #expect(buffered <= limit, "the server holds \(buffered) bytes for a client that does not read")

            // Reading, the client gets a prefix of the events in order, then nothing is stuck:
            // an event sent after it has caught up arrives, and commands are answered.
            var expected: Int64 = 0
            // The rest was dropped: the events stop once nothing more comes for a while.
            // (2 s: a loaded CI host can pause the stream for longer than a moment.)
            while let line = try await raw.line(timeout: .seconds(2)) {
                let event = try JSONValue(parsing: line)
                guard event["data"]?["n"]?.int64Value == expected else { break }
                expected += 1
            }
            #expect(expected > 0)
            #expect(expected < 100_000)
            server.broadcast(QMPEvent(name: "LAST", timestamp: .init(seconds: 0, microseconds: 0)))
            #expect(try await raw.value()?["event"] == "LAST")
            raw.socket.send(#"{"execute":"now","id":1}"#)
            #expect(try await raw.value() == ["return": [:], "id": 1])
        }
    }
}
