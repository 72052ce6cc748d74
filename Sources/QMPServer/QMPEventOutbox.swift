import NIOConcurrencyHelpers
import NIOCore
import QMPCore

/// The events waiting for one client, as the bytes that will go on the wire.
///
/// ``QMPServer/broadcast(_:)`` may be called from any thread, many times in a row. Handing
/// every event to the client's event loop on its own would cost a task, a wake-up of the loop
/// and a socket write per event; instead the events are appended here under a lock, and only
/// the first event of a batch schedules a flush on the loop, which then writes the whole batch
/// at once.
///
/// What a client may have outstanding — waiting here plus handed to its channel and not yet
/// taken by its socket — is bounded by `limit`, and all clients' together by the server's
/// memory budget; events beyond either are dropped for that client. Both count the capacity of
/// the buffers that hold the events, which is what they cost. A client that reads slowly
/// catches up within the bound; one that does not read at all cannot grow the server's memory
/// past it.
final class QMPEventOutbox: Sendable {
    private struct State {
        var bytes: ByteBuffer?
        /// Capacity of the buffers handed to the channel whose write has not completed yet.
        var inFlight = 0
        var flushScheduled = false
        /// Off until the client has negotiated (events go only to clients in command mode),
        /// and again once the connection closes.
        var accepting = false
        /// Events dropped because the client's backlog was full, not yet reported.
        var dropped = 0
        /// Events dropped over the connection's life.
        var droppedTotal = 0
    }

    private let state = NIOLockedValueBox(State())
    private let allocator: ByteBufferAllocator
    private let usage: QMPServerUsage
    let limit: Int

    init(allocator: ByteBufferAllocator, limit: Int, usage: QMPServerUsage) {
        self.allocator = allocator
        self.limit = limit
        self.usage = usage
    }

    /// Appends one encoded event. Returns `true` when the caller must schedule a flush: the
    /// outbox was empty, so no flush is on its way yet.
    func append(_ event: UnsafeRawBufferPointer) -> Bool {
        state.withLockedValue { state in
            guard state.accepting else { return false }
            let capacity = state.bytes?.capacity ?? 0
            let needed = (state.bytes?.writerIndex ?? 0) + event.count
            if needed > capacity {
                // Grown here rather than by the write, so that the growth is known before it
                // happens: doubling, as a buffer grows, but never past the client's bound.
                let wanted = state.bytes == nil ? max(event.count, 1024) : max(capacity * 2, needed)
                let grown = min(wanted, limit - state.inFlight)
                guard grown >= needed, usage.reserve(grown - capacity) else {
                    state.dropped += 1
                    state.droppedTotal += 1
                    usage.droppedEvent()
                    return false
                }
                if state.bytes == nil {
                    state.bytes = allocator.buffer(capacity: grown)
                } else {
                    state.bytes!.reserveCapacity(grown)
                }
                // The allocator may round the capacity up.
                usage.charge(state.bytes!.capacity - grown)
            }
            state.bytes!.writeBytes(event)
            guard !state.flushScheduled else { return false }
            state.flushScheduled = true
            return true
        }
    }

    /// Takes everything waiting: the events' bytes, the capacity charged for them, and how many
    /// events were dropped since the last call. The capacity taken stays in the client's
    /// backlog (and the server's budget) until ``written(_:)`` gives it back: counting it from
    /// the moment it leaves here leaves no window in which a concurrent ``append(_:)`` could
    /// overshoot the limit.
    func take() -> (bytes: ByteBuffer?, charge: Int, dropped: Int) {
        state.withLockedValue { state in
            defer {
                state.bytes = nil
                state.dropped = 0
                state.flushScheduled = false
            }
            let charge = state.bytes?.capacity ?? 0
            state.inFlight += charge
            return (state.bytes, charge, state.dropped)
        }
    }

    /// A `charge` from ``take()`` is no longer held: its bytes were written to the socket, copied
    /// elsewhere, or will never be written.
    func written(_ charge: Int) {
        guard charge > 0 else { return }
        state.withLockedValue { $0.inFlight -= charge }
        usage.release(charge)
    }

    func setAccepting(_ accepting: Bool) {
        state.withLockedValue { state in
            state.accepting = accepting
            if !accepting, let bytes = state.bytes {
                usage.release(bytes.capacity)
                state.bytes = nil
            }
        }
    }

    /// Events dropped for this client since it connected.
    var droppedTotal: Int {
        state.withLockedValue { $0.droppedTotal }
    }

    var waitingBytes: Int {
        state.withLockedValue { $0.bytes?.readableBytes ?? 0 }
    }

    /// `{"timestamp": {"seconds": S, "microseconds": U}, "event": NAME, "data": DATA}` and CRLF,
    /// exactly as QEMU writes it, without building the message as a `JSONValue` first.
    static func encode(_ event: QMPEvent, into bytes: inout [UInt8]) {
        append(#"{"timestamp": {"seconds": "#, to: &bytes)
        JSONValue.int(event.timestamp.seconds).write(to: &bytes, style: .qemu)
        append(#", "microseconds": "#, to: &bytes)
        JSONValue.int(event.timestamp.microseconds).write(to: &bytes, style: .qemu)
        append(#"}, "event": "#, to: &bytes)
        JSONValue.string(event.name).write(to: &bytes, style: .qemu)
        if let data = event.data {
            append(#", "data": "#, to: &bytes)
            JSONValue.object(data).write(to: &bytes, style: .qemu)
        }
        append("}\r\n", to: &bytes)
    }

    private static func append(_ text: StaticString, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
