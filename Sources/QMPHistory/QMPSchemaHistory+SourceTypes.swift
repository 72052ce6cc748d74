import QMPCore

extension QMPSchemaHistory {
    /// What the sources of `version` said about types, from this history; `nil` when the
    /// history has no such release.
    public func sourceTypes(in version: QEMUVersion) -> ReleaseSourceTypes? {
        guard versions.contains(version) else { return nil }
        return ReleaseSourceTypes(history: self, version: version)
    }

    /// The source types of the release a server of `version` runs: the history's release
    /// with the same major and minor number (a stable update such as 7.2.22 changes no
    /// schema); `nil` for a release the history does not cover.
    public func sourceTypes(forServer version: QEMUVersion) -> ReleaseSourceTypes? {
        release(matching: version.series).flatMap(sourceTypes(in:))
    }

    /// One release's types as the history records them.
    public struct ReleaseSourceTypes: QAPISourceTypes {
        /// The history the types are read from.
        public let history: QMPSchemaHistory
        /// The release whose types these are.
        public let version: QEMUVersion

        /// The name QAPI gives the implicit type of a command's or event's inline members.
        static func inlineTypeName(of name: String) -> String { "q_obj_\(name)-arg" }

        public func argumentType(ofCommand name: String) -> String? {
            guard let command = history.commands[name], command.isPresent(in: version) else { return nil }
            return command.argumentForm(in: version).boxedType ?? inlineType(of: command)
        }

        public func takesExtraArguments(command name: String) -> Bool? {
            guard let command = history.commands[name], command.isPresent(in: version) else { return nil }
            return command.argumentForm(in: version).isHandWritten
        }

        public func dataType(ofEvent name: String) -> String? {
            guard let event = history.events[name], event.isPresent(in: version) else { return nil }
            return event.boxedArguments ?? inlineType(of: event)
        }

        func inlineType(of entry: Entry) -> String? {
            entry.members.contains { $0.isPresent(in: version) } ? Self.inlineTypeName(of: entry.name) : nil
        }

        public func memberTypes(ofType name: String) -> [String: String] {
            guard let entry = history.types[name] ?? inlineOwner(of: name) else { return [:] }
            var types: [String: String] = [:]
            for member in entry.members {
                if let shape = member.shape(in: version) { types[member.name] = shape.type }
            }
            return types
        }

        /// The command or event whose inline members the implicit type `name` holds.
        func inlineOwner(of name: String) -> Entry? {
            let prefix = "q_obj_"
            let suffix = "-arg"
            guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
            let owner = String(name.dropFirst(prefix.count).dropLast(suffix.count))
            return history.commands[owner] ?? history.events[owner]
        }

        /// The branches of the newest release that has the type: the history records a union's
        /// and an alternate's branches once, not per release. A release whose branches differ
        /// (one added, dropped or retyped later) gets the newest ones; the filling pairs an
        /// alternate's branches only when their number matches, so there a later addition
        /// leaves the alternate unfilled, while a union's are paired by tag value and one the
        /// release lacks is never reached.
        public func branchTypes(ofType name: String) -> [(name: String, type: String)] {
            history.types[name]?.branches ?? []
        }
    }
}
