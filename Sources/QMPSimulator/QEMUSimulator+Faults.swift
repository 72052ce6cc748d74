import NIOConcurrencyHelpers
import NIOCore
import QMPCore
import QMPServer

extension QEMUSimulator {
    /// A fault the simulator injects into a command's call, to see how a client copes with a
    /// QEMU that misbehaves.
    public enum Fault: Sendable, Hashable {
        /// The command waits this long before it runs.
        case delay(Duration)
        /// The command never runs and is never answered; the in-band commands after it wait
        /// behind it, as behind a QEMU whose main loop is stuck, until the connection closes.
        case stall
        /// The command runs, but its reply is never written; the next commands run.
        case dropReply
        /// The command runs; the first `bytes` of its reply are written (half of it when `nil`),
        /// then the connection closes.
        case closeMidReply(bytes: Int?)
        /// The command runs; `bytes` are written before its reply.
        case garbageBeforeReply([UInt8])
        /// The command runs; `bytes` are written in place of its reply.
        case garbageInsteadOfReply([UInt8])
        /// The command answers as usual, and `count` events named `event` (with `data`) are
        /// broadcast: all before the reply when `interval` is `nil`, else the first before the
        /// reply and one more every `interval`. An event QEMU rate-limits (`RTC_CHANGE`, say) is
        /// limited here too.
        case eventFlood(event: String, data: JSONObject?, count: Int, interval: Duration?)
    }

    /// Which calls of a command a rule applies to, counted from 1 per command name across every
    /// connection of the simulator. A call whose arguments QEMU would refuse is answered with
    /// its error and not counted.
    public enum Calls: Sendable, Hashable {
        /// Every call.
        case every
        /// Only the n-th call.
        case only(Int)
        /// The first k calls.
        case first(Int)

        func contains(_ call: Int) -> Bool {
            switch self {
            case .every: true
            case .only(let n): call == n
            case .first(let k): call <= k
            }
        }
    }

    /// A fault for the calls of one command.
    public struct FaultRule: Sendable, Hashable {
        /// The command's name, as on the wire (`query-status`).
        public var command: String
        /// Which of its calls.
        public var calls: Calls
        /// What goes wrong.
        public var fault: Fault

        /// A rule: `fault` on the `calls` of `command`.
        public init(command: String, calls: Calls = .every, fault: Fault) {
            self.command = command
            self.calls = calls
            self.fault = fault
        }
    }

    /// A problem in a fault scenario, with where it is.
    public struct FaultScenarioError: Error, Sendable, CustomStringConvertible {
        /// What is wrong, naming the rule.
        public var description: String
    }

    /// Rules from a fault scenario file's JSON (the format of `qmp mock --faults`):
    ///
    /// ```json
    /// {"faults": [
    ///   {"command": "query-status", "call": 2, "delay": 1.5},
    ///   {"command": "query-kvm", "first": 3, "stall": true},
    ///   {"command": "query-name", "drop-reply": true},
    ///   {"command": "query-uuid", "close-mid-reply": 10},
    ///   {"command": "query-version", "garbage-before-reply": "\u0001not json"},
    ///   {"command": "query-commands", "garbage-instead-of-reply": "}{"},
    ///   {"command": "stop", "event-flood": {"event": "FLOOD", "count": 1000, "per-second": 100}}
    /// ]}
    /// ```
    ///
    /// Each rule names a `command`, optionally `call` (only that call, counted from 1) or
    /// `first` (the first calls), and one fault: `delay` in seconds; `stall`; `drop-reply`;
    /// `close-mid-reply` (`true` for half the reply, or how many of its bytes); garbage text
    /// before or instead of the reply; an `event-flood` of `count` events (`event` defaults to
    /// `FLOOD`, `data` to none; `per-second` spreads them out, else they all go at once).
    public static func faultRules(parsing json: JSONValue) throws(FaultScenarioError) -> [FaultRule] {
        guard case .array(let items)? = json["faults"], json.objectValue?.count == 1 else {
            throw FaultScenarioError(description: "a fault scenario is an object with one member, \"faults\": [rules]")
        }
        var rules: [FaultRule] = []
        for (index, item) in items.enumerated() {
            rules.append(try faultRule(item, number: index + 1))
        }
        return rules
    }

