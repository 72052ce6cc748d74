import QMPCore
import Testing

/// Plays requests into a server machine the way QEMU 7.2 would see them.
private struct Server {
    var machine: QMPServerStateMachine
    var dispatched: [QMPServerStateMachine.Request] = []

    init(capabilities: [QMPCapability] = [.oob]) {
        machine = QMPServerStateMachine(
            configuration: .init(
                greeting: QMPGreeting(
                    version: QEMUVersion(major: 7, minor: 2, micro: 22),
                    package: "",
                    capabilities: capabilities
                ),
                hasCommand: { ["query-status", "stop", "query-yank"].contains($0) },
                allowsOutOfBand: { $0 == "query-yank" }
            )
        )
    }

    /// Feeds one request; returns what was sent at once (dispatched commands are remembered).
    mutating func send(_ request: JSONValue) -> [JSONValue] {
        switch machine.received(request) {
        case .none: return []
        case .send(let messages): return messages
        case .dispatch(let request):
            dispatched.append(request)
            return []
        }
    }

    mutating func finish(
        _ request: QMPServerStateMachine.Request,
        _ result: Result<JSONValue, QMPErrorBody>
    ) -> [JSONValue] {
        if case .send(let messages) = machine.completed(request.ticket, with: result, id: request.id) {
            return messages
        }
        return []
    }

    mutating func negotiate(oob: Bool = true) {
        _ = machine.connected()
        let arguments: JSONValue = oob ? ["enable": ["oob"]] : [:]
        #expect(send(["execute": "qmp_capabilities", "arguments": arguments]) == [["return": [:]]])
    }
}

private func error(_ desc: String, id: JSONValue? = nil) -> JSONValue {
    error("GenericError", desc, id: id)
}

private func error(_ errorClass: String, _ desc: String, id: JSONValue? = nil) -> JSONValue {
    var object: JSONObject = [:]
    if let id { object["id"] = id }
    object["error"] = ["class": .string(errorClass), "desc": .string(desc)]
    return .object(object)
}

@Suite("Server state machine")
struct ServerStateMachineTests {
    @Test("it greets with the configured version and capabilities")
    func greeting() {
        var server = Server()
        guard case .send(let messages) = server.machine.connected() else {
            Issue.record("no greeting")
            return
        }
        #expect(messages.first?["QMP"]?["capabilities"] == ["oob"])
        #expect(messages.first?["QMP"]?["version"]?["qemu"]?["minor"] == 2)
        #expect(!server.machine.receivesEvents)
    }

