import QAPI
import QMPCore
import QMPHistory

/// `help` and `help NAME` in `qmp shell`, written from the connected QEMU's schema.
///
/// Introspection hides type names behind numbers, so a type is described by what it is:
/// `str`, `int`, `enum (a, b, c)`, `array of …`, an object's members indented below it.
///
/// Types are another matter: introspection numbers them, so `help TYPE` describes a type from
/// the schema history the bindings carry, as the connected QEMU's release has it.
struct ShellHelp: Sendable {
    let schema: QAPIIntrospection
    /// `QEMU 7.2.0`, or how else to call the server in messages.
    let server: String
    /// The server's version, when its greeting gave one.
    var version: QEMUVersion? = nil
    var history: QMPSchemaHistory = .shared
    /// Whether the server takes `transaction` (a guest agent does not).
    var hasTransactions = true

    /// `help`: the commands this QEMU has, and what the shell itself understands.
    func overview(width: Int = 80) -> String {
        let names = schema.entries.compactMap { entry -> String? in
            if case .command = entry.metaType { return entry.name }
            return nil
        }.sorted()
        var lines = ["\(server) has \(names.count) commands:"]
        lines += Self.columns(names, width: width)
        lines += [
            "",
            "  help COMMAND              arguments and types of a command (or an event)",
            "  help TYPE                 members of a type, values of an enum, branches of a union",
            "  COMMAND key=value ...     run a command; dotted keys nest (a.b=1 is {\"a\":{\"b\":1}})",
            "  {\"execute\": ...}          a JSON command, sent as written",
        ]
        if hasTransactions {
            lines.append("  transaction( ... )        collect actions, one per line, send them on ')'")
        }
        lines += [
            "  Tab completes names, arguments and values; Ctrl-R searches the history;",
            "  a line ending in \\ or with an open bracket continues; Ctrl-D leaves.",
        ]
        return lines.joined(separator: "\n")
    }

    /// `help NAME`: a command's arguments (or an event's data), with types and optionality; a
    /// type's members, values or branches (see ``typeTopic(_:)``).
    func topic(_ name: String) -> String? {
        guard let entry = schema.entry(named: name) else { return typeTopic(name) }
        var lines: [String] = []
        switch entry.metaType {
        case .command(let argumentType, let returnType, let allowsOutOfBand):
            lines.append("command \(name)" + (allowsOutOfBand ? " (may run out of band: exec-oob)" : ""))
            lines += arguments(argumentType, heading: "arguments")
            lines.append(
                "returns: \(isEmptyObject(returnType) ? "nothing ({})" : describe(returnType, depth: 0).title)"
            )
            lines += describe(returnType, depth: 0).body.map { "  " + $0 }
        case .event(let argumentType):
            lines.append("event \(name)")
            lines += arguments(argumentType, heading: "data")
        default:
            return typeTopic(name)
        }
        if !entry.features.isEmpty {
            lines.append("features: \(entry.features.joined(separator: ", "))")
        }
        lines += Self.availability(of: name, history: history)
        return lines.joined(separator: "\n")
    }

    /// Why there is no help for `name`: `QEMU 7.2.22 has no command, event or type 'query-stat';
    /// did you mean query-stats or query-status?`, with the release that removed or introduced
    /// it when the history knows it.
    func missing(_ name: String) -> String {
        var text = "\(server) has no command, event or type '\(name)'"
        if let version, let known = history.lookup(name).first, let reason = known.availability.whyAbsent(in: version) {
            text += "; \(reason)"
        }
        let topics = schema.entries.compactMap { entry -> String? in
            switch entry.metaType {
            case .command, .event: return entry.name
            default: return nil
            }
        }
        return text + NameSuggestions.hint(for: name, among: topics + typeNames)
    }

    /// The types `help` can describe: those of the history that the server's release has (all
    /// of them when the release is not known).
    var typeNames: [String] {
        history.types.values.filter { entry in version.map(entry.isPresent(in:)) ?? true }.map(\.name)
    }

