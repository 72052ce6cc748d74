import NIOConcurrencyHelpers
import QAPI
import QMPCore

/// The server's introspection as one connection knows it. A typed call asks for it every time,
/// so once it is known, asking costs one lock.
enum SchemaState {
    case unknown
    /// One fetch per connection, shared by every caller that asks while it is under way.
    case fetching(Task<Fetched, any Error>)
    case ready(QAPIIntrospection)
    /// The server has no `query-qmp-schema` (QEMU before 2.5, the guest agent), or answered it
    /// with something that is not a schema: it is not asked again on this connection.
    case missing(QMPError)

    /// What a fetch learnt; it throws only when it learnt nothing (a timeout, a closed
    /// connection), and the next caller asks again.
    enum Fetched {
        case schema(QAPIIntrospection)
        /// The server answered: it has no schema to give.
        case none(QMPError)
    }

    /// What a caller does next: take what is known, or wait for the fetch under way.
    enum Step {
        case known(Fetched)
        case wait(Task<Fetched, any Error>)
    }
}

extension QMPClient {
    /// The connected server's `query-qmp-schema`, fetched once per connection and kept.
    ///
    /// - Throws: ``QMPError`` when the server has no introspection (QEMU before 2.5, the guest
    ///   agent) or the answer cannot be read; such a server is not asked again. A fetch that
    ///   fails otherwise (a timeout) is tried again by the next call.
    ///
    /// Callers that ask while a fetch is under way wait for it, even when their own task is
    /// cancelled: the fetch is shared. It is bounded by the configuration's `commandTimeout`,
    /// or by ``schemaFetchLimit`` when that is `nil`, so that no typed call waits forever.
    public func schema() async throws -> QAPIIntrospection {
        switch try await fetched() {
        case .schema(let introspection): return introspection
        case .none(let error): throw error
        }
    }

    /// The schema, or `nil` when the server has none to give: the check is a safety net, and a
    /// server without one still gets its commands.
    func schemaIfAvailable() async throws -> QAPIIntrospection? {
        switch try await fetched() {
        case .schema(let introspection): return introspection
        case .none: return nil
        }
    }

    /// What this connection knows of the schema, fetching it when nothing is known yet. Throws
    /// only when a fetch learnt nothing (a timeout, a closed connection).
    private func fetched() async throws -> SchemaState.Fetched {
        let step = schemaState.withLockedValue { state -> SchemaState.Step in
            switch state {
            case .ready(let introspection):
                return .known(.schema(introspection))
            case .missing(let error):
                return .known(.none(error))
            case .fetching(let fetch):
                return .wait(fetch)
            case .unknown:
                let fetch = Task { try await self.fetchSchema() }
                state = .fetching(fetch)
                return .wait(fetch)
            }
        }
        let fetch: Task<SchemaState.Fetched, any Error>
        switch step {
        case .known(let fetched): return fetched
        case .wait(let task): fetch = task
        }
        let fetched: SchemaState.Fetched
        do {
            fetched = try await fetch.value
        } catch {
            schemaState.withLockedValue { state in
                if case .fetching(let current) = state, current == fetch { state = .unknown }
            }
            throw error
        }
        schemaState.withLockedValue { state in
            guard case .fetching(let current) = state, current == fetch else { return }
            switch fetched {
            case .schema(let introspection): state = .ready(introspection)
            case .none(let error): state = .missing(error)
            }
        }
        return fetched
    }

    /// The schema fetch's bound when the configuration sets no `commandTimeout`; QEMU answers
    /// it in about 20 ms.
    static let schemaFetchLimit: Duration = .seconds(60)

    private func fetchSchema() async throws -> SchemaState.Fetched {
        let reply: JSONValue
        do {
            reply = try await execute("query-qmp-schema", timeout: configuration.commandTimeout ?? Self.schemaFetchLimit)
        } catch let error as QMPError where error.code == .commandFailed {
            // QEMU before 2.5 and the guest agent: CommandNotFound.
            return .none(error)
        }
        do {
            let introspection = try QAPIIntrospection(decoding: reply)
            guard let version = greeting.version, let sources = configuration.schemaSources?(version) else {
                return .schema(introspection)
            }
            return .schema(introspection.filling(from: sources))
        } catch {
            return .none(QMPError(code: .protocolViolation, message: "the query-qmp-schema reply cannot be read: \(error)", underlying: error))
        }
    }

