/// QEMU's rate limit for events a guest can trigger at will: at most one per second of each
/// kind. The first goes out at once and starts a timer; what arrives while the timer runs
/// replaces what is held, so only the last survives; when the timer fires, the held event goes
/// out and the timer starts again, and with nothing held the kind is free again.
///
/// "Of each kind" is per event name, and for three events per a member of their data:
/// `VSERPORT_CHANGE` by `id`, `QUORUM_REPORT_BAD` by `node-name`, `MEMORY_DEVICE_SIZE_CHANGE`
/// by `qom-path`. A plain value: the server owns the timers.
public struct QMPEventThrottle: Sendable {
    /// The throttled events of QEMU 7.2 and the data member that tells their instances apart.
    public static let qemuThrottledEvents: [String: String?] = [
        "RTC_CHANGE": nil,
        "WATCHDOG": nil,
        "BALLOON_CHANGE": nil,
        "QUORUM_REPORT_BAD": "node-name",
        "QUORUM_FAILURE": nil,
        "VSERPORT_CHANGE": "id",
        "MEMORY_DEVICE_SIZE_CHANGE": "qom-path",
    ]

    /// One kind of throttled event: its name and, for some events, an instance.
    public struct Key: Sendable, Hashable {
        /// The event's name.
        public var name: String
        /// The value of the data member that tells instances apart, for the events that have one.
        public var instance: String?
    }

    /// What to do with an event offered to the throttle.
    public enum Decision: Sendable, Equatable {
        /// Not throttled, or the first of its kind: send it now.
        case send
        /// The first of its kind: send it now and start a timer for `key`.
        case sendAndStartTimer(Key)
        /// Held until the timer of its kind fires.
        case held
    }

    private let throttled: [String: String?]
    /// Kinds whose timer runs, with the event held for when it fires.
    private var running: [Key: QMPEvent?] = [:]

    /// A throttle for the given events, each with the member that tells its instances apart.
    public init(throttled: [String: String?] = Self.qemuThrottledEvents) {
        self.throttled = throttled
    }

    /// An event is about to be sent: may it go now?
    public mutating func offer(_ event: QMPEvent) -> Decision {
        guard let instanceMember = throttled[event.name] else { return .send }
        let key = Key(name: event.name, instance: instanceMember.flatMap { event.data?[$0]?.stringValue })
        if running[key] != nil {
            running[key] = .some(event)
            return .held
        }
        running[key] = .some(nil)
        return .sendAndStartTimer(key)
    }

    /// The timer of `key` fired. Returns the event to send now, if one was held; then the timer
    /// should start again. `nil`: the kind is free, no new timer.
    public mutating func timerFired(_ key: Key) -> QMPEvent? {
        guard let held = running[key] else { return nil }
        guard let event = held else {
            running.removeValue(forKey: key)
            return nil
        }
        running[key] = .some(nil)
        return event
    }
}
