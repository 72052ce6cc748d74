import Foundation
import QMP
import QMPCore
import SharedTestData
import Testing

@testable import QMPSimulator

/// Whether two JSON values are the same JSON: objects compare without regard to member order
/// (as `JSONObject` does), and numbers by value, since JSON has one kind of number and QEMU
/// prints a double without a fraction as an integer (a `number` member read from `100` is
/// written back as `100.0`).
func sameJSON(_ left: JSONValue, _ right: JSONValue) -> Bool {
    switch (left, right) {
    case (.object(let left), .object(let right)):
        guard left.count == right.count else { return false }
        return left.allSatisfy { key, value in right[key].map { sameJSON(value, $0) } ?? false }
    case (.array(let left), .array(let right)):
        return left.count == right.count && zip(left, right).allSatisfy(sameJSON)
    case (.double, _), (_, .double):
        guard let left = left.numberValue, let right = right.numberValue else { return false }
        return left == right
    default:
        // Integers exactly: every integer has one case (`JSONValue` says so).
        return left == right
    }
}

/// A decoded value, encoded again, is the JSON it came from.
enum RoundTrip {
    /// Decodes `arguments` as the arguments of `command`, and compares what the command would
    /// send; `nil` when no binding has the command. Absent arguments are `{}`.
    static func arguments(ofCommand command: String, _ arguments: JSONObject?) throws -> String?? {
        guard let decoded = try QMPBindings.decodeArguments(ofCommand: command, arguments) else { return nil }
        let sent = JSONValue.object(decoded.arguments ?? [:])
        let given = JSONValue.object(arguments ?? [:])
        return sameJSON(sent, given) ? .some(nil) : "\(command) arguments \(given) came back as \(sent)"
    }

    /// Decodes `value` as the reply of `command` and compares its encoding.
    static func reply(ofCommand command: String, _ value: JSONValue) throws -> String?? {
        guard let decoded = try QMPBindings.decodeReply(ofCommand: command, value) else { return nil }
        return sameJSON(decoded.json, value) ? .some(nil) : "\(command) reply \(value) came back as \(decoded.json)"
    }

    /// Decodes an event's data and compares its encoding. Absent data is `{}`.
    static func event(_ name: String, data: JSONObject?) throws -> String?? {
        let event = QMPEvent(name: name, data: data, timestamp: .init(seconds: 0, microseconds: 0))
        guard let decoded = try QMPBindings.decodeEvent(event) else { return nil }
        let given = JSONValue.object(data ?? [:])
        return sameJSON(decoded.json, given) ? .some(nil) : "\(name) data \(given) came back as \(decoded.json)"
    }
}

@Suite("Round trips keep what the bindings do not know")
struct RoundTripTests {
    @Test("a struct keeps the members it has no property for and writes them back")
    func structKeepsUnknownMembers() throws {
        let sent: JSONValue = ["running": true, "status": "running", "from-qemu-12": ["depth": 3]]
        let status = try StatusInfo(json: sent)
        #expect(status.running)
        #expect(status.unknownMembers == ["from-qemu-12": ["depth": 3]])
        #expect(status.json == sent)
    }

    @Test("a struct that got every member it knows keeps nothing besides")
    func nothingUnknownKeepsNothing() throws {
        let status = try StatusInfo(json: ["running": false, "status": "paused"])
        #expect(status.unknownMembers.isEmpty)
        #expect(status == StatusInfo(running: false, status: .paused))
    }

    @Test("an optional member sent as null comes back as null")
    func nullOptionalMemberIsKept() throws {
        let sent: JSONValue = ["running": true, "status": "running", "singlestep": nil]
        let status = try StatusInfo(json: sent)
        #expect(status.singlestep == nil)
        #expect(status.json == sent)
    }

    @Test("a property set by the caller wins over a kept member of the same name")
    func propertyWinsOverKeptMember() {
        let status = StatusInfo(running: true, status: .running, unknownMembers: ["running": false, "extra": 1])
        #expect(status.json == ["running": true, "status": "running", "extra": 1])
    }

    @Test("values that would send different JSON are not equal, and equal ones hash alike")
    func equalityCountsUnknownMembers() throws {
        let plain = StatusInfo(running: true, status: .running)
        let withExtra = StatusInfo(running: true, status: .running, unknownMembers: ["extra": 1])
        #expect(plain != withExtra)
        let decoded = try StatusInfo(json: ["extra": 1, "status": "running", "running": true])
        #expect(decoded == withExtra)
        #expect(decoded.hashValue == withExtra.hashValue)
    }

    @Test("blockdev-add built from JSON sends the arguments it has no property for, and active: false")
    func blockdevAddKeepsArguments() throws {
        let arguments: JSONObject = [
            "driver": "null-co", "node-name": "disk0", "active": false, "x-from-qemu-12": "kept",
        ]
        let command = try BlockdevAddCommand(json: .object(arguments))
        #expect(command.arguments?["active"] == false)
        #expect(command.arguments?["x-from-qemu-12"] == "kept")
        #expect(command.arguments == arguments)
    }

