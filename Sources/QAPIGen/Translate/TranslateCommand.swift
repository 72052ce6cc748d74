import QAPI
import QMPCore

extension Translator {
    /// A command: its name, flags, availability and reply type, and its arguments as members.
    /// With `olderShape`, the command as releases before an incompatible change of its
    /// arguments took it: a type of its own, named for the release that changed them.
    func translateCommand(
        _ command: QAPICommand,
        olderShape: MergedSchema.OlderShape? = nil
    ) -> Result<SwiftDeclaration, GeneratorDiagnostic> {
        let argumentType = olderShape?.argumentType ?? command.argumentType
        guard let payload = payload(argumentType, inlineOwner: .command(command.name)) else {
            let message = "\(command.name): its arguments, of type '\(argumentType ?? "")', are not generated"
            return .failure(GeneratorDiagnostic(location: command.location, message: message))
        }
        var response = SwiftType.named("QMPEmpty")
        if let returnType = command.returnType {
            guard let type = swiftType(returnType) else {
                let message = "\(command.name): its return type '\(returnType)' is not generated"
                return .failure(GeneratorDiagnostic(location: command.location, message: message))
            }
            response = type
        }
        var declarations: [SwiftDeclaration] = [
            .typeAlias(name: "Response", type: response),
            Self.constant("name", type: .string, .string(command.name)),
            Self.constant("allowsOutOfBand", type: .named("Bool"), .bool(command.allowsOutOfBand)),
        ]
        if let olderShape {
            let availability = shapeAvailability(olderShape.shape)
            declarations.append(
                Self.constant("availability", type: .availability, Self.availabilityExpression(availability))
            )
        } else {
            declarations.append(availabilityConstant(.command(command.name)))
            if let arguments = argumentAvailabilityConstant(command) {
                declarations.append(arguments)
            }
        }
        declarations += shapeConstants(command.name, olderShape: olderShape)
        declarations += payloadDeclarations(payload)
        // A command without arguments sends none, unless a caller or a decoded request gave it some.
        let unknown = SwiftExpression.selfValue.dot(Self.unknownMembers)
        let arguments: [SwiftStatement] =
            payload.isEmpty
            ? [.if([.expression(unknown.dot("isEmpty"))], then: [.return(.nilLiteral)], else: []), .return(unknown)]
            : [.expression(SwiftExpression.json.dot("objectValue"))]
        declarations.append(Self.computedProperty("arguments", type: .optional(.jsonObject), arguments))
        var comment = ["QAPI command `\(command.name)`."]
        if let olderShape {
            let availability = shapeAvailability(olderShape.shape).prose(newestKnown: newestKnownRelease)
            comment =
                [
                    "QAPI command `\(command.name)` with its arguments as QEMU \(availability) took them;",
                    "\(commandSwiftName(command.name)) has them as later releases take them:",
                ] + olderShape.shape.endedBy.map { "- \($0.description)" }
        } else if newestShapes[command.name] != nil {
            comment.append("Older releases took its arguments in another shape: see `argumentShapes`.")
        }
        let name = olderShape.map(olderShapeTypeName) ?? commandSwiftName(command.name)
        return .success(
            .documented(
                comment,
                .structure(
                    name: name,
                    conformances: ["QMPCommand", "QMPJSONConvertible", "Hashable"],
                    members: declarations
                )
            )
        )
    }

    /// `BlockdevAddCommandBefore2_8`: the command's type, and the release series whose
    /// arguments no longer had this shape.
    func olderShapeTypeName(_ shape: MergedSchema.OlderShape) -> String {
        commandSwiftName(shape.command) + "Before\(shape.before.major)_\(shape.before.minor)"
    }

    /// The releases of a shape as runs: consecutive releases of the history are one run, and
    /// a run that reaches the newest release stays open.
    func shapeAvailability(_ shape: QAPIArgumentShape) -> QEMUAvailability {
        guard let versions = history?.versions else { return QEMUAvailability([QEMUVersionRange(from: shape.first)]) }
        let indices = shape.releases.compactMap { versions.firstIndex(of: $0) }
        var runs: [QEMUVersionRange] = []
        var start = indices.first ?? 0
        for (position, index) in indices.enumerated() {
            let next = position + 1 < indices.count ? indices[position + 1] : nil
            guard next != index + 1 else { continue }
            let last = index == versions.count - 1 ? nil : versions[index]
            runs.append(QEMUVersionRange(from: versions[start], through: last))
            if let next { start = next }
        }
        return QEMUAvailability(runs)
    }

    /// `argumentShapes`, every shape of the command's arguments with the type that has it, and
    /// `shapeAvailability`, the releases this type's shape suits; nothing for a command whose
    /// arguments never changed incompatibly.
    func shapeConstants(_ command: String, olderShape: MergedSchema.OlderShape?) -> [SwiftDeclaration] {
        guard let newest = newestShapes[command] else { return [] }
        let older = olderShapes[command] ?? []
        let shapes =
            older.map { (olderShapeTypeName($0), shapeAvailability($0.shape)) }
            + [(commandSwiftName(command), shapeAvailability(newest))]
        let shapeType = SwiftType.named("QMPCommandShape")
        let entries = shapes.map { name, availability in
            SwiftExpression.type(shapeType).call(
                .labeled("typeName", .string(name)),
                .labeled("availability", Self.availabilityExpression(availability))
            )
        }
        let own = olderShape.map { shapeAvailability($0.shape) } ?? shapeAvailability(newest)
        return [
            Self.constant("argumentShapes", type: .array(shapeType), .literal(.array(entries))),
            Self.constant("shapeAvailability", type: .optional(.availability), Self.availabilityExpression(own)),
        ]
    }
}
