import CQMPSystem
import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import QAPI
import QMPCore
import QMPTransport
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
///
/// Every wait has a bound from the configuration's ``Configuration-swift.struct/timeouts``, by
/// command class (see ``QMPTimeoutPolicy``); a monitor that stops answering is reported as
/// wedged through ``health`` (see ``QMPWedgeDetection``); a client run as a `Service` can
/// reconnect (see ``QMPReconnectPolicy``).
public final class QMPClient: Sendable {
    /// The limits and choices of one connection.
    public struct Configuration: Sendable {
        /// The bound on connecting as a whole: the socket connect, the greeting and the end of
        /// negotiation together. ``timeouts`` can bound each step more tightly.
        public var connectTimeout: Duration
        /// One deadline for every command of this client, over the class deadlines of
        /// ``timeouts``; `nil` (the default) leaves each class its own.
        public var commandTimeout: Duration?
        /// The bounds of connecting, writing and each class of command.
        public var timeouts: QMPTimeoutPolicy
        /// How a monitor that stopped answering is told; on by default.
        public var wedgeDetection: QMPWedgeDetection
        /// How a client run as a `Service` reconnects when its connection breaks; `nil` (the
        /// default) does not reconnect.
        public var reconnect: QMPReconnectPolicy?
        /// Where metrics go (see the metric names in the catalog's "Timeouts, health and
        /// metrics"); `nil` uses the factory the program bootstrapped `MetricsSystem` with.
        public var metricsFactory: (any MetricsFactory)?
        /// Enable out-of-band execution when the server offers it.
        public var enableOOB: Bool
        /// Do not send `qmp_capabilities` (for servers without negotiation, like the guest agent).
        public var skipNegotiation: Bool
        /// When in-band commands carry an id. By default always, so that replies are matched by
        /// id and a reply that comes late or never comes cannot end another call; `.whenNeeded`
        /// matches by order where that is known to work, for peers that do not echo ids (see
        /// `QMPClientStateMachine.InBandIDs`).
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
        /// How many events that arrive before the connection's first event subscription are
        /// kept for that subscription (beyond it the oldest are dropped and counted in its
        /// ``QMPEventStream/droppedCount``). A server may send events in the same read as the
        /// reply to `qmp_capabilities`, before any caller can have subscribed; a caller that
        /// must see every event (a monitor, a logger) keeps them with this. 0, the default,
        /// keeps none: a subscription sees the events that arrive after it was made.
        public var eventsKeptForFirstSubscription = 0

        /// A configuration; the defaults suit a QEMU on the same host.
        public init(
            connectTimeout: Duration = .seconds(10),
            commandTimeout: Duration? = nil,
            timeouts: QMPTimeoutPolicy = .default,
            wedgeDetection: QMPWedgeDetection = QMPWedgeDetection(),
            reconnect: QMPReconnectPolicy? = nil,
            metricsFactory: (any MetricsFactory)? = nil,
            enableOOB: Bool = true,
            skipNegotiation: Bool = false,
            inBandIDs: QMPClientStateMachine.InBandIDs = .always,
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
            self.timeouts = timeouts
            self.wedgeDetection = wedgeDetection
            self.reconnect = reconnect
            self.metricsFactory = metricsFactory
            self.enableOOB = enableOOB
            self.skipNegotiation = skipNegotiation
            self.inBandIDs = inBandIDs
            self.reader = reader
            self.eventLoopGroup = eventLoopGroup
        }
    }

    /// The server's greeting (after a reconnect, the new one's).
    public var greeting: QMPGreeting { currentLink.greeting }
    /// Whether `exec-oob` may be used on this connection.
    public var oobEnabled: Bool { currentLink.oobEnabled }
    /// The configuration the client connected with.
    public let configuration: Configuration
    /// What this client is connected to, for messages.
    public let peer: String

    /// Where the client connects again; `nil` for a client made from descriptors.
    private let address: QMPAddress?
    /// Every connection of this client runs on this loop, reconnects included, so that its
    /// ``executor`` stays valid.
    private let eventLoop: any EventLoop
    let supervisor: ClientSupervisor
    let metrics: QMPClientMetrics
    private var hub: EventHub { supervisor.hub }
    /// The first connection: the current one until a reconnect replaces it.
    private let firstLink: ClientLink
    let logger: Logger
    /// What this connection knows of the server's introspection (see ``schema()``).
    let schemaState = NIOLockedValueBox(SchemaState())

