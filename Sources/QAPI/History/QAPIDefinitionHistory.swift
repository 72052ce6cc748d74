import QMPCore

/// The history of a member: of an object type, of a command's arguments or of an event's data.
public struct QAPIMemberHistory: Sendable, Hashable {
    /// The releases that had the member, and its features by release.
    public var history: QEMUAvailability
    /// The member's declared type and optionality, each time they changed: the first entry is
    /// the first release that had the member.
    public var typeChanges: [QAPITypeChange]

    /// The first release that had the member.
    public var introduced: QEMUVersion { history.introduced }
    /// The last release that had it; `nil` when the newest has it.
    public var lastVersion: QEMUVersion? { history.lastVersion }
}

/// The history of a command or an event.
public struct QAPIEntityHistory: Sendable, Hashable {
    /// The command's or event's name.
    public var name: String
    /// The releases that had it, and its features by release.
    public var history: QEMUAvailability
    /// Arguments of a command / data members of an event, by name.
    public var members: [String: QAPIMemberHistory]

    /// The first release that had it.
    public var introduced: QEMUVersion { history.introduced }
    /// The last release that had it; `nil` when the newest has it.
    public var lastVersion: QEMUVersion? { history.lastVersion }
    /// The first release that marked it deprecated.
    public var deprecatedSince: QEMUVersion? { history.deprecatedSince }
}

/// The history of a named type.
public struct QAPITypeHistory: Sendable, Hashable {
    /// The type's name in the sources.
    public var name: String
    /// The releases that had it, and its features by release.
    public var history: QEMUAvailability
    /// The releases in which the type's shape differed from the previous release that had it:
    /// a different kind, member set, member type or optionality, base, tag, variant set,
    /// enum value list or alternate branch set. Features and conditions don't count.
    public var shapeChanges: [QEMUVersion]
    /// Members of an object type (base members included), by name.
    public var members: [String: QAPIMemberHistory]
    /// Values of an enumeration, by name.
    public var enumValues: [String: QEMUAvailability]
    /// The type's meta-type (`object`, `enum`, `alternate`) each time it changed: the first
    /// entry is the first release that had the type. Usually a single entry.
    public var kindChanges: [KindChange]

    /// A type's meta-type from `version` on.
    public struct KindChange: Sendable, Hashable {
        /// The first release with this meta-type.
        public var version: QEMUVersion
        /// The meta-type from then on.
        public var metaType: QAPIMetaType
    }

    /// The first release that had the type.
    public var introduced: QEMUVersion { history.introduced }
    /// The last release that had it; `nil` when the newest has it.
    public var lastVersion: QEMUVersion? { history.lastVersion }
}
