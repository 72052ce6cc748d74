import Foundation
import QGA
import QGAClient
import QMPCore
import Testing

/// The bindings against the real qemu-ga: its replies decode typed and survive a round trip.
@Suite("Replies of the real guest agent")
struct RealAgentReplyTests {
    /// Decodes `raw` as `Command`'s reply, encodes it again and decodes that: the typed value
    /// must be the same, so nothing the agent said is lost in between.
    static func roundTrip<Command: QMPCommand>(_ type: Command.Type, _ raw: JSONValue) throws -> Command.Response
    where Command.Response: Equatable {
        let decoded = try Command.Response(json: raw, path: QMPPath(["return"]))
        let again = try Command.Response(json: decoded.json, path: QMPPath(["return"]))
        #expect(again == decoded, "\(Command.name)")
        return decoded
    }

    @Test("guest-info, guest-get-osinfo, guest-network-get-interfaces and guest-get-time decode typed")
    func informationCommands() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let info = try Self.roundTrip(GuestInfoCommand.self, try await client.execute("guest-info"))
                #expect(!info.version.isEmpty)
                // Every command the agent offers has a binding.
                let unbound = info.supportedCommands.map(\.name).filter { QGABindings.commands[$0] == nil }
                #expect(unbound.isEmpty, "\(unbound)")
                let blocked = info.supportedCommands.filter { !$0.enabled }.map(\.name)
                #expect(blocked.contains("guest-shutdown"))

                let os = try Self.roundTrip(GuestGetOsinfoCommand.self, try await client.execute("guest-get-osinfo"))
                #expect(os.kernelRelease?.isEmpty == false)

                let interfaces = try Self.roundTrip(
                    GuestNetworkGetInterfacesCommand.self,
                    try await client.execute("guest-network-get-interfaces")
                )
                let loopback = try #require(interfaces.first { $0.name == "lo" })
                #expect(loopback.ipAddresses?.contains { $0.ipAddress == "127.0.0.1" } == true)

                let time = try Self.roundTrip(GuestGetTimeCommand.self, try await client.execute("guest-get-time"))
                let now = Int64(Date().timeIntervalSince1970 * 1e9)
                #expect(abs(time - now) < 60 * 1_000_000_000)

                // The typed calls decode the same replies.
                #expect(try await client.execute(GuestGetOsinfoCommand()).kernelRelease == os.kernelRelease)
            }
        }
    }

    @Test("guest-exec of /bin/echo and guest-exec-status give its exit code and its output")
    func exec() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let started = try await client.execute(
                    GuestExecCommand(path: "/bin/echo", arg: ["hello", "agent"], captureOutput: .flag(true))
                )
                var status = GuestExecStatus(exited: false)
                let deadline = ContinuousClock.now + .seconds(10)
                while !status.exited && ContinuousClock.now < deadline {
                    let raw = try await client.execute("guest-exec-status", arguments: ["pid": .int(started.pid)])
                    status = try Self.roundTrip(GuestExecStatusCommand.self, raw)
                    if !status.exited { try await Task.sleep(for: .milliseconds(20)) }
                }
                #expect(status.exited)
                #expect(status.exitcode == 0)
                let output = try #require(status.outData.flatMap { Data(base64Encoded: $0) })
                #expect(String(decoding: output, as: UTF8.self) == "hello agent\n")
            }
        }
    }

    /// Encodes `raw` through `type`'s reply binding and back to JSON.
    static func typedJSON<Command: QMPCommand>(of raw: JSONValue, as type: Command.Type) throws -> JSONValue {
        try Command.Response(json: raw, path: QMPPath(["return"])).json
    }

    @Test("every command of the agent that takes no arguments and only reads answers in a shape its binding keeps")
    func everyQueryRoundTrips() async throws {
        // The commands that read and need nothing: every binding whose name says it gets,
        // reads or reports, and whose arguments are all optional.
        let queries = QGABindings.commands.filter { name, _ in
            ["guest-get-", "guest-network-get-", "guest-info", "guest-ping", "guest-fsfreeze-status"]
                .contains { name.hasPrefix($0) }
        }
        #expect(queries.count >= 15)
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                var answered: [String] = []
                for (name, type) in queries.sorted(by: { $0.key < $1.key }) {
                    let raw: JSONValue
                    do {
                        raw = try await client.execute(name)
                    } catch let error as QMPError where error.code == .commandFailed {
                        // Commands of other guest OSes, and ones a host without the hardware
                        // refuses: the agent's own refusal, not a binding's business.
                        continue
                    }
                    answered.append(name)
                    // Every member the agent sent comes back, typed or kept as unknown.
                    #expect(try Self.typedJSON(of: raw, as: type) == raw, "\(name)")
                }
                print(
                    "typed agent bindings on this host's qemu-ga: \(answered.count) of \(queries.count) queries answered"
                )
                // The agent on a Linux host answers most of them.
                #expect(answered.count >= 10, "\(answered)")
                #expect(answered.contains("guest-get-osinfo") && answered.contains("guest-network-get-interfaces"))
            }
        }
    }

    @Test("an error of the agent is a commandFailed error with its class and description")
    func agentError() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let missing = agent.directory.appendingPathComponent("missing").path
                let error = await #expect(throws: QMPError.self) {
                    try await client.execute(GuestFileOpenCommand(path: missing, mode: "r"))
                }
                #expect(error?.code == .commandFailed)
                #expect(error?.errorClass == "GenericError")
                #expect(error?.command == "guest-file-open")
                // The client goes on.
                try await client.execute(GuestPingCommand())
            }
        }
    }
}
