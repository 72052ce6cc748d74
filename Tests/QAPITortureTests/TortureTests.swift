import Foundation
import QAPI
import QAPIGen
import QMPCore
import Testing

/// torture.json reaches every construct of the schema language and the names that could
/// break generated Swift; Generated/Torture.swift is what qapi-swift makes of it. That file
/// compiles into this target, so the build itself proves it compiles without a warning; these
/// tests prove it is what the generator makes today, and that it works.
@Suite("The torture schema")
struct TortureTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let generated = directory.appendingPathComponent("Generated/Torture.swift")

    @Test("QEMU's rules accept it, strictly, and generating from it gives the committed source")
    func regenerates() throws {
        let schema = QAPISchema.load(directory: Self.directory.path, entryFile: "torture.json", strict: true)
        #expect(schema.diagnostics.isEmpty, "\(schema.diagnostics.map(\.qemuDescription))")
        let (file, diagnostics) = Translator(schema: schema).translate(source: "torture.json")
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let rendered = SwiftRenderer().render(file)
        let committed = try String(contentsOf: Self.generated, encoding: .utf8)
        #expect(
            committed == rendered,
            """
            Generated/Torture.swift is not what the generator makes of torture.json; regenerate with
            cd Tests/QAPITortureTests && swift run qapi-swift --schema torture.json --strict > Generated/Torture.swift
            """
        )
    }

    @Test("Enum values named like keywords, like Optional's cases and like the fallback keep their wire names")
    func awkwardEnumValues() throws {
        let wire: [(Keyword, JSONValue)] = [
            (.`self`, "self"), (.`default`, "default"), (.none_, "none"), (.some_, "some"), (.unknown_, "unknown"),
            (.rawValue_, "raw-value"), (.json_, "json"), (.`init`, "init"), (.type, "type"), (.`nil`, "nil"),
            (._1st, "1st"), (._640x480, "640x480"), (.xTest, "x-test"), (.orgExampleValue, "__org.example_value"),
        ]
        for (value, json) in wire {
            #expect(value.json == json)
            #expect(try Keyword(json: json) == value)
        }
        // The value called `unknown` is not a value this binding does not know.
        #expect(try Keyword(json: "unknown") != .unknown("unknown"))
        #expect(try Keyword(json: "from-qemu-99") == .unknown("from-qemu-99"))
        #expect(try Empty(json: "anything") == .unknown("anything"))
        #expect(try Legacy(json: "Self") == .`self`)
    }

    @Test("A struct with members named self, json, path, keywords and more round-trips")
    func awkwardMembers() throws {
        let awkward = Awkward(
            self: "s",
            self_2: 2,
            json_: "j",
            path: 3,
            object: "o",
            value: "v",
            arguments_: "a",
            branch_: "b",
            rawValue_: "r",
            default: "d",
            init: "i",
            type: "t",
            protocol: "p",
            none_: "n",
            some_: "s2",
            true: true,
            nil: nil,
            in: "in",
            return: "ret",
            newValue: "nv",
            super: "sup",
            is: "is",
            as: "as",
            xTest: "x",
            orgExampleMember: "org",
            u8: "u"
        )
        let json = awkward.json
        #expect(json.objectValue?["self"] == "s")
        #expect(json.objectValue?["Self"] == 2)
        #expect(json.objectValue?["json"] == "j")
        #expect(json.objectValue?["raw-value"] == "r")
        #expect(json.objectValue?["__org.example_member"] == "org")
        #expect(json.objectValue?["nil"] == nil)
        #expect(try Awkward(json: json) == awkward)
    }

    @Test("A command's arguments named like the command's own members are sent under their wire names")
    func awkwardArguments() throws {
        let command = AwkwardArgumentsCommand(
            arguments_: "a",
            json_: 1,
            self: true,
            name: "n",
            availability: "av",
            allowsOutOfBand: true
        )
        #expect(AwkwardArgumentsCommand.name == "awkward-arguments")
        #expect(
            command.arguments == [
                "arguments": "a", "json": 1, "self": true, "name": "n", "availability": "av",
                "allows-out-of-band": true,
            ]
        )
        // A command whose Swift name a struct of the schema already has gives way to it.
        #expect(QMPDoNothingCommand.name == "do-nothing")
        #expect(DoNothingCommand(why: "test").json == ["why": "test"])
        #expect(QMPBareEvent.name == "BARE")
        #expect(WithDataEvent.name == "WITH_DATA")
        let event = try WithDataEvent(json: ["self": "s", "json": 1, "name": "n"])
        #expect(event.`self` == "s" && event.json_ == 1 && event.name == "n")
    }

    @Test("A union without branches of its own keeps every member as sent")
    func emptyUnion() throws {
        let value = try EmptyUnion(json: ["choice": "two", "extra": 1])
        #expect(value.choice == .two)
        #expect(value.branch == .other(["extra": 1]))
        #expect(value.json == ["choice": "two", "extra": 1])
    }

    @Test("Union branches named other, unknown, self and branch are branches like any")
    func awkwardBranches() throws {
        let other = try Chosen(json: ["choice": "other", "first": 1])
        #expect(other.branch == .other_(One(first: 1)))
        let unknown = try Chosen(json: ["choice": "unknown", "shared": true, "branch": 4])
        #expect(unknown.branch == .unknown(Two(shared: true)))
        #expect(unknown.branch_ == 4)
        #expect(try Chosen(json: ["choice": "self"]).branch == .`self`(Nothing()))
        #expect(try KeywordTagged(json: ["default": "none", "first": 2]).branch == .none_(One(first: 2)))
        let nested = try Nested(json: ["layer": "outer", "choice": "one", "depth": 3, "first": 4])
        #expect(
            nested.branch
                == .outer(NestedInner(choice: .one, depth: 3, branch: .one(One(first: 4))))
        )
        #expect(nested.json == ["layer": "outer", "choice": "one", "depth": 3, "first": 4])
    }

    @Test("Alternates of a single branch and of every JSON kind pick their branch by kind")
    func alternates() throws {
        #expect(try JustOne(json: 5) == .only(5))
        #expect(throws: QMPDecodingError.self) { try JustOne(json: "five") }
        #expect(try JustString(json: "t") == .text("t"))
        #expect(try EveryKind(json: 1.5) == .number(1.5))
        #expect(try EveryKind(json: true) == .flag(true))
        #expect(try EveryKind(json: nil) == .nothing(nil))
        #expect(try EveryKind(json: [1, 2]) == .list([1, 2]))
        #expect(try EveryKind(json: "self") == .choice(.`self`))
        let tree: JSONValue = ["children": ["leaf", ["children": ["deeper"], "first": "x"]]]
        #expect(try SelfHolding(json: tree).json == tree)
    }

    @Test("Deeply nested and mutually recursive structs round-trip")
    func nesting() throws {
        let deep: JSONValue = [
            "deeper": ["deeper": ["deeper": ["deeper": ["bottom": [["bottom": []]]]]]]
        ]
        #expect(try Deep1(json: deep).json == deep)
        let tree = Tree(label: "root", left: Tree(label: "l"), right: Tree(label: "r", left: Tree(label: "rl")))
        #expect(try Tree(json: tree.json) == tree)
        let ping: JSONValue = ["pong": ["ping": ["pong": [:]]]]
        #expect(try Ping(json: ping).json == ping)
    }

    @Test("Types named like the Swift types the bindings use are renamed, not hidden")
    func reservedTypeNames() throws {
        #expect(try QAPIString(json: ["value": "v"]).value == "v")
        #expect(try QAPIOptional(json: "wrapped") == .wrapped)
        #expect(try QAPIJSONValue(json: "text") == .text("text"))
    }
}
