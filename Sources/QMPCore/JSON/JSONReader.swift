import NIOCore

/// Reads a stream of JSON values the way QEMU's QMP monitor does.
///
/// QMP has no framing besides JSON itself: a message ends where its top-level value closes.
/// Messages may follow each other directly (`{"a":1}{"b":2}`), be separated by CRLF, or be
/// pretty-printed over many lines. Feed bytes as they arrive and ask for values:
///
/// ```swift
/// var reader = JSONReader()
/// reader.feed(chunk)
/// while true {
///     do {
///         guard let value = try reader.next() else { break }  // needs more input
///         handle(value)
///     } catch {
///         report(error)  // one error per failed message; the reader has resynchronised
///     }
/// }
/// ```
///
/// The reader accepts exactly QEMU's dialect and reports errors the way QEMU does, message by
/// message (``JSONReaderError/qemuDescription`` is QEMU's own text):
/// - After a lexical error the reader skips input up to a structural character (`[ ] { } : ,`),
///   an ASCII control character other than tab, or a byte 0xFE/0xFF, and reads on from the
///   top level. The rest of a broken message can then produce more errors (a lone `}` is
///   "expecting value") or even values: a cascade, as in QEMU. A later well-formed message is
///   always read.
/// - A message ends when its braces and brackets balance, or as soon as either count goes
///   negative (a stray `}` is a message of its own).
/// - A top-level number or keyword ends at the first byte that cannot continue it, so `17` at
///   the very end of the input is not complete until another byte arrives (QEMU needs that
///   byte too) or ``finish()`` says the input has ended.
///
/// Limits, from ``Configuration``:
/// - depth: open braces plus open brackets; `maximumDepth` nested containers are fine, one more
///   is an error.
/// - size: a message may span at most `maximumMessageSize` bytes, counted from the first byte of
///   its first token through its last byte, whitespace inside it included. The check is made
///   as bytes arrive, so the buffer never holds more than the limit plus one fed chunk. (QEMU
///   counts token bytes only; counting all bytes is what bounds memory.)
/// - tokens: a message that is still open after more than `maximumTokenCount` tokens is an
///   error (as in QEMU, the token that completes a message is not held against it).
/// After a limit error the message's tokens are dropped and reading goes on from the top level.
///
/// Values: integers as ``JSONValue/int(_:)`` when they fit `Int64`, else ``JSONValue/uint(_:)``
/// when non-negative and within `UInt64`, else ``JSONValue/double(_:)``; numbers with a fraction
/// or exponent as doubles (a number beyond `Double`'s range becomes ±infinity, as with QEMU's
/// `strtod`). Strings must be UTF-8 without surrogates and noncharacters; U+0000 may be written
/// `\u0000` or, in QEMU's modified UTF-8, as the bytes C0 80. Duplicate keys are an error; keys
/// are compared by their bytes, as QEMU compares them, so a key written in two Unicode
/// normalisations ("é" as U+00E9 and as "e" + U+0301) is two keys, not a duplicate.
///
/// Speed: a message that is already complete in the buffer is parsed in one pass straight from
/// the buffer; the byte-by-byte scanner only runs for messages that arrive in pieces or are
/// malformed.
public struct JSONReader: Sendable {
    /// The reader's limits and the dialect it accepts.
    public struct Configuration: Sendable, Hashable {
        /// Maximum number of nested arrays and objects (QEMU: 1024).
        public var maximumDepth: Int
        /// Maximum size of one message in bytes (QEMU: 64 MiB).
        public var maximumMessageSize: Int
        /// Maximum number of tokens in one message (QEMU: 2 Mi).
        public var maximumTokenCount: Int
        /// Whether `'single-quoted'` strings are accepted. QEMU's parser takes them, so a server
        /// that stands in for QEMU should too; a client reading QEMU's output never needs them.
        public var acceptsSingleQuotedStrings: Bool
        /// Whether the numbers QEMU writes but JSON has no words for are read: `inf`, `-inf`,
        /// `nan` and `-nan` (QEMU echoes the id `1e999` as `inf`). QEMU's own parser refuses them,
        /// so a server that stands in for QEMU should too.
        public var acceptsNonFiniteNumbers: Bool

