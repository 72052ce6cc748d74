import QMPCore

extension QGABindings {
    /// Reads `arguments` as the arguments of the agent command called `name`; `nil` when no
    /// binding has that name.
    public static func decodeArguments(
        ofCommand name: String,
        _ arguments: JSONObject?
    ) throws(QMPDecodingError) -> (any QMPCommand)? {
        guard let type = commands[name] else { return nil }
        return try type.init(json: .object(arguments ?? [:]), path: QMPPath(["arguments"])) as any QMPCommand
    }

    /// Reads `value` as the reply (`return`) of the agent command called `name`; `nil` when no
    /// binding has that name.
    public static func decodeReply(
        ofCommand name: String,
        _ value: JSONValue
    ) throws(QMPDecodingError) -> (any QMPJSONConvertible)? {
        guard let type = commands[name] else { return nil }
        return try decodeResponse(type, value)
    }

    private static func decodeResponse<Command: QMPCommand>(
        _ type: Command.Type,
        _ value: JSONValue
    ) throws(QMPDecodingError) -> any QMPJSONConvertible {
        try Command.Response(json: value, path: QMPPath(["return"]))
    }
}
