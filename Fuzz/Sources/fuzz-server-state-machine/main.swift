// The server's per-connection protocol state machine, fed whatever a client might send, with
// the commands it dispatches finishing in any order: it never crashes, every message from the
// client is answered exactly once, in-band replies leave in the order their commands came, and
// every reply is a well-formed QMP message that carries its request's id.
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

typealias Machine = QMPServerStateMachine

let commands: Set<String> = ["query-status", "stop", "cont", "migrate-pause", "x-oob"]

func makeMachine(offersOOB: Bool) -> Machine {
    Machine(
        configuration: Machine.Configuration(
            greeting: QMPGreeting(
                version: QEMUVersion(major: 7, minor: 2),
                capabilities: offersOOB ? [.oob] : []
            ),
            hasCommand: { commands.contains($0) },
            allowsOutOfBand: { $0 == "migrate-pause" || $0 == "x-oob" }
        )
    )
}

struct Harness {
    var machine: Machine
    /// Dispatched and not yet completed, with the position of their message in the stream.
    var running: [(request: Machine.Request, position: Int)] = []
    /// Messages read while the connection was open, and replies sent.
    var answerable = 0
    var replies = 0
    /// The position of the last in-band command whose reply left.
    var lastInBand = -1
    var position = 0

    mutating func send(_ action: Machine.Action) {
        switch action {
        case .none:
            break
        case .dispatch(let request):
            invariant(commands.contains(request.name), "dispatched \(request.name), which does not exist")
            invariant(machine.receivesEvents, "dispatched \(request.name) outside command mode")
            running.append((request, position))
        case .send(let messages):
            invariant(!messages.isEmpty, "an empty send")
            for message in messages {
                invariant(machine.state != .closed, "sent \(message) after close")
                let parsed = try? QMPServerMessage(message)
                switch parsed {
                case .return(let value, _)?:
                    // The test's own results are the command's position in the stream.
                    if case .array(let tag) = value, case .int(let position)? = tag.first,
                        case .bool(let outOfBand)? = tag.last, !outOfBand
                    {
                        invariant(position > lastInBand, "in-band reply \(position) after \(lastInBand)")
                        lastInBand = Int(position)
                    }
                case .error?:
                    break
                case .greeting?, .event?, nil:
                    invariant(false, "sent \(message), which is no reply")
                }
                // As the server writes it (QEMU's style, where an id beyond a double's range is
                // `inf`), a client reads the message back as itself; QEMU's style writes a
                // double with an integral value as an integer, so the text is what must agree.
                let wire = message.serialized(style: .qemu)
                let readBack = try? JSONValue(parsing: wire, configuration: .client)
                invariant(readBack?.serialized(style: .qemu) == wire, "\(wire) does not read back as itself")
                // Compact JSON keeps integers and doubles apart, but has no word for infinity.
                invariant(
                    hasNonFinite(message)
                        || (try? JSONValue(parsing: message.serialized(), configuration: .client)) == message,
                    "\(message.serialized()) does not read back as itself"
                )
                replies += 1
            }
        }
        invariant(machine.inBandBacklog >= 0, "negative backlog")
    }

    mutating func complete(_ index: Int, failing: Bool) {
        let (request, position) = running.remove(at: index)
        let result: Result<JSONValue, QMPErrorBody> =
            failing
            ? .failure(QMPErrorBody(errorClass: "GenericError", description: "failed by the test"))
            : .success([.int(Int64(position)), .bool(request.outOfBand)])
        let action = machine.completed(request.ticket, with: result, id: request.id)
        if case .send(let messages) = action, request.outOfBand {
            invariant(messages.count == 1, "an out-of-band completion sent \(messages.count) replies")
            invariant(
                messages[0]["id"] == request.id,
                "reply \(messages[0]) to a request with id \(String(describing: request.id))"
            )
        }
        send(action)
    }

    mutating func received(_ outcome: Result<JSONValue, JSONReaderError>) {
        let open = machine.state != .closed
        let action: Machine.Action
        switch outcome {
        case .success(let value): action = machine.received(value)
        case .failure(let error): action = machine.receivedMalformedInput(error)
        }
        if open {
            answerable += 1
        } else {
            guard case .none = action else {
                invariant(false, "answered \(outcome) after close")
                return
            }
        }
        send(action)
        position += 1
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = ControlledInput(fuzzInput(data, size))
    let setup = input.nextControl()
    var harness = Harness(machine: makeMachine(offersOOB: setup & 1 == 0))
    var reader = JSONReader(configuration: .server)
    let greeting = harness.machine.connected()
    guard case .send(let messages) = greeting, messages.count == 1, QMPGreeting(messages[0]) != nil else {
        invariant(false, "connected() answered \(greeting)")
        return 0
    }
    var offset = 0
    var closed = false
    while offset < input.payload.count || input.hasControl {
        let operation = input.nextControl()
        switch operation & 3 {
        case 0, 1:
            let length = input.hasControl ? Int(operation >> 2) + 1 : input.payload.count - offset
            let end = min(input.payload.count, offset + length)
            reader.feed(input.payload[offset..<end])
            offset = end
            while true {
                do {
                    guard let value = try reader.next() else { break }
                    harness.received(.success(value))
                } catch {
                    harness.received(.failure(error))
                }
            }
        case 2:
            guard !harness.running.isEmpty else { break }
            harness.complete(Int(operation >> 3) % harness.running.count, failing: operation & 4 != 0)
        default:
            if operation >> 2 == 0x3f {
                harness.machine.closed()
                closed = true
            }
        }
    }
    while true {
        do {
            guard let value = try reader.finish() else { break }
            harness.received(.success(value))
        } catch {
            harness.received(.failure(error))
        }
    }
    while !harness.running.isEmpty {
        harness.complete(harness.running.count - 1, failing: false)
    }
    if !closed {
        invariant(harness.machine.inBandBacklog == 0, "\(harness.machine.inBandBacklog) replies still held back")
        invariant(
            harness.replies == harness.answerable,
            "\(harness.answerable) messages, \(harness.replies) replies"
        )
    }
    return 0
}

exit(qmp_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv))
