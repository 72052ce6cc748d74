import ArgumentParser
import Foundation
import QEMULauncher
import QMP
import QMPClient
import QMPCore
import QMPServer
import QMPSimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `qmp-bench`: our figures beside the baselines' (the C and Python clients of
/// `../shared/bench-peers`), measured in the same run against the same QEMU.
@main
struct QMPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qmp-bench",
        abstract: "Benchmark swift-qmp against QEMU 7.2 and the peer clients, side by side.",
        discussion: """
            Build it with scripts/build-release --with-bench, which puts it beside the release build \
            of qmp that the one-shot figure runs (--qmp names another). It starts its own QEMU (and simulated QEMUs), \
            builds the C peer client and a Python virtualenv for the Python peers from --peers when that \
            directory exists, and prints one row per figure: ours, the baseline measured in the same run, \
            the ratio, and whether the target is met. Medians over --reps repetitions.
            """
    )

    @Option(help: "The peer benchmarks' directory.") var peers: String = "../shared/bench-peers"
    @Option(help: "The repository's own peers (qga_copy.py), Benchmarks/peers of the package by default.")
    var agentPeers: String = QMPBench.packagePeers
    @Option(help: "Repetitions per figure (the median is reported).") var reps: Int = 5
    @Option(
        help: """
            The qmp executable the one-shot and many-connections figures run (default: the one \
            beside qmp-bench, where scripts/build-release puts it).
            """
    )
    var qmp: String?

    func validate() throws {
        if let qmp, !FileManager.default.isExecutableFile(atPath: qmp) {
            throw ValidationError("--qmp \(qmp) is not an executable file")
        }
    }
    @Flag(help: "A few iterations of everything: proves the benchmark runs, measures nothing.") var smoke = false
    @Flag(help: "Print the rows as JSON lines instead of a table.") var json = false
    @Option(help: "Connections for the many-connections figure.") var connections: Int = 10_000
    @Option(
        name: .customLong("only"),
        parsing: .upToNextOption,
        help: "Run only these figures: \(Figure.allCases.map(\.rawValue).joined(separator: ", ")) (all when not given)."
    )
    var only: [Figure] = []

    /// The groups of figures, for `--only` while working on one of them.
    enum Figure: String, CaseIterable, ExpressibleByArgument {
        case sequential, pipelined, schema, oneshot, simulator, events, connections
        case agentCopy = "agent-copy"
    }

    func runs(_ figure: Figure) -> Bool { only.isEmpty || only.contains(figure) }

    @Option(help: "Commands or events per figure instead of the defaults (for profiling with perf record).")
    var iterations: Int?

    /// Scales an iteration count down in smoke mode.
    func n(_ full: Int) -> Int { iterations ?? (smoke ? max(2, full / 1000) : full) }
    var repetitions: Int { smoke ? 1 : max(1, reps) }

    /// Runs the figures; SIGINT or SIGTERM cancels them, so that QEMU (in a process group of
    /// its own, out of reach of a terminal's Ctrl-C) and the simulators are stopped and the
    /// private directories removed; then the process ends by that signal, as if it had not been
    /// caught. A second signal takes the default action at once (and may leave QEMU behind).
    func run() async throws {
        let command = self
        // Before any work, so that no child is started without the handlers in place.
        let signals = StopSignals()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Ends the wait for a signal, however the figures end.
                    defer { signals.stop() }
                    try await command.measure()
                }
                group.addTask {
                    guard let signalNumber = await signals.next() else { return }
                    signals.restoreDefaultActions()
                    command.log("signal \(signalNumber): stopping QEMU and the simulators, then exiting")
                    // Thrown, it cancels the figures; the group waits for their clean-up.
                    throw StoppedBySignal(number: signalNumber)
                }
                do {
                    while try await group.next() != nil {}
                } catch {
                    // waitForAll would let the figures run on; a signal must stop them.
                    group.cancelAll()
                    throw error
                }
            }
        } catch let stopped as StoppedBySignal {
            // The default action is back (see above). To the process, not this thread (which may
            // block the signal): some thread takes it at once. Should none, exit as a shell
            // reports a signal's end.
            kill(getpid(), stopped.number)
            usleep(1_000_000)
            Foundation.exit(128 + stopped.number)
        }
    }

    /// A stop signal arrived: the run ends by it once the figures have cleaned up.
    struct StoppedBySignal: Error {
        var number: Int32
    }

    func measure() async throws {
        if let cpus = allowedCPUs() {
            // The figures read differently pinned (taskset) and not: say which this run was.
            log("allowed CPUs: \(cpus) (of \(ProcessInfo.processInfo.processorCount)); QEMU and the peers inherit them")
        }
        #if DEBUG
        if !smoke { log("warning: a debug build; run with -c release for real numbers") }
        #endif
        let scratch = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(
            ".build/bench-peers"
        )
        let peerSet = Peers.prepare(source: URL(fileURLWithPath: peers), scratch: scratch, log: log)
        if peerSet == nil { log("no peers at \(peers): printing our numbers alone") }
        var table = Table()

        if runs(.sequential) || runs(.pipelined) || runs(.schema) || runs(.oneshot) {
            try Task.checkCancellation()
            try await withPeerQEMU { qemu, ourSocket, peerSocket in
                try await QMPClient.withConnection(to: .unixSocket(path: ourSocket)) { client in
                    if runs(.sequential) {
                        try await QMPClient.withConnection(
                            to: .unixSocket(path: ourSocket + ".plain"),
                            configuration: .init(enableOOB: false)
                        ) { plain in
                            try await sequential(
                                client: client,
                                plainClient: plain,
                                qemuPID: qemu,
                                peerSocket: peerSocket,
                                peers: peerSet,
                                table: &table
                            )
                        }
                    }
                    try Task.checkCancellation()
                    if runs(.pipelined) {
                        try await pipelined(client: client, peerSocket: peerSocket, peers: peerSet, table: &table)
                    }
                    try Task.checkCancellation()
                    if runs(.schema) {
                        try await schemaFigures(client: client, peers: peerSet, scratch: scratch, table: &table)
                    }
                    try Task.checkCancellation()
                    if runs(.oneshot) {
                        try await oneShot(socket: ourSocket, peerSocket: peerSocket, peers: peerSet, table: &table)
                    }
                }
            }
        }
        // A stop signal cancels this task: no further figure, and no further repetition of one,
        // starts after it.
        try Task.checkCancellation()
        if runs(.simulator) { try await simulatorCPU(peers: peerSet, table: &table) }
        try Task.checkCancellation()
        if runs(.events) { try await events(table: &table) }
        try Task.checkCancellation()
        if runs(.connections) { try await manyConnections(table: &table) }
        try Task.checkCancellation()
        if runs(.agentCopy) { try await agentCopy(table: &table) }
        print(json ? table.jsonLines() : table.render())
    }

    /// The CPUs this process may run on, as Linux lists them (`0-1`, `1`); nil elsewhere.
    func allowedCPUs() -> String? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        let prefix = "Cpus_allowed_list:"
        return status.split(separator: "\n").first { $0.hasPrefix(prefix) }.map {
            $0.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)
        }
    }

    func log(_ text: String) {
        FileHandle.standardError.write(Data(("qmp-bench: " + text + "\n").utf8))
    }

    // MARK: - QEMU with two monitors

    /// A paused QEMU 7.2 with four QMP monitors: ours, ours without OOB, the peers' and one for
    /// one-shot processes (a monitor serves one client at a time). Started and stopped by pid,
    /// in a private directory.
    func withPeerQEMU(_ body: (pid_t, String, String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qmp-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let ours = directory.appendingPathComponent("ours.sock").path
        let theirs = directory.appendingPathComponent("peer.sock").path
        let launcher = QEMULauncher(
            extraArguments: [
                "-chardev", "socket,id=peer,path=\(theirs),server=on,wait=off", "-mon", "chardev=peer,mode=control",
                "-chardev", "socket,id=ours,path=\(ours),server=on,wait=off", "-mon", "chardev=ours,mode=control",
                "-chardev", "socket,id=oneshot,path=\(ours).oneshot,server=on,wait=off", "-mon",
                "chardev=oneshot,mode=control",
                "-chardev", "socket,id=plain,path=\(ours).plain,server=on,wait=off", "-mon",
                "chardev=plain,mode=control",
            ],
            startupTimeout: .seconds(30),
            shutdownStepTimeout: .seconds(5)
        )
        try await launcher.withQEMU { qemu in
            try await body(qemu.pid, ours, theirs)
        }
    }

    // MARK: - Figures

    /// Sequential round trips, like for like: whether OOB is negotiated changes what QEMU does
    /// (its I/O thread goes back to polling the socket after each command, and waking it costs
    /// the writer about 10 µs here), so each mode of ours is set against the C client in the
    /// same mode.
    func sequential(
        client: QMPClient,
        plainClient: QMPClient,
        qemuPID: pid_t,
        peerSocket: String,
        peers: Peers?,
        table: inout Table
    ) async throws {
        let count = n(20_000)
        struct Measurement {
            var rtt: Double
            var cpu: Double
            var qemu: Double?
        }
        /// Median RTT and CPU per command of `count` sequential calls.
        func measure(_ client: QMPClient, typed: Bool = false) async throws -> Measurement {
            // The typed call is what an application writes: checked against the server's
            // schema (fetched once, before the clock starts), and its reply decoded.
            func call() async throws {
                if typed {
                    _ = try await client.execute(QueryStatusCommand())
                } else {
                    _ = try await client.execute("query-status")
                }
            }
            for _ in 0..<min(200, count) { try await call() }
            let qemuBefore = scheduledCPU(of: qemuPID)
            let cpuBefore = processCPU()
            var laps: [Double] = []
            laps.reserveCapacity(count)
            for _ in 0..<count {
                let started = ContinuousClock.now
                try await call()
                laps.append(microseconds(ContinuousClock.now - started))
            }
            let cpu = (processCPU() - cpuBefore) / Double(count)
            let qemu = scheduledCPU(of: qemuPID).flatMap { after in qemuBefore.map { (after - $0) / Double(count) } }
            return Measurement(rtt: median(laps), cpu: cpu, qemu: qemu)
        }
        func measureC(_ flags: [String]) async -> Measurement? {
            let record = await offPool {
                peers?.c([peerSocket, "seq", "\(count)", "--qemu-pid", "\(qemuPID)"] + flags)
            }
            guard let record, let rtt = record.double("p50_us"), let cpu = record.double("client_cpu_us_per_op") else {
                return nil
            }
            return Measurement(rtt: rtt, cpu: cpu, qemu: record.double("qemu_sched_us_per_op"))
        }
        var oob: [Measurement] = []
        var oobFromPool: [Measurement] = []
        var oobTyped: [Measurement] = []
        var plain: [Measurement] = []
        var cOOB: [Measurement] = []
        var cPlain: [Measurement] = []
        // All take turns, so that each sees the same load on a shared machine.
        for _ in 0..<repetitions {
            try Task.checkCancellation()
            oob.append(try await withTaskExecutorPreference(client.executor) { try await measure(client) })
            oobFromPool.append(try await measure(client))
            oobTyped.append(
                try await withTaskExecutorPreference(client.executor) { try await measure(client, typed: true) }
            )
            plain.append(try await withTaskExecutorPreference(plainClient.executor) { try await measure(plainClient) })
            if let c = await measureC(["--oob"]) { cOOB.append(c) }
            if let c = await measureC([]) { cPlain.append(c) }
        }
        let loopNote = "caller on the connection's event loop (client.executor)"
        let poolNote = "caller on Swift's global pool: two thread wake-ups per call"
        let typedNote = "execute(QueryStatusCommand()) on the connection's event loop: schema-checked, reply decoded"
        func add(
            _ figure: String,
            _ ours: [Measurement],
            _ theirs: [Measurement],
            _ baselineName: String,
            _ value: KeyPath<Measurement, Double>,
            target: Table.Target,
            note: String
        ) {
            table.add(
                figure,
                ours: median(ours.map { $0[keyPath: value] }),
                baseline: medianOrNil(theirs.map { $0[keyPath: value] }),
                baselineName: baselineName,
                unit: "µs",
                target: target,
                note: note
            )
        }
        func addQEMU(_ figure: String, _ ours: [Measurement], _ theirs: [Measurement], _ baselineName: String) {
            let mine = ours.compactMap(\.qemu)
            guard !mine.isEmpty else { return }
            table.add(
                figure,
                ours: median(mine),
                baseline: medianOrNil(theirs.compactMap(\.qemu)),
                baselineName: baselineName,
                unit: "µs",
                target: .none,
                note: "QEMU's share of the round trip, which depends on how the client drives it"
            )
        }
        add(
            "sequential query-status RTT (p50), OOB negotiated",
            oob,
            cOOB,
            "C client +oob",
            \.rtt,
            target: .atMost(1.05),
            note: loopNote
        )
        add(
            "  RTT (p50), OOB, default executor",
            oobFromPool,
            cOOB,
            "C client +oob",
            \.rtt,
            target: .none,
            note: poolNote
        )
        add(
            "sequential query-status RTT (p50), without OOB",
            plain,
            cPlain,
            "C client",
            \.rtt,
            target: .atMost(1.05),
            note: loopNote
        )
        add(
            "client CPU per command (sequential), OOB negotiated",
            oob,
            cOOB,
            "C client +oob",
            \.cpu,
            target: .atMost(1.5),
            note: loopNote
        )
        add(
            "  client CPU, OOB, default executor",
            oobFromPool,
            cOOB,
            "C client +oob",
            \.cpu,
            target: .none,
            note: poolNote
        )
        add("  client CPU, OOB, typed call", oobTyped, cOOB, "C client +oob", \.cpu, target: .none, note: typedNote)
        add(
            "client CPU per command (sequential), without OOB",
            plain,
            cPlain,
            "C client",
            \.cpu,
            target: .atMost(1.5),
            note: loopNote
        )
        addQEMU("  QEMU's own CPU per command, OOB negotiated", oob, cOOB, "C client +oob")
        addQEMU("  QEMU's own CPU per command, without OOB", plain, cPlain, "C client")
    }

    func pipelined(client: QMPClient, peerSocket: String, peers: Peers?, table: inout Table) async throws {
        let count = n(20_000)
        let window = 8
        var rates: [Double] = []
        var cRates: [Double] = []
        for _ in 0..<repetitions {
            try Task.checkCancellation()
            let started = ContinuousClock.now
            // The callers run on the connection's event loop, as in the sequential figure.
            try await withTaskExecutorPreference(client.executor) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    var sent = 0
                    while sent < min(window, count) {
                        group.addTask { _ = try await client.execute("query-status") }
                        sent += 1
                    }
                    while try await group.next() != nil {
                        if sent < count {
                            group.addTask { _ = try await client.execute("query-status") }
                            sent += 1
                        }
                    }
                }
            }
            rates.append(Double(count) / seconds(ContinuousClock.now - started))
            if let value = await offPool({ peers?.c([peerSocket, "pipe", "\(count)", "\(window)", "--oob"]) })?.double(
                "ops_per_s"
            ) {
                cRates.append(value)
            }
        }
        table.add(
            "pipelined query-status, OOB negotiated, 8 in flight",
            ours: median(rates),
            baseline: medianOrNil(cRates),
            baselineName: "C client +oob",
            unit: "cmd/s",
            target: .atLeast(0.95)
        )
    }

    func schemaFigures(client: QMPClient, peers: Peers?, scratch: URL, table: inout Table) async throws {
        let reply = try await client.execute("query-qmp-schema")
        // The bytes as QEMU sends them: its own formatting, one line.
        let line = JSONValue.object(["return": reply]).serialized(style: .qemu) + "\r\n"
        let bytes = Array(line.utf8)
        let payload = scratch.appendingPathComponent("schema-reply.json")
        try Data(bytes).write(to: payload)

        let rounds = smoke ? 2 : 30
        var readerRates: [Double] = []
        var typedRates: [Double] = []
        var readerTimes: [Double] = []
        var typedTimes: [Double] = []
        var orjson: [Double] = []
        // Each timing covers making the values and freeing them again, as orjson's does (its
        // result is dropped inside the timed call): the JSON tree for the reader; the tree and
        // the typed values for the typed decode.
        func readOnly() throws -> Int {
            var reader = JSONReader()
            reader.feed(bytes)
            guard let value = try reader.next(), case .array(let entries)? = value["return"] else {
                throw ValidationError("the schema reply did not parse")
            }
            return entries.count
        }
        func readTyped() throws -> Int {
            var reader = JSONReader()
            reader.feed(bytes)
            guard let value = try reader.next(), let returned = value["return"] else {
                throw ValidationError("no return")
            }
            return try QueryQmpSchemaCommand.Response(json: returned, path: QMPPath(["return"])).count
        }
        for _ in 0..<repetitions {
            try Task.checkCancellation()
            var best = Double.infinity
            var bestTyped = Double.infinity
            for _ in 0..<rounds {
                let started = ContinuousClock.now
                let entries = try readOnly()
                best = min(best, seconds(ContinuousClock.now - started))

                let typedStarted = ContinuousClock.now
                let typedEntries = try readTyped()
                bestTyped = min(bestTyped, seconds(ContinuousClock.now - typedStarted))
                precondition(entries > 0 && typedEntries == entries)
            }
            readerTimes.append(best)
            typedTimes.append(bestTyped)
            readerRates.append(Double(bytes.count) / best / 1e6)
            typedRates.append(Double(bytes.count) / bestTyped / 1e6)
            // orjson's best of as many rounds, in the same stretch of time as ours: this
            // machine's speed drifts by half over minutes, and a drift that caught only one
            // side would decide the ratio.
            for record in peers?.py("parse_bench.py", [payload.path, "\(rounds)"]) ?? []
            where record["metric"]?.stringValue == "orjson.loads(bytes)" {
                if let rate = record.double("mb_per_s") { orjson.append(rate) }
            }
        }
        table.add(
            "JSON reader, 207 KB schema reply",
            ours: median(readerRates),
            baseline: medianOrNil(orjson),
            baselineName: "orjson",
            unit: "MB/s",
            target: .atLeast(1.5)
        )
        table.add(
            "typed decode of the schema reply (reader + bindings)",
            ours: median(typedTimes) * 1e3,
            baseline: median(readerTimes) * 1e3,
            baselineName: "our reader alone",
            unit: "ms",
            target: .atMost(2)
        )
    }

    func oneShot(socket: String, peerSocket: String, peers: Peers?, table: inout Table) async throws {
        guard let qmp = qmpExecutable() else {
            log("no qmp executable beside qmp-bench (scripts/build-release --with-bench); skipping the one-shot figure")
            return
        }
        let launches = smoke ? 2 : 25
        var walls: [Double] = []
        var rss: [Double] = []
        for _ in 0..<launches {
            let (wall, maxRSS) = try timeChild([qmp.path, "exec", socket + ".oneshot", "query-status"])
            walls.append(wall * 1e3)
            rss.append(maxRSS)
        }
        var pyWalls: [Double] = []
        var pyRSS: [Double] = []
        if let python = peers?.python {
            for _ in 0..<launches {
                let (wall, maxRSS) = try timeChild([
                    python.path, peers!.source.appendingPathComponent("bench_qemu_qmp.py").path, peerSocket, "oneshot",
                    "1",
                ])
                pyWalls.append(wall * 1e3)
                pyRSS.append(maxRSS)
            }
        }
        table.add(
            "one-shot `qmp exec … query-status` wall",
            ours: median(walls),
            baseline: medianOrNil(pyWalls),
            baselineName: "qemu.qmp one-shot",
            unit: "ms",
            target: .absoluteAtMost(10)
        )
        table.add(
            "one-shot `qmp exec … query-status` peak RSS",
            ours: median(rss),
            baseline: medianOrNil(pyRSS),
            baselineName: "qemu.qmp one-shot",
            unit: "MiB",
            target: .absoluteAtMost(12)
        )
    }

    func simulatorCPU(peers: Peers?, table: inout Table) async throws {
        guard let peers, peers.cClient != nil else { return }
        let count = n(20_000)
        // QEMU's own CPU per query-status, measured by the C client in this run.
        var qemuCPU: [Double] = []
        try await withPeerQEMU { pid, _, peerSocket in
            for _ in 0..<repetitions {
                try Task.checkCancellation()
                if let value = await offPool({ peers.c([peerSocket, "seq", "\(count)", "--qemu-pid", "\(pid)"]) })?
                    .double("qemu_sched_us_per_op")
                {
                    qemuCPU.append(value)
                }
            }
        }
        // Ours: the simulator serves from this process, which otherwise waits for the C client.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qmp-bench-sim-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sim.sock").path
        let server = QEMUSimulator().makeServer(listeningOn: [.unixSocket(path: path)])
        let ours = try await server.serving { _ in
            var ours: [Double] = []
            for _ in 0..<repetitions {
                try Task.checkCancellation()
                let record = await offPool { peers.c([path, "seq", "\(count)", "--qemu-pid", "\(getpid())"]) }
                if let value = record?.double("qemu_sched_us_per_op") { ours.append(value) }
            }
            return ours
        }
        table.add(
            "simulated server CPU per query-status",
            ours: median(ours),
            baseline: medianOrNil(qemuCPU),
            baselineName: "QEMU 7.2",
            unit: "µs",
            target: .atMost(0.05)
        )
    }

    func events(table: inout Table) async throws {
        let count = n(400_000)
        let server = QEMUSimulator().makeServer(listeningOn: [.tcp(host: "127.0.0.1", port: 0)])
        let (rates, lost) = try await server.serving { addresses in
            let client = try await QMPClient.connect(to: addresses[0])
            var rates: [Double] = []
            var lost = 0
            for _ in 0..<repetitions {
                try Task.checkCancellation()
                // BENCH_END follows the others and the reader stops on it. The client's buffer holds
                // every event; only the server's backlog limit could drop some, and it drops the
                // newest, BENCH_END with them. Even unread, the default count (about 40 MB) stays under
                // the 64 MiB limit; a much larger --iterations could reach it.
                let stream = client.events(named: ["BENCH", "BENCH_END"], bufferSize: count + 1, whenFull: .dropNewest)
                let started = ContinuousClock.now
                let received = try await withThrowingTaskGroup(of: Int?.self) { group in
                    group.addTask {
                        for index in 0..<count {
                            server.broadcast(
                                QMPEvent(
                                    name: "BENCH",
                                    data: ["n": .int(Int64(index))],
                                    timestamp: .init(seconds: 0, microseconds: 0)
                                )
                            )
                            if index % 1024 == 0 { await Task.yield() }
                        }
                        server.broadcast(QMPEvent(name: "BENCH_END", timestamp: .init(seconds: 0, microseconds: 0)))
                        return nil
                    }
                    // The reader runs on the client connection's event loop, as in the sequential figure.
                    group.addTask {
                        try await withTaskExecutorPreference(client.executor) {
                            var received = 0
                            for try await event in stream {
                                if event.name == "BENCH_END" { break }
                                received += 1
                            }
                            return received
                        }
                    }
                    var received = 0
                    for try await count in group {
                        if let count { received = count }
                    }
                    return received
                }
                rates.append(Double(received) / seconds(ContinuousClock.now - started))
                lost += count - received
            }
            await client.close()
            return (rates, lost)
        }
        table.add(
            "events from the simulator consumed by the client",
            ours: median(rates),
            baseline: nil,
            baselineName: "target 200,000/s",
            unit: "events/s",
            target: .absoluteAtLeast(200_000),
            note: lost == 0 ? "none lost" : "\(lost) lost"
        )
    }

    func manyConnections(table: inout Table) async throws {
        let total = smoke ? 20 : connections
        raiseDescriptorLimit(to: total * 2 + 1024)
        // The simulators serve from a child process so that this process holds only clients.
        guard let qmp = qmpExecutable() else {
            log("no qmp executable beside qmp-bench; skipping the many-connections figure")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qmp-bench-many-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("sim.sock").path
        let mock = Process()
        mock.executableURL = qmp
        mock.arguments = ["mock", "--simulate", "--listen", socket, "--max-connections", String(total + 16)]
        mock.standardOutput = FileHandle.nullDevice
        mock.standardError = FileHandle.nullDevice
        try mock.run()
        defer {
            mock.terminate()
            mock.waitUntilExit()
        }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) {
            try await Task.sleep(for: .milliseconds(50))
        }

        let before = residentBytes()
        var clients: [QMPClient] = []
        clients.reserveCapacity(total)
        for _ in 0..<total {
            clients.append(try await QMPClient.connect(to: .unixSocket(path: socket)))
        }
        let after = residentBytes()
        let perConnection = Double(after - before) / Double(total) / 1024
        // 1 % of them active, sequential query-status each.
        let active = clients.prefix(max(1, total / 100))
        let perClient = smoke ? 2 : 50
        let laps = try await withThrowingTaskGroup(of: [Double].self) { group in
            for client in active {
                group.addTask {
                    var laps: [Double] = []
                    for _ in 0..<perClient {
                        let started = ContinuousClock.now
                        _ = try await client.execute("query-status")
                        laps.append(microseconds(ContinuousClock.now - started))
                    }
                    return laps
                }
            }
            return try await group.reduce(into: [Double]()) { $0 += $1 }
        }.sorted()
        // Every client leaves at once; what the server spends on it is its CPU time from
        // before the first close until it is idle again.
        let serverCPUBefore = processCPUTime(mock.processIdentifier)
        await withTaskGroup(of: Void.self) { group in
            for client in clients {
                group.addTask { await client.close() }
            }
        }
        clients.removeAll()
        let disconnectCPU = await processCPUTimeOnceIdle(mock.processIdentifier) - serverCPUBefore
        let p99 = laps[min(laps.count - 1, Int(Double(laps.count) * 0.99))]
        table.add(
            "\(total) idle connections to simulators: RSS per connection",
            ours: perConnection,
            baseline: nil,
            baselineName: "target 20 KB",
            unit: "KiB",
            target: .absoluteAtMost(20),
            note: "p99 RTT with \(active.count) active: \(Int(p99)) µs"
        )
        table.add(
            "\(total) clients disconnecting at once: server CPU",
            ours: disconnectCPU * 1000,
            baseline: nil,
            baselineName: "target 500 ms",
            unit: "ms",
            target: .absoluteAtMost(500),
            note: "user + system, until the server is idle"
        )
    }

    /// User and system CPU time of process `pid` so far, in seconds (0 when unknown).
    func processCPUTime(_ pid: pid_t) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = text.lastIndex(of: ")")
        else { return 0 }
        // After the command name (which may hold spaces): state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The CPU time of `pid` once it has used none for a quarter of a second (or after 10 s).
    func processCPUTimeOnceIdle(_ pid: pid_t) async -> Double {
        var last = processCPUTime(pid)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(250))
            let now = processCPUTime(pid)
            if now == last { break }
            last = now
        }
        return last
    }

    // MARK: - Helpers

    /// The `qmp` that `--qmp` names, or the one beside this executable.
    func qmpExecutable() -> URL? {
        guard let qmp else { return siblingExecutable("qmp") }
        return FileManager.default.isExecutableFile(atPath: qmp) ? URL(fileURLWithPath: qmp) : nil
    }

    func siblingExecutable(_ name: String) -> URL? {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let url = directory.appendingPathComponent(name)
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }

    /// Runs a child twice: once spawned directly, for its wall time in seconds (GNU time's
    /// own is in 10 ms steps and includes its fork), and once under GNU time, for its peak RSS
    /// in MiB (NaN without /usr/bin/time). wait4 on the direct child would report this
    /// process's own peak instead: Linux carries it over exec.
    func timeChild(_ arguments: [String]) throws -> (Double, Double) {
        let wall = try spawnAndWait(arguments)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else { return (wall, .nan) }
        let result = Peers.run(["/usr/bin/time", "-f", "maxrss_kb=%M"] + arguments)
        guard result.status == 0 else {
            throw ValidationError("\(arguments.joined(separator: " ")) failed (exit \(result.status)): \(result.error)")
        }
        let line = result.error.split(separator: "\n").last { $0.hasPrefix("maxrss_kb=") }
        let kilobytes = line.flatMap { Double($0.dropFirst("maxrss_kb=".count)) } ?? .nan
        return (wall, kilobytes / 1024)
    }

    /// Wall time of a child, spawned directly (as a shell would).
    func spawnAndWait(_ arguments: [String]) throws -> Double {
        var pid: pid_t = 0
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let started = ContinuousClock.now
        guard posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ) == 0 else {
            throw ValidationError("could not start \(arguments[0])")
        }
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        let elapsed = seconds(ContinuousClock.now - started)
        // A run that failed at once would pass for a fast one. (WIFEXITED and WEXITSTATUS by hand:
        // the C macros do not reach Swift.)
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            let how =
                status & 0x7f == 0
                ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(status & 0x7f)"
            throw ValidationError("\(arguments.joined(separator: " ")) \(how)")
        }
        return elapsed
    }
}

