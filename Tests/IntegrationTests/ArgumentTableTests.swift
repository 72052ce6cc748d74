import Foundation
import QAPI
import QMPClient
import QMPCore
import QMPHistory
import QMPServer
import QMPSimulator
import Testing

/// One table of good and bad arguments, answered three ways: by the check against QEMU 7.2.0's
/// schema sources, by the check against a running QEMU 7.2's own `query-qmp-schema` (filled
/// with the widths and names the bindings' history knows for 7.2), and by that QEMU itself.
/// The three answers must be the same, and the table's: QEMU's own words.
@Suite("One table of arguments: the source check, the live check and QEMU 7.2 answer alike")
struct ArgumentTableTests {
    /// A member no command has, added after a row's arguments. QEMU reads every member first and
    /// looks for unexpected ones last, so a row whose own members are good is answered with
    /// this member's refusal, and nothing runs: good rows change no state and need no setup.
    static let probe = "x-after-every-member"
    static let accepted = "accepted"

    struct Row: Sendable, CustomTestStringConvertible {
        var command: String
        var arguments: JSONObject
        /// QEMU's answer, or ``ArgumentTableTests/accepted`` when every member is good.
        var answer: String
        /// Whether the probe is added (a row about unexpected members goes without it, since
        /// QEMU names the first of several unexpected members in its own hash order).
        var probed = true

        init(_ command: String, _ arguments: JSONObject, _ answer: String, probed: Bool = true) {
            self.command = command
            self.arguments = arguments
            self.answer = answer
            self.probed = probed
        }

        var testDescription: String { "\(command) \(JSONValue.object(arguments))" }

        var sent: JSONObject {
            var sent = arguments
            if probed { sent[ArgumentTableTests.probe] = true }
            return sent
        }
    }

    /// `block_set_io_throttle` with every mandatory member, `bps` set to `value` (QAPI `int`).
    static func throttle(bps value: JSONValue) -> JSONObject {
        ["id": "x", "bps": value, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0]
    }