        /// Limits of your own; the defaults are QEMU's.
        public init(
            maximumDepth: Int = 1024,
            maximumMessageSize: Int = 64 * 1024 * 1024,
            maximumTokenCount: Int = 2 * 1024 * 1024,
            acceptsSingleQuotedStrings: Bool = false,
            acceptsNonFiniteNumbers: Bool = true
        ) {
            precondition(maximumDepth >= 0, "maximumDepth must not be negative")
            precondition(maximumMessageSize > 0, "maximumMessageSize must be positive")
            precondition(maximumTokenCount > 0, "maximumTokenCount must be positive")
            self.maximumDepth = maximumDepth
            self.maximumMessageSize = maximumMessageSize
            self.maximumTokenCount = maximumTokenCount
            self.acceptsSingleQuotedStrings = acceptsSingleQuotedStrings
            self.acceptsNonFiniteNumbers = acceptsNonFiniteNumbers
        }

        /// QEMU's limits; double-quoted strings only, and the non-finite numbers QEMU writes.
        public static var client: Configuration { Configuration() }
        /// QEMU's limits and QEMU's own parser: single-quoted strings accepted, non-finite
        /// numbers refused.
        public static var server: Configuration {
            Configuration(acceptsSingleQuotedStrings: true, acceptsNonFiniteNumbers: false)
        }
    }

    /// The limits this reader enforces.
    public let configuration: Configuration

    /// Fed bytes; those before `readIndex` are consumed and get discarded on a later feed.
    var storage: [UInt8] = []
    var readIndex = 0
    /// Stream offset of `storage[0]`.
    var storageOffset = 0
    var scanner = ScannerState()
    var inputEnded = false

    /// A reader with nothing fed yet.
    public init(configuration: Configuration = .client) {
        self.configuration = configuration
    }

    /// Bytes buffered but not yet returned as values or errors. Bounded by the message size
    /// limit plus one fed chunk, as long as ``next()`` is called until it returns `nil` after
    /// each feed.
    public var bufferedByteCount: Int { storage.count - readIndex }

    /// Bytes of a message that has begun but not ended (whitespace between messages is none):
    /// what an input ending now cuts off. Meaningful after ``next()`` has returned `nil`.
    public var incompleteMessageByteCount: Int {
        guard scanner.active else { return 0 }
        let start = scanner.messageStart >= 0 ? scanner.messageStart : scanner.tokenStart
        return max(0, storage.count - start)
    }

    /// The bytes the reader's buffer occupies, consumed and unused space included: what it costs
    /// in memory, for a server that budgets what its clients' input holds.
    public var bufferCapacity: Int { storage.capacity }

    // MARK: Feeding

