import QAPI
import QMPCore
import QMPHistory

/// A connected QEMU's `query-qmp-schema` set against the schema history: what this QEMU has that
/// no known release had, what it has that the history dates to other releases, and what the
/// history says its release has that it lacks.
///
/// Commands and events are matched by name. From there the comparison walks arguments, event
/// data and return types side by side with the history's types, since introspection hides type
/// names behind numbers: objects by member name (base members included), unions by tag value,
/// alternates branch by branch when their number matches, arrays by element, enumerations by
/// value. A type is reached only through something this QEMU has, so a type is never said to
/// be missing, only its members and values.
///
/// The history records no build conditions: a QEMU built for another target, or without some
/// feature, lacks commands, members and values that the history lists for its release.
struct LiveSchemaComparison: Sendable {
    /// What part of the schema a finding is about.
    enum Part: String, Sendable, Comparable {
        case command, event, argument, data, member, value

        static func < (lhs: Part, rhs: Part) -> Bool { lhs.order < rhs.order }

        private var order: Int {
            switch self {
            case .command: 0
            case .event: 1
            case .argument: 2
            case .data: 3
            case .member: 4
            case .value: 5
            }
        }
    }

    /// One command, event, argument, event data member, type member or enumeration value.
    struct Finding: Sendable, Hashable, Comparable, CustomStringConvertible {
        var part: Part
        /// The command, event or type that has the argument, member or value; `nil` for commands
        /// and events.
        var owner: String?
        var name: String
        /// The releases the history says have it; `nil` for what no known release had.
        var availability: QEMUAvailability?

        /// `command query-status`, `argument blockdev-add.active`, `value RunState.paused`.
        var description: String {
            "\(part.rawValue) " + (owner.map { "\($0).\(name)" } ?? name)
        }

        static func < (lhs: Finding, rhs: Finding) -> Bool {
            (lhs.part, lhs.owner ?? "", lhs.name) < (rhs.part, rhs.owner ?? "", rhs.name)
        }
    }

    /// The connected QEMU's version.
    var version: QEMUVersion
    /// The releases of the history it is compared with: its own release (the same series), or
    /// for a version the history lacks, the known releases on either side of it.
    var releases: [QEMUVersion]
    /// Whether `releases` is this QEMU's own release, rather than its neighbours.
    var isKnownRelease: Bool
    /// What this QEMU has that no known release had.
    var unknown: [Finding]
    /// What this QEMU has that the history knows, but in none of `releases`.
    var datedElsewhere: [Finding]
    /// What every one of `releases` has, by the history, and this QEMU lacks.
    var missing: [Finding]

    /// Compares `introspection`, the answer of a QEMU of `version`, with `history`.
    init(introspection: QAPIIntrospection, version: QEMUVersion, history: QMPSchemaHistory) {
        let (releases, isKnown) = Self.releases(comparableWith: version, in: history)
        var walker = Walker(history: history, introspection: introspection, releases: releases)
        walker.run()
        self.version = version
        self.releases = releases
        self.isKnownRelease = isKnown
        self.unknown = walker.unknown.sorted()
        self.datedElsewhere = walker.datedElsewhere.sorted()
        self.missing = walker.missing.sorted()
    }

    /// The history's release of the same series (a stable update such as 7.2.22 changes no
    /// schema); else the newest known release before `version` and the oldest after it. QEMU's
    /// development snapshots count 50 and up in the micro number (10.0.50 leads to 10.1), so
    /// they belong between releases too.
    static func releases(
        comparableWith version: QEMUVersion,
        in history: QMPSchemaHistory
    ) -> (releases: [QEMUVersion], isKnown: Bool) {
        if version.micro < 50, version.prerelease == nil, let same = history.release(matching: version.series) {
            return ([same], true)
        }
        let older = history.versions.last { $0 < version }
        let newer = history.versions.first { $0 > version }
        return ([older, newer].compactMap { $0 }, false)
    }

