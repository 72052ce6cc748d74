import Foundation
import QMPCore
import Testing

@testable import QMPTool

/// `qmp record` refuses to be its own upstream instead of connecting to itself until the
/// descriptors run out.
@Suite("Recording proxy loops")
struct RecordLoopTests {
    func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-loop-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    @Test("the same socket path is refused, however it is spelt")
    func sameSocketPath() throws {
        try withDirectory { directory in
            let path = directory + "/qmp.sock"
            #expect(RecordCommand.sameEndpoint(.unixSocket(path: path), .unixSocket(path: path)))
            #expect(RecordCommand.sameEndpoint(.unixSocket(path: path), .unixSocket(path: directory + "/./qmp.sock")))
            try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: false)
            #expect(
                RecordCommand.sameEndpoint(.unixSocket(path: path), .unixSocket(path: directory + "/sub/../qmp.sock"))
            )
            #expect(!RecordCommand.sameEndpoint(.unixSocket(path: path), .unixSocket(path: directory + "/other.sock")))
        }
    }

    @Test("a link to the upstream socket is the same place")
    func linkedPath() throws {
        try withDirectory { directory in
            let path = directory + "/qmp.sock"
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            try FileManager.default.createSymbolicLink(atPath: directory + "/link.sock", withDestinationPath: path)
            #expect(RecordCommand.sameEndpoint(.unixSocket(path: directory + "/link.sock"), .unixSocket(path: path)))
        }
    }

    @Test("TCP on the same port of this machine is the same place; another port or host is not")
    func tcp() {
        #expect(RecordCommand.sameEndpoint(.tcp(host: "localhost", port: 4444), .tcp(host: "127.0.0.1", port: 4444)))
        #expect(RecordCommand.sameEndpoint(.tcp(host: "0.0.0.0", port: 4444), .tcp(host: "localhost", port: 4444)))
        #expect(!RecordCommand.sameEndpoint(.tcp(host: "localhost", port: 4444), .tcp(host: "localhost", port: 4445)))
        #expect(!RecordCommand.sameEndpoint(.tcp(host: "vmhost", port: 4444), .tcp(host: "localhost", port: 4444)))
    }

    @Test("qmp record with --listen equal to --upstream ends at once with a clear message")
    func refusedBeforeListening() throws {
        try withDirectory { directory in
            let error = #expect(throws: CommandLineError.self) {
                try RecordCommand.refuseLoop(
                    listen: .unixSocket(path: directory + "/q.sock"),
                    upstream: .unixSocket(path: directory + "//q.sock")
                )
            }
            #expect(error?.message.contains("--listen and --upstream are the same place") == true)
        }
    }
}
