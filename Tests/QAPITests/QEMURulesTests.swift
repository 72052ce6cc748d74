import Foundation
import QAPI
import QMPCore
import Testing

/// The first diagnostic of a one-file schema, as QEMU prints it.
private func qemuReport(_ text: String, strict: Bool = false) -> String? {
    QAPISchema.load(files: ["s.json": text], entryFile: "s.json", strict: strict).diagnostics.first?.qemuDescription
}

/// Every diagnostic of a one-file schema, as QEMU prints it.
private func qemuReports(_ text: String, strict: Bool = false) -> [String] {
    QAPISchema.load(files: ["s.json": text], entryFile: "s.json", strict: strict).diagnostics.map(\.qemuDescription)
}

@Suite("Schemas QEMU's generator refuses, refused at QEMU's place in QEMU's words")
struct QEMURejectionTests {
    /// A schema error: QEMU names the definition, then gives the line its expression starts on.
    struct Rejection: Sendable, CustomTestStringConvertible {
        var schema: String
        var report: String
        var strict = false
        var testDescription: String { report.split(separator: "\n").last.map(String.init) ?? report }
    }

    static let rejections: [Rejection] = [
        Rejection(
            schema: "{ 'struct': '*oops', 'data': {} }",
            report: "s.json: In struct '*oops':\ns.json:1: struct has an invalid name"
        ),
        Rejection(
            schema: "{ 'command': 'q_run' }",
            report: "s.json: In command 'q_run':\ns.json:1: command has an invalid name"
        ),
        Rejection(
            schema: "{ 'enum': 'MyEnum',\n  'data': [ 'one-two', 'one_two' ] }",
            report: "s.json: In enum 'MyEnum':\ns.json:1: value 'one_two' collides with value 'one-two'"
        ),
        Rejection(
            schema: "{ 'struct': 'Pair', 'data': { 'a-b': 'int',\n                            'a_b': 'str' } }",
            report: "s.json: In struct 'Pair':\ns.json:1: member 'a_b' collides with member 'a-b'"
        ),
        Rejection(
            schema: """
                { 'struct': 'Base', 'data': { 'name': 'str' } }
                { 'struct': 'Sub', 'base': 'Base',
                  'data': { 'name': 'int' } }
                """,
            report: "s.json: In struct 'Sub':\ns.json:2: member 'name' collides with member 'name' of type 'Base'"
        ),
        Rejection(
            schema: "{ 'command': 'oops', 'data': { '*has-a': 'int' } }",
            report: "s.json: In command 'oops':\ns.json:1: 'data' member '*has-a' uses reserved name"
        ),
        Rejection(
            schema: "{ 'struct': 'Holder', 'data': { 'u': 'int' } }",
            report: "s.json: In struct 'Holder':\ns.json:1: 'data' member 'u' uses reserved name"
        ),
        Rejection(
            schema: "{ 'struct': 'FooList', 'data': {} }",
            report: "s.json: In struct 'FooList':\ns.json:1: struct name should not end in 'List'"
        ),
        Rejection(
            schema: "{ 'struct': 'Thing', 'data': { 'camelCase': 'int' } }",
            report:
                "s.json: In struct 'Thing':\ns.json:1: name of 'data' member 'camelCase' must not use uppercase or '_'",
            strict: true
        ),
        Rejection(
            schema: "{ 'event': 'bad-event' }",
            report: "s.json: In event 'bad-event':\ns.json:1: name of event must not use lowercase or '-'",
            strict: true
        ),
        Rejection(
            schema: "{ 'struct': 'lower', 'data': {} }",
            report: "s.json: In struct 'lower':\ns.json:1: name of struct must use CamelCase",
            strict: true
        ),
        Rejection(schema: "{ 'pragma': { 'no-such': true } }", report: "s.json:1: unknown pragma 'no-such'"),
        Rejection(schema: "{ 'pragma': [ 'x' ] }", report: "s.json:1: value of 'pragma' must be an object"),
        Rejection(
            schema: "{ 'pragma': { 'doc-required': 'yes' } }",
            report: "s.json:1: pragma 'doc-required' must be boolean"
        ),
        Rejection(
            schema: "{ 'pragma': { 'command-name-exceptions': 'old_name' } }",
            report: "s.json:1: pragma command-name-exceptions must be a list of strings"
        ),
        Rejection(
            schema: "{ 'command': 'go', 'gen': true }",
            report: "s.json: In command 'go':\ns.json:1: flag 'gen' may only use false value"
        ),
        Rejection(
            schema: "{ 'command': 'go', 'allow-oob': true,\n  'coroutine': true }",
            report: "s.json: In command 'go':\ns.json:1: flags 'allow-oob' and 'coroutine' are incompatible"
        ),
        Rejection(
            schema: "{ 'command': 'go', 'boxed': true }",
            report: "s.json: In command 'go':\ns.json:1: 'boxed': true requires 'data'"
        ),
        Rejection(
            schema: "{ 'alternate': 'Alt', 'data': {} }",
            report: "s.json: In alternate 'Alt':\ns.json:1: 'data' must not be empty"
        ),
        Rejection(
            schema: "{ 'alternate': 'Alt',\n  'data': { 'one': 'str', 'two': 'int' } }",
            report: "s.json: In alternate 'Alt':\ns.json:1: branch 'two' can't be distinguished from 'one'"
        ),
        Rejection(
            schema: "{ 'alternate': 'Alt', 'data': { 'one': 'any' } }",
            report: "s.json: In alternate 'Alt':\ns.json:1: branch 'one' cannot use built-in type 'any'"
        ),
        Rejection(
            schema: """
                { 'enum': 'Nothing', 'data': [] }
                { 'union': 'U', 'base': { 'type': 'Nothing' }, 'discriminator': 'type', 'data': {} }
                """,
            report: "s.json: In union 'U':\ns.json:2: union has no branches"
        ),
        Rejection(
            schema: """
                { 'enum': 'Kind', 'data': [ 'a' ] }
                { 'struct': 'A', 'data': {} }
                { 'union': 'U', 'base': { 'type': 'Kind' }, 'discriminator': 'type',
                  'data': { 'b': 'A' } }
                """,
            report: "s.json: In union 'U':\ns.json:3: branch 'b' is not a value of enum type 'Kind'"
        ),
        Rejection(
            schema: "{ 'struct': 'Thing', 'data': {}, 'if': 'defined(CONFIG_X)' }",
            report: "s.json: In struct 'Thing':\n"
                + "s.json:1: 'if' condition 'defined(CONFIG_X)' of struct is not a valid identifier",
            strict: true
        ),
        Rejection(
            schema: "{ 'struct': 'S', 'data': {}, 'features': [ 'deprecated' ] }",
            report: "s.json: In struct 'S':\ns.json:1: feature 'deprecated' is not supported for types"
        ),
        Rejection(
            schema: "{ 'command': 'count', 'returns': 'int' }",
            report: "s.json: In command 'count':\ns.json:1: command's 'returns' cannot take built-in type 'int'",
            strict: true
        ),
        Rejection(
            schema: "{ 'command': 'go', 'data': { '*a': { 'type': 'int', 'if': 'CONFIG_A' } } }",
            report: "s.json: In command 'go':\ns.json:1: conditional command arguments require 'boxed': true"
        ),
        Rejection(
            schema: "{ 'command': 'go', 'data': { 'a': 'Missing' } }",
            report: "s.json: In command 'go':\ns.json:1: parameter 'a' uses unknown type 'Missing'"
        ),
        Rejection(
            schema: "{ 'struct': 'S', 'data': {}, 'bogus': true }",
            report: "s.json: In struct 'S':\ns.json:1: struct has unknown key 'bogus'\n"
                + "Valid keys are 'base', 'data', 'features', 'if', 'struct'."
        ),
        Rejection(
            schema: "{ 'struct': 'S', 'data': {} }\n{ 'enum': 'S', 'data': [] }",
            report: "s.json: In enum 'S':\ns.json:2: 'S' is already defined\ns.json: In struct 'S':\n"
                + "s.json:1: previous definition"
        ),
        Rejection(
            schema: "{ 'type': 'Old', 'data': {} }",
            report: "s.json:1: expression must have exactly one key"
                + " 'enum', 'struct', 'union', 'alternate', 'command', 'event'",
            strict: true
        ),
    ]

