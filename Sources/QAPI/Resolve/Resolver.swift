import QMPCore

extension QAPISchema {
    /// Resolves parsed expressions into a schema.
    ///
    /// Checks every definition's shape (known keys, value kinds), that every referenced type
    /// exists, that names are defined once, that bases are structs without cycles and without
    /// member clashes, that a union's discriminator is a mandatory enum member of its base
    /// and each branch is a value of that enum and an object type, that an alternate's
    /// branches are told apart by JSON type, and that command arguments and event data are
    /// objects. The result's ``diagnostics`` hold those of `source` and its own, sorted by location.
    ///
    /// Older spellings are read as what they meant: `'type'` for `'struct'` (QEMU 1.x), a
    /// union without `'discriminator'` as a simple union (tag member `type`, each branch
    /// wrapped in a `data` member), a union with `'discriminator': {}` as an alternate
    /// (QEMU 1.7–2.4), a flat union tagged by a `str` member (QEMU 1.7–2.0), `'gen': 'no'`
    /// and `'success-response': 'no'`, anonymous objects as member types (QEMU 1.0–1.x), and
    /// conditions written as C preprocessor text.
    ///
    /// QEMU's own rules for names, keys, flags, conditions, pragmas and clashes are checked too,
    /// in QEMU's words. Those that older releases' schemas break (``QAPIRelaxedRule``) are
    /// reported only when `strict`.
    public static func resolve(_ source: QAPISchemaSource, strict: Bool = false) -> QAPISchema {
        var resolver = Resolver()
        resolver.diagnostics = source.diagnostics + ExpressionRules.check(source.expressions)
        for expression in source.expressions {
            resolver.define(expression)
        }
        resolver.finish()
        resolver.diagnostics = QEMUReporting.place(
            resolver.diagnostics.filter { strict || $0.relaxedRule == nil },
            in: source
        )
        return QAPISchema(
            types: resolver.types,
            commands: resolver.commands,
            events: resolver.events,
            definitionOrder: resolver.order,
            pragmas: resolver.pragmas,
            files: source.files,
            diagnostics: resolver.diagnostics
        )
    }
}

private let metaKeywords = ["struct", "type", "enum", "union", "alternate", "command", "event", "pragma", "include"]

/// Pseudo-types of QEMU 1.x–2.4 commands with hand-written marshalling, from before `any`
/// existed (2.5): `'visitor'` (any value, `qom-get`/`qom-set`), `'**'` (free-form extra
/// arguments, `device_add`/`netdev_add`) and `'dict'` (an object, `object-add`). All read as
/// `any`.
let legacyTypeAliases: [String: String] = ["visitor": "any", "**": "any", "dict": "any"]

/// A type reference met while reading definitions, checked once everything is defined.
private struct Reference {
    var name: String
    var location: QAPISourceLocation
    /// What refers to it, as QEMU words it: `member 'x'`, `'base'`, `command's 'data'`.
    var what: String
}

/// Members declared directly by an object, before its base is merged in.
private struct PendingObject {
    var base: String?
    var baseLocation: QAPISourceLocation?
    var ownMembers: [QAPIMember]
    var union: PendingUnion?
}

private struct PendingUnion {
    /// `nil` for a simple union.
    var discriminator: String?
    var discriminatorLocation: QAPISourceLocation
    var branches: [QAPIVariant]
}

private struct Resolver {
    var types: [String: QAPIType] = [:]
    var commands: [String: QAPICommand] = [:]
    var events: [String: QAPIEvent] = [:]
    var order: [QAPIEntityReference] = []
    var pragmas: [String: QAPINode] = [:]
    var diagnostics: [QAPIDiagnostic] = []

    /// Where each name was defined, across all namespaces (QAPI has one namespace).
    var definedAt: [String: QAPISourceLocation] = [:]
    var references: [Reference] = []
    var pendingObjects: [String: PendingObject] = [:]
    var pendingObjectOrder: [String] = []
    var alternates: [String] = []

    init() {
        for builtin in QAPIBuiltinType.allCases {
            types[builtin.rawValue] = QAPIType(name: builtin.rawValue, kind: .builtin(builtin))
        }
    }

    /// Every object's members with its base's, once flattened.
    var flattenedByName: [String: [QAPIMember]] = [:]

    mutating func error(_ message: String, at location: QAPISourceLocation, _ rule: QAPIRelaxedRule? = nil) {
        diagnostics.append(QAPIDiagnostic(message, at: location, relaxedRule: rule))
    }

    // MARK: Pass 1: read definitions

