import QMPCore
import Testing

// In-memory transcripts played through `QMPClientStateMachine`. The server's side of each
// transcript is what QEMU 7.2 sends (or, where noted, older QEMUs); nothing here does I/O.

private typealias Machine = QMPClientStateMachine
private typealias RequestID = QMPClientStateMachine.RequestID

// MARK: - What QEMU says

/// QEMU 7.2's greeting on a monitor with an I/O thread, as Debian 12 builds it.
private let qemu72Greeting: JSONValue = [
    "QMP": [
        "version": ["qemu": ["micro": 22, "minor": 2, "major": 7], "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"],
        "capabilities": ["oob"],
    ]
]

/// The same QEMU on a monitor without an I/O thread (or QEMU before 2.12): no OOB on offer.
private let greetingWithoutOOB: JSONValue = [
    "QMP": [
        "version": ["qemu": ["micro": 22, "minor": 2, "major": 7], "package": ""],
        "capabilities": [],
    ]
]

/// QEMU 0.12's greeting: the version is a string.
private let qemu012Greeting: JSONValue = [
    "QMP": ["version": ["qemu": "0.12.50", "package": ""], "capabilities": []]
]

private let stopEvent: JSONValue = ["event": "STOP", "timestamp": ["seconds": 1_767_225_600, "microseconds": 250_000]]

/// What QEMU answers a byte its JSON lexer cannot read (a resync byte, or a mangled command).
private let parseError: JSONValue = ["error": ["class": "GenericError", "desc": "JSON parse error, stray '\u{FFFD}'"]]

private func reply(_ result: JSONValue = [:], id: RequestID) -> JSONValue {
    ["return": result, "id": id.json]
}

private func errorReply(_ errorClass: String, _ desc: String, id: RequestID) -> JSONValue {
    ["error": ["class": .string(errorClass), "desc": .string(desc)], "id": id.json]
}

/// A reader error as the connection gets it for bytes that are not JSON.
private func malformedInput() throws -> JSONReaderError {
    var reader = JSONReader(configuration: .client)
    reader.feed([0xFF, 0x0A])
    do {
        _ = try reader.next()
    } catch {
        return error
    }
    Issue.record("the reader accepted a lone 0xFF byte")
    throw CancellationError()
}

// MARK: - Reading actions

extension QMPClientStateMachine.Action {
    fileprivate var sent: JSONValue? {
        if case .send(let value) = self { return value }
        return nil
    }

    fileprivate var negotiated: (greeting: QMPGreeting, oobEnabled: Bool)? {
        if case .negotiated(let greeting, let oob) = self { return (greeting, oob) }
        return nil
    }

    fileprivate var event: QMPEvent? {
        if case .deliverEvent(let event) = self { return event }
        return nil
    }

    fileprivate var success: (id: RequestID, result: JSONValue)? {
        if case .succeed(let id, let result) = self { return (id, result) }
        return nil
    }

    fileprivate var failure: (id: RequestID, error: QMPError)? {
        if case .fail(let id, let error) = self { return (id, error) }
        return nil
    }

    fileprivate var closing: (error: QMPError, failing: [RequestID])? {
        if case .closeConnection(let error, let failing) = self { return (error, failing) }
        return nil
    }

    fileprivate var isIgnored: Bool {
        if case .ignored = self { return true }
        return false
    }

    fileprivate var isNone: Bool {
        if case .none = self { return true }
        return false
    }
}

extension QMPClientStateMachine.ExecuteAction {
    fileprivate var sent: (id: RequestID, message: JSONValue)? {
        if case .send(let id, let message) = self { return (id, message) }
        return nil
    }

    fileprivate var failure: QMPError? {
        if case .fail(let error) = self { return error }
        return nil
    }
}

// MARK: - A client session

/// A client machine plus the moves of a transcript. Unless a test says otherwise, every command
/// carries its id (the default); `inBandIDs: .whenNeeded`, where in-band commands to a recent
/// QEMU go without one, has a suite of its own.
private struct Session {
    var machine: Machine

    init(_ configuration: Machine.Configuration = .init(inBandIDs: .always)) {
        machine = Machine(configuration: configuration)
    }

    /// The server sends `value`.
    mutating func receive(_ value: JSONValue) -> Machine.Action {
        machine.received(value)
    }

    /// Greeting, `qmp_capabilities`, `{"return": {}}`: the session ends up in command mode.
    mutating func negotiate(greeting: JSONValue = qemu72Greeting) throws {
        let capabilities = try #require(receive(greeting).sent)
        #expect(capabilities["execute"] == "qmp_capabilities")
        let done = try #require(receive(["return": [:], "id": capabilities["id"] ?? .null]).negotiated)
        #expect(done.greeting.raw == greeting)
        #expect(machine.isReady)
    }

    /// The user asks for `name`; the machine must send it. Returns its id.
    mutating func execute(_ name: String, arguments: JSONObject? = nil, outOfBand: Bool = false) throws -> RequestID {
        let (id, message) = try #require(machine.execute(name, arguments: arguments, outOfBand: outOfBand).sent)
        #expect(message[outOfBand ? "exec-oob" : "execute"] == .string(name))
        #expect(message["id"] == (machine.sendsID(outOfBand: outOfBand) ? id.json as JSONValue? : nil))
        return id
    }
}

// MARK: - Awaiting the greeting