    private static func faultRule(_ item: JSONValue, number: Int) throws(FaultScenarioError) -> FaultRule {
        func problem(_ text: String) -> FaultScenarioError {
            FaultScenarioError(description: "fault rule \(number): \(text)")
        }
        guard case .object(let members) = item else { throw problem("expected an object") }
        guard let command = members["command"]?.stringValue, !command.isEmpty else {
            throw problem("expected \"command\": a command's name")
        }
        var calls = Calls.every
        switch (members["call"], members["first"]) {
        case (nil, nil): break
        case (let call?, nil):
            guard let n = integer(call), n >= 1 else { throw problem("\"call\" expects a call number from 1") }
            calls = .only(n)
        case (nil, let first?):
            guard let k = integer(first), k >= 1 else { throw problem("\"first\" expects a count from 1") }
            calls = .first(k)
        default: throw problem("give \"call\" or \"first\", not both")
        }
        let kinds = members.keys.filter { $0 != "command" && $0 != "call" && $0 != "first" }
        guard kinds.count == 1, let kind = kinds.first else {
            throw problem(
                "expected one fault of delay, stall, drop-reply, close-mid-reply, garbage-before-reply, "
                    + "garbage-instead-of-reply, event-flood; got \(kinds.sorted())"
            )
        }
        let value = members[kind]!
        let fault: Fault
        switch kind {
        case "delay":
            guard let seconds = value.numberValue, seconds >= 0 else { throw problem("\"delay\" expects seconds") }
            fault = .delay(.milliseconds(Int64((seconds * 1000).rounded())))
        case "stall", "drop-reply":
            guard value == .bool(true) else { throw problem("\"\(kind)\" expects true") }
            fault = kind == "stall" ? .stall : .dropReply
        case "close-mid-reply":
            if value == .bool(true) {
                fault = .closeMidReply(bytes: nil)
            } else if let bytes = integer(value), bytes >= 0 {
                fault = .closeMidReply(bytes: bytes)
            } else {
                throw problem("\"close-mid-reply\" expects true or a number of bytes")
            }
        case "garbage-before-reply", "garbage-instead-of-reply":
            guard let text = value.stringValue else { throw problem("\"\(kind)\" expects a string") }
            fault =
                kind == "garbage-before-reply"
                ? .garbageBeforeReply(Array(text.utf8)) : .garbageInsteadOfReply(Array(text.utf8))
        case "event-flood":
            guard case .object(let flood) = value, let count = integer(flood["count"]), count >= 0 else {
                throw problem("\"event-flood\" expects {\"count\": N} with optional event, data, per-second")
            }
            let unknown = flood.keys.filter { !["count", "event", "data", "per-second"].contains($0) }
            guard unknown.isEmpty else { throw problem("\"event-flood\" has no \(unknown.sorted())") }
            var interval: Duration?
            if let rate = flood["per-second"] {
                guard let perSecond = rate.numberValue, perSecond > 0 else {
                    throw problem("\"per-second\" expects a rate above 0")
                }
                interval = .nanoseconds(Int64((1e9 / perSecond).rounded()))
            }
            var data: JSONObject?
            if let given = flood["data"] {
                guard case .object(let object) = given else { throw problem("\"data\" expects an object") }
                data = object
            }
            let event = flood["event"]?.stringValue ?? "FLOOD"
            fault = .eventFlood(event: event, data: data, count: count, interval: interval)
        default:
            throw problem("unknown fault \"\(kind)\"")
        }
        return FaultRule(command: command, calls: calls, fault: fault)
    }

    // MARK: - Injection

