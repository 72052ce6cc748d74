// snippet.hide
import Logging
import QMP
import QMPCore
import QMPServer
import ServiceLifecycle

let logger = Logger(label: "vmm")
// snippet.show
// snippet.commands
var commands = QMPCommandTable()
// Typed: the arguments arrive decoded into the command, the reply is the command's Response.
commands.register(QueryStatusCommand.self) { _, _ in
    StatusInfo(running: true, status: .running)
}
commands.register(StopCommand.self) { _, request in
    request.server.broadcast(StopEvent())
    return QMPEmpty()
}
// Untyped: a name, JSON in and out; an immediate handler runs on the connection's event loop.
commands.registerImmediate("query-name") { _ in ["name": "demo"] }
// snippet.end

// snippet.serve
let server = QMPServer(
    configuration: .init(
        greeting: QMPGreeting(version: QEMUVersion(9, 2, 0), capabilities: [.oob]),
        commands: commands,
        addresses: [.unixSocket(path: "/run/vmm/qmp.sock"), .tcp(host: "127.0.0.1", port: 4444)],
        shutdownGracePeriod: .seconds(5)
    ),
    logger: logger
)
// Until SIGTERM: then it stops accepting, lets the commands in flight finish within the grace
// period, and closes.
try await ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm], logger: logger).run()
// snippet.end