@Suite("Client machine: awaiting the greeting")
struct ClientAwaitingGreetingTests {
    @Test("a new machine waits for the greeting and is not ready for commands")
    func initialState() {
        let machine = Machine()
        #expect(machine.state == .awaitingGreeting)
        #expect(!machine.isReady)
        #expect(!machine.oobEnabled)
        #expect(machine.greeting == nil)
        #expect(machine.pendingCount == 0)
    }

    @Test("events that arrive before the greeting are delivered, and the greeting is still awaited")
    func eventsBeforeGreeting() {
        var session = Session()
        let event = session.receive(stopEvent).event
        #expect(event?.name == "STOP")
        #expect(event?.timestamp == QMPEvent.Timestamp(seconds: 1_767_225_600, microseconds: 250_000))
        #expect(
            session.receive(["event": "RESUME", "timestamp": ["seconds": 1, "microseconds": 2]]).event?.name == "RESUME"
        )
        #expect(session.machine.state == .awaitingGreeting)
        #expect(session.receive(qemu72Greeting).sent?["execute"] == "qmp_capabilities")
    }

    @Test(
        "a reply before the greeting closes the connection with a protocol violation that says a greeting was expected"
    )
    func replyBeforeGreeting() throws {
        var session = Session()
        let (error, failing) = try #require(session.receive(["return": [:], "id": 1]).closing)
        #expect(error.code == .protocolViolation)
        #expect(error.message.contains("expected a QMP greeting"))
        #expect(failing.isEmpty)
        #expect(session.machine.state == .closed)
    }

    @Test("an error reply before the greeting is a protocol violation too")
    func errorBeforeGreeting() throws {
        var session = Session()
        let (error, _) = try #require(session.receive(parseError).closing)
        #expect(error.code == .protocolViolation)
        #expect(error.message.contains("expected a QMP greeting"))
    }

    @Test(
        "a first message that is not QMP at all closes with a protocol violation that says a greeting was expected",
        arguments: [["hello"], "SSH-2.0-OpenSSH_9.2", ["jsonrpc": "2.0", "id": 1]] as [JSONValue]
    )
    func foreignFirstMessage(message: JSONValue) throws {
        var session = Session()
        let (error, _) = try #require(session.receive(message).closing)
        #expect(error.code == .protocolViolation)
        #expect(error.message.contains("expected a QMP greeting"))
        #expect(session.machine.state == .closed)
    }

    @Test("malformed input before the greeting closes with a protocol violation that says a greeting was expected")
    func malformedBeforeGreeting() throws {
        var session = Session()
        let (error, failing) = try #require(session.machine.receivedMalformedInput(try malformedInput()).closing)
        #expect(error.code == .protocolViolation)
        #expect(error.message.contains("expected a QMP greeting"))
        #expect(failing.isEmpty)
        #expect(session.machine.state == .closed)
    }

    @Test("commands asked for before the greeting fail locally, and nothing is sent")
    func commandBeforeGreeting() throws {
        var machine = Machine()
        let error = try #require(machine.execute("query-status").failure)
        #expect(error.code == .unsupported)
        #expect(error.command == "query-status")
        #expect(machine.pendingCount == 0)
    }
}

// MARK: - Negotiation

@Suite("Client machine: capabilities negotiation")
struct ClientNegotiationTests {
    @Test(
        "a greeting that offers OOB is answered with qmp_capabilities enabling oob, and the return enters command mode with OOB"
    )
    func negotiationWithOOB() throws {
        var session = Session()
        let sent = try #require(session.receive(qemu72Greeting).sent)
        #expect(sent["execute"] == "qmp_capabilities")
        #expect(sent["arguments"] == ["enable": ["oob"]])
        let greeting = try #require(QMPGreeting(qemu72Greeting))
        #expect(session.machine.state == .negotiating(greeting))
        #expect(session.machine.greeting == greeting)
        #expect(!session.machine.isReady)

        let (negotiated, oob) = try #require(session.receive(["return": [:], "id": sent["id"] ?? .null]).negotiated)
        #expect(negotiated == greeting)
        #expect(negotiated.version == QEMUVersion(major: 7, minor: 2, micro: 22))
        #expect(oob)
        #expect(session.machine.state == .commandMode(greeting, oobEnabled: true))
        #expect(session.machine.isReady)
        #expect(session.machine.oobEnabled)
    }

    @Test(
        "a greeting with no capabilities is answered without 'enable' (QEMU before 2.12 rejects it), and OOB stays off"
    )
    func negotiationWithoutOOB() throws {
        var session = Session()
        let sent = try #require(session.receive(greetingWithoutOOB).sent)
        #expect(sent["execute"] == "qmp_capabilities")
        #expect(sent["arguments"]?["enable"] == nil)
        let (_, oob) = try #require(session.receive(["return": [:]]).negotiated)
        #expect(!oob)
        #expect(session.machine.isReady)
        #expect(!session.machine.oobEnabled)
    }

    @Test("a client configured without OOB does not enable it even when offered")
    func oobDeclined() throws {
        var session = Session(.init(enableOOB: false, inBandIDs: .always))
        let sent = try #require(session.receive(qemu72Greeting).sent)
        #expect(sent["arguments"]?["enable"] == nil)
        let (_, oob) = try #require(session.receive(["return": [:]]).negotiated)
        #expect(!oob)
        #expect(!session.machine.oobEnabled)
    }

