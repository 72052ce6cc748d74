import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import QMPCore

/// A command as a handler sees it.
public struct QMPServerRequest: Sendable {
    /// The command's name.
    public var name: String
    /// Its arguments; empty when it had none.
    public var arguments: JSONObject
    /// The client's id, which the reply echoes.
    public var id: JSONValue?
    /// Whether it came as `exec-oob`.
    public var outOfBand: Bool
    /// Identifies the client connection, for handlers that keep per-client state.
    public var connectionID: Int
    /// The server running the command, e.g. to broadcast the events it causes.
    public var server: QMPServer
}

/// Runs one command. Return the `return` value; throw a `QMPErrorBody` for an error reply
/// with that class and desc (any other error becomes a `GenericError` with its description).
public typealias QMPCommandHandler = @Sendable (QMPServerRequest) async throws -> JSONValue

/// A handler that answers without suspending. The server runs it on the client's event loop
/// as soon as the command's turn comes, which saves the two thread hops (into a task and back)
/// that an `async` handler costs per command; it must therefore not block.
public typealias QMPImmediateCommandHandler = @Sendable (QMPServerRequest) throws -> JSONValue

/// Thrown by a command handler to misbehave on the wire instead of replying, as a faulty QEMU
/// would: the way a test double shows how its clients cope with a broken monitor.
///
/// The bytes go where the reply would have gone (in its turn among the in-band replies), as
/// they are: nothing checks that they are JSON. Empty bytes answer nothing at all.
public struct QMPReplyFault: Error, Sendable {
    /// What becomes of the command and the connection once the bytes are written.
    public enum Ending: Sendable {
        /// The command counts as answered: the commands after it run.
        case answered
        /// The command never finishes: the in-band commands after it wait, as behind a QEMU
        /// whose main loop is stuck, until the connection closes (or the server shuts down,
        /// which answers it with its shutdown error).
        case stalled
        /// The connection closes, without another reply or event.
        case closed
    }

    /// Written in place of the reply.
    public var bytes: [UInt8]
    /// What happens next.
    public var ending: Ending

    /// A fault that writes `bytes` in place of the reply, then ends as `ending` says.
    public init(writing bytes: [UInt8] = [], then ending: Ending) {
        self.bytes = bytes
        self.ending = ending
    }
}

/// The commands a server knows.
public struct QMPCommandTable: Sendable {
    /// One command's registration.
    public struct Entry: Sendable {
        /// The command's name.
        public var name: String
        /// Whether clients may send it with `exec-oob`.
        public var allowsOutOfBand: Bool
        /// Checks the arguments before the handler runs; a problem is sent as the reply.
        public var checkArguments: (@Sendable (JSONObject) -> QMPErrorBody?)?
        /// Runs the command.
        public var handler: QMPCommandHandler
        /// Set when the command was registered with ``QMPCommandTable/registerImmediate(_:allowsOutOfBand:checkArguments:_:)``;
        /// ``handler`` then calls it too.
        public var immediateHandler: QMPImmediateCommandHandler?
    }

    /// The registered commands, by name.
    public private(set) var entries: [String: Entry] = [:]

    /// A table with no commands; `qmp_capabilities` is the server's own.
    public init() {}

    /// Registers (or replaces) the handler of `name`.
    public mutating func register(
        _ name: String,
        allowsOutOfBand: Bool = false,
        checkArguments: (@Sendable (JSONObject) -> QMPErrorBody?)? = nil,
        _ handler: @escaping QMPCommandHandler
    ) {
        entries[name] = Entry(
            name: name,
            allowsOutOfBand: allowsOutOfBand,
            checkArguments: checkArguments,
            handler: handler
        )
    }

    /// Registers (or replaces) the handler of `name`, for a handler that neither suspends nor
    /// blocks: it runs on the client connection's event loop, without a task.
    public mutating func registerImmediate(
        _ name: String,
        allowsOutOfBand: Bool = false,
        checkArguments: (@Sendable (JSONObject) -> QMPErrorBody?)? = nil,
        _ handler: @escaping QMPImmediateCommandHandler
    ) {
        entries[name] = Entry(
            name: name,
            allowsOutOfBand: allowsOutOfBand,
            checkArguments: checkArguments,
            handler: { try handler($0) },
            immediateHandler: handler
        )
    }

    /// Every command name, `qmp_capabilities` included, sorted.
    public var names: [String] {
        (Array(entries.keys) + ["qmp_capabilities"]).sorted()
    }
}

