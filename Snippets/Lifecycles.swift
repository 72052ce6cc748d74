// snippet.hide
import Logging
import QMPClient
import QMPCore

let logger = Logger(label: "vm-manager")
// snippet.show
// snippet.configuration
var configuration = QMPClient.Configuration()
configuration.connectTimeout = .seconds(5)       // greeting and negotiation
configuration.commandTimeout = .seconds(30)      // each command, unless the call says otherwise

let client = try await QMPClient.connect(
    to: .unixSocket(path: "/run/vm/qmp.sock"),
    configuration: configuration,
    logger: logger
)
// snippet.end

// snippet.closing
do {
    try await client.execute("stop")
    try await client.execute("cont")
} catch {
    await client.close()
    throw error
}
await client.close()
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
