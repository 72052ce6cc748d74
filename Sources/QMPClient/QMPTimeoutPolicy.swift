import QMPCore

/// A kind of command, as far as waiting goes: commands of one class take about as long as each
/// other, for the same reasons, and share their bounds in a ``QMPTimeoutPolicy``.
///
/// The classes the library knows are static members; a program may make its own
/// (`QMPCommandClass("backup")`) and give commands to it with
/// ``QMPTimeoutPolicy/commandClasses``.
public struct QMPCommandClass: Sendable, Hashable, CustomStringConvertible {
    /// The class's name, as it appears in errors, logs and metrics.
    public let name: String

    /// A class of this name.
    public init(_ name: String) { self.name = name }

    /// `query-*` and the QOM readers: answered from QEMU's memory.
    public static let query = QMPCommandClass("query")
    /// Everything no other class claims: `stop`, `cont`, `qom-set`, `system_reset`, …
    public static let control = QMPCommandClass("control")
    /// Block layer: `blockdev-*`, `block*`, `drive-*`, `nbd-server-*`, jobs, `transaction`.
    public static let block = QMPCommandClass("block")
    /// `migrate*` and the commands that save or load device state.
    public static let migration = QMPCommandClass("migration")
    /// `dump-guest-memory`, `pmemsave`, `memsave`, `screendump`: they write guest memory out.
    public static let dump = QMPCommandClass("dump")
    /// Hot-plug and hot-unplug of devices, netdevs, objects and chardevs, and the event that
    /// finishes an unplug (`DEVICE_DELETED`).
    public static let hotplug = QMPCommandClass("hotplug")
    /// Hot-plug of a VFIO device (`device_add` of a `vfio-*` driver).
    public static let vfio = QMPCommandClass("vfio")
    /// Guest agent commands (`guest-*`), answered by a program inside the guest.
    public static let guestAgent = QMPCommandClass("guest-agent")

    public var description: String { name }
}

/// How long a command of one class may take.
public struct QMPCommandBounds: Sendable, Hashable {
    /// The hard deadline: a call without a reply by then fails with a `QMPError` of code
    /// `QMPError.Code.timeout`, and its reply is dropped when it comes. `nil` waits as long as
    /// the connection lives.
    public var deadline: Duration?
    /// The soft threshold: a call still waiting then is logged at warning level and counted as
    /// slow, and goes on waiting. `nil` never calls it slow.
    public var slow: Duration?
    /// For run-and-wait calls (`execute(_:arguments:thenWaitFor:…)`): how long to wait for the
    /// event after the reply.
    public var event: Duration

    /// Bounds of these lengths.
    public init(deadline: Duration?, slow: Duration?, event: Duration = .seconds(30)) {
        self.deadline = deadline
        self.slow = slow
        self.event = event
    }
}

/// How long a client waits, for every step of a connection and every class of command.
///
/// One number for every command is what breaks in the field: a limit short enough to notice a
/// stuck monitor fails a VFIO hot-plug of a large guest, and one long enough for that leaves a
/// stuck query hanging for minutes. So each ``QMPCommandClass`` has its own bounds, with a soft
/// "slow" threshold that only logs and counts, and a hard deadline that fails the call.
///
/// A call's bound is, from the most to the least specific: the `timeout:` of the call itself,
/// the client's `commandTimeout` when set, then the bounds of the command's class here.
///
/// Deadlines count from the moment the command is handed to the connection. QEMU answers
/// in-band commands one after the other, so a command's wait includes the time of every in-band
/// command sent before it: a query behind a slow `blockdev-add` waits for it.
public struct QMPTimeoutPolicy: Sendable {
    /// The socket connect itself; `nil`: only the client's `connectTimeout` bounds it. A Unix
    /// socket whose listen backlog is full (another client holds QEMU's monitor) would
    /// otherwise wait without end.
    public var connect: Duration?
    /// From connected to the greeting; `nil`: only `connectTimeout`. A QEMU that accepts but
    /// does not greet is busy with another client or has a blocked main loop.
    public var greeting: Duration?
    /// From the greeting to the end of `qmp_capabilities`; `nil`: only `connectTimeout`.
    public var negotiation: Duration?
    /// How long the server may leave written bytes unread (the socket stays full) before the
    /// connection is given up as dead: the bound on a peer that stopped reading, which the
    /// calls' own deadlines do not cover for the bytes queued behind them.
    public var write: Duration
    /// The bounds of each class; a class missing here gets ``fallback``.
    public var classes: [QMPCommandClass: QMPCommandBounds]
    /// The bounds of a class not in ``classes``.
    public var fallback: QMPCommandBounds
    /// Commands given to a class by name, before the built-in rule (``commandClass(of:arguments:)``)
    /// is asked: e.g. `["x-my-slow-query": .block]`.
    public var commandClasses: [String: QMPCommandClass]

