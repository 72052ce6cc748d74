/// The client side of a QMP connection as a plain value: it takes what was received or asked for
/// and answers with what to do. It never does I/O itself, so every transcript can be played
/// through it in memory.
///
/// States: awaiting greeting → negotiating → command mode → closed.
///
/// - Events are delivered in every state, also before the greeting.
/// - `qmp_capabilities` asks for `oob` only when the greeting offers it (QEMU before 2.12
///   rejects the `enable` argument altogether).
/// - Every command gets an integer id from the machine, and by default every command carries it
///   on the wire (see `Configuration.inBandIDs`), out-of-band and in-band alike; QEMU echoes it
///   in the reply either way. Replies with an id are matched by id, so a reply that comes late
///   or never comes cannot end another command. Replies without one, from a session configured
///   to send in-band commands without ids, are matched by order. A reply to a command that was
///   abandoned (timed out, cancelled) is dropped when it arrives.
/// - An error without id answers a command sent without id, or is a parse error of the
///   server's JSON reader. QEMU queues both in band, in order, so it belongs to the oldest
///   in-band item still outstanding: a resync byte the client sent (the error is swallowed) or
///   a command (that command fails with it).
/// - Closing fails every pending command.
public struct QMPClientStateMachine: Sendable {
    /// A command id allocated by the machine; sent on the wire as a JSON integer.
    public struct RequestID: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// The number sent on the wire.
        public var rawValue: Int64
        /// The id with this number.
        public init(_ rawValue: Int64) { self.rawValue = rawValue }
        public static func < (lhs: RequestID, rhs: RequestID) -> Bool { lhs.rawValue < rhs.rawValue }
        public var description: String { String(rawValue) }
        /// The id as it goes on the wire.
        public var json: JSONValue { .int(rawValue) }
    }

    /// How the machine negotiates and when it sends ids.
    public struct Configuration: Sendable, Hashable {
        /// Enable out-of-band execution when the server offers it.
        public var enableOOB: Bool
        /// Neither wait for a greeting nor send `qmp_capabilities` (for peers without
        /// negotiation, such as the guest agent): ready as soon as the connection opens.
        public var skipNegotiation: Bool
        /// When in-band commands carry an id.
        public var inBandIDs: InBandIDs

        /// A configuration; by default OOB when offered, with negotiation, an id on every command.
        public init(enableOOB: Bool = true, skipNegotiation: Bool = false, inBandIDs: InBandIDs = .always) {
            self.enableOOB = enableOOB
            self.skipNegotiation = skipNegotiation
            self.inBandIDs = inBandIDs
        }
    }

    /// When in-band commands carry an id on the wire. Out-of-band commands always do.
    public enum InBandIDs: Sendable, Hashable {
        /// Only where matching by order is known not to be safe, which spares the server the id
        /// (QEMU reads commands one byte per turn of its main loop):
        /// - a server that did not greet with a QEMU version of 3.1 or later while OOB is
        ///   enabled: QEMU 2.12 insists on ids then, and reports a dropped command by id only;
        /// - a session without negotiation (the guest agent), where a reply left over from an
        ///   earlier client can still be in the channel: one without id would be taken for the
        ///   oldest command's, one with an id at least has a chance not to match.
        ///
        /// Elsewhere replies are matched by order, which holds only while every command gets
        /// exactly one reply: a reply that never comes (a server fault, a proxy that lost it)
        /// makes every later reply end the command before its own. Choose it for a peer that
        /// does not echo ids, or where the server's cost of reading ids matters more.
        case whenNeeded
        /// On every command, the default: each reply is matched by its id, so a reply that comes
        /// after its call timed out is recognised and dropped, and one that never comes leaves
        /// the other calls' replies where they belong. QEMU echoes the id of in-band commands as
        /// it does for out-of-band ones, in every version.
        case always
    }

    /// Where the connection stands.
    public enum State: Sendable, Hashable {
        /// Connected; the server has not greeted yet.
        case awaitingGreeting
        /// Greeted; `qmp_capabilities` is on its way.
        case negotiating(QMPGreeting)
        /// Negotiated; commands may be sent.
        case commandMode(QMPGreeting, oobEnabled: Bool)
        /// Closed; every command failed.
        case closed
    }

    /// What the connection should do after a call into the machine.
    public enum Action: Sendable {
        /// Nothing to do.
        case none
        /// Write this message to the server.
        case send(JSONValue)
        /// Negotiation is complete: commands may be sent from now on.
        case negotiated(QMPGreeting, oobEnabled: Bool)
        /// An asynchronous event to hand to subscribers.
        case deliverEvent(QMPEvent)
        /// The command with this id succeeded.
        case succeed(RequestID, JSONValue)
        /// The command with this id failed.
        case fail(RequestID, QMPError)
        /// The peer broke the protocol: close the connection and fail these commands with the error.
        case closeConnection(QMPError, failing: [RequestID])
        /// Something arrived that matches nothing (a reply to an abandoned command, an unexpected
        /// id); worth a debug log line, nothing else.
        case ignored(String)
    }

    /// What `execute` decided.
    public enum ExecuteAction: Sendable {
        /// Send this message; its reply will carry this id, or come in order.
        case send(RequestID, JSONValue)
        /// Do not send: the command cannot run on this connection.
        case fail(QMPError)
    }

    private struct Pending: Sendable {
        var name: String
        var outOfBand: Bool
        var abandoned: Bool
    }

    private enum InBandItem: Sendable, Hashable {
        case command(RequestID)
        case resync
    }

    /// The configuration the machine was made with.
    public let configuration: Configuration
    /// Where the connection stands now.
    public private(set) var state: State = .awaitingGreeting
    private var pending: [RequestID: Pending] = [:]
    /// In-band commands and resync bytes in the order they were sent: QEMU answers them in that order.
    private var inBandOrder = FIFO<InBandItem>()
    /// Ids are reused: QEMU reads commands one byte per turn of its main loop, so every digit
    /// of an id costs it several microseconds. An id is free again once its reply has come,
    /// also for abandoned commands, whose late replies must not be taken for another's.
    private var nextID: Int64 = 1
    private var freeIDs: [Int64] = []
    private static let negotiationID = RequestID(0)
    /// Decided when negotiation completes; see `InBandIDs`.
    private var inBandCommandsCarryIDs = true
    /// In-band commands sent in command mode whose answer has not come, abandoned ones included.
    public private(set) var owedInBandCount = 0
    /// In-band answers received in command mode so far, to abandoned commands too: the sign
    /// that the server's main loop is turning, which wedge detection watches.
    public private(set) var inBandAnswerCount: UInt64 = 0
    /// Replies that came for commands nobody waited for any more (timed out, cancelled), and
    /// were dropped: each took its own place in the order, never another command's.
    public private(set) var lateReplyCount = 0

    /// A machine for a connection that has just opened.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Commands sent and not yet answered (abandoned ones not counted).
    public var pendingCount: Int { pending.values.count(where: { !$0.abandoned }) }

    /// Whether commands may be sent: negotiation is complete.
    public var isReady: Bool {
        if case .commandMode = state { return true }
        return false
    }

    /// Whether out-of-band execution was negotiated.
    public var oobEnabled: Bool {
        if case .commandMode(_, let oob) = state { return oob }
        return false
    }

    /// The server's greeting, once it has come and until the connection closes.
    public var greeting: QMPGreeting? {
        switch state {
        case .negotiating(let greeting), .commandMode(let greeting, _): greeting
        case .awaitingGreeting, .closed: nil
        }
    }

    // MARK: - Input from the server

    /// The transport is up. Without negotiation the machine is ready at once, with a greeting
    /// that says nothing; otherwise it waits for the server's greeting.
    public mutating func connectionOpened() -> Action {
        guard configuration.skipNegotiation, case .awaitingGreeting = state else { return .none }
        let greeting = QMPGreeting(version: nil)
        state = .commandMode(greeting, oobEnabled: false)
        return .negotiated(greeting, oobEnabled: false)
    }

    /// A complete JSON value arrived from the server.
    public mutating func received(_ value: JSONValue) -> Action {
        if case .closed = state {
            // Whatever it is, even something that is not QMP: the connection is already over.
            return .ignored("message after close: \(Self.summary(of: value))")
        }
        let message: QMPServerMessage
        do {
            message = try QMPServerMessage(value)
        } catch {
            if case .awaitingGreeting = state {
                return violation(
                    "expected a QMP greeting {\"QMP\": …} first, got \(Self.summary(of: value)) (\(error.description))"
                )
            }
            return violation("\(error.description): \(Self.summary(of: value))")
        }
        switch (state, message) {
        case (.closed, _):
            // Handled above; the switch must still cover it.
            return .ignored("message after close")

        case (_, .event(let event)):
            return .deliverEvent(event)

        case (.awaitingGreeting, .greeting(let greeting)):
            if configuration.skipNegotiation {
                state = .commandMode(greeting, oobEnabled: false)
                return .negotiated(greeting, oobEnabled: false)
            }
            state = .negotiating(greeting)
            // qmp_capabilities is in band too: an id-less error for a resync byte sent before it
            // comes first, one for qmp_capabilities itself (unreadable to the server) in its place.
            inBandOrder.append(.command(Self.negotiationID))
            var arguments = JSONObject()
            if configuration.enableOOB && greeting.offersOOB {
                arguments["enable"] = [.string(QMPCapability.oob.rawValue)]
            }
            return .send(
                QMPCommandMessage(name: "qmp_capabilities", arguments: arguments, id: Self.negotiationID.json).json
            )

        case (.awaitingGreeting, _):
            return violation("expected a QMP greeting {\"QMP\": …} first, got \(Self.summary(of: value))")

        case (.negotiating(let greeting), .return):
            inBandOrder.remove(.command(Self.negotiationID))
            let oob = configuration.enableOOB && greeting.offersOOB
            state = .commandMode(greeting, oobEnabled: oob)
            inBandCommandsCarryIDs = Self.inBandCommandsCarryIDs(configuration.inBandIDs, greeting: greeting, oob: oob)
            return .negotiated(greeting, oobEnabled: oob)

        case (.negotiating, .error(let body, let id)):
            if id == nil, inBandOrder.first == .resync {
                _ = inBandOrder.popFirst()
                return .ignored("swallowed the parse error that answers a resync byte: \(body.description)")
            }
            let error = QMPError(
                code: .negotiationFailed,
                errorClass: body.errorClass,
                message: body.description,
                command: "qmp_capabilities",
                data: body.data
            )
            return close(error)

        case (.commandMode, .greeting) where configuration.skipNegotiation:
            // A server that greets after all; its greeting changes nothing.
            return .ignored("a greeting while negotiation is skipped")

        case (_, .greeting):
            return violation("got a second QMP greeting in the middle of the session")

        case (.commandMode, .return(let result, let id)):
            guard let id else {
                return idlessReturn(result)
            }
            guard let requestID = Self.requestID(id) else {
                return .ignored("reply with an id this client did not send: \(id.serialized())")
            }
            return complete(requestID, matchedByID: id, reply: "reply") { _ in .succeed(requestID, result) }

        case (.commandMode, .error(let body, let id)):
            guard let id else {
                return idlessError(body)
            }
            guard let requestID = Self.requestID(id) else {
                return .ignored("error with an id this client did not send: \(id.serialized())")
            }
            return complete(requestID, matchedByID: id, reply: "error") { pending in
                .fail(requestID, QMPError(reply: body, command: pending.name, id: id))
            }
        }
    }

    /// The server's bytes could not be read as JSON. The stream is no longer trustworthy: a reply
    /// may have been lost in it, so the connection closes and every pending command fails.
    public mutating func receivedMalformedInput(_ error: JSONReaderError) -> Action {
        switch state {
        case .closed:
            return .ignored("malformed input after close")
        case .awaitingGreeting:
            return violation("expected a QMP greeting, got data that is not QMP's JSON: \(error.description)")
        case .negotiating, .commandMode:
            return violation("the server sent malformed JSON: \(error.description)")
        }
    }

    /// The connection ended. Returns the commands to fail with `error`.
    public mutating func closed(_ error: QMPError) -> [RequestID] {
        state = .closed
        let failing = pending.filter { !$0.value.abandoned }.keys.sorted()
        pending.removeAll()
        freeIDs.removeAll()
        inBandOrder.removeAll()
        owedInBandCount = 0
        return failing
    }

    // MARK: - Requests of the user

    /// Asks to send a command. In command mode it gets an id and is sent; otherwise it fails.
    public mutating func execute(_ name: String, arguments: JSONObject? = nil, outOfBand: Bool = false) -> ExecuteAction
    {
        switch state {
        case .commandMode(_, let oobEnabled):
            if outOfBand && !oobEnabled {
                return .fail(
                    QMPError(
                        code: .unsupported,
                        message:
                            "exec-oob needs the 'oob' capability, which this server did not offer or which was not enabled",
                        command: name
                    )
                )
            }
        case .awaitingGreeting, .negotiating:
            return .fail(
                QMPError(code: .unsupported, message: "capabilities negotiation has not finished yet", command: name)
            )
        case .closed:
            return .fail(QMPError(code: .connectionClosed, message: "the connection is closed", command: name))
        }
        let id: RequestID
        if let free = freeIDs.popLast() {
            id = RequestID(free)
        } else {
            id = RequestID(nextID)
            nextID += 1
        }
        let sendsID = sendsID(outOfBand: outOfBand)
        pending[id] = Pending(name: name, outOfBand: outOfBand, abandoned: false)
        if !outOfBand {
            inBandOrder.append(.command(id))
            owedInBandCount += 1
        }
        let message = QMPCommandMessage(
            name: name,
            arguments: arguments,
            id: sendsID ? .some(id.json) : .none,
            outOfBand: outOfBand
        )
        return .send(id, message.json)
    }

    /// Whether a command sent now carries its id on the wire; its errors name that id.
    public func sendsID(outOfBand: Bool) -> Bool {
        outOfBand || inBandCommandsCarryIDs
    }

    /// Whether a pending command went with its id; a reply without one can only be matched by
    /// order. The rule is fixed once negotiation is over, before any command is sent.
    private func carriedID(_ entry: Pending) -> Bool {
        sendsID(outOfBand: entry.outOfBand)
    }

    /// Stops waiting for a command (timeout, cancellation). Its reply, if it still comes, is
    /// dropped. Returns the command's name when it was still pending.
    public mutating func abandon(_ id: RequestID) -> String? {
        guard var entry = pending[id], !entry.abandoned else { return nil }
        entry.abandoned = true
        pending[id] = entry
        return entry.name
    }

    /// Forgets a command whose bytes never reached the server (its write failed), as if it had
    /// never been executed: no reply will come for it, so it must not keep a place in the order
    /// that replies without id are matched by.
    public mutating func withdraw(_ id: RequestID) {
        guard let entry = pending.removeValue(forKey: id) else { return }
        freeIDs.append(id.rawValue)
        if !entry.outOfBand {
            inBandOrder.remove(.command(id))
            owedInBandCount -= 1
        }
    }

    /// Records that the client is about to send a resynchronisation byte (an ASCII control
    /// character or 0xFF). The server answers it with one id-less parse error, which is swallowed.
    public mutating func resynchronizing() {
        if case .closed = state { return }
        inBandOrder.append(.resync)
    }

    // MARK: - Helpers

    /// Ends a pending command with its reply. `wireID` is the id the reply carried, when it
    /// carried one: it matches only a command that went with its id. `reply` names the kind of
    /// message for the log ("reply", "error").
    private mutating func complete(
        _ id: RequestID,
        matchedByID wireID: JSONValue? = nil,
        reply: String = "reply",
        _ action: (Pending) -> Action
    ) -> Action {
        let index = pending.index(forKey: id)
        guard let index, wireID == nil || carriedID(pending[index].value) else {
            if let wireID { return .ignored("\(reply) with an id this client did not send: \(wireID.serialized())") }
            return .ignored("\(reply) for id \(id), which is not pending")
        }
        let entry = pending[index].value
        pending.remove(at: index)
        freeIDs.append(id.rawValue)
        if !entry.outOfBand {
            inBandOrder.remove(.command(id))
            owedInBandCount -= 1
            inBandAnswerCount += 1
        }
        if entry.abandoned {
            lateReplyCount += 1
            return .ignored("late \(reply) for abandoned command \(entry.name) (id \(id)), dropped")
        }
        return action(entry)
    }

    private static func inBandCommandsCarryIDs(_ policy: InBandIDs, greeting: QMPGreeting, oob: Bool) -> Bool {
        switch policy {
        case .always:
            return true
        case .whenNeeded:
            guard oob else { return false }
            guard let version = greeting.version else { return true }
            return version < QEMUVersion(major: 3, minor: 1)
        }
    }

    /// A reply without id answers the oldest in-band command, if that one was sent without id.
    /// (Everything in `inBandOrder` is in-band, so whether it carried its id is the session's
    /// rule for in-band commands.)
    private mutating func idlessReturn(_ result: JSONValue) -> Action {
        guard !inBandCommandsCarryIDs, case .command(let id)? = inBandOrder.first else {
            return .ignored(
                "a reply without id, but the oldest outstanding in-band command carried one (or there is none)"
            )
        }
        return complete(id) { _ in .succeed(id, result) }
    }

    /// An error without id is QEMU's parse error: it answers the oldest in-band item, whatever
    /// that carried.
    private mutating func idlessError(_ body: QMPErrorBody) -> Action {
        switch inBandOrder.first {
        case .resync?:
            _ = inBandOrder.popFirst()
            return .ignored("swallowed the parse error that answers a resync byte: \(body.description)")
        case .command(let id)?:
            return complete(id, reply: "id-less error") { entry in
                .fail(id, QMPError(reply: body, command: entry.name, id: nil))
            }
        case nil:
            return .ignored("id-less error with nothing outstanding: \(body.errorClass): \(body.description)")
        }
    }

    private mutating func violation(_ message: String) -> Action {
        close(QMPError(code: .protocolViolation, message: message))
    }

    private mutating func close(_ error: QMPError) -> Action {
        .closeConnection(error, failing: closed(error))
    }

    private static func requestID(_ id: JSONValue?) -> RequestID? {
        switch id {
        case .int(let value)?: RequestID(value)
        // QEMU re-serialises ids; an integer could in principle come back as a float.
        case .double(let value)?: Int64(exactly: value).map(RequestID.init)
        default: nil
        }
    }

    private static func summary(of value: JSONValue) -> String {
        let text = value.serialized(style: .compact)
        return text.count > 200 ? text.prefix(200) + "…" : text
    }
}

/// A first-in first-out queue on an array, with amortised O(1) pops.
struct FIFO<Element: Sendable & Equatable>: Sendable {
    private var storage: [Element] = []
    private var head = 0

    var first: Element? { head < storage.count ? storage[head] : nil }

    mutating func append(_ element: Element) {
        storage.append(element)
    }

    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        compactIfNeeded()
        return element
    }

    /// Removes the first occurrence; in practice the head, since replies arrive in order.
    mutating func remove(_ element: Element) {
        guard let index = storage[head...].firstIndex(of: element) else { return }
        if index == head {
            head += 1
        } else {
            storage.remove(at: index)
        }
        compactIfNeeded()
    }

    mutating func removeAll() {
        storage.removeAll()
        head = 0
    }

    private mutating func compactIfNeeded() {
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }
}
