import QGA
import QMPCore

/// How a program run in the guest by ``QGAClient/exec(_:arguments:environment:input:captureOutput:timeout:)``
/// ended, and what it wrote.
public struct QGAExecResult: Sendable, Hashable {
    /// The program's process id in the guest.
    public var pid: Int
    /// Its exit status, when it exited normally.
    public var exitCode: Int?
    /// The signal that ended it, when one did (on POSIX guests).
    public var signal: Int?
    /// What it wrote to standard output, when output was captured.
    public var standardOutput: [UInt8]
    /// What it wrote to standard error, when output was captured.
    public var standardError: [UInt8]
    /// Whether the agent kept only the start of standard output: it keeps at most
    /// ``QGAClient/execOutputLimit`` bytes of each stream and drops the rest.
    public var standardOutputTruncated: Bool
    /// Whether the agent kept only the start of standard error.
    public var standardErrorTruncated: Bool

    public init(
        pid: Int,
        exitCode: Int? = nil,
        signal: Int? = nil,
        standardOutput: [UInt8] = [],
        standardError: [UInt8] = [],
        standardOutputTruncated: Bool = false,
        standardErrorTruncated: Bool = false
    ) {
        self.pid = pid
        self.exitCode = exitCode
        self.signal = signal
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.standardOutputTruncated = standardOutputTruncated
        self.standardErrorTruncated = standardErrorTruncated
    }
}

/// Why ``QGAClient/exec(_:arguments:environment:input:captureOutput:timeout:)`` has no result
/// for a program it started.
public enum QGAExecError: Error, Sendable, CustomStringConvertible {
    /// The program did not end within the time given. It may still be running in the guest:
    /// the agent has no command to stop it, and `guest-exec-status` with its pid still reports
    /// it later.
    case timedOut(pid: Int, path: String, after: Duration)
    /// The program ended, but the agent's one report of its final status was lost: a read of
    /// `guest-exec-status` failed on the way back (no reply in time, a garbled or oversized
    /// reply), and when asked again the agent no longer knew the pid, since it forgets a
    /// finished program once it has reported it. `underlying` is the failed read's error.
    case finalStatusLost(pid: Int, path: String, underlying: any Error)
    /// The status could not be read, and whether the agent still has it is unknown: the
    /// connection ended, or the reads kept failing. `guest-exec-status` with the pid, on a new
    /// connection, gets it if the agent did not already report it.
    case statusUnavailable(pid: Int, path: String, underlying: any Error)

    /// The program's process id in the guest.
    public var pid: Int {
        switch self {
        case .timedOut(let pid, _, _), .finalStatusLost(let pid, _, _), .statusUnavailable(let pid, _, _): pid
        }
    }

    public var description: String {
        switch self {
        case .timedOut(let pid, let path, let limit):
            "\(path) (pid \(pid) in the guest) did not end within \(limit); it may still be running in the guest"
        case .finalStatusLost(let pid, let path, let underlying):
            "the final status of \(path) (pid \(pid) in the guest) was consumed by a read of guest-exec-status "
                + "whose reply was lost (\(underlying)); the agent no longer knows the pid, so its exit code "
                + "and output are gone"
        case .statusUnavailable(let pid, let path, let underlying):
            "the status of \(path) (pid \(pid) in the guest) could not be read: \(underlying); "
                + "guest-exec-status with pid \(pid) may still get it unless the agent already reported it"
        }
    }
}

extension QGAClient {
    /// The most the agent keeps of each of a program's output streams: qemu-ga drops what comes
    /// after it and sets `out-truncated` or `err-truncated`.
    public static let execOutputLimit = 16 * 1024 * 1024

    /// The ``Configuration/maximumReplySize`` that ``exec(_:arguments:environment:input:captureOutput:timeout:)``
    /// needs when it captures output: the final status of a program that filled both streams,
    /// base64 encoded, with room for the JSON around it.
    public static let execReplySizeNeeded = 2 * 4 * ((execOutputLimit + 2) / 3) + 64 * 1024

