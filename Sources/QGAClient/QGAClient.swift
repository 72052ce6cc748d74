import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import QMPCore
import QMPTransport

/// A client of QEMU's guest agent (qemu-ga) over the host side of its channel.
///
/// The agent speaks QMP's JSON without QMP's protocol: no greeting, no ids, no events, one
/// command at a time, and a reply is known to be a command's only by coming next. When a reply
/// comes late, is malformed, or the agent answered bytes it could not parse, every later reply
/// would be taken for the wrong command. The client therefore synchronises with
/// `guest-sync-delimited` and a random id before a command whenever the stream may be out of
/// step (and, by default, before every command, as libvirt does): it drops everything up to the
/// 0xFF the agent writes before that reply and every value that does not carry the id.
///
/// ```swift
/// let info = try await QGAClient.withConnection(to: .unixSocket(path: "/run/vm/qga.sock")) { agent in
///     try await agent.execute(GuestGetOsinfoCommand())
/// }
/// ```
///
/// Commands run one at a time in the order they are called; every wait has a limit
/// (``QGATimeouts``), and running out of it is a `QMPError` with code `timeout` that names the
/// agent and what was waited for. Commands that do not reply on success (`guest-shutdown`,
/// `guest-suspend-*`) are sent without waiting for a reply.
public final class QGAClient: Sendable {
    /// How the client talks to the agent.
    public struct Configuration: Sendable, Hashable {
        /// When the client synchronises before a command.
        public enum SyncPolicy: Sendable, Hashable {
            /// Before every command: whatever another writer or a confused agent put in the
            /// stream is dropped, at the cost of a round trip per command.
            case everyCommand
            /// Before the first command and after anything put the stream out of step: a
            /// timeout, a cancellation, a malformed or oversized reply, a value nobody waited
            /// for, a command that does not reply.
            case whenOutOfStep
        }

        /// How long to wait for the agent.
        public var timeouts: QGATimeouts
        /// When to synchronise.
        public var syncPolicy: SyncPolicy
        /// The longest reply read. A longer one fails its command and is dropped up to the next
        /// sync; the client stays usable. The default holds the agent's largest file read
        /// (48 MiB, base64 encoded) with room for the JSON around it, and so also the final
        /// status of a program whose two output streams the agent kept in full
        /// (``QGAClient/execReplySizeNeeded``). Below that, `exec` refuses to start a program
        /// with captured output: the agent reports a final status only once, and a refused
        /// reply would lose it.
        public var maximumReplySize: Int
        /// How long connecting may take.
        public var connectTimeout: Duration

        /// A configuration of your own; the defaults suit an agent in a running guest.
        public init(
            timeouts: QGATimeouts = QGATimeouts(),
            syncPolicy: SyncPolicy = .everyCommand,
            maximumReplySize: Int = 72 * 1024 * 1024,
            connectTimeout: Duration = .seconds(5)
        ) {
            precondition(maximumReplySize > 0, "maximumReplySize must be positive")
            self.timeouts = timeouts
            self.syncPolicy = syncPolicy
            self.maximumReplySize = maximumReplySize
            self.connectTimeout = connectTimeout
        }
    }

    /// Where the agent is.
    public let address: QMPAddress
    /// How the client talks to it.
    public let configuration: Configuration
    private let channel: any Channel
    private let handler: NIOLoopBound<QGAChannelHandler>
    private let turns = Turnstile()
    private let logger: Logger

    private init(
        address: QMPAddress,
        configuration: Configuration,
        channel: any Channel,
        handler: NIOLoopBound<QGAChannelHandler>,
        logger: Logger
    ) {
        self.address = address
        self.configuration = configuration
        self.channel = channel
        self.handler = handler
        self.logger = logger
    }

    // MARK: Lifecycle