    static let rows: [Row] = [
        // int8 and int16: no command argument of QEMU 7.2 has either width (only query-stats
        // return values do); see `narrowSignedWidths` below.
        // int32: netdev_add type=hubport, hubid.
        Row("netdev_add", ["type": "hubport", "id": "h", "hubid": 2_147_483_647], accepted),
        Row("netdev_add", ["type": "hubport", "id": "h", "hubid": 2_147_483_648], "Parameter 'hubid' expects int32_t"),
        Row("netdev_add", ["type": "hubport", "id": "h", "hubid": -2_147_483_648], accepted),
        Row(
            "netdev_add",
            ["type": "hubport", "id": "h", "hubid": -2_147_483_649],
            "Parameter 'hubid' expects int32_t"
        ),
        // int64: calc-dirty-rate calc-time. Past either bound is no 64-bit integer at all: QEMU
        // reads a number below the least int64 as a double.
        Row("calc-dirty-rate", ["calc-time": .int(.max)], accepted),
        Row(
            "calc-dirty-rate",
            ["calc-time": .uint(UInt64(Int64.max) + 1)],
            "Invalid parameter type for 'calc-time', expected: integer"
        ),
        Row("calc-dirty-rate", ["calc-time": .int(.min)], accepted),
        Row(
            "calc-dirty-rate",
            ["calc-time": .double(-9.3e18)],
            "Invalid parameter type for 'calc-time', expected: integer"
        ),
        // int: block_set_io_throttle bps.
        Row("block_set_io_throttle", throttle(bps: .int(.max)), accepted),
        Row(
            "block_set_io_throttle",
            throttle(bps: .uint(UInt64(Int64.max) + 1)),
            "Invalid parameter type for 'bps', expected: integer"
        ),
        Row("block_set_io_throttle", throttle(bps: .int(.min)), accepted),
        // uint8: migrate-set-parameters cpu-throttle-initial.
        Row("migrate-set-parameters", ["cpu-throttle-initial": 0], accepted),
        Row("migrate-set-parameters", ["cpu-throttle-initial": 255], accepted),
        Row(
            "migrate-set-parameters",
            ["cpu-throttle-initial": 256],
            "Parameter 'cpu-throttle-initial' expects uint8_t"
        ),
        Row(
            "migrate-set-parameters",
            ["cpu-throttle-initial": 300],
            "Parameter 'cpu-throttle-initial' expects uint8_t"
        ),
        Row("migrate-set-parameters", ["cpu-throttle-initial": -1], "Parameter 'cpu-throttle-initial' expects uint8_t"),
        // uint16: set-numa-node nodeid, and in a list (cpus), where QEMU names the element 'null'.
        Row("set-numa-node", ["type": "node", "nodeid": 0], accepted),
        Row("set-numa-node", ["type": "node", "nodeid": 65535], accepted),
        Row("set-numa-node", ["type": "node", "nodeid": 65536], "Parameter 'nodeid' expects uint16_t"),
        Row("set-numa-node", ["type": "node", "nodeid": -1], "Parameter 'nodeid' expects uint16_t"),
        Row("set-numa-node", ["type": "node", "cpus": [0, 65536]], "Parameter 'null' expects uint16_t"),
        // uint32: migrate-set-parameters x-checkpoint-delay.
        Row("migrate-set-parameters", ["x-checkpoint-delay": 0], accepted),
        Row("migrate-set-parameters", ["x-checkpoint-delay": 4_294_967_295], accepted),
        Row(
            "migrate-set-parameters",
            ["x-checkpoint-delay": 4_294_967_296],
            "Parameter 'x-checkpoint-delay' expects uint32_t"
        ),
        Row("migrate-set-parameters", ["x-checkpoint-delay": -1], "Parameter 'x-checkpoint-delay' expects uint32_t"),
        // uint64: migrate-set-parameters downtime-limit. QEMU takes a negative integer as its
        // two's complement; one past the top is no integer it can read.
        Row("migrate-set-parameters", ["downtime-limit": 0], accepted),
        Row("migrate-set-parameters", ["downtime-limit": .uint(.max)], accepted),
        Row(
            "migrate-set-parameters",
            ["downtime-limit": .double(18_446_744_073_709_551_616)],
            "Parameter 'downtime-limit' expects uint64"
        ),
        Row("migrate-set-parameters", ["downtime-limit": -1], accepted),
        // size: migrate-set-parameters max-bandwidth, read as uint64.
        Row("migrate-set-parameters", ["max-bandwidth": 0], accepted),
        Row("migrate-set-parameters", ["max-bandwidth": .uint(.max)], accepted),
        Row(
            "migrate-set-parameters",
            ["max-bandwidth": .double(18_446_744_073_709_551_616)],
            "Parameter 'max-bandwidth' expects uint64"
        ),
        // Enums, at the top and inside a list element.
        Row("migrate-set-parameters", ["multifd-compression": "none"], accepted),
        Row(
            "migrate-set-parameters",
            ["multifd-compression": "nope"],
            "Parameter 'multifd-compression' does not accept value 'nope'"
        ),
        Row(
            "migrate-set-capabilities",
            ["capabilities": [["capability": "nope", "state": true]]],
            "Parameter 'capability' does not accept value 'nope'"
        ),
        // Alternates: each branch, and a kind no branch takes (QEMU names the alternate).
        Row("migrate-set-parameters", ["tls-creds": "tls0"], accepted),
        Row("migrate-set-parameters", ["tls-creds": nil], accepted),
        Row("migrate-set-parameters", ["tls-creds": 5], "Invalid parameter type for 'tls-creds', expected: StrOrNull"),
        Row("blockdev-add", ["driver": "qcow2", "node-name": "q", "file": "f"], accepted),
        Row(
            "blockdev-add",
            [
                "driver": "qcow2", "node-name": "q",
                "file": [
                    "driver": "file",
                    "filename": "/x",
                ],
            ],
            accepted
        ),
        Row(
            "blockdev-add",
            ["driver": "qcow2", "node-name": "q", "file": 5],
            "Invalid parameter type for 'file', expected: BlockdevRef"
        ),
        Row(
            "blockdev-add",
            ["driver": "qcow2", "node-name": "q", "file": ["driver": "file"]],
            "Parameter 'file.filename' is missing"
        ),
        // Unions: a missing tag, a bad tag, a variant's member of the wrong kind.
        Row("netdev_add", ["id": "h", "hubid": 1], "Parameter 'type' is missing"),
        Row("netdev_add", ["type": "nope", "id": "h"], "Parameter 'type' does not accept value 'nope'"),
        Row(
            "netdev_add",
            ["type": "hubport", "id": "h", "hubid": "one"],
            "Invalid parameter type for 'hubid', expected: integer"
        ),
        // Unknown members, at the top and nested.
        Row("query-status", ["verbose": true], "Parameter 'verbose' is unexpected", probed: false),
        Row(
            "blockdev-add",
            [
                "driver": "qcow2", "node-name": "q",
                "file": [
                    "driver": "file", "filename": "/x",
                    "bogus": 1,
                ],
            ],
            "Parameter 'file.bogus' is unexpected"
        ),
        // Missing mandatory members.
        Row("calc-dirty-rate", [:], "Parameter 'calc-time' is missing"),
        Row("qom-get", ["path": "/machine"], "Parameter 'property' is missing"),
        // Wrong kinds.
        Row(
            "migrate-set-parameters",
            ["cpu-throttle-initial": "ten"],
            "Parameter 'cpu-throttle-initial' expects uint64"
        ),
        Row("calc-dirty-rate", ["calc-time": 1.5], "Invalid parameter type for 'calc-time', expected: integer"),
        Row(
            "migrate-set-parameters",
            ["block-incremental": "yes"],
            "Invalid parameter type for 'block-incremental', expected: boolean"
        ),
        Row(
            "migrate-set-parameters",
            ["multifd-compression": 1],
            "Invalid parameter type for 'multifd-compression', expected: string"
        ),
        Row(
            "migrate-set-parameters",
            ["block-bitmap-mapping": [:]],
            "Invalid parameter type for 'block-bitmap-mapping', expected: array"
        ),
        Row(
            "migrate-set-parameters",
            ["block-bitmap-mapping": [["node-name": 1]]],
            "Invalid parameter type for 'block-bitmap-mapping[0].node-name', expected: string"
        ),
        Row(
            "migrate-set-capabilities",
            ["capabilities": ["xbzrle"]],
            "Invalid parameter type for 'capabilities[0]', expected: object"
        ),
    ]

