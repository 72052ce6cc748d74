import NIOConcurrencyHelpers
import QMPCore

extension QMPClient {
    // The typed forms of the three ways to send a command (see ``execute(_:arguments:passing:timeout:)``),
    // checked against the server's schema when ``Configuration-swift.struct/checksCommands`` says
    // so, like the untyped ones; ``check(_:)-swift.method`` checks one command explicitly.

    /// Runs a typed command and decodes its reply.
    ///
    /// - Parameters:
    ///   - command: the command, with its arguments.
    ///   - fileDescriptors: descriptors to pass with the command, for `getfd` and `add-fd`
    ///     (`GetfdCommand(fdname: "disk")`); see ``execute(_:arguments:passing:timeout:)``.
    ///   - timeout: the limit for this call; by default the policy's (see ``QMPTimeoutPolicy``).
    /// - Throws: `QMPError`; a reply that does not have the shape the binding expects is a
    ///   `QMPError.Code.protocolViolation` naming the path, e.g.
    ///   `return.status: expected string, got 5`. Members and enum values the binding does not
    ///   know are not errors: newer QEMUs add them all the time.
    @discardableResult
    public func execute<Command: QMPCommand>(
        _ command: Command,
        passing fileDescriptors: [CInt] = [],
        timeout: Duration? = nil
    ) async throws -> Command.Response {
        try checkShape(Command.self)
        // Generated bindings build their arguments on every read.
        let reply = try await call(
            Command.name,
            arguments: command.arguments,
            history: Command.history,
            outOfBand: false,
            fileDescriptors: fileDescriptors,
            timeout: timeout
        )
        return try Command.decodeReply(reply)
    }

    /// Runs a typed command out of band (see ``executeOutOfBand(_:arguments:timeout:)``) and
    /// decodes its reply. Whether the command may run out of band is the server's to say: the
    /// bindings span QEMU releases that differ in it.
    @discardableResult
    public func executeOutOfBand<Command: QMPCommand>(
        _ command: Command,
        timeout: Duration? = nil
    ) async throws -> Command.Response {
        try checkShape(Command.self)
        let reply = try await call(
            Command.name,
            arguments: command.arguments,
            history: Command.history,
            outOfBand: true,
            fileDescriptors: [],
            timeout: timeout
        )
        return try Command.decodeReply(reply)
    }

    /// Runs a typed command and waits for the typed event it causes, e.g. `DeviceDelCommand`
    /// and the `DeviceDeletedEvent` of that device. The subscription starts before the command
    /// is sent, so an event that overtakes the reply is not lost; events of that name whose
    /// payload does not decode are passed over.
    ///
    /// - Parameters:
    ///   - command: the command, with its arguments.
    ///   - event: the event's type.
    ///   - predicate: which of those events counts; by default the first one.
    ///   - eventTimeout: how long to wait for the event after the reply; by default the event
    ///     bound of the command's class.
    public func execute<Command: QMPCommand, Payload: QMPEventPayload>(
        _ command: Command,
        thenWaitFor event: Payload.Type,
        matching predicate: @escaping @Sendable (QMPTypedEvent<Payload>) -> Bool = { _ in true },
        eventTimeout: Duration? = nil
    ) async throws -> (reply: Command.Response, event: QMPTypedEvent<Payload>) {
        try checkShape(Command.self)
        let (reply, event) = try await execute(
            Command.name,
            arguments: command.arguments,
            history: Command.history,
            thenWaitFor: Payload.name,
            eventTimeout: eventTimeout
        ) { event -> QMPTypedEvent<Payload>? in
            guard let typed = QMPTypedEvent<Payload>(decoding: event), predicate(typed) else { return nil }
            return typed
        }
        return (try Command.decodeReply(reply), event)
    }

