import Foundation
import Logging
import NIOConcurrencyHelpers
import QMPCore
import Testing

@testable import QMPClient

/// Hand-written bindings of the shape the generator produces.
private struct Yank: QMPCommand {
    typealias Response = QMPEmpty
    static let name = "yank"
    static let allowsOutOfBand = true
    static let availability = QEMUAvailability([QEMUVersionRange(from: QEMUVersion(6, 0, 0))])
    var arguments: JSONObject? { ["instances": []] }
}

private struct Getfd: QMPCommand {
    typealias Response = QMPEmpty
    static let name = "getfd"
    static let allowsOutOfBand = false
    static let availability = QEMUAvailability([QEMUVersionRange(from: QEMUVersion(1, 0))])
    var fdname: String
    var arguments: JSONObject? { ["fdname": .string(fdname)] }
}

private struct DeviceDel: QMPCommand {
    typealias Response = QMPEmpty
    static let name = "device_del"
    static let allowsOutOfBand = false
    static let availability = QEMUAvailability([QEMUVersionRange(from: QEMUVersion(1, 0))])
    var id: String
    var arguments: JSONObject? { ["id": .string(id)] }
}

private struct DeviceDeleted: QMPEventPayload {
    var device: String
    init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
        device = try json.object(at: path).required("device", at: path)
    }
    var json: JSONValue { ["device": .string(device)] }
    static let name = "DEVICE_DELETED"
    static let availability = QEMUAvailability([QEMUVersionRange(from: QEMUVersion(1, 5))])
}

private struct QueryName: QMPCommand {
    struct Response: QMPJSONConvertible {
        var name: String?
        init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
            name = try json.object(at: path).optional("name", at: path)
        }
        var json: JSONValue { name.map { ["name": .string($0)] } ?? [:] }
    }
    static let name = "query-name"
    static let allowsOutOfBand = false
    static let availability = QEMUAvailability([QEMUVersionRange(from: QEMUVersion(1, 0))])
    var arguments: JSONObject? { nil }
}

/// The default configuration: commands go unchecked.
private let plain = QMPClient.Configuration()

private func event(_ name: String, _ data: JSONValue) -> [UInt8] {
    FakeServer.bytes(["event": .string(name), "data": data, "timestamp": ["seconds": 1, "microseconds": 0]])
}

/// A schema that knows `query-name` and nothing else.
private let smallSchema: JSONValue = [
    ["name": "query-name", "meta-type": "command", "arg-type": "0", "ret-type": "1", "allow-oob": false],
    ["name": "0", "meta-type": "object", "members": []],
    ["name": "1", "meta-type": "object", "members": [["name": "name", "type": "str", "default": nil]]],
    ["name": "str", "meta-type": "builtin", "json-type": "string"],
]

/// Records every command and answers `query-qmp-schema` with `schema`, everything else with
/// an empty object (`query-name` with a name).
private func recordingServer(_ seen: LockedBox<[JSONValue]>, schema: JSONValue = smallSchema) -> FakeServer.Responder {
    FakeServer.negotiating { command in
        seen.mutate { $0.append(command) }
        let name = command["execute"] ?? command["exec-oob"]
        if name == "query-qmp-schema" {
            return FakeServer.reply(schema, to: command)
        }
        if name == "query-name" {
            return FakeServer.reply(["name": "vm"], to: command)
        }
        return FakeServer.reply([:], to: command)
    }
}

private func names(_ commands: [JSONValue]) -> [String] {
    commands.compactMap { ($0["execute"] ?? $0["exec-oob"])?.stringValue }
}

@Suite("The typed surface beside the untyped one")
struct TypedSurfaceTests {
    @Test("a typed command runs out of band with exec-oob and its reply decodes")
    func typedOutOfBand() async throws {
        let seen = LockedBox<[JSONValue]>([])
        try await FakeServer.withClient(configuration: plain, respond: recordingServer(seen)) { client in
            _ = try await client.executeOutOfBand(Yank())
            let sent = try #require(seen.value.last)
            #expect(sent["exec-oob"] == "yank")
            #expect(sent["arguments"] == ["instances": []])
            #expect(sent["id"] != nil)
        }
    }

