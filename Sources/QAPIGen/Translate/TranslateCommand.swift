import QAPI

extension Translator {
    /// A command: its name, flags, availability and reply type, and its arguments as members.
    func translateCommand(_ command: QAPICommand) -> Result<SwiftDeclaration, GeneratorDiagnostic> {
        guard let payload = payload(command.argumentType, inlineOwner: .command(command.name)) else {
            let message = "\(command.name): its arguments, of type '\(command.argumentType ?? "")', are not generated"
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
            availabilityConstant(.command(command.name)),
        ]
        if let arguments = argumentAvailabilityConstant(command) {
            declarations.append(arguments)
        }
        declarations += payloadDeclarations(payload)
        let arguments: SwiftExpression = payload.isEmpty ? .nilLiteral : SwiftExpression.json.dot("objectValue")
        declarations.append(Self.computedProperty("arguments", type: .optional(.jsonObject), [.expression(arguments)]))
        return .success(
            .documented(
                ["QAPI command `\(command.name)`."],
                .structure(
                    name: commandSwiftName(command.name),
                    conformances: ["QMPCommand", "QMPJSONConvertible", "Hashable"],
                    members: declarations
                )
            )
        )
    }
}