    @Test("A schema error is reported at the line its definition starts on", arguments: rejections)
    func rejected(_ rejection: Rejection) {
        #expect(qemuReport(rejection.schema, strict: rejection.strict) == rejection.report)
    }

    @Test("A rule older releases break refuses only when strict", arguments: rejections.filter(\.strict))
    func relaxed(_ rejection: Rejection) {
        #expect(qemuReports(rejection.schema).isEmpty)
    }

    @Test("A syntax error is reported at its line and column, a duplicate key where its value starts")
    func syntaxErrors() {
        #expect(qemuReport("{ 'struct': 'S' 'data': {} }", strict: true) == "s.json:1:17: expected ',' or '}'")
        #expect(
            qemuReport("{ 'struct': 'S',\n  'data': { 'a': 'int' }, }", strict: true) == "s.json:2:27: expected string"
        )
        #expect(qemuReport("{ 'struct': 'S', 'data': { 'a': nope } }") == "s.json:1:33: stray 'nope'")
        #expect(qemuReport("{ 'struct': 'S', 'data': { 'a': 'int } }") == "s.json:1:33: missing terminating \"'\"")
        #expect(qemuReport("{ 'struct': 'S', 'data': {}, 'data': {} }") == "s.json:1:38: duplicate key 'data'")
        // JSON's strings, which QEMU's parser never took, only strictly.
        #expect(
            qemuReport(#"{ 'enum': 'Mode', 'data': [ 'a\nb' ] }"#, strict: true) == #"s.json:1:29: unknown escape \n"#
        )
        #expect(
            qemuReport("{ 'enum': 'Mode', 'data': [ 'caf\u{E9}' ] }", strict: true)
                == "s.json:1:29: funny character in string"
        )
        #expect(qemuReport(#"{ 'enum': 'Mode', 'data': [ "a" ] }"#, strict: true) == #"s.json:1:29: stray '"'"#)
        let strictParse = QAPIParser(options: .strict).parse(#"{ 'a': 'back\\slash' }"#, file: "s.json")
        #expect(strictParse.diagnostics.isEmpty)
        #expect(strictParse.expressions.first?["a"]?.stringValue == #"back\slash"#)
        #expect(QAPIParser().parse(#"{ 'a': "double" }"#, file: "s.json").diagnostics.isEmpty)
        #expect(
            qemuReport("{ 'struct': 'S', 'data': {} }\n'stray'") == "s.json:2: top-level expression must be an object"
        )
    }

    @Test("The exact place stays in the diagnostic; QEMU's place is its report")
    func exactPlace() throws {
        let schema = QAPISchema.load(
            files: ["s.json": "{ 'enum': 'MyEnum',\n  'data': [ 'one-two', 'one_two' ] }"],
            entryFile: "s.json"
        )
        let diagnostic = try #require(schema.diagnostics.first)
        #expect(diagnostic.description == "s.json:2:24: value 'one_two' collides with value 'one-two'")
        #expect(diagnostic.reportedLocation == QAPIReportedLocation(file: "s.json", line: 1))
        #expect(diagnostic.definition == "enum 'MyEnum'")
    }

    @Test("An error in an included file names the includes that led there")
    func includeChain() {
        let files = [
            "main.json": "{ 'include': 'sub/middle.json' }",
            "sub/middle.json": "\n{ 'include': 'leaf.json' }",
            "sub/leaf.json": "{ 'struct': 'Fine', 'data': {} }\n{ 'struct': '*oops', 'data': {} }",
        ]
        #expect(
            QAPISchema.load(files: files, entryFile: "main.json").diagnostics.map(\.qemuDescription) == [
                """
                In file included from main.json:1:
                In file included from sub/middle.json:2:
                sub/leaf.json: In struct '*oops':
                sub/leaf.json:2: struct has an invalid name
                """
            ]
        )
    }
}

