import Logging
import NIOCore
import NIOPosix
import QMPCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A command whose handler is `async`, handed by a connection's channel handler to the task that
/// owns the connection (through the connection's `NIOAsyncChannel`), which runs it in a child
/// task and hands the result back on the connection's event loop.
struct QMPAsyncCommand: Sendable {
    var request: QMPServerStateMachine.Request
    var serverRequest: QMPServerRequest
    var handler: QMPCommandHandler
    var connection: NIOLoopBound<QMPServerConnectionHandler>

    func run() async {
        let outcome = await QMPServer.run(handler, serverRequest)
        let connection = self.connection
        let request = self.request
        connection.eventLoop.execute {
            connection.value.finishedLater(request, outcome)
        }
    }
}

extension QMPServer: Service {
    /// A connection as the accepting task receives it.
    struct AcceptedConnection: Sendable {
        var channel: NIOAsyncChannel<QMPAsyncCommand, Never>
        /// None for a connection refused at the connection limit.
        var handler: NIOLoopBound<QMPServerConnectionHandler>?
    }

    typealias Listener = NIOAsyncChannel<AcceptedConnection, Never>

    /// Listens on ``Configuration/addresses`` and serves until the task is cancelled or a
    /// graceful shutdown is triggered (by a `ServiceGroup`, or ``beginGracefulShutdown()``).
    /// Call it once.
    ///
    /// A graceful shutdown stops accepting and stops reading further commands; commands already
    /// read (running, or queued behind an in-band one) go on, for up to
    /// ``Configuration/shutdownGracePeriod``, and each connection closes once its last reply has
    /// left. When the grace period runs out, every command still unanswered gets the error
    /// reply `GenericError` "The server shut down before the command finished", the connections
    /// close, and the handlers still running are cancelled. Cancelling the task does the same at
    /// once. Either way `run()` returns once every handler has returned: handlers must honour
    /// cancellation for `run()` to end within the bound. Commands a client sent that had not
    /// been read yet get no reply; the client sees the connection close. The Unix socket files
    /// bound are removed.
    ///
    /// An error on one connection closes that connection only. When a client disconnects, the
    /// `async` handlers still running its commands are cancelled.
    ///
    /// - Throws: when an address cannot be bound (any bound already are closed again), or when
    ///   the server has run before.
    public func run() async throws {
        try await run(announcing: nil)
    }

