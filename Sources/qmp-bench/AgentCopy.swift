import Foundation
import QGAClient
import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The guest agent figure: a file copied out of the "guest" through a real qemu-ga running on
/// this host, by our client and by the plain Python client in Benchmarks/peers, chunk for chunk
/// the same.
extension QMPBench {
    /// The bytes read per guest-file-read, for both clients.
    static let agentChunkSize = 4 << 20

    /// Where the repository's own peers are: Benchmarks/peers beside the package's sources.
    static var packagePeers: String {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root.appendingPathComponent("Benchmarks/peers").path
    }

    func agentCopy(table: inout Table) async throws {
        let size = smoke ? 1 << 20 : 100 << 20
        let agentBinary =
            ProcessInfo.processInfo.environment["QEMU_GA_BINARY"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ["/usr/sbin/qemu-ga", "/usr/bin/qemu-ga", "/usr/local/bin/qemu-ga"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            }
        guard let agentBinary else {
            log("qemu-ga is missing (scripts/install-qemu-ga, or QEMU_GA_BINARY): no guest agent figure")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qmp-bench-qga-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = directory.appendingPathComponent("source")
        try Self.randomFile(at: source.path, size: size)
        let socket = directory.appendingPathComponent("qga.sock").path

        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: agentBinary)
        // The agent acts on this host: everything that would change it is blocked.
        agent.arguments = [
            "-m", "unix-listen", "-p", socket, "-t", directory.path,
            "-l", directory.appendingPathComponent("qga.log").path,
            "-b", Self.blockedAgentCommands.joined(separator: ","),
        ]
        agent.standardInput = FileHandle.nullDevice
        try agent.run()
        defer {
            kill(agent.processIdentifier, SIGKILL)
            agent.waitUntilExit()
        }
        let started = ContinuousClock.now
        while !FileManager.default.fileExists(atPath: socket) {
            guard agent.isRunning, ContinuousClock.now - started < .seconds(10) else {
                log("qemu-ga did not start listening on \(socket): no guest agent figure")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }

        let peerScript = URL(fileURLWithPath: agentPeers).appendingPathComponent("qga_copy.py")
        let hasPeer = FileManager.default.fileExists(atPath: peerScript.path)
        if !hasPeer { log("no \(peerScript.path): the guest agent row shows ours alone") }
        let mebibytes = Double(size) / Double(1 << 20)
        var ours: [(rate: Double, cpu: Double)] = []
        var theirs: [(rate: Double, cpu: Double)] = []
        var tool: [Double] = []
        let qmp = qmpExecutable()
        if qmp == nil { log("no qmp executable beside qmp-bench: no row for qmp ga cp") }
        // The agent serves one connection at a time: the clients take turns.
        for repetition in 0..<repetitions {
            try Task.checkCancellation()
            let target = directory.appendingPathComponent("ours-\(repetition)").path
            let cpuBefore = processCPU()
            let clock = ContinuousClock.now
            let copied = try await Self.copyOut(socket: socket, from: source.path, to: target)
            let elapsed = seconds(ContinuousClock.now - clock)
            let cpu = (processCPU() - cpuBefore) / 1e6
            guard copied == size, Self.sameContents(source.path, target) else {
                throw AgentCopyFailure("our copy out of the agent differs from the source (\(copied) of \(size) bytes)")
            }
            try? FileManager.default.removeItem(atPath: target)
            ours.append((mebibytes / elapsed, cpu))

            if let qmp {
                // The same copy as a user runs it: `qmp ga cp`, its process start included.
                let toolTarget = directory.appendingPathComponent("tool-\(repetition)").path
                let arguments = [
                    qmp.path, "ga", socket, "cp", "--no-verify", "--chunk-size", "\(Self.agentChunkSize)",
                    "guest:" + source.path, toolTarget,
                ]
                let wall = await offPool { [self] in try? spawnAndWait(arguments) }
                if let wall, Self.sameContents(source.path, toolTarget) {
                    tool.append(mebibytes / wall)
                } else {
                    log("qmp ga cp failed or copied something else: \(arguments.joined(separator: " "))")
                }
                try? FileManager.default.removeItem(atPath: toolTarget)
            }

            guard hasPeer else { continue }
            let peerTarget = directory.appendingPathComponent("peer-\(repetition)").path
            let record = await offPool {
                Peers.run([
                    "python3", peerScript.path, socket, source.path, peerTarget, "--chunk", "\(Self.agentChunkSize)",
                ])
            }
            let line = record.output.split(separator: "\n").last.map(String.init) ?? ""
            guard record.status == 0, let result = (try? JSONValue(parsing: line))?.objectValue,
                let rate = result.double("mib_per_s"), let cpu = result.double("cpu_seconds"),
                Self.sameContents(source.path, peerTarget)
            else {
                log("the Python agent peer failed: \(record.error.prefix(300))")
                continue
            }
            try? FileManager.default.removeItem(atPath: peerTarget)
            theirs.append((rate, cpu))
        }
        let sizeText = smoke ? "1 MiB" : "100 MiB"
        table.add(
            "guest agent: \(sizeText) copied out of the guest, throughput",
            ours: median(ours.map(\.rate)),
            baseline: medianOrNil(theirs.map(\.rate)),
            baselineName: "Python socket+json+base64",
            unit: "MiB/s",
            target: .atLeast(1),
            note: "real qemu-ga on a Unix socket, \(Self.agentChunkSize >> 20) MiB chunks; ours: copyFromGuest"
        )
        if !tool.isEmpty {
            table.add(
                "  qmp ga cp --no-verify guest:FILE FILE, throughput",
                ours: median(tool),
                baseline: medianOrNil(theirs.map(\.rate)),
                baselineName: "Python socket+json+base64",
                unit: "MiB/s",
                target: .none,
                note: "the tool as a user runs it, its process start included"
            )
        }
        table.add(
            "guest agent: \(sizeText) copied out of the guest, client CPU",
            ours: median(ours.map(\.cpu)),
            baseline: medianOrNil(theirs.map(\.cpu)),
            baselineName: "Python socket+json+base64",
            unit: "s",
            target: .atMost(1),
            note: "CPU of the copying process alone (the agent's is the same for both)"
        )
    }

    /// Commands that would change the host the agent runs on.
    static let blockedAgentCommands = [
        "guest-shutdown", "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid",
        "guest-set-user-password", "guest-fsfreeze-freeze", "guest-fsfreeze-freeze-list", "guest-fsfreeze-thaw",
        "guest-fstrim", "guest-set-time", "guest-set-vcpus", "guest-set-memory-blocks",
        "guest-ssh-add-authorized-keys", "guest-ssh-remove-authorized-keys", "guest-exec",
    ]

    /// Copies `path` out of the agent at `socket` into `target` with `copyFromGuest`, and returns
    /// the bytes copied. The checksum check is off: the peer has none, and the figure compares
    /// the same work (the bench compares both copies with the source itself).
    static func copyOut(socket: String, from path: String, to target: String) async throws -> Int {
        try await QGAClient.withConnection(to: .unixSocket(path: socket)) { agent in
            let result = try await agent.copyFromGuest(
                from: path,
                to: target,
                options: QGAFileTransfer.Options(chunkSize: agentChunkSize, verifiesChecksum: false)
            )
            return Int(result.bytesTransferred)
        }
    }

    static func randomFile(at path: String, size: Int) throws {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes { buffer in
            let words = buffer.bindMemory(to: UInt64.self)
            for index in words.indices { words[index] = generator.next() }
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw AgentCopyFailure("cannot create \(path)")
        }
    }

    static func sameContents(_ first: String, _ second: String) -> Bool {
        FileManager.default.contentsEqual(atPath: first, andPath: second)
    }
}

/// Why the guest agent figure could not be measured.
struct AgentCopyFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