    /// The report `qmp schema compare` prints.
    func lines(history: QMPSchemaHistory) -> [String] {
        let newest = history.versions.last
        let span = "QEMU \(history.versions.first.map(\.description) ?? "?") to \(newest.map(\.description) ?? "?")"
        let compared = releases.map(\.description).joined(separator: " and ")
        var lines = ["QEMU \(version) against the schema history (\(span))"]
        if isKnownRelease {
            lines.append("compared with its release in the history, \(compared)")
        } else {
            lines.append(
                "\(version) is not in the history; compared with the known release\(releases.count == 1 ? "" : "s") "
                    + "around it, \(compared)"
            )
        }
        func section(_ title: String, _ findings: [Finding], withAvailability: Bool = false) {
            lines.append("")
            guard !findings.isEmpty else {
                lines.append("\(title): none")
                return
            }
            lines.append("\(title) (\(findings.count)):")
            for finding in findings {
                let availability = finding.availability.map { "  [QEMU \($0.prose(newestKnown: newest))]" } ?? ""
                lines.append("  \(finding)" + (withAvailability ? availability : ""))
            }
        }
        section("What no known release had", unknown)
        section("What the history dates to other releases", datedElsewhere, withAvailability: true)
        let owner = isKnownRelease ? compared : "both \(compared)"
        section("What the history says \(owner) \(releases.count > 1 ? "have" : "has") and this QEMU lacks", missing)
        if !missing.isEmpty {
            lines.append(
                "  (the history records no build conditions: a build for another target, or without some "
                    + "feature, lacks what only such builds have)"
            )
        }
        return lines
    }
}

/// Walks a live introspection and the history side by side.
private struct Walker {
    let history: QMPSchemaHistory
    let introspection: QAPIIntrospection
    let releases: [QEMUVersion]
    var unknown: Set<LiveSchemaComparison.Finding> = []
    var datedElsewhere: Set<LiveSchemaComparison.Finding> = []
    var missing: Set<LiveSchemaComparison.Finding> = []
    /// Pairs of a live type and a history type already compared.
    var visited: Set<[String]> = []

    init(history: QMPSchemaHistory, introspection: QAPIIntrospection, releases: [QEMUVersion]) {
        self.history = history
        self.introspection = introspection
        self.releases = releases
    }

    /// Whether every compared release has it: then this QEMU should.
    func isExpected(_ availability: QEMUAvailability) -> Bool {
        !releases.isEmpty && releases.allSatisfy(availability.isAvailable(in:))
    }

    /// Whether any compared release has it: then this QEMU may.
    func isPossible(_ availability: QEMUAvailability) -> Bool {
        releases.contains(where: availability.isAvailable(in:))
    }

    /// Files something this QEMU has under what the history says of it.
    mutating func found(
        _ part: LiveSchemaComparison.Part,
        _ owner: String?,
        _ name: String,
        _ availability: QEMUAvailability?
    ) {
        guard let availability else {
            unknown.insert(.init(part: part, owner: owner, name: name, availability: nil))
            return
        }
        if !isPossible(availability) {
            datedElsewhere.insert(.init(part: part, owner: owner, name: name, availability: availability))
        }
    }

    mutating func lacks(
        _ part: LiveSchemaComparison.Part,
        _ owner: String?,
        _ name: String,
        _ availability: QEMUAvailability
    ) {
        if isExpected(availability) {
            missing.insert(.init(part: part, owner: owner, name: name, availability: availability))
        }
    }

    mutating func run() {
        let commands = introspection.commands
        for (name, info) in commands.sorted(by: { $0.key < $1.key }) {
            guard case .command(let argumentType, let returnType, _) = info.metaType else { continue }
            guard let entry = history.commands[name] else {
                found(.command, nil, name, nil)
                continue
            }
            found(.command, nil, name, entry.availability)
            let form = releases.first.map(entry.argumentForm(in:)) ?? entry.argumentForms.last
            if let boxed = form?.boxedType {
                visit(argumentType, boxed)
            } else {
                compareMembers(argumentType, entry.members.map { ($0, name) }, of: name, part: .argument)
            }
            if let returns = entry.returns { visit(returnType, returns) }
        }
        for entry in history.commands.values where commands[entry.name] == nil {
            lacks(.command, nil, entry.name, entry.availability)
        }

        let events = introspection.events
        for (name, info) in events.sorted(by: { $0.key < $1.key }) {
            guard case .event(let dataType) = info.metaType else { continue }
            guard let entry = history.events[name] else {
                found(.event, nil, name, nil)
                continue
            }
            found(.event, nil, name, entry.availability)
            if let boxed = entry.boxedArguments {
                visit(dataType, boxed)
            } else {
                compareMembers(dataType, entry.members.map { ($0, name) }, of: name, part: .data)
            }
        }
        for entry in history.events.values where events[entry.name] == nil {
            lacks(.event, nil, entry.name, entry.availability)
        }
    }

