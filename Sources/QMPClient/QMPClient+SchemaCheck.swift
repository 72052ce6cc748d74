import NIOConcurrencyHelpers
import QAPI
import QMPCore

extension QMPClient {
    /// The connected server's `query-qmp-schema`, fetched once per connection and kept.
    ///
    /// - Throws: ``QMPError`` when the server has no introspection (QEMU before 2.5, the guest
    ///   agent) or the answer cannot be read.
    public func schema() async throws -> QAPIIntrospection {
        if let cached = schemaCache.withLockedValue({ $0 }) {
            return cached
        }
        let reply = try await execute("query-qmp-schema")
        let introspection: QAPIIntrospection
        do {
            introspection = try QAPIIntrospection(decoding: reply)
        } catch {
            throw QMPError(code: .protocolViolation, message: "the query-qmp-schema reply cannot be read: \(error)", underlying: error)
        }
        schemaCache.withLockedValue { $0 = introspection }
        return introspection
    }

    /// Checks a command and its arguments against the connected server's own schema, without
    /// sending it.
    ///
    /// - Throws: ``QMPError`` with code ``QMPError/Code-swift.struct/invalidArguments`` and a
    ///   message that names the server's version: `QEMU 7.2.22 has no command 'blockdev-reopen'`,
    ///   or `arguments.node-name: expected string, got 5 (checked against QEMU 7.2.22)`.
    public func check(_ name: String, arguments: JSONObject? = nil) async throws {
        let introspection = try await schema()
        let server = greeting.version.map { "QEMU \($0)" } ?? "this server"
        guard introspection.entry(named: name) != nil else {
            throw QMPError(code: .invalidArguments, message: "\(server) has no command '\(name)'", command: name)
        }
        if let issue = introspection.validateArguments(arguments, ofCommand: name).first {
            throw QMPError(code: .invalidArguments, message: "\(issue.description) (checked against \(server))", command: name)
        }
    }

    /// Checks the command against the server's schema (see ``check(_:arguments:)``), then runs it.
    @discardableResult
    public func executeChecked(_ name: String, arguments: JSONObject? = nil, timeout: Duration? = nil) async throws -> JSONValue {
        try await check(name, arguments: arguments)
        return try await execute(name, arguments: arguments, timeout: timeout)
    }
}
