import QMPCore

extension QAPIIntrospection {
    /// How much of the source a derived introspection keeps.
    public enum DerivationForm: Sendable, Hashable {
        /// What QEMU serves: types named by numbers in the order they are first used, every
        /// integer width folded into `int`, only types that commands and events reach.
        case served
        /// The model validation runs on: every type under its source name, integer widths kept
        /// (`uint8` stays `uint8`), and types no command or event reaches as well.
        case checking
    }

    /// The introspection QEMU would serve for `schema`, derived the way QEMU's generator derives
    /// it, or the richer model that checks use (see ``DerivationForm``).
    ///
    /// QEMU names types and decides what is used while generating C, before any configuration
    /// is known; a part whose condition the build lacks is left out only when the program runs.
    /// So with `definedSymbols` the derivation walks every part first and then drops those whose
    /// condition does not hold, numbering as QEMU does (a dropped type leaves a gap). Without
    /// `definedSymbols` every conditional part is kept.
    public init(deriving schema: QAPISchema, definedSymbols: Set<String>? = nil, form: DerivationForm = .served) {
        var derivation = IntrospectionDerivation(schema: schema, symbols: definedSymbols, form: form)
        let entries = derivation.run()
        self.init(
            entries: entries,
            sourceNames: Dictionary(derivation.maskedNames.map { ($1, $0) }, uniquingKeysWith: { first, _ in first }),
            knowsIntegerWidths: form == .checking,
            commandsTakingExtraArguments: Set(schema.commands.values.filter { !$0.isGenerated }.map(\.name))
        )
    }
}

/// One walk of a source schema that produces its introspection.
private struct IntrospectionDerivation {
    let schema: QAPISchema
    let symbols: Set<String>?
    let form: QAPIIntrospection.DerivationForm
    /// Source name → the number QEMU shows instead, in the order first used.
    var maskedNames: [String: String] = [:]
    /// Types to list, in the order first used; QEMU lists them after commands and events.
    var used: [String] = []
    var isUsed: Set<String> = []

    /// The object type of a command without arguments or return value, and of a union's
    /// branch for a tag value that has none; QEMU's name for it.
    static let emptyObject = "q_empty"

    init(schema: QAPISchema, symbols: Set<String>?, form: QAPIIntrospection.DerivationForm) {
        self.schema = schema
        self.symbols = symbols
        self.form = form
    }

    func holds(_ condition: QAPICondition?) -> Bool {
        guard let condition, let symbols else { return true }
        return condition.isSatisfied(by: symbols)
    }

    func features(_ features: [QAPIFeature]) -> [String] {
        features.filter { holds($0.condition) }.map(\.name)
    }

