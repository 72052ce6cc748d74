import NIOConcurrencyHelpers
import QMPCore

extension QMPClient {
    /// Runs a typed command and decodes its reply.
    ///
    /// Unless ``Configuration/checksTypedCommands`` is off, the command is first checked
    /// against the server's own schema (see ``check(_:)-swift.method``).
    ///
    /// - Throws: ``QMPError``; a reply that does not have the shape the binding expects is a
    ///   ``QMPError/Code-swift.struct/protocolViolation`` naming the path, e.g.
    ///   `return.status: expected string, got 5`. Members and enum values the binding does not
    ///   know are not errors: newer QEMUs add them all the time.
    @discardableResult
    public func execute<Command: QMPCommand>(_ command: Command, timeout: Duration? = nil) async throws -> Command.Response {
        // Generated bindings build their arguments on every read.
        let arguments = command.arguments
        if configuration.checksTypedCommands {
            try await check(Command.self, arguments: arguments)
        }
        let reply = try await execute(Command.name, arguments: arguments, timeout: timeout)
        do {
            return try Command.Response(json: reply, path: QMPPath(["return"]))
        } catch {
            throw QMPError(
                code: .protocolViolation,
                message: "the reply does not have the shape this binding expects: \(error)",
                command: Command.name,
                underlying: error
            )
        }
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
    public var payload: Payload
    public var timestamp: QMPEvent.Timestamp
}

/// The events of one kind, decoded, as an `AsyncSequence`.
public struct QMPTypedEventStream<Payload: QMPEventPayload>: AsyncSequence, Sendable {
    public typealias Element = QMPTypedEvent<Payload>
    let base: QMPEventStream
    private let failures = FailureCounter()

    init(base: QMPEventStream) {
        self.base = base
    }

    /// Events dropped because the buffer was full.
    public var droppedCount: Int { base.droppedCount }
    /// Events skipped because they did not decode.
    public var undecodableCount: Int { failures.count }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: QMPEventStream.AsyncIterator
        let failures: FailureCounter

        public mutating func next() async throws -> QMPTypedEvent<Payload>? {
            while let event = try await base.next() {
                do {
                    let payload = try Payload(json: .object(event.data ?? [:]), path: QMPPath(["data"]))
                    return QMPTypedEvent(payload: payload, timestamp: event.timestamp)
                } catch {
                    failures.increment()
                }
            }
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), failures: failures)
    }
}



final class FailureCounter: Sendable {
    private let value = NIOLockedValueBox(0)
    var count: Int { value.withLockedValue { $0 } }
    func increment() { value.withLockedValue { $0 += 1 } }
}