/// A QMP server: listens on Unix sockets and TCP, serves any number of clients at once, each
/// with QEMU's greeting, negotiation, envelope checks and reply ordering
/// (`QMPServerStateMachine`); broadcasts events to every client in command mode.
///
/// It is a swift-service-lifecycle `Service`: ``run()`` listens on
/// ``Configuration/addresses``, serves until its task is cancelled or a graceful shutdown is
/// triggered, and returns once every connection is closed. ``serving(isolation:_:)`` runs it for as long
/// as a closure runs. See ``run()`` for what a shutdown does to commands in flight.
///
/// A client that sends commands without reading the replies is not read from further: like
/// QEMU, the server stops reading once a client has 8 in-band commands outstanding (1 without
/// OOB) or its replies are not leaving, so such a client cannot grow the server's memory.
/// Together the clients hold at most ``Configuration/memoryBudget`` in buffers, and at most
/// ``Configuration/maximumConnections`` are served at once; ``statistics`` says what these
/// limits turned away.
public final class QMPServer: Sendable {
    /// What the server serves, where, and within which limits.
    public struct Configuration: Sendable {
        /// The greeting every client gets.
        public var greeting: QMPGreeting
        /// The commands the server runs.
        public var commands: QMPCommandTable
        /// Where ``QMPServer/run()`` listens; a TCP port 0 takes one the system chooses, which
        /// `onListening` (or ``QMPServer/serving(isolation:_:)``) reports.
        public var addresses: [QMPAddress]
        /// Checks a command's arguments before its handler runs; an error body is sent instead.
        public var checkArguments: (@Sendable (String, JSONObject) -> QMPErrorBody?)?
        /// The JSON reader's limits for what clients send (single quotes accepted, as QEMU does).
        public var reader: JSONReader.Configuration
        /// Events limited to one per `throttleInterval` of each kind, as QEMU limits those a
        /// guest can trigger; empty to send everything at once.
        public var throttledEvents: [String: String?]
        /// How far apart throttled events of one kind are sent.
        public var throttleInterval: Duration
        /// The most bytes of events one client may have outstanding (waiting, or written and
        /// not yet taken by its socket); further events are dropped for that client. A client
        /// that reads slowly catches up within it; one that stops reading costs at most this.
        public var eventBacklogLimit: Int
        /// The most memory all connections together may hold in buffers: what clients sent and
        /// the server has not read as messages yet, and replies and events the clients' sockets
        /// have not taken yet, counted by the capacity of the buffers that hold them. Past it,
        /// events are dropped (counted in ``QMPServer/Statistics/eventsDropped``), and a client
        /// whose input would need more gets a `GenericError` and is disconnected. Events and
        /// input stop at fifteen sixteenths of it; the rest is kept for replies, which are never
        /// dropped (a client that does not read them is not read from either).
        public var memoryBudget: Int
        /// The most clients connected at once. A client beyond it is disconnected before its
        /// greeting (the server logs it and counts it in
        /// ``QMPServer/Statistics/connectionsRefused``) instead of waiting unseen.
        public var maximumConnections: Int
        /// How long a graceful shutdown lets the commands already running finish before they
        /// are answered with an error and their connections close.
        public var shutdownGracePeriod: Duration
        /// Where the connections' I/O runs.
        public var eventLoopGroup: any EventLoopGroup
        /// The mode of the Unix socket files the server creates, whatever the process's umask:
        /// by default only their owner may connect. (QEMU's own follow the umask.)
        public var unixSocketPermissions: Int

        /// A configuration; the limits default to QEMU's.
        public init(
            greeting: QMPGreeting,
            commands: QMPCommandTable,
            addresses: [QMPAddress] = [],
            checkArguments: (@Sendable (String, JSONObject) -> QMPErrorBody?)? = nil,
            reader: JSONReader.Configuration = .server,
            throttledEvents: [String: String?] = QMPEventThrottle.qemuThrottledEvents,
            throttleInterval: Duration = .seconds(1),
            eventBacklogLimit: Int = 64 << 20,
            memoryBudget: Int = 256 << 20,
            maximumConnections: Int = 1024,
            shutdownGracePeriod: Duration = .seconds(10),
            eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
            unixSocketPermissions: Int = 0o600
        ) {
            self.unixSocketPermissions = unixSocketPermissions
            self.eventBacklogLimit = eventBacklogLimit
            self.memoryBudget = memoryBudget
            self.maximumConnections = maximumConnections
            self.greeting = greeting
            self.commands = commands
            self.addresses = addresses
            self.checkArguments = checkArguments
            self.reader = reader
            self.throttledEvents = throttledEvents
            self.throttleInterval = throttleInterval
            self.shutdownGracePeriod = shutdownGracePeriod
            self.eventLoopGroup = eventLoopGroup
        }
    }