    @Test("a QEMU 0.12 greeting, whose version is a string, is negotiated without 'enable'")
    func qemu012() throws {
        var session = Session()
        let sent = try #require(session.receive(qemu012Greeting).sent)
        #expect(sent["arguments"]?["enable"] == nil)
        let (greeting, oob) = try #require(session.receive(["return": [:]]).negotiated)
        #expect(greeting.version == QEMUVersion(major: 0, minor: 12, micro: 50))
        #expect(greeting.capabilities.isEmpty)
        #expect(!oob)
    }

    @Test(
        "an error reply to qmp_capabilities closes the connection with negotiationFailed, carrying QEMU's class and desc"
    )
    func negotiationFailure() throws {
        var session = Session()
        let sent = try #require(session.receive(qemu72Greeting).sent)
        let refusal: JSONValue = [
            "error": ["class": "GenericError", "desc": "Parameter 'enable' is unexpected"],
            "id": sent["id"] ?? .null,
        ]
        let (error, failing) = try #require(session.receive(refusal).closing)
        #expect(error.code == .negotiationFailed)
        #expect(error.errorClass == "GenericError")
        #expect(error.message == "Parameter 'enable' is unexpected")
        #expect(error.command == "qmp_capabilities")
        #expect(failing.isEmpty)
        #expect(session.machine.state == .closed)
    }

    @Test("a pre-1.2 refusal keeps its 'data' member")
    func negotiationFailureWithData() throws {
        var session = Session()
        _ = try #require(session.receive(qemu012Greeting).sent)
        let refusal: JSONValue = ["error": ["class": "QMPBadInput", "desc": "bad", "data": ["member": "x"]], "id": 0]
        let (error, _) = try #require(session.receive(refusal).closing)
        #expect(error.code == .negotiationFailed)
        #expect(error.data == ["member": "x"])
    }

    @Test(
        "an id-less error during negotiation, with no resync outstanding, means qmp_capabilities was not read: negotiation fails"
    )
    func idlessErrorDuringNegotiation() throws {
        var session = Session()
        _ = try #require(session.receive(qemu72Greeting).sent)
        let (error, _) = try #require(session.receive(parseError).closing)
        #expect(error.code == .negotiationFailed)
        #expect(error.errorClass == "GenericError")
    }

    @Test(
        "a resync byte sent while negotiating is answered after qmp_capabilities, and its parse error is swallowed in command mode"
    )
    func resyncAfterCapabilities() throws {
        var session = Session()
        let sent = try #require(session.receive(qemu72Greeting).sent)
        session.machine.resynchronizing()
        #expect(session.receive(["return": [:], "id": sent["id"] ?? .null]).negotiated != nil)
        let command = try session.execute("query-status")
        #expect(session.receive(parseError).isIgnored)
        #expect(session.receive(reply(id: command)).success?.id == command)
    }

    @Test("events during negotiation are delivered and do not end it")
    func eventDuringNegotiation() throws {
        var session = Session()
        _ = try #require(session.receive(qemu72Greeting).sent)
        #expect(session.receive(stopEvent).event?.name == "STOP")
        #expect(session.receive(["return": [:], "id": 0]).negotiated != nil)
    }

    @Test("commands asked for during negotiation fail locally (QEMU would answer CommandNotFound)")
    func commandDuringNegotiation() throws {
        var session = Session()
        _ = try #require(session.receive(qemu72Greeting).sent)
        let error = try #require(session.machine.execute("query-status").failure)
        #expect(error.code == .unsupported)
        #expect(error.command == "query-status")
        #expect(session.machine.pendingCount == 0)
    }

    @Test(
        "the parse error answering a resync byte sent before negotiation finished is swallowed, not taken as a refusal"
    )
    func resyncDuringNegotiation() throws {
        var session = Session()
        // The client resynchronises as soon as it connects, before the greeting is read.
        session.machine.resynchronizing()
        let sent = try #require(session.receive(qemu72Greeting).sent)
        // QEMU read the resync byte before qmp_capabilities, so it answers in that order.
        #expect(session.receive(parseError).isIgnored)
        #expect(session.machine.state != .closed)
        #expect(session.receive(["return": [:], "id": sent["id"] ?? .null]).negotiated?.oobEnabled == true)
    }

    @Test("with negotiation skipped, the greeting enters command mode at once without sending anything")
    func skipNegotiation() throws {
        var session = Session(.init(skipNegotiation: true))
        let (_, oob) = try #require(session.receive(qemu72Greeting).negotiated)
        #expect(!oob)
        #expect(session.machine.isReady)
        _ = try session.execute("guest-ping")
    }
}

// MARK: - Command mode

@Suite("Client machine: commands and replies")
struct ClientCommandModeTests {
    @Test("a command is sent with a fresh integer id and its reply succeeds it")
    func simpleCommand() throws {
        var session = Session()
        try session.negotiate()
        let (id, message) = try #require(session.machine.execute("query-status").sent)
        #expect(message == ["execute": "query-status", "id": id.json])
        #expect(session.machine.pendingCount == 1)

        let status: JSONValue = ["status": "running", "singlestep": false, "running": true]
        let (answered, result) = try #require(session.receive(reply(status, id: id)).success)
        #expect(answered == id)
        #expect(result == status)
        #expect(session.machine.pendingCount == 0)
    }

