/// The capabilities a QMP server can offer in its greeting. Unknown names are kept.
public struct QMPCapability: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Out-of-band execution (`exec-oob`), QEMU 2.12 and later, on monitors with an I/O thread.
    public static let oob = QMPCapability(rawValue: "oob")

    public var description: String { rawValue }
}

/// `{"QMP": {"version": …, "capabilities": […]}}`: the first thing a QMP server says.
public struct QMPGreeting: Sendable, Hashable {
    /// The QEMU version, when the greeting carries one that can be read.
    ///
    /// QEMU 0.12/0.13 sent `"qemu": "0.12.50"`, a string; later versions send an object with
    /// `major`, `minor` and `micro`. Both are understood.
    public var version: QEMUVersion?
    /// The `package` string: empty for upstream builds, the distribution's build otherwise.
    public var package: String
    /// The capabilities the server offers for negotiation.
    public var capabilities: [QMPCapability]
    /// The greeting as received, for anything this type does not model.
    public var raw: JSONValue

    /// A greeting as a server sends it, with ``raw`` built to match.
    public init(version: QEMUVersion?, package: String = "", capabilities: [QMPCapability] = []) {
        self.version = version
        self.package = package
        self.capabilities = capabilities
        var versionObject: JSONObject = [:]
        if let version {
            versionObject["qemu"] = [
                "micro": .int(Int64(version.micro)),
                "minor": .int(Int64(version.minor)),
                "major": .int(Int64(version.major)),
            ]
        }
        versionObject["package"] = .string(package)
        self.raw = [
            "QMP": [
                "version": .object(versionObject),
                "capabilities": .array(capabilities.map { .string($0.rawValue) }),
            ]
        ]
    }

    /// Reads a greeting; `nil` when `value` is not one (it lacks the `QMP` member).
    public init?(_ value: JSONValue) {
        guard case .object(let outer) = value, outer.count == 1, case .object(let body)? = outer["QMP"] else {
            return nil
        }
        raw = value
        capabilities = body["capabilities"]?.arrayValue?.compactMap { $0.stringValue.map(QMPCapability.init) } ?? []
        let versionInfo = body["version"]
        package = versionInfo?["package"]?.stringValue ?? ""
        switch versionInfo?["qemu"] {
        case .string(let text)?:
            version = QEMUVersion(text)
        case .object(let triple)?:
            if let major = triple["major"]?.int64Value, let minor = triple["minor"]?.int64Value,
                let micro = triple["micro"]?.int64Value
            {
                version = QEMUVersion(major: Int(major), minor: Int(minor), micro: Int(micro))
            } else {
                version = nil
            }
        default:
            version = nil
        }
    }

    /// Whether the server offers out-of-band execution.
    public var offersOOB: Bool { capabilities.contains(.oob) }
}

/// A command as a client sends it: `{"execute"|"exec-oob": name, "arguments": {…}, "id": …}`.
public struct QMPCommandMessage: Sendable, Hashable {
    /// The command's name, e.g. `query-status`.
    public var name: String
    /// The arguments object; `nil` sends the command without an `arguments` member.
    public var arguments: JSONObject?
    /// Any JSON value; QEMU echoes it in the reply (re-serialised, so compare ids as values).
    public var id: JSONValue?
    /// Sent as `exec-oob`: executed out of band, possibly overtaking in-band commands.
    public var outOfBand: Bool

    /// A command as it goes on the wire.
    public init(name: String, arguments: JSONObject? = nil, id: JSONValue? = nil, outOfBand: Bool = false) {
        self.name = name
        self.arguments = arguments
        self.id = id
        self.outOfBand = outOfBand
    }

    /// The message as JSON: `execute` or `exec-oob`, then `arguments` and `id` when present.
    public var json: JSONValue {
        var object = JSONObject()
        object[outOfBand ? "exec-oob" : "execute"] = .string(name)
        if let arguments {
            object["arguments"] = .object(arguments)
        }
        if let id {
            object["id"] = id
        }
        return .object(object)
    }
}

/// An error reply's body: `{"class": …, "desc": …}`, plus `data` in QEMU before 1.2.
///
/// It is an `Error` so that a command handler on the server side can throw it as it is.
public struct QMPErrorBody: Error, Sendable, Hashable {
    /// `GenericError`, `CommandNotFound`, … — kept as a string, since newer or older QEMUs have
    /// classes this library does not know.
    public var errorClass: String
    public var description: String
    /// The pre-1.2 "rich error" payload, e.g. `{"device": "ide0-hd0"}` for `DeviceEncrypted`.
    public var data: JSONValue?

    /// An error body with QEMU's class and description.
    public init(errorClass: String, description: String, data: JSONValue? = nil) {
        self.errorClass = errorClass
        self.description = description
        self.data = data
    }

    /// The `error` member's value: `class`, `desc`, and `data` when present.
    public var json: JSONValue {
        var object: JSONObject = ["class": .string(errorClass), "desc": .string(description)]
        if let data {
            object["data"] = data
        }
        return .object(object)
    }
}

