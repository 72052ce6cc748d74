import Foundation
import QGA
import QGAClient
import QMPCore
import Testing

/// The agent is reached by every kind of address, and a connect that fails says which agent
/// and why, within the connect bound.
@Suite("Guest agent transports")
struct TransportTests {
    /// What a loaded machine (the whole suite beside other builds) may add to a timer and to
    /// the scheduling of the test itself; an unbounded wait would exceed any of it.
    static let slack = Duration.seconds(15)

    @Test("TCP: the real agent answers through a TCP port")
    func tcp() async throws {
        try await RealGuestAgent.with { agent in
            try await TCPRelay.with(to: agent.socketPath) { port in
                try await QGAClient.withConnection(to: .tcp(host: "127.0.0.1", port: port)) { client in
                    try await client.execute(GuestPingCommand())
                    let info = try await client.execute(GuestInfoCommand())
                    #expect(info.supportedCommands.contains { $0.name == "guest-ping" })
                }
            }
        }
    }

    @Test("a Unix socket path longer than sun_path holds reaches the real agent")
    func longUnixSocketPath() async throws {
        try await RealGuestAgent.with { agent in
            // A link with a long name to the agent's directory: the agent listens at a short path,
            // the client is given one that no sockaddr_un can hold.
            let link = agent.directory.appendingPathComponent(String(repeating: "long-directory-name-", count: 8))
            try FileManager.default.createSymbolicLink(at: link, withDestinationURL: agent.directory)
            let path = link.appendingPathComponent("qga.sock").path
            #expect(path.utf8.count > 108)
            let info = try await QGAClient.withConnection(to: .unixSocket(path: path)) { client in
                try await client.execute(GuestInfoCommand())
            }
            #expect(!info.version.isEmpty)
        }
    }

    @Test("a missing socket: the error names the agent's address and says nothing is there")
    func missingSocket() async throws {
        let error = await #expect(throws: QMPError.self) {
            try await QGAClient.connect(to: .unixSocket(path: "/nonexistent/qga.sock"))
        }
        #expect(error?.code == .connectionFailed)
        #expect(
            error?.message
                == "could not connect to the guest agent at /nonexistent/qga.sock: no socket exists at that path"
        )
    }

    @Test("a TCP port nobody listens on: refused, with the hint")
    func refusedTCP() async throws {
        // A port the system gave out and took back, so nothing listens on it now.
        let port = try await TCPRelay.with(to: "/nonexistent") { $0 }
        let error = await #expect(throws: QMPError.self) {
            try await QGAClient.connect(to: .tcp(host: "127.0.0.1", port: port))
        }
        #expect(error?.code == .connectionFailed)
        #expect(
            error?.message
                == "could not connect to the guest agent at 127.0.0.1:\(port): nothing is listening on that port"
        )
    }

    /// No vsock peer answers on a host without VMs: the local context id (1) has no loopback
    /// on most kernels, so the connect waits; where the kernel refuses or has no vsock at all,
    /// it fails at once. Either way it ends within the bound and names the address.
    @Test("vsock: a connect nobody answers ends within its bound, naming the vsock address")
    func vsockIsBounded() async throws {
        let bound = Duration.milliseconds(500)
        let configuration = QGAClient.Configuration(connectTimeout: bound)
        let start = ContinuousClock.now
        let error = await #expect(throws: QMPError.self) {
            try await QGAClient.connect(to: .vsock(cid: 1, port: 1234), configuration: configuration)
        }
        #expect(ContinuousClock.now - start < bound + Self.slack)
        #expect(error?.code == .timeout || error?.code == .connectionFailed)
        #expect(
            error?.message.hasPrefix("could not connect to the guest agent at vsock:1:1234") == true,
            "\(String(describing: error))"
        )
    }

    @Test("a serial line: the client opens a terminal by path and talks to the real agent on the other end")
    func serialLine() async throws {
        try await SerialLine.with { line in
            try await RealGuestAgent.onSerialPort(line.agentEnd) {
                let address = QMPAddress.characterDevice(path: line.clientEnd)
                try await QGAClient.withConnection(to: address) { client in
                    // The agent opens its port a moment after it starts; until then a sync goes unanswered.
                    let start = ContinuousClock.now
                    while true {
                        do {
                            try await client.synchronize(timeout: .milliseconds(500))
                            break
                        } catch let error as QMPError where error.code == .timeout {
                            if ContinuousClock.now - start > .seconds(10) { throw error }
                        }
                    }
                    try await client.execute(GuestPingCommand())
                    let info = try await client.execute(GuestInfoCommand())
                    #expect(info.supportedCommands.contains { $0.name == "guest-file-open" })
                    let time = try await client.execute(GuestGetTimeCommand())
                    #expect(time > 0)
                }
            }
        }
    }

    @Test("a character device that is missing, or a path that is no device: the error says which and why")
    func characterDeviceErrors() async throws {
        let missing = await #expect(throws: QMPError.self) {
            try await QGAClient.connect(to: .characterDevice(path: "/nonexistent/ttyS9"))
        }
        #expect(missing?.code == .connectionFailed)
        #expect(
            missing?.message
                == "could not open the guest agent at chardev:/nonexistent/ttyS9: no device exists at that path"
        )
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("swift-qmp-\(UUID().uuidString)")
        try Data("not a device".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let notDevice = await #expect(throws: QMPError.self) {
            try await QGAClient.connect(to: .characterDevice(path: file.path))
        }
        #expect(
            notDevice?.message == "could not open the guest agent at chardev:\(file.path): it is not a character device"
        )
    }
}
