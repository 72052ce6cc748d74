// TEMPORARY: replaced by the real reader/writer. Minimal, for building the client meanwhile.
import NIOCore

public struct JSONReaderError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable { case syntax, lexical, depthLimit, sizeLimit, tokenCountLimit }
    public var kind: Kind
    public var qemuDescription: String
    public var description: String
    public var offset: Int
}

public struct JSONReader: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var maximumDepth = 1024
        public var maximumMessageSize = 64 << 20
        public var maximumTokenCount = 2 << 20
        public var acceptsSingleQuotedStrings = false
        public init() {}
        public static var client: Configuration { Configuration() }
        public static var server: Configuration { var c = Configuration(); c.acceptsSingleQuotedStrings = true; return c }
    }
    var buffer: [UInt8] = []
    var start = 0
    var scan = 0
    var depth = 0
    var inString = false
    var escape = false
    var started = false
    public init(configuration: Configuration = .client) {}
    public mutating func feed(_ bytes: some Sequence<UInt8>) { buffer.append(contentsOf: bytes) }
    public mutating func feed(_ b: ByteBuffer) { buffer.append(contentsOf: b.readableBytesView) }
    public var bufferedByteCount: Int { buffer.count - start }
    public mutating func next() throws(JSONReaderError) -> JSONValue? {
        while scan < buffer.count {
            let c = buffer[scan]; scan += 1
            if inString {
                if escape { escape = false } else if c == UInt8(ascii: "\\") { escape = true } else if c == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch c {
            case UInt8(ascii: "\""): inString = true; started = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; started = true
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 {
                    let slice = Array(buffer[start..<scan])
                    start = scan; started = false
                    if start > 4096 { buffer.removeFirst(start); scan -= start; start = 0 }
                    var p = MiniParser(bytes: slice)
                    guard let v = p.value() else { throw JSONReaderError(kind: .syntax, qemuDescription: "JSON parse error", description: "JSON parse error", offset: 0) }
                    return v
                }
            case 0x20, 0x0a, 0x0d, 0x09: if !started { start = scan }
            default:
                if c < 0x20 || c >= 0xfe { start = scan; depth = 0; started = false; throw JSONReaderError(kind: .lexical, qemuDescription: "JSON parse error, stray", description: "JSON parse error, stray byte \(c)", offset: scan) }
                started = true
            }
        }
        return nil
    }
}

struct MiniParser {
    var bytes: [UInt8]; var i = 0
    mutating func ws() { while i < bytes.count, [0x20, 0x0a, 0x0d, 0x09].contains(bytes[i]) { i += 1 } }
    mutating func value() -> JSONValue? {
        ws(); guard i < bytes.count else { return nil }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1; var o = JSONObject(); ws()
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            while true { ws(); guard case .string(let k)? = value() else { return nil }; ws(); guard bytes[i] == UInt8(ascii: ":") else { return nil }; i += 1
                guard let v = value() else { return nil }; o[k] = v; ws()
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }; if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }; return nil }
        case UInt8(ascii: "["):
            i += 1; var a: [JSONValue] = []; ws()
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            while true { guard let v = value() else { return nil }; a.append(v); ws()
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }; if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }; return nil }
        case UInt8(ascii: "\""):
            i += 1; var s: [UInt8] = []
            while bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\") { i += 1; let e = bytes[i]
                    switch e { case UInt8(ascii: "n"): s.append(10); case UInt8(ascii: "r"): s.append(13); case UInt8(ascii: "t"): s.append(9)
                    case UInt8(ascii: "u"): let h = String(decoding: bytes[(i+1)...(i+4)], as: UTF8.self); i += 4; s.append(contentsOf: Array(String(UnicodeScalar(UInt32(h, radix: 16)!) ?? "?").utf8))
                    default: s.append(e) }
                } else { s.append(bytes[i]) }
                i += 1 }
            i += 1; return .string(String(decoding: s, as: UTF8.self))
        case UInt8(ascii: "t"): i += 4; return .bool(true)
        case UInt8(ascii: "f"): i += 5; return .bool(false)
        case UInt8(ascii: "n"): i += 4; return .null
        default:
            let st = i; while i < bytes.count, "-+.eE0123456789".utf8.contains(bytes[i]) { i += 1 }
            let t = String(decoding: bytes[st..<i], as: UTF8.self)
            if let v = Int64(t) { return .int(v) }; if let v = UInt64(t) { return .uint(v) }; return Double(t).map { .double($0) }
        }
    }
}

public enum JSONWriter { public enum Style: Sendable, Hashable { case compact, qemu, pretty(indent: Int) } }

extension JSONValue {
    public func serialized(style: JSONWriter.Style = .compact) -> String { var b: [UInt8] = []; write(to: &b, style: style); return String(decoding: b, as: UTF8.self) }
    public func write(to out: inout [UInt8], style: JSONWriter.Style = .compact) {
        switch self {
        case .null: out += "null".utf8
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .int(let v): out += String(v).utf8
        case .uint(let v): out += String(v).utf8
        case .double(let v): out += "\(v)".utf8
        case .string(let s): out.append(34); for c in s.utf8 { if c == 34 || c == 92 { out.append(92) }; if c < 0x20 { out += "\\u00\(c < 16 ? "0" : "")\(String(c, radix: 16))".utf8 } else { out.append(c) } }; out.append(34)
        case .array(let a): out.append(91); for (n, v) in a.enumerated() { if n > 0 { out.append(44) }; v.write(to: &out, style: style) }; out.append(93)
        case .object(let o): out.append(123); for (n, m) in o.enumerated() { if n > 0 { out.append(44) }; JSONValue.string(m.key).write(to: &out, style: style); out.append(58); m.value.write(to: &out, style: style) }; out.append(125)
        }
    }
    public init(parsing text: String, configuration: JSONReader.Configuration = .client) throws(JSONReaderError) { var r = JSONReader(configuration: configuration); r.feed(Array(text.utf8) + [32]); guard let v = try r.next() else { throw JSONReaderError(kind: .syntax, qemuDescription: "", description: "incomplete", offset: 0) }; self = v }
}
