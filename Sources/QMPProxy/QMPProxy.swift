import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import QMPClient
import QMPCore
import QMPServer
import ServiceLifecycle

/// Many QMP clients on one monitor: a proxy that serves any number of downstream clients over
/// one upstream connection, with a policy per listener.
///
/// Each downstream client is served by a `QMPServer` (one per listener, so that each listener
/// has its own policy): it gets a greeting with the upstream's version and the capabilities the
/// proxy can honour (`oob` only when the upstream connection has it), negotiates on its own, and
/// speaks QMP as to QEMU.
///
/// - **Ids.** Every command goes upstream under an id of the upstream client's own, and its reply
///   goes back with the id the downstream client chose, whatever JSON it was; a client that sends
///   no ids gets its replies in the order of its commands.
/// - **Order.** A client's in-band commands go upstream one at a time, in its order, as QEMU runs
///   them; different clients' commands are in flight together. Out-of-band commands go
///   upstream out of band at once, and the upstream judges whether the command allows it.
/// - **Errors.** Error replies come back with QEMU's class and desc as the upstream sent them.
///   A command the policy refuses (``QMPProxyPolicy``) never goes upstream: its client gets
///   class `GenericError` and a desc that names the rule.
/// - **Events.** Every upstream event goes to every negotiated client, each with its own backlog
///   bounded by ``Configuration/eventBacklogLimit``. A client that does not read loses the
///   events beyond it; they are counted (``clients()``) and logged, and nobody else waits: the
///   proxy neither slows the other clients nor stops reading the upstream.
/// - **Upstream lost.** Every downstream command not yet answered fails with class
///   `GenericError` and a desc saying that the proxy lost its connection to QEMU and whether the
///   command may have run, and so does every command the proxy reads within
///   ``Configuration/servingAfterUpstreamLoss``; then every downstream connection closes, as it
///   would if QEMU itself had gone (a command still unread then gets no reply), and ``run()``
///   throws a `QMPError` of code `connectionClosed`. The proxy does not reconnect by itself:
///   give the upstream `QMPClient` a reconnect policy for that, and the
///   proxy serves on across reconnects, answering the commands cut off by one with the same
///   error.
///
/// It is a swift-service-lifecycle `Service`: ``run()`` serves until a graceful shutdown, its
/// task's cancellation or the loss of the upstream. The upstream client belongs to the caller,
/// who connects it (over any transport `QMPClient` has) and closes it.
public final class QMPProxy: Sendable {
    /// Where clients connect, and what they may do.
    public struct Listener: Sendable {
        /// Names the listener in logs, statistics and refusals.
        public var name: String
        /// The Unix sockets and TCP ports its clients connect to.
        public var addresses: [QMPAddress]
        /// What its clients may run, unless one of ``peerPolicies`` applies.
        public var policy: QMPProxyPolicy
        /// Policies by who a client on one of the listener's Unix sockets is: the first that
        /// matches the user and group the system reports for the client's process applies
        /// instead of ``policy``. Clients over TCP always get ``policy``.
        public var peerPolicies: [PeerPolicy]

        /// A listener on `addresses` whose clients run under `policy`, or under the first of
        /// `peerPolicies` that matches a Unix socket client's credentials.
        public init(
            name: String,
            addresses: [QMPAddress],
            policy: QMPProxyPolicy = .standard,
            peerPolicies: [PeerPolicy] = []
        ) {
            self.name = name
            self.addresses = addresses
            self.policy = policy
            self.peerPolicies = peerPolicies
        }

        /// The policy for the client with these credentials, and how refusals name it.
        func policy(for peer: QMPPeerCredentials?) -> (policy: QMPProxyPolicy, name: String) {
            if let peer, let match = peerPolicies.first(where: { $0.matches(uid: peer.uid, gid: peer.gid) }) {
                return (match.policy, "listener '\(name)' for uid \(peer.uid) gid \(peer.gid)")
            }
            return (policy, "listener '\(name)'")
        }
    }

    /// A policy for the Unix socket clients of one user or group (or both).
    public struct PeerPolicy: Sendable, Hashable, Codable {
        /// The user id the client's process must run as; any when `nil`.
        public var uid: UInt32?
        /// The group id the client's process must run as; any when `nil`.
        public var gid: UInt32?
        /// What such clients may run.
        public var policy: QMPProxyPolicy

        /// A policy for clients running as `uid` and `gid` (those given).
        public init(uid: UInt32? = nil, gid: UInt32? = nil, policy: QMPProxyPolicy) {
            self.uid = uid
            self.gid = gid
            self.policy = policy
        }

        /// Whether a client with these ids gets this policy.
        public func matches(uid: UInt32, gid: UInt32) -> Bool {
            (self.uid.map { $0 == uid } ?? true) && (self.gid.map { $0 == gid } ?? true)
        }
    }

