import ArgumentParser
import QMPClient
import QMPCore
import QMPServer
import QMPSimulator

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct MockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock",
        abstract: "Serve QMP without QEMU: a simulated QEMU 7.2, or a recorded transcript.",
        discussion: """
            Serves until interrupted (SIGINT, SIGTERM) or, when simulating, until a client sends \
            quit, like QEMU. --replay serves a transcript written by qmp record, or one of \
            libvirt's tests/qemucapabilitiesdata/*.replies files: each command gets its recorded \
            reply; one the transcript lacks gets an error that says so.

            --faults makes the simulated QEMU misbehave, to test how a client copes. Its file \
            is JSON, {"faults": [RULE, ...]}; each RULE names a "command", optionally \
            "call": N (only its N-th call, counted from 1 over all connections) or \
            "first": K (its first K calls), and one fault:
              "delay": SECONDS                 answer that much later
              "stall": true                    never answer; in-band commands wait
              "drop-reply": true               run the command, write no reply
              "close-mid-reply": true          write half the reply (N: N bytes), close
              "garbage-before-reply": TEXT     write the string TEXT, then the reply
              "garbage-instead-of-reply": TEXT write TEXT in place of the reply
              "event-flood": {"count": N}      N events FLOOD before the reply; may
                                               add "event", "data", "per-second"

            A scenario, faults.json:
              {"faults": [{"command": "query-status", "call": 2, "delay": 1.5},
                          {"command": "query-name", "drop-reply": true}]}

            Examples:
              qmp mock --simulate --listen /tmp/qmp.sock
              qmp mock --replay session.jsonl --listen /tmp/replay.sock
              qmp mock --replay caps_7.2.0_x86_64.replies --listen 127.0.0.1:4444
              qmp mock --simulate --listen 127.0.0.1:4444 --listen /tmp/qmp.sock
              qmp mock --simulate --qemu-version 6.2.0 --listen /tmp/old.sock
              qmp mock --listen /tmp/qmp.sock --max-connections 16 --memory-budget 64M
              qmp mock --simulate --faults faults.json --listen /tmp/faulty.sock

            What the server's limits turned away (clients refused or disconnected, events dropped \
            for clients that do not read them) is printed every 10 seconds while it grows, and \
            once more when the mock stops.
            """
    )

    @Flag(help: "Serve the simulated QEMU (the default).")
    var simulate = false

    @Option(help: ArgumentHelp("Serve this recorded transcript instead.", valueName: "file"))
    var replay: String?

    @Option(help: ArgumentHelp("The QEMU version to announce.", valueName: "version"))
    var qemuVersion = "7.2.22"

    @Option(help: ArgumentHelp("Inject the faults of this scenario into the simulated QEMU.", valueName: "file"))
    var faults: String?

    @Option(help: ArgumentHelp("A Unix socket path or HOST:PORT to listen on (repeatable).", valueName: "address"))
    var listen: [String] = []

    @Option(help: ArgumentHelp("The most clients connected at once (default: 1024).", valueName: "count"))
    var maxConnections: Int?

    @Option(
        help: ArgumentHelp(
            "The most memory all clients together may hold in the server's buffers, in bytes or with a "
                + "K, M or G suffix (default: 256M).",
            valueName: "size"
        )
    )
    var memoryBudget: String?

    func validate() throws {
        if simulate && replay != nil {
            throw ValidationError("give --simulate or --replay, not both")
        }
        if faults != nil && replay != nil {
            throw ValidationError("--faults applies to the simulated QEMU, not to --replay")
        }
        guard !listen.isEmpty else {
            throw ValidationError("expected at least one --listen ADDRESS")
        }
        guard QEMUVersion(qemuVersion) != nil else {
            throw ValidationError("--qemu-version expects a version like 7.2.0, got '\(qemuVersion)'")
        }
        if let maxConnections, maxConnections < 1 {
            throw ValidationError("--max-connections expects a positive count, got \(maxConnections)")
        }
        if let memoryBudget, parseSize(memoryBudget) == nil {
            throw ValidationError("--memory-budget expects a size like 67108864 or 64M, got '\(memoryBudget)'")
        }
    }

    func run() async throws {
        let version = QEMUVersion(qemuVersion)!
        let quit = AsyncStream<String>.makeStream()
        let addresses: [QMPAddress]
        do {
            addresses = try listen.map { try QMPAddress(parsing: $0) }
        } catch {
            throw failure(reporting: error)
        }
        var server: QMPServer
        let what: String
        if let replay {
            do {
                let text = try readFile(replay)
                let transcript = try QMPTranscript(parsing: text)
                let player = QMPReplay(transcript: transcript, source: replay)
                server = player.makeServer(listeningOn: addresses)
                what = "\(transcript.exchanges.count) recorded exchanges of \(replay)"
            } catch {
                throw failure(reporting: error)
            }
        } else {
            var rules: [QEMUSimulator.FaultRule] = []
            if let faults {
                do {
                    let text = try readFile(faults)
                    rules = try QEMUSimulator.faultRules(parsing: JSONValue(parsing: text))
                } catch let error as CommandLineError {
                    throw failure(reporting: error)
                } catch {
                    throw failure(reporting: CommandLineError(message: "\(faults): \(error)"))
                }
            }
            let simulator = QEMUSimulator(configuration: .init(version: version, faults: rules)) {
                quit.continuation.yield("quit")
            }
            server = simulator.makeServer(listeningOn: addresses)
            what = "a simulated QEMU \(version)" + (rules.isEmpty ? "" : " with \(rules.count) fault rules")
        }
        if maxConnections != nil || memoryBudget != nil {
            var configuration = server.configuration
            configuration.maximumConnections = maxConnections ?? configuration.maximumConnections
            configuration.memoryBudget = memoryBudget.flatMap(parseSize) ?? configuration.memoryBudget
            server = QMPServer(configuration: configuration)
        }
        let reason: String
        let served = server
        do {
            // SIGINT and SIGTERM end the mock cleanly: the server's graceful shutdown lets the
            // reply to quit leave, closes the connections and removes its sockets.
            reason = try await served.serving { bound in
                for address in bound {
                    printError("qmp mock: serving \(what) on \(address)")
                }
                return await withTaskGroup(of: String?.self) { group in
                    group.addTask { await waitForSignal(or: quit.stream) }
                    group.addTask {
                        await reportLimits(of: served)
                        return nil
                    }
                    let reason = await group.next() ?? nil
                    group.cancelAll()
                    return reason ?? "end"
                }
            }
        } catch {
            throw failure(reporting: error)
        }
        printLimits(server.statistics, always: false)
        printError("qmp mock: stopped (\(reason))")
    }
}

