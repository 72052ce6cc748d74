import QAPI
import QMPCore

extension Translator {
    /// An alternate: one case per branch, chosen by the JSON kind of the value.
    func translateAlternate(_ name: String, _ alternate: QAPIAlternateType) -> SwiftDeclaration {
        let caseNames = SwiftNaming.uniqueMemberNames(alternate.branches.map(\.name))
        let branches = zip(alternate.branches, caseNames).map { (branch: $0, name: $1, type: swiftType($0.type)!) }
        var decodeCases: [SwiftSwitchCase] = []
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
            let value: SwiftExpression = entry.type == .jsonValue ? .json : .decode(entry.type)
            decodeCases.append(
                SwiftSwitchCase(
                    kinds.map { .value(.dot($0)) },
                    [.assignment(.selfValue, SwiftExpression.dot(entry.name).call(.unlabeled(value)))]
                )
            )
        }
        let mismatch = SwiftExpression.dot("typeMismatch").call(
            .unlabeled(.path),
            .labeled("expected", .string(expected.joined(separator: " or "))),
            .labeled("got", .json)
        )
        // Branches that take every kind of value leave nothing for a refusal to catch.
        if !Set(JSONKind.allCases.flatMap(\.valueCases)).isSubset(of: kindsTaken) {
            decodeCases.append(.default([.throw(mismatch)]))
        }
        let encodeCases = branches.map {
            SwiftSwitchCase(
                [.enumCase($0.name, binding: ["value"])],
                [.expression(SwiftExpression.identifier("value").dot("json"))]
            )
        }
        let cases: [SwiftDeclaration] = branches.map {
            .documented(["`\($0.branch.name)`"], .enumCase($0.name, associatedTypes: [$0.type]))
        }
        return .documented(
            ["QAPI alternate `\(name)`: the branch follows the JSON kind of the value."] + typeHistoryComment(name),
            .enumeration(
                name: SwiftNaming.typeName(name),
                conformances: ["QMPJSONConvertible", "Hashable"],
                isIndirect: selfContainingTypes.contains(name),
                members: cases + [
                    Self.decodingInitializer([.switch(.json, decodeCases)]),
                    Self.jsonProperty([.switch(.selfValue, encodeCases)]),
                ]
            )
        )
    }
}
