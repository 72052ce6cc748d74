import QMPCore

extension QAPIIntrospection {
    /// This introspection with what the release's sources knew and QEMU's answer leaves out:
    /// each member's integer width (`int` becomes `uint8`, `[int]` becomes `[uint16]`), the
    /// source names of the types and the commands QEMU reads by hand, so that a check against
    /// it answers as QEMU does.
    ///
    /// The walk starts at every command's arguments and every event's data, whose names are not
    /// masked, and follows members, union variants and alternate branches to the types they
    /// name, pairing each masked type with its source type. Parts the sources do not know
    /// (a newer QEMU's additions) and types only return values reach keep what introspection
    /// says, and their `int` stays any width (see ``filledMembers``).
    public func filling(from sources: some QAPISourceTypes) -> QAPIIntrospection {
        var filling = IntrospectionFilling(introspection: self, sources: sources)
        for entry in entries {
            switch entry.metaType {
            case .command(let argumentType, _, _):
                if let takesExtra = sources.takesExtraArguments(command: entry.name) {
                    filling.setTakesExtraArguments(entry.name, takesExtra)
                }
                if let source = sources.argumentType(ofCommand: entry.name) {
                    filling.visit(argumentType, source: source)
                }
            case .event(let argumentType):
                if let source = sources.dataType(ofEvent: entry.name) { filling.visit(argumentType, source: source) }
            default:
                continue
            }
        }
        return filling.result
    }
}

private struct IntrospectionFilling<Sources: QAPISourceTypes> {
    let original: QAPIIntrospection
    let sources: Sources
    var entries: [String: QAPISchemaInfo]
    var added: [QAPISchemaInfo] = []
    var sourceNames: [String: String]
    var filledMembers: [String: Set<String>]
    var commandsTakingExtraArguments: Set<String>
    var visited: Set<String> = []

    init(introspection: QAPIIntrospection, sources: Sources) {
        self.original = introspection
        self.sources = sources
        self.entries = introspection.entriesByName
        self.sourceNames = introspection.sourceNames
        self.filledMembers = introspection.filledMembers
        self.commandsTakingExtraArguments = introspection.commandsTakingExtraArguments
    }

    mutating func setTakesExtraArguments(_ command: String, _ takesExtra: Bool) {
        if takesExtra {
            commandsTakingExtraArguments.insert(command)
        } else {
            commandsTakingExtraArguments.remove(command)
        }
    }

    var result: QAPIIntrospection {
        QAPIIntrospection(
            entries: original.entries.map { entries[$0.name] ?? $0 } + added,
            sourceNames: sourceNames,
            knowsIntegerWidths: original.knowsIntegerWidths,
            filledMembers: filledMembers,
            commandsTakingExtraArguments: commandsTakingExtraArguments
        )
    }

    /// The type a member should name: the source's integer width where introspection says
    /// `int`, else what introspection says.
    mutating func widened(_ type: String, source: String) -> String {
        if type == QAPIBuiltinType.int.rawValue, let width = QAPIBuiltinType(rawValue: source),
            width.integerRange != nil
        {
            addBuiltin(width)
            return width.rawValue
        }
        if let element = arrayElement(of: type), let sourceElement = arrayElement(of: source) {
            let widenedElement = widened(element, source: sourceElement)
            guard widenedElement != element else { return type }
            let name = "[\(widenedElement)]"
            if entries[name] == nil {
                let array = QAPISchemaInfo(name: name, metaType: .array(elementType: widenedElement))
                entries[name] = array
                added.append(array)
            }
            return name
        }
        return type
    }

    mutating func addBuiltin(_ builtin: QAPIBuiltinType) {
        guard entries[builtin.rawValue] == nil else { return }
        let entry = QAPISchemaInfo(name: builtin.rawValue, metaType: .builtin(jsonType: builtin.jsonType))
        entries[entry.name] = entry
        added.append(entry)
    }

    mutating func visit(_ type: String, source: String) {
        if let element = arrayElement(of: type), let sourceElement = arrayElement(of: source) {
            return visit(element, source: sourceElement)
        }
        guard var entry = entries[type], visited.insert(type).inserted else { return }
        if case .builtin = entry.metaType { return }
        if type != source { sourceNames[type] = source }
        switch entry.metaType {
        case .object(var members, let tag, let variants):
            let memberTypes = sources.memberTypes(ofType: source)
            for index in members.indices {
                guard let memberSource = memberTypes[members[index].name] else { continue }
                members[index].type = widened(members[index].type, source: memberSource)
                filledMembers[type, default: []].insert(members[index].name)
                visit(members[index].type, source: memberSource)
            }
            entry.metaType = .object(members: members, tag: tag, variants: variants)
            entries[type] = entry
            let branches = Dictionary(
                sources.branchTypes(ofType: source).map { ($0.name, $0.type) },
                uniquingKeysWith: { first, _ in first }
            )
            for variant in variants {
                if let branchSource = branches[variant.tagValue] { visit(variant.type, source: branchSource) }
            }
        case .alternate(var memberTypes):
            // Introspection lists an alternate's branches in source order without their names;
            // they pair up only when the build dropped none.
            let branches = sources.branchTypes(ofType: source)
            guard branches.count == memberTypes.count else { return }
            for (index, branch) in branches.enumerated() {
                memberTypes[index] = widened(memberTypes[index], source: branch.type)
                filledMembers[type, default: []].insert(memberTypes[index])
                visit(memberTypes[index], source: branch.type)
            }
            entry.metaType = .alternate(memberTypes: memberTypes)
            entries[type] = entry
        default:
            return
        }
    }
}