    /// The listeners and the limits.
    public struct Configuration: Sendable {
        /// Where downstream clients connect; each listener has its own policy.
        public var listeners: [Listener]
        /// The most bytes of events one downstream client may have outstanding; the events
        /// beyond it are dropped for that client and counted.
        public var eventBacklogLimit: Int
        /// The most memory one listener's clients together hold in buffers (see
        /// `QMPServer.Configuration.memoryBudget`).
        public var memoryBudget: Int
        /// The most clients one listener serves at once.
        public var maximumConnections: Int
        /// The bound of every forwarded command; `nil` leaves it to the upstream client's
        /// configuration (its `commandTimeout`, else its timeout policy by command class).
        public var commandTimeout: Duration?
        /// How many upstream events may wait to be fanned out; the oldest are dropped beyond
        /// it. Fanning out never waits for a client, so this only fills when the proxy's own
        /// threads fall behind.
        public var upstreamEventBuffer: Int
        /// How long a graceful shutdown lets forwarded commands finish.
        public var shutdownGracePeriod: Duration
        /// How long the clients are still served once the upstream connection is lost, each
        /// command failing at once: long enough for the commands a client sent behind the ones
        /// that failed (already read, waiting their turn) to be answered before the connection
        /// closes.
        public var servingAfterUpstreamLoss: Duration
        /// The mode of the Unix socket files the proxy creates.
        public var unixSocketPermissions: Int
        /// Where the downstream connections' I/O runs.
        public var eventLoopGroup: any EventLoopGroup

        /// A configuration with the proxy's default limits.
        public init(
            listeners: [Listener],
            eventBacklogLimit: Int = 1 << 20,
            memoryBudget: Int = 64 << 20,
            maximumConnections: Int = 256,
            commandTimeout: Duration? = nil,
            upstreamEventBuffer: Int = 4096,
            shutdownGracePeriod: Duration = .seconds(10),
            servingAfterUpstreamLoss: Duration = .milliseconds(250),
            unixSocketPermissions: Int = 0o600,
            eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
        ) {
            self.listeners = listeners
            self.eventBacklogLimit = eventBacklogLimit
            self.memoryBudget = memoryBudget
            self.maximumConnections = maximumConnections
            self.commandTimeout = commandTimeout
            self.upstreamEventBuffer = upstreamEventBuffer
            self.shutdownGracePeriod = shutdownGracePeriod
            self.servingAfterUpstreamLoss = servingAfterUpstreamLoss
            self.unixSocketPermissions = unixSocketPermissions
            self.eventLoopGroup = eventLoopGroup
        }
    }

    /// One downstream client, as ``clients()`` reports it.
    public struct Client: Sendable, Hashable {
        /// The listener it connected to.
        public var listener: String
        /// Its connection's number within that listener.
        public var connectionID: Int
        /// Events it lost because it did not read them in time.
        public var eventsDropped: Int
    }

    /// What the proxy has done since it started.
    public struct Statistics: Sendable, Hashable {
        /// Commands sent upstream.
        public var commandsForwarded = 0
        /// Commands the policy refused.
        public var commandsDenied = 0
        /// Upstream events fanned out.
        public var eventsForwarded = 0
    }

    /// The configuration the proxy was made with.
    public let configuration: Configuration
    /// The greeting every downstream client gets.
    public let greeting: QMPGreeting
    private let upstream: QMPClient
    private let servers: [QMPServer]
    private let logger: Logger
    private let counters = NIOLockedValueBox(Statistics())
    private let started = NIOLockedValueBox(false)
    private let announcements: Announcements

