import QMPCore
import Testing

@Suite("JSONReader: numbers")
struct JSONReaderNumberTests {
    @Test("Integers that fit Int64 are .int, larger non-negative ones that fit UInt64 are .uint, the rest .double")
    func integerBoundaries() {
        let input =
            "[0, -0, 1, -1, 9223372036854775807, -9223372036854775808, 9223372036854775808, "
            + "18446744073709551615, 18446744073709551616, -9223372036854775809, 123456789012345678901234567890]"
        #expect(
            onlyValue(bytes(input))
                == .array([
                    .int(0), .int(0), .int(1), .int(-1), .int(Int64.max), .int(Int64.min), .uint(UInt64(Int64.max) + 1),
                    .uint(UInt64.max), .double(18_446_744_073_709_551_616.0), .double(-9_223_372_036_854_775_809.0),
                    .double(123_456_789_012_345_678_901_234_567_890.0),
                ])
        )
    }

    @Test("Fractions and exponents make doubles")
    func doubles() throws {
        let value = try #require(
            onlyValue(bytes("[0.5, -1.25e3, 1E+2, 2e-2, 0.0, -0.0, 0.1000000000000000055511151231257827, 1e400]"))
        )
        let numbers = try #require(value.arrayValue)
        #expect(
            Array(numbers.prefix(7)) == [
                .double(0.5), .double(-1250), .double(100), .double(0.02), .double(0), .double(-0.0), .double(0.1),
            ]
        )
        #expect(numbers[5].numberValue?.sign == .minus)
        // Like QEMU's strtod, a value beyond Double's range becomes infinity.
        #expect(numbers[7] == .double(.infinity))
    }

    @Test(
        "Malformed numbers are lexical errors, with the stray text QEMU prints",
        arguments: [
            ("012", "JSON parse error, stray '01'"),
            ("+1", "JSON parse error, stray '+'"),
            ("[1e]", "JSON parse error, stray '1e]'"),
            ("[-]", "JSON parse error, stray '-]'"),
            ("[1.]", "JSON parse error, stray '1.]'"),
            ("[1e+]", "JSON parse error, stray '1e+]'"),
            ("[-a]", "JSON parse error, stray '-a'"),
        ]
    )
    func malformedNumbers(input: String, qemuDescription: String) {
        let events = readAllWays(bytes(input), finish: true)
        #expect(events.first?.qemuDescription == qemuDescription)
        #expect(events.first?.error?.kind == .lexical)
    }

    @Test("A number without its exponent digits at the end of the input is a stray token")
    func cutOffExponent() {
        #expect(onlyError(bytes("1e"))?.qemuDescription == "JSON parse error, stray '1e'")
    }

    @Test("A lone leading dot is a stray character; the rest of the message cascades")
    func leadingDot() {
        #expect(
            readAllWays(bytes("[.5]")).map(\.qemuDescription) == [
                "JSON parse error, stray '.'", "JSON parse error, expecting value",
            ]
        )
    }

    @Test("A client reads the non-finite numbers QEMU writes: inf, -inf, nan and -nan")
    func nonFiniteNumbersFromQEMU() throws {
        // QEMU 7.2's reply to {"execute":"query-status","id":[1e999,-1e999]}.
        let reply = #"{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": [inf, -inf]}"#
        #expect(onlyValue(bytes(reply))?["id"] == [.double(.infinity), .double(-.infinity)])
        #expect(onlyValue(bytes("-inf")) == .double(-.infinity))
        let nan = try JSONValue(parsing: "[nan, -nan]").arrayValue ?? []
        #expect(nan.count == 2 && nan.allSatisfy { $0.numberValue?.isNaN == true })
        #expect(onlyError(bytes("[infinity]"))?.qemuDescription == "JSON parse error, invalid keyword 'infinity'")
        #expect(onlyError(bytes("[-in]"))?.qemuDescription == "JSON parse error, invalid keyword '-in'")
    }

    @Test("A server refuses them as QEMU's parser does")
    func nonFiniteNumbersToQEMU() {
        // QEMU 7.2's answers to the same bytes.
        #expect(
            onlyError(bytes("[inf]"), configuration: .server)?.qemuDescription
                == "JSON parse error, invalid keyword 'inf'"
        )
        #expect(
            readAllWays(bytes("[-nan]"), configuration: .server, finish: true).map(\.qemuDescription) == [
                "JSON parse error, stray '-n'", "JSON parse error, expecting value",
            ]
        )
    }

    @Test("As in QEMU's lexer, a lone zero takes no exponent: 0e5 is the number 0 and the keyword e")
    func zeroTakesNoExponent() {
        #expect(onlyError(bytes("[0e5]"))?.qemuDescription == "JSON parse error, expected separator in list")
        #expect(onlyValue(bytes("[0.0e5, 10e1]")) == [.double(0), .double(100)])
    }
}

