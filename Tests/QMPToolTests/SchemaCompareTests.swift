import ArgumentParser
import QAPI
import QMPCore
import QMPHistory
import QMPSimulator
import Testing

@testable import QMPTool

/// `qmp schema compare`'s comparison, on the schema recorded from the distribution's QEMU 7.2
/// (the simulator's), as recorded and with things added and taken away.
@Suite("qmp schema compare: a QEMU's own schema against the history")
struct SchemaCompareTests {
    let history = QMPSchemaHistory.shared
    let recorded = QEMUSimulator.schema.introspection
    let v72 = QEMUVersion(major: 7, minor: 2, micro: 22)

    func version(_ text: String) throws -> QEMUVersion { try #require(QEMUVersion(text)) }

    @Test("a QEMU is compared with its release in the history, or with the releases on either side")
    func releasesCompared() throws {
        #expect(LiveSchemaComparison.releases(comparableWith: v72, in: history) == ([try version("7.2.0")], true))
        #expect(
            LiveSchemaComparison.releases(comparableWith: try version("10.0.2"), in: history)
                == ([try version("10.0.13")], true)
        )
        // 10.1 is not on disk, but the history infers it from 10.2.2's Since: notes.
        let inferred = LiveSchemaComparison.releases(comparableWith: try version("10.1.0"), in: history)
        #expect(inferred == ([try version("10.1.0")], true))
        // A development snapshot (micro 50 and up) leads to the next release, not its own series:
        // what the history knows lies on either side of it.
        let snapshot = LiveSchemaComparison.releases(comparableWith: try version("10.1.50"), in: history)
        #expect(snapshot == ([try version("10.1.0"), try version("10.2.2")], false))
        // Newer than anything known: only the newest release to go by.
        let newer = LiveSchemaComparison.releases(comparableWith: try version("11.1.0"), in: history)
        #expect(newer == ([try version("10.2.2")], false))
    }

