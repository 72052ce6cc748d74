import CQMPSystem
import Logging
import NIOCore
import QMPCore
import QMPTransport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One command on its way: created by the caller, then touched only on the channel's event loop.
final class PendingCall: @unchecked Sendable {
    let name: String
    let arguments: JSONObject?
    let outOfBand: Bool
    let fileDescriptors: [CInt]
    /// The hard deadline's length, from submission.
    let timeout: TimeAmount?
    /// The slow threshold's length, from submission.
    let slow: TimeAmount?
    let commandClass: QMPCommandClass
    /// Where the deadline came from, for the timeout's message.
    let boundSource: String
    /// Time of the call's bound used before it got here (the argument check's schema fetch).
    var spentBeforeSubmission: TimeAmount = .zero

    // Event-loop state.
    var id: QMPClientStateMachine.RequestID?
    /// The id as it went on the wire; `nil` for an in-band command matched by order.
    var wireID: JSONValue?
    /// The order calls were submitted in (ids are reused, so they do not tell).
    var sequence: UInt64 = 0
    var deadline: NIODeadline?
    var slowAt: NIODeadline?
    var submittedAt: NIODeadline?
    /// Whether its bytes went to the server: a call failed before that certainly did not run.
    var sent = false
    var finished = false
    /// The waiting caller. A continuation rather than a promise and its future: one allocation
    /// and one callback fewer on every command.
    private var continuation: UnsafeContinuation<JSONValue, any Error>?
    /// The outcome when it came before the caller's continuation did (a call cancelled before
    /// it was submitted).
    private var result: Result<JSONValue, any Error>?

    init(
        name: String,
        arguments: JSONObject?,
        outOfBand: Bool,
        fileDescriptors: [CInt],
        timeout: TimeAmount?,
        slow: TimeAmount?,
        commandClass: QMPCommandClass,
        boundSource: String
    ) {
        self.name = name
        self.arguments = arguments
        self.outOfBand = outOfBand
        self.fileDescriptors = fileDescriptors
        self.timeout = timeout
        self.slow = slow
        self.commandClass = commandClass
        self.boundSource = boundSource
    }

    /// On the event loop: the caller waits from now on.
    func attach(_ continuation: UnsafeContinuation<JSONValue, any Error>) {
        if let result {
            self.result = nil
            continuation.resume(with: result)
        } else {
            self.continuation = continuation
        }
    }

    /// On the event loop: the call's outcome, given to the caller once.
    func complete(_ outcome: Result<JSONValue, any Error>) {
        if let continuation {
            self.continuation = nil
            continuation.resume(with: outcome)
        } else {
            result = outcome
        }
    }
}

