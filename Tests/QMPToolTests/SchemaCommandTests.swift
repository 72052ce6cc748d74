import ArgumentParser
import Foundation
import QMPCore
import QMPHistory
import Testing

@testable import QMPTool

@Suite("qmp schema")
struct SchemaCommandTests {
    let history = QMPSchemaHistory.shared

    @Test("the history spans QEMU 1.0 to 10.2 and reads release names loosely")
    func releases() {
        // The 43 releases on disk, and 10.1, inferred from 10.2.2's documentation.
        #expect(history.versions.count == 44)
        #expect(history.versions.first?.description == "1.0")
        #expect(history.release(matching: "7.2")?.description == "7.2.0")
        #expect(history.release(matching: "9.2")?.description == "9.2.0-rc2")
        #expect(history.release(matching: "10.1")?.description == "10.1.0")
        #expect(history.release(matching: "10.2")?.description == "10.2.2")
        #expect(history.release(matching: "2.12.0")?.description == "2.12.0")
        // Compared as versions, not as text: 1.0.0 is the release called 1.0.
        #expect(history.release(matching: "1.0.0")?.description == "1.0")
        #expect(history.release(matching: "7.3") == nil)
    }

    @Test("list --in VERSION gives what that release had")
    func listInRelease() throws {
        let v72 = try #require(history.release(matching: "7.2"))
        let commands = history.commands.values.filter { $0.isPresent(in: v72) }
        // QEMU 7.2's source schema: the 216 commands an x86 build reports, and 4 that only
        // other targets build (`query-gic-capabilities` for Arm, the s390x CPU commands).
        #expect(commands.count == 220)
        #expect(commands.contains { $0.name == "query-gic-capabilities" })
        #expect(commands.contains { $0.name == "query-status" })
        #expect(!commands.contains { $0.name == "query-cpus" })
    }

    @Test("show lists members with their types and when each came")
    func show() throws {
        let entry = try #require(history.commands["blockdev-backup"])
        let lines = SchemaCommand.Show.render(entry, in: nil)
        #expect(lines[0] == "command blockdev-backup")
        // What the newest release has is said as such: a later QEMU may have dropped it.
        #expect(lines[1] == "  QEMU 2.3.0 and later, as of 10.2.2, the newest release known")
        #expect(
            lines.contains {
                $0.hasPrefix("    filter-node-name")
                    && $0.hasSuffix("str (optional)  [4.2.0 and later, as of 10.2.2, the newest release known]")
            }
        )
        #expect(lines.contains { $0.hasPrefix("    device") && $0.hasSuffix("str") })
        let removed = SchemaCommand.Show.render(try #require(history.commands["query-cpus"]), in: nil)
        #expect(removed[1] == "  QEMU 1.0 to 5.2.0, deprecated since 5.0.0")
    }

    @Test("show suggests what a mistyped name was meant to be, as the shell and the refusals do")
    func showSuggests() throws {
        // Two letters swapped: the word is no part of any name, which the old rule needed.
        #expect(SchemaCommand.Show.hint(for: "qurey-status") == "; did you mean query-status or query-stats?")
        #expect(SchemaCommand.Show.hint(for: "BlockDevInfo").contains("BlockDeviceInfo"))
        #expect(SchemaCommand.Show.hint(for: "xyzzy-plugh") == "")
        do {
            _ = try SchemaCommand.Show.parse(["query-stat"])
            Issue.record("show accepted a name no release had")
        } catch {
            #expect(
                SchemaCommand.Show.message(for: error)
                    == "no command, event or type 'query-stat' in any QEMU from 1.0 to 10.2.2; "
                    + "did you mean query-stats or query-status?"
            )
        }
    }

    @Test("show --in VERSION gives the shape of that release")
    func showInRelease() throws {
        let entry = try #require(history.types["RunState"])
        let old = SchemaCommand.Show.render(entry, in: history.release(matching: "2.0"))
        #expect(!old.contains("    colo"))
        #expect(old.contains("    guest-panicked"))
        let new = SchemaCommand.Show.render(entry, in: history.release(matching: "9.2"))
        #expect(new.contains("    colo"))
        #expect(!new.contains("    preconfig"))
    }

    @Test("diff names what was added, removed and changed between two releases")
    func diff() throws {
        let diff = history.diff(
            from: try #require(history.release(matching: "5.2")),
            to: try #require(history.release(matching: "6.0"))
        )
        let removed = Set(diff.removed.filter { $0.kind == .command }.map(\.name))
        #expect(removed.isSuperset(of: ["query-cpus", "change", "migrate_set_speed", "migrate_set_downtime"]))
        let v72 = try #require(history.release(matching: "7.2"))
        let v80 = try #require(history.release(matching: "8.0"))
        let forward = history.diff(from: v72, to: v80)
        #expect(forward.added.contains { $0.kind == .command && $0.name == "query-audiodevs" })
        let machineInfo = try #require(forward.changed.first { $0.entry.name == "MachineInfo" })
        #expect(machineInfo.details == ["+ member 'acpi': bool"])
        let keys = try #require(forward.changed.first { $0.entry.name == "QKeyCode" })
        #expect(keys.details.contains("+ value 'f13'"))
        #expect(history.diff(from: v72, to: v72).isEmpty)
    }

    @Test("an unknown name is an error of the command line that suggests the right spelling")
    func unknownName() throws {
        // Found while parsing, so that the error comes with `qmp schema show`'s usage.
        let error = #expect(throws: (any Error).self) { try SchemaCommand.Show.parse(["query_status"]) }
        let message = error.map { SchemaCommand.Show.message(for: $0) }
        #expect(message?.contains("did you mean query-status?") == true)
    }

    @Test("a release the history does not know is an error of the command line, in every subcommand")
    func unknownRelease() {
        let diff = #expect(throws: (any Error).self) { try SchemaCommand.Diff.parse(["9.2", "11.0"]) }
        #expect(diff.map { SchemaCommand.Diff.message(for: $0) }?.hasPrefix("no QEMU release '11.0'") == true)
        #expect(throws: (any Error).self) { try SchemaCommand.List.parse(["events", "--in", "7.3"]) }
        #expect(throws: (any Error).self) { try SchemaCommand.Show.parse(["query-status", "--in", "0.15"]) }
        #expect(throws: Never.self) { try SchemaCommand.Diff.parse(["9.2", "10.0"]) }
    }
}
