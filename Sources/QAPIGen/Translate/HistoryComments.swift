import QAPI
import QMPCore

/// What the doc comments say about when a type, member or value came and went.
extension Translator {
    /// The newest release the history knows: how far a run that reaches it is known to reach,
    /// so that no comment promises anything of releases after it.
    var newestKnownRelease: QEMUVersion? { history?.versions.last }

    /// ` · since 2.12.0`, ` · 1.0 to 2.11.0` or nothing: when something came and went, said
    /// only where it differs from its owner's first version and the newest release.
    static func span(
        _ history: QEMUAvailability?,
        after ownerFirst: QEMUVersion?,
        newestKnown: QEMUVersion?
    ) -> String {
        guard let history else { return "" }
        var parts: [String] = []
        if let ownerFirst, history.introduced > ownerFirst { parts.append("since \(history.introduced)") }
        if let last = history.lastVersion { parts.append("until \(last)") }
        if history.runs.count > 1 {
            parts.append("in " + QEMUVersionRange.prose(of: history.runs, newestKnown: newestKnown))
        }
        if let deprecated = history.deprecatedSince { parts.append("deprecated in \(deprecated)") }
        return parts.isEmpty ? "" : " · " + parts.joined(separator: ", ")
    }

    /// A named type's history: its releases, the releases that changed its shape, and the
    /// members its newest shape no longer has that the bindings could not keep as properties
    /// (the others are there, each saying until when).
    func typeHistoryComment(_ name: String) -> [String] {
        guard let type = history?.type(name) else { return [] }
        var lines = ["In QEMU " + QEMUVersionRange.prose(of: type.history.runs, newestKnown: newestKnownRelease) + "."]
        if !type.shapeChanges.isEmpty {
            let changes = type.shapeChanges.map(\.description).joined(separator: ", ")
            lines.append("Shape changed in \(changes); this is the newest shape.")
        }
        let kept = Set(schema.objectType(named: name)?.members.map(\.name) ?? [])
        let gone = type.members.filter {
            $0.value.lastVersion != nil && type.history.isPresentInNewest && !kept.contains($0.key)
        }.keys.sorted()
        if !gone.isEmpty {
            let list = gone.map { "`\($0)` (until \(type.members[$0]!.lastVersion!))" }.joined(separator: ", ")
            lines.append("No longer sent, and without a property of its own here: " + list + ".")
        }
        return lines
    }
}
