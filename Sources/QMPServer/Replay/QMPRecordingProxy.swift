import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A pass-through between QMP clients and an upstream server that writes every message, with
/// its direction and time, to a transcript (the format ``QMPTranscript`` reads).
///
/// Bytes are forwarded untouched as they arrive; the copies are read as JSON only for the log,
/// so the proxy changes nothing about the conversation. Each client gets its own upstream
/// connection. Descriptors passed with SCM_RIGHTS are not forwarded.
///
/// Each direction pushes back: while the bytes waiting to be written to one side are over a
/// limit, the proxy stops reading from the other, so its memory stays bounded whichever side
/// stops reading. Events toward a client that does not read are held back, not dropped: the
/// proxy should change nothing about the conversation, and since every client has its own
/// upstream connection, only that client's monitor waits, as it would if the client were
/// connected to QEMU directly.
///
/// The transcript is private to its owner (mode 0600) and holds no secrets unless asked to
/// (`keepingSecrets`): the copy of each command and reply is redacted (see
/// ``QMPTranscript/redactingSecrets(_:)``) while the bytes forwarded stay as sent. The proxy
/// forwards any JSON conversation, the guest agent's too, whose passwords, file contents and
/// program input are redacted the same way.
public final class QMPRecordingProxy: Sendable {
    private let upstream: QMPAddress
    private let log: TranscriptLog
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox<(listeners: [any Channel], connections: Int)>(([], 0))

    /// A proxy to `upstream` that records into a transcript file; it listens once
    /// ``listen(on:)`` is called.
    ///
    /// - Parameters:
    ///   - upstream: the QMP server to forward to, e.g. QEMU's monitor socket.
    ///   - outputPath: the transcript file; created with mode 0600, or truncated when it is a
    ///     regular file of one link (made 0600). A symbolic link, a file with other hard links,
    ///     or a device there is refused, so that the proxy cannot be pointed at another file.
    ///   - keepingSecrets: writes every message as it went, secrets included, for a transcript
    ///     that must replay exactly and stays with whoever may see them; by default they are
    ///     redacted.
    ///   - eventLoopGroup: where the connections run.
    ///   - logger: where the proxy logs; by default nowhere.
    public init(
        upstream: QMPAddress,
        outputPath: String,
        keepingSecrets: Bool = false,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "qmp", factory: { _ in SwiftLogNoOpLogHandler() })
    ) throws(QMPError) {
        self.upstream = upstream
        self.log = try TranscriptLog(path: outputPath, redactsSecrets: !keepingSecrets)
        self.group = eventLoopGroup
        self.logger = logger
    }

    /// How many bytes may wait to be written to one side before the proxy stops reading from
    /// the other (high), and how few before it reads again (low).
    static let waterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 256 * 1024, high: 1024 * 1024)

    /// Starts listening for clients; returns the address bound (with the port chosen when 0 was
    /// asked).
    @discardableResult
    public func listen(on address: QMPAddress) async throws -> QMPAddress {
        let upstream = self.upstream
        let log = self.log
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.writeBufferWaterMark, value: Self.waterMark)
            .childChannelInitializer { [self] channel in
                let connection = self.state.withLockedValue { state -> Int in
                    state.connections += 1
                    return state.connections
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ProxyHandler(upstream: upstream, log: log, connection: connection, logger: self.logger)
                    )
                }
            }
        let channel: any Channel
        switch address {
        case .unixSocket(let path):
            // Its owner's only, whatever the umask, as the server's own sockets.
            let place = try PrivateSocketDirectory(beside: path)
            defer { place.remove() }
            channel = try await place.withBindablePath { bindablePath in
                try await bootstrap.bind(unixDomainSocketPath: bindablePath).get()
            }
            do {
                try place.publish(as: path, permissions: 0o600)
            } catch {
                try? await channel.close()
                throw error
            }
        case .tcp(let host, let port):
            channel = try await bootstrap.bind(host: host, port: port).get()
        case .vsock, .characterDevice:
            throw QMPError(
                code: .invalidArguments,
                message: "the recording proxy listens on a Unix socket or TCP, not on \(address)"
            )
        }
        state.withLockedValue { $0.listeners.append(channel) }
        if case .tcp(let host, _) = address, let port = channel.localAddress?.port {
            return .tcp(host: host, port: port)
        }
        return address
    }

    /// Stops listening for clients and closes the transcript file.
    public func shutdown() async {
        let listeners = state.withLockedValue { state in
            defer { state.listeners.removeAll() }
            return state.listeners
        }
        for listener in listeners {
            try? await listener.close()
        }
        log.close()
    }
}

/// The transcript file: one JSON object per line, written under a lock.
final class TranscriptLog: Sendable {
    private let descriptor = NIOLockedValueBox<CInt>(-1)
    private let start = ContinuousClock.now

    /// Whether messages are written with their secrets redacted.
    let redactsSecrets: Bool

