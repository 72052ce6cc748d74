import QMPCore

/// When every command, event, type, member and enum value of QEMU's QMP schema existed, from
/// QEMU 1.0 to the newest release the bindings were generated from. Read from data that
/// qapi-swift generates (`Generated/SchemaHistory.swift`).
public struct QMPSchemaHistory: Sendable {
    /// The history the bindings were generated with.
    public static let shared = QMPSchemaHistory(parsing: QMPSchemaHistory.data)

    /// What an entry is: the three namespaces of the schema.
    public enum Kind: String, Sendable, CaseIterable {
        case command, event, type
    }

    /// An argument of a command, a data member of an event or a member of an object type.
    public struct Member: Sendable, Hashable {
        /// The member's name as the schema writes it.
        public var name: String
        /// The releases that have it; `deprecated` and `unstable` are its features.
        public var availability: QEMUAvailability
        /// Oldest first; the last is the newest shape.
        public var typeChanges: [QAPITypeChange]

        /// Whether `version` has the member.
        public func isPresent(in version: QEMUVersion) -> Bool { availability.isAvailable(in: version) }

        /// The type and optionality `version` had, if it had the member.
        public func shape(in version: QEMUVersion) -> QAPITypeChange? {
            guard isPresent(in: version) else { return nil }
            return typeChanges.last { version.isAtOrAfter(release: $0.version) }
        }
    }

    /// One command, event or named type, with everything the history records about it.
    public struct Entry: Sendable, Hashable {
        /// The name as the schema writes it: `query-status`, `SHUTDOWN`, `StatusInfo`.
        public var name: String
        /// Whether it is a command, an event or a type.
        public var kind: Kind
        /// For types: `object` (a union when it has a ``tag``), `enum` or `alternate`.
        public var metaType: QAPIMetaType?
        /// The releases that have it; `deprecated` and `unstable` are its features.
        public var availability: QEMUAvailability
        /// Arguments of a command, data of an event, members of an object type.
        public var members: [Member]
        /// Values of an enumeration.
        public var values: [(name: String, availability: QEMUAvailability)]
        /// A command's reply type in its newest shape; `nil` when it returns nothing.
        public var returns: String?
        /// Whether a command may run out of band.
        public var allowsOutOfBand: Bool
        /// A boxed command's argument type, in the newest release that has the command.
        public var boxedArguments: String? { argumentForms.last?.boxedType }
        /// How a command took its arguments, oldest first, from each release that changed it;
        /// empty for a command that always took them inline and read by generated code.
        public var argumentForms: [ArgumentForm]
        /// An object type's base type.
        public var base: String?
        /// A union's tag member.
        public var tag: String?
        /// A union's branch type by tag value, or an alternate's branches.
        public var branches: [(name: String, type: String)]
        /// Releases in which a type's shape changed.
        public var shapeChanges: [QEMUVersion]

        /// Whether `version` has it.
        public func isPresent(in version: QEMUVersion) -> Bool { availability.isAvailable(in: version) }

        /// How a command took its arguments in `version`.
        public func argumentForm(in version: QEMUVersion) -> ArgumentForm {
            argumentForms.last { version.isAtOrAfter(release: $0.version) } ?? ArgumentForm(version: version)
        }

