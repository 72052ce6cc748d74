import Foundation
import QAPI
import QMPClient
import QMPCore
import QMPServer
import QMPSimulator
import SharedTestData
import Testing

@Suite("Argument errors of the server against QEMU 7.2")
struct ArgumentCheckDifferentialTests {
    static func schemaDirectory() throws -> String {
        try SharedTestData.path("qapi-schemas/7.2.0/qapi")
    }

    /// Requests with bad arguments; QEMU refuses each before running anything.
    static let requests: [(String, JSONObject)] = [
        ("qom-get", ["path": "/machine"]),
        ("qom-get", ["path": 1, "property": "type"]),
        ("qom-get", ["path": "/machine", "property": "type", "extra": true]),
        ("query-status", ["x": 1]),
        ("human-monitor-command", ["command-line": "info status", "cpu-index": "zero"]),
        ("set_link", ["name": "net0", "up": "yes"]),
        ("netdev_del", ["id": true]),
        ("chardev-add", ["id": "c0", "backend": ["type": "nope", "data": [:]]]),
        ("chardev-add", ["id": "c0"]),
        ("object-add", ["qom-type": "no-such-type", "id": "o"]),
        ("object-add", ["qom-type": "iothread", "id": "io", "poll-max-ns": "fast"]),
        ("blockdev-del", [:]),
        ("send-key", ["keys": [["type": "qcode", "data": "nope"]]]),
        ("qmp_capabilities", ["enable": ["oob"]]),
        (
            "input-send-event",
            ["events": [["type": "key", "data": ["down": true, "key": ["type": "qcode", "data": "nope"]]]]]
        ),
        ("migrate-set-capabilities", ["capabilities": [["capability": "nope", "state": true]]]),
        ("block_set_io_throttle", ["id": "x"]),
    ]

    @Test(
        "a server checking against the 7.2 sources, and the simulator with its introspection, word each error as QEMU does"
    )
    func sameErrors() async throws {
        let schema = QAPISchema.load(directory: try Self.schemaDirectory(), entryFile: "qapi-schema.json")
        #expect(schema.diagnostics.isEmpty)
        var commands = QMPCommandTable()
        for name in schema.commands.keys where name != "qmp_capabilities" {
            commands.register(name) { _ in [:] }
        }
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 22), capabilities: [.oob]),
                commands: commands,
                addresses: [.tcp(host: "127.0.0.1", port: 0)],
                checkArguments: QAPIValidator(schema: schema).qemuArgumentCheck()
            )
        )
        let simulatorServer = QEMUSimulator().makeServer(listeningOn: [.tcp(host: "127.0.0.1", port: 0)])
        try await server.serving { serverAddresses in
            try await simulatorServer.serving { simulatorAddresses in
                try await withClient(of: serverAddresses[0]) { ours in
                    try await withClient(of: simulatorAddresses[0]) { simulated in
                        try await RealQEMU.with { qemu in
                            for (command, arguments) in Self.requests {
                                let fromQEMU = await Self.outcome {
                                    try await qemu.client.execute(command, arguments: arguments)
                                }
                                let fromServer = await Self.outcome {
                                    try await ours.execute(command, arguments: arguments)
                                }
                                let fromSimulator = await Self.outcome {
                                    try await simulated.execute(command, arguments: arguments)
                                }
                                #expect(
                                    fromServer == fromQEMU,
                                    "\(command) \(JSONValue.object(arguments)), checked against the sources"
                                )
                                #expect(
                                    fromSimulator == fromQEMU,
                                    "\(command) \(JSONValue.object(arguments)), in the simulator"
                                )
                            }
                        }
                    }
                }
            }
        }
    }

    static func outcome(_ body: () async throws -> JSONValue) async -> String {
        do {
            return "return \(try await body())"
        } catch let error as QMPError {
            return "\(error.errorClass ?? "?"): \(error.message)"
        } catch {
            return "\(error)"
        }
    }
}
