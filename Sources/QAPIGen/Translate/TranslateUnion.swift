import QAPI

extension Translator {
    /// A union: its common members (the tag among them), and the members the tag adds as a
    /// `Branch`. A tag value without members of its own, or one this binding does not know,
    /// keeps whatever members came with it in `.other`.
    func translateUnion(_ name: String, _ object: QAPIObjectType, _ variants: QAPIVariants) -> SwiftDeclaration {
        let typedCommon = typedMembers(object.members, owner: .type(name))
        // `other` is always the case of a tag value without a branch: a branch of that name
        // becomes `other_`.
        let caseNames = SwiftNaming.uniqueMemberNames(variants.variants.map(\.name), reserved: ["other"])
        let other = "other"
        let branches = Array(zip(variants.variants, caseNames))
        var members = properties(typedCommon)
        members.append(
            .documented(
                ["The members the value of `\(variants.tagMember)` adds."],
                .variable(SwiftVariable(name: "branch", type: .named("Branch")))
            )
        )
        members.append(Self.unknownMembersProperty)
        let branchParameter = SwiftParameter(name: "branch", type: .named("Branch"))
        members.append(memberwiseInitializer(typedCommon, extra: [branchParameter]))
        members += readingInitializers(
            unionDecoding(variants, typedCommon, branches, other: other),
            isBranch: unionBranchTypes.contains(name)
        )
        members.append(Self.jsonProperty(unionEncoding(typedCommon, branches, other: other)))
        let tagType = SwiftNaming.typeName(variants.tagType)
        let branchCases: [SwiftDeclaration] = branches.map { variant, caseName in
            .documented(
                ["`\(variant.name)`" + (wrappedType(variant.type) != nil ? ", its value in `data`" : "")],
                .enumCase(caseName, associatedTypes: [branchType(variant.type)!])
            )
        }
        let otherCase = SwiftDeclaration.documented(
            [
                "A value without members of its own, or one this binding does not know: the members beyond the "
                    + "common ones, as sent."
            ],
            .enumCase(other, associatedTypes: [.jsonObject])
        )
        members.append(
            .documented(
                ["The members each value of `\(variants.tagMember)` adds (of `\(tagType)`)."],
                .enumeration(
                    name: "Branch",
                    conformances: ["Sendable", "Hashable"],
                    isIndirect: selfContainingTypes.contains(name),
                    members: branchCases + [otherCase]
                )
            )
        )
        return .documented(
            ["QAPI union `\(name)`, told apart by `\(variants.tagMember)`."] + typeHistoryComment(name),
            .structure(
                name: SwiftNaming.typeName(name),
                conformances: ["QMPJSONConvertible", "Hashable"],
                members: members
            )
        )
    }

    /// The common members, then the branch the tag picks, all through one reader: a struct
    /// branch reads its members from it, a tag without a branch takes every member left.
    private func unionDecoding(
        _ variants: QAPIVariants,
        _ typedCommon: [TypedMember],
        _ branches: [(QAPIVariant, String)],
        other: String
    ) -> [SwiftStatement] {
        // The tag's cases are named as its enumeration names them, which may differ from the
        // branch names when values collide.
        let tagValues = schema.enumType(named: variants.tagType)?.names ?? []
        let tagCaseNames = Dictionary(
            uniqueKeysWithValues: zip(
                tagValues,
                SwiftNaming.uniqueMemberNames(tagValues, reserved: SwiftNaming.reservedCaseNames)
            )
        )
        let branch = SwiftExpression.selfValue.dot("branch")
        let cases: [SwiftSwitchCase] = branches.map { variant, caseName in
            let value: SwiftExpression =
                wrappedType(variant.type) != nil
                ? .try(SwiftExpression.reader.dot("required").call(.unlabeled(.string("data")), .labeled("at", .path)))
                : .try(
                    SwiftExpression.type(swiftType(variant.type)!).call(
                        .labeled("reading", .inoutArgument("reader")),
                        .labeled("at", .path)
                    )
                )
            return SwiftSwitchCase(
                [.value(.dot(tagCaseNames[variant.name] ?? caseName))],
                [.assignment(branch, SwiftExpression.dot(caseName).call(.unlabeled(value)))]
            )
        }
        // What a tag without a branch brings: every member beyond the common ones.
        let otherCase = SwiftSwitchCase.default([
            .assignment(
                branch,
                SwiftExpression.dot(other).call(.unlabeled(SwiftExpression.reader.dot("remainingMembers").call()))
            )
        ])
        return decodeStatements(typedCommon)
            + [.switch(SwiftExpression.selfValue.dot(SwiftNaming.memberName(variants.tagMember)), cases + [otherCase])]
    }

    /// The common members, then what the branch adds where a common member does not already
    /// stand.
    private func unionEncoding(
        _ typedCommon: [TypedMember],
        _ branches: [(QAPIVariant, String)],
        other: String
    ) -> [SwiftStatement] {
        let added = SwiftExpression.identifier("added")
        let value = SwiftExpression.identifier("value")
        let members = SwiftExpression.identifier("members")
        let cases: [SwiftSwitchCase] = branches.map { variant, caseName in
            wrappedType(variant.type) != nil
                ? SwiftSwitchCase(
                    [.enumCase(caseName, binding: ["value"])],
                    [
                        .assignment(
                            added,
                            .literal(.dictionary([SwiftDictionaryEntry(.string("data"), value.dot("json"))]))
                        )
                    ]
                )
                : SwiftSwitchCase(
                    [.enumCase(caseName, binding: ["members"])],
                    [
                        .assignment(
                            added,
                            .binary(members.dot("json").dot("objectValue"), .nilCoalescing, .emptyDictionary)
                        )
                    ]
                )
        }
        let key = SwiftExpression.identifier("key")
        let slot = SwiftExpression.object.subscripted(key)
        return [Self.newObject] + encodeStatements(typedCommon) + [
            .binding(.let, name: "added", type: .jsonObject, value: nil),
            .switch(
                SwiftExpression.selfValue.dot("branch"),
                cases + [SwiftSwitchCase([.enumCase(other, binding: ["members"])], [.assignment(added, members)])]
            ),
            .forIn(
                .tuple(["key", "value"]),
                in: added,
                where: .binary(slot, .equal, .nilLiteral),
                body: [.assignment(slot, value)]
            ),
            Self.encodeUnknownMembers,
            .return(.jsonObjectValue(.object)),
        ]
    }
}