// MARK: - Measuring

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func microseconds(_ duration: Duration) -> Double { seconds(duration) * 1e6 }

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func medianOrNil(_ values: [Double]) -> Double? { values.isEmpty ? nil : median(values) }

#if canImport(Glibc)
let RUSAGE_SELF_WHO = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
let RUSAGE_SELF_WHO = RUSAGE_SELF
#endif

/// This process's CPU time (user + system) in microseconds.
func processCPU() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF_WHO, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

/// The CPU time all threads of a process have run, in microseconds, from
/// /proc/PID/task/TID/schedstat (as the C client measures QEMU's); nil where there are no such files.
func scheduledCPU(of pid: pid_t) -> Double? {
    guard let threads = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return nil }
    var nanoseconds = 0.0
    var read = false
    for thread in threads {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(thread)/schedstat", encoding: .utf8),
            let value = text.split(separator: " ").first.flatMap({ Double($0) })
        else { continue }
        nanoseconds += value
        read = true
    }
    // Nothing read is no measurement, not zero.
    return read ? nanoseconds / 1e3 : nil
}

/// Resident memory of this process, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func raiseDescriptorLimit(to wanted: Int) {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = min(max(limit.rlim_cur, rlim_t(wanted)), limit.rlim_max)
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// The descriptor the signal handler writes to; set before the handler is installed.
nonisolated(unsafe) private var stopSignalDescriptor: CInt = -1

