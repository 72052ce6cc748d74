import QMPCore

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
