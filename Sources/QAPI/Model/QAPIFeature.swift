import QMPCore

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