    /// The table with the handlers of the commands that `rules` name wrapped to inject their
    /// faults. A command without a delay keeps an immediate handler when it had one.
    static func injecting(
        _ rules: [FaultRule],
        into table: QMPCommandTable,
        counter: NIOLockedValueBox<[String: Int]>
    ) -> QMPCommandTable {
        var table = table
        for (name, commandRules) in Dictionary(grouping: rules, by: \.command) {
            guard let entry = table.entries[name] else { continue }
            let faults: @Sendable () -> [Fault] = {
                let call = counter.withLockedValue { counts -> Int in
                    counts[name, default: 0] += 1
                    return counts[name]!
                }
                return commandRules.filter { $0.calls.contains(call) }.map(\.fault)
            }
            let delays = commandRules.contains { if case .delay = $0.fault { true } else { false } }
            if let immediate = entry.immediateHandler, !delays {
                table.registerImmediate(
                    name,
                    allowsOutOfBand: entry.allowsOutOfBand,
                    checkArguments: entry.checkArguments
                ) { request in
                    let faults = faults()
                    startFloods(faults, request.server)
                    guard let wire = faults.first(where: \.isOnTheWire) else { return try immediate(request) }
                    if wire == .stall { throw QMPReplyFault(then: .stalled) }
                    throw wireFault(wire, request, outcome(of: { try immediate(request) }))
                }
            } else {
                let handler = entry.handler
                table.register(
                    name,
                    allowsOutOfBand: entry.allowsOutOfBand,
                    checkArguments: entry.checkArguments
                ) { request in
                    let faults = faults()
                    for case .delay(let duration) in faults {
                        try await Task.sleep(for: duration)
                    }
                    startFloods(faults, request.server)
                    guard let wire = faults.first(where: \.isOnTheWire) else { return try await handler(request) }
                    if wire == .stall { throw QMPReplyFault(then: .stalled) }
                    let result: Result<JSONValue, QMPErrorBody>
                    do {
                        result = .success(try await handler(request))
                    } catch let error as QMPReplyFault {
                        throw error
                    } catch {
                        result = .failure(errorBody(error))
                    }
                    throw wireFault(wire, request, result)
                }
            }
        }
        return table
    }

    private static func outcome(of body: () throws -> JSONValue) -> Result<JSONValue, QMPErrorBody> {
        do {
            return .success(try body())
        } catch {
            return .failure(errorBody(error))
        }
    }

    private static func errorBody(_ error: any Error) -> QMPErrorBody {
        (error as? QMPErrorBody) ?? QMPErrorBody(errorClass: QMPError.ErrorClass.genericError, description: "\(error)")
    }

    /// What a fault that changes the reply writes in its place.
    private static func wireFault(
        _ fault: Fault,
        _ request: QMPServerRequest,
        _ result: Result<JSONValue, QMPErrorBody>
    ) -> QMPReplyFault {
        var reply: [UInt8] = []
        QMPServerStateMachine.reply(result, id: request.id).write(to: &reply, style: .qemu)
        reply += [13, 10]
        switch fault {
        case .dropReply:
            return QMPReplyFault(then: .answered)
        case .closeMidReply(let bytes):
            let count = min(max(bytes ?? reply.count / 2, 0), reply.count - 1)
            return QMPReplyFault(writing: Array(reply.prefix(count)), then: .closed)
        case .garbageBeforeReply(let garbage):
            return QMPReplyFault(writing: garbage + reply, then: .answered)
        case .garbageInsteadOfReply(let garbage):
            return QMPReplyFault(writing: garbage, then: .answered)
        default:
            return QMPReplyFault(writing: reply, then: .answered)
        }
    }

    /// Broadcasts the floods among `faults`: those without an interval at once, the others
    /// one now and the rest from the server's event loop, so that no task outlives the command.
    private static func startFloods(_ faults: [Fault], _ server: QMPServer) {
        for case .eventFlood(let name, let data, let count, let interval) in faults where count > 0 {
            guard let interval else {
                for _ in 0..<count {
                    server.broadcast(QMPEvent.stampedNow(name, data))
                }
                continue
            }
            let loop = server.configuration.eventLoopGroup.next()
            @Sendable func send(_ remaining: Int) {
                server.broadcast(QMPEvent.stampedNow(name, data))
                guard remaining > 1 else { return }
                loop.scheduleTask(in: TimeAmount(interval)) { send(remaining - 1) }
            }
            send(count)
        }
    }
}

extension QEMUSimulator.Fault {
    /// Whether the fault changes what is written in place of the reply.
    var isOnTheWire: Bool {
        switch self {
        case .delay, .eventFlood: false
        case .stall, .dropReply, .closeMidReply, .garbageBeforeReply, .garbageInsteadOfReply: true
        }
    }
}

/// A JSON integer that fits `Int`.
private func integer(_ value: JSONValue?) -> Int? {
    guard case .int(let n)? = value else { return nil }
    return Int(exactly: n)
}
