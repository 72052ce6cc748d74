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
            Runs until interrupted (SIGINT, SIGTERM).

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

    func run() async throws {
        let proxy: QMPRecordingProxy
        do {
            proxy = try QMPRecordingProxy(upstream: try QMPAddress(parsing: upstream), outputPath: out)
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
