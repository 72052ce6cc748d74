import Foundation
import QMPCore
import QMPServer
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("QMP server: handlers of a client that left")
struct AbandonedHandlerTests {
    @Test("an async handler still running when its client disconnects is cancelled")
    func handlerCancelledWhenClientLeaves() async throws {
        let (started, startedSignal) = AsyncStream<Void>.makeStream()
        let (ended, endedSignal) = AsyncStream<Bool>.makeStream()
        var commands = QMPCommandTable()
        commands.register("wait") { _ in
            startedSignal.yield()
            let cancelled: Bool
            do {
                try await Task.sleep(for: .seconds(60))
                cancelled = false
            } catch {
                cancelled = true
            }
            endedSignal.yield(cancelled)
            return [:]
        }
        try await withSocketPath(named: "swift-qmp-abandoned") { path in
            let server = QMPServer(
                configuration: .init(
                    greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0), capabilities: []),
                    commands: commands,
                    addresses: [.unixSocket(path: path)]
                )
            )
            try await withRunningServer(server) { _ in
                let client = try IdleClient(path: path)
                try await client.negotiate()
                client.socket.send(#"{"execute": "wait"}"#)
                var startedIterator = started.makeAsyncIterator()
                await startedIterator.next()
                shutdown(client.socket.descriptor, Int32(SHUT_RDWR))
                let clock = ContinuousClock()
                let begin = clock.now
                var endedIterator = ended.makeAsyncIterator()
                let cancelled = await endedIterator.next()
                #expect(cancelled == true)
                #expect(clock.now - begin < .seconds(30))
            }
        }
    }
}
