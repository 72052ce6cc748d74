import NIOConcurrencyHelpers
import QMPClient
import QMPCore
import QMPServer
import Testing

@Suite("QMP server: out-of-band commands with async handlers are bounded per client")
struct OutOfBandBoundTests {
    @Test("a client that sends many out-of-band commands at once has at most nine running; all are answered")
    func boundedConcurrency() async throws {
        let running = NIOLockedValueBox((now: 0, most: 0))
        var commands = QMPCommandTable()
        commands.register("slow-oob", allowsOutOfBand: true) { _ in
            running.withLockedValue {
                $0.now += 1
                $0.most = max($0.most, $0.now)
            }
            defer { running.withLockedValue { $0.now -= 1 } }
            try await Task.sleep(for: .milliseconds(20))
            return [:]
        }
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0), capabilities: [.oob]),
                commands: commands,
                addresses: [.tcp(host: "127.0.0.1", port: 0)]
            )
        )
        try await withRunningServer(server) { address in
            try await withClient(of: address) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<40 {
                        group.addTask { try await client.executeOutOfBand("slow-oob") }
                    }
                    try await group.waitForAll()
                }
            }
        }
        // QEMU runs each out-of-band command before it reads the next; eight at a time (and the
        // one in-band command that may run beside them) keeps a server whose handlers suspend
        // from starting a task for every command a client sends.
        #expect(running.withLockedValue { $0.most } <= 9)
        #expect(running.withLockedValue { $0.most } >= 2, "out-of-band commands still run side by side")
    }
}
