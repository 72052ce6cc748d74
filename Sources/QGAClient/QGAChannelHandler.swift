import NIOCore
import QMPCore

/// Frames the agent's byte stream into JSON values and hands each to whoever waits for it.
///
/// The agent has no ids: a reply is known to be a command's only by coming next. Whatever puts
/// the stream out of step (a reply that arrived after its caller gave up, an error the agent
/// wrote for bytes it could not parse, a reply too large or malformed to read) sets
/// ``needsResync``, and the client synchronises before its next command. Synchronising drops
/// every byte up to the 0xFF the agent writes before its `guest-sync-delimited` reply, and every
/// value after it that is not the reply to this very sync's id.
///
/// Lives on the channel's event loop; the client reaches it only through that loop.
final class QGAChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// The byte the agent writes before the reply to `guest-sync-delimited`, and that the client
    /// writes before the sync itself to reset the agent's parser: it is never part of UTF-8 JSON.
    static let marker: UInt8 = 0xFF

    enum Mode {
        /// Nobody waits: a value now is out of step.
        case idle
        /// A command waits for the next value.
        case reply(EventLoopPromise<JSONValue>)
        /// A sync waits for `{"return": id}` after a marker; everything else is stale.
        case sync(id: Int64, EventLoopPromise<Void>)
    }

    private let eventLoop: any EventLoop
    private let readerConfiguration: JSONReader.Configuration
    private var reader: JSONReader
    private var mode = Mode.idle
    /// Bytes are dropped until the next marker.
    private var discardingUntilMarker = false
    private var closedError: QMPError?
    private var context: ChannelHandlerContext?
    /// Counts waits, so that a timeout or cancellation that fires late abandons only its own.
    private(set) var generation: UInt64 = 0
    /// Whether the stream may be out of step: true until the first sync.
    private(set) var needsResync = true

    init(eventLoop: any EventLoop, readerConfiguration: JSONReader.Configuration) {
        self.eventLoop = eventLoop
        self.readerConfiguration = readerConfiguration
        self.reader = JSONReader(configuration: readerConfiguration)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: The client's side

    /// Writes `bytes` and waits for the next value.
    func sendAwaitingReply(_ bytes: [UInt8]) -> EventLoopFuture<JSONValue> {
        guard let context else { return failed(JSONValue.self) }
        if let closedError { return context.eventLoop.makeFailedFuture(closedError) }
        let promise = context.eventLoop.makePromise(of: JSONValue.self)
        generation += 1
        mode = .reply(promise)
        write(bytes, context: context)
        return promise.futureResult
    }

    /// Writes the marker and a `guest-sync-delimited` with `id`, dropping whatever was read and
    /// not yet taken, and waits for its reply.
    func synchronize(id: Int64) -> EventLoopFuture<Void> {
        guard let context else { return failed(Void.self) }
        if let closedError { return context.eventLoop.makeFailedFuture(closedError) }
        let promise = context.eventLoop.makePromise(of: Void.self)
        reader = JSONReader(configuration: readerConfiguration)
        discardingUntilMarker = true
        generation += 1
        mode = .sync(id: id, promise)
        let sync: JSONValue = ["execute": "guest-sync-delimited", "arguments": ["id": .int(id)]]
        var bytes = [Self.marker]
        sync.write(to: &bytes)
        write(bytes, context: context)
        return promise.futureResult
    }

    /// Writes `bytes` for a command that never replies when it succeeds; whatever it says on
    /// failure comes when nobody waits and puts the stream out of step.
    func sendWithoutReply(_ bytes: [UInt8]) -> EventLoopFuture<Void> {
        guard let context else { return failed(Void.self) }
        if let closedError { return context.eventLoop.makeFailedFuture(closedError) }
        needsResync = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: bytes)), promise: promise)
        return promise.futureResult
    }

    /// Gives up the wait numbered `generation` with `error`, if it is still the current one: a
    /// timeout or a cancellation. The reply, should it come, is out of step.
    func abandon(_ generation: UInt64, with error: any Error) {
        guard generation == self.generation else { return }
        abandon(with: error)
    }

    private func abandon(with error: any Error) {
        switch mode {
        case .idle: return
        case .reply(let promise): promise.fail(error)
        case .sync(_, let promise): promise.fail(error)
        }
        mode = .idle
        needsResync = true
    }

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        let generation = self.generation
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: bytes)), promise: promise)
        // The callback runs on this loop, as the handler does.
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        promise.futureResult.whenFailure { error in
            handler.value.abandon(
                generation,
                with: QMPError(code: .connectionClosed, message: "writing to the agent failed: \(error)")
            )
        }
    }

    /// The handler left the pipeline only when the channel closed.
    private func failed<Value>(_ type: Value.Type) -> EventLoopFuture<Value> {
        eventLoop.makeFailedFuture(
            closedError ?? QMPError(code: .connectionClosed, message: "the connection to the agent is closed")
        )
    }

    // MARK: The agent's side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let bytes = buffer.readableBytesView
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let marker = bytes[start...].firstIndex(of: Self.marker)
            let end = marker ?? bytes.endIndex
            if !discardingUntilMarker && start < end {
                reader.feed(bytes[start..<end])
                drain()
            }
            guard let marker else { break }
            // What came before the marker is stale whatever it was; its reply follows.
            reader = JSONReader(configuration: readerConfiguration)
            discardingUntilMarker = false
            start = marker + 1
        }
    }

    private func drain() {
        while !discardingUntilMarker {
            let value: JSONValue
            do {
                guard let next = try reader.next() else { return }
                value = next
            } catch {
                // Nothing after a malformed or oversized reply can be trusted until a marker.
                reader = JSONReader(configuration: readerConfiguration)
                discardingUntilMarker = true
                needsResync = true
                if case .reply(let promise) = mode {
                    mode = .idle
                    promise.fail(
                        QMPError(
                            code: .protocolViolation,
                            message: "the agent's reply could not be read: \(error)",
                            underlying: error
                        )
                    )
                }
                return
            }
            deliver(value)
        }
    }

    private func deliver(_ value: JSONValue) {
        switch mode {
        case .idle:
            needsResync = true
        case .reply(let promise):
            mode = .idle
            promise.succeed(value)
        case .sync(let id, let promise):
            guard value.objectValue?["return"]?.int64Value == id else { return }
            mode = .idle
            needsResync = false
            promise.succeed(())
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        close(QMPError(code: .connectionClosed, message: "the agent closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(QMPError(code: .connectionClosed, message: "the connection to the agent failed: \(error)"))
        context.close(promise: nil)
    }

    private func close(_ error: QMPError) {
        if closedError == nil { closedError = error }
        abandon(with: closedError!)
    }
}
