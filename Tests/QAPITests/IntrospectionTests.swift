import Foundation
import QAPI
import QMPCore
import SharedTestData
import Testing

/// The 7.2 reference, decoded once.
enum Reference72 {
    static let introspection: QAPIIntrospection? = {
        guard let text = try? String(contentsOf: TestData.introspectionFile, encoding: .utf8) else { return nil }
        return try? QAPIIntrospection(json: text)
    }()

    static func load() throws -> QAPIIntrospection {
        _ = try SharedTestData.path("reference/qemu-7.2-schema.json")
        return try #require(introspection, "cannot read or decode \(TestData.introspectionFile.path)")
    }

    /// What an x86_64 Linux build of QEMU 7.2 like the reference defines: every symbol the
    /// 7.2 schema mentions except other targets and other hosts' features, and block drivers
    /// the distribution did not build.
    static func x86LinuxSymbols(_ schema: QAPISchema) -> Set<String> {
        schema.conditionSymbols.subtracting([
            "TARGET_S390X", "TARGET_ARM", "TARGET_PPC", "TARGET_MIPS", "TARGET_LOONGARCH64",
            "CONFIG_COCOA", "CONFIG_VMNET", "CONFIG_BLKIO",
        ])
    }
}

@Suite("query-qmp-schema introspection")
struct IntrospectionTests {
    @Test("The QEMU 7.2 reference decodes: 1051 entries of seven meta-types")
    func decodesReference() throws {
        let introspection = try Reference72.load()
        #expect(introspection.entries.count == 1051)
        #expect(
            introspection.countsByMetaType == [
                .object: 553, .command: 216, .enumeration: 132, .array: 86, .event: 52, .builtin: 6, .alternate: 6,
            ]
        )
        #expect(
            introspection.entry(named: "query-status")?.metaType
                == .command(argumentType: "0", returnType: "1", allowsOutOfBand: false)
        )
        #expect(introspection.entry(named: "0")?.metaType == .object(members: [], tag: nil, variants: []))
        #expect(introspection.entry(named: "str")?.metaType == .builtin(jsonType: .string))
        #expect(introspection.entry(named: "[10]")?.metaType == .array(elementType: "10"))
        #expect(
            introspection.commands.values.filter {
                if case .command(_, _, true) = $0.metaType { return true } else { return false }
            }.map(\.name).sorted() == ["migrate-pause", "migrate-recover", "query-yank", "yank"]
        )
        #expect(introspection.entry(named: "device_add")?.features == ["json-cli", "json-cli-hotplug"])
        #expect(introspection.entry(named: "drive-backup")?.features == ["deprecated"])

        guard case .enumeration(let members, let values)? = introspection.entry(named: "118")?.metaType else {
            Issue.record("118 is not an enum")
            return
        }
        #expect(values == ["tpm-tis", "tpm-crb", "tpm-spapr"])
        #expect(members.map(\.name) == values)

        guard case .object(let arguments, nil, _)? = introspection.entry(named: "172")?.metaType else {
            Issue.record("172 is not a plain object")
            return
        }
        #expect(arguments.map(\.name) == ["enable"])
        #expect(arguments[0].isOptional && arguments[0].defaultValue == .null)
    }

    @Test("Malformed SchemaInfo is rejected with the path of the problem")
    func decodingErrors() {
        func error(_ value: JSONValue) -> String? {
            do {
                _ = try QAPIIntrospection(decoding: value)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(error(["name": "x"]) == ": expected an array of SchemaInfo, got object")
        #expect(
            error([["name": "str", "meta-type": "builtin", "json-type": "string"], ["name": "x"]])
                == "[1].meta-type: missing required member"
        )
        #expect(
            error([["name": "1", "meta-type": "object", "members": [["name": "a", "type": 5]]]])
                == "[0].members[0].type: expected string, got 5"
        )
        #expect(
            error([["name": "c", "meta-type": "command", "arg-type": "0", "ret-type": "0", "allow-oob": "yes"]])
                == "[0].allow-oob: expected boolean, got \"yes\""
        )
        #expect(error([["name": "q", "meta-type": "widget"]]) == "[0].meta-type: unknown meta-type 'widget'")
        // A whole reply is accepted too.
        #expect(error(["return": [["name": "int", "meta-type": "builtin", "json-type": "int"]]]) == nil)
    }

    @Test(
        "Every command and event of the 7.2 introspection is in the 7.2 sources with matching structure; only conditional parts differ"
    )
    func comparesWithSources() throws {
        let introspection = try Reference72.load()
        let schema = try SchemaCache.schema("7.2.0")
        let comparison = introspection.compare(with: schema)

        #expect(comparison.matchedCommands.count == 216)
        #expect(Set(comparison.matchedCommands) == Set(introspection.commands.keys))
        #expect(comparison.matchedEvents.count == 52)
        #expect(comparison.unexplainedDifferences.map(\.description) == [])

        // What the x86_64 build lacks is exactly what is conditional on other targets and hosts.
        let missingCommands = comparison.explainedDifferences.filter { $0.message.hasPrefix("command is missing") }
        #expect(
            missingCommands.map(\.description) == [
                "dump-skeys: command is missing from the introspection (if TARGET_S390X)",
                "query-cpu-model-baseline: command is missing from the introspection (if TARGET_S390X)",
                "query-cpu-model-comparison: command is missing from the introspection (if TARGET_S390X)",
                "query-gic-capabilities: command is missing from the introspection (if TARGET_ARM)",
            ]
        )
        #expect(
            comparison.explainedDifferences.contains {
                $0.description
                    == "netdev_add.arguments(type=vmnet-host): variant is missing from the introspection (if CONFIG_VMNET)"
            }
        )
        #expect(comparison.explainedDifferences.count == 22)
    }

    @Test("Evaluated against an x86_64 Linux configuration, the 7.2 sources match the introspection exactly")
    func comparesWithConfiguration() throws {
        let introspection = try Reference72.load()
        let schema = try SchemaCache.schema("7.2.0")
        let symbols = Reference72.x86LinuxSymbols(schema)
        #expect(symbols.contains("TARGET_I386") && symbols.contains("CONFIG_SPICE"))
        #expect(introspection.compare(with: schema, definedSymbols: symbols).differences.map(\.description) == [])

        // Claiming the build has s390x parts makes their absence a real difference.
        let wrong = introspection.compare(with: schema, definedSymbols: symbols.union(["TARGET_S390X"]))
        #expect(
            wrong.unexplainedDifferences.first?.description
                == "dump-skeys: command is missing from the introspection although its condition TARGET_S390X holds"
        )
    }

    @Test("Comparing with an older release's sources shows what 7.2 added")
    func comparesWithOlderSources() throws {
        let comparison = try Reference72.load().compare(with: SchemaCache.schema("7.1.0"))
        let descriptions = comparison.unexplainedDifferences.map(\.description)
        #expect(descriptions.contains("dumpdtb: command is in the introspection but not in the source schema"))
        #expect(
            descriptions.contains("NETDEV_STREAM_CONNECTED: event is in the introspection but not in the source schema")
        )
        #expect(
            descriptions.contains(
                "RESET.data.reason: enum value 'snapshot-load' is in the introspection but not in the source"
            )
        )
        #expect(
            descriptions.contains(
                "netdev_add.arguments(type=vhost-vdpa).vhostfd: member is in the introspection but not in the source"
            )
        )
    }

    @Test("Structural differences are described member by member")
    func smallComparison() throws {
        let schema = QAPISchema.load(
            files: [
                "s.json": """
                { 'enum': 'Mode', 'data': [ 'fast', 'slow' ] }
                { 'struct': 'Opts', 'data': { 'mode': 'Mode', '*level': 'uint8', 'name': 'str' } }
                { 'command': 'tune', 'data': { 'opts': 'Opts' }, 'returns': [ 'int' ] }
                { 'command': 'gone' }
                { 'event': 'TUNED' }
                """
            ],
            entryFile: "s.json"
        )
        let introspection = QAPIIntrospection(entries: [
            QAPISchemaInfo(
                name: "tune",
                metaType: .command(argumentType: "1", returnType: "[int]", allowsOutOfBand: true)
            ),
            QAPISchemaInfo(name: "TUNED", metaType: .event(argumentType: "0")),
            QAPISchemaInfo(name: "0", metaType: .object(members: [], tag: nil, variants: [])),
            QAPISchemaInfo(
                name: "1",
                metaType: .object(members: [.init(name: "opts", type: "2")], tag: nil, variants: [])
            ),
            QAPISchemaInfo(
                name: "2",
                metaType: .object(
                    members: [
                        .init(name: "mode", type: "3"), .init(name: "level", type: "int"),
                        .init(name: "name", type: "int", defaultValue: .null),
                    ],
                    tag: nil,
                    variants: []
                )
            ),
            QAPISchemaInfo(
                name: "3",
                metaType: .enumeration(
                    members: [.init(name: "fast"), .init(name: "turbo")],
                    values: ["fast", "turbo"]
                )
            ),
            QAPISchemaInfo(name: "int", metaType: .builtin(jsonType: .int)),
            QAPISchemaInfo(name: "[int]", metaType: .array(elementType: "int")),
        ])
        #expect(
            introspection.compare(with: schema).differences.map(\.description) == [
                "gone: command is missing from the introspection",
                "tune: allow-oob is false in the source but true in the introspection",
                "tune.arguments.opts.mode: enum value 'slow' is missing from the introspection",
                "tune.arguments.opts.mode: enum value 'turbo' is in the introspection but not in the source",
                "tune.arguments.opts.level: optional in the source, mandatory in the introspection",
                "tune.arguments.opts.name: mandatory in the source, optional in the introspection",
                "tune.arguments.opts.name: built-in 'str' (string) in the source, 'int' (int) in the introspection",
            ]
        )
    }

    @Test("validation against an introspection reports every problem, not only those before an earlier one")
    func validationKeepsGoing() {
        // A union whose common member comes before its tag, in an array.
        let introspection = QAPIIntrospection(entries: [
            QAPISchemaInfo(
                name: "U",
                metaType: .object(
                    members: [.init(name: "count", type: "int"), .init(name: "kind", type: "K")],
                    tag: "kind",
                    variants: [.init(tagValue: "sized", type: "S")]
                )
            ),
            QAPISchemaInfo(
                name: "S",
                metaType: .object(members: [.init(name: "size", type: "int")], tag: nil, variants: [])
            ),
            QAPISchemaInfo(name: "K", metaType: .enumeration(members: [.init(name: "sized")], values: ["sized"])),
            QAPISchemaInfo(name: "int", metaType: .builtin(jsonType: .int)),
            QAPISchemaInfo(name: "[U]", metaType: .array(elementType: "U")),
        ])
        let value: JSONValue = [
            ["count": "one", "kind": "sized", "size": "big"],
            ["count": 2, "kind": "sized", "size": "small"],
        ]
        #expect(
            introspection.validate(value, as: "[U]", path: "x").map(\.path) == ["x[0].count", "x[0].size", "x[1].size"]
        )
    }

    @Test("a value that is none of an enum's is refused with the values, as against the source")
    func enumValues() {
        let letters = (0..<10).map { String(UnicodeScalar(UInt8(97 + $0))) }
        let introspection = QAPIIntrospection(entries: [
            QAPISchemaInfo(
                name: "2",
                metaType: .enumeration(members: [.init(name: "on"), .init(name: "off")], values: ["on", "off"])
            ),
            QAPISchemaInfo(
                name: "3",
                metaType: .enumeration(members: letters.map { .init(name: $0) }, values: letters)
            ),
        ])
        #expect(introspection.validate("dim", as: "2").map(\.description) == ["\"dim\" is not one of 'on', 'off'"])
        #expect(
            introspection.validate("z", as: "3").map(\.description)
                == ["\"z\" is not one of the 10 values 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', …"]
        )
    }
}