    /// Runs a program in the guest and waits for it to end.
    ///
    /// The agent starts the program (`guest-exec`) and does not say when it ends: the client asks
    /// with `guest-exec-status`, soon at first and then less and less often, up to a few times a
    /// second, so that a quick program returns quickly and a long one costs little.
    ///
    /// The agent reports a finished program's status once and then forgets the pid. When a read
    /// of the status fails on the way back, the client reads it again (after synchronising); if
    /// the agent no longer knows the pid, the failed read took the final status with it and the
    /// call throws ``QGAExecError/finalStatusLost(pid:path:underlying:)`` rather than guess.
    /// Status reads therefore wait as long as the configuration's `standard` class (or an
    /// override for `guest-exec-status`), not as long as a quick command: a final status carries
    /// the output and can be tens of megabytes.
    ///
    /// - Parameters:
    ///   - path: the program, as the guest finds it (a full path is safest).
    ///   - arguments: its arguments, without the program's name.
    ///   - environment: its whole environment as `NAME=value` entries (nothing of the agent's
    ///     is kept, `PATH` included); `nil` gives it the agent's.
    ///   - input: bytes for its standard input; `nil` gives it none.
    ///   - captureOutput: whether the agent collects standard output and error. The agent keeps
    ///     at most ``execOutputLimit`` bytes of each and says when it dropped the rest.
    ///   - timeout: how long to wait for the program to end; `nil` waits as long as it runs. A
    ///     status read under way when it runs out is finished first, since giving up on it could
    ///     throw away the final status it brings. Cancelling the task, too, stops the waiting,
    ///     not the program.
    /// - Throws: `QMPError` with code `invalidArguments`, before anything runs, when output is
    ///   captured and ``Configuration/maximumReplySize`` is below ``execReplySizeNeeded`` (the
    ///   default is above it): the reply with the output would be refused and its status lost.
    ///   The agent's error when it cannot start the program; ``QGAExecError`` once it started.
    public func exec(
        _ path: String,
        arguments: [String] = [],
        environment: [String]? = nil,
        input: [UInt8]? = nil,
        captureOutput: Bool = true,
        timeout: Duration? = nil
    ) async throws -> QGAExecResult {
        if captureOutput && configuration.maximumReplySize < Self.execReplySizeNeeded {
            throw QMPError(
                code: .invalidArguments,
                message: "the client's maximumReplySize (\(configuration.maximumReplySize) bytes) is below the "
                    + "\(Self.execReplySizeNeeded) bytes the final status of a program with captured output can "
                    + "take (16 MiB per stream, base64 encoded); its reply would be refused and the status lost",
                command: GuestExecCommand.name
            )
        }
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now + $0 }
        let started = try await execute(
            GuestExecCommand(
                path: path,
                arg: arguments.isEmpty ? nil : arguments,
                env: environment,
                inputData: input.map { Base64.encode($0) },
                captureOutput: captureOutput ? .flag(true) : nil
            )
        )
        let pid = Int(started.pid)
        var poll = ExecPolling()
        while true {
            let status = try await readExecStatus(pid: pid, path: path)
            if status.exited { return try Self.result(of: status, pid: pid, path: path) }
            let pause = poll.next()
            if let deadline, let timeout {
                let now = clock.now
                if now >= deadline { throw QGAExecError.timedOut(pid: pid, path: path, after: timeout) }
                try await Task.sleep(for: min(pause, deadline - now))
            } else {
                try await Task.sleep(for: pause)
            }
        }
    }

    /// Reads the status of `pid`, again when a read fails on the way back, and tells a final
    /// status that such a read consumed from an agent that never knew the pid.
    ///
    /// A read is never cut short by the caller's timeout: a read given up on is a read whose
    /// reply, the final status perhaps, is lost.
    private func readExecStatus(pid: Int, path: String) async throws -> GuestExecStatus {
        let limit = configuration.timeouts.overrides[GuestExecStatusCommand.name] ?? configuration.timeouts.standard
        var lostRead: (any Error)?
        var attempts = 0
        while true {
            attempts += 1
            do {
                return try await execute(GuestExecStatusCommand(pid: Int64(pid)), timeout: limit)
            } catch let error as QMPError where error.code == .commandFailed {
                // The agent answers an unknown pid with an error naming the parameter.
                guard let lostRead, error.message.contains("pid") else { throw error }
                throw QGAExecError.finalStatusLost(pid: pid, path: path, underlying: lostRead)
            } catch let error as QMPError where Self.replyMayHaveBeenLost(error) {
                // The agent may have handled this read and reported the final status in the
                // reply that was lost; the next read tells. The client synchronises first.
                lostRead = error
                if attempts >= 3 { throw QGAExecError.statusUnavailable(pid: pid, path: path, underlying: error) }
            } catch let error as QMPError where error.code == .connectionClosed {
                throw QGAExecError.statusUnavailable(pid: pid, path: path, underlying: error)
            }
        }
    }

    /// Whether a failed command may have run in the agent with its reply lost on the way.
    private static func replyMayHaveBeenLost(_ error: QMPError) -> Bool {
        error.code == .timeout || error.code == .protocolViolation
    }

    private static func result(of status: GuestExecStatus, pid: Int, path: String) throws -> QGAExecResult {
        func decode(_ text: String?, _ stream: String) throws -> [UInt8] {
            guard let text else { return [] }
            guard let bytes = Base64.decode(text) else {
                throw QMPError(
                    code: .protocolViolation,
                    message: "the agent's \(stream) of \(path) (pid \(pid)) is not base64",
                    command: GuestExecStatusCommand.name
                )
            }
            return bytes
        }
        return QGAExecResult(
            pid: pid,
            exitCode: status.exitcode.map { Int($0) },
            signal: status.signal.map { Int($0) },
            standardOutput: try decode(status.outData, "out-data"),
            standardError: try decode(status.errData, "err-data"),
            standardOutputTruncated: status.outTruncated ?? false,
            standardErrorTruncated: status.errTruncated ?? false
        )
    }
}

/// The pauses between status reads: short while the program may be a quick one, growing to a
/// cap so that a long one is not polled needlessly often.
struct ExecPolling {
    static let first = Duration.milliseconds(5)
    static let cap = Duration.milliseconds(250)
    private var current = first

    mutating func next() -> Duration {
        defer { current = min(current * 2, Self.cap) }
        return current
    }
}
