import QMPClient
import QMPCore
import QMPProxy
import QMPServer
import QMPSimulator
import Testing

@Suite("QMP proxy: events and the loss of the upstream")
struct ProxyEventsTests {
    /// An event about 2 KiB long, sent `count` times a couple of milliseconds apart once `stop`
    /// runs: enough to fill a client's backlog when it does not read, and no burst that one that
    /// reads could not keep up with.
    static func flood(count: Int) -> QEMUSimulator.Configuration {
        QEMUSimulator.Configuration(
            faults: [
                .init(
                    command: "stop",
                    calls: .only(1),
                    fault: .eventFlood(
                        event: "DEVICE_TRAY_MOVED",
                        data: ["device": .string(String(repeating: "d", count: 2048)), "tray-open": true],
                        count: count,
                        interval: .milliseconds(2)
                    )
                )
            ]
        )
    }

    @Test("every client sees every event; one that does not read loses events, counted, and slows nobody")
    func fanOut() async throws {
        let count = 600
        try await ProxyRig.with(simulator: Self.flood(count: count), eventBacklogLimit: 256 << 10) { rig in
            let path = rig.path()
            // Negotiated, then never read from again.
            let sleeper = try WireClient(path: path)
            try await sleeper.negotiate()
            // Each reader stays connected until the proxy's counts have been read.
            let (seenAll, reportSeen) = AsyncStream<Int>.makeStream()
            let (release, releaseReaders) = AsyncStream<Void>.makeStream()
            let clients = try await withThrowingTaskGroup(of: Void.self) { group in
                let (ready, signal) = AsyncStream<Void>.makeStream()
                for _ in 0..<3 {
                    group.addTask {
                        try await QMPClient.withConnection(to: .unixSocket(path: path)) { client in
                            let events = client.events(named: ["DEVICE_TRAY_MOVED", "STOP"], bufferSize: 4 * count)
                            signal.yield()
                            var seen = 0
                            for try await event in events {
                                if event.name == "STOP" { continue }
                                seen += 1
                                if seen == count { break }
                            }
                            reportSeen.yield(seen)
                            for await _ in release {}
                        }
                    }
                }
                var subscribed = 0
                for await _ in ready {
                    subscribed += 1
                    if subscribed == 3 { break }
                }
                // The event flood starts with this command; its reply comes before most of it.
                try await rig.upstream.execute("stop")
                var received: [Int] = []
                for await seen in seenAll {
                    received.append(seen)
                    if received.count == 3 { break }
                }
                #expect(received == [count, count, count])
                let clients = rig.proxy.clients()
                releaseReaders.finish()
                try await group.waitForAll()
                return clients
            }
            #expect(clients.count == 4)
            let dropped = clients.map(\.eventsDropped).sorted()
            #expect(dropped.prefix(3) == [0, 0, 0], "clients that read lose nothing: \(clients)")
            #expect(
                dropped.last ?? 0 > 0,
                "the client that does not read loses events, and they are counted: \(clients)"
            )
            #expect(rig.proxy.statistics.eventsForwarded >= count)
        }
    }

    @Test("the upstream closing fails every pending downstream call with QEMU's error shape, then closes the clients")
    func upstreamLost() async throws {
        // query-uuid takes a while, so that what follows queues behind it; query-name ends the
        // monitor's connection without answering, as a QEMU that quits or crashes does.
        let dying = QEMUSimulator.Configuration(
            faults: [
                .init(command: "query-uuid", fault: .delay(.milliseconds(300))),
                .init(command: "query-name", fault: .closeMidReply(bytes: 0)),
            ]
        )
        try await ProxyRig.with(simulator: dying) { rig in
            let early = try WireClient(path: rig.path())
            let late = try WireClient(path: rig.path())
            try await early.negotiate()
            try await late.negotiate()
            early.send(#"{"execute":"query-uuid","id":"b1"}{"execute":"query-kvm","id":"b2"}"#)
            // query-name must queue behind query-uuid at the monitor, whatever the machine's load.
            let deadline = ContinuousClock.now + .seconds(30)
            while try !rig.commandsReachingQEMU().contains(where: { $0.name == "query-uuid" }),
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(5))
            }
            late.send(#"{"execute":"query-name","id":"a1"}{"execute":"query-status","id":"a2"}"#)

            #expect(try await early.reply()?["return"]?["UUID"] != nil)
            for (client, id) in [(early, "b2"), (late, "a1"), (late, "a2")] {
                let reply = try await client.reply()
                #expect(reply?["id"] == .string(id))
                #expect(reply?["error"]?["class"] == "GenericError")
                guard case .string(let desc)? = reply?["error"]?["desc"] else {
                    Issue.record("\(id) got \(String(describing: reply))")
                    continue
                }
                #expect(desc.hasPrefix("The proxy lost its connection to QEMU"), "\(id): \(desc)")
            }
            // Then the connections close, as they would if the clients had been talking to QEMU.
            #expect(try await early.next(timeout: .seconds(10)) == nil)
            #expect(try await late.next(timeout: .seconds(10)) == nil)
        }
    }
}
