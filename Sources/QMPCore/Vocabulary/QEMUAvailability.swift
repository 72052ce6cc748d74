/// Which QEMU releases have a command, event, type, member or enum value, and which features
/// (`deprecated`, `unstable`, …) it carried when.
///
/// Usually one run of releases; more when something was removed and came back later.
public struct QEMUAvailability: Sendable, Hashable {
    /// The runs of consecutive releases that have it, oldest first; never empty.
    public let runs: [QEMUVersionRange]
    /// For each feature name, the runs of releases in which it carried that feature.
    public let features: [String: [QEMUVersionRange]]

    /// The feature that marks something QEMU means to remove.
    public static let deprecatedFeature = "deprecated"
    /// The feature that marks something experimental.
    public static let unstableFeature = "unstable"

    /// `runs` must hold at least one run, each starting after the one before it ends (see
    /// ``QEMUVersionRange/areOrdered(_:)``); so must each feature's runs.
    public init(_ runs: [QEMUVersionRange], features: [String: [QEMUVersionRange]] = [:]) {
        precondition(!runs.isEmpty, "something available in no release has no availability")
        precondition(QEMUVersionRange.areOrdered(runs), "runs of releases out of order: \(runs)")
        precondition(
            features.values.allSatisfy(QEMUVersionRange.areOrdered),
            "runs of a feature out of order: \(features)"
        )
        self.runs = runs
        self.features = features
    }

    /// The first release that has it.
    public var introduced: QEMUVersion { runs[0].first }
    /// The last release that has it; `nil` while the newest release known has it.
    public var lastVersion: QEMUVersion? { runs[runs.count - 1].last }
    /// Whether the newest release known has it.
    public var isPresentInNewest: Bool { lastVersion == nil }

    /// Whether QEMU `version` has it (for a version between known releases: whether it lies
    /// in a run).
    public func isAvailable(in version: QEMUVersion) -> Bool {
        runs.contains { $0.contains(version) }
    }

    /// The features it carried in `version`, sorted.
    public func features(in version: QEMUVersion) -> [String] {
        features.filter { $0.value.contains { $0.contains(version) } }.keys.sorted()
    }

    /// The first release in which it carried `feature`.
    public func firstRelease(with feature: String) -> QEMUVersion? { features[feature]?.first?.first }
    /// The first release in which it was marked `deprecated`.
    public var deprecatedSince: QEMUVersion? { firstRelease(with: Self.deprecatedFeature) }
    /// The first release in which it was marked `unstable`.
    public var unstableSince: QEMUVersion? { firstRelease(with: Self.unstableFeature) }

    /// `1.0 to 5.2.0; 7.0.0 and later, deprecated since 6.0.0`: the runs, then for each of
    /// `mentioned` that it carried, the first release that marked it so. `newestKnown` is
    /// passed on to ``QEMUVersionRange/prose(newestKnown:)``.
    public func prose(
        mentioning mentioned: [String] = [Self.deprecatedFeature, Self.unstableFeature],
        newestKnown: QEMUVersion? = nil
    ) -> String {
        var text = QEMUVersionRange.prose(of: runs, newestKnown: newestKnown)
        for feature in mentioned {
            if let since = firstRelease(with: feature) { text += ", \(feature) since \(since)" }
        }
        return text
    }

    /// Why QEMU `version` lacks it: `it was introduced in 8.0.0`, `QEMU removed it after 5.2.0`,
    /// or for a release between two runs `QEMU removed it after 5.2.0 and brought it back in
    /// 7.0.0`; `nil` when `version` has it.
    public func whyAbsent(in version: QEMUVersion) -> String? {
        guard !isAvailable(in: version) else { return nil }
        if !version.isAtOrAfter(release: introduced) { return "it was introduced in \(introduced)" }
        guard let next = runs.firstIndex(where: { !version.isAtOrAfter(release: $0.first) }) else {
            return "QEMU removed it after \(lastVersion!)"
        }
        return "QEMU removed it after \(runs[next - 1].last!) and brought it back in \(runs[next].first)"
    }
}
