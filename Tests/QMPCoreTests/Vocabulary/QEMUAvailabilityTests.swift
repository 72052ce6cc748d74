import QMPCore
import Testing

private func version(_ text: String) -> QEMUVersion { QEMUVersion(text)! }
private func runs(_ text: String) -> [QEMUVersionRange] { QEMUVersionRange.runs(parsing: text)! }

@Suite("When QEMU had something")
struct QEMUAvailabilityTests {
    /// Like `query-cpus`: from 1.0, deprecated from 5.0, last in 5.2.
    let removed = QEMUAvailability(runs("1.0..5.2.0"), features: ["deprecated": runs("5.0.0..5.2.0")])
    /// Something that went away after 5.2 and came back in 7.0, unstable while it was back.
    let returned = QEMUAvailability(runs("2.12.0..5.2.0,7.0.0.."), features: ["unstable": runs("7.0.0..")])
    let current = QEMUAvailability(runs("8.0.0.."))

    @Test("The first and last releases, and whether the newest release has it")
    func ends() {
        #expect(removed.introduced == version("1.0"))
        #expect(removed.lastVersion == version("5.2.0"))
        #expect(!removed.isPresentInNewest)
        #expect(returned.introduced == version("2.12.0"))
        #expect(returned.lastVersion == nil)
        #expect(returned.isPresentInNewest)
    }

    @Test("A version has it when it lies in one of the runs")
    func isAvailable() {
        #expect(removed.isAvailable(in: version("1.0.0")))
        #expect(removed.isAvailable(in: version("5.2.0")))
        #expect(!removed.isAvailable(in: version("6.0.0")))
        #expect(returned.isAvailable(in: version("4.0.0")))
        #expect(!returned.isAvailable(in: version("6.1.0")))
        #expect(returned.isAvailable(in: version("9.2.0")))
        #expect(!current.isAvailable(in: QEMUVersion(major: 7, minor: 2, micro: 22)))
    }

    @Test("Features have runs of their own: deprecated and unstable since, and the features of one version")
    func features() {
        #expect(removed.deprecatedSince == version("5.0.0"))
        #expect(removed.unstableSince == nil)
        #expect(returned.unstableSince == version("7.0.0"))
        #expect(removed.features(in: version("4.2.0")) == [])
        #expect(removed.features(in: version("5.1.0")) == ["deprecated"])
        #expect(removed.firstRelease(with: "deprecated") == version("5.0.0"))
        #expect(current.deprecatedSince == nil)
    }

    @Test("In prose: the runs, then when each feature mentioned began")
    func prose() {
        #expect(removed.prose() == "1.0 to 5.2.0, deprecated since 5.0.0")
        #expect(returned.prose() == "2.12.0 to 5.2.0; 7.0.0 and later, unstable since 7.0.0")
        #expect(removed.prose(mentioning: []) == "1.0 to 5.2.0")
        #expect(returned.prose(mentioning: [QEMUAvailability.deprecatedFeature]) == "2.12.0 to 5.2.0; 7.0.0 and later")
        #expect(
            current.prose(newestKnown: QEMUVersion(10, 2, 2))
                == "8.0.0 and later, as of 10.2.2, the newest release known"
        )
    }

    @Test("Why a version lacks it: not yet introduced, removed, or removed and later brought back")
    func whyAbsent() {
        #expect(current.whyAbsent(in: QEMUVersion(major: 7, minor: 2, micro: 22)) == "it was introduced in 8.0.0")
        #expect(removed.whyAbsent(in: version("7.2.0")) == "QEMU removed it after 5.2.0")
        #expect(returned.whyAbsent(in: version("2.11.0")) == "it was introduced in 2.12.0")
        #expect(returned.whyAbsent(in: version("6.2.0")) == "QEMU removed it after 5.2.0 and brought it back in 7.0.0")
    }

    @Test("A stable update has what the history dates to its series' release, and lacks it for the same reasons")
    func stableUpdates() {
        let newIn10 = QEMUAvailability(runs("10.0.13.."))
        #expect(newIn10.isAvailable(in: version("10.0.2")))
        #expect(newIn10.whyAbsent(in: version("10.0.2")) == nil)
        #expect(newIn10.whyAbsent(in: version("9.2.4")) == "it was introduced in 10.0.13")
        #expect(removed.whyAbsent(in: version("5.2.1")) == nil)
        #expect(removed.features(in: version("5.2.1")) == ["deprecated"])
        #expect(returned.whyAbsent(in: version("6.2.5")) == "QEMU removed it after 5.2.0 and brought it back in 7.0.0")
        #expect(returned.whyAbsent(in: version("2.11.3")) == "it was introduced in 2.12.0")
    }

    @Test("A version that has it needs no reason")
    func presentNeedsNoReason() {
        #expect(removed.whyAbsent(in: version("1.0")) == nil)
        #expect(returned.whyAbsent(in: version("8.0.0")) == nil)
        #expect(current.whyAbsent(in: version("10.2.2")) == nil)
    }
}
