import Logging
import NIOConcurrencyHelpers
import QAPI
import QMPCore
import QMPHistory
import QMPServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A simulated QEMU 7.2 on the server framework: it answers the lifecycle and identity commands
/// a management layer uses the way QEMU does, with the same events, and keeps its state
/// consistent between them. It is the embedded default of the `qmp` tool and a test double.
///
/// What it answers is checked against the real QEMU by the differential scenarios in the tests.
public final class QEMUSimulator: Sendable {
    /// The machine the simulator plays, as QEMU's command line would set it up.
    public struct Configuration: Sendable {
        /// The version the greeting and `query-version` report.
        public var version: QEMUVersion
        /// The greeting's and `query-version`'s package string.
        public var package: String
        /// `-name`; `query-name` answers `{}` without one.
        public var name: String?
        /// `-uuid`; all zeros by default, as in QEMU.
        public var uuid: String
        /// Start in run state `prelaunch` (QEMU's `-S`) rather than `running`.
        public var startPaused: Bool
        /// What `query-kvm` reports.
        public var kvmEnabled: Bool
        /// `-machine`: `none` (no buses, no CPUs) or `pc`.
        public var machine: MachineType
        /// `-smp N`: the CPUs the machine starts with (pc).
        public var cpus: Int
        /// `-smp maxcpus=M`: how many CPUs it can have (pc).
        public var maxCPUs: Int
        /// `-device`s plugged at start (pc: `qemu-xhci` and USB input devices).
        public var devices: [DeviceSpecification]
        /// Faults to inject into the calls of the commands the rules name, for testing how a
        /// client copes with a QEMU that misbehaves; none by default.
        public var faults: [FaultRule]

        /// A configuration; by default QEMU 7.2.22, paused, machine `none`.
        public init(
            version: QEMUVersion = QEMUVersion(major: 7, minor: 2, micro: 22),
            package: String = "swift-qmp simulator",
            name: String? = nil,
            uuid: String = "00000000-0000-0000-0000-000000000000",
            startPaused: Bool = true,
            kvmEnabled: Bool = true,
            machine: MachineType = .none,
            cpus: Int = 1,
            maxCPUs: Int = 1,
            devices: [DeviceSpecification] = [],
            faults: [FaultRule] = []
        ) {
            self.faults = faults
            self.machine = machine
            self.cpus = cpus
            self.maxCPUs = maxCPUs
            self.devices = devices
            self.version = version
            self.package = package
            self.name = name
            self.uuid = uuid
            self.startPaused = startPaused
            self.kvmEnabled = kvmEnabled
        }
    }

    /// QEMU's run states, as `query-status` names them.
    public enum RunState: String, Sendable {
        case prelaunch, running, paused, shutdown
    }

    struct Machine: Sendable {
        var runState: RunState
        var type: MachineType = .none
        var bootCPUs = 0
        var maxCPUs = 0
        /// Devices from -device and device_add, in plugging order.
        var devices: [Device] = []
        /// The next `child[N]` index of each bus.
        var busChildCounters: [String: Int] = [:]
        /// The next /machine/peripheral-anon/device[N].
        var anonymousDeviceCount = 0
        /// `-object`/`object-add` objects, in creation order.
        var objects: [(id: String, qomType: String, properties: JSONObject)] = []
        /// QEMU creates /objects with the first object and keeps it.
        var hasObjectsContainer = false
        /// Character devices added at run time by id: the backend type.
        var chardevs: [(id: String, backend: String)] = []
        /// Block nodes by node name.
        var blockNodes: [(name: String, driver: String, size: Int64?, readOnly: Bool)] = []
        /// Network backends by id.
        var netdevs: [(id: String, type: String)] = []
    }

    /// The configuration the simulator was made with.
    public let configuration: Configuration
    private let machine: NIOLockedValueBox<Machine>
    var machineState: NIOLockedValueBox<Machine> { machine }
    /// Called after `quit` has been answered: the embedding program decides what quitting means.
    private let onQuit: @Sendable () -> Void
    /// Calls so far of each command that a fault rule names.
    private let faultCallCounts = NIOLockedValueBox<[String: Int]>([:])

    /// A simulator; `onQuit` runs after `quit` has been answered.
    public init(configuration: Configuration = Configuration(), onQuit: @escaping @Sendable () -> Void = {}) {
        self.configuration = configuration
        self.machine = NIOLockedValueBox(Self.initialMachine(configuration))
        self.onQuit = onQuit
    }

    /// The machine's run state now.
    public var runState: RunState { machine.withLockedValue { $0.runState } }

    /// The greeting the simulator's server sends.
    public var greeting: QMPGreeting {
        QMPGreeting(version: configuration.version, package: configuration.package, capabilities: [.oob])
    }

