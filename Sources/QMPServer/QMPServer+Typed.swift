import QMPCore

/// Typed handlers: registered by command type, given the arguments decoded into the command,
/// answering with the command's `Response`.
///
/// The arguments are decoded once, after the server's argument check has passed, and only into
/// the command's type: a handler reads members, never the JSON. A `QMPErrorBody` the handler
/// throws is the reply's class and desc; arguments that do not decode are a `GenericError`
/// naming the member (with the schema check in place, that only happens for commands whose
/// binding describes a newer or older QEMU than the schema checked against).
extension QMPCommandTable {
    /// Registers (or replaces) the handler of `Command`, run in a task of the server's, as an
    /// `async` handler registered by name is.
    ///
    ///     table.register(QueryStatusCommand.self) { _, _ in StatusInfo(running: true, status: .running) }
    ///
    /// - Parameters:
    ///   - command: the command's binding.
    ///   - allowsOutOfBand: whether clients may send it with `exec-oob`; by default what
    ///     the binding says, which is what the newest QEMU that has the command says.
    ///   - handler: answers the command, given its decoded arguments and the request.
    public mutating func register<Command: QMPCommand & QMPJSONConvertible>(
        _ command: Command.Type,
        allowsOutOfBand: Bool = Command.allowsOutOfBand,
        _ handler: @escaping @Sendable (Command, QMPServerRequest) async throws -> Command.Response
    ) {
        register(Command.name, allowsOutOfBand: allowsOutOfBand) { request in
            try await handler(try Command.decoding(request), request).json
        }
    }

    /// Registers (or replaces) the handler of `Command`, for a handler that neither suspends nor
    /// blocks: it runs on the client connection's event loop, without a task, as
    /// ``registerImmediate(_:allowsOutOfBand:checkArguments:_:)`` does.
    public mutating func registerImmediate<Command: QMPCommand & QMPJSONConvertible>(
        _ command: Command.Type,
        allowsOutOfBand: Bool = Command.allowsOutOfBand,
        _ handler: @escaping @Sendable (Command, QMPServerRequest) throws -> Command.Response
    ) {
        registerImmediate(Command.name, allowsOutOfBand: allowsOutOfBand) { request in
            try handler(try Command.decoding(request), request).json
        }
    }
}

extension QMPJSONConvertible {
    /// The command in `request`, its arguments decoded; a failure is the error reply.
    fileprivate static func decoding(_ request: QMPServerRequest) throws(QMPErrorBody) -> Self {
        do {
            return try Self(json: .object(request.arguments))
        } catch {
            throw QMPServer.decodingFailure(error)
        }
    }
}

extension QMPServer {
    /// Sends `event`, stamped with the host's clock, to every client in command mode, subject to
    /// QEMU's rate limits, as the untyped `broadcast(_:)` does.
    ///
    /// A payload that encodes to an empty object is sent without `data`, as QEMU sends the
    /// events that have no members (`STOP`, `RESUME`, `POWERDOWN`).
    public func broadcast<Event: QMPEventPayload>(_ event: Event) {
        broadcast(QMPEvent.stampedNow(Event.name, QMPEvent.data(of: event)))
    }
}

extension QMPEvent {
    /// A typed payload as the event's `data`: `nil` when it has no members.
    package static func data<Event: QMPEventPayload>(of event: Event) -> JSONObject? {
        guard case .object(let members) = event.json, !members.isEmpty else { return nil }
        return members
    }
}
