import Foundation
import QAPI
import QEMULauncher
import QMPCore
import QMPHistory
import QMPServer
import QMPSimulator
import SharedTestData
import Testing

@testable import QMPTool

/// `qmp schema compare` against real QEMUs and the simulator, and `qmp schema`'s command line.
@Suite("qmp schema against live QEMUs")
struct SchemaCompareRealQEMUTests {
    /// Whether QEMU's sources put a finding behind a build condition, its own or its owner's.
    static func isConditional(_ finding: LiveSchemaComparison.Finding, in schema: QAPISchema) -> Bool {
        let owner = finding.owner ?? ""
        switch finding.part {
        case .command:
            return schema.commands[finding.name]?.condition != nil
        case .event:
            return schema.events[finding.name]?.condition != nil
        case .argument:
            return schema.commands[owner]?.condition != nil
                || schema.arguments(ofCommand: owner).first { $0.name == finding.name }?.condition != nil
        case .data:
            return schema.events[owner]?.condition != nil
                || schema.data(ofEvent: owner).first { $0.name == finding.name }?.condition != nil
        case .member:
            return schema.type(named: owner)?.condition != nil
                || schema.objectType(named: owner)?.members.first { $0.name == finding.name }?.condition != nil
        case .value:
            return schema.type(named: owner)?.condition != nil
                || schema.enumType(named: owner)?.value(named: finding.name)?.condition != nil
        }
    }

    @Test(
        "a real QEMU has nothing no known release had, and lacks only what its build conditions leave out",
        arguments: RealQEMURelease.allCases
    )
    func realQEMU(_ release: RealQEMURelease) async throws {
        let (introspection, version) = try await RealQEMU.with(try release.launcher(machine: "pc")) { qemu in
            (try await qemu.client.schema(), try #require(qemu.client.greeting.version))
        }
        let comparison = LiveSchemaComparison(
            introspection: introspection,
            version: version,
            history: .shared
        )
        #expect(comparison.isKnownRelease)
        #expect(comparison.unknown == [])
        #expect(comparison.datedElsewhere == [])

        // The release's own sources say why each missing thing is missing.
        let compared = try #require(comparison.releases.first)
        let directory = try SharedTestData.path("qapi-schemas/\(compared)")
        let sources = QAPISchema.load(directory: directory, entryFile: "qapi/qapi-schema.json")
        let unexplained = comparison.missing.filter { !Self.isConditional($0, in: sources) }.map(\.description)
        if release == .qemu10 {
            // Debian's 10.0.13 carries a member that its own documentation dates to 11.1: a stable
            // update brought it after the 10.0.2 of bookworm-backports was built.
            #expect(unexplained == ["member BlkdebugInjectErrorOptions.delay-ns"])
            #expect(comparison.missing.contains { $0.description == "command query-gic-capabilities" })
        } else {
            #expect(unexplained == [])
        }
    }

    @Test("qmp schema compare reports the simulated QEMU 7.2 as it reports the real one")
    func simulatorAsRealQEMU() async throws {
        let simulated = try await QMPExecutable.run(["schema", "compare"])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        #expect(simulated.stderr.contains("simulated QEMU 7.2"))
        let real = try await QMPExecutable.run(["schema", "compare", "--launch", "--machine", "pc"])
        #expect(real.status == 0, "\(real.stderr)")
        #expect(real.stdout.hasPrefix("QEMU 7.2."))
        #expect(simulated.stdout == real.stdout)
        #expect(real.stdout.contains("What no known release had: none"))
    }

    @Test("qmp schema compare ADDRESS reads QEMU 10.0's schema from its monitor")
    func compareAddress() async throws {
        // QEMU serves one client per monitor: the tool gets a second monitor of its own.
        let directory = try PrivateDirectory.create()
        defer { PrivateDirectory.remove(directory) }
        let socket = directory + "/second.sock"
        let launcher = try RealQEMURelease.qemu10.launcher(
            extraArguments: ["-qmp", "unix:\(socket),server=on,wait=off"]
        )
        let output = try await RealQEMU.with(launcher) { _ in
            try await QMPExecutable.run(["schema", "compare", socket])
        }
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("QEMU 10.0.") == true)
        #expect(lines.contains("compared with its release in the history, 10.0.13"))
        #expect(lines.contains("What no known release had: none"))
        #expect(lines.contains("  member BlkdebugInjectErrorOptions.delay-ns"))
    }

    @Test("every `qmp schema` line of the README runs, its socket served by the simulator")
    func readmeLines() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n").map(String.init).filter { $0.hasPrefix("qmp schema ") }
        #expect(lines.count >= 4)
        #expect(lines.contains { $0.contains("schema compare") })
        let directory = try PrivateDirectory.create()
        defer { PrivateDirectory.remove(directory) }
        let socket = directory + "/qmp.sock"
        let server = QEMUSimulator().makeServer(listeningOn: [.unixSocket(path: socket)])
        try await server.serving { _ in
            for line in lines {
                let command = line.split(separator: "#", maxSplits: 1)[0]
                let words = command.split(separator: " ").dropFirst().map {
                    $0 == "/tmp/qmp.sock" ? socket : String($0)
                }
                let output = try await QMPExecutable.run(words)
                #expect(output.status == 0, "\(line): \(output.stderr)")
                #expect(!output.stdout.isEmpty, "\(line) printed nothing")
            }
        }
    }

    @Test(
        "a mistake on a schema subcommand's command line shows that subcommand's usage",
        arguments: [
            (["schema", "diff", "9.2", "11.0"], "qmp schema diff"),
            (["schema", "diff", "9.2"], "qmp schema diff"),
            (["schema", "show", "query_status"], "qmp schema show"),
            (["schema", "list", "events", "--in", "7.3"], "qmp schema list"),
            (["schema", "compare", "/tmp/qmp.sock", "--launch"], "qmp schema compare"),
        ]
    )
    func subcommandUsage(_ arguments: [String], _ usage: String) async throws {
        let output = try await QMPExecutable.run(arguments)
        #expect(output.status == 64)
        #expect(output.stderr.contains("Usage: \(usage)"), "\(output.stderr)")
    }

    @Test("qmp schema diff reaches the QEMU 10 releases the history knows")
    func diffToTen() async throws {
        let output = try await QMPExecutable.run(["schema", "diff", "9.2", "10.0"])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.hasPrefix("QEMU 9.2.0-rc2 → 10.0.13"))
        #expect(output.stdout.contains("  + blockdev-set-active"))
    }
}
