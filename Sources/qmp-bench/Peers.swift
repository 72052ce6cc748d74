import Foundation
import QMPCore

/// The baseline clients of `../shared/bench-peers`: the C client (built here with the system
/// compiler into a scratch directory, since the peers' directory may be read-only) and the
/// Python clients (in a virtualenv made here with `qemu.qmp` and `orjson`).
struct Peers: Sendable {
    let source: URL
    let scratch: URL
    var cClient: URL?
    var python: URL?
    var log: @Sendable (String) -> Void

    /// Prepares what it can; a peer that cannot be built is `nil`, and its rows show ours alone.
    static func prepare(source: URL, scratch: URL, log: @escaping @Sendable (String) -> Void) -> Peers? {
        guard FileManager.default.fileExists(atPath: source.appendingPathComponent("qmpbench.c").path) else {
            return nil
        }
        // GNU time measures the peak memory of one-shot processes, as the peers' own harness does.
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/time") && getuid() == 0 {
            _ = run([
                "sh", "-c",
                "apt-get install -y -qq time >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq time) >/dev/null 2>&1",
            ])
        }
        try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        var peers = Peers(source: source, scratch: scratch, log: log)
        let binary = scratch.appendingPathComponent("qmpbench")
        if FileManager.default.isExecutableFile(atPath: binary.path)
            || run(["cc", "-O2", "-o", binary.path, source.appendingPathComponent("qmpbench.c").path]).status == 0
        {
            peers.cClient = binary
        } else {
            log("the C peer client did not build; its rows show our numbers alone")
        }
        let venv = scratch.appendingPathComponent("venv")
        let python = venv.appendingPathComponent("bin/python")
        if !FileManager.default.isExecutableFile(atPath: python.path) {
            _ = run(["python3", "-m", "venv", venv.path])
        }
        let ready =
            run([python.path, "-c", "import qemu.qmp, orjson"]).status == 0
            || run([python.path, "-m", "pip", "install", "-q", "qemu.qmp==0.0.6", "orjson"]).status == 0
        if ready {
            peers.python = python
        } else {
            log("the Python peers (qemu.qmp, orjson) could not be installed; their rows show our numbers alone")
        }
        return peers
    }

    /// Runs a peer and returns the JSON records it printed.
    func records(_ arguments: [String]) -> [JSONObject] {
        let result = Self.run(arguments, directory: source)
        if result.status != 0 {
            log("peer \(arguments.joined(separator: " ")) failed: \(result.error.prefix(300))")
        }
        return result.output.split(separator: "\n").compactMap { line in
            (try? JSONValue(parsing: String(line)))?.objectValue
        }
    }

    func c(_ arguments: [String]) -> JSONObject? {
        guard let cClient else { return nil }
        return records([cClient.path] + arguments).last
    }

    func py(_ script: String, _ arguments: [String]) -> [JSONObject] {
        guard let python else { return [] }
        return records([python.path, source.appendingPathComponent(script).path] + arguments)
    }

    struct Result {
        var status: Int32
        var output: String
        var error: String
    }

    /// Runs a program to completion; its output is read while it runs so that it cannot block.
    @discardableResult
    static func run(_ arguments: [String], directory: URL? = nil) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return Result(status: -1, output: "", error: "\(error)")
        }
        // Both pipes at once: a child that fills one while we wait on the other would block.
        final class Collected: @unchecked Sendable {
            var data = Data()  // written before the group leaves, read after it has
        }
        let errorData = Collected()
        let errorRead = DispatchGroup()
        DispatchQueue.global().async(group: errorRead) {
            errorData.data = error.fileHandleForReading.readDataToEndOfFile()
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        errorRead.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            output: String(decoding: outputData, as: UTF8.self),
            error: String(decoding: errorData.data, as: UTF8.self)
        )
    }
}

extension JSONObject {
    func double(_ key: String) -> Double? {
        switch self[key] {
        case .int(let value)?: Double(value)
        case .uint(let value)?: Double(value)
        case .double(let value)?: value
        default: nil
        }
    }
}