    /// The members of a live object against the history's, each with the name of what declares
    /// it (an object type's base declares the members it passes on); a member no release had is
    /// filed under `owner`, the command, event or type compared.
    mutating func compareMembers(
        _ liveType: String,
        _ known: [(member: QMPSchemaHistory.Member, owner: String)],
        of owner: String,
        part: LiveSchemaComparison.Part
    ) {
        guard case .object(let liveMembers, _, _)? = introspection.entry(named: liveType)?.metaType else { return }
        // A name declared twice (members moved from a type into its new base) means the one the
        // compared releases have.
        let byName = Dictionary(known.map { ($0.member.name, $0) }) { first, second in
            isPossible(first.member.availability) || !isPossible(second.member.availability) ? first : second
        }
        let liveNames = Set(liveMembers.map(\.name))
        for member in liveMembers {
            guard let (historyMember, declaringType) = byName[member.name] else {
                found(part, owner, member.name, nil)
                continue
            }
            found(part, declaringType, member.name, historyMember.availability)
            let shape = releases.lazy.compactMap(historyMember.shape(in:)).first ?? historyMember.typeChanges.last
            if let shape { visit(member.type, shape.type) }
        }
        for (historyMember, declaringType) in known where !liveNames.contains(historyMember.name) {
            lacks(part, declaringType, historyMember.name, historyMember.availability)
        }
    }

    /// Compares a live type with the history type of that place, once per pair.
    mutating func visit(_ liveType: String, _ historyType: String) {
        if let liveElement = Self.arrayElement(liveType), let historyElement = Self.arrayElement(historyType) {
            return visit(liveElement, historyElement)
        }
        // The history records a command's return type, a union's branches and an object's base
        // in their newest form only: where that names a type the compared releases lack (a
        // type renamed since, as TargetInfo became QemuTargetInfo), the type of this place in
        // those releases is unknown, and nothing is compared rather than the wrong type.
        guard let entry = history.types[historyType], isPossible(entry.availability),
            let info = introspection.entry(named: liveType), visited.insert([liveType, historyType]).inserted
        else { return }
        switch (info.metaType, entry.metaType) {
        case (.enumeration(let members, let values), .enumeration?):
            let liveValues = members.isEmpty ? values : members.map(\.name)
            let known = Dictionary(
                entry.values.map { ($0.name, $0.availability) },
                uniquingKeysWith: { first, _ in first }
            )
            for value in liveValues { found(.value, historyType, value, known[value]) }
            let liveSet = Set(liveValues)
            for value in entry.values where !liveSet.contains(value.name) {
                lacks(.value, historyType, value.name, value.availability)
            }
        case (.object(_, _, let variants), .object?):
            compareMembers(liveType, members(of: entry), of: historyType, part: .member)
            let branches = Dictionary(
                entry.branches.map { ($0.name, $0.type) },
                uniquingKeysWith: { first, _ in first }
            )
            for variant in variants {
                if let branch = branches[variant.tagValue] { visit(variant.type, branch) }
            }
        case (.alternate(let memberTypes), .alternate?):
            // Introspection lists an alternate's branches without their names; they pair up
            // only when their number matches.
            guard memberTypes.count == entry.branches.count else { return }
            for (live, branch) in zip(memberTypes, entry.branches) { visit(live, branch.type) }
        default:
            return
        }
    }

    /// An object type's members with those of its bases that the compared releases have, each
    /// with the type that declares it.
    func members(of entry: QMPSchemaHistory.Entry) -> [(member: QMPSchemaHistory.Member, owner: String)] {
        var result: [(member: QMPSchemaHistory.Member, owner: String)] = []
        var seen: Set<String> = []
        var current: QMPSchemaHistory.Entry? = entry
        while let type = current, seen.insert(type.name).inserted {
            result = type.members.map { ($0, type.name) } + result
            current = type.base.flatMap { history.types[$0] }.flatMap { isPossible($0.availability) ? $0 : nil }
        }
        return result
    }

    static func arrayElement(_ type: String) -> String? {
        guard type.hasPrefix("["), type.hasSuffix("]") else { return nil }
        return String(type.dropFirst().dropLast())
    }
}
