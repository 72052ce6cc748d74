import QMPCore

// MARK: - Schema

/// A resolved QAPI schema: every type, command and event, with references checked, bases
/// flattened and implicit types made explicit.
///
/// Build one with ``QAPISchema/resolve(_:)`` from a ``QAPISchemaSource``, or load a schema
/// directory with ``QAPISchema/load(directory:entryFile:parser:)``. Resolution collects every problem it
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

    /// A schema of the given definitions; ``resolve(_:)`` and the `load` functions make complete ones.
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
                for value in enumeration.values { add(value.condition); add(value.features) }
            case .object(let object):
                for member in object.members { add(member.condition); add(member.features) }
                for variant in object.variants?.variants ?? [] { add(variant.condition) }
            case .alternate(let alternate):
                for branch in alternate.branches { add(branch.condition) }
            default:
                break
            }
        }
        for command in commands.values { add(command.condition); add(command.features) }
        for event in events.values { add(event.condition); add(event.features) }
        return symbols
    }

    /// Whether the schema resolved without any diagnostic.
    public var isValid: Bool { diagnostics.isEmpty }

    /// Reads and resolves the schema whose entry file is `entryFile` under the directory at
    /// `directory`.
    public static func load(directory: String, entryFile: String, parser: QAPIParser = QAPIParser()) -> QAPISchema {
        resolve(QAPISchemaSource.load(directory: directory, entryFile: entryFile, parser: parser))
    }

    /// Reads and resolves a schema from in-memory files keyed by path.
    public static func load(files: [String: String], entryFile: String, parser: QAPIParser = QAPIParser()) -> QAPISchema {
        resolve(QAPISchemaSource.load(files: files, entryFile: entryFile, parser: parser))
    }
}

/// Which of the schema's namespaces a name belongs to.
public enum QAPIEntityReference: Sendable, Hashable {
    case type(String)
    case command(String)
    case event(String)
}

// MARK: - Features

/// A feature flag on a definition, member or enum value.
///
/// `deprecated` and `unstable` have special meaning (the interface is going away / may change
/// incompatibly); any other name advertises a behaviour.
public struct QAPIFeature: Sendable, Hashable, CustomStringConvertible {
    /// The feature's name.
    public var name: String
    /// The build condition under which the feature exists; `nil` for always.
    public var condition: QAPICondition?

    /// A feature, present under `condition`.
    public init(name: String, condition: QAPICondition? = nil) {
        self.name = name
        self.condition = condition
    }

    public var description: String { name }

    /// The feature that marks an interface as going away.
    public static let deprecated = QEMUAvailability.deprecatedFeature
    /// The feature that marks an interface that may change incompatibly.
    public static let unstable = QEMUAvailability.unstableFeature
}

extension Array where Element == QAPIFeature {
    /// Whether a feature called `name` is present.
    public func contains(_ name: String) -> Bool { contains { $0.name == name } }

    /// The feature names.
    public var names: [String] { map(\.name) }

    /// Whether the `deprecated` feature is present.
    public var isDeprecated: Bool { contains(QAPIFeature.deprecated) }

    /// Whether the `unstable` feature is present.
    public var isUnstable: Bool { contains(QAPIFeature.unstable) }
}

// MARK: - Types

/// A type of the schema.
public struct QAPIType: Sendable, Hashable, Identifiable {
    /// What kind of type it is, with the details of that kind.
    public enum Kind: Sendable, Hashable {
        case builtin(QAPIBuiltinType)
        case enumeration(QAPIEnumType)
        case object(QAPIObjectType)
        case alternate(QAPIAlternateType)
        /// An array; the element type's name.
        case array(element: String)
    }

    /// The type's name; built-in types use their QAPI names.
    public var name: String
    /// What sort of type it is, with its definition.
    public var kind: Kind
    /// Where it is defined (the position of its name in the defining expression; for an
    /// implicit type, of the text it comes from); `nil` for built-in and array types.
    public var location: QAPISourceLocation?
    /// The build condition under which the type exists; `nil` for always.
    public var condition: QAPICondition?
    /// The type's features.
    public var features: [QAPIFeature]
    /// True for types the schema implies rather than names (argument objects, inline bases, …).
    public var isImplicit: Bool

