import Foundation
import QMPCore
import SharedTestData
import Testing

@Suite("JSONValue(parsing:)")
struct JSONValueParsingTests {
    @Test("It reads exactly one value, with whitespace around it")
    func oneValue() throws {
        #expect(try JSONValue(parsing: #" {"a": [1, "b"]} "# + "\r\n") == ["a": [1, "b"]])
        #expect(try JSONValue(parsing: Array("[true]".utf8)) == [true])
        #expect(try JSONValue(parsing: "[true]".utf8) == [true])
    }

    @Test("A top-level number at the very end of the input is complete")
    func trailingNumber() throws {
        #expect(try JSONValue(parsing: "42") == 42)
        #expect(try JSONValue(parsing: "-1.5e3") == .double(-1500))
        #expect(try JSONValue(parsing: "null") == nil)
    }

    @Test("Anything after the value is an error that points at it")
    func trailingGarbage() {
        let error = #expect(throws: JSONReaderError.self) { try JSONValue(parsing: #"{"a": 1} x"#) }
        #expect(error?.offset == 9)
        #expect(error?.qemuDescription == "Expecting at most one JSON value")
        #expect(error?.description.contains("after the JSON value") == true)
        #expect(throws: JSONReaderError.self) { try JSONValue(parsing: "1 2") }
        #expect(throws: JSONReaderError.self) { try JSONValue(parsing: "{}}") }
    }

    @Test("An incomplete value is an error")
    func incomplete() {
        let error = #expect(throws: JSONReaderError.self) { try JSONValue(parsing: #"{"a": [1, 2"#) }
        #expect(error?.qemuDescription == "JSON parse error, premature EOI")
        #expect(error?.description.contains("ended") == true)
        let string = #expect(throws: JSONReaderError.self) { try JSONValue(parsing: #""abc"#) }
        #expect(string?.kind == .lexical)
    }

    @Test("An empty input is an error")
    func empty() {
        let error = #expect(throws: JSONReaderError.self) { try JSONValue(parsing: " \r\n ") }
        #expect(error?.qemuDescription == "Expecting a JSON value")
    }

    @Test("Reader errors come through as they are")
    func readerErrors() {
        let error = #expect(throws: JSONReaderError.self) { try JSONValue(parsing: #"{"a": 1, "a": 2}"#) }
        #expect(error?.qemuDescription == "JSON parse error, duplicate key")
    }

    @Test("The configuration applies")
    func configuration() throws {
        #expect(try JSONValue(parsing: "'x'", configuration: .server) == "x")
        #expect(throws: JSONReaderError.self) { try JSONValue(parsing: "'x'", configuration: .client) }
        #expect(throws: JSONReaderError.self) {
            try JSONValue(parsing: "[[[]]]", configuration: .init(maximumDepth: 2))
        }
    }
}

@Suite("JSONReader on a real QEMU 7.2 schema")
struct JSONSchemaSampleTests {
    /// ../shared/reference/qemu-7.2-schema.json (279 KB, pretty-printed).
    static func schemaBytes() throws -> [UInt8] {
        // A missing ../shared is a failure, not a skip: CI always has it beside the clone.
        let path = try SharedTestData.path("reference/qemu-7.2-schema.json")
        return Array(try #require(FileManager.default.contents(atPath: path), "\(path) cannot be read"))
    }

    @Test("The schema reads the same whole, byte by byte and in random chunks")
    func wholeAndByteByByte() throws {
        let input = try Self.schemaBytes()
        let whole = read(input, chunkSizes: [input.count])
        let byteByByte = read(input, chunkSizes: [1])
        let chunked = read(input, chunkSizes: randomChunkSizes(count: 5000, seed: 7, maximum: 4096))
        try #require(whole.count == 1)
        #expect(byteByByte == whole)
        #expect(chunked == whole)
        let entries = try #require(whole[0].value?.arrayValue)
        #expect(entries.count > 1000)
        #expect(entries.first?["name"] == "query-status")
        #expect(entries.first?["meta-type"] == "command")
        #expect(entries.allSatisfy { $0["name"]?.stringValue != nil && $0["meta-type"]?.stringValue != nil })
    }

    @Test("The schema as QEMU sends it, wrapped in a reply, reads back to the same value")
    func qemuFormattedReply() throws {
        let schema = try JSONValue(parsing: try Self.schemaBytes())
        let reply: JSONValue = ["return": schema, "id": 1]
        var wire: [UInt8] = []
        reply.write(to: &wire, style: .qemu)
        wire += [0x0D, 0x0A]
        #expect(wire.allSatisfy { $0 < 0x80 })
        let events = read(wire + wire, chunkSizes: randomChunkSizes(count: 1000, seed: 3, maximum: 65536))
        #expect(events == [.value(reply), .value(reply)])
    }
}
