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

            Examples:
              qmp mock --simulate --listen /tmp/qmp.sock
              qmp mock --replay session.jsonl --listen /tmp/replay.sock
              qmp mock --replay caps_7.2.0_x86_64.replies --listen 127.0.0.1:4444
              qmp mock --simulate --listen 127.0.0.1:4444 --listen /tmp/qmp.sock
              qmp mock --simulate --qemu-version 6.2.0 --listen /tmp/old.sock
            """
    )

    @Flag(help: "Serve the simulated QEMU (the default).")
    var simulate = false

    @Option(help: ArgumentHelp("Serve this recorded transcript instead.", valueName: "file"))
    var replay: String?

    @Option(help: ArgumentHelp("The QEMU version to announce.", valueName: "version"))
    var qemuVersion = "7.2.22"

    @Option(help: ArgumentHelp("A Unix socket path or HOST:PORT to listen on (repeatable).", valueName: "address"))
    var listen: [String] = []

    func validate() throws {
        if simulate && replay != nil {
            throw ValidationError("give --simulate or --replay, not both")
        }
        guard !listen.isEmpty else {
            throw ValidationError("expected at least one --listen ADDRESS")
        }
        guard QEMUVersion(qemuVersion) != nil else {
            throw ValidationError("--qemu-version expects a version like 7.2.0, got '\(qemuVersion)'")
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
        let server: QMPServer
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
            let simulator = QEMUSimulator(configuration: .init(version: version)) {
                quit.continuation.yield("quit")
            }
            server = simulator.makeServer(listeningOn: addresses)
            what = "a simulated QEMU \(version)"
        }
        let reason: String
        do {
            // SIGINT and SIGTERM end the mock cleanly: the server's graceful shutdown lets the
            // reply to quit leave, closes the connections and removes its sockets.
            reason = try await server.serving { bound in
                for address in bound {
                    printError("qmp mock: serving \(what) on \(address)")
                }
                return await waitForSignal(or: quit.stream)
            }
        } catch {
            throw failure(reporting: error)
        }
        printError("qmp mock: stopped (\(reason))")
    }
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
