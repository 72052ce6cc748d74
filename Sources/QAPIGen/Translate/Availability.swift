import QAPI
import QMPCore

/// The `availability` constants of commands and events: when they, and their arguments,
/// existed.
extension Translator {
    /// What the generated code says about when a command or event existed.
    func availability(_ owner: Owner) -> QEMUAvailability {
        ownerHistory(owner).map(Self.availability) ?? QEMUAvailability([QEMUVersionRange(from: defaultVersion)])
    }

    /// The bindings' availability: the runs, and the runs of the features a caller's check and
    /// documentation speak of.
    static func availability(_ history: QEMUAvailability) -> QEMUAvailability {
        let said = [QEMUAvailability.deprecatedFeature, QEMUAvailability.unstableFeature]
        return QEMUAvailability(history.runs, features: history.features.filter { said.contains($0.key) })
    }

    /// `QEMUAvailability([QEMUVersionRange(from: QEMUVersion(2, 12, 0))])`, with
    /// `features: [...]` when it has any.
    static func availabilityExpression(_ availability: QEMUAvailability) -> SwiftExpression {
        func runs(_ runs: [QEMUVersionRange]) -> SwiftExpression {
            .literal(
                .array(
                    runs.map { run in
                        var arguments: [SwiftArgument] = [.labeled("from", versionExpression(run.first))]
                        if let last = run.last { arguments.append(.labeled("through", versionExpression(last))) }
                        return SwiftExpression.type(.versionRange).call(arguments)
                    }
                )
            )
        }
        var arguments: [SwiftArgument] = [.unlabeled(runs(availability.runs))]
        if !availability.features.isEmpty {
            let features = availability.features.sorted { $0.key < $1.key }.map { feature in
                SwiftDictionaryEntry(.string(feature.key), runs(feature.value))
            }
            arguments.append(.labeled("features", .literal(.dictionary(features))))
        }
        return SwiftExpression.type(.availability).call(arguments)
    }

    /// `QEMUVersion(2, 12, 0)`, `QEMUVersion(1, 0)`, `QEMUVersion(9, 2, 0, prerelease: "rc2")`:
    /// written as QEMU writes the number.
    static func versionExpression(_ version: QEMUVersion) -> SwiftExpression {
        var arguments: [SwiftArgument] = [.unlabeled(.integer(version.major)), .unlabeled(.integer(version.minor))]
        if version.writesMicro { arguments.append(.unlabeled(.integer(version.micro))) }
        if let prerelease = version.prerelease { arguments.append(.labeled("prerelease", .string(prerelease))) }
        return SwiftExpression.type(.named("QEMUVersion")).call(arguments)
    }

    func availabilityConstant(_ owner: Owner) -> SwiftDeclaration {
        .variable(
            SwiftVariable(
                isStatic: true,
                .let,
                name: "availability",
                type: .availability,
                value: Self.availabilityExpression(availability(owner))
            )
        )
    }

    /// Arguments whose history differs from their command's, so that a check against an older
    /// or newer QEMU can say when they came or went.
    func argumentAvailability(_ command: QAPICommand) -> [(name: String, availability: QEMUAvailability)] {
        guard let entity = history?.command(command.name) else { return [] }
        let own = Self.availability(entity.history)
        return entity.members.keys.sorted().compactMap { name in
            let member = Self.availability(entity.members[name]!.history)
            let differs =
                member.runs != own.runs
                || (member.deprecatedSince != nil && member.deprecatedSince != own.deprecatedSince)
            return differs ? (name, member) : nil
        }
    }

    /// `static let argumentAvailability: [String: QEMUAvailability] = [...]`, or nil when every
    /// argument existed as long as the command.
    func argumentAvailabilityConstant(_ command: QAPICommand) -> SwiftDeclaration? {
        let arguments = argumentAvailability(command)
        guard !arguments.isEmpty else { return nil }
        let entries = arguments.map {
            SwiftDictionaryEntry(.string($0.name), Self.availabilityExpression($0.availability))
        }
        return .variable(
            SwiftVariable(
                isStatic: true,
                .let,
                name: "argumentAvailability",
                type: .dictionary(key: .string, value: .availability),
                value: .literal(.dictionary(entries))
            )
        )
    }
}
