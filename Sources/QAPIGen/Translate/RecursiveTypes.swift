import QAPI

/// Which types hold themselves, and so need storage a value type cannot give inline.
extension Translator {
    /// Unions and alternates that can hold a value of their own type other than through an
    /// array: only their enumerations are `indirect`. The others keep their branch inline,
    /// which saves an allocation per decoded value (one per entry of a `query-qmp-schema` reply).
    static func typesHoldingThemselves(_ schema: QAPISchema) -> Set<String> {
        /// The types a value of `name` holds inline: members, branches, and the alternatives of
        /// alternates. Arrays keep their elements out of line and end a path.
        func held(_ name: String) -> [String] {
            switch schema.type(named: name)?.kind {
            case .object(let object)?: object.members.map(\.type) + (object.variants?.variants.map(\.type) ?? [])
            case .alternate(let alternate)?: alternate.branches.map(\.type)
            default: []
            }
        }
        var result: Set<String> = []
        for type in schema.types.values {
            let isUnion: Bool
            switch type.kind {
            case .object(let object): isUnion = object.variants != nil
            case .alternate: isUnion = true
            default: isUnion = false
            }
            guard isUnion else { continue }
            var seen: Set<String> = []
            var pending = held(type.name)
            while let next = pending.popLast() {
                if next == type.name {
                    result.insert(type.name)
                    break
                }
                if seen.insert(next).inserted { pending.append(contentsOf: held(next)) }
            }
        }
        return result
    }

    /// Members, as `Type.member`, whose type holds their struct again through struct members
    /// alone: they are stored indirectly. (Cycles through unions' branches and alternates
    /// end at an `indirect` enumeration; arrays keep their elements out of line anyway.)
    static func membersInCycles(_ schema: QAPISchema) -> Set<String> {
        var edges: [String: [(member: String, target: String)]] = [:]
        for type in schema.types.values {
            guard case .object(let object) = type.kind else { continue }
            edges[type.name] = object.members.compactMap { member in
                schema.objectType(named: member.type) == nil ? nil : (member.name, member.type)
            }
        }
        func reaches(_ start: String, _ goal: String) -> Bool {
            var seen: Set<String> = [start]
            var pending = [start]
            while let next = pending.popLast() {
                if next == goal { return true }
                for edge in edges[next] ?? [] where seen.insert(edge.target).inserted {
                    pending.append(edge.target)
                }
            }
            return false
        }
        var result: Set<String> = []
        for (owner, list) in edges {
            for edge in list where reaches(edge.target, owner) {
                result.insert("\(owner).\(edge.member)")
            }
        }
        return result
    }
}