    /// Events of one kind, decoded. Events that do not decode (a QEMU that changed the payload
    /// incompatibly) are skipped and counted in ``QMPTypedEventStream/undecodableCount``.
    public func events<Payload: QMPEventPayload>(
        of type: Payload.Type,
        bufferSize: Int = 1024,
        whenFull policy: QMPEventOverflowPolicy = .dropOldest
    ) -> QMPTypedEventStream<Payload> {
        QMPTypedEventStream(base: events(named: [Payload.name], bufferSize: bufferSize, whenFull: policy))
    }
}

/// A decoded event with its timestamp.
public struct QMPTypedEvent<Payload: QMPEventPayload>: Sendable {
    /// The event's data, decoded.
    public var payload: Payload
    /// When the server says the event happened.
    public var timestamp: QMPEvent.Timestamp

    /// The event decoded, or `nil` when its payload does not have the binding's shape.
    init?(decoding event: QMPEvent) {
        guard let payload = try? Payload(json: .object(event.data ?? [:]), path: QMPPath(["data"])) else { return nil }
        self.init(payload: payload, timestamp: event.timestamp)
    }

    init(payload: Payload, timestamp: QMPEvent.Timestamp) {
        self.payload = payload
        self.timestamp = timestamp
    }
}

extension QMPClient {
    /// Fails before sending when the connected QEMU takes the command's arguments in another
    /// of the bindings' shapes (``QMPCommand/argumentShapes``) than `Command`'s, naming that
    /// shape: QEMU would refuse these arguments, or worse, read them differently.
    func checkShape<Command: QMPCommand>(_ command: Command.Type) throws {
        // Most commands have one shape; only for the others is the greeting worth reading.
        guard Command.shapeAvailability != nil, let version = greeting.version,
            let mismatch = Command.shapeMismatch(in: version)
        else { return }
        throw QMPError(code: .invalidArguments, message: "\(mismatch); nothing was sent", command: Command.name)
    }
}

/// Where a reply's value sits, made once rather than per call.
private let replyPath = QMPPath(["return"])

extension QMPCommand {
    /// What the bindings know of when this command and its arguments came and went.
    static var history: QMPClient.History { (availability, argumentAvailability) }

    /// The reply decoded as this command's response.
    static func decodeReply(_ reply: JSONValue) throws -> Response {
        do {
            return try Response(json: reply, path: replyPath)
        } catch {
            throw QMPError(
                code: .protocolViolation,
                message: "the reply does not have the shape this binding expects: \(error)",
                command: name,
                underlying: error
            )
        }
    }
}

/// The events of one kind, decoded, as an `AsyncSequence`.
public struct QMPTypedEventStream<Payload: QMPEventPayload>: AsyncSequence, Sendable {
    public typealias Element = QMPTypedEvent<Payload>
    let base: QMPEventStream
    private let failures = FailureCounter()
    private let gaps = FailureCounter()

    init(base: QMPEventStream) {
        self.base = base
    }

    /// Events dropped because the buffer was full.
    public var droppedCount: Int { base.droppedCount }
    /// Events skipped because they did not decode.
    public var undecodableCount: Int { failures.count }
    /// Reconnects of the client while this stream lived (see ``QMPReconnectPolicy``): each is a
    /// gap in which events of this kind may have been missed. The untyped stream carries them
    /// as events; this one has no element for them, so it counts them.
    public var connectionGapCount: Int { gaps.count }

    /// Iterates the decoded events as they arrive; `nil` once the connection has closed.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: QMPEventStream.AsyncIterator
        let failures: FailureCounter
        let gaps: FailureCounter

        public mutating func next() async throws -> QMPTypedEvent<Payload>? {
            while let event = try await base.next() {
                if event.isConnectionGap {
                    gaps.increment()
                    continue
                }
                if let typed = QMPTypedEvent<Payload>(decoding: event) {
                    return typed
                }
                failures.increment()
            }
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), failures: failures, gaps: gaps)
    }
}

final class FailureCounter: Sendable {
    private let value = NIOLockedValueBox(0)
    var count: Int { value.withLockedValue { $0 } }
    func increment() { value.withLockedValue { $0 += 1 } }
}
