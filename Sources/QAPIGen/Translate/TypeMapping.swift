import QAPI

/// Which Swift type stands for each QAPI type, and which QAPI types get no declaration yet.
extension Translator {
    /// The Swift type of a QAPI type reference; `nil` for shapes not generated yet.
    public func swiftType(_ qapiType: String) -> SwiftType? {
        guard let type = schema.type(named: qapiType) else { return nil }
        switch type.kind {
        case .builtin(let builtin):
            switch builtin {
            case .str: return .string
            case .number: return .named("Double")
            case .int, .int64: return .named("Int64")
            case .int8: return .named("Int8")
            case .int16: return .named("Int16")
            case .int32: return .named("Int32")
            case .uint8: return .named("UInt8")
            case .uint16: return .named("UInt16")
            case .uint32: return .named("UInt32")
            case .uint64, .size: return .named("UInt64")
            case .bool: return .named("Bool")
            case .null, .any: return .jsonValue
            }
        case .array(let element):
            return swiftType(element).map { .array($0) }
        case .enumeration:
            return .named(SwiftNaming.typeName(qapiType))
        case .object where !type.isImplicit, .alternate:
            return .named(SwiftNaming.typeName(qapiType))
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
            let missing = alternate.branches.first { swiftType($0.type) == nil || jsonKinds(of: $0.type).isEmpty }
            if let branch = missing {
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
    func branchType(_ qapiType: String) -> SwiftType? {
        if let wrapped = wrappedType(qapiType) { return swiftType(wrapped) }
        guard schema.type(named: qapiType)?.isImplicit == false else { return nil }
        return swiftType(qapiType)
    }
}

extension SwiftType {
    /// The types of QMPCore the generated code names.
    static let jsonValue = SwiftType.named("JSONValue")
    static let jsonObject = SwiftType.named("JSONObject")
    static let path = SwiftType.named("QMPPath")
    static let memberReader = SwiftType.named("QMPMemberReader")
    static let decodingError = SwiftType.named("QMPDecodingError")
    static let availability = SwiftType.named("QEMUAvailability")
    static let versionRange = SwiftType.named("QEMUVersionRange")
}
