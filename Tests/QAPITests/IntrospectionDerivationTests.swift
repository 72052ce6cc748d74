import QAPI
import QMPCore
import Testing

@Suite("Introspection derived from the sources, as QEMU derives it")
struct IntrospectionDerivationTests {
    @Test("Derived from 7.2.0's sources for an x86_64 Linux build, it is what QEMU 7.2 serves, entry for entry")
    func matchesTheReference() throws {
        let reference = try Reference72.load()
        let schema = try SchemaCache.schema("7.2.0")
        let derived = QAPIIntrospection(deriving: schema, definedSymbols: Reference72.x86LinuxSymbols(schema))
        #expect(derived.entries.count == reference.entries.count)
        let firstDifference = zip(derived.entries, reference.entries).first { $0 != $1 }
        #expect(firstDifference == nil, "first differing entry: \(String(describing: firstDifference))")
        // Names, order and masking included; the structural comparison agrees too.
        #expect(derived.compare(with: schema, definedSymbols: Reference72.x86LinuxSymbols(schema)).differences.isEmpty)
    }

    @Test("Masked names are numbered by first use; integer widths fold into int, arrays of them into [int]")
    func servedForm() {
        let schema = QAPISchema.load(
            files: [
                "s.json": """
                { 'enum': 'Mode', 'data': [ 'fast', { 'name': 'slow', 'if': 'CONFIG_SLOW' } ] }
                { 'struct': 'Opts', 'data': { 'mode': 'Mode', '*level': 'uint8', 'sizes': [ 'size' ] } }
                { 'command': 'tune', 'data': { 'opts': 'Opts' }, 'returns': [ 'Mode' ] }
                { 'command': 'gone', 'if': 'CONFIG_GONE' }
                """
            ],
            entryFile: "s.json"
        )
        #expect(schema.diagnostics.isEmpty)
        let derived = QAPIIntrospection(deriving: schema, definedSymbols: [])
        #expect(
            derived.entries == [
                QAPISchemaInfo(
                    name: "tune",
                    metaType: .command(argumentType: "0", returnType: "[1]", allowsOutOfBand: false)
                ),
                QAPISchemaInfo(
                    name: "0",
                    metaType: .object(members: [.init(name: "opts", type: "3")], tag: nil, variants: [])
                ),
                QAPISchemaInfo(name: "[1]", metaType: .array(elementType: "1")),
                QAPISchemaInfo(name: "1", metaType: .enumeration(members: [.init(name: "fast")], values: ["fast"])),
                // `gone` is not in the build, but QEMU decides what is used before it knows the
                // build: the empty object it takes and returns is listed, and numbered before Opts.
                QAPISchemaInfo(name: "2", metaType: .object(members: [], tag: nil, variants: [])),
                QAPISchemaInfo(
                    name: "3",
                    metaType: .object(
                        members: [
                            .init(name: "mode", type: "1"), .init(name: "level", type: "int", defaultValue: .null),
                            .init(name: "sizes", type: "[int]"),
                        ],
                        tag: nil,
                        variants: []
                    )
                ),
                QAPISchemaInfo(name: "int", metaType: .builtin(jsonType: .int)),
                QAPISchemaInfo(name: "[int]", metaType: .array(elementType: "int")),
            ]
        )
        #expect(derived.sourceNames["3"] == "Opts")
    }

    @Test("The checking form keeps source names and widths, so a width is range-checked")
    func checkingForm() {
        let schema = QAPISchema.load(
            files: [
                "s.json": """
                { 'struct': 'Opts', 'data': { '*level': 'uint8' } }
                { 'command': 'tune', 'data': 'Opts', 'boxed': true }
                """
            ],
            entryFile: "s.json"
        )
        let derived = QAPIIntrospection(deriving: schema, form: .checking)
        #expect(derived.knowsIntegerWidths)
        #expect(
            derived.entry(named: "Opts")?.metaType
                == .object(members: [.init(name: "level", type: "uint8", defaultValue: .null)], tag: nil, variants: [])
        )
        #expect(derived.entry(named: "uint8")?.metaType == .builtin(jsonType: .int))
        let issues = QAPIValidator(introspection: derived).validateArguments(["level": 300], ofCommand: "tune")
        #expect(issues.map(\.qemuDescription) == ["Parameter 'level' expects uint8_t"])
    }
}

