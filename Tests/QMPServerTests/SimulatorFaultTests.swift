import QMPClient
import QMPCore
import QMPServer
import QMPSimulator
import Testing

@Suite("The simulated QEMU injects the faults it is configured with, as a client sees them")
struct SimulatorFaultTests {
    private typealias Rule = QEMUSimulator.FaultRule

    /// A simulator with `rules`, served on loopback while `body` runs with a client of it.
    private func withFaultySimulator<Result: Sendable>(
        _ rules: [Rule],
        client configuration: QMPClient.Configuration = QMPClient.Configuration(),
        _ body: (QMPClient, QMPAddress) async throws -> Result
    ) async throws -> Result {
        let simulator = QEMUSimulator(configuration: .init(faults: rules))
        let server = simulator.makeServer(
            listeningOn: [.tcp(host: "127.0.0.1", port: 0)],
            shutdownGracePeriod: .milliseconds(100)
        )
        return try await withRunningServer(server) { address in
            try await withClient(of: address, configuration: configuration) { client in
                try await body(client, address)
            }
        }
    }

    private static let clock = ContinuousClock()

    @Test("a delayed command answers after its delay; the calls the rule does not select answer at once")
    func delay() async throws {
        try await withFaultySimulator([
            Rule(command: "query-status", calls: .only(1), fault: .delay(.seconds(3)))
        ]) { client, _ in
            let slow = try await Self.clock.measure { _ = try await client.execute("query-status") }
            #expect(slow >= .seconds(3))
            let fast = try await Self.clock.measure { _ = try await client.execute("query-status") }
            // A wide margin: the whole suite loads the machine.
            #expect(fast < .seconds(3))
        }
    }

    @Test("a stalled command never answers, and the in-band commands after it wait behind it")
    func stall() async throws {
        try await withFaultySimulator([Rule(command: "query-status", calls: .only(1), fault: .stall)]) {
            client,
            address in
            let stalled = await #expect(throws: QMPError.self) {
                try await client.execute("query-status", timeout: .milliseconds(300))
            }
            #expect(stalled?.code == .timeout)
            let behind = await #expect(throws: QMPError.self) {
                try await client.execute("query-name", timeout: .milliseconds(300))
            }
            #expect(behind?.code == .timeout)
            // Another connection is its own monitor: the second call of the command answers.
            try await withClient(of: address) { other in
                let status = try await other.execute("query-status")
                #expect(status["status"] == "prelaunch")
            }
        }
    }

    /// A client that matches in-band replies by order (as QMPClient does with QEMU 3.1 and
    /// later, which answers in order) would take the next reply for the dropped one's: these
    /// send every command with its id, so that the replies are matched by id.
    private static let withIDs = QMPClient.Configuration(inBandIDs: .always)

    @Test("a dropped reply never comes, though the command ran; the next command answers")
    func dropReply() async throws {
        try await withFaultySimulator([Rule(command: "cont", fault: .dropReply)], client: Self.withIDs) { client, _ in
            let dropped = await #expect(throws: QMPError.self) {
                try await client.execute("cont", timeout: .milliseconds(300))
            }
            #expect(dropped?.code == .timeout)
            let status = try await client.execute("query-status")
            #expect(status["status"] == "running")
        }
    }

    @Test("with the default configuration, a dropped reply never lands another call's reply on the wrong call")
    func dropReplyDefault() async throws {
        try await withFaultySimulator([Rule(command: "cont", fault: .dropReply)]) { client, _ in
            let dropped = await #expect(throws: QMPError.self) {
                try await client.execute("cont", timeout: .milliseconds(300))
            }
            #expect(dropped?.code == .timeout)
            let status = try await client.execute("query-status", timeout: .seconds(5))
            #expect(status["status"] == "running")
            let name = try await client.execute("query-name", timeout: .seconds(5))
            #expect(name["status"] == nil)
        }
    }

    @Test("a reply cut short by the connection closing fails the call with an error that says so")
    func closeMidReply() async throws {
        try await withFaultySimulator([Rule(command: "query-version", fault: .closeMidReply(bytes: 12))]) {
            client,
            _ in
            let error = await #expect(throws: QMPError.self) { try await client.execute("query-version") }
            #expect(error?.code == .connectionClosed)
            #expect(error?.description.contains("closed by the peer") == true)
        }
    }

    @Test("a reply cut short says how much of it arrived, not that no reply arrived")
    func closeMidReplyCountsWhatArrived() async throws {
        try await withFaultySimulator([Rule(command: "query-version", fault: .closeMidReply(bytes: 12))]) {
            client,
            _ in
            let error = await #expect(throws: QMPError.self) { try await client.execute("query-version") }
            let description = error?.description ?? ""
            #expect(
                description.contains(
                    "a partial message of 12 bytes arrived and the connection ended before it was complete"
                )
            )
            #expect(description.contains("may or may not have run"))
            #expect(!description.contains("no reply arrived"))
        }
    }

    @Test("bytes that are not JSON before a reply fail the call with an error that names them")
    func garbageBeforeReply() async throws {
        try await withFaultySimulator([
            Rule(command: "query-name", fault: .garbageBeforeReply(Array("}not json{".utf8)))
        ]) { client, _ in
            let error = await #expect(throws: QMPError.self) { try await client.execute("query-name") }
            #expect(error?.code == .protocolViolation)
            #expect(error?.description.contains("the server sent malformed JSON") == true)
            #expect(error?.description.contains("found '}'") == true)
        }
    }

    @Test("bytes that are not JSON in place of a reply fail the call with an error that names them")
    func garbageInsteadOfReply() async throws {
        try await withFaultySimulator([
            Rule(command: "query-name", fault: .garbageInsteadOfReply(Array("\u{1}oops\r\n".utf8)))
        ]) { client, _ in
            let error = await #expect(throws: QMPError.self) {
                try await client.execute("query-name", timeout: .seconds(2))
            }
            #expect(error?.description.contains("the server sent malformed JSON") == true)
            #expect(error?.code == .protocolViolation)
            #expect(error?.description.contains("U+0001") == true)
        }
    }

    @Test("an event flood sends every event of it, all at once or at its rate")
    func eventFlood() async throws {
        try await withFaultySimulator([
            Rule(
                command: "query-name",
                calls: .only(1),
                fault: .eventFlood(event: "FLOOD", data: ["n": 1], count: 500, interval: nil)
            ),
            Rule(
                command: "query-name",
                calls: .only(2),
                fault: .eventFlood(event: "TRICKLE", data: nil, count: 5, interval: .milliseconds(100))
            ),
        ]) { client, _ in
            let events = client.events(named: ["FLOOD", "TRICKLE"])
            try await client.execute("query-name")
            let start = Self.clock.now
            try await client.execute("query-name")
            var flood = 0
            var trickle = 0
            for try await event in events {
                if event.name == "FLOOD" {
                    #expect(event.data == ["n": 1])
                    flood += 1
                } else {
                    trickle += 1
                }
                if trickle == 5 { break }
            }
            #expect(flood == 500)
            #expect(Self.clock.now - start >= .milliseconds(400))
        }
    }

    @Test("a rule for the first calls applies to those and no more")
    func firstCalls() async throws {
        try await withFaultySimulator(
            [Rule(command: "query-kvm", calls: .first(2), fault: .dropReply)],
            client: Self.withIDs
        ) { client, _ in
            for _ in 1...2 {
                await #expect(throws: QMPError.self) {
                    try await client.execute("query-kvm", timeout: .milliseconds(200))
                }
            }
            let kvm = try await client.execute("query-kvm")
            #expect(kvm["enabled"] == true)
        }
    }
}

