import QMPCore

/// When every command, event, type, member and enum value of QEMU's QMP schema existed, from
/// QEMU 1.0 to the newest release the bindings were generated from. Read from data that
/// qapi-swift generates (`Generated/SchemaHistory.swift`).
public struct QMPSchemaHistory: Sendable {
    /// The history the bindings were generated with.
    public static let shared = QMPSchemaHistory(parsing: QMPSchemaHistory.data)

    public enum Kind: String, Sendable, CaseIterable {
        case command, event, type
    }

    /// A run of consecutive releases; `last == nil` reaches the newest.
    public struct Range: Sendable, Hashable, CustomStringConvertible {
        public var first: QEMUVersion
        public var last: QEMUVersion?

        public func contains(_ version: QEMUVersion) -> Bool {
            version >= first && (last.map { version <= $0 } ?? true)
        }

        /// `2.12.0 to 5.2.0`, or `2.12.0 and later`.
        public var description: String { last.map { "\(first) to \($0)" } ?? "\(first) and later" }
    }

    /// A member's type and optionality from `version` on.
    public struct TypeChange: Sendable, Hashable {
        public var version: QEMUVersion
        public var type: String
        public var isOptional: Bool
    }

    public struct Member: Sendable, Hashable {
        public var name: String
        public var ranges: [Range]
        /// Oldest first; the last is the newest shape.
        public var typeChanges: [TypeChange]
        public var deprecated: QEMUVersion?
        public var unstable: QEMUVersion?

        public func isPresent(in version: QEMUVersion) -> Bool { ranges.contains { $0.contains(version) } }

        /// The type and optionality `version` had, if it had the member.
        public func shape(in version: QEMUVersion) -> TypeChange? {
            guard isPresent(in: version) else { return nil }
            return typeChanges.last { $0.version <= version }
        }
    }

    public struct Entry: Sendable, Hashable {
        public var name: String
        public var kind: Kind
        /// For types: `object`, `union`, `enum` or `alternate`.
        public var metaType: String?
        public var ranges: [Range]
        public var deprecated: QEMUVersion?
        public var unstable: QEMUVersion?
        /// Arguments of a command, data of an event, members of an object type.
        public var members: [Member]
        /// Values of an enumeration.
        public var values: [(name: String, ranges: [Range])]
        public var returns: String?
        public var allowsOutOfBand: Bool
        /// A boxed command's argument type.
        public var boxedArguments: String?
        public var base: String?
        public var tag: String?
        public var branches: [(name: String, type: String)]
        /// Releases in which a type's shape changed.
        public var shapeChanges: [QEMUVersion]

        public func isPresent(in version: QEMUVersion) -> Bool { ranges.contains { $0.contains(version) } }

        public static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.kind == rhs.kind && lhs.name == rhs.name }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(kind)
            hasher.combine(name)
        }
    }

    /// The releases the history covers, oldest first.
    public let versions: [QEMUVersion]
    public let commands: [String: Entry]
    public let events: [String: Entry]
    public let types: [String: Entry]

    init(parsing text: String) {
        let document: JSONObject
        do {
            document = try JSONValue(parsing: text).object(at: QMPPath())
        } catch {
            preconditionFailure("the generated schema history is not valid JSON: \(error)")
        }
        versions = (document["versions"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(QEMUVersion.init) }
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
        if let version = QEMUVersion(text), let exact = versions.first(where: { $0 == version }) { return exact }
        let parts = text.split(separator: ".")
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        return versions.first { $0.major == major && $0.minor == minor }
    }

    // MARK: Reading the data

    static func entry(name: String, kind: Kind, _ object: JSONObject) -> Entry {
        let memberKey = kind == .command ? "args" : kind == .event ? "data" : "members"
        return Entry(
            name: name,
            kind: kind,
            metaType: object["kind"]?.stringValue,
            ranges: ranges(object["v"]?.stringValue ?? ""),
            deprecated: object["dep"]?.stringValue.flatMap(QEMUVersion.init),
            unstable: object["unstable"]?.stringValue.flatMap(QEMUVersion.init),
            members: (object[memberKey]?.arrayValue ?? []).compactMap { $0.objectValue.map(member) },
            values: (object["values"]?.arrayValue ?? []).compactMap { pair in
                guard let name = element(pair, 0)?.stringValue, let runs = element(pair, 1)?.stringValue else { return nil }
                return (name, ranges(runs))
            },
            returns: object["ret"]?.stringValue,
            allowsOutOfBand: object["oob"] == true,
            boxedArguments: object["boxed"]?.stringValue,
            base: object["base"]?.stringValue,
            tag: object["tag"]?.stringValue,
            branches: (object["branches"]?.arrayValue ?? []).compactMap { pair in
                guard let name = element(pair, 0)?.stringValue, let type = element(pair, 1)?.stringValue else { return nil }
                return (name, type)
            },
            shapeChanges: (object["changes"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap(QEMUVersion.init) }
        )
    }

    static func member(_ object: JSONObject) -> Member {
        Member(
            name: object["n"]?.stringValue ?? "",
            ranges: ranges(object["v"]?.stringValue ?? ""),
            typeChanges: (object["t"]?.arrayValue ?? []).compactMap { change in
                guard let version = element(change, 0)?.stringValue.flatMap(QEMUVersion.init), let type = element(change, 1)?.stringValue else { return nil }
                return TypeChange(version: version, type: type, isOptional: element(change, 2) == true)
            },
            deprecated: object["dep"]?.stringValue.flatMap(QEMUVersion.init),
            unstable: object["unstable"]?.stringValue.flatMap(QEMUVersion.init)
        )
    }

    static func element(_ value: JSONValue, _ index: Int) -> JSONValue? {
        guard let elements = value.arrayValue, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// `1.0..5.2.0,7.0.0..`.
    static func ranges(_ text: String) -> [Range] {
        text.split(separator: ",").compactMap { run in
            guard let separator = run.firstRange(of: ".."), let first = QEMUVersion(String(run[..<separator.lowerBound])) else { return nil }
            let rest = run[separator.upperBound...]
            return Range(first: first, last: rest.isEmpty ? nil : QEMUVersion(String(rest)))
        }
    }
}
