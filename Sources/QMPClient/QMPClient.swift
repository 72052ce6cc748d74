import CQMPSystem
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import QAPI
import QMPCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A connection to a QMP server — QEMU, or anything that speaks QMP.
///
/// For work with a beginning and an end, ``withConnection(to:configuration:logger:isolation:_:)``
/// connects, runs its body and closes, however the body ends:
///
/// ```swift
/// let status = try await QMPClient.withConnection(to: .unixSocket(path: "/run/vm/qmp.sock")) { client in
///     try await client.execute("query-status")
/// }
/// ```
///
/// A client that lives as long as the application is a swift-service-lifecycle `Service`: connect
/// it, hand it to the code that uses it, and run it in the `ServiceGroup` (see ``run()``).
/// ``connect(to:configuration:logger:)`` and ``close()`` are the steps both are made of; a client
/// dropped without ``close()`` closes its connection when it goes away.
///
/// `connect` returns once the greeting has arrived and capabilities are negotiated (with `oob`
/// when the server offers it). Any number of tasks may call ``execute(_:arguments:passing:timeout:)``
/// at once: commands are pipelined and each reply is matched to its command, by id or, for
/// in-band commands sent without one, by order. When the connection is lost, every pending call
/// fails at once with a `QMPError` whose code is `QMPError.Code.connectionClosed`.
public final class QMPClient: Sendable {
    /// The limits and choices of one connection.
    public struct Configuration: Sendable {
        /// How long to wait for the greeting and the end of negotiation.
        public var connectTimeout: Duration
        /// The default limit for each command; `nil` waits as long as the connection lives.
        public var commandTimeout: Duration?
        /// Enable out-of-band execution when the server offers it.
        public var enableOOB: Bool
        /// Do not send `qmp_capabilities` (for servers without negotiation, like the guest agent).
        public var skipNegotiation: Bool
        /// When in-band commands carry an id. By default only where replies cannot be matched
        /// by order (see `QMPClientStateMachine.InBandIDs`): sparing QEMU the id is about
        /// 15 µs of its CPU per command.
        public var inBandIDs: QMPClientStateMachine.InBandIDs
        /// Limits of the JSON reader for what the server sends.
        public var reader: JSONReader.Configuration
        /// Where the connection's I/O runs.
        public var eventLoopGroup: any EventLoopGroup
        /// Check every command, typed or not, against the server's own schema before sending it
        /// (see ``QMPClient/check(_:arguments:)``). Off by default, for typed and untyped calls
        /// alike: QEMU checks every command's arguments itself before it runs the command, so
        /// the client's check adds no safety, only a message that names what this QEMU lacks and
        /// when QEMU added or removed it. Its price is the server's whole schema: the first
        /// checked call of a connection fetches `query-qmp-schema` (QEMU's largest reply),
        /// logged at debug level, and holds it in ``schemaCache``. Turn it on where the clearer
        /// message is worth that, or call ``QMPClient/check(_:arguments:)`` where it matters.
        public var checksCommands: Bool
        /// Where decoded schemas are kept: connections to the same QEMU build share one copy.
        public var schemaCache: QMPSchemaCache
        /// What the schema sources of the server's release said, for the checks: the integer
        /// widths and type names introspection leaves out (`QAPIIntrospection.filling(from:)`),
        /// so that a check refuses what that QEMU refuses, in its words. Given the server's
        /// version; `nil` (or a `nil` answer) checks against the introspection as served.
        /// The bindings' history offers it: `QMPSchemaHistory.shared.sourceTypes(forServer:)`.
        public var schemaSources: (@Sendable (QEMUVersion) -> (any QAPISourceTypes)?)?

