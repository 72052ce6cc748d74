import ArgumentParser
import Dispatch
import QMPClient
import QMPCore
import QMPServer

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
        abstract: "Serve QMP without QEMU: a simulated QEMU 7.2, for tests and demos.",
        discussion: """
            Serves until interrupted (SIGINT, SIGTERM) or until a client sends quit, like QEMU.

            Examples:
              qmp mock --simulate --listen /tmp/qmp.sock
              qmp mock --simulate --listen 127.0.0.1:4444 --listen /tmp/qmp.sock
              qmp mock --simulate --qemu-version 6.2.0 --listen /tmp/old.sock
            """
    )

    @Flag(help: "Serve the simulated QEMU (the default).")
    var simulate = false

    @Option(help: ArgumentHelp("The QEMU version to announce.", valueName: "version"))
    var qemuVersion = "7.2.22"

    @Option(help: ArgumentHelp("A Unix socket path or HOST:PORT to listen on (repeatable).", valueName: "address"))
    var listen: [String] = []

    func validate() throws {
        guard !listen.isEmpty else {
            throw ValidationError("expected at least one --listen ADDRESS")
        }
        guard QEMUVersion(qemuVersion) != nil else {
            throw ValidationError("--qemu-version expects a version like 7.2.0, got '\(qemuVersion)'")
        }
    }

    func run() async throws {
        let version = QEMUVersion(qemuVersion)!
        let stop = AsyncStream<String>.makeStream()
        let simulator = QEMUSimulator(configuration: .init(version: version)) {
            stop.continuation.yield("quit")
        }
        let server = simulator.makeServer()
        do {
            for text in listen {
                let bound = try await server.listen(on: QMPAddress(parsing: text))
                printError("qmp mock: serving a simulated QEMU \(version) on \(bound)")
            }
        } catch {
            await server.shutdown()
            throw failure(reporting: error)
        }

        // SIGINT and SIGTERM end the mock cleanly, removing its sockets.
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber)
            source.setEventHandler { stop.continuation.yield("signal \(signalNumber)") }
            source.resume()
            sources.append(source)
        }
        var reasons = stop.stream.makeAsyncIterator()
        let reason = await reasons.next() ?? "end"
        // Let the reply to quit leave before the connections close.
        try? await Task.sleep(for: .milliseconds(20))
        await server.shutdown()
        for text in listen {
            if case .unixSocket(let path)? = try? QMPAddress(parsing: text) {
                unlink(path)
            }
        }
        sources.forEach { $0.cancel() }
        printError("qmp mock: stopped (\(reason))")
    }
}
