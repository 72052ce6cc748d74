import QMPCore

/// Something the dating of definitions noticed: the schemas on disk and a `Since:` note
/// disagree, or a definition that came in a release missing from disk has no note.
public struct QAPIDatingNote: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The directories say one release, the documentation another.
        case disagreement
        /// New in a release after a gap, without a note to say in which release of the gap:
        /// dated to the release on disk that first has it.
        case undated
    }

    public var kind: Kind
    /// `command query-foo`, `event FOO`, `type Foo`, `member Foo.bar`, `value Foo.bar`,
    /// `argument query-foo.bar`, `data FOO.bar`.
    public var subject: String
    /// What was found, in one line.
    public var message: String

    public var description: String { "\(subject): \(message)" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.kind.rawValue, lhs.subject, lhs.message) < (rhs.kind.rawValue, rhs.subject, rhs.message)
    }
}

/// Releases read from disk, with the releases missing between them filled in from the
/// documentation, and what the dating noticed.
public struct QAPIDatedReleases: Sendable {
    /// The releases on disk and the inferred ones, oldest first.
    public var releases: QAPIReleases
    /// The releases not on disk whose schema was inferred: the next release on disk's schema
    /// without what its documentation dates after them.
    public var inferred: [QEMUVersion]
    /// Disagreements between the directories and the documentation, and undated additions, sorted.
    public var notes: [QAPIDatingNote]
}

extension QAPIReleases {
    /// Loads the releases under `directory` as ``load(directory:kind:parser:strict:)`` does, reads their
    /// documentation's `Since:` notes, and fills in the releases missing between two on disk
    /// (``QAPIDatedReleases``).
    ///
    /// A release is missing between two on disk when minor numbers of the newer one's major
    /// number lie between them (`10.1` between `10.0.13` and `10.2.2`). Its schema is the newer release's, without the definitions,
    /// members and enum values that the newer release added and documents as coming later than
    /// the missing release. What the newer one dropped is taken to be gone in the missing one
    /// too, since nothing documents when a thing went: the history then gives the older release
    /// as the last known to have it.
    public static func loadDated(
        directory: String,
        kind: QAPISchemaKind = .qmp,
        parser: QAPIParser = QAPIParser(),
        strict: Bool = false
    ) throws -> QAPIDatedReleases {
        let names = try SchemaFiles.names(inDirectory: directory)
        var onDisk: [(release: QAPIRelease, documentation: QAPIDocumentedSince)] = []
        for name in names {
            guard let version = QEMUVersion(name) else { continue }
            let releaseDirectory = SchemaFiles.join(directory, name)
            guard let entry = kind.entryFile(in: releaseDirectory) else { continue }
            let schema = QAPISchema.load(directory: releaseDirectory, entryFile: entry, parser: parser, strict: strict)
            onDisk.append(
                (
                    QAPIRelease(version: version, schema: schema),
                    QAPIDocumentedSince(directory: releaseDirectory, schema: schema)
                )
            )
        }
        onDisk.sort { $0.release.version < $1.release.version }
        return dated(onDisk)
    }

    /// Dates `releases` (oldest first), each with its documentation's notes.
    public static func dated(
        _ releases: [(release: QAPIRelease, documentation: QAPIDocumentedSince)]
    ) -> QAPIDatedReleases {
        var all: [QAPIRelease] = []
        var inferred: [QEMUVersion] = []
        var notes: Set<QAPIDatingNote> = []
        for (index, (release, documentation)) in releases.enumerated() {
            let previous = index > 0 ? releases[index - 1].release : nil
            var additions = ReleaseAdditions(
                old: previous?.schema,
                new: release.schema,
                documentation: documentation,
                previous: previous?.version
            )
            let gap = previous.map { Self.missingReleases(between: $0.version, and: release.version) } ?? []
            for (position, addition) in additions.all.enumerated() {
                guard let since = addition.since else {
                    if !gap.isEmpty, addition.isOwn {
                        notes.insert(
                            QAPIDatingNote(
                                kind: .undated,
                                subject: addition.subject,
                                message: "new in \(release.version) after \(previous!.version), and its documentation "
                                    + "says no release: dated \(release.version)"
                            )
                        )
                    }
                    continue
                }
                let after = previous.map { Series($0.version) < Series(since) } ?? true
                guard !after || Series(since) > Series(release.version) else { continue }
                // The directories win: a note they contradict dates nothing in a gap either.
                additions.all[position].since = nil
                guard addition.isOwn else { continue }
                let onDisk =
                    previous.map { "the schemas on disk have it first in \(release.version), not in \($0.version)" }
                    ?? "the schemas on disk have it in \(release.version), the oldest on disk"
                notes.insert(
                    QAPIDatingNote(
                        kind: .disagreement,
                        subject: addition.subject,
                        message: "\(onDisk); its documentation says since \(since)"
                    )
                )
            }
            for missing in gap {
                all.append(QAPIRelease(version: missing, schema: additions.schema(without: Series(missing))))
                inferred.append(missing)
            }
            all.append(release)
        }
        return QAPIDatedReleases(releases: QAPIReleases(all), inferred: inferred, notes: notes.sorted())
    }

