import QMPCore
import Testing

@Suite("JSONReader: finding where messages end")
struct JSONReaderFramingTests {
    @Test("A message ends where its top-level value closes, so messages may be back to back")
    func backToBack() {
        let events = readAllWays(bytes(#"{"a":1}{"b":2}[3]"c""#))
        #expect(events == [.value(["a": 1]), .value(["b": 2]), .value([3]), .value("c")])
    }

    @Test("Messages separated by CRLF are read one by one")
    func crlfSeparated() {
        let events = readAllWays(bytes("{\"return\": {}}\r\n{\"event\": \"STOP\"}\r\n"))
        #expect(events == [.value(["return": [:]]), .value(["event": "STOP"])])
    }

    @Test("A message pretty-printed by QEMU over CRLF lines, with its empty object, is one value")
    func qemuPrettyPrinted() {
        let text =
            "{\r\n    \"return\": {\r\n    },\r\n    \"id\": 1\r\n}\r\n"
            + "{\r\n    \"return\": [\r\n        {\r\n            \"name\": \"a\"\r\n        }\r\n    ]\r\n}\r\n"
        let events = readAllWays(bytes(text))
        #expect(events == [.value(["return": [:], "id": 1]), .value(["return": [["name": "a"]]])])
    }

    @Test("Whitespace between tokens may be space, tab, CR or LF")
    func whitespace() {
        let value = onlyValue(bytes(" \t\r\n[ 1 ,\t2\r,\n3 ] "))
        #expect(value == [1, 2, 3])
    }

    @Test("Top-level scalars are complete messages of their own")
    func topLevelScalars() {
        let events = readAllWays(bytes(#"17 "x" true false null -2.5 ["#), finish: false)
        #expect(events == [.value(17), .value("x"), .value(true), .value(false), .value(nil), .value(-2.5)])
    }

    @Test("A top-level number is complete only once a byte that cannot continue it arrives")
    func topLevelNumberNeedsDelimiter() throws {
        var reader = JSONReader()
        reader.feed(bytes("17"))
        #expect(try reader.next() == nil)
        reader.feed(bytes("5"))
        #expect(try reader.next() == nil)
        reader.feed(bytes("\n"))
        #expect(try reader.next() == 175)
        #expect(try reader.next() == nil)
    }

    @Test("A top-level keyword waits for a delimiter too, and a string does not")
    func topLevelKeywordAndString() throws {
        var reader = JSONReader()
        reader.feed(bytes("true"))
        #expect(try reader.next() == nil)
        reader.feed(bytes(#""s""#))
        #expect(try reader.next() == true)
        #expect(try reader.next() == "s")
    }

    @Test("finish() completes a number waiting for a delimiter at the end of the input")
    func finishCompletesNumber() throws {
        var reader = JSONReader()
        reader.feed(bytes("1 2 -3.5e2"))
        #expect(try reader.next() == 1)
        #expect(try reader.next() == 2)
        #expect(try reader.next() == nil)
        #expect(try reader.finish() == .double(-350))
        #expect(try reader.finish() == nil)
    }

    @Test("finish() reports a message cut off by the end of the input as QEMU's premature EOI")
    func finishReportsIncompleteMessage() {
        let events = readAllWays(bytes(#"{"execute": "stop"} {"execute": "#), finish: true)
        #expect(events.count == 2)
        #expect(events.first == .value(["execute": "stop"]))
        #expect(events.last?.qemuDescription == "JSON parse error, premature EOI")
        #expect(events.last?.error?.kind == .syntax)
    }

    @Test("finish() reports a string cut off by the end of the input as a stray token")
    func finishReportsIncompleteString() {
        let error = onlyError(bytes(#"["abc"#))
        #expect(error?.qemuDescription == #"JSON parse error, stray '"abc'"#)
        #expect(error?.kind == .lexical)
    }

    @Test("Feeding after finish() reads on as if the input had not ended")
    func feedingAfterFinish() throws {
        var reader = JSONReader()
        reader.feed(bytes("[1] 2"))
        #expect(try reader.finish() == [1])
        #expect(try reader.finish() == 2)
        #expect(try reader.finish() == nil)
        reader.feed(bytes(#"{"a": 3} 4"#))
        #expect(try reader.next() == ["a": 3])
        #expect(try reader.next() == nil)
        #expect(try reader.finish() == 4)
    }

    @Test("Without finish(), a cut-off message is simply not complete yet")
    func incompleteMessageWaits() throws {
        var reader = JSONReader()
        reader.feed(bytes(#"{"execute": "query-"#))
        #expect(try reader.next() == nil)
        reader.feed(bytes(#"status"}"#))
        #expect(try reader.next() == ["execute": "query-status"])
    }

    @Test("Values, errors and their offsets do not depend on how the input is split")
    func chunkingIndependence() {
        var input = bytes(#"{"execute":"qmp_capabilities"}"#)
        input += bytes("\r\n[1, 2, {\"a\": [true, null, \"x\\u00e9\"]}] 42 ")
        input += [0xFF] + bytes(#" {"b":'x'} "#) + bytes(#"{"c": 1,}"#) + [0x04]
        input += bytes("{\"d\": \"tab\there\"} {\"e\": 1e5, \"f\": -0.25E-3} [[[]]] nul ")
        let events = readAllWays(input, finish: true)
        #expect(
            events.compactMap(\.value) == [
                ["execute": "qmp_capabilities"], [1, 2, ["a": [true, nil, "xé"]]], 42,
                ["e": 100000.0, "f": -0.00025], [[[]]],
            ]
        )
        #expect(events.compactMap(\.error).count == 8)
    }

    @Test("bufferedByteCount counts the bytes not yet returned")
    func bufferedByteCount() throws {
        var reader = JSONReader()
        #expect(reader.bufferedByteCount == 0)
        reader.feed(bytes(#"{"a":1} {"b""#))
        #expect(reader.bufferedByteCount == 12)
        #expect(try reader.next() == ["a": 1])
        #expect(try reader.next() == nil)
        #expect(reader.bufferedByteCount == 4)
        reader.feed(bytes(":2}"))
        #expect(try reader.next() == ["b": 2])
        #expect(reader.bufferedByteCount == 0)
    }

    @Test("Consumed bytes are discarded, so a long stream does not grow the buffer")
    func bufferStaysSmall() throws {
        var reader = JSONReader()
        let message =
            bytes(#"{"event": "X", "data": {"n": 123456}, "timestamp": {"seconds": 1, "microseconds": 2}}"#) + [13, 10]
        for _ in 0..<10_000 {
            reader.feed(message)
            #expect(try reader.next() != nil)
            #expect(try reader.next() == nil)
            #expect(reader.bufferedByteCount == 0)
        }
    }

    @Test("Arrays, slices and raw buffers can all be fed")
    func feedingKinds() throws {
        var reader = JSONReader()
        let data = bytes(#"[1] [2] [3] "#)
        reader.feed(data[0..<4])
        bytes(#"[2] "#).withUnsafeBytes { reader.feed($0) }
        reader.feed(bytes("[3]").lazy.map { $0 })
        #expect(try reader.next() == [1])
        #expect(try reader.next() == [2])
        #expect(try reader.next() == [3])
    }

    @Test("Error offsets count from the first byte ever fed")
    func offsetsAreStreamOffsets() {
        var input: [UInt8] = []
        for _ in 0..<1000 { input += bytes(#"{"a": "0123456789"}"#) }
        let badOffset = input.count + 6
        input += bytes(#"{"a": x}"#)
        let events = readAllWays(input)
        #expect(events.count == 1001)
        #expect(events.last?.error?.offset == badOffset)
    }

    @Test("A message cut off by the end of the input is counted in bytes; whitespace between messages is not")
    func incompleteMessageByteCount() throws {
        var reader = JSONReader()
        reader.feed(bytes("{\"return\": {}}\r\n  "))
        #expect(try reader.next() == ["return": [:]])
        #expect(try reader.next() == nil)
        #expect(reader.incompleteMessageByteCount == 0)
        reader.feed(bytes("{\"return\": {\"qemu"))
        #expect(try reader.next() == nil)
        #expect(reader.incompleteMessageByteCount == 17)
        reader.feed(bytes("\": 7}}"))
        #expect(try reader.next() == ["return": ["qemu": 7]])
        #expect(reader.incompleteMessageByteCount == 0)
    }
}