    mutating func define(_ expression: QAPIExpression) {
        let keywords = metaKeywords.filter { expression[$0] != nil }
        guard let keyword = keywords.first, keywords.count == 1 else {
            error(
                "expression must have exactly one key 'enum', 'struct', 'union', 'alternate', 'command', 'event'",
                at: expression.location
            )
            return
        }
        if keyword == "pragma" {
            definePragma(expression)
            return
        }
        guard let nameNode = expression[keyword], let name = nameNode.stringValue else {
            error("'\(keyword)' requires a string name", at: expression[keyword]?.location ?? expression.location)
            return
        }
        let condition = readCondition(expression["if"])
        let features = readFeatures(expression["features"])
        switch keyword {
        case "struct", "type":
            defineStruct(name, expression, condition: condition, features: features)
        case "enum":
            defineEnum(name, expression, condition: condition, features: features)
        case "union":
            defineUnion(name, expression, condition: condition, features: features)
        case "alternate":
            guard let data = require("data", of: expression, kind: keyword, name: name) else { return }
            defineAlternate(name, data: data, location: nameNode.location, condition: condition, features: features)
        case "command":
            defineCommand(name, expression, condition: condition, features: features)
        case "event":
            defineEvent(name, expression, condition: condition, features: features)
        default:
            break
        }
    }

    /// Keeps the pragmas; ``ExpressionRules`` checks them.
    mutating func definePragma(_ expression: QAPIExpression) {
        guard let body = expression["pragma"], let members = body.members else { return }
        for member in members {
            pragmas[member.key] = member.value
        }
    }

    mutating func require(_ key: String, of expression: QAPIExpression, kind: String, name: String) -> QAPINode? {
        // ExpressionRules reports a missing key.
        expression[key]
    }

    /// Claims `name` in the global namespace. False (with a diagnostic) if it is taken.
    mutating func claim(_ name: String, at location: QAPISourceLocation) -> Bool {
        if let previous = definedAt[name] {
            let where_ = previousMeta(name).map { "\(previous.file): In \($0) '\(name)':\n" } ?? ""
            error(
                "'\(name)' is already defined\n\(where_)\(previous.file):\(previous.line): previous definition",
                at: location
            )
            return false
        }
        if types[name] != nil {
            error("'\(name)' is the name of a built-in type", at: location)
            return false
        }
        definedAt[name] = location
        return true
    }

    /// What the definition already called `name` is, as QEMU names it (`struct`, `command`).
    func previousMeta(_ name: String) -> String? {
        if commands[name] != nil { return "command" }
        if events[name] != nil { return "event" }
        guard let type = types[name], !type.isImplicit else { return nil }
        switch type.kind {
        case .enumeration: return "enum"
        case .alternate: return "alternate"
        case .object: return pendingObjects[name]?.union != nil ? "union" : "struct"
        case .builtin, .array: return nil
        }
    }

    mutating func addType(_ type: QAPIType, at location: QAPISourceLocation) -> Bool {
        guard claim(type.name, at: location) else { return false }
        types[type.name] = type
        if !type.isImplicit { order.append(.type(type.name)) }
        return true
    }

    mutating func addObject(
        _ name: String,
        location: QAPISourceLocation,
        condition: QAPICondition?,
        features: [QAPIFeature],
        implicit: Bool,
        pending: PendingObject
    ) {
        let type = QAPIType(
            name: name,
            kind: .object(QAPIObjectType(base: pending.base)),
            location: location,
            condition: condition,
            features: features,
            isImplicit: implicit
        )
        guard addType(type, at: location) else { return }
        pendingObjects[name] = pending
        pendingObjectOrder.append(name)
    }

    // MARK: Pieces

    mutating func readBool(
        _ node: QAPINode?,
        key: String,
        default defaultValue: Bool,
        legacyStrings: Bool = false
    ) -> Bool {
        guard let node else { return defaultValue }
        if let bool = node.boolValue { return bool }
        if legacyStrings, let string = node.stringValue {
            switch string {
            case "yes", "true": return true
            case "no", "false": return false
            default: break
            }
        }
        // ExpressionRules words the refusal as QEMU does.
        return defaultValue
    }

    mutating func readCondition(_ node: QAPINode?) -> QAPICondition? {
        guard let node else { return nil }
        switch node.value {
        case .string(let text):
            if let condition = QAPICondition(preprocessorExpression: text) { return condition }
            error("cannot read condition '\(text)'", at: node.location)
            return nil
        case .array(let elements):
            // The older list form: every condition must hold.
            let operands = elements.compactMap { readCondition($0) }
            if elements.isEmpty {
                error("condition list is empty", at: node.location)
                return nil
            }
            return operands.count == 1 ? operands[0] : .all(operands)
        case .object(let members):
            guard members.count == 1, let member = members.first else {
                error("condition object must have exactly one of 'all', 'any', 'not'", at: node.location)
                return nil
            }
            switch member.key {
            case "all", "any":
                guard let elements = member.value.arrayValue, !elements.isEmpty else {
                    error("'\(member.key)' expects a non-empty list of conditions", at: member.value.location)
                    return nil
                }
                let operands = elements.compactMap { readCondition($0) }
                guard operands.count == elements.count else { return nil }
                return member.key == "all" ? .all(operands) : .any(operands)
            case "not":
                return readCondition(member.value).map { .not($0) }
            default:
                error("unknown condition operator '\(member.key)'", at: member.keyLocation)
                return nil
            }
        case .bool:
            error("condition must be a string, a list or an object, not a boolean", at: node.location)
            return nil
        }
    }

