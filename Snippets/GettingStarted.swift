// snippet.hide
// Runs as it stands: a simulated QEMU in this process plays the part of a real one.
import QMPSimulator

// snippet.show
import QMPClient
import QMPCore

// snippet.hide
let path = "/tmp/swift-qmp-getting-started-\(UInt32.random(in: 0...UInt32.max)).sock"
let server = QEMUSimulator().makeServer(listeningOn: [.unixSocket(path: path)])
try await server.serving { _ in
// snippet.show
try await QMPClient.withConnection(to: .unixSocket(path: path)) { client in
    print("connected to QEMU", client.greeting.version.map { "\($0)" } ?? "of unknown version")

    let status = try await client.execute("query-status")
    print(status["status"]?.stringValue ?? "?")              // "prelaunch": it starts paused

    do {
        try await client.execute("device_del", arguments: ["id": "no-such-device"])
    } catch let error as QMPError where error.code == .commandFailed {
        print(error.errorClass ?? "", error.message)         // DeviceNotFound Device '…' not found
    }
}
// snippet.hide
}
