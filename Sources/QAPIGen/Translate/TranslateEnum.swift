import QAPI

extension Translator {
    /// An enumeration: a case per value, and `unknown` keeping a value a newer QEMU may send.
    func translateEnum(_ name: String, _ enumeration: QAPIEnumType) -> SwiftDeclaration {
        let caseNames = SwiftNaming.uniqueMemberNames(enumeration.names, reserved: SwiftNaming.reservedCaseNames)
        let valueHistories = history?.type(name)?.enumValues ?? [:]
        let typeFirst = history?.type(name)?.introduced
        let unknown = "unknown"
        let pairs = Array(zip(enumeration.names, caseNames))
        var cases: [SwiftDeclaration] = pairs.map { value, caseName in
            .documented(
                ["`\(value)`" + Self.span(valueHistories[value], after: typeFirst, newestKnown: newestKnownRelease)],
                .enumCase(caseName, associatedTypes: [])
            )
        }
        cases.append(
            .documented(
                ["A value this binding does not know, as a newer QEMU may send; kept as sent."],
                .enumCase(unknown, associatedTypes: [.string])
            )
        )
        let raw = SwiftExpression.identifier("raw")
        let decode: [SwiftStatement] = [
            .binding(.let, name: "raw", type: nil, value: .decode(.string)),
            .switch(
                raw,
                pairs.map { value, caseName in
                    SwiftSwitchCase([.value(.string(value))], [.assignment(.selfValue, .dot(caseName))])
                } + [.default([.assignment(.selfValue, SwiftExpression.dot(unknown).call(.unlabeled(raw)))])]
            ),
        ]
        let rawValue: [SwiftStatement] = [
            .switch(
                .selfValue,
                pairs.map { value, caseName in
                    SwiftSwitchCase([.value(.dot(caseName))], [.expression(.string(value))])
                }
                    + [SwiftSwitchCase([.enumCase(unknown, binding: ["raw"])], [.expression(raw)])]
            )
        ]
        let json: [SwiftStatement] = [
            .expression(SwiftExpression.dot("string").call(.unlabeled(.identifier("rawValue"))))
        ]
        return .documented(
            ["QAPI enum `\(name)`."] + typeHistoryComment(name),
            .enumeration(
                name: SwiftNaming.typeName(name),
                conformances: ["QMPJSONConvertible", "Hashable"],
                isIndirect: false,
                members: cases + [
                    Self.decodingInitializer(decode),
                    Self.computedProperty("rawValue", type: .string, rawValue),
                    Self.jsonProperty(json),
                ]
            )
        )
    }
}
