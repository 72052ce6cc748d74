import Foundation
import QGA
import QGAClient
import QMPCore
import Testing

/// The agent has no ids: whatever puts its stream out of step must never make a command read
/// another's reply.
@Suite("Resynchronising with the guest agent")
struct ResynchronisationTests {
    /// A fake agent that answers `{"return": {"to": NAME}}`, so that a test sees whose reply
    /// a command got.
    static func replyNaming(_ name: String) -> JSONValue { ["return": ["to": .string(name)]] }

    /// Runs `name` and expects the fake agent's reply to it, not another command's.
    static func expectOwnReply(_ client: QGAClient, _ name: String) async throws {
        let reply = try await client.execute(name)
        #expect(reply == ["to": .string(name)], "\(name) got \(reply)")
    }

    @Test(
        "a reply that comes after its command gave up is dropped, and the next command gets its own",
        arguments: [QGAClient.Configuration.SyncPolicy.whenOutOfStep, .everyCommand]
    )
    func lateReply(policy: QGAClient.Configuration.SyncPolicy) async throws {
        try await FakeAgent.with(answering: { name, _ in
            .reply(Self.replyNaming(name), after: name == "slow" ? .milliseconds(600) : .zero)
        }) { agent in
            let configuration = QGAClient.Configuration(
                timeouts: QGATimeouts(synchronization: .seconds(3), overrides: ["slow": .milliseconds(150)]),
                syncPolicy: policy
            )
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath), configuration: configuration) {
                client in
                try await Self.expectOwnReply(client, "first")
                let error = await #expect(throws: QMPError.self) { try await client.execute("slow") }
                #expect(error?.code == .timeout)
                // The slow reply is still on its way when this command starts.
                try await Self.expectOwnReply(client, "after")
                try await Self.expectOwnReply(client, "last")
            }
            let syncs = agent.commands.filter { $0 == "guest-sync-delimited" }.count
            // One before the first command, and one after the timeout at least.
            #expect(syncs >= 2)
        }
    }

    @Test("a malformed reply fails its command only; the next command gets its own reply")
    func garbledReply() async throws {
        try await FakeAgent.with(answering: { name, _ in
            name == "garbled"
                ? .bytes(Array(#"{"return": {"to": tru}} {"return": "#.utf8))
                : .reply(Self.replyNaming(name))
        }) { agent in
            let configuration = QGAClient.Configuration(syncPolicy: .whenOutOfStep)
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath), configuration: configuration) {
                client in
                let error = await #expect(throws: QMPError.self) { try await client.execute("garbled") }
                #expect(error?.code == .protocolViolation)
                try await Self.expectOwnReply(client, "next")
            }
        }
    }

    @Test("a reply over the size limit fails its command and the client stays usable")
    func oversizedReply() async throws {
        let large = String(repeating: "x", count: 64 * 1024)
        try await FakeAgent.with(answering: { name, _ in
            name == "large" ? .reply(["return": .string(large)]) : .reply(Self.replyNaming(name))
        }) { agent in
            let configuration = QGAClient.Configuration(syncPolicy: .whenOutOfStep, maximumReplySize: 16 * 1024)
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath), configuration: configuration) {
                client in
                let error = await #expect(throws: QMPError.self) { try await client.execute("large") }
                #expect(error?.code == .protocolViolation)
                try await Self.expectOwnReply(client, "small")
            }
        }
    }

    @Test("a value nobody waited for puts the stream out of step, and the next command resynchronises first")
    func unexpectedValue() async throws {
        try await FakeAgent.with(answering: { name, _ in
            // Two values for one command: the second must not pass for the next command's reply.
            name == "twice"
                ? .bytes(Array(#"{"return": {"to": "twice"}} {"return": {"to": "stale"}}"#.utf8))
                : .reply(Self.replyNaming(name))
        }) { agent in
            let configuration = QGAClient.Configuration(syncPolicy: .whenOutOfStep)
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath), configuration: configuration) {
                client in
                try await Self.expectOwnReply(client, "twice")
                // Both values arrive in one write: the stale one is read before this command starts.
                try await Task.sleep(for: .milliseconds(100))
                try await Self.expectOwnReply(client, "next")
            }
        }
    }

    @Test("a cancelled wait leaves the next command its own reply")
    func cancellation() async throws {
        try await FakeAgent.with(answering: { name, _ in
            .reply(Self.replyNaming(name), after: name == "slow" ? .milliseconds(400) : .zero)
        }) { agent in
            let configuration = QGAClient.Configuration(syncPolicy: .whenOutOfStep)
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath), configuration: configuration) {
                client in
                let call = Task { try await client.execute("slow") }
                try await Task.sleep(for: .milliseconds(100))
                call.cancel()
                let error = await #expect(throws: QMPError.self) { try await call.value }
                #expect(error?.code == .cancelled)
                try await Self.expectOwnReply(client, "next")
            }
        }
    }

    @Test("guest-shutdown is sent without waiting; the error a blocking agent answers reaches no other command")
    func commandWithoutReply() async throws {
        try await RealGuestAgent.with { agent in
            let configuration = QGAClient.Configuration(syncPolicy: .whenOutOfStep)
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath), configuration: configuration) {
                client in
                try await client.execute(GuestPingCommand())
                // Blocked on this host: the agent answers CommandNotFound, which nobody waits for.
                let reply = try await client.execute(GuestShutdownCommand(mode: "powerdown"))
                #expect(reply == QMPEmpty())
                let time = try await client.execute(GuestGetTimeCommand())
                #expect(time > 0)
            }
        }
    }

    @Test(
        "bytes injected towards the real agent between commands never give a command the wrong reply",
        arguments: [
            Array(#"{"execute": "no-such-command"}"#.utf8),
            Array("}}} not json at all ".utf8),
            // Half a command: the agent's parser waits for the rest until the next marker.
            Array(#"{"execute": "guest-info", "argu"#.utf8),
        ]
    )
    func injectedBytes(garbage: [UInt8]) async throws {
        try await RealGuestAgent.with { agent in
            try await InjectingRelay.with(to: agent.socketPath, in: agent.directory) { relay in
                try await QGAClient.withConnection(to: .unixSocket(path: relay.socketPath)) { client in
                    try await client.execute(GuestPingCommand())
                    try await relay.inject(garbage)
                    let time = try await client.execute(GuestGetTimeCommand())
                    #expect(time > 0)
                    try await relay.inject(garbage)
                    let info = try await client.execute(GuestInfoCommand())
                    #expect(info.supportedCommands.contains { $0.name == "guest-ping" })
                    try await relay.inject(garbage)
                    let name = try await client.execute(GuestGetHostNameCommand())
                    #expect(!name.hostName.isEmpty)
                }
            }
        }
    }

    @Test("a timeout in the middle of a session with the real agent leaves later commands their own replies")
    func timeoutWithRealAgent() async throws {
        try await RealGuestAgent.with { agent in
            let configuration = QGAClient.Configuration(syncPolicy: .whenOutOfStep)
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath), configuration: configuration) {
                client in
                try await client.execute(GuestPingCommand())
                // No agent answers within a microsecond: the reply comes while nobody waits.
                let error = await #expect(throws: QMPError.self) {
                    try await client.execute(GuestInfoCommand(), timeout: .microseconds(1))
                }
                #expect(error?.code == .timeout)
                // guest-info's reply would not decode as a time, nor as a host name.
                let time = try await client.execute(GuestGetTimeCommand())
                #expect(time > 0)
                let name = try await client.execute(GuestGetHostNameCommand())
                #expect(!name.hostName.isEmpty)
            }
        }
    }
}