@Suite("JSONReader: strings")
struct JSONReaderStringTests {
    @Test("Every escape is decoded, including QEMU's \\' extension")
    func escapes() {
        let input = bytes(#"["\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\'"]"#)
        #expect(onlyValue(input) == ["\"\\/\u{8}\u{C}\n\r\tAé€'"])
    }

    @Test("Escapes are decoded wherever they fall in a string")
    func escapesAtEveryPosition() {
        for length in 0..<40 {
            for position in 0...length {
                let plain = String(repeating: "x", count: length)
                let index = plain.index(plain.startIndex, offsetBy: position)
                let expected = plain[..<index] + "\n" + plain[index...]
                let json = "\"" + plain[..<index] + "\\n" + plain[index...] + "\""
                #expect(onlyValue(bytes(json)) == .string(String(expected)))
            }
        }
    }

    @Test("UTF-8 text of every length is read as it is")
    func utf8Text() {
        for text in [
            "", "é", "€uro", "😀", "日本語のテキスト", "mixed ASCII and 😀 and é, long enough for word-at-a-time scanning",
        ] {
            #expect(onlyValue(bytes(#"""# + text + #"""#)) == .string(text))
        }
        #expect(onlyValue(bytes("\"del \u{7F} ok\"")) == "del \u{7F} ok")
    }

    @Test("A raw control character in a string is a lexical error showing the token so far")
    func rawControlCharacter() {
        let error = onlyError(bytes("\"a\tb\""))
        #expect(error?.qemuDescription == "JSON parse error, stray '\"a\t'")
        #expect(error?.kind == .lexical)
        #expect(error?.offset == 2)
        #expect(
            onlyError(bytes("\"a") + [0x1F] + bytes("\""))?.qemuDescription == "JSON parse error, stray '\"a\u{1F}'"
        )
    }

    @Test("The bytes 0xFE and 0xFF are lexical errors even inside a string")
    func impossibleBytesInString() {
        #expect(
            onlyError(bytes("\"a") + [0xFE] + bytes("\""))?.qemuDescription == "JSON parse error, stray '\"a\u{FFFD}'"
        )
    }

    @Test("An unknown escape is an invalid escape sequence")
    func invalidEscape() {
        #expect(onlyError(bytes(#""\x41""#))?.qemuDescription == "JSON parse error, invalid escape sequence in string")
        #expect(onlyError(bytes(#""\a""#))?.qemuDescription == "JSON parse error, invalid escape sequence in string")
    }

    @Test("A surrogate pair is one character; a lone surrogate is rejected as QEMU does")
    func surrogates() {
        #expect(onlyValue(bytes(#""\uD83D\uDE00""#)) == "😀")
        #expect(onlyValue(bytes(#""\ud83d\ude00""#)) == "😀")
        #expect(
            onlyError(bytes(#""\ud83d""#))?.qemuDescription
                == #"JSON parse error, \ud83d is not a valid Unicode character"#
        )
        #expect(
            onlyError(bytes(#""\uD83D x""#))?.qemuDescription
                == #"JSON parse error, \uD83D is not a valid Unicode character"#
        )
        #expect(
            onlyError(bytes(#""\uDE00""#))?.qemuDescription
                == #"JSON parse error, \uDE00 is not a valid Unicode character"#
        )
        #expect(
            onlyError(bytes(#""\uD83D\u0041""#))?.qemuDescription
                == #"JSON parse error, \uD83D is not a valid Unicode character"#
        )
    }

    @Test("Noncharacters and malformed \\u escapes are not valid Unicode characters")
    func invalidUnicodeEscapes() {
        #expect(
            onlyError(bytes(#""\uFFFF""#))?.qemuDescription
                == #"JSON parse error, \uFFFF is not a valid Unicode character"#
        )
        #expect(
            onlyError(bytes(#""\uDBFF\uDFFF""#))?.qemuDescription
                == #"JSON parse error, \uDBFF\uDFFF is not a valid Unicode character"#
        )
        #expect(
            onlyError(bytes(#""\u12""#))?.qemuDescription
                == #"JSON parse error, \u12" is not a valid Unicode character"#
        )
        #expect(
            onlyError(bytes(#""\u12zz!""#))?.qemuDescription
                == #"JSON parse error, \u12zz is not a valid Unicode character"#
        )
    }

    @Test("U+0000 may be written as \\u0000 or in modified UTF-8 as C0 80")
    func nulCharacter() {
        #expect(onlyValue(bytes(#""a\u0000b""#)) == "a\u{0}b")
        #expect(onlyValue(bytes("\"a") + [0xC0, 0x80] + bytes("b\"")) == "a\u{0}b")
    }

    @Test(
        "Invalid UTF-8 in a string is rejected",
        arguments: [
            [0xC0, 0x81], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xC3, 0x28],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0x80], [0xBF], [0xEF, 0xBF, 0xBF],
            [0xEF, 0xB7, 0x90], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xF8, 0x88, 0x80, 0x80, 0x80],
        ] as [[UInt8]]
    )
    func invalidUTF8(sequence: [UInt8]) {
        let error = onlyError(bytes("[\"ok ") + sequence + bytes(" ok\"]"))
        #expect(error?.qemuDescription == "JSON parse error, invalid UTF-8 sequence in string")
        #expect(error?.kind == .syntax)
        #expect(error?.offset == 5)
    }

    @Test("Single-quoted strings are read only when the configuration accepts them")
    func singleQuotes() {
        let input = bytes(#"{'execute': 'it\'s "quoted"'}"#)
        #expect(onlyValue(input, configuration: .server) == ["execute": #"it's "quoted""#])
        let events = readAllWays(input, configuration: .client)
        #expect(events.first?.qemuDescription == "JSON parse error, stray '''")
        #expect(events.first?.error?.description.contains("single-quoted") == true)
    }

    @Test("The \\' escape is accepted in double-quoted strings on both sides")
    func escapedApostrophe() {
        #expect(onlyValue(bytes(#""it\'s""#), configuration: .client) == "it's")
        #expect(onlyValue(bytes(#""it\'s""#), configuration: .server) == "it's")
    }
}