        /// A configuration; the defaults suit a QEMU on the same host.
        public init(
            connectTimeout: Duration = .seconds(10),
            commandTimeout: Duration? = .seconds(60),
            enableOOB: Bool = true,
            skipNegotiation: Bool = false,
            inBandIDs: QMPClientStateMachine.InBandIDs = .whenNeeded,
            reader: JSONReader.Configuration = .client,
            eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
            checksCommands: Bool = false,
            schemaCache: QMPSchemaCache = .shared,
            schemaSources: (@Sendable (QEMUVersion) -> (any QAPISourceTypes)?)? = nil
        ) {
            self.checksCommands = checksCommands
            self.schemaCache = schemaCache
            self.schemaSources = schemaSources
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
            self.enableOOB = enableOOB
            self.skipNegotiation = skipNegotiation
            self.inBandIDs = inBandIDs
            self.reader = reader
            self.eventLoopGroup = eventLoopGroup
        }
    }

    /// The server's greeting.
    public let greeting: QMPGreeting
    /// Whether `exec-oob` may be used on this connection.
    public let oobEnabled: Bool
    /// The configuration the client connected with.
    public let configuration: Configuration
    /// What this client is connected to, for messages.
    public let peer: String

    private let channel: any Channel
    private let handler: NIOLoopBound<QMPChannelHandler>
    private let hub: EventHub
    let logger: Logger
    /// What this connection knows of the server's introspection (see ``schema()``).
    let schemaState = NIOLockedValueBox(SchemaState())

    private init(
        channel: any Channel,
        handler: NIOLoopBound<QMPChannelHandler>,
        hub: EventHub,
        negotiated: QMPChannelHandler.Negotiated,
        configuration: Configuration,
        peer: String,
        logger: Logger
    ) {
        self.channel = channel
        self.handler = handler
        self.hub = hub
        self.greeting = negotiated.greeting
        self.oobEnabled = negotiated.oobEnabled
        self.configuration = configuration
        self.peer = peer
        self.logger = logger
    }

    /// A client nobody holds any more closes its connection; nothing else would, since the
    /// channel lives on in the event loop.
    deinit {
        guard channel.isActive else { return }
        let handler = self.handler
        channel.eventLoop.execute { handler.value.close() }
    }

    // MARK: - Connecting

    /// Connects to `address`, runs `body` with the client, and closes the connection however
    /// `body` ends: when it returns, throws, or its task is cancelled. Returns what `body`
    /// returns.
    ///
    /// The scoped counterpart of a long-lived client run as a `Service` (see ``run()``): use
    /// this where the work has an end, that where the connection lives as long as the program.
    public static func withConnection<Result>(
        to address: QMPAddress,
        configuration: Configuration = Configuration(),
        logger: Logger = QMPClient.silentLogger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (QMPClient) async throws -> sending Result
    ) async throws -> sending Result {
        let client = try await connect(to: address, configuration: configuration, logger: logger)
        let result: Result
        do {
            result = try await body(client)
        } catch {
            await client.close()
            throw error
        }
        await client.close()
        return result
    }

    /// Connects to a QMP server at `address` and negotiates capabilities.
    ///
    /// - Throws: `QMPError`: `QMPError.Code.connectionFailed` when nothing
    ///   listens there, `QMPError.Code.protocolViolation` when what answers is not
    ///   QMP, `QMPError.Code.timeout` when no greeting comes in time.
    public static func connect(
        to address: QMPAddress,
        configuration: Configuration = Configuration(),
        logger: Logger = QMPClient.silentLogger
    ) async throws -> QMPClient {
        switch address {
        case .unixSocket(let path):
            // Connecting ourselves keeps the descriptor, which descriptor passing needs.
            let descriptor = cqmp_connect_unix(path)
            guard descriptor >= 0 else {
                throw connectError(errno: -descriptor, address: address)
            }
            return try await start(
                configuration: configuration,
                peer: address.description,
                socketDescriptor: descriptor,
                logger: logger
            ) { bootstrap in
                bootstrap.withConnectedSocket(descriptor)
            }
        case .tcp(let host, let port):
            return try await start(
                configuration: configuration,
                peer: address.description,
                socketDescriptor: nil,
                logger: logger
            ) { bootstrap in
                bootstrap.connectTimeout(TimeAmount(configuration.connectTimeout)).connect(host: host, port: port)
            }
        }
    }