    /// A policy with every bound given.
    public init(
        connect: Duration? = nil,
        greeting: Duration? = nil,
        negotiation: Duration? = nil,
        write: Duration = .seconds(30),
        classes: [QMPCommandClass: QMPCommandBounds] = QMPTimeoutPolicy.defaultClasses,
        fallback: QMPCommandBounds = QMPTimeoutPolicy.defaultClasses[.control]!,
        commandClasses: [String: QMPCommandClass] = [:]
    ) {
        self.connect = connect
        self.greeting = greeting
        self.negotiation = negotiation
        self.write = write
        self.classes = classes
        self.fallback = fallback
        self.commandClasses = commandClasses
    }

    /// The defaults, and why each is what it is.
    public static let defaultClasses: [QMPCommandClass: QMPCommandBounds] = [
        // Answered from memory. The deadline is generous because a query waits behind every
        // in-band command sent before it; a silent monitor is told by wedge detection sooner.
        .query: QMPCommandBounds(deadline: .seconds(30), slow: .seconds(1)),
        // What this library used for every command before the policy existed.
        .control: QMPCommandBounds(deadline: .seconds(60), slow: .seconds(5)),
        // Opening a node can wait on remote storage (NBD, iSCSI, RBD) and flushing or resizing
        // a large image runs in the main loop; long copies are jobs and return at once.
        .block: QMPCommandBounds(deadline: .seconds(300), slow: .seconds(10)),
        // `migrate` starts a job and returns, but the commands that save or load device state
        // whole (`xen-save-devices-state`, a `migrate-incoming` of a file) run to the end.
        .migration: QMPCommandBounds(deadline: .seconds(300), slow: .seconds(10)),
        // Without `detach`, a dump writes all of guest memory in the main loop: its time grows
        // with guest RAM over disk bandwidth, tens of minutes for a large guest.
        .dump: QMPCommandBounds(deadline: .seconds(1800), slow: .seconds(30)),
        // `device_add` realizes the device before it answers; the unplug's DEVICE_DELETED
        // waits for the guest to let go of the device, which a busy or booting guest delays.
        .hotplug: QMPCommandBounds(deadline: .seconds(60), slow: .seconds(5), event: .seconds(60)),
        // A VFIO device maps all guest memory for DMA as it is plugged, pinning every page: time
        // that grows with guest RAM (fixed 5 s and 50 s bounds are what break large VFIO guests).
        .vfio: QMPCommandBounds(deadline: .seconds(600), slow: .seconds(30), event: .seconds(600)),
        // The agent runs inside the guest, behind the guest's own load; a freeze waits for its
        // filesystems to flush.
        .guestAgent: QMPCommandBounds(deadline: .seconds(60), slow: .seconds(5)),
    ]

    /// The default policy.
    public static let `default` = QMPTimeoutPolicy()

    /// The bounds of `commandClass`.
    public func bounds(of commandClass: QMPCommandClass) -> QMPCommandBounds {
        classes[commandClass] ?? fallback
    }

    /// The class of a command: ``commandClasses`` first, then the rule by name (and, for
    /// `device_add`, the driver).
    public func commandClass(of name: String, arguments: JSONObject? = nil) -> QMPCommandClass {
        if let assigned = commandClasses[name] {
            return assigned
        }
        return Self.builtInClass(of: name, arguments: arguments)
    }

