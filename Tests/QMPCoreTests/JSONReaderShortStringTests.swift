import QMPCore
import Testing

/// Short ASCII strings are made without the standard library's validation; these tests make
/// sure the strings are indistinguishable from ordinary ones, wherever they sit in the buffer.
@Suite("JSONReader: short strings")
struct JSONReaderShortStringTests {
    static let alphabet = Array("abcXYZ019 -_.:/~{}[],!#$%&()*+;<=>?@^`|".utf8)

    static func text(length: Int, offset: Int = 0) -> String {
        String(decoding: (0..<length).map { alphabet[($0 &* 7 &+ offset) % alphabet.count] }, as: UTF8.self)
    }

    /// Every split of `input` into two feeds gives `expected`.
    func expectAtEverySplit(_ input: [UInt8], _ expected: JSONValue, configuration: JSONReader.Configuration = .client)
    {
        for split in 0...input.count {
            let events = read(
                input,
                chunkSizes: [max(1, split), input.count],
                configuration: configuration,
                finish: true
            )
            #expect(events == [.value(expected)], "split at \(split)")
        }
    }

    @Test("strings of every length up to and past the inline limit read as ordinary strings")
    func everyLength() throws {
        for length in 0...20 {
            let key = Self.text(length: length)
            let value = Self.text(length: length, offset: 3)
            // At the end of the buffer the bytes are gathered one by one; in the middle, by words.
            for input in ["{\"\(key)\": \"\(value)\"}", "[{\"\(key)\": \"\(value)\"}, \"\(value)\", \"\(key)\"]"] {
                let read = try #require(onlyValue(bytes(input)))
                let object = try #require(read.objectValue ?? read.arrayValue?.first?.objectValue)
                let readKey = try #require(object.keys.first)
                let readValue = try #require(object[key]?.stringValue)
                for (made, expected) in [(readKey, key), (readValue, value)] {
                    #expect(made == expected)
                    #expect(made.utf8.count == expected.utf8.count)
                    #expect(Array(made.utf8) == Array(expected.utf8))
                    #expect(made.hashValue == expected.hashValue)
                    #expect(Set([made, expected]).count == 1)
                    #expect(made + "é" == expected + "é")
                    #expect(String(made.reversed()) == String(expected.reversed()))
                    #expect(made.hasPrefix(String(expected.prefix(length / 2))))
                }
            }
        }
    }

    @Test("short strings are right at every split of the input")
    func everySplit() {
        let input = bytes(
            "{\"a\": \"xy\", \"name\": \"query-status\", \"k\": [\"\", \"0123456789abcde\", \"0123456789abcdef\"]}"
        )
        let expected: JSONValue = [
            "a": "xy", "name": "query-status", "k": ["", "0123456789abcde", "0123456789abcdef"],
        ]
        expectAtEverySplit(input, expected)
    }

    @Test("escapes, non-ASCII text and surrogate pairs still take the careful path")
    func escapesAndUnicode() {
        let input = bytes(
            #"["a\"b", "\\", "\u0041", "\n\t", "é", "日本", "\ud83d\ude00", "😀", "x\u00e9", "\u0000", "abcdefghijklmné"]"#
        )
        let expected: JSONValue = ["a\"b", "\\", "A", "\n\t", "é", "日本", "😀", "😀", "xé", "\u{0}", "abcdefghijklmné"]
        #expect(onlyValue(input) == expected)
        expectAtEverySplit(input, expected)
        // Keys are their bytes, as in QEMU: a canonically equivalent spelling is another key.
        #expect(onlyValue(bytes(#"{"é": 1}"#))?["é"] == 1)
        #expect(onlyValue(bytes(#"{"é": 1}"#))?["e\u{301}"] == nil)
    }

    @Test("single-quoted short strings")
    func singleQuoted() {
        let input = bytes(#"{'execute': 'qmp_capabilities', 'id': 'a\'b'}"#)
        let expected: JSONValue = ["execute": "qmp_capabilities", "id": "a'b"]
        expectAtEverySplit(input, expected, configuration: .server)
    }

    @Test("deep nesting with short strings at every level")
    func deepNesting() {
        var text = ""
        for level in 0..<200 { text += "{\"k\(level % 10)\": [\"v\(level)\", " }
        text += "\"leaf\""
        for _ in 0..<200 { text += "]}" }
        var expected: JSONValue = "leaf"
        for level in (0..<200).reversed() { expected = ["k\(level % 10)": .array([.string("v\(level)"), expected])] }
        #expect(onlyValue(bytes(text)) == expected)
    }
}