    /// Runs the server while `body` runs, handing `body` the addresses bound (a TCP port 0
    /// replaced by the port chosen); then shuts the server down gracefully, whether `body`
    /// returned or threw, and returns `body`'s result once ``run()`` has returned.
    public func serving<Result: Sendable>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: ([QMPAddress]) async throws -> Result
    ) async throws -> Result {
        let (bound, announce) = AsyncStream<[QMPAddress]>.makeStream()
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { try await self.run(announcing: announce) }
            var addresses: [QMPAddress]?
            for await announced in bound {
                addresses = announced
                break
            }
            guard let addresses else {
                // run() ended before it listened: its error says why.
                try await group.waitForAll()
                throw QMPError(code: .connectionClosed, message: "the server stopped before it listened")
            }
            let result: Result
            do {
                result = try await body(addresses)
            } catch {
                beginGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
            beginGracefulShutdown()
            try await group.waitForAll()
            return result
        }
    }

    /// Makes ``run()`` shut down gracefully, as a `ServiceGroup`'s graceful shutdown does; a
    /// server that has not started yet will stop as soon as it has bound its addresses.
    public func beginGracefulShutdown() {
        shutdownTrigger.finish()
    }

    private func run(announcing announce: AsyncStream<[QMPAddress]>.Continuation?) async throws {
        defer { announce?.finish() }
        let started = state.withLockedValue { state -> Bool in
            guard state.phase == .initial else { return false }
            state.phase = .running
            return true
        }
        guard started else {
            throw QMPError(code: .connectionClosed, message: "the server has run already; a QMPServer runs once")
        }
        let listeners: [Listener]
        var bound: [QMPAddress] = []
        do {
            listeners = try await bindAll(into: &bound)
        } catch {
            state.withLockedValue { $0.phase = .finished }
            throw error
        }
        logger.debug("QMP server listening", metadata: ["qmp_addresses": "\(bound)"])
        await onListening(bound)
        announce?.yield(bound)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.accept(on: listeners) }
                group.addTask { await self.superviseShutdown() }
                // The first to end is either the accepting side, with every connection closed
                // (the grace period is then no longer needed), or the supervisor, once the
                // grace period ran out: the handlers still running are cancelled.
                await group.next()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.beginGracefulShutdown()
        }
        state.withLockedValue { state in
            state.phase = .finished
            // Closed by now; a finished server need not keep them.
            state.listeners.removeAll()
        }
        for address in bound {
            if case .unixSocket(let path) = address {
                unlink(path)
            }
        }
        logger.debug("QMP server stopped", metadata: ["qmp_addresses": "\(bound)"])
    }

    private func bindAll(into bound: inout [QMPAddress]) async throws -> [Listener] {
        var listeners: [Listener] = []
        do {
            for address in configuration.addresses {
                let listener = try await bind(address)
                listeners.append(listener)
                state.withLockedValue { $0.listeners.append(listener.channel) }
                if case .tcp(let host, _) = address, let port = listener.channel.localAddress?.port {
                    bound.append(.tcp(host: host, port: port))
                } else {
                    bound.append(address)
                }
            }
        } catch {
            for listener in listeners {
                try? await listener.channel.close()
            }
            for case .unixSocket(let path) in bound {
                unlink(path)
            }
            throw error
        }
        return listeners
    }

    private func bind(_ address: QMPAddress) async throws -> Listener {
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: configuration.eventLoopGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptErrorHandler(logger: logger))
                }
            }
            .childChannelOption(.autoRead, value: false)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<AcceptedConnection> = { [self] channel in
            channel.eventLoop.makeCompletedFuture { try self.setUp(channel) }
        }
        switch address {
        case .unixSocket(let path):
            let place = try PrivateSocketDirectory(beside: path)
            defer { place.remove() }
            let listener = try await place.withBindablePath { bindablePath in
                try await bootstrap.bind(
                    unixDomainSocketPath: bindablePath,
                    cleanupExistingSocketFile: false,
                    childChannelInitializer: initializer
                )
            }
            do {
                try place.publish(as: path, permissions: configuration.unixSocketPermissions)
            } catch {
                try? await listener.channel.close()
                throw error
            }
            return listener
        case .tcp(let host, let port):
            return try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
        case .vsock, .characterDevice:
            throw QMPError(
                code: .invalidArguments,
                message: "a QMP server listens on a Unix socket or TCP, not on \(address)"
            )
        }
    }

    /// Keeps the credentials of a Unix socket's peer with its connection. Asked on the channel's
    /// event loop, where the answer is there at once: long before the client's first command.
    private func recordPeerCredentials(of channel: any Channel, id: Int) {
        guard case .unixDomainSocket? = channel.localAddress, let provider = channel as? any SocketOptionProvider
        else { return }
        #if canImport(Darwin)
        let asked: EventLoopFuture<xucred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_LOCAL),
            name: SocketOptionName(LOCAL_PEERCRED)
        )
        let credentials = asked.map { QMPPeerCredentials(uid: $0.cr_uid, gid: $0.cr_groups.0) }
        #else
        let asked: EventLoopFuture<LinuxPeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        )
        let credentials = asked.map { QMPPeerCredentials(uid: $0.uid, gid: $0.gid) }
        #endif
        credentials.whenSuccess { peer in
            self.state.withLockedValue { $0.connections[id]?.peer = peer }
        }
    }

    /// A new connection's pipeline: the protocol in ``QMPServerConnectionHandler``, then the
    /// `NIOAsyncChannel` through which it hands `async` commands to the connection's task. A
    /// connection beyond ``Configuration/maximumConnections`` gets a pipeline that closes it.
    private func setUp(_ channel: any Channel) throws -> AcceptedConnection {
        let id = state.withLockedValue { state -> Int in
            defer { state.nextConnectionID += 1 }
            return state.nextConnectionID
        }
        let outbox = QMPEventOutbox(allocator: channel.allocator, limit: configuration.eventBacklogLimit, usage: usage)
        let handler = QMPServerConnectionHandler(id: id, server: self, outbox: outbox, logger: logger)
        let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        let connection = Connection(id: id, handler: bound, outbox: outbox)
        let maximum = configuration.maximumConnections
        // Counted and added under one lock, so that connections accepted on several event loops
        // at once cannot pass the limit together.
        let admitted = state.withLockedValue { state -> Bool? in
            guard state.connections.count < maximum else { return nil }
            state.connections[id] = connection
            return state.phase == .running
        }
        guard let running = admitted else {
            usage.refusedConnection()
            logger.warning(
                "QMP server refused a client: the connection limit is reached",
                metadata: ["qmp_maximum_connections": "\(maximum)"]
            )
            try channel.pipeline.syncOperations.addHandler(RefusedConnectionHandler())
            let asyncChannel = try NIOAsyncChannel<QMPAsyncCommand, Never>(wrappingChannelSynchronously: channel)
            return AcceptedConnection(channel: asyncChannel, handler: nil)
        }
        channel.closeFuture.whenComplete { _ in
            self.state.withLockedValue { _ = $0.connections.removeValue(forKey: id) }
        }
        recordPeerCredentials(of: channel, id: id)
        try channel.pipeline.syncOperations.addHandler(handler)
        let asyncChannel = try NIOAsyncChannel<QMPAsyncCommand, Never>(wrappingChannelSynchronously: channel)
        if !running {
            // Accepted just as the listeners closed: it gets its greeting, then the connection closes.
            handler.drain()
        }
        return AcceptedConnection(channel: asyncChannel, handler: bound)
    }

    /// Accepts on every listener until it closes; each listener's connections are child tasks
    /// of its own discarding group, so that this returns once every connection has ended.
    private func accept(on listeners: [Listener]) async {
        await withDiscardingTaskGroup { group in
            for listener in listeners {
                group.addTask {
                    await withDiscardingTaskGroup { connections in
                        do {
                            try await listener.executeThenClose { inbound in
                                for try await connection in inbound {
                                    connections.addTask { await self.serve(connection) }
                                }
                            }
                        } catch {
                            self.logger.debug("QMP server stopped accepting", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
        }
    }

    /// Owns one connection: runs its `async` commands as child tasks until the connection
    /// closes, then waits for those still running, and closes the channel. Errors end the
    /// connection, never the server.
    private func serve(_ connection: AcceptedConnection) async {
        do {
            try await connection.channel.executeThenClose { inbound, _ in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await command in inbound {
                            group.addTask { await command.run() }
                        }
                    } catch {
                        self.logger.debug("QMP server connection ended", metadata: ["error": "\(error)"])
                    }
                    if Task.isCancelled, let handler = connection.handler {
                        // Cancelled run(): answer what is outstanding before the channel closes.
                        try? await handler.eventLoop.submit { handler.value.abort() }.get()
                    }
                    // The connection is gone: no one is left to receive what the handlers still
                    // running would answer.
                    group.cancelAll()
                }
            }
        } catch {
            logger.debug("QMP server connection closed with an error", metadata: ["error": "\(error)"])
        }
    }

    /// Waits for the shutdown signal (or cancellation), then stops accepting, lets the
    /// connections drain for the grace period, and ends what is left.
    private func superviseShutdown() async {
        // Ends when the trigger finishes the stream, or when the task is cancelled.
        for await _ in shutdownSignal {}
        let (listeners, connections) = state.withLockedValue { state in
            if state.phase == .running {
                state.phase = .shuttingDown
            }
            return (state.listeners, state.connections)
        }
        logger.debug("QMP server shutting down", metadata: ["qmp_connections": "\(connections.count)"])
        for listener in listeners {
            listener.close(promise: nil)
        }
        for connection in connections.values {
            let handler = connection.handler
            handler.eventLoop.execute { handler.value.drain() }
        }
        // Cancellation (or the accepting side finishing first) ends the wait early.
        try? await Task.sleep(for: configuration.shutdownGracePeriod)
        let remaining = state.withLockedValue { $0.connections }
        for connection in remaining.values {
            let handler = connection.handler
            try? await handler.eventLoop.submit { handler.value.abort() }.get()
        }
    }
}

/// The whole pipeline of a connection refused at the connection limit: it closes before
/// anything is read or written, so the client sees the connection end instead of a greeting.
private final class RefusedConnectionHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }
}

