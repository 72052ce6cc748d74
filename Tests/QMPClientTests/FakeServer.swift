import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import QMPClient
import QMPCore

/// A scripted peer on loopback TCP or a Unix socket: it sends `greeting` bytes on connect and
/// answers each JSON value it reads with whatever `respond` returns. Enough to play a QEMU, a
/// broken QEMU, or something that is not QMP at all.
final class FakeServer: Sendable {
    typealias Responder = @Sendable (JSONValue) -> [UInt8]?

    static let qemuGreeting =
        Array(
            #"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}}"#
                .utf8
        ) + [13, 10]

    /// Answers `qmp_capabilities` with success and everything else with `reply(command)`.
    static func negotiating(_ reply: @escaping @Sendable (JSONValue) -> [UInt8]?) -> Responder {
        { command in
            if command["execute"] == "qmp_capabilities" {
                return FakeServer.reply([:], to: command)
            }
            return reply(command)
        }
    }

    /// `{"return": result}` with the command's id when it had one, as QEMU answers.
    static func reply(_ result: JSONValue, to command: JSONValue) -> [UInt8] {
        var message: JSONObject = ["return": result]
        if let id = command["id"] {
            message["id"] = id
        }
        return bytes(.object(message))
    }

    static func bytes(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        value.write(to: &out, style: .qemu)
        return out + [13, 10]
    }

    let address: QMPAddress
    private let channel: any Channel
    private let directory: URL?
    private let connections: ConnectionCount

    /// Connections open right now, as this server sees them.
    var openConnections: Int { connections.open }

    private init(address: QMPAddress, channel: any Channel, directory: URL?, connections: ConnectionCount) {
        self.address = address
        self.channel = channel
        self.directory = directory
        self.connections = connections
    }

    /// Starts a server, runs `body` with it, and stops it however `body` ends.
    static func with<Result: Sendable>(
        unixSocket: Bool = false,
        greeting: [UInt8] = FakeServer.qemuGreeting,
        respond: @escaping Responder = { _ in nil },
        _ body: (FakeServer) async throws -> Result
    ) async throws -> Result {
        let server = try await start(unixSocket: unixSocket, greeting: greeting, respond: respond)
        let result: Result
        do {
            result = try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        return result
    }

    /// Starts a server and runs `body` with a client connected to it; closes both however
    /// `body` ends.
    static func withClient<Result: Sendable>(
        unixSocket: Bool = false,
        greeting: [UInt8] = FakeServer.qemuGreeting,
        configuration: QMPClient.Configuration,
        respond: @escaping Responder = { _ in nil },
        _ body: (QMPClient) async throws -> Result
    ) async throws -> Result {
        try await with(unixSocket: unixSocket, greeting: greeting, respond: respond) { server in
            try await QMPClient.withConnection(to: server.address, configuration: configuration) { client in
                try await body(client)
            }
        }
    }

    /// Waits until the server sees no open connection; false if that takes longer than `limit`.
    func waitUntilNoConnections(within limit: Duration = patience) async throws -> Bool {
        try await eventually(within: limit) { openConnections == 0 }
    }

    static func start(
        unixSocket: Bool = false,
        greeting: [UInt8] = FakeServer.qemuGreeting,
        respond: @escaping Responder = { _ in nil }
    ) async throws -> FakeServer {
        let connections = ConnectionCount()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = ScriptHandler(greeting: greeting, respond: respond, connections: connections)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        if unixSocket {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "swift-qmp-fake-\(UUID().uuidString.prefix(8))"
            )
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("qmp.sock").path
            let channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
            return FakeServer(
                address: .unixSocket(path: path),
                channel: channel,
                directory: directory,
                connections: connections
            )
        }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return FakeServer(
            address: .tcp(host: "127.0.0.1", port: channel.localAddress!.port!),
            channel: channel,
            directory: nil,
            connections: connections
        )
    }

    /// Serves one connection on an already connected socket (one end of a socketpair).
    static func serve(connectedSocket descriptor: CInt, respond: @escaping Responder) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = ScriptHandler(
                        greeting: FakeServer.qemuGreeting,
                        respond: respond,
                        connections: ConnectionCount()
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .withConnectedSocket(descriptor)
            .get()
    }

    func stop() async {
        try? await channel.close()
        if let directory {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

private final class ScriptHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let greeting: [UInt8]
    let respond: FakeServer.Responder
    let connections: ConnectionCount
    var reader = JSONReader(configuration: .server)

    init(greeting: [UInt8], respond: @escaping FakeServer.Responder, connections: ConnectionCount) {
        self.greeting = greeting
        self.respond = respond
        self.connections = connections
    }

    func channelInactive(context: ChannelHandlerContext) {
        connections.change(by: -1)
        context.fireChannelInactive()
    }

    func channelActive(context: ChannelHandlerContext) {
        connections.change(by: 1)
        if !greeting.isEmpty {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: greeting)), promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reader.feed(unwrapInboundIn(data))
        while let value = try? reader.next() {
            if let answer = respond(value) {
                if answer.isEmpty {
                    context.close(promise: nil)
                    return
                }
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: answer)), promise: nil)
            }
        }
    }
}

/// How many connections a server has open.
final class ConnectionCount: Sendable {
    private let count = NIOLockedValueBox(0)
    var open: Int { count.withLockedValue { $0 } }
    func change(by delta: Int) { count.withLockedValue { $0 += delta } }
}

/// How long a test waits for something that should happen at once: not a speed check, but a
/// bound that ends the wait on a machine busy with other builds, where a second can take ten.
let patience: Duration = .seconds(30)

/// Waits until `condition` holds; false if that takes longer than `limit`.
func eventually(within limit: Duration = patience, _ condition: () -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while !condition() {
        guard clock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
    return true
}