    /// Releases between `old` and `new` missing from disk: `MAJOR.MINOR.0` for every minor
    /// number of `new`'s major number between `old` and `new` (`10.1` between `10.0.13` and
    /// `10.2.2`, `11.0` between `10.2` and `11.1`). A `Since:` note alone does not make a
    /// release: QEMU's documentation names `2.13`, the release that came out as `3.0`.
    static func missingReleases(between old: QEMUVersion, and new: QEMUVersion) -> [QEMUVersion] {
        let firstMinor = old.major == new.major ? old.minor + 1 : 0
        guard new.minor > firstMinor else { return [] }
        return (firstMinor..<new.minor).map { QEMUVersion(major: new.major, minor: $0) }
    }
}

/// A release series: what `Since:` notes name (`10.1`), compared without micro numbers.
struct Series: Hashable, Comparable {
    var major: Int
    var minor: Int

    init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    init(_ version: QEMUVersion) {
        self.init(major: version.major, minor: version.minor)
    }

    static func < (lhs: Series, rhs: Series) -> Bool { (lhs.major, lhs.minor) < (rhs.major, rhs.minor) }
}

/// What a release has that the release before it on disk lacked, each with its `Since:` note.
struct ReleaseAdditions {
    struct Addition {
        enum Place: Hashable {
            case command(String)
            case event(String)
            case type(String)
            /// A member of the object type with this name (an implicit one for inline
            /// arguments and data).
            case member(type: String, name: String)
            case value(type: String, name: String)
        }

        var place: Place
        var subject: String
        var since: QEMUVersion?
        /// Whether the addition is its owner's own rather than inherited from a base, which
        /// reports it under the base.
        var isOwn = true
    }

    let schema: QAPISchema
    /// Each with its note, which ``QAPIReleases/dated(_:)`` clears where the directories
    /// contradict it.
    var all: [Addition] = []

    let documentation: QAPIDocumentedSince
    /// The command or event whose documentation holds an implicit type's members, by type.
    private var implicitOwners: [String: String] = [:]

    /// The documentation block that documents the members of `type`: its command's or
    /// event's for inline members, the union's for an inline base, else its own.
    func symbolOf(_ type: String) -> String {
        if let owner = implicitOwners[type] { return owner }
        if type.hasPrefix("q_obj_"), type.hasSuffix("-base") { return String(type.dropFirst(6).dropLast(5)) }
        return type
    }

    /// The series of the release before, on disk.
    let previous: Series?

