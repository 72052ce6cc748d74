import QMPCore
import Testing

// What the client's state machine keeps for calls that stopped waiting, and the rule that keeps
// secrets out of logs. In memory, no I/O.

private let greeting: JSONValue = [
    "QMP": ["version": ["qemu": ["micro": 0, "minor": 2, "major": 7], "package": ""], "capabilities": ["oob"]]
]

/// A machine in command mode with OOB, in-band commands sent without id and matched by order.
private func negotiatedMachine() -> QMPClientStateMachine {
    var machine = QMPClientStateMachine(configuration: .init(inBandIDs: .whenNeeded))
    _ = machine.received(greeting)
    _ = machine.received(["return": [:], "id": 0])
    return machine
}

private func sent(_ action: QMPClientStateMachine.ExecuteAction) -> QMPClientStateMachine.RequestID? {
    if case .send(let id, _) = action { return id }
    return nil
}

@Suite("A timed-out in-band call keeps its place in the order of replies")
struct TimedOutInBandCallTests {
    @Test("the late reply of an abandoned call is dropped, and the next reply goes to the next call")
    func lateReplyDropped() throws {
        var machine = negotiatedMachine()
        let first = try #require(sent(machine.execute("query-status")))
        let second = try #require(sent(machine.execute("query-version")))
        #expect(machine.abandon(first) == "query-status")

        guard case .ignored = machine.received(["return": ["status": "running"]]) else {
            Issue.record("the abandoned call's reply was delivered")
            return
        }
        guard case .succeed(let id, let result) = machine.received(["return": ["qemu": [:]]]) else {
            Issue.record("the second call got no reply")
            return
        }
        #expect(id == second)
        #expect(result == ["qemu": [:]])
        #expect(machine.lateReplyCount == 1)
    }

    @Test("answers owed count abandoned calls until their replies come")
    func owedCountsAbandoned() throws {
        var machine = negotiatedMachine()
        #expect(machine.owedInBandCount == 0)
        let first = try #require(sent(machine.execute("query-status")))
        _ = machine.execute("query-version")
        _ = machine.abandon(first)
        #expect(machine.owedInBandCount == 2)
        #expect(machine.pendingCount == 1)
        _ = machine.received(["return": [:]])
        #expect(machine.owedInBandCount == 1)
        #expect(machine.inBandAnswerCount == 1)
    }

    @Test("out-of-band calls owe no in-band answer")
    func outOfBandNotOwed() throws {
        var machine = negotiatedMachine()
        let probe = try #require(sent(machine.execute("query-yank", outOfBand: true)))
        #expect(machine.owedInBandCount == 0)
        _ = machine.abandon(probe)
        guard case .ignored = machine.received(["return": [], "id": probe.json]) else {
            Issue.record("an abandoned OOB call's reply was delivered")
            return
        }
        #expect(machine.lateReplyCount == 1)
        #expect(machine.inBandAnswerCount == 0)
    }

    @Test("closing forgets what was owed")
    func closingForgets() {
        var machine = negotiatedMachine()
        _ = machine.execute("query-status")
        _ = machine.closed(QMPError(code: .connectionClosed, message: "gone"))
        #expect(machine.owedInBandCount == 0)
    }
}

@Suite("The redaction rule for logs")
struct RedactionTests {
    @Test("members named for passwords are redacted at any depth")
    func passwords() {
        let command: JSONValue = [
            "execute": "set_password", "arguments": ["protocol": "vnc", "password": "hunter2"],
        ]
        let nested: JSONValue = ["arguments": ["options": ["key-passphrase": "x", "PassWd": "y", "user": "root"]]]
        #expect(QMPRedaction.redacting(command)["arguments"]?["password"] == QMPRedaction.placeholder)
        #expect(QMPRedaction.redacting(command)["arguments"]?["protocol"] == "vnc")
        let options = QMPRedaction.redacting(nested)["arguments"]?["options"]
        #expect(options?["key-passphrase"] == QMPRedaction.placeholder)
        #expect(options?["PassWd"] == QMPRedaction.placeholder)
        #expect(options?["user"] == "root")
    }

    @Test("the data of secret objects is redacted, flat and nested in props; other objects keep theirs")
    func secretObjects() {
        let flat: JSONValue = ["qom-type": "secret", "id": "sec0", "data": "letmein", "format": "raw"]
        let nested: JSONValue = ["qom-type": "secret", "id": "sec0", "props": ["data": "letmein"]]
        let other: JSONValue = ["qom-type": "memory-backend-ram", "id": "m0", "data": "kept"]
        #expect(QMPRedaction.redacting(flat)["data"] == QMPRedaction.placeholder)
        #expect(QMPRedaction.redacting(flat)["id"] == "sec0")
        #expect(QMPRedaction.redacting(nested)["props"]?["data"] == QMPRedaction.placeholder)
        #expect(QMPRedaction.redacting(other)["data"] == "kept")
    }

    @Test("an HMP command line that mentions a secret is redacted whole; others are kept")
    func humanMonitorCommand() {
        let secret: JSONValue = ["command-line": "object_add secret,id=s,data=letmein"]
        let plain: JSONValue = ["command-line": "info version"]
        #expect(QMPRedaction.redacting(secret)["command-line"] == QMPRedaction.placeholder)
        #expect(QMPRedaction.redacting(plain)["command-line"] == "info version")
    }

    @Test("the placeholder can be chosen by whoever writes the record")
    func chosenPlaceholder() {
        let command: JSONValue = ["arguments": ["password": "hunter2", "protocol": "vnc"]]
        #expect(QMPRedaction.redacting(command, with: "***") == ["arguments": ["password": "***", "protocol": "vnc"]])
    }

    @Test("arrays and scalars pass through, with their secrets redacted")
    func arrays() {
        let value: JSONValue = [["password": "a"], 5, "password"]
        #expect(QMPRedaction.redacting(value) == [["password": QMPRedaction.placeholder], 5, "password"])
    }
}
