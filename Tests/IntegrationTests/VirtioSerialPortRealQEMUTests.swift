import Foundation
import QEMULauncher
import QMPClient
import QMPCore
import Testing

/// The guest agent's port on a real QEMU with no guest OS: QEMU reports it closed, and a wait
/// for it ends at its bound with an error that says what was waited for. `VSERPORT_CHANGE`
/// comes only when a guest's driver opens or closes the port, so without a guest none comes.
@Suite("The guest agent's virtio-serial port on real QEMU")
struct VirtioSerialPortRealQEMUTests {
    @Test("with no guest the agent's port is closed, and waiting for it ends at the bound, saying why")
    func closedWithoutGuest() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("swift-qmp-vserport-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let agentSocket = directory.appendingPathComponent("qga.sock").path
        let launcher = QEMULauncher(
            machine: "pc",
            extraArguments: [
                "-device", "virtio-serial",
                "-chardev", "socket,id=qga0,path=\(agentSocket),server=on,wait=off",
                "-device", "virtserialport,chardev=qga0,id=qga-port,name=org.qemu.guest_agent.0",
            ],
            startupTimeout: RealQEMU.startupTimeout,
            shutdownStepTimeout: .seconds(5)
        )
        try await RealQEMU.with(launcher) { qemu in
            let port = QMPVirtioSerialPort(chardev: "qga0", deviceID: "qga-port")
            let name = try await qemu.client.execute(
                "qom-get",
                arguments: ["path": "/machine/peripheral/qga-port", "property": "name"]
            )
            #expect(name == "org.qemu.guest_agent.0")
            #expect(try await qemu.client.isGuestConnected(to: port) == false)

            let bound = Duration.milliseconds(500)
            let start = ContinuousClock.now
            let error = await #expect(throws: QMPError.self) {
                try await qemu.client.waitUntilGuestConnected(
                    to: port,
                    timeout: bound,
                    pollInterval: .milliseconds(100)
                )
            }
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= bound && elapsed < bound + .seconds(15))
            #expect(error?.code == .timeout)
            #expect(
                error?.message.hasPrefix(
                    "the guest did not open the virtio-serial port on chardev qga0 (device qga-port) within 0.5 seconds"
                ) == true,
                "\(String(describing: error))"
            )
        }
    }
}

/// QMP over a serial line: a second monitor of a real QEMU on `-chardev pty`, reached by the
/// terminal's path as a character device.
@Suite("QMP over a character device on real QEMU")
struct CharacterDeviceMonitorRealQEMUTests {
    @Test("a client opens the pty of QEMU's second monitor by path, negotiates and runs commands")
    func monitorOnPseudoTerminal() async throws {
        let launcher = QEMULauncher(
            extraArguments: ["-chardev", "pty,id=serialmon", "-mon", "chardev=serialmon,mode=control"],
            startupTimeout: RealQEMU.startupTimeout,
            shutdownStepTimeout: .seconds(5)
        )
        try await RealQEMU.with(launcher) { qemu in
            let chardevs = try await qemu.client.execute("query-chardev").arrayValue ?? []
            let filename = try #require(
                chardevs.first { $0["label"] == "serialmon" }?["filename"]?.stringValue,
                "\(chardevs)"
            )
            #expect(filename.hasPrefix("pty:"))
            let path = String(filename.dropFirst("pty:".count))
            let (greeting, status) = try await QMPClient.withConnection(to: .characterDevice(path: path)) {
                client async throws -> (QMPGreeting, JSONValue) in
                (client.greeting, try await client.execute("query-status"))
            }
            #expect(greeting.version == qemu.client.greeting.version)
            #expect(status["status"] == "prelaunch" || status["status"] == "paused", "\(status)")
        }
    }
}
