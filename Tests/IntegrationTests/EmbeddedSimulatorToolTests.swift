import Foundation
import QMPClient
import QMPCore
import Testing

@Suite("The qmp tool without QEMU")
struct EmbeddedSimulatorToolTests {
    @Test("qmp exec without ADDRESS talks to the simulated QEMU, says so in one line, and needs no QEMU")
    func embeddedDefault() async throws {
        let (process, stdout, stderr) = try QMPExecutable.start(
            ["exec", "query-status"],
            environment: ["PATH": "/nonexistent", "QEMU_BINARY": ""]
        )
        let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
        #expect(output.status == 0)
        #expect(try JSONValue(parsing: output.stdout)["status"] == "prelaunch")
        #expect(
            output.stderr == "qmp: no ADDRESS given, so talking to a simulated QEMU 7.2 (--launch starts a real one)\n"
        )
    }

    @Test("qmp shell with a log file it cannot open says why, before connecting")
    func unopenableLogFile() async throws {
        let (process, stdout, stderr) = try QMPExecutable.start(
            ["shell", "--logfile", "/nonexistent/dir/log"],
            environment: ["PATH": "/nonexistent"]
        )
        let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
        #expect(output.status == 64)
        #expect(output.stderr == "error: cannot open the log file /nonexistent/dir/log: No such file or directory\n")
    }

    @Test("qmp mock serves the simulated QEMU until a client sends quit, and removes its socket")
    func mockUntilQuit() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-mock-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("qmp.sock").path
        let (process, stdout, stderr) = try QMPExecutable.start([
            "mock", "--simulate", "--qemu-version", "6.2.0", "--listen", socket,
        ])
        let client = try await connectWhenListening(socket)
        #expect(client.greeting.version == QEMUVersion(major: 6, minor: 2, micro: 0))
        #expect(try await client.execute("query-status")["status"] == "prelaunch")
        let shutdown = client.events(named: ["SHUTDOWN"])
        try await client.execute("quit")
        var iterator = shutdown.makeAsyncIterator()
        #expect(try await iterator.next()?.data?["reason"] == "host-qmp-quit")
        let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
        #expect(output.status == 0)
        #expect(output.stderr.hasSuffix("qmp mock: stopped (quit)\n"))
        #expect(!FileManager.default.fileExists(atPath: socket))
        await client.close()
    }

    @Test("qmp mock stops cleanly on SIGTERM")
    func mockSignal() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-mock-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("qmp.sock").path
        let (process, stdout, stderr) = try QMPExecutable.start(["mock", "--listen", socket])
        let client = try await connectWhenListening(socket)
        kill(process.processIdentifier, SIGTERM)
        await client.waitUntilClosed()
        let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
        #expect(output.status == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))
    }

    private func connectWhenListening(_ socket: String) async throws -> QMPClient {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while true {
            do {
                return try await QMPClient.connect(to: .unixSocket(path: socket))
            } catch let error as QMPError where error.code == .connectionFailed && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }
}