    private init(
        link: ClientLink,
        shared: Shared,
        configuration: Configuration,
        address: QMPAddress?,
        peer: String,
        logger: Logger
    ) {
        self.firstLink = link
        self.supervisor = shared.supervisor
        self.metrics = shared.metrics
        self.eventLoop = link.channel.eventLoop
        self.configuration = configuration
        self.address = address
        self.peer = peer
        self.logger = logger
        _ = shared.supervisor.install(link)
    }

    private var currentLink: ClientLink { supervisor.link ?? firstLink }

    /// A client nobody holds any more closes its connection; nothing else would, since the
    /// channel lives on in the event loop. Its event streams end with an error that says so:
    /// a reader must not take the end for a close it asked for.
    deinit {
        guard let link = supervisor.requestClose(), link.channel.isActive else {
            supervisor.finish(Self.releasedError(peer))
            return
        }
        let handler = link.handler
        let reason = Self.releasedError(peer)
        link.channel.eventLoop.execute { handler.value.handler?.close(reason: reason, endingStreamsWithReason: true) }
    }

    private static func releasedError(_ peer: String) -> QMPError {
        QMPError(code: .connectionClosed, message: "the QMPClient of \(peer) was released without close()")
    }

    /// What every connection of one client shares.
    struct Shared: Sendable {
        let supervisor: ClientSupervisor
        let metrics: QMPClientMetrics

        init(_ configuration: Configuration) {
            metrics = QMPClientMetrics(factory: configuration.metricsFactory)
            supervisor = ClientSupervisor(
                hub: EventHub(
                    droppedMetric: metrics.eventsDropped,
                    keptForFirstSubscription: configuration.eventsKeptForFirstSubscription
                ),
                reconnects: configuration.reconnect != nil
            )
        }
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
    ///   QMP, `QMPError.Code.timeout` when the connect, the greeting or negotiation does not
    ///   finish in time (``Configuration-swift.struct/connectTimeout`` and the steps' bounds in
    ///   ``Configuration-swift.struct/timeouts``).
    public static func connect(
        to address: QMPAddress,
        configuration: Configuration = Configuration(),
        logger: Logger = QMPClient.silentLogger
    ) async throws -> QMPClient {
        let shared = Shared(configuration)
        let eventLoop = configuration.eventLoopGroup.next()
        let link = try await openLink(to: address, configuration, shared, logger, on: eventLoop)
        return QMPClient(
            link: link,
            shared: shared,
            configuration: configuration,
            address: address,
            peer: address.description,
            logger: logger
        )
    }

    /// One connection to `address`, negotiated: the first, or one of a reconnect.
    private static func openLink(
        to address: QMPAddress,
        _ configuration: Configuration,
        _ shared: Shared,
        _ logger: Logger,
        on eventLoop: any EventLoop
    ) async throws -> ClientLink {
        let connectDeadline = NIODeadline.now() + TimeAmount(configuration.connectTimeout)
        let connectBound = min(
            configuration.timeouts.connect ?? configuration.connectTimeout,
            configuration.connectTimeout
        )
        switch address {
        case .unixSocket(let path):
            // Connecting ourselves keeps the descriptor, which descriptor passing needs.
            let descriptor = try await QMPTransport.connectUnixSocket(
                path,
                naming: "QMP socket \(address)",
                within: connectBound
            )
            return try await start(
                configuration,
                shared,
                peer: address.description,
                socketDescriptor: descriptor,
                connectDeadline: connectDeadline,
                logger: logger,
                on: eventLoop
            ) { bootstrap in
                bootstrap.withConnectedSocket(descriptor)
            }
        case .tcp(let host, let port):
            return try await start(
                configuration,
                shared,
                peer: address.description,
                socketDescriptor: nil,
                connectDeadline: connectDeadline,
                logger: logger,
                on: eventLoop
            ) { bootstrap in
                bootstrap.connectTimeout(TimeAmount(connectBound)).connect(host: host, port: port)
            }
        case .vsock(let cid, let port):
            return try await start(
                configuration,
                shared,
                peer: address.description,
                socketDescriptor: nil,
                connectDeadline: connectDeadline,
                logger: logger,
                on: eventLoop
            ) { bootstrap in
                bootstrap.connectTimeout(TimeAmount(connectBound))
                    .connect(to: QMPTransport.vsockAddress(cid: cid, port: port))
            }
        case .characterDevice(let path):
            // A monitor on a serial line (`-mon` on a `-chardev pty`): no socket, so no descriptor passing.
            let descriptor = try QMPTransport.openCharacterDevice(path, naming: "QMP device \(path)")
            return try await startOnPipes(
                configuration,
                shared,
                peer: address.description,
                connectDeadline: connectDeadline,
                logger: logger,
                on: eventLoop,
                failure: { "could not use the character device \(path)" }
            ) { bootstrap in
                bootstrap.takingOwnershipOfDescriptor(inputOutput: descriptor)
                    .flatMapErrorThrowing { error in
                        // A failed bootstrap leaves the descriptor with its caller.
                        closeDescriptor(descriptor)
                        throw error
                    }
            }
        }
    }

