import Foundation
import QAPI
import QEMULauncher
import QMP
import QMPClient
import QMPCore
import SharedTestData
import Testing

@Suite("The typed bindings against real QEMUs: the distribution's 7.2 and 10.0")
struct TypedBindingsRealQEMUTests {
    @Test(
        "every query command that needs no arguments decodes with its binding",
        arguments: RealQEMURelease.allCases
    )
    func everyQueryDecodes(_ release: RealQEMURelease) async throws {
        // A pc machine answers more queries than `-machine none` (PCI, CPUs, ACPI, …).
        let launcher = try release.launcher(machine: "pc", extraArguments: ["-nodefaults", "-smp", "1,maxcpus=2"])
        let (version, decoded, failedOnQEMU, undecodable) = try await RealQEMU.with(launcher) { qemu in
            let introspection = try await qemu.client.schema()
            // What this QEMU runs, by its own list; the schema says which of those need no arguments.
            let commands = try await qemu.client.execute("query-commands").arrayValue ?? []
            let names = Set(commands.compactMap { $0.objectValue?["name"]?.stringValue })
            #expect(names == Set(introspection.commands.keys))
            var decoded: [String] = []
            var failedOnQEMU: [String] = []
            var undecodable: [String] = []
            for name in names.sorted() where name.hasPrefix("query-") || name.hasPrefix("x-query-") {
                guard introspection.validateArguments(nil, ofCommand: name).isEmpty else { continue }
                let reply: JSONValue
                do {
                    reply = try await qemu.client.execute(name)
                } catch let error as QMPError where error.code == .commandFailed {
                    // Not every query works on every machine (no SEV, no SGX, no balloon here).
                    failedOnQEMU.append("\(name): \(error.message)")
                    continue
                }
                do {
                    _ = try QMPBindings.decodeReply(ofCommand: name, reply)
                    decoded.append(name)
                } catch {
                    undecodable.append("\(name): \(error)")
                }
            }
            return (qemu.client.greeting.version, decoded, failedOnQEMU, undecodable)
        }
        print(
            "typed bindings on QEMU \(version.map(\.description) ?? "?"): \(decoded.count) query replies decoded, "
                + "\(failedOnQEMU.count) queries failed on this machine, \(undecodable.count) did not decode"
        )
        if release == .qemu10 { #expect(version?.series == "10.0") }
        #expect(undecodable.isEmpty, "\(undecodable)")
        #expect(decoded.count >= 55, "only \(decoded.count) queries answered: \(failedOnQEMU)")
        #expect(decoded.contains("query-qmp-schema"))
        #expect(decoded.contains("query-cpus-fast"))
    }

    @Test("a typed command the connected QEMU lacks is refused before sending, naming the versions")
    func preSendCheck() async throws {
        try await RealQEMU.with(RealQEMU.checkedLauncher) { qemu in
            let version = try #require(qemu.client.greeting.version)
            let error = await #expect(throws: QMPError.self) { try await qemu.client.execute(QueryCpusCommand()) }
            #expect(error?.message == "QEMU \(version) has no command 'query-cpus'; QEMU removed it after 5.2.0")
            let status = try await qemu.client.execute(QueryStatusCommand())
            #expect(status.status == .prelaunch)
        }
    }

    @Test("typed add-fd passes a descriptor, and typed query-fdsets shows it")
    func typedDescriptorPassing() async throws {
        try await RealQEMU.with { qemu in
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            defer { ends.forEach { close($0) } }
            let added = try await qemu.client.execute(AddFdCommand(fdsetId: 3, opaque: "typed"), passing: [ends[0]])
            #expect(added.fdsetId == 3)
            let fdsets = try await qemu.client.execute(QueryFdsetsCommand())
            let set = try #require(fdsets.first { $0.fdsetId == 3 })
            #expect(set.fds.map(\.opaque) == ["typed"])
            #expect(set.fds.map(\.fd) == [added.fd])
        }
    }

    @Test("the resolved 7.2.0 source schema matches the live QEMU's introspection")
    func sourceSchemaMatchesLiveQEMU() async throws {
        let directory = try SharedTestData.path("qapi-schemas/7.2.0")
        let source = QAPISchema.load(directory: directory, entryFile: "qapi/qapi-schema.json")
        #expect(source.diagnostics.isEmpty, "\(source.diagnostics)")
        let live = try await RealQEMU.with { qemu in try await qemu.client.schema() }
        let comparison = live.compare(with: source)
        #expect(Set(comparison.matchedCommands) == Set(live.commands.keys))
        #expect(Set(comparison.matchedEvents) == Set(live.events.keys))
        #expect(comparison.unexplainedDifferences.map(\.description) == [])
    }
}
