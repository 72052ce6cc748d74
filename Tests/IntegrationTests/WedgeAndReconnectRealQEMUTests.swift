import Foundation
import NIOPosix
import QEMULauncher
import QMPClient
import QMPCore
import Testing

/// Short bounds per class, so that a stopped QEMU shows each class's deadline within seconds.
private let classDeadlines: [(QMPCommandClass, Duration)] = [
    (.query, .milliseconds(1000)),
    (.control, .milliseconds(1500)),
    (.block, .milliseconds(2000)),
    (.migration, .milliseconds(2500)),
]

/// A harmless command of each class, as QEMU 7.2 with `-machine none` takes it. Each is sent
/// again after SIGCONT, so none may change what a later check reads.
private func command(of commandClass: QMPCommandClass) -> (String, JSONObject?) {
    switch commandClass {
    case .query: ("query-status", nil)
    case .block: ("blockdev-del", ["node-name": "no-such-node"])
    case .migration: ("migrate-set-capabilities", ["capabilities": []])
    default: ("human-monitor-command", ["command-line": "info version"])
    }
}

private let wedgeBound: Duration = .milliseconds(500)

/// The client's own event loop: the suite's shared loops are busy with other tests' connections,
/// and a deadline is only as punctual as the loop that keeps it.
private func wedgeConfiguration(on loop: MultiThreadedEventLoopGroup) -> QMPClient.Configuration {
    var timeouts = QMPTimeoutPolicy()
    for (commandClass, deadline) in classDeadlines {
        timeouts.classes[commandClass] = QMPCommandBounds(deadline: deadline, slow: deadline / 2)
    }
    return QMPClient.Configuration(
        timeouts: timeouts,
        wedgeDetection: QMPWedgeDetection(silence: wedgeBound, probeAfter: .milliseconds(200)),
        eventLoopGroup: loop
    )
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

@Suite("A stopped QEMU 7.2: deadlines by class, wedge detection, recovery")
struct StoppedQEMUTests {
    @Test(
        """
        100 calls pending on a SIGSTOPped QEMU each end at their class's deadline; it is wedged; \
        after SIGCONT it recovers and no late reply reaches another call
        """
    )
    @available(macOS 15.0, *)
    func stoppedWithHundredCalls() async throws {
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let launcher = QEMULauncher(
            startupTimeout: RealQEMU.startupTimeout,
            shutdownStepTimeout: .seconds(5),
            client: wedgeConfiguration(on: loop)
        )
        defer {
            // Off the async context: the loop's threads end once QEMU and its client are gone.
            loop.shutdownGracefully { _ in }
        }
        try await RealQEMU.with(launcher) { (qemu) async throws in
            let client = qemu.client
            #expect(client.oobEnabled)
            #expect(client.health == .responsive)
            var healthUpdates = client.healthUpdates().makeAsyncIterator()
            _ = await healthUpdates.next()

            kill(qemu.pid, SIGSTOP)
            let clock = ContinuousClock()
            struct Outcome: Sendable {
                var commandClass: QMPCommandClass
                var error: QMPError?
                var start: ContinuousClock.Instant
                var elapsed: Duration
            }
            let (outcomes, wedgedAfter) = try await withThrowingTaskGroup(of: Outcome?.self) { group in
                for index in 0..<100 {
                    let (commandClass, _) = classDeadlines[index % classDeadlines.count]
                    let (name, arguments) = command(of: commandClass)
                    // On the connection's loop, so that the end is seen where it happens, not after a
                    // wait for a thread of the cooperative pool.
                    group.addTask(executorPreference: client.executor) {
                        let start = clock.now
                        do {
                            _ = try await client.execute(name, arguments: arguments)
                            return Outcome(
                                commandClass: commandClass,
                                error: nil,
                                start: start,
                                elapsed: clock.now - start
                            )
                        } catch let error as QMPError {
                            return Outcome(
                                commandClass: commandClass,
                                error: error,
                                start: start,
                                elapsed: clock.now - start
                            )
                        }
                    }
                }
                // Watched from the connection's loop too, for the same reason.
                let wedgedAt = await withTaskExecutorPreference(client.executor) {
                    while let health = await healthUpdates.next() {
                        if health.isWedged {
                            return Optional(clock.now)
                        }
                    }
                    return nil
                }
                var outcomes: [Outcome] = []
                for try await outcome in group {
                    if let outcome { outcomes.append(outcome) }
                }
                // The silence counts from the first command sent to the stopped QEMU.
                let firstSent = outcomes.map(\.start).min()
                guard let wedgedAt, let firstSent else { return (outcomes, Duration?.none) }
                return (outcomes, Optional(wedgedAt - firstSent))
            }
            // Still stopped: the monitor is still wedged, with the probe unanswered.
            guard case .wedged(let wedge) = client.health else {
                Issue.record("QEMU is stopped but the client says \(client.health)")
                kill(qemu.pid, SIGCONT)
                return
            }
            #expect(wedge.probe == .silent)
            kill(qemu.pid, SIGCONT)

            #expect(outcomes.count == 100)
            for outcome in outcomes {
                let deadline = classDeadlines.first { $0.0 == outcome.commandClass }!.1
                #expect(
                    outcome.error?.code == .timeout,
                    "\(outcome.commandClass): \(String(describing: outcome.error))"
                )
                #expect(outcome.error?.message.contains("class \(outcome.commandClass)") == true)
                let ratio = seconds(outcome.elapsed) / seconds(deadline)
                #expect(
                    ratio >= 1.0 && ratio <= 1.1,
                    "a \(outcome.commandClass) call ended after \(outcome.elapsed), its deadline is \(deadline)"
                )
            }
            let wedged = try #require(wedgedAfter, "never reported wedged")
            #expect(wedged >= wedgeBound)
            #expect(seconds(wedged) <= seconds(wedgeBound) * 1.1, "wedged only after \(wedged)")

            // QEMU answers the hundred late now; the client drops each, then is responsive again.
            #expect(try await RealQEMU.eventually { client.health == .responsive })
            // Every reply goes to its own call: replies of different shapes, interleaved.
            for round in 0..<20 {
                if round % 2 == 0 {
                    let status = try await client.execute("query-status")
                    #expect(status["status"] != nil, "query-status got \(status)")
                } else {
                    let version = try await client.execute("query-version")
                    #expect(version["qemu"]?["major"] == 7, "query-version got \(version)")
                }
            }
        }
    }
}

