import QMP
import QMPClient
import QMPCore
import QMPServer
import Testing

/// Handlers registered by command type: decoded arguments in, the reply type out, typed errors
/// and events.
@Suite("Typed server handlers")
struct TypedServerTests {
    static func withTypedServer<Result: Sendable>(
        _ register: (inout QMPCommandTable) -> Void,
        _ body: (QMPServer, QMPClient) async throws -> Result
    ) async throws -> Result {
        var commands = QMPCommandTable()
        register(&commands)
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 9, minor: 2, micro: 0), capabilities: [.oob]),
                commands: commands,
                addresses: [.tcp(host: "127.0.0.1", port: 0)]
            )
        )
        return try await withRunningServer(server) { address in
            try await withClient(of: address) { client in try await body(server, client) }
        }
    }

    @Test("a handler registered by command type answers with its reply type, on the fast path when immediate")
    func typedReply() async throws {
        var table = QMPCommandTable()
        table.registerImmediate(QueryStatusCommand.self) { _, _ in StatusInfo(running: true, status: .running) }
        table.register(QueryNameCommand.self) { _, _ in NameInfo(name: "vm0") }
        #expect(table.entries["query-status"]?.immediateHandler != nil)
        #expect(table.entries["query-name"]?.immediateHandler == nil)
        try await Self.withTypedServer({ $0 = table }) { _, client in
            let status = try await client.execute(QueryStatusCommand())
            #expect(status == StatusInfo(running: true, status: .running))
            #expect(try await client.execute("query-status") == ["running": true, "status": "running"])
            #expect(try await client.execute(QueryNameCommand()).name == "vm0")
        }
    }

    @Test("a handler whose own subtask was cancelled answers with that error, not with the server's shutdown")
    func handlersOwnCancellation() async throws {
        try await Self.withTypedServer({ table in
            table.register(QueryNameCommand.self) { _, _ in
                // A timeout done with a task group: the handler's child is cancelled, the
                // handler is not.
                let child = Task<NameInfo, any Error> {
                    try await Task.sleep(for: .seconds(60))
                    return NameInfo(name: "late")
                }
                child.cancel()
                return try await child.value
            }
        }) { _, client in
            let error = await #expect(throws: QMPError.self) { try await client.execute(QueryNameCommand()) }
            #expect(error?.errorClass == QMPError.ErrorClass.genericError)
            #expect(error?.message.contains("shut down") == false)
        }
    }

    @Test("the handler gets the arguments decoded into the command")
    func decodedArguments() async throws {
        try await Self.withTypedServer({ table in
            table.registerImmediate(HumanMonitorCommandCommand.self) { command, _ in
                "ran '\(command.commandLine)' on CPU \(command.cpuIndex.map(String.init) ?? "none")"
            }
            table.register(QomListTypesCommand.self) { command, _ in
                [ObjectTypeInfo(name: command.implements ?? "all", abstract: command.abstract)]
            }
        }) { _, client in
            let typed = try await client.execute(HumanMonitorCommandCommand(commandLine: "info status"))
            #expect(typed == "ran 'info status' on CPU none")
            let arguments: JSONObject = ["command-line": "info cpus", "cpu-index": 2]
            let untyped = try await client.execute("human-monitor-command", arguments: arguments)
            #expect(untyped == "ran 'info cpus' on CPU 2")
            let types = try await client.execute(QomListTypesCommand(implements: "device", abstract: true))
            #expect(types == [ObjectTypeInfo(name: "device", abstract: true)])
        }
    }

    @Test("arguments that do not decode are an error reply naming the member, and the handler does not run")
    func undecodableArguments() async throws {
        try await Self.withTypedServer({ table in
            table.registerImmediate(HumanMonitorCommandCommand.self) { _, _ in
                Issue.record("the handler ran with arguments that do not decode")
                return ""
            }
        }) { _, client in
            let missing = await #expect(throws: QMPError.self) { try await client.execute("human-monitor-command") }
            #expect(missing?.errorClass == "GenericError")
            #expect(missing?.message == "Parameter 'command-line' is missing")
            let wrongType = await #expect(throws: QMPError.self) {
                try await client.execute("human-monitor-command", arguments: ["command-line": 5])
            }
            #expect(wrongType?.message == "Invalid parameter 'command-line': expected string, got 5")
        }
    }

    @Test("a thrown QMPErrorBody is the error reply, class and desc as thrown")
    func typedError() async throws {
        try await Self.withTypedServer({ table in
            table.registerImmediate(ObjectDelCommand.self) { command, _ in
                throw QMPErrorBody(errorClass: "DeviceNotFound", description: "object '\(command.id)' not found")
            }
            table.register(DeviceDelCommand.self) { command, _ in
                throw QMPErrorBody(errorClass: "DeviceNotFound", description: "Device '\(command.id)' not found")
            }
        }) { _, client in
            let immediate = await #expect(throws: QMPError.self) {
                try await client.execute(ObjectDelCommand(id: "obj0"))
            }
            #expect(immediate?.errorClass == "DeviceNotFound")
            #expect(immediate?.message == "object 'obj0' not found")
            let later = await #expect(throws: QMPError.self) { try await client.execute(DeviceDelCommand(id: "dev0")) }
            #expect(later?.errorClass == "DeviceNotFound")
            #expect(later?.message == "Device 'dev0' not found")
        }
    }

    @Test("typed events reach clients, without data when the payload has no members")
    func typedEvents() async throws {
        try await Self.withTypedServer({ table in
            table.registerImmediate(StopCommand.self) { _, request in
                request.server.broadcast(StopEvent())
                return QMPEmpty()
            }
        }) { server, client in
            let events = client.events()
            var iterator = events.makeAsyncIterator()
            try await client.execute(StopCommand())
            let stop = try #require(try await iterator.next())
            #expect(stop.name == "STOP")
            #expect(stop.data == nil)
            #expect(stop.timestamp.seconds > 0)
            server.broadcast(ShutdownEvent(guest: false, reason: .hostQmpQuit))
            let shutdown = try #require(try await iterator.next())
            #expect(shutdown.name == "SHUTDOWN")
            #expect(shutdown.data == ["guest": false, "reason": "host-qmp-quit"])
        }
    }
}
