import CQMPSystem
import CoreMetrics
import Foundation
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import QMPClient
import QMPCore
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Answers negotiation, `ping` with `pong`, and nothing else: other commands hang. A `release`
/// answers first every command that was left hanging, in order (as QEMU answers late), with
/// `"late"`, then itself with `"released"`.
private func releasingServer() -> (FakeServer.Responder, NIOLockedValueBox<[String]>) {
    let hanging = NIOLockedValueBox<[JSONValue]>([])
    let received = NIOLockedValueBox<[String]>([])
    let respond = FakeServer.negotiating { command in
        let name = command["execute"]?.stringValue ?? command["exec-oob"]?.stringValue ?? "?"
        received.withLockedValue { $0.append(name) }
        switch name {
        case "ping":
            return FakeServer.reply("pong", to: command)
        case "release":
            let owed = hanging.withLockedValue { owed in
                defer { owed.removeAll() }
                return owed
            }
            return owed.flatMap { FakeServer.reply("late", to: $0) } + FakeServer.reply("released", to: command)
        case "query-yank" where command["exec-oob"] != nil:
            return FakeServer.reply([], to: command)
        case "disconnect":
            return []
        case "shut-down":
            let event: JSONValue = [
                "event": "SHUTDOWN", "data": ["guest": false], "timestamp": ["seconds": 1, "microseconds": 0],
            ]
            return FakeServer.bytes(event) + FakeServer.reply([:], to: command)
        default:
            hanging.withLockedValue { $0.append(command) }
            return nil
        }
    }
    return (respond, received)
}

private func policy(
    query: Duration? = .seconds(5),
    control: Duration? = .seconds(5),
    slow: Duration? = nil
) -> QMPTimeoutPolicy {
    var policy = QMPTimeoutPolicy()
    policy.classes[.query] = QMPCommandBounds(deadline: query, slow: slow)
    policy.classes[.control] = QMPCommandBounds(deadline: control, slow: slow)
    return policy
}

private func configuration(
    timeouts: QMPTimeoutPolicy = policy(),
    commandTimeout: Duration? = nil,
    wedge: QMPWedgeDetection = .off,
    reconnect: QMPReconnectPolicy? = nil,
    metrics: (any MetricsFactory)? = nil
) -> QMPClient.Configuration {
    QMPClient.Configuration(
        connectTimeout: .seconds(10),
        commandTimeout: commandTimeout,
        timeouts: timeouts,
        wedgeDetection: wedge,
        reconnect: reconnect,
        metricsFactory: metrics
    )
}

/// Log entries with their metadata.
final class CapturedLog: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let recorded = NIOLockedValueBox<[Entry]>([])
    var entries: [Entry] { recorded.withLockedValue { $0 } }

    func handler(level: Logger.Level) -> Handler { Handler(log: self, logLevel: level) }

    struct Handler: LogHandler {
        let log: CapturedLog
        var logLevel: Logger.Level
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let values = (event.metadata ?? [:]).mapValues { "\($0)" }
            log.recorded.withLockedValue {
                $0.append(Entry(level: event.level, message: event.message.description, metadata: values))
            }
        }
    }
}

/// Runs `body` and returns the error it threw with how long it took.
private func timedFailure(_ body: () async throws -> Void) async -> (QMPError?, Duration) {
    let clock = ContinuousClock()
    let start = clock.now
    do {
        try await body()
        return (nil, clock.now - start)
    } catch {
        return (error as? QMPError, clock.now - start)
    }
}

