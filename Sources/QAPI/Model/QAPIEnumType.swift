import QMPCore

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
    public init(
        name: String,
        condition: QAPICondition? = nil,
        features: [QAPIFeature] = [],
        location: QAPISourceLocation
    ) {
        self.name = name
        self.condition = condition
        self.features = features
        self.location = location
    }
}
