/// The server side of one QMP connection as a plain value, answering exactly as QEMU does.
///
/// It greets, keeps the client in capabilities negotiation until `qmp_capabilities`, checks
/// every request's envelope with QEMU's messages, and decides what runs: the command itself is
/// the dispatcher's business. In-band replies leave strictly in request order — an error the
/// machine produces itself waits behind the in-band commands before it — while out-of-band
/// replies go out as soon as they are ready.
///
/// Feed it with ``connected()``, ``received(_:)``, ``receivedMalformedInput(_:)`` and
/// ``completed(_:with:id:)``; send what it returns.
public struct QMPServerStateMachine: Sendable {
    /// What the machine needs to know of the server it speaks for.
    public struct Configuration: Sendable {
        /// The greeting sent when a client connects.
        public var greeting: QMPGreeting
        /// Whether a command exists. `qmp_capabilities` is the machine's own.
        public var hasCommand: @Sendable (String) -> Bool
        /// Whether a command may run out of band.
        public var allowsOutOfBand: @Sendable (String) -> Bool

        /// A configuration; by default no command may run out of band.
        public init(
            greeting: QMPGreeting,
            hasCommand: @escaping @Sendable (String) -> Bool,
            allowsOutOfBand: @escaping @Sendable (String) -> Bool = { _ in false }
        ) {
            self.greeting = greeting
            self.hasCommand = hasCommand
            self.allowsOutOfBand = allowsOutOfBand
        }
    }

    /// A command that passed the envelope checks, for the dispatcher to run.
    public struct Request: Sendable {
        /// Hand this back to ``completed(_:with:id:)``.
        public var ticket: Ticket
        /// The command's name.
        public var name: String
        /// Its arguments; empty when the request had none.
        public var arguments: JSONObject
        /// The client's id, which the reply echoes.
        public var id: JSONValue?
        /// Whether it came as `exec-oob`.
        public var outOfBand: Bool
    }

    /// Identifies a dispatched command until its outcome is reported.
    public struct Ticket: Sendable, Hashable {
        fileprivate var sequence: Int64
        fileprivate var outOfBand: Bool
    }

    /// Where the connection stands.
    public enum State: Sendable, Hashable {
        /// Before ``connected()``.
        case awaitingConnection
        /// Greeted; only `qmp_capabilities` is accepted.
        case negotiation
        /// Negotiated; commands run, events are delivered.
        case commandMode(oobEnabled: Bool)
        /// After ``closed()``.
        case closed
    }

    /// What to do after a call into the machine.
    public enum Action: Sendable {
        /// Nothing to do.
        case none
        /// Write these messages, in this order.
        case send([JSONValue])
        /// Run this command; report its outcome with ``completed(_:with:id:)``.
        case dispatch(Request)
    }

    /// The configuration the machine was made with.
    public let configuration: Configuration
    /// Where the connection stands now.
    public private(set) var state: State = .awaitingConnection
    private var nextSequence: Int64 = 0
    /// In-band replies in request order; `nil` while the command still runs.
    private var inBandReplies: [(sequence: Int64, reply: JSONValue?)] = []

    /// A machine for a connection that has not started.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Events go only to clients in command mode.
    public var receivesEvents: Bool {
        if case .commandMode = state { return true }
        return false
    }

    /// Whether the client enabled out-of-band execution in negotiation.
    public var oobEnabled: Bool {
        if case .commandMode(let oob) = state { return oob }
        return false
    }

    /// In-band commands dispatched or answered and not yet sent, for back-pressure: QEMU stops
    /// reading at 8 with OOB enabled, and after every command without.
    public var inBandBacklog: Int { inBandReplies.count }

    /// The client connected: send the greeting.
    public mutating func connected() -> Action {
        state = .negotiation
        return .send([configuration.greeting.raw])
    }

    /// The connection closed: replies still owed are dropped.
    public mutating func closed() {
        state = .closed
        inBandReplies.removeAll()
    }