    @Test("ids are reused once answered, so a caller that waits for each reply sends the same short id every time")
    func idsAreReused() throws {
        // QEMU reads a command one byte per turn of its main loop: a long id costs it time.
        var session = Session()
        try session.negotiate()
        let first = try session.execute("query-status")
        #expect(session.receive(reply(id: first)).success?.id == first)
        for _ in 0..<100 {
            let (id, message) = try #require(session.machine.execute("query-status").sent)
            #expect(id == first)
            #expect(message.serialized(style: .compact) == #"{"execute":"query-status","id":1}"#)
            #expect(session.receive(reply(id: id)).success?.id == id)
        }
        // Commands in flight together still get distinct ids, and an error reply frees its id too.
        let a = try session.execute("a")
        let b = try session.execute("b")
        #expect(a != b)
        #expect(session.receive(errorReply("GenericError", "no", id: a)).failure?.id == a)
        #expect(try session.execute("c") == a)
    }

    @Test("arguments are sent as given")
    func arguments() throws {
        var session = Session()
        try session.negotiate()
        let (_, message) = try #require(
            session.machine.execute("human-monitor-command", arguments: ["command-line": "info version"]).sent
        )
        #expect(message["arguments"] == ["command-line": "info version"])
    }

    @Test("many pipelined commands answered out of order are each matched by id")
    func pipelined() throws {
        var session = Session()
        try session.negotiate()
        var ids: [RequestID] = []
        for index in 0..<50 {
            ids.append(try session.execute("query-\(index)"))
        }
        #expect(Set(ids).count == 50)
        #expect(session.machine.pendingCount == 50)

        // Odd ones first, then the even ones backwards.
        let order =
            ids.enumerated().filter { $0.offset % 2 == 1 } + ids.enumerated().filter { $0.offset % 2 == 0 }.reversed()
        for (index, id) in order {
            let (answered, result) = try #require(session.receive(reply(["n": .int(Int64(index))], id: id)).success)
            #expect(answered == id)
            #expect(result == ["n": .int(Int64(index))])
        }
        #expect(session.machine.pendingCount == 0)
    }

    @Test("an event caused by a command can arrive before the command's reply (stop → STOP → return)")
    func eventBeforeReply() throws {
        var session = Session()
        try session.negotiate()
        let stop = try session.execute("stop")
        #expect(session.receive(stopEvent).event?.name == "STOP")
        #expect(session.machine.pendingCount == 1)
        #expect(session.receive(reply(id: stop)).success?.id == stop)
    }

    @Test("an error reply fails its command with commandFailed, QEMU's class and desc, the command's name and id")
    func errorReplyFails() throws {
        var session = Session()
        try session.negotiate()
        let id = try session.execute("device_del", arguments: ["id": "nic9"])
        let (failed, error) = try #require(
            session.receive(errorReply("GenericError", "Device 'nic9' not found", id: id)).failure
        )
        #expect(failed == id)
        #expect(error.code == .commandFailed)
        #expect(error.errorClass == "GenericError")
        #expect(error.message == "Device 'nic9' not found")
        #expect(error.command == "device_del")
        #expect(error.id == id.json)
        #expect(error.data == nil)
        #expect(session.machine.pendingCount == 0)
    }

    @Test(
        "error classes are kept as strings, including classes this library does not know",
        arguments: [
            QMPError.ErrorClass.commandNotFound, QMPError.ErrorClass.deviceNotFound,
            QMPError.ErrorClass.deviceNotActive,
            QMPError.ErrorClass.kvmMissingCap, "SomeFutureClass",
        ]
    )
    func errorClasses(errorClass: String) throws {
        var session = Session()
        try session.negotiate()
        let id = try session.execute("x")
        let (_, error) = try #require(session.receive(errorReply(errorClass, "desc", id: id)).failure)
        #expect(error.errorClass == errorClass)
        #expect(error.code == .commandFailed)
    }

    @Test("a pre-1.2 error reply keeps its 'data' member")
    func richError() throws {
        var session = Session()
        try session.negotiate(greeting: qemu012Greeting)
        let id = try session.execute("eject", arguments: ["device": "ide1-cd0"])
        let old: JSONValue = [
            "error": ["class": "DeviceLocked", "desc": "Device 'ide1-cd0' is locked", "data": ["device": "ide1-cd0"]],
            "id": id.json,
        ]
        let (_, error) = try #require(session.receive(old).failure)
        #expect(error.errorClass == "DeviceLocked")
        #expect(error.message == "Device 'ide1-cd0' is locked")
        #expect(error.data == ["device": "ide1-cd0"])
        #expect(error.command == "eject")
    }

    @Test("replies with an id the client did not send, or no id, are ignored and leave pending commands alone")
    func unknownIDs() throws {
        var session = Session()
        try session.negotiate()
        let id = try session.execute("query-status")
        #expect(session.receive(["return": [:], "id": 999]).isIgnored)
        #expect(session.receive(["return": [:], "id": "someone else's"]).isIgnored)
        #expect(session.receive(["return": [:]]).isIgnored)
        #expect(session.receive(["error": ["class": "GenericError", "desc": "x"], "id": 999]).isIgnored)
        #expect(session.machine.pendingCount == 1)
        #expect(session.receive(reply(id: id)).success?.id == id)
    }

    @Test("a second reply for the same id is ignored")
    func duplicateReply() throws {
        var session = Session()
        try session.negotiate()
        let id = try session.execute("query-status")
        #expect(session.receive(reply(id: id)).success != nil)
        #expect(session.receive(reply(id: id)).isIgnored)
    }

    @Test("an id that comes back as a float with an integral value still matches")
    func floatID() throws {
        var session = Session()
        try session.negotiate()
        let id = try session.execute("query-status")
        #expect(session.receive(["return": [:], "id": .double(Double(id.rawValue))]).success?.id == id)
    }

    @Test("a second greeting in command mode is a protocol violation that fails pending commands")
    func secondGreeting() throws {
        var session = Session()
        try session.negotiate()
        let id = try session.execute("query-status")
        let (error, failing) = try #require(session.receive(qemu72Greeting).closing)
        #expect(error.code == .protocolViolation)
        #expect(error.message.contains("greeting"))
        #expect(failing == [id])
        #expect(session.machine.state == .closed)
    }

    @Test("a second greeting during negotiation is a protocol violation")
    func secondGreetingDuringNegotiation() throws {
        var session = Session()
        _ = try #require(session.receive(qemu72Greeting).sent)
        let (error, _) = try #require(session.receive(qemu72Greeting).closing)
        #expect(error.code == .protocolViolation)
    }

    @Test("a message that is not QMP in command mode closes with a protocol violation that fails pending commands")
    func foreignMessageInCommandMode() throws {
        var session = Session()
        try session.negotiate()
        let id = try session.execute("query-status")
        let (error, failing) = try #require(session.receive(["surprise": true]).closing)
        #expect(error.code == .protocolViolation)
        #expect(failing == [id])
    }

    @Test("malformed input in command mode closes with a protocol violation that fails pending commands")
    func malformedInCommandMode() throws {
        var session = Session()
        try session.negotiate()
        let id = try session.execute("query-status")
        let (error, failing) = try #require(session.machine.receivedMalformedInput(try malformedInput()).closing)
        #expect(error.code == .protocolViolation)
        #expect(failing == [id])
    }
}

