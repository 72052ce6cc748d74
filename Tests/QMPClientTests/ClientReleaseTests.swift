import QMPCore
import Testing

@testable import QMPClient

@Suite("What a released client leaves behind")
struct ClientReleaseTests {
    @Test("nothing: its connection's shared state goes with it, closed or dropped")
    func sharedStateReleased() async throws {
        let respond = FakeServer.negotiating { FakeServer.reply([:], to: $0) }
        try await FakeServer.with(respond: respond) { (server) async throws in
            weak var closedState: ClientSupervisor?
            weak var droppedState: ClientSupervisor?
            do {
                let closed = try await QMPClient.connect(to: server.address)
                closedState = closed.supervisor
                try await closed.execute("ping")
                await closed.close()
                let dropped = try await QMPClient.connect(to: server.address)
                droppedState = dropped.supervisor
                try await dropped.execute("ping")
            }
            #expect(try await eventually { closedState == nil && droppedState == nil })
        }
    }
}
