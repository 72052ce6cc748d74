import QMPCore
import Testing

@Suite("Client state machine without negotiation, as for the guest agent")
struct SkipNegotiationTests {
    @Test("it is ready when the connection opens, without waiting for a greeting")
    func readyAtOnce() {
        var machine = QMPClientStateMachine(configuration: .init(skipNegotiation: true))
        guard case .negotiated(let greeting, let oob) = machine.connectionOpened() else {
            Issue.record("not ready when the connection opened")
            return
        }
        #expect(greeting.version == nil)
        #expect(!oob)
        guard case .send(_, let message) = machine.execute("guest-ping") else {
            Issue.record("guest-ping was not sent")
            return
        }
        #expect(message["execute"] == "guest-ping")
    }

    @Test("a greeting that arrives anyway is ignored")
    func lateGreeting() {
        var machine = QMPClientStateMachine(configuration: .init(skipNegotiation: true))
        _ = machine.connectionOpened()
        let greeting: JSONValue = [
            "QMP": ["version": ["qemu": ["major": 7, "minor": 2, "micro": 0], "package": ""], "capabilities": []]
        ]
        guard case .ignored = machine.received(greeting) else {
            Issue.record("the greeting was not ignored")
            return
        }
        #expect(machine.isReady)
    }

    @Test("with negotiation, opening the connection does nothing yet")
    func negotiatingWaits() {
        var machine = QMPClientStateMachine()
        guard case .none = machine.connectionOpened() else {
            Issue.record("acted before the greeting")
            return
        }
        #expect(!machine.isReady)
    }
}