    /// Connects to the agent at `address`, runs `body` with the client, and closes the
    /// connection when `body` returns or throws.
    public static func withConnection<Result: Sendable>(
        to address: QMPAddress,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "swift-qmp.qga", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: (QGAClient) async throws -> Result
    ) async throws -> Result {
        let client = try await connect(to: address, configuration: configuration, logger: logger)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    /// Connects to the agent at `address`; ``close()`` ends the connection. Nothing is sent
    /// until the first command, which synchronises first.
    ///
    /// Every kind of address works: the host side of the agent's channel as a Unix socket (of
    /// any length) or TCP, a vsock port (`vsock:CID:PORT`), or a character device
    /// (`chardev:PATH`: a `-chardev pty` on the host, a virtio-serial or serial port in the guest).
    ///
    /// - Throws: `QMPError`: `connectionFailed` naming the agent's address and why (with a hint
    ///   for the usual reasons); `timeout` when the connect takes longer than the
    ///   configuration's `connectTimeout`.
    public static func connect(
        to address: QMPAddress,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "swift-qmp.qga", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> QGAClient {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let readerConfiguration = JSONReader.Configuration(maximumMessageSize: configuration.maximumReplySize)
        let channel = try await QMPTransport.connect(
            to: address,
            naming: "the guest agent at \(address)",
            within: configuration.connectTimeout,
            on: eventLoop
        ) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    QGAChannelHandler(eventLoop: channel.eventLoop, readerConfiguration: readerConfiguration)
                )
            }
        }
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(
                try channel.pipeline.syncOperations.handler(type: QGAChannelHandler.self),
                eventLoop: channel.eventLoop
            )
        }.get()
        logger.debug("connected to the guest agent", metadata: ["address": "\(address)"])
        return QGAClient(
            address: address,
            configuration: configuration,
            channel: channel,
            handler: handler,
            logger: logger
        )
    }

    /// Closes the connection. A command waiting for its reply fails with `connectionClosed`.
    public func close() async {
        try? await channel.close()
    }

    // MARK: Commands

    /// Runs the command called `name` and returns its reply's `return` value.
    ///
    /// - Parameters:
    ///   - name: the command's name on the wire, e.g. `guest-get-time`.
    ///   - arguments: its arguments, or `nil` for none.
    ///   - timeout: the limit for the reply; by default the configuration's for this command.
    ///     Commands in ``QGATimeouts/commandsWithoutReply`` return `{}` once written.
    /// - Throws: `QMPError`: `commandFailed` with the agent's error class and description;
    ///   `timeout` naming the agent and what was waited for; `protocolViolation` for a reply
    ///   that cannot be read; `connectionClosed`; `cancelled`.
    @discardableResult
    public func execute(
        _ name: String,
        arguments: JSONObject? = nil,
        timeout: Duration? = nil
    ) async throws
        -> JSONValue
    {
        try await execute(name, arguments: arguments, timeout: timeout, cancellable: true)
    }

    /// Runs a command; with `cancellable` false, the task's cancellation neither stops it before
    /// it is sent nor ends the wait for its reply (only its time limit does). That is for what
    /// must happen even when the caller gave up: thawing frozen filesystems, closing a handle.
    func execute(
        _ name: String,
        arguments: JSONObject?,
        timeout: Duration?,
        cancellable: Bool
    ) async throws -> JSONValue {
        var command: JSONObject = ["execute": .string(name)]
        if let arguments { command["arguments"] = .object(arguments) }
        var encoded: [UInt8] = []
        JSONValue.object(command).write(to: &encoded)
        let bytes = encoded

        await turns.enter()
        defer { turns.leave() }
        if cancellable { try Task.checkCancellation() }
        if try await mustSynchronize() { try await synchronize(limit: nil, cancellable: cancellable) }

        if QGATimeouts.commandsWithoutReply.contains(name) {
            try await handler.eventLoop.flatSubmit { [handler] in handler.value.sendWithoutReply(bytes) }.get()
            return .object([:])
        }
        let limit = timeout ?? configuration.timeouts.timeout(for: name)
        let reply = try await wait(for: "the reply to \(name)", command: name, limit: limit, cancellable: cancellable) {
            handler in
            handler.sendAwaitingReply(bytes)
        }
        guard let object = reply.objectValue else {
            throw QMPError(
                code: .protocolViolation,
                message: "the agent replied with \(reply), not an object",
                command: name
            )
        }
        if let value = object["return"] { return value }
        if let error = object["error"]?.objectValue {
            let body = QMPErrorBody(
                errorClass: error["class"]?.stringValue ?? "GenericError",
                description: error["desc"]?.stringValue ?? "\(JSONValue.object(error))",
                data: error["data"]
            )
            throw QMPError(reply: body, command: name, id: nil)
        }
        throw QMPError(
            code: .protocolViolation,
            message: "the agent replied with neither return nor error: \(reply)",
            command: name
        )
    }

    /// Runs a typed command (a binding of the `QGA` target) and decodes its reply.
    ///
    /// - Throws: as ``execute(_:arguments:timeout:)``; a reply that does not have the shape the
    ///   binding expects is a `protocolViolation` naming the path.
    @discardableResult
    public func execute<Command: QMPCommand>(
        _ command: Command,
        timeout: Duration? = nil
    ) async throws
        -> Command.Response
    {
        try await execute(command, timeout: timeout, cancellable: true)
    }

    /// Runs a typed command; `cancellable` as in ``execute(_:arguments:timeout:cancellable:)``.
    func execute<Command: QMPCommand>(
        _ command: Command,
        timeout: Duration?,
        cancellable: Bool
    ) async throws -> Command.Response {
        let reply = try await execute(
            Command.name,
            arguments: command.arguments,
            timeout: timeout,
            cancellable: cancellable
        )
        do {
            return try Command.Response(json: reply, path: QMPPath(["return"]))
        } catch {
            throw QMPError(
                code: .protocolViolation,
                message: "the agent's reply does not have the shape this binding expects: \(error)",
                command: Command.name,
                underlying: error
            )
        }
    }

    /// Synchronises now, whatever the policy: drops everything the agent sent that nobody took,
    /// and returns once the agent answered a `guest-sync-delimited` with a fresh random id.
    public func synchronize(timeout: Duration? = nil) async throws {
        await turns.enter()
        defer { turns.leave() }
        try await synchronize(limit: timeout, cancellable: true)
    }

    private func mustSynchronize() async throws -> Bool {
        switch configuration.syncPolicy {
        case .everyCommand: return true
        case .whenOutOfStep: return try await handler.eventLoop.submit { [handler] in handler.value.needsResync }.get()
        }
    }

    private func synchronize(limit: Duration?, cancellable: Bool) async throws {
        // Random, so that the reply to an earlier sync that gave up can never pass for this one's;
        // within 2^53 so that any JSON reader keeps it exact.
        let id = Int64.random(in: 1..<(1 << 53))
        _ = try await wait(
            for: "the reply to guest-sync-delimited",
            command: "guest-sync-delimited",
            limit: limit ?? configuration.timeouts.synchronization,
            cancellable: cancellable
        ) { handler in
            handler.synchronize(id: id).map { JSONValue.null }
        }
        logger.trace("synchronised with the guest agent", metadata: ["id": "\(id)"])
    }

    /// Starts a wait on the event loop and bounds it by `limit` and, when `cancellable`, by the
    /// task's cancellation.
    private func wait(
        for what: String,
        command: String,
        limit: Duration,
        cancellable: Bool,
        _ start: @escaping @Sendable (QGAChannelHandler) -> EventLoopFuture<JSONValue>
    ) async throws -> JSONValue {
        let handler = self.handler
        let address = self.address
        // Set on the event loop when the wait starts; the cancellation handler reads it there
        // too, after the start, since an event loop runs what it is given in order.
        let generation = NIOLockedValueBox<UInt64?>(nil)
        let reply = handler.eventLoop.flatSubmit { () -> EventLoopFuture<JSONValue> in
            let future = start(handler.value)
            let current = handler.value.generation
            generation.withLockedValue { $0 = current }
            let deadline = handler.eventLoop.scheduleTask(in: TimeAmount(limit)) {
                handler.value.abandon(
                    current,
                    with: QMPError(
                        code: .timeout,
                        message: "the guest agent at \(address) is not responding: "
                            + "\(what) did not come within \(limit)",
                        command: command
                    )
                )
            }
            future.whenComplete { _ in deadline.cancel() }
            return future
        }
        // An event loop future's wait does not end when the task is cancelled: only the limit
        // ends it then.
        guard cancellable else { return try await reply.get() }
        return try await withTaskCancellationHandler {
            try await reply.get()
        } onCancel: {
            handler.eventLoop.execute {
                guard let current = generation.withLockedValue({ $0 }) else { return }
                handler.value.abandon(
                    current,
                    with: QMPError(code: .cancelled, message: "cancelled while waiting for \(what)", command: command)
                )
            }
        }
    }
}

/// Lets one task at a time through, in the order they came.
final class Turnstile: Sendable {
    private struct State {
        var busy = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state = NIOLockedValueBox(State())

    func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLockedValue { state in
                if state.busy {
                    state.waiting.append(continuation)
                    return false
                }
                state.busy = true
                return true
            }
            if admitted { continuation.resume() }
        }
    }

    func leave() {
        let next = state.withLockedValue { state in
            if state.waiting.isEmpty {
                state.busy = false
                return nil as CheckedContinuation<Void, Never>?
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
