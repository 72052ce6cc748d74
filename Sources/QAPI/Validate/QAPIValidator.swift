import QMPCore

/// Checks JSON values against the types of a schema, the way QEMU's input visitor would.
///
/// It runs on one model, ``QAPIIntrospection``, whichever way the schema came: a source schema
/// is derived into it (``init(schema:definedSymbols:)``), a server's `query-qmp-schema` is
/// decoded into it (``init(introspection:)``, best after ``QAPIIntrospection/filling(from:)``).
///
/// - Objects: every mandatory member present, each member of its type, and no member the
///   type lacks (except for commands QEMU marshals by hand, which accept extra properties).
///   A union's tag selects the members its variant adds; a bad tag ends the check of that
///   object, as it ends QEMU's.
/// - Alternates: the branch is the first that takes the value's JSON kind, where integers and
///   fractions count as one kind as they do for QEMU; that branch then checks the value.
/// - Integers: JSON integers (no fraction, no exponent) within the type's range, read as QEMU
///   reads them: signed types through `int64`, unsigned ones through `uint64`, which also takes
///   a negative integer (QEMU keeps that for compatibility). `number` accepts integers too.
///   Where the model does not know widths (a live answer, or the parts of it the sources did
///   not fill), `int` is any 64-bit integer.
/// - `any` accepts everything; `null` only `null`. An optional member may be left out, but
///   not given as `null` unless its type accepts `null`.
public struct QAPIValidator: Sendable {
    /// The model values are checked against.
    public let model: QAPIIntrospection

    /// A validator for a source schema. With `definedSymbols` (the configuration of the build
    /// the values are meant for), members, enum values and branches whose condition the build
    /// doesn't satisfy count as absent; with `nil` every conditional part counts as present.
    public init(schema: QAPISchema, definedSymbols: Set<String>? = nil) {
        self.model = QAPIIntrospection(deriving: schema, definedSymbols: definedSymbols, form: .checking)
    }

    /// A validator for a server's own introspection.
    public init(introspection: QAPIIntrospection) {
        self.model = introspection
    }

    /// The problems of `value` as a value of type `typeName`. Empty when it is valid.
    public func validate(_ value: JSONValue, as typeName: String, path: String = "") -> [QAPIValidationIssue] {
        var run = ValidationRun(model: model)
        run.check(value, as: typeName, path: path, place: .whole)
        return run.issues
    }

    /// The problems of `arguments` (the `arguments` member of an `execute` request; `nil` when
    /// absent) for command `command`. Paths start with `arguments`.
    public func validateArguments(_ arguments: JSONObject?, ofCommand command: String) -> [QAPIValidationIssue] {
        guard case .command(let argumentType, _, _)? = model.entry(named: command)?.metaType else {
            return [QAPIValidationIssue(path: "execute", message: "unknown command '\(command)'")]
        }
        var run = ValidationRun(model: model)
        run.check(
            .object(arguments ?? [:]),
            as: argumentType,
            path: "arguments",
            place: .whole,
            acceptsExtraMembers: model.commandsTakingExtraArguments.contains(command)
        )
        return run.issues
    }

    /// The problems of `data` (the `data` member of an event message; `nil` when absent) for
    /// event `event`. Paths start with `data`.
    public func validateData(_ data: JSONObject?, ofEvent event: String) -> [QAPIValidationIssue] {
        guard case .event(let dataType)? = model.entry(named: event)?.metaType else {
            return [QAPIValidationIssue(path: "event", message: "unknown event '\(event)'")]
        }
        return validate(.object(data ?? [:]), as: dataType, path: "data")
    }

    /// The problems of a command's return value.
    public func validateReturn(_ value: JSONValue, ofCommand command: String) -> [QAPIValidationIssue] {
        guard case .command(_, let returnType, _)? = model.entry(named: command)?.metaType else {
            return [QAPIValidationIssue(path: "execute", message: "unknown command '\(command)'")]
        }
        if case .object([], nil, _)? = model.entry(named: returnType)?.metaType {
            if case .object(let object) = value, object.isEmpty { return [] }
            return [QAPIValidationIssue(path: "return", message: "expected an empty object, got \(describe(value))")]
        }
        return validate(value, as: returnType, path: "return")
    }
}

extension QAPIIntrospection {
    /// The problems of `arguments` for `command` (see ``QAPIValidator/validateArguments(_:ofCommand:)``).
    public func validateArguments(_ arguments: JSONObject?, ofCommand command: String) -> [QAPIValidationIssue] {
        QAPIValidator(introspection: self).validateArguments(arguments, ofCommand: command)
    }