    mutating func readFeatures(_ node: QAPINode?) -> [QAPIFeature] {
        guard let node else { return [] }
        guard let elements = node.arrayValue else {
            error("'features' must be a list", at: node.location)
            return []
        }
        var features: [QAPIFeature] = []
        for element in elements {
            let feature: QAPIFeature
            switch element.value {
            case .string(let name):
                feature = QAPIFeature(name: name)
            case .object:
                guard let name = element["name"]?.stringValue else {
                    error("feature needs a 'name' string", at: element.location)
                    continue
                }
                feature = QAPIFeature(name: name, condition: readCondition(element["if"]))
            default:
                error("feature must be a name or an object, not \(element.kindName)", at: element.location)
                continue
            }
            if let other = features.first(where: { QAPINames.cName($0.name) == QAPINames.cName(feature.name) }) {
                error("feature '\(feature.name)' collides with feature '\(other.name)'", at: element.location)
                continue
            }
            features.append(feature)
        }
        return features
    }

    /// Reads a type reference: `'Name'` or `['Name']`. Returns the type's name (`[Name]` for
    /// an array) and records the reference for checking.
    mutating func readTypeReference(_ node: QAPINode, what: String) -> String? {
        switch node.value {
        case .string(let written):
            let name = legacyTypeAliases[written] ?? written
            references.append(Reference(name: name, location: node.location, what: what))
            return name
        case .array(let elements):
            guard elements.count == 1, let written = elements[0].stringValue else {
                error("an array type is written as a list holding one type name", at: node.location)
                return nil
            }
            let name = "[\(legacyTypeAliases[written] ?? written)]"
            references.append(Reference(name: name, location: node.location, what: what))
            return name
        default:
            error("expected a type name, found \(node.kindName)", at: node.location)
            return nil
        }
    }

    /// Reads a member list (`'data'` of a struct, a command, an event, or an inline base).
    mutating func readMembers(_ node: QAPINode, owner: String) -> [QAPIMember] {
        guard let entries = node.members else {
            error("members must be given as an object, not \(node.kindName)", at: node.location)
            return []
        }
        var members: [QAPIMember] = []
        for entry in entries {
            var name = entry.key
            let isOptional = name.hasPrefix("*")
            if isOptional { name.removeFirst() }
            if name.isEmpty {
                error("member name is empty", at: entry.keyLocation)
                continue
            }
            if let other = members.first(where: { QAPINames.cName($0.name) == QAPINames.cName(name) }) {
                error(
                    "\(describeMember(name, of: owner)) collides with \(describeMember(other.name, of: owner))",
                    at: entry.keyLocation
                )
                continue
            }
            var condition: QAPICondition?
            var features: [QAPIFeature] = []
            var defaultValue: QAPINode?
            let typeName: String?
            let value = entry.value
            if value.members != nil, let typeNode = value["type"] {
                typeName = readTypeReference(typeNode, what: describeMember(name, of: owner))
                condition = readCondition(value["if"])
                features = readFeatures(value["features"])
                defaultValue = value["default"]
            } else if value.members != nil {
                // An anonymous object (QEMU 1.x): an implicit struct of its own. (Told apart
                // from the long form by the absence of 'type'.)
                let implicitName = "q_obj_\(owner)-\(name)"
                let nested = readMembers(value, owner: implicitName)
                addObject(
                    implicitName,
                    location: value.location,
                    condition: nil,
                    features: [],
                    implicit: true,
                    pending: PendingObject(base: nil, ownMembers: nested, union: nil)
                )
                typeName = implicitName
            } else {
                typeName = readTypeReference(value, what: describeMember(name, of: owner))
            }
            guard let typeName else { continue }
            members.append(
                QAPIMember(
                    name: name,
                    type: typeName,
                    isOptional: isOptional,
                    condition: condition,
                    features: features,
                    defaultValue: defaultValue,
                    location: entry.keyLocation,
                    definedIn: owner
                )
            )
        }
        return members
    }