    @Test("a typed command carries descriptors, and over TCP says it cannot")
    func typedDescriptors() async throws {
        let seen = LockedBox<[JSONValue]>([])
        try await FakeServer.withClient(
            unixSocket: true,
            configuration: QMPClient.Configuration(),
            respond: recordingServer(seen)
        ) { client in
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            defer { ends.forEach { close($0) } }
            _ = try await client.execute(Getfd(fdname: "disk"), passing: [ends[0]])
            #expect(seen.value.last?["arguments"] == ["fdname": "disk"])
        }
        try await FakeServer.withClient(configuration: plain, respond: recordingServer(seen)) { client in
            let error = await #expect(throws: QMPError.self) {
                try await client.execute(Getfd(fdname: "disk"), passing: [0])
            }
            #expect(error?.code == .unsupported)
            #expect(error?.command == "getfd")
        }
    }

    @Test("a typed command and the typed event it causes, also when the event overtakes the reply")
    func typedRunAndWait() async throws {
        let server = FakeServer.negotiating { command in
            // An undecodable event, one for another device, then the one awaited: all before the reply.
            event("DEVICE_DELETED", ["path": 5])
                + event("DEVICE_DELETED", ["device": "other"])
                + event("DEVICE_DELETED", ["device": command["arguments"]?["id"] ?? "?"])
                + FakeServer.reply([:], to: command)
        }
        try await FakeServer.withClient(configuration: QMPClient.Configuration(), respond: server) { client in
            let (_, deleted) = try await client.execute(
                DeviceDel(id: "disk1"),
                thenWaitFor: DeviceDeleted.self,
                matching: { $0.payload.device == "disk1" }
            )
            #expect(deleted.payload.device == "disk1")
            #expect(deleted.timestamp.seconds == 1)
        }
    }

    @Test("a caller cancelled while it waits for the event is told it was cancelled, not that the connection closed")
    func runAndWaitCancelled() async throws {
        // The reply comes, the event never does.
        let server = FakeServer.negotiating { command in FakeServer.reply([:], to: command) }
        try await FakeServer.withClient(configuration: QMPClient.Configuration(), respond: server) { client in
            let waiting = Task {
                try await client.execute(
                    DeviceDel(id: "disk1"),
                    thenWaitFor: DeviceDeleted.self,
                    matching: { $0.payload.device == "disk1" },
                    eventTimeout: .seconds(60)
                )
            }
            try await Task.sleep(for: .milliseconds(200))
            waiting.cancel()
            let error = await #expect(throws: QMPError.self) { try await waiting.value }
            #expect(error?.code == .cancelled)
            #expect(error?.command == "device_del")
        }
    }
}

@Suite("Checking against the server's schema: one default, a visible fetch, one copy per build")
struct SchemaCheckDefaultTests {
    @Test("by default neither typed nor untyped calls fetch or check the schema")
    func uncheckedByDefault() async throws {
        let seen = LockedBox<[JSONValue]>([])
        try await FakeServer.withClient(configuration: plain, respond: recordingServer(seen)) { client in
            _ = try await client.execute(QueryName())
            _ = try await client.execute("no-such-command")
            #expect(names(seen.value) == ["query-name", "no-such-command"])
        }
    }

    @Test("with checks on, typed and untyped calls alike are checked before sending")
    func checkedWhenConfigured() async throws {
        let seen = LockedBox<[JSONValue]>([])
        let configuration = QMPClient.Configuration(checksCommands: true, schemaCache: QMPSchemaCache())
        try await FakeServer.withClient(configuration: configuration, respond: recordingServer(seen)) { client in
            let name = try await client.execute(QueryName())
            #expect(name.name == "vm")
            let untyped = await #expect(throws: QMPError.self) { try await client.execute("no-such-command") }
            #expect(untyped?.code == .invalidArguments)
            let typed = await #expect(throws: QMPError.self) { try await client.execute(DeviceDel(id: "x")) }
            #expect(typed?.code == .invalidArguments)
            #expect(names(seen.value) == ["query-qmp-schema", "query-name"])
        }
    }

    @Test("an implicit fetch is logged")
    func fetchIsLogged() async throws {
        let log = RecordedLog()
        let logger = Logger(label: "test") { _ in log.handler }
        var configuration = QMPClient.Configuration(checksCommands: true, schemaCache: QMPSchemaCache())
        configuration.connectTimeout = .seconds(10)
        try await FakeServer.with(respond: recordingServer(LockedBox([]))) { server in
            try await QMPClient.withConnection(to: server.address, configuration: configuration, logger: logger) {
                _ = try await $0.execute(QueryName())
            }
        }
        #expect(log.messages.contains { $0.hasPrefix("fetching the server's schema (query-qmp-schema)") })
    }

