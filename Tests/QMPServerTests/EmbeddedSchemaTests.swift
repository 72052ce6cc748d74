import Foundation
import QAPI
import QMPCore
import SharedTestData
import Testing

@testable import QMPSimulator

/// The simulator carries QEMU 7.2's `query-qmp-schema` as generated source. This regenerates it
/// from ../shared/reference/qemu-7.2-schema.json and fails on any difference;
/// `RECORD_GENERATED=1` writes it anew (and fails, so that a recording is never a pass).
@Suite("Generated sources")
struct EmbeddedSchemaTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static func reference() throws -> URL {
        URL(fileURLWithPath: try SharedTestData.path("reference/qemu-7.2-schema.json"))
    }
    static let generated = packageRoot.appendingPathComponent(
        "Sources/QMPSimulator/Generated/QEMU72Introspection.swift"
    )

    static func render(_ entries: [JSONValue]) -> String {
        var text = """
            // Generated from ../shared/reference/qemu-7.2-schema.json by
            // RECORD_GENERATED=1 swift test --filter EmbeddedSchemaTests. Do not edit.
            //
            // QEMU 7.2's query-qmp-schema (x86_64, q35): names and types only, one entry a line.

            enum QEMU72Introspection {
                static let json = #\"\"\"
                [

            """
        for (index, entry) in entries.enumerated() {
            text += "    " + entry.serialized() + (index + 1 < entries.count ? "," : "") + "\n"
        }
        text += "    ]\n    \"\"\"#\n}\n"
        return text
    }

    @Test("the embedded 7.2 schema is what the reference regenerates to")
    func regenerates() throws {
        let text = try String(contentsOf: Self.reference(), encoding: .utf8)
        let entries = try #require(try JSONValue(parsing: text).arrayValue)
        let rendered = Self.render(entries)
        if ProcessInfo.processInfo.environment["RECORD_GENERATED"] != nil {
            try rendered.write(to: Self.generated, atomically: true, encoding: .utf8)
            Issue.record("wrote \(Self.generated.lastPathComponent); run again without RECORD_GENERATED")
            return
        }
        let committed = try String(contentsOf: Self.generated, encoding: .utf8)
        #expect(
            committed == rendered,
            "\(Self.generated.path) differs from what the reference generates; regenerate with RECORD_GENERATED=1"
        )
    }

    @Test("it decodes into the 1051 entries of QEMU 7.2")
    func decodes() throws {
        let introspection = try QAPIIntrospection(json: QEMU72Introspection.json)
        #expect(introspection.entries.count == 1051)
        #expect(introspection.commands.count == 216)
    }
}
