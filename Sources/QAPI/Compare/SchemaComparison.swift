import QMPCore

/// One structural difference between a source schema and a build's introspection.
///
/// `path` starts at a command or event name and follows the structure: `blockdev-add.arguments`,
/// `query-block.returns[].inserted`, `blockdev-add.arguments(driver=file).filename`,
/// `SHUTDOWN.data.reason`. Each type pair is compared once, so a difference inside a type shared
/// by several commands is reported at the first path that reaches it.
public struct QAPISchemaDifference: Sendable, Hashable, CustomStringConvertible {
    /// Where the difference is, from the command or event down.
    public var path: String
    /// What differs.
    public var message: String
    /// The build condition of the part that is missing from the introspection, when the
    /// comparison ran without a symbol set: a build without that configuration lacks the part,
    /// so the difference is expected for such a build.
    public var explainingCondition: QAPICondition?

    /// A difference at `path`.
    public init(path: String, message: String, explainingCondition: QAPICondition? = nil) {
        self.path = path
        self.message = message
        self.explainingCondition = explainingCondition
    }

    /// Whether a build condition accounts for the difference.
    public var isExplainedByCondition: Bool { explainingCondition != nil }

    /// `path: message`, with `(if CONDITION)` appended when a condition explains it.
    public var description: String {
        "\(path): \(message)" + (explainingCondition.map { " (if \($0))" } ?? "")
    }
}

/// The result of comparing a source schema with a `query-qmp-schema` answer.
public struct QAPISchemaComparison: Sendable {
    /// Every difference found, in command/event name order.
    public var differences: [QAPISchemaDifference]
    /// Commands present on both sides (whatever their differences).
    public var matchedCommands: [String]
    /// Events present on both sides.
    public var matchedEvents: [String]

    /// Differences no build condition accounts for.
    public var unexplainedDifferences: [QAPISchemaDifference] { differences.filter { !$0.isExplainedByCondition } }
    /// Differences a build condition accounts for.
    public var explainedDifferences: [QAPISchemaDifference] { differences.filter(\.isExplainedByCondition) }
    /// True when the only differences are those conditions explain.
    public var matches: Bool { unexplainedDifferences.isEmpty }
}

extension QAPIIntrospection {
    /// Compares this introspection with a resolved source schema, structurally.
    ///
    /// Commands and events are matched by name; from there the comparison walks argument,
    /// return and data types side by side, ignoring the masked type names: built-ins by JSON
    /// type (all integer widths are `int` in introspection), enumerations by value set, arrays
    /// by element, objects by member name, optionality, features, tag and variants (base
    /// members are flattened on both sides), alternates by the JSON type of each branch.
    ///
    /// Introspection lists only what the build has, so parts of the source that carry an `if`
    /// condition may be missing. With `definedSymbols` (the build's configuration, e.g.
    /// `["TARGET_I386", "CONFIG_KVM", "CONFIG_LINUX", …]`), a conditional part is expected
    /// exactly when its condition holds, and any mismatch is a difference. Without it, a missing
    /// conditional part is reported as a difference that its condition explains.
    public func compare(with schema: QAPISchema, definedSymbols: Set<String>? = nil) -> QAPISchemaComparison {
        var comparator = SchemaComparator(source: schema, introspection: self, symbols: definedSymbols)
        comparator.run()
        return QAPISchemaComparison(
            differences: comparator.differences,
            matchedCommands: comparator.matchedCommands,
            matchedEvents: comparator.matchedEvents
        )
    }
}

private struct SchemaComparator {
    let source: QAPISchema
    let introspection: QAPIIntrospection
    let symbols: Set<String>?
    var differences: [QAPISchemaDifference] = []
    var matchedCommands: [String] = []
    var matchedEvents: [String] = []
    var visited: Set<String> = []

    init(source: QAPISchema, introspection: QAPIIntrospection, symbols: Set<String>?) {
        self.source = source
        self.introspection = introspection
        self.symbols = symbols
    }

    enum Absence {
        /// The build is not expected to have it.
        case expected
        case explained(QAPICondition)
        case unexplained
    }

    /// How to judge a source part with `condition` that the introspection lacks.
    func absence(_ condition: QAPICondition?) -> Absence {
        guard let condition else { return .unexplained }
        guard let symbols else { return .explained(condition) }
        return condition.isSatisfied(by: symbols) ? .unexplained : .expected
    }

    /// Whether a source part with `condition` should appear in the build (unknown: yes).
    func isExpected(_ condition: QAPICondition?) -> Bool {
        guard let condition, let symbols else { return true }
        return condition.isSatisfied(by: symbols)
    }

