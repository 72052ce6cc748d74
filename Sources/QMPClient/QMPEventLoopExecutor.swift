import NIOCore

/// A task executor that runs jobs on one NIO event loop: the loop of a client's connection.
///
/// A call from a task on Swift's global pool crosses threads twice: the command goes to the
/// connection's event loop (one wake-up), and the reply comes back to a pool thread (another).
/// On a sequential command loop those two wake-ups cost more than the rest of the client. A task
/// that prefers this executor runs on the event loop itself, so the command is written and the
/// reply resumes the task on the same thread, as a blocking C client would:
///
/// ```swift
/// try await withTaskExecutorPreference(client.executor) {
///     for _ in 0..<1000 { _ = try await client.execute("query-status") }
/// }
/// ```
///
/// Work done between calls then runs on the event loop too and delays its I/O (for this and
/// any other connection on that loop): keep heavy computation off it.
@available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *)
public final class QMPEventLoopExecutor: TaskExecutor {
    /// The event loop jobs run on.
    public let eventLoop: any EventLoop

    /// An executor that runs jobs on `eventLoop`.
    public init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // From the loop itself this only appends to the loop's task queue: no wake-up.
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
