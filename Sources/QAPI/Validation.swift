#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import QMPCore

/// Something wrong with a JSON value checked against a schema type.
///
/// `path` names the place in the value: `arguments.node-name`, `arguments.keys[2].type`; it is
/// empty for the value itself when validation started with an empty path. ``description`` is
/// `path: message`, e.g. `arguments.node-name: expected string, got 5`.
public struct QAPIValidationIssue: Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, for callers that word it their own way (QEMU's messages, say).
    public enum Kind: Sendable, Hashable {
        case missing
        case unexpected
        /// The JSON kind wanted: `string`, `boolean`, `integer`, `number`, `null`, `object`,
        /// `array`, or several joined with " or " for an alternate.
        case wrongType(expected: String)
        case invalidEnumValue(String)
        /// An integer outside the range of the named QAPI integer type (`uint8`, `size`, …).
        case outOfRange(type: String)
        case other
    }

    public var path: String
    public var message: String
    public var kind: Kind

    public init(path: String, message: String, kind: Kind = .other) {
        self.path = path
        self.message = message
        self.kind = kind
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Checks JSON values against the types of a schema, the way QEMU's input visitor would.
///
/// - Objects: every mandatory member present, each member of its type, and no member the
///   type lacks (except for commands QEMU marshals by hand, `'gen': false`, which accept extra
///   properties). A union's tag selects the members its variant adds.
/// - Alternates: the branch is chosen by the value's JSON type.
/// - Integers: must be JSON integers (no fraction, no exponent) within the type's range
///   (`int8` … `uint64`, `size`); `number` accepts integers too.
/// - `any` accepts everything; `null` only `null`. An optional member may be left out, but
///   not given as `null` unless its type accepts `null`.
///
/// With ``definedSymbols`` set, members, enum values and branches whose condition the build
/// doesn't satisfy count as absent from the schema. With `nil` (the default) every conditional
/// part counts as present.
public struct QAPIValidator: Sendable {
    public var schema: QAPISchema
    /// The configuration symbols of the build the values are meant for, if known.
    public var definedSymbols: Set<String>?

    public init(schema: QAPISchema, definedSymbols: Set<String>? = nil) {
        self.schema = schema
        self.definedSymbols = definedSymbols
    }

    /// The problems of `value` as a value of type `typeName`. Empty when it is valid.
    public func validate(_ value: JSONValue, as typeName: String, path: String = "") -> [QAPIValidationIssue] {
        var run = ValidationRun(validator: self)
        run.check(value, as: typeName, path: path)
        return run.issues
    }

    /// The problems of `arguments` (the `arguments` member of an `execute` request; `nil` when
    /// absent) for command `command`. Paths start with `arguments`.
    public func validateArguments(_ arguments: JSONObject?, ofCommand command: String) -> [QAPIValidationIssue] {
        guard let definition = schema.commands[command], isIncluded(definition.condition) else {
            return [QAPIValidationIssue(path: "execute", message: "unknown command '\(command)'")]
        }
        guard let argumentType = definition.argumentType else {
            guard let arguments, !arguments.isEmpty else { return [] }
            return arguments.keys.map { QAPIValidationIssue(path: "arguments.\($0)", message: "unexpected member", kind: .unexpected) }
        }
        var run = ValidationRun(validator: self)
        run.acceptsExtraMembers = !definition.isGenerated
        run.check(.object(arguments ?? JSONObject()), as: argumentType, path: "arguments")
        return run.issues
    }

    /// The problems of `data` (the `data` member of an event message; `nil` when absent) for
    /// event `event`. Paths start with `data`.
    public func validateData(_ data: JSONObject?, ofEvent event: String) -> [QAPIValidationIssue] {
        guard let definition = schema.events[event], isIncluded(definition.condition) else {
            return [QAPIValidationIssue(path: "event", message: "unknown event '\(event)'")]
        }
        guard let dataType = definition.dataType else {
            guard let data, !data.isEmpty else { return [] }
            return data.keys.map { QAPIValidationIssue(path: "data.\($0)", message: "unexpected member", kind: .unexpected) }
        }
        return validate(.object(data ?? JSONObject()), as: dataType, path: "data")
    }

    /// The problems of a command's return value.
    public func validateReturn(_ value: JSONValue, ofCommand command: String) -> [QAPIValidationIssue] {
        guard let definition = schema.commands[command] else {
            return [QAPIValidationIssue(path: "execute", message: "unknown command '\(command)'")]
        }
        guard let returnType = definition.returnType else {
            if case .object(let object) = value, object.isEmpty { return [] }
            return [QAPIValidationIssue(path: "return", message: "expected an empty object, got \(describe(value))")]
        }
        return validate(value, as: returnType, path: "return")
    }

    func isIncluded(_ condition: QAPICondition?) -> Bool {
        guard let condition, let definedSymbols else { return true }
        return condition.isSatisfied(by: definedSymbols)
    }
}

/// The refusal of a string that is none of an enum's values: all of them when they are few
/// enough to read, else the first eight and the type's name, when it has a readable one (the
/// introspection's type names are numbers).
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
    case .null: "null"
    case .bool(let bool): bool ? "true" : "false"
    case .int(let int): String(int)
    case .uint(let uint): String(uint)
    case .double(let double): String(double)
    case .string: value.serialized()
    case .array: "array"
    case .object: "object"
    }
}

