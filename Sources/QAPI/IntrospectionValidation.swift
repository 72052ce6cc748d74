import QMPCore

extension QAPIIntrospection {
    /// Commands whose arguments QEMU reads by hand and which take properties introspection does
    /// not list (`device_add` takes every property of the device).
    public static let commandsAcceptingExtraArguments: Set<String> = ["device_add"]

    /// The problems of `arguments` for `command`, checked against this introspection the way
    /// ``QAPIValidator`` checks against the sources; paths start with `arguments`.
    public func validateArguments(_ arguments: JSONObject?, ofCommand command: String) -> [QAPIValidationIssue] {
        guard let entry = entry(named: command), case .command(let argumentType, _, _) = entry.metaType else {
            return [QAPIValidationIssue(path: "execute", message: "unknown command '\(command)'")]
        }
        var run = IntrospectionValidationRun(introspection: self)
        run.check(.object(arguments ?? [:]), as: argumentType, path: "arguments", acceptsExtraMembers: Self.commandsAcceptingExtraArguments.contains(command))
        return run.issues
    }

    /// The problems of `value` as a value of the (masked) type `typeName`.
    public func validate(_ value: JSONValue, as typeName: String, path: String = "") -> [QAPIValidationIssue] {
        var run = IntrospectionValidationRun(introspection: self)
        run.check(value, as: typeName, path: path, acceptsExtraMembers: false)
        return run.issues
    }
}

private struct IntrospectionValidationRun {
    let introspection: QAPIIntrospection
    var issues: [QAPIValidationIssue] = []

    mutating func fail(_ path: String, _ message: String, _ kind: QAPIValidationIssue.Kind) {
        issues.append(QAPIValidationIssue(path: path, message: message, kind: kind))
    }

    func join(_ path: String, _ member: String) -> String {
        path.isEmpty ? member : "\(path).\(member)"
    }

    /// The JSON kind a type accepts, for choosing an alternate's branch.
    func acceptedKind(of typeName: String) -> String? {
        switch introspection.entry(named: typeName)?.metaType {
        case .builtin(let jsonType)?:
            switch jsonType {
            case "string": return "string"
            case "int": return "integer"
            case "number": return "number"
            case "boolean": return "boolean"
            case "null": return "null"
            default: return nil
            }
        case .enumeration?: return "string"
        case .object?: return "object"
        case .array?: return "array"
        default: return nil
        }
    }

    mutating func mismatch(_ value: JSONValue, expected: String, path: String) {
        fail(path, "expected \(expected), got \(value.serialized())", .wrongType(expected: expected))
    }

    mutating func check(_ value: JSONValue, as typeName: String, path: String, acceptsExtraMembers: Bool) {
        guard let entry = introspection.entry(named: typeName) else {
            fail(path, "type '\(typeName)' is not in the schema", .other)
            return
        }
        switch entry.metaType {
        case .builtin(let jsonType):
            switch (jsonType, value) {
            case ("value", _), ("string", .string), ("int", .int), ("int", .uint), ("boolean", .bool), ("null", .null),
                ("number", .int), ("number", .uint), ("number", .double):
                return
            default:
                let expected = ["int": "integer", "value": "value"][jsonType] ?? jsonType
                mismatch(value, expected: expected, path: path)
            }
        case .enumeration(let members, let values):
            guard case .string(let name) = value else { return mismatch(value, expected: "string", path: path) }
            let known = members.isEmpty ? values : members.map(\.name)
            if !known.contains(name) {
                fail(path, notAnEnumValue(value, values: known, typeName: nil), .invalidEnumValue(name))
            }
        case .array(let elementType):
            guard case .array(let elements) = value else { return mismatch(value, expected: "array", path: path) }
            for (index, element) in elements.enumerated() {
                check(element, as: elementType, path: "\(path)[\(index)]", acceptsExtraMembers: false)
            }
        case .object(let members, let tag, let variants):
            guard case .object(let object) = value else { return mismatch(value, expected: "object", path: path) }
            var expected = members
            var complete = true
            if let tag {
                if case .string(let tagValue)? = object[tag] {
                    if let variant = variants.first(where: { $0.tagValue == tagValue }),
                        case .object(let more, _, _)? = introspection.entry(named: variant.type)?.metaType
                    {
                        expected += more
                    }
                } else {
                    complete = false
                }
            }
            for member in expected {
                let memberPath = join(path, member.name)
                guard let memberValue = object[member.name] else {
                    if !member.isOptional { fail(memberPath, "missing required member", .missing) }
                    continue
                }
                let issuesBefore = issues.count
                check(memberValue, as: member.type, path: memberPath, acceptsExtraMembers: false)
                // A bad tag leaves the variant unknown: QEMU stops at the tag.
                if member.name == tag, issues.count > issuesBefore { return }
            }
            guard complete, !acceptsExtraMembers else { return }
            for key in object.keys where !expected.contains(where: { $0.name == key }) {
                fail(join(path, key), "unexpected member", .unexpected)
            }
        case .alternate(let memberTypes):
            let kind = value.kindName
            let chosen = memberTypes.first { acceptedKind(of: $0) == kind }
                ?? (kind == "integer" ? memberTypes.first { acceptedKind(of: $0) == "number" } : nil)
            guard let chosen else {
                return mismatch(value, expected: memberTypes.compactMap(acceptedKind(of:)).joined(separator: " or "), path: path)
            }
            check(value, as: chosen, path: path, acceptsExtraMembers: false)
        case .command, .event:
            fail(path, "'\(typeName)' is not a type", .other)
        }
    }
}
