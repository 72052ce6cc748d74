import QAPI
import QMPCore

/// Something the generator could not translate, with where it stands in the schema.
public struct GeneratorDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: QAPISourceLocation?
    public var message: String

    public var description: String {
        location.map { "\($0): \(message)" } ?? message
    }
}

/// Turns a resolved QAPI schema into Swift declarations.
///
/// Translates enumerations, structs, unions (flat, and the simple unions of QEMU ≤ 6.1 whose
/// branches wrap their value in `data`), alternates, commands (boxed ones taking a union too)
/// and events. What it cannot express is reported as a diagnostic rather than translated
/// halfway.
public struct Translator: Sendable {
    public var schema: QAPISchema
    /// When commands, events, types and members came and went; without it every command and
    /// event is said to come from `defaultVersion`.
    public var history: QAPIAvailability?
    public var defaultVersion: QEMUVersion
    /// Members the schema makes optional although the newest release requires them (see
    /// ``MergedSchema/relaxedMembers``), for their comments.
    public var relaxedMembers: [String: Set<String>]

    public init(
        schema: QAPISchema,
        defaultVersion: QEMUVersion = QEMUVersion(1, 0),
        history: QAPIAvailability? = nil,
        relaxedMembers: [String: Set<String>] = [:]
    ) {
        self.schema = schema
        self.defaultVersion = defaultVersion
        self.history = history
        self.relaxedMembers = relaxedMembers
        self.indirectMembers = Self.membersInCycles(schema)
        self.selfContainingTypes = Self.typesHoldingThemselves(schema)
    }

    /// Unions and alternates that can hold a value of their own type other than through an
    /// array: only their enumerations are `indirect`. The others keep their branch inline,
    /// which saves an allocation per decoded value (one per entry of a `query-qmp-schema` reply).
    let selfContainingTypes: Set<String>

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
    let indirectMembers: Set<String>

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

    /// A translator for the bindings of every release in `merged`.
    public init(merged: MergedSchema) {
        self.init(
            schema: merged.schema,
            defaultVersion: merged.availability.versions.first ?? QEMUVersion(1, 0),
            history: merged.availability,
            relaxedMembers: merged.relaxedMembers
        )
    }

    /// Whose members a list of members is: a named type's, or a command's inline arguments or
    /// an event's inline data.
    enum Owner {
        case type(String)
        case command(String)
        case event(String)

        var relaxedKey: String {
            switch self {
            case .type(let name): name
            case .command(let name): "command \(name)"
            case .event(let name): "event \(name)"
            }
        }
    }

    func memberHistories(_ owner: Owner) -> [String: QAPIMemberHistory] {
        switch owner {
        case .type(let name): history?.type(name)?.members ?? [:]
        case .command(let name): history?.command(name)?.members ?? [:]
        case .event(let name): history?.event(name)?.members ?? [:]
        }
    }

    func ownerHistory(_ owner: Owner) -> QEMUAvailability? {
        switch owner {
        case .type(let name): history?.type(name)?.history
        case .command(let name): history?.command(name)?.history
        case .event(let name): history?.event(name)?.history
        }
    }

    /// One declaration and the schema file it comes from.
    public struct Translated: Sendable {
        public var declaration: SwiftDeclaration
        /// The schema file that defines it (`qapi/block-core.json`), for grouping.
        public var schemaFile: String
    }