    /// The configuration the server was made with.
    public let configuration: Configuration
    /// ``QMPCommandTable/entries`` again, in a dictionary at most a quarter full. Swift's
    /// dictionaries compare the key of every occupied slot a probe passes, and comparing a
    /// command name with a longer one takes the string slow path; at this load a lookup
    /// usually compares only the name it finds. Looked up twice for every command.
    let commands: [String: QMPCommandTable.Entry]
    let logger: Logger
    let state = NIOLockedValueBox(ServerState())
    let usage: QMPServerUsage
    private let throttle: NIOLockedValueBox<QMPEventThrottle>
    let onListening: @Sendable ([QMPAddress]) async -> Void
    /// Finished by ``beginGracefulShutdown()``; ``run()`` waits on it.
    let shutdownSignal: AsyncStream<Void>
    let shutdownTrigger: AsyncStream<Void>.Continuation

    struct Connection: Sendable {
        var id: Int
        var handler: NIOLoopBound<QMPServerConnectionHandler>
        var outbox: QMPEventOutbox
        /// The user and group of the process at the other end of a Unix socket, as the system
        /// reported them when it connected.
        var peer: QMPPeerCredentials?
    }

    struct ServerState {
        enum Phase {
            case initial, running, shuttingDown, finished
        }
        var phase = Phase.initial
        var listeners: [any Channel] = []
        /// By id: a closing connection removes itself in constant time, however many close at
        /// once. Copying the dictionary for a broadcast's snapshot does not allocate.
        var connections: [Int: Connection] = [:]
        var nextConnectionID = 1
    }

    /// Answers every command that has no entry in the table, in place of QEMU's
    /// `CommandNotFound`: the fake monitor of QMPTestSupport sees commands it was not told to
    /// expect through it.
    let unknownCommandHandler: QMPImmediateCommandHandler?

    /// Runs every command that has no entry in the table, as an `async` handler: a proxy's
    /// forwarding to its upstream monitor, which answers for the commands it does not have.
    let forwardingHandler: QMPCommandHandler?
    /// Whether commands without an entry may come as `exec-oob`; the forwarding handler then
    /// passes them on out of band, and the upstream monitor judges the command.
    let forwardsOutOfBand: Bool

    /// A server that listens once ``run()`` runs.
    ///
    /// - Parameters:
    ///   - configuration: the greeting, the commands, the addresses and the limits.
    ///   - logger: where the server logs; by default nowhere.
    ///   - onListening: called by ``run()`` with the addresses bound (a TCP port 0
    ///     replaced by the port chosen) once it listens on all of them, before it accepts.
    public convenience init(
        configuration: Configuration,
        logger: Logger = Logger(label: "qmp", factory: { _ in SwiftLogNoOpLogHandler() }),
        onListening: @escaping @Sendable ([QMPAddress]) async -> Void = { _ in }
    ) {
        self.init(configuration: configuration, unknownCommandHandler: nil, logger: logger, onListening: onListening)
    }

    package convenience init(
        configuration: Configuration,
        unknownCommandHandler: QMPImmediateCommandHandler?,
        logger: Logger = Logger(label: "qmp", factory: { _ in SwiftLogNoOpLogHandler() }),
        onListening: @escaping @Sendable ([QMPAddress]) async -> Void = { _ in }
    ) {
        self.init(
            configuration: configuration,
            unknownCommandHandler: unknownCommandHandler,
            forwardingHandler: nil,
            forwardsOutOfBand: false,
            logger: logger,
            onListening: onListening
        )
    }

    /// A server that hands every command its table does not have to `forwardingHandler`, in a
    /// task of the server's tree, with QEMU's envelope checks, negotiation and reply order
    /// kept: the downstream side of a proxy.
    package convenience init(
        configuration: Configuration,
        forwardingHandler: @escaping QMPCommandHandler,
        forwardsOutOfBand: Bool,
        logger: Logger,
        onListening: @escaping @Sendable ([QMPAddress]) async -> Void = { _ in }
    ) {
        self.init(
            configuration: configuration,
            unknownCommandHandler: nil,
            forwardingHandler: forwardingHandler,
            forwardsOutOfBand: forwardsOutOfBand,
            logger: logger,
            onListening: onListening
        )
    }

