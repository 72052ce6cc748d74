import QAPI
import QMPCore

/// One schema holding everything any of a set of releases had, shaped so that bindings made
/// from it decode what every one of those releases sends.
///
/// - Every command, event and named type of the newest release, in its newest shape.
/// - Every command, event and type that only older releases had, from the newest release that
///   still had it. A type an old command refers to and that still exists keeps its newest shape.
/// - Members that later releases removed stay, from the newest release that still had them, so
///   that a program talking to an older QEMU can read and send them (`StatusInfo.singlestep`).
///   A member is left out only where it would clash with a member of a union the type is a
///   branch of, or of a branch of the union it belongs to.
/// - A member is optional unless every release that has its owner has the member and has it
///   required. An older QEMU that lacks a member added later, or a newer one that dropped it,
///   then still decodes; the member's history says when it is required (`relaxedMembers`).
/// - Enumerations keep the values older releases had and the newest one dropped, after the
///   newest values, so that a value an older QEMU sends has a case of its own.
public struct MergedSchema: Sendable {
    public var schema: QAPISchema
    public var availability: QAPIAvailability
    /// Members, by owner (type name, or `command NAME` / `event NAME` for inline arguments and
    /// data), that the newest release requires but the bindings make optional.
    public var relaxedMembers: [String: Set<String>]
    /// How each command took its arguments, by command, oldest first, one entry per release
    /// that changed it: boxed in the named type or inline, read by generated code or by hand
    /// (`'gen': false`). Only commands that some release boxed or read by hand.
    public var argumentForms: [String: [ArgumentForm]]
    /// The older shapes of commands whose arguments changed incompatibly, by command, oldest
    /// first; the newest shape is the command's own binding. Their argument types are in
    /// ``schema`` as implicit types of their own (``OlderShape/argumentType``).
    public var olderShapes: [String: [OlderShape]] = [:]
    /// The shape of the newest releases of each command in ``olderShapes``: the releases whose
    /// arguments the command's own binding expresses.
    public var newestShapes: [String: QAPIArgumentShape] = [:]
    /// Every incompatible change of a command's arguments, by command and release.
    public var argumentChanges: [QAPIArgumentChange] = []

    /// Arguments a command took in releases before an incompatible change.
    public struct OlderShape: Sendable, Hashable {
        public var command: String
        public var shape: QAPIArgumentShape
        /// The implicit type of the arguments, added to the merged schema.
        public var argumentType: String
        /// The first release of the next shape: the shape is what QEMU took before it.
        public var before: QEMUVersion
    }

    /// How a command takes its arguments from `version` on.
    public struct ArgumentForm: Sendable, Hashable {
        public var version: QEMUVersion
        /// The type the arguments are boxed in; `nil` when they are inline.
        public var boxedType: String?
        /// Whether QEMU reads them by hand rather than by generated code.
        public var isHandWritten: Bool
    }

    public init(releases: QAPIReleases) {
        precondition(!releases.releases.isEmpty, "merging needs at least one release")
        let availability = releases.availability()
        let newest = releases.releases.last!
        var schema = newest.schema
        schema.diagnostics = []
        var relaxed: [String: Set<String>] = [:]

        // Newest first, so that what several older releases had comes from the latest of them.
        for release in releases.releases.dropLast().reversed() {
            let old = release.schema
            func adopt(_ typeName: String?) { Self.adopt(typeName, from: old, into: &schema) }
            for command in old.commands.values where schema.commands[command.name] == nil {
                schema.commands[command.name] = command
                adopt(command.argumentType)
                adopt(command.returnType)
            }
            for event in old.events.values where schema.events[event.name] == nil {
                schema.events[event.name] = event
                adopt(event.dataType)
            }
            for type in old.types.values where !type.isImplicit || type.isImplicitTagEnum {
                adopt(type.name)
            }
        }

        Self.restoreRemovedMembers(into: &schema, releases: releases, availability: availability)

        // Optionality from the whole history.
        func relax(
            _ members: [QAPIMember],
            owner ownerHistory: QEMUAvailability,
            memberHistories: [String: QAPIMemberHistory],
            key: String
        ) -> [QAPIMember] {
            members.map { member in
                guard !member.isOptional, let history = memberHistories[member.name] else { return member }
                let alwaysRequired = history.typeChanges.allSatisfy { !$0.isOptional }
                let alwaysPresent = ownerHistory.runs.allSatisfy { run in
                    history.history.runs.contains { $0.contains(run) }
                }
                if alwaysRequired && alwaysPresent { return member }
                var member = member
                member.isOptional = true
                relaxed[key, default: []].insert(member.name)
                return member
            }
        }
        for (name, type) in schema.types {
            guard let history = availability.type(name) else { continue }
            switch type.kind {
            case .object(var object):
                object.members = relax(
                    object.members,
                    owner: history.history,
                    memberHistories: history.members,
                    key: name
                )
                schema.types[name]!.kind = .object(object)
            case .enumeration(var enumeration):
                let present = Set(enumeration.names)
                let dropped = history.enumValues
                    .filter { !present.contains($0.key) }
                    .sorted { ($0.value.introduced, $0.key) < ($1.value.introduced, $1.key) }
                for (value, _) in dropped {
                    enumeration.values.append(
                        QAPIEnumValue(
                            name: value,
                            location: type.location ?? QAPISourceLocation(file: "", line: 0, column: 0)
                        )
                    )
                }
                schema.types[name]!.kind = .enumeration(enumeration)
            default:
                break
            }
        }
        // Inline arguments and data are implicit types: their history is their owner's.
        for command in schema.commands.values {
            guard let argumentType = command.argumentType, let history = availability.command(command.name),
                schema.types[argumentType]?.isImplicit == true,
                case .object(var object)? = schema.types[argumentType]?.kind
            else { continue }
            object.members = relax(
                object.members,
                owner: history.history,
                memberHistories: history.members,
                key: "command \(command.name)"
            )
            schema.types[argumentType]!.kind = .object(object)
        }
        for event in schema.events.values {
            guard let dataType = event.dataType, let history = availability.event(event.name),
                schema.types[dataType]?.isImplicit == true, case .object(var object)? = schema.types[dataType]?.kind
            else { continue }
            object.members = relax(
                object.members,
                owner: history.history,
                memberHistories: history.members,
                key: "event \(event.name)"
            )
            schema.types[dataType]!.kind = .object(object)
        }

        self.schema = schema
        self.availability = availability
        self.relaxedMembers = relaxed
        self.argumentForms = Self.argumentForms(of: releases)
        addOlderShapes(releases)
    }

