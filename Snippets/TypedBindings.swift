// snippet.hide
import QMPClient
import QMPCore

let client = try await QMPClient.connect(to: .unixSocket(path: "/run/vm/qmp.sock"))
let diskDescriptor: CInt = 3
// snippet.show
// snippet.typedCommand
import QMP

let status = try await client.execute(QueryStatusCommand())    // a StatusInfo
switch status.status {
case .running: print("running")
case .paused, .prelaunch: print("not running yet")
case .unknown(let name): print("a run state this binding does not know:", name)
default: print(status.status)
}
// snippet.end

// snippet.typedSurface
// Out of band, with descriptors attached, and followed by the event it causes: each way of
// sending a command has a typed form.
if client.oobEnabled {
    try await client.executeOutOfBand(MigratePauseCommand())
}
try await client.execute(GetfdCommand(fdname: "disk0"), passing: [diskDescriptor])
let (_, deleted) = try await client.execute(
    DeviceDelCommand(id: "nic0"),
    thenWaitFor: DeviceDeletedEvent.self,
    matching: { $0.payload.device == "nic0" }
)
print(deleted.payload.path)                                     // /machine/peripheral/nic0
// snippet.end

// snippet.availability
// When each command, event, type, member and enum value existed, from QEMU's schemas.
let cpus = QueryCpusCommand.availability                       // a QEMUAvailability
print(cpus.introduced, cpus.lastVersion.map { "\($0)" } ?? "-")   // 1.0 5.2.0
print(cpus.deprecatedSince.map { "\($0)" } ?? "-")               // 5.0.0
for entry in QMPSchemaHistory.shared.lookup("query-cpus") {
    print(entry.kind, entry.availability.runs)                    // command [1.0..5.2.0]
}
// snippet.end

// snippet.check
// The same check a typed call makes before sending it, asked for explicitly.
do {
    try await client.check(QueryCpusCommand())
} catch let error as QMPError {
    print(error.message)            // QEMU 7.2.22 has no command 'query-cpus'; QEMU removed it after 5.2.0
}
// snippet.end

// snippet.events
for try await shutdown in client.events(of: ShutdownEvent.self) {
    // `reason` came in QEMU 4.0: optional, because an older QEMU does not send it.
    print(shutdown.payload.reason.map { "\($0)" } ?? "no reason given", shutdown.timestamp.seconds)
}
// snippet.end