    private static let hotplugCommands: Set<String> = [
        "device_add", "device_del", "netdev_add", "netdev_del", "object-add", "object-del", "object_add",
        "object_del", "chardev-add", "chardev-remove", "chardev-change", "cpu-add", "set-numa-node",
    ]
    private static let dumpCommands: Set<String> = ["dump-guest-memory", "pmemsave", "memsave", "screendump"]
    private static let queryCommands: Set<String> = [
        "qom-get", "qom-list", "qom-list-types", "qom-list-properties", "device-list-properties",
        "qmp_capabilities",
    ]
    private static let migrationCommands: Set<String> = [
        "xen-save-devices-state", "xen-load-devices-state", "x-colo-lost-heartbeat", "snapshot-save",
        "snapshot-load", "snapshot-delete",
    ]
    private static let blockCommands: Set<String> = ["transaction", "eject", "change", "change-medium"]

    /// The rule by name the library ships.
    static func builtInClass(of name: String, arguments: JSONObject?) -> QMPCommandClass {
        if name == "device_add", case .string(let driver)? = arguments?["driver"], driver.hasPrefix("vfio") {
            return .vfio
        }
        if hotplugCommands.contains(name) { return .hotplug }
        if dumpCommands.contains(name) { return .dump }
        if name.hasPrefix("guest-") { return .guestAgent }
        if name.hasPrefix("query-") || name.hasPrefix("x-query-") || queryCommands.contains(name) { return .query }
        if name.hasPrefix("migrate") || migrationCommands.contains(name) { return .migration }
        if name.hasPrefix("block") || name.hasPrefix("drive-") || name.hasPrefix("drive_")
            || name.hasPrefix("nbd-server") || name.hasPrefix("job-") || name.hasPrefix("x-blockdev")
            || name.hasPrefix("x-block-") || blockCommands.contains(name)
        {
            return .block
        }
        return .control
    }
}

/// How a client tells a monitor that has stopped answering.
///
/// A monitor is *wedged* when it owes an answer to an in-band command and has sent none for
/// ``silence``: QEMU was stopped (SIGSTOP, a debugger), or its main loop is blocked. That is
/// neither slow (answers still come, late) nor closed (the socket is gone); it is what hung
/// management stacks in the field, a socket that stays open and says nothing.
///
/// When out-of-band execution was negotiated and ``probeAfter`` is set, the client also probes
/// the monitor after that much in-band silence with an `exec-oob` of `query-yank` (QEMU 6.0 and later;
/// on older ones the command's refusal is the answer), which QEMU answers from its monitor
/// thread. Its answer tells a blocked main loop (the probe answered) from a process that does
/// not run at all (the probe silent too). QEMU stops reading a monitor that has 8 in-band
/// commands queued, so then the probe goes unread and a busy QEMU looks like a stopped one.
///
/// A command that legitimately holds QEMU's main loop longer than ``silence`` (a dump without
/// `detach`) makes the monitor wedged for that long: every other in-band command waits behind it.
public struct QMPWedgeDetection: Sendable, Hashable {
    /// In-band silence, while an answer is owed, after which the monitor counts as wedged; `nil`
    /// turns detection off.
    public var silence: Duration?
    /// In-band silence after which an out-of-band probe is sent; `nil` (the default) sends none.
    /// Off by default because the probe is a command on the wire that the program did not
    /// send: recordings show it, and scripted fakes must answer it.
    public var probeAfter: Duration?
    /// Whether calls made while the monitor is wedged fail at once with a `QMPError` of code
    /// `QMPError.Code.wedged`, unsent, instead of queueing behind the silence.
    public var failFast: Bool

    /// Detection with these bounds; by default wedged after 10 s of silence, without a probe.
    public init(silence: Duration? = .seconds(10), probeAfter: Duration? = nil, failFast: Bool = false) {
        self.silence = silence
        self.probeAfter = probeAfter
        self.failFast = failFast
    }

    /// No detection: the health stays ``QMPConnectionHealth/responsive`` while connected.
    public static let off = QMPWedgeDetection(silence: nil, probeAfter: nil)
}

