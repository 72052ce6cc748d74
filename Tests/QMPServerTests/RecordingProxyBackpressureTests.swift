import Foundation
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

/// The recording proxy holds a bounded amount whichever side stops reading: it stops reading
/// the other side instead of buffering without end.
@Suite("Recording proxy backpressure")
struct RecordingProxyBackpressureTests {
    /// Far more than the proxy may hold (its limit plus the kernel's socket buffers), far less
    /// than what an unbounded proxy takes in the same time.
    static let bound = 24 * 1024 * 1024
    static let flood = 96 * 1024 * 1024

    @Test("events toward a client that does not read stop being read from upstream")
    func clientThatDoesNotRead() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-bp") { directory in
            let upstreamPath = directory.path + "/qemu.sock"
            let listener = try BlockingUnixSocket.listening(at: upstreamPath)
            defer { close(listener) }
            let proxy = try QMPRecordingProxy(
                upstream: .unixSocket(path: upstreamPath),
                outputPath: directory.path + "/t.jsonl"
            )
            let front = try await proxy.listen(on: .unixSocket(path: directory.path + "/front.sock"))
            guard case .unixSocket(let frontPath) = front else {
                Issue.record("the proxy listens at \(front), not at the Unix socket asked for")
                return
            }
            let client = try BlockingUnixSocket.connected(to: frontPath)
            defer { close(client) }
            let event = FakeEventLine.blockIOError
            let taken = await offThePool {
                let upstream = accept(listener, nil, nil)
                defer { close(upstream) }
                return BlockingUnixSocket.flood(repeating: event, to: upstream, upTo: Self.flood)
            }
            await proxy.shutdown()
            #expect(taken < Self.bound, "upstream could write \(taken) bytes toward a client that reads nothing")
        }
    }

    @Test("commands toward an upstream that does not read stop being read from the client")
    func upstreamThatDoesNotRead() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-bp") { directory in
            let upstreamPath = directory.path + "/qemu.sock"
            let listener = try BlockingUnixSocket.listening(at: upstreamPath)
            defer { close(listener) }
            let proxy = try QMPRecordingProxy(
                upstream: .unixSocket(path: upstreamPath),
                outputPath: directory.path + "/t.jsonl"
            )
            let front = try await proxy.listen(on: .unixSocket(path: directory.path + "/front.sock"))
            guard case .unixSocket(let frontPath) = front else {
                Issue.record("the proxy listens at \(front), not at the Unix socket asked for")
                return
            }
            let client = try BlockingUnixSocket.connected(to: frontPath)
            defer { close(client) }
            let upstream = await offThePool { accept(listener, nil, nil) }
            defer { close(upstream) }
            let command =
                Array(#"{"execute": "query-status", "arguments": {"x": ""#.utf8)
                + Array(repeating: UInt8(ascii: "a"), count: 16 * 1024) + Array(#""}}"#.utf8) + [10]
            let taken = await offThePool { BlockingUnixSocket.flood(repeating: command, to: client, upTo: Self.flood) }
            await proxy.shutdown()
            #expect(taken < Self.bound, "a client could write \(taken) bytes toward an upstream that reads nothing")
        }
    }
}

/// Blocking Unix sockets, for peers that misbehave on purpose.
enum BlockingUnixSocket {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func withAddress<Result>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in path.utf8.prefix(bytes.count - 1).enumerated() {
                bytes[index] = byte
            }
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    static func listening(at path: String) throws -> CInt {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0, withAddress(path, { bind(descriptor, $0, $1) }) == 0, listen(descriptor, 4) == 0
        else {
            throw Failure(description: "cannot listen on \(path): errno \(errno)")
        }
        return descriptor
    }

    static func connected(to path: String) throws -> CInt {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0, withAddress(path, { connect(descriptor, $0, $1) }) == 0 else {
            throw Failure(description: "cannot connect to \(path): errno \(errno)")
        }
        return descriptor
    }

    /// Writes `chunk` again and again without blocking until `limit` bytes were taken or the
    /// peer took nothing for a second; returns how many bytes were taken.
    static func flood(repeating chunk: [UInt8], to descriptor: CInt, upTo limit: Int) -> Int {
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        var taken = 0
        var offset = 0
        var lastProgress = ContinuousClock.now
        while taken < limit && ContinuousClock.now - lastProgress < .seconds(1) {
            let written = chunk.withUnsafeBytes { bytes in
                write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            }
            if written > 0 {
                taken += written
                offset = (offset + written) % chunk.count
                lastProgress = .now
            } else if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                usleep(5_000)
            } else {
                break
            }
        }
        return taken
    }
}

/// Runs blocking work on a Dispatch thread, off the cooperative pool.
private func offThePool<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

/// An event as QEMU writes it, line end included.
enum FakeEventLine {
    static let blockIOError: [UInt8] =
        Array(#"{"event": "BLOCK_IO_ERROR", "data": {"device": "disk0", "operation": "write"}, "#.utf8)
        + Array(#""timestamp": {"seconds": 1, "microseconds": 2}}"#.utf8) + [13, 10]
}