    /// How error messages name the server: `QEMU 7.2.22`.
    private var serverName: String { greeting.version.map { "QEMU \($0)" } ?? "this server" }

    /// Checks a command and its arguments against the connected server's own schema, without
    /// sending it. A server without `query-qmp-schema` (QEMU before 2.5) is not checked.
    ///
    /// - Throws: ``QMPError`` with code ``QMPError/Code-swift.struct/invalidArguments`` and a
    ///   message that names the server's version: `QEMU 7.2.22 has no command 'blockdev-reopen'`,
    ///   `QEMU 7.2.22 has no argument 'force' of 'query-status'`, or
    ///   `arguments.node-name: expected string, got 5 (checked against QEMU 7.2.22)`.
    public func check(_ name: String, arguments: JSONObject? = nil) async throws {
        try await check(name, arguments: arguments, history: nil)
    }

    /// Checks a typed command against the connected server's own schema, without sending it.
    /// A command or argument the server lacks is named with the server's version and, from
    /// the bindings' history, the version that introduced or removed it:
    /// `QEMU 7.2.22 has no command 'query-cpus'; QEMU removed it after 5.2.0`.
    /// A server without `query-qmp-schema` (QEMU before 2.5) is not checked.
    public func check<Command: QMPCommand>(_ command: Command) async throws {
        try await check(Command.self, arguments: command.arguments)
    }

    /// The check of ``check(_:)-swift.method`` on arguments already built, so that
    /// ``execute(_:timeout:)`` builds them once.
    func check<Command: QMPCommand>(_: Command.Type, arguments: JSONObject?) async throws {
        try await check(Command.name, arguments: arguments, history: (Command.availability, Command.argumentAvailability))
    }

    /// The one check behind both: `history` is what the bindings know of when the command and
    /// its arguments came and went, when the caller has bindings.
    private func check(
        _ name: String,
        arguments: JSONObject?,
        history: (command: QEMUAvailability, arguments: [String: QEMUAvailability])?
    ) async throws {
        guard let introspection = try await schemaIfAvailable() else { return }
        let server = serverName
        guard introspection.entry(named: name) != nil else {
            let when = history.map { Self.history($0.command, server: greeting.version) } ?? ""
            throw QMPError(code: .invalidArguments, message: "\(server) has no command '\(name)'\(when)", command: name)
        }
        guard let issue = introspection.validateArguments(arguments, ofCommand: name).first else { return }
        let prefix = "arguments."
        if issue.kind == .unexpected, issue.path.hasPrefix(prefix), !issue.path.dropFirst(prefix.count).contains(".") {
            let argument = String(issue.path.dropFirst(prefix.count))
            let when = history?.arguments[argument].map { Self.history($0, server: greeting.version) } ?? ""
            throw QMPError(code: .invalidArguments, message: "\(server) has no argument '\(argument)' of '\(name)'\(when)", command: name)
        }
        throw QMPError(code: .invalidArguments, message: "\(issue.description) (checked against \(server))", command: name)
    }

    /// `; it was introduced in 8.0.0` or `; QEMU removed it after 5.2.0`, whichever explains
    /// why `server` lacks it; empty when the history does not.
    static func history(_ availability: QEMUAvailability, server version: QEMUVersion?) -> String {
        version.flatMap(availability.whyAbsent(in:)).map { "; \($0)" } ?? ""
    }

    /// Checks the command against the server's schema (see ``check(_:arguments:)``), then runs it.
    @discardableResult
    public func executeChecked(_ name: String, arguments: JSONObject? = nil, timeout: Duration? = nil) async throws -> JSONValue {
        try await check(name, arguments: arguments)
        return try await execute(name, arguments: arguments, timeout: timeout)
    }
}