    /// The problems of `value` as a value of the type `typeName` (see ``QAPIValidator/validate(_:as:path:)``).
    public func validate(_ value: JSONValue, as typeName: String, path: String = "") -> [QAPIValidationIssue] {
        QAPIValidator(introspection: self).validate(value, as: typeName, path: path)
    }

    /// The name a type has in the sources, where known: a masked name's, or the name itself
    /// when it is not masked (QAPI names never consist of digits alone).
    public func sourceName(of typeName: String) -> String? {
        if let name = sourceNames[typeName] { return name }
        return typeName.allSatisfy(\.isNumber) ? nil : typeName
    }
}

/// The refusal of a string that is none of an enum's values: all of them when they are few
/// enough to read, else the first eight and the type's name, when it has a readable one.
func notAnEnumValue(_ value: JSONValue, values: [String], typeName: String?) -> String {
    let listed = values.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
    if values.count <= 8 {
        return "\(describe(value)) is not one of \(listed)"
    }
    if let typeName {
        return "\(describe(value)) is not a value of \(typeName) (\(listed), …)"
    }
    return "\(describe(value)) is not one of the \(values.count) values \(listed), …"
}

/// A short rendering of a value for messages: scalars as JSON text, containers by kind.
func describe(_ value: JSONValue) -> String {
    switch value {
    case .null, .bool, .int, .uint, .double, .string: value.serialized()
    case .array, .object: value.kindName
    }
}

private struct ValidationRun {
    let model: QAPIIntrospection
    var issues: [QAPIValidationIssue] = []

    mutating func fail(_ path: String, _ message: String, _ kind: QAPIValidationIssue.Kind) {
        issues.append(QAPIValidationIssue(path: path, message: message, kind: kind))
    }

    mutating func mismatch(_ value: JSONValue, expected: String, type: QAPIBuiltinType? = nil, path: String) {
        fail(path, "expected \(expected), got \(describe(value))", .wrongType(expected: expected, type: type))
    }

    func join(_ path: String, _ member: String) -> String {
        path.isEmpty ? member : "\(path).\(member)"
    }

    /// Where a value sits: the member (or alternate branch, by type) of an entry, or the whole
    /// value checked. Array elements sit where their array does.
    enum Place {
        case whole
        case member(of: String, named: String)
    }

    /// Whether an `int` at `place` is exactly QAPI's `int`, else any 64-bit integer. Asked only
    /// of a value beyond `int64`, so the lookup costs nothing for the rest.
    func widthKnown(at place: Place) -> Bool {
        if model.knowsIntegerWidths { return true }
        guard case .member(let owner, let name) = place else { return false }
        return model.filledMembers[owner]?.contains(name) == true
    }

    mutating func check(
        _ value: JSONValue,
        as typeName: String,
        path: String,
        place: Place,
        acceptsExtraMembers: Bool = false
    ) {
        guard let facts = model.facts[typeName] else {
            fail(path, "type '\(typeName)' is not in the schema", .other)
            return
        }
        switch facts.entry.metaType {
        case .builtin:
            guard let builtin = facts.builtin else { return }
            checkBuiltin(value, builtin, accepted: facts.accepted, path: path, place: place)
        case .enumeration(let members, let values):
            guard case .string(let name) = value else {
                return mismatch(value, expected: JSONKind.string.rawValue, path: path)
            }
            if !facts.enumValues.contains(name) {
                let known = members.isEmpty ? values : members.map(\.name)
                let message = notAnEnumValue(value, values: known, typeName: model.sourceName(of: typeName))
                fail(path, message, .invalidEnumValue(name))
            }
        case .array(let elementType):
            guard case .array(let elements) = value else {
                return mismatch(value, expected: JSONKind.array.rawValue, path: path)
            }
            for (index, element) in elements.enumerated() {
                check(element, as: elementType, path: "\(path)[\(index)]", place: place)
            }
        case .object(let members, let tag, let variants):
            guard case .object(let object) = value else {
                return mismatch(value, expected: JSONKind.object.rawValue, path: path)
            }
            checkObject(
                object,
                typeName: typeName,
                members: members,
                tag: tag,
                variants: variants,
                path: path,
                acceptsExtraMembers: acceptsExtraMembers
            )
        case .alternate:
            let kinds = JSONKindMask.alternateClass(of: value.kind)
            guard let chosen = facts.branches.first(where: { !$0.accepted.isDisjoint(with: kinds) }) else {
                let expected = facts.branches.compactMap { JSONKind.name(accepting: $0.accepted.kinds) }
                    .joined(separator: " or ")
                fail(
                    path,
                    "expected \(expected), got \(describe(value))",
                    .noMatchingBranch(expected: expected, alternate: model.sourceName(of: typeName))
                )
                return
            }
            check(value, as: chosen.type, path: path, place: .member(of: typeName, named: chosen.type))
        case .command, .event:
            fail(path, "'\(typeName)' is not a type", .other)
        }
    }

