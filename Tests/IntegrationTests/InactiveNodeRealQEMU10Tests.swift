import Foundation
import QMP
import QMPClient
import QMPCore
import Testing

/// `active: false` came with QEMU 10.0: `blockdev-add` then opens the node without activating it
/// (migration's destination opens images so while the source still holds them). A binding that
/// lost the argument on its way to QEMU would not fail: QEMU would quietly make an active node.
/// So these tests send it typed to a real QEMU 10.0 and ask QEMU what it made.
@Suite("blockdev-add with active: false, sent typed to a real QEMU 10.0")
struct InactiveNodeRealQEMU10Tests {
    /// The ways a typed `blockdev-add` comes to carry `active: false`.
    enum Route: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case property = "set as the binding's property"
        case decodedByProxy = "decoded from JSON by QMPBindings.decodeArguments, as a proxy re-sends it"
        case decodedAsUnknownMember = "decoded from JSON by a binding that has no property for it"

        var testDescription: String { rawValue }

        /// The command that adds a `null-co` node called `nodeName` (no file needed) by this route.
        func command(nodeName: String) throws -> BlockdevAddCommand {
            let arguments: JSONObject = ["driver": "null-co", "node-name": .string(nodeName), "active": false]
            switch self {
            case .property:
                return BlockdevAddCommand(
                    BlockdevOptions(
                        driver: .nullCo,
                        nodeName: nodeName,
                        active: false,
                        branch: .nullCo(BlockdevOptionsNull())
                    )
                )
            case .decodedByProxy:
                let decoded = try #require(try QMPBindings.decodeArguments(ofCommand: "blockdev-add", arguments))
                return try #require(decoded as? BlockdevAddCommand)
            case .decodedAsUnknownMember:
                // The branch's own struct, `BlockdevOptionsNull`, has no `active`: decoded alone, it
                // keeps the member as bindings older than 10.0 keep it for the whole command.
                let branch = try BlockdevOptionsNull(json: ["active": false])
                #expect(branch.unknownMembers == ["active": false])
                return BlockdevAddCommand(BlockdevOptions(driver: .nullCo, nodeName: nodeName, branch: .nullCo(branch)))
            }
        }
    }

    @Test("the node QEMU makes is inactive, and one added without the argument is active", arguments: Route.allCases)
    func inactiveNode(_ route: Route) async throws {
        let inactive = try route.command(nodeName: "inactive0")
        #expect(inactive.arguments?["active"] == false, "the command would not send active: false")
        let nodes = try await RealQEMU.with(try RealQEMURelease.qemu10.launcher()) { qemu in
            #expect(qemu.client.greeting.version?.series == "10.0")
            try await qemu.client.execute(
                BlockdevAddCommand(
                    BlockdevOptions(driver: .nullCo, nodeName: "active0", branch: .nullCo(BlockdevOptionsNull()))
                )
            )
            try await qemu.client.execute(inactive)
            return try await qemu.client.execute(QueryNamedBlockNodesCommand())
        }
        // Without the argument QEMU activates the node: an inactive one can only come from it.
        let activeNode = try #require(nodes.first { $0.nodeName == "active0" })
        #expect(activeNode.active == true)
        let inactiveNode = try #require(nodes.first { $0.nodeName == "inactive0" })
        #expect(inactiveNode.active == false)
        #expect(inactiveNode.drv == "null-co")
    }
}
