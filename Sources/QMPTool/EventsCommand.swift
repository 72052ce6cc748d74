import ArgumentParser
import QMPClient
import QMPCore

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print QMP events as JSON lines as they arrive.",
        discussion: """
            Runs until --count events were printed, or until interrupted. Exits with 3 when the \
            connection drops.

            --format json prints each event as QEMU sent it, one per line; --format text prints \
            'SECONDS NAME DATA' with QEMU's timestamp. --since-start replaces the timestamp with \
            the seconds since qmp started listening (in JSON as the member "since-start").

            Examples:
              qmp events /tmp/qmp.sock
              qmp events /tmp/qmp.sock --filter SHUTDOWN --filter STOP --count 1
              qmp events localhost:4444 --filter DEVICE_DELETED
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(
        name: .customLong("filter"),
        help: ArgumentHelp("Only events with this name (repeatable).", valueName: "name")
    )
    var names: [String] = []

    @Option(help: "Stop after this many events.")
    var count: Int?

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, text
    }

    @Option(help: "json (one event per line, as sent) or text.")
    var format: Format = .json

    @Flag(help: "Show seconds since qmp started listening instead of QEMU's timestamps.")
    var sinceStart = false

    @Argument(
        help: ArgumentHelp(
            "Unix socket path or HOST:PORT (not with --launch; neither: a simulated QEMU).",
            valueName: "address"
        )
    )
    var address: String?

    func validate() throws {
        if let count, count < 1 {
            throw ValidationError("--count must be at least 1")
        }
        if connection.launch && address != nil {
            throw ConnectionOptions.addressWithLaunch
        }
    }

    func run() async throws {
        let filter = names.isEmpty ? nil : Set(names)
        let limit = count
        let format = self.format
        let sinceStart = self.sinceStart
        do {
            // Events that come with the negotiation reply arrive before the subscription below
            // can be made; the client keeps them for it.
            try await connection.withClient(address: address, eventsKeptForFirstSubscription: Self.bufferSize) {
                client in
                var printed = 0
                let clock = ContinuousClock()
                let start = clock.now
                let events = client.events(named: filter, bufferSize: Self.bufferSize)
                defer {
                    if events.droppedCount > 0 {
                        printError("qmp events: \(events.droppedCount) events dropped (printing fell behind)")
                    }
                }
                for try await event in events {
                    let elapsed = sinceStart ? Self.seconds(clock.now - start) : nil
                    printLine(Self.render(event, format: format, sinceStart: elapsed))
                    printed += 1
                    if let limit, printed >= limit {
                        return
                    }
                }
            }
        } catch {
            throw failure(reporting: error)
        }
    }

    /// Events held while printing falls behind.
    static let bufferSize = 65536

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func render(_ event: QMPEvent, format: Format, sinceStart: Double?) -> String {
        switch format {
        case .json:
            guard let sinceStart, case .object(var object) = event.json else {
                return event.json.serialized()
            }
            object["since-start"] = .double((sinceStart * 1e6).rounded() / 1e6)
            return JSONValue.object(object).serialized()
        case .text:
            let time: String
            if let sinceStart {
                time = "+" + fixed(sinceStart)
            } else {
                time = text(of: event.timestamp)
            }
            let data = event.data.map { " " + JSONValue.object($0).serialized() } ?? ""
            return "\(time) \(escapingControlCharacters(event.name))\(data)"
        }
    }

    /// QEMU's timestamp as SECONDS.MICROSECONDS, worked out in integers: any server can send any
    /// pair of numbers, and no pair may crash the tool. A negative second count is QEMU's "clock
    /// unavailable" ("-"); microseconds outside 0..<1000000 carry into the seconds when the sum
    /// fits, else the pair is shown as sent ("SECONDSs+MICROSECONDSus").
    static func text(of timestamp: QMPEvent.Timestamp) -> String {
        let (carry, micros) = floorDivision(timestamp.microseconds, by: 1_000_000)
        let (seconds, overflow) = timestamp.seconds.addingReportingOverflow(carry)
        if timestamp.seconds < 0 {
            return "-"
        }
        guard !overflow, seconds >= 0 else {
            return "\(timestamp.seconds)s+\(timestamp.microseconds)us"
        }
        return "\(seconds).\(sixDigits(micros))"
    }

    /// Six decimals, without Foundation's formatting; values too large for whole microseconds in
    /// an Int64 (or not finite) fall back to Swift's own rendering of the number.
    static func fixed(_ value: Double) -> String {
        let micros = (value * 1e6).rounded()
        guard micros.isFinite, abs(micros) < 9e18 else {
            return "\(value)"
        }
        let (whole, fraction) = (Int64(micros) / 1_000_000, Int64(micros) % 1_000_000)
        return "\(whole < 0 || fraction < 0 ? "-" : "")\(abs(whole)).\(sixDigits(abs(fraction)))"
    }

    private static func sixDigits(_ value: Int64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// Quotient rounded down and a remainder in 0..<divisor (Swift's `/` rounds toward zero).
    private static func floorDivision(_ value: Int64, by divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }
}
