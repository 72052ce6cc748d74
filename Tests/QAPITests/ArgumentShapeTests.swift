import QAPI
import QMPCore
import Testing

@Suite("Incompatible changes of commands' arguments across releases")
struct ArgumentShapeTests {
    static func release(_ version: String, _ text: String) -> QAPIRelease {
        QAPIRelease(
            version: QEMUVersion(version)!,
            schema: QAPISchema.load(files: ["schema.json": text], entryFile: "schema.json")
        )
    }

    @Test("required arguments added or dropped, optional ones made required, and narrowed types are changes")
    func kindsOfChange() {
        let releases = QAPIReleases([
            Self.release("1.0", "{ 'command': 'c', 'data': { 'a': 'int', '*b': 'str', '*keep': 'str', 'w': 'str' } }"),
            Self.release("2.0.0", "{ 'command': 'c', 'data': { 'a': 'str', 'b': 'str', 'n': 'int', '*keep': 'str' } }"),
            Self.release(
                "3.0.0",
                "{ 'command': 'c', 'data': { 'a': 'Both', 'b': 'str', 'n': 'int', '*later': 'int' } }"
                    + "{ 'alternate': 'Both', 'data': { 'i': 'int', 's': 'str' } }"
            ),
        ])
        #expect(
            releases.argumentChanges().map(\.description) == [
                "c: 2.0.0 takes 'a' as str, not int (after 1.0)",
                "c: 2.0.0 requires 'b', which was optional (after 1.0)",
                "c: 2.0.0 requires the new argument 'n' (after 1.0)",
                "c: 2.0.0 no longer takes the required argument 'w' (after 1.0)",
            ],
            "a widened type, a new optional argument and a dropped optional one change nothing"
        )
        let shapes = releases.argumentShapes(of: "c")
        #expect(shapes.map { $0.releases.map(\.description) } == [["1.0"], ["2.0.0", "3.0.0"]])
        #expect(shapes[1].members.map { "\($0.isOptional ? "*" : "")\($0.name)" } == ["a", "b", "n", "*later"])
    }

    @Test("the schemas on disk have three incompatible changes, all in 2.8.0")
    func onDisk() throws {
        let changes = try SchemaCache.releases().argumentChanges().map(\.description)
        #expect(
            changes == [
                "blockdev-add: 2.8.0 requires the new argument 'driver' (after 2.7.0)",
                "blockdev-add: 2.8.0 no longer takes the required argument 'options' (after 2.7.0)",
                "x-blockdev-del: 2.8.0 requires 'node-name', which was optional (after 2.7.0)",
            ]
        )
    }

    @Test("changes inside argument types are found along members, union branches and array elements")
    func nested() {
        let releases = QAPIReleases([
            Self.release(
                "1.0",
                "{ 'command': 'c', 'data': { 'list': ['Item'], 'u': 'U' } }"
                    + "{ 'struct': 'Item', 'data': { 'a': 'int' } }"
                    + "{ 'enum': 'K', 'data': [ 'x' ] }"
                    + "{ 'union': 'U', 'base': { 'k': 'K' }, 'discriminator': 'k', 'data': { 'x': 'Item' } }"
            ),
            Self.release(
                "2.0.0",
                "{ 'command': 'c', 'data': { 'list': ['Item'], 'u': 'U' } }"
                    + "{ 'struct': 'Item', 'data': { 'a': 'int', 'b': 'str' } }"
                    + "{ 'enum': 'K', 'data': [ 'x' ] }"
                    + "{ 'union': 'U', 'base': { 'k': 'K' }, 'discriminator': 'k', 'data': { 'x': 'Item' } }"
            ),
        ])
        #expect(releases.argumentChanges().isEmpty)
        #expect(
            releases.nestedArgumentChanges().map(\.description) == [
                "c: 2.0.0 requires the new argument 'list[].b' (after 1.0)"
            ],
            "Item is compared once, under the first path that reaches it"
        )
    }

    @Test("inside argument types, the schemas on disk change only blockdev-add's curl and nbd options, in 2.9.0")
    func nestedOnDisk() throws {
        let changes = try SchemaCache.releases().nestedArgumentChanges()
        #expect(changes.count == 18)
        #expect(Set(changes.map(\.command)) == ["blockdev-add"])
        #expect(Set(changes.map(\.version.description)) == ["2.9.0"])
        #expect(
            changes.map(\.description).contains(
                "blockdev-add: 2.9.0 requires the new argument '[driver=nbd].server[type=inet].host' (after 2.8.0)"
            )
        )
    }
}