    /// Appends bytes from the stream; read the values they complete with ``next()``.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        compact()
        inputEnded = false
        if storage.isEmpty, let array = bytes as? [UInt8] {
            storage = array  // shares the caller's buffer instead of copying it
            return
        }
        if bytes.withContiguousStorageIfAvailable({ storage.append(contentsOf: $0) }) != nil {
            return
        }
        if let raw = bytes as? UnsafeRawBufferPointer {
            storage.append(contentsOf: raw)
            return
        }
        storage.append(contentsOf: bytes)
    }

    /// Appends a buffer's readable bytes from the stream; read the values they complete with ``next()``.
    public mutating func feed(_ buffer: ByteBuffer) {
        compact()
        inputEnded = false
        buffer.withUnsafeReadableBytes { storage.append(contentsOf: $0) }
    }

    /// Drops consumed bytes once they are at least half of the buffer (amortised O(1)).
    private mutating func compact() {
        guard readIndex > 0 else { return }
        if readIndex == storage.count {
            storage.removeAll(keepingCapacity: storage.capacity <= 1 << 20)
        } else if readIndex >= 4096 && readIndex >= storage.count / 2 {
            storage.removeSubrange(0..<readIndex)
        } else {
            return
        }
        let shift = readIndex
        storageOffset += shift
        readIndex = 0
        scanner.shift(by: shift)
    }

    // MARK: Reading

    /// The next complete top-level value, or `nil` when more input is needed.
    ///
    /// Throws one ``JSONReaderError`` per failed message; the reader has already
    /// resynchronised, so call again.
    public mutating func next() throws(JSONReaderError) -> JSONValue? {
        if !scanner.active && readIndex == storage.count { return nil }
        let bytes = storage
        let outcome = bytes.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { return step(base, end: buffer.count) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1) { empty in
                step(UnsafePointer(empty.baseAddress!), end: 0)
            }
        }
        switch outcome {
        case .value(let value): return value
        case .error(let error): throw error
        case .needMore: return nil
        }
    }

    /// Tells the reader that the input has ended, and returns what remains, like ``next()``:
    /// a last top-level number or keyword that was waiting for a delimiter is complete now, and
    /// a message cut off by the end of the input is an error (QEMU: "premature EOI", or a
    /// "stray" error for a cut-off string). Call it until it returns `nil`. Feeding more input
    /// afterwards starts reading again as if the input had not ended.
    public mutating func finish() throws(JSONReaderError) -> JSONValue? {
        inputEnded = true
        return try next()
    }

    enum Outcome {
        case value(JSONValue)
        case error(JSONReaderError)
        case needMore
    }

    private mutating func step(_ base: UnsafePointer<UInt8>, end: Int) -> Outcome {
        while true {
            if !scanner.active {
                var start = readIndex
                while start < end, Self.isWhitespace(base[start]) { start += 1 }
                readIndex = start
                if start == end { return .needMore }
                // An object or array can only be complete if the buffer ends with a closing
                // bracket; otherwise the scanner follows it as it arrives, instead of parsing
                // the same prefix again and again.
                let first = base[start]
                if first == 0x7B || first == 0x5B {
                    var last = end - 1
                    while Self.isWhitespace(base[last]) { last -= 1 }
                    if base[last] != 0x7D && base[last] != 0x5D {
                        scanner.takeOver(at: start)
                        continue
                    }
                }
                // Fast path: parse straight from the buffer. Only input that QEMU reads the same
                // way gets through; everything else goes to the scanner.
                let parseEnd =
                    end - start > configuration.maximumMessageSize ? start + configuration.maximumMessageSize : end
                var parser = MessageParser(
                    base: base,
                    start: start,
                    end: parseEnd,
                    streamOffset: storageOffset,
                    bounded: false,
                    configuration: configuration
                )
                do {
                    let value = try parser.parseValue()
                    readIndex = parser.p
                    return .value(value)
                } catch {
                    // Incomplete or not plain: the scanner reads it from its start, byte by byte,
                    // with QEMU's exact rules.
                    scanner.takeOver(at: start)
                }
            }
            switch scan(base, end: end) {
            case .needMore:
                return .needMore
            case .error(let error):
                return .error(error)
            case .message(let start, let messageEnd):
                var parser = MessageParser(
                    base: base,
                    start: start,
                    end: messageEnd,
                    streamOffset: storageOffset,
                    bounded: true,
                    configuration: configuration
                )
                do throws(ParseStop) {
                    let value = try parser.parseValue()
                    return .value(value)
                } catch {
                    switch error {
                    case .failed(let error):
                        return .error(error)
                    case .fallback:
                        return .error(
                            .syntax(
                                qemuReason: "expecting value",
                                detail: "unreadable message",
                                offset: storageOffset + start
                            )
                        )
                    }
                }
            }
        }
    }

    @inline(__always)
    static func isWhitespace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09
    }
}

// MARK: - The scanner: QEMU's lexer and streamer, byte by byte

/// The lexer states of QEMU's JSON lexer that matter here.
enum LexState: UInt8 {
    case start, recovery
    case dqString, dqEscape, sqString, sqEscape
    case zero, digits, sign, mantissa, mantissaDigits, expE, expSign, expDigits
    case keyword

    /// States whose token is complete when a byte arrives that cannot continue it.
    var endsByLookahead: Bool {
        switch self {
        case .zero, .digits, .mantissaDigits, .expDigits, .keyword: true
        default: false
        }
    }

    /// Whether this state takes `c` into its token (or into an error token) instead of ending
    /// the token before it.
    func takes(_ c: UInt8) -> Bool {
        switch self {
        case .zero: return c &- 0x30 < 10 || c == 0x2E
        case .digits: return c &- 0x30 < 10 || c == 0x2E || c | 0x20 == 0x65
        case .mantissaDigits: return c &- 0x30 < 10 || c | 0x20 == 0x65
        case .expDigits: return c &- 0x30 < 10
        case .keyword: return c &- 0x61 < 26
        default: return true
        }
    }
}

