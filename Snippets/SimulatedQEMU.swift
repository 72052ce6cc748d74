import QMPClient
import QMPSimulator

// snippet.simulator
// A simulated QEMU 7.2 on a Unix socket, for tests and demos without QEMU.
let simulator = QEMUSimulator(configuration: .init(startPaused: true))
let server = simulator.makeServer()
let address = try await server.listen(on: .unixSocket(path: "/tmp/simulated-qemu.sock"))

let client = try await QMPClient.connect(to: address)
try await client.execute("cont")
print(simulator.runState)                                    // running
await client.close()
await server.shutdown()
// snippet.end
