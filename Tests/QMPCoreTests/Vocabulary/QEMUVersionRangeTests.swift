import QMPCore
import Testing

private func version(_ text: String) -> QEMUVersion { QEMUVersion(text)! }

@Suite("Runs of QEMU releases")
struct QEMUVersionRangeTests {
    let closed = QEMUVersionRange(from: QEMUVersion(2, 12, 0), through: QEMUVersion(5, 2, 0))
    let open = QEMUVersionRange(from: QEMUVersion(1, 0))

    @Test("A run holds the releases from its first through its last; an open run every later one")
    func contains() {
        #expect(closed.contains(version("2.12.0")))
        #expect(closed.contains(version("4.1.0")))
        #expect(closed.contains(version("5.2.0")))
        #expect(!closed.contains(version("2.11.0")))
        #expect(!closed.contains(version("6.0.0")))
        #expect(!closed.contains(version("2.12.0-rc1")))
        #expect(open.contains(version("1.0.0")))
        #expect(open.contains(version("99.0.0")))
    }

    @Test("A run's ends stand for their series: a stable update of a known release lies in the run")
    func seriesEnds() {
        // The history knows 10.0 from 10.0.13's schema; Debian's backport is 10.0.2.
        let tenZeroOn = QEMUVersionRange(from: version("10.0.13"), through: version("10.2.2"))
        #expect(tenZeroOn.contains(version("10.0.2")))
        #expect(tenZeroOn.contains(version("10.0.0")))
        #expect(tenZeroOn.contains(version("10.2.9")))
        #expect(!tenZeroOn.contains(version("9.2.4")))
        #expect(!tenZeroOn.contains(version("11.0.0")))
        #expect(closed.contains(version("5.2.1")))
        #expect(QEMUVersionRange(from: version("9.2.0-rc2")).contains(version("9.2.0")))
    }

    @Test("Pre-releases and development snapshots lie between releases, not in a series")
    func betweenReleases() {
        // QEMU numbers the snapshots on the way to 10.1 as 10.0.50 and up.
        #expect(!QEMUVersionRange(from: version("10.1.0")).contains(version("10.0.50")))
        #expect(QEMUVersionRange(from: version("10.0.13")).contains(version("10.0.50")))
        #expect(!QEMUVersionRange(from: version("10.0.0"), through: version("10.0.13")).contains(version("10.0.50")))
        #expect(!closed.contains(version("5.2.50")))
        #expect(!QEMUVersionRange(from: version("10.1.0")).contains(version("10.1.0-rc1")))
        #expect(version("10.0.2").isSeriesRelease)
        #expect(!version("10.0.50").isSeriesRelease)
        #expect(!version("10.1.0-rc1").isSeriesRelease)
    }

    @Test("A run covers another that lies wholly within it")
    func covers() {
        #expect(open.contains(closed))
        #expect(closed.contains(closed))
        #expect(closed.contains(QEMUVersionRange(from: version("3.0.0"), through: version("4.0.0"))))
        #expect(!closed.contains(open))
        #expect(!closed.contains(QEMUVersionRange(from: version("3.0.0"))))
        #expect(!closed.contains(QEMUVersionRange(from: version("2.11.0"), through: version("4.0.0"))))
        #expect(QEMUVersionRange(from: version("3.0.0")).contains(QEMUVersionRange(from: version("4.0.0"))))
    }

    @Test("The text form is FIRST..LAST, FIRST.. when open, and reads back to the same run")
    func textForm() {
        #expect(closed.description == "2.12.0..5.2.0")
        #expect(open.description == "1.0..")
        for text in ["1.0..5.2.0", "7.0.0..", "9.2.0-rc2..", "2.5.0..2.8.0", "1.0..1.0"] {
            #expect(QEMUVersionRange(text)?.description == text, "\(text)")
        }
        #expect(
            QEMUVersionRange("1.0..5.2.0")
                == QEMUVersionRange(from: QEMUVersion(1, 0), through: QEMUVersion(5, 2, 0))
        )
    }

    @Test(
        "Text that is not a run is refused",
        arguments: [
            "", "1.0", "..", "..5.2.0", "1.0...5.2.0", "x..", "5.2.0..1.0", "1.0..5.2.0..", " 1.0..", "1.0.. ",
        ]
    )
    func rejects(text: String) {
        #expect(QEMUVersionRange(text) == nil)
    }

    @Test("Runs are joined with commas, and a list reads back only when each run follows the one before")
    func lists() throws {
        let runs = [
            QEMUVersionRange(from: version("1.0"), through: version("5.2.0")), QEMUVersionRange(from: version("7.0.0")),
        ]
        #expect(QEMUVersionRange.text(of: runs) == "1.0..5.2.0,7.0.0..")
        #expect(QEMUVersionRange.runs(parsing: "1.0..5.2.0,7.0.0..") == runs)
        #expect(QEMUVersionRange.runs(parsing: "") == [])
        #expect(QEMUVersionRange.text(of: []) == "")
        let text = "1.0..1.0,2.0.0..2.1.0,3.0.0.."
        #expect(try QEMUVersionRange.text(of: #require(QEMUVersionRange.runs(parsing: text))) == text)
    }

    @Test(
        "A list with a bad run, an empty run, overlapping runs or an open run before another is refused",
        arguments: [
            "1.0..5.2.0,", ",1.0..", "1.0..5.2.0,,7.0.0..", "1.0..,7.0.0..", "1.0..5.2.0,5.2.0..",
            "7.0.0..8.0.0,1.0..2.0.0", "1.0..5.2.0;7.0.0..", "1.0..5.2.0, 7.0.0..",
        ]
    )
    func listRejects(text: String) {
        #expect(QEMUVersionRange.runs(parsing: text) == nil)
    }

    @Test("Runs are in order when each starts after the one before ends; no run may follow an open one")
    func ordering() {
        let early = QEMUVersionRange(from: version("1.0"), through: version("2.0.0"))
        let late = QEMUVersionRange(from: version("3.0.0"))
        #expect(QEMUVersionRange.areOrdered([]))
        #expect(QEMUVersionRange.areOrdered([late]))
        #expect(QEMUVersionRange.areOrdered([early, late]))
        #expect(!QEMUVersionRange.areOrdered([late, early]))
        #expect(!QEMUVersionRange.areOrdered([early, early]))
        #expect(!QEMUVersionRange.areOrdered([QEMUVersionRange(from: version("1.0")), late]))
    }

    @Test("In prose a run is FIRST to LAST, or FIRST and later")
    func prose() {
        #expect(closed.prose() == "2.12.0 to 5.2.0")
        #expect(open.prose() == "1.0 and later")
        #expect(
            QEMUVersionRange.prose(of: [closed, QEMUVersionRange(from: version("7.0.0"))])
                == "2.12.0 to 5.2.0; 7.0.0 and later"
        )
    }

    @Test("Given the newest release known, an open run says how far 'later' reaches; a closed one is unchanged")
    func proseWithNewestKnown() {
        let newest = QEMUVersion(10, 2, 2)
        #expect(open.prose(newestKnown: newest) == "1.0 and later, as of 10.2.2, the newest release known")
        #expect(closed.prose(newestKnown: newest) == "2.12.0 to 5.2.0")
        #expect(
            QEMUVersionRange.prose(of: [closed, open], newestKnown: newest)
                == "2.12.0 to 5.2.0; 1.0 and later, as of 10.2.2, the newest release known"
        )
    }
}
