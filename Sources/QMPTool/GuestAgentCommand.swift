import ArgumentParser
import QGA
import QGAClient
import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `qmp ga ADDRESS ACTION ...`: the guest agent (qemu-ga) from the host side of its channel.
///
/// The ADDRESS comes before the action, as in `ssh HOST COMMAND`: ArgumentParser has no
/// subcommands behind a positional argument, so this command takes the words as they are and
/// hands the rest to the action's own parser.
struct GuestAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ga",
        abstract: "Talk to a QEMU guest agent (qemu-ga): ping, info, exec, cp.",
        usage: "qmp ga ADDRESS ACTION [options] [arguments]",
        discussion: """
            ADDRESS is the host side of the agent's channel: a Unix socket path (QEMU's \
            -chardev socket behind the org.qemu.guest_agent.0 port) or HOST:PORT. Every command \
            synchronises with guest-sync-delimited first, so that a late reply to an earlier \
            client is never taken for this one's.

            Actions:
              ping         Check that the agent answers (--wait: until it does).
              info         The guest's OS, host name, time, network, users, disks.
              exec -- CMD  Run a program in the guest; its exit code becomes qmp's.
              cp SRC DST   Copy a file into or out of the guest (guest:PATH is its side).

            Examples:
              qmp ga /tmp/qga.sock ping
              qmp ga /tmp/qga.sock ping --wait 30
              qmp ga /tmp/qga.sock info
              qmp ga /tmp/qga.sock info --json
              qmp ga /tmp/qga.sock exec -- uname -a
              qmp ga /tmp/qga.sock cp guest:/etc/os-release /tmp/os-release

            'qmp ga ADDRESS ACTION --help' shows an action's options. Exit codes: 0 success; \
            1 the agent refused the command (class and description on stderr); 3 no agent \
            answered at ADDRESS, within the time allowed; 64 bad command line. exec exits with \
            the program's own code.
            """
    )

    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp("ADDRESS ACTION [options] [arguments]", valueName: "words")
    )
    var words: [String] = []

    /// The actions by the word that names them.
    static let actions: [(name: String, type: any GuestAgentAction.Type)] = [
        ("ping", GuestAgentPing.self),
        ("info", GuestAgentInfo.self),
        ("exec", GuestAgentExec.self),
        ("cp", GuestAgentCopy.self),
    ]

    func run() async throws {
        // The words are taken as they come, --help among them.
        if let first = words.first, ["--help", "-h", "help"].contains(first) {
            throw CleanExit.helpRequest(Self.self)
        }
        guard let address = words.first, !address.hasPrefix("-") else {
            throw failure(
                reporting: CommandLineError(
                    message: "expected the agent's ADDRESS (a Unix socket path or HOST:PORT), then an action: "
                        + Self.actionList
                )
            )
        }
        if Self.actions.contains(where: { $0.name == address }), !ConnectionOptions.looksLikeAddress(address) {
            throw failure(
                reporting: CommandLineError(
                    message: "expected the agent's ADDRESS before the action: qmp ga ADDRESS \(address) ..."
                )
            )
        }
        guard words.count >= 2 else {
            throw failure(
                reporting: CommandLineError(message: "expected an action after \(address): \(Self.actionList)")
            )
        }
        let name = words[1]
        guard let action = Self.actions.first(where: { $0.name == name })?.type else {
            throw failure(
                reporting: CommandLineError(
                    message: "'\(name)' is no action of qmp ga; expected \(Self.actionList)"
                        + NameSuggestions.hint(for: name, among: Self.actions.map(\.name))
                )
            )
        }
        try await action.run(address: address, arguments: Array(words.dropFirst(2)))
    }

    static var actionList: String { actions.map(\.name).joined(separator: ", ") }
}

/// An action of `qmp ga`: a command of its own, parsed from the words after ADDRESS.
protocol GuestAgentAction: AsyncParsableCommand {
    /// Runs the action on the agent at `address`.
    func run(address: String) async throws
}

extension GuestAgentAction {
    /// Parses `arguments` as this action's and runs it. Help and parse errors come out as
    /// ArgumentParser prints them for a command, with the action's usage.
    static func run(address: String, arguments: [String]) async throws {
        // exec passes the words after its options through, a leading --help among them.
        if let first = arguments.first, first == "--help" || first == "-h" {
            printLine(helpMessage())
            return
        }
        let action: Self
        do {
            action = try parse(arguments)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                printLine(message)
            } else {
                printError(message)
            }
            throw code == .success ? ExitCode.success : ExitCodes.usage
        }
        try await action.run(address: address)
    }

    func run() async throws {
        throw CommandLineError(message: "usage: \(Self.configuration.commandName ?? "qmp ga") (after an ADDRESS)")
    }
}

