import QMPCore

extension QMPBindings {
    /// Reads `arguments` as the arguments of the command called `name`; `nil` when no binding
    /// has that name. For a command whose arguments changed shape (``olderShapes``), arguments
    /// that the newest shape does not read are read with the older shapes, newest first; the
    /// error is the newest shape's when none reads them.
    public static func decodeArguments(
        ofCommand name: String,
        _ arguments: JSONObject?
    ) throws(QMPDecodingError) -> (any QMPCommand)? {
        guard let type = commands[name] else { return nil }
        do {
            return try decodeCommand(type, arguments)
        } catch {
            for older in (olderShapes[name] ?? []).reversed() {
                if let command = try? decodeCommand(older, arguments) { return command }
            }
            throw error
        }
    }

    /// Reads `arguments` as QEMU `version` takes the command called `name`: with the type of
    /// the shape that release takes (`QMPCommand.argumentShapes`), or the newest when no
    /// shape names that release; `nil` when no binding has that name.
    public static func decodeArguments(
        ofCommand name: String,
        _ arguments: JSONObject?,
        in version: QEMUVersion
    ) throws(QMPDecodingError) -> (any QMPCommand)? {
        guard let type = commands[name] else { return nil }
        let shape = (olderShapes[name] ?? []).first { $0.shapeAvailability?.isAvailable(in: version) == true }
        return try decodeCommand(shape ?? type, arguments)
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