    /// A type with the given definition.
    public init(
        name: String,
        kind: Kind,
        location: QAPISourceLocation? = nil,
        condition: QAPICondition? = nil,
        features: [QAPIFeature] = [],
        isImplicit: Bool = false
    ) {
        self.name = name
        self.kind = kind
        self.location = location
        self.condition = condition
        self.features = features
        self.isImplicit = isImplicit
    }

    /// The type's name, as its identity.
    public var id: String { name }

    /// Whether QAPI defines the type itself (`str`, `int`, …).
    public var isBuiltin: Bool {
        if case .builtin = kind { return true }
        return false
    }

    /// Whether the type is an array type (`[T]`).
    public var isArray: Bool {
        if case .array = kind { return true }
        return false
    }

    /// Its meta-type as introspection names it: `builtin`, `enum`, `object` (unions too),
    /// `alternate` or `array`.
    public var metaType: QAPIMetaType {
        switch kind {
        case .builtin: .builtin
        case .enumeration: .enumeration
        case .object: .object
        case .alternate: .alternate
        case .array: .array
        }
    }

    /// Whether it is the enumeration the schema implies for a union's tag (`<Union>Kind`: a
    /// simple union's branch names, or the values of a string discriminator). Unlike other
    /// implicit types it has a proper name and is kept as a type of its own, as later releases
    /// declare the same enumeration themselves.
    public var isImplicitTagEnum: Bool {
        if case .enumeration = kind, isImplicit { return true }
        return false
    }
}

/// The built-in types.
public enum QAPIBuiltinType: String, Sendable, Hashable, CaseIterable {
    case str, number, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, size, bool, null, any

    /// How QEMU stores an integer type: its width in bits and whether it is unsigned; `nil` for
    /// non-integers. The one table of integer types: their ranges, how QEMU reads them and the
    /// C type it names a narrow one by all follow from it.
    var integerLayout: (bits: Int, isUnsigned: Bool)? {
        switch self {
        case .int, .int64: (64, false)
        case .int8: (8, false)
        case .int16: (16, false)
        case .int32: (32, false)
        case .uint8: (8, true)
        case .uint16: (16, true)
        case .uint32: (32, true)
        case .uint64, .size: (64, true)
        case .str, .number, .bool, .null, .any: nil
        }
    }

    /// The range of an integer type, as closed bounds; `nil` for non-integers.
    public var integerRange: (minimum: IntegerBound, maximum: IntegerBound)? {
        guard let (bits, isUnsigned) = integerLayout else { return nil }
        let unused = UInt64(64 - bits)
        guard isUnsigned else { return (.signed(Int64.min >> unused), .signed(Int64.max >> unused)) }
        let maximum = UInt64.max >> unused
        return (.signed(0), maximum > UInt64(Int64.max) ? .unsigned(maximum) : .signed(Int64(maximum)))
    }

    /// A bound of an integer range: a signed or an unsigned 64-bit value.
    public enum IntegerBound: Sendable, Hashable, CustomStringConvertible {
        case signed(Int64)
        case unsigned(UInt64)

        public var description: String {
            switch self {
            case .signed(let value): String(value)
            case .unsigned(let value): String(value)
            }
        }
    }
}

/// An enumeration: a set of string values.
public struct QAPIEnumType: Sendable, Hashable {
    /// The values, in declaration order.
    public var values: [QAPIEnumValue]
    /// The C name prefix QEMU's generator uses instead of the default (`'prefix'`).
    public var prefix: String?

    /// An enumeration of the given values.
    public init(values: [QAPIEnumValue], prefix: String? = nil) {
        self.values = values
        self.prefix = prefix
    }

    /// The value names, in order.
    public var names: [String] { values.map(\.name) }

