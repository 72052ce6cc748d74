import Logging
import NIOConcurrencyHelpers
import QAPI
import QMPCore

/// What one connection knows of the server's introspection. A checked call asks for it every
/// time, so once it is known, asking costs one lock.
struct SchemaState {
    enum Phase {
        case unknown
        /// The first caller that found nothing known fetches, in its own task; the callers that
        /// come meanwhile wait here for what it learns.
        case fetching(waiters: [UInt64: Waiter])
        case known(Fetched)
    }

    /// A caller waiting for the fetch under way: given what it learnt, `nil` when the caller
    /// that fetched was cancelled (the waiter then asks again itself), or the fetch's error.
    typealias Waiter = CheckedContinuation<Fetched?, any Error>

    /// What a fetch learnt; it throws only when it learnt nothing (a timeout, a closed
    /// connection), and the next caller asks again.
    enum Fetched: Sendable {
        /// The schema, shared with every connection to the same build (see ``QMPSchemaCache``).
        case schema(QMPSchemaCache.Entry)
        /// The server answered: it has no schema to give (QEMU before 2.5, the guest agent, or a
        /// reply that is not a schema). It is not asked again on this connection.
        case none(QMPError)
    }

    var phase = Phase.unknown
    var nextWaiter: UInt64 = 0
}

extension QMPClient {
    /// The connected server's `query-qmp-schema`, fetched once per connection and kept; when
    /// the configuration has `schemaSources` for the server's release, the answer filled from
    /// them (`QAPIIntrospection.filling(from:)`: integer widths, type names, commands read by
    /// hand), which is what the pre-send check validates against.
    ///
    /// This is the explicit form of the fetch that a checked call makes implicitly (see
    /// ``Configuration-swift.struct/checksCommands``): call it to pay for the fetch at a time of
    /// your choosing. The decoded schema is shared through the configuration's
    /// ``Configuration-swift.struct/schemaCache`` with every connection to the same QEMU build,
    /// so a hundred connections to one QEMU hold one copy.
    ///
    /// - Throws: `QMPError` when the server has no introspection (QEMU before 2.5, the guest
    ///   agent) or the answer cannot be read; such a server is not asked again. A fetch that
    ///   fails otherwise (a timeout) is tried again by the next call.
    ///
    /// The fetch runs in the task of the first caller that needs it; callers that come while it
    /// is under way wait for it, and stop waiting when their own task is cancelled. If the
    /// fetching caller is cancelled, one of those waiting fetches in its stead. The fetch is
    /// bounded like any `query-qmp-schema` call (the configuration's `commandTimeout`, else the
    /// query class's deadline); a checked call stops waiting for it at its own deadline.
    public func schema() async throws -> QAPIIntrospection {
        switch try await fetched() {
        case .schema(let entry): return entry.introspection
        case .none(let error): throw error
        }
    }

    /// The schema, or `nil` when the server has none to give: the check is a safety net, and a
    /// server without one still gets its commands.
    func schemaIfAvailable() async throws -> QAPIIntrospection? {
        switch try await fetched() {
        case .schema(let entry): return entry.introspection
        case .none: return nil
        }
    }

    /// What this connection knows of the schema, fetching it when nothing is known yet. Throws
    /// only when a fetch learnt nothing (a timeout, a closed connection, a cancelled wait).
    func fetched() async throws -> SchemaState.Fetched {
        while true {
            enum Step {
                case known(SchemaState.Fetched)
                case fetch
                case wait(UInt64)
            }
            let step = schemaState.withLockedValue { state -> Step in
                switch state.phase {
                case .known(let fetched):
                    return .known(fetched)
                case .fetching:
                    state.nextWaiter += 1
                    return .wait(state.nextWaiter)
                case .unknown:
                    state.phase = .fetching(waiters: [:])
                    return .fetch
                }
            }
            switch step {
            case .known(let fetched):
                return fetched
            case .fetch:
                return try await fetchAndTell()
            case .wait(let waiter):
                if let fetched = try await waitForFetch(as: waiter) {
                    return fetched
                }
            }
        }
    }

    /// Fetches in the caller's task and tells those waiting what came of it.
    private func fetchAndTell() async throws -> SchemaState.Fetched {
        let outcome: Result<SchemaState.Fetched, any Error>
        do {
            outcome = .success(try await fetchSchema())
        } catch {
            outcome = .failure(error)
        }
        let waiters = schemaState.withLockedValue { state -> [SchemaState.Waiter] in
            guard case .fetching(let waiters) = state.phase else { return [] }
            switch outcome {
            case .success(let fetched): state.phase = .known(fetched)
            case .failure: state.phase = .unknown
            }
            return Array(waiters.values)
        }
        switch outcome {
        case .success(let fetched):
            waiters.forEach { $0.resume(returning: fetched) }
        case .failure(let error) where Task.isCancelled:
            // This caller's cancellation is not the others' business: one of them asks again.
            waiters.forEach { $0.resume(returning: nil) }
            throw error
        case .failure(let error):
            waiters.forEach { $0.resume(throwing: error) }
        }
        return try outcome.get()
    }

