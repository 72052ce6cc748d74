import CQMPSystem
import Foundation
import QEMULauncher
import QMPClient
import QMPCore
import Testing

/// A bare socket to a QMP monitor: bytes out, JSON values in, nothing interpreted.
private final class RawConnection {
    let descriptor: CInt
    var reader = JSONReader()

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

    /// The next value the server sends; fails after the socket's 5 s receive timeout.
    func next() throws -> JSONValue {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let value = try reader.next() {
                return value
            }
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw QMPError(code: .timeout, message: "no message from QEMU") }
            reader.feed(chunk[..<count])
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
    ]

    @Test("envelope errors and negotiation answers are the same as QEMU's, word for word")
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
            let greeting = try #require(QMPGreeting(try raw.next()))

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
                let fromQEMU = try raw.next()
                guard case .send(let ours) = machine.received(try JSONValue(parsing: request)) else {
                    Issue.record("the machine did not answer \(request) at once")
                    return
                }
                #expect(ours == [fromQEMU], "for \(request)")
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