        public static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.kind == rhs.kind && lhs.name == rhs.name }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(kind)
            hasher.combine(name)
        }
    }

    /// How a command takes its arguments from `version` on.
    public struct ArgumentForm: Sendable, Hashable {
        public var version: QEMUVersion
        /// The type the arguments are boxed in; `nil` when they are inline.
        public var boxedType: String?
        /// Whether QEMU reads them by hand (`'gen': false`), taking members its schema does
        /// not list.
        public var isHandWritten: Bool

        public init(version: QEMUVersion, boxedType: String? = nil, isHandWritten: Bool = false) {
            self.version = version
            self.boxedType = boxedType
            self.isHandWritten = isHandWritten
        }
    }

    /// The releases the history covers, oldest first.
    public let versions: [QEMUVersion]
    /// The releases of ``versions`` whose schemas were not read but inferred: the next
    /// release's schema without what its `Since:` documentation dates later (`10.1.0`, between
    /// the schemas of 10.0 and 10.2). Where a definition says nothing, it is dated to the next
    /// release read; what the next release dropped is taken to be gone already.
    public let inferredVersions: [QEMUVersion]
    /// Every command, by name.
    public let commands: [String: Entry]
    /// Every event, by name.
    public let events: [String: Entry]
    /// Every named type, by name.
    public let types: [String: Entry]

    /// Reads a history that qapi-swift generated: ``shared``'s, or the guest agent's
    /// (`QGABindings.schemaHistory` of the `QGA` target).
    public init(parsing text: String) {
        let document: JSONObject
        do {
            document = try JSONValue(parsing: text).object(at: QMPPath())
        } catch {
            preconditionFailure("the generated schema history is not valid JSON: \(error)")
        }
        versions = (document["versions"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(QEMUVersion.init) }
        inferredVersions = (document["inferred"]?.arrayValue ?? []).compactMap {
            $0.stringValue.flatMap(QEMUVersion.init)
        }
        func entries(_ key: String, _ kind: Kind) -> [String: Entry] {
            var result: [String: Entry] = [:]
            for (name, value) in document[key]?.objectValue ?? [:] {
                result[name] = Self.entry(name: name, kind: kind, value.objectValue ?? [:])
            }
            return result
        }
        commands = entries("commands", .command)
        events = entries("events", .event)
        types = entries("types", .type)
    }

    /// The commands, events or types, by name.
    public func entries(_ kind: Kind) -> [String: Entry] {
        switch kind {
        case .command: commands
        case .event: events
        case .type: types
        }
    }

    /// Everything called `name`: usually one entry; a type and a command may share a name.
    public func lookup(_ name: String) -> [Entry] {
        [commands[name], events[name], types[name]].compactMap { $0 }
    }

    /// The release a user means by `text`: an exact version (`7.2.0`, also written `7.2`
    /// where that is how it compares, as `1.0.0` is `1.0`), or the release whose version starts
    /// with it (`7.2` → `7.2.0`, `9.2` → `9.2.0-rc2`).
    public func release(matching text: String) -> QEMUVersion? {
        guard let version = QEMUVersion(text) else { return nil }
        if let exact = versions.first(where: { $0 == version }) { return exact }
        guard !version.writesMicro, version.prerelease == nil else { return nil }
        return versions.first { $0.major == version.major && $0.minor == version.minor }
    }

    // MARK: Reading the data

    static func entry(name: String, kind: Kind, _ object: JSONObject) -> Entry {
        let memberKey = kind == .command ? "args" : kind == .event ? "data" : "members"
        return Entry(
            name: name,
            kind: kind,
            metaType: object["kind"]?.stringValue.map { text in
                guard let metaType = QAPIMetaType(rawValue: text) else { malformed("meta-type '\(text)' of \(name)") }
                return metaType
            },
            availability: availability(object, of: name),
            members: (object[memberKey]?.arrayValue ?? []).compactMap { $0.objectValue.map { member($0, of: name) } },
            values: (object["values"]?.arrayValue ?? []).compactMap { pair in
                guard let value = element(pair, 0)?.stringValue, let runs = element(pair, 1)?.stringValue else {
                    return nil
                }
                return (value, QEMUAvailability(Self.runs(runs, of: "\(name).\(value)")))
            },
            returns: object["ret"]?.stringValue,
            allowsOutOfBand: object["oob"] == true,
            argumentForms: (object["forms"]?.arrayValue ?? []).map { form in
                guard let text = element(form, 0)?.stringValue else { malformed("argument form of \(name)") }
                return ArgumentForm(
                    version: version(text, of: name),
                    boxedType: element(form, 1)?.stringValue,
                    isHandWritten: element(form, 2) == true
                )
            },
            base: object["base"]?.stringValue,
            tag: object["tag"]?.stringValue,
            branches: (object["branches"]?.arrayValue ?? []).compactMap { pair in
                guard let name = element(pair, 0)?.stringValue, let type = element(pair, 1)?.stringValue else {
                    return nil
                }
                return (name, type)
            },
            shapeChanges: (object["changes"]?.arrayValue ?? []).compactMap { change in
                change.stringValue.map { version($0, of: name) }
            }
        )
    }

    static func member(_ object: JSONObject, of owner: String) -> Member {
        let name = "\(owner).\(object["n"]?.stringValue ?? "")"
        return Member(
            name: object["n"]?.stringValue ?? "",
            availability: availability(object, of: name),
            typeChanges: (object["t"]?.arrayValue ?? []).compactMap { change in
                guard let text = element(change, 0)?.stringValue, let type = element(change, 1)?.stringValue else {
                    return nil
                }
                let isOptional = element(change, 2) == true
                return QAPITypeChange(version: version(text, of: name), type: type, isOptional: isOptional)
            }
        )
    }

    /// `v` (the runs), with the `dep` and `unstable` features' runs.
    static func availability(_ object: JSONObject, of name: String) -> QEMUAvailability {
        var features: [String: [QEMUVersionRange]] = [:]
        let keys = [("dep", QEMUAvailability.deprecatedFeature), ("unstable", QEMUAvailability.unstableFeature)]
        for (key, feature) in keys {
            if let text = object[key]?.stringValue { features[feature] = runs(text, of: name) }
        }
        return QEMUAvailability(runs(object["v"]?.stringValue ?? "", of: name), features: features)
    }

    static func runs(_ text: String, of name: String) -> [QEMUVersionRange] {
        guard let runs = QEMUVersionRange.runs(parsing: text), !runs.isEmpty else {
            malformed("runs '\(text)' of \(name)")
        }
        return runs
    }

    static func version(_ text: String, of name: String) -> QEMUVersion {
        guard let version = QEMUVersion(text) else { malformed("version '\(text)' of \(name)") }
        return version
    }

    /// The data is generated and checked in, and a test reads all of it: a flaw is the
    /// generator's, not something to recover from.
    static func malformed(_ what: String) -> Never {
        preconditionFailure("the generated schema history has a malformed \(what)")
    }

    static func element(_ value: JSONValue, _ index: Int) -> JSONValue? {
        guard let elements = value.arrayValue, elements.indices.contains(index) else { return nil }
        return elements[index]
    }
}