struct ScannerState: Sendable {
    /// Whether the scanner owns the input; if not, the reader parses directly.
    var active = false
    var lex = LexState.start
    /// Next byte to look at (storage index).
    var position = 0
    /// Start of the token being lexed.
    var tokenStart = 0
    /// Start of the message being assembled, or -1.
    var messageStart = -1
    var braces = 0
    var brackets = 0
    var tokens = 0
    /// The token being lexed belongs to a message that was dropped for its size.
    var discarding = false

    mutating func takeOver(at position: Int) {
        active = true
        lex = .start
        self.position = position
        tokenStart = position
        resetMessage()
        discarding = false
    }

    mutating func shift(by amount: Int) {
        position -= amount
        tokenStart -= amount
        if messageStart >= 0 { messageStart -= amount }
    }

    @inline(__always)
    mutating func beginToken(at position: Int) {
        tokenStart = position
        if !discarding && messageStart < 0 { messageStart = position }
    }

    mutating func resetMessage() {
        messageStart = -1
        braces = 0
        brackets = 0
        tokens = 0
    }
}

extension JSONReader {
    enum ScanEvent {
        case needMore
        case message(start: Int, end: Int)
        case error(JSONReaderError)
    }

    enum TokenKind { case leftBrace, rightBrace, leftBracket, rightBracket, other }