@Suite("A served introspection filled with what its release's sources know")
struct IntrospectionFillingTests {
    @Test("Filled from 7.2.0's sources, QEMU 7.2's introspection names every argument's width as they do")
    func fillsWidths() throws {
        let schema = try SchemaCache.schema("7.2.0")
        let filled = try Reference72.load().filling(from: schema)
        let checking = QAPIIntrospection(deriving: schema, form: .checking)
        // Only what the sources filled is known: types only return values reach are not.
        #expect(!filled.knowsIntegerWidths)
        var compared = 0
        var differing: [String] = []
        for entry in filled.entries {
            guard case .command(let argumentType, _, _) = entry.metaType,
                case .object(let members, _, _)? = filled.entry(named: argumentType)?.metaType,
                case .command(let sourceArgumentType, _, _)? = checking.entry(named: entry.name)?.metaType,
                case .object(let sourceMembers, _, _)? = checking.entry(named: sourceArgumentType)?.metaType
            else { continue }
            for member in members {
                guard let source = sourceMembers.first(where: { $0.name == member.name }),
                    QAPIBuiltinType(rawValue: source.type)?.integerRange != nil
                else { continue }
                compared += 1
                if member.type != source.type {
                    differing.append("\(entry.name).\(member.name): \(member.type) vs \(source.type)")
                }
            }
        }
        #expect(compared > 50)
        #expect(differing == [])
        guard case .command(let argumentType, _, _)? = filled.entry(named: "migrate-set-parameters")?.metaType else {
            Issue.record("no migrate-set-parameters")
            return
        }
        #expect(filled.sourceName(of: argumentType) == "MigrateSetParameters")
        func answer(_ arguments: JSONObject) -> [String] {
            filled.validateArguments(arguments, ofCommand: "migrate-set-parameters").map(\.qemuDescription)
        }
        #expect(answer(["cpu-throttle-initial": 300]) == ["Parameter 'cpu-throttle-initial' expects uint8_t"])
        #expect(answer(["tls-creds": 5]) == ["Invalid parameter type for 'tls-creds', expected: StrOrNull"])
    }

    /// Sources of an older release than the server's: `later` is a member they do not know,
    /// and `Info` only a return value reaches.
    static let olderSources = QAPISchema.load(
        files: [
            "s.json": """
            { 'struct': 'Info', 'data': { 'total': 'uint64', 'offset': 'int' } }
            { 'command': 'probe', 'data': { 'big': 'uint64', 'exact': 'int', '*small': [ 'uint8' ] }, 'returns': 'Info' }
            { 'command': 'legacy-add', 'data': { 'id': 'str' }, 'gen': false }
            """
        ],
        entryFile: "s.json"
    )
    static let newerServer = QAPIIntrospection(
        deriving: QAPISchema.load(
            files: [
                "s.json": """
                { 'struct': 'Info', 'data': { 'total': 'uint64', 'offset': 'int' } }
                { 'command': 'probe', 'data': { 'big': 'uint64', 'exact': 'int', '*small': [ 'uint8' ], '*later': 'size' },
                  'returns': 'Info' }
                { 'command': 'legacy-add', 'data': { 'id': 'str' } }
                """
            ],
            entryFile: "s.json"
        )
    )

