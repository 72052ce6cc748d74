import Foundation
import QEMULauncher
import QMPClient
import QMPCore
import Testing

/// Every test here talks to the distribution's real QEMU. A missing QEMU is a failure, never a
/// skip: `scripts/test` installs it.
enum RealQEMU {
    /// How long a QEMU of the tests may take to start. Far more than QEMU needs: the suite runs
    /// hundreds of tests at once on few cores, and a start that waits its turn is no failure.
    static let startupTimeout: Duration = .seconds(120)

    static let launcher = QEMULauncher(startupTimeout: startupTimeout, shutdownStepTimeout: .seconds(5))

    /// The same, with a client that checks every command against QEMU's schema before sending.
    static let checkedLauncher = QEMULauncher(
        startupTimeout: RealQEMU.startupTimeout,
        shutdownStepTimeout: .seconds(5),
        client: QMPClient.Configuration(checksCommands: true)
    )

    /// Launches QEMU, runs `body`, shuts QEMU down, and checks that its process is gone.
    static func with<Result: Sendable>(
        _ launcher: QEMULauncher = RealQEMU.launcher,
        _ body: (QEMUInstance) async throws -> Result
    ) async throws -> Result {
        var pid: pid_t = 0
        defer {
            #expect(pid == 0 || kill(pid, 0) != 0, "QEMU process \(pid) is still running after shutdown")
        }
        return try await launcher.withQEMU { instance in
            pid = instance.pid
            return try await body(instance)
        }
    }
}

/// The real QEMUs the tests run: the distribution's (7.2 on Debian 12, from PATH or
/// `$QEMU_BINARY`) and QEMU 10.0 beside it. Neither is ever skipped: a missing one fails the test
/// that needs it, and `scripts/test` installs both.
enum RealQEMURelease: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case distribution = "the distribution's QEMU"
    case qemu10 = "QEMU 10.0"

    var testDescription: String { rawValue }

    /// The binary to start: `nil` for the launcher's own choice.
    var binary: String? {
        get throws {
            switch self {
            case .distribution: nil
            case .qemu10: try QEMU10.binary
            }
        }
    }

    /// A launcher of this QEMU.
    func launcher(
        machine: String = "none",
        extraArguments: [String] = [],
        client: QMPClient.Configuration = QMPClient.Configuration()
    ) throws -> QEMULauncher {
        QEMULauncher(
            binary: try binary,
            machine: machine,
            extraArguments: extraArguments,
            startupTimeout: RealQEMU.startupTimeout,
            shutdownStepTimeout: .seconds(5),
            client: client
        )
    }
}

/// QEMU 10.0 from Debian's bookworm-backports, unpacked beside the distribution's QEMU by
/// `scripts/install-qemu-10`: a wrapper that runs it in a private mount namespace with its own
/// modules. `scripts/test` installs it and names it in `$SWIFT_QMP_QEMU_10`; without that
/// variable the tests look where the script unpacks it.
enum QEMU10 {
    static var binary: String {
        get throws {
            if let named = ProcessInfo.processInfo.environment["SWIFT_QMP_QEMU_10"], !named.isEmpty {
                guard FileManager.default.isExecutableFile(atPath: named) else {
                    throw SetupFailure(description: "SWIFT_QMP_QEMU_10=\(named) is not an executable")
                }
                return named
            }
            let unpacked = URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/qemu-10.0/qemu-system-x86_64").path
            guard FileManager.default.isExecutableFile(atPath: unpacked) else {
                throw SetupFailure(
                    description: """
                        QEMU 10.0 was not found: SWIFT_QMP_QEMU_10 is not set and \(unpacked) does not exist; \
                        scripts/install-qemu-10 unpacks it there (scripts/test runs it)
                        """
                )
            }
            return unpacked
        }
    }
}

/// Runs the `qmp` executable built beside the tests.
enum QMPExecutable {
    struct Output: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var url: URL {
        get throws {
            let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for candidate in [directory, directory.deletingLastPathComponent()] {
                let url = candidate.appendingPathComponent("qmp")
                if FileManager.default.isExecutableFile(atPath: url.path) {
                    return url
                }
            }
            throw SetupFailure(description: "the qmp executable was not found beside \(directory.path)")
        }
    }

    /// Starts `qmp` with `arguments`; the caller waits for it.
    static func start(
        _ arguments: [String],
        input: String? = nil,
        environment: [String: String] = [:]
    ) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = try url
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        if let input {
            let stdin = Pipe()
            process.standardInput = stdin
            try process.run()
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        return (process, stdout, stderr)
    }

    /// Runs `qmp` to completion, killing it after `timeout`.
    static func run(
        _ arguments: [String],
        input: String? = nil,
        timeout: Duration = .seconds(30)
    ) async throws -> Output {
        let (process, stdout, stderr) = try start(arguments, input: input)
        return try await finish(process, stdout, stderr, timeout: timeout)
    }

    static func finish(_ process: Process, _ stdout: Pipe, _ stderr: Pipe, timeout: Duration) async throws -> Output {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        // Read while waiting, so that a full pipe cannot stall the child.
        async let out = offCooperativePool { stdout.fileHandleForReading.readDataToEndOfFile() }
        async let err = offCooperativePool { stderr.fileHandleForReading.readDataToEndOfFile() }
        while process.isRunning && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            Issue.record("qmp \(process.arguments ?? []) did not finish within \(timeout)")
        }
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: String(decoding: await out, as: UTF8.self),
            stderr: String(decoding: await err, as: UTF8.self)
        )
    }
}

/// Runs blocking work (reading a pipe, waiting for a process) on a Dispatch thread, so that it
/// cannot occupy one of the few threads of Swift's cooperative pool (two on this machine) and
/// stall every other test's async work meanwhile.
func offCooperativePool<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

/// A client of `address` while `body` runs, closed whether `body` returns or throws.
func withClient<Result: Sendable>(
    of address: QMPAddress,
    configuration: QMPClient.Configuration = QMPClient.Configuration(),
    _ body: (QMPClient) async throws -> Result
) async throws -> Result {
    try await QMPClient.withConnection(to: address, configuration: configuration) { client in try await body(client) }
}

/// Something a test needs could not be found or started.
struct SetupFailure: Error, CustomStringConvertible {
    var description: String
}
