import QMPCore
import Testing

@Suite("JSONReader: recovering from bad input the way QEMU does")
struct JSONReaderRecoveryTests {
    let command = bytes(#"{"execute":"query-status","id":18}"#)
    let commandValue: JSONValue = ["execute": "query-status", "id": 18]

    @Test("Garbage before a valid command is one error, and the command is read")
    func garbageThenCommand() {
        let events = readAllWays(bytes("@@@ ") + command)
        #expect(events.count == 2)
        #expect(events.first?.qemuDescription == "JSON parse error, stray '@'")
        #expect(events.first?.error?.kind == .lexical)
        #expect(events.first?.error?.offset == 0)
        #expect(events.last == .value(commandValue))
    }

    @Test("A stray control character inside a command gives exactly QEMU's cascade of four events")
    func qemuCascade() throws {
        let input = bytes("{\"execute\":\"query-status\",") + [0x01] + bytes("\"id\":17}")
        let events = readAllWays(input)
        try #require(events.count == 4)
        // 1. The control character, shown as itself.
        #expect(events[0].qemuDescription == "JSON parse error, stray '\u{1}'")
        #expect(events[0].error?.kind == .lexical)
        #expect(events[0].error?.offset == 26)
        // 2. Recovery skips `"id"` and stops at the colon, which alone is no value.
        #expect(events[1].qemuDescription == "JSON parse error, expecting value")
        #expect(events[1].error?.offset == 31)
        // 3. `17` is a complete top-level value (QMP would then say it is not an object).
        #expect(events[2] == .value(17))
        // 4. The lone closing brace.
        #expect(events[3].qemuDescription == "JSON parse error, expecting value")
        #expect(events[3].error?.offset == 34)
    }

    @Test("A 0xFF byte inside a message drops that message, and the next object is read")
    func impossibleByteInsideMessage() {
        let input = bytes(#"{"execute": "#) + [0xFF] + bytes(" ") + command
        let events = readAllWays(input)
        #expect(
            events.map(\.description) == [
                "error JSON parse error, stray '\u{FFFD}' @12", "value \(commandValue.serialized())",
            ]
        )
    }

    @Test("A lone 0xFF or 0x04 between messages is one error each, and the next command reads")
    func resynchronisingBytes() {
        let first = bytes(#"{"execute":"stop"}"#)
        let input = first + [0xFF] + command + [0x04] + first + bytes("\r\n")
        let events = readAllWays(input)
        #expect(events.count == 5)
        #expect(events[0] == .value(["execute": "stop"]))
        #expect(events[1].qemuDescription == "JSON parse error, stray '\u{FFFD}'")
        #expect(events[2] == .value(commandValue))
        #expect(events[3].qemuDescription == "JSON parse error, stray '\u{4}'")
        #expect(events[4] == .value(["execute": "stop"]))
    }

    @Test("A UTF-8 byte order mark is a stray character, and the command after it still reads")
    func byteOrderMark() {
        let events = readAllWays([0xEF, 0xBB, 0xBF] + command)
        #expect(events.count == 2)
        #expect(events.first?.qemuDescription == "JSON parse error, stray '\u{FFFD}'")
        #expect(events.last == .value(commandValue))
    }

    @Test("A NUL byte is reported as QEMU prints it: the stray text stops at the NUL")
    func nulByte() {
        let events = readAllWays([0x00] + command)
        #expect(events.first?.qemuDescription == "JSON parse error, stray ''")
        #expect(events.last == .value(commandValue))
    }

    @Test("An uppercase keyword is a stray character and the rest of the word is skipped")
    func uppercaseKeyword() {
        let events = readAllWays(bytes("True ") + command)
        #expect(events.map(\.qemuDescription) == ["JSON parse error, stray 'T'", nil])
        #expect(events.last == .value(commandValue))
        #expect(events.first?.error?.description.contains("lowercase") == true)
    }

    @Test("A stray closing bracket or brace is a message of its own")
    func strayClosers() {
        let events = readAllWays(bytes("] } , :") + command)
        #expect(
            events.map(\.qemuDescription) == Array(repeating: "JSON parse error, expecting value", count: 4) + [nil]
        )
    }

    @Test("A message whose brace count goes negative ends there and is parsed")
    func unbalancedMessage() {
        let events = readAllWays(bytes(#"[1, 2}"#) + command)
        #expect(events.map(\.qemuDescription) == ["JSON parse error, expected separator in list", nil])
    }

    @Test("A control character inside a string is a lexical error and the rest of the message cascades")
    func controlCharacterInString() {
        let events = readAllWays(bytes("{\"a\": \"x\ty\"}") + command)
        #expect(
            events.map(\.qemuDescription) == [
                "JSON parse error, stray '\"x\t'", "JSON parse error, expecting value", nil,
            ]
        )
    }

    @Test("After arbitrary garbage, a control character resynchronises and the next command is read")
    func neverWedges() {
        let alphabet: [UInt8] =
            bytes(#"{}[]:,"'\ 0123456789-+.eEtrufalsn x"#) + [
                0x09, 0x0A, 0x0D, 0x00, 0x01, 0x7F, 0x80, 0xC3, 0xA9, 0xFE, 0xFF,
            ]
        for seed in UInt64(1)...150 {
            var generator = SplitMix64(seed: seed)
            let length = Int.random(in: 0...40, using: &generator)
            let garbage = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            for configuration in [JSONReader.Configuration.client, .server] {
                let events = readAllWays(garbage + [0x04] + command, configuration: configuration)
                #expect(events.last == .value(commandValue), "garbage \(garbage) did not resynchronise: \(events)")
            }
        }
    }

    @Test("Without a resynchronising byte, an unclosed bracket in garbage swallows the command, as in QEMU")
    func unclosedBracketSwallowsCommand() throws {
        var reader = JSONReader()
        reader.feed(bytes("[ ") + command)
        #expect(try reader.next() == nil)
        reader.feed([0xFF])
        #expect(throws: JSONReaderError.self) { try reader.next() }
        reader.feed(command)
        #expect(try reader.next() == commandValue)
    }
}