    /// Takes over an already connected stream socket (for example one end of a `socketpair`, or
    /// a socket inherited from a parent process). The client closes it when done.
    ///
    /// - Parameters:
    ///   - descriptor: the connected socket; the client owns it from now on.
    ///   - isUnixSocket: whether descriptors can be passed over it.
    ///   - configuration: the connection's limits and choices; it cannot reconnect.
    ///   - logger: where the connection logs; by default nowhere.
    public static func connect(
        connectedSocket descriptor: CInt,
        isUnixSocket: Bool = true,
        configuration: Configuration = Configuration(),
        logger: Logger = QMPClient.silentLogger
    ) async throws -> QMPClient {
        let shared = Shared(configuration)
        let peer = "socket \(descriptor)"
        let link = try await start(
            configuration,
            shared,
            peer: peer,
            socketDescriptor: isUnixSocket ? descriptor : nil,
            connectDeadline: NIODeadline.now() + TimeAmount(configuration.connectTimeout),
            logger: logger,
            on: configuration.eventLoopGroup.next()
        ) { bootstrap in
            bootstrap.withConnectedSocket(descriptor)
        }
        return QMPClient(
            link: link,
            shared: shared,
            configuration: configuration,
            address: nil,
            peer: peer,
            logger: logger
        )
    }

    /// Talks QMP over a pair of descriptors, e.g. the pipes of a QEMU started with `-qmp stdio`:
    /// replies are read from `input`, commands written to `output`. The client closes both; it
    /// cannot reconnect.
    public static func connect(
        input: CInt,
        output: CInt,
        configuration: Configuration = Configuration(),
        logger: Logger = QMPClient.silentLogger
    ) async throws -> QMPClient {
        let shared = Shared(configuration)
        let peer = "pipes \(input)/\(output)"
        let link = try await startOnPipes(
            configuration,
            shared,
            peer: peer,
            connectDeadline: NIODeadline.now() + TimeAmount(configuration.connectTimeout),
            logger: logger,
            on: configuration.eventLoopGroup.next(),
            failure: { "could not use descriptors \(input)/\(output)" }
        ) { bootstrap in
            bootstrap.takingOwnershipOfDescriptors(input: input, output: output)
        }
        return QMPClient(
            link: link,
            shared: shared,
            configuration: configuration,
            address: nil,
            peer: peer,
            logger: logger
        )
    }