    /// Reads branches: `'name': 'Type'`, `'name': ['Type']` or `'name': {'type': …, 'if': …}`.
    mutating func readBranches(_ node: QAPINode, owner: String) -> [QAPIVariant] {
        guard let entries = node.members else {
            error("branches of '\(owner)' must be given as an object, not \(node.kindName)", at: node.location)
            return []
        }
        var branches: [QAPIVariant] = []
        for entry in entries {
            var condition: QAPICondition?
            let typeName: String?
            if entry.value.members != nil {
                // ExpressionRules reports the missing key.
                guard let typeNode = entry.value["type"] else { continue }
                typeName = readTypeReference(typeNode, what: "branch '\(entry.key)'")
                condition = readCondition(entry.value["if"])
            } else {
                typeName = readTypeReference(entry.value, what: "branch '\(entry.key)'")
            }
            guard let typeName else { continue }
            branches.append(
                QAPIVariant(name: entry.key, type: typeName, condition: condition, location: entry.keyLocation)
            )
        }
        return branches
    }

    // MARK: Definitions

    mutating func defineStruct(
        _ name: String,
        _ expression: QAPIExpression,
        condition: QAPICondition?,
        features: [QAPIFeature]
    ) {
        let keyword = expression["struct"] != nil ? "struct" : "type"
        guard let data = require("data", of: expression, kind: keyword, name: name) else { return }
        var base: String?
        if let baseNode = expression["base"] {
            if baseNode.stringValue != nil {
                base = readTypeReference(baseNode, what: "'base'")
            }
        }
        let location = expression[keyword]!.location
        let members = readMembers(data, owner: name)
        addObject(
            name,
            location: location,
            condition: condition,
            features: features,
            implicit: false,
            pending: PendingObject(
                base: base,
                baseLocation: expression["base"]?.location,
                ownMembers: members,
                union: nil
            )
        )
    }

    mutating func defineEnum(
        _ name: String,
        _ expression: QAPIExpression,
        condition: QAPICondition?,
        features: [QAPIFeature]
    ) {
        guard let data = require("data", of: expression, kind: "enum", name: name) else { return }
        let location = expression["enum"]!.location
        guard let elements = data.arrayValue else { return }
        var values: [QAPIEnumValue] = []
        for element in elements {
            let value: QAPIEnumValue
            switch element.value {
            case .string(let valueName):
                value = QAPIEnumValue(name: valueName, location: element.location)
            case .object:
                // ExpressionRules reports a missing or bad name.
                guard let valueName = element["name"]?.stringValue else { continue }
                value = QAPIEnumValue(
                    name: valueName,
                    condition: readCondition(element["if"]),
                    features: readFeatures(element["features"]),
                    location: element.location
                )
            default:
                continue
            }
            if let other = values.first(where: { QAPINames.cName($0.name) == QAPINames.cName(value.name) }) {
                error("value '\(value.name)' collides with value '\(other.name)'", at: element.location)
                continue
            }
            values.append(value)
        }
        var prefix: String?
        if let prefixNode = expression["prefix"] {
            prefix = prefixNode.stringValue
            if prefix == nil { error("'prefix' must be a string", at: prefixNode.location) }
        }
        _ = addType(
            QAPIType(
                name: name,
                kind: .enumeration(QAPIEnumType(values: values, prefix: prefix)),
                location: location,
                condition: condition,
                features: features
            ),
            at: location
        )
    }

