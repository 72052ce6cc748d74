import QMPCore

extension QAPIIntrospection {
    /// The smallest value of `typeName` the schema accepts: required members only, each the
    /// smallest of its type; empty strings and arrays, zero, `false`, an enumeration's first
    /// value; a union's first tag value with that branch's required members; an alternate's
    /// first scalar branch (so that recursive types end). Used to synthesise replies and to
    /// call commands with minimal arguments.
    public func minimalValue(of typeName: String) -> JSONValue {
        minimalValue(of: typeName, depth: 0)
    }

    private func minimalValue(of typeName: String, depth: Int) -> JSONValue {
        guard depth < 32, let entry = entry(named: typeName) else { return .null }
        switch entry.metaType {
        case .builtin:
            let kinds = acceptedKinds(of: typeName)
            guard kinds.count < JSONKind.allCases.count else { return [:] }
            switch JSONKind.allCases.first(where: kinds.contains) {
            case .string?: return ""
            case .integer?, .number?: return 0
            case .boolean?: return false
            default: return .null
            }
        case .enumeration(let members, let values):
            return .string(members.first?.name ?? values.first ?? "")
        case .array:
            return []
        case .object(let members, let tag, let variants):
            var object: JSONObject = [:]
            for member in members where !member.isOptional {
                object[member.name] = minimalValue(of: member.type, depth: depth + 1)
            }
            if let tag, case .string(let tagValue)? = object[tag],
                let variant = variants.first(where: { $0.tagValue == tagValue }),
                case .object(let branch, _, _)? = self.entry(named: variant.type)?.metaType
            {
                for member in branch where !member.isOptional && object[member.name] == nil {
                    object[member.name] = minimalValue(of: member.type, depth: depth + 1)
                }
            }
            return .object(object)
        case .alternate(let memberTypes):
            let scalar = memberTypes.first { type in
                switch self.entry(named: type)?.metaType {
                case .builtin?, .enumeration?: true
                default: false
                }
            }
            return minimalValue(of: scalar ?? memberTypes.first ?? "", depth: depth + 1)
        case .command, .event:
            return .null
        }
    }
}