    /// Loaded once for every row; a missing ../shared is the error each row reports.
    static let sourceCheckOrError = Result<@Sendable (String, JSONObject) -> QMPErrorBody?, any Error> {
        let schema = try QAPISchema.load(
            directory: ArgumentCheckDifferentialTests.schemaDirectory(),
            entryFile: "qapi-schema.json"
        )
        return QAPIValidator(schema: schema).qemuArgumentCheck()
    }

    /// What a check or QEMU said, with the probe's refusal read as "every member was good".
    static func answer(_ description: String?) -> String {
        guard let description, description != "Parameter '\(probe)' is unexpected" else { return accepted }
        return description
    }

    @Test("every row gets QEMU 7.2's own answer from the source check, the live check and QEMU")
    func sameAnswers() async throws {
        try await RealQEMU.with { qemu in
            let version = try #require(qemu.client.greeting.version)
            let sources = try #require(
                QMPSchemaHistory.shared.sourceTypes(forServer: version),
                "the history has no \(version)"
            )
            let live = try await qemu.client.schema().filling(from: sources)
            let liveCheck = QAPIValidator(introspection: live).qemuArgumentCheck()
            for row in Self.rows {
                let fromSources = Self.answer(try Self.sourceCheckOrError.get()(row.command, row.sent)?.description)
                let fromLive = Self.answer(liveCheck(row.command, row.sent)?.description)
                let fromQEMU: String
                do {
                    let reply = try await qemu.client.execute(row.command, arguments: row.sent)
                    fromQEMU = "ran, returning \(reply)"
                } catch let error as QMPError where error.code == .commandFailed {
                    fromQEMU = Self.answer(error.message)
                }
                #expect(fromQEMU == row.answer, "QEMU 7.2, \(row.testDescription)")
                #expect(fromSources == row.answer, "the 7.2.0 sources, \(row.testDescription)")
                #expect(fromLive == row.answer, "the live introspection, \(row.testDescription)")
            }
        }
    }

    @Test("the client's pre-send check, given the history's source types, refuses a width before sending")
    func clientCheckKnowsWidths() async throws {
        let simulator = QEMUSimulator().makeServer(listeningOn: [.tcp(host: "127.0.0.1", port: 0)])
        let configuration = QMPClient.Configuration(
            schemaSources: { QMPSchemaHistory.shared.sourceTypes(forServer: $0) }
        )
        try await simulator.serving { addresses in
            let address = addresses[0]
            try await QMPClient.withConnection(to: address, configuration: configuration) { client in
                let version = try #require(client.greeting.version)
                let refused = await #expect(throws: QMPError.self) {
                    try await client.check("migrate-set-parameters", arguments: ["cpu-throttle-initial": 300])
                }
                #expect(
                    refused?.message == "arguments.cpu-throttle-initial: 300 is out of range for uint8 (0…255)"
                        + " (checked against QEMU \(version))"
                )
            }
            // Without them the served introspection's `int` takes any 64-bit integer, as before.
            try await QMPClient.withConnection(to: address) { plain in
                try await plain.check("migrate-set-parameters", arguments: ["cpu-throttle-initial": 300])
            }
        }
    }

    @Test("int8 and int16, which no 7.2 command takes, are refused in QEMU's words for narrow widths")
    func narrowSignedWidths() {
        // QEMU reads every signed width through int64 and words a narrow one's range as it
        // does int32's (checked against QEMU above): `Parameter 'x' expects int8_t`.
        let schema = QAPISchema.load(
            files: [
                "s.json": """
                { 'command': 'tune', 'data': { '*small': 'int8', '*medium': 'int16' } }
                """
            ],
            entryFile: "s.json"
        )
        let check = QAPIValidator(schema: schema).qemuArgumentCheck()
        let table: [(JSONObject, String?)] = [
            (["small": 127], nil), (["small": 128], "Parameter 'small' expects int8_t"),
            (["small": -128], nil), (["small": -129], "Parameter 'small' expects int8_t"),
            (["medium": 32767], nil), (["medium": 32768], "Parameter 'medium' expects int16_t"),
            (["medium": -32768], nil), (["medium": -32769], "Parameter 'medium' expects int16_t"),
        ]
        for (arguments, answer) in table {
            #expect(check("tune", arguments)?.description == answer, "\(JSONValue.object(arguments))")
        }
    }
}