// MARK: - Out of band

@Suite("Client machine: out-of-band commands")
struct ClientOutOfBandTests {
    @Test("exec-oob fails locally, sending nothing, when the server did not offer OOB")
    func oobNotOffered() throws {
        var session = Session()
        try session.negotiate(greeting: greetingWithoutOOB)
        let error = try #require(session.machine.execute("migrate-pause", outOfBand: true).failure)
        #expect(error.code == .unsupported)
        #expect(error.command == "migrate-pause")
        #expect(error.message.contains("oob"))
        #expect(session.machine.pendingCount == 0)
    }

    @Test("exec-oob fails locally when the client chose not to enable OOB")
    func oobNotEnabled() throws {
        var session = Session(.init(enableOOB: false, inBandIDs: .always))
        try session.negotiate()
        #expect(session.machine.execute("migrate-pause", outOfBand: true).failure?.code == .unsupported)
    }

    @Test("with OOB enabled, exec-oob is sent and its reply may overtake earlier in-band replies")
    func oobOvertakes() throws {
        var session = Session()
        try session.negotiate()
        let slow = try session.execute("query-status")
        let (yank, message) = try #require(session.machine.execute("query-yank", outOfBand: true).sent)
        #expect(message == ["exec-oob": "query-yank", "id": yank.json])
        #expect(session.receive(reply([], id: yank)).success?.id == yank)
        #expect(session.receive(reply(id: slow)).success?.id == slow)
        #expect(session.machine.pendingCount == 0)
    }
}

// MARK: - Id-less errors

@Suite("Client machine: id-less errors (the server's parse errors)")
struct ClientIdlessErrorTests {
    @Test("the id-less error answering a resync byte is swallowed, and commands around it are unaffected")
    func resyncSwallowed() throws {
        var session = Session()
        try session.negotiate()
        let before = try session.execute("query-status")
        session.machine.resynchronizing()
        let after = try session.execute("query-name")

        #expect(session.receive(reply(id: before)).success?.id == before)
        #expect(session.receive(parseError).isIgnored)
        #expect(session.machine.pendingCount == 1)
        #expect(session.receive(reply(id: after)).success?.id == after)
    }

    @Test("an id-less error answers the resync byte, not a command sent after it")
    func resyncBeforeCommand() throws {
        var session = Session()
        try session.negotiate()
        session.machine.resynchronizing()
        let command = try session.execute("query-status")
        #expect(session.receive(parseError).isIgnored)
        #expect(session.machine.pendingCount == 1)
        #expect(session.receive(reply(id: command)).success?.id == command)
    }

    @Test("without a resync, an id-less error fails the oldest in-band command, not an OOB one")
    func failsOldestInBand() throws {
        var session = Session()
        try session.negotiate()
        let yank = try session.execute("query-yank", outOfBand: true)
        let first = try session.execute("query-status")
        let second = try session.execute("query-name")

        let (failed, error) = try #require(session.receive(parseError).failure)
        #expect(failed == first)
        #expect(error.code == .commandFailed)
        #expect(error.errorClass == "GenericError")
        #expect(error.message == "JSON parse error, stray '\u{FFFD}'")
        #expect(error.command == "query-status")
        #expect(error.id == nil)

        #expect(session.machine.pendingCount == 2)
        #expect(session.receive(reply(id: second)).success?.id == second)
        #expect(session.receive(reply(id: yank)).success?.id == yank)
    }

