import Foundation
import QGAClient
import QMPCore
import Testing

/// `guestInfo` gathers what the agent says about its guest, typed, part by part.
@Suite("Typed guest information")
struct GuestInfoTests {
    @Test("the real agent's operating system, host name, interfaces, users, filesystems and time decode")
    func everyPart() async throws {
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let info = try await client.guestInfo()
                #expect(info.unavailable.isEmpty, "\(info.unavailable)")
                #expect(info.operatingSystem?.kernelRelease?.isEmpty == false)
                #expect(
                    info.hostName == ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init)
                        || info.hostName == ProcessInfo.processInfo.hostName
                )
                let loopback = info.networkInterfaces?.first { $0.name == "lo" }
                #expect(loopback?.ipAddresses?.contains { $0.ipAddress == "127.0.0.1" } == true)
                #expect(info.users != nil)
                #expect(info.filesystems != nil)
                let now = Int64(Date().timeIntervalSince1970 * 1e9)
                #expect(abs((info.time ?? 0) - now) < 60 * 1_000_000_000)
            }
        }
    }

    @Test("a blocked command is a missing part with the agent's reason; the other parts are there")
    func blockedPart() async throws {
        try await RealGuestAgent.with(alsoBlocking: ["guest-get-users", "guest-get-fsinfo"]) { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let info = try await client.guestInfo()
                #expect(info.users == nil)
                #expect(info.filesystems == nil)
                #expect(Set(info.unavailable.keys) == [.users, .filesystems])
                #expect(info.unavailable[.users]?.code == .commandFailed)
                #expect(info.unavailable[.users]?.command == "guest-get-users")
                #expect(info.operatingSystem != nil && info.hostName != nil && info.time != nil)
            }
        }
    }

    @Test("a command the agent does not know is a missing part too")
    func unknownCommand() async throws {
        try await FakeAgent.with(answering: { name, _ in
            switch name {
            case "guest-get-time": .reply(["return": 1_700_000_000_000_000_000])
            case "guest-get-host-name": .reply(["return": ["host-name": "fake"]])
            default:
                .reply([
                    "error": ["class": "CommandNotFound", "desc": .string("The command \(name) has not been found")]
                ])
            }
        }) { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let info = try await client.guestInfo()
                #expect(info.time == 1_700_000_000_000_000_000)
                #expect(info.hostName == "fake")
                #expect(Set(info.unavailable.keys) == [.operatingSystem, .networkInterfaces, .users, .filesystems])
                #expect(info.unavailable[.operatingSystem]?.errorClass == "CommandNotFound")
            }
        }
    }
}