@Suite("The timeout policy: classes of commands")
struct CommandClassTests {
    @Test("commands fall in the class their name (and a device's driver) says")
    func builtInClasses() {
        let policy = QMPTimeoutPolicy.default
        #expect(policy.commandClass(of: "query-status") == .query)
        #expect(policy.commandClass(of: "qom-get") == .query)
        #expect(policy.commandClass(of: "blockdev-add") == .block)
        #expect(policy.commandClass(of: "block_resize") == .block)
        #expect(policy.commandClass(of: "drive-mirror") == .block)
        #expect(policy.commandClass(of: "migrate") == .migration)
        #expect(policy.commandClass(of: "migrate-incoming") == .migration)
        #expect(policy.commandClass(of: "dump-guest-memory") == .dump)
        #expect(policy.commandClass(of: "device_add", arguments: ["driver": "virtio-net-pci"]) == .hotplug)
        #expect(policy.commandClass(of: "device_add", arguments: ["driver": "vfio-pci"]) == .vfio)
        #expect(policy.commandClass(of: "device_del") == .hotplug)
        #expect(policy.commandClass(of: "guest-ping") == .guestAgent)
        #expect(policy.commandClass(of: "stop") == .control)
    }

    @Test("a program can give a command to another class, or make a class of its own")
    func assignedClasses() {
        var policy = QMPTimeoutPolicy()
        let backup = QMPCommandClass("backup")
        policy.commandClasses = ["query-status": .block, "x-backup": backup]
        policy.classes[backup] = QMPCommandBounds(deadline: .seconds(7), slow: nil)
        #expect(policy.commandClass(of: "query-status") == .block)
        #expect(policy.bounds(of: policy.commandClass(of: "x-backup")).deadline == .seconds(7))
        #expect(policy.bounds(of: QMPCommandClass("unknown")) == policy.fallback)
    }

    @Test("every class has a deadline, a slow threshold below it, and long work gets long bounds")
    func defaults() {
        let policy = QMPTimeoutPolicy.default
        for commandClass in [QMPCommandClass.query, .control, .block, .migration, .dump, .hotplug, .vfio, .guestAgent] {
            let bounds = policy.bounds(of: commandClass)
            #expect(bounds.deadline != nil)
            #expect(bounds.slow != nil)
            if let deadline = bounds.deadline, let slow = bounds.slow { #expect(slow < deadline) }
        }
        #expect(policy.bounds(of: .vfio).deadline! > policy.bounds(of: .hotplug).deadline!)
        #expect(policy.bounds(of: .dump).deadline! > policy.bounds(of: .block).deadline!)
        #expect(policy.bounds(of: .query).deadline! < policy.bounds(of: .control).deadline!)
    }

    @Test("the reconnect back-off grows by its multiplier up to its maximum")
    func backOff() {
        let policy = QMPReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(1), multiplier: 2)
        #expect(policy.delay(beforeAttempt: 0) == .milliseconds(100))
        #expect(policy.delay(beforeAttempt: 1) == .milliseconds(200))
        #expect(policy.delay(beforeAttempt: 3) == .milliseconds(800))
        #expect(policy.delay(beforeAttempt: 4) == .seconds(1))
        #expect(policy.delay(beforeAttempt: 50) == .seconds(1))
    }
}

@Suite("The timeout policy: deadlines of calls")
struct CallDeadlineTests {
    @Test("a call ends at its class's deadline, with an error naming the command, the class and the bound")
    func classDeadline() async throws {
        let (respond, _) = releasingServer()
        let timeouts = policy(query: .milliseconds(300), control: .seconds(5))
        try await FakeServer.withClient(configuration: configuration(timeouts: timeouts), respond: respond) {
            (client) async throws in
            let (error, elapsed) = await timedFailure { try await client.execute("query-hangs") }
            #expect(error?.code == .timeout)
            #expect(error?.command == "query-hangs")
            #expect(error?.message.contains("0.3 s") == true)
            #expect(error?.message.contains("class query") == true)
            #expect(error?.message.contains("deadline of its class") == true)
            #expect(elapsed >= .milliseconds(300))
        }
    }

    @Test("the call's own timeout wins over the client's commandTimeout, which wins over the class")
    func precedence() async throws {
        let (respond, _) = releasingServer()
        let timeouts = policy(query: .seconds(20), control: .seconds(20))
        let setup = configuration(timeouts: timeouts, commandTimeout: .milliseconds(300))
        try await FakeServer.withClient(configuration: setup, respond: respond) { (client) async throws in
            let (own, ownElapsed) = await timedFailure {
                try await client.execute("hang", timeout: .milliseconds(100))
            }
            #expect(own?.message.contains("the call's own timeout") == true)
            #expect(ownElapsed < .seconds(15))
            let (clientWide, _) = await timedFailure { try await client.execute("hang") }
            #expect(clientWide?.message.contains("the client's commandTimeout") == true)
        }
    }