    mutating func report(_ path: String, _ message: String, explainedBy condition: QAPICondition? = nil) {
        differences.append(QAPISchemaDifference(path: path, message: message, explainingCondition: condition))
    }

    mutating func missing(_ path: String, _ message: String, condition: QAPICondition?) {
        switch absence(condition) {
        case .expected: return
        case .explained(let condition): report(path, message, explainedBy: condition)
        case .unexplained: report(path, message + (condition.map { " although its condition \($0) holds" } ?? ""))
        }
    }

    mutating func run() {
        let introCommands = introspection.commands
        for name in Set(introCommands.keys).union(source.commands.keys).sorted() {
            switch (source.commands[name], introCommands[name]) {
            case (let command?, let info?):
                matchedCommands.append(name)
                if !isExpected(command.condition) {
                    report(name, "command is present although its condition \(command.condition!) does not hold")
                }
                compareCommand(command, info)
            case (nil, _?):
                report(name, "command is in the introspection but not in the source schema")
            case (let command?, nil):
                missing(name, "command is missing from the introspection", condition: command.condition)
            case (nil, nil):
                break
            }
        }
        let introEvents = introspection.events
        for name in Set(introEvents.keys).union(source.events.keys).sorted() {
            switch (source.events[name], introEvents[name]) {
            case (let event?, let info?):
                matchedEvents.append(name)
                if !isExpected(event.condition) {
                    report(name, "event is present although its condition \(event.condition!) does not hold")
                }
                guard case .event(let argumentType) = info.metaType else { continue }
                compareFeatures(event.features, info.features, path: name)
                compareTypeOrEmpty(event.dataType, argumentType, path: "\(name).data")
            case (nil, _?):
                report(name, "event is in the introspection but not in the source schema")
            case (let event?, nil):
                missing(name, "event is missing from the introspection", condition: event.condition)
            case (nil, nil):
                break
            }
        }
    }

    mutating func compareCommand(_ command: QAPICommand, _ info: QAPISchemaInfo) {
        guard case .command(let argumentType, let returnType, let allowsOutOfBand) = info.metaType else { return }
        let name = command.name
        if command.allowsOutOfBand != allowsOutOfBand {
            report(
                name,
                "allow-oob is \(command.allowsOutOfBand) in the source but \(allowsOutOfBand) in the introspection"
            )
        }
        compareFeatures(command.features, info.features, path: name)
        compareTypeOrEmpty(command.argumentType, argumentType, path: "\(name).arguments")
        compareTypeOrEmpty(command.returnType, returnType, path: "\(name).returns")
    }

    /// A source side of `nil` (no arguments / no return value) matches an empty object.
    mutating func compareTypeOrEmpty(_ sourceType: String?, _ introType: String, path: String) {
        if let sourceType {
            compareType(sourceType, introType, path: path)
            return
        }
        guard let info = introspection.entry(named: introType) else {
            report(path, "introspection type '\(introType)' is not listed")
            return
        }
        guard case .object(let members, _, _) = info.metaType, members.isEmpty else {
            report(path, "the source has none, the introspection has \(summary(info))")
            return
        }
    }

    func summary(_ info: QAPISchemaInfo) -> String {
        switch info.metaType {
        case .object(let members, _, _):
            members.isEmpty
                ? "an empty object" : "an object with members \(members.map(\.name).joined(separator: ", "))"
        case .builtin(let jsonType): "the built-in type \(info.name) (\(jsonType))"
        default: "a \(info.metaType.kind)"
        }
    }

    mutating func compareFeatures(_ sourceFeatures: [QAPIFeature], _ introFeatures: [String], path: String) {
        for feature in sourceFeatures where !introFeatures.contains(feature.name) {
            missing(path, "feature '\(feature.name)' is missing from the introspection", condition: feature.condition)
        }
        for feature in introFeatures where !sourceFeatures.contains(feature) {
            report(path, "feature '\(feature)' is in the introspection but not in the source")
        }
    }