    /// A connection over descriptors that are no socket: pipes, a character device.
    private static func startOnPipes(
        _ configuration: Configuration,
        _ shared: Shared,
        peer: String,
        connectDeadline: NIODeadline,
        logger: Logger,
        on eventLoop: any EventLoop,
        failure: () -> String,
        connect: (NIOPipeBootstrap) -> EventLoopFuture<any Channel>
    ) async throws -> ClientLink {
        let negotiated = eventLoop.makePromise(of: QMPChannelHandler.Negotiated.self)
        let channel: any Channel
        do {
            channel = try await connect(
                NIOPipeBootstrap(group: eventLoop)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let handler = makeHandler(
                                configuration,
                                shared,
                                logger,
                                peer,
                                nil,
                                connectDeadline,
                                negotiated
                            )
                            try channel.pipeline.syncOperations.addHandler(handler)
                        }
                    }
            ).get()
        } catch {
            negotiated.fail(error)
            throw QMPError(code: .connectionFailed, message: failure(), underlying: error)
        }
        return try await finishConnecting(channel, negotiated)
    }

    /// A logger that discards everything: the default when no logger is passed in.
    public static let silentLogger = Logger(label: "qmp", factory: { _ in SwiftLogNoOpLogHandler() })

    private static func start(
        _ configuration: Configuration,
        _ shared: Shared,
        peer: String,
        socketDescriptor: CInt?,
        connectDeadline: NIODeadline,
        logger: Logger,
        on eventLoop: any EventLoop,
        connect: (ClientBootstrap) -> EventLoopFuture<any Channel>
    ) async throws -> ClientLink {
        let negotiated = eventLoop.makePromise(of: QMPChannelHandler.Negotiated.self)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = makeHandler(
                        configuration,
                        shared,
                        logger,
                        peer,
                        socketDescriptor,
                        connectDeadline,
                        negotiated
                    )
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
            throw QMPTransport.connectError(error, peer: peer)
        }
        return try await finishConnecting(channel, negotiated)
    }

    private static func makeHandler(
        _ configuration: Configuration,
        _ shared: Shared,
        _ logger: Logger,
        _ peer: String,
        _ socketDescriptor: CInt?,
        _ connectDeadline: NIODeadline,
        _ negotiated: EventLoopPromise<QMPChannelHandler.Negotiated>
    ) -> QMPChannelHandler {
        QMPChannelHandler(
            configuration: QMPClientStateMachine.Configuration(
                enableOOB: configuration.enableOOB,
                skipNegotiation: configuration.skipNegotiation,
                inBandIDs: configuration.inBandIDs
            ),
            readerConfiguration: configuration.reader,
            hub: shared.supervisor.hub,
            supervisor: shared.supervisor,
            metrics: shared.metrics,
            logger: logger,
            peer: peer,
            connectDeadline: connectDeadline,
            connectTimeout: configuration.connectTimeout,
            timeouts: configuration.timeouts,
            wedgeDetection: configuration.wedgeDetection,
            socketDescriptor: socketDescriptor,
            negotiated: negotiated
        )
    }

    private static func finishConnecting(
        _ channel: any Channel,
        _ negotiated: EventLoopPromise<QMPChannelHandler.Negotiated>
    ) async throws -> ClientLink {
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
                HandlerReference(try channel.pipeline.syncOperations.handler(type: QMPChannelHandler.self)),
                eventLoop: channel.eventLoop
            )
        }.get()
        return ClientLink(channel: channel, handler: handler, greeting: result.greeting, oobEnabled: result.oobEnabled)
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
    ///   - timeout: the limit for this call; by default the configuration's `commandTimeout`
    ///     when set, else the deadline of the command's class in the configuration's `timeouts`.
    /// - Throws: `QMPError`; for an error reply its `QMPError.errorClass` and
    ///   `QMPError.message` are QEMU's `class` and `desc`. At the deadline, one of code
    ///   `QMPError.Code.timeout` whose message names the bound, where it came from and the
    ///   command's class; the reply, if it still comes, is dropped, never taken for another's.
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
    ///   - eventTimeout: how long to wait for the event after the reply; by default the event
    ///     bound of the command's class (``QMPCommandBounds/event``).
    ///
    /// A reconnect while waiting for the event fails the call: the event may have come in the gap.
    public func execute(
        _ name: String,
        arguments: JSONObject? = nil,
        thenWaitFor eventName: String,
        matching predicate: @escaping @Sendable (QMPEvent) -> Bool = { _ in true },
        eventTimeout: Duration? = nil
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

    /// The bounds of one call: its class, its deadline and where that came from, its slow
    /// threshold.
    struct CallBounds: Sendable {
        var commandClass: QMPCommandClass
        var deadline: Duration?
        var source: String
        var slow: Duration?
        /// What of `deadline` was used before sending (the check's schema fetch).
        var spent: Duration = .zero
    }

    func bounds(of name: String, arguments: JSONObject?, timeout: Duration?) -> CallBounds {
        let commandClass = configuration.timeouts.commandClass(of: name, arguments: arguments)
        let classBounds = configuration.timeouts.bounds(of: commandClass)
        if let timeout {
            return CallBounds(
                commandClass: commandClass,
                deadline: timeout,
                source: "the call's own timeout",
                slow: classBounds.slow
            )
        }
        if let commandTimeout = configuration.commandTimeout {
            return CallBounds(
                commandClass: commandClass,
                deadline: commandTimeout,
                source: "the client's commandTimeout",
                slow: classBounds.slow
            )
        }
        return CallBounds(
            commandClass: commandClass,
            deadline: classBounds.deadline,
            source: "the deadline of its class",
            slow: classBounds.slow
        )
    }

    /// The one path behind every command: the check when configured, then the call. The
    /// check's first schema fetch counts against the call's own deadline.
    func call(
        _ name: String,
        arguments: JSONObject?,
        history: History? = nil,
        outOfBand: Bool,
        fileDescriptors: [CInt],
        timeout: Duration?
    ) async throws -> JSONValue {
        var bounds = bounds(of: name, arguments: arguments, timeout: timeout)
        if configuration.checksCommands {
            if let known = knownSchema {
                // Once the schema is known the check waits for nothing: no timer, no child tasks.
                try check(name, arguments: arguments, history: history, against: known)
            } else {
                let clock = ContinuousClock()
                let start = clock.now
                try await checkWithin(bounds, name: name, arguments: arguments, history: history)
                bounds.spent = clock.now - start
            }
        }
        return try await send(
            name,
            arguments: arguments,
            outOfBand: outOfBand,
            fileDescriptors: fileDescriptors,
            bounds: bounds
        )
    }

    /// The check, ended at the call's deadline: a schema fetch under way for another caller
    /// goes on for that caller.
    private func checkWithin(_ bounds: CallBounds, name: String, arguments: JSONObject?, history: History?) async throws
    {
        guard let deadline = bounds.deadline else {
            try await check(name, arguments: arguments, history: history)
            return
        }
        enum Step: Sendable {
            case checked
            case deadlinePassed
            /// The timer ended early: the caller's task was cancelled, which the check reports.
            case timerStopped
        }
        let peer = self.peer
        try await withThrowingTaskGroup(of: Step.self) { group in
            group.addTask {
                try await self.check(name, arguments: arguments, history: history)
                return .checked
            }
            group.addTask {
                do {
                    try await Task.sleep(for: deadline)
                    return .deadlinePassed
                } catch {
                    return .timerStopped
                }
            }
            defer { group.cancelAll() }
            while let step = try await group.next() {
                switch step {
                case .checked:
                    return
                case .timerStopped:
                    continue
                case .deadlinePassed:
                    throw QMPError(
                        code: .timeout,
                        message:
                            "\(peer)'s schema, needed to check the call, did not come within \(deadline) "
                            + "(\(bounds.source), class \(bounds.commandClass)); the command was not sent",
                        command: name
                    )
                }
            }
        }
    }

    /// The run-and-wait behind the typed and untyped forms: `match` picks the event and turns
    /// it into what the caller gets.
    func execute<Match: Sendable>(
        _ name: String,
        arguments: JSONObject?,
        history: History?,
        thenWaitFor eventName: String,
        eventTimeout: Duration?,
        match: @escaping @Sendable (QMPEvent) -> Match?
    ) async throws -> (reply: JSONValue, event: Match) {
        let commandClass = configuration.timeouts.commandClass(of: name, arguments: arguments)
        let eventTimeout = eventTimeout ?? configuration.timeouts.bounds(of: commandClass).event
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
                    if event.isConnectionGap {
                        throw QMPError(
                            code: .connectionClosed,
                            message: "the connection broke while waiting for \(eventName); it may have come in the gap",
                            command: name
                        )
                    }
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
        bounds: CallBounds
    ) async throws -> JSONValue {
        if case .reconnecting = supervisor.health {
            let error = QMPError(
                code: .connectionClosed,
                message: "not sent: the connection to \(peer) broke and the client is reconnecting",
                command: name
            )
            metrics.recordOutcome(name, bounds.commandClass, QMPClientMetrics.outcome(of: .failure(error)))
            throw error
        }
        let link = currentLink
        let eventLoop = link.channel.eventLoop
        let call = PendingCall(
            name: name,
            arguments: arguments,
            outOfBand: outOfBand,
            fileDescriptors: fileDescriptors,
            timeout: bounds.deadline.map { TimeAmount(max(.zero, $0 - bounds.spent)) },
            slow: bounds.slow.map { TimeAmount($0) },
            commandClass: bounds.commandClass,
            boundSource: bounds.source
        )
        call.spentBeforeSubmission = TimeAmount(bounds.spent)
        let handler = link.handler
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                let supervisor = self.supervisor
                let submit: @Sendable () -> Void = {
                    guard let live = handler.value.handler else {
                        // The connection is gone and its handler with it.
                        continuation.resume(throwing: supervisor.errorForLateCall(name))
                        return
                    }
                    live.submit(call, continuation: continuation)
                }
                if eventLoop.inEventLoop {
                    submit()
                } else {
                    eventLoop.execute(submit)
                }
            }
        } onCancel: {
            eventLoop.execute {
                handler.value.handler?.abandon(
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

    // MARK: - Health

    /// How the connection is doing now: responsive, wedged, reconnecting or closed.
    public var health: QMPConnectionHealth { supervisor.health }

    /// The connection's health as it changes, starting with the current one; ends after
    /// ``QMPConnectionHealth/closed``.
    public func healthUpdates() -> AsyncStream<QMPConnectionHealth> {
        supervisor.healthUpdates()
    }

    // MARK: - Closing

    /// Closes the connection. Pending calls fail; event streams end normally. A reconnect under
    /// way stops.
    public func close() async {
        guard let link = supervisor.requestClose() else {
            supervisor.finish(nil)
            return
        }
        let handler = link.handler
        let channel = link.channel
        // Futures, not cancellable waits: closing finishes also in a cancelled task.
        try? await channel.eventLoop.submit { handler.value.handler?.close() }.get()
        channel.close(promise: nil)
        try? await channel.closeFuture.get()
        // A connection that had already broken, with a reconnect to follow that now will not.
        supervisor.finish(nil)
    }

    /// Returns when the client has ended, for whatever reason: across reconnects, only when it
    /// ends for good.
    public func waitUntilClosed() async {
        await supervisor.waitUntilFinished()
    }

    /// Whether the connection is open now (not while reconnecting).
    public var isConnected: Bool {
        if case .reconnecting = supervisor.health { return false }
        return currentLink.channel.isActive
    }

    /// An executor on this connection's event loop, for `withTaskExecutorPreference`: calls
    /// made under it go without crossing threads (see ``QMPEventLoopExecutor``).
    @available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *)
    public var executor: QMPEventLoopExecutor { QMPEventLoopExecutor(eventLoop: eventLoop) }
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
    ///
    /// With a ``Configuration-swift.struct/reconnect`` policy, a broken connection is made again
    /// here instead (see ``QMPReconnectPolicy``), and `run()` throws only once the policy gives up.
    public func run() async throws {
        let shutDown: @Sendable (String) -> Void = { [supervisor] why in
            let reason = QMPError(code: .shutDown, message: "the client was shut down (\(why))")
            guard let link = supervisor.requestClose() else { return }
            let handler = link.handler
            link.channel.eventLoop.execute { handler.value.handler?.close(reason: reason) }
        }
        let ending = await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await supervise()
            } onCancel: {
                shutDown("its run() was cancelled")
            }
        } onGracefulShutdown: {
            shutDown("graceful shutdown")
        }
        // The channel may still be on its way down; return once it is.
        try? await currentLink.channel.closeFuture.get()
        if let ending {
            throw ending
        }
    }

    /// Follows the connections until the client ends; returns what ended it, `nil` for a close.
    private func supervise() async -> QMPError? {
        while true {
            switch await supervisor.nextEnding() {
            case .byUser:
                supervisor.finish(nil)
                return nil
            case .lost(let error, let reconnects):
                guard reconnects, let policy = configuration.reconnect, let address else {
                    supervisor.finish(error)
                    return error
                }
                switch await reconnect(to: address, policy: policy, after: error) {
                case .reconnected:
                    continue
                case .closed:
                    supervisor.finish(nil)
                    return nil
                case .gaveUp(let failure):
                    supervisor.finish(failure)
                    return failure
                }
            }
        }
    }

    private enum ReconnectOutcome {
        case reconnected
        case closed
        case gaveUp(QMPError)
    }

    private func reconnect(
        to address: QMPAddress,
        policy: QMPReconnectPolicy,
        after error: QMPError
    ) async
        -> ReconnectOutcome
    {
        let clock = ContinuousClock()
        let brokeAt = clock.now
        let shared = Shared(supervisor: supervisor, metrics: metrics)
        logger.warning(
            "QMP connection broke; reconnecting",
            metadata: ["qmp_peer": "\(peer)", "error": "\(error)"]
        )
        var attempt = 0
        var lastFailure: (any Error)?
        while true {
            let delay = policy.delay(beforeAttempt: attempt)
            if let giveUp = policy.giveUpAfter, clock.now + delay - brokeAt > giveUp {
                let why = lastFailure.map { "; the last attempt: \($0)" } ?? ""
                return .gaveUp(
                    QMPError(
                        code: .connectionClosed,
                        message: "the connection to \(peer) broke (\(error.message)) and \(attempt) attempts to "
                            + "reconnect over \(clock.now - brokeAt) failed\(why)"
                    )
                )
            }
            // Slices, so that a close or a graceful shutdown stops the wait soon.
            let wakeUp = clock.now + delay
            while clock.now < wakeUp {
                if supervisor.isCloseRequested || Task.isCancelled { return .closed }
                try? await Task.sleep(for: min(.milliseconds(20), wakeUp - clock.now))
            }
            if supervisor.isCloseRequested || Task.isCancelled { return .closed }
            attempt += 1
            supervisor.setHealth(.reconnecting(attempt: attempt))
            let link: ClientLink
            do {
                link = try await Self.openLink(to: address, configuration, shared, logger, on: eventLoop)
            } catch {
                metrics.reconnectFailures.increment()
                logger.debug(
                    "QMP reconnect attempt failed",
                    metadata: ["qmp_peer": "\(peer)", "attempt": "\(attempt)", "error": "\(error)"]
                )
                lastFailure = error
                continue
            }
            guard supervisor.install(link) else {
                link.channel.close(promise: nil)
                return .closed
            }
            metrics.reconnectSuccesses.increment()
            // The server may be another build now: what the check knew of its schema is stale.
            schemaState.withLockedValue { state in
                if case .known = state.phase { state.phase = .unknown }
            }
            let down = clock.now - brokeAt
            let downMilliseconds = down.components.seconds * 1000 + down.components.attoseconds / 1_000_000_000_000_000
            var data: JSONObject = ["reason": .string(error.message), "down-ms": .int(downMilliseconds)]
            if let version = link.greeting.version {
                data["version"] = .string(version.description)
            }
            hub.deliverToAll(QMPEvent(name: QMPEvent.connectionGapName, data: data, timestamp: .now))
            supervisor.setHealth(.responsive)
            logger.notice(
                "QMP reconnected",
                metadata: ["qmp_peer": "\(peer)", "attempt": "\(attempt)", "down": "\(down)"]
            )
            return .reconnected
        }
    }
}

extension QMPClient.Shared {
    init(supervisor: ClientSupervisor, metrics: QMPClientMetrics) {
        self.supervisor = supervisor
        self.metrics = metrics
    }
}

extension QMPEvent.Timestamp {
    /// The host's clock now, as QEMU stamps its events.
    static var now: QMPEvent.Timestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return QMPEvent.Timestamp(seconds: Int64(time.tv_sec), microseconds: Int64(time.tv_nsec / 1000))
    }
}