    init(old: QAPISchema?, new schema: QAPISchema, documentation: QAPIDocumentedSince, previous: QEMUVersion?) {
        self.schema = schema
        self.documentation = documentation
        self.previous = previous.map(Series.init)
        // Inline arguments and data are documented under their command or event.
        var owners: [String: (symbol: String, subject: String, oldMembers: [QAPIMember]?)] = [:]
        for command in schema.commands.values {
            guard let type = command.argumentType, schema.types[type]?.isImplicit == true else { continue }
            let old = old.flatMap { $0.commands[command.name] != nil ? $0.arguments(ofCommand: command.name) : nil }
            owners[type] = (command.name, "argument \(command.name)", old)
        }
        for event in schema.events.values {
            guard let type = event.dataType, schema.types[type]?.isImplicit == true else { continue }
            let old = old.flatMap { $0.events[event.name] != nil ? $0.data(ofEvent: event.name) : nil }
            owners[type] = (event.name, "data \(event.name)", old)
        }
        implicitOwners = owners.mapValues(\.symbol)
        for command in schema.commands.values where old?.commands[command.name] == nil {
            all.append(
                Addition(
                    place: .command(command.name),
                    subject: "command \(command.name)",
                    since: documentation.definitions[command.name]
                )
            )
        }
        for event in schema.events.values where old?.events[event.name] == nil {
            all.append(
                Addition(
                    place: .event(event.name),
                    subject: "event \(event.name)",
                    since: documentation.definitions[event.name]
                )
            )
        }
        for type in schema.definedTypes {
            let isNamed = !type.isImplicit || type.isImplicitTagEnum
            if isNamed, old?.types[type.name] == nil {
                let since = documentation.definitions[type.name]
                all.append(Addition(place: .type(type.name), subject: "type \(type.name)", since: since))
                addLaterParts(of: type, after: since, subject: "\(type.name)")
                continue
            }
            // Members and values of something the old release had.
            let oldMembers: [QAPIMember]?
            let subject: String
            if let owner = owners[type.name] {
                oldMembers = owner.oldMembers
                subject = owner.subject
            } else if isNamed {
                oldMembers = old?.objectType(named: type.name)?.members
                subject = "member \(type.name)"
            } else {
                continue
            }
            switch type.kind {
            case .object(let object):
                guard let oldMembers else {
                    // A new command's or event's inline members.
                    if let owner = owners[type.name] {
                        addLaterParts(of: type, after: documentation.definitions[owner.symbol], subject: subject)
                    }
                    continue
                }
                let had = Set(oldMembers.map(\.name))
                for member in object.members where !had.contains(member.name) {
                    let documented = symbolOf(member.definedIn)
                    all.append(
                        Addition(
                            place: .member(type: type.name, name: member.name),
                            subject: "\(subject).\(member.name)",
                            since: documentation.member(member.name, of: documented),
                            isOwn: documented == symbolOf(type.name)
                        )
                    )
                }
            case .enumeration(let enumeration):
                guard let oldValues = old?.enumType(named: type.name) else { continue }
                let had = Set(oldValues.names)
                for value in enumeration.values where !had.contains(value.name) {
                    all.append(
                        Addition(
                            place: .value(type: type.name, name: value.name),
                            subject: "value \(type.name).\(value.name)",
                            since: documentation.member(value.name, of: type.name)
                        )
                    )
                }
            default:
                continue
            }
        }
    }

    /// The members and enum values of something new in this release whose notes date them
    /// after the thing itself and after the release before (`(since 10.2)` in a type of 10.1):
    /// the rest came with it. Older notes in something new are usually those of a renamed
    /// type's members, and say nothing about this release.
    private mutating func addLaterParts(of type: QAPIType, after owner: QEMUVersion?, subject: String) {
        guard let owner else { return }
        let since = max(Series(owner), previous ?? Series(owner))
        switch type.kind {
        case .object(let object):
            for member in object.members {
                let documented = symbolOf(member.definedIn)
                guard let note = documentation.member(member.name, of: documented), Series(note) > since
                else { continue }
                all.append(
                    Addition(
                        place: .member(type: type.name, name: member.name),
                        subject: "\(subject).\(member.name)",
                        since: note,
                        isOwn: documented == symbolOf(type.name)
                    )
                )
            }
        case .enumeration(let enumeration):
            for value in enumeration.values {
                guard let note = documentation.member(value.name, of: type.name), Series(note) > since
                else { continue }
                all.append(
                    Addition(
                        place: .value(type: type.name, name: value.name),
                        subject: "value \(type.name).\(value.name)",
                        since: note
                    )
                )
            }
        default:
            break
        }
    }

    /// The new schema without the additions dated after `series`; undated additions count as
    /// the new release's.
    func schema(without series: Series) -> QAPISchema {
        var schema = self.schema
        var members: [String: Set<String>] = [:]
        var values: [String: Set<String>] = [:]
        for addition in all {
            if let since = addition.since, Series(since) <= series { continue }
            switch addition.place {
            case .command(let name): schema.commands[name] = nil
            case .event(let name): schema.events[name] = nil
            case .type(let name): schema.types[name] = nil
            case .member(let type, let name): members[type, default: []].insert(name)
            case .value(let type, let name): values[type, default: []].insert(name)
            }
        }
        for (name, dropped) in members {
            guard case .object(var object)? = schema.types[name]?.kind else { continue }
            object.members.removeAll { dropped.contains($0.name) }
            schema.types[name]!.kind = .object(object)
        }
        for (name, dropped) in values {
            guard case .enumeration(var enumeration)? = schema.types[name]?.kind else { continue }
            enumeration.values.removeAll { dropped.contains($0.name) }
            schema.types[name]!.kind = .enumeration(enumeration)
        }
        schema.definitionOrder.removeAll { reference in
            switch reference {
            case .command(let name): schema.commands[name] == nil
            case .event(let name): schema.events[name] == nil
            case .type(let name): schema.types[name] == nil
            }
        }
        return schema
    }
}
