import QAPI
import QAPIGen
import QMPCore
import Testing

@Suite("The merged schema keeps what later releases removed")
struct MergedSchemaTests {
    /// Two releases: 1.0 has `Status.step`, the union `Info`'s common `size` and the command
    /// argument `fast`; 2.0 dropped all three (`size` moved into the branch `Disk`).
    static let releases = QAPIReleases([
        QAPIRelease(
            version: QEMUVersion(1, 0),
            schema: QAPISchema.load(
                files: [
                    "schema.json": """
                    { 'struct': 'Status', 'data': { 'running': 'bool', 'step': 'bool' } }
                    { 'enum': 'Kind', 'data': [ 'disk' ] }
                    { 'struct': 'Disk', 'data': { 'path': 'str' } }
                    { 'union': 'Info', 'base': { 'kind': 'Kind', 'size': 'int' }, 'discriminator': 'kind',
                      'data': { 'disk': 'Disk' } }
                    { 'command': 'go', 'data': { 'fast': 'bool' } }
                    """
                ],
                entryFile: "schema.json"
            )
        ),
        QAPIRelease(
            version: QEMUVersion(2, 0),
            schema: QAPISchema.load(
                files: [
                    "schema.json": """
                    { 'struct': 'Status', 'data': { 'running': 'bool' } }
                    { 'enum': 'Kind', 'data': [ 'disk' ] }
                    { 'struct': 'Disk', 'data': { 'path': 'str', 'size': 'int' } }
                    { 'union': 'Info', 'base': { 'kind': 'Kind' }, 'discriminator': 'kind',
                      'data': { 'disk': 'Disk' } }
                    { 'command': 'go' }
                    """
                ],
                entryFile: "schema.json"
            )
        ),
    ])

    @Test("a removed member stays, optional, and its comment says the last version that had it")
    func removedMemberStays() throws {
        let merged = MergedSchema(releases: Self.releases)
        let step = try #require(merged.schema.objectType(named: "Status")?.member(named: "step"))
        #expect(step.isOptional)
        let source = SwiftRenderer().render(Translator(merged: merged).translate(source: "test").file)
        #expect(source.contains("/// `step` · until 1.0"))
        #expect(source.contains("public var step: Bool?"))
    }

    @Test("a removed argument of a command stays, optional")
    func removedArgumentStays() throws {
        let merged = MergedSchema(releases: Self.releases)
        let command = try #require(merged.schema.commands["go"])
        let fast = try #require(merged.schema.objectType(named: command.argumentType ?? "")?.member(named: "fast"))
        #expect(fast.isOptional)
    }

    @Test("a member is not put back into a union whose branch now has it, where both would read it")
    func noClashInsideAUnion() throws {
        let merged = MergedSchema(releases: Self.releases)
        #expect(merged.schema.objectType(named: "Info")?.member(named: "size") == nil)
        #expect(merged.schema.objectType(named: "Disk")?.member(named: "size") != nil)
    }
}
