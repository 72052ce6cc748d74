import QMPClient
import QMPCore
import Testing

/// Events a server sends together with the reply to `qmp_capabilities` arrive before any caller
/// can have subscribed; a client configured to keep them hands them to its first subscription.
@Suite("Events before the first subscription")
struct EarlyEventTests {
    /// Negotiation answered with the reply and two events in one write.
    static let eventsWithNegotiation: FakeServer.Responder = { command in
        guard command["execute"] == "qmp_capabilities" else { return nil }
        let event = { (name: String) -> [UInt8] in
            FakeServer.bytes(["event": .string(name), "timestamp": ["seconds": 1, "microseconds": 2]])
        }
        return FakeServer.reply([:], to: command) + event("EARLY_ONE") + event("EARLY_TWO")
    }

    @Test("events that come with the negotiation reply reach the first subscription, in order")
    func keptForFirstSubscription() async throws {
        var configuration = QMPClient.Configuration()
        configuration.eventsKeptForFirstSubscription = 16
        try await FakeServer.withClient(configuration: configuration, respond: Self.eventsWithNegotiation) {
            client async throws in
            var iterator = client.events().makeAsyncIterator()
            #expect(try await iterator.next()?.name == "EARLY_ONE")
            #expect(try await iterator.next()?.name == "EARLY_TWO")
        }
    }

    @Test("beyond the number kept, the oldest are dropped and counted in the first subscription")
    func droppedBeyondTheLimitAreCounted() async throws {
        var configuration = QMPClient.Configuration()
        configuration.eventsKeptForFirstSubscription = 1
        try await FakeServer.withClient(configuration: configuration, respond: Self.eventsWithNegotiation) {
            client async throws in
            let events = client.events()
            var iterator = events.makeAsyncIterator()
            #expect(try await iterator.next()?.name == "EARLY_TWO")
            #expect(events.droppedCount == 1)
        }
    }

    @Test("a filtered first subscription sees only the early events it asked for")
    func filtered() async throws {
        var configuration = QMPClient.Configuration()
        configuration.eventsKeptForFirstSubscription = 16
        try await FakeServer.withClient(configuration: configuration, respond: Self.eventsWithNegotiation) {
            client async throws in
            var iterator = client.events(named: ["EARLY_TWO"]).makeAsyncIterator()
            #expect(try await iterator.next()?.name == "EARLY_TWO")
        }
    }

    @Test("by default none are kept: a subscription sees what arrives after it was made")
    func noneKeptByDefault() async throws {
        let respond: FakeServer.Responder = { command in
            guard command["execute"] == "query-status" else { return Self.eventsWithNegotiation(command) }
            return FakeServer.bytes(["event": "LATER", "timestamp": ["seconds": 3, "microseconds": 4]])
                + FakeServer.reply(["status": "running", "running": true], to: command)
        }
        try await FakeServer.withClient(configuration: .init(), respond: respond) { client async throws in
            let events = client.events()
            var iterator = events.makeAsyncIterator()
            _ = try await client.execute("query-status")
            #expect(try await iterator.next()?.name == "LATER")
            #expect(events.droppedCount == 0)
        }
    }
}
