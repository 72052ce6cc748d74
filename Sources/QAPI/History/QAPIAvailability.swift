import QMPCore

/// When every command, event, type, member and enum value appeared, disappeared and was
/// marked deprecated or unstable, across a set of releases.
///
/// "Last version" means the last release of the set that had it; `nil` means the newest
/// release has it. Implicit types (inline arguments and the like) are not listed as types:
/// their members are listed under the command or event instead. Simple unions' implicit
/// `…Kind` enumerations are listed, as they become real enums in later releases.
public struct QAPIAvailability: Sendable {
    /// The releases considered, oldest first.
    public var versions: [QEMUVersion]
    /// Every command any of the releases had, by name.
    public var commands: [String: QAPIEntityHistory]
    /// Every event any of the releases had, by name.
    public var events: [String: QAPIEntityHistory]
    /// Every named type any of the releases had, by name.
    public var types: [String: QAPITypeHistory]

    /// The history of the command called `name`.
    public func command(_ name: String) -> QAPIEntityHistory? { commands[name] }
    /// The history of the event called `name`.
    public func event(_ name: String) -> QAPIEntityHistory? { events[name] }
    /// The history of the type called `name`.
    public func type(_ name: String) -> QAPITypeHistory? { types[name] }

    /// Computes the histories from `releases`.
    public init(_ releases: QAPIReleases) {
        versions = releases.versions
        var builder = AvailabilityBuilder()
        for (index, release) in releases.releases.enumerated() {
            builder.add(release.schema, index: index)
        }
        let versions = self.versions
        commands = builder.commands.mapValues { $0.finish(name: $0.name, versions: versions) }
        events = builder.events.mapValues { $0.finish(name: $0.name, versions: versions) }
        types = builder.types.mapValues { $0.finish(versions: versions) }
    }
}

extension QAPIReleases {
    /// The availability of everything across these releases.
    public func availability() -> QAPIAvailability { QAPIAvailability(self) }
}

// MARK: - Building

/// Release indices in which something was present, and its features per release.
private struct PresenceAccumulator {
    var indices: [Int] = []
    var features: [String: [Int]] = [:]

    mutating func add(_ index: Int, features names: [String]) {
        indices.append(index)
        for name in names { features[name, default: []].append(index) }
    }

    func finish(_ versions: [QEMUVersion]) -> QEMUAvailability {
        QEMUAvailability(ranges(indices, versions), features: features.mapValues { ranges($0, versions) })
    }
}

/// Collapses sorted release indices into runs.
private func ranges(_ indices: [Int], _ versions: [QEMUVersion]) -> [QEMUVersionRange] {
    var result: [QEMUVersionRange] = []
    var start: Int?
    var previous = -2
    for index in indices {
        if index != previous + 1 {
            if let start { result.append(QEMUVersionRange(from: versions[start], through: versions[previous])) }
            start = index
        }
        previous = index
    }
    if let start {
        let last = previous == versions.count - 1 ? nil : versions[previous]
        result.append(QEMUVersionRange(from: versions[start], through: last))
    }
    return result
}

private struct MemberAccumulator {
    var presence = PresenceAccumulator()
    var changes: [(index: Int, type: String, optional: Bool)] = []

    mutating func add(_ member: QAPIMember, index: Int) {
        presence.add(index, features: member.features.names)
        if let last = changes.last, last.type == member.type, last.optional == member.isOptional { return }
        changes.append((index, member.type, member.isOptional))
    }

    func finish(_ versions: [QEMUVersion]) -> QAPIMemberHistory {
        QAPIMemberHistory(
            history: presence.finish(versions),
            typeChanges: changes.map { .init(version: versions[$0.index], type: $0.type, isOptional: $0.optional) }
        )
    }
}

private struct EntityAccumulator {
    var name: String
    var presence = PresenceAccumulator()
    var members: [String: MemberAccumulator] = [:]

    mutating func add(index: Int, features: [QAPIFeature], members list: [QAPIMember]) {
        presence.add(index, features: features.names)
        for member in list { members[member.name, default: MemberAccumulator()].add(member, index: index) }
    }

    func finish(name: String, versions: [QEMUVersion]) -> QAPIEntityHistory {
        QAPIEntityHistory(
            name: name,
            history: presence.finish(versions),
            members: members.mapValues { $0.finish(versions) }
        )
    }
}

private struct TypeAccumulator {
    var name: String
    var presence = PresenceAccumulator()
    var members: [String: MemberAccumulator] = [:]
    var values: [String: PresenceAccumulator] = [:]
    var lastShape: String?
    var shapeChanges: [Int] = []
    var kinds: [(index: Int, metaType: QAPIMetaType)] = []

    mutating func add(_ type: QAPIType, index: Int) {
        presence.add(index, features: type.features.names)
        if kinds.last?.metaType != type.metaType { kinds.append((index, type.metaType)) }
        let shape = shapeSignature(type)
        if let lastShape, lastShape != shape { shapeChanges.append(index) }
        lastShape = shape
        switch type.kind {
        case .object(let object):
            for member in object.members {
                members[member.name, default: MemberAccumulator()].add(member, index: index)
            }
        case .enumeration(let enumeration):
            for value in enumeration.values {
                values[value.name, default: PresenceAccumulator()].add(index, features: value.features.names)
            }
        default:
            break
        }
    }

    func finish(versions: [QEMUVersion]) -> QAPITypeHistory {
        QAPITypeHistory(
            name: name,
            history: presence.finish(versions),
            shapeChanges: shapeChanges.map { versions[$0] },
            members: members.mapValues { $0.finish(versions) },
            enumValues: values.mapValues { $0.finish(versions) },
            kindChanges: kinds.map { .init(version: versions[$0.index], metaType: $0.metaType) }
        )
    }
}

/// A text that is equal for two types exactly when their shapes agree.
private func shapeSignature(_ type: QAPIType) -> String {
    switch type.kind {
    case .builtin(let builtin):
        return "builtin \(builtin.rawValue)"
    case .array(let element):
        return "array \(element)"
    case .enumeration(let enumeration):
        return "enum " + enumeration.names.joined(separator: ",")
    case .alternate(let alternate):
        return "alternate " + alternate.branches.map { "\($0.name):\($0.type)" }.sorted().joined(separator: ",")
    case .object(let object):
        var text = "object base=\(object.base ?? "") "
        text += object.members.map { "\($0.isOptional ? "*" : "")\($0.name):\($0.type)" }.sorted().joined(
            separator: ","
        )
        if let variants = object.variants {
            text +=
                " tag=\(variants.tagMember) "
                + variants.variants.map { "\($0.name):\($0.type)" }.sorted().joined(separator: ",")
        }
        return text
    }
}

private struct AvailabilityBuilder {
    var commands: [String: EntityAccumulator] = [:]
    var events: [String: EntityAccumulator] = [:]
    var types: [String: TypeAccumulator] = [:]

    mutating func add(_ schema: QAPISchema, index: Int) {
        for command in schema.commands.values {
            commands[command.name, default: EntityAccumulator(name: command.name)]
                .add(index: index, features: command.features, members: schema.arguments(ofCommand: command.name))
        }
        for event in schema.events.values {
            events[event.name, default: EntityAccumulator(name: event.name)]
                .add(index: index, features: event.features, members: schema.data(ofEvent: event.name))
        }
        for type in schema.types.values where !type.isBuiltin && !type.isArray {
            if type.isImplicit, !type.isImplicitTagEnum { continue }
            types[type.name, default: TypeAccumulator(name: type.name)].add(type, index: index)
        }
    }
}