    @Test("a late reply after a timeout is dropped: the next call gets its own reply, in band by order")
    func lateReplyDropped() async throws {
        let (respond, _) = releasingServer()
        let metrics = TestMetrics()
        let setup = configuration(metrics: metrics)
        try await FakeServer.withClient(configuration: setup, respond: respond) { (client) async throws in
            for _ in 0..<3 {
                let (error, _) = await timedFailure { try await client.execute("hang", timeout: .milliseconds(50)) }
                #expect(error?.code == .timeout)
            }
            // The server now answers the three hanging commands, late, before this one.
            #expect(try await client.execute("release") == "released")
            #expect(try await client.execute("ping") == "pong")
            #expect(metrics.counterTotal(label: "qmp_client_late_replies_total") == 3)
        }
    }

    @Test("a call past its slow threshold is logged and counted, and still succeeds")
    func slowThreshold() async throws {
        let (respond, _) = releasingServer()
        let metrics = TestMetrics()
        let log = CapturedLog()
        let timeouts = policy(query: .seconds(10), control: .seconds(10), slow: .milliseconds(100))
        try await FakeServer.with(respond: respond) { (server) async throws in
            let client = try await QMPClient.connect(
                to: server.address,
                configuration: configuration(timeouts: timeouts, metrics: metrics),
                logger: Logger(label: "test") { _ in log.handler(level: .debug) }
            )
            let slowCalls = {
                metrics.counterTotal(
                    label: "qmp_client_slow_calls_total",
                    dimensions: [("command", "hang"), ("class", "control")]
                )
            }
            async let slowCall = client.execute("hang")
            // The call stays unanswered until it has been seen to be slow: a fixed pause would
            // race the threshold's timer on a loaded machine.
            let patience = ContinuousClock.now + .seconds(10)
            while slowCalls() == 0 && ContinuousClock.now < patience {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await client.execute("release") == "released")
            #expect(try await slowCall == "late")
            #expect(log.entries.contains { $0.message == "QMP call is slow" && $0.metadata["qmp_command"] == "hang" })
            #expect(slowCalls() == 1)
            await client.close()
        }
    }

    @Test("a checked call's first schema fetch ends at the call's deadline, not the fetch's")
    func schemaFetchBoundedByCall() async throws {
        let (respond, _) = releasingServer()
        var setup = configuration(timeouts: policy(query: .seconds(30), control: .seconds(30)))
        setup.checksCommands = true
        try await FakeServer.withClient(configuration: setup, respond: respond) { (client) async throws in
            let (error, elapsed) = await timedFailure {
                try await client.execute("stop", timeout: .milliseconds(200))
            }
            #expect(error?.code == .timeout)
            #expect(error?.message.contains("schema") == true)
            #expect(elapsed < .seconds(20))
        }
    }
}