    /// Finds the older shapes of commands' arguments and adds their argument types (and any
    /// type they name that the merged schema lacks) to the schema.
    mutating func addOlderShapes(_ releases: QAPIReleases) {
        let shapes = releases.argumentShapes()
        argumentChanges = shapes.values.flatMap { $0.flatMap(\.endedBy) }.sorted {
            ($0.command, $0.version, $0.argument) < ($1.command, $1.version, $1.argument)
        }
        for (command, list) in shapes {
            guard let newest = list.last else { continue }
            newestShapes[command] = newest
            var older: [OlderShape] = []
            for (index, shape) in list.dropLast().enumerated() {
                let before = list[index + 1].first
                let typeName = "q_obj_\(command)-arg-before-\(before.series)"
                let source = releases.release(shape.last)!.schema
                func adopt(_ name: String) {
                    guard schema.types[name] == nil, let type = source.types[name] else { return }
                    schema.types[name] = type
                    for referenced in Self.references(of: type) { adopt(referenced) }
                }
                for member in shape.members { adopt(member.type) }
                schema.types[typeName] = QAPIType(
                    name: typeName,
                    kind: .object(QAPIObjectType(members: shape.members)),
                    location: source.commands[command]?.location,
                    isImplicit: true
                )
                older.append(OlderShape(command: command, shape: shape, argumentType: typeName, before: before))
            }
            olderShapes[command] = older
        }
    }