    /// A complete JSON value arrived from the client.
    public mutating func received(_ value: JSONValue) -> Action {
        guard case .object(let object) = value else {
            return inBand(error: Self.generic("QMP input must be a JSON object"), id: nil)
        }
        let oobEnabled = self.oobEnabled

        // The envelope, as qmp_dispatch_check_obj sees it. QEMU stops at the first problem in
        // the order its dictionary holds the members, which is not the order they were sent
        // (see `QEMUDictionaryOrder`); the id is answered whatever its place.
        var id: JSONValue?
        var name: String?
        var outOfBand = false
        var arguments = JSONObject()
        var executePosition: Int?
        var execOOBPosition: Int?
        var problems: [(key: String, position: Int, text: String)] = []
        for (position, (key, member)) in object.enumerated() {
            switch key {
            case "execute", "exec-oob":
                let isExecOOB = key == "exec-oob"
                if isExecOOB && !oobEnabled {
                    // Without OOB, exec-oob is no keyword at all.
                    problems.append((key, position, "QMP input member 'exec-oob' is unexpected"))
                } else if case .string(let text) = member {
                    if isExecOOB { execOOBPosition = position } else { executePosition = position }
                    // execute wins over exec-oob, as QEMU's lookup of the command does.
                    if !isExecOOB || name == nil {
                        name = text
                        outOfBand = isExecOOB
                    }
                } else {
                    problems.append((key, position, "QMP input member '\(key)' must be a string"))
                }
            case "arguments":
                if case .object(let given) = member {
                    arguments = given
                } else {
                    problems.append((key, position, "QMP input member 'arguments' must be an object"))
                }
            case "id":
                id = member
            default:
                problems.append((key, position, "QMP input member '\(key)' is unexpected"))
            }
        }
        if let executePosition, let execOOBPosition {
            // Found at whichever of the two QEMU comes to second; the text is QEMU's either way.
            let second =
                QEMUDictionaryOrder.precedes("execute", executePosition, "exec-oob", execOOBPosition)
                ? ("exec-oob", execOOBPosition) : ("execute", executePosition)
            problems.append((second.0, second.1, "QMP input member 'execute' clashes with 'exec-oob'"))
        }
        if let first = problems.first {
            let reported = problems.dropFirst().reduce(first) { earliest, problem in
                QEMUDictionaryOrder.precedes(problem.key, problem.position, earliest.key, earliest.position)
                    ? problem : earliest
            }
            return inBand(error: Self.generic(reported.text), id: id)
        }
        guard let name else {
            return inBand(error: Self.generic("QMP input lacks member 'execute'"), id: id)
        }

        if name == "qmp_capabilities" {
            return capabilities(arguments, id: id)
        }
        switch state {
        case .negotiation:
            return inBand(
                error: QMPErrorBody(
                    errorClass: QMPError.ErrorClass.commandNotFound,
                    description: "Expecting capabilities negotiation with 'qmp_capabilities'"
                ),
                id: id
            )
        case .awaitingConnection, .closed:
            return .none
        case .commandMode:
            break
        }
        guard configuration.hasCommand(name) else {
            return reject(
                QMPErrorBody(
                    errorClass: QMPError.ErrorClass.commandNotFound,
                    description: "The command \(name) has not been found"
                ),
                id: id,
                outOfBand: outOfBand
            )
        }
        if outOfBand && !configuration.allowsOutOfBand(name) {
            return reject(Self.generic("The command \(name) does not support OOB"), id: id, outOfBand: true)
        }
        let ticket = Ticket(sequence: nextSequence, outOfBand: outOfBand)
        nextSequence += 1
        if !outOfBand {
            inBandReplies.append((ticket.sequence, nil))
        }
        return .dispatch(Request(ticket: ticket, name: name, arguments: arguments, id: id, outOfBand: outOfBand))
    }

    /// The client's bytes could not be read: QEMU answers with an id-less error, in band.
    public mutating func receivedMalformedInput(_ error: JSONReaderError) -> Action {
        inBand(error: Self.generic(error.qemuDescription), id: nil)
    }

