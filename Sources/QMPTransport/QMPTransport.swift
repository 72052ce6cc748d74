import CQMPSystem
import NIOCore
import NIOPosix
import QMPCore

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How the clients reach what a ``QMPAddress`` names: QEMU's monitor (`QMPClient`) and its guest
/// agent (`QGAClient`) listen on the same kinds of endpoints, and a user should get the same
/// reach (Unix socket paths longer than `sun_path`), the same bounds and the same explanations
/// of a failed connect from both.
///
/// Every message names the endpoint as the caller describes it ("QMP socket /run/qmp.sock",
/// "the guest agent at vsock:3:1234"), so that an error says what could not be reached.
package enum QMPTransport {
    /// A channel to `address` with `initializer` run on it before it becomes active.
    ///
    /// - Parameters:
    ///   - address: where to connect.
    ///   - endpoint: what the messages call it.
    ///   - limit: how long the connect may take (a character device opens at once).
    ///   - eventLoop: the loop the channel runs on.
    ///   - initializer: sets up the channel's pipeline.
    /// - Throws: `QMPError`: `connectionFailed` with the system's reason and a hint,
    ///   `timeout` when `limit` passes first.
    package static func connect(
        to address: QMPAddress,
        naming endpoint: String,
        within limit: Duration,
        on eventLoop: any EventLoop,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any Channel {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(limit))
            .channelInitializer(initializer)
        switch address {
        case .unixSocket(let path):
            let descriptor = try await connectUnixSocket(path, naming: endpoint, within: limit)
            do {
                return try await bootstrap.withConnectedSocket(descriptor).get()
            } catch {
                // The bootstrap did not take the descriptor over.
                closeDescriptor(descriptor)
                throw connectError(error, peer: endpoint)
            }
        case .tcp(let host, let port):
            do {
                return try await bootstrap.connect(host: host, port: port).get()
            } catch {
                throw connectError(error, peer: endpoint)
            }
        case .vsock(let cid, let port):
            do {
                return try await bootstrap.connect(to: vsockAddress(cid: cid, port: port)).get()
            } catch {
                throw vsockConnectError(error, peer: endpoint)
            }
        case .characterDevice(let path):
            let descriptor = try openCharacterDevice(path, naming: endpoint)
            do {
                return try await NIOPipeBootstrap(group: eventLoop)
                    .channelInitializer(initializer)
                    .takingOwnershipOfDescriptor(inputOutput: descriptor)
                    .get()
            } catch {
                // A failed bootstrap leaves the descriptor with its caller.
                closeDescriptor(descriptor)
                throw QMPError(
                    code: .connectionFailed,
                    message: "could not use the character device of \(endpoint)",
                    underlying: error
                )
            }
        }
    }

    /// NIO's address for a vsock endpoint.
    package static func vsockAddress(cid: UInt32, port: UInt32) -> VsockAddress {
        VsockAddress(cid: VsockAddress.ContextID(rawValue: cid), port: VsockAddress.Port(rawValue: port))
    }

    // MARK: Unix sockets

    /// Connects a Unix socket without ever blocking: a blocking `connect(2)` to a socket whose
    /// listen backlog is full (QEMU accepts one client per monitor; the others queue) sleeps
    /// with no bound, whatever the timeout says. Linux answers a non-blocking one at once, with
    /// `EAGAIN` for a full backlog, so the attempt is repeated until `limit`. A path longer
    /// than `sun_path` holds is reached through its directory.
    ///
    /// - Returns: the connected descriptor, which the caller owns.
    package static func connectUnixSocket(
        _ path: String,
        naming endpoint: String,
        within limit: Duration
    ) async throws -> CInt {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var pause: Duration = .milliseconds(1)
        func timedOut(_ why: String) -> QMPError {
            QMPError(code: .timeout, message: "could not connect to \(endpoint) within \(limit): \(why)")
        }
        while true {
            var descriptor: CInt = -1
            let result = cqmp_connect_unix_nonblocking(path, &descriptor)
            if result == 0 {
                return descriptor
            }
            if result == -EINPROGRESS {
                // Elsewhere than on Linux a Unix connect may finish later; wait for it the same way.
                while true {
                    let finished = cqmp_connect_finished(descriptor)
                    if finished == 0 {
                        return descriptor
                    }
                    if finished != -EINPROGRESS {
                        closeDescriptor(descriptor)
                        throw connectError(errno: -finished, socketPath: path, naming: endpoint)
                    }
                    if clock.now >= deadline {
                        closeDescriptor(descriptor)
                        throw timedOut("the connection was not accepted")
                    }
                    do {
                        try await Task.sleep(for: pause)
                    } catch {
                        closeDescriptor(descriptor)
                        throw error
                    }
                    pause = min(pause * 2, .milliseconds(50))
                }
            }
            guard result == -EAGAIN else {
                throw connectError(errno: -result, socketPath: path, naming: endpoint)
            }
            if clock.now >= deadline {
                throw timedOut(
                    "its listen backlog stayed full (another client holds this monitor, and more wait for it)"
                )
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    /// A failed Unix socket connect, with a hint for the reasons people meet.
    package static func connectError(errno code: CInt, socketPath path: String, naming endpoint: String) -> QMPError {
        let hint: String?
        switch code {
        case ENOENT: hint = "no socket exists at that path"
        case ECONNREFUSED:
            var info = stat()
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFSOCK {
                hint = "the path is not a socket"
            } else {
                #if os(Linux)
                // On Linux a monitor held by another client still accepts into its backlog (or
                // makes the connect wait); a refusal means no process listens on the socket.
                hint = "nothing is listening there (a socket file left behind by a QEMU that is gone)"
                #else
                hint = "nothing is listening there, or its backlog is full (another client holds the monitor)"
                #endif
            }
        case ENAMETOOLONG:
            // Longer paths are reached through their directory; only the name must fit then.
            hint =
                "the socket's name is too long for a Unix socket address (sun_path holds 107 bytes on Linux, "
                + "103 on macOS)"
        case ENOTSOCK: hint = "the path is not a socket"
        case EACCES: hint = "permission denied"
        // The system's text comes with the underlying error.
        default: hint = nil
        }
        return QMPError(
            code: .connectionFailed,
            message: "could not connect to \(endpoint)" + (hint.map { ": " + $0 } ?? ""),
            underlying: SystemError(errno: code)
        )
    }

    // MARK: Sockets through NIO

    /// A failed NIO connect, with the system's reason when there is one.
    package static func connectError(_ error: any Error, peer: String) -> QMPError {
        connectError(error, peer: peer) { code in
            // Other reasons speak through the underlying error's text.
            code == ECONNREFUSED ? "nothing is listening on that port" : nil
        }
    }

    /// A failed vsock connect: the reasons differ from TCP's, as does what the kernel says.
    static func vsockConnectError(_ error: any Error, peer: String) -> QMPError {
        connectError(error, peer: peer) { code in
            switch code {
            // Linux resets a connect to a port nobody listens on.
            case ECONNREFUSED, ECONNRESET: "nothing is listening on that port"
            case EAFNOSUPPORT: "this system has no vsock support"
            case ENODEV: "no vsock transport reaches that context id (no such machine, or its module is not loaded)"
            case ENETUNREACH, EHOSTUNREACH: "no machine has that context id"
            default: nil
            }
        }
    }

    private static func connectError(
        _ error: any Error,
        peer: String,
        hint: (CInt) -> String?
    ) -> QMPError {
        if let failure = error as? ChannelError, case .connectTimeout(let limit) = failure {
            let seconds = Double(limit.nanoseconds) / 1e9
            return QMPError(
                code: .timeout,
                message: "could not connect to \(peer) within \(seconds) s",
                underlying: error
            )
        }
        var code: CInt?
        if let failure = error as? NIOConnectionError {
            code = failure.connectionErrors.lazy.compactMap { ($0.error as? IOError)?.errnoCode }.first
        } else if let failure = error as? IOError {
            code = failure.errnoCode
        }
        guard let code else {
            return QMPError(code: .connectionFailed, message: "could not connect to \(peer)", underlying: error)
        }
        return QMPError(
            code: .connectionFailed,
            message: "could not connect to \(peer)" + (hint(code).map { ": " + $0 } ?? ""),
            underlying: SystemError(errno: code)
        )
    }
}

/// An `errno` value with its text, as the `underlying` error of a ``QMPError``: shared by the
/// clients and the launcher, no API of its own.
package struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    package var errno: CInt
    package init(errno: CInt) { self.errno = errno }
    package var description: String { "errno \(errno): \(String(cString: strerror(errno)))" }
}

/// `close(2)`, under a name no type member shadows.
package func closeDescriptor(_ descriptor: CInt) {
    _ = close(descriptor)
}
