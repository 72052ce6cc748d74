import QAPI

/// What a command's arguments or an event's data become: members of their own, or one union.
extension Translator {
    /// How a command's arguments or an event's data are carried.
    enum Payload {
        /// The members of a struct, one property each (none for a command without arguments).
        case members([QAPIMember], owner: Owner)
        /// A union (a boxed command's arguments): one property `value` of the union's type.
        case union(String)

        var isEmpty: Bool {
            switch self {
            case .members(let members, _): members.isEmpty
            case .union: false
            }
        }
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
            let value = SwiftExpression.identifier("value")
            return [
                .documented(["The arguments, a `\(typeName)`."], .variable(SwiftVariable(name: "value", type: type))),
                .initializer(
                    SwiftInitializer(
                        parameters: [SwiftParameter(label: "_", name: "value", type: type)],
                        body: [.assignment(SwiftExpression.selfValue.dot("value"), value)]
                    )
                ),
                Self.decodingInitializer([.assignment(value, .decode(type))]),
                Self.jsonProperty([.expression(value.dot("json"))]),
            ]
        }
    }
}
