/// QEMU's rules for the shape of each top-level expression, checked on the expressions as
/// written, before anything is resolved: names, keys, flags, conditions, features, the form
/// of member and branch types, and the pragmas. The messages are QEMU's.
///
/// The rules that older releases' schemas break carry their ``QAPIRelaxedRule``; the resolver
/// drops those diagnostics unless it resolves strictly.
struct ExpressionRules {
    /// What the pragmas of the whole schema allow (QEMU reads them all before checking).
    struct Pragmas {
        var commandNameExceptions: Set<String> = []
        var commandReturnsExceptions: Set<String> = []
        var memberNameExceptions: Set<String> = []
    }

    var pragmas = Pragmas()
    var diagnostics: [QAPIDiagnostic] = []

    mutating func fail(_ message: String, at location: QAPISourceLocation, _ rule: QAPIRelaxedRule? = nil) {
        diagnostics.append(QAPIDiagnostic(message, at: location, relaxedRule: rule))
    }

    static let definitionKeywords = ["enum", "struct", "union", "alternate", "command", "event"]

    /// Checks every expression of `source`.
    static func check(_ expressions: [QAPIExpression]) -> [QAPIDiagnostic] {
        var rules = ExpressionRules()
        for expression in expressions where expression["pragma"] != nil {
            rules.readPragma(expression)
        }
        for expression in expressions where expression["pragma"] == nil {
            rules.check(expression)
        }
        return rules.diagnostics
    }

    // MARK: Pragmas

    mutating func readPragma(_ expression: QAPIExpression) {
        guard expression.members.count == 1 else {
            return fail("invalid 'pragma' directive", at: expression.location)
        }
        guard let body = expression["pragma"]!.members else {
            return fail("value of 'pragma' must be an object", at: expression["pragma"]!.location)
        }
        for member in body {
            let value = member.value
            func strings() -> Set<String>? {
                guard let elements = value.arrayValue, elements.allSatisfy({ $0.stringValue != nil }) else {
                    fail("pragma \(member.key) must be a list of strings", at: value.location)
                    return nil
                }
                return Set(elements.compactMap(\.stringValue))
            }
            switch member.key {
            case "doc-required":
                if value.boolValue == nil {
                    fail("pragma 'doc-required' must be boolean", at: value.location)
                }
            case "command-name-exceptions":
                pragmas.commandNameExceptions.formUnion(strings() ?? [])
            case "command-returns-exceptions":
                pragmas.commandReturnsExceptions.formUnion(strings() ?? [])
            case "documentation-exceptions":
                _ = strings()
            case "member-name-exceptions":
                pragmas.memberNameExceptions.formUnion(strings() ?? [])
            case "returns-whitelist":
                fail("unknown pragma '\(member.key)'", at: member.keyLocation, .pragmaNames)
                pragmas.commandReturnsExceptions.formUnion(strings() ?? [])
            case "name-case-whitelist":
                fail("unknown pragma '\(member.key)'", at: member.keyLocation, .pragmaNames)
                pragmas.memberNameExceptions.formUnion(strings() ?? [])
            default:
                fail("unknown pragma '\(member.key)'", at: member.keyLocation)
            }
        }
    }

    // MARK: Definitions

    mutating func check(_ expression: QAPIExpression) {
        var metas = Self.definitionKeywords.filter { expression[$0] != nil }
        if metas.isEmpty, expression["type"] != nil {
            fail(
                "expression must have exactly one key 'enum', 'struct', 'union', 'alternate', 'command', 'event'",
                at: expression.location,
                .typeKeyword
            )
            metas = ["type"]
        }
        // The resolver refuses an expression that defines nothing or several things.
        guard metas.count == 1, let meta = metas.first, let nameNode = expression[meta],
            let name = nameNode.stringValue
        else { return }
        checkDefinitionName(name, meta: meta == "type" ? "struct" : meta, at: nameNode.location)
        switch meta {
        case "enum":
            checkKeys(expression, "enum", required: ["enum", "data"], optional: ["if", "features", "prefix"])
            checkEnum(name, expression)
        case "struct", "type":
            checkKeys(expression, "struct", required: [meta, "data"], optional: ["base", "if", "features"])
            if let data = expression["data"] {
                checkType(data, "'data'", allowsObject: true, owner: name)
            }
            if let base = expression["base"] { checkType(base, "'base'") }
        case "union":
            checkUnion(name, expression)
        case "alternate":
            checkKeys(expression, "alternate", required: ["alternate", "data"], optional: ["if", "features"])
            if let data = expression["data"] { checkAlternate(data) }
        case "command":
            checkKeys(
                expression,
                "command",
                required: ["command"],
                optional: [
                    "data", "returns", "boxed", "if", "features", "gen", "success-response", "allow-oob",
                    "allow-preconfig", "coroutine",
                ]
            )
            checkArguments(expression)
            if let returns = expression["returns"] { checkType(returns, "'returns'", allowsArray: true) }
        case "event":
            checkKeys(expression, "event", required: ["event"], optional: ["data", "boxed", "if", "features"])
            checkArguments(expression)
        default:
            break
        }
        checkCondition(expression["if"], of: meta == "type" ? "struct" : meta)
        checkFeatures(expression["features"])
        checkFlags(expression)
    }

