import Foundation
import QAPI
import QMPCore
import QMPHistory
import SharedTestData
import Testing

@Suite("Commands QEMU reads by hand, per release, through the bindings' history")
struct HandWrittenCommandsTests {
    static func schema(_ release: String) throws -> QAPISchema {
        let directory = try SharedTestData.path("qapi-schemas/\(release)/qapi")
        return QAPISchema.load(directory: directory, entryFile: "qapi-schema.json")
    }

    /// A live answer of `release` filled from the history checks what the release's sources
    /// check: object-add took any property until 6.0, netdev_add any option until 5.0.
    static let cases: [(release: String, command: String, arguments: JSONObject, takesExtra: Bool)] = [
        ("4.2.0", "netdev_add", ["type": "user", "id": "n", "hostfwd": "tcp::2222-:22"], true),
        ("5.0.0", "netdev_add", ["type": "user", "id": "n", "hostfwd": ["bad"]], false),
        ("5.2.0", "object-add", ["qom-type": "memory-backend-ram", "id": "m", "size": 4096], true),
        ("6.0.0", "object-add", ["qom-type": "memory-backend-ram", "id": "m", "bogus": 4096], false),
        ("7.2.0", "device_add", ["driver": "virtio-net-pci", "id": "n", "mac": "52:54:00:12:34:56"], true),
    ]

    @Test("The live check filled from the history takes extra arguments exactly where the source check does")
    func sourceAndLiveAgree() throws {
        for (release, command, arguments, takesExtra) in Self.cases {
            let schema = try Self.schema(release)
            let version = try #require(QEMUVersion(release))
            let sources = try #require(QMPSchemaHistory.shared.sourceTypes(in: version))
            #expect(sources.takesExtraArguments(command: command) == takesExtra, "\(release) \(command)")
            // What a server of that release serves, decoded as a client decodes it.
            let live = QAPIIntrospection(entries: QAPIIntrospection(deriving: schema).entries).filling(from: sources)
            let sourceAnswer = QAPIValidator(schema: schema).validateArguments(arguments, ofCommand: command)
                .map(\.qemuDescription)
            let liveAnswer = live.validateArguments(arguments, ofCommand: command).map(\.qemuDescription)
            #expect(liveAnswer == sourceAnswer, "\(release) \(command)")
            #expect(sourceAnswer.isEmpty == takesExtra, "\(release) \(command): \(sourceAnswer)")
        }
    }
}
