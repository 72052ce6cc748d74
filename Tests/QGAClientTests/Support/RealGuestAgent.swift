import Foundation

/// Why a test could not set up what it tests; a failure, never a skip.
struct SetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// QEMU's guest agent, run on the host on a Unix socket in a private directory of its own.
///
/// The agent acts on the machine it runs on, so commands that would change the host
/// (shutdown, suspend, passwords, freezing, trimming, the clock, CPUs, memory) are blocked,
/// and the tests run programs and touch files only in the agent's private directory.
struct RealGuestAgent {
    /// The agent's socket.
    let socketPath: String
    /// The private directory: the socket, the agent's state, its log, files the tests make.
    let directory: URL

    static let blockedCommands = [
        "guest-shutdown", "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid",
        "guest-set-user-password", "guest-fsfreeze-freeze", "guest-fsfreeze-freeze-list", "guest-fsfreeze-thaw",
        "guest-fstrim", "guest-set-time", "guest-set-vcpus", "guest-set-memory-blocks", "guest-ssh-add-authorized-keys",
        "guest-ssh-remove-authorized-keys",
    ]

    /// The binary: `$QEMU_GA_BINARY`, else `qemu-ga` from the usual places. scripts/test
    /// installs it; a missing agent fails the test that needs it, with how to get one.
    static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["QEMU_GA_BINARY"], !path.isEmpty { return path }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/usr/local/bin"]
        for directory in candidates where FileManager.default.isExecutableFile(atPath: "\(directory)/qemu-ga") {
            return "\(directory)/qemu-ga"
        }
        throw SetupError("qemu-ga is missing: run scripts/install-qemu-ga (scripts/test does), or set QEMU_GA_BINARY")
    }

    /// Starts an agent that also blocks `alsoBlocked`, runs `body` with it, and ends the agent by
    /// its pid and removes its directory, also when `body` throws.
    static func with<Result>(
        alsoBlocking alsoBlocked: [String] = [],
        _ body: (RealGuestAgent) async throws -> Result
    ) async throws -> Result {
        let binary = try binary()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("swift-qmp-qga-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let agent = RealGuestAgent(socketPath: directory.appendingPathComponent("qga.sock").path, directory: directory)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "-m", "unix-listen", "-p", agent.socketPath, "-t", directory.path,
            "-f", directory.appendingPathComponent("qga.pid").path,
            "-l", directory.appendingPathComponent("qga.log").path,
            "-b", (blockedCommands + alsoBlocked).joined(separator: ","),
        ]
        try process.run()
        defer {
            // SIGKILL, not SIGTERM: a child of the test runner may inherit a signal mask that
            // blocks SIGTERM, and the agent keeps nothing worth a clean exit.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        // The socket appears once the agent listens.
        let start = ContinuousClock.now
        while !FileManager.default.fileExists(atPath: agent.socketPath) {
            guard process.isRunning, ContinuousClock.now - start < .seconds(10) else {
                let log = (try? String(contentsOf: directory.appendingPathComponent("qga.log"), encoding: .utf8)) ?? ""
                throw SetupError("qemu-ga did not start listening on \(agent.socketPath): \(log)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try await body(agent)
    }
}
