import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP port on 127.0.0.1 that carries each connection on to an agent's Unix socket: qemu-ga
/// itself listens on no TCP port, but a guest's agent is often reached through one (a forwarded
/// port, QEMU's `-chardev socket,host=...,port=...`).
enum TCPRelay {
    /// Listens on a port the system picks, runs `body` with it, and closes everything after.
    static func with<Result>(to agentPath: String, _ body: (Int) async throws -> Result) async throws -> Result {
        let channels = NIOLockedValueBox<[any Channel]>([])
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { client in
                channels.withLockedValue { $0.append(client) }
                return ClientBootstrap(group: client.eventLoop)
                    .connect(unixDomainSocketPath: agentPath)
                    .flatMapThrowing { agent in
                        channels.withLockedValue { $0.append(agent) }
                        // The client's bytes flow once this completes: the child is registered after.
                        try client.pipeline.syncOperations.addHandler(Carry(to: agent))
                        try agent.pipeline.syncOperations.addHandler(Carry(to: client))
                    }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        func closeAll() async {
            try? await server.close()
            for channel in channels.withLockedValue({ $0 }) { try? await channel.close() }
        }
        guard let port = server.localAddress?.port else {
            await closeAll()
            throw SetupError("the relay's listener has no port")
        }
        do {
            let result = try await body(port)
            await closeAll()
            return result
        } catch {
            await closeAll()
            throw error
        }
    }

    /// Writes what one side reads to the other, and closes the other when one side closes.
    private final class Carry: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let partner: any Channel

        init(to partner: any Channel) { self.partner = partner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.close(promise: nil)
            context.fireChannelInactive()
        }
    }
}
