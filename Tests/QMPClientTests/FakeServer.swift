import Foundation
import NIOCore
import NIOPosix
import QMPClient
import QMPCore

/// A scripted peer on loopback TCP or a Unix socket: it sends `greeting` bytes on connect and
/// answers each JSON value it reads with whatever `respond` returns. Enough to play a QEMU, a
/// broken QEMU, or something that is not QMP at all.
final class FakeServer: Sendable {
    typealias Responder = @Sendable (JSONValue) -> [UInt8]?

    static let qemuGreeting = Array(
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

    private init(address: QMPAddress, channel: any Channel, directory: URL?) {
        self.address = address
        self.channel = channel
        self.directory = directory
    }

    static func start(
        unixSocket: Bool = false,
        greeting: [UInt8] = FakeServer.qemuGreeting,
        respond: @escaping Responder = { _ in nil }
    ) async throws -> FakeServer {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptHandler(greeting: greeting, respond: respond))
                }
            }
        if unixSocket {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swift-qmp-fake-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("qmp.sock").path
            let channel = try await bootstrap.bind(unixDomainSocketPath: path).get()
            return FakeServer(address: .unixSocket(path: path), channel: channel, directory: directory)
        }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return FakeServer(address: .tcp(host: "127.0.0.1", port: channel.localAddress!.port!), channel: channel, directory: nil)
    }

    /// Serves one connection on an already connected socket (one end of a socketpair).
    static func serve(connectedSocket descriptor: CInt, respond: @escaping Responder) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptHandler(greeting: FakeServer.qemuGreeting, respond: respond))
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
    var reader = JSONReader(configuration: .server)

    init(greeting: [UInt8], respond: @escaping FakeServer.Responder) {
        self.greeting = greeting
        self.respond = respond
    }

    func channelActive(context: ChannelHandlerContext) {
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