    /// Every declaration, in a stable order: types by name, then commands, then events.
    public func translateAll() -> (declarations: [Translated], diagnostics: [GeneratorDiagnostic]) {
        var declarations: [Translated] = []
        var diagnostics: [GeneratorDiagnostic] = []
        for type in schema.definedTypes where !type.isImplicit || type.isImplicitTagEnum {
            if let unsupported = unsupportedReason(type) {
                diagnostics.append(GeneratorDiagnostic(location: type.location, message: "\(type.name): \(unsupported)"))
                continue
            }
            let declaration: SwiftDeclaration
            switch type.kind {
            case .enumeration(let enumeration):
                declaration = translateEnum(type.name, enumeration)
            case .object(let object) where object.variants == nil:
                declaration = translateStruct(type.name, object)
            case .object(let object):
                declaration = translateUnion(type.name, object, object.variants!)
            case .alternate(let alternate):
                declaration = translateAlternate(type.name, alternate)
            default:
                continue
            }
            declarations.append(Translated(declaration: declaration, schemaFile: type.location?.file ?? ""))
        }
        for command in schema.commands.values.sorted(by: { $0.name < $1.name }) {
            switch translateCommand(command) {
            case .success(let declaration): declarations.append(Translated(declaration: declaration, schemaFile: command.location.file))
            case .failure(let diagnostic): diagnostics.append(diagnostic)
            }
        }
        for event in schema.events.values.sorted(by: { $0.name < $1.name }) {
            switch translateEvent(event) {
            case .success(let declaration): declarations.append(Translated(declaration: declaration, schemaFile: event.location.file))
            case .failure(let diagnostic): diagnostics.append(diagnostic)
            }
        }
        return (declarations, diagnostics)
    }

    /// Everything in one file.
    public func translate(source: String) -> (file: SwiftFile, diagnostics: [GeneratorDiagnostic]) {
        let (declarations, diagnostics) = translateAll()
        return (Self.file(source: source, declarations.map(\.declaration)), diagnostics)
    }

    /// `declarations` in one file per schema module (`qapi/block-core.json` →
    /// `BlockCore.swift`), so that the compiler can work on them in parallel; keyed by file name.
    public static func modules(_ declarations: [Translated], source: String) -> [String: SwiftFile] {
        Dictionary(grouping: declarations) { SwiftNaming.moduleFileName($0.schemaFile) }
            .mapValues { file(source: source, $0.map(\.declaration)) }
    }

    static func file(source: String, _ declarations: [SwiftDeclaration]) -> SwiftFile {
        SwiftFile(
            header: ["Generated by qapi-swift from \(source). Do not edit.", "Names and types only: QEMU's documentation is not copied."],
            imports: ["QMPCore"],
            declarations: declarations
        )
    }

    /// The Swift type of a QAPI type reference; `nil` for shapes not generated yet.
    public func swiftType(_ qapiType: String) -> String? {
        guard let type = schema.type(named: qapiType) else { return nil }
        switch type.kind {
        case .builtin(let builtin):
            switch builtin {
            case .str: return "String"
            case .number: return "Double"
            case .int, .int64: return "Int64"
            case .int8: return "Int8"
            case .int16: return "Int16"
            case .int32: return "Int32"
            case .uint8: return "UInt8"
            case .uint16: return "UInt16"
            case .uint32: return "UInt32"
            case .uint64, .size: return "UInt64"
            case .bool: return "Bool"
            case .null, .any: return "JSONValue"
            }
        case .array(let element):
            return swiftType(element).map { "[\($0)]" }
        case .enumeration:
            return SwiftNaming.typeName(qapiType)
        case .object where !type.isImplicit, .alternate:
            return SwiftNaming.typeName(qapiType)
        default:
            return nil
        }
    }

    /// Why a type cannot be generated yet, or `nil`.
    func unsupportedReason(_ type: QAPIType) -> String? {
        switch type.kind {
        case .object(let object):
            if let member = object.members.first(where: { swiftType($0.type) == nil }) {
                return "member '\(member.name)' has type '\(member.type)', which is not generated yet"
            }
            if let variants = object.variants {
                if let variant = variants.variants.first(where: { branchType($0.type) == nil }) {
                    return "branch '\(variant.name)' has type '\(variant.type)', which is not generated yet"
                }
            }
            return nil
        case .alternate(let alternate):
            if let branch = alternate.branches.first(where: { swiftType($0.type) == nil || jsonKinds(of: $0.type).isEmpty }) {
                return "alternate branch '\(branch.name)' has type '\(branch.type)', which is not generated yet"
            }
            return nil
        default:
            return nil
        }
    }

    /// The value type of a simple union's branch wrapper (`q_obj_<Type>-wrapper`, whose only
    /// member is `data`), or `nil` when `qapiType` is not one.
    func wrappedType(_ qapiType: String) -> String? {
        guard let type = schema.type(named: qapiType), type.isImplicit, case .object(let object) = type.kind,
            object.variants == nil, object.members.count == 1, object.members[0].name == "data"
        else { return nil }
        return object.members[0].type
    }