    /// QEMU 7.2's `query-qmp-schema`, which the simulator answers with and checks arguments
    /// against.
    public static let schema: (json: JSONValue, introspection: QAPIIntrospection) = {
        // The generated source is checked by a test that regenerates it; it always decodes.
        let json = try! JSONValue(parsing: QEMU72Introspection.json)
        return (json, try! QAPIIntrospection(decoding: json))
    }()

    /// QEMU 7.2's argument check: its introspection with the integer widths and type names of
    /// 7.2's sources, which QEMU checks and words its errors with, from the bindings' history.
    static let argumentCheck: @Sendable (String, JSONObject) -> QMPErrorBody? = {
        let release = QEMUVersion(major: 7, minor: 2, micro: 0)
        // Unfilled, the check would take any width for every integer and answer otherwise than
        // QEMU 7.2: a history without 7.2 is a build that cannot simulate it.
        guard let sources = QMPSchemaHistory.shared.sourceTypes(in: release) else {
            preconditionFailure("the bindings' schema history has no QEMU \(release), which the simulator serves")
        }
        return QAPIValidator(introspection: schema.introspection.filling(from: sources)).qemuArgumentCheck()
    }()

    /// A server that serves this machine on `addresses` (see `QMPServer.run()`), checking
    /// every command's arguments against QEMU 7.2's schema with QEMU's messages before it runs.
    public func makeServer(
        listeningOn addresses: [QMPAddress],
        shutdownGracePeriod: Duration = .seconds(10),
        logger: Logger = Logger(label: "qmp", factory: { _ in SwiftLogNoOpLogHandler() }),
        onListening: @escaping @Sendable ([QMPAddress]) async -> Void = { _ in }
    ) -> QMPServer {
        QMPServer(
            configuration: .init(
                greeting: greeting,
                commands: commands(),
                addresses: addresses,
                checkArguments: Self.argumentCheck,
                shutdownGracePeriod: shutdownGracePeriod
            ),
            logger: logger,
            onListening: onListening
        )
    }

    // MARK: - Commands

    /// The simulator's command table. Its handlers answer from memory, so they are registered
    /// as immediate: they run on the client's event loop, without a task per command.
    ///
    /// The handlers of the commands it models are typed: they take the simulator's own command
    /// types (`SimulatedCommand`), whose arguments the server decodes after checking them against
    /// QEMU 7.2's schema, and answer with JSON in QEMU 7.2's shape, with the members in the order
    /// QEMU sends them.
    public func commands() -> QMPCommandTable {
        var table = QMPCommandTable()
        let configuration = self.configuration

        table.registerImmediate(Command.QueryStatus.self) { [machine] _, _ in
            Self.statusReply(machine.withLockedValue { $0.runState })
        }
        table.registerImmediate(Command.Stop.self) { [machine] _, request in
            let stopped = machine.withLockedValue { machine -> Bool in
                guard machine.runState == .running else { return false }
                machine.runState = .paused
                return true
            }
            if stopped {
                request.server.broadcast(Event.Stop())
            }
            return Self.empty
        }
        table.registerImmediate(Command.Cont.self) { [machine] _, request in
            let resumed = machine.withLockedValue { machine -> Bool in
                guard machine.runState == .prelaunch || machine.runState == .paused else { return false }
                machine.runState = .running
                return true
            }
            if resumed {
                request.server.broadcast(Event.Resume())
            }
            return Self.empty
        }
        table.registerImmediate(Command.SystemReset.self) { _, request in
            request.server.broadcast(Event.Reset(guest: false, reason: "host-qmp-system-reset"))
            return Self.empty
        }
        table.registerImmediate(Command.SystemPowerdown.self) { _, request in
            request.server.broadcast(Event.Powerdown())
            return Self.empty
        }
        // Not immediate: `onQuit` is the embedding program's, and may take its time.
        table.register(Command.Quit.self) { [machine, onQuit] _, request in
            machine.withLockedValue { $0.runState = .shutdown }
            request.server.broadcast(Event.Shutdown(guest: false, reason: "host-qmp-quit"))
            onQuit()
            return Self.empty
        }
        let version: JSONValue = [
            "qemu": [
                "major": .int(Int64(configuration.version.major)),
                "minor": .int(Int64(configuration.version.minor)),
                "micro": .int(Int64(configuration.version.micro)),
            ],
            "package": .string(configuration.package),
        ]
        table.registerImmediate(Command.QueryVersion.self) { _, _ in version }
        let name: JSONValue = configuration.name.map { ["name": .string($0)] } ?? [:]
        table.registerImmediate(Command.QueryName.self) { _, _ in name }
        table.registerImmediate(Command.QueryUUID.self) { _, _ in ["UUID": .string(configuration.uuid)] }
        table.registerImmediate(Command.QueryKVM.self) { _, _ in
            ["enabled": .bool(configuration.kvmEnabled), "present": .bool(configuration.kvmEnabled)]
        }
        table.registerImmediate(Command.HumanMonitorCommand.self) { [machine] command, _ in
            let line = command.commandLine
            switch line.split(separator: " ").map(String.init) {
            case ["info", "status"]:
                let state = machine.withLockedValue { $0.runState }
                return .string("VM status: \(Self.hmpStatus(state))\r\n")
            case ["info", "version"]:
                return .string("\(configuration.version)\(configuration.package)\r\n")
            case []:
                return ""
            default:
                return .string("unknown command: '\(line.split(separator: " ").first.map(String.init) ?? line)'\r\n")
            }
        }
        registerInventory(&table)
        // JSON: QEMU 7.2's recorded schema, served as recorded.
        table.registerImmediate("query-qmp-schema") { _ in Self.schema.json }
        // The rest of QEMU 7.2's commands exist, with their arguments checked, and answer as
        // QEMU 7.2 answered them on a machine without devices (recorded, so JSON), else with the
        // smallest reply their return type allows.
        for (name, entry) in Self.schema.introspection.commands
        where table.entries[name] == nil && name != "qmp_capabilities" {
            guard case .command(_, let returnType, let allowsOutOfBand) = entry.metaType else { continue }
            let recorded = Self.unsimulatedReplies[name]
            let synthesised = Self.schema.introspection.minimalValue(of: returnType)
            table.registerImmediate(name, allowsOutOfBand: allowsOutOfBand) { request in
                guard let recorded else { return synthesised }
                return try Self.replay(recorded, arguments: request.arguments)
            }
        }
        // query-commands is in the schema, so the loop above has registered it already.
        let names = JSONValue.array(table.names.map { ["name": .string($0)] })
        table.registerImmediate(Command.QueryCommands.self) { _, _ in names }
        guard !configuration.faults.isEmpty else { return table }
        return Self.injecting(configuration.faults, into: table, counter: faultCallCounts)
    }

