import Logging
import NIOCore
import QMPCore

/// One client of a ``QMPServer``: reads requests, lets the state machine judge them, runs the
/// commands (in-band ones one at a time, as QEMU's dispatcher does; out-of-band ones at once),
/// writes replies in the order the machine releases them, and delivers events.
///
/// Reading is manual (`autoRead` off): the handler asks for more bytes only while the client
/// has fewer in-band commands outstanding than QEMU allows and its replies are leaving.
///
/// Commands with an `async` handler are not run here: the handler passes them on as inbound
/// ``QMPAsyncCommand``s to the `NIOAsyncChannel` behind it, whose owner (the connection's task
/// in ``QMPServer/run()``) runs each in a child task and hands the result back through
/// ``finishedLater(_:_:)``. So every task a connection starts is owned by the server's task
/// tree, and a shutdown can wait for it or cancel it.
///
/// Its mutable state is marked `@exclusivity(unchecked)`: the run-time exclusivity checks on
/// it cost about a twentieth of the instructions of a served command. The handler only runs
/// on its channel's event loop, and no method holds an access to one of these properties
/// while calling code that could come back into the handler (a command handler that
/// broadcasts, say, runs between accesses; ``processInput()``, which NIO can re-enter, guards
/// itself). The compiler's static checks still apply.
final class QMPServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = QMPAsyncCommand
    typealias OutboundOut = ByteBuffer

    /// QEMU's QMP_REQ_QUEUE_LEN_MAX.
    static let inBandQueueLimit = 8

    let id: Int
    private let server: QMPServer
    private let outbox: QMPEventOutbox
    private let logger: Logger
    @exclusivity(unchecked) private var machine: QMPServerStateMachine
    @exclusivity(unchecked) private var reader: JSONReader
    @exclusivity(unchecked) private var context: ChannelHandlerContext?
    @exclusivity(unchecked) private var inBandQueue: [QMPServerStateMachine.Request] = []
    @exclusivity(unchecked) private var inBandRunning = false
    /// Whether the outbox was told that this client receives events.
    @exclusivity(unchecked) private var eventsEnabled = false
    /// Guards ``processInput()`` against itself: a write can make NIO report a change of
    /// writability synchronously, which would otherwise re-enter it.
    @exclusivity(unchecked) private var processing = false
    /// Replies and events of this event-loop tick, handed to the channel in one write when the
    /// tick's work is done (or sooner, when they grow past ``outputHandOff``).
    @exclusivity(unchecked) private var output: ByteBuffer?
    /// The capacity charged by the outbox for the events in ``output``, given back once they
    /// have been written.
    @exclusivity(unchecked) private var outputEventCharge = 0
    /// The capacity of the reader's buffer, as charged to the server's memory budget.
    @exclusivity(unchecked) private var inputCharge = 0
    @exclusivity(unchecked) private var scratch: [UInt8] = []
    /// Events this client missed because it was not reading, for the log.
    @exclusivity(unchecked) private var droppedEvents = 0
    /// Commands handed to the connection's task and not answered yet.
    @exclusivity(unchecked) private var runningLater: [QMPServerStateMachine.Ticket: QMPServerStateMachine.Request] =
        [:]
    /// The server is shutting down: nothing more is read, and the connection closes once the
    /// commands already read are answered.
    @exclusivity(unchecked) private var draining = false
    /// The shutdown's grace period ran out: what was outstanding has had its error reply.
    @exclusivity(unchecked) private var aborted = false
    /// Set when the connection is to close without another reply (``QMPServer/closeConnection(_:replyingFirst:)``).
    @exclusivity(unchecked) private var replying = true
    /// Commands whose handler threw a stalling ``QMPReplyFault``: never answered, unless a
    /// shutdown's abort answers them.
    @exclusivity(unchecked) private var stalled: [QMPServerStateMachine.Request] = []

    /// Beyond this, ``output`` goes to the channel at once, so that the channel's writability
    /// (and with it whether more commands are read) sees it.
    private static let outputHandOff = 64 * 1024

    /// Up to this capacity, a buffer of replies without events is not charged to the budget.
    private static let unchargedReplies = 4096

    init(id: Int, server: QMPServer, outbox: QMPEventOutbox, logger: Logger) {
        self.id = id
        self.server = server
        self.outbox = outbox
        self.logger = logger
        let commands = server.commands
        let knowsEveryCommand = server.unknownCommandHandler != nil || server.forwardingHandler != nil
        let forwardsOutOfBand = server.forwardsOutOfBand
        self.machine = QMPServerStateMachine(
            configuration: .init(
                greeting: server.configuration.greeting,
                hasCommand: { knowsEveryCommand || commands.index(forKey: $0) != nil },
                allowsOutOfBand: { commands[$0]?.allowsOutOfBand ?? forwardsOutOfBand }
            )
        )
        self.reader = JSONReader(configuration: server.configuration.reader)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// The context keeps its pipeline, which keeps this handler: holding on to the context after
    /// the channel closed (NIO removes every handler then) would keep both alive for good.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        run(machine.connected())
        flushOutput()
        context.fireChannelActive()
        if draining {
            closeWhenIdle()
        } else {
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.closed()
        outbox.setAccepting(false)
        eventsEnabled = false
        inBandQueue.removeAll()
        runningLater.removeAll()
        stalled.removeAll()
        output = nil
        outbox.written(outputEventCharge)
        outputEventCharge = 0
        reader = JSONReader(configuration: server.configuration.reader)
        server.usage.release(inputCharge)
        inputCharge = 0
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard !draining else { return }
        // What the reader's buffer may grow to (an array doubles), taken from the budget first.
        let capacity = reader.bufferCapacity
        let needed = reader.bufferedByteCount + bytes.readableBytes
        let projected = needed <= capacity ? capacity : max(capacity * 2, needed)
        guard server.usage.reserve(projected - inputCharge) else {
            closeForMemory()
            return
        }
        inputCharge = projected
        reader.feed(bytes)
        server.usage.charge(reader.bufferCapacity - inputCharge)
        inputCharge = reader.bufferCapacity
        // Replies wait for channelReadComplete, which NIO sends after the reads of this tick.
        processInput()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        resumeReadingIfAllowed()
        flushOutput()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfAllowed()
        flushOutput()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("QMP server connection error", metadata: ["qmp_connection": "\(id)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - From the server

    /// The outbox has events for this client: the flush that ``QMPServer/broadcast(_:)``
    /// scheduled for the first of them.
    func flushEvents() {
        takeEvents()
        flushOutput()
    }

    /// The server began shutting down: read nothing more, answer what was read, then close.
    func drain() {
        draining = true
        closeWhenIdle()
    }

    /// The shutdown's grace period ran out (or the server's task was cancelled): every command
    /// still unanswered gets an error reply, then the connection closes.
    func abort() {
        guard !aborted else { return }
        aborted = true
        draining = true
        guard let context else { return }
        let failure = Result<JSONValue, QMPErrorBody>.failure(QMPServer.shutDownBeforeFinishing)
        // The state machine still releases in-band replies in the order of their commands.
        let outstanding = stalled + Array(runningLater.values) + inBandQueue
        runningLater.removeAll()
        inBandQueue.removeAll()
        stalled.removeAll()
        inBandRunning = false
        for request in outstanding {
            run(machine.completed(request.ticket, with: failure, id: request.id))
        }
        flushOutput()
        context.close(promise: nil)
    }

    /// No further replies: the connection is about to close.
    func stopReplying() {
        replying = false
    }

    func close() {
        // What this tick wrote goes first.
        flushOutput()
        context?.close(promise: nil)
    }

    /// What this client's connection holds, not yet written to its socket: events waiting in
    /// the outbox, replies of this tick, and what NIO holds.
    var bufferedOutputBytes: Int {
        guard let context else { return 0 }
        let inChannel = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        return inChannel + (output?.readableBytes ?? 0) + outbox.waitingBytes
    }

    // MARK: - Work

    private var mayRead: Bool {
        guard !draining, let context, context.channel.isWritable else { return false }
        let limit = machine.oobEnabled ? Self.inBandQueueLimit : 1
        // Out-of-band commands with an `async` handler count too (at most one in-band command is
        // among them): QEMU runs each out-of-band command before it reads on, and a server whose
        // handlers suspend, such as a proxy's, would otherwise start a task for every one sent.
        return machine.inBandBacklog < limit && runningLater.count <= Self.inBandQueueLimit
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
        guard !processing else { return }
        processing = true
        defer { processing = false }
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
        case .dispatch(let request):
            if request.outOfBand {
                start(request)
            } else if !inBandRunning && inBandQueue.isEmpty {
                // The usual case: nothing queued, so it runs now without a trip through the queue.
                inBandRunning = true
                start(request)
            } else {
                inBandQueue.append(request)
                runInBand()
            }
        }
        if !eventsEnabled && machine.receivesEvents {
            eventsEnabled = true
            outbox.setAccepting(true)
        }
    }

    /// Starts queued in-band commands, one at a time: those answered at once make room for the
    /// next right away.
    private func runInBand() {
        while !inBandRunning, !aborted, !inBandQueue.isEmpty {
            inBandRunning = true
            start(inBandQueue.removeFirst())
        }
    }

    private func start(_ request: QMPServerStateMachine.Request) {
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
        let handler: QMPCommandHandler
        switch server.dispatch(serverRequest) {
        case .answered(let result):
            complete(request, result)
            return
        case .faulted(let fault):
            complete(request, fault)
            return
        case .runLater(let later):
            handler = later
        }
        runningLater[request.ticket] = request
        let command = QMPAsyncCommand(
            request: request,
            serverRequest: serverRequest,
            handler: handler,
            connection: NIOLoopBound(self, eventLoop: context.eventLoop)
        )
        context.fireChannelRead(wrapInboundOut(command))
        // The NIOAsyncChannel passes what it read on at the end of a read: this one is complete.
        context.fireChannelReadComplete()
    }

    private func complete(_ request: QMPServerStateMachine.Request, _ result: Result<JSONValue, QMPErrorBody>) {
        run(machine.completed(request.ticket, with: result, id: request.id))
        if !request.outOfBand {
            inBandRunning = false
        }
    }

    /// Writes a fault's bytes where the command's reply goes, then ends as the fault says.
    private func complete(_ request: QMPServerStateMachine.Request, _ fault: QMPReplyFault) {
        guard let context else { return }
        if fault.ending == .stalled {
            // Still running as far as the state machine and the in-band queue know.
            stalled.append(request)
            writeRaw(fault.bytes)
            return
        }
        // Nothing the machine holds can come before this command's reply: in-band commands run
        // one at a time, in order, and an out-of-band reply is released alone.
        guard case .send(var messages) = machine.completed(request.ticket, with: .success(.null), id: request.id),
            !messages.isEmpty
        else { return }
        messages.removeFirst()
        writeRaw(fault.bytes)
        if !request.outOfBand {
            inBandRunning = false
        }
        guard fault.ending == .closed else {
            run(.send(messages))
            return
        }
        replying = false
        draining = true
        // Closed once the bytes are out, so that a partial reply really reaches the client.
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        flushOutput()
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0)), promise: written)
    }

    private func writeRaw(_ bytes: [UInt8]) {
        guard let context, replying else { return }
        takeEvents()
        guard !bytes.isEmpty else { return }
        if output == nil {
            output = context.channel.allocator.buffer(capacity: max(bytes.count, 256))
        }
        output!.writeBytes(bytes)
    }

    /// An `async` handler finished: nothing else will flush its reply in this tick. After an
    /// abort, its command has been answered already.
    func finishedLater(_ request: QMPServerStateMachine.Request, _ outcome: QMPServer.Outcome) {
        guard runningLater.removeValue(forKey: request.ticket) != nil else { return }
        switch outcome {
        case .answered(let result): complete(request, result)
        case .faulted(let fault): complete(request, fault)
        }
        runInBand()
        resumeReadingIfAllowed()
        flushOutput()
        if draining {
            closeWhenIdle()
        }
    }

    /// While draining: closes the connection once no command is outstanding and the last reply
    /// has left (a write completes after those before it).
    private func closeWhenIdle() {
        guard let context, context.channel.isActive, runningLater.isEmpty, inBandQueue.isEmpty, !inBandRunning,
            machine.inBandBacklog == 0
        else { return }
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        let pending = output ?? context.channel.allocator.buffer(capacity: 0)
        output = nil
        chargeUntilWritten(pending, written.futureResult)
        context.writeAndFlush(wrapOutboundOut(pending), promise: written)
    }

    private func write(_ message: JSONValue) {
        guard let context else { return }
        // Events broadcast before this reply was made (by its own handler, say) go first.
        takeEvents()
        guard replying else { return }
        scratch.removeAll(keepingCapacity: true)
        message.write(to: &scratch, style: .qemu)
        scratch.append(13)
        scratch.append(10)
        if output == nil {
            output = context.channel.allocator.buffer(capacity: max(scratch.count, 256))
        }
        output!.writeBytes(scratch)
        if output!.readableBytes >= Self.outputHandOff {
            flushOutput()
        }
    }

    /// Moves the events waiting in the outbox behind what this tick wrote.
    private func takeEvents() {
        let taken = outbox.take()
        if var bytes = taken.bytes, bytes.readableBytes > 0, machine.receivesEvents {
            if output == nil {
                output = bytes
                outputEventCharge += taken.charge
            } else {
                // Copied: the outbox's buffer is freed here.
                output!.writeBuffer(&bytes)
                outbox.written(taken.charge)
            }
        } else {
            outbox.written(taken.charge)
        }
        if taken.dropped > 0 {
            droppedEvents += taken.dropped
            logger.debug(
                "dropped events for a client that does not read",
                metadata: ["qmp_connection": "\(id)", "qmp_dropped_total": "\(droppedEvents)"]
            )
        }
    }

    private func flushOutput() {
        guard let context, let pending = output else { return }
        output = nil
        // A small buffer of replies alone is not charged, which saves a promise and two trips
        // through the budget's lock per command: a client has few of them at a time, since the
        // server stops reading from a client whose replies back up, and the budget keeps a
        // share free for replies.
        guard outputEventCharge > 0 || pending.capacity > Self.unchargedReplies else {
            context.writeAndFlush(wrapOutboundOut(pending), promise: nil)
            return
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        chargeUntilWritten(pending, promise.futureResult)
        context.writeAndFlush(wrapOutboundOut(pending), promise: promise)
    }

    /// Keeps `pending`'s capacity on the server's budget until its write completes (or fails,
    /// as the writes still queued do when the connection closes). Events count against the
    /// client's backlog as well, through the outbox that charged them.
    private func chargeUntilWritten(_ pending: ByteBuffer, _ written: EventLoopFuture<Void>) {
        let eventCharge = outputEventCharge
        outputEventCharge = 0
        // Replies, and what the buffer grew by after the outbox handed it over.
        let rest = max(pending.capacity - eventCharge, 0)
        let usage = server.usage
        usage.charge(rest)
        let outbox = self.outbox
        written.whenComplete { _ in
            outbox.written(eventCharge)
            usage.release(rest)
        }
    }

    /// The client's input would take the server past its memory budget: it gets an error, as
    /// QEMU answers input beyond its parser's limits, and the connection closes, since the rest
    /// of the message can no longer be read.
    private func closeForMemory() {
        server.usage.closedConnectionForMemory()
        logger.warning(
            "closing a client connection: its input would exceed the server's memory budget",
            metadata: ["qmp_connection": "\(id)", "qmp_memory_budget": "\(server.configuration.memoryBudget)"]
        )
        draining = true
        inBandQueue.removeAll()
        let body = QMPErrorBody(
            errorClass: QMPError.ErrorClass.genericError,
            description: "Input exceeds the server's memory budget; closing the connection"
        )
        write(.object(["error": body.json]))
        close()
    }
}
