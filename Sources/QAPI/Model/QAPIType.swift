import QMPCore

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
