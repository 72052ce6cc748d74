import ArgumentParser
import NIOConcurrencyHelpers
import NIOCore
import QGAClient
import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - exec

struct GuestAgentExec: GuestAgentAction {
    static let configuration = CommandConfiguration(
        commandName: "qmp ga ADDRESS exec",
        abstract: "Run a program in the guest; its exit code becomes qmp's.",
        discussion: """
            The agent starts the program and qmp waits for it to end, then writes what it wrote \
            to standard output and error to qmp's own, and exits with its exit code (128 + N \
            when signal N ended it). The agent keeps at most 16 MiB of each stream: a note on \
            stderr says when it dropped the rest. Standard input goes to the program when it is \
            not a terminal (a pipe, a file), or with --stdin; the agent takes it in one piece, \
            so it is read to its end first.

            qmp's own failures keep their codes (3: no agent answered or the program's status \
            was lost; 64: bad command line; 1: the agent refused to start the program), each \
            with a line on stderr that begins 'error:'.

            Examples:
              qmp ga /tmp/qga.sock exec -- uname -a
              qmp ga /tmp/qga.sock exec --env LC_ALL=C -- ls -l /
              qmp ga /tmp/qga.sock exec --time-limit 5 -- sleep 1
            """
    )

    @OptionGroup var agent: GuestAgentOptions

    @Option(
        name: .customLong("env"),
        help: ArgumentHelp("Set NAME=VALUE in the program's environment (repeatable).", valueName: "name=value")
    )
    var environment: [String] = []

    @Flag(
        inversion: .prefixedNo,
        help: "Pass standard input to the program (default: when it is not a terminal)."
    )
    var stdin: Bool?

    @Flag(help: "Do not collect the program's output (the agent discards it).")
    var noCapture = false

    @Option(help: ArgumentHelp("Stop waiting for the program after this many seconds.", valueName: "seconds"))
    var timeLimit: Double?

    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp("The program and its arguments, after --.", valueName: "program")
    )
    var command: [String] = []

    /// The program and its arguments: the words after `--` (which ArgumentParser may leave in).
    var programWords: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        // The words after the options are passed through, --help among them.
        if let first = command.first, first == "--help" || first == "-h" {
            throw CleanExit.helpRequest(Self.self)
        }
        guard !programWords.isEmpty else {
            throw ValidationError("expected the program to run, after --: qmp ga ADDRESS exec -- PROGRAM [ARGUMENTS]")
        }
        for entry in environment where !entry.contains("=") || entry.hasPrefix("=") {
            throw ValidationError("--env expects NAME=VALUE, got '\(entry)'")
        }
        if let timeLimit, !(timeLimit > 0 && timeLimit <= 365 * 86_400) {
            throw ValidationError("--time-limit expects a positive number of seconds, at most a year; got \(timeLimit)")
        }
    }

    func run(address: String) async throws {
        let words = programWords
        let input: [UInt8]? = (stdin ?? (isatty(0) == 0)) ? Self.readStandardInput() : nil
        let result: QGAExecResult
        do {
            result = try await agent.withAgent(at: address) { client in
                try await client.exec(
                    words[0],
                    arguments: Array(words.dropFirst()),
                    environment: environment.isEmpty ? nil : environment,
                    input: input,
                    captureOutput: !noCapture,
                    timeout: timeLimit.map { .seconds($0) }
                )
            }
        } catch let error as QGAExecError {
            printError("error: " + escapingControlCharacters(error.description))
            throw ExitCodes.connectionProblem
        } catch {
            throw failure(reporting: error)
        }
        writeAll(result.standardOutput, to: 1)
        writeAll(result.standardError, to: 2)
        for (truncated, stream) in [
            (result.standardOutputTruncated, "standard output"), (result.standardErrorTruncated, "standard error"),
        ] where truncated {
            printError(
                "qmp: the agent kept only the first \(QGAClient.execOutputLimit >> 20) MiB of the program's "
                    + "\(stream); the rest is lost"
            )
        }
        if let signal = result.signal {
            printError("qmp: \(escapingControlCharacters(words[0])) in the guest was ended by signal \(signal)")
            throw ExitCode(Int32(truncatingIfNeeded: 128 + signal))
        }
        let code = Int32(truncatingIfNeeded: result.exitCode ?? 0)
        if code != 0 { throw ExitCode(code) }
    }

    /// Standard input to its end.
    static func readStandardInput() -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return bytes }
            bytes += buffer[..<count]
        }
    }
}