/// SIGINT and SIGTERM, delivered one by one instead of ending the process.
///
/// A handler that writes the signal's number to a pipe, rather than `SIG_IGN` and a Dispatch
/// signal source: an ignored signal stays ignored in every child started afterwards, while a
/// handler is reset to the default action by `exec`.
final class StopSignals: @unchecked Sendable {
    private let readEnd: CInt
    private let writeEnd: CInt
    private let lock = NSLock()
    private var firstReceived: Int32?

    init() {
        var ends: [CInt] = [-1, -1]
        // Made before the run starts any child, so no child can inherit the pipe before it is
        // marked close-on-exec.
        let made = pipe(&ends) == 0
        if made { for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) } }
        guard made else {
            // Without the pipe the signals keep their default action: the run can still be
            // stopped, only without its clean-up.
            readEnd = -1
            writeEnd = -1
            return
        }
        readEnd = ends[0]
        writeEnd = ends[1]
        // A full pipe must not block the handler; a signal it drops still has one pending.
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
        stopSignalDescriptor = writeEnd
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { received in
                // Only async-signal-safe work here, and errno as the interrupted code left it.
                let savedErrno = errno
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(stopSignalDescriptor, &byte, 1)
                errno = savedErrno
            }
        }
    }

    /// The first signal received, if any.
    var received: Int32? { lock.withLock { firstReceived } }

    /// Waits for the next signal; nil once ``stop()`` was called.
    func next() async -> Int32? {
        guard readEnd >= 0 else { return nil }
        let readEnd = self.readEnd
        let signalNumber: Int32? = await offPool {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count == 1 { return byte == 0 ? nil : Int32(byte) }
                if count < 0 && errno == EINTR { continue }
                return nil
            }
        }
        if let signalNumber {
            lock.withLock { if firstReceived == nil { firstReceived = signalNumber } }
        }
        return signalNumber
    }

    func restoreDefaultActions() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    /// Gives the signals their default action back and ends a wait in ``next()``. The pipe stays
    /// open until the process exits: a handler still running elsewhere may write to it.
    func stop() {
        restoreDefaultActions()
        guard writeEnd >= 0 else { return }
        var zero: UInt8 = 0
        _ = write(writeEnd, &zero, 1)
    }
}

/// Runs blocking work (waiting for a peer process) on a Dispatch thread, not the cooperative pool.
func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}
