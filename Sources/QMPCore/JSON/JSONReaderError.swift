/// Why ``JSONReader`` rejected a message.
///
/// The reader reports one error per failed message and has already resynchronised when it
/// throws, so the caller simply asks for the next value again.
///
/// Two texts describe the problem:
/// - ``qemuDescription`` is exactly what QEMU's own JSON parser says for the same input
///   ("JSON parse error, stray '\u{FFFD}'", "JSON nesting depth limit exceeded", ...). A QMP
///   server answers a bad message with an error whose `desc` is this text.
/// - ``description`` is written for people: it says what was expected or which limit was hit,
///   and where in the stream (``offset``).
public struct JSONReaderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of problem the reader finds.
    public enum Kind: Sendable, Hashable {
        /// Well-formed tokens in an order JSON does not allow, a bad keyword, a bad escape or
        /// invalid UTF-8 inside a string, a duplicate key, or input that ended too early.
        case syntax
        /// A byte sequence that is no JSON token at all (QEMU's "stray" errors).
        case lexical
        /// More nested arrays and objects than ``JSONReader/Configuration/maximumDepth``.
        case depthLimit
        /// A message larger than ``JSONReader/Configuration/maximumMessageSize``.
        case sizeLimit
        /// A message with more tokens than ``JSONReader/Configuration/maximumTokenCount``.
        case tokenCountLimit
    }

    /// Which kind of problem it is.
    public var kind: Kind
    /// Exactly the text QEMU's JSON parser reports for this problem.
    public var qemuDescription: String
    /// A clear message for people, naming what was expected or the limit, and the offset.
    public var description: String
    /// Byte offset, counted from the first byte ever fed to the reader, where the problem was
    /// found.
    public var offset: Int

    /// An error of the given kind with both texts; the reader makes these.
    public init(kind: Kind, qemuDescription: String, description: String, offset: Int) {
        self.kind = kind
        self.qemuDescription = qemuDescription
        self.description = description
        self.offset = offset
    }
}

extension JSONReaderError {
    /// A syntax error; `qemuReason` follows QEMU's "JSON parse error, " prefix.
    static func syntax(qemuReason: String, detail: String, offset: Int) -> JSONReaderError {
        JSONReaderError(
            kind: .syntax,
            qemuDescription: "JSON parse error, \(qemuReason)",
            description: "JSON parse error: \(detail) (at byte offset \(offset))",
            offset: offset
        )
    }

    /// A lexical error. `token` is the text of the failed token including the offending byte,
    /// which QEMU prints as it is (it prints a C string, so the text stops at a NUL byte, and
    /// invalid UTF-8 reads as U+FFFD here).
    static func stray(token: UnsafeBufferPointer<UInt8>, detail: String, offset: Int) -> JSONReaderError {
        var text = token
        if let nul = token.firstIndex(of: 0) {
            text = UnsafeBufferPointer(rebasing: token[..<nul])
        }
        return JSONReaderError(
            kind: .lexical,
            qemuDescription: "JSON parse error, stray '\(String(decoding: text, as: UTF8.self))'",
            description: "JSON parse error: \(detail) (at byte offset \(offset))",
            offset: offset
        )
    }

    static func depthLimit(_ limit: Int, offset: Int) -> JSONReaderError {
        JSONReaderError(
            kind: .depthLimit,
            qemuDescription: "JSON nesting depth limit exceeded",
            description:
                "JSON nesting depth limit exceeded: more than \(limit) nested arrays/objects (at byte offset \(offset))",
            offset: offset
        )
    }

    static func sizeLimit(_ limit: Int, offset: Int) -> JSONReaderError {
        JSONReaderError(
            kind: .sizeLimit,
            qemuDescription: "JSON token size limit exceeded",
            description:
                "JSON message size limit exceeded: message larger than \(limit) bytes (at byte offset \(offset))",
            offset: offset
        )
    }

    static func tokenCountLimit(_ limit: Int, offset: Int) -> JSONReaderError {
        JSONReaderError(
            kind: .tokenCountLimit,
            qemuDescription: "JSON token count limit exceeded",
            description:
                "JSON token count limit exceeded: more than \(limit) tokens in one message (at byte offset \(offset))",
            offset: offset
        )
    }
}

// MARK: - Describing bytes and tokens for people

enum JSONText {
    /// "'x'" for a printable ASCII byte, else "byte 0xFF" / "control character U+0001".
    static func describeByte(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F {
            return "'\(Character(Unicode.Scalar(byte)))'"
        }
        if byte < 0x20 || byte == 0x7F {
            return "control character U+\(hex(UInt32(byte), width: 4))"
        }
        return "byte 0x\(hex(UInt32(byte), width: 2))"
    }

    /// What a token starting at `position` looks like, for "expected X, found Y" messages.
    static func describeToken(_ base: UnsafePointer<UInt8>, at position: Int, end: Int) -> String {
        guard position < end else { return "the end of the message" }
        let byte = base[position]
        switch byte {
        case 0x22, 0x27: return "a string"
        case 0x2D, 0x30...0x39: return "a number"
        case 0x61...0x7A:
            var end2 = position
            while end2 < end, base[end2] >= 0x61, base[end2] <= 0x7A { end2 += 1 }
            return
                "'\(String(decoding: UnsafeBufferPointer(start: base + position, count: end2 - position), as: UTF8.self))'"
        default: return describeByte(byte)
        }
    }

    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
