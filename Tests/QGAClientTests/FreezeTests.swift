import Foundation
import QGAClient
import QMPCore
import Testing

/// `withFrozenFilesystems` always thaws what it froze. The real agent runs on this host, whose
/// filesystems must never be frozen: it blocks the freeze commands, and the thawing is shown
/// against the fake agent.
@Suite("Freezing the guest's filesystems")
struct FreezeTests {
    struct BodyFailed: Error, Equatable {}

    /// A fake agent that freezes (or, unless `freezeAnswers`, never answers the freeze) and
    /// thaws; the thaw answers `thaw` after `thawDelay`.
    static func withFreezingAgent(
        freezeAnswers: Bool = true,
        thaw: JSONValue = ["return": 2],
        thawDelay: Duration = .zero,
        _ body: (FakeAgent, QGAClient) async throws -> Void
    ) async throws {
        try await FakeAgent.with(answering: { name, _ in
            switch name {
            case "guest-fsfreeze-freeze", "guest-fsfreeze-freeze-list": freezeAnswers ? .reply(["return": 2]) : .nothing
            case "guest-fsfreeze-thaw": .reply(thaw, after: thawDelay)
            default: .reply(["error": ["class": "CommandNotFound", "desc": .string("unexpected \(name)")]])
            }
        }) { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                try await body(agent, client)
            }
        }
    }

    static func commands(_ agent: FakeAgent) -> [String] { agent.commands.filter { $0 != "guest-sync-delimited" } }

    @Test("the real agent's refusal of a blocked freeze is its error; the body never runs")
    func refusedByRealAgent() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let error = await #expect(throws: QMPError.self) {
                    try await client.withFrozenFilesystems {
                        Issue.record("the body ran although nothing was frozen")
                    }
                }
                #expect(error?.code == .commandFailed)
                #expect(error?.command == "guest-fsfreeze-freeze")
                #expect(error?.message.contains("disabled") == true, "\(String(describing: error))")
                // The client goes on.
                try await client.execute("guest-ping")
            }
        }
    }

    @Test("the body runs between the freeze and the thaw, and its result comes back")
    func freezesRunsThaws() async throws {
        try await Self.withFreezingAgent { agent, client in
            let result = try await client.withFrozenFilesystems(mountpoints: ["/data"]) {
                #expect(Self.commands(agent) == ["guest-fsfreeze-freeze-list"])
                return 42
            }
            #expect(result == 42)
            #expect(Self.commands(agent) == ["guest-fsfreeze-freeze-list", "guest-fsfreeze-thaw"])
        }
    }

    @Test("a body that throws is thawed after, and its error comes back")
    func thawsWhenBodyThrows() async throws {
        try await Self.withFreezingAgent { agent, client in
            await #expect(throws: BodyFailed.self) {
                try await client.withFrozenFilesystems { throw BodyFailed() }
            }
            #expect(Self.commands(agent) == ["guest-fsfreeze-freeze", "guest-fsfreeze-thaw"])
        }
    }

    @Test("a task cancelled in the body still sends the thaw and waits for its reply")
    func thawsWhenCancelled() async throws {
        // The thaw's reply comes late: a wait cut short by the cancellation would miss it and
        // report a failed thaw.
        try await Self.withFreezingAgent(thawDelay: .milliseconds(200)) { agent, client in
            let (frozen, continuation) = AsyncStream.makeStream(of: Void.self)
            let task = Task {
                try await client.withFrozenFilesystems {
                    continuation.yield()
                    try await Task.sleep(for: .seconds(60))
                }
            }
            for await _ in frozen { break }
            task.cancel()
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(Self.commands(agent) == ["guest-fsfreeze-freeze", "guest-fsfreeze-thaw"])
        }
    }

    @Test("a task cancelled while the freeze is under way thaws, since the agent may have frozen")
    func thawsWhenCancelledDuringFreeze() async throws {
        try await Self.withFreezingAgent(freezeAnswers: false) { agent, client in
            let task = Task {
                try await client.withFrozenFilesystems { Issue.record("the body ran after a cancelled freeze") }
            }
            while !Self.commands(agent).contains("guest-fsfreeze-freeze") {
                try await Task.sleep(for: .milliseconds(5))
            }
            task.cancel()
            let error = await #expect(throws: QMPError.self) { try await task.value }
            #expect(error?.code == .cancelled)
            #expect(Self.commands(agent) == ["guest-fsfreeze-freeze", "guest-fsfreeze-thaw"])
        }
    }

    @Test("a failed thaw is a QGAThawError saying the guest may still be frozen")
    func thawFailureIsLoud() async throws {
        let failure: JSONValue = ["error": ["class": "GenericError", "desc": "failed to thaw /data"]]
        try await Self.withFreezingAgent(thaw: failure) { _, client in
            let error = await #expect(throws: QGAThawError.self) {
                try await client.withFrozenFilesystems { 1 }
            }
            #expect(error?.bodyError == nil)
            #expect((error?.thawError as? QMPError)?.message == "failed to thaw /data")
            #expect(error?.description.contains("MAY STILL BE FROZEN") == true)
        }
    }

    @Test("a failed thaw after a failed body reports both")
    func thawFailureAfterBodyFailure() async throws {
        let failure: JSONValue = ["error": ["class": "GenericError", "desc": "failed to thaw /data"]]
        try await Self.withFreezingAgent(thaw: failure) { _, client in
            let error = await #expect(throws: QGAThawError.self) {
                try await client.withFrozenFilesystems { throw BodyFailed() }
            }
            #expect(error?.bodyError is BodyFailed)
            #expect(error?.description.contains("failed to thaw /data") == true)
            #expect(error?.description.contains("BodyFailed") == true)
        }
    }
}