    mutating func defineUnion(
        _ name: String,
        _ expression: QAPIExpression,
        condition: QAPICondition?,
        features: [QAPIFeature]
    ) {
        guard let data = require("data", of: expression, kind: "union", name: name) else { return }
        let location = expression["union"]!.location
        let discriminatorNode = expression["discriminator"]

        // QEMU 1.7–2.4: an "anonymous union" is what later became an alternate.
        if let discriminatorNode, let members = discriminatorNode.members {
            if !members.isEmpty {
                error(
                    "discriminator of union '\(name)' must be a member name (or {} for an alternate)",
                    at: discriminatorNode.location
                )
            }
            if let baseNode = expression["base"] {
                error("alternate-style union '\(name)' cannot have a base", at: baseNode.location)
            }
            defineAlternate(name, data: data, location: location, condition: condition, features: features)
            return
        }

        var base: String?
        var baseMembersInline: [QAPIMember]?
        if let baseNode = expression["base"] {
            switch baseNode.value {
            case .string:
                base = readTypeReference(baseNode, what: "'base'")
            case .object:
                let implicitName = "q_obj_\(name)-base"
                baseMembersInline = readMembers(baseNode, owner: implicitName)
                addObject(
                    implicitName,
                    location: baseNode.location,
                    condition: condition,
                    features: [],
                    implicit: true,
                    pending: PendingObject(base: nil, ownMembers: baseMembersInline ?? [], union: nil)
                )
                base = implicitName
            default:
                error("base of union '\(name)' must be a type name or an object of members", at: baseNode.location)
            }
        }
        let branches = readBranches(data, owner: name)

        guard let discriminatorNode else {
            // A simple union: an implicit enum of the branch names tags it, and each branch's
            // value sits in a 'data' member of a wrapper object.
            let kindName = "\(name)Kind"
            let values = branches.map { QAPIEnumValue(name: $0.name, condition: $0.condition, location: $0.location) }
            _ = addType(
                QAPIType(
                    name: kindName,
                    kind: .enumeration(QAPIEnumType(values: values)),
                    location: location,
                    condition: condition,
                    isImplicit: true
                ),
                at: location
            )
            var wrapped: [QAPIVariant] = []
            for branch in branches {
                let wrapperName = "q_obj_\(listName(branch.type))-wrapper"
                if types[wrapperName] == nil {
                    let member = QAPIMember(
                        name: "data",
                        type: branch.type,
                        location: branch.location,
                        definedIn: wrapperName
                    )
                    addObject(
                        wrapperName,
                        location: branch.location,
                        condition: nil,
                        features: [],
                        implicit: true,
                        pending: PendingObject(base: nil, ownMembers: [member], union: nil)
                    )
                }
                wrapped.append(
                    QAPIVariant(
                        name: branch.name,
                        type: wrapperName,
                        condition: branch.condition,
                        location: branch.location
                    )
                )
            }
            let tag = QAPIMember(name: "type", type: kindName, location: location, definedIn: name)
            addObject(
                name,
                location: location,
                condition: condition,
                features: features,
                implicit: false,
                pending: PendingObject(
                    base: base,
                    baseLocation: expression["base"]?.location,
                    ownMembers: [tag],
                    union: PendingUnion(discriminator: nil, discriminatorLocation: location, branches: wrapped)
                )
            )
            return
        }
        guard let discriminator = discriminatorNode.stringValue else {
            error("discriminator of union '\(name)' must be a member name", at: discriminatorNode.location)
            return
        }
        if base == nil {
            error("union '\(name)' has a discriminator but no base", at: location)
        }
        addObject(
            name,
            location: location,
            condition: condition,
            features: features,
            implicit: false,
            pending: PendingObject(
                base: base,
                baseLocation: expression["base"]?.location,
                ownMembers: [],
                union: PendingUnion(
                    discriminator: discriminator,
                    discriminatorLocation: discriminatorNode.location,
                    branches: branches
                )
            )
        )
    }

    /// A member as QEMU names it in a message about definition `definition` (by default its
    /// owner): `member 'x'` of the definition itself, `member 'x' of type 'Base'` of another,
    /// `parameter 'x'` of a command's arguments, `base member 'x'` of a union's inline base.
    func describeMember(_ name: String, of owner: String, in definition: String? = nil) -> String {
        var role = "member"
        var meta = "type"
        var definedIn = owner
        if owner.hasPrefix("q_obj_") {
            definedIn.removeFirst("q_obj_".count)
            if definedIn.hasSuffix("-arg") {
                role = "parameter"
                meta = "command"
                definedIn.removeLast("-arg".count)
            } else if definedIn.hasSuffix("-base") {
                role = "base member"
                definedIn.removeLast("-base".count)
            }
        }
        var context = definition ?? owner
        if context.hasPrefix("q_obj_"), let dash = context.lastIndex(of: "-") {
            context = String(context[context.index(context.startIndex, offsetBy: 6)..<dash])
        }
        return definedIn == context ? "\(role) '\(name)'" : "\(role) '\(name)' of \(meta) '\(definedIn)'"
    }

    /// `T` for a plain name, `TList` for `[T]` (QEMU's C naming), for implicit type names.
    func listName(_ type: String) -> String {
        if type.hasPrefix("["), type.hasSuffix("]") { return String(type.dropFirst().dropLast()) + "List" }
        return type
    }

    mutating func defineAlternate(
        _ name: String,
        data: QAPINode,
        location: QAPISourceLocation,
        condition: QAPICondition?,
        features: [QAPIFeature]
    ) {
        let branches = readBranches(data, owner: name)
        if addType(
            QAPIType(
                name: name,
                kind: .alternate(QAPIAlternateType(branches: branches)),
                location: location,
                condition: condition,
                features: features
            ),
            at: location
        ) {
            alternates.append(name)
        }
    }