    mutating func compareType(_ sourceName: String, _ introName: String, path: String) {
        guard visited.insert(sourceName + "\u{0}" + introName).inserted else { return }
        guard let type = source.types[sourceName] else {
            report(path, "source type '\(sourceName)' is not defined")
            return
        }
        guard let info = introspection.entry(named: introName) else {
            report(path, "introspection type '\(introName)' is not listed")
            return
        }
        switch (type.kind, info.metaType) {
        case (.builtin(let builtin), .builtin(let jsonType)):
            if builtin.jsonType != jsonType {
                report(
                    path,
                    "built-in '\(builtin.rawValue)' (\(builtin.jsonType)) in the source, '\(info.name)' (\(jsonType)) in the introspection"
                )
            }
        case (.enumeration(let enumeration), .enumeration(let members, _)):
            for value in enumeration.values {
                guard let member = members.first(where: { $0.name == value.name }) else {
                    missing(
                        path,
                        "enum value '\(value.name)' is missing from the introspection",
                        condition: value.condition
                    )
                    continue
                }
                compareFeatures(value.features, member.features, path: "\(path)='\(value.name)'")
            }
            for member in members where enumeration.value(named: member.name) == nil {
                report(path, "enum value '\(member.name)' is in the introspection but not in the source")
            }
        case (.array(let element), .array(let elementType)):
            compareType(element, elementType, path: path + "[]")
        case (.object(let object), .object(let members, let tag, let variants)):
            compareFeatures(type.features, info.features, path: path)
            compareObject(object, members: members, tag: tag, variants: variants, path: path)
        case (.alternate(let alternate), .alternate(let memberTypes)):
            compareAlternate(alternate, memberTypes, path: path)
        default:
            report(
                path,
                "'\(sourceName)' is \(type.metaType == .enumeration ? "an" : "a") \(type.metaType) in the source, but \(summary(info)) in the introspection"
            )
        }
    }

    mutating func compareObject(
        _ object: QAPIObjectType,
        members: [QAPISchemaInfo.ObjectMember],
        tag: String?,
        variants: [QAPISchemaInfo.Variant],
        path: String
    ) {
        for member in object.members {
            let memberPath = "\(path).\(member.name)"
            guard let introMember = members.first(where: { $0.name == member.name }) else {
                missing(memberPath, "member is missing from the introspection", condition: member.condition)
                continue
            }
            if !isExpected(member.condition) {
                report(memberPath, "member is present although its condition \(member.condition!) does not hold")
            }
            if member.isOptional != introMember.isOptional {
                report(
                    memberPath,
                    member.isOptional
                        ? "optional in the source, mandatory in the introspection"
                        : "mandatory in the source, optional in the introspection"
                )
            }
            compareFeatures(member.features, introMember.features, path: memberPath)
            compareType(member.type, introMember.type, path: memberPath)
        }
        for introMember in members where object.member(named: introMember.name) == nil {
            report("\(path).\(introMember.name)", "member is in the introspection but not in the source")
        }
        switch (object.variants, tag) {
        case (nil, nil):
            return
        case (let sourceVariants?, let tag?):
            if sourceVariants.tagMember != tag {
                report(path, "tag is '\(sourceVariants.tagMember)' in the source but '\(tag)' in the introspection")
            }
            for variant in sourceVariants.variants {
                let variantPath = "\(path)(\(sourceVariants.tagMember)=\(variant.name))"
                guard let introVariant = variants.first(where: { $0.tagValue == variant.name }) else {
                    missing(variantPath, "variant is missing from the introspection", condition: variant.condition)
                    continue
                }
                compareType(variant.type, introVariant.type, path: variantPath)
            }
            for introVariant in variants where sourceVariants.variant(forTag: introVariant.tagValue) == nil {
                // QEMU lists every tag value as a variant; those the source gives no branch
                // point to an empty object.
                if source.enumType(named: sourceVariants.tagType)?.value(named: introVariant.tagValue) != nil,
                    case .object(let members, nil, _)? = introspection.entry(named: introVariant.type)?.metaType,
                    members.isEmpty
                {
                    continue
                }
                report(
                    "\(path)(\(tag)=\(introVariant.tagValue))",
                    "variant is in the introspection but not in the source"
                )
            }
        case (_?, nil):
            report(path, "a union in the source, a plain object in the introspection")
        case (nil, _?):
            report(path, "a plain object in the source, a union in the introspection")
        }
    }

    mutating func compareAlternate(_ alternate: QAPIAlternateType, _ memberTypes: [String], path: String) {
        var unmatched = memberTypes
        for branch in alternate.branches {
            // Branches pair up by the kinds they take, as values choose them.
            let kinds = source.acceptedKinds(of: branch.type)
            let index = unmatched.firstIndex { !introspection.acceptedKinds(of: $0).isDisjoint(with: kinds) }
            guard let index else {
                missing(
                    "\(path)|\(branch.name)",
                    "alternate branch is missing from the introspection",
                    condition: branch.condition
                )
                continue
            }
            compareType(branch.type, unmatched.remove(at: index), path: "\(path)|\(branch.name)")
        }
        for type in unmatched {
            report(path, "alternate branch of type '\(type)' is in the introspection but not in the source")
        }
    }
}