    /// Takes over an already connected stream socket (for example one end of a `socketpair`, or
    /// a socket inherited from a parent process). The client closes it when done.
    ///
    /// - Parameters:
    ///   - descriptor: the connected socket; the client owns it from now on.
    ///   - isUnixSocket: whether descriptors can be passed over it.
    ///   - configuration: the connection's limits and choices.
    ///   - logger: where the connection logs; by default nowhere.
    public static func connect(
        connectedSocket descriptor: CInt,
        isUnixSocket: Bool = true,
        configuration: Configuration = Configuration(),
        logger: Logger = QMPClient.silentLogger
    ) async throws -> QMPClient {
        try await start(
            configuration: configuration,
            peer: "socket \(descriptor)",
            socketDescriptor: isUnixSocket ? descriptor : nil,
            logger: logger
        ) { bootstrap in
            bootstrap.withConnectedSocket(descriptor)
        }
    }

    /// Talks QMP over a pair of descriptors, e.g. the pipes of a QEMU started with `-qmp stdio`:
    /// replies are read from `input`, commands written to `output`. The client closes both.
    public static func connect(
        input: CInt,
        output: CInt,
        configuration: Configuration = Configuration(),
        logger: Logger = QMPClient.silentLogger
    ) async throws -> QMPClient {
        let hub = EventHub()
        let group = configuration.eventLoopGroup
        let eventLoop = group.next()
        let negotiated = eventLoop.makePromise(of: QMPChannelHandler.Negotiated.self)
        let peer = "pipes \(input)/\(output)"
        let channel: any Channel
        do {
            channel = try await NIOPipeBootstrap(group: eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handler = makeHandler(configuration, hub, logger, peer, nil, negotiated)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .takingOwnershipOfDescriptors(input: input, output: output)
                .get()
        } catch {
            negotiated.fail(error)
            throw QMPError(
                code: .connectionFailed,
                message: "could not use descriptors \(input)/\(output)",
                underlying: error
            )
        }
        return try await finishConnecting(channel, hub, negotiated, configuration, peer, logger)
    }

    /// A logger that discards everything: the default when no logger is passed in.
    public static let silentLogger = Logger(label: "qmp", factory: { _ in SwiftLogNoOpLogHandler() })

    private static func start(
        configuration: Configuration,
        peer: String,
        socketDescriptor: CInt?,
        logger: Logger,
        connect: (ClientBootstrap) -> EventLoopFuture<any Channel>
    ) async throws -> QMPClient {
        let hub = EventHub()
        let eventLoop = configuration.eventLoopGroup.next()
        let negotiated = eventLoop.makePromise(of: QMPChannelHandler.Negotiated.self)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = makeHandler(configuration, hub, logger, peer, socketDescriptor, negotiated)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel: any Channel
        do {
            channel = try await connect(bootstrap).get()
        } catch {
            negotiated.fail(error)
            if let socketDescriptor {
                // The bootstrap did not take the descriptor over.
                closeDescriptor(socketDescriptor)
            }
            throw Self.connectError(error, peer: peer)
        }
        return try await finishConnecting(channel, hub, negotiated, configuration, peer, logger)
    }

    private static func makeHandler(
        _ configuration: Configuration,
        _ hub: EventHub,
        _ logger: Logger,
        _ peer: String,
        _ socketDescriptor: CInt?,
        _ negotiated: EventLoopPromise<QMPChannelHandler.Negotiated>
    ) -> QMPChannelHandler {
        QMPChannelHandler(
            configuration: QMPClientStateMachine.Configuration(
                enableOOB: configuration.enableOOB,
                skipNegotiation: configuration.skipNegotiation,
                inBandIDs: configuration.inBandIDs
            ),
            readerConfiguration: configuration.reader,
            hub: hub,
            logger: logger,
            peer: peer,
            connectTimeout: TimeAmount(configuration.connectTimeout),
            socketDescriptor: socketDescriptor,
            negotiated: negotiated
        )
    }

    private static func finishConnecting(
        _ channel: any Channel,
        _ hub: EventHub,
        _ negotiated: EventLoopPromise<QMPChannelHandler.Negotiated>,
        _ configuration: Configuration,
        _ peer: String,
        _ logger: Logger
    ) async throws -> QMPClient {
        let result: QMPChannelHandler.Negotiated
        do {
            result = try await withTaskCancellationHandler {
                try await negotiated.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            channel.close(promise: nil)
            throw error
        }
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(
                try channel.pipeline.syncOperations.handler(type: QMPChannelHandler.self),
                eventLoop: channel.eventLoop
            )
        }.get()
        return QMPClient(
            channel: channel,
            handler: handler,
            hub: hub,
            negotiated: result,
            configuration: configuration,
            peer: peer,
            logger: logger
        )
    }

    private static func connectError(errno code: CInt, address: QMPAddress) -> QMPError {
        let hint: String?
        switch code {
        case ENOENT: hint = "no socket exists at that path"
        case ECONNREFUSED:
            var info = stat()
            if case .unixSocket(let path) = address, stat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFSOCK {
                hint = "the path is not a socket"
            } else {
                hint = "nothing is listening there (QEMU not running, or another client holds the monitor)"
            }
        case ENAMETOOLONG: hint = "Unix socket paths are limited to 107 bytes"
        case ENOTSOCK: hint = "the path is not a socket"
        case EACCES: hint = "permission denied"
        // The system's text comes with the underlying error.
        default: hint = nil
        }
        return QMPError(
            code: .connectionFailed,
            message: "could not connect to QMP socket \(address)" + (hint.map { ": " + $0 } ?? ""),
            underlying: SystemError(errno: code)
        )
    }

    /// A failed NIO connect, with the system's reason when there is one.
    private static func connectError(_ error: any Error, peer: String) -> QMPError {
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
        // Other reasons speak through the underlying error's text.
        let hint = code == ECONNREFUSED ? ": nothing is listening on that port" : ""
        return QMPError(
            code: .connectionFailed,
            message: "could not connect to \(peer)\(hint)",
            underlying: SystemError(errno: code)
        )
    }

    // MARK: - Commands
    //
    // Three ways to send a command, each for typed and untyped commands alike: in band (with
    // descriptors attached or not), out of band, and followed by the event it causes. Each is
    // checked against the server's schema first when the configuration says so.

    /// Runs a command and returns its `return` value.
    ///
    /// - Parameters:
    ///   - name: the command's name, e.g. `query-status`.
    ///   - arguments: its arguments; `nil` sends none.
    ///   - fileDescriptors: descriptors to pass with the command (SCM_RIGHTS), for `getfd` and
    ///     `add-fd`; Unix sockets only. The descriptors are duplicated into the server; the
    ///     caller keeps its own and closes them when it likes. QEMU keeps the descriptors of the
    ///     latest message that carried any and gives them to the next command that takes one,
    ///     so the client sends one such command at a time.
    ///   - timeout: the limit for this call; defaults to the configuration's `commandTimeout`.
    /// - Throws: `QMPError`; for an error reply its `QMPError.errorClass` and
    ///   `QMPError.message` are QEMU's `class` and `desc`.
    ///
    /// Cancelling the calling task stops the wait and throws; the command itself has already
    /// been sent and QEMU will still run it.
    @discardableResult
    public func execute(
        _ name: String,
        arguments: JSONObject? = nil,
        passing fileDescriptors: [CInt] = [],
        timeout: Duration? = nil
    ) async throws -> JSONValue {
        try await call(name, arguments: arguments, outOfBand: false, fileDescriptors: fileDescriptors, timeout: timeout)
    }

    /// Runs a command out of band (`exec-oob`): QEMU runs it at once, even while in-band commands
    /// are queued, and its reply may overtake theirs. Only commands with `allow-oob` qualify
    /// (`migrate-recover`, `migrate-pause`, `yank`, `query-yank` in QEMU 7.2).
    @discardableResult
    public func executeOutOfBand(
        _ name: String,
        arguments: JSONObject? = nil,
        timeout: Duration? = nil
    ) async throws -> JSONValue {
        try await call(name, arguments: arguments, outOfBand: true, fileDescriptors: [], timeout: timeout)
    }

    /// Runs a command and waits for the event it causes, e.g. `device_del` and the
    /// `DEVICE_DELETED` for that device. An event that arrives before the command's reply is
    /// not lost: the subscription starts before the command is sent.
    ///
    /// - Parameters:
    ///   - name: the command's name.
    ///   - arguments: its arguments; `nil` sends none.
    ///   - eventName: the event to wait for.
    ///   - predicate: which of those events counts; by default the first one.
    ///   - eventTimeout: how long to wait for the event after the command was sent.
    public func execute(
        _ name: String,
        arguments: JSONObject? = nil,
        thenWaitFor eventName: String,
        matching predicate: @escaping @Sendable (QMPEvent) -> Bool = { _ in true },
        eventTimeout: Duration = .seconds(30)
    ) async throws -> (reply: JSONValue, event: QMPEvent) {
        try await execute(
            name,
            arguments: arguments,
            history: nil,
            thenWaitFor: eventName,
            eventTimeout: eventTimeout
        ) { event in
            predicate(event) ? event : nil
        }
    }

    /// What the bindings know of when a command and its arguments came and went, for the
    /// check's messages; `nil` for untyped calls.
    typealias History = (command: QEMUAvailability, arguments: [String: QEMUAvailability])

    /// The one path behind every command: the check when configured, then the call.
    func call(
        _ name: String,
        arguments: JSONObject?,
        history: History? = nil,
        outOfBand: Bool,
        fileDescriptors: [CInt],
        timeout: Duration?
    ) async throws -> JSONValue {
        if configuration.checksCommands {
            try await check(name, arguments: arguments, history: history)
        }
        return try await send(
            name,
            arguments: arguments,
            outOfBand: outOfBand,
            fileDescriptors: fileDescriptors,
            timeout: timeout
        )
    }

    /// The run-and-wait behind the typed and untyped forms: `match` picks the event and turns
    /// it into what the caller gets.
    func execute<Match: Sendable>(
        _ name: String,
        arguments: JSONObject?,
        history: History?,
        thenWaitFor eventName: String,
        eventTimeout: Duration,
        match: @escaping @Sendable (QMPEvent) -> Match?
    ) async throws -> (reply: JSONValue, event: Match) {
        // Subscribed before sending, so that an event that overtakes the reply is kept.
        let events = events(named: [eventName], bufferSize: 4096, whenFull: .dropOldest)
        let reply = try await call(
            name,
            arguments: arguments,
            history: history,
            outOfBand: false,
            fileDescriptors: [],
            timeout: nil
        )
        let peer = self.peer
        let event = try await withThrowingTaskGroup(of: Match?.self) { group in
            group.addTask {
                for try await event in events {
                    if let matched = match(event) {
                        return matched
                    }
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: eventTimeout)
                throw QMPError(
                    code: .timeout,
                    message: "no matching \(eventName) event from \(peer) within \(eventTimeout) after the reply",
                    command: name
                )
            }
            defer { group.cancelAll() }
            do {
                return try await group.next() ?? nil
            } catch is CancellationError {
                return nil
            }
        }
        // A cancelled caller ends the event stream too; it is told so, as a cancelled call is.
        if Task.isCancelled {
            throw QMPError(code: .cancelled, message: "cancelled while waiting for \(eventName)", command: name)
        }
        guard let event else {
            throw QMPError(
                code: .connectionClosed,
                message: "the connection closed before a matching \(eventName) event arrived",
                command: name
            )
        }
        return (reply, event)
    }

    /// Sends a command, unchecked, and waits for its reply.
    func send(
        _ name: String,
        arguments: JSONObject?,
        outOfBand: Bool,
        fileDescriptors: [CInt],
        timeout: Duration?
    ) async throws -> JSONValue {
        let eventLoop = channel.eventLoop
        let limit = timeout ?? configuration.commandTimeout
        let call = PendingCall(
            name: name,
            arguments: arguments,
            outOfBand: outOfBand,
            fileDescriptors: fileDescriptors,
            timeout: limit.map { TimeAmount($0) }
        )
        let handler = self.handler
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                if eventLoop.inEventLoop {
                    handler.value.submit(call, continuation: continuation)
                } else {
                    eventLoop.execute { handler.value.submit(call, continuation: continuation) }
                }
            }
        } onCancel: {
            eventLoop.execute {
                handler.value.abandon(
                    call,
                    with: QMPError(code: .cancelled, message: "the waiting task was cancelled", command: name)
                )
            }
        }
    }

    // MARK: - Events

    /// Subscribes to events, all of them or those with the given names.
    ///
    /// The subscription starts when this method returns. It holds at most `bufferSize` events
    /// that have not been read yet; beyond that `whenFull` decides which are dropped, and
    /// ``QMPEventStream/droppedCount`` counts them.
    public func events(
        named names: Set<String>? = nil,
        bufferSize: Int = 1024,
        whenFull policy: QMPEventOverflowPolicy = .dropOldest
    ) -> QMPEventStream {
        hub.subscribe(names: names, bufferSize: bufferSize, whenFull: policy)
    }

    /// Event subscriptions alive right now; one ends when its sequence and iterators are gone.
    public var eventSubscriptionCount: Int { hub.subscriptionCount }

    // MARK: - Closing

    /// Closes the connection. Pending calls fail; event streams end normally.
    public func close() async {
        let handler = self.handler
        let channel = self.channel
        // Futures, not cancellable waits: closing finishes also in a cancelled task.
        try? await channel.eventLoop.submit { handler.value.close() }.get()
        channel.close(promise: nil)
        try? await channel.closeFuture.get()
    }

    /// Returns when the connection has ended, for whatever reason.
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }

    /// Whether the connection is still open.
    public var isConnected: Bool { channel.isActive }

    /// An executor on this connection's event loop, for `withTaskExecutorPreference`: calls
    /// made under it go without crossing threads (see ``QMPEventLoopExecutor``).
    @available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *)
    public var executor: QMPEventLoopExecutor { QMPEventLoopExecutor(eventLoop: channel.eventLoop) }
}