    private init(
        configuration: Configuration,
        unknownCommandHandler: QMPImmediateCommandHandler?,
        forwardingHandler: QMPCommandHandler?,
        forwardsOutOfBand: Bool,
        logger: Logger,
        onListening: @escaping @Sendable ([QMPAddress]) async -> Void
    ) {
        self.configuration = configuration
        self.usage = QMPServerUsage(budget: configuration.memoryBudget)
        self.unknownCommandHandler = unknownCommandHandler
        self.forwardingHandler = forwardingHandler
        self.forwardsOutOfBand = forwardsOutOfBand
        var commands = [String: QMPCommandTable.Entry](minimumCapacity: configuration.commands.entries.count * 4)
        for (name, entry) in configuration.commands.entries {
            commands[name] = entry
        }
        self.commands = commands
        self.logger = logger
        self.onListening = onListening
        self.throttle = NIOLockedValueBox(QMPEventThrottle(throttled: configuration.throttledEvents))
        (shutdownSignal, shutdownTrigger) = AsyncStream<Void>.makeStream()
    }

    /// Sends `event` to every client in command mode, subject to QEMU's rate limits.
    public func broadcast(_ event: QMPEvent) {
        // Most events are not rate-limited; those need not take the throttle's lock.
        guard configuration.throttledEvents[event.name] != nil else {
            deliver(event)
            return
        }
        switch throttle.withLockedValue({ $0.offer(event) }) {
        case .held:
            return
        case .send:
            break
        case .sendAndStartTimer(let key):
            startThrottleTimer(key)
        }
        deliver(event)
    }

    private func startThrottleTimer(_ key: QMPEventThrottle.Key) {
        configuration.eventLoopGroup.next().scheduleTask(in: TimeAmount(configuration.throttleInterval)) { [self] in
            if let held = throttle.withLockedValue({ $0.timerFired(key) }) {
                deliver(held)
                startThrottleTimer(key)
            }
        }
    }

    private func deliver(_ event: QMPEvent) {
        let connections = state.withLockedValue { $0.connections }
        guard !connections.isEmpty else { return }
        // Serialised once, whatever the number of clients.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        QMPEventOutbox.encode(event, into: &bytes)
        bytes.withUnsafeBytes { encoded in
            for connection in connections.values where connection.outbox.append(encoded) {
                let handler = connection.handler
                // Always scheduled, never run in place even on the handler's own loop: a command
                // handler that broadcasts would otherwise re-enter its connection's handler,
                // whose state skips the run-time exclusivity checks.
                handler.eventLoop.execute { handler.value.flushEvents() }
            }
        }
    }

    /// Clients connected right now.
    public var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    /// The ids of the clients connected right now, for ``closeConnection(_:replyingFirst:)``.
    package var connectionIDs: [Int] { state.withLockedValue { $0.connections.keys.sorted() } }

    /// Bytes of replies and events written for clients but not yet taken by their sockets,
    /// summed over the connections. It stays bounded when a client stops reading: the server
    /// stops reading that client's commands once its output backs up.
    public func bufferedOutputBytes() async -> Int {
        let connections = state.withLockedValue { $0.connections }
        var total = 0
        for connection in connections.values {
            let handler = connection.handler
            total += (try? await handler.eventLoop.submit { handler.value.bufferedOutputBytes }.get()) ?? 0
        }
        return total
    }

    /// Events dropped so far for each client connected right now, by connection id: those that
    /// did not fit in the client's backlog (``Configuration/eventBacklogLimit``) or the
    /// server's memory budget.
    package var eventsDroppedByConnection: [Int: Int] {
        state.withLockedValue { $0.connections }.mapValues { $0.outbox.droppedTotal }
    }

    /// The user and group of the process that opened a client connection over a Unix socket, as
    /// the system reports them; `nil` over TCP, or for a connection no longer open.
    package func peerCredentials(of connectionID: Int) -> QMPPeerCredentials? {
        state.withLockedValue { $0.connections[connectionID]?.peer }
    }

    /// Closes one client's connection once what it has been sent so far has been written: a
    /// command handler that calls it has its reply sent first, unless `replyingFirst` is false.
    /// An immediate handler can then close the connection instead of answering, as a monitor
    /// that dies mid-command does (the events it broadcast before still go out).
    package func closeConnection(_ connectionID: Int, replyingFirst: Bool = true) {
        guard let connection = state.withLockedValue({ $0.connections[connectionID] }) else {
            return
        }
        let handler = connection.handler
        if !replyingFirst {
            if handler.eventLoop.inEventLoop {
                handler.value.stopReplying()
            } else {
                handler.eventLoop.execute { handler.value.stopReplying() }
            }
        }
        // Always scheduled, so that a handler's own reply (written and flushed in the tick that
        // ran the handler) goes out first.
        handler.eventLoop.execute { handler.value.close() }
    }