    /// Waits for the fetch under way; `nil` when it ended without an answer for this caller to
    /// take (the fetching caller was cancelled, or finished before this one registered).
    private func waitForFetch(as waiter: UInt64) async throws -> SchemaState.Fetched? {
        let state = schemaState
        let peer = self.peer
        let cancelled: @Sendable () -> QMPError = {
            QMPError(code: .cancelled, message: "the wait for \(peer)'s schema was cancelled")
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: SchemaState.Waiter) in
                let registered = state.withLockedValue { state -> Bool in
                    guard case .fetching(var waiters) = state.phase, !Task.isCancelled else { return false }
                    waiters[waiter] = continuation
                    state.phase = .fetching(waiters: waiters)
                    return true
                }
                if !registered {
                    if Task.isCancelled {
                        continuation.resume(throwing: cancelled())
                    } else {
                        continuation.resume(returning: nil)
                    }
                }
            }
        } onCancel: {
            let continuation = state.withLockedValue { state -> SchemaState.Waiter? in
                guard case .fetching(var waiters) = state.phase, let continuation = waiters.removeValue(forKey: waiter)
                else { return nil }
                state.phase = .fetching(waiters: waiters)
                return continuation
            }
            continuation?.resume(throwing: cancelled())
        }
    }

    private func fetchSchema() async throws -> SchemaState.Fetched {
        let metadata: Logger.Metadata = [
            "qmp_peer": "\(peer)", "qmp_version": "\(greeting.version?.description ?? "?")",
        ]
        logger.debug("fetching the server's schema (query-qmp-schema) for the argument check", metadata: metadata)
        let reply: JSONValue
        do {
            // Unchecked: the check would ask for the schema it is fetching.
            reply = try await send(
                "query-qmp-schema",
                arguments: nil,
                outOfBand: false,
                fileDescriptors: [],
                bounds: bounds(of: "query-qmp-schema", arguments: nil, timeout: nil)
            )
        } catch let error as QMPError where error.code == .commandFailed {
            // QEMU before 2.5 and the guest agent: CommandNotFound.
            logger.debug("the server has no schema to check against", metadata: metadata)
            return .none(error)
        }
        let sources = greeting.version.flatMap { configuration.schemaSources?($0) }
        let key = QMPSchemaCache.Key(greeting: greeting, reply: reply, sources: sources)
        do {
            let (entry, shared) = try configuration.schemaCache.entry(for: key) {
                let introspection = try QAPIIntrospection(decoding: reply)
                return sources.map { introspection.filling(from: $0) } ?? introspection
            }
            logger.debug(
                shared ? "the server's schema is the one already decoded for its build" : "decoded the server's schema",
                metadata: metadata
            )
            return .schema(entry)
        } catch {
            return .none(
                QMPError(
                    code: .protocolViolation,
                    message: "the query-qmp-schema reply cannot be read: \(error)",
                    underlying: error
                )
            )
        }
    }

    /// How error messages name the server: `QEMU 7.2.22`.
    private var serverName: String { greeting.version.map { "QEMU \($0)" } ?? "this server" }

    /// Checks a command and its arguments against the connected server's own schema, without
    /// sending it. A server without `query-qmp-schema` (QEMU before 2.5) is not checked.
    ///
    /// - Throws: `QMPError` with code `QMPError.Code.invalidArguments` and a
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
        try await check(Command.name, arguments: command.arguments, history: Command.history)
    }

    /// The one check behind both: `history` is what the bindings know of when the command and
    /// its arguments came and went, when the caller has bindings.
    func check(
        _ name: String,
        arguments: JSONObject?,
        history: (command: QEMUAvailability, arguments: [String: QEMUAvailability])?
    ) async throws {
        try check(name, arguments: arguments, history: history, against: try await fetched())
    }

    /// What this connection already knows of the schema, without fetching: the check of every
    /// call after the first needs no more than this.
    var knownSchema: SchemaState.Fetched? {
        schemaState.withLockedValue { state in
            guard case .known(let fetched) = state.phase else { return nil }
            return fetched
        }
    }

    /// The check against what a fetch learnt; a server without a schema is not checked.
    func check(
        _ name: String,
        arguments: JSONObject?,
        history: (command: QEMUAvailability, arguments: [String: QEMUAvailability])?,
        against fetched: SchemaState.Fetched
    ) throws {
        guard case .schema(let entry) = fetched else { return }
        let introspection = entry.introspection
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
            throw QMPError(
                code: .invalidArguments,
                message: "\(server) has no argument '\(argument)' of '\(name)'\(when)",
                command: name
            )
        }
        throw QMPError(
            code: .invalidArguments,
            message: "\(issue.description) (checked against \(server))",
            command: name
        )
    }

    /// `; it was introduced in 8.0.0` or `; QEMU removed it after 5.2.0`, whichever explains
    /// why `server` lacks it; empty when the history does not.
    static func history(_ availability: QEMUAvailability, server version: QEMUVersion?) -> String {
        version.flatMap(availability.whyAbsent(in:)).map { "; \($0)" } ?? ""
    }
}
