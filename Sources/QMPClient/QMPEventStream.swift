import CoreMetrics
import NIOConcurrencyHelpers
import NIOCore
import QMPCore

/// What an event subscription does when its buffer is full and another event arrives.
public enum QMPEventOverflowPolicy: Sendable, Hashable {
    /// Drop the oldest buffered event to make room: a reader that falls behind sees the latest.
    case dropOldest
    /// Drop the arriving event: a reader that falls behind sees the earliest.
    case dropNewest
}

/// The events of one subscription, as an `AsyncSequence`.
///
/// Buffered events are bounded by the subscription's buffer size; what happens to the rest is
/// the overflow policy's choice, and ``droppedCount`` says how many were lost so far.
///
/// The sequence ends normally when the client is closed, and throws a `QMPError` with code
/// `QMPError.Code.connectionClosed` when the connection is lost, or when the client was released
/// without being closed. A client that reconnects (see ``QMPReconnectPolicy``) keeps its
/// subscriptions, and each gets one event for which `QMPEvent.isConnectionGap` is true, whatever
/// names it asked for: events of the gap are lost. Ending the
/// iteration (or dropping the sequence) ends the subscription.
public struct QMPEventStream: AsyncSequence, Sendable {
    public typealias Element = QMPEvent
    public typealias Failure = any Error

    let subscription: EventHub.Subscription
    let stream: AsyncThrowingStream<QMPEvent, any Error>
    /// Ends the subscription when the last copy of the sequence and its iterators is gone, also
    /// when nobody ever iterated (the stream itself would only notice an iterator going away).
    let lease: EventHub.Lease

    /// Events this subscription has dropped because its buffer was full.
    public var droppedCount: Int { subscription.droppedCount }

    /// Iterates the events as they arrive; `nil` once the connection has closed.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<QMPEvent, any Error>.AsyncIterator
        let lease: EventHub.Lease

        public mutating func next() async throws -> QMPEvent? {
            try await base.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), lease: lease)
    }
}

/// Fans events out to subscriptions. Subscribing is synchronous, so an event that arrives right
/// after `subscribe` returns is never missed; that is what lets a caller subscribe, send a
/// command and wait for the event it causes, even when the event overtakes the reply.
final class EventHub: Sendable {
    final class Subscription: Sendable {
        let names: Set<String>?
        let continuation: AsyncThrowingStream<QMPEvent, any Error>.Continuation
        private let dropped = NIOLockedValueBox(0)
        private let droppedMetric: Counter?

        init(
            names: Set<String>?,
            continuation: AsyncThrowingStream<QMPEvent, any Error>.Continuation,
            droppedMetric: Counter?
        ) {
            self.names = names
            self.continuation = continuation
            self.droppedMetric = droppedMetric
        }

        var droppedCount: Int { dropped.withLockedValue { $0 } }

        func countDropped(_ count: Int) {
            dropped.withLockedValue { $0 += count }
        }

        func deliver(_ event: QMPEvent, ignoringNames: Bool = false) {
            if !ignoringNames, let names, !names.contains(event.name) {
                return
            }
            if case .dropped = continuation.yield(event) {
                dropped.withLockedValue { $0 += 1 }
                droppedMetric?.increment()
            }
        }
    }

    private let droppedMetric: Counter?
    private let keptForFirstSubscription: Int

    init(droppedMetric: Counter? = nil, keptForFirstSubscription: Int = 0) {
        self.droppedMetric = droppedMetric
        self.keptForFirstSubscription = max(0, keptForFirstSubscription)
    }

    /// Unsubscribes when released.
    final class Lease: Sendable {
        private let end: @Sendable () -> Void
        init(_ end: @escaping @Sendable () -> Void) { self.end = end }
        deinit { end() }
    }

    private struct State {
        var subscriptions: [ObjectIdentifier: Subscription] = [:]
        /// Set once the connection is gone: later subscriptions end at once.
        var ended: Result<Void, QMPError>?
        /// Events kept until the first subscription, and how many of them did not fit.
        var early = CircularBuffer<QMPEvent>()
        var earlyDropped = 0
        var subscribedOnce = false
    }

    private let state = NIOLockedValueBox(State())

    func subscribe(names: Set<String>?, bufferSize: Int, whenFull policy: QMPEventOverflowPolicy) -> QMPEventStream {
        let limit = max(1, bufferSize)
        let (stream, continuation) = AsyncThrowingStream<QMPEvent, any Error>.makeStream(
            bufferingPolicy: policy == .dropOldest ? .bufferingNewest(limit) : .bufferingOldest(limit)
        )
        let subscription = Subscription(names: names, continuation: continuation, droppedMetric: droppedMetric)
        let key = ObjectIdentifier(subscription)
        let ended = state.withLockedValue { state -> Result<Void, QMPError>? in
            if !state.subscribedOnce {
                // Handed over under the lock, so that they come before any later event.
                state.subscribedOnce = true
                for event in state.early {
                    subscription.deliver(event)
                }
                subscription.countDropped(state.earlyDropped)
                state.early = []
            }
            if state.ended == nil {
                state.subscriptions[key] = subscription
            }
            return state.ended
        }
        let unsubscribe: @Sendable () -> Void = { [weak self] in
            self?.state.withLockedValue { _ = $0.subscriptions.removeValue(forKey: key) }
        }
        switch ended {
        case nil:
            continuation.onTermination = { _ in unsubscribe() }
        case .success?:
            continuation.finish()
        case .failure(let error)?:
            continuation.finish(throwing: error)
        }
        return QMPEventStream(subscription: subscription, stream: stream, lease: Lease(unsubscribe))
    }

    var subscriptionCount: Int { state.withLockedValue { $0.subscriptions.count } }

    func deliver(_ event: QMPEvent) {
        // Yielding under the lock keeps every subscription's order equal to the wire order.
        state.withLockedValue { state in
            if !state.subscribedOnce && keptForFirstSubscription > 0 {
                if state.early.count == keptForFirstSubscription {
                    state.early.removeFirst()
                    state.earlyDropped += 1
                }
                state.early.append(event)
                return
            }
            for subscription in state.subscriptions.values {
                subscription.deliver(event)
            }
        }
    }

    /// Hands `event` to every subscription, whatever names it asked for: the gap marker of a
    /// reconnect, which concerns them all.
    func deliverToAll(_ event: QMPEvent) {
        state.withLockedValue { state in
            for subscription in state.subscriptions.values {
                subscription.deliver(event, ignoringNames: true)
            }
        }
    }

    /// Ends every subscription: normally when `error` is nil, else by throwing it.
    func finish(_ error: QMPError?) {
        let subscriptions = state.withLockedValue { state -> [Subscription] in
            guard state.ended == nil else { return [] }
            state.ended = error.map { .failure($0) } ?? .success(())
            defer { state.subscriptions.removeAll() }
            return Array(state.subscriptions.values)
        }
        for subscription in subscriptions {
            if let error {
                subscription.continuation.finish(throwing: error)
            } else {
                subscription.continuation.finish()
            }
        }
    }
}

extension QMPEvent {
    /// The name of the event a reconnecting client puts in every event stream once it is
    /// connected again: no QEMU event can have it (QAPI names events in capitals).
    public static let connectionGapName = "qmp-client-connection-gap"

    /// Whether this is the client's own marker of a reconnect: events may have been missed while
    /// the connection was down. Its data says why the connection broke (`reason`), how long it
    /// was down (`down-ms`), and the server's version after the reconnect (`version`).
    public var isConnectionGap: Bool { name == Self.connectionGapName }
}
