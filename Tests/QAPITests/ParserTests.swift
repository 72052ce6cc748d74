import QAPI
import QMPCore
import Testing

@Suite("Reading QAPI schema text")
struct ParserTests {
    let parser = QAPIParser()

    @Test("Top-level expressions become located nodes: strings in either quote, booleans, objects and arrays")
    func basicNotation() throws {
        let text = """
            # a comment
            { 'struct': "Point",
              'data': { 'x': 'int', '*label': 'str' } }
            { 'command': 'ping', 'allow-oob': true, 'returns': [ 'Point' ] }
            """
        let parsed = parser.parse(text, file: "shapes.json")
        #expect(parsed.diagnostics.isEmpty)
        #expect(parsed.expressions.count == 2)

        let point = parsed.expressions[0]
        #expect(point.location.description == "shapes.json:2:1")
        #expect(point["struct"]?.stringValue == "Point")
        let data = try #require(point["data"])
        #expect(data.location == QAPISourceLocation(file: "shapes.json", line: 3, column: 11))
        #expect(data.members?.map(\.key) == ["x", "*label"])
        #expect(data.member("*label")?.keyLocation.description == "shapes.json:3:25")

        let ping = parsed.expressions[1]
        #expect(ping["allow-oob"]?.boolValue == true)
        #expect(ping["returns"]?.arrayValue?.first?.stringValue == "Point")
        #expect(ping["returns"]?.location.description == "shapes.json:4:52")
    }

    @Test("Escapes in strings are decoded")
    func escapes() throws {
        let parsed = parser.parse(
            #"{ 'enum': 'E', 'data': [ 'it\'s', "a\"b", 'tab\there', '\u0041' ] }"#,
            file: "e.json"
        )
        #expect(parsed.diagnostics.isEmpty)
        let values = try #require(parsed.expressions.first?["data"]?.arrayValue).compactMap(\.stringValue)
        #expect(values == ["it's", "a\"b", "tab\there", "A"])
    }

    @Test("A documentation block names the symbol of the next expression; its prose is not kept")
    func documentationBlocks() throws {
        let text = """
            ##
            # = A section heading, documents nothing
            ##

            ##
            # @Colour:
            #
            # Some words about it.
            ##
            { 'enum': 'Colour', 'data': [ 'red' ] }

            { 'struct': 'Undocumented', 'data': {} }
            """
        let parsed = parser.parse(text, file: "doc.json")
        #expect(parsed.diagnostics.isEmpty)
        #expect(parsed.expressions.map(\.documentedSymbol) == ["Colour", nil])
    }

    @Test("Several syntax errors are reported in one pass, each as file:line:col: message")
    func syntaxErrors() {
        let text = """
            { 'struct': 'A', 'data': { 'x': 'int' } }
            { 'struct': 'B' 'data': {} }
            { 'struct': 'C', 'data': { 'y': 42 } }
            { 'enum': 'D', 'data': [ 'a', 'a' ], 'data': [] }
            'stray'
            { 'struct': 'E', 'data': { 'z': 'str } }
            { 'struct': 'F', 'data': {
            """
        let parsed = QAPIParser(options: .strict).parse(text, file: "bad.json")
        #expect(
            parsed.diagnostics.map(\.description) == [
                "bad.json:2:17: expected ',' or '}'",
                "bad.json:3:33: stray '42'",
                "bad.json:4:38: duplicate key 'data'",
                "bad.json:5:1: top-level expression must be an object",
                "bad.json:6:33: missing terminating \"'\"",
                "bad.json:7:1: expected ',' or '}'",
                "bad.json:7:27: expected string or '}'",
            ]
        )
        // What could be read is kept.
        #expect(parsed.expressions.compactMap { $0["struct"]?.stringValue ?? $0["enum"]?.stringValue } == ["A", "D"])
    }

    @Test(
        "The missing and trailing commas QEMU 1.x tolerated are accepted by default, and rejected by the strict parser"
    )
    func legacyCommas() {
        let text = """
            { 'enum': 'NewImageMode'
              'data': [ 'existing', 'absolute-paths' ] }
            { 'union': 'Action', 'data': { 'snap': 'Snap', } }
            """
        #expect(QAPIParser().parse(text, file: "old.json").diagnostics.isEmpty)
        #expect(
            QAPIParser(options: .strict).parse(text, file: "old.json").diagnostics.map(\.description) == [
                "old.json:2:3: expected ',' or '}'",
                "old.json:3:48: expected string",
            ]
        )
    }

    @Test("Includes are resolved relative to the including file and each file is read once")
    func includes() throws {
        let files = [
            "qapi/qapi-schema.json": """
            { 'include': 'common.json' }
            { 'include': 'sub/block.json' }
            { 'include': 'common.json' }
            """,
            "qapi/common.json": "{ 'enum': 'OnOff', 'data': [ 'on', 'off' ] }",
            "qapi/sub/block.json": """
            { 'include': '../common.json' }
            { 'struct': 'Disk', 'data': { 'cache': 'OnOff' } }
            """,
        ]
        let source = QAPISchemaSource.load(files: files, entryFile: "qapi/qapi-schema.json")
        #expect(source.diagnostics.isEmpty)
        #expect(source.files == ["qapi/qapi-schema.json", "qapi/common.json", "qapi/sub/block.json"])
        #expect(source.expressions.map(\.location.description) == ["qapi/common.json:1:1", "qapi/sub/block.json:2:1"])
    }

    @Test("An include that cannot be read is reported where it is written")
    func missingInclude() {
        let files = ["main.json": "{ 'enum': 'E', 'data': [] }\n{ 'include': 'nowhere.json' }"]
        #expect(
            diagnostics(of: files, entry: "main.json") == ["main.json:2:14: can't read include file 'nowhere.json'"]
        )
    }
}