    /// The Swift type a union branch holds: the branch's struct, or for a simple union the
    /// type its wrapper carries in `data`.
    func branchType(_ qapiType: String) -> String? {
        if let wrapped = wrappedType(qapiType) { return swiftType(wrapped) }
        guard schema.type(named: qapiType)?.isImplicit == false else { return nil }
        return swiftType(qapiType)
    }

    /// How a decoding error names the JSON kinds one branch takes (`JSONValue`'s case names in,
    /// the words of `JSONKind` out).
    static func jsonKindName(_ cases: [String]) -> String {
        let kinds = Set(JSONKind.allCases.filter { Self.valueCases(of: $0).contains(where: cases.contains) })
        return JSONKind.name(accepting: kinds.contains(.number) ? [.integer, .number] : kinds) ?? "value"
    }

    /// The JSONValue cases a value of a type arrives as, for telling alternate branches apart;
    /// none for a type that takes every kind (an alternate's branch cannot be one).
    func jsonKinds(of qapiType: String) -> [String] {
        let kinds = schema.acceptedKinds(of: qapiType)
        guard kinds.count < JSONKind.allCases.count else { return [] }
        return JSONKind.allCases.filter(kinds.contains).flatMap(Self.valueCases(of:))
    }

    /// The `JSONValue` cases that hold a value of `kind`.
    static func valueCases(of kind: JSONKind) -> [String] {
        switch kind {
        case .null: ["null"]
        case .boolean: ["bool"]
        case .integer: ["int", "uint"]
        case .number: ["double"]
        case .string: ["string"]
        case .array: ["array"]
        case .object: ["object"]
        }
    }

    func translateEnum(_ name: String, _ enumeration: QAPIEnumType) -> SwiftDeclaration {
        let swiftName = SwiftNaming.typeName(name)
        let caseNames = SwiftNaming.uniqueMemberNames(enumeration.names + ["unknown"], reserved: SwiftNaming.reservedCaseNames)
        let valueHistories = history?.type(name)?.enumValues ?? [:]
        let typeFirst = history?.type(name)?.introduced
        var cases = zip(enumeration.names, caseNames).map { value, caseName in
            SwiftEnumCase(name: caseName, comment: ["`\(value)`" + Self.span(valueHistories[value], after: typeFirst)])
        }
        let unknown = caseNames.last!
        cases.append(SwiftEnumCase(name: unknown, associatedTypes: ["String"], comment: ["A value this binding does not know, as a newer QEMU may send; kept as sent."]))
        let pairs = Array(zip(enumeration.names, caseNames))
        let decode: [SwiftStatement] = [
            .line("let raw = try String(json: json, path: path)"),
            .block(
                "switch raw",
                pairs.map { .line("case \(Self.literal($0)): self = .\($1)") } + [.line("default: self = .\(unknown)(raw)")]
            ),
        ]
        let rawValue: [SwiftStatement] = [
            .block(
                "switch self",
                pairs.map { .line("case .\($1): \(Self.literal($0))") } + [.line("case .\(unknown)(let raw): raw")]
            )
        ]
        return .enumeration(
            name: swiftName,
            conformances: ["QMPJSONConvertible", "Hashable"],
            comment: ["QAPI enum `\(name)`."] + typeHistoryComment(name),
            cases: cases,
            members: [
                .initializer(signature: "(json: JSONValue, path: QMPPath) throws(QMPDecodingError)", body: decode),
                .computedProperty(name: "rawValue", type: "String", body: rawValue),
                .computedProperty(name: "json", type: "JSONValue", body: [.line(".string(rawValue)")]),
            ]
        )
    }

    func translateStruct(_ name: String, _ object: QAPIObjectType) -> SwiftDeclaration {
        .structure(
            name: SwiftNaming.typeName(name),
            conformances: ["QMPJSONConvertible", "Hashable"],
            comment: ["QAPI struct `\(name)`."] + typeHistoryComment(name),
            members: memberDeclarations(object.members, owner: .type(name))
        )
    }