    // MARK: - For connections

    /// What dispatching a command came to: its reply, or the `async` handler still to run.
    enum Dispatch {
        case answered(Result<JSONValue, QMPErrorBody>)
        case faulted(QMPReplyFault)
        case runLater(QMPCommandHandler)
    }

    /// How a command ended: with its reply, or with a fault its handler threw.
    enum Outcome {
        case answered(Result<JSONValue, QMPErrorBody>)
        case faulted(QMPReplyFault)
    }

    /// Looks the command up and checks its arguments once, on the caller's thread; runs an
    /// immediate handler there too. Only an `async` handler is left for a task.
    func dispatch(_ request: QMPServerRequest) -> Dispatch {
        guard let entry = commands[request.name] else {
            if let forwardingHandler { return .runLater(forwardingHandler) }
            guard let unknownCommandHandler else { return .answered(.failure(Self.notFound(request.name))) }
            do {
                return .answered(.success(try unknownCommandHandler(request)))
            } catch {
                return .answered(.failure(Self.errorBody(error)))
            }
        }
        if let problem = check(entry, request) {
            return .answered(.failure(problem))
        }
        guard let handler = entry.immediateHandler else { return .runLater(entry.handler) }
        do {
            return .answered(.success(try handler(request)))
        } catch let fault as QMPReplyFault {
            return .faulted(fault)
        } catch {
            return .answered(.failure(Self.errorBody(error)))
        }
    }

    /// Runs an `async` handler that ``dispatch(_:)`` left, with its errors as QMP error bodies.
    static func run(_ handler: QMPCommandHandler, _ request: QMPServerRequest) async -> Outcome {
        do {
            return .answered(.success(try await handler(request)))
        } catch let fault as QMPReplyFault {
            return .faulted(fault)
        } catch is CancellationError where Task.isCancelled {
            // The handler's own task was cancelled: only a shutdown does that.
            return .answered(.failure(shutDownBeforeFinishing))
        } catch {
            return .answered(.failure(errorBody(error)))
        }
    }

    private func check(_ entry: QMPCommandTable.Entry, _ request: QMPServerRequest) -> QMPErrorBody? {
        if let check = entry.checkArguments, let problem = check(request.arguments) {
            return problem
        }
        if let check = configuration.checkArguments, let problem = check(request.name, request.arguments) {
            return problem
        }
        return nil
    }

    private static func notFound(_ name: String) -> QMPErrorBody {
        QMPErrorBody(
            errorClass: QMPError.ErrorClass.commandNotFound,
            description: "The command \(name) has not been found"
        )
    }

    static func errorBody(_ error: any Error) -> QMPErrorBody {
        switch error {
        case let body as QMPErrorBody:
            return body
        case let error as QMPDecodingError:
            return decodingFailure(error)
        case let error as QMPError:
            return QMPErrorBody(
                errorClass: error.errorClass ?? QMPError.ErrorClass.genericError,
                description: error.message
            )
        default:
            return QMPErrorBody(errorClass: QMPError.ErrorClass.genericError, description: "\(error)")
        }
    }

    /// The reply to a command that was still running (or waiting its turn) when the server's
    /// shutdown grace period ran out, or when its task was cancelled.
    static let shutDownBeforeFinishing = QMPErrorBody(
        errorClass: QMPError.ErrorClass.genericError,
        description: "The server shut down before the command finished"
    )

    /// Arguments that passed the argument check (or were not checked) but do not decode into the
    /// command's type, worded as QEMU's input visitor words the common cases.
    static func decodingFailure(_ error: QMPDecodingError) -> QMPErrorBody {
        let name = error.path.description
        let description =
            error == .missing(error.path)
            ? "Parameter '\(name)' is missing"
            : "Invalid parameter '\(name)': \(error.message)"
        return QMPErrorBody(errorClass: QMPError.ErrorClass.genericError, description: description)
    }
}

/// Who opened a connection over a Unix socket: the user and group ids the system holds for the
/// peer process (`SO_PEERCRED`, `LOCAL_PEERCRED`), which that process cannot forge.
package struct QMPPeerCredentials: Sendable, Hashable {
    package var uid: UInt32
    package var gid: UInt32

    package init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }
}
