/// A QEMU release number such as `1.0`, `2.12.0` or `9.2.0-rc2`.
///
/// Versions order numerically component by component (`2.9.0 < 2.10.0`); a missing micro
/// number counts as 0 (`1.0 == 1.0.0`), and a pre-release sorts before its release
/// (`9.2.0-rc2 < 9.2.0`). ``description`` gives the text the version was made from.
public struct QEMUVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var micro: Int
    /// A pre-release suffix such as `rc2`, or `nil` for a release.
    public var prerelease: String?
    /// The text as given, e.g. `1.0` or `9.2.0-rc2`.
    public let description: String

    public init(major: Int, minor: Int, micro: Int = 0, prerelease: String? = nil) {
        self.major = major
        self.minor = minor
        self.micro = micro
        self.prerelease = prerelease
        self.description = "\(major).\(minor).\(micro)" + (prerelease.map { "-\($0)" } ?? "")
    }

    /// Reads `MAJOR.MINOR[.MICRO][-PRERELEASE]`; `nil` if `text` is not of that form.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", maxSplits: 1)
        guard let numbers = parts.first else { return nil }
        let components = numbers.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard (2...3).contains(components.count), components.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        major = components[0]!
        minor = components[1]!
        micro = components.count == 3 ? components[2]! : 0
        prerelease = parts.count == 2 ? String(parts[1]) : nil
        if prerelease?.isEmpty == true { return nil }
        description = text
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

    /// `rc2 < rc10`: compares the trailing numbers when the letters agree.
    private static func prereleaseOrder(_ a: String, _ b: String) -> Bool {
        let aLetters = a.prefix { !$0.isNumber }, bLetters = b.prefix { !$0.isNumber }
        if aLetters == bLetters, let aNumber = Int(a.dropFirst(aLetters.count)), let bNumber = Int(b.dropFirst(bLetters.count)) {
            return aNumber < bNumber
        }
        return a < b
    }
}