    /// A union: its common members (the tag among them), and the members the tag adds as a
    /// `Branch`. A tag value without members of its own, or one this binding does not know,
    /// keeps whatever members came with it in `.other`.
    func translateUnion(_ name: String, _ object: QAPIObjectType, _ variants: QAPIVariants) -> SwiftDeclaration {
        let tag = SwiftNaming.memberName(variants.tagMember)
        let common = object.members.map(\.name)
        let typedCommon = typedMembers(object.members, owner: .type(name))
        let caseNames = SwiftNaming.uniqueMemberNames(variants.variants.map(\.name) + ["other"])
        let other = caseNames.last!
        var members = properties(typedCommon)
        members.append(.property(name: "branch", type: "Branch", comment: ["The members the value of `\(variants.tagMember)` adds."]))
        members.append(memberwiseInitializer(typedCommon, extra: [("branch", "Branch")]))
        // The object is taken once: the common members, the `data` branches and the unknown-tag
        // case read from it (a struct branch decodes itself from `json`).
        var decode: [SwiftStatement] = [.line("let object = try json.object(at: path)")] + decodeLines(typedCommon)
        let tagType = SwiftNaming.typeName(variants.tagType)
        // The tag's cases are named as its enumeration names them, which may differ from the
        // branch names when values collide.
        let tagValues = schema.enumType(named: variants.tagType)?.names ?? []
        let tagCaseNames = Dictionary(
            uniqueKeysWithValues: zip(tagValues, SwiftNaming.uniqueMemberNames(tagValues + ["unknown"], reserved: SwiftNaming.reservedCaseNames))
        )
        decode.append(
            .block(
                "switch self.\(tag)",
                zip(variants.variants, caseNames).map { variant, caseName in
                    let tagCase = tagCaseNames[variant.name] ?? caseName
                    if wrappedType(variant.type) != nil {
                        return .line("case .\(tagCase): self.branch = .\(caseName)(try object.required(\"data\", at: path))")
                    }
                    return .line("case .\(tagCase): self.branch = .\(caseName)(try \(swiftType(variant.type)!)(json: json, path: path))")
                } + [
                    .labeled(
                        "default:",
                        [
                            .line("let common: Set<String> = [\(common.map(Self.literal).joined(separator: ", "))]"),
                            .line("self.branch = .\(other)(JSONObject(object.filter { !common.contains($0.key) }.map { ($0.key, $0.value) }))"),
                        ]
                    )
                ]
            )
        )
        members.append(.initializer(signature: "(json: JSONValue, path: QMPPath) throws(QMPDecodingError)", body: decode))
        var encode: [SwiftStatement] = [.line("var object = JSONObject()")] + encodeLines(typedCommon)
        encode.append(.line("let added: JSONObject"))
        encode.append(
            .block(
                "switch self.branch",
                zip(variants.variants, caseNames).map { variant, caseName in
                    wrappedType(variant.type) != nil
                        ? .line("case .\(caseName)(let value): added = [\"data\": value.json]")
                        : .line("case .\(caseName)(let members): added = members.json.objectValue ?? [:]")
                } + [.line("case .\(other)(let members): added = members")]
            )
        )
        encode.append(.block("for (key, value) in added where object[key] == nil", [.line("object[key] = value")]))
        encode.append(.line("return .object(object)"))
        members.append(.computedProperty(name: "json", type: "JSONValue", body: encode))
        let branch = SwiftDeclaration.enumeration(
            name: "Branch",
            conformances: ["Sendable", "Hashable"],
            comment: ["The members each value of `\(variants.tagMember)` adds (of `\(tagType)`)."],
            cases: zip(variants.variants, caseNames).map { variant, caseName in
                SwiftEnumCase(
                    name: caseName,
                    associatedTypes: [branchType(variant.type)!],
                    comment: ["`\(variant.name)`" + (wrappedType(variant.type) != nil ? ", its value in `data`" : "")]
                )
            } + [SwiftEnumCase(name: other, associatedTypes: ["JSONObject"], comment: ["A value without members of its own, or one this binding does not know: the members beyond the common ones, as sent."])],
            members: [],
            isIndirect: selfContainingTypes.contains(name)
        )
        members.append(branch)
        return .structure(
            name: SwiftNaming.typeName(name),
            conformances: ["QMPJSONConvertible", "Hashable"],
            comment: ["QAPI union `\(name)`, told apart by `\(variants.tagMember)`."] + typeHistoryComment(name),
            members: members
        )
    }