    @Test("QMPBindings.decodeArguments keeps unknown arguments, also of a command that takes none")
    func decodeArgumentsKeepsUnknown() throws {
        let status = try #require(try QMPBindings.decodeArguments(ofCommand: "query-status", ["verbose": true]))
        #expect(status.arguments == ["verbose": true])
        let plain = try #require(try QMPBindings.decodeArguments(ofCommand: "query-status", nil))
        #expect(plain.arguments == nil)
        let quit = try #require(try QMPBindings.decodeArguments(ofCommand: "device_del", ["id": "d", "force": 1]))
        #expect(quit.arguments == ["id": "d", "force": 1])
    }

    @Test("a flat union keeps unknown members beside its common and branch members")
    func flatUnionKeepsUnknownMembers() throws {
        let sent: JSONValue = [
            "name": "q_obj_x", "meta-type": "object", "members": [["name": "a", "type": "int", "new": true]],
            "added-later": "yes",
        ]
        let info = try SchemaInfo(json: sent)
        #expect(info.unknownMembers == ["added-later": "yes"])
        guard case .object(let object) = info.branch else {
            Issue.record("expected the object branch, got \(info.branch)")
            return
        }
        // The union keeps what neither it nor its branch knows; the branch keeps its own.
        #expect(object.unknownMembers.isEmpty)
        #expect(object.members.first?.unknownMembers == ["new": true])
        #expect(info.json == sent)
    }

    @Test("a union keeps the members of a tag value it does not know in `other`")
    func unknownTagKeepsMembers() throws {
        let sent: JSONValue = ["name": "x", "meta-type": "module", "path": "qapi/x.json"]
        let info = try SchemaInfo(json: sent)
        #expect(info.metaType == .unknown("module"))
        #expect(info.branch == .other(["path": "qapi/x.json"]))
        #expect(info.unknownMembers.isEmpty)
        #expect(info.json == sent)
    }

    @Test("a union built in code keeps the unknown members it is given")
    func unionBuiltInCode() {
        let info = SchemaInfo(
            name: "int",
            metaType: .builtin,
            branch: .builtin(SchemaInfoBuiltin(jsonType: .int)),
            unknownMembers: ["x": 1]
        )
        #expect(info.json == ["name": "int", "meta-type": "builtin", "json-type": "int", "x": 1])
    }

    @Test("an alternate's object branch keeps unknown members")
    func alternateKeepsUnknownMembers() throws {
        let sent: JSONValue = ["driver": "null-co", "read-only": true, "x-new": [1, 2]]
        let reference = try BlockdevRef(json: sent)
        #expect(reference.json == sent)
    }

    @Test("an event keeps the data members it has no property for")
    func eventKeepsData() throws {
        let data: JSONObject = ["guest": false, "reason": "host-qmp-quit", "x-later": 1]
        let payload = try ShutdownEvent(json: .object(data))
        #expect(payload.unknownMembers == ["x-later": 1])
        #expect(payload.json == .object(data))
    }

    @Test("the reply of a command that returns nothing keeps what a newer QEMU puts in it")
    func emptyReplyKeepsMembers() throws {
        let reply = try QMPEmpty(json: ["note": "new"])
        #expect(reply.unknownMembers == ["note": "new"])
        #expect(reply.json == ["note": "new"])
        #expect(QMPEmpty().json == [:])
    }

    @Test("members a later QEMU removed stay as optional properties")
    func removedMembersStay() throws {
        // QEMU 7.2's reply: `singlestep` went away after 8.2.
        let status = try StatusInfo(json: ["running": true, "singlestep": false, "status": "running"])
        #expect(status.singlestep == false)
        #expect(status.unknownMembers.isEmpty)
        // Migration parameters removed in 9.1.
        let parameters = try MigrationParameters(json: ["compress-level": 1, "block-incremental": false])
        #expect(parameters.compressLevel == 1)
        #expect(parameters.blockIncremental == false)
        #expect(parameters.unknownMembers.isEmpty)
    }
}

@Suite("Decoding then encoding is the identity on recorded JSON")
struct RecordedRoundTripTests {
    @Test("every seed example that decodes comes back as it was")
    func seedExamples() throws {
        _ = try SharedTestData.path("seed-examples/examples.json")
        var checked = 0
        var failures: [String] = []
        for example in SeedExample.all {
            guard let json = example.json, case .object(let object) = json else { continue }
            let key = "\(example.source):\(example.line)"
            var command = example.section
            switch SeedTests.knownBad[key] {
            case .misplaced(let owner)?: command = owner
            // Listed in SeedTests with why they do not decode.
            case .documentError?: continue
            case nil: break
            }
            do {
                let outcome: String??
                if let name = object["execute"]?.stringValue {
                    outcome = try RoundTrip.arguments(ofCommand: name, object["arguments"]?.objectValue)
                } else if let value = object["return"] {
                    outcome = try RoundTrip.reply(ofCommand: command, value)
                } else if let name = object["event"]?.stringValue {
                    outcome = try RoundTrip.event(name, data: object["data"]?.objectValue)
                } else {
                    continue
                }
                guard let outcome else { continue }
                checked += 1
                if let failure = outcome { failures.append("\(example): \(failure)") }
            } catch {
                failures.append("\(example): \(error)")
            }
        }
        print("round trips: \(checked) seed examples decode and encode back to the same JSON")
        #expect(checked > 600)
        #expect(failures.isEmpty, "\(failures.count) examples change:\n\(failures.joined(separator: "\n"))")
    }