    mutating func checkDefinitionName(_ name: String, meta: String, at location: QAPISourceLocation) {
        guard let stem = QAPINames.stem(of: name), QAPINames.isValid(name) else {
            return fail("\(meta) has an invalid name", at: location)
        }
        switch meta {
        case "event":
            if stem.contains(where: { ("a"..."z").contains($0) || $0 == "-" }) {
                fail("name of event must not use lowercase or '-'", at: location, .nameCase)
            }
        case "command":
            let underscoreAllowed = pragmas.commandNameExceptions.contains(name)
            if stem.contains(where: { ("A"..."Z").contains($0) }) || (!underscoreAllowed && stem.contains("_")) {
                fail("name of command must not use uppercase or '_'", at: location, .nameCase)
            }
        default:
            if !QAPINames.isCamelCase(stem) {
                fail("name of \(meta) must use CamelCase", at: location, .nameCase)
            }
            if name.hasSuffix("List") {
                fail("\(meta) name should not end in 'List'", at: location)
            }
        }
    }

    /// Member, value, branch and feature names: lower case without `_`, unless the owner is
    /// one of the pragma's exceptions.
    mutating func checkLowerName(
        _ name: String,
        _ source: String,
        at location: QAPISourceLocation,
        permissive: Bool = false
    ) {
        guard let stem = QAPINames.stem(of: name), QAPINames.isValid(name) else {
            return fail("\(source) has an invalid name", at: location)
        }
        if !permissive, stem.contains(where: { ("A"..."Z").contains($0) }) || stem.contains("_") {
            fail("name of \(source) must not use uppercase or '_'", at: location, .nameCase)
        }
    }

    mutating func checkKeys(
        _ node: QAPINode,
        _ source: String,
        required: [String],
        optional: [String],
        at location: QAPISourceLocation? = nil
    ) {
        guard let members = node.members else { return }
        let keys = Set(members.map(\.key))
        let missing = required.filter { !keys.contains($0) }.sorted()
        if !missing.isEmpty {
            fail(
                "\(source) misses key\(missing.count > 1 ? "s" : "") \(Self.quoted(missing))",
                at: location ?? node.location
            )
        }
        let allowed = Set(required + optional)
        let unknown = members.filter { !allowed.contains($0.key) }
        if let first = unknown.first {
            let names = unknown.map(\.key).sorted()
            fail(
                "\(source) has unknown key\(names.count > 1 ? "s" : "") \(Self.quoted(names))\n"
                    + "Valid keys are \(Self.quoted(allowed.sorted())).",
                at: first.keyLocation
            )
        }
    }

    mutating func checkKeys(
        _ expression: QAPIExpression,
        _ source: String,
        required: [String],
        optional: [String]
    ) {
        checkKeys(expression.node, source, required: required, optional: optional)
    }

    static func quoted(_ names: [String]) -> String {
        names.map { "'\($0)'" }.joined(separator: ", ")
    }