    @Test("the in-band order skips commands already answered")
    func skipsAnswered() throws {
        var session = Session()
        try session.negotiate()
        let first = try session.execute("a")
        let second = try session.execute("b")
        #expect(session.receive(reply(id: first)).success != nil)
        #expect(session.receive(parseError).failure?.id == second)
    }

    @Test("a long session keeps the in-band order straight: after 150 of 200 replies, an id-less error fails the 151st")
    func longQueue() throws {
        var session = Session()
        try session.negotiate()
        var ids: [RequestID] = []
        for index in 0..<200 {
            ids.append(try session.execute("cmd-\(index)"))
            if index % 40 == 0 {
                session.machine.resynchronizing()
            }
        }
        // The resync bytes sent after commands 0, 40, 80 and 120 are answered in their places.
        for (index, id) in ids.prefix(150).enumerated() {
            #expect(session.receive(reply(id: id)).success?.id == id)
            if index % 40 == 0 {
                #expect(session.receive(parseError).isIgnored)
            }
        }
        #expect(session.receive(parseError).failure?.id == ids[150])
        #expect(session.receive(reply(id: ids[151])).success?.id == ids[151])
        #expect(session.receive(parseError).failure?.id == ids[152])
        #expect(session.machine.pendingCount == 47)
    }

    @Test("an id-less error with nothing outstanding is ignored")
    func nothingOutstanding() throws {
        var session = Session()
        try session.negotiate()
        let yank = try session.execute("query-yank", outOfBand: true)
        #expect(session.receive(parseError).isIgnored)
        #expect(session.machine.pendingCount == 1)
        #expect(session.receive(reply(id: yank)).success?.id == yank)
    }
}

// MARK: - Abandoned commands

@Suite("Client machine: abandoned commands")
struct ClientAbandonTests {
    @Test("abandoning returns the command's name once, and the command no longer counts as pending")
    func abandonReturnsName() throws {
        var session = Session()
        try session.negotiate()
        let id = try session.execute("query-status")
        #expect(session.machine.abandon(id) == "query-status")
        #expect(session.machine.abandon(id) == nil)
        #expect(session.machine.abandon(RequestID(12345)) == nil)
        #expect(session.machine.pendingCount == 0)
    }

    @Test("the late reply of an abandoned command is ignored")
    func lateReplyIgnored() throws {
        var session = Session()
        try session.negotiate()
        let id = try session.execute("query-status")
        _ = session.machine.abandon(id)
        #expect(session.receive(reply(id: id)).isIgnored)
        #expect(session.receive(errorReply("GenericError", "late", id: id)).isIgnored)
    }

    @Test(
        "an abandoned command keeps its id until its late reply has come, so that reply is never taken for a newer command's"
    )
    func abandonedKeepsItsID() throws {
        var session = Session()
        try session.negotiate()
        let abandoned = try session.execute("slow")
        _ = session.machine.abandon(abandoned)
        let newer = try session.execute("query-status")
        #expect(newer != abandoned)
        #expect(session.receive(reply(["late": true], id: abandoned)).isIgnored)
        #expect(session.machine.pendingCount == 1)
        #expect(session.receive(reply(id: newer)).success?.id == newer)
        // Now that both replies have come, both ids are free again.
        #expect(Set([try session.execute("x"), try session.execute("y")]) == [abandoned, newer])
    }

    @Test("an abandoned command's late reply does not disturb which command an id-less error fails")
    func abandonedKeepsOrder() throws {
        var session = Session()
        try session.negotiate()
        let abandoned = try session.execute("a")
        let next = try session.execute("b")
        _ = session.machine.abandon(abandoned)
        #expect(session.receive(reply(id: abandoned)).isIgnored)
        #expect(session.receive(parseError).failure?.id == next)
    }

    @Test("an id-less error that belongs to an abandoned command is consumed by it and fails nothing else")
    func idlessForAbandoned() throws {
        var session = Session()
        try session.negotiate()
        let abandoned = try session.execute("a")
        let next = try session.execute("b")
        _ = session.machine.abandon(abandoned)
        #expect(session.receive(parseError).isIgnored)
        #expect(session.machine.pendingCount == 1)
        #expect(session.receive(reply(id: next)).success?.id == next)
    }
}

// MARK: - Ids by default

@Suite("Client machine: by default every command carries its id, and replies are matched by it")
struct ClientDefaultIDTests {
    @Test("by default an in-band command to QEMU 7.2 carries its id")
    func defaultSendsIDs() throws {
        var session = Session(.init())
        try session.negotiate()
        let (id, message) = try #require(session.machine.execute("query-status").sent)
        #expect(message == ["execute": "query-status", "id": id.json])
        #expect(session.machine.sendsID(outOfBand: false))
    }

    @Test("by default a reply that never comes leaves every later reply with its own command")
    func missingReplyShiftsNothing() throws {
        var session = Session(.init())
        try session.negotiate()
        let lost = try session.execute("cont")
        let second = try session.execute("query-status")
        let third = try session.execute("query-name")
        #expect(session.machine.abandon(lost) == "cont")
        // The reply to `cont` never comes; the others come in order, with their ids.
        #expect(session.receive(reply(["status": "running"], id: second)).success?.id == second)
        let last = try #require(session.receive(reply(["name": "vm"], id: third)).success)
        #expect(last.id == third)
        #expect(last.result == ["name": "vm"])
        #expect(session.machine.lateReplyCount == 0)
    }

