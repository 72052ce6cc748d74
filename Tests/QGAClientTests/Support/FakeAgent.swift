import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import QMPCore

/// A stand-in for the agent on a Unix socket, answering as a script says. Like the real agent,
/// it answers one command after another, in the order they came: a late answer delays every
/// answer after it, which is what makes a late reply dangerous.
final class FakeAgent: Sendable {
    /// What the agent does with a command.
    enum Answer: Sendable {
        /// Writes `value` and a newline after `delay`.
        case reply(JSONValue, after: Duration = .zero)
        /// Writes `bytes` as they are after `delay`.
        case bytes([UInt8], after: Duration = .zero)
        /// Writes nothing.
        case nothing
    }

    /// Answers `guest-sync-delimited` as the agent does, or not at all.
    enum SyncBehaviour: Sendable {
        case answer, ignore
    }

    let socketPath: String
    private let received = NIOLockedValueBox<[String]>([])

    /// The names of the commands received so far, syncs included.
    var commands: [String] { received.withLockedValue { $0 } }

    private init(socketPath: String) { self.socketPath = socketPath }

    /// Listens on a fresh socket, runs `body`, and closes the socket and every connection.
    static func with<Result>(
        sync: SyncBehaviour = .answer,
        answering script: @escaping @Sendable (_ command: String, _ index: Int) -> Answer,
        _ body: (FakeAgent) async throws -> Result
    ) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("swift-qmp-fake-qga-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let agent = FakeAgent(socketPath: directory.appendingPathComponent("qga.sock").path)
        let children = NIOLockedValueBox<[any Channel]>([])
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                children.withLockedValue { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(sync: sync, script: script, received: agent.received)
                    )
                }
            }
            .bind(unixDomainSocketPath: agent.socketPath)
            .get()
        do {
            let result = try await body(agent)
            try? await server.close()
            for child in children.withLockedValue({ $0 }) { try? await child.close() }
            return result
        } catch {
            try? await server.close()
            for child in children.withLockedValue({ $0 }) { try? await child.close() }
            throw error
        }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        let sync: SyncBehaviour
        let script: @Sendable (String, Int) -> Answer
        let received: NIOLockedValueBox<[String]>
        var reader = JSONReader()
        var index = 0
        var tail: EventLoopFuture<Void>?

        init(
            sync: SyncBehaviour,
            script: @escaping @Sendable (String, Int) -> Answer,
            received: NIOLockedValueBox<[String]>
        ) {
            self.sync = sync
            self.script = script
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).readableBytesView)
            for (position, segment) in bytes.split(separator: 0xFF, omittingEmptySubsequences: false).enumerated() {
                // The marker resets the parser, as it does the real agent's.
                if position > 0 { reader = JSONReader() }
                reader.feed(segment)
                while let value = try? reader.next() {
                    answer(value, context: context)
                }
            }
        }

        private func answer(_ value: JSONValue, context: ChannelHandlerContext) {
            let name = value.objectValue?["execute"]?.stringValue ?? ""
            received.withLockedValue { $0.append(name) }
            let answer: Answer
            if name == "guest-sync-delimited" {
                guard sync == .answer, let id = value.objectValue?["arguments"]?.objectValue?["id"] else { return }
                var bytes: [UInt8] = [0xFF]
                JSONValue.object(["return": id]).write(to: &bytes)
                answer = .bytes(bytes + [0x0A])
            } else {
                answer = script(name, index)
                index += 1
            }
            let bytes: [UInt8]
            let delay: Duration
            switch answer {
            case .nothing: return
            case .reply(let value, let after):
                var encoded: [UInt8] = []
                value.write(to: &encoded)
                bytes = encoded + [0x0A]
                delay = after
            case .bytes(let raw, let after):
                bytes = raw
                delay = after
            }
            let loop = context.eventLoop
            let bound = NIOLoopBound(context, eventLoop: loop)
            let previous = tail ?? loop.makeSucceededVoidFuture()
            tail = previous.flatMap {
                loop.scheduleTask(in: TimeAmount(delay)) {
                    bound.value.writeAndFlush(NIOAny(bound.value.channel.allocator.buffer(bytes: bytes)), promise: nil)
                }.futureResult
            }
        }
    }
}
