import QMPCore
import Testing

@Suite("JSONWriter")
struct JSONWriterTests {
    let sample: JSONValue = ["a": 1, "b": [true, nil], "c": ["d": "e"], "f": [], "g": [:]]

    @Test("Compact style has no whitespace and keeps member order")
    func compact() {
        #expect(sample.serialized() == #"{"a":1,"b":[true,null],"c":{"d":"e"},"f":[],"g":{}}"#)
        let reordered: JSONValue = .object(JSONObject([("z", 1), ("a", 2)]))
        #expect(reordered.serialized(style: .compact) == #"{"z":1,"a":2}"#)
    }

    @Test("QEMU style separates with \", \" and \": \" on one line")
    func qemuSeparators() {
        #expect(sample.serialized(style: .qemu) == #"{"a": 1, "b": [true, null], "c": {"d": "e"}, "f": [], "g": {}}"#)
    }

    @Test("Pretty style indents by the given width, one member per line")
    func pretty() {
        let expected = """
            {
              "a": 1,
              "b": [
                true,
                null
              ],
              "c": {
                "d": "e"
              },
              "f": [],
              "g": {}
            }
            """
        #expect(sample.serialized(style: .pretty(indent: 2)) == expected)
        #expect(JSONValue.array([1]).serialized(style: .pretty(indent: 4)) == "[\n    1\n]")
        #expect(JSONValue.string("x").serialized(style: .pretty(indent: 4)) == #""x""#)
    }

    @Test("Compact strings are UTF-8 with only the mandatory escapes")
    func compactEscapes() {
        let text: JSONValue = "q\" b\\ \u{8}\u{C}\n\r\t \u{1}\u{1F}\u{0} / é😀\u{7F}"
        #expect(text.serialized() == #""q\" b\\ \b\f\n\r\t \u0001\u001F\u0000 / é😀\#u{7F}""#)
    }

    @Test("QEMU strings are pure ASCII with uppercase \\u escapes and surrogate pairs")
    func qemuEscapes() {
        #expect(JSONValue.string("é😀\u{7f}").serialized(style: .qemu) == #""\u00E9\uD83D\uDE00\u007F""#)
        let text: JSONValue = "q\" b\\ \u{8}\u{C}\n\r\t \u{1}\u{1F}\u{0} / ~"
        #expect(text.serialized(style: .qemu) == #""q\" b\\ \b\f\n\r\t \u0001\u001F\u0000 / ~""#)
        #expect(JSONValue.string("日本").serialized(style: .qemu) == #""\u65E5\u672C""#)
    }

    @Test("QEMU doubles are printed like C's %.17g")
    func qemuDoubles() {
        let cases: [(Double, String)] = [
            (0.1, "0.10000000000000001"), (100.0, "100"), (-0.0, "-0"), (1e300, "1.0000000000000001e+300"),
            (0.5, "0.5"), (-2.5e-7, "-2.4999999999999999e-07"), (123456789012345680000.0, "1.2345678901234568e+20"),
        ]
        for (number, text) in cases {
            #expect(JSONValue.double(number).serialized(style: .qemu) == text)
        }
    }

    @Test("Compact doubles use the shortest text that reads back, and look like doubles")
    func compactDoubles() {
        let cases: [(Double, String)] = [
            (0.1, "0.1"), (100.0, "100.0"), (-0.0, "-0.0"), (1e300, "1e+300"), (1e-5, "1e-05"),
            (Double.leastNonzeroMagnitude, "5e-324"),
        ]
        for (number, text) in cases {
            #expect(JSONValue.double(number).serialized() == text)
            #expect(JSONValue.double(number).serialized(style: .pretty(indent: 2)) == text)
        }
    }

    @Test("Non-finite doubles are null in the JSON styles, and what QEMU prints in QEMU's")
    func nonFiniteDoubles() {
        for number in [Double.nan, .infinity, -.infinity] {
            for style in [JSONWriter.Style.compact, .pretty(indent: 2)] {
                #expect(JSONValue.double(number).serialized(style: style) == "null")
            }
        }
        // QEMU 7.2 echoes the id 1e999 as `inf` and -1e999 as `-inf`.
        #expect(JSONValue.double(.infinity).serialized(style: .qemu) == "inf")
        #expect(JSONValue.double(-.infinity).serialized(style: .qemu) == "-inf")
        #expect(JSONValue.double(.nan).serialized(style: .qemu) == "nan")
        let id: JSONValue = ["id": [.double(.infinity), .double(-.infinity)]]
        #expect(id.serialized(style: .qemu) == #"{"id": [inf, -inf]}"#)
    }