    mutating func checkEnum(_ name: String, _ expression: QAPIExpression) {
        if let prefix = expression["prefix"], prefix.stringValue == nil {
            fail("'prefix' must be a string", at: prefix.location)
        }
        guard let data = expression["data"] else { return }
        guard let values = data.arrayValue else {
            return fail("'data' must be an array", at: data.location)
        }
        let permissive = pragmas.memberNameExceptions.contains(name)
        for value in values {
            let valueName: String
            switch value.value {
            case .string(let string):
                valueName = string
            case .object:
                checkKeys(value, "'data' member", required: ["name"], optional: ["if", "features"])
                guard let string = value["name"]?.stringValue else {
                    if value["name"] != nil {
                        fail("'data' member requires a string name", at: value["name"]!.location)
                    }
                    continue
                }
                valueName = string
                checkCondition(value["if"], of: "'data' member '\(valueName)'")
                checkFeatures(value["features"])
            default:
                fail("'data' member requires a string name", at: value.location)
                continue
            }
            // A value may start with a digit: QEMU checks it as if a letter stood first.
            let checked = valueName.first?.isNumber == true ? "d" + valueName : valueName
            if valueName.contains("."), QAPINames.stem(of: valueName) == nil,
                QAPINames.stem(of: String(valueName.map { $0 == "." ? "-" : $0 })) != nil
            {
                fail("'data' member '\(valueName)' has an invalid name", at: value.location, .dottedValueName)
                continue
            }
            checkLowerName(checked, "'data' member '\(valueName)'", at: value.location, permissive: permissive)
        }
    }

    mutating func checkUnion(_ name: String, _ expression: QAPIExpression) {
        let discriminator = expression["discriminator"]
        if let discriminator, discriminator.members?.isEmpty == true {
            fail("union misses key 'base'", at: expression.location, .anonymousUnion)
        } else if discriminator == nil {
            fail(
                "union misses key\(expression["base"] == nil ? "s 'base', 'discriminator'" : " 'discriminator'")",
                at: expression.location,
                .simpleUnion
            )
        } else {
            checkKeys(
                expression,
                "union",
                required: ["union", "base", "discriminator", "data"],
                optional: ["if", "features"]
            )
        }
        if let base = expression["base"] {
            checkType(base, "'base'", allowsObject: true, owner: name)
        }
        if let discriminator, discriminator.stringValue == nil, discriminator.members?.isEmpty != true {
            fail("'discriminator' requires a string name", at: discriminator.location)
        }
        guard let data = expression["data"] else { return }
        guard let branches = data.members else {
            return fail("'data' must be an object", at: data.location)
        }
        let isSimple = discriminator == nil
        for branch in branches {
            let source = "'data' member '\(branch.key)'"
            if isSimple || discriminator?.members != nil {
                checkLowerName(branch.key, source, at: branch.keyLocation)
            }
            checkBranch(branch, source, allowsArray: isSimple)
        }
    }

    mutating func checkAlternate(_ data: QAPINode) {
        guard let branches = data.members else {
            return fail("'data' must be an object", at: data.location)
        }
        if branches.isEmpty {
            fail("'data' must not be empty", at: data.location)
        }
        for branch in branches {
            let source = "'data' member '\(branch.key)'"
            checkLowerName(branch.key, source, at: branch.keyLocation)
            checkBranch(branch, source, allowsArray: true)
        }
    }

    mutating func checkBranch(_ branch: QAPINode.Member, _ source: String, allowsArray: Bool) {
        if branch.value.members != nil {
            checkKeys(branch.value, source, required: ["type"], optional: ["if"])
            checkCondition(branch.value["if"], of: source)
            if let type = branch.value["type"] { checkType(type, source, allowsArray: allowsArray) }
        } else {
            checkType(branch.value, source, allowsArray: allowsArray)
        }
    }

    mutating func checkArguments(_ expression: QAPIExpression) {
        let isBoxed = expression["boxed"]?.boolValue == true
        guard let data = expression["data"] else {
            if isBoxed { fail("'boxed': true requires 'data'", at: expression["boxed"]!.location) }
            return
        }
        checkType(data, "'data'", allowsObject: !isBoxed, owner: nil)
    }

