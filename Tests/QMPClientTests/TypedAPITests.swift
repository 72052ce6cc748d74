import Foundation
import QMPClient
import QMPCore
import Testing

/// Hand-written bindings of the shape the generator produces.
private struct QueryStatus: QMPCommand {
    struct Response: QMPJSONConvertible {
        var running: Bool
        var status: String
        init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
            let object = try json.object(at: path)
            running = try object.required("running", at: path)
            status = try object.required("status", at: path)
        }
        var json: JSONValue { ["running": .bool(running), "status": .string(status)] }
    }
    static let name = "query-status"
    static let allowsOutOfBand = false
    static let availability = QEMUAvailability([QEMUVersionRange(from: QEMUVersion(1, 0))])
    var arguments: JSONObject? { nil }
}

private struct Tick: QMPEventPayload {
    var n: Int64
    init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        n = try json.object(at: path).required("n", at: path)
    }
    var json: JSONValue { ["n": .int(n)] }
    static let name = "TICK"
    static let availability = QEMUAvailability([QEMUVersionRange(from: QEMUVersion(7, 2, 0))])
}

/// Commands go unchecked by default; these servers answer every command alike,
/// `query-qmp-schema` too, and the schema check has its own tests.
private let uncheckedConfiguration = QMPClient.Configuration(connectTimeout: .seconds(10))

/// Every command checked against the server's schema first, with a cache of the test's own so
/// that tests running at once do not share schemas.
private func checkedConfiguration(
    commandTimeout: Duration? = .seconds(60),
    inBandIDs: QMPClientStateMachine.InBandIDs = .whenNeeded
) -> QMPClient.Configuration {
    QMPClient.Configuration(
        connectTimeout: .seconds(10),
        commandTimeout: commandTimeout,
        inBandIDs: inBandIDs,
        checksCommands: true,
        schemaCache: QMPSchemaCache()
    )
}

/// Counts under a lock, for servers' responders.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