    /// An alternate: one case per branch, chosen by the JSON kind of the value.
    func translateAlternate(_ name: String, _ alternate: QAPIAlternateType) -> SwiftDeclaration {
        let caseNames = SwiftNaming.uniqueMemberNames(alternate.branches.map(\.name))
        let branches = zip(alternate.branches, caseNames).map { (branch: $0, name: $1, type: swiftType($0.type)!) }
        var decodeCases: [SwiftStatement] = []
        var kindsTaken: Set<String> = []
        var expected: [String] = []
        for entry in branches {
            let kinds = jsonKinds(of: entry.branch.type).filter { !kindsTaken.contains($0) }
            kindsTaken.formUnion(kinds)
            guard !kinds.isEmpty else { continue }
            // The error names JSON kinds, as every other decoding error does, not Swift types.
            let kindName = Self.jsonKindName(kinds)
            if !expected.contains(kindName) { expected.append(kindName) }
            // A JSONValue branch (QAPI's null) takes the value as it is; its init cannot throw.
            let value = entry.type == "JSONValue" ? "json" : "try \(entry.type)(json: json, path: path)"
            decodeCases.append(
                .line("case \(kinds.map { ".\($0)" }.joined(separator: ", ")): self = .\(entry.name)(\(value))")
            )
        }
        decodeCases.append(.line("default: throw .typeMismatch(path, expected: \(Self.literal(expected.joined(separator: " or "))), got: json)"))
        return .enumeration(
            name: SwiftNaming.typeName(name),
            conformances: ["QMPJSONConvertible", "Hashable"],
            comment: ["QAPI alternate `\(name)`: the branch follows the JSON kind of the value."] + typeHistoryComment(name),
            cases: branches.map { SwiftEnumCase(name: $0.name, associatedTypes: [$0.type], comment: ["`\($0.branch.name)`"]) },
            members: [
                .initializer(signature: "(json: JSONValue, path: QMPPath) throws(QMPDecodingError)", body: [.block("switch json", decodeCases)]),
                .computedProperty(
                    name: "json",
                    type: "JSONValue",
                    body: [.block("switch self", branches.map { .line("case .\($0.name)(let value): value.json") })]
                ),
            ],
            isIndirect: selfContainingTypes.contains(name)
        )
    }

    /// A member with its Swift name and type, and what its comment says.
    struct TypedMember {
        var member: QAPIMember
        var name: String
        var type: String
        var comment: [String]
        var isIndirect = false

        /// What the initializers assign to: the stored property.
        var storage: String { isIndirect ? SwiftRenderer.storageName(name) : name }

        func stored(_ expression: String) -> String { isIndirect ? "QMPIndirect(\(expression))" : expression }
    }

    func typedMembers(_ members: [QAPIMember], owner: Owner) -> [TypedMember] {
        let histories = memberHistories(owner)
        let ownerFirst = ownerHistory(owner)?.introduced
        let relaxed = relaxedMembers[owner.relaxedKey] ?? []
        return zip(members, SwiftNaming.uniqueMemberNames(members.map(\.name), reserved: SwiftNaming.reservedMemberNames)).map { member, name in
            var comment = "`\(member.name)`" + Self.span(histories[member.name]?.history, after: ownerFirst)
            if relaxed.contains(member.name) {
                comment += "; optional here because not every QEMU sends it"
                if let memberHistory = histories[member.name], let required = memberHistory.typeChanges.last(where: { !$0.isOptional }) {
                    comment += memberHistory.lastVersion.map { " (required from \(required.version) to \($0))" } ?? " (required since \(required.version))"
                }
            }
            var typed = TypedMember(member: member, name: name, type: swiftType(member.type)! + (member.isOptional ? "?" : ""), comment: [comment])
            if case .type(let typeName) = owner, indirectMembers.contains("\(typeName).\(member.name)") {
                typed.isIndirect = true
            }
            return typed
        }
    }

