import QAPI
import QMPCore

extension Translator {
    /// Whose members a list of members is: a named type's, or a command's inline arguments or
    /// an event's inline data.
    enum Owner {
        case type(String)
        case command(String)
        case event(String)

        /// How ``MergedSchema/relaxedMembers`` names the owner.
        var relaxedKey: String {
            switch self {
            case .type(let name): name
            case .command(let name): "command \(name)"
            case .event(let name): "event \(name)"
            }
        }
    }

    func memberHistories(_ owner: Owner) -> [String: QAPIMemberHistory] {
        switch owner {
        case .type(let name): history?.type(name)?.members ?? [:]
        case .command(let name): history?.command(name)?.members ?? [:]
        case .event(let name): history?.event(name)?.members ?? [:]
        }
    }

    func ownerHistory(_ owner: Owner) -> QEMUAvailability? {
        switch owner {
        case .type(let name): history?.type(name)?.history
        case .command(let name): history?.command(name)?.history
        case .event(let name): history?.event(name)?.history
        }
    }
}
