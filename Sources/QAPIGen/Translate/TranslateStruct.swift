import QAPI

extension Translator {
    /// A struct: its members, each a stored property.
    func translateStruct(_ name: String, _ object: QAPIObjectType) -> SwiftDeclaration {
        .documented(
            ["QAPI struct `\(name)`."] + typeHistoryComment(name),
            .structure(
                name: SwiftNaming.typeName(name),
                conformances: ["QMPJSONConvertible", "Hashable"],
                members: memberDeclarations(object.members, owner: .type(name))
            )
        )
    }
}
