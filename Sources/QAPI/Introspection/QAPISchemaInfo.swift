import QMPCore

/// One entry of `query-qmp-schema`'s answer: a command, an event or a type.
///
/// Type names in introspection are not the source names: QEMU replaces them with numbers
/// (`"123"`, arrays `"[123]"`) and keeps only built-in names (`"str"`, `"int"`, `"[int]"`).
/// Command and event names are real.
public struct QAPISchemaInfo: Sendable, Hashable {
    /// The entry's name: a command's or event's real name, a type's number.
    public var name: String
    /// What the entry is, with its definition.
    public var metaType: MetaType
    /// Feature names (`deprecated`, `unstable`, or behaviour flags).
    public var features: [String]

    /// An entry of the given name and meta-type.
    public init(name: String, metaType: MetaType, features: [String] = []) {
        self.name = name
        self.metaType = metaType
        self.features = features
    }

    /// The entry's kind, with what that kind carries.
    public enum MetaType: Sendable, Hashable {
        /// The kinds a value of the built-in type may have, by their introspection word.
        case builtin(jsonType: QAPIJSONType)
        /// `members` (each with features; since QEMU 6.2) and `values` (the older list).
        case enumeration(members: [EnumMember], values: [String])
        case array(elementType: String)
        /// Members with the base's included; `tag` and `variants` for a union.
        case object(members: [ObjectMember], tag: String?, variants: [Variant])
        /// The branch types.
        case alternate(memberTypes: [String])
        case command(argumentType: String, returnType: String, allowsOutOfBand: Bool)
        case event(argumentType: String)

        /// The meta-type without what it carries.
        public var kind: QAPIMetaType {
            switch self {
            case .builtin: .builtin
            case .enumeration: .enumeration
            case .array: .array
            case .object: .object
            case .alternate: .alternate
            case .command: .command
            case .event: .event
            }
        }
    }

    /// A value of an enumeration.
    public struct EnumMember: Sendable, Hashable {
        /// The value as it appears on the wire.
        public var name: String
        /// The value's feature names.
        public var features: [String]

        /// A value of an enumeration.
        public init(name: String, features: [String] = []) {
            self.name = name
            self.features = features
        }
    }

    /// A member of an object. It is optional exactly when it has a default (currently always
    /// `null`).
    public struct ObjectMember: Sendable, Hashable {
        /// The member's name on the wire.
        public var name: String
        /// The member's type, as introspection names it.
        public var type: String
        /// The member's default; present exactly when the member is optional.
        public var defaultValue: JSONValue?
        /// The member's feature names.
        public var features: [String]

        /// A member of an object.
        public init(name: String, type: String, defaultValue: JSONValue? = nil, features: [String] = []) {
            self.name = name
            self.type = type
            self.defaultValue = defaultValue
            self.features = features
        }

        /// Whether the member may be left out.
        public var isOptional: Bool { defaultValue != nil }
    }

    /// A union variant: the tag value and the type of the members it adds.
    public struct Variant: Sendable, Hashable {
        /// The tag value that selects the variant.
        public var tagValue: String
        /// The type of the members the variant adds.
        public var type: String

        /// A variant for `tagValue`.
        public init(tagValue: String, type: String) {
            self.tagValue = tagValue
            self.type = type
        }
    }
}
