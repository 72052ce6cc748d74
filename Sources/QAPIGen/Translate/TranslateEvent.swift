import QAPI

extension Translator {
    /// An event: its name and availability, and its data as members.
    func translateEvent(_ event: QAPIEvent) -> Result<SwiftDeclaration, GeneratorDiagnostic> {
        guard let payload = payload(event.dataType, inlineOwner: .event(event.name)) else {
            let message = "\(event.name): its data, of type '\(event.dataType ?? "")', is not generated"
            return .failure(GeneratorDiagnostic(location: event.location, message: message))
        }
        let declarations: [SwiftDeclaration] =
            [
                Self.constant("name", type: .string, .string(event.name)),
                availabilityConstant(.event(event.name)),
            ] + payloadDeclarations(payload)
        return .success(
            .documented(
                ["QAPI event `\(event.name)`."],
                .structure(
                    name: eventSwiftName(event.name),
                    conformances: ["QMPEventPayload", "Hashable"],
                    members: declarations
                )
            )
        )
    }
}