@Suite("Fault scenario files")
struct FaultScenarioTests {
    @Test("each kind of rule reads into the fault it names, with the calls it selects")
    func everyKind() throws {
        let json = try JSONValue(
            parsing: """
                {"faults": [
                  {"command": "query-status", "call": 2, "delay": 1.5},
                  {"command": "query-kvm", "first": 3, "stall": true},
                  {"command": "query-name", "drop-reply": true},
                  {"command": "query-uuid", "close-mid-reply": 10},
                  {"command": "query-uuid", "close-mid-reply": true},
                  {"command": "query-version", "garbage-before-reply": "x"},
                  {"command": "query-commands", "garbage-instead-of-reply": "}{"},
                  {"command": "stop", "event-flood": {"event": "E", "data": {"a": 1}, "count": 10, "per-second": 4}},
                  {"command": "cont", "event-flood": {"count": 2}}
                ]}
                """
        )
        let rules = try QEMUSimulator.faultRules(parsing: json)
        #expect(
            rules == [
                .init(command: "query-status", calls: .only(2), fault: .delay(.milliseconds(1500))),
                .init(command: "query-kvm", calls: .first(3), fault: .stall),
                .init(command: "query-name", fault: .dropReply),
                .init(command: "query-uuid", fault: .closeMidReply(bytes: 10)),
                .init(command: "query-uuid", fault: .closeMidReply(bytes: nil)),
                .init(command: "query-version", fault: .garbageBeforeReply(Array("x".utf8))),
                .init(command: "query-commands", fault: .garbageInsteadOfReply(Array("}{".utf8))),
                .init(
                    command: "stop",
                    fault: .eventFlood(event: "E", data: ["a": 1], count: 10, interval: .milliseconds(250))
                ),
                .init(command: "cont", fault: .eventFlood(event: "FLOOD", data: nil, count: 2, interval: nil)),
            ]
        )
    }

    @Test("a rule that is wrong is refused with its number and what is wrong")
    func mistakes() throws {
        let cases: [(String, String)] = [
            (#"{"faults": [{"command": "stop"}]}"#, "fault rule 1: expected one fault"),
            (#"{"faults": [{"delay": 1}]}"#, "fault rule 1: expected \"command\""),
            (
                #"{"faults": [{"command": "stop", "stall": true}, {"command": "cont", "bogus": 1}]}"#,
                "fault rule 2: unknown fault \"bogus\""
            ),
            (
                #"{"faults": [{"command": "stop", "call": 1, "first": 2, "stall": true}]}"#,
                "give \"call\" or \"first\", not both"
            ),
            (#"{"faults": [{"command": "stop", "call": 0, "stall": true}]}"#, "\"call\" expects a call number from 1"),
            (#"[]"#, "a fault scenario is an object"),
        ]
        for (text, expected) in cases {
            let error = #expect(throws: QEMUSimulator.FaultScenarioError.self) {
                try QEMUSimulator.faultRules(parsing: try JSONValue(parsing: text))
            }
            #expect(error?.description.contains(expected) == true, "\(text): \(error?.description ?? "")")
        }
    }
}
