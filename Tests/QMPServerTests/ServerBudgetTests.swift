import Foundation
import QMPClient
import QMPCore
import QMPServer
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A server with a small memory budget and connection limit, on a private Unix socket, that
/// broadcasts `count` events of about `size` bytes each when told to `flood`.
private func withLimitedServer<Result: Sendable>(
    memoryBudget: Int = 256 << 20,
    maximumConnections: Int = 1024,
    _ body: (QMPServer, String) async throws -> Result
) async throws -> Result {
    var commands = QMPCommandTable()
    commands.registerImmediate("flood") { request in
        let count = request.arguments["count"]?.int64Value ?? 0
        let padding = String(repeating: "x", count: Int(request.arguments["size"]?.int64Value ?? 0))
        for index in 0..<count {
            request.server.broadcast(
                QMPEvent(
                    name: "FLOOD",
                    data: ["n": .int(index), "padding": .string(padding)],
                    timestamp: .init(seconds: 1, microseconds: 0)
                )
            )
        }
        return [:]
    }
    commands.registerImmediate("echo") { request in .object(request.arguments) }
    return try await withSocketPath(named: "swift-qmp-budget") { path in
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0), capabilities: []),
                commands: commands,
                addresses: [.unixSocket(path: path)],
                memoryBudget: memoryBudget,
                maximumConnections: maximumConnections,
                // Some tests end with clients that stopped reading.
                shutdownGracePeriod: .seconds(1)
            )
        )
        return try await withRunningServer(server) { _ in try await body(server, path) }
    }
}

/// A client on a non-blocking socket that reads only when asked to.
final class IdleClient {
    let socket: RawSocket
    private var pending: [UInt8] = []

    init(path: String) throws {
        socket = try RawSocket(path: path)
        socket.makeNonBlocking()
    }

    /// The next line; nil once the connection has ended, or when nothing came within `timeout`.
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

    func value() async throws -> JSONValue? {
        guard let line = try await line() else { return nil }
        return try JSONValue(parsing: line)
    }

    func negotiate() async throws {
        _ = try await value()
        socket.send(#"{"execute":"qmp_capabilities"}"#)
        #expect(try await value() == ["return": [:]])
    }

    /// Sends all of `bytes` unless the server closes the connection first; how many it took.
    func sendAll(_ bytes: [UInt8], timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        var sent = 0
        while sent < bytes.count && ContinuousClock.now < deadline {
            let count = bytes[sent...].withUnsafeBytes {
                sendWithoutSignal(socket.descriptor, $0)
            }
            if count > 0 {
                sent += count
            } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                try await Task.sleep(for: .milliseconds(2))
            } else {
                break
            }
        }
        return sent
    }
}

@Suite("QMP server limits: memory budget, connection limit, counters")
struct ServerBudgetTests {
    @Test("ten clients that never read keep the server's buffers within its memory budget; drops are counted")
    func nonReadingClientsStayWithinBudget() async throws {
        let budget = 4 << 20
        try await withLimitedServer(memoryBudget: budget) { server, path in
            var idle: [IdleClient] = []
            for _ in 0..<10 {
                let client = try IdleClient(path: path)
                try await client.negotiate()
                idle.append(client)
            }
            // About 40 MB of events for each client; the per-client backlog (64 MiB by default)
            // would take them all, ten times over the budget.
            try await withClient(of: .unixSocket(path: path)) { client in
                for _ in 0..<20 {
                    _ = try await client.execute("flood", arguments: ["count": 2_000, "size": 1_000])
                }
            }
            let statistics = server.statistics
            #expect(statistics.peakBufferedBytes <= budget, "the clients held \(statistics.peakBufferedBytes) bytes")
            #expect(statistics.eventsDropped > 0)
            let buffered = await server.bufferedOutputBytes()
            #expect(buffered <= budget)

            // A client that reads again gets the events it was sent, in order, then nothing is
            // stuck: later events arrive.
            let reader = idle[0]
            var expected: Int64 = 0
            while let line = try await reader.line(timeout: .seconds(2)) {
                let event = try JSONValue(parsing: line)
                guard event["data"]?["n"]?.int64Value == expected else { break }
                expected += 1
            }
            #expect(expected > 0)
            server.broadcast(QMPEvent(name: "LAST", timestamp: .init(seconds: 2, microseconds: 0)))
            var last: JSONValue?
            repeat { last = try await reader.value() } while last != nil && last?["event"] != "LAST"
            #expect(last?["event"] == "LAST")
        }
    }