@Suite("Build conditions")
struct ConditionTests {
    @Test("The C preprocessor spelling of QEMU 3.0–6.0 reads into the same model as the later one")
    func preprocessorSpelling() throws {
        #expect(QAPICondition(preprocessorExpression: "defined(CONFIG_SPICE)") == .defined("CONFIG_SPICE"))
        #expect(QAPICondition(preprocessorExpression: "CONFIG_SPICE") == .defined("CONFIG_SPICE"))
        #expect(
            QAPICondition(preprocessorExpression: "defined(CONFIG_OPENGL) && defined(CONFIG_GBM)")
                == .all([.defined("CONFIG_OPENGL"), .defined("CONFIG_GBM")])
        )
        #expect(
            QAPICondition(preprocessorExpression: "defined(TARGET_S390X) || defined(TARGET_I386)")
                == .any([.defined("TARGET_S390X"), .defined("TARGET_I386")])
        )
        #expect(
            QAPICondition(preprocessorExpression: "!defined(CONFIG_WIN32) && (A || B)")
                == .all([.not(.defined("CONFIG_WIN32")), .any([.defined("A"), .defined("B")])])
        )
        #expect(QAPICondition(preprocessorExpression: "defined(") == nil)
        #expect(QAPICondition(preprocessorExpression: "A & B") == nil)
    }

    @Test("Conditions on definitions, members, enum values, branches and features are read in all forms")
    func conditionForms() throws {
        let schema = QAPISchema.load(
            files: [
                "s.json": """
                { 'enum': 'Target', 'data': [ 'x86', { 'name': 's390', 'if': { 'all': [ 'TARGET_S390X', 'CONFIG_KVM' ] } } ] }
                { 'struct': 'Opts', 'if': [ 'defined(CONFIG_A)', 'defined(CONFIG_B)' ],
                  'data': { '*fast': { 'type': 'bool', 'if': { 'not': 'CONFIG_WIN32' } } },
                  'features': [ { 'name': 'shiny', 'if': { 'any': [ 'CONFIG_X', 'CONFIG_Y' ] } } ] }
                """
            ],
            entryFile: "s.json"
        )
        #expect(schema.diagnostics.isEmpty)
        let target = try #require(schema.enumType(named: "Target"))
        #expect(target.values[1].condition?.description == "TARGET_S390X && CONFIG_KVM")
        let opts = try #require(schema.type(named: "Opts"))
        #expect(opts.condition == .all([.defined("CONFIG_A"), .defined("CONFIG_B")]))
        #expect(schema.objectType(named: "Opts")?.member(named: "fast")?.condition == .not(.defined("CONFIG_WIN32")))
        #expect(opts.features.first?.condition?.description == "CONFIG_X || CONFIG_Y")
    }

    @Test("A condition is evaluated against the symbols a build defines")
    func evaluation() {
        let condition = QAPICondition.all([.defined("TARGET_S390X"), .not(.defined("CONFIG_WIN32"))])
        #expect(condition.isSatisfied(by: ["TARGET_S390X", "CONFIG_KVM"]))
        #expect(!condition.isSatisfied(by: ["TARGET_I386"]))
        #expect(!condition.isSatisfied(by: ["TARGET_S390X", "CONFIG_WIN32"]))
        #expect(condition.symbols == ["TARGET_S390X", "CONFIG_WIN32"])
        #expect(QAPICondition.any([]).isSatisfied(by: []) == false)
    }
}