    @Test("negotiation mode refuses other commands with QEMU's message, and gives no events")
    func negotiationMode() {
        var server = Server()
        _ = server.machine.connected()
        #expect(
            server.send(["execute": "query-status", "id": 1])
                == [error("CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'", id: 1)]
        )
        #expect(!server.machine.receivesEvents)
        #expect(server.send(["execute": "qmp_capabilities", "id": "neg"]) == [["return": [:], "id": "neg"]])
        #expect(server.machine.receivesEvents)
        #expect(!server.machine.oobEnabled)
    }

    @Test("qmp_capabilities checks its arguments as QEMU does")
    func capabilityArguments() {
        var server = Server()
        _ = server.machine.connected()
        #expect(
            server.send(["execute": "qmp_capabilities", "arguments": ["x": 1]]) == [
                error("Parameter 'x' is unexpected")
            ]
        )
        #expect(
            server.send(["execute": "qmp_capabilities", "arguments": ["enable": ["foo"]]])
                == [error("Parameter 'null' does not accept value 'foo'")]
        )
        var withoutOOB = Server(capabilities: [])
        _ = withoutOOB.machine.connected()
        #expect(
            withoutOOB.send(["execute": "qmp_capabilities", "arguments": ["enable": ["oob"]]])
                == [error("Capability 'oob' not available")]
        )
        server.negotiate()
        #expect(server.machine.oobEnabled)
        #expect(
            server.send(["execute": "qmp_capabilities", "id": 2])
                == [error("CommandNotFound", "Capabilities negotiation is already complete, command ignored", id: 2)]
        )
    }

    @Test("the request envelope is checked with QEMU's messages, echoing the id where QEMU does")
    func envelope() {
        var server = Server()
        server.negotiate(oob: false)
        #expect(server.send([1, 2, 3]) == [error("QMP input must be a JSON object")])
        #expect(server.send(42) == [error("QMP input must be a JSON object")])
        #expect(server.send(["id": 5]) == [error("QMP input lacks member 'execute'", id: 5)])
        #expect(server.send(["execute": 1, "id": 5]) == [error("QMP input member 'execute' must be a string", id: 5)])
        #expect(server.send(["execute": "stop", "foo": 1]) == [error("QMP input member 'foo' is unexpected")])
        #expect(
            server.send(["execute": "stop", "arguments": []]) == [
                error("QMP input member 'arguments' must be an object")
            ]
        )
        #expect(
            server.send(["exec-oob": "query-yank", "id": 6]) == [
                error("QMP input member 'exec-oob' is unexpected", id: 6)
            ]
        )
        #expect(
            server.send(["execute": "nope", "id": 7]) == [
                error("CommandNotFound", "The command nope has not been found", id: 7)
            ]
        )
        // The id is echoed even when it comes after the member in error.
        #expect(
            server.send(["foo": 1, "execute": "stop", "id": 8]) == [
                error("QMP input member 'foo' is unexpected", id: 8)
            ]
        )
        // Of several problems, the one QEMU comes to first in its hash table is reported,
        // whatever the order they were sent in (answers taken from QEMU 7.2).
        #expect(
            server.send(["arguments": 1, "execute": 2, "bar": 3, "id": 9])
                == [error("QMP input member 'bar' is unexpected", id: 9)]
        )
        #expect(server.dispatched.isEmpty)
    }

    @Test("with OOB enabled, exec-oob is checked too")
    func outOfBandEnvelope() {
        var server = Server()
        server.negotiate()
        #expect(
            server.send(["execute": "stop", "exec-oob": "query-yank", "id": 1])
                == [error("QMP input member 'execute' clashes with 'exec-oob'", id: 1)]
        )
        // An execute that is no string is that problem, not a clash.
        #expect(
            server.send(["foo": 1, "exec-oob": "query-yank", "execute": 2, "id": 10])
                == [error("QMP input member 'execute' must be a string", id: 10)]
        )
        #expect(
            server.send(["exec-oob": "query-status", "id": 2]) == [
                error("The command query-status does not support OOB", id: 2)
            ]
        )
        #expect(server.send(["exec-oob": "query-yank", "id": 3]) == [])
        #expect(server.dispatched.last?.outOfBand == true)
    }

    @Test(
        "with two envelope problems, the one QEMU meets first in its hash table is reported",
        arguments: [
            // Answers taken from QEMU 7.2 for the same members, each pair in both orders.
            (["execute": "stop", "foo": 1, "bar": 2, "id": 1], "QMP input member 'bar' is unexpected"),
            (["execute": "stop", "bar": 1, "foo": 2, "id": 1], "QMP input member 'bar' is unexpected"),
            (["execute": "stop", "y": 1, "x": 2, "id": 1], "QMP input member 'x' is unexpected"),
            (["foo": 1, "execute": 2, "id": 1], "QMP input member 'execute' must be a string"),
            (["execute": 2, "x": 1, "id": 1], "QMP input member 'x' is unexpected"),
            (["arguments": 1, "execute": 2, "id": 1], "QMP input member 'execute' must be a string"),
            (["foo": 1, "arguments": 1, "id": 1], "QMP input member 'arguments' must be an object"),
            (["execute": 2, "exec-oob": 1, "id": 1], "QMP input member 'exec-oob' must be a string"),
            (["exec-oob": 1, "x": 1, "id": 1], "QMP input member 'x' is unexpected"),
            (["exec-oob": "stop", "execute": "stop", "x": 1, "id": 1], "QMP input member 'x' is unexpected"),
            (
                ["exec-oob": "stop", "execute": "stop", "foo": 1, "id": 1],
                "QMP input member 'execute' clashes with 'exec-oob'"
            ),
            // Members in the same bucket: the one sent last comes first.
            (["execute": "stop", "aa": 1, "aq": 2, "id": 1], "QMP input member 'aq' is unexpected"),
            (["execute": "stop", "aq": 1, "aa": 2, "id": 1], "QMP input member 'aa' is unexpected"),
        ] as [(JSONValue, String)]
    )
    func firstProblemInQEMUsOrder(request: JSONValue, reported: String) {
        var server = Server()
        server.negotiate()
        #expect(server.send(request) == [error(reported, id: 1)])
    }

    @Test("in-band replies leave in request order; out-of-band replies overtake")
    func ordering() {
        var server = Server()
        server.negotiate()
        #expect(server.send(["execute": "stop", "id": "a"]) == [])
        #expect(server.send(["execute": "query-status", "id": "b"]) == [])
        // An error of the envelope waits behind the two commands still running.
        #expect(server.send(["execute": "nope", "id": "c"]) == [])
        #expect(server.send(["exec-oob": "query-yank", "id": "d"]) == [])
        #expect(server.machine.inBandBacklog == 3)
        let (a, b, d) = (server.dispatched[0], server.dispatched[1], server.dispatched[2])

        #expect(server.finish(d, .success([])) == [["return": [], "id": "d"]])
        #expect(server.finish(b, .success(["status": "paused"])) == [])
        #expect(
            server.finish(a, .failure(QMPErrorBody(errorClass: "GenericError", description: "boom")))
                == [
                    error("boom", id: "a"),
                    ["return": ["status": "paused"], "id": "b"],
                    error("CommandNotFound", "The command nope has not been found", id: "c"),
                ]
        )
        #expect(server.machine.inBandBacklog == 0)
    }

    @Test("malformed input is answered with an id-less error in QEMU's words, in order")
    func malformedInput() throws {
        var server = Server()
        server.negotiate()
        var reader = JSONReader(configuration: .server)
        reader.feed(Array(#"{"execute": "#.utf8) + [0xFF] + Array(#" {"execute":"query-status","id":18}"#.utf8) + [10])
        var sent: [JSONValue] = []
        while true {
            let action: QMPServerStateMachine.Action
            do {
                guard let value = try reader.next() else { break }
                action = server.machine.received(value)
            } catch {
                action = server.machine.receivedMalformedInput(error)
            }
            switch action {
            case .send(let messages): sent += messages
            case .dispatch(let request): server.dispatched.append(request)
            case .none: break
            }
        }
        #expect(sent.count == 1)
        #expect(sent.first?["error"]?["class"] == "GenericError")
        #expect(sent.first?["id"] == nil)
        #expect(server.dispatched.map(\.name) == ["query-status"])
        #expect(server.dispatched.first?.id == 18)
    }
}

@Suite("Client and server machines back to back")
struct BackToBackTests {
    @Test("a client machine negotiates OOB with a server machine and gets its replies matched")
    func conversation() throws {
        var server = Server()
        var client = QMPClientStateMachine()
        guard case .send(let greeting) = server.machine.connected() else { throw TestFailure() }
        guard case .send(let negotiation) = client.received(greeting[0]) else { throw TestFailure() }
        guard case .send(let accepted) = server.machine.received(negotiation) else { throw TestFailure() }
        guard case .negotiated(_, let oob) = client.received(accepted[0]) else { throw TestFailure() }
        #expect(oob)

        guard case .send(let first, let stop) = client.execute("stop"),
            case .send(let second, let yank) = client.execute("query-yank", outOfBand: true)
        else { throw TestFailure() }
        _ = server.send(stop)
        _ = server.send(yank)
        let oobReply = server.finish(server.dispatched[1], .success([]))
        let inBandReply = server.finish(server.dispatched[0], .success([:]))
        guard case .succeed(let oobID, _) = client.received(oobReply[0]),
            case .succeed(let inBandID, _) = client.received(inBandReply[0])
        else { throw TestFailure() }
        #expect(oobID == second)
        #expect(inBandID == first)
        #expect(client.pendingCount == 0)
    }
}

private struct TestFailure: Error {}