/// What every action takes: how long to wait.
struct GuestAgentOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Seconds to wait for each reply (default: by command, 5 for quick ones such as guest-ping, 30 for others).",
            valueName: "seconds"
        )
    )
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout > 0 && timeout <= 365 * 86_400) {
            throw ValidationError("--timeout expects a positive number of seconds, at most a year; got \(timeout)")
        }
    }

    var configuration: QGAClient.Configuration {
        guard let timeout else { return QGAClient.Configuration() }
        let limit = Duration.seconds(timeout)
        return QGAClient.Configuration(
            timeouts: QGATimeouts(synchronization: limit, quick: limit, standard: limit, long: limit),
            connectTimeout: .seconds(min(timeout, 30))
        )
    }

    /// Connects to the agent at `address`, runs `body`, and disconnects.
    func withAgent<Result: Sendable>(
        at address: String,
        _ body: (QGAClient) async throws -> Result
    ) async throws -> Result {
        let parsed = try QMPAddress(parsing: address)
        try refuseNonSocket(parsed)
        return try await QGAClient.withConnection(to: parsed, configuration: configuration, body)
    }
}

// MARK: - ping

struct GuestAgentPing: GuestAgentAction {
    static let configuration = CommandConfiguration(
        commandName: "qmp ga ADDRESS ping",
        abstract: "Check that the guest agent answers.",
        discussion: """
            Prints how long the agent took to answer guest-ping. With --wait, tries again until \
            the agent answers or the seconds have passed: an agent starts late in a booting guest, \
            and until then its channel accepts the connection but nothing answers.

            Examples:
              qmp ga /tmp/qga.sock ping
              qmp ga /tmp/qga.sock ping --wait 30
            """
    )

    @OptionGroup var agent: GuestAgentOptions

    @Option(help: ArgumentHelp("Keep trying for this many seconds until the agent answers.", valueName: "seconds"))
    var wait: Double?

    func validate() throws {
        if let wait, !(wait > 0 && wait <= 365 * 86_400) {
            throw ValidationError("--wait expects a positive number of seconds, at most a year; got \(wait)")
        }
    }

    func run(address: String) async throws {
        let clock = ContinuousClock()
        let deadline = wait.map { clock.now + .seconds($0) }
        while true {
            do {
                let elapsed = try await agent.withAgent(at: address) { client in
                    // The first command synchronises: time the ping alone.
                    try await client.synchronize()
                    return try await clock.measure { try await client.execute(GuestPingCommand()) }
                }
                printLine("the guest agent at \(address) answered guest-ping in \(Self.describe(elapsed))")
                return
            } catch let error as QMPError where error.code != .commandFailed && error.code != .invalidArguments {
                guard let deadline, clock.now < deadline else { throw failure(reporting: error) }
                try? await Task.sleep(for: min(.milliseconds(500), deadline - clock.now))
            } catch {
                throw failure(reporting: error)
            }
        }
    }

    static func describe(_ duration: Duration) -> String {
        let milliseconds =
            Double(duration.components.seconds) * 1000
            + Double(duration.components.attoseconds) / 1e15
        return milliseconds < 10
            ? "\((milliseconds * 100).rounded() / 100) ms" : "\(Int(milliseconds.rounded())) ms"
    }
}

// MARK: - info

struct GuestAgentInfo: GuestAgentAction {
    static let configuration = CommandConfiguration(
        commandName: "qmp ga ADDRESS info",
        abstract: "Print what the guest agent knows of its guest.",
        discussion: """
            Asks the agent for its version and commands, the guest's OS, host name, time and \
            time zone, network interfaces with their addresses, logged-in users and mounted \
            filesystems. What the agent cannot tell (a command it lacks, has disabled, or that \
            fails in this guest) is shown as unavailable with the agent's reason; the rest is \
            shown all the same.

            Examples:
              qmp ga /tmp/qga.sock info
              qmp ga /tmp/qga.sock info --json
            """
    )

    @OptionGroup var agent: GuestAgentOptions

    @Flag(help: "Print one JSON object: each part as the agent replied, reasons for those missing under 'unavailable'.")
    var json = false

    /// The parts, in the order they are shown: the key in --json output and the command behind it.
    static let parts: [(key: String, command: String)] = [
        ("agent", "guest-info"), ("os", "guest-get-osinfo"), ("host-name", "guest-get-host-name"),
        ("time", "guest-get-time"), ("timezone", "guest-get-timezone"),
        ("interfaces", "guest-network-get-interfaces"), ("users", "guest-get-users"),
        ("filesystems", "guest-get-fsinfo"),
    ]

    // Not QGAClient.guestInfo(): --json shows the replies as the agent sent them, the text adds
    // the agent's version and the time zone, and an agent that stops answering ends the command
    // at once instead of each later part waiting out its own limit.
    func run(address: String) async throws {
        let replies: [String: Result<JSONValue, QMPError>]
        do {
            replies = try await agent.withAgent(at: address) { client in
                var replies: [String: Result<JSONValue, QMPError>] = [:]
                for (key, command) in Self.parts {
                    do {
                        replies[key] = .success(try await client.execute(command))
                    } catch let error as QMPError where error.code == .commandFailed {
                        replies[key] = .failure(error)
                    }
                }
                return replies
            }
        } catch {
            throw failure(reporting: error)
        }
        if json {
            var object: JSONObject = [:]
            var unavailable: JSONObject = [:]
            for (key, _) in Self.parts {
                switch replies[key] {
                case .success(let value)?: object[key] = value
                case .failure(let error)?: unavailable[key] = .string(Self.reason(error))
                case nil: break
                }
            }
            object["unavailable"] = .object(unavailable)
            printLine(JSONValue.object(object).serialized(style: .pretty(indent: 2)))
            return
        }
        for line in GuestInfoText(address: address, replies: replies).lines {
            printLine(escapingControlCharacters(line))
        }
    }