/// Where a Unix socket is bound before it gets its place: a directory only its owner can enter,
/// made beside the socket's path so that a rename can move the socket there.
///
/// A socket file's mode comes from the umask at `bind(2)` time, and the umask belongs to the
/// whole process, whose other threads may be creating files meanwhile; changing the mode after
/// binding leaves a moment in which anyone could connect. Bound in a private directory, the
/// socket can be given its mode while no one else can reach it, then renamed into place, which
/// also replaces a stale socket file at once.
struct PrivateSocketDirectory {
    let directory: String
    var socketPath: String { directory + "/s" }

    init(beside path: String) throws {
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var template = Array(((parent.isEmpty ? "" : parent) + "/.qXXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw IOError(errnoCode: errno, reason: "mkdtemp beside \(path)") }
        directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Gives the socket `permissions` and moves it to `path`; a socket file there is replaced,
    /// anything else is left alone and the move refused.
    func publish(as path: String, permissions: Int) throws {
        guard chmod(socketPath, mode_t(permissions)) == 0 else {
            throw IOError(errnoCode: errno, reason: "chmod \(socketPath)")
        }
        let notASocket = IOError(errnoCode: EEXIST, reason: "\(path) exists and is not a socket, so it was left alone")
        var status = stat()
        if stat(path, &status) == 0 {
            guard status.st_mode & S_IFMT == S_IFSOCK else { throw notASocket }
        } else if errno != ENOENT {
            throw IOError(errnoCode: errno, reason: "stat \(path)")
        } else if lstat(path, &status) == 0 {
            // A symbolic link to nothing.
            throw notASocket
        }
        guard rename(socketPath, path) == 0 else { throw IOError(errnoCode: errno, reason: "rename to \(path)") }
    }

    /// Removes the directory, and the socket when it was not moved out.
    func remove() {
        unlink(socketPath)
        rmdir(directory)
    }

    /// Runs `bind` with a path to ``socketPath`` short enough for a socket address: the path
    /// itself, or one through a ``ShortDirectoryLink`` to the private directory, removed once
    /// `bind` returns. The socket is made in the private directory all the same, from where
    /// ``publish(as:permissions:)`` renames it (a rename has no such limit).
    func withBindablePath<Value>(_ bind: (String) async throws -> Value) async throws -> Value {
        guard socketPath.utf8.count > ShortDirectoryLink.longestSocketPath else { return try await bind(socketPath) }
        let link = try ShortDirectoryLink(to: directory)
        defer { link.remove() }
        return try await bind(link.path + "/s")
    }
}

/// A short path to a directory, for a Unix socket in it whose own path is longer than a socket
/// address holds: a symbolic link in a directory of its own under `/tmp` that only its owner
/// can enter. The kernel follows the link while it binds or connects, so the socket is the one
/// in the directory; the link is needed only for that call, and removed after it.
///
/// Changing the working directory would shorten the path too, but the working directory belongs
/// to the whole process, whose other threads may be resolving relative paths meanwhile.
struct ShortDirectoryLink {
    /// The longest path a Unix socket address holds (`sun_path` less its terminating zero).
    static let longestSocketPath = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// The link, which stands for the directory.
    let path: String
    private let linkDirectory: String

    init(to directory: String) throws {
        var target = directory
        if !target.hasPrefix("/") {
            guard let cwd = getcwd(nil, 0) else { throw IOError(errnoCode: errno, reason: "getcwd") }
            target = String(cString: cwd) + "/" + target
            free(cwd)
        }
        var template = Array("/tmp/qmp-link-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw IOError(errnoCode: errno, reason: "mkdtemp in /tmp, for a short path to \(directory)")
        }
        linkDirectory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        path = linkDirectory + "/d"
        guard symlink(target, path) == 0 else {
            let error = IOError(errnoCode: errno, reason: "symlink \(path)")
            rmdir(linkDirectory)
            throw error
        }
    }

    /// For a socket at `socketPath` too long for an address: a link to its directory and the
    /// short path to the socket through it; `nil` when the path fits as it is.
    static func shortening(_ socketPath: String) throws -> (link: ShortDirectoryLink, path: String)? {
        guard socketPath.utf8.count > longestSocketPath, let slash = socketPath.lastIndex(of: "/") else {
            return nil
        }
        let directory = slash == socketPath.startIndex ? "/" : String(socketPath[..<slash])
        let link = try ShortDirectoryLink(to: directory)
        return (link, link.path + socketPath[slash...])
    }

    func remove() {
        unlink(path)
        rmdir(linkDirectory)
    }
}

/// Keeps what goes wrong accepting a connection (too many open files, say) from ending the
/// accepting loop: one failed accept must not end the server. It logs the first failure of a
/// run of them.
///
/// Out of descriptors (or kernel memory), the listening socket stays readable while accepting
/// fails at once, and NIO, still waiting for the read it was asked for, polls it again at
/// once: a core spins until descriptors come back. NIO's `AcceptBackoffHandler` cannot help
/// here, as it only delays the next request to read. So this handler stops the polling itself,
/// by pausing the channel's reads, and resumes them after a pause; the requests to read that
/// arrive meanwhile wait for it.
private final class AcceptErrorHandler: ChannelDuplexHandler {
    typealias InboundIn = Any
    typealias OutboundIn = Any

    private static let pause = TimeAmount.milliseconds(250)

    private let logger: Logger
    private var paused = false
    private var readWanted = false
    private var failing = false

    init(logger: Logger) {
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        failing = false
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !failing {
            failing = true
            logger.warning("QMP server could not accept a connection", metadata: ["error": "\(error)"])
        }
        guard !paused, let error = error as? IOError, Self.isShortage(error), let options = context.channel.syncOptions
        else { return }
        paused = true
        // Turning automatic reading off is what makes NIO stop polling the socket; when it is
        // off already, it is turned on (which polls) and off again.
        let automatic = (try? options.getOption(.autoRead)) ?? false
        if !automatic {
            try? options.setOption(.autoRead, value: true)
        }
        try? options.setOption(.autoRead, value: false)
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.pause) {
            self.paused = false
            if automatic {
                try? options.setOption(.autoRead, value: true)
            } else {
                // NIO still counts the read it was asked for before the failure as wanted.
                context.read()
            }
            if self.readWanted {
                self.readWanted = false
                context.read()
            }
        }
    }

    func read(context: ChannelHandlerContext) {
        if paused {
            readWanted = true
        } else {
            context.read()
        }
    }

    private static func isShortage(_ error: IOError) -> Bool {
        switch error.errnoCode {
        case EMFILE, ENFILE, ENOBUFS, ENOMEM: true
        default: false
        }
    }
}

#if !canImport(Darwin)
/// Linux's `struct ucred`, which Glibc declares only under `_GNU_SOURCE`: three 32-bit fields,
/// laid out alike in C and Swift.
private struct LinuxPeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
#endif
