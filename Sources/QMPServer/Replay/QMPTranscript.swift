import QMPCore

/// A recorded QMP conversation: the greeting, then each command with the reply and the events
/// that came with it.
///
/// Two formats are read:
/// - swift-qmp's own, written by `qmp record`: one JSON object per line,
///   `{"time": 0.0012, "direction": "from-server" | "to-server", "connection": 1, "message": {…}}`;
/// - libvirt's `tests/qemucapabilitiesdata/*.replies`: pretty-printed commands and replies
///   separated by blank lines, ids `libvirt-N`, no greeting.
public struct QMPTranscript: Sendable {
    /// One command and what came back for it.
    public struct Exchange: Sendable {
        /// The command's name.
        public var command: String
        /// Its arguments; empty when it had none.
        public var arguments: JSONObject
        /// `{"return": …}` or `{"error": …}` as recorded, without id.
        public var reply: JSONObject
        /// Events recorded between this command and the next, as sent (timestamps included).
        public var events: [JSONValue]
        /// Sent with `exec-oob`.
        public var outOfBand = false
    }

    /// The server's greeting; libvirt's files have none.
    public var greeting: QMPGreeting?
    /// The commands in the order they were sent.
    public var exchanges: [Exchange]

    /// A transcript of the given exchanges.
    public init(greeting: QMPGreeting?, exchanges: [Exchange]) {
        self.greeting = greeting
        self.exchanges = exchanges
    }

    /// Reads either format, telling them apart by their first value.
    public init(parsing text: String) throws(QMPError) {
        var reader = JSONReader(configuration: .server)
        reader.feed(Array(text.utf8))
        var values: [JSONValue] = []
        while true {
            do {
                // The whole text is there: finish() also completes a value at its very end.
                guard let value = try reader.finish() else { break }
                values.append(value)
            } catch {
                throw QMPError(
                    code: .invalidArguments,
                    message: "the transcript is not valid JSON: \(error.description)"
                )
            }
        }
        let transcript =
            // libvirt's messages never have a `direction`.
            if let first = values.first, first["direction"] != nil {
                try Self.fromRecording(values)
            } else {
                Self.fromLibvirtReplies(values)
            }
        guard !transcript.exchanges.isEmpty else {
            throw QMPError(
                code: .invalidArguments,
                message:
                    "the transcript has no command with its reply: expected the output of `qmp record` or a libvirt .replies file"
            )
        }
        self = transcript
    }

    private typealias Message = (toServer: Bool, connection: JSONValue?, message: JSONValue)

    private static func fromRecording(_ entries: [JSONValue]) throws(QMPError) -> QMPTranscript {
        var messages: [Message] = []
        for (index, entry) in entries.enumerated() {
            guard case .string(let direction)? = entry["direction"] else {
                throw QMPError(
                    code: .invalidArguments,
                    message: "transcript line \(index + 1): expected a member 'direction'"
                )
            }
            // Input that was not JSON is recorded as `malformed`; there is nothing to replay in it.
            if entry["malformed"] != nil { continue }
            guard let message = entry["message"] else {
                throw QMPError(
                    code: .invalidArguments,
                    message: "transcript line \(index + 1): expected a member 'message' or 'malformed'"
                )
            }
            messages.append((direction == "to-server", entry["connection"], message))
        }
        return build(messages)
    }

    private static func fromLibvirtReplies(_ values: [JSONValue]) -> QMPTranscript {
        // Commands carry `execute`; everything else came from QEMU.
        build(values.map { ($0["execute"] != nil, nil, $0) })
    }

    /// Pairs each command with its reply on the same connection: by id when both have one,
    /// else with the next reply. Events go with the latest command of their connection.
    private static func build(_ messages: [Message]) -> QMPTranscript {
        var greeting: QMPGreeting?
        var exchanges: [Exchange] = []
        var waiting: [(connection: JSONValue?, id: JSONValue?, index: Int)] = []
        var latest: [JSONValue?: Int] = [:]
        for (toServer, connection, message) in messages {
            guard case .object(let object) = message else { continue }
            if toServer {
                let outOfBand = object["exec-oob"] != nil
                guard case .string(let name)? = object["execute"] ?? object["exec-oob"] else { continue }
                exchanges.append(
                    Exchange(
                        command: name,
                        arguments: object["arguments"]?.objectValue ?? [:],
                        reply: [:],
                        events: [],
                        outOfBand: outOfBand
                    )
                )
                waiting.append((connection, object["id"], exchanges.count - 1))
                latest[connection] = exchanges.count - 1
                continue
            }
            if let found = QMPGreeting(message), greeting == nil {
                greeting = found
            } else if object["event"] != nil {
                if let index = latest[connection] {
                    exchanges[index].events.append(message)
                }
            } else if object["return"] != nil || object["error"] != nil {
                let sameConnection = waiting.indices.filter { waiting[$0].connection == connection }
                // By id where the reply has one; otherwise it answers the oldest command sent
                // without id (in-band ones, which the server answers in order).
                let position: Int?
                if let id = object["id"] {
                    position = sameConnection.first { waiting[$0].id == id } ?? sameConnection.first
                } else {
                    position = sameConnection.first { waiting[$0].id == nil } ?? sameConnection.first
                }
                guard let position else { continue }
                var reply = object
                reply.removeValue(forKey: "id")
                exchanges[waiting[position].index].reply = reply
                waiting.remove(at: position)
            }
        }
        return QMPTranscript(greeting: greeting, exchanges: exchanges.filter { !$0.reply.isEmpty })
    }
}
