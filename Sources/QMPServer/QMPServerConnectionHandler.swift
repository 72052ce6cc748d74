import Logging
import NIOCore
import QMPCore

/// One client of a ``QMPServer``: reads requests, lets the state machine judge them, runs the
/// commands (in-band ones one at a time, as QEMU's dispatcher does; out-of-band ones at once),
/// writes replies in the order the machine releases them, and delivers events.
///
/// Reading is manual (`autoRead` off): the handler asks for more bytes only while the client
/// has fewer in-band commands outstanding than QEMU allows and its replies are leaving.
final class QMPServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// QEMU's QMP_REQ_QUEUE_LEN_MAX.
    static let inBandQueueLimit = 8

    let id: Int
    private let server: QMPServer
    private let logger: Logger
    private var machine: QMPServerStateMachine
    private var reader: JSONReader
    private var context: ChannelHandlerContext?
    private var inBandQueue: [QMPServerStateMachine.Request] = []
    private var inBandRunning = false
    private var writeBuffer: [UInt8] = []
    /// Events this client missed because it was not reading, for the log.
    private var droppedEvents = 0

    init(id: Int, server: QMPServer, logger: Logger) {
        self.id = id
        self.server = server
        self.logger = logger
        let commands = server.configuration.commands
        self.machine = QMPServerStateMachine(
            configuration: .init(
                greeting: server.configuration.greeting,
                hasCommand: { commands.entries[$0] != nil },
                allowsOutOfBand: { commands.entries[$0]?.allowsOutOfBand ?? false }
            )
        )
        self.reader = JSONReader(configuration: server.configuration.reader)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        run(machine.connected())
        context.read()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.closed()
        inBandQueue.removeAll()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reader.feed(unwrapInboundIn(data))
        processInput()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        resumeReadingIfAllowed()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfAllowed()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("QMP server connection error", metadata: ["qmp_connection": "\(id)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - From the server

    func deliver(_ event: QMPEvent) {
        guard let context, machine.receivesEvents else { return }
        guard context.channel.isWritable else {
            // The client is not reading; dropping beats growing without bound.
            droppedEvents += 1
            logger.debug(
                "dropped an event for a client that does not read",
                metadata: ["qmp_connection": "\(id)", "qmp_event": "\(event.name)", "qmp_dropped_total": "\(droppedEvents)"]
            )
            return
        }
        write(event.json)
        context.flush()
    }

    func close() {
        context?.close(promise: nil)
    }

    /// What NIO holds for this client's socket, not yet written to it.
    var bufferedOutputBytes: Int {
        guard let context else { return 0 }
        return (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    // MARK: - Work

    private var mayRead: Bool {
        guard let context, context.channel.isWritable else { return false }
        let limit = machine.oobEnabled ? Self.inBandQueueLimit : 1
        return machine.inBandBacklog < limit
    }

    /// Asks NIO for more bytes when the client may send more; asking twice is harmless.
    private func resumeReadingIfAllowed() {
        // Values already buffered come first; they may fill the queue again.
        processInput()
        if mayRead, let context {
            context.read()
        }
    }

    private func processInput() {
        while mayRead {
            let action: QMPServerStateMachine.Action
            do {
                guard let value = try reader.next() else { return }
                action = machine.received(value)
            } catch {
                action = machine.receivedMalformedInput(error)
            }
            run(action)
        }
    }

    private func run(_ action: QMPServerStateMachine.Action) {
        switch action {
        case .none:
            break
        case .send(let messages):
            for message in messages {
                write(message)
            }
            context?.flush()
        case .dispatch(let request):
            if request.outOfBand {
                execute(request)
            } else {
                inBandQueue.append(request)
                runNextInBand()
            }
        }
    }

    private func runNextInBand() {
        guard !inBandRunning, !inBandQueue.isEmpty else { return }
        inBandRunning = true
        execute(inBandQueue.removeFirst())
    }

    private func execute(_ request: QMPServerStateMachine.Request) {
        guard let context else { return }
        let server = self.server
        let serverRequest = QMPServerRequest(
            name: request.name,
            arguments: request.arguments,
            id: request.id,
            outOfBand: request.outOfBand,
            connectionID: id,
            server: server
        )
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        Task {
            let result = await server.execute(serverRequest)
            eventLoop.execute {
                bound.value.finished(request, result)
            }
        }
    }

    private func finished(_ request: QMPServerStateMachine.Request, _ result: Result<JSONValue, QMPErrorBody>) {
        run(machine.completed(request.ticket, with: result, id: request.id))
        if !request.outOfBand {
            inBandRunning = false
            runNextInBand()
        }
        resumeReadingIfAllowed()
    }

    private func write(_ message: JSONValue) {
        guard let context else { return }
        writeBuffer.removeAll(keepingCapacity: true)
        message.write(to: &writeBuffer, style: .qemu)
        writeBuffer.append(13)
        writeBuffer.append(10)
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: writeBuffer)), promise: nil)
    }
}