    static func reason(_ error: QMPError) -> String {
        "\(error.errorClass ?? "Error"): \(error.message)"
    }
}

/// `qmp ga ADDRESS info` as text: the typed bindings read each reply; a reply of a shape they
/// do not know is shown as JSON rather than dropped.
struct GuestInfoText {
    let address: String
    let replies: [String: Result<JSONValue, QMPError>]

    var lines: [String] {
        var lines: [String] = []
        func row(_ label: String, _ text: String) {
            lines.append(label.column(13) + text)
        }
        /// The part decoded as `T`, or a row saying why it is not there.
        func part<T: QMPJSONConvertible>(_ key: String, _ label: String, as type: T.Type) -> T? {
            switch replies[key] {
            case .success(let value)?:
                if let decoded = try? T(json: value, path: QMPPath(["return"])) { return decoded }
                row(label, value.serialized())
            case .failure(let error)?:
                row(label, "unavailable (\(GuestAgentInfo.reason(error)))")
            case nil:
                break
            }
            return nil
        }

        if let info = part("agent", "Agent:", as: QGA.GuestAgentInfo.self) {
            let enabled = info.supportedCommands.filter(\.enabled).count
            row(
                "Agent:",
                "qemu-ga \(info.version) at \(address), \(enabled) of \(info.supportedCommands.count) commands enabled"
            )
        }
        if let os = part("os", "OS:", as: GuestOSInfo.self) {
            let name = os.prettyName ?? [os.name, os.version].compactMap { $0 }.joined(separator: " ")
            let kernel = [os.kernelRelease, os.machine].compactMap { $0 }.joined(separator: " ")
            row("OS:", [name, kernel].filter { !$0.isEmpty }.joined(separator: ", "))
        }
        if let host = part("host-name", "Host name:", as: GuestHostName.self) {
            row("Host name:", host.hostName)
        }
        if let time = part("time", "Time:", as: Int64.self) {
            row("Time:", Self.utc(nanoseconds: time))
        }
        if let zone = part("timezone", "Time zone:", as: GuestTimezone.self) {
            let offset = abs(zone.offset)
            let sign = zone.offset < 0 ? "-" : "+"
            let hours = String(offset / 3600).leftPadded(to: 2)
            let minutes = String(offset % 3600 / 60).leftPadded(to: 2)
            row("Time zone:", (zone.zone.map { "\($0), " } ?? "") + "UTC\(sign)\(hours):\(minutes)")
        }
        if let interfaces = part("interfaces", "Interfaces:", as: [GuestNetworkInterface].self) {
            if interfaces.isEmpty {
                row("Interfaces:", "none")
            } else {
                lines.append("Interfaces:")
            }
            for interface in interfaces {
                let addresses = (interface.ipAddresses ?? []).map { "\($0.ipAddress)/\($0.prefix)" }
                lines.append(
                    "  " + interface.name.column(12) + (interface.hardwareAddress ?? "-").column(19)
                        + (addresses.isEmpty ? "no addresses" : addresses.joined(separator: ", "))
                )
            }
        }
        if let users = part("users", "Users:", as: [GuestUser].self) {
            row(
                "Users:",
                users.isEmpty
                    ? "none logged in"
                    : users.map { user in
                        let name = user.domain.map { "\($0)\\\(user.user)" } ?? user.user
                        return "\(name) (since \(Self.utc(nanoseconds: Int64(user.loginTime * 1e9))))"
                    }.joined(separator: ", ")
            )
        }
        if let filesystems = part("filesystems", "Filesystems:", as: [GuestFilesystemInfo].self) {
            if filesystems.isEmpty {
                row("Filesystems:", "none")
            } else {
                lines.append("Filesystems:")
            }
            for filesystem in filesystems {
                var usage = ""
                if let used = filesystem.usedBytes, let total = filesystem.totalBytes {
                    usage = "\(Self.bytes(used)) used of \(Self.bytes(total))"
                }
                lines.append(
                    "  " + filesystem.mountpoint.column(24) + filesystem.type.column(10)
                        + filesystem.name.column(12) + usage
                )
            }
        }
        return lines
    }

    /// `2026-12-07 15:04:05 UTC`.
    static func utc(nanoseconds: Int64) -> String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "\(nanoseconds) ns since 1970" }
        func two(_ value: Int32) -> String { String(value).leftPadded(to: 2) }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }

    /// A size in binary units with one decimal: `3.2 GiB`.
    static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}

extension String {
    /// The string with spaces after it up to `width` characters, and one space at least.
    fileprivate func column(_ width: Int) -> String {
        count < width ? self + String(repeating: " ", count: width - count) : self + " "
    }

    /// The string with zeros before it up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count < width ? String(repeating: "0", count: width - count) + self : self
    }
}
