import Foundation
import QMPClient
import QMPCore
import Testing

/// The benchmark runs once in its smoke mode (a few iterations of every figure, peers
/// included when ../shared/bench-peers is there), so that it cannot rot. It measures nothing:
/// the numbers of a debug build under a test run mean nothing, and no test asserts on them.
@Suite("The benchmark, in smoke mode")
struct BenchmarkSmokeTests {
    @Test("qmp-bench --smoke runs every figure and prints a row for each")
    func smoke() async throws {
        let bench = try QMPExecutable.url.deletingLastPathComponent().appendingPathComponent("qmp-bench")
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let process = Process()
        process.executableURL = bench
        process.arguments = ["--smoke", "--json", "--peers", root.deletingLastPathComponent().appendingPathComponent("shared/bench-peers").path]
        process.currentDirectoryURL = root
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
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
        ] {
            #expect(figures.contains(expected), "no row for \(expected): \(output.stdout)\n\(output.stderr)")
        }
        #expect(figures.contains { $0.hasSuffix("idle connections to simulators: RSS per connection") })
        for row in rows {
            #expect(row["ours"]?.isNull == false, "no number of ours for \(row)")
        }
    }
}