    @Test("Integers are exact at the 64-bit boundaries")
    func integers() {
        #expect(JSONValue.int(Int64.min).serialized() == "-9223372036854775808")
        #expect(JSONValue.int(Int64.max).serialized() == "9223372036854775807")
        #expect(JSONValue.uint(UInt64.max).serialized(style: .qemu) == "18446744073709551615")
        #expect(JSONValue.int(0).serialized() == "0")
        #expect(JSONValue.int(-7).serialized() == "-7")
    }

    @Test("write(to:) appends to existing bytes")
    func writeAppends() {
        var out = Array("prefix ".utf8)
        JSONValue.array([1, "x"]).write(to: &out, style: .qemu)
        #expect(String(decoding: out, as: UTF8.self) == #"prefix [1, "x"]"#)
    }

    @Test("What the writer writes, the reader reads back, in every style")
    func roundTrip() throws {
        let value: JSONValue = [
            "return": [
                "int": .int(Int64.min), "uint": .uint(UInt64.max), "double": 0.1,
                "tiny": .double(Double.leastNonzeroMagnitude), "huge": 1.7976931348623157e308,
                "negative": -2.5, "text": "é😀\u{7f}\u{0}\"\\/\n\t\u{1}日本", "empty": "",
                "list": [[], [:], nil, true, false],
            ],
            "id": "λ-1",
        ]
        for style in [JSONWriter.Style.compact, .qemu, .pretty(indent: 3)] {
            let text = value.serialized(style: style)
            #expect(try JSONValue(parsing: text) == value, "style \(style)")
        }
    }

    @Test("In QEMU style, a double with an integral value reads back as an integer, as with QEMU")
    func qemuIntegralDoubles() throws {
        #expect(try JSONValue(parsing: JSONValue.double(100).serialized(style: .qemu)) == .int(100))
        #expect(try JSONValue(parsing: JSONValue.double(100).serialized(style: .compact)) == .double(100))
        #expect(try JSONValue(parsing: JSONValue.double(-0.0).serialized(style: .qemu)) == .int(0))
        #expect(try JSONValue(parsing: JSONValue.double(-0.0).serialized(style: .compact)) == .double(-0.0))
    }

    @Test("Random values survive a round trip through every style")
    func randomRoundTrips() throws {
        var generator = SplitMix64(seed: 42)
        func randomValue(depth: Int) -> JSONValue {
            let pick = Int.random(in: 0..<(depth > 3 ? 6 : 8), using: &generator)
            switch pick {
            case 0: return nil
            case 1: return .bool(Bool.random(using: &generator))
            case 2: return JSONValue(integer: Int64.random(in: .min ... .max, using: &generator))
            case 3: return JSONValue(integer: UInt64.random(in: 0 ... .max, using: &generator))
            case 4:
                let number = Double(bitPattern: UInt64.random(in: 0 ... .max, using: &generator))
                return .double(number.isFinite && number.rounded() != number ? number : 0.5)
            case 5:
                let scalars = (0..<Int.random(in: 0..<12, using: &generator)).map { _ in
                    Unicode.Scalar(UInt32.random(in: 0..<0xD800, using: &generator))!
                }.filter { !($0.value >= 0xFDD0 && $0.value <= 0xFDEF) }
                return .string(String(String.UnicodeScalarView(scalars)))
            case 6:
                return .array((0..<Int.random(in: 0..<5, using: &generator)).map { _ in randomValue(depth: depth + 1) })
            default:
                var object = JSONObject()
                for index in 0..<Int.random(in: 0..<5, using: &generator) {
                    object["k\(index)-\(Int.random(in: 0..<1000, using: &generator))"] = randomValue(depth: depth + 1)
                }
                return .object(object)
            }
        }
        for _ in 0..<300 {
            let value = randomValue(depth: 0)
            for style in [JSONWriter.Style.compact, .qemu, .pretty(indent: 2)] {
                let text = value.serialized(style: style)
                #expect(try JSONValue(parsing: text) == value, "\(text)")
            }
        }
    }
}
