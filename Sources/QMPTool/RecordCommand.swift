import ArgumentParser
import Dispatch
import QMPCore
import QMPServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record a QMP conversation: a pass-through that logs every message with its direction and time.",
        discussion: """
            Clients connect to --listen; each gets its own connection to --upstream. Bytes pass \
            through untouched; every message is written to --out as one JSON line \
            {"time", "direction", "connection", "message"}, which qmp mock --replay serves again. \
            Secrets (passwords, secret objects' data, the guest agent's file contents and program \
            input) are written redacted unless --keep-secrets is given. Runs until interrupted \
            (SIGINT, SIGTERM).

            Examples:
              qmp record --upstream /run/vm/qmp.sock --listen /tmp/rec.sock --out session.jsonl
              qmp mock --replay session.jsonl --listen /tmp/replay.sock
            """
    )

    @Option(
        help: ArgumentHelp("The QMP server to pass through to: a Unix socket path or HOST:PORT.", valueName: "address")
    )
    var upstream: String

    @Option(help: ArgumentHelp("Where clients connect: a Unix socket path or HOST:PORT.", valueName: "address"))
    var listen: String

    @Option(help: ArgumentHelp("The transcript file to write.", valueName: "file"))
    var out: String

    @Flag(help: "Write secrets into the transcript as they were sent instead of redacted.")
    var keepSecrets = false

    func run() async throws {
        let proxy: QMPRecordingProxy
        do {
            let upstreamAddress = try QMPAddress(parsing: upstream)
            try Self.refuseLoop(listen: try QMPAddress(parsing: listen), upstream: upstreamAddress)
            try refuseNonSocket(upstreamAddress)
            proxy = try QMPRecordingProxy(upstream: upstreamAddress, outputPath: out, keepingSecrets: keepSecrets)
            let bound = try await proxy.listen(on: try QMPAddress(parsing: listen))
            printError("qmp record: passing \(bound) through to \(upstream), writing \(out)")
        } catch {
            throw failure(reporting: error)
        }
        let reason = await waitForSignal()
        await proxy.shutdown()
        if case .unixSocket(let path)? = try? QMPAddress(parsing: listen) {
            unlink(path)
        }
        printError("qmp record: stopped (\(reason))")
    }
}

extension RecordCommand {
    /// Refuses to listen where the upstream is: each client would make the proxy connect to
    /// itself, which connects again, until descriptors run out (and listening on QEMU's socket
    /// path would first remove QEMU's socket).
    static func refuseLoop(listen: QMPAddress, upstream: QMPAddress) throws(CommandLineError) {
        guard sameEndpoint(listen, upstream) else { return }
        throw CommandLineError(
            message: "--listen and --upstream are the same place (\(listen)); the proxy would connect to itself"
        )
    }

    /// Whether two addresses reach the same listener. Unix paths are the same when they name
    /// the same file (also through links or another spelling) or, when one does not exist yet,
    /// when their resolved directories and names are equal. TCP addresses are the same on the
    /// same port when the hosts are equal or both are this machine (a loopback or wildcard
    /// address, or localhost): a wildcard listener also accepts connections to loopback.
    static func sameEndpoint(_ first: QMPAddress, _ second: QMPAddress) -> Bool {
        switch (first, second) {
        case (.unixSocket(let one), .unixSocket(let other)):
            var a = stat()
            var b = stat()
            if stat(one, &a) == 0, stat(other, &b) == 0 {
                return a.st_dev == b.st_dev && a.st_ino == b.st_ino
            }
            return canonicalLocation(one) == canonicalLocation(other)
        case (.tcp(let oneHost, let onePort), .tcp(let otherHost, let otherPort)):
            guard onePort == otherPort else { return false }
            let one = oneHost.lowercased()
            let other = otherHost.lowercased()
            return one == other || (isThisMachine(one) && isThisMachine(other))
        default:
            return false
        }
    }

    /// The path with its directory resolved (the file itself may not exist yet).
    private static func canonicalLocation(_ path: String) -> String {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard let resolved = realpath(directory, nil) else {
            return path
        }
        defer { free(resolved) }
        return String(cString: resolved) + "/" + name
    }

    private static func isThisMachine(_ host: String) -> Bool {
        let bare = host.trimmingPrefix("[").split(separator: "]").first.map(String.init) ?? host
        return bare == "localhost" || bare.hasPrefix("127.") || bare == "::1" || bare == "0.0.0.0" || bare == "::"
            || bare.isEmpty
    }
}

/// Waits for SIGINT or SIGTERM (or a value on `extra`), which then no longer end the process.
func waitForSignal(or extra: AsyncStream<String>? = nil) async -> String {
    let stop = AsyncStream<String>.makeStream()
    var sources: [any DispatchSourceSignal] = []
    for signalNumber in [SIGINT, SIGTERM] {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber)
        source.setEventHandler { stop.continuation.yield("signal \(signalNumber)") }
        source.resume()
        sources.append(source)
    }
    defer { sources.forEach { $0.cancel() } }
    // The first reason from either stream wins; the other wait ends with the group. A stream
    // that finishes without a reason leaves the other to decide.
    return await withTaskGroup(of: String?.self) { group in
        group.addTask {
            var signals = stop.stream.makeAsyncIterator()
            return await signals.next()
        }
        if let extra {
            group.addTask {
                var reasons = extra.makeAsyncIterator()
                return await reasons.next()
            }
        }
        while let result = await group.next() {
            if let reason = result {
                group.cancelAll()
                return reason
            }
        }
        return "end"
    }
}
