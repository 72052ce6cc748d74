import Foundation
import QMPClient
import QMPCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The benchmark runs once in its smoke mode (a few iterations of every figure, peers
/// included when ../shared/bench-peers is there), so that it cannot rot. It measures nothing:
/// the numbers of a debug build under a test run mean nothing, and no test asserts on them.
@Suite("The benchmark, in smoke mode")
struct BenchmarkSmokeTests {
    @Test("qmp-bench --smoke runs every figure and prints a row for each")
    func smoke() async throws {
        let peers = Self.root.deletingLastPathComponent().appendingPathComponent("shared/bench-peers").path
        let (process, stdout, stderr) = try Self.startBench(["--smoke", "--json", "--peers", peers])
        let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(300))
        #expect(output.status == 0, "qmp-bench failed: \(output.stderr)")
        let rows = output.stdout.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)).objectValue }
        let figures = Set(rows.compactMap { $0["figure"]?.stringValue })
        for expected in [
            "sequential query-status RTT (p50), OOB negotiated", "sequential query-status RTT (p50), without OOB",
            "client CPU per command (sequential), OOB negotiated", "client CPU per command (sequential), without OOB",
            "pipelined query-status, OOB negotiated, 8 in flight", "JSON reader, 207 KB schema reply",
            "typed decode of the schema reply (reader + bindings)", "events from the simulator consumed by the client",
            "one-shot `qmp exec … query-status` wall",
            "guest agent: 1 MiB copied out of the guest, throughput",
            "guest agent: 1 MiB copied out of the guest, client CPU",
            "  qmp ga cp --no-verify guest:FILE FILE, throughput",
        ] {
            #expect(figures.contains(expected), "no row for \(expected): \(output.stdout)\n\(output.stderr)")
        }
        #expect(figures.contains { $0.hasSuffix("idle connections to simulators: RSS per connection") })
        #expect(figures.contains { $0.hasSuffix("clients disconnecting at once: server CPU") })
        for row in rows {
            #expect(row["ours"]?.isNull == false, "no number of ours for \(row)")
        }
    }

    @Test(
        "SIGTERM in the middle of a run stops the benchmark's QEMU, then ends the benchmark by that signal",
        .enabled(if: FileManager.default.fileExists(atPath: "/proc/self/status"), "finds QEMU through /proc")
    )
    func stopsItsQEMU() async throws {
        // Far more round trips than can finish before the signal; no peers, so QEMU is its only child.
        let (process, stdout, stderr) = try Self.startBench(
            ["--only", "sequential", "--iterations", "10000000", "--reps", "1", "--peers", "/nonexistent"])
        let benchPID = process.processIdentifier
        defer {
            // Whatever happens below: a benchmark still running is ended here, by SIGTERM first,
            // on which it stops its QEMU; SIGKILL alone would leave that QEMU behind.
            if process.isRunning {
                kill(benchPID, SIGTERM)
                let patience = ContinuousClock.now + .seconds(15)
                while process.isRunning && ContinuousClock.now < patience { usleep(50_000) }
                if process.isRunning {
                    if let orphan = Self.child(of: benchPID, named: "qemu-system") { kill(orphan, SIGKILL) }
                    kill(benchPID, SIGKILL)
                }
                process.waitUntilExit()
            }
        }

        // QEMU is started by the benchmark, so it is found among the benchmark's children.
        var qemuPID: pid_t?
        let deadline = ContinuousClock.now + .seconds(120)
        while qemuPID == nil && process.isRunning && ContinuousClock.now < deadline {
            qemuPID = Self.child(of: benchPID, named: "qemu-system")
            if qemuPID == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        defer {
            // Whatever happens above: a QEMU the benchmark left behind is ended here.
            if let qemuPID, Self.isAlive(qemuPID) { kill(qemuPID, SIGKILL) }
        }
        if qemuPID == nil && !process.isRunning {
            // It ended before starting QEMU: what it said is the reason.
            let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
            Issue.record("the benchmark ended (status \(output.status)) before starting QEMU: \(output.stderr)")
            return
        }
        let qemu = try #require(qemuPID, "the benchmark started no QEMU within 120 s")
        // Let the round trips begin, then stop the run.
        try await Task.sleep(for: .milliseconds(500))
        kill(benchPID, SIGTERM)
        let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(60))

        #expect(process.terminationReason == .uncaughtSignal && output.status == SIGTERM, "\(output.stderr)")
        #expect(output.stderr.contains("signal \(SIGTERM): stopping QEMU"), "\(output.stderr)")
        #expect(!Self.isAlive(qemu), "QEMU \(qemu) outlived the benchmark")
    }

    /// The package's root directory, where the benchmark expects to run.
    static var root: URL {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root
    }

    /// Starts the `qmp-bench` built beside `qmp`, with its output piped and no input.
    static func startBench(_ arguments: [String]) throws -> (Process, stdout: Pipe, stderr: Pipe) {
        let process = Process()
        process.executableURL = try QMPExecutable.url.deletingLastPathComponent().appendingPathComponent("qmp-bench")
        process.arguments = arguments
        process.currentDirectoryURL = root
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, stdout, stderr)
    }

    /// The pid of a child of `parent` whose command name starts with `prefix`.
    static func child(of parent: pid_t, named prefix: String) -> pid_t? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for entry in entries {
            guard let pid = pid_t(entry),
                let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            else { continue }
            let fields = Dictionary(
                status.split(separator: "\n").compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (
                        String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    )
                },
                uniquingKeysWith: { first, _ in first }
            )
            if fields["PPid"] == "\(parent)", fields["Name"]?.hasPrefix(prefix) == true { return pid }
        }
        return nil
    }

    /// Whether `pid` is a process that has not ended (a zombie has ended).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return !status.contains("State:\tZ")
    }

}
