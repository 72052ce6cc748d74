import QMPCore

extension QMPBindings {
    /// Reads `arguments` as the arguments of the command called `name`; `nil` when no binding
    /// has that name.
    public static func decodeArguments(
        ofCommand name: String,
        _ arguments: JSONObject?
    ) throws(QMPDecodingError) -> (any QMPCommand)? {
        guard let type = commands[name] else { return nil }
        return try decodeCommand(type, arguments)
    }

    /// Reads `value` as the reply (`return`) of the command called `name`; `nil` when no
    /// binding has that name.
    public static func decodeReply(
        ofCommand name: String,
        _ value: JSONValue
    ) throws(QMPDecodingError) -> (any QMPJSONConvertible)? {
        guard let type = commands[name] else { return nil }
        return try decodeResponse(type, value)
    }

    /// Reads an event's data with its binding; `nil` when no binding has the event's name.
    public static func decodeEvent(_ event: QMPEvent) throws(QMPDecodingError) -> (any QMPEventPayload)? {
        guard let type = events[event.name] else { return nil }
        return try type.init(json: .object(event.data ?? [:]), path: QMPPath(["data"]))
    }

    private static func decodeCommand(
        _ type: any (QMPCommand & QMPJSONConvertible).Type,
        _ arguments: JSONObject?
    ) throws(QMPDecodingError) -> any QMPCommand {
        try type.init(json: .object(arguments ?? [:]), path: QMPPath(["arguments"]))
    }

    private static func decodeResponse<Command: QMPCommand>(
        _ type: Command.Type,
        _ value: JSONValue
    ) throws(QMPDecodingError) -> any QMPJSONConvertible {
        try Command.Response(json: value, path: QMPPath(["return"]))
    }
}
