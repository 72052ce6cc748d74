/// A run of consecutive QEMU releases: from `first` through `last`, or through the newest
/// release known when `last` is `nil`.
///
/// Its text form is the compact one the schema history stores: `1.0..5.2.0`, or `7.0.0..` for
/// a run that reaches the newest release; runs of one thing are joined with `,`
/// (``text(of:)`` and ``runs(parsing:)``). Its prose is what people read: `2.12.0 to 5.2.0`,
/// `1.0 and later` (``prose(newestKnown:)``).
public struct QEMUVersionRange: Sendable, Hashable, LosslessStringConvertible {
    // Constants, so that no run can be made to end before it starts after the check in `init`.
    /// The first release of the run.
    public let first: QEMUVersion
    /// The last release of the run; `nil` when the run reaches the newest release known.
    public let last: QEMUVersion?

    /// The releases from `first` through `last`, which must not come before `first`; without
    /// `last`, through the newest release known.
    public init(from first: QEMUVersion, through last: QEMUVersion? = nil) {
        precondition(last.map { $0 >= first } ?? true, "a run of releases cannot end before \(first)")
        self.first = first
        self.last = last
    }

    /// Whether `version` lies within the run. The run's ends are releases a schema history
    /// knows, each standing for its series: a stable update such as 10.0.2 lies in a run from
    /// 10.0.13. A version between releases (a pre-release, a development snapshot) lies in the
    /// run when it lies between the run's ends.
    public func contains(_ version: QEMUVersion) -> Bool {
        version.isAtOrAfter(release: first) && (last.map(version.isAtOrBefore(release:)) ?? true)
    }

    /// Whether every release of `other` lies within this run.
    public func contains(_ other: QEMUVersionRange) -> Bool {
        guard other.first >= first else { return false }
        guard let last else { return true }
        return other.last.map { $0 <= last } ?? false
    }

    // MARK: The text form

    /// `1.0..5.2.0`, or `7.0.0..` when the run reaches the newest release.
    public var description: String { "\(first)..\(last.map(\.description) ?? "")" }

    /// Reads the text form: `FIRST..LAST` or `FIRST..`; `nil` for anything else, including a
    /// run that ends before it starts.
    public init?(_ text: String) {
        guard let separator = text.firstRange(of: "..") else { return nil }
        let rest = text[separator.upperBound...]
        guard let first = QEMUVersion(String(text[..<separator.lowerBound])) else { return nil }
        if rest.isEmpty {
            self.init(from: first)
        } else {
            guard let last = QEMUVersion(String(rest)), last >= first else { return nil }
            self.init(from: first, through: last)
        }
    }

    /// The text form of several runs, oldest first: `1.0..5.2.0,7.0.0..`.
    public static func text(of runs: [QEMUVersionRange]) -> String {
        runs.map(\.description).joined(separator: ",")
    }

    /// Reads runs written by ``text(of:)``; `nil` unless every run reads and each starts after
    /// the one before it ends (so only the last may reach the newest release). The empty text
    /// is no runs.
    public static func runs(parsing text: String) -> [QEMUVersionRange]? {
        guard !text.isEmpty else { return [] }
        var runs: [QEMUVersionRange] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let run = QEMUVersionRange(String(part)) else { return nil }
            runs.append(run)
        }
        return areOrdered(runs) ? runs : nil
    }

    /// Whether each run starts after the one before it ends, so that only the last may reach
    /// the newest release: the one shape of a list of runs.
    public static func areOrdered(_ runs: [QEMUVersionRange]) -> Bool {
        zip(runs, runs.dropFirst()).allSatisfy { previous, next in
            previous.last.map { $0 < next.first } ?? false
        }
    }

    // MARK: Prose

    /// `2.12.0 to 5.2.0`, or `1.0 and later` for a run that reaches the newest release. With
    /// `newestKnown`, an open run says how far that reaches: `1.0 and later, as of 10.2.0, the
    /// newest release known`.
    public func prose(newestKnown: QEMUVersion? = nil) -> String {
        if let last { return "\(first) to \(last)" }
        return "\(first) and later" + (newestKnown.map { ", as of \($0), the newest release known" } ?? "")
    }

    /// The prose of several runs, joined with `; `: `1.0 to 5.2.0; 7.0.0 and later`.
    public static func prose(of runs: [QEMUVersionRange], newestKnown: QEMUVersion? = nil) -> String {
        runs.map { $0.prose(newestKnown: newestKnown) }.joined(separator: "; ")
    }
}