    /// A type reference: a name, a list of one name where arrays are allowed, an object of
    /// members where they are (`owner` names the type the members are for, for the pragma).
    mutating func checkType(
        _ node: QAPINode,
        _ source: String,
        allowsArray: Bool = false,
        allowsObject: Bool = false,
        owner: String? = nil
    ) {
        switch node.value {
        case .string(let name):
            if legacyTypeAliases[name] != nil {
                fail("\(source) uses unknown type '\(name)'", at: node.location, .pseudoType)
            }
        case .array(let elements):
            guard allowsArray else {
                return fail("\(source) cannot be an array", at: node.location)
            }
            guard elements.count == 1, let element = elements[0].stringValue else {
                return fail("\(source): array type must contain single type name", at: node.location)
            }
            if legacyTypeAliases[element] != nil {
                fail("\(source) uses unknown type '\(element)'", at: node.location, .pseudoType)
            }
        case .object(let members):
            guard allowsObject else {
                // An anonymous object where a member's type goes is QEMU 1.x's nesting.
                let isNested = source.contains("member") && node["type"] == nil
                return fail("\(source) should be a type name", at: node.location, isNested ? .nestedObjectType : nil)
            }
            let permissive = owner.map { pragmas.memberNameExceptions.contains($0) } ?? false
            for member in members {
                let source = "\(source) member '\(member.key)'"
                let name = member.key.hasPrefix("*") ? String(member.key.dropFirst()) : member.key
                checkLowerName(name, source, at: member.keyLocation, permissive: permissive)
                let cName = QAPINames.cName(name, protect: false)
                if cName == "u" || cName.hasPrefix("has_") {
                    fail("\(source) uses reserved name", at: member.keyLocation)
                }
                if member.value.members != nil, member.value["type"] != nil {
                    checkKeys(member.value, source, required: ["type"], optional: ["if", "features"])
                    checkCondition(member.value["if"], of: source)
                    checkFeatures(member.value["features"])
                    checkType(member.value["type"]!, source, allowsArray: true)
                } else {
                    checkType(member.value, source, allowsArray: true)
                }
            }
        case .bool:
            fail("\(source) should be a type name", at: node.location)
        }
    }

    mutating func checkFeatures(_ node: QAPINode?) {
        guard let node else { return }
        guard let features = node.arrayValue else {
            return fail("'features' must be an array", at: node.location)
        }
        for feature in features {
            let nameNode = feature.members == nil ? feature : feature["name"]
            if feature.members != nil {
                checkKeys(feature, "'features' member", required: ["name"], optional: ["if"])
            }
            guard let nameNode else { continue }
            guard let name = nameNode.stringValue else {
                fail("'features' member requires a string name", at: nameNode.location)
                continue
            }
            checkLowerName(name, "'features' member '\(name)'", at: nameNode.location)
            checkCondition(feature["if"], of: "'features' member '\(name)'")
        }
    }

    /// `'if'`: a configuration symbol in capitals, or `{'all': […]}`, `{'any': […]}`,
    /// `{'not': …}` of such conditions.
    mutating func checkCondition(_ node: QAPINode?, of source: String) {
        guard let node else { return }
        switch node.value {
        case .string(let symbol):
            let isSymbol =
                symbol.first.map { ("A"..."Z").contains($0) } == true
                && symbol.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            if !isSymbol {
                fail(
                    "'if' condition '\(symbol)' of \(source) is not a valid identifier",
                    at: node.location,
                    .preprocessorCondition
                )
            }
        case .object(let members):
            checkKeys(node, "'if' condition of \(source)", required: [], optional: ["all", "any", "not"])
            guard members.count == 1, let operator_ = members.first else {
                return fail("'if' condition of \(source) has conflicting keys", at: node.location)
            }
            if operator_.key == "not" {
                checkCondition(operator_.value, of: source)
            } else if ["all", "any"].contains(operator_.key) {
                guard let operands = operator_.value.arrayValue else {
                    return fail(
                        "'\(operator_.key)' condition of \(source) must be an array",
                        at: operator_.value.location
                    )
                }
                if operands.isEmpty {
                    fail("'if' condition [] of \(source) is useless", at: operator_.value.location)
                }
                for operand in operands { checkCondition(operand, of: source) }
            }
        case .array:
            fail(
                "'if' condition of \(source) must be a string or an object",
                at: node.location,
                .preprocessorCondition
            )
        case .bool:
            fail("'if' condition of \(source) must be a string or an object", at: node.location)
        }
    }

    mutating func checkFlags(_ expression: QAPIExpression) {
        for key in ["gen", "success-response"] {
            if let flag = expression[key], flag.boolValue != false {
                let legacy = flag.stringValue == "no"
                fail("flag '\(key)' may only use false value", at: flag.location, legacy ? .flagStrings : nil)
            }
        }
        for key in ["boxed", "allow-oob", "allow-preconfig", "coroutine"] {
            if let flag = expression[key], flag.boolValue != true {
                fail("flag '\(key)' may only use true value", at: flag.location)
            }
        }
        if expression["allow-oob"] != nil, let coroutine = expression["coroutine"] {
            fail("flags 'allow-oob' and 'coroutine' are incompatible", at: coroutine.location)
        }
    }
}
