import Foundation
import QAPI
import QMPCore
import Testing

@Suite("Resolving a schema")
struct ResolverTests {
    static let sample = """
        { 'enum': 'Shape', 'data': [ 'circle', 'square', { 'name': 'blob', 'features': [ 'unstable' ] } ],
          'prefix': 'SHAPE_KIND' }
        { 'struct': 'Common', 'data': { 'shape': 'Shape', '*label': 'str' } }
        { 'struct': 'Circle', 'data': { 'radius': 'number' } }
        { 'struct': 'Square', 'data': { 'side': 'uint32' } }
        { 'union': 'Figure', 'base': 'Common', 'discriminator': 'shape',
          'data': { 'circle': 'Circle', 'square': 'Square' } }
        { 'alternate': 'FigureOrName', 'data': { 'figure': 'Figure', 'name': 'str' } }
        { 'struct': 'Labelled', 'base': 'Circle', 'data': { 'tags': [ 'str' ] },
          'features': [ 'shiny' ] }
        { 'command': 'draw', 'data': { 'what': 'FigureOrName', '*times': 'int8' },
          'returns': [ 'Figure' ], 'allow-oob': true, 'features': [ 'unstable' ] }
        { 'command': 'add-figure', 'data': 'Figure', 'boxed': true }
        { 'command': 'clear', 'success-response': false, 'gen': false, 'coroutine': true, 'allow-preconfig': true }
        { 'event': 'DRAWN', 'data': { 'figure': 'Figure' } }
        { 'event': 'CLEARED' }
        { 'pragma': { 'doc-required': true } }
        """

    @Test("Types, commands and events are resolved with bases flattened and implicit types named")
    func resolvesSample() throws {
        let schema = QAPISchema.load(files: ["s.json": Self.sample], entryFile: "s.json")
        #expect(schema.diagnostics.isEmpty)

        let shape = try #require(schema.enumType(named: "Shape"))
        #expect(shape.names == ["circle", "square", "blob"])
        #expect(shape.prefix == "SHAPE_KIND")
        #expect(shape.values[2].features.isUnstable)

        let figure = try #require(schema.objectType(named: "Figure"))
        #expect(figure.base == "Common")
        #expect(figure.members.map(\.name) == ["shape", "label"])
        #expect(figure.members[1].isOptional)
        #expect(figure.members[1].definedIn == "Common")
        let variants = try #require(figure.variants)
        #expect(variants.tagMember == "shape")
        #expect(variants.tagType == "Shape")
        #expect(variants.variants.map { "\($0.name)=\($0.type)" } == ["circle=Circle", "square=Square"])

        let labelled = try #require(schema.type(named: "Labelled"))
        // QEMU refuses 'deprecated' and 'unstable' on a type: only what a client uses has them.
        #expect(labelled.features.names == ["shiny"])
        #expect(
            schema.objectType(named: "Labelled")?.members.map { "\($0.name):\($0.type)" } == [
                "radius:number", "tags:[str]",
            ]
        )
        #expect(schema.type(named: "[str]")?.kind == .array(element: "str"))