@Suite("The timeout policy: connecting and writing")
struct ConnectAndWriteDeadlineTests {
    @Test("a Unix socket whose backlog is full fails at the connect bound instead of blocking")
    func fullBacklog() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-backlog-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("full.sock").path
        // A listener that never accepts, with the smallest backlog: one queued connect fills it.
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 0)
            .serverChannelOption(.autoRead, value: false)
            .bind(unixDomainSocketPath: path)
            .get()
        let filler = cqmp_connect_unix(path)
        #expect(filler >= 0)
        defer {
            if filler >= 0 { close(filler) }
            listener.close(promise: nil)
        }
        var timeouts = QMPTimeoutPolicy()
        timeouts.connect = .milliseconds(300)
        let (error, elapsed) = await timedFailure {
            _ = try await QMPClient.connect(
                to: .unixSocket(path: path),
                configuration: configuration(timeouts: timeouts)
            )
        }
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("backlog") == true)
        #expect(elapsed < .seconds(10))
    }

    #if os(Linux)
    @Test("a socket file nobody listens on is reported as left behind, not as a busy monitor")
    func refusedHint() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-stale-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("stale.sock").path
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false)
            .get()
        try await listener.close()
        // NIO removes the file when it closes the listener; put a socket file back, unbound.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            path.utf8CString.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        close(stale)
        let (error, _) = await timedFailure {
            _ = try await QMPClient.connect(to: .unixSocket(path: path), configuration: configuration())
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("left behind") == true)
        #expect(error?.message.contains("another client") == false)
    }
    #endif

    @Test("a server that stops reading fails the connection at the write deadline")
    func writeDeadline() async throws {
        var pair: [CInt] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        let server = pair[1]
        defer { close(server) }
        // Greets and answers negotiation in advance, then never reads again.
        let script = Array(
            (String(decoding: FakeServer.qemuGreeting, as: UTF8.self) + #"{"return": {}, "id": 0}"# + "\r\n").utf8
        )
        _ = script.withUnsafeBytes { write(server, $0.baseAddress, $0.count) }
        var timeouts = policy(query: .seconds(60), control: .seconds(60))
        timeouts.write = .milliseconds(300)
        let client = try await QMPClient.connect(
            connectedSocket: pair[0],
            configuration: configuration(timeouts: timeouts)
        )
        let big = String(repeating: "x", count: 1 << 20)
        let (error, elapsed) = await timedFailure {
            for _ in 0..<16 {
                try await client.execute("hang", arguments: ["filler": .string(big)], timeout: .seconds(60))
            }
        }
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("write deadline") == true)
        #expect(elapsed < .seconds(30))
        await client.close()
    }
}

@Suite("Wedged monitors")
struct WedgeTests {
    @Test(
        "a monitor silent past the bound is wedged, and fails new calls fast when asked; owed calls keep their deadline"
    )
    func wedgedFailsFast() async throws {
        let (respond, _) = releasingServer()
        let wedge = QMPWedgeDetection(silence: .milliseconds(200), probeAfter: nil, failFast: true)
        try await FakeServer.withClient(configuration: configuration(wedge: wedge), respond: respond) {
            (client) async throws in
            #expect(client.health == .responsive)
            let clock = ContinuousClock()
            let start = clock.now
            var updates = client.healthUpdates().makeAsyncIterator()
            async let hanging = timedFailure { try await client.execute("hang", timeout: .seconds(2)) }
            var wedgedAt: ContinuousClock.Instant?
            while let health = await updates.next() {
                if health.isWedged {
                    wedgedAt = clock.now
                    break
                }
            }
            let found = try #require(wedgedAt) - start
            #expect(found >= .milliseconds(200))
            #expect(found < .seconds(10))
            guard case .wedged(let what) = client.health else {
                Issue.record("not wedged: \(client.health)")
                return
            }
            #expect(what.owedAnswers == 1)
            #expect(what.probe == .notSent)

            // Refused unsent, not queued behind the silence (which would end in a timeout).
            let (refused, _) = await timedFailure { try await client.execute("ping") }
            #expect(refused?.code == .wedged)
            #expect(refused?.message.contains("not sent") == true)

            let (timedOut, _) = await hanging
            #expect(timedOut?.code == .timeout)
        }
    }

    @Test("with OOB, the probe tells a blocked main loop (probe answered) from a silent process")
    func probe() async throws {
        let (respond, received) = releasingServer()
        let wedge = QMPWedgeDetection(silence: .milliseconds(300), probeAfter: .milliseconds(100))
        try await FakeServer.withClient(configuration: configuration(wedge: wedge), respond: respond) {
            (client) async throws in
            async let hanging: JSONValue = client.execute("hang")
            #expect(try await eventually { client.health.isWedged })
            guard case .wedged(let what) = client.health else { return }
            #expect(what.probe == .answered)
            #expect(received.withLockedValue { $0.contains("query-yank") })
            #expect(try await client.execute("release", timeout: .seconds(10)) == "released")
            #expect(try await hanging == "late")
            #expect(try await eventually { client.health == .responsive })
        }
    }
}