@Suite("The typed API")
struct TypedAPITests {
    @Test("typed commands issued together on a new connection fetch the server's schema once")
    func schemaFetchedOnce() async throws {
        let fetches = Counter()
        let schema: JSONValue = [
            ["name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "1", "allow-oob": false],
            ["name": "0", "meta-type": "object", "members": []],
            [
                "name": "1", "meta-type": "object",
                "members": [["name": "running", "type": "bool"], ["name": "status", "type": "str"]],
            ],
            ["name": "bool", "meta-type": "builtin", "json-type": "boolean"],
            ["name": "str", "meta-type": "builtin", "json-type": "string"],
        ]
        try await FakeServer.withClient(
            configuration: checkedConfiguration(),
            respond: FakeServer.negotiating { command in
                if command["execute"] == "query-qmp-schema" {
                    fetches.increment()
                    return FakeServer.reply(schema, to: command)
                }
                return FakeServer.reply(["running": true, "status": "running"], to: command)
            }
        ) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<10 {
                    group.addTask { _ = try await client.execute(QueryStatus()) }
                }
                try await group.waitForAll()
            }
            #expect(fetches.value == 1)
        }
    }

    @Test("a server without query-qmp-schema is asked once, and its commands go unchecked")
    func serverWithoutSchema() async throws {
        let fetches = Counter()
        try await FakeServer.withClient(
            configuration: checkedConfiguration(),
            respond: FakeServer.negotiating { command in
                if command["execute"] == "query-qmp-schema" {
                    fetches.increment()
                    // What QEMU before 2.5 answers.
                    var error: JSONObject = [
                        "error": [
                            "class": "CommandNotFound", "desc": "The command query-qmp-schema has not been found",
                        ]
                    ]
                    if let id = command["id"] { error["id"] = id }
                    return FakeServer.bytes(.object(error))
                }
                return FakeServer.reply(["running": true, "status": "running"], to: command)
            }
        ) { client in
            for _ in 0..<3 {
                let status = try await client.execute(QueryStatus())
                #expect(status.status == "running")
            }
            // The untyped check agrees with the typed one: nothing to check against is no error.
            try await client.check("no-such-command")
            #expect(try await client.execute("query-status")["status"] == "running")
            // The server said it has no schema; asking for it again does not ask the server.
            let error = await #expect(throws: QMPError.self) { try await client.schema() }
            #expect(error?.errorClass == "CommandNotFound")
            #expect(fetches.value == 1)
        }
    }

    @Test("a query-qmp-schema reply that is not a schema leaves commands unchecked, and is asked once")
    func replyThatIsNotASchema() async throws {
        let fetches = Counter()
        try await FakeServer.withClient(
            configuration: checkedConfiguration(),
            respond: FakeServer.negotiating { command in
                if command["execute"] == "query-qmp-schema" { fetches.increment() }
                return FakeServer.reply(["running": true, "status": "running"], to: command)
            }
        ) { client in
            for _ in 0..<3 {
                let status = try await client.execute(QueryStatus())
                #expect(status.status == "running")
            }
            let error = await #expect(throws: QMPError.self) { try await client.schema() }
            #expect(error?.code == .protocolViolation)
            #expect(error?.message.hasPrefix("the query-qmp-schema reply cannot be read: ") == true)
            #expect(fetches.value == 1)
        }
    }

    @Test("a schema fetch that a call stops waiting for is asked again by the next call")
    func schemaFetchRetriedAfterTimeout() async throws {
        let fetches = Counter()
        let schema: JSONValue = [
            ["name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "0", "allow-oob": false],
            ["name": "0", "meta-type": "object", "members": []],
        ]
        // Ids on the wire: the unanswered fetch must not take the next reply by order. Only the
        // first call has a short bound; the ones after it have the configuration's long one, so
        // that a loaded host (the event loops are shared by the whole suite) cannot make them
        // miss theirs.
        try await FakeServer.withClient(
            configuration: checkedConfiguration(commandTimeout: .seconds(60), inBandIDs: .always),
            respond: FakeServer.negotiating { command in
                if command["execute"] == "query-qmp-schema" {
                    fetches.increment()
                    // The first one goes unanswered.
                    return fetches.value == 1 ? nil : FakeServer.reply(schema, to: command)
                }
                return FakeServer.reply(["running": true, "status": "running"], to: command)
            }
        ) { client in
            let first = await #expect(throws: QMPError.self) {
                try await client.execute(QueryStatus(), timeout: .milliseconds(500))
            }
            #expect(first?.code == .timeout)
            #expect(first?.message.contains("schema, needed to check the call, did not come within") == true)
            let status = try await client.execute(QueryStatus())
            #expect(status.status == "running")
            let schema = try await client.schema()
            #expect(schema.commands["query-status"] != nil)
            #expect(fetches.value == 2)
        }
    }

    @Test("a typed command decodes its reply, ignoring members it does not know")
    func typedCommand() async throws {
        try await FakeServer.withClient(
            configuration: uncheckedConfiguration,
            respond: FakeServer.negotiating { command in
                FakeServer.reply(
                    ["running": true, "status": "running", "singlestep": false, "new-in-10.0": 1],
                    to: command
                )
            }
        ) { client in
            let status = try await client.execute(QueryStatus())
            #expect(status.running)
            #expect(status.status == "running")
        }
    }

    @Test("a reply of the wrong shape is an error naming the path")
    func wrongShape() async throws {
        try await FakeServer.withClient(
            configuration: uncheckedConfiguration,
            respond: FakeServer.negotiating { command in
                FakeServer.reply(["running": 5, "status": "running"], to: command)
            }
        ) { client in
            let error = await #expect(throws: QMPError.self) { _ = try await client.execute(QueryStatus()) }
            #expect(error?.code == .protocolViolation)
            #expect(
                error?.message
                    == "the reply does not have the shape this binding expects: return.running: expected boolean, got 5"
            )
        }
    }

    @Test("typed events decode, and undecodable ones are skipped and counted")
    func typedEvents() async throws {
        try await FakeServer.withClient(
            configuration: uncheckedConfiguration,
            respond: FakeServer.negotiating { command in
                FakeServer.bytes([
                    "event": "TICK", "data": ["n": "not a number"], "timestamp": ["seconds": 1, "microseconds": 0],
                ])
                    + FakeServer.bytes([
                        "event": "TICK", "data": ["n": 7], "timestamp": ["seconds": 2, "microseconds": 0],
                    ])
                    + FakeServer.reply([:], to: command)
            }
        ) { client in
            let ticks = client.events(of: Tick.self)
            try await client.execute("go")
            var iterator = ticks.makeAsyncIterator()
            let tick = try #require(try await iterator.next())
            #expect(tick.payload.n == 7)
            #expect(tick.timestamp.seconds == 2)
            #expect(ticks.undecodableCount == 1)
        }
    }
}

@Suite("Decoding built-in types")
struct BuiltinDecodingTests {
    @Test("integers decode exactly and out-of-range values name the type")
    func integers() throws {
        #expect(try UInt64(json: .uint(UInt64.max)) == UInt64.max)
        #expect(try Int8(json: -128) == -128)
        let error = #expect(throws: QMPDecodingError.self) {
            try UInt8(json: 256, path: QMPPath(["arguments", "size"]))
        }
        #expect(error?.description == "arguments.size: 256 is out of range for UInt8")
    }

    @Test("a number accepts integers; arrays name the index of a bad element")
    func numbersAndArrays() throws {
        #expect(try Double(json: 100) == 100)
        let error = #expect(throws: QMPDecodingError.self) { try [String](json: ["a", 5], path: QMPPath(["return"])) }
        #expect(error?.description == "return[1]: expected string, got 5")
    }

    @Test("optional members are omitted when nil, never sent as null")
    func omittedOptionals() {
        var object = JSONObject()
        object.set("a", Optional<String>.none)
        object.set("b", Optional("x"))
        #expect(object == ["b": "x"])
    }
}