    @Test("the recorded QEMU 7.2 has nothing the history lacks, and lacks only what other builds have")
    func recordedSchema() {
        let comparison = LiveSchemaComparison(introspection: recorded, version: v72, history: history)
        #expect(comparison.unknown == [])
        #expect(comparison.datedElsewhere == [])
        // The commands of other targets (s390x, Arm), and values of features Debian's build
        // leaves out (libblkio, macOS's display and vmnet).
        #expect(
            comparison.missing.map(\.description) == [
                "command dump-skeys", "command query-cpu-model-baseline", "command query-cpu-model-comparison",
                "command query-gic-capabilities", "value BlockdevDriver.io_uring", "value BlockdevDriver.nvme-io_uring",
                "value BlockdevDriver.virtio-blk-vfio-pci", "value BlockdevDriver.virtio-blk-vhost-user",
                "value BlockdevDriver.virtio-blk-vhost-vdpa", "value DisplayType.cocoa",
                "value NetClientDriver.vmnet-bridged", "value NetClientDriver.vmnet-host",
                "value NetClientDriver.vmnet-shared",
            ]
        )
    }

    /// The recorded schema with a command no release had, an argument and a member no release
    /// had, a run state no release had, and without `query-name`.
    func alteredSchema() throws -> QAPIIntrospection {
        var entries = recorded.entries
        let status = try #require(recorded.commands["query-status"])
        guard case .command(let noArguments, let statusInfo, _) = status.metaType else {
            Issue.record("query-status is no command")
            return recorded
        }
        entries.append(
            QAPISchemaInfo(
                name: "x-frobnicate",
                metaType: .command(argumentType: noArguments, returnType: noArguments, allowsOutOfBand: false)
            )
        )
        entries.removeAll { $0.name == "query-name" }
        let deviceDel = try #require(recorded.commands["device_del"])
        guard case .command(let deviceDelArguments, _, _) = deviceDel.metaType else {
            Issue.record("device_del is no command")
            return recorded
        }
        for index in entries.indices {
            switch (entries[index].name, entries[index].metaType) {
            case (statusInfo, .object(var members, let tag, let variants)):
                members.append(.init(name: "x-speed", type: "int", defaultValue: .null))
                let runState = try #require(members.first { $0.name == "status" }?.type)
                entries[index].metaType = .object(members: members, tag: tag, variants: variants)
                let stateIndex = try #require(entries.firstIndex { $0.name == runState })
                guard case .enumeration(var values, let plain) = entries[stateIndex].metaType else { continue }
                values.append(.init(name: "frozen"))
                entries[stateIndex].metaType = .enumeration(members: values, values: plain + ["frozen"])
            case (deviceDelArguments, .object(var members, let tag, let variants)):
                members.append(.init(name: "force", type: "bool", defaultValue: .null))
                entries[index].metaType = .object(members: members, tag: tag, variants: variants)
            default:
                continue
            }
        }
        return QAPIIntrospection(entries: entries)
    }

    @Test("what no known release had is named: a command, an argument, a member, an enumeration value")
    func unknownParts() throws {
        let comparison = LiveSchemaComparison(introspection: try alteredSchema(), version: v72, history: history)
        #expect(
            comparison.unknown.map(\.description) == [
                "command x-frobnicate", "argument device_del.force", "member StatusInfo.x-speed",
                "value RunState.frozen",
            ]
        )
        #expect(comparison.datedElsewhere == [])
        #expect(comparison.missing.contains { $0.description == "command query-name" })
    }

    @Test("what the history dates to other releases says which, without reaching past the newest known")
    func datedElsewhere() throws {
        // QEMU 7.2's schema claiming to be 6.2: what came in 7.0 to 7.2 is dated elsewhere.
        let comparison = LiveSchemaComparison(
            introspection: recorded,
            version: try version("6.2.0"),
            history: history
        )
        let stats = try #require(comparison.datedElsewhere.first { $0.description == "command query-stats" })
        #expect(stats.availability?.introduced == (try version("7.1.0")))
        let lines = comparison.lines(history: history)
        #expect(lines.contains("  command query-stats  [QEMU 7.1.0 and later, as of 10.2.2, the newest release known]"))
        #expect(lines.contains { $0.hasPrefix("What the history dates to other releases (") })
        #expect(lines[1] == "compared with its release in the history, 6.2.0")
    }

    @Test("the report names the QEMU, the releases it is compared with, and each kind of finding")
    func report() throws {
        let known = LiveSchemaComparison(introspection: try alteredSchema(), version: v72, history: history)
        let lines = known.lines(history: history)
        #expect(lines[0] == "QEMU 7.2.22 against the schema history (QEMU 1.0 to 10.2.2)")
        #expect(lines[1] == "compared with its release in the history, 7.2.0")
        #expect(lines.contains("What no known release had (4):"))
        #expect(lines.contains("  command x-frobnicate"))
        #expect(lines.contains("What the history dates to other releases: none"))
        #expect(lines.contains("What the history says 7.2.0 has and this QEMU lacks (14):"))
        #expect(lines.contains("  command query-name"))

        let between = LiveSchemaComparison(introspection: recorded, version: try version("10.1.50"), history: history)
        let betweenLines = between.lines(history: history)
        #expect(
            betweenLines[1]
                == "10.1.50 is not in the history; compared with the known releases around it, 10.1.0 and 10.2.2"
        )
        #expect(
            betweenLines.contains {
                $0.hasPrefix("What the history says both 10.1.0 and 10.2.2 have and this QEMU lacks (")
            }
        )
    }

    @Test("compare takes an ADDRESS or --launch, not both")
    func addressOrLaunch() throws {
        #expect(throws: (any Error).self) { try SchemaCommand.Compare.parse(["/tmp/qmp.sock", "--launch"]) }
        #expect(try SchemaCommand.Compare.parse(["/tmp/qmp.sock"]).address == "/tmp/qmp.sock")
        #expect(try SchemaCommand.Compare.parse(["--launch"]).connection.launch)
    }
}