    func properties(_ typed: [TypedMember]) -> [SwiftDeclaration] {
        typed.map {
            $0.isIndirect
                ? .indirectProperty(name: $0.name, type: $0.type, comment: $0.comment)
                : .property(name: $0.name, type: $0.type, comment: $0.comment)
        }
    }

    /// ` · since 2.12.0`, ` · 1.0 to 2.11.0` or nothing: when something came and went, said
    /// only where it differs from its owner's first version and the newest release.
    static func span(_ history: QEMUAvailability?, after ownerFirst: QEMUVersion?) -> String {
        guard let history else { return "" }
        var parts: [String] = []
        if let ownerFirst, history.introduced > ownerFirst { parts.append("since \(history.introduced)") }
        if let last = history.lastVersion { parts.append("until \(last)") }
        if history.runs.count > 1 { parts.append("in " + QEMUVersionRange.prose(of: history.runs)) }
        if let deprecated = history.deprecatedSince { parts.append("deprecated in \(deprecated)") }
        return parts.isEmpty ? "" : " · " + parts.joined(separator: ", ")
    }

    /// A named type's history: its releases, the releases that changed its shape, and the
    /// members its newest shape no longer has (the bindings keep the newest shape).
    func typeHistoryComment(_ name: String) -> [String] {
        guard let type = history?.type(name) else { return [] }
        var lines = ["In QEMU " + QEMUVersionRange.prose(of: type.history.runs) + "."]
        if !type.shapeChanges.isEmpty {
            lines.append("Shape changed in \(type.shapeChanges.map(\.description).joined(separator: ", ")); this is the newest shape.")
        }
        let gone = type.members.filter { $0.value.lastVersion != nil && type.history.isPresentInNewest }.keys.sorted()
        if !gone.isEmpty {
            lines.append("No longer sent: " + gone.map { "`\($0)` (until \(type.members[$0]!.lastVersion!))" }.joined(separator: ", ") + ".")
        }
        return lines
    }

    /// The memberwise initializer, with optional members defaulting to nil, and any `extra`
    /// parameters (`name: Type`) after them.
    func memberwiseInitializer(_ typed: [TypedMember], extra: [(name: String, type: String)] = []) -> SwiftDeclaration {
        let parameters = typed.map { "\($0.name): \($0.type)\($0.member.isOptional ? " = nil" : "")" } + extra.map { "\($0.name): \($0.type)" }
        return .initializer(
            signature: "(\(parameters.joined(separator: ", ")))",
            body: typed.map { .line("self.\($0.storage) = \($0.stored($0.name))") } + extra.map { .line("self.\($0.name) = \($0.name)") }
        )
    }

    /// Reads each member from `object`, which the line before them takes out of `json` once:
    /// reading each member from `json` itself would copy the object, and with it a pair of
    /// atomic reference count operations, for every member.
    func decodeLines(_ typed: [TypedMember]) -> [SwiftStatement] {
        typed.map { entry in
            .line("self.\(entry.storage) = \(entry.stored("try object.\(entry.member.isOptional ? "optional" : "required")(\(Self.literal(entry.member.name)), at: path)"))")
        }
    }

    /// Writes each member into `object`; nil optionals are left out.
    func encodeLines(_ typed: [TypedMember]) -> [SwiftStatement] {
        typed.map { entry in
            entry.member.isOptional
                ? .line("object.set(\(Self.literal(entry.member.name)), self.\(entry.name))")
                : .line("object[\(Self.literal(entry.member.name))] = self.\(entry.name).json")
        }
    }

