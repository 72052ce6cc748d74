import QMPClient
import QMPCore

// Connect to a QEMU started with -qmp unix:/tmp/qmp.sock,server=on,wait=off; the connection
// closes when the closure ends, however it ends.
try await QMPClient.withConnection(to: .unixSocket(path: "/tmp/qmp.sock")) { client in
    let status = try await client.execute("query-status")
    print(status["status"] ?? "?")                       // "running"

    // Errors are thrown as QMPError with QEMU's class and desc.
    do {
        try await client.execute("device_del", arguments: ["id": "nope"])
    } catch let error as QMPError {
        print(error.errorClass ?? "", error.message)      // DeviceNotFound Device 'nope' not found
    }

    // Run a command and wait for the event it causes; an event that overtakes the reply is not lost.
    let (_, deleted) = try await client.execute(
        "device_del", arguments: ["id": "nic0"],
        thenWaitFor: "DEVICE_DELETED", matching: { $0.data?["device"] == "nic0" }
    )
    print(deleted.timestamp.seconds)

    // Events as an AsyncSequence.
    for try await event in client.events(named: ["SHUTDOWN"]) {
        print(event.name, event.data ?? [:])
    }
}