    @Test("by default the late reply of a timed-out command is dropped, whenever it comes")
    func lateReplyAfterLaterReplies() throws {
        var session = Session(.init())
        try session.negotiate()
        let slow = try session.execute("query-block")
        let next = try session.execute("query-status")
        _ = session.machine.abandon(slow)
        #expect(session.receive(reply(id: next)).success?.id == next)
        #expect(session.receive(reply(id: slow)).isIgnored)
        #expect(session.machine.lateReplyCount == 1)
    }
}

// MARK: - In-band commands without id

/// A greeting as QEMU `version` of that major and minor would send it, OOB on offer.
private func greeting(qemu major: Int, _ minor: Int) -> JSONValue {
    [
        "QMP": [
            "version": [
                "qemu": ["micro": 0, "minor": .int(Int64(minor)), "major": .int(Int64(major))], "package": "",
            ],
            "capabilities": ["oob"],
        ]
    ]
}

private let idlessReply: JSONValue = ["return": [:]]

@Suite("Client machine: in-band commands matched by order (inBandIDs: .whenNeeded)")
struct ClientInBandOrderTests {
    @Test("to QEMU 7.2 an in-band command goes without id, and the reply without id answers it")
    func idlessRoundTrip() throws {
        var session = Session(.init(inBandIDs: .whenNeeded))
        try session.negotiate()
        let (id, message) = try #require(session.machine.execute("query-status").sent)
        #expect(message == ["execute": "query-status"])
        #expect(!session.machine.sendsID(outOfBand: false))
        let status: JSONValue = ["status": "running", "running": true]
        let done = try #require(session.receive(["return": status]).success)
        #expect(done.id == id)
        #expect(done.result == status)
        #expect(session.machine.pendingCount == 0)
    }

    @Test("replies without id complete in-band commands in the order they were sent")
    func inOrder() throws {
        var session = Session(.init(inBandIDs: .whenNeeded))
        try session.negotiate()
        let ids = try (0..<8).map { _ in try session.execute("query-status") }
        for (n, id) in ids.enumerated() {
            #expect(session.receive(["return": ["n": .int(Int64(n))]]).success?.id == id)
        }
        #expect(session.machine.pendingCount == 0)
    }

    @Test("an out-of-band command keeps its id, and its reply may overtake in-band replies without id")
    func oobKeepsID() throws {
        var session = Session(.init(inBandIDs: .whenNeeded))
        try session.negotiate()
        let first = try session.execute("query-status")
        let (yank, message) = try #require(session.machine.execute("query-yank", outOfBand: true).sent)
        #expect(message == ["exec-oob": "query-yank", "id": yank.json])
        let second = try session.execute("query-name")
        #expect(session.receive(reply([], id: yank)).success?.id == yank)
        #expect(session.receive(idlessReply).success?.id == first)
        #expect(session.receive(idlessReply).success?.id == second)
    }

    @Test("an error reply without id fails the oldest in-band command, and names no id")
    func idlessErrorFailsOldest() throws {
        var session = Session(.init(inBandIDs: .whenNeeded))
        try session.negotiate()
        let first = try session.execute("nope")
        let second = try session.execute("query-status")
        let reply: JSONValue = ["error": ["class": "CommandNotFound", "desc": "The command nope has not been found"]]
        let failed = try #require(session.receive(reply).failure)
        #expect(failed.id == first)
        #expect(failed.error.errorClass == "CommandNotFound")
        #expect(failed.error.command == "nope")
        #expect(failed.error.id == nil)
        #expect(session.receive(idlessReply).success?.id == second)
    }

    @Test("the late reply of an abandoned in-band command is dropped, and the next reply goes to the next command")
    func abandonedKeepsItsPlace() throws {
        var session = Session(.init(inBandIDs: .whenNeeded))
        try session.negotiate()
        let abandoned = try session.execute("slow")
        let next = try session.execute("query-status")
        #expect(session.machine.abandon(abandoned) == "slow")
        #expect(session.receive(["return": ["late": true]]).isIgnored)
        #expect(session.machine.pendingCount == 1)
        #expect(session.receive(idlessReply).success?.id == next)
    }

    @Test("a reply with an id never completes a command that was sent without one")
    func idForIdlessCommandIgnored() throws {
        var session = Session(.init(inBandIDs: .whenNeeded))
        try session.negotiate()
        let id = try session.execute("query-status")
        #expect(session.receive(reply(id: id)).isIgnored)
        #expect(session.receive(errorReply("GenericError", "stray", id: id)).isIgnored)
        #expect(session.machine.pendingCount == 1)
        #expect(session.receive(idlessReply).success?.id == id)
    }

    @Test("a reply without id is ignored when nothing sent without id is waiting")
    func strayIdlessReply() throws {
        var session = Session(.init(inBandIDs: .whenNeeded))
        try session.negotiate()
        #expect(session.receive(idlessReply).isIgnored)
        let yank = try session.execute("query-yank", outOfBand: true)
        #expect(session.receive(idlessReply).isIgnored)
        #expect(session.machine.pendingCount == 1)
        #expect(session.receive(reply([], id: yank)).success?.id == yank)
    }

