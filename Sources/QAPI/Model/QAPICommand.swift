import QMPCore

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