    // MARK: - Helpers

    /// The reply of commands that return nothing.
    static let empty: JSONValue = .object([:])

    /// `query-status`'s answer in each run state, made once: it is the command management
    /// layers poll most.
    static func statusReply(_ state: RunState) -> JSONValue {
        switch state {
        case .prelaunch: statusPrelaunch
        case .running: statusRunning
        case .paused: statusPaused
        case .shutdown: statusShutdown
        }
    }

    private static let statusPrelaunch = makeStatusReply(.prelaunch)
    private static let statusRunning = makeStatusReply(.running)
    private static let statusPaused = makeStatusReply(.paused)
    private static let statusShutdown = makeStatusReply(.shutdown)

    private static func makeStatusReply(_ state: RunState) -> JSONValue {
        ["status": .string(state.rawValue), "singlestep": false, "running": .bool(state == .running)]
    }

    /// QEMU 7.2's recorded answers to the commands the simulator does not model.
    static let unsimulatedReplies: JSONObject = {
        // Recorded data, checked by the tests; it always parses.
        (try! JSONValue(parsing: QEMU72UnsimulatedReplies.json)).objectValue ?? [:]
    }()

    /// A recorded reply for this call: an error's placeholders (the recorded string arguments)
    /// become the caller's values, or "" where the caller gave none.
    static func replay(_ recorded: JSONValue, arguments: JSONObject) throws(QMPErrorBody) -> JSONValue {
        guard case .object(let error)? = recorded["reply"]?["error"] else {
            return recorded["reply"]?["return"] ?? [:]
        }
        var pairs: [(placeholder: String, value: String)] = []
        func collect(_ placeholder: JSONValue, _ actual: JSONValue?) {
            switch placeholder {
            case .string(let text) where text.hasPrefix("x-"):
                pairs.append((text, actual?.stringValue ?? ""))
            case .object(let members):
                for (key, value) in members { collect(value, actual?[key]) }
            default:
                break
            }
        }
        collect(recorded["arguments"] ?? [:], .object(arguments))
        var description = error["desc"]?.stringValue ?? ""
        // Longest first, so that x-node does not eat into x-node-name.
        for pair in pairs.sorted(by: { $0.placeholder.count > $1.placeholder.count }) where !pair.placeholder.isEmpty {
            description = description.replacing(pair.placeholder, with: pair.value)
        }
        throw QMPErrorBody(
            errorClass: error["class"]?.stringValue ?? QMPError.ErrorClass.genericError,
            description: description
        )
    }

    static func hmpStatus(_ state: RunState) -> String {
        switch state {
        case .running: "running"
        case .paused: "paused"
        case .prelaunch: "paused (prelaunch)"
        case .shutdown: "paused (shutdown)"
        }
    }
}
