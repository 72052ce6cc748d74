#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes ``JSONValue``s as JSON text.
///
/// Object members come out in the order the ``JSONObject`` holds them.
///
/// Non-finite doubles (NaN, ±infinity) have no JSON spelling. ``Style/compact`` and
/// ``Style/pretty(indent:)`` write them as `null` rather than produce invalid JSON;
/// ``Style/qemu`` writes what QEMU writes (`inf`, `-inf`, `nan`), because a client that sends
/// an id too large for a double gets `inf` back from QEMU.
public enum JSONWriter {
    /// How much whitespace and escaping the text gets.
    public enum Style: Sendable, Hashable {
        /// No whitespace at all: `{"a":1,"b":[true,null]}`. Strings are UTF-8 with only the
        /// mandatory escapes (`\"`, `\\`, `\b \f \n \r \t`, other control characters as
        /// `\u00XX`). Doubles use the shortest text that reads back as the same double, and
        /// always look like doubles (`100.0`, `1e-05`), so they read back as ``JSONValue/double(_:)``.
        case compact
        /// Exactly QEMU's own output: one line, `", "` between elements and `": "` after keys,
        /// pure-ASCII strings (`\"`, `\\`, `\b \f \n \r \t`, every other code point below 0x20
        /// or from 0x7F up as `\uXXXX` with uppercase hex, astral characters as surrogate
        /// pairs, `/` unescaped), and doubles as C's `%.17g` (`0.1` is
        /// `0.10000000000000001`, `100.0` is `100`, `-0.0` is `-0`, infinity is `inf`). A double
        /// with an integral value therefore reads back as an integer, as with QEMU.
        ///
        /// One difference: QEMU would print a noncharacter (U+FFFE, U+FDD0, ...) as `\uFFFD`;
        /// this writer keeps the code point (`\uFFFE`), so no data is silently replaced.
        case qemu
        /// For people: one member or element per line, indented by `indent` spaces per level,
        /// `": "` after keys, `\n` line ends; strings and numbers as in ``compact``; empty
        /// containers as `{}` and `[]`.
        case pretty(indent: Int)
    }

    static func write(_ value: JSONValue, to out: inout [UInt8], style: Style) {
        switch style {
        case .compact: writeValue(value, to: &out, mode: .compact, indent: 0, level: 0)
        case .qemu: writeValue(value, to: &out, mode: .qemu, indent: 0, level: 0)
        case .pretty(let indent): writeValue(value, to: &out, mode: .pretty, indent: max(0, indent), level: 0)
        }
    }

    private enum Mode { case compact, qemu, pretty }

    private static func writeValue(_ value: JSONValue, to out: inout [UInt8], mode: Mode, indent: Int, level: Int) {
        switch value {
        case .null:
            appendLiteral("null", to: &out)
        case .bool(let flag):
            appendLiteral(flag ? "true" : "false", to: &out)
        case .int(let number):
            writeInteger(number.magnitude, negative: number < 0, to: &out)
        case .uint(let number):
            writeInteger(number, negative: false, to: &out)
        case .double(let number):
            if mode == .qemu {
                writeQEMUDouble(number, to: &out)
            } else if !number.isFinite {
                appendLiteral("null", to: &out)
            } else {
                out.append(contentsOf: number.description.utf8)
            }
        case .string(let text):
            if mode == .qemu {
                writeASCIIString(text, to: &out)
            } else {
                writeUTF8String(text, to: &out)
            }
        case .array(let elements):
            guard !elements.isEmpty else {
                appendLiteral("[]", to: &out)
                return
            }
            out.append(0x5B)
            for (index, element) in elements.enumerated() {
                if index > 0 { writeSeparator(to: &out, mode: mode) }
                if mode == .pretty { newline(to: &out, indent: indent, level: level + 1) }
                writeValue(element, to: &out, mode: mode, indent: indent, level: level + 1)
            }
            if mode == .pretty { newline(to: &out, indent: indent, level: level) }
            out.append(0x5D)
        case .object(let object):
            guard !object.isEmpty else {
                appendLiteral("{}", to: &out)
                return
            }
            out.append(0x7B)
            for (index, member) in object.enumerated() {
                if index > 0 { writeSeparator(to: &out, mode: mode) }
                if mode == .pretty { newline(to: &out, indent: indent, level: level + 1) }
                if mode == .qemu {
                    writeASCIIString(member.key, to: &out)
                } else {
                    writeUTF8String(member.key, to: &out)
                }
                out.append(0x3A)
                if mode != .compact { out.append(0x20) }
                writeValue(member.value, to: &out, mode: mode, indent: indent, level: level + 1)
            }
            if mode == .pretty { newline(to: &out, indent: indent, level: level) }
            out.append(0x7D)
        }
    }

