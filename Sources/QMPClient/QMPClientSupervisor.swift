import NIOConcurrencyHelpers
import NIOCore
import QMPCore

/// One connection of a client: what a reconnect replaces.
struct ClientLink: Sendable {
    let channel: any Channel
    /// Weak: the handler holds the supervisor, which holds the link; the channel's pipeline is
    /// what keeps the handler while the connection is open.
    let handler: NIOLoopBound<HandlerReference>
    let greeting: QMPGreeting
    let oobEnabled: Bool
}

/// A connection's handler for as long as its channel keeps it.
final class HandlerReference {
    weak var handler: QMPChannelHandler?
    init(_ handler: QMPChannelHandler) { self.handler = handler }
}

/// What outlives each connection of a client: its current connection, the event hub, the
/// health, and how the end of a connection is handled (for good, or by a reconnect in `run()`).
final class ClientSupervisor: Sendable {
    /// How a connection ended, as `run()` learns it.
    enum Ending: Sendable {
        /// The client closed it (``QMPClient/close()``, a shutdown of its service).
        case byUser
        /// It broke; `reconnect` when the client is to reconnect rather than end.
        case lost(QMPError, reconnect: Bool)
    }

    private struct State {
        var link: ClientLink?
        var health: QMPConnectionHealth = .responsive
        var watchers: [UInt64: AsyncStream<QMPConnectionHealth>.Continuation] = [:]
        var nextWatcher: UInt64 = 0
        var closeRequested = false
        /// The end of a connection `run()` has not taken yet.
        var ending: Ending?
        /// Why the latest connection ended, for calls made after its handler is gone.
        var endReason: QMPError?
        var endingWaiter: CheckedContinuation<Ending, Never>?
        /// Closed for good: no reconnect follows, the streams have ended.
        var finished = false
        var finishWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let hub: EventHub
    let reconnects: Bool
    private let state = NIOLockedValueBox(State())

    init(hub: EventHub, reconnects: Bool) {
        self.hub = hub
        self.reconnects = reconnects
    }

    // MARK: - The current connection

    var link: ClientLink? { state.withLockedValue { $0.link } }

    /// Makes `link` the current connection, unless the client was closed meanwhile.
    func install(_ link: ClientLink) -> Bool {
        state.withLockedValue { state in
            guard !state.closeRequested, !state.finished else { return false }
            state.link = link
            return true
        }
    }

    var isCloseRequested: Bool { state.withLockedValue { $0.closeRequested } }

    /// What a call made after the connection ended fails with: a shutdown says so (as the
    /// handler says while it lives), anything else is a closed connection.
    func errorForLateCall(_ name: String) -> QMPError {
        guard var error = state.withLockedValue({ $0.endReason }), error.code == .shutDown else {
            return QMPError(code: .connectionClosed, message: "the connection is closed", command: name)
        }
        error.command = name
        error.message += "; the command was not sent"
        return error
    }

    /// Notes that the client is closing; returns the connection to close, if one is open.
    func requestClose() -> ClientLink? {
        state.withLockedValue { state in
            state.closeRequested = true
            return state.link
        }
    }

    // MARK: - Ends of connections

    /// Called by a connection's handler once, when the connection has ended.
    func linkEnded(_ reason: QMPError, byUser: Bool, endStreamsWithReason: Bool) {
        let (ending, waiter) = state.withLockedValue { state -> (Ending, CheckedContinuation<Ending, Never>?) in
            // Whether or not run() has started: it picks the break up when it does.
            let reconnect = !byUser && reconnects && !state.closeRequested && !state.finished
            let ending: Ending = byUser ? .byUser : .lost(reason, reconnect: reconnect)
            state.endReason = reason
            if let waiter = state.endingWaiter {
                state.endingWaiter = nil
                return (ending, waiter)
            }
            state.ending = ending
            return (ending, nil)
        }
        switch ending {
        case .lost(_, reconnect: true):
            setHealth(.reconnecting(attempt: 1))
        case .lost, .byUser:
            finish(endStreamsWithReason ? reason : nil)
        }
        waiter?.resume(returning: ending)
    }

    /// Waits for the current connection to end.
    func nextEnding() async -> Ending {
        await withCheckedContinuation { continuation in
            let ending = state.withLockedValue { state -> Ending? in
                if let ending = state.ending {
                    state.ending = nil
                    return ending
                }
                state.endingWaiter = continuation
                return nil
            }
            if let ending {
                continuation.resume(returning: ending)
            }
        }
    }

    /// Ends the client for good: event streams end (throwing `error` when there is one), the
    /// health becomes closed, and those waiting for the end return.
    func finish(_ error: QMPError?) {
        let (watchers, waiters) = state.withLockedValue { state in
            guard !state.finished else {
                return ([AsyncStream<QMPConnectionHealth>.Continuation](), [CheckedContinuation<Void, Never>]())
            }
            state.finished = true
            state.health = .closed
            defer {
                state.watchers.removeAll()
                state.finishWaiters.removeAll()
            }
            return (Array(state.watchers.values), state.finishWaiters)
        }
        hub.finish(error)
        for watcher in watchers {
            watcher.yield(.closed)
            watcher.finish()
        }
        waiters.forEach { $0.resume() }
    }

    var isFinished: Bool { state.withLockedValue { $0.finished } }

    /// Returns once the client has ended for good.
    func waitUntilFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLockedValue { state in
                if !state.finished {
                    state.finishWaiters.append(continuation)
                }
                return state.finished
            }
            if finished {
                continuation.resume()
            }
        }
    }

    // MARK: - Health

    var health: QMPConnectionHealth { state.withLockedValue { $0.health } }

    func setHealth(_ health: QMPConnectionHealth) {
        // Yielding under the lock keeps every watcher's order equal to the order of changes.
        state.withLockedValue { state in
            guard !state.finished, state.health != health else { return }
            state.health = health
            for watcher in state.watchers.values {
                watcher.yield(health)
            }
        }
    }

    func healthUpdates() -> AsyncStream<QMPConnectionHealth> {
        let (stream, continuation) = AsyncStream<QMPConnectionHealth>.makeStream(bufferingPolicy: .bufferingNewest(16))
        let (current, key) = state.withLockedValue { state -> (QMPConnectionHealth, UInt64?) in
            guard !state.finished else { return (.closed, nil) }
            state.nextWatcher += 1
            state.watchers[state.nextWatcher] = continuation
            return (state.health, state.nextWatcher)
        }
        continuation.yield(current)
        guard let key else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLockedValue { _ = $0.watchers.removeValue(forKey: key) }
        }
        return stream
    }
}
