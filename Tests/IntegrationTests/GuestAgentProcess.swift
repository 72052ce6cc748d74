import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// QEMU's guest agent run on this host, on a Unix socket in a private directory, for the tool's
/// tests (Tests/QGAClientTests has the client's own copy: test targets share no support code).
///
/// The agent acts on the machine it runs on: every command that would change the host
/// (shutdown, suspend, passwords, freezing, trimming, the clock, CPUs, memory, SSH keys) is
/// blocked, and the tests run programs and touch files only in the private directory.
struct GuestAgentProcess {
    /// The agent's socket.
    let socketPath: String
    /// The private directory: the socket, the agent's state and log, files the tests make.
    let directory: URL

    static let blockedCommands = [
        "guest-shutdown", "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid",
        "guest-set-user-password", "guest-fsfreeze-freeze", "guest-fsfreeze-freeze-list", "guest-fsfreeze-thaw",
        "guest-fstrim", "guest-set-time", "guest-set-vcpus", "guest-set-memory-blocks", "guest-ssh-add-authorized-keys",
        "guest-ssh-remove-authorized-keys",
    ]

    /// `$QEMU_GA_BINARY`, else `qemu-ga` from the usual places; scripts/test installs it.
    static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["QEMU_GA_BINARY"], !path.isEmpty { return path }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/usr/local/bin"]
        for directory in candidates where FileManager.default.isExecutableFile(atPath: "\(directory)/qemu-ga") {
            return "\(directory)/qemu-ga"
        }
        throw SetupFailure(
            description: "qemu-ga is missing: run scripts/install-qemu-ga (scripts/test does), or set QEMU_GA_BINARY"
        )
    }

    /// Starts an agent, runs `body` with it, then ends the agent by its pid and removes its
    /// directory, also when `body` throws.
    static func with<Result>(_ body: (GuestAgentProcess) async throws -> Result) async throws -> Result {
        let binary = try binary()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("swift-qmp-tool-qga-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let agent = GuestAgentProcess(
            socketPath: directory.appendingPathComponent("qga.sock").path,
            directory: directory
        )
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "-m", "unix-listen", "-p", agent.socketPath, "-t", directory.path,
            "-f", directory.appendingPathComponent("qga.pid").path,
            "-l", directory.appendingPathComponent("qga.log").path,
            "-b", blockedCommands.joined(separator: ","),
        ]
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer {
            // SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let start = ContinuousClock.now
        while !FileManager.default.fileExists(atPath: agent.socketPath) {
            guard process.isRunning, ContinuousClock.now - start < .seconds(10) else {
                let log = (try? String(contentsOf: directory.appendingPathComponent("qga.log"), encoding: .utf8)) ?? ""
                throw SetupFailure(description: "qemu-ga did not start listening on \(agent.socketPath): \(log)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try await body(agent)
    }
}