// MARK: - A long-lived client

extension QMPClient: Service {
    /// Keeps the connection until the task running this is cancelled or the service group shuts
    /// down gracefully; then fails the calls still waiting with a `QMPError` whose code is
    /// `QMPError.Code.shutDown` (naming the command), ends event streams
    /// normally, and closes.
    ///
    /// ```swift
    /// let client = try await QMPClient.connect(to: .unixSocket(path: "/run/vm/qmp.sock"))
    /// let group = ServiceGroup(
    ///     services: [client, VMWatcher(client: client)],
    ///     gracefulShutdownSignals: [.sigterm],
    ///     logger: logger
    /// )
    /// try await group.run()
    /// ```
    ///
    /// A client is connected before it runs, so whatever uses it can start at once; `run()` is
    /// its lifetime, as ``withConnection(to:configuration:logger:isolation:_:)``'s body is for a
    /// scoped client. It returns when the client was closed (by ``close()`` too), and throws the
    /// `QMPError.Code.connectionClosed` error when the server went away, so that
    /// the group learns its monitor is gone.
    public func run() async throws {
        let handler = self.handler
        let eventLoop = channel.eventLoop
        let shutDown: @Sendable (String) -> Void = { why in
            let reason = QMPError(code: .shutDown, message: "the client was shut down (\(why))")
            eventLoop.execute { handler.value.close(reason: reason) }
        }
        let ending = await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await hub.end()
            } onCancel: {
                shutDown("its run() was cancelled")
            }
        } onGracefulShutdown: {
            shutDown("graceful shutdown")
        }
        // The channel may still be on its way down; return once it is.
        try? await channel.closeFuture.get()
        if let ending {
            throw ending
        }
    }
}

/// An `errno` value with its text, as the `underlying` error of a ``QMPError``: shared with
/// the launcher, no API of its own.
package struct SystemError: Error, Sendable, Hashable, CustomStringConvertible {
    package var errno: CInt
    package init(errno: CInt) { self.errno = errno }
    package var description: String { "errno \(errno): \(String(cString: strerror(errno)))" }
}