    @Test("two connections to the same build share one decoded schema; another build gets its own")
    func sharedPerBuild() async throws {
        let cache = QMPSchemaCache()
        let configuration = QMPClient.Configuration(checksCommands: true, schemaCache: cache)
        let seen = LockedBox<[JSONValue]>([])
        try await FakeServer.with(respond: recordingServer(seen)) { server in
            try await QMPClient.withConnection(to: server.address, configuration: configuration) { first in
                try await QMPClient.withConnection(to: server.address, configuration: configuration) { second in
                    _ = try await first.schema()
                    _ = try await second.schema()
                    let one = try #require(try await sharedEntry(of: first))
                    let other = try #require(try await sharedEntry(of: second))
                    #expect(one === other)
                    #expect(cache.count == 1)
                }
            }
        }
        // Same greeting, another schema: another build.
        var larger = smallSchema.arrayValue ?? []
        larger.append(["name": "stop", "meta-type": "command", "arg-type": "0", "ret-type": "0", "allow-oob": false])
        try await FakeServer.with(respond: recordingServer(seen)) { first in
            try await FakeServer.with(respond: recordingServer(seen, schema: .array(larger))) { second in
                try await QMPClient.withConnection(to: first.address, configuration: configuration) { one in
                    try await QMPClient.withConnection(to: second.address, configuration: configuration) { other in
                        let (oneSchema, otherSchema) = (try await one.schema(), try await other.schema())
                        #expect(oneSchema.entry(named: "stop") == nil)
                        #expect(otherSchema.entry(named: "stop") != nil)
                        #expect(cache.count == 2)
                    }
                }
            }
        }
        // Held only while a connection uses it.
        #expect(cache.count == 0)
    }

    @Test("a waiter takes over the fetch when the caller fetching is cancelled")
    func fetcherCancelled() async throws {
        let fetches = LockedBox(0)
        let server = FakeServer.negotiating { command in
            guard command["execute"] == "query-qmp-schema" else { return FakeServer.reply(["name": "vm"], to: command) }
            // The first fetch goes unanswered.
            return fetches.mutate {
                $0 += 1
                return $0
            } == 1 ? nil : FakeServer.reply(smallSchema, to: command)
        }
        // Ids on the wire: the unanswered fetch must not take a later reply by order.
        let configuration = QMPClient.Configuration(
            inBandIDs: .always,
            checksCommands: true,
            schemaCache: QMPSchemaCache()
        )
        try await FakeServer.withClient(configuration: configuration, respond: server) { client in
            let fetching = Task { try await client.execute(QueryName()) }
            #expect(try await eventually { fetches.value == 1 })
            let waiting = Task { try await client.execute(QueryName()) }
            try await Task.sleep(for: .milliseconds(50))
            fetching.cancel()
            let cancelled = await #expect(throws: QMPError.self) { try await fetching.value }
            #expect(cancelled?.code == .cancelled)
            #expect(try await waiting.value.name == "vm")
            #expect(fetches.value == 2)
        }
    }

    @Test("a cancelled waiter stops waiting for a fetch that does not end")
    func waiterCancelled() async throws {
        let server = FakeServer.negotiating { command in
            command["execute"] == "query-qmp-schema" ? nil : FakeServer.reply([:], to: command)
        }
        // Ids on the wire: the unanswered fetch must not take a later reply by order.
        let configuration = QMPClient.Configuration(
            inBandIDs: .always,
            checksCommands: true,
            schemaCache: QMPSchemaCache()
        )
        try await FakeServer.withClient(configuration: configuration, respond: server) { client in
            let fetching = Task { try await client.schema() }
            try await Task.sleep(for: .milliseconds(50))
            let waiting = Task { try await client.schema() }
            try await Task.sleep(for: .milliseconds(50))
            waiting.cancel()
            let error = await #expect(throws: QMPError.self) { try await waiting.value }
            #expect(error?.code == .cancelled)
            fetching.cancel()
            _ = try? await fetching.value
        }
    }
}

/// The schema entry a client holds, for checking that connections share it.
private func sharedEntry(of client: QMPClient) async throws -> QMPSchemaCache.Entry? {
    guard case .schema(let entry) = try await client.fetched() else { return nil }
    return entry
}

/// Log messages, recorded.
final class RecordedLog: Sendable {
    private let recorded = NIOLockedValueBox<[String]>([])
    var messages: [String] { recorded.withLockedValue { $0 } }

    var handler: Handler { Handler(log: self) }

    struct Handler: LogHandler {
        let log: RecordedLog
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.recorded.withLockedValue { $0.append(event.message.description) }
        }
    }
}
