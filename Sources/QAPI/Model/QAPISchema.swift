import QMPCore

/// A resolved QAPI schema: every type, command and event, with references checked, bases
/// flattened and implicit types made explicit.
///
/// Build one with ``QAPISchema/resolve(_:strict:)`` from a ``QAPISchemaSource``, or load a schema
/// directory with ``QAPISchema/load(directory:entryFile:parser:strict:)``. Resolution collects every problem it
/// finds into ``diagnostics`` rather than stopping at the first one; a schema with diagnostics is
/// still usable for everything that did resolve.
///
/// Type names:
/// - built-in types use their QAPI names (`str`, `int`, `uint64`, `any`, …);
/// - an array of `T` is named `[T]`;
/// - implicit types follow QEMU's internal naming: `q_obj_<command>-arg` for a command's
///   inline arguments, `q_obj_<EVENT>-arg` for an event's inline data, `q_obj_<Union>-base` for
///   a union's inline base, `q_obj_<Owner>-<member>` for an anonymous object nested in a
///   member (QEMU 1.x), `q_obj_<Type>-wrapper` for the branch wrapper of a simple union, and
///   `<Union>Kind` for the tag enumeration a simple union implies.
public struct QAPISchema: Sendable {
    /// Every type by name: built-ins, defined types, implicit types and the array types in use.
    public var types: [String: QAPIType]
    /// Every command by name.
    public var commands: [String: QAPICommand]
    /// Every event by name.
    public var events: [String: QAPIEvent]
    /// Names of defined (non-built-in, non-array) types, commands and events in source order.
    public var definitionOrder: [QAPIEntityReference]
    /// Pragmas by name, merged over all files, as written.
    public var pragmas: [String: QAPINode]
    /// Files read, in include order.
    public var files: [String]
    /// Everything wrong with the schema, syntax and resolution errors together, sorted by location.
    public var diagnostics: [QAPIDiagnostic]

    /// A schema of the given definitions; ``resolve(_:strict:)`` and the `load` functions make complete ones.
    public init(
        types: [String: QAPIType] = [:],
        commands: [String: QAPICommand] = [:],
        events: [String: QAPIEvent] = [:],
        definitionOrder: [QAPIEntityReference] = [],
        pragmas: [String: QAPINode] = [:],
        files: [String] = [],
        diagnostics: [QAPIDiagnostic] = []
    ) {
        self.types = types
        self.commands = commands
        self.events = events
        self.definitionOrder = definitionOrder
        self.pragmas = pragmas
        self.files = files
        self.diagnostics = diagnostics
    }

    /// The type called `name`.
    public func type(named name: String) -> QAPIType? { types[name] }

    /// The object type called `name`, if it is one.
    public func objectType(named name: String) -> QAPIObjectType? {
        if case .object(let object)? = types[name]?.kind { return object }
        return nil
    }

    /// The enumeration called `name`, if it is one.
    public func enumType(named name: String) -> QAPIEnumType? {
        if case .enumeration(let enumeration)? = types[name]?.kind { return enumeration }
        return nil
    }

    /// Defined and implicit types that are not built-in and not arrays, sorted by name.
    public var definedTypes: [QAPIType] {
        types.values.filter { !$0.isBuiltin && !$0.isArray }.sorted { $0.name < $1.name }
    }

    /// The members a command takes (empty when it takes none, or takes a union; see
    /// ``QAPIObjectType/variants``).
    public func arguments(ofCommand name: String) -> [QAPIMember] {
        guard let argumentType = commands[name]?.argumentType else { return [] }
        return objectType(named: argumentType)?.members ?? []
    }

    /// The members of an event's data.
    public func data(ofEvent name: String) -> [QAPIMember] {
        guard let dataType = events[name]?.dataType else { return [] }
        return objectType(named: dataType)?.members ?? []
    }

    /// Every configuration symbol that a condition anywhere in the schema mentions.
    public var conditionSymbols: Set<String> {
        var symbols: Set<String> = []
        func add(_ condition: QAPICondition?) {
            if let condition { symbols.formUnion(condition.symbols) }
        }
        func add(_ features: [QAPIFeature]) {
            for feature in features { add(feature.condition) }
        }
        for type in types.values {
            add(type.condition)
            add(type.features)
            switch type.kind {
            case .enumeration(let enumeration):
                for value in enumeration.values {
                    add(value.condition)
                    add(value.features)
                }
            case .object(let object):
                for member in object.members {
                    add(member.condition)
                    add(member.features)
                }
                for variant in object.variants?.variants ?? [] { add(variant.condition) }
            case .alternate(let alternate):
                for branch in alternate.branches { add(branch.condition) }
            default:
                break
            }
        }
        for command in commands.values {
            add(command.condition)
            add(command.features)
        }
        for event in events.values {
            add(event.condition)
            add(event.features)
        }
        return symbols
    }

    /// Whether the schema resolved without any diagnostic.
    public var isValid: Bool { diagnostics.isEmpty }

    /// Reads and resolves the schema whose entry file is `entryFile` under the directory at
    /// `directory`.
    ///
    /// `strict` applies every rule of QEMU's current generator, also those older releases'
    /// schemas break (``QAPIRelaxedRule``), and reads the files without the old leniencies.
    public static func load(
        directory: String,
        entryFile: String,
        parser: QAPIParser = QAPIParser(),
        strict: Bool = false
    ) -> QAPISchema {
        let parser = strict ? QAPIParser(options: .strict) : parser
        return resolve(
            QAPISchemaSource.load(directory: directory, entryFile: entryFile, parser: parser),
            strict: strict
        )
    }

    /// Reads and resolves a schema from in-memory files keyed by path.
    public static func load(
        files: [String: String],
        entryFile: String,
        parser: QAPIParser = QAPIParser(),
        strict: Bool = false
    ) -> QAPISchema {
        let parser = strict ? QAPIParser(options: .strict) : parser
        return resolve(QAPISchemaSource.load(files: files, entryFile: entryFile, parser: parser), strict: strict)
    }
}

/// Which of the schema's namespaces a name belongs to.
public enum QAPIEntityReference: Sendable, Hashable {
    case type(String)
    case command(String)
    case event(String)
}