        let draw = try #require(schema.commands["draw"])
        #expect(draw.argumentType == "q_obj_draw-arg")
        #expect(schema.type(named: "q_obj_draw-arg")?.isImplicit == true)
        #expect(
            schema.arguments(ofCommand: "draw").map { "\($0.isOptional ? "*" : "")\($0.name):\($0.type)" } == [
                "what:FigureOrName", "*times:int8",
            ]
        )
        #expect(draw.returnType == "[Figure]")
        #expect(draw.allowsOutOfBand)
        #expect(draw.features.names == ["unstable"])
        #expect(draw.location.description == "s.json:11:14")

        #expect(schema.commands["add-figure"]?.isBoxed == true)
        #expect(schema.commands["add-figure"]?.argumentType == "Figure")
        let clear = try #require(schema.commands["clear"])
        #expect(clear.argumentType == nil && clear.returnType == nil)
        #expect(!clear.hasSuccessResponse && !clear.isGenerated && clear.isCoroutine && clear.allowsPreconfig)

        #expect(schema.data(ofEvent: "DRAWN").map(\.name) == ["figure"])
        #expect(schema.events["CLEARED"]?.dataType == nil)
        #expect(schema.pragmas["doc-required"]?.boolValue == true)
        #expect(schema.definitionOrder.prefix(3) == [.type("Shape"), .type("Common"), .type("Circle")])
    }

    @Test("Resolution errors are all reported, located, as file:line:col: message")
    func resolutionErrors() {
        let text = """
            { 'struct': 'Base', 'data': { 'kind': 'Kind', '*opt': 'str' } }
            { 'enum': 'Kind', 'data': [ 'a', 'b', 'a' ] }
            { 'struct': 'Base', 'data': {} }
            { 'struct': 'Child', 'base': 'Base', 'data': { 'opt': 'int', 'x': 'Missing' } }
            { 'union': 'U', 'base': 'Base', 'discriminator': 'nope', 'data': { 'a': 'Child' } }
            { 'union': 'V', 'base': 'Base', 'discriminator': 'kind', 'data': { 'c': 'Child', 'a': 'str' } }
            { 'alternate': 'Alt', 'data': { 's': 'str', 'k': 'Kind' } }
            { 'command': 'do-it', 'data': { 'u': 'U' }, 'returns': 'Nothing', 'bogus': true }
            { 'event': 'EV', 'data': 'Kind' }
            { 'struct': 'Loop', 'base': 'Loop', 'data': {} }
            { 'thing': 'What' }
            { 'struct': 'Typo', 'data': { 'a': { 'type': 'str', 'iff': 'CONFIG_X' } } }
            """
        #expect(
            diagnostics(of: ["s.json": text], entry: "s.json") == [
                "s.json:2:39: value 'a' collides with value 'a'",
                "s.json:3:13: 'Base' is already defined\ns.json: In struct 'Base':\ns.json:1: previous definition",
                "s.json:4:48: member 'opt' collides with member 'opt' of type 'Base'",
                "s.json:4:67: member 'x' uses unknown type 'Missing'",
                "s.json:5:50: discriminator 'nope' is not a member of 'base'",
                "s.json:6:68: branch 'c' is not a value of enum type 'Kind'",
                "s.json:6:82: branch 'a' cannot use built-in type 'str'",
                "s.json:7:45: branch 'k' can't be distinguished from 's'",
                "s.json:8:33: 'data' member 'u' uses reserved name",
                "s.json:8:56: command's 'returns' uses unknown type 'Nothing'",
                "s.json:8:67: command has unknown key 'bogus'\nValid keys are 'allow-oob', 'allow-preconfig', 'boxed',"
                    + " 'command', 'coroutine', 'data', 'features', 'gen', 'if', 'returns', 'success-response'.",
                "s.json:9:12: event's 'data' cannot take enum type 'Kind'",
                "s.json:10:29: object Loop contains itself",
                "s.json:11:1: expression must have exactly one key 'enum', 'struct', 'union', 'alternate', 'command',"
                    + " 'event'",
                "s.json:12:53: 'data' member 'a' has unknown key 'iff'\nValid keys are 'features', 'if', 'type'.",
            ]
        )
    }

    @Test("Syntax and resolution errors of several files are reported together")
    func errorsAcrossFiles() {
        let files = [
            "main.json": "{ 'include': 'types.json' }\n{ 'command': 'go', 'data': { 'speed': 'Speed' } }",
            "types.json": "{ 'enum': 'Sped', 'data': [ 'fast' }",
        ]
        #expect(
            diagnostics(of: files, entry: "main.json") == [
                "main.json:2:39: parameter 'speed' uses unknown type 'Speed'",
                "types.json:1:36: expected ',' or ']'",
            ]
        )
    }
}