    /// The value called `name`, if there is one.
    public func value(named name: String) -> QAPIEnumValue? { values.first { $0.name == name } }
}

/// A value of an enumeration.
public struct QAPIEnumValue: Sendable, Hashable {
    /// The value as it appears on the wire.
    public var name: String
    /// The build condition under which the value exists; `nil` for always.
    public var condition: QAPICondition?
    /// The value's features.
    public var features: [QAPIFeature]
    /// Where the value is written.
    public var location: QAPISourceLocation

    /// A value of an enumeration.
    public init(name: String, condition: QAPICondition? = nil, features: [QAPIFeature] = [], location: QAPISourceLocation) {
        self.name = name
        self.condition = condition
        self.features = features
        self.location = location
    }
}

/// An object type: a struct, or a union (an object whose tag member selects extra members).
public struct QAPIObjectType: Sendable, Hashable {
    /// The base type's name, if any. Its members are included in ``members``.
    public var base: String?
    /// All members present in every instance: the base's first, then the object's own.
    public var members: [QAPIMember]
    /// For a union: the tag member and the members each tag value adds.
    public var variants: QAPIVariants?

    /// An object type with the given base, members and variants.
    public init(base: String? = nil, members: [QAPIMember] = [], variants: QAPIVariants? = nil) {
        self.base = base
        self.members = members
        self.variants = variants
    }

    /// Whether the type is a union: it has variants.
    public var isUnion: Bool { variants != nil }

    /// The member called `name`, if there is one.
    public func member(named name: String) -> QAPIMember? { members.first { $0.name == name } }
}

/// A member of an object type (also: an argument of a command, a data member of an event).
public struct QAPIMember: Sendable, Hashable {
    /// The member's name on the wire (without the `*` that marks it optional in the source).
    public var name: String
    /// The name of the member's type (`[T]` for arrays).
    public var type: String
    /// Whether the member may be left out.
    public var isOptional: Bool
    /// The build condition under which the member exists; `nil` for always.
    public var condition: QAPICondition?
    /// The member's features.
    public var features: [QAPIFeature]
    /// A declared default value (`'default'` in a member's long form), as written.
    public var defaultValue: QAPINode?
    /// Where the member's name is written.
    public var location: QAPISourceLocation
    /// The type that declares the member (a base type for inherited members).
    public var definedIn: String

    /// A member of an object type.
    public init(
        name: String,
        type: String,
        isOptional: Bool = false,
        condition: QAPICondition? = nil,
        features: [QAPIFeature] = [],
        defaultValue: QAPINode? = nil,
        location: QAPISourceLocation,
        definedIn: String
    ) {
        self.name = name
        self.type = type
        self.isOptional = isOptional
        self.condition = condition
        self.features = features
        self.defaultValue = defaultValue
        self.location = location
        self.definedIn = definedIn
    }
}

/// The variant part of a union.
public struct QAPIVariants: Sendable, Hashable {
    /// The name of the tag member (a member of the union's base).
    public var tagMember: String
    /// The enumeration whose values select the variants. Usually the tag member's type; for
    /// the simple unions of QEMU ≤ 6.1 and the early flat unions whose tag was a `str`, an
    /// implicit `<Union>Kind` enumeration made from the branch names.
    public var tagType: String
    /// The variants, in source order. Tag values without a variant add no members.
    public var variants: [QAPIVariant]

    /// A union's variants, chosen by the value of `tagMember`.
    public init(tagMember: String, tagType: String, variants: [QAPIVariant]) {
        self.tagMember = tagMember
        self.tagType = tagType
        self.variants = variants
    }

    /// The branch for a tag value, if there is one.
    public func variant(forTag tag: String) -> QAPIVariant? { variants.first { $0.name == tag } }
}

/// One branch of a union or an alternate.
public struct QAPIVariant: Sendable, Hashable {
    /// The branch name: the tag value for a union, a label for an alternate.
    public var name: String
    /// The name of the branch's type.
    public var type: String
    /// The build condition under which the branch exists; `nil` for always.
    public var condition: QAPICondition?
    /// Where the branch's name is written.
    public var location: QAPISourceLocation

