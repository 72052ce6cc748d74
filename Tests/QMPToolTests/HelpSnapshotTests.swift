import ArgumentParser
import Foundation
import Testing

@testable import QMPTool

/// `--help` of every subcommand, compared with the text committed in Snapshots/. Run with
/// RECORD_SNAPSHOTS=1 to write new snapshots; such a run fails on purpose, so that a recording
/// is never mistaken for a pass.
@Suite("Help output")
struct HelpSnapshotTests {
    static let commands: [(String, any ParsableCommand.Type)] = [
        ("qmp", QMPCommand.self),
        ("qmp-shell", ShellCommand.self),
        ("qmp-exec", ExecCommand.self),
        ("qmp-events", EventsCommand.self),
        ("qmp-qom", QOMCommand.self),
        ("qmp-qom-get", QOMCommand.Get.self),
        ("qmp-qom-set", QOMCommand.Set.self),
        ("qmp-qom-list", QOMCommand.List.self),
        ("qmp-qom-tree", QOMCommand.Tree.self),
        ("qmp-schema", SchemaCommand.self),
        ("qmp-schema-list", SchemaCommand.List.self),
        ("qmp-schema-show", SchemaCommand.Show.self),
        ("qmp-schema-diff", SchemaCommand.Diff.self),
        ("qmp-schema-compare", SchemaCommand.Compare.self),
        ("qmp-mock", MockCommand.self),
        ("qmp-record", RecordCommand.self),
        ("qmp-ga", GuestAgentCommand.self),
        // The actions of `qmp ga` are parsed as commands of their own, after the ADDRESS.
        ("qmp-ga-ping", GuestAgentPing.self),
        ("qmp-ga-info", GuestAgentInfo.self),
        ("qmp-ga-exec", GuestAgentExec.self),
        ("qmp-ga-cp", GuestAgentCopy.self),
        ("qmp-proxy", ProxyCommand.self),
    ]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Snapshots"
    )

    @Test("every subcommand's help matches its snapshot", arguments: commands.map(\.0))
    func help(name: String) throws {
        let command = try #require(Self.commands.first { $0.0 == name }?.1)
        let text =
            command is any GuestAgentAction.Type
            ? command.helpMessage(columns: 100) : QMPCommand.helpMessage(for: command, columns: 100)
        let file = Self.directory.appendingPathComponent("\(name).txt")
        if ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] != nil {
            try text.write(to: file, atomically: true, encoding: .utf8)
            Issue.record("recorded \(file.lastPathComponent); run again without RECORD_SNAPSHOTS")
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(
            text == expected,
            "help of \(name) differs from Snapshots/\(name).txt; if intended, record with RECORD_SNAPSHOTS=1"
        )
    }
}