    /// Runs QEMU's lexer and streamer from the saved state until a message is complete, an
    /// error occurs, or the input runs out.
    mutating func scan(_ base: UnsafePointer<UInt8>, end: Int) -> ScanEvent {
        var p = scanner.position
        var lex = scanner.lex
        let maximumSize = configuration.maximumMessageSize
        let singleQuotes = configuration.acceptsSingleQuotedStrings
        let nonFinite = configuration.acceptsNonFiniteNumbers
        defer {
            scanner.position = p
            scanner.lex = lex
            readIndex = scanner.messageStart >= 0 ? scanner.messageStart : p
            scanner.active = !(lex == .start && scanner.messageStart < 0 && !scanner.discarding)
        }

        while true {
            var limit = end
            if scanner.messageStart >= 0, end - scanner.messageStart > maximumSize {
                limit = scanner.messageStart + maximumSize
            }
            if p >= limit {
                if p >= end {
                    guard inputEnded else { return .needMore }
                    // End of input: QEMU's flush.
                    switch lex {
                    case .start:
                        scanner.discarding = false
                        if scanner.messageStart >= 0 {
                            let messageStart = scanner.messageStart
                            scanner.resetMessage()
                            return .message(start: messageStart, end: end)
                        }
                        return .needMore
                    case .recovery:
                        lex = .start
                        continue
                    case .zero, .digits, .mantissaDigits, .expDigits, .keyword:
                        lex = .start
                        if let event = acceptToken(.other, start: scanner.tokenStart, end: end) { return event }
                        continue
                    default:
                        lex = .recovery
                        if let event = strayToken(
                            base,
                            errorEnd: end,
                            offset: end,
                            detail: "the input ended inside a token"
                        ) {
                            return event
                        }
                        continue
                    }
                }
                // The byte at `limit` would make the message larger than allowed, unless it only
                // ends the current token by lookahead.
                if !(lex.endsByLookahead && !lex.takes(base[p])) {
                    let error = JSONReaderError.sizeLimit(maximumSize, offset: storageOffset + p)
                    scanner.resetMessage()
                    if lex != .start {
                        scanner.discarding = true  // finish lexing the token, then drop it
                    } else {
                        let c = base[p]
                        switch c {
                        case 0x20, 0x0A, 0x0D, 0x09, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C:
                            p += 1  // whitespace or a one-byte token of the dropped message
                        default:
                            scanner.discarding = true
                        }
                    }
                    return .error(error)
                }
            }

            switch lex {
            case .start:
                var c = base[p]
                while c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                    p += 1
                    if p == limit { break }
                    c = base[p]
                }
                if p == limit { continue }
                let kind: TokenKind
                switch c {
                case 0x7B: kind = .leftBrace
                case 0x7D: kind = .rightBrace
                case 0x5B: kind = .leftBracket
                case 0x5D: kind = .rightBracket
                case 0x3A, 0x2C: kind = .other
                case 0x22:
                    scanner.beginToken(at: p)
                    lex = .dqString
                    p &+= 1
                    continue
                case 0x27 where singleQuotes:
                    scanner.beginToken(at: p)
                    lex = .sqString
                    p &+= 1
                    continue
                case 0x30:
                    scanner.beginToken(at: p)
                    lex = .zero
                    p &+= 1
                    continue
                case 0x31...0x39:
                    scanner.beginToken(at: p)
                    lex = .digits
                    p &+= 1
                    continue
                case 0x2D:
                    scanner.beginToken(at: p)
                    lex = .sign
                    p &+= 1
                    continue
                case 0x61...0x7A:
                    scanner.beginToken(at: p)
                    lex = .keyword
                    p &+= 1
                    continue
                default:
                    scanner.tokenStart = p
                    lex = .recovery
                    p += 1
                    let detail: String
                    if c == 0x27 {
                        detail =
                            "unexpected \"'\": single-quoted strings are a QEMU extension this reader does not accept"
                    } else if c >= 0x41 && c <= 0x5A {
                        detail =
                            "unexpected \(JSONText.describeByte(c)); expected a value (true, false and null are lowercase) or a structural character"
                    } else {
                        detail =
                            "unexpected \(JSONText.describeByte(c)); expected a JSON value or a structural character"
                    }
                    if let event = strayToken(base, errorEnd: p, offset: p - 1, detail: detail) { return event }
                    continue
                }
                // A one-byte structural token.
                if scanner.discarding {
                    scanner.discarding = false
                    p += 1
                    continue
                }
                if scanner.messageStart < 0 { scanner.messageStart = p }
                p += 1
                if let event = acceptToken(kind, start: p - 1, end: p) { return event }

            case .recovery:
                while p < limit {
                    let c = base[p]
                    switch c {
                    case 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C, 0x00...0x08, 0x0A...0x1F, 0xFE, 0xFF:
                        lex = .start
                    default:
                        p += 1
                        continue
                    }
                    break
                }

            case .dqString, .sqString:
                let quote: UInt8 = lex == .dqString ? 0x22 : 0x27
                let quoteWord = UInt64(quote)
                while true {
                    while p &+ 8 <= limit {
                        let word = UInt64(littleEndian: UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self))
                        let mask = Self.scannerAttentionMask(word, quote: quoteWord)
                        if mask != 0 {
                            p &+= mask.trailingZeroBitCount &>> 3
                            break
                        }
                        p &+= 8
                    }
                    guard p < limit else { break }
                    let c = base[p]
                    if c == quote {
                        p += 1
                        lex = .start
                        if let event = acceptToken(.other, start: scanner.tokenStart, end: p) { return event }
                        break
                    }
                    if c == 0x5C {
                        p += 1
                        lex = lex == .dqString ? .dqEscape : .sqEscape
                        break
                    }
                    if c < 0x20 || c >= 0xFE {
                        lex = .recovery
                        p += 1
                        let detail =
                            c < 0x20
                            ? "unescaped \(JSONText.describeByte(c)) in a string (control characters must be written as escapes)"
                            : "byte 0x\(JSONText.hex(UInt32(c), width: 2)) in a string (it never occurs in UTF-8)"
                        if let event = strayToken(base, errorEnd: p, offset: p - 1, detail: detail) { return event }
                        break
                    }
                    p += 1
                }

            case .dqEscape, .sqEscape:
                let c = base[p]
                p += 1
                if c >= 0x20 && c <= 0xFD {
                    lex = lex == .dqEscape ? .dqString : .sqString
                } else {
                    lex = .recovery
                    if let event = strayToken(
                        base,
                        errorEnd: p,
                        offset: p - 1,
                        detail: "\(JSONText.describeByte(c)) after a backslash in a string"
                    ) {
                        return event
                    }
                }

            case .zero, .digits, .mantissaDigits, .expDigits:
                if lex != .zero {
                    while p < limit, base[p] &- 0x30 < 10 { p += 1 }
                }
                // At the end of the input, or at the size limit with a byte that continues the
                // token, the checks at the top of the loop decide.
                if p >= end || (p == limit && lex.takes(base[p])) { continue }
                let c = base[p]
                if lex.takes(c) {
                    p += 1
                    if c == 0x2E {
                        lex = .mantissa
                    } else if c | 0x20 == 0x65 {
                        lex = .expE
                    } else {  // a digit after a leading zero
                        lex = .recovery
                        if let event = strayToken(
                            base,
                            errorEnd: p,
                            offset: p - 1,
                            detail: "a number must not start with a leading zero"
                        ) {
                            return event
                        }
                    }
                } else {
                    lex = .start
                    if let event = acceptToken(.other, start: scanner.tokenStart, end: p) { return event }
                }

            case .keyword:
                while p < limit, base[p] &- 0x61 < 26 { p += 1 }
                if p >= end || (p == limit && lex.takes(base[p])) { continue }
                lex = .start
                if let event = acceptToken(.other, start: scanner.tokenStart, end: p) { return event }

            case .sign, .mantissa, .expE, .expSign:
                let c = base[p]
                p += 1
                let isDigit = c &- 0x30 < 10
                switch lex {
                case .sign where c == 0x30: lex = .zero
                case .sign where isDigit: lex = .digits
                // -inf and -nan; the parser decides whether the word is one of them.
                case .sign where nonFinite && (c == 0x69 || c == 0x6E): lex = .keyword
                case .mantissa where isDigit: lex = .mantissaDigits
                case .expE where c == 0x2B || c == 0x2D: lex = .expSign
                case .expE where isDigit, .expSign where isDigit: lex = .expDigits
                default:
                    let detail: String
                    switch lex {
                    case .sign: detail = "'-' must be followed by a digit"
                    case .mantissa: detail = "expected a digit after the decimal point"
                    default: detail = "expected a digit in the exponent"
                    }
                    lex = .recovery
                    if let event = strayToken(
                        base,
                        errorEnd: p,
                        offset: p - 1,
                        detail: "\(detail), found \(JSONText.describeByte(c))"
                    ) {
                        return event
                    }
                }
            }
        }
    }

    /// The streamer's view of a finished token: counts brackets, completes messages, enforces
    /// the token count and depth limits.
    @inline(__always)
    mutating func acceptToken(_ kind: TokenKind, start: Int, end tokenEnd: Int) -> ScanEvent? {
        if scanner.discarding {
            scanner.discarding = false
            return nil
        }
        switch kind {
        case .leftBrace: scanner.braces &+= 1
        case .rightBrace: scanner.braces &-= 1
        case .leftBracket: scanner.brackets &+= 1
        case .rightBracket: scanner.brackets &-= 1
        case .other: break
        }
        scanner.tokens &+= 1
        if scanner.braces <= 0 || scanner.brackets <= 0 {
            if scanner.braces < 0 || scanner.brackets < 0 || (scanner.braces == 0 && scanner.brackets == 0) {
                let messageStart = scanner.messageStart
                scanner.resetMessage()
                return .message(start: messageStart, end: tokenEnd)
            }
        }
        if scanner.tokens > configuration.maximumTokenCount {
            scanner.resetMessage()
            return .error(.tokenCountLimit(configuration.maximumTokenCount, offset: storageOffset + start))
        }
        if scanner.braces &+ scanner.brackets > configuration.maximumDepth {
            scanner.resetMessage()
            return .error(.depthLimit(configuration.maximumDepth, offset: storageOffset + start))
        }
        return nil
    }

    /// A lexical error whose token runs from the token start to `errorEnd` (exclusive); `nil`
    /// when the token belonged to a message already dropped for its size.
    mutating func strayToken(_ base: UnsafePointer<UInt8>, errorEnd: Int, offset: Int, detail: String) -> ScanEvent? {
        if scanner.discarding {
            scanner.discarding = false
            return nil
        }
        let token = UnsafeBufferPointer(start: base + scanner.tokenStart, count: errorEnd - scanner.tokenStart)
        let error = JSONReaderError.stray(token: token, detail: detail, offset: storageOffset + offset)
        scanner.resetMessage()
        return .error(error)
    }

    /// Marks the bytes that are the quote, a backslash, a control character, or 0xFE/0xFF; the
    /// lowest set bit is exactly the first of them.
    @inline(__always)
    static func scannerAttentionMask(_ word: UInt64, quote: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let q = word ^ (ones &* quote)
        let b = word ^ (ones &* 0x5C)
        let f = ~(word | ones)  // zero where the byte is 0xFE or 0xFF
        let hasQuote = (q &- ones) & ~q
        let hasBackslash = (b &- ones) & ~b
        let hasImpossible = (f &- ones) & ~f
        let hasControl = (word &- ones &* 0x20) & ~word
        return (hasQuote | hasBackslash | hasImpossible | hasControl) & highs
    }
}