    mutating func defineCommand(
        _ name: String,
        _ expression: QAPIExpression,
        condition: QAPICondition?,
        features: [QAPIFeature]
    ) {
        let location = expression["command"]!.location
        var argumentType: String?
        if let data = expression["data"] {
            switch data.value {
            case .string:
                argumentType = readTypeReference(data, what: "command's 'data'")
            case .object(let members):
                if !members.isEmpty {
                    let implicitName = "q_obj_\(name)-arg"
                    let arguments = readMembers(data, owner: implicitName)
                    addObject(
                        implicitName,
                        location: data.location,
                        condition: condition,
                        features: [],
                        implicit: true,
                        pending: PendingObject(base: nil, ownMembers: arguments, union: nil)
                    )
                    argumentType = implicitName
                }
            default:
                error("'data' of command '\(name)' must be an object of members or a type name", at: data.location)
            }
        }
        var returnType: String?
        if let returns = expression["returns"] {
            returnType = readTypeReference(returns, what: "command's 'returns'")
        }
        let command = QAPICommand(
            name: name,
            argumentType: argumentType,
            returnType: returnType,
            isBoxed: readBool(expression["boxed"], key: "boxed", default: false),
            allowsOutOfBand: readBool(expression["allow-oob"], key: "allow-oob", default: false),
            allowsPreconfig: readBool(expression["allow-preconfig"], key: "allow-preconfig", default: false),
            isCoroutine: readBool(expression["coroutine"], key: "coroutine", default: false),
            hasSuccessResponse: readBool(
                expression["success-response"],
                key: "success-response",
                default: true,
                legacyStrings: true
            ),
            isGenerated: readBool(expression["gen"], key: "gen", default: true, legacyStrings: true),
            condition: condition,
            features: features,
            location: location
        )
        guard claim(name, at: location) else { return }
        commands[name] = command
        order.append(.command(name))
    }

    mutating func defineEvent(
        _ name: String,
        _ expression: QAPIExpression,
        condition: QAPICondition?,
        features: [QAPIFeature]
    ) {
        let location = expression["event"]!.location
        var dataType: String?
        if let data = expression["data"] {
            switch data.value {
            case .string:
                dataType = readTypeReference(data, what: "event's 'data'")
            case .object(let members):
                if !members.isEmpty {
                    let implicitName = "q_obj_\(name)-arg"
                    let dataMembers = readMembers(data, owner: implicitName)
                    addObject(
                        implicitName,
                        location: data.location,
                        condition: condition,
                        features: [],
                        implicit: true,
                        pending: PendingObject(base: nil, ownMembers: dataMembers, union: nil)
                    )
                    dataType = implicitName
                }
            default:
                error("'data' of event '\(name)' must be an object of members or a type name", at: data.location)
            }
        }
        let event = QAPIEvent(
            name: name,
            dataType: dataType,
            isBoxed: readBool(expression["boxed"], key: "boxed", default: false),
            condition: condition,
            features: features,
            location: location
        )
        guard claim(name, at: location) else { return }
        events[name] = event
        order.append(.event(name))
    }

    // MARK: Pass 2: check and complete

    mutating func finish() {
        checkReferences()
        var flattened: [String: [QAPIMember]] = [:]
        var inProgress: Set<String> = []
        for name in pendingObjectOrder {
            _ = flatten(name, into: &flattened, inProgress: &inProgress)
        }
        flattenedByName = flattened
        for name in pendingObjectOrder {
            completeObject(name, members: flattened[name] ?? [])
        }
        for name in alternates {
            checkAlternate(name)
        }
        // `deprecated` and `unstable` mark what a client uses; a type is not used by itself.
        for type in types.values where !type.isImplicit {
            for feature in type.features where ["deprecated", "unstable"].contains(feature.name) {
                error(
                    "feature '\(feature.name)' is not supported for types",
                    at: type.location ?? QAPISourceLocation(file: "", line: 1, column: 1)
                )
            }
        }
        for name in commands.keys.sorted() {
            checkCommand(commands[name]!)
        }
        for name in events.keys.sorted() {
            checkEvent(events[name]!)
        }
        diagnostics.sort { lhs, rhs in
            // By file, line and column, whichever stage found them.
            lhs.location < rhs.location
        }
    }

    mutating func checkReferences() {
        for reference in references {
            var name = reference.name
            if name.hasPrefix("["), name.hasSuffix("]") {
                let element = String(name.dropFirst().dropLast())
                if element.hasPrefix("[") {
                    error("arrays of arrays are not supported ('\(name)')", at: reference.location)
                    continue
                }
                if types[element] != nil, types[name] == nil {
                    types[name] = QAPIType(name: name, kind: .array(element: element))
                }
                name = element
            }
            if types[name] == nil {
                if commands[name] != nil || events[name] != nil {
                    error("\(reference.what) uses unknown type '\(name)'", at: reference.location)
                } else {
                    error("\(reference.what) uses unknown type '\(name)'", at: reference.location)
                }
            }
        }
    }