    @inline(__always)
    private static func writeSeparator(to out: inout [UInt8], mode: Mode) {
        out.append(0x2C)
        if mode == .qemu { out.append(0x20) }
    }

    private static func newline(to out: inout [UInt8], indent: Int, level: Int) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: indent * level))
    }

    @inline(__always)
    private static func appendLiteral(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private static func writeInteger(_ magnitude: UInt64, negative: Bool, to out: inout [UInt8]) {
        if negative { out.append(0x2D) }
        if magnitude < 10 {
            out.append(UInt8(truncatingIfNeeded: magnitude) &+ 0x30)
            return
        }
        let start = out.count
        var rest = magnitude
        repeat {
            let (quotient, remainder) = rest.quotientAndRemainder(dividingBy: 10)
            out.append(UInt8(truncatingIfNeeded: remainder) &+ 0x30)
            rest = quotient
        } while rest != 0
        out[start...].reverse()
    }

    /// C's `%.17g`, as QEMU prints doubles. Made locale-proof: a decimal comma becomes a point.
    private static func writeQEMUDouble(_ number: Double, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 48) { buffer in
            let length = withVaList([number]) { arguments in
                vsnprintf(buffer.baseAddress!, 48, "%.17g", arguments)
            }
            for i in 0..<Int(max(0, min(length, 47))) {
                let byte = UInt8(bitPattern: buffer[i])
                out.append(byte == 0x2C ? 0x2E : byte)
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    private static func appendUnicodeEscape(_ unit: UInt32, to out: inout [UInt8]) {
        out.append(0x5C)
        out.append(0x75)
        out.append(hexDigits[Int(unit >> 12 & 0xF)])
        out.append(hexDigits[Int(unit >> 8 & 0xF)])
        out.append(hexDigits[Int(unit >> 4 & 0xF)])
        out.append(hexDigits[Int(unit & 0xF)])
    }

    /// `\"`, `\\` and the short escapes, or nil when `byte` has none.
    @inline(__always)
    private static func shortEscape(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x22: 0x22
        case 0x5C: 0x5C
        case 0x08: 0x62
        case 0x0C: 0x66
        case 0x0A: 0x6E
        case 0x0D: 0x72
        case 0x09: 0x74
        default: nil
        }
    }

    private static func withUTF8<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = text
        copy.makeContiguousUTF8()
        return copy.utf8.withContiguousStorageIfAvailable(body)!
    }

    private static func writeUTF8String(_ text: String, to out: inout [UInt8]) {
        out.append(0x22)
        withUTF8(text) { bytes in
            var runStart = 0
            for i in 0..<bytes.count {
                let byte = bytes[i]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                if let escape = shortEscape(byte) {
                    out.append(0x5C)
                    out.append(escape)
                } else {
                    appendUnicodeEscape(UInt32(byte), to: &out)
                }
                runStart = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        out.append(0x22)
    }

    private static func writeASCIIString(_ text: String, to out: inout [UInt8]) {
        out.append(0x22)
        withUTF8(text) { bytes in
            var runStart = 0
            var i = 0
            while i < bytes.count {
                let byte = bytes[i]
                if byte >= 0x20 && byte < 0x7F && byte != 0x22 && byte != 0x5C {
                    i += 1
                    continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                if let escape = shortEscape(byte) {
                    out.append(0x5C)
                    out.append(escape)
                    i += 1
                } else if byte < 0x80 {
                    appendUnicodeEscape(UInt32(byte), to: &out)
                    i += 1
                } else {
                    // A String holds valid UTF-8, so the lead byte gives the length.
                    let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                    var scalar = UInt32(byte) & (length == 4 ? 0x07 : length == 3 ? 0x0F : 0x1F)
                    for k in 1..<length { scalar = scalar << 6 | UInt32(bytes[i + k] & 0x3F) }
                    if scalar > 0xFFFF {
                        let offset = scalar - 0x10000
                        appendUnicodeEscape(0xD800 + (offset >> 10), to: &out)
                        appendUnicodeEscape(0xDC00 + (offset & 0x3FF), to: &out)
                    } else {
                        appendUnicodeEscape(scalar, to: &out)
                    }
                    i += length
                }
                runStart = i
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        out.append(0x22)
    }
}

extension JSONValue {
    /// This value as JSON text in the given style.
    public func serialized(style: JSONWriter.Style = .compact) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128)
        JSONWriter.write(self, to: &bytes, style: style)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends this value as JSON text in the given style.
    public func write(to bytes: inout [UInt8], style: JSONWriter.Style = .compact) {
        JSONWriter.write(self, to: &bytes, style: style)
    }
}
