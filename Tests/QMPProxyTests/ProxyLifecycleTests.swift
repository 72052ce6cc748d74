import QMPClient
import QMPCore
import QMPProxy
import QMPSimulator
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

@Suite("QMP proxy as a service")
struct ProxyLifecycleTests {
    @Test("a graceful shutdown lets a command in flight finish, closes the clients, and leaves the upstream open")
    func gracefulShutdown() async throws {
        let slow = QEMUSimulator.Configuration(faults: [.init(command: "query-name", fault: .delay(.milliseconds(300)))]
        )
        try await withTemporaryDirectory { directory in
            let simulator = QEMUSimulator(configuration: slow).makeServer(
                listeningOn: [.unixSocket(path: directory + "/qemu.sock")]
            )
            try await simulator.serving { qemu in
                try await QMPClient.withConnection(to: qemu[0]) { upstream in
                    let (listening, announce) = AsyncStream<String>.makeStream()
                    let proxy = QMPProxy(
                        upstream: upstream,
                        configuration: .init(
                            listeners: [.init(name: "main", addresses: [.unixSocket(path: directory + "/proxy.sock")])]
                        ),
                        onListening: { name, _ in announce.yield(name) }
                    )
                    try await testGracefulShutdown { trigger in
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask { try await proxy.run() }
                            for await _ in listening { break }
                            let client = try WireClient(path: directory + "/proxy.sock")
                            try await client.negotiate()
                            client.send(#"{"execute":"query-name","id":"slow"}"#)
                            // The command is on its way upstream before the shutdown begins.
                            let deadline = ContinuousClock.now + .seconds(30)
                            while proxy.statistics.commandsForwarded == 0 && ContinuousClock.now < deadline {
                                try await Task.sleep(for: .milliseconds(5))
                            }
                            trigger.triggerGracefulShutdown()
                            #expect(try await client.reply() == ["return": [:], "id": "slow"])
                            #expect(try await client.next(timeout: .seconds(10)) == nil)
                            try await group.waitForAll()
                        }
                    }
                    // The proxy's end is not the monitor's: its owner still talks to it.
                    let status = try await upstream.execute("query-status")
                    #expect(status["status"] == "prelaunch")
                }
            }
        }
    }

    @Test("a proxy without listeners refuses to run")
    func noListeners() async throws {
        try await withTemporaryDirectory { directory in
            let simulator = QEMUSimulator().makeServer(listeningOn: [.unixSocket(path: directory + "/qemu.sock")])
            try await simulator.serving { qemu in
                try await QMPClient.withConnection(to: qemu[0]) { upstream in
                    let proxy = QMPProxy(upstream: upstream, configuration: .init(listeners: []))
                    let error = await #expect(throws: QMPError.self) { try await proxy.run() }
                    #expect(error?.code == .invalidArguments)
                }
            }
        }
    }
}