    @Test("Only members the sources filled are range-checked as exactly int; the rest take any 64-bit integer")
    func onlyFilledMembersKnowTheirWidth() throws {
        let served = QAPIIntrospection(entries: Self.newerServer.entries)
        let filled = served.filling(from: Self.olderSources)
        let huge = JSONValue.uint(UInt64.max)
        func answer(_ arguments: JSONObject) -> [String] {
            filled.validateArguments(arguments, ofCommand: "probe").map(\.qemuDescription)
        }
        #expect(answer(["big": huge, "exact": 1]).isEmpty)
        #expect(answer(["big": 1, "exact": huge]) == ["Invalid parameter type for 'exact', expected: integer"])
        #expect(answer(["big": 1, "exact": 1, "small": [1, 256]]) == ["Parameter 'null' expects uint8_t"])
        // A member the older sources do not know may be any width (here: size).
        #expect(answer(["big": 1, "exact": 1, "later": huge]).isEmpty)
        // Info is reached only from a return value; its uint64 is `int` to the filled model too.
        #expect(
            QAPIValidator(introspection: filled).validateReturn(["total": huge, "offset": 0], ofCommand: "probe")
                .isEmpty
        )
        guard case .command(let argumentType, _, _)? = filled.entry(named: "probe")?.metaType else {
            Issue.record("no probe")
            return
        }
        #expect(filled.filledMembers[argumentType] == ["big", "exact", "small"])
    }

    @Test("Filling takes which commands QEMU reads by hand from the sources, for the sources' release")
    func handWrittenCommandsFromSources() {
        let served = QAPIIntrospection(entries: Self.newerServer.entries)
        #expect(served.commandsTakingExtraArguments == ["device_add"])
        let filled = served.filling(from: Self.olderSources)
        #expect(filled.commandsTakingExtraArguments == ["device_add", "legacy-add"])
        #expect(filled.validateArguments(["id": "x", "size": 5], ofCommand: "legacy-add").isEmpty)
        let sourceCheck = QAPIValidator(schema: Self.olderSources)
        #expect(sourceCheck.validateArguments(["id": "x", "size": 5], ofCommand: "legacy-add").isEmpty)
    }

    @Test("object-add before 6.0 and netdev_add before 5.0 take extra arguments, in the source and filled check alike")
    func handWrittenInOlderReleases() throws {
        for (release, command, arguments, handWritten) in [
            ("5.2.0", "object-add", ["qom-type": "memory-backend-ram", "id": "m", "size": 4096] as JSONObject, true),
            ("6.0.0", "object-add", ["qom-type": "memory-backend-ram", "id": "m", "bogus": 4096], false),
            ("4.2.0", "netdev_add", ["type": "user", "id": "n", "hostfwd": "tcp::2222-:22"], true),
        ] {
            let schema = try SchemaCache.schema(release)
            let sourceCheck = QAPIValidator(schema: schema)
            let served = QAPIIntrospection(entries: QAPIIntrospection(deriving: schema).entries)
            let filled = served.filling(from: schema)
            #expect(filled.commandsTakingExtraArguments.contains(command) == handWritten, "\(release) \(command)")
            let sourceAnswer = sourceCheck.validateArguments(arguments, ofCommand: command).map(\.qemuDescription)
            let filledAnswer = filled.validateArguments(arguments, ofCommand: command).map(\.qemuDescription)
            #expect(sourceAnswer == filledAnswer, "\(release) \(command)")
            #expect(sourceAnswer.isEmpty == handWritten, "\(release) \(command): \(sourceAnswer)")
        }
    }

    @Test("Unfilled, the served introspection's int takes any 64-bit integer and names no alternate")
    func unfilled() throws {
        let served = try Reference72.load()
        #expect(!served.knowsIntegerWidths)
        #expect(served.validateArguments(["cpu-throttle-initial": 300], ofCommand: "migrate-set-parameters").isEmpty)
        #expect(
            served.validateArguments(["tls-creds": 5], ofCommand: "migrate-set-parameters").map(\.qemuDescription)
                == ["Invalid parameter type for 'tls-creds', expected: string or null"]
        )
    }
}