/// Every 10 seconds, a line about what the server's limits turned away, when that grew; until
/// cancelled.
private func reportLimits(of server: QMPServer) async {
    var reported = QMPServer.Statistics()
    while (try? await Task.sleep(for: .seconds(10))) != nil {
        let now = server.statistics
        if now.connectionsRefused != reported.connectionsRefused
            || now.connectionsClosedForMemory != reported.connectionsClosedForMemory
            || now.eventsDropped != reported.eventsDropped
        {
            printLimits(now, always: true)
            reported = now
        }
    }
}

/// What the server's limits turned away so far, and the most memory its clients held; nothing
/// when the limits turned nothing away, unless `always`.
private func printLimits(_ statistics: QMPServer.Statistics, always: Bool) {
    guard
        always || statistics.connectionsRefused > 0 || statistics.connectionsClosedForMemory > 0
            || statistics.eventsDropped > 0
    else { return }
    printError(
        "qmp mock: \(statistics.eventsDropped) events dropped for clients not reading them, "
            + "\(statistics.connectionsRefused) clients refused at the connection limit, "
            + "\(statistics.connectionsClosedForMemory) disconnected at the memory budget; "
            + "at most \(statistics.peakBufferedBytes) bytes buffered"
    )
}

/// A byte count written as digits with an optional K, M or G (powers of 1024).
func parseSize(_ text: String) -> Int? {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    var digits = Substring(text)
    var unit = 1
    if let last = digits.last, let scale = units[Character(last.uppercased())] {
        unit = scale
        digits = digits.dropLast()
    }
    guard let value = Int(digits), value > 0 else { return nil }
    let (bytes, overflow) = value.multipliedReportingOverflow(by: unit)
    return overflow ? nil : bytes
}

/// A whole file as UTF-8 text.
func readFile(_ path: String) throws(CommandLineError) -> String {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        let code = errno
        throw CommandLineError(message: "cannot read \(path): \(String(cString: strerror(code)))")
    }
    defer { _ = close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        bytes += chunk[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}
