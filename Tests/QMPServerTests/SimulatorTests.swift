import Foundation
import QMPClient
import QMPCore
import QMPServer
import QMPSimulator
import Testing

@Suite("The simulated QEMU keeps its state consistent")
struct SimulatorTests {
    private func withSimulator<Result: Sendable>(_ body: (QMPClient) async throws -> Result) async throws -> Result {
        let server = QEMUSimulator().makeServer(listeningOn: [.tcp(host: "127.0.0.1", port: 0)])
        return try await withRunningServer(server) { address in
            try await withClient(of: address, body)
        }
    }

    /// Every object qom-list names can itself be listed, and its type read.
    private func walk(_ path: String, _ client: QMPClient) async throws -> Int {
        let entries = try #require(try await client.execute("qom-list", arguments: ["path": .string(path)]).arrayValue)
        #expect(
            try await client.execute("qom-get", arguments: ["path": .string(path), "property": "type"]).stringValue
                != nil
        )
        var count = 1
        for entry in entries {
            guard let name = entry["name"]?.stringValue, entry["type"]?.stringValue?.hasPrefix("child<") == true else {
                continue
            }
            count += try await walk(path == "/" ? "/" + name : path + "/" + name, client)
        }
        return count
    }

    @Test("what object-add and chardev-add create, QOM shows, and what the -del commands remove, it no longer does")
    func inventoryInQOM() async throws {
        try await withSimulator { client in
            let before = try await walk("/", client)
            try await client.execute("object-add", arguments: ["qom-type": "iothread", "id": "io0"])
            try await client.execute("chardev-add", arguments: ["id": "c0", "backend": ["type": "null", "data": [:]]])
            #expect(try await walk("/", client) == before + 3)  // /objects, io0, c0
            #expect(
                try await client.execute("qom-get", arguments: ["path": "/chardevs/c0", "property": "type"])
                    == "chardev-null"
            )
            try await client.execute("object-del", arguments: ["id": "io0"])
            try await client.execute("chardev-remove", arguments: ["id": "c0"])
            #expect(try await walk("/", client) == before + 1)  // /objects stays, as in QEMU
        }
    }

    @Test("block nodes and network backends come and go with their add and del commands")
    func blockAndNetwork() async throws {
        try await withSimulator { client in
            try await client.execute(
                "blockdev-add",
                arguments: ["driver": "null-co", "node-name": "disk0", "read-only": true]
            )
            let nodes = try #require(try await client.execute("query-named-block-nodes").arrayValue)
            #expect(nodes.map { $0["node-name"] } == ["disk0"])
            #expect(nodes.first?["ro"] == true)
            #expect(nodes.first?["image"]?["virtual-size"] == .int(1 << 30))
            try await client.execute("blockdev-del", arguments: ["node-name": "disk0"])
            #expect(try await client.execute("query-named-block-nodes") == [])
            try await client.execute("netdev_add", arguments: ["type": "user", "id": "n0"])
            try await client.execute("netdev_del", arguments: ["id": "n0"])
            let again = await #expect(throws: QMPError.self) {
                try await client.execute("netdev_del", arguments: ["id": "n0"])
            }
            #expect(again?.errorClass == "DeviceNotFound")
        }
    }

    @Test("query-commands lists every command the simulator answers, itself included")
    func queryCommands() async throws {
        try await withSimulator { client in
            let listed = try #require(try await client.execute("query-commands").arrayValue).compactMap {
                $0["name"]?.stringValue
            }
            let names = Set(listed)
            #expect(
                names.isSuperset(of: ["qmp_capabilities", "query-commands", "query-status", "qom-list", "blockdev-add"])
            )
            // Each once, as QEMU lists them.
            #expect(listed.count == names.count)
        }
    }
}

@Suite("The simulated QEMU's command line")
struct SimulatorCommandLineTests {
    /// The refusal for a command line, or nil when the simulator takes it.
    func refusal(machine: String, _ arguments: [String] = []) -> String? {
        var configuration = QEMUSimulator.Configuration()
        do {
            try configuration.apply(machine: machine, arguments: arguments)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("what it models is taken, and -smp sets the CPUs")
    func accepted() throws {
        var configuration = QEMUSimulator.Configuration()
        try configuration.apply(
            machine: "pc,accel=kvm",
            arguments: ["-smp", "2,maxcpus=4", "-device", "qemu-xhci,id=usb", "-device", "usb-tablet,id=tab"]
        )
        #expect(configuration.machine == .pc)
        #expect(configuration.cpus == 2 && configuration.maxCPUs == 4)
        #expect(configuration.devices.map(\.driver) == ["qemu-xhci", "usb-tablet"])
    }

    @Test("what it does not model is refused with what it does")
    func refused() {
        #expect(
            refusal(machine: "q35")
                == "the simulator does not model -machine q35; it models none and pc (pc-i440fx-7.2)"
        )
        #expect(refusal(machine: "pc", ["-smp", "two"]) == "cannot read -smp two: expected N[,cpus=N][,maxcpus=M]")
        #expect(
            refusal(machine: "pc", ["-smp", "2,sockets=2"]) == "the simulator models -smp cpus and maxcpus, not sockets"
        )
        #expect(
            refusal(machine: "pc", ["-device", "virtio-net-pci"])
                == "the simulator does not model -device virtio-net-pci on -machine pc; it models qemu-xhci, usb-kbd, usb-mouse and usb-tablet, on -machine pc only"
        )
        #expect(
            refusal(machine: "none", ["-device", "usb-kbd"])
                == "the simulator does not model -device usb-kbd on -machine none; it models qemu-xhci, usb-kbd, usb-mouse and usb-tablet, on -machine pc only"
        )
        #expect(
            refusal(machine: "pc", ["-netdev", "user,id=n0"])
                == "the simulator does not model -netdev; it models -smp and -device"
        )
        #expect(refusal(machine: "pc", ["-smp"]) == "-smp needs a value")
        #expect(refusal(machine: "pc", ["-S"]) == "the simulator does not model -S; it models -smp and -device")
    }
}