@Suite("Metrics and logs")
struct MetricsAndLogTests {
    @Test("calls are counted by command, class and outcome, with their latency and the bytes on the wire")
    func callMetrics() async throws {
        let metrics = TestMetrics()
        let respond = FakeServer.negotiating { command in
            switch command["execute"] {
            case "ping": FakeServer.reply("pong", to: command)
            case "fail":
                FakeServer.bytes(["error": ["class": "GenericError", "desc": "no"]])
            default: nil
            }
        }
        try await FakeServer.withClient(configuration: configuration(metrics: metrics), respond: respond) {
            (client) async throws in
            try await client.execute("ping")
            try await client.execute("ping")
            _ = await timedFailure { try await client.execute("fail") }
            _ = await timedFailure { try await client.execute("hang", timeout: .milliseconds(50)) }
        }
        func calls(_ command: String, _ outcome: String) -> Int64 {
            metrics.counterTotal(
                label: "qmp_client_calls_total",
                dimensions: [("command", command), ("class", "control"), ("outcome", outcome)]
            )
        }
        #expect(calls("ping", "success") == 2)
        #expect(calls("fail", "error") == 1)
        #expect(calls("hang", "timeout") == 1)
        #expect(
            metrics.counterTotal(
                label: "qmp_client_timeouts_total",
                dimensions: [("command", "hang"), ("class", "control")]
            ) == 1
        )
        let latency = try metrics.expectTimer("qmp_client_call_duration", [("command", "ping"), ("class", "control")])
        #expect(latency.values.count == 2)
        #expect(metrics.counterTotal(label: "qmp_client_bytes_total", dimensions: [("direction", "sent")]) > 0)
        #expect(metrics.counterTotal(label: "qmp_client_bytes_total", dimensions: [("direction", "received")]) > 0)
    }

    @Test("events a full subscription drops are counted")
    func droppedEvents() async throws {
        let metrics = TestMetrics()
        let event = FakeServer.bytes(["event": "STOP", "timestamp": ["seconds": 1, "microseconds": 0]])
        let respond = FakeServer.negotiating { command in
            command["execute"] == "burst"
                ? Array(repeating: event, count: 5).flatMap { $0 } + FakeServer.reply([:], to: command) : nil
        }
        try await FakeServer.withClient(configuration: configuration(metrics: metrics), respond: respond) {
            (client) async throws in
            let events = client.events(bufferSize: 2)
            try await client.execute("burst")
            #expect(try await eventually { events.droppedCount == 3 })
        }
        #expect(metrics.counterTotal(label: "qmp_client_events_dropped_total") == 3)
    }

    @Test("every message is logged at trace level, with passwords and secret data redacted")
    func traceRedacted() async throws {
        let log = CapturedLog()
        let respond = FakeServer.negotiating { FakeServer.reply([:], to: $0) }
        try await FakeServer.with(respond: respond) { (server) async throws in
            let client = try await QMPClient.connect(
                to: server.address,
                configuration: configuration(),
                logger: Logger(label: "test") { _ in log.handler(level: .trace) }
            )
            try await client.execute("set_password", arguments: ["protocol": "vnc", "password": "hunter2"])
            try await client.execute("object-add", arguments: ["qom-type": "secret", "id": "s0", "data": "letmein"])
            await client.close()
        }
        let traced = log.entries.filter { $0.level == .trace }
        #expect(
            traced.contains { $0.message == "QMP sent" && $0.metadata["qmp_message"]?.contains("set_password") == true }
        )
        #expect(traced.contains { $0.message == "QMP received" })
        #expect(!traced.contains { $0.metadata.values.contains { $0.contains("hunter2") || $0.contains("letmein") } })
        #expect(traced.contains { $0.metadata["qmp_message"]?.contains("<redacted>") == true })
    }
}

