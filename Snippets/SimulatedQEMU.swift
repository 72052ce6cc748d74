import QMPClient
import QMPSimulator

// snippet.simulator
// A simulated QEMU 7.2 on a Unix socket, for tests and demos without QEMU. It serves while the
// closure runs, and shuts down gracefully when the closure ends.
let simulator = QEMUSimulator(configuration: .init(startPaused: true))
let server = simulator.makeServer(listeningOn: [.unixSocket(path: "/tmp/simulated-qemu.sock")])
try await server.serving { addresses in
    try await QMPClient.withConnection(to: addresses[0]) { client in
        try await client.execute("cont")
        print(simulator.runState)                                // running
    }
}
// snippet.end