private struct ValidationRun {
    let validator: QAPIValidator
    var issues: [QAPIValidationIssue] = []
    /// Accept members the top-level object type does not declare.
    var acceptsExtraMembers = false

    var schema: QAPISchema { validator.schema }

    init(validator: QAPIValidator) {
        self.validator = validator
    }

    mutating func fail(_ path: String, _ message: String, _ kind: QAPIValidationIssue.Kind = .other) {
        issues.append(QAPIValidationIssue(path: path, message: message, kind: kind))
    }

    func join(_ path: String, _ member: String) -> String {
        path.isEmpty ? member : "\(path).\(member)"
    }

    mutating func check(_ value: JSONValue, as typeName: String, path: String) {
        guard let type = schema.types[typeName] else {
            fail(path, "type '\(typeName)' is not in the schema")
            return
        }
        switch type.kind {
        case .builtin(let builtin):
            checkBuiltin(value, builtin, path: path)
        case .enumeration(let enumeration):
            guard case .string(let string) = value else {
                fail(path, "expected string, got \(describe(value))", .wrongType(expected: "string"))
                return
            }
            guard let enumValue = enumeration.value(named: string), validator.isIncluded(enumValue.condition) else {
                let names = enumeration.values.filter { validator.isIncluded($0.condition) }.map(\.name)
                fail(path, notAnEnumValue(value, values: names, typeName: typeName), .invalidEnumValue(string))
                return
            }
        case .array(let element):
            guard case .array(let elements) = value else {
                fail(path, "expected array, got \(describe(value))", .wrongType(expected: "array"))
                return
            }
            for (index, item) in elements.enumerated() {
                check(item, as: element, path: "\(path)[\(index)]")
            }
        case .object(let object):
            guard case .object(let members) = value else {
                fail(path, "expected object, got \(describe(value))", .wrongType(expected: "object"))
                return
            }
            let extra = acceptsExtraMembers
            acceptsExtraMembers = false
            checkObject(members, object, path: path, acceptsExtraMembers: extra)
        case .alternate(let alternate):
            checkAlternate(value, alternate, typeName: typeName, path: path)
        }
    }