    /// A branch of a union or an alternate.
    public init(name: String, type: String, condition: QAPICondition? = nil, location: QAPISourceLocation) {
        self.name = name
        self.type = type
        self.condition = condition
        self.location = location
    }
}

/// An alternate: a value that may have one of several types, told apart by their JSON type.
public struct QAPIAlternateType: Sendable, Hashable {
    /// The branches, in declaration order.
    public var branches: [QAPIVariant]

    /// An alternate of the given branches.
    public init(branches: [QAPIVariant]) {
        self.branches = branches
    }
}

// MARK: - Commands and events

/// A command.
public struct QAPICommand: Sendable, Hashable, Identifiable {
    /// The command's name, e.g. `query-status`.
    public var name: String
    /// The object type of the arguments (an implicit `q_obj_<name>-arg` for inline
    /// arguments); `nil` when the command takes none.
    public var argumentType: String?
    /// The type of the return value; `nil` when the command returns an empty object.
    public var returnType: String?
    /// The argument type is passed as one value (`'boxed': true`), which also allows a union.
    public var isBoxed: Bool
    /// May be executed out of band (`exec-oob`).
    public var allowsOutOfBand: Bool
    /// Available before machine creation with `--preconfig`.
    public var allowsPreconfig: Bool
    /// Runs in a coroutine.
    public var isCoroutine: Bool
    /// False for commands that send no reply on success (the guest agent's shutdown-type
    /// commands).
    public var hasSuccessResponse: Bool
    /// False for commands whose marshalling QEMU writes by hand (`'gen': false`); such a
    /// command may accept more than its declared arguments.
    public var isGenerated: Bool
    /// The build condition under which the command exists; `nil` for always.
    public var condition: QAPICondition?
    /// The command's features.
    public var features: [QAPIFeature]
    /// Where the command's name is written.
    public var location: QAPISourceLocation

    /// A command with the given declaration.
    public init(
        name: String,
        argumentType: String? = nil,
        returnType: String? = nil,
        isBoxed: Bool = false,
        allowsOutOfBand: Bool = false,
        allowsPreconfig: Bool = false,
        isCoroutine: Bool = false,
        hasSuccessResponse: Bool = true,
        isGenerated: Bool = true,
        condition: QAPICondition? = nil,
        features: [QAPIFeature] = [],
        location: QAPISourceLocation
    ) {
        self.name = name
        self.argumentType = argumentType
        self.returnType = returnType
        self.isBoxed = isBoxed
        self.allowsOutOfBand = allowsOutOfBand
        self.allowsPreconfig = allowsPreconfig
        self.isCoroutine = isCoroutine
        self.hasSuccessResponse = hasSuccessResponse
        self.isGenerated = isGenerated
        self.condition = condition
        self.features = features
        self.location = location
    }

    /// The command's name, as its identity.
    public var id: String { name }
}

/// An event.
public struct QAPIEvent: Sendable, Hashable, Identifiable {
    /// The event's name, e.g. `SHUTDOWN`.
    public var name: String
    /// The object type of the event's `data`; `nil` when it carries none.
    public var dataType: String?
    /// The data type is passed as one value (`'boxed': true`).
    public var isBoxed: Bool
    /// The build condition under which the event exists; `nil` for always.
    public var condition: QAPICondition?
    /// The event's features.
    public var features: [QAPIFeature]
    /// Where the event's name is written.
    public var location: QAPISourceLocation

    /// An event with the given declaration.
    public init(
        name: String,
        dataType: String? = nil,
        isBoxed: Bool = false,
        condition: QAPICondition? = nil,
        features: [QAPIFeature] = [],
        location: QAPISourceLocation
    ) {
        self.name = name
        self.dataType = dataType
        self.isBoxed = isBoxed
        self.condition = condition
        self.features = features
        self.location = location
    }

    /// The event's name, as its identity.
    public var id: String { name }
}
