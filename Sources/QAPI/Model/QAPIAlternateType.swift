import QMPCore

/// An alternate: a value that may have one of several types, told apart by their JSON type.
public struct QAPIAlternateType: Sendable, Hashable {
    /// The branches, in declaration order.
    public var branches: [QAPIVariant]

    /// An alternate of the given branches.
    public init(branches: [QAPIVariant]) {
        self.branches = branches
    }
}