    /// All members of object `name`, base members first; nil when the object is broken.
    mutating func flatten(
        _ name: String,
        into flattened: inout [String: [QAPIMember]],
        inProgress: inout Set<String>
    ) -> [QAPIMember]? {
        if let done = flattened[name] { return done }
        guard let pending = pendingObjects[name] else { return nil }
        guard !inProgress.contains(name) else {
            error(
                "object \(name) contains itself",
                at: pending.baseLocation ?? types[name]?.location ?? QAPISourceLocation(file: "", line: 0, column: 0)
            )
            return nil
        }
        inProgress.insert(name)
        defer { inProgress.remove(name) }
        var members: [QAPIMember] = []
        if let base = pending.base, let baseType = types[base] {
            let location = pending.baseLocation ?? baseType.location!
            switch baseType.kind {
            case .object(let object) where pendingObjects[base]?.union == nil && object.variants == nil:
                guard let baseMembers = flatten(base, into: &flattened, inProgress: &inProgress) else { break }
                members = baseMembers
            default:
                error("'base' requires a struct type, \(describeType(base)) isn't", at: location)
            }
        }
        for member in pending.ownMembers {
            if let clash = members.first(where: { QAPINames.cName($0.name) == QAPINames.cName(member.name) }) {
                error(
                    "\(describeMember(member.name, of: member.definedIn, in: name))"
                        + " collides with \(describeMember(clash.name, of: clash.definedIn, in: name))",
                    at: member.location
                )
                continue
            }
            members.append(member)
        }
        flattened[name] = members
        return members
    }

    mutating func completeObject(_ name: String, members: [QAPIMember]) {
        guard let pending = pendingObjects[name], var type = types[name] else { return }
        var object = QAPIObjectType(base: pending.base, members: members)
        if let union = pending.union {
            object.variants = resolveVariants(union, of: name, members: members, location: type.location!)
        }
        type.kind = .object(object)
        types[name] = type
    }

    /// A type as QEMU names it in messages: `built-in type 'int'`, `union type 'U'`,
    /// `array type ['int']`.
    func describeType(_ name: String) -> String {
        guard let type = types[name] else { return "type '\(name)'" }
        switch type.kind {
        case .builtin: return "built-in type '\(name)'"
        case .enumeration: return "enum type '\(name)'"
        case .alternate: return "alternate type '\(name)'"
        case .array(let element): return "array type ['\(element)']"
        case .object:
            let isUnion = pendingObjects[name]?.union != nil
            return "\(isUnion ? "union" : "struct") type '\(name)'"
        }
    }

    mutating func resolveVariants(
        _ union: PendingUnion,
        of name: String,
        members: [QAPIMember],
        location: QAPISourceLocation
    ) -> QAPIVariants? {
        let tagName = union.discriminator ?? "type"
        guard let tag = members.first(where: { $0.name == tagName }) else {
            error("discriminator '\(tagName)' is not a member of 'base'", at: union.discriminatorLocation)
            return nil
        }
        let base = types[tag.definedIn]?.isImplicit == false ? "base type '\(tag.definedIn)'" : "'base'"
        if tag.isOptional {
            error("discriminator member '\(tagName)' of \(base) must not be optional", at: union.discriminatorLocation)
        }
        if tag.condition != nil {
            error(
                "discriminator member '\(tagName)' of \(base) must not be conditional",
                at: union.discriminatorLocation
            )
        }
        var tagType = tag.type
        var enumeration: QAPIEnumType?
        switch types[tag.type]?.kind {
        case .enumeration(let values)?:
            enumeration = values
        case .builtin(.str)? where union.discriminator != nil:
            // QEMU 1.7–2.0: a string tag; the branch names are its values.
            error(
                "discriminator member '\(tagName)' of \(base) must be of enum type",
                at: union.discriminatorLocation,
                .stringDiscriminator
            )
            tagType = "\(name)Kind"
            let values = union.branches.map {
                QAPIEnumValue(name: $0.name, condition: $0.condition, location: $0.location)
            }
            if types[tagType] == nil, claim(tagType, at: location) {
                types[tagType] = QAPIType(
                    name: tagType,
                    kind: .enumeration(QAPIEnumType(values: values)),
                    location: location,
                    isImplicit: true
                )
            }
        case nil:
            return nil
        default:
            error(
                "discriminator member '\(tagName)' of \(base) must be of enum type",
                at: union.discriminatorLocation
            )
            return nil
        }
        // Values without a branch of their own select no members; a union with no values at all
        // has nothing to hold.
        if union.branches.isEmpty, enumeration?.values.isEmpty != false {
            error("union has no branches", at: location)
        }
        var variants: [QAPIVariant] = []
        for branch in union.branches {
            if let enumeration, enumeration.value(named: branch.name) == nil {
                error("branch '\(branch.name)' is not a value of \(describeType(tagType))", at: branch.location)
                continue
            }
            if variants.contains(where: { $0.name == branch.name }) {
                continue
            }
            if let branchType = types[branch.type] {
                guard case .object = branchType.kind else {
                    error("branch '\(branch.name)' cannot use \(describeType(branch.type))", at: branch.location)
                    continue
                }
                // A branch's members join the union's: none may clash with them.
                for member in flattenedMembers(branch.type) {
                    guard let clash = members.first(where: { QAPINames.cName($0.name) == QAPINames.cName(member.name) })
                    else { continue }
                    error(
                        "\(describeMember(member.name, of: member.definedIn, in: name))"
                            + " collides with \(describeMember(clash.name, of: clash.definedIn, in: name))",
                        at: branch.location
                    )
                }
            }
            variants.append(branch)
        }
        return QAPIVariants(tagMember: tagName, tagType: tagType, variants: variants)
    }

