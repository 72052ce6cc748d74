import ArgumentParser
import QMPCore
import QMPHistory

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `qmp schema`: QEMU's QMP vocabulary across releases, from the history the bindings carry:
/// from QEMU 1.0 to the newest release generated, and `compare` sets a connected QEMU against it.
///
/// Every mistake on the command line is found while parsing (in `validate()`), so that the
/// error comes with the usage of the subcommand that was given rather than the tool's.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "What QEMU's QMP schema has, had and changed, from QEMU 1.0 on.",
        discussion: """
            Answers from the schema history built into qmp (every QEMU release from 1.0 to the newest \
            generated); only compare connects to a QEMU. VERSION is a release such as 7.2.0, or \
            MAJOR.MINOR (7.2). Availability reaches no further than the newest release known \
            ("7.0.0 and later, as of 10.2.2, the newest release known"): a newer QEMU may lack it.
            """,
        subcommands: [List.self, Show.self, Diff.self, Compare.self]
    )

    static var history: QMPSchemaHistory { .shared }

    /// The newest release the history knows: how far an open run of releases is known to reach.
    static var newestKnown: QEMUVersion? { history.versions.last }

    static func release(_ text: String) throws -> QEMUVersion {
        guard let version = history.release(matching: text) else {
            let known = history.versions.map(\.description).joined(separator: ", ")
            throw ValidationError("no QEMU release '\(text)' in the schema history; known: \(known)")
        }
        return version
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List commands, events or types, optionally as one release had them.",
            discussion: """
                Examples:
                  qmp schema list                      every command any QEMU had, with its releases
                  qmp schema list events --in 7.2      the events of QEMU 7.2
                  qmp schema list types --in 9.2.0-rc2
                """
        )

        enum Kind: String, ExpressibleByArgument, CaseIterable {
            case commands, events, types

            var entryKind: QMPSchemaHistory.Kind {
                switch self {
                case .commands: .command
                case .events: .event
                case .types: .type
                }
            }
        }

        @Argument(help: "What to list: commands, events or types.") var kind: Kind = .commands
        @Option(name: .customLong("in"), help: ArgumentHelp("Only what this release had.", valueName: "VERSION"))
        var version: String?
        @Flag(help: "Names only, one per line.") var namesOnly = false

        func validate() throws {
            _ = try version.map(SchemaCommand.release)
        }

        func run() throws {
            let history = SchemaCommand.history
            let entries = history.entries(kind.entryKind)
            let release = try version.map(SchemaCommand.release)
            let selected = entries.values.filter { entry in release.map(entry.isPresent(in:)) ?? true }.sorted {
                $0.name < $1.name
            }
            let width = selected.map(\.name.count).max() ?? 0
            for entry in selected {
                if namesOnly || release != nil {
                    print(entry.name)
                } else {
                    let padding = String(repeating: " ", count: width - entry.name.count + 2)
                    print(entry.name + padding + entry.availability.prose(newestKnown: SchemaCommand.newestKnown))
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show a command, event or type: its members, their types, and when each existed.",
            discussion: """
                Examples:
                  qmp schema show blockdev-backup
                  qmp schema show SHUTDOWN
                  qmp schema show RunState --in 2.0
                """
        )

        @Argument(help: "A command, event or type name.") var name: String
        @Option(name: .customLong("in"), help: ArgumentHelp("Show the shape this release had.", valueName: "VERSION"))
        var version: String?

        func validate() throws {
            let history = SchemaCommand.history
            guard history.lookup(name).isEmpty else {
                _ = try version.map(SchemaCommand.release)
                return
            }
            let span = "\(history.versions.first!) to \(history.versions.last!)"
            throw ValidationError("no command, event or type '\(name)' in any QEMU from \(span)" + Self.hint(for: name))
        }

        func run() throws {
            let history = SchemaCommand.history
            let entries = history.lookup(name)
            let release = try version.map(SchemaCommand.release)
            for (index, entry) in entries.enumerated() {
                if index > 0 { print("") }
                print(Self.render(entry, in: release).joined(separator: "\n"))
            }
        }

        static func render(_ entry: QMPSchemaHistory.Entry, in release: QEMUVersion?) -> [String] {
            let kind =
                entry.kind != .type
                ? entry.kind.rawValue
                : entry.tag != nil ? "union" : entry.metaType?.rawValue ?? "type"
            var lines = ["\(kind) \(entry.name)"]
            let newest = SchemaCommand.newestKnown
            lines.append("  QEMU " + entry.availability.prose(newestKnown: newest))
            if let release, !entry.isPresent(in: release) { lines.append("  (not in QEMU \(release))") }
            if let returns = entry.returns { lines.append("  returns: \(returns)") }
            if entry.allowsOutOfBand { lines.append("  allows out-of-band execution") }
            if let boxed = entry.boxedArguments { lines.append("  takes the members of \(boxed) as its arguments") }
            if let base = entry.base { lines.append("  base: \(base)") }
            if !entry.shapeChanges.isEmpty {
                lines.append("  shape changed in: " + entry.shapeChanges.map(\.description).joined(separator: ", "))
            }
            // What members and values are told apart from: a span equal to the entry's goes unsaid.
            let entrySpan = entry.availability.prose(mentioning: [], newestKnown: newest)
            let members = entry.members.filter { member in release.map(member.isPresent(in:)) ?? true }
            if !members.isEmpty {
                lines.append(entry.kind == .command ? "  arguments:" : entry.kind == .event ? "  data:" : "  members:")
                let width = members.map(\.name.count).max() ?? 0
                for member in members {
                    let shape = release.flatMap(member.shape(in:)) ?? member.typeChanges.last
                    let type = (shape?.type ?? "?") + (shape?.isOptional == true ? " (optional)" : "")
                    var line =
                        "    " + member.name + String(repeating: " ", count: width - member.name.count + 2) + type
                    if release == nil {
                        let span = member.availability.prose(newestKnown: newest)
                        if span != entrySpan { line += "  [\(span)]" }
                        let changes = member.typeChanges.dropFirst()
                        for change in changes {
                            line +=
                                "  [\(change.version): \(change.type)\(change.isOptional ? ", optional" : ", required")]"
                        }
                    }
                    lines.append(line)
                }
            }
            if let tag = entry.tag { lines.append("  told apart by: \(tag)") }
            if !entry.branches.isEmpty {
                lines.append("  branches:")
                for branch in entry.branches { lines.append("    \(branch.name): \(branch.type)") }
            }
            let values = entry.values.filter { value in release.map(value.availability.isAvailable(in:)) ?? true }
            if !values.isEmpty {
                lines.append("  values:")
                for value in values {
                    let span = value.availability.prose(mentioning: [], newestKnown: newest)
                    lines.append("    \(value.name)" + (release == nil && span != entrySpan ? "  [\(span)]" : ""))
                }
            }
            return lines
        }

        /// Names that differ from `name` only in case, `-`/`_`, or contain it.
        /// `; did you mean query-stats or query-status?` for a name no release had, from every
        /// command, event and type of the history, as the shell and the refusals suggest.
        static func hint(for name: String, in history: QMPSchemaHistory = SchemaCommand.history) -> String {
            NameSuggestions.hint(for: name, among: QMPSchemaHistory.Kind.allCases.flatMap { history.entries($0).keys })
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "diff",
            abstract: "What was added, removed and changed between two QEMU releases.",
            discussion: """
                Examples:
                  qmp schema diff 7.2 8.0
                  qmp schema diff 5.2 6.0 --commands-only
                """
        )

        @Argument(help: "The older release.") var from: String
        @Argument(help: "The newer release.") var to: String
        @Flag(help: "Leave out types.") var commandsOnly = false

        func validate() throws {
            _ = try SchemaCommand.release(from)
            _ = try SchemaCommand.release(to)
        }

        func run() throws {
            let history = SchemaCommand.history
            let diff = history.diff(from: try SchemaCommand.release(from), to: try SchemaCommand.release(to))
            print("QEMU \(diff.from) → \(diff.to)")
            for kind in QMPSchemaHistory.Kind.allCases where !commandsOnly || kind != .type {
                let added = diff.added.filter { $0.kind == kind }
                let removed = diff.removed.filter { $0.kind == kind }
                let changed = diff.changed.filter { $0.entry.kind == kind }
                guard !added.isEmpty || !removed.isEmpty || !changed.isEmpty else { continue }
                print("")
                print("\(kind.rawValue)s: \(added.count) added, \(removed.count) removed, \(changed.count) changed")
                for entry in added { print("  + \(entry.name)") }
                for entry in removed { print("  - \(entry.name)") }
                for change in changed {
                    print("  ~ \(change.entry.name)")
                    for detail in change.details { print("      \(detail)") }
                }
            }
            if diff.isEmpty { print("no differences") }
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare",
            abstract: "Set a QEMU's own schema against the history: what it has that no release had, what it lacks.",
            discussion: """
                Reads the connected QEMU's query-qmp-schema and compares it, command by command and \
                member by member, with the release of the same series in the history (7.2.22 with 7.2.0); \
                a QEMU between known releases is compared with those on either side. It lists what \
                this QEMU has that no known release had, what it has that the history dates to other \
                releases, and what the history says its release has that it lacks. The history \
                records no build conditions, so a QEMU built for another target lacks some of that.

                Examples:
                  qmp schema compare /tmp/qmp.sock
                  qmp schema compare --launch
                  qmp schema compare                   the simulated QEMU 7.2
                """
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The QEMU's monitor: a Unix socket path or HOST:PORT.") var address: String?

        func validate() throws {
            if connection.launch && address != nil { throw ConnectionOptions.addressWithLaunch }
        }

        func run() async throws {
            do {
                let (introspection, version) = try await connection.withClient(address: address) { client in
                    (try await client.schema(), client.greeting.version)
                }
                guard let version else {
                    throw QMPError(code: .protocolViolation, message: "the server's greeting names no QEMU version")
                }
                let history = SchemaCommand.history
                let comparison = LiveSchemaComparison(introspection: introspection, version: version, history: history)
                for line in comparison.lines(history: history) { printLine(line) }
            } catch {
                throw failure(reporting: error)
            }
        }
    }
}