@Suite("QEMU's schemas, 1.0 to 10.2")
struct RealSchemaTests {
    @Test("All 43 releases' QMP schemas parse and resolve without a single diagnostic")
    func allReleasesResolve() throws {
        let releases = try SchemaCache.releases()
        #expect(releases.releases.count == 43)
        #expect(releases.versions.first?.description == "1.0")
        #expect(releases.versions.last?.description == "10.2.2")
        for release in releases.releases {
            #expect(
                release.schema.diagnostics.isEmpty,
                "\(release.version): \(release.schema.diagnostics.prefix(5).map(\.description))"
            )
            #expect(!release.schema.commands.isEmpty)
        }
        #expect(try SchemaCache.schema("1.0").commands.count == 21)
        #expect(try SchemaCache.schema("9.2.0-rc2").commands.count == 239)
        #expect(try SchemaCache.schema("9.2.0-rc2").events.count == 54)
        // Counted in the sources with grep: every definition starts a line with `{ 'command'`.
        #expect(try SchemaCache.schema("10.2.2").commands.count == 244)
        #expect(try SchemaCache.schema("10.2.2").events.count == 57)
    }

    @Test("The guest agent schemas (1.4 onwards in this data) resolve without diagnostics too")
    func guestAgentSchemas() throws {
        let releases = try #require(SchemaCache.guestAgent, SchemaCache.missingMessage)
        #expect(releases.versions.first?.description == "1.4.0")
        for release in releases.releases {
            #expect(
                release.schema.diagnostics.isEmpty,
                "\(release.version): \(release.schema.diagnostics.prefix(5).map(\.description))"
            )
        }
        let newest = try #require(releases.newest?.schema)
        #expect(newest.commands["guest-ping"] != nil)
        #expect(newest.commands["guest-shutdown"]?.hasSuccessResponse == false)
    }

    @Test("QEMU 1.0's anonymous nested object becomes an implicit struct")
    func anonymousObjects() throws {
        let schema = try SchemaCache.schema("1.0")
        let qemu = try #require(schema.objectType(named: "VersionInfo")?.member(named: "qemu"))
        #expect(qemu.type == "q_obj_VersionInfo-qemu")
        #expect(schema.objectType(named: "q_obj_VersionInfo-qemu")?.members.map(\.name) == ["major", "minor", "micro"])
        #expect(qemu.location.description == "qapi-schema.json:50:12")
    }

    @Test("QEMU 1.x's hand-marshalled pseudo-types and 'no' flags read as 'any' and false")
    func legacyPseudoTypes() throws {
        let schema = try SchemaCache.schema("1.1.0")
        let get = try #require(schema.commands["qom-get"])
        #expect(get.returnType == "any")
        #expect(!get.isGenerated)
        #expect(schema.arguments(ofCommand: "qom-set").first { $0.name == "value" }?.type == "any")
        #expect(
            try SchemaCache.schema("2.0.0").arguments(ofCommand: "object-add").first { $0.name == "props" }?.type
                == "any"
        )
    }

    @Test("The union with 'discriminator': {} of QEMU 1.7–2.3 is an alternate")
    func anonymousUnion() throws {
        let schema = try SchemaCache.schema("1.7.0")
        guard case .alternate(let alternate)? = schema.type(named: "BlockdevRef")?.kind else {
            Issue.record("BlockdevRef is not an alternate")
            return
        }
        #expect(alternate.branches.map { "\($0.name)=\($0.type)" } == ["definition=BlockdevOptions", "reference=str"])
    }

    @Test("A flat union tagged by a 'str' member (QEMU 1.7–2.0) gets an implicit tag enum of its branch names")
    func stringTaggedUnion() throws {
        let schema = try SchemaCache.schema("1.7.0")
        let variants = try #require(schema.objectType(named: "BlockdevOptions")?.variants)
        #expect(variants.tagMember == "driver")
        #expect(variants.tagType == "BlockdevOptionsKind")
        #expect(schema.enumType(named: "BlockdevOptionsKind")?.names.contains("qcow2") == true)
    }

    @Test("A simple union (up to QEMU 6.1) is tagged by 'type' and wraps each branch in 'data'")
    func simpleUnion() throws {
        let schema = try SchemaCache.schema("6.1.0")
        let union = try #require(schema.objectType(named: "SocketAddressLegacy"))
        #expect(union.members.map { "\($0.name):\($0.type)" } == ["type:SocketAddressLegacyKind"])
        let variants = try #require(union.variants)
        #expect(variants.tagType == "SocketAddressLegacyKind")
        let inet = try #require(variants.variant(forTag: "inet"))
        #expect(inet.type == "q_obj_InetSocketAddress-wrapper")
        #expect(
            schema.objectType(named: inet.type)?.members.map { "\($0.name):\($0.type)" } == ["data:InetSocketAddress"]
        )
        #expect(schema.enumType(named: "SocketAddressLegacyKind")?.names == ["inet", "unix", "vsock", "fd"])
        // By 6.2 it is an ordinary flat union.
        #expect(
            try SchemaCache.schema("6.2.0").objectType(named: "SocketAddressLegacy")?.base
                == "q_obj_SocketAddressLegacy-base"
        )
    }

    @Test("Conditions written as C preprocessor text (3.0–6.0) and as symbols (6.1 on) mean the same")
    func conditionsAcrossReleases() throws {
        let old = try #require(try SchemaCache.schema("5.2.0").commands["query-sev"]?.condition)
        let new = try #require(try SchemaCache.schema("7.2.0").commands["query-sev"]?.condition)
        #expect(old == .defined("TARGET_I386"))
        #expect(new == .defined("TARGET_I386"))
    }

    @Test("Command properties come through: out-of-band, boxed unions, returns")
    func commandProperties() throws {
        let schema = try SchemaCache.schema("9.2.0-rc2")
        #expect(schema.commands["migrate-recover"]?.allowsOutOfBand == true)
        #expect(schema.commands["query-status"]?.returnType == "StatusInfo")
        let add = try #require(schema.commands["blockdev-add"])
        #expect(add.isBoxed && add.argumentType == "BlockdevOptions")
        #expect(schema.objectType(named: "BlockdevOptions")?.variants?.tagMember == "driver")
        #expect(schema.commands["drive-backup"]?.features.isDeprecated == true)
    }
}