    @Test("a client whose unfinished message would pass the memory budget gets an error and is disconnected")
    func oversizedInputIsRefused() async throws {
        let budget = 1 << 20
        try await withLimitedServer(memoryBudget: budget) { server, path in
            let greedy = try IdleClient(path: path)
            try await greedy.negotiate()
            // The message never ends: the server could only hold it all.
            let start = Array(#"{"execute": "echo", "arguments": {"a": ""#.utf8)
            let sent = try await greedy.sendAll(start + [UInt8](repeating: UInt8(ascii: "a"), count: 4 << 20))
            #expect(sent < 4 << 20, "the server took the whole message")
            let error = try await greedy.value()
            #expect(
                error == [
                    "error": [
                        "class": "GenericError",
                        "desc": "Input exceeds the server's memory budget; closing the connection",
                    ]
                ]
            )
            #expect(try await greedy.line() == nil, "the connection should be closed")
            #expect(server.statistics.connectionsClosedForMemory == 1)
            #expect(server.statistics.peakBufferedBytes <= budget)

            // Everyone else is served as before.
            try await withClient(of: .unixSocket(path: path)) { client in
                let reply = try await client.execute("echo", arguments: ["b": 1])
                #expect(reply == ["b": 1])
            }
        }
    }

    @Test("a client beyond the connection limit is disconnected before its greeting, and counted")
    func connectionLimit() async throws {
        try await withLimitedServer(maximumConnections: 2) { server, path in
            let first = try IdleClient(path: path)
            try await first.negotiate()
            let second = try IdleClient(path: path)
            try await second.negotiate()
            let third = try IdleClient(path: path)
            #expect(try await third.line() == nil, "the third client should be disconnected without a greeting")
            #expect(server.statistics.connectionsRefused == 1)
            #expect(server.statistics.connections == 2)

            // Once a client leaves, there is room again.
            shutdown(first.socket.descriptor, Int32(SHUT_RDWR))
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while server.connectionCount > 1 && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            let fourth = try IdleClient(path: path)
            try await fourth.negotiate()
            _ = second
        }
    }

    @Test("a Unix socket replaces a stale socket file at its path, but never a file of another kind")
    func socketPathIsReplacedOnlyWhenASocket() async throws {
        try await withSocketPath(named: "swift-qmp-stale") { path in
            #expect(FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8)))
            let server = QMPServer(
                configuration: .init(
                    greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0), capabilities: []),
                    commands: QMPCommandTable(),
                    addresses: [.unixSocket(path: path)]
                )
            )
            await #expect(throws: (any Error).self) { try await server.run() }
            #expect(FileManager.default.contents(atPath: path) == Data("keep me".utf8))
            // Nothing is left beside it either.
            let directory = (path as NSString).deletingLastPathComponent
            let left = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(left == ["qmp.sock"])
        }
        try await withSocketPath(named: "swift-qmp-stale") { path in
            // A socket file left behind by a server that is gone.
            let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            close(stale)
            #expect(bound == 0)
            let server = QMPServer(
                configuration: .init(
                    greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0), capabilities: []),
                    commands: QMPCommandTable(),
                    addresses: [.unixSocket(path: path)]
                )
            )
            try await withRunningServer(server) { address in
                try await withClient(of: address) { client in
                    #expect(client.greeting.version == QEMUVersion(major: 7, minor: 2, micro: 0))
                }
            }
        }
    }
}

/// A write that fails with EPIPE, instead of raising SIGPIPE, once the server has closed.
private func sendWithoutSignal(_ descriptor: CInt, _ bytes: UnsafeRawBufferPointer) -> Int {
    #if canImport(Darwin)
    var on: CInt = 1
    setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<CInt>.size))
    return send(descriptor, bytes.baseAddress, bytes.count, 0)
    #else
    return send(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
    #endif
}

@Suite("QMP recording proxy: its socket")
struct RecordingProxySocketTests {
    @Test("the recording proxy's Unix socket is its owner's only, whatever the umask")
    func proxySocketIsPrivate() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-proxy-mode") { directory in
            let path = directory.appendingPathComponent("proxy.sock").path
            let proxy = try QMPRecordingProxy(
                upstream: .unixSocket(path: directory.appendingPathComponent("absent.sock").path),
                outputPath: directory.appendingPathComponent("transcript.jsonl").path
            )
            try await proxy.listen(on: .unixSocket(path: path))
            var status = stat()
            #expect(lstat(path, &status) == 0)
            #expect(status.st_mode & S_IFMT == S_IFSOCK)
            #expect(status.st_mode & 0o7777 == 0o600, "mode \(String(status.st_mode & 0o7777, radix: 8))")
            await proxy.shutdown()
        }
    }
}