    mutating func checkBuiltin(_ value: JSONValue, _ builtin: QAPIBuiltinType, path: String) {
        switch builtin {
        case .any:
            return
        case .str:
            if case .string = value { return }
            fail(path, "expected string, got \(describe(value))", .wrongType(expected: "string"))
        case .bool:
            if case .bool = value { return }
            fail(path, "expected boolean, got \(describe(value))", .wrongType(expected: "boolean"))
        case .null:
            if case .null = value { return }
            fail(path, "expected null, got \(describe(value))", .wrongType(expected: "null"))
        case .number:
            if value.numberValue != nil { return }
            fail(path, "expected number, got \(describe(value))", .wrongType(expected: "number"))
        case .int, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .size:
            let inRange: Bool
            switch value {
            case .int(let int):
                switch builtin.integerRange! {
                case (.signed(let low), .signed(let high)): inRange = int >= low && int <= high
                case (.signed(let low), .unsigned): inRange = int >= low
                default: inRange = false
                }
            case .uint:
                if case .unsigned = builtin.integerRange!.maximum { inRange = true } else { inRange = false }
            default:
                fail(path, "expected integer, got \(describe(value))", .wrongType(expected: "integer"))
                return
            }
            if !inRange {
                let range = builtin.integerRange!
                fail(
                    path,
                    "\(describe(value)) is out of range for \(builtin.rawValue) (\(range.minimum)…\(range.maximum))",
                    .outOfRange(type: builtin.rawValue)
                )
            }
        }
    }

    mutating func checkObject(_ value: JSONObject, _ object: QAPIObjectType, path: String, acceptsExtraMembers: Bool) {
        let (members, complete) = expectedMembers(of: object, in: value)
        for member in members {
            let memberPath = join(path, member.name)
            guard let memberValue = value[member.name] else {
                if !member.isOptional { fail(memberPath, "missing required member", .missing) }
                continue
            }
            check(memberValue, as: member.type, path: memberPath)
        }
        // Without a usable tag the variant's members are unknown, so extra members can't be told.
        guard complete, !acceptsExtraMembers else { return }
        for key in value.keys where !members.contains(where: { $0.name == key }) {
            fail(join(path, key), "unexpected member", .unexpected)
        }
    }

    /// The members `value` must or may have as an instance of `object`: the common members,
    /// plus those of the variant its tag selects (recursively, as a branch may be a union).
    /// `complete` is false when a tag is missing or not a string.
    func expectedMembers(of object: QAPIObjectType, in value: JSONObject) -> (members: [QAPIMember], complete: Bool) {
        var members = object.members.filter { validator.isIncluded($0.condition) }
        guard let variants = object.variants else { return (members, true) }
        guard case .string(let tag)? = value[variants.tagMember] else { return (members, false) }
        guard let variant = variants.variant(forTag: tag), validator.isIncluded(variant.condition),
              let variantObject = schema.objectType(named: variant.type) else {
            // A valid tag without a variant adds nothing; an invalid one leaves the rest unknown.
            let isValidTag = schema.enumType(named: variants.tagType)?.value(named: tag).map { validator.isIncluded($0.condition) } ?? false
            return (members, isValidTag)
        }
        let (more, complete) = expectedMembers(of: variantObject, in: value)
        members += more
        return (members, complete)
    }

    /// The JSON kind an alternate branch of type `name` accepts.
    func acceptedKind(of name: String) -> String? {
        guard let type = schema.types[name] else { return nil }
        switch type.kind {
        case .builtin(let builtin):
            switch builtin {
            case .str: return "string"
            case .bool: return "boolean"
            case .null: return "null"
            case .number: return "number"
            case .any: return nil
            default: return "integer"
            }
        case .enumeration: return "string"
        case .object: return "object"
        case .array: return "array"
        case .alternate: return nil
        }
    }

    mutating func checkAlternate(_ value: JSONValue, _ alternate: QAPIAlternateType, typeName: String, path: String) {
        let branches = alternate.branches.filter { validator.isIncluded($0.condition) }
        let kind: String
        switch value {
        case .null: kind = "null"
        case .bool: kind = "boolean"
        case .int, .uint: kind = "integer"
        case .double: kind = "number"
        case .string: kind = "string"
        case .array: kind = "array"
        case .object: kind = "object"
        }
        let chosen = branches.first { acceptedKind(of: $0.type) == kind }
            ?? (kind == "integer" ? branches.first { acceptedKind(of: $0.type) == "number" } : nil)
        guard let chosen else {
            let accepted = branches.compactMap { acceptedKind(of: $0.type) }
            fail(path, "expected \(accepted.joined(separator: " or ")), got \(describe(value))", .wrongType(expected: accepted.joined(separator: " or ")))
            return
        }
        check(value, as: chosen.type, path: path)
    }
}