@Suite("Schemas QEMU's generator accepts, accepted")
struct QEMUAcceptanceTests {
    @Test("A union whose enum has values but no branch of its own, and an alternate of one branch")
    func emptyUnionAndSingleAlternate() {
        let text = """
            { 'enum': 'Kind', 'data': [ 'a', 'b' ] }
            { 'union': 'Choice', 'base': { 'type': 'Kind' }, 'discriminator': 'type', 'data': {} }
            { 'alternate': 'Alt', 'data': { 'only': 'int' } }
            """
        #expect(qemuReports(text, strict: true) == [])
    }

    @Test("Prefixed names, values starting with a digit, and the names the pragmas allow")
    func namesQEMUAllows() {
        let text = """
            { 'pragma': { 'command-name-exceptions': [ 'old_name' ], 'member-name-exceptions': [ 'Legacy' ],
                          'command-returns-exceptions': [ 'count' ] } }
            { 'enum': 'Mode', 'data': [ '1st', '640x480', 'x-test', '__com.example_value' ] }
            { 'struct': 'Legacy', 'data': { 'CamelCase': 'int', 'snake_case': 'int' } }
            { 'command': 'old_name' }
            { 'command': 'x-experimental' }
            { 'command': '__com.example_vendor-command', 'data': { 'x-member': 'str' } }
            { 'event': '__COM.EXAMPLE_VENDOR_EVENT' }
            { 'event': 'X-EXPERIMENTAL' }
            { 'command': 'count', 'returns': 'int' }
            { 'struct': 'Conditional', 'data': {},
              'if': { 'any': [ 'CONFIG_A', { 'not': { 'all': [ 'CONFIG_B', 'CONFIG_C' ] } } ] } }
            """
        #expect(qemuReports(text, strict: true) == [])
    }
}

