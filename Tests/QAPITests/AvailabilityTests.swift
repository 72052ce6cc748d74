import QAPI
import QMPCore
import Testing

private func version(_ text: String) -> QEMUVersion { QEMUVersion(text)! }

@Suite("Availability across releases")
struct AvailabilityTests {
    @Test("query-status is in every release from 1.0 to the newest")
    func queryStatus() throws {
        let status = try #require(try SchemaCache.history().command("query-status"))
        #expect(status.introduced == version("1.0"))
        #expect(status.lastVersion == nil)
        #expect(status.history.runs.count == 1)
        #expect(status.history.isAvailable(in: version("4.2.0")))
    }

    @Test(
        "Commands removed in 6.0 were last in 5.2, and were marked deprecated from 5.0 (when features began to be used)"
    )
    func removedInSix() throws {
        let history = try SchemaCache.history()
        for name in [
            "change", "query-cpus", "migrate_set_speed", "migrate_set_downtime", "migrate-set-cache-size",
            "query-events", "block_passwd",
        ] {
            let command = try #require(history.command(name), "\(name)")
            #expect(command.lastVersion == version("5.2.0"), "\(name)")
        }
        #expect(history.command("change")?.introduced == version("1.1.0"))
        #expect(history.command("change")?.deprecatedSince == version("5.0.0"))
        #expect(history.command("query-cpus")?.deprecatedSince == version("5.0.0"))
        // block_passwd was a failing stub for years but never carried the feature.
        #expect(history.command("block_passwd")?.deprecatedSince == nil)
    }

    @Test("cpu-add was last in 5.1, the old cpu command last in 2.11")
    func olderRemovals() throws {
        let history = try SchemaCache.history()
        #expect(history.command("cpu-add")?.introduced == version("1.5.0"))
        #expect(history.command("cpu-add")?.lastVersion == version("5.1.0"))
        #expect(history.command("cpu")?.lastVersion == version("2.11.0"))
        #expect(
            history.event("COMMAND_DROPPED")?.history.runs == [
                QEMUVersionRange(from: version("2.12.0"), through: version("3.1.0"))
            ]
        )
    }

    @Test("First appearances: query-cpus-fast in 2.12, blockdev-add in 1.7, events in the schema from 2.1")
    func firstAppearances() throws {
        let history = try SchemaCache.history()
        #expect(history.command("query-cpus-fast")?.introduced == version("2.12.0"))
        #expect(history.command("blockdev-add")?.introduced == version("1.7.0"))
        #expect(history.command("blockdev-del")?.introduced == version("2.9.0"))
        #expect(history.command("x-blockdev-del").map { QEMUVersionRange.text(of: $0.history.runs) } == "2.5.0..2.8.0")
        #expect(history.event("SHUTDOWN")?.introduced == version("2.1.0"))
    }

    @Test("drive-backup is deprecated from 6.2 and still present; MEM_UNPLUG_ERROR deprecated 6.2, last in 9.0")
    func deprecation() throws {
        let history = try SchemaCache.history()
        let backup = try #require(history.command("drive-backup"))
        #expect(backup.deprecatedSince == version("6.2.0"))
        #expect(backup.lastVersion == nil)
        #expect(backup.history.features(in: version("6.1.0")) == [])
        #expect(backup.history.features(in: version("7.2.0")) == ["deprecated"])
        #expect(history.command("nbd-server-add")?.deprecatedSince == version("5.2.0"))
        #expect(history.command("query-migrationthreads")?.deprecatedSince == version("9.2.0-rc2"))
        let memUnplug = try #require(history.event("MEM_UNPLUG_ERROR"))
        #expect(memUnplug.deprecatedSince == version("6.2.0"))
        #expect(memUnplug.lastVersion == version("9.0.0"))
    }

    @Test("Enum values have their own history and features")
    func enumValues() throws {
        let runState = try #require(try SchemaCache.history().type("RunState"))
        #expect(runState.enumValues["running"]?.introduced == version("1.0"))
        #expect(runState.enumValues["guest-panicked"]?.introduced == version("1.5.0"))
        #expect(
            runState.enumValues["preconfig"]?.runs == [
                QEMUVersionRange(from: version("3.0.0"), through: version("5.2.0"))
            ]
        )

        let capability = try #require(try SchemaCache.history().type("MigrationCapability"))
        #expect(capability.enumValues["x-colo"]?.unstableSince == version("6.2.0"))
        #expect(capability.enumValues["compress"]?.deprecatedSince == version("8.2.0"))
        #expect(capability.enumValues["compress"]?.lastVersion == version("9.0.0"))
    }

    @Test("Members of commands, events and types have their own first and last versions")
    func members() throws {
        let history = try SchemaCache.history()
        let backup = try #require(history.command("drive-backup"))
        #expect(backup.members["device"]?.introduced == version("1.6.0"))
        #expect(backup.members["bitmap"]?.introduced == version("2.4.0"))
        #expect(history.event("SHUTDOWN")?.members["reason"]?.introduced == version("4.0.0"))
        #expect(history.command("x-blockdev-del")?.members["id"]?.lastVersion == version("2.7.0"))

        let eject = try #require(history.command("eject"))
        #expect(eject.members["id"]?.introduced == version("2.8.0"))
        #expect(eject.members["device"]?.history.deprecatedSince == version("5.0.0"))

        let version0 = try #require(history.type("VersionInfo"))
        #expect(version0.members["package"]?.introduced == version("1.0"))
    }

    @Test("A type that changes shape records the releases of the change, and a member records its type changes")
    func shapeChanges() throws {
        let versionInfo = try #require(try SchemaCache.history().type("VersionInfo"))
        #expect(versionInfo.shapeChanges == [version("2.4.0")])
        #expect(
            versionInfo.members["qemu"]?.typeChanges.map { "\($0.version) \($0.type)" } == [
                "1.0 q_obj_VersionInfo-qemu", "2.4.0 VersionTriple",
            ]
        )
        #expect(versionInfo.kindChanges.map(\.metaType) == [.object])
        let cpuInfo = try #require(try SchemaCache.history().type("CpuInfo"))
        #expect(cpuInfo.lastVersion == version("5.2.0"))
        #expect(cpuInfo.shapeChanges.first == version("2.4.0"))
    }
}
