// snippet.hide
import QMPCore
import QMPServer

// snippet.show
// snippet.commands
var commands = QMPCommandTable()
commands.register("query-status") { _ in
    ["status": "running", "running": true, "singlestep": false]
}
commands.register("stop") { request in
    request.server.broadcast(QMPEvent(name: "STOP", timestamp: .init(seconds: 0, microseconds: 0)))
    return [:]
}
// A handler that answers at once runs on the connection's event loop, without a task.
commands.registerImmediate("query-name") { _ in ["name": "demo"] }
// snippet.end

// snippet.serve
let server = QMPServer(
    configuration: .init(
        greeting: QMPGreeting(version: QEMUVersion(major: 9, minor: 2), capabilities: [.oob]),
        commands: commands
    )
)
let address = try await server.listen(on: .tcp(host: "127.0.0.1", port: 0))   // port 0: any free port
print("serving QMP on", address)
await server.run()                                 // until the task is cancelled
// snippet.end
