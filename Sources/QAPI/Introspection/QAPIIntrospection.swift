import QMPCore

/// A problem decoding `query-qmp-schema` output; `path` locates it (`[12].members[3].type`).
public struct QAPIIntrospectionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where in the answer the problem is.
    public var path: String
    /// What the problem is.
    public var message: String

    /// A problem at `path`.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// The decoded answer of `query-qmp-schema`, and the one model of a schema that values are
/// checked against (``QAPIValidator``).
///
/// A source schema becomes one by ``init(deriving:definedSymbols:form:)``, as QEMU derives
/// its introspection; a live answer is decoded, and where the release is known,
/// ``filling(from:)`` adds what the sources knew and introspection leaves out.
public struct QAPIIntrospection: Sendable {
    /// The entries in the order received.
    public var entries: [QAPISchemaInfo] {
        didSet { index() }
    }
    /// The entries by name.
    public private(set) var entriesByName: [String: QAPISchemaInfo]
    /// The source name of a type whose name is masked (`"37"` → `"BlockdevRef"`), where known:
    /// QEMU names an alternate by it when a value fits no branch.
    public var sourceNames: [String: String]
    /// Whether every `int` in the model is exactly QAPI's `int`. QEMU's own answer folds every
    /// integer width into `int`, so there `int` may be any width and is not range-checked; a
    /// derived model names each width (`uint8`, `size`, …) and says `true`. A filled model
    /// knows the widths only where the sources gave them (``filledMembers``).
    public var knowsIntegerWidths: Bool
    /// In a model filled from the sources (``filling(from:)``), the members whose types came
    /// from them, by the name of the entry that has them: an object's members by name, an
    /// alternate's branches by type. There an `int` is exactly QAPI's `int` and range-checked
    /// as one; elsewhere (types only return values reach, parts the sources do not know) it
    /// may be any width.
    public var filledMembers: [String: Set<String>]
    /// Commands whose arguments QEMU reads by hand and which take members introspection does
    /// not list; ``commandsAcceptingExtraArguments`` unless the sources said otherwise.
    public var commandsTakingExtraArguments: Set<String>
    /// What the validator needs of each entry, by name.
    private(set) var facts: [String: EntryFacts]

    /// Wraps already decoded entries.
    public init(
        entries: [QAPISchemaInfo],
        sourceNames: [String: String] = [:],
        knowsIntegerWidths: Bool = false,
        filledMembers: [String: Set<String>] = [:],
        commandsTakingExtraArguments: Set<String> = Self.commandsAcceptingExtraArguments
    ) {
        self.entries = entries
        self.entriesByName = [:]
        self.facts = [:]
        self.sourceNames = sourceNames
        self.knowsIntegerWidths = knowsIntegerWidths
        self.filledMembers = filledMembers
        self.commandsTakingExtraArguments = commandsTakingExtraArguments
        index()
    }

    private mutating func index() {
        entriesByName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        facts = EntryFacts.facts(of: entriesByName)
    }

    /// Commands whose arguments QEMU reads by hand and which take properties introspection does
    /// not list (`device_add` takes every property of the device).
    public static let commandsAcceptingExtraArguments: Set<String> = ["device_add"]

