import Foundation
import QAPI
import QAPIGen
import QMPCore
import Testing

@Suite("Swift names for QAPI names")
struct NamingTests {
    @Test("type names are upper camel case, keeping the case inside words", arguments: [
        ("BlockdevOptions", "BlockdevOptions"), ("query-status", "QueryStatus"), ("x-query-usb", "XQueryUsb"),
        ("__com.redhat_drive-mirror", "ComRedhatDriveMirror"), ("q35", "Q35"), ("2d", "_2d"),
    ])
    func typeNames(qapi: String, swift: String) {
        #expect(SwiftNaming.typeName(qapi) == swift)
    }

    @Test("member names are lower camel case; keywords are escaped; digits get a leading underscore", arguments: [
        ("node-name", "nodeName"), ("x-perf", "xPerf"), ("default", "`default`"), ("protocol", "`protocol`"),
        ("1", "_1"), ("640x480", "_640x480"), ("Q35", "q35"), ("iopsRd", "iopsRd"), ("ACPI", "acpi"),
    ])
    func memberNames(qapi: String, swift: String) {
        #expect(SwiftNaming.memberName(qapi) == swift)
    }

    @Test("commands and events get their own suffixes")
    func commandsAndEvents() {
        #expect(SwiftNaming.commandTypeName("query-status") == "QueryStatusCommand")
        #expect(SwiftNaming.eventTypeName("BLOCK_JOB_COMPLETED") == "BlockJobCompletedEvent")
    }

    @Test("names that collide in one scope are told apart in schema order")
    func collisions() {
        #expect(SwiftNaming.uniqueMemberNames(["foo-bar", "foo_bar", "foo.bar"]) == ["fooBar", "fooBar_2", "fooBar_3"])
        #expect(SwiftNaming.uniqueMemberNames(["default", "default"]) == ["`default`", "`default_2`"])
    }
}

/// The reference schema, written for these tests, and the source generated from it, which is
/// committed in ReferenceSources/ and compiled into this test target.
@Suite("Generator reference output")
struct ReferenceTests {
    static let schema = """
        { 'enum': 'Color', 'data': [ 'red', 'dark-blue', '1st', 'default' ] }
        { 'struct': 'Paint',
          'data': { 'color': 'Color', '*coat-count': 'uint8', 'tags': ['str'], '*default': 'bool', 'x-gloss': 'number' } }
        { 'struct': 'Nothing', 'data': {} }
        """

    static let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("ReferenceSources/Paint.swift")

    @Test("generating the reference schema gives the committed source")
    func matchesReference() throws {
        let schema = QAPISchema.load(files: ["paint.json": Self.schema], entryFile: "paint.json")
        #expect(schema.diagnostics.isEmpty, "\(schema.diagnostics)")
        let (file, diagnostics) = Translator(schema: schema).translate(source: "paint.json")
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let rendered = SwiftRenderer().render(file)
        if ProcessInfo.processInfo.environment["RECORD_GENERATED"] != nil {
            try rendered.write(to: Self.reference, atomically: true, encoding: .utf8)
            Issue.record("wrote \(Self.reference.lastPathComponent); run again without RECORD_GENERATED")
            return
        }
        let committed = try String(contentsOf: Self.reference, encoding: .utf8)
        #expect(committed == rendered, "the generator's output differs from ReferenceSources/Paint.swift")
    }

    @Test("the generated types decode, skip unknown members, keep unknown enum values and omit nil members")
    func generatedTypesWork() throws {
        let paint = try Paint(json: ["color": "dark-blue", "tags": ["a"], "x-gloss": 1, "added-by-qemu-10": true])
        #expect(paint.color == .darkBlue)
        #expect(paint.coatCount == nil)
        #expect(paint.xGloss == 1)
        #expect(paint.json == ["color": "dark-blue", "tags": ["a"], "x-gloss": 1.0])
        let future = try Color(json: "ultraviolet")
        #expect(future == .unknown("ultraviolet"))
        #expect(future.json == "ultraviolet")
        #expect(try Color(json: "1st") == ._1st)
        let error = #expect(throws: QMPDecodingError.self) { try Paint(json: ["color": "red", "tags": [], "x-gloss": 1, "coat-count": 300], path: QMPPath(["return"])) }
        #expect(error?.description == "return.coat-count: 300 is out of range for UInt8")
        #expect(Paint(color: .red, coatCount: 2, tags: [], xGloss: 0.5).json["coat-count"] == 2)
        #expect(try Nothing(json: [:]).json == [:])
    }
}
