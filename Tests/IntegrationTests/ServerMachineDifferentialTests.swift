import CQMPSystem
import Foundation
import QEMULauncher
import QMPClient
import QMPCore
import Testing

/// A bare socket to a QMP monitor: bytes out, QEMU's lines in, nothing interpreted.
private final class RawConnection {
    let descriptor: CInt
    var received: [UInt8] = []

    init(path: String) throws {
        descriptor = cqmp_connect_unix(path)
        guard descriptor >= 0 else { throw QMPError(code: .connectionFailed, message: "cannot connect to \(path)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    /// The next message exactly as QEMU wrote it, without the CRLF that ends it (QEMU escapes
    /// line breaks inside strings, so a message is one line); fails after the socket's 5 s
    /// receive timeout.
    func nextLine() throws -> String {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = received.indices.first(where: { $0 > 0 && received[$0 - 1] == 13 && received[$0] == 10 }) {
                let line = String(decoding: received[..<(end - 1)], as: UTF8.self)
                received.removeFirst(end + 1)
                return line
            }
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw QMPError(code: .timeout, message: "no message from QEMU") }
            received += chunk[..<count]
        }
    }
}

@Suite("The server machine against QEMU 7.2")
struct ServerMachineDifferentialTests {
    /// Requests whose answers come from the envelope checks alone; none of them runs a command.
    static let negotiationRequests = [
        #"{"execute":"query-status","id":1}"#,
        #"{"execute":"qmp_capabilities","arguments":{"x":1},"id":"a"}"#,
        #"{"execute":"qmp_capabilities","arguments":{"enable":["foo"]},"id":"b"}"#,
        #"{"exec-oob":"query-yank","id":"c"}"#,
        // A number beyond a double's range is infinity, which QEMU writes as `inf`.
        #"{"execute":"query-status","id":1e999}"#,
        // Two problems: the one QEMU meets first in its hash table is reported.
        #"{"exec-oob":"qmp_capabilities","bar":1,"id":"d"}"#,
        #"{"foo":1,"exec-oob":1,"id":"e"}"#,
    ]
    static let commandModeRequests = [
        #"[1,2,3]"#,
        #"42"#,
        #"{"id":5}"#,
        #"{"execute":1,"id":5}"#,
        #"{"execute":"query-status","foo":1,"id":6}"#,
        #"{"execute":"query-status","arguments":[],"id":7}"#,
        #"{"execute":"query-status","exec-oob":"query-yank","id":8}"#,
        #"{"exec-oob":"query-status","id":9}"#,
        #"{"execute":"no-such-command","id":{"a":[1,2]}}"#,
        #"{"execute":"qmp_capabilities","id":null}"#,
        #"{"execute":"no-such-command","id":1e999}"#,
        #"{"execute":"no-such-command","id":[1e999,-1e999,1e400,-0.0,1e308]}"#,
        // What QEMU writes it does not read.
        #"{"execute":"query-status","id":inf}"#,
        // The same key in two Unicode normalisations is two keys (QEMU compares bytes); the same
        // bytes twice are a duplicate.
        "{\"execute\":\"no-such-command\",\"id\":{\"\u{E9}\":1,\"e\u{301}\":2}}",
        "{\"execute\":\"no-such-command\",\"id\":{\"e\u{301}\":1,\"e\u{301}\":2}}",
        // Two envelope problems, in both orders: QEMU reports the one it meets first in its
        // hash table, and in one bucket the member sent last.
        #"{"execute":"query-status","foo":1,"bar":2,"id":10}"#,
        #"{"execute":"query-status","bar":1,"foo":2,"id":11}"#,
        #"{"execute":"query-status","y":1,"x":2,"id":12}"#,
        #"{"foo":1,"execute":2,"id":13}"#,
        #"{"execute":2,"x":1,"id":14}"#,
        #"{"arguments":1,"execute":2,"bar":3,"id":15}"#,
        #"{"foo":1,"arguments":1,"id":16}"#,
        #"{"execute":2,"exec-oob":1,"id":17}"#,
        #"{"exec-oob":1,"x":1,"id":18}"#,
        #"{"exec-oob":"query-yank","execute":"query-status","x":1,"id":19}"#,
        #"{"exec-oob":"query-yank","execute":"query-status","foo":1,"id":20}"#,
        #"{"foo":1,"exec-oob":"query-yank","execute":2,"id":21}"#,
        #"{"execute":"query-status","aa":1,"aq":2,"id":22}"#,
        #"{"execute":"query-status","aq":1,"aa":2,"id":23}"#,
    ]

    @Test("envelope errors and negotiation answers are the same as QEMU's, byte for byte")
    func sameAnswers() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-diff-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("raw.sock").path
        let launcher = QEMULauncher(extraArguments: ["-qmp", "unix:\(socket),server=on,wait=off"])

        try await RealQEMU.with(launcher) { qemu in
            let raw = try RawConnection(path: socket)
            let greeting = try #require(QMPGreeting(try JSONValue(parsing: try raw.nextLine())))

            var machine = QMPServerStateMachine(
                configuration: .init(
                    greeting: greeting,
                    hasCommand: { ["query-status", "query-yank"].contains($0) },
                    allowsOutOfBand: { $0 == "query-yank" }
                )
            )
            _ = machine.connected()

            func compare(_ request: String) throws {
                raw.send(request + "\n")
                let fromQEMU = try raw.nextLine()
                let action: QMPServerStateMachine.Action
                do {
                    action = machine.received(try JSONValue(parsing: request, configuration: .server))
                } catch {
                    action = machine.receivedMalformedInput(error)
                }
                guard case .send(let ours) = action else {
                    Issue.record("the machine did not answer \(request) at once")
                    return
                }
                // As the server writes them.
                #expect(ours.map { $0.serialized(style: .qemu) } == [fromQEMU], "for \(request)")
            }

            for request in Self.negotiationRequests {
                try compare(request)
            }
            try compare(#"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]},"id":"neg"}"#)
            for request in Self.commandModeRequests {
                try compare(request)
            }
        }
    }
}
