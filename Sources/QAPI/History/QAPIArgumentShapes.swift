import QMPCore

/// A change between two consecutive releases that have a command, after which arguments one
/// of them takes are refused by the other: a required argument added or dropped, an optional
/// one made required, or an argument whose type no longer takes the JSON kinds it took.
///
/// Only the command's own arguments are compared (a boxed command's: its type's members, base
/// included); changes inside the types of arguments are the types' histories.
public struct QAPIArgumentChange: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// `argument` is required from `version` on; the release before lacked it.
        case requiredArgumentAdded
        /// The release before required `argument`; `version` has no such argument.
        case requiredArgumentRemoved
        /// `argument` was optional and is required from `version` on.
        case becameRequired
        /// `argument`'s type took JSON kinds that its type in `version` refuses.
        case typeChanged(from: String, to: String)
    }

    public var command: String
    /// The first release with the new shape.
    public var version: QEMUVersion
    /// The last release with the old shape.
    public var previous: QEMUVersion
    public var argument: String
    public var kind: Kind

    public var description: String {
        let what =
            switch kind {
            case .requiredArgumentAdded: "requires the new argument '\(argument)'"
            case .requiredArgumentRemoved: "no longer takes the required argument '\(argument)'"
            case .becameRequired: "requires '\(argument)', which was optional"
            case .typeChanged(let from, let to): "takes '\(argument)' as \(to), not \(from)"
            }
        return "\(command): \(version) \(what) (after \(previous))"
    }
}

/// The shapes a command's arguments took, oldest first: runs of releases between incompatible
/// changes (``QAPIArgumentChange``).
public struct QAPIArgumentShape: Sendable, Hashable {
    /// The releases that take arguments of this shape.
    public var releases: [QEMUVersion]
    /// The arguments: those of the shape's newest release, optional unless every release of the
    /// shape requires them.
    public var members: [QAPIMember]
    /// The changes that ended this shape; empty for the newest.
    public var endedBy: [QAPIArgumentChange]

    /// The first release of the shape.
    public var first: QEMUVersion { releases[0] }
    /// The last release of the shape.
    public var last: QEMUVersion { releases[releases.count - 1] }
}

extension QAPIReleases {
    /// Every incompatible change of every command's arguments between consecutive releases
    /// that have the command, sorted by command and release.
    public func argumentChanges() -> [QAPIArgumentChange] {
        argumentShapes().values.flatMap { $0.flatMap(\.endedBy) }.sorted {
            ($0.command, $0.version, $0.argument) < ($1.command, $1.version, $1.argument)
        }
    }

    /// The shapes of every command whose arguments changed incompatibly at least once, by
    /// command; commands that kept one shape are left out.
    public func argumentShapes() -> [String: [QAPIArgumentShape]] {
        var names: Set<String> = []
        for release in releases { names.formUnion(release.schema.commands.keys) }
        var result: [String: [QAPIArgumentShape]] = [:]
        for name in names {
            let shapes = argumentShapes(of: name)
            if shapes.count > 1 { result[name] = shapes }
        }
        return result
    }

    /// The shapes of one command's arguments, oldest first; one shape when they never changed
    /// incompatibly, none when no release has the command.
    public func argumentShapes(of command: String) -> [QAPIArgumentShape] {
        var shapes: [QAPIArgumentShape] = []
        var current: [QAPIRelease] = []
        func close(endedBy changes: [QAPIArgumentChange]) {
            guard !current.isEmpty else { return }
            shapes.append(
                QAPIArgumentShape(
                    releases: current.map(\.version),
                    members: Self.members(of: command, in: current),
                    endedBy: changes
                )
            )
            current = []
        }
        for release in releases where release.schema.commands[command] != nil {
            if let previous = current.last {
                let changes = Self.changes(of: command, from: previous, to: release)
                if !changes.isEmpty { close(endedBy: changes) }
            }
            current.append(release)
        }
        close(endedBy: [])
        return shapes
    }

    /// The members of the newest of `releases`, optional unless all of them require it.
    static func members(of command: String, in releases: [QAPIRelease]) -> [QAPIMember] {
        let newest = releases[releases.count - 1].schema.arguments(ofCommand: command)
        return newest.map { member in
            var member = member
            let alwaysRequired = releases.allSatisfy { release in
                release.schema.arguments(ofCommand: command).contains { $0.name == member.name && !$0.isOptional }
            }
            if !alwaysRequired { member.isOptional = true }
            return member
        }
    }

