import QAPI

/// The members of a struct, or of a command's arguments or an event's data: stored properties,
/// a memberwise initializer, and reading and writing each member.
extension Translator {
    /// A member with its Swift name and type, and what its comment says.
    struct TypedMember {
        var member: QAPIMember
        var name: String
        /// Optional when the member is.
        var type: SwiftType
        var comment: [String]
        /// Kept in a `QMPIndirect`, because its type holds its struct again.
        var isIndirect = false

        /// What the initializers assign to: the stored property.
        var storage: String { isIndirect ? SwiftNaming.storageName(name) : name }

        /// `value` as the stored property keeps it.
        func stored(_ value: SwiftExpression) -> SwiftExpression {
            isIndirect ? SwiftExpression.identifier("QMPIndirect").call(.unlabeled(value)) : value
        }
    }

    func typedMembers(_ members: [QAPIMember], owner: Owner) -> [TypedMember] {
        let histories = memberHistories(owner)
        let ownerFirst = ownerHistory(owner)?.introduced
        let relaxed = relaxedMembers[owner.relaxedKey] ?? []
        let names = SwiftNaming.uniqueMemberNames(members.map(\.name), reserved: SwiftNaming.reservedMemberNames)
        return zip(members, names).map { member, name in
            var comment = "`\(member.name)`" + Self.span(histories[member.name]?.history, after: ownerFirst)
            if relaxed.contains(member.name) {
                comment += "; optional here because not every QEMU sends it"
                if let memberHistory = histories[member.name],
                    let required = memberHistory.typeChanges.last(where: { !$0.isOptional })
                {
                    comment +=
                        memberHistory.lastVersion.map { " (required from \(required.version) to \($0))" }
                        ?? " (required since \(required.version))"
                }
            }
            let type = swiftType(member.type)!
            var typed = TypedMember(
                member: member,
                name: name,
                type: member.isOptional ? .optional(type) : type,
                comment: [comment]
            )
            if case .type(let typeName) = owner, indirectMembers.contains("\(typeName).\(member.name)") {
                typed.isIndirect = true
            }
            return typed
        }
    }

    /// A stored property per member; an indirect one reads and writes through its box.
    func properties(_ typed: [TypedMember]) -> [SwiftDeclaration] {
        typed.flatMap { entry -> [SwiftDeclaration] in
            guard entry.isIndirect else {
                return [.documented(entry.comment, .variable(SwiftVariable(name: entry.name, type: entry.type)))]
            }
            let storage = SwiftExpression.identifier(entry.storage)
            let accessors = SwiftVariable.Accessors.getterAndSetter(
                get: [.expression(storage.dot("value"))],
                set: [.assignment(storage, entry.stored(.identifier("newValue")))]
            )
            let boxed = SwiftType.generic("QMPIndirect", [entry.type])
            return [
                .documented(
                    entry.comment,
                    .variable(SwiftVariable(name: entry.name, type: entry.type, accessors: accessors))
                ),
                .variable(SwiftVariable(.private, name: entry.storage, type: boxed)),
            ]
        }
    }

    /// The memberwise initializer, with optional members defaulting to nil, and any `extra`
    /// parameters after them.
    ///
    /// A member named `self` keeps `self` as its argument label but gets another name inside
    /// the initializer: a parameter called `self` would hide `self` from every assignment.
    func memberwiseInitializer(_ typed: [TypedMember], extra: [SwiftParameter] = []) -> SwiftDeclaration {
        func inside(_ name: String) -> String { name == "`self`" ? "self_" : name }
        let parameters =
            typed.map {
                SwiftParameter(
                    label: $0.name == "`self`" ? "self" : nil,
                    name: inside($0.name),
                    type: $0.type,
                    defaultValue: $0.member.isOptional ? .nilLiteral : nil
                )
            } + extra
        let body: [SwiftStatement] =
            typed.map {
                .assignment(SwiftExpression.selfValue.dot($0.storage), $0.stored(.identifier(inside($0.name))))
            }
            + extra.map { .assignment(SwiftExpression.selfValue.dot($0.name), .identifier($0.name)) }
        return .initializer(SwiftInitializer(parameters: parameters, body: body))
    }

    /// Reads each member from `object`, which the statement before them takes out of `json`
    /// once: reading each member from `json` itself would copy the object, and with it a pair
    /// of atomic reference count operations, for every member.
    func decodeStatements(_ typed: [TypedMember]) -> [SwiftStatement] {
        typed.map { entry in
            let read = SwiftExpression.object.dot(entry.member.isOptional ? "optional" : "required")
                .call(.unlabeled(.string(entry.member.name)), .labeled("at", .path))
            return .assignment(SwiftExpression.selfValue.dot(entry.storage), entry.stored(.try(read)))
        }
    }

    /// Writes each member into `object`; nil optionals are left out.
    func encodeStatements(_ typed: [TypedMember]) -> [SwiftStatement] {
        typed.map { entry in
            let value = SwiftExpression.selfValue.dot(entry.name)
            let key = SwiftExpression.string(entry.member.name)
            return entry.member.isOptional
                ? .expression(SwiftExpression.object.dot("set").call(.unlabeled(key), .unlabeled(value)))
                : .assignment(SwiftExpression.object.subscripted(key), value.dot("json"))
        }
    }

    /// Stored properties, a memberwise initializer, `init(json:path:)` and `json` for members.
    func memberDeclarations(_ members: [QAPIMember], owner: Owner) -> [SwiftDeclaration] {
        let typed = typedMembers(members, owner: owner)
        var declarations = properties(typed)
        declarations.append(memberwiseInitializer(typed))
        let decode: [SwiftStatement] =
            typed.isEmpty
            ? [.assignment(.identifier("_"), .decodedObject)]
            : [.binding(.let, name: "object", type: nil, value: .decodedObject)] + decodeStatements(typed)
        declarations.append(Self.decodingInitializer(decode))
        let encode: [SwiftStatement] =
            typed.isEmpty
            ? [.expression(.jsonObjectValue(.emptyDictionary))]
            : [Self.newObject] + encodeStatements(typed) + [.return(.jsonObjectValue(.object))]
        declarations.append(Self.jsonProperty(encode))
        return declarations
    }

    /// `var object = JSONObject()`: the object an encoding fills.
    static let newObject = SwiftStatement.binding(
        .var,
        name: "object",
        type: nil,
        value: SwiftExpression.type(.jsonObject).call()
    )
}
