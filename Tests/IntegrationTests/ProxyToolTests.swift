import Foundation
import QMPClient
import QMPCore
import Testing

/// `qmp proxy` in front of a real QEMU 7.2, as an operator runs it.
@Suite("qmp proxy against real QEMU")
struct ProxyToolTests {
    @Test("clients of two listeners share one QEMU: own replies, every event, and the read-only one refused")
    func sharedMonitor() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-proxy-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let operators = directory + "/ops.sock"
        let metrics = directory + "/metrics.sock"
        let config = """
            {"listeners": [
              {"name": "ops", "addresses": ["\(operators)"],
               "policy": {"deny": [{"command": "device_del", "arguments": {"id": "!hot-*"}}]}},
              {"name": "metrics", "addresses": ["\(metrics)"], "policy": {"profile": "read-only"}}
            ]}
            """
        try config.write(toFile: directory + "/proxy.json", atomically: true, encoding: .utf8)
        let (process, stdout, stderr) = try QMPExecutable.start([
            "proxy", "--launch", "--config", directory + "/proxy.json",
        ])
        // QEMU starts in the tool's own time: the listeners exist once it has greeted the proxy.
        let clock = ContinuousClock()
        let deadline = clock.now + RealQEMU.startupTimeout
        while process.isRunning && clock.now < deadline
            && !(FileManager.default.fileExists(atPath: operators) && FileManager.default.fileExists(atPath: metrics))
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        do {
            try await withThrowingTaskGroup(of: [String].self) { group in
                let (ready, signal) = AsyncStream<Void>.makeStream()
                // Each client waits for RESUME then STOP, from whichever client caused them.
                for path in [operators, operators, operators, metrics, metrics] {
                    group.addTask {
                        try await QMPClient.withConnection(to: .unixSocket(path: path)) { client in
                            let events = client.events(named: ["RESUME", "STOP"])
                            signal.yield()
                            for _ in 0..<5 {
                                let status = try await client.execute("query-status")
                                #expect(status["status"] != nil)
                            }
                            var seen: [String] = []
                            for try await event in events {
                                seen.append(event.name)
                                if seen.count == 2 { break }
                            }
                            return seen
                        }
                    }
                }
                var subscribed = 0
                for await _ in ready {
                    subscribed += 1
                    if subscribed == 5 { break }
                }
                try await QMPClient.withConnection(to: .unixSocket(path: metrics)) { reader in
                    await #expect(throws: QMPError.self) { try await reader.execute("cont") }
                    do {
                        try await reader.execute("stop")
                    } catch let error as QMPError {
                        #expect(error.errorClass == "GenericError")
                        #expect(error.message.contains("refused by the proxy's policy for listener 'metrics'"))
                    }
                }
                try await QMPClient.withConnection(to: .unixSocket(path: operators)) { admin in
                    do {
                        try await admin.execute("device_del", arguments: ["id": "boot-disk"])
                        Issue.record("device_del of boot-disk was not refused")
                    } catch let error as QMPError {
                        #expect(error.message.hasSuffix("deny rule 1 ('device_del' with id '!hot-*')"))
                    }
                    // Reaches QEMU, which has no such device and says so in its words.
                    do {
                        try await admin.execute("device_del", arguments: ["id": "hot-nic"])
                        Issue.record("device_del of a missing device succeeded")
                    } catch let error as QMPError {
                        #expect(error.errorClass == "DeviceNotFound")
                        #expect(error.message == "Device 'hot-nic' not found")
                    }
                    try await admin.execute("cont")
                    try await admin.execute("stop")
                }
                for try await seen in group {
                    #expect(seen == ["RESUME", "STOP"])
                }
            }
        } catch {
            process.interrupt()
            _ = try? await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(30))
            throw error
        }
        process.interrupt()
        let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(30))
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stderr.contains("qmp proxy: stopped (signal 2)"))
    }

    @Test("a second client of a QEMU monitor in use is told that another client may hold it, and of qmp proxy")
    func busyMonitor() async throws {
        try await RealQEMU.with { qemu in
            // QEMU accepts the connection and says nothing until the launcher's client has gone.
            let second = QMPClient.Configuration(connectTimeout: .seconds(2), commandTimeout: .seconds(5))
            let error = await #expect(throws: QMPError.self) {
                try await QMPClient.connect(to: .unixSocket(path: qemu.socketPath), configuration: second)
            }
            #expect(error?.code == .timeout)
            #expect(
                error?.message.contains("QEMU serves one client per monitor socket") == true,
                "\(String(describing: error))"
            )
            #expect(error?.message.contains("`qmp proxy`") == true)
            // The first client is still served.
            let status = try await qemu.client.execute("query-status")
            #expect(status["status"] == "prelaunch")
        }
    }
}