/// Writes all of `bytes` to a file descriptor.
func writeAll(_ bytes: [UInt8], to descriptor: CInt) {
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

// MARK: - cp

struct GuestAgentCopy: GuestAgentAction {
    static let configuration = CommandConfiguration(
        commandName: "qmp ga ADDRESS cp",
        abstract: "Copy a file into or out of the guest.",
        discussion: """
            Exactly one of SOURCE and DESTINATION is in the guest, written guest:PATH (a path \
            as the agent's process sees it); the other is a file on this host. A destination \
            that is a directory here, or a guest path ending in /, gets the source's file name.

            The file goes in chunks (4 MiB by default, at most what a reply may carry through \
            libvirt's 10 MiB limit), and at the end the SHA-256 of both sides is compared \
            (--no-verify skips it: checking a copy into the guest reads the file back). A \
            progress bar is drawn on stderr when stderr is a terminal. An interrupted copy says \
            how far it got; --resume-from BYTES picks it up there, and --resume does so for a \
            copy out of the guest from the size of the local file.

            Examples:
              qmp ga /tmp/qga.sock cp guest:/etc/os-release /tmp/os-release
              qmp ga /tmp/qga.sock cp /tmp/os-release guest:/tmp/os-release.copy
              qmp ga /tmp/qga.sock cp --chunk-size 1M guest:/etc/os-release /tmp/
            """
    )

    @OptionGroup var agent: GuestAgentOptions

    @Option(
        help: ArgumentHelp(
            "Bytes per command: a number, or with K or M for KiB or MiB (default 4M).",
            valueName: "size"
        )
    )
    var chunkSize: String?

    @Flag(help: "Resume a copy out of the guest from the size of the local file.")
    var resume = false

    @Option(help: ArgumentHelp("Resume an interrupted copy at this byte.", valueName: "bytes"))
    var resumeFrom: Int64?

    @Flag(help: "Do not compare the SHA-256 of both sides at the end.")
    var noVerify = false

    @Argument(help: ArgumentHelp("[guest:]SOURCE [guest:]DESTINATION", valueName: "paths"))
    var paths: [String] = []

    static let guestPrefix = "guest:"

    /// The copy the paths describe.
    enum Direction {
        case toGuest(local: String, guest: String)
        case fromGuest(guest: String, local: String)
    }

    func direction() throws(CommandLineError) -> Direction {
        guard paths.count == 2 else {
            throw CommandLineError(
                message: "expected SOURCE and DESTINATION, one of them guest:PATH; got \(paths.count) path(s)"
            )
        }
        let (source, destination) = (paths[0], paths[1])
        switch (source.hasPrefix(Self.guestPrefix), destination.hasPrefix(Self.guestPrefix)) {
        case (true, false):
            let guest = String(source.dropFirst(Self.guestPrefix.count))
            var local = destination
            if Self.isDirectory(local) {
                local += (local.hasSuffix("/") ? "" : "/") + Self.fileName(guest)
            }
            return .fromGuest(guest: guest, local: local)
        case (false, true):
            var guest = String(destination.dropFirst(Self.guestPrefix.count))
            if guest.hasSuffix("/") { guest += Self.fileName(source) }
            return .toGuest(local: source, guest: guest)
        case (true, true):
            throw CommandLineError(message: "both paths are in the guest; expected one guest:PATH and one local path")
        case (false, false):
            throw CommandLineError(
                message: "neither path is in the guest; write the guest's as guest:PATH, e.g. guest:/etc/hostname"
            )
        }
    }

    func validate() throws {
        _ = try options(resumeFrom: nil)
        if resume && resumeFrom != nil {
            throw ValidationError("give --resume or --resume-from BYTES, not both")
        }
    }

    func options(resumeFrom offset: Int64?) throws(CommandLineError) -> QGAFileTransfer.Options {
        var options = QGAFileTransfer.Options(resumeFrom: offset, verifiesChecksum: !noVerify)
        if let chunkSize {
            guard let size = Self.size(chunkSize), (1...QGAFileTransfer.maximumChunkSize).contains(size) else {
                throw CommandLineError(
                    message: "--chunk-size expects a size from 1 to \(QGAFileTransfer.maximumChunkSize) bytes "
                        + "(a number, or with K or M), got '\(chunkSize)'"
                )
            }
            options.chunkSize = size
        }
        if let offset, offset < 0 {
            throw CommandLineError(message: "--resume-from expects a byte offset of 0 or more, got \(offset)")
        }
        return options
    }

    func run(address: String) async throws {
        let direction: Direction
        let options: QGAFileTransfer.Options
        do {
            direction = try self.direction()
            var offset = resumeFrom
            if resume {
                guard case .fromGuest(_, let local) = direction else {
                    throw CommandLineError(
                        message: "--resume reads how far a copy got from the local file, which a copy into the "
                            + "guest does not have: give --resume-from BYTES (an interrupted copy prints it)"
                    )
                }
                offset = Self.fileSize(local) ?? 0
            }
            options = try self.options(resumeFrom: offset)
        } catch {
            throw failure(reporting: error)
        }
        if case .toGuest(let local, _) = direction, !Self.isReadableFile(local) {
            throw failure(reporting: CommandLineError(message: "\(local) is no file this user can read"))
        }
        let bar = isatty(2) == 1 ? ProgressBar() : nil
        let reached = NIOLockedValueBox<Int64?>(nil)
        let progress: @Sendable (QGAFileTransfer.Progress) -> Void = { step in
            reached.withLockedValue { $0 = step.bytesTransferred }
            bar?.show(step)
        }
        let started = ContinuousClock.now
        do {
            let result = try await agent.withAgent(at: address) { client in
                switch direction {
                case .toGuest(let local, let guest):
                    try await client.copyToGuest(from: local, to: guest, options: options, progress: progress)
                case .fromGuest(let guest, let local):
                    try await client.copyFromGuest(from: guest, to: local, options: options, progress: progress)
                }
            }
            bar?.finish(result, elapsed: ContinuousClock.now - started)
        } catch {
            bar?.abandon()
            let (line, code) = Self.failureLine(for: error)
            printError(line)
            if let offset = reached.withLockedValue({ $0 }), offset > (options.resumeFrom ?? 0) {
                printError("qmp: the copy stopped after \(offset) bytes; --resume-from \(offset) picks it up there")
            }
            throw code
        }
    }

    /// A copy's own failures are the agent's refusal (1) when they are about the files; the
    /// rest as for every command.
    static func failureLine(for error: any Error) -> (String, ExitCode) {
        if let error = error as? QGAFileTransferError {
            return ("error: " + escapingControlCharacters(error.description), ExitCodes.commandFailed)
        }
        if let error = error as? IOError {
            return ("error: " + escapingControlCharacters("\(error)"), ExitCodes.commandFailed)
        }
        return QMPTool.failureLine(for: error)
    }

    /// `4194304`, `512K`, `4M`.
    static func size(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20]
        if let last = text.last, let unit = units[last] {
            return Int(text.dropLast()).flatMap { $0.multipliedReportingOverflow(by: unit).overflow ? nil : $0 * unit }
        }
        return Int(text)
    }

    static func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    static func isReadableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, R_OK) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }
}

