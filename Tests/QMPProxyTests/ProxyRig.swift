import Foundation
import QMPClient
import QMPCore
import QMPProxy
import QMPServer
import QMPSimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A simulated QEMU 7.2 behind a recording pass-through (the upstream side's proof of what
/// reached the monitor), a `QMPClient` to it, and a ``QMPProxy`` over that client.
struct ProxyRig {
    /// The addresses of each listener, in the order the rig was given them.
    var listeners: [[QMPAddress]]
    var proxy: QMPProxy
    var upstream: QMPClient
    /// The simulator's own server, to end the upstream side from under the proxy.
    var simulatorServer: QMPServer
    var transcriptPath: String

    /// The first Unix socket of listener `index`.
    func path(_ index: Int = 0) -> String {
        for case .unixSocket(let path) in listeners[index] { return path }
        preconditionFailure("listener \(index) has no Unix socket")
    }

    /// The commands that reached the simulated QEMU, with their arguments, as the recording has
    /// them (secrets redacted).
    func commandsReachingQEMU() throws -> [(name: String, arguments: JSONObject)] {
        let text = try String(contentsOfFile: transcriptPath, encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line in
            let entry = try JSONValue(parsing: String(line))
            guard entry["direction"] == "to-server", case .object(let message)? = entry["message"],
                case .string(let name)? = message["execute"] ?? message["exec-oob"]
            else { return nil }
            guard case .object(let arguments)? = message["arguments"] else { return (name, [:]) }
            return (name, arguments)
        }
    }

    /// Runs `body` with a rig whose proxy has these listeners (their addresses are made here: a
    /// Unix socket each, and a TCP port when `tcp` is set).
    static func with<Result: Sendable>(
        listeners: [(name: String, policy: QMPProxyPolicy)] = [("main", .standard)],
        peerPolicies: [[QMPProxy.PeerPolicy]] = [],
        tcp: Bool = false,
        simulator: QEMUSimulator.Configuration = .init(),
        eventBacklogLimit: Int = 1 << 20,
        _ body: (ProxyRig) async throws -> Result
    ) async throws -> Result {
        try await withTemporaryDirectory { directory in
            let qemuPath = directory + "/qemu.sock"
            let recordedPath = directory + "/recorded.sock"
            let transcriptPath = directory + "/transcript.jsonl"
            let server = QEMUSimulator(configuration: simulator).makeServer(
                listeningOn: [.unixSocket(path: qemuPath)],
                shutdownGracePeriod: .seconds(2)
            )
            return try await server.serving { _ in
                let recorder = try QMPRecordingProxy(upstream: .unixSocket(path: qemuPath), outputPath: transcriptPath)
                try await recorder.listen(on: .unixSocket(path: recordedPath))
                do {
                    let result = try await QMPClient.withConnection(to: .unixSocket(path: recordedPath)) { upstream in
                        let proxy = QMPProxy(
                            upstream: upstream,
                            configuration: .init(
                                listeners: listeners.enumerated().map { index, listener in
                                    var addresses: [QMPAddress] = [.unixSocket(path: directory + "/proxy\(index).sock")]
                                    if tcp { addresses.append(.tcp(host: "127.0.0.1", port: 0)) }
                                    return .init(
                                        name: listener.name,
                                        addresses: addresses,
                                        policy: listener.policy,
                                        peerPolicies: index < peerPolicies.count ? peerPolicies[index] : []
                                    )
                                },
                                eventBacklogLimit: eventBacklogLimit,
                                shutdownGracePeriod: .seconds(2),
                                // Generous: the suite's load must not cut off a client's second command.
                                servingAfterUpstreamLoss: .seconds(2)
                            )
                        )
                        return try await proxy.serving { addresses in
                            try await body(
                                ProxyRig(
                                    listeners: addresses,
                                    proxy: proxy,
                                    upstream: upstream,
                                    simulatorServer: server,
                                    transcriptPath: transcriptPath
                                )
                            )
                        }
                    }
                    await recorder.shutdown()
                    return result
                } catch {
                    await recorder.shutdown()
                    throw error
                }
            }
        }
    }
}

/// A private directory while `body` runs, removed whether it returns or throws.
func withTemporaryDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "proxy-\(UUID().uuidString.prefix(8))"
    )
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory.path)
}

/// A client that writes exactly the bytes a test gives it and reads the lines that come back,
/// to see ids and order as they are on the wire. It polls a non-blocking socket, so that waiting
/// never ties up a thread the proxy's tasks need.
final class WireClient {
    let descriptor: CInt
    private var pending: [UInt8] = []

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
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(descriptor) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    /// The next message, or nil when the connection ends or nothing comes within `timeout`.
    func next(timeout: Duration = .seconds(30)) async throws -> JSONValue? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let end = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<end], as: UTF8.self)
                pending.removeSubrange(...end)
                return try JSONValue(parsing: line)
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                pending += chunk[..<count]
                continue
            }
            guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK, ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// The next message that is not an event.
    func reply(timeout: Duration = .seconds(30)) async throws -> JSONValue? {
        while let message = try await next(timeout: timeout) {
            if message["event"] == nil { return message }
        }
        return nil
    }

    /// Reads the greeting, negotiates, and returns the greeting.
    @discardableResult
    func negotiate(oob: Bool = false) async throws -> JSONValue? {
        let greeting = try await next()
        send(
            oob ? #"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}"# : #"{"execute":"qmp_capabilities"}"#
        )
        _ = try await reply()
        return greeting
    }
}
