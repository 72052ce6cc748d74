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
/// taken by its socket — is bounded by `limit`; events beyond it are dropped for that client.
/// A client that reads slowly catches up within the bound; one that does not read at all
/// cannot grow the server's memory past it.
final class QMPEventOutbox: Sendable {
    private struct State {
        var bytes: ByteBuffer?
        /// Event bytes handed to the channel whose write has not completed yet.
        var inFlight = 0
        var flushScheduled = false
        /// Off until the client has negotiated (events go only to clients in command mode),
        /// and again once the connection closes.
        var accepting = false
        /// Events dropped because the client's backlog was full, not yet reported.
        var dropped = 0
    }

    private let state = NIOLockedValueBox(State())
    private let allocator: ByteBufferAllocator
    let limit: Int

    init(allocator: ByteBufferAllocator, limit: Int) {
        self.allocator = allocator
        self.limit = limit
    }

    /// Appends one encoded event. Returns `true` when the caller must schedule a flush: the
    /// outbox was empty, so no flush is on its way yet.
    func append(_ event: UnsafeRawBufferPointer) -> Bool {
        state.withLockedValue { state in
            guard state.accepting else { return false }
            if state.bytes == nil {
                state.bytes = allocator.buffer(capacity: max(event.count, 1024))
            }
            guard state.inFlight + state.bytes!.readableBytes + event.count <= limit else {
                state.dropped += 1
                return false
            }
            state.bytes!.writeBytes(event)
            guard !state.flushScheduled else { return false }
            state.flushScheduled = true
            return true
        }
    }

    /// Takes everything waiting: the events' bytes, and how many events were dropped since
    /// the last call. The bytes taken stay in the client's backlog until
    /// ``written(_:)`` says the socket has them: counting them from the moment they leave
    /// here leaves no window in which a concurrent ``append(_:)`` could overshoot the limit.
    func take() -> (bytes: ByteBuffer?, dropped: Int) {
        state.withLockedValue { state in
            defer {
                state.bytes = nil
                state.dropped = 0
                state.flushScheduled = false
            }
            state.inFlight += state.bytes?.readableBytes ?? 0
            return (state.bytes, state.dropped)
        }
    }

    /// `count` bytes from ``take()`` were written to the socket, or will never be.
    func written(_ count: Int) {
        guard count > 0 else { return }
        state.withLockedValue { $0.inFlight -= count }
    }

    func setAccepting(_ accepting: Bool) {
        state.withLockedValue { state in
            state.accepting = accepting
            if !accepting {
                state.bytes = nil
            }
        }
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
