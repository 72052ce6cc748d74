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
            var comment =
                "`\(member.name)`"
                + Self.span(
                    histories[member.name]?.history,
                    after: ownerFirst,
                    newestKnown: newestKnownRelease
                )
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

    /// The memberwise initializer, with optional members defaulting to nil, any `extra`
    /// parameters after them, and the unknown members last, empty by default.
    ///
    /// A member named `self` keeps `self` as its argument label but gets another name inside
    /// the initializer: a parameter called `self` would hide `self` from every assignment.
    func memberwiseInitializer(_ typed: [TypedMember], extra: [SwiftParameter] = []) -> SwiftDeclaration {
        func inside(_ name: String) -> String { name == "`self`" ? "self_" : name }
        let unknown = SwiftParameter(name: Self.unknownMembers, type: .jsonObject, defaultValue: .emptyDictionary)
        let parameters =
            typed.map {
                SwiftParameter(
                    label: $0.name == "`self`" ? "self" : nil,
                    name: inside($0.name),
                    type: $0.type,
                    defaultValue: $0.member.isOptional ? .nilLiteral : nil
                )
            } + extra + [unknown]
        let body: [SwiftStatement] =
            typed.map {
                .assignment(SwiftExpression.selfValue.dot($0.storage), $0.stored(.identifier(inside($0.name))))
            }
            + (extra + [unknown]).map { .assignment(SwiftExpression.selfValue.dot($0.name), .identifier($0.name)) }
        return .initializer(SwiftInitializer(parameters: parameters, body: body))
    }

    /// The name of the property that keeps the members a binding has no property for.
    static let unknownMembers = "unknownMembers"

    /// `public var unknownMembers: JSONObject`, documented.
    static let unknownMembersProperty = SwiftDeclaration.documented(
        ["Members this binding has no property for, kept as they came and written back after the others."],
        .variable(SwiftVariable(name: unknownMembers, type: .jsonObject))
    )

    /// Reads each member through `reader`, which counts what it reads, so that what is left is
    /// kept (see `QMPMemberReader`).
    func decodeStatements(_ typed: [TypedMember]) -> [SwiftStatement] {
        typed.map { entry in
            let read = SwiftExpression.reader.dot(entry.member.isOptional ? "optional" : "required")
                .call(.unlabeled(.string(entry.member.name)), .labeled("at", .path))
            return .assignment(SwiftExpression.selfValue.dot(entry.storage), entry.stored(.try(read)))
        }
    }

    /// The decoding initializers of a struct or union whose members `read` reads from
    /// `reader`. A type that is some union's branch gets `init(reading:at:)` as well, through
    /// which the union's reader reads the branch's members, so that what neither has a
    /// property for is found once, against the whole object; the union keeps it.
    func readingInitializers(_ read: [SwiftStatement], isBranch: Bool) -> [SwiftDeclaration] {
        let unknown = SwiftExpression.selfValue.dot(Self.unknownMembers)
        // The reader takes the value over: the initializer's own copy, which it needs no more,
        // so that making the reader copies nothing.
        let makeReader = SwiftStatement.binding(
            .var,
            name: "reader",
            type: nil,
            value: .try(
                SwiftExpression.type(.memberReader).call(.unlabeled(.consumed("json")), .labeled("at", .path))
            )
        )
        let keepRest = SwiftStatement.assignment(unknown, SwiftExpression.reader.dot("remainingMembers").call())
        guard isBranch else { return [Self.decodingInitializer([makeReader] + read + [keepRest])] }
        let fromReader = SwiftDeclaration.initializer(
            SwiftInitializer(
                parameters: [
                    SwiftParameter(label: "reading", name: "reader", type: .inout(.memberReader)),
                    SwiftParameter(label: "at", name: "path", type: .path),
                ],
                throwing: .decodingError,
                // `JSONObject()` rather than `[:]`, which goes through the dictionary literal's
                // generic initializer on every value decoded.
                body: read + [.assignment(unknown, SwiftExpression.type(.jsonObject).call())]
            )
        )
        let delegate = SwiftStatement.expression(
            .try(
                SwiftExpression.selfValue.dot("init").call(
                    .labeled("reading", .inoutArgument("reader")),
                    .labeled("at", .path)
                )
            )
        )
        return [fromReader, Self.decodingInitializer([makeReader, delegate, keepRest])]
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

    /// `object.addMembers(self.unknownMembers)`: the kept members, after the properties.
    static let encodeUnknownMembers = SwiftStatement.expression(
        SwiftExpression.object.dot("addMembers").call(.unlabeled(SwiftExpression.selfValue.dot(unknownMembers)))
    )

    /// Stored properties, a memberwise initializer, `init(json:path:)` and `json` for members,
    /// and the members that the binding has no property for, kept.
    func memberDeclarations(_ members: [QAPIMember], owner: Owner) -> [SwiftDeclaration] {
        let typed = typedMembers(members, owner: owner)
        var declarations = properties(typed)
        declarations.append(Self.unknownMembersProperty)
        declarations.append(memberwiseInitializer(typed))
        var isBranch = false
        if case .type(let name) = owner { isBranch = unionBranchTypes.contains(name) }
        let unknown = SwiftExpression.selfValue.dot(Self.unknownMembers)
        if typed.isEmpty && !isBranch {
            // Every member there is is unknown.
            declarations.append(Self.decodingInitializer([.assignment(unknown, .decodedObject)]))
        } else {
            declarations += readingInitializers(decodeStatements(typed), isBranch: isBranch)
        }
        let encode: [SwiftStatement] =
            typed.isEmpty
            ? [.expression(.jsonObjectValue(unknown))]
            : [Self.newObject] + encodeStatements(typed) + [
                Self.encodeUnknownMembers, .return(.jsonObjectValue(.object)),
            ]
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