    /// A proxy for `upstream`, which must be connected and negotiated.
    ///
    /// - Parameters:
    ///   - upstream: the connection to the monitor, owned by the caller.
    ///   - configuration: the listeners and limits.
    ///   - logger: where the proxy logs; by default nowhere.
    ///   - onListening: called once per listener, with its name and the addresses it bound (a
    ///     TCP port 0 replaced by the port chosen), before it accepts clients.
    public init(
        upstream: QMPClient,
        configuration: Configuration,
        logger: Logger = Logger(label: "qmp", factory: { _ in SwiftLogNoOpLogHandler() }),
        onListening: @escaping @Sendable (String, [QMPAddress]) async -> Void = { _, _ in }
    ) {
        self.upstream = upstream
        self.configuration = configuration
        self.logger = logger
        let oob = upstream.oobEnabled
        let greeting = QMPGreeting(
            version: upstream.greeting.version,
            package: upstream.greeting.package,
            capabilities: oob ? [.oob] : []
        )
        self.greeting = greeting
        let counters = self.counters
        let timeout = configuration.commandTimeout
        let announcements = Announcements(expected: configuration.listeners.count)
        self.announcements = announcements
        servers = configuration.listeners.enumerated().map { index, listener in
            var listenerLogger = logger
            listenerLogger[metadataKey: "qmp_listener"] = "\(listener.name)"
            let forward = Self.forwarder(
                upstream: upstream,
                listener: listener,
                timeout: timeout,
                counters: counters,
                logger: listenerLogger
            )
            return QMPServer(
                configuration: .init(
                    greeting: greeting,
                    commands: QMPCommandTable(),
                    addresses: listener.addresses,
                    // The upstream QEMU rate-limits its events already.
                    throttledEvents: [:],
                    eventBacklogLimit: configuration.eventBacklogLimit,
                    memoryBudget: configuration.memoryBudget,
                    maximumConnections: configuration.maximumConnections,
                    shutdownGracePeriod: configuration.shutdownGracePeriod,
                    eventLoopGroup: configuration.eventLoopGroup,
                    unixSocketPermissions: configuration.unixSocketPermissions
                ),
                forwardingHandler: forward,
                forwardsOutOfBand: oob,
                logger: listenerLogger,
                onListening: { addresses in
                    announcements.listened(index, addresses)
                    await onListening(listener.name, addresses)
                }
            )
        }
    }

    /// The downstream clients connected now, listener by listener.
    public func clients() -> [Client] {
        zip(configuration.listeners, servers).flatMap { listener, server in
            server.eventsDroppedByConnection.sorted { $0.key < $1.key }.map {
                Client(listener: listener.name, connectionID: $0.key, eventsDropped: $0.value)
            }
        }
    }

    /// What the proxy has forwarded and refused so far.
    public var statistics: Statistics { counters.withLockedValue { $0 } }

    /// Stops accepting clients, lets the commands in flight finish within
    /// ``Configuration/shutdownGracePeriod``, closes the downstream connections and makes
    /// ``run()`` return. The upstream connection stays open.
    public func beginGracefulShutdown() {
        for server in servers {
            server.beginGracefulShutdown()
        }
    }

    /// Serves until a graceful shutdown (the `ServiceGroup`'s or ``beginGracefulShutdown()``),
    /// the task's cancellation, or the loss of the upstream connection. Call it once.
    ///
    /// - Throws: a `QMPError` of code `connectionClosed` when the upstream connection ended (after
    ///   the pending downstream commands were answered and the downstream connections closed);
    ///   an address's binding error (the other listeners are shut down first); one of code
    ///   `invalidArguments` when ``Configuration/listeners`` is empty.
    public func run() async throws {
        try await run(announcing: nil)
    }