@Suite("QEMU's own schemas against QEMU's current rules")
struct ReleaseRulesTests {
    @Test("6.2 and later pass every rule strictly; older ones break only the relaxed rules, which are named")
    func releasesAgainstStrictRules() throws {
        let directory = TestData.schemasDirectory.path
        _ = try SchemaCache.releases()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        let versions = names.compactMap { name in QEMUVersion(name).map { (name, $0) } }.sorted { $0.1 < $1.1 }
        #expect(versions.count == 43)
        var broken: Set<QAPIRelaxedRule> = []
        for (name, version) in versions {
            let root = directory + "/" + name
            let entry = try #require(QAPISchemaKind.qmp.entryFile(in: root))
            // The lenient parser, so that a missing comma of 1.x does not hide what follows it.
            let schema = QAPISchema.resolve(QAPISchemaSource.load(directory: root, entryFile: entry), strict: true)
            let unexcused = schema.diagnostics.filter { $0.relaxedRule == nil }
            #expect(unexcused.isEmpty, "\(name): \(unexcused.prefix(3).map(\.qemuDescription))")
            broken.formUnion(schema.diagnostics.compactMap(\.relaxedRule))
            if version >= QEMUVersion(6, 2) {
                #expect(
                    QAPISchema.load(directory: root, entryFile: entry, strict: true).diagnostics.isEmpty,
                    "\(name) breaks a rule of QEMU's current generator"
                )
            }
        }
        // Each relaxed rule is there because some release breaks it.
        #expect(broken == Set(QAPIRelaxedRule.allCases))
    }
}