    mutating func checkBuiltin(
        _ value: JSONValue,
        _ builtin: QAPIBuiltinType,
        accepted: JSONKindMask,
        path: String,
        place: Place
    ) {
        switch builtin {
        case .any:
            return
        case .str, .bool, .null, .number:
            if !accepted.contains(JSONKindMask(value.kind)) {
                let expected = JSONKind.name(accepting: builtin.acceptedKinds) ?? "value"
                mismatch(value, expected: expected, type: builtin, path: path)
            }
        case .int, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .size:
            checkInteger(value, builtin, path: path, place: place)
        }
    }

    /// QEMU reads a signed integer as `int64` and an unsigned one as `uint64` (taking negative
    /// values as their two's complement), then checks a narrower width's range.
    mutating func checkInteger(_ value: JSONValue, _ builtin: QAPIBuiltinType, path: String, place: Place) {
        let range = builtin.integerRange!
        let unsignedValue: UInt64
        switch value {
        case .int(let int):
            guard builtin.isUnsigned else {
                if case (.signed(let low), .signed(let high)) = range, int < low || int > high {
                    outOfRange(value, builtin, path: path)
                }
                return
            }
            unsignedValue = UInt64(bitPattern: int)
        case .uint(let uint):
            guard builtin.isUnsigned else {
                // An unknown width may be uint64; a signed type can't hold the value at all.
                if builtin != .int || widthKnown(at: place) {
                    outOfRange(value, builtin.cTypeName == nil ? builtin : .int64, path: path)
                }
                return
            }
            unsignedValue = uint
        default:
            return mismatch(value, expected: JSONKind.integer.rawValue, type: builtin, path: path)
        }
        if case .signed(let high) = range.maximum, unsignedValue > UInt64(high) {
            outOfRange(value, builtin, path: path)
        }
    }

    mutating func outOfRange(_ value: JSONValue, _ builtin: QAPIBuiltinType, path: String) {
        let range = builtin.integerRange!
        let message = "\(describe(value)) is out of range for \(builtin.rawValue) (\(range.minimum)…\(range.maximum))"
        fail(path, message, .outOfRange(type: builtin))
    }

    /// Members are checked in order; a union's tag, once it checks, adds the members of its
    /// variant after the rest (recursively, as a variant may be a union itself).
    mutating func checkObject(
        _ object: JSONObject,
        typeName: String,
        members: [QAPISchemaInfo.ObjectMember],
        tag: String?,
        variants: [QAPISchemaInfo.Variant],
        path: String,
        acceptsExtraMembers: Bool
    ) {
        var expected = members
        // The variant whose entry has a member its tag added: there it is filled, if at all.
        var variantOf: [String: String] = [:]
        var unions = tag.map { [$0: variants] } ?? [:]
        var complete = true
        var index = 0
        while index < expected.count {
            let member = expected[index]
            index += 1
            let memberPath = join(path, member.name)
            guard let memberValue = object[member.name] else {
                if !member.isOptional { fail(memberPath, "missing required member", .missing) }
                if unions[member.name] != nil { complete = false }
                continue
            }
            let issuesBefore = issues.count
            let owner = variantOf[member.name] ?? typeName
            check(memberValue, as: member.type, path: memberPath, place: .member(of: owner, named: member.name))
            guard let variants = unions.removeValue(forKey: member.name) else { continue }
            // A bad tag leaves the variant unknown: QEMU stops at the tag.
            if issues.count > issuesBefore { return }
            guard case .string(let tagValue) = memberValue,
                let variant = variants.first(where: { $0.tagValue == tagValue }),
                case .object(let more, let moreTag, let moreVariants)? = model.entry(named: variant.type)?.metaType
            else { continue }
            let added = more.filter { added in !expected.contains { $0.name == added.name } }
            for member in added { variantOf[member.name] = variant.type }
            expected += added
            if let moreTag, unions[moreTag] == nil { unions[moreTag] = moreVariants }
        }
        guard complete, !acceptsExtraMembers else { return }
        for key in object.keys where !expected.contains(where: { $0.name == key }) {
            fail(join(path, key), "unexpected member", .unexpected)
        }
    }
}
