/// A QEMU release number such as `1.0`, `2.12.0` or `9.2.0-rc2`.
///
/// Versions order numerically component by component (`2.9.0 < 2.10.0`); a missing micro
/// number counts as 0 (`1.0 == 1.0.0`), and a pre-release sorts before its release
/// (`9.2.0-rc2 < 9.2.0`). ``description`` gives the text the version was made from, so that a
/// version read from QEMU's data is written back the way QEMU wrote it.
public struct QEMUVersion: Sendable, Hashable, Comparable, LosslessStringConvertible {
    // Constants, because ``description`` is fixed when the version is made: a version whose
    // number changed afterwards would print another.
    /// The major number: 7 in 7.2.0.
    public let major: Int
    /// The minor number: 2 in 7.2.0.
    public let minor: Int
    /// The micro number: 0 in 7.2.0; 0 when the text has none.
    public let micro: Int
    /// A pre-release suffix such as `rc2`, or `nil` for a release.
    public let prerelease: String?
    /// The text as given, e.g. `1.0` or `9.2.0-rc2`.
    public let description: String

    /// A version as generated code spells it: `QEMUVersion(2, 12, 0)`, or `QEMUVersion(1, 0)`
    /// for a release whose number QEMU writes without a micro number (its description is `1.0`).
    public init(_ major: Int, _ minor: Int, _ micro: Int? = nil, prerelease: String? = nil) {
        self.major = major
        self.minor = minor
        self.micro = micro ?? 0
        self.prerelease = prerelease
        self.description = "\(major).\(minor)" + (micro.map { ".\($0)" } ?? "") + (prerelease.map { "-\($0)" } ?? "")
    }

    /// A version whose description always has the micro number (`7.2.0`), as QEMU's greeting
    /// gives it.
    public init(major: Int, minor: Int, micro: Int = 0, prerelease: String? = nil) {
        self.init(major, minor, micro, prerelease: prerelease)
    }

    /// Reads `MAJOR.MINOR[.MICRO][-PRERELEASE]`: the numbers in decimal digits, the pre-release
    /// in ASCII letters and digits (`rc2`); `nil` if `text` is not of that form. Nothing else
    /// is let in, so that a version always survives the history's text form, where `.`, `,` and
    /// `-` separate things.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        func isDigits(_ part: Substring) -> Bool {
            !part.isEmpty && part.utf8.allSatisfy { (0x30...0x39).contains($0) }
        }
        let numbers = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard (2...3).contains(numbers.count), numbers.allSatisfy(isDigits) else { return nil }
        let components = numbers.map { Int($0) }
        guard components.allSatisfy({ $0 != nil }) else { return nil }
        if parts.count == 2 {
            let suffix = parts[1]
            let isAlphanumeric = suffix.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            }
            guard !suffix.isEmpty, isAlphanumeric else { return nil }
            prerelease = String(suffix)
        } else {
            prerelease = nil
        }
        major = components[0]!
        minor = components[1]!
        micro = components.count == 3 ? components[2]! : 0
        description = text
    }

    /// Whether the number was written with its micro number: `2.12.0` was, `1.0` was not.
    public var writesMicro: Bool {
        description.split(separator: "-", maxSplits: 1)[0].split(separator: ".").count == 3
    }

    /// The release series as people name it: `10.2` for `10.2.2`, `9.2` for `9.2.0-rc2`.
    public var series: String { "\(major).\(minor)" }

    /// Whether this is a release of its series or one of its stable updates (`10.0.2`), rather
    /// than a pre-release or a development snapshot (micro 50 and up, on the way to the next
    /// series).
    public var isSeriesRelease: Bool { micro < 50 && prerelease == nil }

    /// Whether this QEMU comes no earlier than `release`, a release a schema history knows.
    /// Such a release stands for its series, since stable updates change no schema: QEMU
    /// 10.0.2 has what a history made from 10.0.13's schema dates to 10.0.13. Pre-releases and
    /// development snapshots keep their own place between releases.
    public func isAtOrAfter(release: QEMUVersion) -> Bool {
        isSeriesRelease ? (major, minor) >= (release.major, release.minor) : self >= release
    }

    /// Whether this QEMU comes no later than `release`, a release a schema history knows,
    /// which stands for its series (see ``isAtOrAfter(release:)``).
    public func isAtOrBefore(release: QEMUVersion) -> Bool {
        isSeriesRelease ? (major, minor) <= (release.major, release.minor) : self <= release
    }

    public static func == (lhs: QEMUVersion, rhs: QEMUVersion) -> Bool {
        lhs.major == rhs.major && lhs.minor == rhs.minor && lhs.micro == rhs.micro && lhs.prerelease == rhs.prerelease
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(major)
        hasher.combine(minor)
        hasher.combine(micro)
        hasher.combine(prerelease)
    }

    public static func < (lhs: QEMUVersion, rhs: QEMUVersion) -> Bool {
        if (lhs.major, lhs.minor, lhs.micro) != (rhs.major, rhs.minor, rhs.micro) {
            return (lhs.major, lhs.minor, lhs.micro) < (rhs.major, rhs.minor, rhs.micro)
        }
        switch (lhs.prerelease, rhs.prerelease) {
        case (nil, nil), (nil, _?): return false
        case (_?, nil): return true
        case (let a?, let b?): return prereleaseOrder(a, b)
        }
    }

    /// `rc2 < rc10`: compares the trailing numbers when the letters agree, and the text when
    /// the numbers are equal too (`rc01` and `rc1` differ, so one must come first for the
    /// order to agree with `==`).
    private static func prereleaseOrder(_ a: String, _ b: String) -> Bool {
        let aLetters = a.prefix { !$0.isNumber }
        let bLetters = b.prefix { !$0.isNumber }
        if aLetters == bLetters, let aNumber = Int(a.dropFirst(aLetters.count)),
            let bNumber = Int(b.dropFirst(bLetters.count)), aNumber != bNumber
        {
            return aNumber < bNumber
        }
        return a < b
    }
}