    /// Runs the proxy while `body` runs, handing it the addresses each listener bound, in the
    /// order of ``Configuration/listeners``; then shuts the proxy down gracefully and returns
    /// `body`'s result once ``run()`` has returned. The loss of the upstream does not end `body`:
    /// its downstream clients see their connections close.
    public func serving<Result: Sendable>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: ([[QMPAddress]]) async throws -> Result
    ) async throws -> Result {
        let (bound, announce) = AsyncStream<[Int: [QMPAddress]]>.makeStream()
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask {
                do {
                    try await self.run(announcing: announce)
                } catch let error as QMPError where error.code == .connectionClosed {
                    // Reported to the clients; `body` decides what it means.
                }
            }
            var addresses: [Int: [QMPAddress]]?
            for await announced in bound {
                addresses = announced
                break
            }
            guard let addresses else {
                try await group.waitForAll()
                throw QMPError(code: .connectionClosed, message: "the proxy stopped before it listened")
            }
            let ordered = configuration.listeners.indices.map { addresses[$0] ?? [] }
            let result: Result
            do {
                result = try await body(ordered)
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

    private enum Ending: Sendable {
        case listenerStopped
        case upstreamLost(String?)
    }

    private func run(announcing announce: AsyncStream<[Int: [QMPAddress]]>.Continuation?) async throws {
        defer { announce?.finish() }
        let first = started.withLockedValue { started in
            defer { started = true }
            return !started
        }
        guard first else {
            throw QMPError(code: .connectionClosed, message: "the proxy has run already; a QMPProxy runs once")
        }
        // Without a listener nothing would end run() but the upstream's loss.
        guard !servers.isEmpty else {
            throw QMPError(code: .invalidArguments, message: "the proxy has no listener to serve")
        }
        announcements.announce(to: announce)
        // Subscribed before any listener accepts: no client misses an event sent after it
        // negotiated. The stream ends when the upstream connection does.
        let events = upstream.events(bufferSize: configuration.upstreamEventBuffer, whenFull: .dropOldest)
        let listenerCount = servers.count
        try await withThrowingTaskGroup(of: Ending.self) { group in
            for server in servers {
                group.addTask {
                    try await server.run()
                    return .listenerStopped
                }
            }
            group.addTask { [servers, counters] in
                do {
                    for try await event in events where !event.isConnectionGap {
                        counters.withLockedValue { $0.eventsForwarded += 1 }
                        for server in servers {
                            server.broadcast(event)
                        }
                    }
                    return Task.isCancelled ? .listenerStopped : .upstreamLost(nil)
                } catch {
                    return Task.isCancelled ? .listenerStopped : .upstreamLost("\(error)")
                }
            }
            var stopped = 0
            var lost: String??
            do {
                while let ending = try await group.next() {
                    switch ending {
                    case .listenerStopped:
                        stopped += 1
                    case .upstreamLost(let reason):
                        lost = .some(reason)
                        logger.warning(
                            "the proxy lost its upstream connection; closing the downstream clients",
                            metadata: ["error": "\(reason ?? "closed")"]
                        )
                        // Cancelled, the wait ends early; the shutdown follows either way.
                        try? await Task.sleep(for: configuration.servingAfterUpstreamLoss)
                        beginGracefulShutdown()
                    }
                    if stopped == listenerCount {
                        // Every listener is done: the event pump has nobody left to serve.
                        group.cancelAll()
                    }
                }
            } catch {
                beginGracefulShutdown()
                group.cancelAll()
                while (try? await group.next()) != nil {}
                throw error
            }
            if let lost {
                throw QMPError(
                    code: .connectionClosed,
                    message: "the proxy's upstream connection ended" + (lost.map { ": \($0)" } ?? "")
                )
            }
        }
    }

    // MARK: - Forwarding

    /// The handler of every command a listener's clients send (but `qmp_capabilities`, which
    /// each client negotiates with its server): the policy first, then the upstream.
    private static func forwarder(
        upstream: QMPClient,
        listener: Listener,
        timeout: Duration?,
        counters: NIOLockedValueBox<Statistics>,
        logger: Logger
    ) -> QMPCommandHandler {
        { request in
            let (policy, whose) = listener.policy(for: request.server.peerCredentials(of: request.connectionID))
            if case .denied(let reason) = policy.decide(request.name, arguments: request.arguments) {
                counters.withLockedValue { $0.commandsDenied += 1 }
                logger.info(
                    "refused a command",
                    metadata: [
                        "qmp_command": "\(request.name)", "qmp_connection": "\(request.connectionID)",
                        "qmp_rule": "\(reason)",
                    ]
                )
                throw QMPErrorBody(
                    errorClass: QMPError.ErrorClass.genericError,
                    description: "Command '\(request.name)' refused by the proxy's policy for \(whose): \(reason)"
                )
            }
            counters.withLockedValue { $0.commandsForwarded += 1 }
            let arguments = request.arguments.isEmpty ? nil : request.arguments
            do {
                if request.outOfBand {
                    return try await upstream.executeOutOfBand(request.name, arguments: arguments, timeout: timeout)
                }
                return try await upstream.execute(request.name, arguments: arguments, timeout: timeout)
            } catch let error as QMPError {
                throw reply(for: error)
            }
        }
    }

    /// What a downstream client is told when its command did not get a reply from upstream:
    /// QEMU's error reply as it came, or a `GenericError` that says what happened.
    static func reply(for error: QMPError) -> QMPErrorBody {
        if error.code == .commandFailed, let errorClass = error.errorClass {
            return QMPErrorBody(errorClass: errorClass, description: error.message)
        }
        let description: String
        switch error.code {
        case .connectionClosed, .connectionFailed, .shutDown:
            description =
                "The proxy lost its connection to QEMU (\(error.message)); "
                + "the command may or may not have run"
        case .timeout, .wedged:
            description =
                "QEMU did not answer the proxy in time (\(error.message)); "
                + "the command may still run"
        default:
            description = "The proxy could not forward the command: \(error.message)"
        }
        return QMPErrorBody(errorClass: QMPError.ErrorClass.genericError, description: description)
    }
}

/// Collects the addresses the listeners bound, for ``QMPProxy/serving(isolation:_:)``.
private final class Announcements: Sendable {
    private struct State {
        var bound: [Int: [QMPAddress]] = [:]
        var continuation: AsyncStream<[Int: [QMPAddress]]>.Continuation?
    }

    private let state = NIOLockedValueBox(State())
    private let expected: Int

    init(expected: Int) {
        self.expected = expected
    }

    func announce(to continuation: AsyncStream<[Int: [QMPAddress]]>.Continuation?) {
        state.withLockedValue { $0.continuation = continuation }
    }

    func listened(_ index: Int, _ addresses: [QMPAddress]) {
        state.withLockedValue { state in
            state.bound[index] = addresses
            if state.bound.count == expected {
                state.continuation?.yield(state.bound)
            }
        }
    }
}

extension QMPProxy: Service {}