    static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("IntegrationTests/Scenarios")

    @Test("every argument, reply and event of the recorded scenarios comes back as it was")
    func scenarioTranscripts() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.scenarios.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        try #require(files.count > 20)
        var checked = 0
        var refused = 0
        var masked = 0
        var failures: [String] = []
        /// `refusedByQEMU`: QEMU answered the step with an error, so arguments that do not
        /// decode are what the scenario is about (`migrate-set-parameters-out-of-range`).
        func check(_ file: String, refusedByQEMU: Bool = false, _ outcome: () throws -> String??) {
            do {
                guard let result = try outcome() else { return }
                checked += 1
                if let failure = result { failures.append("\(file): \(failure)") }
            } catch {
                if refusedByQEMU {
                    refused += 1
                } else {
                    failures.append("\(file): \(error)")
                }
            }
        }
        for file in files {
            let text = try String(contentsOf: Self.scenarios.appendingPathComponent(file), encoding: .utf8)
            let document = try JSONValue(parsing: text)
            let steps = document["steps"]?.arrayValue ?? []
            let expected = document["expected"]?.arrayValue ?? []
            for (index, step) in steps.enumerated() {
                guard let name = step["execute"]?.stringValue else { continue }
                let reply = index < expected.count ? expected[index]["reply"] : nil
                check(file, refusedByQEMU: reply?["error"] != nil) {
                    try RoundTrip.arguments(ofCommand: name, step["arguments"]?.objectValue)
                }
            }
            for entry in expected {
                // A masked value (a thread id, the micro version) is the recording's, not QEMU's.
                if let name = entry["execute"]?.stringValue, let value = entry["reply"]?["return"] {
                    if value.serialized().contains("\"<masked>\"") {
                        masked += 1
                        continue
                    }
                    check(file) { try RoundTrip.reply(ofCommand: name, value) }
                }
                for event in entry["events"]?.arrayValue ?? [] {
                    guard let name = event["event"]?.stringValue else { continue }
                    check(file) { try RoundTrip.event(name, data: event["data"]?.objectValue) }
                }
            }
        }
        print(
            "round trips: \(checked) arguments, replies and events of \(files.count) scenarios; "
                + "\(refused) arguments QEMU refused do not decode either; \(masked) masked replies left out"
        )
        #expect(checked > 250)
        #expect(masked < 10)
        #expect(failures.isEmpty, "\(failures.count) values change:\n\(failures.joined(separator: "\n"))")
    }

    @Test("every reply recorded from QEMU 7.2 for the simulator comes back as it was")
    func simulatorRecordings() throws {
        let recorded = try JSONValue(parsing: QEMU72UnsimulatedReplies.json).object(at: QMPPath())
        var checked = 0
        var failures: [String] = []
        for (name, entry) in recorded {
            do {
                if let outcome = try RoundTrip.arguments(ofCommand: name, entry["arguments"]?.objectValue) {
                    checked += 1
                    if let failure = outcome { failures.append(failure) }
                }
                if let value = entry["reply"]?["return"], let outcome = try RoundTrip.reply(ofCommand: name, value) {
                    checked += 1
                    if let failure = outcome { failures.append(failure) }
                }
            } catch {
                failures.append("\(name): \(error)")
            }
        }
        let machines = try JSONValue(parsing: QEMU72MachineData.machines)
        if let outcome = try RoundTrip.reply(ofCommand: "query-machines", machines) {
            checked += 1
            if let failure = outcome { failures.append(failure) }
        }
        print("round trips: \(checked) recorded arguments and replies of QEMU 7.2")
        #expect(checked > 100)
        #expect(failures.isEmpty, "\(failures.count) values change:\n\(failures.joined(separator: "\n"))")
    }

    @Test("QEMU 7.2's query-qmp-schema reply comes back as it was")
    func schemaReply() throws {
        let text = try String(
            contentsOfFile: try SharedTestData.path("reference/qemu-7.2-schema.json"),
            encoding: .utf8
        )
        let reply = try JSONValue(parsing: text)
        let outcome = try #require(try RoundTrip.reply(ofCommand: "query-qmp-schema", reply))
        #expect(outcome == nil)
    }
}
