import QMP
// snippet.hide
import QMPClient

let client = try await QMPClient.connect(to: .unixSocket(path: "/tmp/qmp.sock"))
// snippet.show

let status = try await client.execute(QueryStatusCommand())   // StatusInfo
if status.status == .paused { try await client.execute(ContCommand()) }
for try await shutdown in client.events(of: ShutdownEvent.self) {
    print(shutdown.payload.reason.map { "\($0)" } ?? "-")       // guestShutdown, …; QEMU before 4.0 sends none
}
