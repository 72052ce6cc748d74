/// How long the client waits for the agent, by kind of command.
///
/// The agent answers most commands at once, but a few wait on the guest's kernel: freezing
/// filesystems flushes every dirty page, trimming walks every free block. One limit for all
/// would either give up on a freeze that is merely slow or wait far too long for a ping to an
/// agent that is not running, which is the common case while a guest boots.
public struct QGATimeouts: Sendable, Hashable {
    /// The wait for the reply to `guest-sync-delimited`, which precedes commands whenever the
    /// stream may be out of step.
    public var synchronization: Duration
    /// Commands the agent answers from memory: `guest-ping`, `guest-info`, `guest-get-time`, …
    public var quick: Duration
    /// Every command no other class names.
    public var standard: Duration
    /// Commands that wait on the guest's filesystems: `guest-fsfreeze-*`, `guest-fstrim`.
    public var long: Duration
    /// Limits for single commands, by name; they win over the classes.
    public var overrides: [String: Duration]

    /// Limits of your own; the defaults suit an agent in a guest on an unloaded host.
    public init(
        synchronization: Duration = .seconds(5),
        quick: Duration = .seconds(5),
        standard: Duration = .seconds(30),
        long: Duration = .seconds(300),
        overrides: [String: Duration] = [:]
    ) {
        self.synchronization = synchronization
        self.quick = quick
        self.standard = standard
        self.long = long
        self.overrides = overrides
    }

    /// The limit for the command called `name`.
    public func timeout(for name: String) -> Duration {
        if let override = overrides[name] { return override }
        if Self.quickCommands.contains(name) { return quick }
        if name.hasPrefix("guest-fsfreeze-") || name == "guest-fstrim" { return long }
        return standard
    }

    static let quickCommands: Set<String> = [
        "guest-ping", "guest-info", "guest-get-time", "guest-get-osinfo", "guest-get-host-name",
        "guest-get-timezone", "guest-sync", "guest-sync-delimited", "guest-fsfreeze-status",
        "guest-exec-status",
    ]

    /// Commands the agent does not answer when they succeed: the guest goes down or to sleep
    /// before a reply could leave it. The client sends them and waits only for the write.
    public static let commandsWithoutReply: Set<String> = [
        "guest-shutdown", "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid",
    ]
}
