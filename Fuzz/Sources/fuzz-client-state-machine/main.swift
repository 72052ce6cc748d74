// The client's protocol state machine, fed whatever a server might send, between commands the
// client executes, abandons and withdraws: it never crashes, and it keeps its promises. Every
// command it sends ends at most once, only while it is pending, and a closing connection fails
// exactly the commands still waited for.
import CFuzzerDriver
import FuzzSupport
import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

typealias Machine = QMPClientStateMachine

/// What the test knows the machine should be waiting for.
struct Model {
    /// Sent and neither answered, failed, abandoned nor withdrawn.
    var waiting: Set<Machine.RequestID> = []
    var negotiations = 0
    var closed = false

    mutating func ended(_ id: Machine.RequestID, _ how: String) {
        invariant(waiting.remove(id) != nil, "\(how) for command \(id), which nobody waits for")
    }
}

/// The order of states; the machine only moves forward.
func rank(_ state: Machine.State) -> Int {
    switch state {
    case .awaitingGreeting: 0
    case .negotiating: 1
    case .commandMode: 2
    case .closed: 3
    }
}

func apply(_ action: Machine.Action, machine: Machine, model: inout Model) {
    switch action {
    case .none, .ignored, .deliverEvent:
        break
    case .send(let message):
        invariant(message["execute"]?.stringValue == "qmp_capabilities", "the machine itself sent \(message)")
    case .negotiated:
        model.negotiations += 1
        invariant(model.negotiations == 1, "negotiated twice")
        invariant(machine.isReady, "negotiated but not ready")
    case .succeed(let id, _):
        model.ended(id, "a success")
    case .fail(let id, _):
        model.ended(id, "a failure")
    case .closeConnection(_, let failing):
        invariant(
            Set(failing) == model.waiting && failing.count == model.waiting.count,
            "closing fails \(failing), but \(model.waiting.sorted()) were waited for"
        )
        model.waiting.removeAll()
        model.closed = true
    }
    if model.closed {
        invariant(machine.state == .closed, "the connection closed, the machine says \(machine.state)")
    }
    invariant(
        machine.pendingCount == model.waiting.count,
        "the machine counts \(machine.pendingCount) pending, \(model.waiting.count) are waited for"
    )
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = ControlledInput(fuzzInput(data, size))
    let setup = input.nextControl()
    var machine = Machine(
        configuration: Machine.Configuration(
            enableOOB: setup & 1 == 0,
            skipNegotiation: setup & 2 != 0,
            inBandIDs: setup & 4 != 0 ? .always : .whenNeeded
        )
    )
    var model = Model()
    var reader = JSONReader(configuration: .client)
    var sent: [Machine.RequestID] = []
    var state = rank(machine.state)

    func step(_ action: Machine.Action) {
        apply(action, machine: machine, model: &model)
        let now = rank(machine.state)
        invariant(now >= state, "the machine went back to \(machine.state)")
        state = now
    }

    step(machine.connectionOpened())
    var offset = 0
    // Without control bytes the server's bytes come in one piece.
    while offset < input.payload.count || input.hasControl {
        let operation = input.nextControl()
        switch operation & 7 {
        case 0, 1, 2:
            // Server bytes: a piece of the payload, read into as many values as it completes.
            let length = input.hasControl ? Int(operation >> 3) + 1 : input.payload.count - offset
            let end = min(input.payload.count, offset + length)
            reader.feed(input.payload[offset..<end])
            offset = end
            while true {
                do {
                    guard let value = try reader.next() else { break }
                    step(machine.received(value))
                } catch {
                    step(machine.receivedMalformedInput(error))
                }
            }
        case 3, 4:
            let outOfBand = operation & 8 != 0
            switch machine.execute("query-status", arguments: nil, outOfBand: outOfBand) {
            case .send(let id, let message):
                invariant(!model.waiting.contains(id), "id \(id) given to a second command while waited for")
                invariant(machine.isReady, "a command sent before negotiation")
                let carries = message["id"] != nil
                invariant(
                    carries == machine.sendsID(outOfBand: outOfBand),
                    "the command \(message) and sendsID disagree"
                )
                if carries { invariant(message["id"] == id.json, "command \(id) went as \(message)") }
                model.waiting.insert(id)
                sent.append(id)
            case .fail:
                invariant(!machine.isReady || outOfBand, "a plain command refused in command mode")
            }
            step(.none)
        case 5:
            guard !sent.isEmpty else { break }
            let id = sent[Int(operation >> 3) % sent.count]
            let name = machine.abandon(id)
            invariant(
                (name != nil) == model.waiting.contains(id),
                "abandon(\(id)) answered \(String(describing: name))"
            )
            model.waiting.remove(id)
            step(.none)
        case 6:
            machine.resynchronizing()
            step(.none)
        default:
            if operation & 8 != 0, !sent.isEmpty {
                // Only a command whose write failed is withdrawn; a waited-for one stands for that.
                let id = sent[Int(operation >> 4) % sent.count]
                if model.waiting.contains(id) {
                    machine.withdraw(id)
                    model.waiting.remove(id)
                    sent.removeAll { $0 == id }
                }
                step(.none)
            } else {
                let failing = machine.closed(QMPError(code: .connectionClosed, message: "closed by the test"))
                step(.closeConnection(QMPError(code: .connectionClosed, message: "closed"), failing: failing))
            }
        }
    }
    while true {
        do {
            guard let value = try reader.finish() else { break }
            step(machine.received(value))
        } catch {
            step(machine.receivedMalformedInput(error))
        }
    }
    let failing = machine.closed(QMPError(code: .connectionClosed, message: "end of input"))
    step(.closeConnection(QMPError(code: .connectionClosed, message: "end of input"), failing: failing))
    return 0
}

exit(qmp_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv))