    /// Stored properties, a memberwise initializer, `init(json:path:)` and `json` for members.
    func memberDeclarations(_ members: [QAPIMember], owner: Owner) -> [SwiftDeclaration] {
        let typed = typedMembers(members, owner: owner)
        var declarations = properties(typed)
        declarations.append(memberwiseInitializer(typed))
        let decode: [SwiftStatement] = typed.isEmpty
            ? [.line("_ = try json.object(at: path)")]
            : [.line("let object = try json.object(at: path)")] + decodeLines(typed)
        declarations.append(.initializer(signature: "(json: JSONValue, path: QMPPath) throws(QMPDecodingError)", body: decode))
        let encode: [SwiftStatement] = typed.isEmpty
            ? [.line(".object([:])")]
            : [.line("var object = JSONObject()")] + encodeLines(typed) + [.line("return .object(object)")]
        declarations.append(.computedProperty(name: "json", type: "JSONValue", body: encode))
        return declarations
    }

    /// How a command's arguments or an event's data are carried.
    enum Payload {
        /// The members of a struct, one property each (none for a command without arguments).
        case members([QAPIMember], owner: Owner)
        /// A union (a boxed command's arguments): one property `value` of the union's type.
        case union(String)
    }

    func payload(_ typeName: String?, inlineOwner: Owner) -> Payload? {
        guard let typeName else { return .members([], owner: inlineOwner) }
        guard let type = schema.type(named: typeName), case .object(let object) = type.kind else { return nil }
        if object.variants != nil {
            return type.isImplicit ? nil : swiftType(typeName).map { _ in .union(typeName) }
        }
        guard object.members.allSatisfy({ swiftType($0.type) != nil }) else { return nil }
        return .members(object.members, owner: type.isImplicit ? inlineOwner : .type(typeName))
    }

    /// Properties, initializers and `json` for a payload.
    func payloadDeclarations(_ payload: Payload) -> [SwiftDeclaration] {
        switch payload {
        case .members(let members, let owner):
            return memberDeclarations(members, owner: owner)
        case .union(let typeName):
            let type = swiftType(typeName)!
            return [
                .property(name: "value", type: type, comment: ["The arguments, a `\(typeName)`."]),
                .initializer(signature: "(_ value: \(type))", body: [.line("self.value = value")]),
                .initializer(signature: "(json: JSONValue, path: QMPPath) throws(QMPDecodingError)", body: [.line("value = try \(type)(json: json, path: path)")]),
                .computedProperty(name: "json", type: "JSONValue", body: [.line("value.json")]),
            ]
        }
    }

    /// What the generated code says about when a command or event existed.
    func availability(_ owner: Owner) -> QEMUAvailability {
        ownerHistory(owner).map(Self.availability) ?? QEMUAvailability([QEMUVersionRange(from: defaultVersion)])
    }

    /// The bindings' availability: the runs, and the runs of the features a caller's check and
    /// documentation speak of.
    static func availability(_ history: QEMUAvailability) -> QEMUAvailability {
        let said = [QEMUAvailability.deprecatedFeature, QEMUAvailability.unstableFeature]
        return QEMUAvailability(history.runs, features: history.features.filter { said.contains($0.key) })
    }

    /// `QEMUAvailability([QEMUVersionRange(from: QEMUVersion(2, 12, 0))])`, with
    /// `features: [...]` when it has any.
    static func availabilityLiteral(_ availability: QEMUAvailability) -> String {
        func runs(_ runs: [QEMUVersionRange]) -> String {
            let literals = runs.map { run in
                let through = run.last.map { ", through: \(versionLiteral($0))" } ?? ""
                return "QEMUVersionRange(from: \(versionLiteral(run.first))\(through))"
            }
            return "[" + literals.joined(separator: ", ") + "]"
        }
        var arguments = [runs(availability.runs)]
        if !availability.features.isEmpty {
            let features = availability.features.sorted { $0.key < $1.key }.map { feature in
                "\(Self.literal(feature.key)): \(runs(feature.value))"
            }
            arguments.append("features: [\(features.joined(separator: ", "))]")
        }
        return "QEMUAvailability(\(arguments.joined(separator: ", ")))"
    }

    /// `QEMUVersion(2, 12, 0)`, `QEMUVersion(1, 0)`, `QEMUVersion(9, 2, 0, prerelease: "rc2")`:
    /// written as QEMU writes the number.
    static func versionLiteral(_ version: QEMUVersion) -> String {
        var arguments = [String(version.major), String(version.minor)]
        if version.writesMicro { arguments.append(String(version.micro)) }
        if let prerelease = version.prerelease { arguments.append("prerelease: \(Self.literal(prerelease))") }
        return "QEMUVersion(\(arguments.joined(separator: ", ")))"
    }

