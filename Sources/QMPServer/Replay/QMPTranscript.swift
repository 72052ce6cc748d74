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
    public struct Exchange: Sendable {
        public var command: String
        public var arguments: JSONObject
        /// `{"return": …}` or `{"error": …}` as recorded, without id.
        public var reply: JSONObject
        /// Events recorded between this command and the next, as sent (timestamps included).
        public var events: [JSONValue]
    }

    public var greeting: QMPGreeting?
    public var exchanges: [Exchange]

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
                throw QMPError(code: .invalidArguments, message: "the transcript is not valid JSON: \(error.description)")
            }
        }
        if let first = values.first, first["direction"] != nil, first["message"] != nil {
            self = try Self.fromRecording(values)
        } else {
            self = try Self.fromLibvirtReplies(values)
        }
    }

    private static func fromRecording(_ entries: [JSONValue]) throws(QMPError) -> QMPTranscript {
        var messages: [(toServer: Bool, message: JSONValue)] = []
        for (index, entry) in entries.enumerated() {
            guard case .string(let direction)? = entry["direction"], let message = entry["message"] else {
                throw QMPError(code: .invalidArguments, message: "transcript line \(index + 1): expected members 'direction' and 'message'")
            }
            messages.append((direction == "to-server", message))
        }
        return build(messages)
    }

    private static func fromLibvirtReplies(_ values: [JSONValue]) throws(QMPError) -> QMPTranscript {
        // Commands carry `execute`; everything else came from QEMU.
        build(values.map { ($0["execute"] != nil, $0) })
    }

    /// Pairs each command with its reply by id when both have one, else with the next reply.
    private static func build(_ messages: [(toServer: Bool, message: JSONValue)]) -> QMPTranscript {
        var greeting: QMPGreeting?
        var exchanges: [Exchange] = []
        var waiting: [(id: JSONValue?, index: Int)] = []
        for (toServer, message) in messages {
            guard case .object(let object) = message else { continue }
            if toServer {
                guard case .string(let name)? = object["execute"] ?? object["exec-oob"] else { continue }
                exchanges.append(
                    Exchange(command: name, arguments: object["arguments"]?.objectValue ?? [:], reply: [:], events: [])
                )
                waiting.append((object["id"], exchanges.count - 1))
                continue
            }
            if let found = QMPGreeting(message), greeting == nil {
                greeting = found
            } else if object["event"] != nil {
                if !exchanges.isEmpty {
                    exchanges[exchanges.count - 1].events.append(message)
                }
            } else if object["return"] != nil || object["error"] != nil {
                let position = waiting.firstIndex { $0.id != nil && $0.id == object["id"] } ?? (waiting.isEmpty ? nil : 0)
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