/// Carries out what the client state machine decides: reads bytes into JSON values, writes
/// commands, completes calls, hands events to the hub, and keeps time limits.
final class QMPChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Negotiated: Sendable {
        var greeting: QMPGreeting
        var oobEnabled: Bool
    }

    private var machine: QMPClientStateMachine
    private var reader: JSONReader
    /// The bytes of an unfinished message the reader held when the connection ended.
    private var cutOffMessageBytes = 0
    private let hub: EventHub
    private let supervisor: ClientSupervisor
    private let metrics: QMPClientMetrics
    private let logger: Logger
    private let peer: String
    /// When connecting must be over, greeting and negotiation included.
    private let connectDeadline: NIODeadline
    /// The bound that deadline came from, for messages.
    private let connectTimeout: Duration
    private let timeouts: QMPTimeoutPolicy
    private let wedgeDetection: QMPWedgeDetection
    private var greetingSeen = false
    /// The socket's descriptor when it is a Unix socket this client connected itself: the only
    /// kind that can carry descriptors.
    private let socketDescriptor: CInt?

    private var context: ChannelHandlerContext?
    private var calls: [QMPClientStateMachine.RequestID: PendingCall] = [:]
    /// One timer for all calls' time limits, set for the earliest deadline. A timer per call
    /// would cost a heap insertion, a cancellation and three allocations on every command;
    /// with the usual single limit per connection this one is set once per limit's length.
    private var deadlineCheck: Scheduled<Void>?
    private var deadlineCheckTime: NIODeadline?
    private var submitted: UInt64 = 0
    let negotiated: EventLoopPromise<Negotiated>
    private var connectTimeoutTask: Scheduled<Void>?
    private var closeReason: QMPError?
    private var closedByUser = false
    /// Why the client closed the connection, for the calls it fails: `nil` for a plain close.
    private var userCloseReason: QMPError?
    private var isClosed = false
    /// What ended the connection, once it has ended: calls submitted later fail with it.
    private var endReason: QMPError?
    private var writeBuffer: [UInt8] = []

    // Wedge detection (see QMPWedgeDetection). The clock of in-band silence restarts whenever an
    // in-band answer comes, and when an answer becomes owed after none was.
    private var lastInBandProgress = NIODeadline.now()
    private var seenInBandAnswers: UInt64 = 0
    private var seenLateReplies = 0
    private var wedgeCheck: Scheduled<Void>?
    private var wedged = false
    private var probeID: QMPClientStateMachine.RequestID?
    private var probeSentAt: NIODeadline?
    private var probeAnsweredAt: NIODeadline?
    /// Set while the socket refuses more bytes: the write deadline's timer.
    private var writeStallCheck: Scheduled<Void>?
    /// When a message with descriptors first found the socket full.
    private var descriptorWriteBlockedSince: NIODeadline?
    /// Whether streams end with the close's reason rather than normally (a dropped client).
    private var endStreamsWithReason = false

    // Descriptor passing. QEMU keeps only the descriptors of the most recent message that had
    // any, and hands them to the next command that asks; so at most one command with
    // descriptors is in flight, and it is sent only when every earlier write has left.
    private var writesInFlight = 0
    private var callWithDescriptorsInFlight: PendingCall?
    private var callsWaitingForDescriptorSlot: [PendingCall] = []
    /// Messages of later commands, held while a message with descriptors waits for the socket
    /// to take it: they must reach the server after it, since replies without id are matched
    /// by order.
    private var writesHeldForDescriptors: [ByteBuffer]?

    init(
        configuration: QMPClientStateMachine.Configuration,
        readerConfiguration: JSONReader.Configuration,
        hub: EventHub,
        supervisor: ClientSupervisor,
        metrics: QMPClientMetrics,
        logger: Logger,
        peer: String,
        connectDeadline: NIODeadline,
        connectTimeout: Duration,
        timeouts: QMPTimeoutPolicy,
        wedgeDetection: QMPWedgeDetection,
        socketDescriptor: CInt?,
        negotiated: EventLoopPromise<Negotiated>
    ) {
        self.machine = QMPClientStateMachine(configuration: configuration)
        self.reader = JSONReader(configuration: readerConfiguration)
        self.hub = hub
        self.supervisor = supervisor
        self.metrics = metrics
        self.logger = logger
        self.peer = peer
        self.connectDeadline = connectDeadline
        self.connectTimeout = connectTimeout
        self.timeouts = timeouts
        self.wedgeDetection = wedgeDetection
        self.socketDescriptor = socketDescriptor
        self.negotiated = negotiated
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// Bounds the next step of connecting: the greeting, then negotiation. Each has its own bound
    /// where the policy sets one, and both end at the connect deadline.
    private func scheduleNegotiationStep(_ bound: Duration?, context: ChannelHandlerContext) {
        connectTimeoutTask?.cancel()
        let now = NIODeadline.now()
        let stepDeadline = bound.map { now + TimeAmount($0) }
        let deadline = stepDeadline.map { min($0, connectDeadline) } ?? connectDeadline
        let ownBound = stepDeadline.map { $0 < connectDeadline } ?? false
        let peer = self.peer
        let bound = ownBound ? bound! : connectTimeout
        let seconds = Double(bound.components.seconds) + Double(bound.components.attoseconds) / 1e18
        let looped = NIOLoopBound(self, eventLoop: context.eventLoop)
        connectTimeoutTask = context.eventLoop.scheduleTask(deadline: deadline) {
            let this = looped.value
            guard !this.machine.isReady, !this.isClosed else { return }
            let which = ownBound ? " (the step's own bound)" : ""
            let message: String
            if this.machine.greeting == nil {
                // The likelier cause first: QEMU accepts a second client into the socket's
                // backlog and greets it only when the first one leaves.
                message =
                    "no QMP greeting from \(peer) within \(seconds) s\(which): the monitor may be serving "
                    + "another client (QEMU serves one client per monitor socket; give each program its own "
                    + "-qmp socket, or share one through `qmp proxy`), or this is not a QMP monitor socket "
                    + "(QEMU's -qmp, or -mon mode=control)"
            } else {
                message = "capabilities negotiation with \(peer) did not complete within \(seconds) s\(which)"
            }
            this.closeConnection(QMPError(code: .timeout, message: message))
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        // From here, not from handlerAdded: until the socket is connected, the connect's own
        // bound is the one that speaks.
        scheduleNegotiationStep(timeouts.greeting, context: context)
        run(machine.connectionOpened())
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        metrics.bytesReceived.increment(by: Int64(buffer.readableBytes))
        reader.feed(buffer)
        let tracing = logger.logLevel <= .trace
        while !isClosed {
            let action: QMPClientStateMachine.Action
            do {
                guard let value = try reader.next() else { break }
                if tracing {
                    logger.trace(
                        "QMP received",
                        metadata: ["qmp_peer": "\(peer)", "qmp_message": "\(Self.loggable(value))"]
                    )
                }
                action = machine.received(value)
            } catch {
                action = machine.receivedMalformedInput(error)
            }
            run(action)
        }
        if !greetingSeen, machine.greeting != nil, !isClosed {
            greetingSeen = true
            if !machine.isReady {
                scheduleNegotiationStep(timeouts.negotiation, context: context)
            }
        }
        noteProgress()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            writeStallCheck?.cancel()
            writeStallCheck = nil
        } else if writeStallCheck == nil {
            let looped = NIOLoopBound(self, eventLoop: context.eventLoop)
            let limit = timeouts.write
            writeStallCheck = context.eventLoop.scheduleTask(in: TimeAmount(limit)) {
                looped.value.writeDeadlinePassed(limit)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    private func writeDeadlinePassed(_ limit: Duration) {
        writeStallCheck = nil
        closeConnection(
            QMPError(
                code: .timeout,
                message: "\(peer) has not read what this client sent for \(limit) (the write deadline); "
                    + "the connection is given up"
            )
        )
    }

    /// A message as the trace log shows it: compact, secrets replaced (see ``QMPRedaction``).
    static func loggable(_ value: JSONValue) -> String {
        QMPRedaction.redacting(value).serialized(style: .compact)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cutOffMessageBytes = reader.incompleteMessageByteCount
        let reason: QMPError
        if let closeReason {
            reason = closeReason
        } else if closedByUser {
            reason = userCloseReason ?? QMPError(code: .connectionClosed, message: "the client was closed")
        } else if machine.greeting == nil, cutOffMessageBytes > 0 {
            reason = QMPError(
                code: .connectionClosed,
                message: "\(peer) closed the connection in the middle of its QMP greeting "
                    + "(\(cutOffMessageBytes) bytes of it had arrived)"
            )
        } else if machine.greeting == nil {
            reason = QMPError(
                code: .connectionClosed,
                message:
                    "\(peer) closed the connection before sending a QMP greeting (another client may be connected to this monitor)"
            )
        } else {
            reason = QMPError(
                code: .connectionClosed,
                message: "the QMP connection to \(peer) was closed by the peer (QEMU exited or closed the socket)"
            )
        }
        shutDown(reason)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("QMP connection error", metadata: ["qmp_peer": "\(peer)", "error": "\(error)"])
        closeConnection(
            QMPError(code: .connectionClosed, message: "the QMP connection to \(peer) failed", underlying: error)
        )
    }

    // MARK: - Calls from the client

    func submit(_ call: PendingCall, continuation: UnsafeContinuation<JSONValue, any Error>) {
        call.attach(continuation)
        // Cancelled before it got here: its error is already with the caller.
        guard !call.finished else { return }
        guard let context, !isClosed else {
            if let endReason, endReason.code == .shutDown {
                finish(call, .failure(Self.error(endReason, for: call)))
            } else {
                let error = QMPError(code: .connectionClosed, message: "the connection is closed", command: call.name)
                finish(call, .failure(error))
            }
            return
        }
        if wedged && wedgeDetection.failFast {
            let error = QMPError(
                code: .wedged,
                message: "not sent: the monitor at \(peer) is wedged (\(currentWedge()))",
                command: call.name
            )
            finish(call, .failure(error))
            return
        }
        submitted += 1
        call.sequence = submitted
        let now = NIODeadline.now()
        call.submittedAt = now
        call.deadline = call.timeout.map { now + $0 }
        call.slowAt = call.slow.map { now + $0 }
        if let first = [call.deadline, call.slowAt].compactMap({ $0 }).min(),
            deadlineCheckTime.map({ first < $0 }) ?? true
        {
            scheduleDeadlineCheck(at: first, context: context)
        }
        if call.fileDescriptors.isEmpty {
            send(call)
        } else if socketDescriptor == nil {
            finish(
                call,
                .failure(
                    QMPError(
                        code: .unsupported,
                        message: "file descriptors can only be passed over a Unix socket connection",
                        command: call.name
                    )
                )
            )
        } else {
            let wasTracking = tracksWrites
            callsWaitingForDescriptorSlot.append(call)
            if !wasTracking {
                // Writes made so far were not tracked: one empty write behind them tells when
                // they have all left, since NIO completes writes in order.
                trackedWrite(context.channel.allocator.buffer(capacity: 0), context: context)
            }
            sendNextCallWithDescriptors()
        }
    }

    /// Stops waiting for a call; its reply, if it comes, is dropped.
    func abandon(_ call: PendingCall, with error: QMPError) {
        guard !call.finished else { return }
        if let id = call.id {
            _ = machine.abandon(id)
            calls.removeValue(forKey: id)
        }
        callsWaitingForDescriptorSlot.removeAll { $0 === call }
        if callWithDescriptorsInFlight === call {
            // Its reply is still owed, but the slot is freed now so that waiting calls do not
            // starve behind a call nobody waits for. The cost: if QEMU has not yet run the
            // abandoned command, it will hand that command the next call's descriptors.
            callWithDescriptorsInFlight = nil
        }
        finish(call, .failure(error))
        sendNextCallWithDescriptors()
    }

    /// Closes the connection on the client's behalf. Pending calls fail with `reason`, or with
    /// "the client was closed" when it is `nil`; event streams end normally either way.
    func close(reason: QMPError? = nil, endingStreamsWithReason: Bool = false) {
        guard !isClosed, let context else { return }
        if !closedByUser {
            closedByUser = true
            userCloseReason = reason
            endStreamsWithReason = endingStreamsWithReason && reason != nil
        }
        context.close(promise: nil)
    }

    // MARK: - Actions

    private func run(_ action: QMPClientStateMachine.Action) {
        switch action {
        case .none:
            break
        case .send(let message):
            write(message)
        case .negotiated(let greeting, let oobEnabled):
            greetingSeen = true
            connectTimeoutTask?.cancel()
            connectTimeoutTask = nil
            logger.debug(
                "QMP negotiated",
                metadata: [
                    "qmp_peer": "\(peer)", "qmp_version": "\(greeting.version?.description ?? "?")",
                    "qmp_oob": "\(oobEnabled)",
                ]
            )
            negotiated.succeed(Negotiated(greeting: greeting, oobEnabled: oobEnabled))
        case .deliverEvent(let event):
            hub.deliver(event)
        case .succeed(let id, _) where id == probeID, .fail(let id, _) where id == probeID:
            probeAnswered()
        case .succeed(let id, let result):
            if let call = calls.removeValue(forKey: id) {
                finish(call, .success(result))
            }
        case .fail(let id, let error):
            if let call = calls.removeValue(forKey: id) {
                finish(call, .failure(error))
            }
        case .closeConnection(let error, let failing):
            for id in failing {
                if let call = calls.removeValue(forKey: id) {
                    finish(call, .failure(Self.error(error, for: call)))
                }
            }
            closeConnection(error)
        case .ignored(let why):
            logger.debug("QMP message ignored", metadata: ["qmp_peer": "\(peer)", "reason": "\(why)"])
        }
    }

    private func send(_ call: PendingCall) {
        switch machine.execute(call.name, arguments: call.arguments, outOfBand: call.outOfBand) {
        case .fail(let error):
            finish(call, .failure(error))
        case .send(let id, let message):
            call.id = id
            call.sent = true
            if machine.sendsID(outOfBand: call.outOfBand) {
                call.wireID = id.json
            }
            calls[id] = call
            if !call.outOfBand {
                watchForWedge()
            }
            if call.fileDescriptors.isEmpty {
                write(message)
            } else {
                writeWithDescriptors(message, call: call)
            }
        }
    }

    /// Whether writes must be followed to their end: only while a command with descriptors
    /// waits for the socket to be clear, or is on its way.
    private var tracksWrites: Bool {
        socketDescriptor != nil && (callWithDescriptorsInFlight != nil || !callsWaitingForDescriptorSlot.isEmpty)
    }

    private func write(_ message: JSONValue) {
        guard let context else { return }
        if logger.logLevel <= .trace {
            logger.trace("QMP sent", metadata: ["qmp_peer": "\(peer)", "qmp_message": "\(Self.loggable(message))"])
        }
        writeBuffer.removeAll(keepingCapacity: true)
        message.write(to: &writeBuffer)
        metrics.bytesSent.increment(by: Int64(writeBuffer.count))
        let buffer = context.channel.allocator.buffer(bytes: writeBuffer)
        if writesHeldForDescriptors != nil {
            writesHeldForDescriptors!.append(buffer)
        } else if tracksWrites {
            trackedWrite(buffer, context: context)
        } else {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
    }

    private func trackedWrite(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        writesInFlight += 1
        let promise = context.eventLoop.makePromise(of: Void.self)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in
            let this = bound.value
            this.writesInFlight -= 1
            if this.writesInFlight == 0 {
                this.sendNextCallWithDescriptors()
            }
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
    }

    private func sendNextCallWithDescriptors() {
        guard callWithDescriptorsInFlight == nil, writesInFlight == 0, writesHeldForDescriptors == nil, !isClosed,
            !callsWaitingForDescriptorSlot.isEmpty
        else { return }
        let call = callsWaitingForDescriptorSlot.removeFirst()
        callWithDescriptorsInFlight = call
        send(call)
    }

    /// Sends the command's bytes and its descriptors in one `sendmsg`, straight on the socket.
    /// Safe because nothing else is queued in NIO at this point (`writesInFlight == 0`), and
    /// while it waits for the socket, later messages are held (`writesHeldForDescriptors`).
    private func writeWithDescriptors(_ message: JSONValue, call: PendingCall) {
        guard let socketDescriptor, let context else { return }
        var bytes: [UInt8] = []
        message.write(to: &bytes)
        if descriptorWriteBlockedSince == nil && logger.logLevel <= .trace {
            logger.trace("QMP sent", metadata: ["qmp_peer": "\(peer)", "qmp_message": "\(Self.loggable(message))"])
        }
        let sent = bytes.withUnsafeBytes { raw in
            call.fileDescriptors.withUnsafeBufferPointer { fds in
                cqmp_send_with_fds(socketDescriptor, raw.baseAddress, raw.count, fds.baseAddress, CInt(fds.count))
            }
        }
        if sent < 0 {
            let code = CInt(-sent)
            let blockedSince = descriptorWriteBlockedSince ?? .now()
            if (code == EAGAIN || code == EWOULDBLOCK) && NIODeadline.now() - blockedSince >= TimeAmount(timeouts.write)
            {
                descriptorWriteBlockedSince = nil
                writeDeadlinePassed(timeouts.write)
                return
            }
            if code == EAGAIN || code == EWOULDBLOCK {
                descriptorWriteBlockedSince = blockedSince
                // The server is not reading; try again shortly. Later commands wait behind this
                // one, and it is sent even if its caller stops waiting: the state machine has
                // given it its place among the commands replies are matched to by order.
                if writesHeldForDescriptors == nil {
                    writesHeldForDescriptors = []
                }
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(5)) {
                    guard !bound.value.isClosed else { return }
                    bound.value.writeWithDescriptors(message, call: call)
                }
                return
            }
            let error = QMPError(
                code: .connectionClosed,
                message: "could not send file descriptors to \(peer): \(String(cString: strerror(code)))",
                command: call.name
            )
            if let id = call.id {
                calls.removeValue(forKey: id)
                // Nothing of it reached the server, so no reply will come.
                machine.withdraw(id)
            }
            finish(call, .failure(error))
            releaseHeldWrites()
            return
        }
        descriptorWriteBlockedSince = nil
        metrics.bytesSent.increment(by: Int64(sent))
        if sent < bytes.count {
            trackedWrite(context.channel.allocator.buffer(bytes: bytes[sent...]), context: context)
        }
        releaseHeldWrites()
    }

    /// The message with descriptors has left (or failed): what was held behind it follows.
    private func releaseHeldWrites() {
        guard let held = writesHeldForDescriptors, let context else { return }
        writesHeldForDescriptors = nil
        for buffer in held {
            if tracksWrites {
                trackedWrite(buffer, context: context)
            } else {
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            }
        }
        sendNextCallWithDescriptors()
    }

    private func scheduleDeadlineCheck(at deadline: NIODeadline, context: ChannelHandlerContext) {
        deadlineCheck?.cancel()
        deadlineCheckTime = deadline
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadlineCheck = context.eventLoop.scheduleTask(deadline: deadline) {
            bound.value.checkDeadlines()
        }
    }

    /// Fails the calls whose time is up and sets the timer for the next deadline.
    private func checkDeadlines() {
        deadlineCheck = nil
        deadlineCheckTime = nil
        guard !isClosed, let context else { return }
        let now = NIODeadline.now()
        let waiting = Array(calls.values) + callsWaitingForDescriptorSlot
        var expired: [PendingCall] = []
        var next: NIODeadline?
        var slow: [PendingCall] = []
        for call in waiting where !call.finished {
            if let slowAt = call.slowAt {
                if slowAt <= now {
                    slow.append(call)
                    call.slowAt = nil
                } else if next.map({ slowAt < $0 }) ?? true {
                    next = slowAt
                }
            }
            guard let deadline = call.deadline else { continue }
            if deadline <= now {
                expired.append(call)
            } else if next.map({ deadline < $0 }) ?? true {
                next = deadline
            }
        }
        for call in slow.sorted(by: { $0.sequence < $1.sequence }) where !expired.contains(where: { $0 === call }) {
            reportSlow(call)
        }
        // In the order they were sent, so that their errors come in a predictable order.
        expired.sort { $0.sequence < $1.sequence }
        for call in expired {
            timedOut(call)
        }
        if let next, !isClosed {
            scheduleDeadlineCheck(at: next, context: context)
        }
    }

    private func reportSlow(_ call: PendingCall) {
        guard let slow = call.slow else { return }
        metrics.command(call.name, call.commandClass).slow.increment()
        logger.warning(
            "QMP call is slow",
            metadata: [
                "qmp_peer": "\(peer)", "qmp_command": "\(call.name)", "qmp_class": "\(call.commandClass)",
                "qmp_slow_after": "\(Double(slow.nanoseconds) / 1e9) s",
            ]
        )
    }

    private func timedOut(_ call: PendingCall) {
        guard !call.finished, let timeout = call.timeout else { return }
        let seconds = Double((timeout + call.spentBeforeSubmission).nanoseconds) / 1e9
        metrics.command(call.name, call.commandClass).timeouts.increment()
        let late = call.sent ? "; its reply will be dropped if it still comes" : "; it was not sent"
        abandon(
            call,
            with: QMPError(
                code: .timeout,
                message:
                    "no reply from \(peer) within \(seconds) s (\(call.boundSource), class \(call.commandClass))"
                    + late,
                command: call.name,
                id: call.wireID
            )
        )
    }

    private func finish(_ call: PendingCall, _ result: Result<JSONValue, QMPError>) {
        guard !call.finished else { return }
        call.finished = true
        metrics.recordOutcome(call.name, call.commandClass, QMPClientMetrics.outcome(of: result))
        if let submittedAt = call.submittedAt, Self.isReply(result) {
            metrics.command(call.name, call.commandClass).duration.recordNanoseconds(
                (NIODeadline.now() - submittedAt).nanoseconds
            )
        }
        call.complete(result.mapError { $0 })
        if callWithDescriptorsInFlight === call {
            callWithDescriptorsInFlight = nil
            sendNextCallWithDescriptors()
        }
    }

    private func closeConnection(_ error: QMPError) {
        guard !isClosed else { return }
        if closeReason == nil {
            closeReason = error
        }
        context?.close(promise: nil)
    }

    /// Fails everything outstanding; runs once, when the channel goes inactive.
    private func shutDown(_ reason: QMPError) {
        guard !isClosed else { return }
        isClosed = true
        endReason = reason
        connectTimeoutTask?.cancel()
        deadlineCheck?.cancel()
        deadlineCheck = nil
        wedgeCheck?.cancel()
        wedgeCheck = nil
        writeStallCheck?.cancel()
        writeStallCheck = nil
        for id in machine.closed(reason) {
            if let call = calls.removeValue(forKey: id) {
                finish(call, .failure(Self.error(reason, for: call, cutOffMessageBytes: cutOffMessageBytes)))
            }
        }
        for call in calls.values {
            finish(call, .failure(Self.error(reason, for: call, cutOffMessageBytes: cutOffMessageBytes)))
        }
        calls.removeAll()
        for call in callsWaitingForDescriptorSlot {
            finish(call, .failure(Self.error(reason, for: call)))
        }
        callsWaitingForDescriptorSlot.removeAll()
        negotiated.fail(reason)
        let byUser = closedByUser && closeReason == nil
        supervisor.linkEnded(reason, byUser: byUser, endStreamsWithReason: !byUser || endStreamsWithReason)
    }

    /// `error` as a call learns it. A call that was sent is told what came back: nothing, or the
    /// beginning of a message (its reply, or whatever came before it) that the end cut off.
    private static func error(_ error: QMPError, for call: PendingCall, cutOffMessageBytes: Int = 0) -> QMPError {
        var error = error
        error.command = call.name
        error.id = call.wireID
        if error.code == .connectionClosed || error.code == .shutDown {
            if !call.sent {
                error.message += "; the command was not sent"
            } else if cutOffMessageBytes > 0 {
                error.message +=
                    "; a partial message of \(cutOffMessageBytes) bytes arrived and the connection ended before it "
                    + "was complete: the command may or may not have run"
            } else {
                error.message += "; no reply arrived: the command may or may not have run"
            }
        }
        return error
    }

    private static func isReply(_ result: Result<JSONValue, QMPError>) -> Bool {
        switch result {
        case .success: true
        case .failure(let error): error.code == .commandFailed
        }
    }

    // MARK: - Wedge detection

    /// After what was read has been handled: an in-band answer restarts the silence clock and
    /// ends a wedge; a late reply that was dropped is counted.
    private func noteProgress() {
        let lateReplies = machine.lateReplyCount
        if lateReplies != seenLateReplies {
            metrics.lateReplies.increment(by: Int64(lateReplies - seenLateReplies))
            seenLateReplies = lateReplies
        }
        let answers = machine.inBandAnswerCount
        guard answers != seenInBandAnswers else { return }
        seenInBandAnswers = answers
        lastInBandProgress = .now()
        if wedged {
            wedged = false
            logger.notice("QMP monitor answers again", metadata: ["qmp_peer": "\(peer)"])
            supervisor.setHealth(.responsive)
        }
        // Still owed more: the silence clock runs again from now.
        if machine.owedInBandCount > 0, wedgeCheck == nil, !isClosed, let context {
            scheduleWedgeCheck(context: context)
        }
    }

    /// After an in-band command was sent: when it is the only answer owed, the silence clock
    /// starts now; the check is scheduled if none is.
    private func watchForWedge() {
        guard wedgeDetection.silence != nil else { return }
        if machine.owedInBandCount == 1 {
            lastInBandProgress = .now()
        }
        if wedgeCheck == nil, let context {
            scheduleWedgeCheck(context: context)
        }
    }

    private func scheduleWedgeCheck(context: ChannelHandlerContext) {
        guard let silence = wedgeDetection.silence, !wedged else { return }
        var next = lastInBandProgress + TimeAmount(silence)
        if let probeAfter = wedgeDetection.probeAfter, machine.oobEnabled, !probeSentInThisSilence {
            next = min(next, lastInBandProgress + TimeAmount(probeAfter))
        }
        let looped = NIOLoopBound(self, eventLoop: context.eventLoop)
        wedgeCheck = context.eventLoop.scheduleTask(deadline: next) {
            looped.value.checkWedge()
        }
    }

    private var probeSentInThisSilence: Bool {
        probeSentAt.map { $0 >= lastInBandProgress } ?? false
    }

    private func checkWedge() {
        wedgeCheck = nil
        guard !isClosed, let context, let silence = wedgeDetection.silence else { return }
        guard machine.owedInBandCount > 0 else { return }
        let now = NIODeadline.now()
        let silentFor = now - lastInBandProgress
        if let probeAfter = wedgeDetection.probeAfter, machine.oobEnabled, probeID == nil, !probeSentInThisSilence,
            silentFor >= TimeAmount(probeAfter)
        {
            sendProbe()
        }
        if silentFor >= TimeAmount(silence) {
            wedged = true
            let wedge = currentWedge()
            metrics.wedged.increment()
            logger.warning("QMP monitor is wedged", metadata: ["qmp_peer": "\(peer)", "qmp_wedge": "\(wedge)"])
            supervisor.setHealth(.wedged(wedge))
            return
        }
        scheduleWedgeCheck(context: context)
    }

    private func currentWedge() -> QMPWedge {
        let probe: QMPWedge.Probe
        if !probeSentInThisSilence {
            probe = .notSent
        } else if let answered = probeAnsweredAt, answered >= lastInBandProgress {
            probe = .answered
        } else {
            probe = .silent
        }
        let silent = NIODeadline.now() - lastInBandProgress
        return QMPWedge(
            silentFor: .nanoseconds(silent.nanoseconds),
            owedAnswers: machine.owedInBandCount,
            probe: probe
        )
    }

    /// `query-yank` out of band: QEMU answers it from its monitor thread (6.0 and later; older
    /// ones refuse it, and a refusal answers as well).
    private func sendProbe() {
        guard case .send(let id, let message) = machine.execute("query-yank", outOfBand: true) else { return }
        probeID = id
        probeSentAt = .now()
        write(message)
    }

    private func probeAnswered() {
        probeID = nil
        probeAnsweredAt = .now()
        if wedged {
            supervisor.setHealth(.wedged(currentWedge()))
        }
    }
}