    mutating func run() -> [QAPISchemaInfo] {
        var entries: [QAPISchemaInfo] = []
        // QEMU visits module by module, in the order modules are first included, and within a
        // module in definition order.
        let fileRank = Dictionary(schema.files.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        func rank(_ reference: QAPIEntityReference) -> Int? {
            let location: QAPISourceLocation?
            switch reference {
            case .command(let name): location = schema.commands[name]?.location
            case .event(let name): location = schema.events[name]?.location
            case .type: location = nil
            }
            return location.map { fileRank[$0.file] ?? Int.max }
        }
        let definitions = schema.definitionOrder.enumerated()
            .compactMap { index, reference in rank(reference).map { (file: $0, index: index, reference: reference) } }
            .sorted { ($0.file, $0.index) < ($1.file, $1.index) }
            .map(\.reference)
        for reference in definitions {
            switch reference {
            case .command(let name):
                let command = schema.commands[name]!
                let argumentType = use(command.argumentType ?? Self.emptyObject)
                let returnType = use(command.returnType ?? Self.emptyObject)
                guard holds(command.condition) else { continue }
                let metaType = QAPISchemaInfo.MetaType.command(
                    argumentType: argumentType,
                    returnType: returnType,
                    allowsOutOfBand: command.allowsOutOfBand
                )
                entries.append(QAPISchemaInfo(name: name, metaType: metaType, features: features(command.features)))
            case .event(let name):
                let event = schema.events[name]!
                let dataType = use(event.dataType ?? Self.emptyObject)
                guard holds(event.condition) else { continue }
                let metaType = QAPISchemaInfo.MetaType.event(argumentType: dataType)
                entries.append(QAPISchemaInfo(name: name, metaType: metaType, features: features(event.features)))
            case .type:
                continue
            }
        }
        if form == .checking {
            for name in schema.types.keys.sorted() { _ = use(name) }
        }
        var index = 0
        while index < used.count {
            if let entry = entry(for: used[index]) { entries.append(entry) }
            index += 1
        }
        return entries
    }

    /// Notes that `name` is used and returns the name introspection shows for it.
    mutating func use(_ name: String) -> String {
        var name = name
        if form == .served {
            if case .builtin(let builtin)? = schema.types[name]?.kind, builtin.integerRange != nil {
                name = QAPIBuiltinType.int.rawValue
            } else if let element = arrayElement(of: name), case .builtin(let builtin)? = schema.types[element]?.kind,
                builtin.integerRange != nil
            {
                name = "[\(QAPIBuiltinType.int.rawValue)]"
            }
        }
        if isUsed.insert(name).inserted { used.append(name) }
        if let element = arrayElement(of: name) { return "[\(use(element))]" }
        if case .builtin? = schema.types[name]?.kind { return name }
        return masked(name)
    }

    mutating func masked(_ name: String) -> String {
        guard form == .served else { return name }
        if let number = maskedNames[name] { return number }
        let number = String(maskedNames.count)
        maskedNames[name] = number
        return number
    }

    mutating func entry(for name: String) -> QAPISchemaInfo? {
        if let element = arrayElement(of: name) {
            let elementType = use(element)
            // An array exists where its element type does.
            if let type = schema.types[element], !holds(type.condition) { return nil }
            return QAPISchemaInfo(name: "[\(elementType)]", metaType: .array(elementType: elementType))
        }
        if name == Self.emptyObject, schema.types[name] == nil {
            return QAPISchemaInfo(name: masked(name), metaType: .object(members: [], tag: nil, variants: []))
        }
        guard let type = schema.types[name] else { return nil }
        let metaType: QAPISchemaInfo.MetaType
        switch type.kind {
        case .builtin(let builtin):
            return QAPISchemaInfo(name: name, metaType: .builtin(jsonType: builtin.jsonType))
        case .enumeration(let enumeration):
            let values = enumeration.values.filter { holds($0.condition) }
            metaType = .enumeration(
                members: values.map { .init(name: $0.name, features: features($0.features)) },
                values: values.map(\.name)
            )
        case .array:
            return nil
        case .object(let object):
            var members: [QAPISchemaInfo.ObjectMember] = []
            for member in object.members {
                let memberType = use(member.type)
                guard holds(member.condition) else { continue }
                members.append(
                    .init(
                        name: member.name,
                        type: memberType,
                        defaultValue: member.isOptional ? .null : nil,
                        features: features(member.features)
                    )
                )
            }
            var tag: String?
            var variants: [QAPISchemaInfo.Variant] = []
            if let sourceVariants = object.variants {
                tag = sourceVariants.tagMember
                var branches = sourceVariants.variants.map { (name: $0.name, type: $0.type, condition: $0.condition) }
                // Tag values the union gives no branch select the empty object.
                for value in schema.enumType(named: sourceVariants.tagType)?.values ?? []
                where sourceVariants.variant(forTag: value.name) == nil {
                    branches.append((value.name, Self.emptyObject, value.condition))
                }
                for branch in branches {
                    let branchType = use(branch.type)
                    if holds(branch.condition) { variants.append(.init(tagValue: branch.name, type: branchType)) }
                }
            }
            metaType = .object(members: members, tag: tag, variants: variants)
        case .alternate(let alternate):
            var branchTypes: [String] = []
            for branch in alternate.branches {
                let branchType = use(branch.type)
                if holds(branch.condition) { branchTypes.append(branchType) }
            }
            metaType = .alternate(memberTypes: branchTypes)
        }
        let introspectedName = masked(name)
        guard holds(type.condition) else { return nil }
        return QAPISchemaInfo(name: introspectedName, metaType: metaType, features: features(type.features))
    }
}

/// The element type's name in an array type's name: `[T]` → `T`; `nil` for other names.
func arrayElement(of name: String) -> String? {
    guard name.hasPrefix("["), name.hasSuffix("]") else { return nil }
    return String(name.dropFirst().dropLast())
}