    static func changes(of command: String, from old: QAPIRelease, to new: QAPIRelease) -> [QAPIArgumentChange] {
        let before = Dictionary(
            old.schema.arguments(ofCommand: command).map { ($0.name, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        let after = Dictionary(
            new.schema.arguments(ofCommand: command).map { ($0.name, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        var changes: [QAPIArgumentChange] = []
        func change(_ argument: String, _ kind: QAPIArgumentChange.Kind) {
            changes.append(
                QAPIArgumentChange(
                    command: command,
                    version: new.version,
                    previous: old.version,
                    argument: argument,
                    kind: kind
                )
            )
        }
        for (name, member) in after.sorted(by: { $0.key < $1.key }) {
            guard let was = before[name] else {
                if !member.isOptional { change(name, .requiredArgumentAdded) }
                continue
            }
            if was.isOptional, !member.isOptional { change(name, .becameRequired) }
            let oldKinds = old.schema.acceptedKinds(of: was.type)
            let newKinds = new.schema.acceptedKinds(of: member.type)
            if !oldKinds.isSubset(of: newKinds) { change(name, .typeChanged(from: was.type, to: member.type)) }
        }
        for (name, member) in before.sorted(by: { $0.key < $1.key }) where after[name] == nil && !member.isOptional {
            change(name, .requiredArgumentRemoved)
        }
        return changes
    }
}

extension QAPIReleases {
    /// Incompatible changes inside the types of commands' arguments, between consecutive
    /// releases that have the command: the same kinds of change as ``argumentChanges()``, in a
    /// member of an argument's object type (base included), of a union's branch or of an
    /// array's elements, named by a path (`options.cache.direct`, `actions[].data.device`,
    /// `options[driver=qcow2].encrypt`). These are the types' own histories: the bindings keep
    /// each type in its newest shape, relaxed so that older releases' values decode.
    public func nestedArgumentChanges() -> [QAPIArgumentChange] {
        var names: Set<String> = []
        for release in releases { names.formUnion(release.schema.commands.keys) }
        var changes: Set<QAPIArgumentChange> = []
        for name in names {
            var previous: QAPIRelease?
            for release in releases where release.schema.commands[name] != nil {
                defer { previous = release }
                guard let old = previous else { continue }
                let before = Dictionary(
                    old.schema.arguments(ofCommand: name).map { ($0.name, $0.type) },
                    uniquingKeysWith: { first, _ in first }
                )
                var comparison = NestedComparison(command: name, old: old, new: release)
                for member in release.schema.arguments(ofCommand: name) {
                    guard let oldType = before[member.name] else { continue }
                    comparison.compare(oldType, member.type, path: member.name)
                }
                if let oldType = old.schema.commands[name]?.argumentType,
                    let newType = release.schema.commands[name]?.argumentType
                {
                    comparison.compareVariants(oldType, newType, path: "")
                }
                changes.formUnion(comparison.changes)
            }
        }
        return changes.sorted { ($0.command, $0.version, $0.argument) < ($1.command, $1.version, $1.argument) }
    }
}

/// Walks two releases' types of one argument side by side.
private struct NestedComparison {
    let command: String
    let old: QAPIRelease
    let new: QAPIRelease
    var changes: [QAPIArgumentChange] = []
    var visited: Set<String> = []

    init(command: String, old: QAPIRelease, new: QAPIRelease) {
        self.command = command
        self.old = old
        self.new = new
    }

    mutating func change(_ path: String, _ kind: QAPIArgumentChange.Kind) {
        changes.append(
            QAPIArgumentChange(
                command: command,
                version: new.version,
                previous: old.version,
                argument: path,
                kind: kind
            )
        )
    }

    /// Compares the members of two object types (or the elements of two array types).
    mutating func compare(_ oldName: String, _ newName: String, path: String) {
        // Each pair of types once, under the first path that reaches it: types nest in
        // themselves (a block node's `backing` is a block node).
        guard visited.insert("\(oldName)|\(newName)").inserted else { return }
        if case .array(let oldElement)? = old.schema.types[oldName]?.kind,
            case .array(let newElement)? = new.schema.types[newName]?.kind
        {
            compare(oldElement, newElement, path: path + "[]")
            return
        }
        guard let oldObject = old.schema.objectType(named: oldName),
            let newObject = new.schema.objectType(named: newName)
        else { return }
        let before = Dictionary(oldObject.members.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(newObject.members.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (name, member) in after.sorted(by: { $0.key < $1.key }) {
            let memberPath = "\(path).\(name)"
            guard let was = before[name] else {
                if !member.isOptional { change(memberPath, .requiredArgumentAdded) }
                continue
            }
            if was.isOptional, !member.isOptional { change(memberPath, .becameRequired) }
            if !old.schema.acceptedKinds(of: was.type).isSubset(of: new.schema.acceptedKinds(of: member.type)) {
                change(memberPath, .typeChanged(from: was.type, to: member.type))
            }
            compare(was.type, member.type, path: memberPath)
        }
        for (name, member) in before.sorted(by: { $0.key < $1.key }) where after[name] == nil && !member.isOptional {
            change("\(path).\(name)", .requiredArgumentRemoved)
        }
        compareVariants(oldName, newName, path: path)
    }

    /// Compares the branches two unions share.
    mutating func compareVariants(_ oldName: String, _ newName: String, path: String) {
        guard let oldVariants = old.schema.objectType(named: oldName)?.variants,
            let newVariants = new.schema.objectType(named: newName)?.variants
        else { return }
        for variant in newVariants.variants {
            guard let was = oldVariants.variant(forTag: variant.name) else { continue }
            compare(was.type, variant.type, path: "\(path)[\(newVariants.tagMember)=\(variant.name)]")
        }
    }
}
