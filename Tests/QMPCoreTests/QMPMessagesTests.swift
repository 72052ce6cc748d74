import QMPCore
import Testing

// The shapes of QMP messages, as QEMU 7.2 (and, where noted, older QEMUs) send them.

private let debianGreeting: JSONValue = [
    "QMP": [
        "version": ["qemu": ["micro": 22, "minor": 2, "major": 7], "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"],
        "capabilities": ["oob"],
    ]
]

/// Reads `value` as a server message, expecting a shape error; returns it.
private func shapeError(_ value: JSONValue) throws -> QMPMessageError {
    do {
        let message = try QMPServerMessage(value)
        Issue.record("\(value.serialized()) was read as \(message)")
        throw CancellationError()
    } catch let error as QMPMessageError {
        return error
    }
}

@Suite("QMP greeting")
struct QMPGreetingTests {
    @Test("QEMU 7.2's greeting gives the version triple, the package and the capabilities")
    func qemu72() throws {
        let greeting = try #require(QMPGreeting(debianGreeting))
        #expect(greeting.version == QEMUVersion(major: 7, minor: 2, micro: 22))
        #expect(greeting.package == "Debian 1:7.2+dfsg-7+deb12u18+b3")
        #expect(greeting.capabilities == [.oob])
        #expect(greeting.offersOOB)
        #expect(greeting.raw == debianGreeting)
    }

    @Test("QEMU 0.12's greeting, with the version as a string like \"0.12.50\", is understood")
    func qemu012() throws {
        let greeting = try #require(
            QMPGreeting(["QMP": ["version": ["qemu": "0.12.50", "package": ""], "capabilities": []]])
        )
        #expect(greeting.version == QEMUVersion(major: 0, minor: 12, micro: 50))
        #expect(greeting.package == "")
        #expect(greeting.capabilities.isEmpty)
        #expect(!greeting.offersOOB)
    }

    @Test("a greeting without capabilities offers no OOB; unknown capabilities are kept")
    func capabilities() throws {
        #expect(QMPGreeting(["QMP": ["version": ["qemu": ["micro": 0, "minor": 0, "major": 9]]]])?.capabilities == [])
        let greeting = try #require(QMPGreeting(["QMP": ["capabilities": ["oob", "future-thing"]]]))
        #expect(greeting.capabilities == [.oob, QMPCapability(rawValue: "future-thing")])
        #expect(greeting.offersOOB)
    }

    @Test("a greeting whose version cannot be read still is a greeting, with no version")
    func unreadableVersion() throws {
        #expect(try #require(QMPGreeting(["QMP": ["capabilities": []]])).version == nil)
        #expect(
            try #require(QMPGreeting(["QMP": ["version": ["qemu": ["major": 7]], "capabilities": []]])).version == nil
        )
        #expect(
            try #require(QMPGreeting(["QMP": ["version": ["qemu": "unknown"], "capabilities": []]])).version == nil
        )
    }

    @Test("values that are not greetings are not read as greetings")
    func notGreetings() {
        #expect(QMPGreeting(["return": [:]]) == nil)
        #expect(QMPGreeting(["QMP": "hello"]) == nil)
        #expect(QMPGreeting(["QMP"]) == nil)
        #expect(QMPGreeting(.null) == nil)
    }

    @Test("a greeting made from parts reads back as the same greeting")
    func roundTrip() throws {
        let made = QMPGreeting(
            version: QEMUVersion(major: 7, minor: 2, micro: 22),
            package: "Debian 1:7.2+dfsg-7+deb12u18+b3",
            capabilities: [.oob]
        )
        #expect(made.raw == debianGreeting)
        #expect(QMPGreeting(made.raw) == made)
    }
}

@Suite("QMP command message")
struct QMPCommandMessageTests {
    @Test("an in-band command is 'execute' with its arguments and id")
    func execute() {
        let message = QMPCommandMessage(name: "qmp_capabilities", arguments: ["enable": ["oob"]], id: 0)
        #expect(message.json == ["execute": "qmp_capabilities", "arguments": ["enable": ["oob"]], "id": 0])
    }

    @Test("an out-of-band command is 'exec-oob'")
    func execOOB() {
        let message = QMPCommandMessage(name: "migrate-pause", id: 7, outOfBand: true)
        #expect(message.json == ["exec-oob": "migrate-pause", "id": 7])
    }

    @Test("without arguments or id, only the command name is sent")
    func bare() {
        #expect(QMPCommandMessage(name: "query-status").json == ["execute": "query-status"])
        #expect(QMPCommandMessage(name: "stop", arguments: [:]).json == ["execute": "stop", "arguments": [:]])
    }

    @Test(
        "the id may be any JSON value",
        arguments: ["abc", 3.5, ["nested": [1, 2]], [true, nil], nil] as [JSONValue]
    )
    func anyID(id: JSONValue) {
        #expect(QMPCommandMessage(name: "query-name", id: id).json == ["execute": "query-name", "id": id])
    }
}

