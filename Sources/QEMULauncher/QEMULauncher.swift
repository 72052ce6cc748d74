import CQMPSystem
import Dispatch
import Logging
import NIOConcurrencyHelpers
import QMPClient
import QMPCore
import QMPTransport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a private QEMU with a QMP socket and hands back a connected client.
///
/// The QEMU runs with `-nodefaults -display none`, its QMP socket in a fresh private
/// directory, paused (`-S`) unless asked otherwise, with KVM when `/dev/kvm` can be opened and
/// TCG otherwise. The binary is `binary` if set, else `$QEMU_BINARY`, else
/// `qemu-system-x86_64` from `PATH`.
///
/// ```swift
/// try await QEMULauncher().withQEMU { qemu in
///     try await qemu.client.execute("query-status")
/// }   // quit, then SIGTERM, then SIGKILL; the directory is removed, also when the body throws
/// ```
public struct QEMULauncher: Sendable {
    /// How QEMU runs guest code.
    public enum Accelerator: String, Sendable, Hashable {
        /// KVM when `/dev/kvm` is usable, TCG otherwise.
        case automatic
        /// KVM; QEMU fails to start when it is not usable.
        case kvm
        /// QEMU's own translator, which runs everywhere.
        case tcg
    }

    /// The QEMU binary; `nil` for `$QEMU_BINARY`, else `qemu-system-x86_64` from `PATH`.
    public var binary: String?
    /// The machine type (`-machine`): `none` for a machine without devices, `q35`, …
    public var machine: String
    /// How QEMU runs guest code.
    public var accelerator: Accelerator
    /// Start with the CPUs stopped (`-S`), in run state `prelaunch`.
    public var startPaused: Bool
    /// Appended to QEMU's command line.
    public var extraArguments: [String]
    /// How long QEMU may take to offer its QMP socket and greet. The first connection to it is
    /// bounded by what remains of this time, in place of the client's `connectTimeout`: QEMU
    /// greets only once its machine is built, which no connect bound foresees.
    public var startupTimeout: Duration
    /// How long each shutdown step (quit, SIGTERM) may take before the next one.
    public var shutdownStepTimeout: Duration
    /// The configuration of the client connected to QEMU's monitor.
    public var client: QMPClient.Configuration

    /// A launcher; by default a paused machine of type `none` with the best accelerator available.
    public init(
        binary: String? = nil,
        machine: String = "none",
        accelerator: Accelerator = .automatic,
        startPaused: Bool = true,
        extraArguments: [String] = [],
        startupTimeout: Duration = .seconds(30),
        shutdownStepTimeout: Duration = .seconds(5),
        client: QMPClient.Configuration = QMPClient.Configuration()
    ) {
        self.binary = binary
        self.machine = machine
        self.accelerator = accelerator
        self.startPaused = startPaused
        self.extraArguments = extraArguments
        self.startupTimeout = startupTimeout
        self.shutdownStepTimeout = shutdownStepTimeout
        self.client = client
    }

    /// Whether this machine can run KVM guests: `/dev/kvm` exists and opens read-write.
    public static var kvmIsUsable: Bool {
        let descriptor = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        closeDescriptor(descriptor)
        return true
    }