    /// A dispatched command finished: `.success(value)` for `{"return": value}`, or an error body.
    public mutating func completed(
        _ ticket: Ticket,
        with result: Result<JSONValue, QMPErrorBody>,
        id: JSONValue?
    ) -> Action {
        let reply = Self.reply(result, id: id)
        if ticket.outOfBand {
            return state == .closed ? .none : .send([reply])
        }
        guard let index = inBandReplies.firstIndex(where: { $0.sequence == ticket.sequence }) else {
            return .none
        }
        inBandReplies[index].reply = reply
        return flushInBand()
    }

    /// A reply message as QEMU writes it: `{"return": …, "id": …}` or `{"id": …, "error": …}`.
    public static func reply(_ result: Result<JSONValue, QMPErrorBody>, id: JSONValue?) -> JSONValue {
        switch result {
        case .success(let value):
            return QMPServerMessage.return(value, id: id).json
        case .failure(let body):
            return QMPServerMessage.error(body, id: id).json
        }
    }

    // MARK: - Helpers

    private mutating func capabilities(_ arguments: JSONObject, id: JSONValue?) -> Action {
        guard state == .negotiation else {
            return inBand(
                error: QMPErrorBody(
                    errorClass: QMPError.ErrorClass.commandNotFound,
                    description: "Capabilities negotiation is already complete, command ignored"
                ),
                id: id
            )
        }
        var enableOOB = false
        for (key, value) in arguments {
            guard key == "enable" else {
                return inBand(error: Self.generic("Parameter '\(key)' is unexpected"), id: id)
            }
            guard case .array(let names) = value else {
                return inBand(error: Self.generic("Invalid parameter type for 'enable', expected: array"), id: id)
            }
            for (index, name) in names.enumerated() {
                guard case .string(let capability) = name else {
                    return inBand(
                        error: Self.generic("Invalid parameter type for 'enable[\(index)]', expected: string"),
                        id: id
                    )
                }
                guard capability == QMPCapability.oob.rawValue else {
                    // QEMU's own wording, 'null' included.
                    return inBand(error: Self.generic("Parameter 'null' does not accept value '\(capability)'"), id: id)
                }
                guard configuration.greeting.offersOOB else {
                    return inBand(error: Self.generic("Capability 'oob' not available"), id: id)
                }
                enableOOB = true
            }
        }
        let action = inBand(reply: Self.reply(.success(.object([:])), id: id))
        state = .commandMode(oobEnabled: enableOOB)
        return action
    }

    /// An error for a request that will not run: in band it waits its turn, out of band it
    /// leaves at once.
    private mutating func reject(_ body: QMPErrorBody, id: JSONValue?, outOfBand: Bool) -> Action {
        outOfBand ? .send([Self.reply(.failure(body), id: id)]) : inBand(error: body, id: id)
    }

    private mutating func inBand(error body: QMPErrorBody, id: JSONValue?) -> Action {
        inBand(reply: Self.reply(.failure(body), id: id))
    }

    private mutating func inBand(reply: JSONValue) -> Action {
        guard state != .closed else { return .none }
        if inBandReplies.isEmpty {
            return .send([reply])
        }
        inBandReplies.append((nextSequence, reply))
        nextSequence += 1
        return flushInBand()
    }

    private mutating func flushInBand() -> Action {
        guard let first = inBandReplies.first?.reply else { return .none }
        inBandReplies.removeFirst()
        // Mostly one reply is ready: its array is the one `.send` needs, made at its size.
        guard inBandReplies.first?.reply != nil else { return .send([first]) }
        var ready = [first]
        while let reply = inBandReplies.first?.reply {
            ready.append(reply)
            inBandReplies.removeFirst()
        }
        return .send(ready)
    }

    private static func generic(_ description: String) -> QMPErrorBody {
        QMPErrorBody(errorClass: QMPError.ErrorClass.genericError, description: description)
    }
}