@Suite("QMP server messages")
struct QMPServerMessageTests {
    @Test("a greeting is read as a greeting")
    func greeting() throws {
        let message = try QMPServerMessage(debianGreeting)
        #expect(message == .greeting(try #require(QMPGreeting(debianGreeting))))
        #expect(message.json == debianGreeting)
    }

    @Test("a success reply gives its value and id, whatever their JSON types")
    func returns() throws {
        #expect(try QMPServerMessage(["return": [:], "id": 1]) == .return([:], id: 1))
        #expect(
            try QMPServerMessage(["return": ["status": "running"], "id": "abc"])
                == .return(["status": "running"], id: "abc")
        )
        #expect(
            try QMPServerMessage(["return": [["name": "stop"]], "id": ["x": 1]])
                == .return([["name": "stop"]], id: ["x": 1])
        )
        #expect(try QMPServerMessage(["return": "text"]) == .return("text", id: nil))
    }

    @Test("an error reply gives the class and desc, and its id")
    func errorReply() throws {
        let value: JSONValue = [
            "error": ["class": "CommandNotFound", "desc": "The command nope has not been found"], "id": 4,
        ]
        let message = try QMPServerMessage(value)
        #expect(
            message
                == .error(
                    QMPErrorBody(errorClass: "CommandNotFound", description: "The command nope has not been found"),
                    id: 4
                )
        )
        #expect(message.json == value)
    }

    @Test("an id-less error (a parse error of the server) has no id")
    func idlessError() throws {
        let value: JSONValue = ["error": ["class": "GenericError", "desc": "JSON parse error, stray '\u{FFFD}'"]]
        guard case .error(let body, let id) = try QMPServerMessage(value) else {
            Issue.record("not an error")
            return
        }
        #expect(id == nil)
        #expect(body.errorClass == "GenericError")
        #expect(body.description == "JSON parse error, stray '\u{FFFD}'")
        #expect(body.data == nil)
    }

    @Test("a pre-1.2 error reply keeps its 'data' member")
    func richError() throws {
        let value: JSONValue = [
            "error": [
                "class": "DeviceEncrypted", "desc": "Device 'ide0-hd0' is encrypted",
                "data": ["device": "ide0-hd0", "filename": "disk.qcow2"],
            ]
        ]
        let message = try QMPServerMessage(value)
        #expect(
            message
                == .error(
                    QMPErrorBody(
                        errorClass: "DeviceEncrypted",
                        description: "Device 'ide0-hd0' is encrypted",
                        data: ["device": "ide0-hd0", "filename": "disk.qcow2"]
                    ),
                    id: nil
                )
        )
        #expect(message.json == value)
    }

    @Test("error classes are kept as strings, including unknown ones")
    func unknownClass() throws {
        guard case .error(let body, _) = try QMPServerMessage(["error": ["class": "BrandNewClass", "desc": "?"]]) else {
            Issue.record("not an error")
            return
        }
        #expect(body.errorClass == "BrandNewClass")
    }

    @Test("an error reply without 'desc' has an empty description")
    func errorWithoutDesc() throws {
        #expect(
            try QMPServerMessage(["error": ["class": "GenericError"]])
                == .error(QMPErrorBody(errorClass: "GenericError", description: ""), id: nil)
        )
    }

    @Test("an event gives its name, data and timestamp")
    func event() throws {
        let value: JSONValue = [
            "timestamp": ["seconds": 1_767_225_600, "microseconds": 123_456],
            "event": "SHUTDOWN",
            "data": ["guest": true, "reason": "guest-shutdown"],
        ]
        let message = try QMPServerMessage(value)
        let expected = QMPEvent(
            name: "SHUTDOWN",
            data: ["guest": true, "reason": "guest-shutdown"],
            timestamp: .init(seconds: 1_767_225_600, microseconds: 123_456)
        )
        #expect(message == .event(expected))
        #expect(message.json == value)
        #expect(expected.timestamp.secondsSinceEpoch == 1_767_225_600.123456)
    }

    @Test("an event without data (STOP, RESUME, …) has nil data; 'data': null is the same")
    func eventWithoutData() throws {
        let stamp: JSONValue = ["seconds": 1, "microseconds": 0]
        guard case .event(let stop) = try QMPServerMessage(["event": "STOP", "timestamp": stamp]) else {
            Issue.record("not an event")
            return
        }
        #expect(stop.name == "STOP")
        #expect(stop.data == nil)
        #expect(stop.json == ["event": "STOP", "timestamp": stamp])
        guard case .event(let resume) = try QMPServerMessage(["event": "RESUME", "data": nil, "timestamp": stamp])
        else {
            Issue.record("not an event")
            return
        }
        #expect(resume.data == nil)
    }

    @Test("an event without a timestamp, or QEMU's -1 for an unreadable clock, has no time")
    func eventWithoutTimestamp() throws {
        guard case .event(let event) = try QMPServerMessage(["event": "POWERDOWN"]) else {
            Issue.record("not an event")
            return
        }
        #expect(event.timestamp == .init(seconds: -1, microseconds: -1))
        #expect(event.timestamp.secondsSinceEpoch == nil)
        #expect(QMPEvent.Timestamp(seconds: -1, microseconds: -1).secondsSinceEpoch == nil)
    }

    @Test("an event whose data is not an object keeps it under 'value'")
    func eventWithScalarData() throws {
        guard case .event(let event) = try QMPServerMessage(["event": "ODD", "data": 5]) else {
            Issue.record("not an event")
            return
        }
        #expect(event.data == ["value": 5])
    }

    @Test(
        "every kind of message reads back from its JSON as the same message",
        arguments: [
            .greeting(QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 22), capabilities: [.oob])),
            .return(["status": "running"], id: 12),
            .return([:], id: nil),
            .error(QMPErrorBody(errorClass: "GenericError", description: "boom"), id: "x"),
            .error(QMPErrorBody(errorClass: "DeviceNotFound", description: "gone", data: ["device": "d"]), id: nil),
            .event(QMPEvent(name: "STOP", timestamp: .init(seconds: 5, microseconds: 6))),
            .event(
                QMPEvent(
                    name: "BLOCK_JOB_READY",
                    data: ["device": "job0"],
                    timestamp: .init(seconds: 5, microseconds: 6)
                )
            ),
        ] as [QMPServerMessage]
    )
    func roundTrip(message: QMPServerMessage) throws {
        #expect(try QMPServerMessage(message.json) == message)
    }
}

