// snippet.hide
import Logging
import QMPClient
import QMPCore
import ServiceLifecycle

let logger = Logger(label: "vm-manager")
// snippet.show
// snippet.configuration
var configuration = QMPClient.Configuration()
configuration.connectTimeout = .seconds(5)       // greeting and negotiation
configuration.commandTimeout = .seconds(30)      // each command, unless the call says otherwise

try await QMPClient.withConnection(
    to: .unixSocket(path: "/run/vm/qmp.sock"),
    configuration: configuration,
    logger: logger
) { client in
    try await client.execute("stop")
    try await client.execute("cont")
}
// snippet.end

// snippet.service
/// A long-lived user of the monitor: prints every run-state change until the group stops.
struct RunStateWatcher: Service {
    let client: QMPClient

    func run() async throws {
        for try await event in client.events(named: ["STOP", "RESUME"]).cancelOnGracefulShutdown() {
            print(event.name)
        }
    }
}

let client = try await QMPClient.connect(to: .unixSocket(path: "/run/vm/qmp.sock"), logger: logger)
let group = ServiceGroup(
    services: [client, RunStateWatcher(client: client)],
    gracefulShutdownSignals: [.sigterm],
    logger: logger
)
try await group.run()
// snippet.end

// snippet.timeouts
// A longer limit for one call; cancelling the task waiting for it works as well.
let blocks = try await client.execute("query-block", timeout: .seconds(120))
// snippet.end
_ = blocks

// snippet.events
let stopped = client.events(named: ["STOP", "RESUME"], bufferSize: 64, whenFull: .dropOldest)
for try await event in stopped {
    print(event.name, event.timestamp.seconds)
    if stopped.droppedCount > 0 { print("missed \(stopped.droppedCount) events") }
}
// snippet.end

// snippet.waitForEvent
let (_, deleted) = try await client.execute(
    "device_del",
    arguments: ["id": "nic0"],
    thenWaitFor: "DEVICE_DELETED",
    matching: { $0.data?["device"] == "nic0" },
    eventTimeout: .seconds(10)
)
print(deleted.data ?? [:])
// snippet.end

// snippet.outOfBand
if client.oobEnabled {
    try await client.executeOutOfBand("migrate-pause")
}
// snippet.end

