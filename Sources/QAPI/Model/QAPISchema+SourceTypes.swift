import QMPCore

/// A resolved source schema knows every type: it can fill an introspection of the same release
/// (a build's `query-qmp-schema`) with widths and names.
extension QAPISchema: QAPISourceTypes {
    public func argumentType(ofCommand name: String) -> String? { commands[name]?.argumentType }

    public func dataType(ofEvent name: String) -> String? { events[name]?.dataType }

    public func memberTypes(ofType name: String) -> [String: String] {
        let members = objectType(named: name)?.members ?? []
        return Dictionary(members.map { ($0.name, $0.type) }, uniquingKeysWith: { first, _ in first })
    }

    public func takesExtraArguments(command name: String) -> Bool? { commands[name].map { !$0.isGenerated } }

    public func branchTypes(ofType name: String) -> [(name: String, type: String)] {
        switch types[name]?.kind {
        case .object(let object)?: (object.variants?.variants ?? []).map { ($0.name, $0.type) }
        case .alternate(let alternate)?: alternate.branches.map { ($0.name, $0.type) }
        default: []
        }
    }
}