    init(path: String, redactsSecrets: Bool = true) throws(QMPError) {
        self.redactsSecrets = redactsSecrets
        func refusal(_ reason: String) -> QMPError {
            QMPError(code: .invalidArguments, message: "cannot write the transcript \(path): \(reason)")
        }
        // Not truncated on open: only once the checks below have passed.
        let opened = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o600)
        guard opened >= 0 else {
            let code = errno
            if code == ELOOP {
                throw refusal("it is a symbolic link; give the path of the file itself")
            }
            throw refusal(String(cString: strerror(code)))
        }
        var info = stat()
        let kind = fstat(opened, &info) == 0 ? info.st_mode & S_IFMT : 0
        guard kind == S_IFREG || kind == S_IFIFO else {
            closeFile(opened)
            throw refusal("it is not a regular file or a pipe")
        }
        if kind == S_IFREG {
            guard info.st_nlink <= 1 else {
                closeFile(opened)
                throw refusal("it has other hard links; give a path of its own")
            }
            guard fchmod(opened, 0o600) == 0, ftruncate(opened, 0) == 0 else {
                let code = errno
                closeFile(opened)
                throw refusal(String(cString: strerror(code)))
            }
        }
        _ = fcntl(opened, F_SETFL, fcntl(opened, F_GETFL) & ~O_NONBLOCK)
        descriptor.withLockedValue { $0 = opened }
    }

    /// Writes one line; a message (`key` "message") with its secrets redacted unless the
    /// transcript keeps them.
    func record(toServer: Bool, connection: Int, _ entry: JSONValue, key: String = "message") {
        let entry = redactsSecrets && key == "message" ? QMPTranscript.redactingSecrets(entry) : entry
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        let time = Double(seconds) + Double(attoseconds) / 1e18
        let line: JSONValue = [
            "time": .double((time * 1e6).rounded() / 1e6),
            "direction": toServer ? "to-server" : "from-server",
            "connection": .int(Int64(connection)),
            key: entry,
        ]
        var bytes: [UInt8] = []
        line.write(to: &bytes)
        bytes.append(10)
        descriptor.withLockedValue { descriptor in
            guard descriptor >= 0 else { return }
            _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        }
    }

    func close() {
        descriptor.withLockedValue { descriptor in
            if descriptor >= 0 {
                closeFile(descriptor)
                descriptor = -1
            }
        }
    }
}

/// One client's side: connects upstream on activation, then forwards both ways and logs.
private final class ProxyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let upstreamAddress: QMPAddress
    let log: TranscriptLog
    let connection: Int
    let logger: Logger
    var upstream: (any Channel)?
    var reader = JSONReader(configuration: .server)

    init(upstream: QMPAddress, log: TranscriptLog, connection: Int, logger: Logger) {
        self.upstreamAddress = upstream
        self.log = log
        self.connection = connection
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let client = context.channel
        let log = self.log
        let connection = self.connection
        let bootstrap = ClientBootstrap(group: context.eventLoop)
            .channelOption(.writeBufferWaterMark, value: QMPRecordingProxy.waterMark)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UpstreamHandler(client: client, log: log, connection: connection)
                    )
                }
            }
        let connecting: EventLoopFuture<any Channel>
        switch upstreamAddress {
        case .unixSocket(let path):
            do {
                if let (link, shortPath) = try ShortDirectoryLink.shortening(path) {
                    connecting = bootstrap.connect(unixDomainSocketPath: shortPath)
                    connecting.whenComplete { _ in link.remove() }
                } else {
                    connecting = bootstrap.connect(unixDomainSocketPath: path)
                }
            } catch {
                connecting = context.eventLoop.makeFailedFuture(error)
            }
        case .tcp(let host, let port): connecting = bootstrap.connect(host: host, port: port)
        case .vsock, .characterDevice:
            connecting = context.eventLoop.makeFailedFuture(
                QMPError(
                    code: .invalidArguments,
                    message: "the recording proxy reaches QEMU by a Unix socket or TCP, not by \(upstreamAddress)"
                )
            )
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let address = upstreamAddress
        connecting.whenComplete { result in
            switch result {
            case .success(let channel):
                bound.value.upstream = channel
                client.setOption(.autoRead, value: true).whenComplete { _ in client.read() }
            case .failure(let error):
                bound.value.logger.info("upstream \(address) unreachable", metadata: ["error": "\(error)"])
                client.close(promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        // Logged before it is passed on: once the other side has a message, the transcript has
        // it too, even when the proxy is shut down the moment that side has its answer.
        reader.feed(buffer)
        while true {
            do {
                guard let value = try reader.next() else { break }
                log.record(toServer: true, connection: connection, value)
            } catch {
                log.record(toServer: true, connection: connection, .string(error.description), key: "malformed")
            }
        }
        upstream?.writeAndFlush(buffer, promise: nil)
    }

    /// While the client does not take what upstream sends, upstream is not read.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if let upstream {
            setReading(upstream, context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream?.close(promise: nil)
        context.fireChannelInactive()
    }
}

private final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let client: any Channel
    let log: TranscriptLog
    let connection: Int
    var reader = JSONReader(configuration: .client)

    init(client: any Channel, log: TranscriptLog, connection: Int) {
        self.client = client
        self.log = log
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        // Logged before it is passed on (see ProxyHandler.channelRead).
        reader.feed(buffer)
        while true {
            do {
                guard let value = try reader.next() else { break }
                // Redacted too: a reply carries the contents of a file the guest agent read.
                log.record(toServer: false, connection: connection, value)
            } catch {
                log.record(toServer: false, connection: connection, .string(error.description), key: "malformed")
            }
        }
        client.writeAndFlush(buffer, promise: nil)
    }

    /// While upstream does not take what the client sends, the client is not read.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        setReading(client, context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.close(promise: nil)
        context.fireChannelInactive()
    }
}

/// Starts or stops reading `channel`, which runs on the calling event loop (both channels of a
/// client share one). Turning automatic reading back on reads at once.
private func setReading(_ channel: any Channel, _ reading: Bool) {
    try? channel.syncOptions?.setOption(.autoRead, value: reading)
}

/// `close(2)`, under a name no type member shadows.
private func closeFile(_ descriptor: CInt) {
    _ = close(descriptor)
}