    /// The QEMU binary this launcher would start, resolved through `PATH`.
    ///
    /// - Throws: ``QEMULaunchError`` with a hint on how to install QEMU when there is none.
    public func resolvedBinary() throws(QEMULaunchError) -> String {
        let name = binary ?? environment("QEMU_BINARY") ?? "qemu-system-x86_64"
        if name.contains("/") {
            guard access(name, X_OK) == 0 else {
                throw QEMULaunchError(message: "QEMU binary \(name) does not exist or is not executable")
            }
            return name
        }
        for directory in (environment("PATH") ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw QEMULaunchError(
            message:
                "\(name) was not found on PATH; install QEMU (Debian/Ubuntu: apt-get install qemu-system-x86; macOS: brew install qemu) or set QEMU_BINARY"
        )
    }

    /// Starts QEMU and connects to it. Call ``QEMUInstance/shutdown()`` when done, or use
    /// ``withQEMU(logger:_:)``, which always does.
    ///
    /// - Throws: ``QEMULaunchError`` when QEMU cannot be started or offers no QMP socket in
    ///   time; `QMPError` when the connection to it fails.
    public func launch(logger: Logger = QMPClient.silentLogger) async throws -> QEMUInstance {
        let binary = try resolvedBinary()
        let directory = try PrivateDirectory.create()
        let socketPath = directory + "/qmp.sock"
        let logPath = directory + "/qemu.log"
        let useKVM: Bool =
            switch accelerator {
            case .automatic: Self.kvmIsUsable
            case .kvm: true
            case .tcg: false
            }
        var arguments = [
            binary,
            "-machine", machine,
            "-accel", useKVM ? "kvm" : "tcg",
            "-nodefaults",
            "-display", "none",
            "-qmp", "unix:\(socketPath),server=on,wait=off",
        ]
        if startPaused {
            arguments.append("-S")
        }
        arguments += extraArguments

        let pid = spawn(arguments, logPath: logPath)
        guard pid > 0 else {
            removeTree(directory)
            throw QEMULaunchError(
                message: "could not start \(binary)",
                underlying: SystemError(errno: -pid)
            )
        }
        writePidFile(pid, directory: directory)
        logger.debug("started QEMU", metadata: ["qmp_pid": "\(pid)", "qmp_arguments": "\(arguments)"])
        let process = QEMUProcess(pid: pid, directory: directory, logPath: logPath)

        do {
            let client = try await connectWhenReady(
                socketPath: socketPath,
                process: process,
                binary: binary,
                logger: logger
            )
            return QEMUInstance(
                client: client,
                process: process,
                socketPath: socketPath,
                arguments: arguments,
                shutdownStepTimeout: shutdownStepTimeout,
                logger: logger
            )
        } catch {
            await process.terminate(stepTimeout: shutdownStepTimeout, askedToQuit: false)
            throw error
        }
    }

    /// Starts QEMU, runs `body`, and shuts QEMU down whatever happens in `body`.
    public func withQEMU<Result: Sendable>(
        logger: Logger = QMPClient.silentLogger,
        _ body: (QEMUInstance) async throws -> Result
    ) async throws -> Result {
        let instance = try await launch(logger: logger)
        do {
            let result = try await body(instance)
            await instance.shutdown()
            return result
        } catch {
            await instance.shutdown()
            throw error
        }
    }

    private func connectWhenReady(
        socketPath: String,
        process: QEMUProcess,
        binary: String,
        logger: Logger
    ) async throws -> QMPClient {
        let clock = ContinuousClock()
        let deadline = clock.now + startupTimeout
        while true {
            if let status = process.reapIfExited() {
                throw QEMULaunchError(
                    message: "\(binary) \(status) before offering its QMP socket: \(process.logTail())"
                )
            }
            let remaining = deadline - clock.now
            if remaining <= .zero {
                throw startupTimeRanOut(binary: binary, process: process, socketExists: access(socketPath, F_OK) == 0)
            }
            if access(socketPath, F_OK) == 0 {
                // QEMU creates the socket early but greets only once the machine is built, which
                // on a loaded host can take longer than the client's own connect bound: the
                // greeting has whatever is left of the startup time, no more and no less.
                var configuration = client
                configuration.connectTimeout = remaining
                do {
                    return try await QMPClient.connect(
                        to: .unixSocket(path: socketPath),
                        configuration: configuration,
                        logger: logger
                    )
                } catch let error as QMPError where error.code == .connectionFailed {
                    // The socket file appears just before QEMU listens on it.
                } catch let error as QMPError where error.code == .timeout && clock.now >= deadline {
                    // The bound that ran out is the launcher's, not the client's: say so.
                    throw startupTimeRanOut(binary: binary, process: process, socketExists: true, underlying: error)
                }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The error for a QEMU that used all of its startup time, saying which step it had reached.
    private func startupTimeRanOut(
        binary: String,
        process: QEMUProcess,
        socketExists: Bool,
        underlying: QMPError? = nil
    ) -> QEMULaunchError {
        let step =
            socketExists
            ? "offered its QMP socket but did not greet"
            : "did not offer its QMP socket"
        let detail = underlying.map { " (\($0.message))" } ?? ""
        return QEMULaunchError(
            message: "\(binary) \(step) within its startup time of \(startupTimeout)\(detail); "
                + "a loaded host may need a longer QEMULauncher.startupTimeout: \(process.logTail())"
        )
    }

    private func writePidFile(_ pid: pid_t, directory: String) {
        let descriptor = open(directory + "/qemu.pid", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return }
        let text = Array("\(pid)\n".utf8)
        _ = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        closeDescriptor(descriptor)
    }
}

/// QEMU could not be started, or did not offer its QMP socket in time.
///
/// Its own type rather than a code of `QMPError`: launching a process is no part of the
/// protocol. Failures of the QMP connection to a started QEMU are `QMPError`s.
public struct QEMULaunchError: Error, Sendable, CustomStringConvertible {
    /// What failed, with QEMU's own last words from its log where there are any.
    public var message: String
    /// The error underneath, e.g. the system call that failed.
    public var underlying: (any Error & Sendable)?

    public init(message: String, underlying: (any Error & Sendable)? = nil) {
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        underlying.map { "\(message) (\($0))" } ?? message
    }
}

/// A QEMU started by ``QEMULauncher``, with its connected client.
public final class QEMUInstance: Sendable {
    /// The client connected to the QEMU's QMP socket.
    public let client: QMPClient
    /// The QEMU's process id.
    public var pid: pid_t { process.pid }
    /// The QMP socket, for other clients (QEMU serves one client at a time).
    public let socketPath: String
    /// The command line QEMU was started with.
    public let arguments: [String]

    private let process: QEMUProcess
    private let shutdownStepTimeout: Duration
    private let logger: Logger
    private let shutdownState = NIOLockedValueBox(ShutdownState.running)

    private enum ShutdownState {
        case running
        /// The first caller of ``shutdown()`` carries it out; later ones wait here.
        case shuttingDown(waiters: [CheckedContinuation<Void, Never>])
        case done
    }

    init(
        client: QMPClient,
        process: QEMUProcess,
        socketPath: String,
        arguments: [String],
        shutdownStepTimeout: Duration,
        logger: Logger
    ) {
        self.client = client
        self.process = process
        self.socketPath = socketPath
        self.arguments = arguments
        self.shutdownStepTimeout = shutdownStepTimeout
        self.logger = logger
    }

    /// What QEMU printed to stdout and stderr so far.
    public var output: String { process.log() }

    /// Whether the process is still running.
    public var isRunning: Bool { process.reapIfExited() == nil }

    /// Ends QEMU: `quit` over QMP, then SIGTERM, then SIGKILL, each step given
    /// `shutdownStepTimeout`; then removes the private directory. Safe to call more than once,
    /// also at the same time: the first call does the work, in its own task, and the others
    /// return when it is done. In a cancelled task it skips `quit` and starts at SIGTERM.
    public func shutdown() async {
        let first = shutdownState.withLockedValue { state -> Bool in
            guard case .running = state else { return false }
            state = .shuttingDown(waiters: [])
            return true
        }
        guard first else {
            await withCheckedContinuation { continuation in
                let done = shutdownState.withLockedValue { state -> Bool in
                    guard case .shuttingDown(var waiters) = state else { return true }
                    waiters.append(continuation)
                    state = .shuttingDown(waiters: waiters)
                    return false
                }
                if done { continuation.resume() }
            }
            return
        }
        if client.isConnected && !Task.isCancelled {
            do {
                try await client.execute("quit", timeout: shutdownStepTimeout)
            } catch {
                // QEMU may close the socket before the reply leaves: that is a quit too.
                logger.debug("quit did not answer", metadata: ["error": "\(error)"])
            }
        }
        await client.close()
        await process.terminate(stepTimeout: shutdownStepTimeout, askedToQuit: !Task.isCancelled)
        let waiters = shutdownState.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            defer { state = .done }
            guard case .shuttingDown(let waiters) = state else { return [] }
            return waiters
        }
        waiters.forEach { $0.resume() }
    }
}

/// The process side of a launched QEMU: waiting, signalling, cleaning up.
final class QEMUProcess: Sendable {
    let pid: pid_t
    let directory: String
    let logPath: String
    private let exitStatus = NIOLockedValueBox<String?>(nil)

    init(pid: pid_t, directory: String, logPath: String) {
        self.pid = pid
        self.directory = directory
        self.logPath = logPath
    }

    /// "exited with status N" or "was killed by signal N" once the process has ended (and been
    /// reaped); `nil` while it runs.
    func reapIfExited() -> String? {
        exitStatus.withLockedValue { known in
            if let known { return known }
            var status: CInt = 0
            let result = waitpid(pid, &status, WNOHANG)
            guard result == pid else {
                if result < 0 && errno == ECHILD {
                    known = "ended"
                }
                return known
            }
            let signal = status & 0x7f
            known = signal == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(signal)"
            return known
        }
    }

    /// Waits for the process to end by itself (after `quit`), then SIGTERM, then SIGKILL; then
    /// the directory goes. Returns once the process is reaped. Where QEMU was never asked to
    /// quit (`askedToQuit` false: a launch that failed or was given up), SIGTERM comes first.
    func terminate(stepTimeout: Duration, askedToQuit: Bool = true) async {
        // A process this launcher has reaped no longer holds its pid, which another process may
        // have by now: only one not yet reaped is signalled (a zombie keeps its pid until then).
        if !askedToQuit, reapIfExited() == nil { kill(pid, SIGTERM) }
        var ended = await waitForExit(within: stepTimeout)
        if !ended && askedToQuit {
            kill(pid, SIGTERM)
            ended = await waitForExit(within: stepTimeout)
        }
        if !ended {
            kill(pid, SIGKILL)
            _ = await waitForExit(within: .seconds(10))
        }
        removeTree(directory)
    }

    private func waitForExit(within timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while reapIfExited() == nil {
            guard clock.now < deadline else { return false }
            await pause(.milliseconds(5))
        }
        return true
    }

    /// Sleeps. Unlike `Task.sleep`, it does not end at once in a cancelled task (a launch given
    /// up, a shutdown of a cancelled scope), where the waits above would spin. On Dispatch's
    /// timer rather than an event loop, which the connections' traffic may keep busy.
    private func pause(_ amount: DispatchTimeInterval) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().asyncAfter(deadline: .now() + amount) { continuation.resume() }
        }
    }

    func log() -> String {
        let descriptor = open(logPath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return "" }
        defer { closeDescriptor(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func logTail() -> String {
        let lines = log().split(whereSeparator: \.isNewline).suffix(5)
        return lines.isEmpty ? "(it printed nothing)" : lines.joined(separator: " | ")
    }
}

func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
}

private func spawn(_ arguments: [String], logPath: String) -> pid_t {
    var cStrings = arguments.map { strdup($0) }
    cStrings.append(nil)
    defer { cStrings.forEach { free($0) } }
    return cStrings.withUnsafeBufferPointer { argv in
        argv.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: argv.count) { pointer in
            cqmp_spawn(pointer, logPath)
        }
    }
}

/// A fresh directory only this user can enter, under `$TMPDIR` (or /tmp), for sockets and logs.
package enum PrivateDirectory {
    /// Creates `…/swift-qmp-XXXXXX` and returns its path.
    package static func create() throws(QEMULaunchError) -> String {
        let base = environment("TMPDIR").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? "/tmp"
        var template = Array("\(base)/swift-qmp-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else {
            let code = errno
            throw QEMULaunchError(
                message: "could not create a private directory in \(base): \(String(cString: strerror(code)))"
            )
        }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes the directory and everything in it.
    package static func remove(_ path: String) {
        removeTree(path)
    }
}

/// Removes a directory and everything in it, without following symbolic links.
func removeTree(_ path: String) {
    if let directory = opendir(path) {
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            guard name != "." && name != ".." else { continue }
            let child = path + "/" + name
            var info = stat()
            if lstat(child, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
                removeTree(child)
            } else {
                unlink(child)
            }
        }
        closedir(directory)
    }
    rmdir(path)
}