@Suite("A client dropped without close(): its event streams")
struct DroppedClientStreamTests {
    @Test("end with an error that says the client was released, not as if closed")
    func streamsEndWithError() async throws {
        let respond = FakeServer.negotiating { FakeServer.reply([:], to: $0) }
        try await FakeServer.with(respond: respond) { (server) async throws in
            var client: QMPClient? = try await QMPClient.connect(to: server.address, configuration: configuration())
            let events = client!.events()
            client = nil
            var ending: (any Error)?
            do {
                for try await _ in events {}
            } catch {
                ending = error
            }
            let error = try #require(ending as? QMPError)
            #expect(error.code == .connectionClosed)
            #expect(error.message.contains("released without close()"))
        }
    }
}

private struct Shutdown: QMPEventPayload {
    var guest: Bool
    init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        guest = try json.object(at: path).required("guest", at: path)
    }
    var json: JSONValue { ["guest": .bool(guest)] }
    static let name = "SHUTDOWN"
    static let availability = QEMUAvailability([QEMUVersionRange(from: QEMUVersion(1, 0))])
}

@Suite("Reconnecting")
struct ReconnectTests {
    @Test("a broken connection is made again: in-flight calls fail as maybe-run, never re-sent; streams report the gap")
    func reconnects() async throws {
        let (respond, received) = releasingServer()
        let reconnect = QMPReconnectPolicy(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200))
        let metrics = TestMetrics()
        try await FakeServer.with(unixSocket: true, respond: respond) { (server) async throws in
            let client = try await QMPClient.connect(
                to: server.address,
                configuration: configuration(reconnect: reconnect, metrics: metrics)
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                let events = client.events(named: ["SHUTDOWN"])
                let typed = client.events(of: Shutdown.self)
                let (broken, _) = await timedFailure { try await client.execute("disconnect") }
                #expect(broken?.code == .connectionClosed)
                #expect(broken?.message.contains("may or may not have run") == true)

                var iterator = events.makeAsyncIterator()
                let gap = try await iterator.next()
                #expect(gap?.isConnectionGap == true)
                #expect(gap?.data?["reason"] != nil)
                #expect(try await eventually { client.health == .responsive })
                #expect(client.isConnected)
                #expect(try await client.execute("ping") == "pong")
                // A typed stream has no element for the gap: it counts it.
                try await client.execute("shut-down")
                var typedEvents = typed.makeAsyncIterator()
                #expect(try await typedEvents.next()?.payload.guest == false)
                #expect(typed.connectionGapCount == 1)
                // Sent once, by the caller; the reconnect sent it again nowhere.
                #expect(received.withLockedValue { $0.count { $0 == "disconnect" } } == 1)
                #expect(
                    metrics.counterTotal(label: "qmp_client_reconnects_total", dimensions: [("outcome", "success")])
                        == 1
                )
                await client.close()
                try await group.waitForAll()
            }
            #expect(client.health == .closed)
        }
    }

    @Test("a client without a reconnect policy ends its run() with the break, as before")
    func noPolicyNoReconnect() async throws {
        let (respond, _) = releasingServer()
        try await FakeServer.with(unixSocket: true, respond: respond) { (server) async throws in
            let client = try await QMPClient.connect(to: server.address, configuration: configuration())
            await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                _ = await timedFailure { try await client.execute("disconnect") }
                let (ending, _) = await timedFailure { try await group.next() }
                #expect(ending?.code == .connectionClosed)
            }
            #expect(client.health == .closed)
        }
    }

    @Test("reconnecting gives up after its bound, and run() throws")
    func givesUp() async throws {
        let (respond, _) = releasingServer()
        let reconnect = QMPReconnectPolicy(
            initialDelay: .milliseconds(20),
            maximumDelay: .milliseconds(50),
            giveUpAfter: .milliseconds(400)
        )
        let server = try await FakeServer.start(unixSocket: true, respond: respond)
        let client = try await QMPClient.connect(to: server.address, configuration: configuration(reconnect: reconnect))
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            await server.stop()
            _ = await timedFailure { try await client.execute("disconnect") }
            let (ending, _) = await timedFailure { try await group.next() }
            #expect(ending?.code == .connectionClosed)
            #expect(ending?.message.contains("attempts to reconnect") == true)
        }
        #expect(client.health == .closed)
    }
}