/// `{"event": NAME, "data": {…}, "timestamp": {"seconds": s, "microseconds": µs}}`.
public struct QMPEvent: Sendable, Hashable {
    /// When the server says an event happened, in seconds and microseconds of the host's clock.
    public struct Timestamp: Sendable, Hashable {
        /// Seconds since the Unix epoch; -1 when QEMU could not read the host clock.
        public var seconds: Int64
        /// Microseconds within ``seconds``.
        public var microseconds: Int64

        /// A timestamp of the given seconds and microseconds.
        public init(seconds: Int64, microseconds: Int64) {
            self.seconds = seconds
            self.microseconds = microseconds
        }

        /// Seconds since the epoch as a `Double`, or `nil` for QEMU's "-1: clock unavailable".
        public var secondsSinceEpoch: Double? {
            seconds < 0 ? nil : Double(seconds) + Double(microseconds) / 1_000_000
        }
    }

    /// The event's name, e.g. `SHUTDOWN`.
    public var name: String
    /// The event's payload; `nil` for events without one (`STOP`, `RESUME`, `POWERDOWN`, …).
    public var data: JSONObject?
    /// When the server says the event happened.
    public var timestamp: Timestamp

    /// An event as a server sends it.
    public init(name: String, data: JSONObject? = nil, timestamp: Timestamp) {
        self.name = name
        self.data = data
        self.timestamp = timestamp
    }

    /// The event as JSON, as a server sends it.
    public var json: JSONValue {
        var object: JSONObject = [
            "timestamp": ["seconds": .int(timestamp.seconds), "microseconds": .int(timestamp.microseconds)],
            "event": .string(name),
        ]
        if let data {
            object["data"] = .object(data)
        }
        return .object(object)
    }
}

/// Everything a QMP server sends.
public enum QMPServerMessage: Sendable, Hashable {
    case greeting(QMPGreeting)
    case `return`(JSONValue, id: JSONValue?)
    case error(QMPErrorBody, id: JSONValue?)
    case event(QMPEvent)

    /// Classifies a value read from a server. The error says what was expected instead.
    public init(_ value: JSONValue) throws(QMPMessageError) {
        guard case .object(let object) = value else {
            throw QMPMessageError("expected a JSON object from the server, got \(value.kindName)", value: value)
        }
        if let result = object["return"] {
            self = .return(result, id: object["id"])
        } else if let error = object["error"] {
            guard case .object(let body) = error, case .string(let errorClass)? = body["class"] else {
                let found: String
                switch error {
                case .object(let body):
                    found = body["class"].map { "'class' is \($0.kindName)" } ?? "'class' is missing"
                default: found = "got \(error.kindName)"
                }
                throw QMPMessageError("expected an error object with a string member 'class', \(found)", value: value)
            }
            let description = body["desc"]?.stringValue ?? ""
            self = .error(
                QMPErrorBody(errorClass: errorClass, description: description, data: body["data"]),
                id: object["id"]
            )
        } else if let event = object["event"] {
            guard case .string(let name) = event else {
                throw QMPMessageError("expected member 'event' to be a string, got \(event.kindName)", value: value)
            }
            var timestamp = QMPEvent.Timestamp(seconds: -1, microseconds: -1)
            if case .object(let stamp)? = object["timestamp"] {
                timestamp.seconds = stamp["seconds"]?.int64Value ?? -1
                timestamp.microseconds = stamp["microseconds"]?.int64Value ?? -1
            }
            let data: JSONObject?
            switch object["data"] {
            case nil, .null?: data = nil
            case .object(let payload)?: data = payload
            case let other?: data = ["value": other]  // not seen from QEMU; kept rather than dropped
            }
            self = .event(QMPEvent(name: name, data: data, timestamp: timestamp))
        } else if let greeting = QMPGreeting(value) {
            self = .greeting(greeting)
        } else {
            let found =
                object.isEmpty
                ? "an empty object" : "an object with members " + object.keys.map { "'\($0)'" }.joined(separator: ", ")
            throw QMPMessageError(
                "expected a QMP message (an object with 'return', 'error', 'event' or 'QMP'), got \(found)",
                value: value
            )
        }
    }

    /// The message as JSON, as a server sends it.
    public var json: JSONValue {
        switch self {
        case .greeting(let greeting):
            return greeting.raw
        case .return(let result, let id):
            // Built at its final size: every reply a server sends comes through here.
            if let id {
                return .object(JSONObject(uncheckedUniqueMembers: [("return", result), ("id", id)]))
            }
            return .object(JSONObject(uncheckedUniqueMembers: [("return", result)]))
        case .error(let body, let id):
            var object: JSONObject = [:]
            if let id { object["id"] = id }
            object["error"] = body.json
            return .object(object)
        case .event(let event):
            return event.json
        }
    }
}

/// A value that does not have the shape of the QMP message expected.
public struct QMPMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    /// The value that had the wrong shape.
    public var value: JSONValue

    /// An error that describes what was expected of `value`.
    public init(_ description: String, value: JSONValue) {
        self.description = description
        self.value = value
    }
}