/// How a long-lived client reconnects when its connection breaks (opt-in).
///
/// Reconnecting happens in the client's `run()`: give a policy only to a client that runs as a
/// `Service`. Until `run()` is called after a break, the client stays
/// ``QMPConnectionHealth/reconnecting(attempt:)`` and its calls fail unsent. After the break the
/// client tries again after ``initialDelay``, each delay ``multiplier`` times the last up to
/// ``maximumDelay``, until ``giveUpAfter`` has passed since the break; then `run()` throws the
/// break's error.
///
/// Calls in flight at the break fail with code `QMPError.Code.connectionClosed` and a message
/// that says they may or may not have run: the client never sends them again. Calls made while
/// it reconnects fail at once, unsent. Event subscriptions stay; each gets a
/// `QMPEvent.isConnectionGap` event once the connection is back, since events of the gap are
/// lost. QMP has no subscription on the server's side (a monitor sends every event), so there is
/// nothing to re-subscribe on the wire.
public struct QMPReconnectPolicy: Sendable, Hashable {
    /// The wait before the first attempt.
    public var initialDelay: Duration
    /// The longest wait between attempts.
    public var maximumDelay: Duration
    /// How much each wait grows over the last.
    public var multiplier: Double
    /// How long after the break to keep trying; `nil` tries as long as `run()` runs.
    public var giveUpAfter: Duration?

    /// A policy; by default 100 ms growing twofold to 5 s, giving up after 5 minutes.
    public init(
        initialDelay: Duration = .milliseconds(100),
        maximumDelay: Duration = .seconds(5),
        multiplier: Double = 2,
        giveUpAfter: Duration? = .seconds(300)
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
        self.giveUpAfter = giveUpAfter
    }

    /// The wait before attempt `attempt` (0 for the first).
    public func delay(beforeAttempt attempt: Int) -> Duration {
        var delay = initialDelay
        for _ in 0..<attempt {
            delay = delay * multiplier
            if delay >= maximumDelay { return maximumDelay }
        }
        return min(delay, maximumDelay)
    }
}

/// How a connection is doing, as far as the client can tell.
public enum QMPConnectionHealth: Sendable, Hashable, CustomStringConvertible {
    /// Connected, and answering (or owing nothing).
    case responsive
    /// Connected, but silent for longer than ``QMPWedgeDetection/silence`` while it owes an
    /// answer.
    case wedged(QMPWedge)
    /// The connection broke; a reconnect is under way (attempt numbers start at 1).
    case reconnecting(attempt: Int)
    /// Closed for good.
    case closed

    public var description: String {
        switch self {
        case .responsive: "responsive"
        case .wedged(let wedge): "wedged (\(wedge))"
        case .reconnecting(let attempt): "reconnecting (attempt \(attempt))"
        case .closed: "closed"
        }
    }

    /// Whether this is ``wedged(_:)``.
    public var isWedged: Bool {
        if case .wedged = self { return true }
        return false
    }
}

/// What is known of a wedged monitor.
public struct QMPWedge: Sendable, Hashable, CustomStringConvertible {
    /// What the out-of-band probe said.
    public enum Probe: Sendable, Hashable {
        /// No probe: OOB is not negotiated, or probing is off.
        case notSent
        /// The probe answered after the in-band silence began: QEMU runs, its main loop does not
        /// answer.
        case answered
        /// The probe is unanswered too: QEMU does not run (stopped, or its monitor thread is
        /// stuck), or its monitor stopped reading behind a full in-band queue.
        case silent
    }

    /// How long the monitor had been silent when it was found wedged.
    public var silentFor: Duration
    /// In-band commands owed an answer at that moment, abandoned ones included.
    public var owedAnswers: Int
    /// What the out-of-band probe said.
    public var probe: Probe

    public var description: String {
        let probeText =
            switch probe {
            case .notSent: ""
            case .answered: "; the out-of-band probe answers, the main loop does not"
            case .silent: "; the out-of-band probe is unanswered too"
            }
        return "no in-band answer for \(silentFor) with \(owedAnswers) owed\(probeText)"
    }
}
