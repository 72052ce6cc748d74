import Foundation
import QEMULauncher
import QMPClient
import QMPCore
import QMPServer
import QMPSimulator
import Testing

/// One scenario: commands in, the replies and events they bring out.
///
/// Files in Scenarios/ hold `name`, `steps` (each `{"execute": …, "arguments": …}`), optional
/// `mask` (paths like `return.package` whose values legitimately differ) and `expected`: the
/// transcript recorded from the real QEMU 7.2 (`RECORD_SCENARIOS=1` writes it). The test plays
/// every scenario against the real QEMU and against the simulator; both must give `expected`.
/// With `"host-dependent": true` (what `query-kvm` says depends on /dev/kvm) the simulator must
/// give what this host's QEMU gives. `machine` (default `none`) and `qemu-args` (e.g.
/// `["-smp", "1,maxcpus=2"]`) say what QEMU is started with; the simulator is configured from
/// the same command line.
struct Scenario: Sendable {
    var file: URL
    var document: JSONObject
    var name: String
    var steps: [JSONObject]
    var masks: [[String]]
    var unordered: [[String]]
    var machine: String
    var qemuArguments: [String]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Scenarios"
    )

    static var all: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.filter { $0.hasSuffix(".json") }
            .sorted() ?? []
    }

    init(fileName: String) throws {
        file = Self.directory.appendingPathComponent(fileName)
        let text = try String(contentsOf: file, encoding: .utf8)
        document = try JSONValue(parsing: text).object(at: QMPPath([fileName]))
        name = document["name"]?.stringValue ?? fileName
        steps = try (document["steps"]?.arrayValue ?? []).map { try $0.object(at: QMPPath(["steps"])) }
        masks = (document["mask"]?.arrayValue ?? []).compactMap {
            $0.stringValue?.split(separator: ".").map(String.init)
        }
        machine = document["machine"]?.stringValue ?? "none"
        qemuArguments = (document["qemu-args"]?.arrayValue ?? []).compactMap(\.stringValue)
        unordered = (document["unordered"]?.arrayValue ?? []).compactMap {
            $0.stringValue?.split(separator: ".").map(String.init)
        }
    }

    /// Plays the steps on `client` and returns the transcript, events and masks applied.
    func play(on client: QMPClient) async throws -> JSONValue {
        let collected = EventLog()
        let events = client.events(bufferSize: 4096)
        let collector = Task {
            for try await event in events {
                collected.append(event)
            }
        }
        defer { collector.cancel() }
        var transcript: [JSONValue] = []
        for step in steps {
            guard case .string(let command)? = step["execute"] else { continue }
            let before = collected.count
            var reply: JSONValue
            do {
                reply = ["return": try await client.execute(command, arguments: step["arguments"]?.objectValue)]
            } catch let error as QMPError where error.code == .commandFailed {
                reply = ["error": ["class": .string(error.errorClass ?? ""), "desc": .string(error.message)]]
            } catch let error as QMPError where command == "quit" && error.code == .connectionClosed {
                // QEMU may close the socket before its reply to quit leaves.
                reply = ["return": [:]]
            }
            // Events caused by a command can trail its reply by a little.
            try await Task.sleep(for: .milliseconds(step["settle-ms"]?.int64Value ?? 60))
            let stepEvents: [JSONValue] = collected.events(since: before).map { event in
                var object: JSONObject = ["event": .string(event.name)]
                if let data = event.data { object["data"] = .object(data) }
                return .object(object)
            }
            for mask in masks {
                reply = Self.transforming(reply, at: mask[...]) { _ in "<masked>" }
            }
            for path in unordered {
                // Orders that QEMU takes from a hash table are not part of the protocol.
                reply = Self.transforming(reply, at: path[...]) { value in
                    guard case .array(let elements) = value else { return value }
                    return .array(elements.sorted { $0.serialized() < $1.serialized() })
                }
            }
            transcript.append(["execute": .string(command), "reply": reply, "events": .array(stepEvents)])
        }
        return .array(transcript)
    }

    /// Applies `change` at `path`; `*` stands for every element of an array.
    static func transforming(
        _ value: JSONValue,
        at path: ArraySlice<String>,
        _ change: (JSONValue) -> JSONValue
    ) -> JSONValue {
        guard let key = path.first else { return change(value) }
        if key == "*", case .array(let elements) = value {
            return .array(elements.map { transforming($0, at: path.dropFirst(), change) })
        }
        guard case .object(var object) = value, let member = object[key] else { return value }
        object[key] = transforming(member, at: path.dropFirst(), change)
        return .object(object)
    }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [QMPEvent] = []
    func append(_ event: QMPEvent) { lock.withLock { stored.append(event) } }
    var count: Int { lock.withLock { stored.count } }
    func events(since index: Int) -> [QMPEvent] { lock.withLock { Array(stored[index...]) } }
}

@Suite("The simulator against QEMU 7.2, scenario by scenario")
struct DifferentialScenarioTests {
    @Test("the scenario directory holds scenarios")
    func scenariosExist() {
        #expect(Scenario.all.count >= 40)
    }

    @Test("real QEMU and the simulator give the recorded transcript", arguments: Scenario.all)
    func scenario(fileName: String) async throws {
        let scenario = try Scenario(fileName: fileName)
        var launcher = RealQEMU.launcher
        launcher.machine = scenario.machine
        launcher.extraArguments = scenario.qemuArguments
        let real = try await RealQEMU.with(launcher) { qemu in try await scenario.play(on: qemu.client) }

        // RECORD_SCENARIOS=1 records every scenario; RECORD_SCENARIOS=a.json,b.json only those.
        let recording =
            ProcessInfo.processInfo.environment["RECORD_SCENARIOS"].map { value in
                value == "1" || value.split(separator: ",").contains { $0 == fileName }
            } ?? false
        if recording {
            var document = scenario.document
            document["expected"] = real
            try (JSONValue.object(document).serialized(style: .pretty(indent: 2)) + "\n").write(
                to: scenario.file,
                atomically: true,
                encoding: .utf8
            )
            Issue.record("recorded \(fileName); run again without RECORD_SCENARIOS")
            return
        }
        let recorded = try #require(
            scenario.document["expected"],
            "\(fileName) has no recorded transcript; record with RECORD_SCENARIOS=1"
        )
        // A host-dependent scenario (KVM or not) is compared with this host's QEMU instead.
        let hostDependent = scenario.document["host-dependent"] == true
        let expected = hostDependent ? real : recorded
        if !hostDependent {
            #expect(real == recorded, "QEMU itself no longer gives the recorded transcript of \(fileName)")
        }

        var configuration = QEMUSimulator.Configuration(kvmEnabled: QEMULauncher.kvmIsUsable)
        try configuration.apply(machine: scenario.machine, arguments: scenario.qemuArguments)
        let simulator = QEMUSimulator(configuration: configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-sim-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = simulator.makeServer(listeningOn: [
            .unixSocket(path: directory.appendingPathComponent("qmp.sock").path)
        ])
        let simulated = try await server.serving { addresses in
            try await withClient(of: addresses[0]) { client in try await scenario.play(on: client) }
        }
        #expect(simulated == expected, "the simulator differs from QEMU in \(fileName)")
    }
}