    /// `help TYPE`: a type's members with their types, whether each is required, and when it
    /// came or went where that differs from the type itself; an enum's values; a union's tag
    /// and branches; an alternate's branches. Shown in the shape the server's release has;
    /// a type the server lacks in the newest shape known, saying so.
    func typeTopic(_ name: String) -> String? {
        guard let entry = history.types[name] else { return nil }
        let kind = entry.tag != nil ? "union" : entry.metaType?.rawValue ?? "type"
        let present = version.map(entry.isPresent(in:)) ?? true
        var lines = ["\(kind) \(name)"]
        if let version, let reason = entry.availability.whyAbsent(in: version) {
            lines.append("(\(server) does not have it: \(reason); shown as the newest release knows it)")
        }
        let mentioned = [QEMUAvailability.deprecatedFeature]
        let newest = history.versions.last
        let entrySpan = entry.availability.prose(mentioning: mentioned, newestKnown: newest)
        /// `QEMU 2.0.0 and later, as of 10.2.2, the newest release known` where it differs from
        /// the type's own span, and whether the server lacks it.
        func note(_ availability: QEMUAvailability) -> String {
            var parts: [String] = []
            let span = availability.prose(mentioning: mentioned, newestKnown: newest)
            if span != entrySpan { parts.append("QEMU " + span) }
            if present, let version, !availability.isAvailable(in: version) { parts.append("not in \(server)") }
            return parts.isEmpty ? "" : "  [\(parts.joined(separator: "; "))]"
        }
        if let base = entry.base, !base.hasPrefix("q_obj_") {
            lines.append("base: \(base)")
        }
        if !entry.members.isEmpty {
            lines.append(present && version != nil ? "members: (* required in \(server))" : "members: (* required)")
            let width = min(24, (entry.members.map(\.name.count).max() ?? 0) + 2)
            let typeWidth = min(28, (entry.members.compactMap { $0.typeChanges.last?.type.count }.max() ?? 0) + 2)
            for member in entry.members {
                let shapeHere = present ? version.flatMap(member.shape(in:)) : nil
                let shape = shapeHere ?? member.typeChanges.last
                // A member the server lacks is required nowhere it could be given.
                let lacking = present && version != nil && shapeHere == nil
                let marker = shape?.isOptional == false && !lacking ? "*" : " "
                var line = "\(marker) \(member.name.padding(to: width))\((shape?.type ?? "?").padding(to: typeWidth))"
                if member.name == entry.tag { line += "  (selects the branch)" }
                line += note(member.availability)
                lines.append(line.droppingTrailingSpaces())
            }
        }
        if !entry.branches.isEmpty {
            lines.append(entry.tag.map { "branches, by \($0):" } ?? "one of:")
            let width = min(24, (entry.branches.map(\.name.count).max() ?? 0) + 2)
            for branch in entry.branches {
                lines.append("  \(branch.name.padding(to: width))\(branch.type)")
            }
        }
        if !entry.values.isEmpty {
            lines.append("values:")
            for value in entry.values {
                lines.append("  " + value.name + note(value.availability))
            }
        }
        lines.append("in QEMU " + entrySpan)
        return lines.joined(separator: "\n")
    }

    /// When QEMU had the command or event, and the arguments that came later or went, from
    /// the schema history the bindings carry (QEMU 1.0 to the newest generated release, which
    /// is as far as anything is said to last).
    static func availability(of name: String, history: QMPSchemaHistory = .shared) -> [String] {
        guard let entry = history.commands[name] ?? history.events[name] else { return [] }
        let mentioned = [QEMUAvailability.deprecatedFeature]
        let newest = history.versions.last
        var lines = ["in QEMU " + entry.availability.prose(mentioning: mentioned, newestKnown: newest)]
        for member in entry.members where member.availability.runs != entry.availability.runs {
            lines.append(
                "  \(member.name): QEMU " + member.availability.prose(mentioning: mentioned, newestKnown: newest)
            )
        }
        return lines
    }

    private func isEmptyObject(_ typeName: String) -> Bool {
        if case .object(let members, nil, _)? = schema.entry(named: typeName)?.metaType, members.isEmpty { return true }
        return false
    }

    private func arguments(_ typeName: String, heading: String) -> [String] {
        if isEmptyObject(typeName) {
            return ["\(heading): none"]
        }
        let description = describe(typeName, depth: 0)
        return ["\(heading): (* required)"] + description.body.map { "  " + $0 }
    }

    /// A one-line title for a type, and for objects the member lines below it.
    private func describe(_ typeName: String, depth: Int) -> (title: String, body: [String]) {
        guard let entry = schema.entry(named: typeName) else { return (typeName, []) }
        switch entry.metaType {
        case .builtin:
            return (typeName, [])
        case .enumeration(let members, let values):
            let names = members.isEmpty ? values : members.map(\.name)
            let shown =
                names.count > 12
                ? names.prefix(12).joined(separator: ", ") + ", … (\(names.count) values)"
                : names.joined(separator: ", ")
            return ("enum (\(shown))", [])
        case .array(let element):
            let inner = describe(element, depth: depth)
            return ("array of \(inner.title)", inner.body)
        case .alternate(let branches):
            let described = branches.map { describe($0, depth: depth) }
            return (described.map(\.title).joined(separator: " or "), described.flatMap(\.body))
        case .object(let members, let tag, let variants):
            guard depth < 3 else { return ("object", []) }
            var body: [String] = []
            let width = min(24, (members.map(\.name.count).max() ?? 0) + 2)
            for member in members {
                let inner = describe(member.type, depth: depth + 1)
                let marker = member.isOptional ? " " : "*"
                let padded = member.name.padding(to: width)
                var notes = member.features.isEmpty ? "" : "  [\(member.features.joined(separator: ", "))]"
                if member.name == tag, !variants.isEmpty { notes += "  (selects more members)" }
                body.append("\(marker) \(padded)\(inner.title)\(notes)")
                body += inner.body.map { "    " + $0 }
            }
            if let tag, !variants.isEmpty {
                for variant in variants {
                    guard case .object(let more, _, _)? = schema.entry(named: variant.type)?.metaType, !more.isEmpty
                    else { continue }
                    body.append(
                        "  with \(tag)=\(variant.tagValue): "
                            + more.map { ($0.isOptional ? "" : "*") + $0.name }.joined(separator: " ")
                    )
                }
            }
            return ("object", body)
        case .command, .event:
            return (typeName, [])
        }
    }

    static func columns(_ names: [String], width: Int) -> [String] {
        guard let longest = names.map(\.count).max() else { return [] }
        let cell = longest + 2
        let perLine = max(1, (width - 2) / cell)
        var lines: [String] = []
        var index = 0
        while index < names.count {
            let row = names[index..<min(index + perLine, names.count)]
            lines.append("  " + row.map { $0.padding(to: cell) }.joined().trimmingWhitespace())
            index += perLine
        }
        return lines
    }
}

extension String {
    func droppingTrailingSpaces() -> String {
        String(self[..<(lastIndex { $0 != " " }.map(index(after:)) ?? startIndex)])
    }

    func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