    /// Decodes the SchemaInfo list: either the list itself or a whole `{"return": [...]}` reply.
    public init(decoding value: JSONValue) throws(QAPIIntrospectionError) {
        var list = value
        if case .object(let object) = value, let result = object["return"] { list = result }
        guard case .array(let elements) = list else {
            throw QAPIIntrospectionError(path: "", message: "expected an array of SchemaInfo, got \(describe(list))")
        }
        var entries: [QAPISchemaInfo] = []
        entries.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            entries.append(try Self.decodeEntry(element, path: "[\(index)]"))
        }
        self.init(entries: entries)
    }

    /// Decodes `query-qmp-schema` output from JSON text.
    public init(json text: String) throws {
        try self.init(decoding: JSONValue(parsing: text))
    }

    /// The entry called `name` (a command, an event, or a type by its number), if there is one.
    public func entry(named name: String) -> QAPISchemaInfo? { entriesByName[name] }

    /// The command entries by name.
    public var commands: [String: QAPISchemaInfo] { entriesByName.filter { $0.value.metaType.kind == .command } }
    /// The event entries by name.
    public var events: [String: QAPISchemaInfo] { entriesByName.filter { $0.value.metaType.kind == .event } }

    /// How many entries there are of each meta-type.
    public var countsByMetaType: [QAPIMetaType: Int] {
        entries.reduce(into: [:]) { $0[$1.metaType.kind, default: 0] += 1 }
    }

    // MARK: Decoding

    private static func decodeEntry(_ value: JSONValue, path: String) throws(QAPIIntrospectionError) -> QAPISchemaInfo {
        let object = try requireObject(value, path: path)
        let name = try string(object, "name", path: path)
        let metaTypeName = try string(object, "meta-type", path: path)
        guard let kind = QAPIMetaType(rawValue: metaTypeName) else {
            throw QAPIIntrospectionError(path: "\(path).meta-type", message: "unknown meta-type '\(metaTypeName)'")
        }
        let features = try stringList(object, "features", path: path, optional: true)
        let metaType: QAPISchemaInfo.MetaType
        switch kind {
        case .builtin:
            let word = try string(object, "json-type", path: path)
            guard let jsonType = QAPIJSONType(rawValue: word) else {
                throw QAPIIntrospectionError(path: "\(path).json-type", message: "unknown json-type '\(word)'")
            }
            metaType = .builtin(jsonType: jsonType)
        case .enumeration:
            var members: [QAPISchemaInfo.EnumMember] = []
            if let list = object["members"] {
                for (index, element) in try requireArray(list, path: "\(path).members").enumerated() {
                    let memberPath = "\(path).members[\(index)]"
                    let member = try requireObject(element, path: memberPath)
                    members.append(
                        .init(
                            name: try string(member, "name", path: memberPath),
                            features: try stringList(member, "features", path: memberPath, optional: true)
                        )
                    )
                }
            }
            let values = try stringList(object, "values", path: path, optional: true)
            if object["members"] == nil { members = values.map { .init(name: $0) } }
            metaType = .enumeration(members: members, values: values)
        case .array:
            metaType = .array(elementType: try string(object, "element-type", path: path))
        case .object:
            var members: [QAPISchemaInfo.ObjectMember] = []
            for (index, element) in try requireArray(object["members"] ?? .array([]), path: "\(path).members")
                .enumerated()
            {
                let memberPath = "\(path).members[\(index)]"
                let member = try requireObject(element, path: memberPath)
                members.append(
                    .init(
                        name: try string(member, "name", path: memberPath),
                        type: try string(member, "type", path: memberPath),
                        defaultValue: member["default"],
                        features: try stringList(member, "features", path: memberPath, optional: true)
                    )
                )
            }
            var variants: [QAPISchemaInfo.Variant] = []
            if let list = object["variants"] {
                for (index, element) in try requireArray(list, path: "\(path).variants").enumerated() {
                    let variantPath = "\(path).variants[\(index)]"
                    let variant = try requireObject(element, path: variantPath)
                    variants.append(
                        .init(
                            tagValue: try string(variant, "case", path: variantPath),
                            type: try string(variant, "type", path: variantPath)
                        )
                    )
                }
            }
            let tag = object["tag"] == nil ? nil : try string(object, "tag", path: path)
            metaType = .object(members: members, tag: tag, variants: variants)
        case .alternate:
            var types: [String] = []
            for (index, element) in try requireArray(object["members"] ?? .array([]), path: "\(path).members")
                .enumerated()
            {
                let memberPath = "\(path).members[\(index)]"
                types.append(try string(try requireObject(element, path: memberPath), "type", path: memberPath))
            }
            metaType = .alternate(memberTypes: types)
        case .command:
            var allowsOutOfBand = false
            if let flag = object["allow-oob"] {
                guard case .bool(let bool) = flag else {
                    throw QAPIIntrospectionError(
                        path: "\(path).allow-oob",
                        message: "expected boolean, got \(describe(flag))"
                    )
                }
                allowsOutOfBand = bool
            }
            metaType = .command(
                argumentType: try string(object, "arg-type", path: path),
                returnType: try string(object, "ret-type", path: path),
                allowsOutOfBand: allowsOutOfBand
            )
        case .event:
            metaType = .event(argumentType: try string(object, "arg-type", path: path))
        }
        return QAPISchemaInfo(name: name, metaType: metaType, features: features)
    }

    private static func requireObject(_ value: JSONValue, path: String) throws(QAPIIntrospectionError) -> JSONObject {
        guard case .object(let object) = value else {
            throw QAPIIntrospectionError(path: path, message: "expected object, got \(describe(value))")
        }
        return object
    }

    private static func requireArray(_ value: JSONValue, path: String) throws(QAPIIntrospectionError) -> [JSONValue] {
        guard case .array(let array) = value else {
            throw QAPIIntrospectionError(path: path, message: "expected array, got \(describe(value))")
        }
        return array
    }

    private static func string(
        _ object: JSONObject,
        _ key: String,
        path: String
    ) throws(QAPIIntrospectionError) -> String {
        guard let value = object[key] else {
            throw QAPIIntrospectionError(path: "\(path).\(key)", message: "missing required member")
        }
        guard case .string(let string) = value else {
            throw QAPIIntrospectionError(path: "\(path).\(key)", message: "expected string, got \(describe(value))")
        }
        return string
    }

    private static func stringList(
        _ object: JSONObject,
        _ key: String,
        path: String,
        optional: Bool
    ) throws(QAPIIntrospectionError) -> [String] {
        guard let value = object[key] else {
            if optional { return [] }
            throw QAPIIntrospectionError(path: "\(path).\(key)", message: "missing required member")
        }
        var strings: [String] = []
        for (index, element) in try requireArray(value, path: "\(path).\(key)").enumerated() {
            guard case .string(let string) = element else {
                throw QAPIIntrospectionError(
                    path: "\(path).\(key)[\(index)]",
                    message: "expected string, got \(describe(element))"
                )
            }
            strings.append(string)
        }
        return strings
    }
}