    /// Puts back the members of objects, and of commands' inline arguments and events' inline
    /// data, that the release the merged schema took them from no longer had, each from the
    /// newest release that still had it, with the types it needs.
    static func restoreRemovedMembers(
        into schema: inout QAPISchema,
        releases: QAPIReleases,
        availability: QAPIAvailability
    ) {
        let older = Array(releases.releases.dropLast().reversed())
        /// The removed members of `histories` that `members` lacks, from the newest release in
        /// which `oldMembers` has them; oldest first, as they came.
        func removed(
            from members: [QAPIMember],
            histories: [String: QAPIMemberHistory],
            excluding: Set<String>,
            oldMembers: (QAPISchema) -> [QAPIMember]?
        ) -> [QAPIMember] {
            let present = Set(members.map(\.name))
            let missing = histories.filter { name, history in
                history.lastVersion != nil && !present.contains(name) && !excluding.contains(name)
            }
            var restored: [(member: QAPIMember, introduced: QEMUVersion)] = []
            for (name, history) in missing {
                for release in older {
                    guard let member = oldMembers(release.schema)?.first(where: { $0.name == name }) else { continue }
                    adopt(member.type, from: release.schema, into: &schema)
                    restored.append((member, history.introduced))
                    break
                }
            }
            return restored.sorted { ($0.introduced, $0.member.name) < ($1.introduced, $1.member.name) }.map(\.member)
        }
        func plainMembers(_ schema: QAPISchema, _ typeName: String?) -> [QAPIMember]? {
            guard let typeName, case .object(let object)? = schema.types[typeName]?.kind, object.variants == nil
            else { return nil }
            return object.members
        }

        // A union reads its branch's members from the same object as its own: a member the one
        // got back must not be one the other has.
        var unionMembersOfBranch: [String: Set<String>] = [:]
        var branchMembersOfUnion: [String: Set<String>] = [:]
        for (name, type) in schema.types {
            guard case .object(let object) = type.kind, let variants = object.variants else { continue }
            let common = Set(object.members.map(\.name))
            for variant in variants.variants {
                unionMembersOfBranch[variant.type, default: []].formUnion(common)
                if case .object(let branch)? = schema.types[variant.type]?.kind {
                    branchMembersOfUnion[name, default: []].formUnion(branch.members.map(\.name))
                }
            }
        }
        for name in schema.types.keys.sorted() {
            guard case .object(var object)? = schema.types[name]?.kind, let history = availability.type(name) else {
                continue
            }
            let excluding = unionMembersOfBranch[name, default: []].union(branchMembersOfUnion[name, default: []])
            let restored = removed(from: object.members, histories: history.members, excluding: excluding) {
                guard case .object(let old)? = $0.types[name]?.kind else { return nil }
                return old.members
            }
            guard !restored.isEmpty else { continue }
            object.members += restored
            schema.types[name]!.kind = .object(object)
        }
        for command in schema.commands.values {
            if command.argumentType == nil, let history = availability.command(command.name),
                history.members.values.contains(where: { $0.lastVersion != nil })
            {
                // Every argument is gone: the newest older release's inline arguments come back
                // (as members made optional below, since the newest release has none of them).
                let older = older.first { release in
                    guard let type = release.schema.commands[command.name]?.argumentType else { return false }
                    return release.schema.types[type]?.isImplicit == true && plainMembers(release.schema, type) != nil
                }
                if let older, let type = older.schema.commands[command.name]?.argumentType {
                    adopt(type, from: older.schema, into: &schema)
                    schema.commands[command.name]?.argumentType = type
                    continue
                }
            }
            guard let argumentType = command.argumentType, schema.types[argumentType]?.isImplicit == true,
                let members = plainMembers(schema, argumentType), let history = availability.command(command.name)
            else { continue }
            let restored = removed(from: members, histories: history.members, excluding: []) {
                plainMembers($0, $0.commands[command.name]?.argumentType)
            }
            guard !restored.isEmpty, case .object(var object)? = schema.types[argumentType]?.kind else { continue }
            object.members = members + restored
            schema.types[argumentType]!.kind = .object(object)
        }
        for event in schema.events.values {
            guard let dataType = event.dataType, schema.types[dataType]?.isImplicit == true,
                let members = plainMembers(schema, dataType), let history = availability.event(event.name)
            else { continue }
            let restored = removed(from: members, histories: history.members, excluding: []) {
                plainMembers($0, $0.events[event.name]?.dataType)
            }
            guard !restored.isEmpty, case .object(var object)? = schema.types[dataType]?.kind else { continue }
            object.members = members + restored
            schema.types[dataType]!.kind = .object(object)
        }
    }

    /// Takes `typeName` from `old` unless `schema` has it, with the types it refers to.
    static func adopt(_ typeName: String?, from old: QAPISchema, into schema: inout QAPISchema) {
        guard let typeName, schema.types[typeName] == nil, let type = old.types[typeName] else { return }
        schema.types[typeName] = type
        for referenced in references(of: type) { adopt(referenced, from: old, into: &schema) }
    }

    static func argumentForms(of releases: QAPIReleases) -> [String: [ArgumentForm]] {
        var forms: [String: [ArgumentForm]] = [:]
        for release in releases.releases {
            for command in release.schema.commands.values {
                let form = ArgumentForm(
                    version: release.version,
                    boxedType: command.isBoxed ? command.argumentType : nil,
                    isHandWritten: !command.isGenerated
                )
                let last = forms[command.name]?.last ?? ArgumentForm(version: form.version, isHandWritten: false)
                if (last.boxedType, last.isHandWritten) != (form.boxedType, form.isHandWritten) {
                    forms[command.name, default: []].append(form)
                }
            }
        }
        return forms
    }

    /// The names of the types a type mentions.
    static func references(of type: QAPIType) -> [String] {
        switch type.kind {
        case .builtin:
            return []
        case .array(let element):
            return [element]
        case .enumeration:
            return []
        case .alternate(let alternate):
            return alternate.branches.map(\.type)
        case .object(let object):
            var names = object.members.map(\.type)
            if let base = object.base { names.append(base) }
            if let variants = object.variants {
                names.append(variants.tagType)
                names += variants.variants.map(\.type)
            }
            return names
        }
    }
}