    /// The members of object `name` once flattened (its own and its base's).
    func flattenedMembers(_ name: String) -> [QAPIMember] {
        flattenedByName[name] ?? []
    }

    /// Checks an alternate as QEMU does: a branch per kind of JSON value, where a string of a
    /// plain `str` branch could also be read as a number or a boolean (QEMU parses command-line
    /// values from strings), and so could an enum's value that looks like one.
    mutating func checkAlternate(_ name: String) {
        guard case .alternate(let alternate)? = types[name]?.kind else { return }
        var seenNames: [String: String] = [:]
        var seenKinds: [String: String] = [:]
        for branch in alternate.branches {
            let cName = QAPINames.cName(branch.name)
            if let other = seenNames[cName] {
                error("branch '\(branch.name)' collides with branch '\(other)'", at: branch.location)
                continue
            }
            seenNames[cName] = branch.name
            guard let type = types[branch.type] else { continue }
            let kind: String
            var conflicting: [String] = []
            switch type.kind {
            case .builtin(.any), .alternate:
                error("branch '\(branch.name)' cannot use \(describeType(branch.type))", at: branch.location)
                continue
            case .builtin(.str):
                kind = "string"
                conflicting = ["number", "boolean"]
            case .enumeration(let enumeration):
                kind = "string"
                if enumeration.names.contains(where: { $0 == "on" || $0 == "off" }) { conflicting.append("boolean") }
                if enumeration.names.contains(where: { $0.first.map { "-+0123456789.".contains($0) } == true }) {
                    conflicting.append("number")
                }
            case .builtin(.bool): kind = "boolean"
            case .builtin(.null): kind = "null"
            case .builtin: kind = "number"
            case .array: kind = "array"
            case .object: kind = "object"
            }
            for shared in [kind] + conflicting {
                if let other = seenKinds[shared] {
                    error("branch '\(branch.name)' can't be distinguished from '\(other)'", at: branch.location)
                    break
                }
            }
            for shared in [kind] + conflicting where seenKinds[shared] == nil {
                seenKinds[shared] = branch.name
            }
        }
    }

    mutating func checkCommand(_ command: QAPICommand) {
        checkArguments(command.argumentType, of: "command", isBoxed: command.isBoxed, at: command.location)
        if let returnType = command.returnType, let type = types[returnType] {
            var returned = type
            if case .array(let element) = type.kind, let elementType = types[element] { returned = elementType }
            if case .object = returned.kind {
            } else if !returnsExceptions.contains(command.name) {
                error(
                    "command's 'returns' cannot take \(describeType(returnType))",
                    at: command.location,
                    .commandReturns
                )
            }
        }
    }

    /// Commands the pragmas allow to return something other than objects.
    var returnsExceptions: Set<String> {
        var names: Set<String> = []
        for key in ["command-returns-exceptions", "returns-whitelist"] {
            names.formUnion(pragmas[key]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
        return names
    }

    mutating func checkEvent(_ event: QAPIEvent) {
        checkArguments(event.dataType, of: "event", isBoxed: event.isBoxed, at: event.location)
    }

    /// A command's arguments or an event's data: an object, a union only when boxed, and
    /// conditional members only when boxed (the unboxed C function's parameters can't be).
    mutating func checkArguments(_ typeName: String?, of meta: String, isBoxed: Bool, at location: QAPISourceLocation) {
        guard let typeName, let type = types[typeName] else { return }
        guard case .object(let object) = type.kind else {
            return error("\(meta)'s 'data' cannot take \(describeType(typeName))", at: location)
        }
        if object.variants != nil, !isBoxed {
            error("\(meta)'s 'data' can take \(describeType(typeName)) only with 'boxed': true", at: location)
        }
        if !isBoxed, object.members.contains(where: { $0.condition != nil }) {
            error("conditional \(meta) arguments require 'boxed': true", at: location)
        }
    }
}
