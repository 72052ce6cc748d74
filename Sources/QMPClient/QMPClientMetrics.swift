import CoreMetrics
import NIOConcurrencyHelpers
import QMPCore

/// The metrics of one client, through swift-metrics: whatever backend the program bootstrapped,
/// or the factory the configuration names.
///
/// Names and dimensions (all counters unless said otherwise):
/// - `qmp_client_calls_total` {command, class, outcome}: each call once it ends; the outcome is
///   `success`, `error` (an error reply), `timeout`, `cancelled`, `connection_lost`, `wedged`
///   (refused unsent while wedged) or `refused` (not sent: not negotiated, unsupported, closed).
/// - `qmp_client_call_duration` {command, class}, a timer: time to the reply, for calls that got one.
/// - `qmp_client_timeouts_total` {command, class}: calls failed at their deadline.
/// - `qmp_client_slow_calls_total` {command, class}: calls that passed their slow threshold.
/// - `qmp_client_late_replies_total`: replies dropped because their call had stopped waiting.
/// - `qmp_client_events_dropped_total`: events a full subscription buffer dropped.
/// - `qmp_client_wedged_total`: times the monitor was found wedged.
/// - `qmp_client_reconnects_total` {outcome}: `success` or `failure` per attempt.
/// - `qmp_client_bytes_total` {direction}: `sent` or `received`.
///
/// Command names come from QEMU's schema or the caller, so the dimension stays as small as the
/// set of commands a program uses.
final class QMPClientMetrics: Sendable {
    struct CommandMetrics: Sendable {
        let duration: CoreMetrics.Timer
        let timeouts: Counter
        let slow: Counter
    }

    private struct Key: Hashable {
        var command: String
        var commandClass: String
    }

    private struct OutcomeKey: Hashable {
        var key: Key
        var outcome: String
    }

    private let factory: any MetricsFactory
    let lateReplies: Counter
    let eventsDropped: Counter
    let wedged: Counter
    let reconnectSuccesses: Counter
    let reconnectFailures: Counter
    let bytesSent: Counter
    let bytesReceived: Counter
    private let perCommand = NIOLockedValueBox([Key: CommandMetrics]())
    private let outcomes = NIOLockedValueBox([OutcomeKey: Counter]())

    init(factory: (any MetricsFactory)?) {
        let factory = factory ?? MetricsSystem.factory
        self.factory = factory
        lateReplies = Counter(label: "qmp_client_late_replies_total", factory: factory)
        eventsDropped = Counter(label: "qmp_client_events_dropped_total", factory: factory)
        wedged = Counter(label: "qmp_client_wedged_total", factory: factory)
        reconnectSuccesses = Counter(
            label: "qmp_client_reconnects_total",
            dimensions: [("outcome", "success")],
            factory: factory
        )
        reconnectFailures = Counter(
            label: "qmp_client_reconnects_total",
            dimensions: [("outcome", "failure")],
            factory: factory
        )
        bytesSent = Counter(label: "qmp_client_bytes_total", dimensions: [("direction", "sent")], factory: factory)
        bytesReceived = Counter(
            label: "qmp_client_bytes_total",
            dimensions: [("direction", "received")],
            factory: factory
        )
    }

    func command(_ name: String, _ commandClass: QMPCommandClass) -> CommandMetrics {
        let key = Key(command: name, commandClass: commandClass.name)
        let factory = self.factory
        return perCommand.withLockedValue { table in
            if let metrics = table[key] { return metrics }
            let dimensions = [("command", name), ("class", commandClass.name)]
            let metrics = CommandMetrics(
                duration: CoreMetrics.Timer(
                    label: "qmp_client_call_duration",
                    dimensions: dimensions,
                    factory: factory
                ),
                timeouts: Counter(label: "qmp_client_timeouts_total", dimensions: dimensions, factory: factory),
                slow: Counter(label: "qmp_client_slow_calls_total", dimensions: dimensions, factory: factory)
            )
            table[key] = metrics
            return metrics
        }
    }

    func recordOutcome(_ name: String, _ commandClass: QMPCommandClass, _ outcome: String) {
        let key = OutcomeKey(key: Key(command: name, commandClass: commandClass.name), outcome: outcome)
        let factory = self.factory
        let counter = outcomes.withLockedValue { table in
            if let counter = table[key] { return counter }
            let counter = Counter(
                label: "qmp_client_calls_total",
                dimensions: [("command", name), ("class", commandClass.name), ("outcome", outcome)],
                factory: factory
            )
            table[key] = counter
            return counter
        }
        counter.increment()
    }

    /// The outcome dimension of a call that ended with `result`.
    static func outcome(of result: Result<JSONValue, QMPError>) -> String {
        switch result {
        case .success: return "success"
        case .failure(let error):
            switch error.code {
            case .commandFailed: return "error"
            case .timeout: return "timeout"
            case .cancelled: return "cancelled"
            case .connectionClosed, .shutDown: return "connection_lost"
            case .wedged: return "wedged"
            default: return "refused"
            }
        }
    }
}
