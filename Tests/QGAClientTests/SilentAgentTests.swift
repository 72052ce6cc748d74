import Foundation
import QGA
import QGAClient
import QMPCore
import Testing

/// An agent that is not running yet (a booting guest) accepts the host's connection and says
/// nothing: every call must end within its bound and say who did not answer what.
@Suite("A silent guest agent")
struct SilentAgentTests {
    static let bound = Duration.milliseconds(300)
    /// What a loaded machine (the whole suite beside other builds) may add to a timer and to
    /// the scheduling of the test itself; an unbounded wait would exceed any of it.
    static let slack = Duration.seconds(5)

    @Test("every call ends within its bound with an error naming the agent and what was waited for")
    func everyCallIsBounded() async throws {
        try await FakeAgent.with(sync: .ignore, answering: { _, _ in .nothing }) { agent in
            let configuration = QGAClient.Configuration(timeouts: QGATimeouts(synchronization: Self.bound))
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath), configuration: configuration) {
                client in
                for _ in 0..<3 {
                    let start = ContinuousClock.now
                    let error = await #expect(throws: QMPError.self) { try await client.execute(GuestPingCommand()) }
                    let elapsed = ContinuousClock.now - start
                    #expect(elapsed >= Self.bound && elapsed < Self.bound + Self.slack)
                    #expect(error?.code == .timeout)
                    #expect(error?.message.contains(agent.socketPath) == true, "\(String(describing: error))")
                    #expect(error?.message.contains("guest-sync-delimited") == true, "\(String(describing: error))")
                }
            }
        }
    }

    @Test("an agent that synchronises but never answers the command: the error names the command")
    func commandIsBounded() async throws {
        try await FakeAgent.with(sync: .answer, answering: { _, _ in .nothing }) { agent in
            let configuration = QGAClient.Configuration(timeouts: QGATimeouts(quick: Self.bound))
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath), configuration: configuration) {
                client in
                let start = ContinuousClock.now
                let error = await #expect(throws: QMPError.self) { try await client.execute(GuestGetTimeCommand()) }
                let elapsed = ContinuousClock.now - start
                #expect(elapsed >= Self.bound && elapsed < Self.bound + Self.slack)
                #expect(error?.code == .timeout)
                #expect(error?.command == "guest-get-time")
                #expect(error?.message.contains(agent.socketPath) == true, "\(String(describing: error))")
                #expect(error?.message.contains("the reply to guest-get-time") == true, "\(String(describing: error))")
            }
        }
    }

    @Test("an agent that closes the connection fails the waiting call at once")
    func closedConnection() async throws {
        try await FakeAgent.with(sync: .ignore, answering: { _, _ in .nothing }) { agent in
            let client = try await QGAClient.connect(to: .unixSocket(path: agent.socketPath))
            await client.close()
            let error = await #expect(throws: QMPError.self) { try await client.execute(GuestPingCommand()) }
            #expect(error?.code == .connectionClosed)
        }
    }

    @Test("the timeouts fit the command: a ping is quick, a freeze may take long, the rest in between")
    func timeoutClasses() {
        let timeouts = QGATimeouts()
        #expect(timeouts.timeout(for: "guest-ping") < timeouts.timeout(for: "guest-exec"))
        #expect(timeouts.timeout(for: "guest-exec") < timeouts.timeout(for: "guest-fsfreeze-freeze"))
        #expect(timeouts.timeout(for: "guest-fstrim") == timeouts.long)
        #expect(timeouts.timeout(for: "guest-fsfreeze-status") == timeouts.quick)
        var custom = timeouts
        custom.overrides["guest-exec"] = .seconds(1)
        #expect(custom.timeout(for: "guest-exec") == .seconds(1))
        #expect(QGATimeouts.commandsWithoutReply.isSuperset(of: ["guest-shutdown", "guest-suspend-ram"]))
    }
}
