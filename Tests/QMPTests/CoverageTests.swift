import Foundation
import QAPI
import QMP
import QMPCore
import Testing

/// The schemas of every release on disk, read once for the suite.
private let releasesOnDisk: QAPIReleases? = try? QAPIReleases.load(directory: TestData.schemasDirectory().path)

@Suite("Every command and event of QEMU 1.0 to 10.2 has a binding")
struct CoverageTests {
    func releases() throws -> QAPIReleases {
        let releases = try #require(releasesOnDisk, "../shared/qapi-schemas cannot be read")
        try #require(releases.versions.count >= 43, "expected the releases 1.0 to 10.2.2 on disk")
        return releases
    }

    @Test("each command of each release on disk has a command binding available in that release")
    func everyCommandIsBound() throws {
        var missing: [String] = []
        for release in try releases().releases {
            for name in release.schema.commands.keys.sorted() {
                guard let binding = QMPBindings.commands[name] else {
                    missing.append("\(release.version): no binding for command \(name)")
                    continue
                }
                if !binding.availability.isAvailable(in: release.version) {
                    missing.append("\(release.version): \(name)'s binding says \(binding.availability.prose())")
                }
            }
        }
        #expect(missing.isEmpty, "\(missing.count) gaps:\n\(missing.joined(separator: "\n"))")
    }

    @Test("each event of each release on disk has an event binding available in that release")
    func everyEventIsBound() throws {
        var missing: [String] = []
        for release in try releases().releases {
            for name in release.schema.events.keys.sorted() {
                guard let binding = QMPBindings.events[name] else {
                    missing.append("\(release.version): no binding for event \(name)")
                    continue
                }
                if !binding.availability.isAvailable(in: release.version) {
                    missing.append("\(release.version): \(name)'s binding says \(binding.availability.prose())")
                }
            }
        }
        #expect(missing.isEmpty, "\(missing.count) gaps:\n\(missing.joined(separator: "\n"))")
    }

    @Test("each command and event the history dates to 10.1, which is not on disk, has a binding available in 10.1")
    func inferredReleaseIsBound() throws {
        let history = QMPSchemaHistory.shared
        let release = try #require(history.inferredVersions.first)
        let commands = history.commands.values.filter { $0.isPresent(in: release) }
        let events = history.events.values.filter { $0.isPresent(in: release) }
        #expect(commands.count > 230 && events.count > 50)
        for entry in commands {
            #expect(QMPBindings.commands[entry.name]?.availability.isAvailable(in: release) == true, "\(entry.name)")
        }
        for entry in events {
            #expect(QMPBindings.events[entry.name]?.availability.isAvailable(in: release) == true, "\(entry.name)")
        }
    }

    @Test("each named type of each release on disk is in the history, present in that release")
    func everyTypeIsInTheHistory() throws {
        var missing: [String] = []
        for release in try releases().releases {
            for type in release.schema.definedTypes where !type.isImplicit || type.isImplicitTagEnum {
                guard let entry = QMPSchemaHistory.shared.types[type.name] else {
                    missing.append("\(release.version): type \(type.name) is not in the history")
                    continue
                }
                if !entry.isPresent(in: release.version) {
                    missing.append("\(release.version): type \(type.name) is said to be \(entry.availability.prose())")
                }
            }
        }
        #expect(missing.isEmpty, "\(missing.count) gaps:\n\(missing.joined(separator: "\n"))")
    }

    /// Checked by hand: which release directories define each (`grep -rlE "'command': *'NAME'"`
    /// over `../shared/qapi-schemas/*/`, sorted by version with `sort -V`), and, for what came
    /// between 10.0.13 and 10.2.2, the `Since:` line of its documentation block in 10.2.2.
    @Test(
        "the first and last release of a sample checked by hand in the schema directories",
        arguments: [
            // In every directory from 1.0 to 10.2.2.
            ("query-status", "1.0", nil),
            // 1.0 to 5.2.0, gone from 6.0.0.
            ("query-cpus", "1.0", "5.2.0"),
            // 4.0.0 to 6.0.0, then renamed blockdev-reopen, in 6.1.0 and later.
            ("x-blockdev-reopen", "4.0.0", "6.0.0"),
            ("blockdev-reopen", "6.1.0", nil),
            // In 6.2.0 to 10.0.13, not in 10.2.2: 10.0.13 is the last release known to have it.
            ("x-query-opcount", "6.2.0", "10.0.13"),
            // Not in 10.0.13, in 10.2.2; qom.json says "Since 10.1", accelerator.json "Since: 10.1".
            ("qom-list-get", "10.1.0", nil),
            ("x-accel-stats", "10.1.0", nil),
            // Not in 10.0.13, in 10.2.2; "Since: 10.2.0" (accelerator.json), "Since: 10.2"
            // (acpi-hest.json, machine.json).
            ("query-accelerators", "10.2.2", nil),
            ("inject-ghes-v2-error", "10.2.2", nil),
            ("query-firmware-log", "10.2.2", nil),
        ] as [(String, String, String?)]
    )
    func commandSample(name: String, first: String, last: String?) throws {
        let binding = try #require(QMPBindings.commands[name], "no binding for \(name)")
        #expect(binding.availability.introduced == QEMUVersion(first))
        #expect(binding.availability.lastVersion == last.flatMap(QEMUVersion.init))
        #expect(QMPSchemaHistory.shared.commands[name]?.availability == binding.availability)
    }

    @Test(
        "the first release of events checked by hand in the schema directories",
        arguments: [
            // Events are in the schemas from 2.1.0 on (QEMU 1.x and 2.0 documented them elsewhere).
            ("SHUTDOWN", "2.1.0"),
            // Not in 10.0.13, in 10.2.2; machine-s390x.json says "Since: 10.2".
            ("SCLP_CPI_INFO_AVAILABLE", "10.2.2"),
        ]
    )
    func eventSample(name: String, first: String) throws {
        let binding = try #require(QMPBindings.events[name], "no binding for \(name)")
        #expect(binding.availability.introduced == QEMUVersion(first))
        #expect(binding.availability.isPresentInNewest)
    }

    @Test("the history knows 10.0 and 10.2 from disk and 10.1 from the documentation")
    func tenSeries() {
        let history = QMPSchemaHistory.shared
        #expect(history.release(matching: "10.0")?.description == "10.0.13")
        #expect(history.release(matching: "10.1")?.description == "10.1.0")
        #expect(history.release(matching: "10.2")?.description == "10.2.2")
        #expect(history.inferredVersions == [QEMUVersion(major: 10, minor: 1)])
        #expect(history.versions.last == QEMUVersion("10.2.2"))
    }
}
