import ArgumentParser
import QEMULauncher
import QMPClient
import QMPCore
import QMPHistory
import QMPServer
import QMPSimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where to connect: an ADDRESS, `--launch` for a private QEMU, or neither for the simulated
/// QEMU that runs inside the tool (the embedded default).
struct ConnectionOptions: ParsableArguments {
    @Flag(help: "Start a private QEMU (qemu-system-x86_64, or $QEMU_BINARY) instead of connecting to ADDRESS.")
    var launch = false

    @Option(help: ArgumentHelp("Machine type for --launch.", valueName: "type"))
    var machine = "none"

    @Option(help: ArgumentHelp("Seconds to wait for the greeting and for each reply.", valueName: "seconds"))
    var timeout: Double = 60

    var commandTimeout: Duration { .seconds(timeout) }

    func validate() throws {
        // A year is far longer than anyone waits, and keeps the conversion to Duration exact.
        guard timeout > 0, timeout <= 365 * 86_400 else {
            throw ValidationError("--timeout expects a positive number of seconds, at most a year; got \(timeout)")
        }
    }

    /// With --launch there is no ADDRESS: the first of `words` must not look like one.
    func rejectAddressWithLaunch(_ words: [String]) throws {
        if launch, let first = words.first, Self.looksLikeAddress(first) {
            throw Self.addressWithLaunch
        }
    }

    /// What every command says when given both an ADDRESS and --launch.
    static let addressWithLaunch = ValidationError("give either ADDRESS or --launch, not both")

    /// Whether a word is an ADDRESS rather than a command: a path (it has a slash or names an
    /// existing file), HOST:PORT or vsock:CID:PORT. Command names have none of these.
    static func looksLikeAddress(_ word: String) -> Bool {
        if word.contains("/") || access(word, F_OK) == 0 {
            return true
        }
        switch try? QMPAddress(parsing: word) {
        case .tcp?, .vsock?: return true
        default: return false
        }
    }

    /// Splits a leading ADDRESS off `words` when there is one (never with --launch).
    func splitAddress(_ words: [String]) -> (address: String?, rest: [String]) {
        guard !launch, let first = words.first, Self.looksLikeAddress(first) else {
            return (nil, words)
        }
        return (first, Array(words.dropFirst()))
    }

    /// Connects (or launches, or starts the simulated QEMU), runs `body`, and always
    /// disconnects (or shuts QEMU down).
    ///
    /// - Parameter eventsKeptForFirstSubscription: see the client configuration's member of
    ///   that name; for commands that print every event.
    func withClient<Result: Sendable>(
        address: String?,
        eventsKeptForFirstSubscription: Int = 0,
        _ body: (QMPClient) async throws -> Result
    ) async throws -> Result {
        var configuration = QMPClient.Configuration(
            connectTimeout: .seconds(min(timeout, 30)),
            commandTimeout: commandTimeout,
            schemaSources: { QMPSchemaHistory.shared.sourceTypes(forServer: $0) }
        )
        configuration.eventsKeptForFirstSubscription = eventsKeptForFirstSubscription
        if launch {
            let launcher = QEMULauncher(machine: machine, client: configuration)
            return try await launcher.withQEMU { qemu in try await body(qemu.client) }
        }
        guard let address else {
            printError("qmp: no ADDRESS given, so talking to a simulated QEMU 7.2 (--launch starts a real one)")
            return try await withSimulatedQEMU(configuration: configuration, body)
        }
        let parsed = try QMPAddress(parsing: address)
        try refuseNonSocket(parsed)
        return try await QMPClient.withConnection(to: parsed, configuration: configuration) { client in
            try await body(client)
        }
    }
}

/// Refuses a Unix socket address whose path exists and is something else, saying what it is:
/// the system's own refusal names neither the path nor what was found there.
func refuseNonSocket(_ address: QMPAddress) throws(QMPError) {
    guard case .unixSocket(let path) = address else { return }
    var info = stat()
    guard stat(path, &info) == 0 else { return }
    let kind: String
    switch info.st_mode & S_IFMT {
    case S_IFSOCK: return
    case S_IFREG: kind = "a regular file"
    case S_IFDIR: kind = "a directory"
    case S_IFIFO: kind = "a named pipe"
    case S_IFCHR:
        throw QMPError(
            code: .connectionFailed,
            message: "\(path) is not a socket (it is a character device); write chardev:\(path) to open it as one"
        )
    case S_IFBLK: kind = "a block device"
    default: kind = "some other kind of file"
    }
    throw QMPError(code: .connectionFailed, message: "\(path) is not a socket (it is \(kind))")
}

/// Runs `body` with a client of a simulated QEMU served from a private socket.
func withSimulatedQEMU<Result: Sendable>(
    configuration: QMPClient.Configuration,
    _ body: (QMPClient) async throws -> Result
) async throws -> Result {
    let directory = try PrivateDirectory.create()
    defer { PrivateDirectory.remove(directory) }
    let server = QEMUSimulator().makeServer(listeningOn: [.unixSocket(path: directory + "/qmp.sock")])
    return try await server.serving { addresses in
        try await QMPClient.withConnection(to: addresses[0], configuration: configuration) { client in
            try await body(client)
        }
    }
}

/// Prints a line to standard error.
func printError(_ text: String) {
    writeLine(text, to: 2)
}

/// Prints a line to standard output at once, so that a reader of a pipe sees it now.
func printLine(_ text: String) {
    writeLine(text, to: 1)
}

private func writeLine(_ text: String, to descriptor: CInt) {
    var line = Array(text.utf8)
    line.append(UInt8(ascii: "\n"))
    line.withUnsafeBytes { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// Turns a failure into one clear line on stderr and the documented exit code.
func failure(reporting error: any Error) -> ExitCode {
    let (line, code) = failureLine(for: error)
    printError(line)
    return code
}

/// The line ``failure(reporting:)`` prints and the exit code it returns. Server text in it
/// (a desc, an error class) is escaped: the line goes to a terminal.
func failureLine(for error: any Error) -> (line: String, code: ExitCode) {
    let (text, code): (String, ExitCode)
    if let error = error as? CommandLineError {
        (text, code) = (error.message, ExitCodes.usage)
    } else if let error = error as? QMPError {
        switch error.code {
        case .commandFailed:
            (text, code) = ("\(error.errorClass ?? "Error"): \(error.message)", ExitCodes.commandFailed)
        case .invalidArguments:
            // An address that does not parse, or a command this QEMU lacks.
            (text, code) = (error.message, ExitCodes.usage)
        default:
            (text, code) = (error.description, ExitCodes.connectionProblem)
        }
    } else {
        (text, code) = ("\(error)", ExitCodes.connectionProblem)
    }
    return ("error: " + escapingControlCharacters(text), code)
}