/// The progress of a copy on stderr, redrawn in place at most ten times a second.
final class ProgressBar: Sendable {
    private struct State {
        var lastDrawn: ContinuousClock.Instant?
        var started = ContinuousClock.now
        var drawn = false
    }
    private let state = NIOLockedValueBox(State())

    func show(_ progress: QGAFileTransfer.Progress) {
        let now = ContinuousClock.now
        let (due, started) = state.withLockedValue { state -> (Bool, ContinuousClock.Instant) in
            let done = progress.totalBytes.map { progress.bytesTransferred >= $0 } ?? false
            guard done || state.lastDrawn.map({ now - $0 >= .milliseconds(100) }) ?? true else {
                return (false, state.started)
            }
            state.lastDrawn = now
            state.drawn = true
            return (true, state.started)
        }
        guard due else { return }
        let seconds = Double((now - started).components.seconds) + Double((now - started).components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(progress.bytesTransferred) / seconds : 0
        var line = GuestInfoText.bytes(UInt64(max(0, progress.bytesTransferred)))
        if let total = progress.totalBytes, total > 0 {
            let fraction = min(1, Double(progress.bytesTransferred) / Double(total))
            let width = 30
            let filled = Int((fraction * Double(width)).rounded(.down))
            line =
                "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
                + "\(Int((fraction * 100).rounded(.down)))%  " + line + " of " + GuestInfoText.bytes(UInt64(total))
        }
        line += "  " + GuestInfoText.bytes(UInt64(rate)) + "/s"
        writeAll(Array(("\r\u{1B}[K" + line).utf8), to: 2)
    }

    func finish(_ result: QGAFileTransfer.Result, elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(result.bytesTransferred) / seconds : 0
        let check = result.checksumVerified ? "SHA-256 verified" : "not verified"
        let resumed = result.resumedFrom > 0 ? ", resumed at byte \(result.resumedFrom)" : ""
        writeAll(
            Array(
                ("\r\u{1B}[K" + "copied \(GuestInfoText.bytes(UInt64(result.totalBytes)))\(resumed) in "
                    + "\((seconds * 10).rounded() / 10) s (\(GuestInfoText.bytes(UInt64(rate)))/s), \(check)\n").utf8
            ),
            to: 2
        )
    }

    func abandon() {
        if state.withLockedValue({ $0.drawn }) { writeAll(Array("\n".utf8), to: 2) }
    }
}