@Suite("A long-lived client across a QEMU 7.2 restart")
struct RestartedQEMUTests {
    @Test(
        """
        QEMU restarted on the same socket: the client reconnects, the stream reports the gap, \
        the call in flight is not re-sent
        """
    )
    func reconnectsAfterRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-restart-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("monitor.sock").path
        let launcher = QEMULauncher(extraArguments: ["-qmp", "unix:\(socket),server=on,wait=off"])
        let configuration = QMPClient.Configuration(
            reconnect: QMPReconnectPolicy(
                initialDelay: .milliseconds(50),
                maximumDelay: .milliseconds(500),
                giveUpAfter: .seconds(60)
            )
        )

        try await withThrowingTaskGroup(of: Void.self) { group in
            let client = try await RealQEMU.with(launcher) { (first) async throws in
                let client = try await QMPClient.connect(to: .unixSocket(path: socket), configuration: configuration)
                group.addTask { try await client.run() }
                #expect(client.greeting.version?.major == 7)
                // The call is on the wire when QEMU dies: it may or may not have run.
                kill(first.pid, SIGSTOP)
                async let inFlight: Void = {
                    try await client.execute("object-add", arguments: ["qom-type": "iothread", "id": "resent"])
                }()
                try await Task.sleep(for: .milliseconds(300))
                kill(first.pid, SIGKILL)
                do {
                    try await inFlight
                    Issue.record("the call in flight succeeded on a killed QEMU")
                } catch let error as QMPError {
                    #expect(error.code == .connectionClosed)
                    #expect(error.message.contains("may or may not have run"))
                }
                #expect(try await RealQEMU.eventually { !client.isConnected })
                return client
            }
            let events = client.events()
            try await RealQEMU.with(launcher) { (second) async throws in
                var iterator = events.makeAsyncIterator()
                let gap = try await iterator.next()
                #expect(gap?.isConnectionGap == true)
                #expect(try await RealQEMU.eventually { client.health == .responsive })
                // The new QEMU never got the call that was in flight; one made now lands beside nothing.
                try await client.execute("object-add", arguments: ["qom-type": "iothread", "id": "made-after"])
                let objects = try await client.execute("qom-list", arguments: ["path": "/objects"])
                let names = objects.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
                #expect(names.contains("made-after"))
                #expect(!names.contains("resent"))
                #expect(try await client.execute("query-status")["status"] == "prelaunch")
                _ = second
            }
            await client.close()
            try await group.waitForAll()
        }
    }
}

extension RealQEMU {
    /// Waits until `condition` holds, for a bound a loaded host keeps.
    static func eventually(within limit: Duration = .seconds(30), _ condition: () -> Bool) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while !condition() {
            guard clock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
