import Foundation
import QMPCore
import QMPServer
import Testing

/// Python's qemu.qmp, from the virtualenv `scripts/test` makes, as an independent client.
enum PythonPeer {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var python: String {
        get throws {
            if let configured = ProcessInfo.processInfo.environment["SWIFT_QMP_PYTHON"], !configured.isEmpty {
                return configured
            }
            let venv = packageRoot.appendingPathComponent(".build/python-peer/bin/python").path
            guard FileManager.default.isExecutableFile(atPath: venv) else {
                throw PeerSetupFailure(
                    description:
                        "no Python with qemu.qmp: run scripts/test, which makes the virtualenv .build/python-peer"
                )
            }
            return venv
        }
    }

    static func run(socket: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try python)
        process.arguments = [packageRoot.appendingPathComponent("Tests/PythonPeer/qemu_qmp_peer.py").path, socket]
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

@Suite("Python's qemu.qmp against our server")
struct PythonPeerTests {
    @Test("it connects, negotiates OOB, executes, receives an event and sees the right errors")
    func independentClient() async throws {
        var commands = QMPCommandTable()
        commands.register("query-status") { _ in ["status": "running", "running": true, "singlestep": false] }
        commands.register("query-yank", allowsOutOfBand: true) { _ in [] }
        commands.register("emit-test-event") { request in
            request.server.broadcast(
                QMPEvent(name: "TEST_EVENT", data: ["n": 1], timestamp: .init(seconds: 1_700_000_000, microseconds: 5))
            )
            return [:]
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-py-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("qmp.sock").path
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0), capabilities: [.oob]),
                commands: commands,
                addresses: [.unixSocket(path: socket)],
                checkArguments: { name, arguments in
                    guard name == "query-status", let unexpected = arguments.keys.first else { return nil }
                    return QMPErrorBody(
                        errorClass: "GenericError",
                        description: "Parameter '\(unexpected)' is unexpected"
                    )
                }
            )
        )
        // Waiting for Python blocks; do it on a Dispatch thread, not in the cooperative pool.
        let result = try await withRunningServer(server) { _ in
            try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try PythonPeer.run(socket: socket) })
                }
            }
        }
        #expect(result.status == 0, "\(result.stderr)")
        let seen = try JSONValue(parsing: result.stdout)
        #expect(seen["version"] == 7)
        #expect(seen["capabilities"] == ["oob"])
        #expect(seen["status"]?["status"] == "running")
        #expect(seen["yank_oob"] == [])
        #expect(seen["event"] == ["event": "TEST_EVENT", "data": ["n": 1], "has_timestamp": true])
        #expect(
            seen["errors"] == [
                ["class": "CommandNotFound", "desc": "The command no-such-command has not been found"],
                ["class": "GenericError", "desc": "The command query-status does not support OOB"],
                ["class": "GenericError", "desc": "Parameter 'unexpected' is unexpected"],
            ]
        )
        #expect(seen["after_errors"]?["status"] == "running")
    }
}

/// The independent peer could not be found or started.
struct PeerSetupFailure: Error, CustomStringConvertible {
    var description: String
}
