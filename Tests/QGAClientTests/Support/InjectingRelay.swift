import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A relay between the client and an agent's socket that can put bytes of its own into the
/// stream towards the agent, as a confused earlier writer on the channel would. The real agent
/// serves one connection at a time, so a second connection could not do it.
final class InjectingRelay: Sendable {
    let socketPath: String
    private let agentSide = NIOLockedValueBox<(any Channel)?>(nil)

    private init(socketPath: String) { self.socketPath = socketPath }

    /// Writes `bytes` to the agent, between whatever the client writes.
    func inject(_ bytes: [UInt8]) async throws {
        guard let channel = agentSide.withLockedValue({ $0 }) else {
            throw SetupError("the relay has no connection to the agent yet")
        }
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }

    /// Relays a fresh socket in `directory` to the agent at `agentPath` while `body` runs.
    static func with<Result>(
        to agentPath: String,
        in directory: URL,
        _ body: (InjectingRelay) async throws -> Result
    ) async throws -> Result {
        let relay = InjectingRelay(socketPath: directory.appendingPathComponent("relay.sock").path)
        let channels = NIOLockedValueBox<[any Channel]>([])
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { client in
                channels.withLockedValue { $0.append(client) }
                return ClientBootstrap(group: client.eventLoop)
                    .connect(unixDomainSocketPath: agentPath)
                    .flatMap { agent in
                        channels.withLockedValue { $0.append(agent) }
                        relay.agentSide.withLockedValue { $0 = agent }
                        // The client's bytes flow once this completes: the child is registered after.
                        return client.eventLoop.makeCompletedFuture {
                            try client.pipeline.syncOperations.addHandler(Forwarder(to: agent))
                            try agent.pipeline.syncOperations.addHandler(Forwarder(to: client))
                        }
                    }
            }
            .bind(unixDomainSocketPath: relay.socketPath)
            .get()
        func closeAll() async {
            try? await server.close()
            for channel in channels.withLockedValue({ $0 }) { try? await channel.close() }
        }
        do {
            let result = try await body(relay)
            await closeAll()
            return result
        } catch {
            await closeAll()
            throw error
        }
    }

    /// Writes what one side reads to the other, and closes the other when one side closes.
    private final class Forwarder: ChannelInboundHandler, Sendable {
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
