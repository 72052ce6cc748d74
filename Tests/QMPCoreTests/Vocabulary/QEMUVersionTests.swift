import QMPCore
import Testing

private func version(_ text: String) -> QEMUVersion { QEMUVersion(text)! }

@Suite("QEMU version numbers")
struct QEMUVersionTests {
    @Test("Versions order numerically, a missing micro is zero, and a release candidate precedes its release")
    func ordering() {
        let sorted = ["9.2.0", "2.10.0", "1.0", "9.2.0-rc2", "2.9.0", "1.1.0", "9.2.0-rc10"].map(version).sorted()
        #expect(sorted.map(\.description) == ["1.0", "1.1.0", "2.9.0", "2.10.0", "9.2.0-rc2", "9.2.0-rc10", "9.2.0"])
        #expect(version("1.0") == version("1.0.0"))
        #expect(QEMUVersion("qapi") == nil)
        #expect(QEMUVersion("1") == nil)
    }

    @Test(
        "Text that is not MAJOR.MINOR[.MICRO][-PRERELEASE] is refused",
        arguments: [
            "", "1", "1.", ".1", "1.2.3.4", "1.-2", "a.b", "1.2-", "-rc1", "1.2.x",
            // Signs, spaces and separators are no part of a number or a pre-release: each would
            // break the history's text form, where `..`, `,` and `-` separate things.
            "+1.+2", "1.2 ", " 1.2", "1.2.0-rc 1", "1.2.0-rc,1", "1.2.0-rc..1", "1.2.0-rc-1", "1.2.0-rc.1",
        ]
    )
    func rejects(text: String) {
        #expect(QEMUVersion(text) == nil)
    }

    @Test("The typed initializer writes the number as QEMU's history does: 1.0 without a micro, 2.12.0 with one")
    func typedInitializer() {
        #expect(QEMUVersion(1, 0).description == "1.0")
        #expect(QEMUVersion(2, 12, 0).description == "2.12.0")
        #expect(QEMUVersion(9, 2, 0, prerelease: "rc2").description == "9.2.0-rc2")
        #expect(QEMUVersion(1, 0) == version("1.0"))
        #expect(QEMUVersion(1, 0) == QEMUVersion(1, 0, 0))
        #expect(QEMUVersion(2, 12, 0) == version("2.12.0"))
        #expect(QEMUVersion(9, 2, 0, prerelease: "rc2") < QEMUVersion(9, 2, 0))
    }

    @Test("Equal versions written differently hash alike, so either finds the other in a set")
    func hashing() {
        let releases: Set = [QEMUVersion(1, 0), QEMUVersion(7, 2, 0)]
        #expect(releases.contains(version("1.0.0")))
        #expect(releases.contains(QEMUVersion(major: 7, minor: 2)))
    }

    @Test("The series is MAJOR.MINOR, whatever the micro number or pre-release")
    func series() {
        #expect(version("10.2.2").series == "10.2")
        #expect(version("9.2.0-rc2").series == "9.2")
        #expect(version("1.0").series == "1.0")
    }

    @Test("The greeting's initializer always writes the micro number")
    func greetingInitializer() {
        #expect(QEMUVersion(major: 7, minor: 2, micro: 22).description == "7.2.22")
        #expect(QEMUVersion(major: 1, minor: 0).description == "1.0.0")
    }

    @Test("Whether the micro number was written is kept, for writing the version back the same way")
    func writesMicro() {
        #expect(!version("1.0").writesMicro)
        #expect(version("2.12.0").writesMicro)
        #expect(version("9.2.0-rc2").writesMicro)
        #expect(!QEMUVersion(1, 0).writesMicro)
        #expect(QEMUVersion(major: 1, minor: 0).writesMicro)
    }

    @Test(
        "version strings are MAJOR.MINOR[.MICRO][-PRERELEASE]",
        arguments: [
            ("7.2.22", QEMUVersion(major: 7, minor: 2, micro: 22)),
            ("0.12.50", QEMUVersion(major: 0, minor: 12, micro: 50)),
            ("9.2.0-rc2", QEMUVersion(major: 9, minor: 2, micro: 0, prerelease: "rc2")),
            ("1.0", QEMUVersion(major: 1, minor: 0, micro: 0)),
        ]
    )
    func parse(text: String, version: QEMUVersion) {
        #expect(QEMUVersion(text) == version)
    }

    @Test("pre-releases that differ only in how a number is written still have an order, as == says they differ")
    func prereleaseSpelling() throws {
        let padded = try #require(QEMUVersion("9.2.0-rc01"))
        let plain = try #require(QEMUVersion("9.2.0-rc1"))
        #expect(padded != plain)
        #expect((padded < plain) != (plain < padded))
    }

    @Test("a release candidate sorts before its release, and 2.9 before 2.10")
    func prereleaseOrdering() throws {
        #expect(try #require(QEMUVersion("9.2.0-rc2")) < QEMUVersion(major: 9, minor: 2, micro: 0))
        #expect(try #require(QEMUVersion("2.9.0")) < #require(QEMUVersion("2.10.0")))
    }

    @Test("text that is not a version is no version", arguments: ["", "v7.2", "unknown", ".1", "2"])
    func notAVersion(text: String) {
        #expect(QEMUVersion(text) == nil)
    }

    @Test("versions compare by major, then minor, then micro, and print as a triple")
    func orderingOfTriples() {
        #expect(QEMUVersion(major: 2, minor: 11, micro: 2) < QEMUVersion(major: 2, minor: 12, micro: 0))
        #expect(QEMUVersion(major: 0, minor: 12, micro: 50) < QEMUVersion(major: 1, minor: 0, micro: 0))
        #expect(!(QEMUVersion(major: 7, minor: 2, micro: 0) < QEMUVersion(major: 7, minor: 2, micro: 0)))
        #expect(QEMUVersion(major: 7, minor: 2, micro: 22).description == "7.2.22")
    }
}