    @Test(
        "with OOB enabled, QEMU before 3.1 gets ids on in-band commands too; 3.1 and later do not",
        arguments: [(2, 12, true), (3, 0, true), (3, 1, false), (9, 2, false)]
    )
    func versionsThatNeedIDs(major: Int, minor: Int, needsIDs: Bool) throws {
        var session = Session(.init(inBandIDs: .whenNeeded))
        try session.negotiate(greeting: greeting(qemu: major, minor))
        #expect(session.machine.oobEnabled)
        #expect(session.machine.sendsID(outOfBand: false) == needsIDs)
        let (id, message) = try #require(session.machine.execute("query-status").sent)
        #expect(message["id"] == (needsIDs ? id.json as JSONValue? : nil))
    }

    @Test("without OOB every QEMU answers strictly in order, so in-band commands go without id")
    func withoutOOB() throws {
        var old = Session(.init(inBandIDs: .whenNeeded))
        try old.negotiate(greeting: qemu012Greeting)
        #expect(!old.machine.sendsID(outOfBand: false))
        var declined = Session(.init(enableOOB: false, inBandIDs: .whenNeeded))
        try declined.negotiate(greeting: greeting(qemu: 2, 12))
        #expect(!declined.machine.sendsID(outOfBand: false))
    }

    @Test("without negotiation (the guest agent) every command carries its id, and a reply without one matches nothing")
    func guestAgentKeepsIDs() throws {
        var session = Session(.init(skipNegotiation: true, inBandIDs: .whenNeeded))
        _ = session.machine.connectionOpened()
        let id = try session.execute("guest-ping")
        #expect(session.machine.sendsID(outOfBand: false))
        #expect(session.receive(idlessReply).isIgnored)
        #expect(session.receive(reply(id: id)).success?.id == id)
    }

    @Test(
        "a command withdrawn because its bytes never left gives up its place, so the next reply goes to the next command"
    )
    func withdrawnCommand() throws {
        var session = Session(.init(inBandIDs: .whenNeeded))
        try session.negotiate()
        let first = try session.execute("query-status")
        let unsent = try session.execute("getfd")
        let third = try session.execute("query-name")
        session.machine.withdraw(unsent)
        #expect(session.machine.pendingCount == 2)
        #expect(session.receive(idlessReply).success?.id == first)
        #expect(session.receive(idlessReply).success?.id == third)
        #expect(session.machine.pendingCount == 0)
    }

    @Test("the parse error answering a resync byte is swallowed between replies without id")
    func resyncBetweenIdlessCommands() throws {
        var session = Session(.init(inBandIDs: .whenNeeded))
        try session.negotiate()
        let before = try session.execute("query-status")
        session.machine.resynchronizing()
        let after = try session.execute("query-name")
        #expect(session.receive(idlessReply).success?.id == before)
        #expect(session.receive(parseError).isIgnored)
        #expect(session.receive(idlessReply).success?.id == after)
    }

    @Test("inBandIDs: .always puts an id on every in-band command to any server")
    func alwaysIDs() throws {
        var session = Session(.init(inBandIDs: .always))
        try session.negotiate()
        let (id, message) = try #require(session.machine.execute("query-status").sent)
        #expect(message == ["execute": "query-status", "id": id.json])
    }
}

// MARK: - Closing

@Suite("Client machine: closing")
struct ClientClosingTests {
    @Test("closing fails every pending command, in-band and OOB, but not abandoned ones")
    func closeFailsPending() throws {
        var session = Session()
        try session.negotiate()
        let first = try session.execute("a")
        let abandoned = try session.execute("b")
        let yank = try session.execute("query-yank", outOfBand: true)
        let last = try session.execute("c")
        _ = session.machine.abandon(abandoned)

        let failing = session.machine.closed(QMPError(code: .connectionClosed, message: "peer closed"))
        #expect(failing == [first, yank, last])
        #expect(session.machine.state == .closed)
        #expect(session.machine.pendingCount == 0)
        #expect(!session.machine.isReady)
        #expect(session.machine.greeting == nil)
        #expect(session.machine.closed(QMPError(code: .connectionClosed, message: "again")).isEmpty)
    }

    @Test("commands asked for after close fail with connectionClosed")
    func executeAfterClose() throws {
        var session = Session()
        try session.negotiate()
        _ = session.machine.closed(QMPError(code: .connectionClosed, message: "bye"))
        let error = try #require(session.machine.execute("query-status").failure)
        #expect(error.code == .connectionClosed)
        #expect(error.command == "query-status")
    }

    @Test(
        "every message after close is ignored, whether a reply, an event, a greeting, or not QMP at all",
        arguments: [
            ["return": [:], "id": 1], stopEvent, qemu72Greeting, parseError, ["not": "qmp"], [1, 2, 3],
        ] as [JSONValue]
    )
    func messageAfterClose(message: JSONValue) throws {
        var session = Session()
        try session.negotiate()
        _ = try session.execute("query-status")
        _ = session.machine.closed(QMPError(code: .connectionClosed, message: "bye"))
        #expect(session.receive(message).isIgnored)
        #expect(session.machine.state == .closed)
    }

    @Test("malformed input after close is ignored")
    func malformedAfterClose() throws {
        var session = Session()
        try session.negotiate()
        _ = session.machine.closed(QMPError(code: .connectionClosed, message: "bye"))
        #expect(session.machine.receivedMalformedInput(try malformedInput()).isIgnored)
    }

    @Test("after a protocol violation the machine is closed and ignores what follows")
    func afterViolation() throws {
        var session = Session()
        #expect(session.receive(["return": [:]]).closing != nil)
        #expect(session.receive(qemu72Greeting).isIgnored)
    }
}