@Suite("QMP server messages: shape errors")
struct QMPServerMessageShapeErrorTests {
    @Test(
        "a value that is not an object is refused, saying an object was expected and what came instead",
        arguments: [
            ([1, 2], "array"), ("hello", "string"), (42, "integer"), (nil, "null"), (true, "boolean"),
        ] as [(JSONValue, String)]
    )
    func notAnObject(value: JSONValue, kind: String) throws {
        let error = try shapeError(value)
        #expect(error.description.contains("expected a JSON object"))
        #expect(error.description.contains(kind))
        #expect(error.value == value)
    }

    @Test("an event whose 'event' member is not a string is refused, saying a string was expected")
    func eventNotString() throws {
        let value: JSONValue = ["event": 5, "timestamp": ["seconds": 1, "microseconds": 2]]
        let error = try shapeError(value)
        #expect(error.description.contains("expected member 'event' to be a string"))
        #expect(error.description.contains("got integer"))
        #expect(error.value == value)
    }

    @Test(
        "an error whose body is not an object with a string class is refused, saying what was expected and what came",
        arguments: [
            (["error": "boom"], "got string"), (["error": ["desc": "no class"]], "'class' is missing"),
            (["error": ["class": 3, "desc": "x"]], "'class' is integer"),
        ] as [(JSONValue, String)]
    )
    func malformedError(value: JSONValue, found: String) throws {
        let error = try shapeError(value)
        #expect(error.description.contains("expected an error object with a string member 'class'"))
        #expect(error.description.contains(found))
        #expect(error.value == value)
    }

    @Test("an object with none of the known members is refused, naming the members expected and those found")
    func unknownObject() throws {
        let error = try shapeError(["execute": "query-status", "id": 1])
        #expect(error.description.contains("expected a QMP message"))
        for member in ["'return'", "'error'", "'event'", "'QMP'", "'execute'", "'id'"] {
            #expect(error.description.contains(member))
        }
    }

    @Test("an empty object is refused as not a QMP message")
    func emptyObject() throws {
        let description = try shapeError([:]).description
        #expect(description.contains("expected a QMP message"))
        #expect(description.contains("an empty object"))
    }
}

@Suite("QMP errors")
struct QMPErrorTests {
    @Test("an error reply becomes a commandFailed error with QEMU's class, desc, data, the command and its id")
    func fromReply() {
        let body = QMPErrorBody(
            errorClass: "DeviceNotFound",
            description: "Device 'x' not found",
            data: ["device": "x"]
        )
        let error = QMPError(reply: body, command: "device_del", id: 3)
        #expect(error.code == .commandFailed)
        #expect(error.errorClass == "DeviceNotFound")
        #expect(error.message == "Device 'x' not found")
        #expect(error.data == ["device": "x"])
        #expect(error.command == "device_del")
        #expect(error.id == 3)
        #expect(error.description == "device_del: DeviceNotFound: Device 'x' not found")
    }

    @Test("an error body's JSON has class and desc, and data only when there is some")
    func bodyJSON() {
        #expect(
            QMPErrorBody(errorClass: "GenericError", description: "d").json == ["class": "GenericError", "desc": "d"]
        )
        #expect(
            QMPErrorBody(errorClass: "GenericError", description: "d", data: [:]).json == [
                "class": "GenericError", "desc": "d", "data": [:],
            ]
        )
    }

    @Test("a local error describes itself with its message, and the command when known")
    func localDescription() {
        #expect(
            QMPError(code: .connectionClosed, message: "the connection is closed").description
                == "the connection is closed"
        )
        #expect(
            QMPError(code: .unsupported, message: "no OOB", command: "migrate-pause").description
                == "migrate-pause: no OOB"
        )
        #expect(QMPError.Code.negotiationFailed.description == "negotiation failed")
    }
}