    func availabilityConstant(_ owner: Owner) -> SwiftDeclaration {
        .staticConstant(
            name: "availability", type: "QEMUAvailability", value: Self.availabilityLiteral(availability(owner))
        )
    }

    /// Arguments whose history differs from their command's, so that a check against an older
    /// or newer QEMU can say when they came or went.
    func argumentAvailability(_ command: QAPICommand) -> [(name: String, availability: QEMUAvailability)] {
        guard let entity = history?.command(command.name) else { return [] }
        let own = Self.availability(entity.history)
        return entity.members.keys.sorted().compactMap { name in
            let member = Self.availability(entity.members[name]!.history)
            let differs = member.runs != own.runs
                || (member.deprecatedSince != nil && member.deprecatedSince != own.deprecatedSince)
            return differs ? (name, member) : nil
        }
    }

    func translateCommand(_ command: QAPICommand) -> Result<SwiftDeclaration, GeneratorDiagnostic> {
        guard let payload = payload(command.argumentType, inlineOwner: .command(command.name)) else {
            return .failure(GeneratorDiagnostic(location: command.location, message: "\(command.name): its arguments, of type '\(command.argumentType ?? "")', are not generated"))
        }
        var response = "QMPEmpty"
        if let returnType = command.returnType {
            guard let type = swiftType(returnType) else {
                return .failure(GeneratorDiagnostic(location: command.location, message: "\(command.name): its return type '\(returnType)' is not generated"))
            }
            response = type
        }
        var declarations: [SwiftDeclaration] = [
            .typeAlias(name: "Response", type: response),
            .staticConstant(name: "name", type: "String", value: Self.literal(command.name)),
            .staticConstant(name: "allowsOutOfBand", type: "Bool", value: command.allowsOutOfBand ? "true" : "false"),
            availabilityConstant(.command(command.name)),
        ]
        let arguments = argumentAvailability(command)
        if !arguments.isEmpty {
            declarations.append(
                .staticConstant(
                    name: "argumentAvailability",
                    type: "[String: QEMUAvailability]",
                    value: "[\n" + arguments.map { "        \(Self.literal($0.name)): \(Self.availabilityLiteral($0.availability))," }.joined(separator: "\n") + "\n    ]"
                )
            )
        }
        declarations += payloadDeclarations(payload)
        let hasArguments: Bool
        switch payload {
        case .members(let members, _): hasArguments = !members.isEmpty
        case .union: hasArguments = true
        }
        declarations.append(
            .computedProperty(name: "arguments", type: "JSONObject?", body: [.line(hasArguments ? "json.objectValue" : "nil")])
        )
        return .success(
            .structure(
                name: SwiftNaming.commandTypeName(command.name),
                conformances: ["QMPCommand", "QMPJSONConvertible", "Hashable"],
                comment: ["QAPI command `\(command.name)`."],
                members: declarations
            )
        )
    }

    func translateEvent(_ event: QAPIEvent) -> Result<SwiftDeclaration, GeneratorDiagnostic> {
        guard let payload = payload(event.dataType, inlineOwner: .event(event.name)) else {
            return .failure(GeneratorDiagnostic(location: event.location, message: "\(event.name): its data, of type '\(event.dataType ?? "")', is not generated"))
        }
        var declarations: [SwiftDeclaration] = [
            .staticConstant(name: "name", type: "String", value: Self.literal(event.name)),
            availabilityConstant(.event(event.name)),
        ]
        declarations += payloadDeclarations(payload)
        return .success(
            .structure(
                name: SwiftNaming.eventTypeName(event.name),
                conformances: ["QMPEventPayload", "Hashable"],
                comment: ["QAPI event `\(event.name)`."],
                members: declarations
            )
        )
    }

    /// A Swift string literal for a QAPI name (names have no quotes or backslashes).
    static func literal(_ text: String) -> String {
        "\"\(text)\""
    }
}

