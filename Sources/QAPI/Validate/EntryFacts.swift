import QMPCore

/// A set of JSON kinds as bits: what the validator compares for every value it checks.
struct JSONKindMask: OptionSet, Sendable, Hashable {
    let rawValue: UInt8

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(_ kind: JSONKind) {
        let bit: UInt8 =
            switch kind {
            case .null: 0
            case .boolean: 1
            case .integer: 2
            case .number: 3
            case .string: 4
            case .array: 5
            case .object: 6
            }
        self.init(rawValue: 1 << bit)
    }

    init(_ kinds: Set<JSONKind>) {
        self = kinds.reduce(into: []) { $0.insert(JSONKindMask($1)) }
    }

    var kinds: Set<JSONKind> { Set(JSONKind.allCases.filter { contains(JSONKindMask($0)) }) }

    /// The kinds QEMU does not tell apart when it picks an alternate's branch: it goes by the
    /// value's QObject type, and an integer and a fraction are both a number (QNum), so the
    /// branch that takes either takes the value and words its own refusal.
    static func alternateClass(of kind: JSONKind) -> JSONKindMask {
        kind == .integer || kind == .number ? numeric : JSONKindMask(kind)
    }

    private static let numeric = JSONKindMask([.integer, .number])
}

/// What checking a value against one entry needs, worked out once when the model is built
/// rather than for every value checked.
struct EntryFacts: Sendable {
    /// The entry itself, so that one lookup finds it and its facts.
    var entry: QAPISchemaInfo
    /// An alternate's branch with the kinds it takes.
    struct Branch: Sendable {
        var type: String
        var accepted: JSONKindMask
    }

    /// Which built-in type a built-in entry is.
    var builtin: QAPIBuiltinType?
    /// The kinds a value of the entry's type may have; none for a command or an event.
    var accepted: JSONKindMask = []
    /// An enumeration's values.
    var enumValues: Set<String> = []
    /// An alternate's branches, in order.
    var branches: [Branch] = []

    /// The facts of every entry of `entries`.
    static func facts(of entries: [String: QAPISchemaInfo]) -> [String: EntryFacts] {
        let shapes = entries.compactMapValues(\.shape)
        var kindsByName: [String: JSONKindMask] = [:]
        func accepted(_ name: String) -> JSONKindMask {
            if let known = kindsByName[name] { return known }
            let mask = JSONKindMask(QAPITypeShape.acceptedKinds(of: name) { shapes[$0] })
            kindsByName[name] = mask
            return mask
        }
        return entries.mapValues { entry in
            var facts = EntryFacts(entry: entry)
            if shapes[entry.name] != nil { facts.accepted = accepted(entry.name) }
            switch entry.metaType {
            case .builtin:
                if case .builtin(let builtin)? = shapes[entry.name] { facts.builtin = builtin }
            case .enumeration(let members, let values):
                facts.enumValues = Set(members.isEmpty ? values : members.map(\.name))
            case .alternate(let branchTypes):
                facts.branches = branchTypes.map { Branch(type: $0, accepted: accepted($0)) }
            case .array, .object, .command, .event:
                break
            }
            return facts
        }
    }
}
