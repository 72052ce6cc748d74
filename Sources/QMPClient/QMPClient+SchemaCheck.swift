import NIOConcurrencyHelpers
import QAPI
import QMPCore

extension QMPClient {
    /// The connected server's `query-qmp-schema`, fetched once per connection and kept.
    ///
    /// - Throws: ``QMPError`` when the server has no introspection (QEMU before 2.5, the guest
    ///   agent) or the answer cannot be read.
    public func schema() async throws -> QAPIIntrospection {
        let fetch = schemaFetch.withLockedValue { fetch in
            if let fetch { return fetch }
            let started = Task { try await self.fetchSchema() }
            fetch = started
            return started
        }
        do {
            return try await fetch.value
        } catch {
            schemaFetch.withLockedValue { if $0 == fetch { $0 = nil } }
            throw error
        }
    }

    private func fetchSchema() async throws -> QAPIIntrospection {
        let reply = try await execute("query-qmp-schema")
        do {
            return try QAPIIntrospection(decoding: reply)
        } catch {
            throw QMPError(code: .protocolViolation, message: "the query-qmp-schema reply cannot be read: \(error)", underlying: error)
        }
    }

    /// How error messages name the server: `QEMU 7.2.22`.
    private var serverName: String { greeting.version.map { "QEMU \($0)" } ?? "this server" }

    /// Checks a command and its arguments against the connected server's own schema, without
    /// sending it.
    ///
    /// - Throws: ``QMPError`` with code ``QMPError/Code-swift.struct/invalidArguments`` and a
    ///   message that names the server's version: `QEMU 7.2.22 has no command 'blockdev-reopen'`,
    ///   or `arguments.node-name: expected string, got 5 (checked against QEMU 7.2.22)`.
    public func check(_ name: String, arguments: JSONObject? = nil) async throws {
        let introspection = try await schema()
        guard introspection.entry(named: name) != nil else {
            throw QMPError(code: .invalidArguments, message: "\(serverName) has no command '\(name)'", command: name)
        }
        if let issue = introspection.validateArguments(arguments, ofCommand: name).first {
            throw QMPError(code: .invalidArguments, message: "\(issue.description) (checked against \(serverName))", command: name)
        }
    }

    /// Checks a typed command against the connected server's own schema, without sending it.
    /// A command or argument the server lacks is named with the server's version and, from
    /// the bindings' history, the version that introduced or removed it:
    /// `QEMU 7.2.22 does not have command 'query-cpus'; QEMU removed it after 5.2.0`.
    /// Servers without `query-qmp-schema` (QEMU before 2.5) are not checked.
    public func check<Command: QMPCommand>(_ command: Command) async throws {
        try await check(Command.self, arguments: command.arguments)
    }

    /// The check of ``check(_:)-swift.method`` on arguments already built, so that
    /// ``execute(_:timeout:)`` builds them once.
    func check<Command: QMPCommand>(_: Command.Type, arguments: JSONObject?) async throws {
        guard let introspection = try await schemaIfAvailable() else { return }
        guard introspection.entry(named: Command.name) != nil else {
            let server = serverName
            let history = Self.history(Command.availability, server: greeting.version)
            throw QMPError(code: .invalidArguments, message: "\(server) does not have command '\(Command.name)'\(history)", command: Command.name)
        }
        guard let issue = introspection.validateArguments(arguments, ofCommand: Command.name).first else { return }
        let server = serverName
        let prefix = "arguments."
        if issue.kind == .unexpected, issue.path.hasPrefix(prefix), !issue.path.dropFirst(prefix.count).contains(".") {
            let argument = String(issue.path.dropFirst(prefix.count))
            let history = Command.argumentAvailability[argument].map { Self.history($0, server: greeting.version) } ?? ""
            throw QMPError(
                code: .invalidArguments,
                message: "\(server) does not have argument '\(argument)' of '\(Command.name)'\(history)",
                command: Command.name
            )
        }
        throw QMPError(code: .invalidArguments, message: "\(issue.description) (checked against \(server))", command: Command.name)
    }

    /// `; it was introduced in 8.0.0` or `; QEMU removed it after 5.2.0`, whichever explains
    /// why `server` lacks it; empty when the history does not.
    static func history(_ availability: QMPAvailability, server version: QEMUVersion?) -> String {
        guard let version else { return "" }
        if let first = QEMUVersion(availability.introduced), version < first {
            return "; it was introduced in \(availability.introduced)"
        }
        if let lastVersion = availability.lastVersion, let last = QEMUVersion(lastVersion), version > last {
            return "; QEMU removed it after \(lastVersion)"
        }
        return ""
    }

    /// The schema, or `nil` when the server has no `query-qmp-schema` or answers it with
    /// something that is not a schema: the check is a safety net, and a server without one
    /// still gets its commands (and is not asked again on this connection).
    func schemaIfAvailable() async throws -> QAPIIntrospection? {
        if schemaMissing.withLockedValue({ $0 }) { return nil }
        do {
            return try await schema()
        } catch let error as QMPError where error.code == .commandFailed || error.code == .protocolViolation {
            schemaMissing.withLockedValue { $0 = true }
            return nil
        }
    }

    /// Checks the command against the server's schema (see ``check(_:arguments:)``), then runs it.
    @discardableResult
    public func executeChecked(_ name: String, arguments: JSONObject? = nil, timeout: Duration? = nil) async throws -> JSONValue {
        try await check(name, arguments: arguments)
        return try await execute(name, arguments: arguments, timeout: timeout)
    }
}
