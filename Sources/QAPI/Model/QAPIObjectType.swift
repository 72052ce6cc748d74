import QMPCore

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
