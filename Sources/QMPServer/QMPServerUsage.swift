import NIOConcurrencyHelpers

/// What a server's connections hold together, and what its limits turned away: the account
/// behind ``QMPServer/Configuration/memoryBudget`` and ``QMPServer/statistics``.
///
/// Memory is counted by the capacity of the buffers that hold it, not by the bytes written into
/// them: a buffer grown to take one more event holds its whole capacity.
final class QMPServerUsage: Sendable {
    private struct State {
        var bufferedBytes = 0
        var peakBufferedBytes = 0
        var eventsDropped = 0
        var connectionsRefused = 0
        var connectionsClosedForMemory = 0
    }

    private let state = NIOLockedValueBox(State())
    let budget: Int
    /// What events and input may take together: a sixteenth of the budget stays free for
    /// replies, which are never dropped and so are charged whether they fit or not.
    private let droppableBudget: Int

    init(budget: Int) {
        self.budget = budget
        self.droppableBudget = budget - budget / 16
    }

    /// Takes `bytes` for events or input from the budget when they fit in what is left for
    /// those; `false` when they do not.
    func reserve(_ bytes: Int) -> Bool {
        guard bytes > 0 else {
            release(-bytes)
            return true
        }
        return state.withLockedValue { state in
            guard state.bufferedBytes + bytes <= droppableBudget else { return false }
            state.bufferedBytes += bytes
            state.peakBufferedBytes = max(state.peakBufferedBytes, state.bufferedBytes)
            return true
        }
    }

    /// Takes `bytes` from the budget whether or not they fit: for memory that is held already,
    /// or that must be (a reply is never dropped).
    func charge(_ bytes: Int) {
        guard bytes != 0 else { return }
        state.withLockedValue { state in
            state.bufferedBytes += bytes
            state.peakBufferedBytes = max(state.peakBufferedBytes, state.bufferedBytes)
        }
    }

    func release(_ bytes: Int) {
        guard bytes != 0 else { return }
        state.withLockedValue { $0.bufferedBytes -= bytes }
    }

    func droppedEvent() {
        state.withLockedValue { $0.eventsDropped += 1 }
    }

    func refusedConnection() {
        state.withLockedValue { $0.connectionsRefused += 1 }
    }

    func closedConnectionForMemory() {
        state.withLockedValue { $0.connectionsClosedForMemory += 1 }
    }

    func statistics(connections: Int) -> QMPServer.Statistics {
        state.withLockedValue { state in
            QMPServer.Statistics(
                connections: connections,
                connectionsRefused: state.connectionsRefused,
                connectionsClosedForMemory: state.connectionsClosedForMemory,
                eventsDropped: state.eventsDropped,
                bufferedBytes: state.bufferedBytes,
                peakBufferedBytes: state.peakBufferedBytes
            )
        }
    }
}

extension QMPServer {
    /// What a server holds and what its limits turned away since it was made, for an operator.
    public struct Statistics: Sendable, Hashable {
        /// Clients connected right now.
        public var connections: Int
        /// Clients closed as soon as they connected, because
        /// ``QMPServer/Configuration/maximumConnections`` were connected already.
        public var connectionsRefused: Int
        /// Clients whose input would have taken the server past its
        /// ``QMPServer/Configuration/memoryBudget``: each got an error and was disconnected.
        public var connectionsClosedForMemory: Int
        /// Events not sent to a client, summed over the clients, because the client was not
        /// reading them fast enough: its backlog was at ``QMPServer/Configuration/eventBacklogLimit``
        /// or the server's at its ``QMPServer/Configuration/memoryBudget``.
        public var eventsDropped: Int
        /// Memory the connections hold in buffers right now (see
        /// ``QMPServer/Configuration/memoryBudget``).
        public var bufferedBytes: Int
        /// The most ``bufferedBytes`` has been.
        public var peakBufferedBytes: Int

        public init(
            connections: Int = 0,
            connectionsRefused: Int = 0,
            connectionsClosedForMemory: Int = 0,
            eventsDropped: Int = 0,
            bufferedBytes: Int = 0,
            peakBufferedBytes: Int = 0
        ) {
            self.connections = connections
            self.connectionsRefused = connectionsRefused
            self.connectionsClosedForMemory = connectionsClosedForMemory
            self.eventsDropped = eventsDropped
            self.bufferedBytes = bufferedBytes
            self.peakBufferedBytes = peakBufferedBytes
        }
    }

    /// What the server holds now and what its limits turned away so far.
    public var statistics: Statistics {
        usage.statistics(connections: connectionCount)
    }
}
