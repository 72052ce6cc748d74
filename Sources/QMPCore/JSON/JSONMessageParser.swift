// The recursive-descent half of the reader: turns the bytes of one message into a JSONValue.
//
// It runs in one of two modes:
// - optimistic: straight over whatever is buffered, before the incremental scanner has looked
//   at it. It accepts only input that QEMU would accept with the same value and the same
//   message boundary; anything else (input ending too early, a lexical problem, a limit, a
//   syntax error) stops it, and the reader hands the message to the scanner from its start.
// - bounded: over exactly one message that the scanner delimited and lexically checked. Here
//   every problem becomes QEMU's parser error for that message, and the end of the bytes is
//   the end of the token stream.
//
// The parser is iterative (an explicit stack of open containers), so deep nesting never
// threatens the thread's stack, and it moves finished values into their containers without
// copying or reference counting.

enum ParseStop: Error {
    /// Optimistic mode only: let the scanner decide what this input means.
    case fallback
    /// The error QEMU reports for this message.
    case failed(JSONReaderError)
}

/// A stack whose elements are moved in and moved out in bulk.
struct MoveStack<Element>: ~Copyable {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    @inline(__always)
    mutating func push(_ element: consuming Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: element)
        count += 1
    }

    private mutating func grow() {
        let newCapacity = capacity * 2
        let newBase = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Moves the elements from `start` to the top into a new array.
    mutating func popArray(from start: Int) -> [Element] {
        let n = count - start
        guard n > 0 else { return [] }
        // `reserveCapacity` + `append` is specialised here; `init(unsafeUninitializedCapacity:)`
        // goes through the runtime's generic metadata cache on every call.
        var result = [Element]()
        result.reserveCapacity(n)
        for i in start..<count {
            result.append((base + i).move())
        }
        count = start
        return result
    }

    @inline(__always)
    var top: UnsafeMutablePointer<Element> { base + (count - 1) }

    @inline(__always)
    mutating func removeLast() {
        count -= 1
        (base + count).deinitialize(count: 1)
    }

    /// Forgets the elements from `start` to the top after the caller moved them out.
    mutating func discardMoved(from start: Int) {
        count = start
    }
}

/// Remembers recently made short strings by their bytes. Messages repeat their keys and many
/// values ("name", "type", "int", ...), and a hit costs a hash and two compares instead of
/// validating and building a new String. Only strings of at most 15 bytes (Swift's small
/// strings) are kept, so an entry is 32 bytes and the table stays in the L1 cache.
struct StringCache {
    struct Entry {
        var low: UInt64
        /// Bytes 8..<15, and the length in the top byte.
        var high: UInt64
        var string: String
    }

    static let bits = 9
    static let maximumLength = 15
    private let entries: UnsafeMutablePointer<Entry>

    init() {
        entries = .allocate(capacity: 1 << Self.bits)
        entries.initialize(repeating: Entry(low: 0, high: 0, string: ""), count: 1 << Self.bits)
    }

    /// Releases the storage; the owner calls this exactly once.
    func free() {
        entries.deinitialize(count: 1 << Self.bits)
        entries.deallocate()
    }

    /// The string for `count` (at most 15) bytes at `start`; `available` bytes may be read from
    /// `start` without leaving the buffer.
    ///
    /// The bytes are gathered as in `SmallASCIIString.make`, on purpose twice: one shared
    /// `@inline(__always)` helper returning the two words made the whole reader about 40%
    /// slower (370 to 225 MB/s on the schema reply).
    @inline(__always)
    func string(_ start: UnsafePointer<UInt8>, count: Int, available: Int) -> String {
        var low: UInt64 = 0
        var high: UInt64 = 0
        if available >= 16 {
            let raw = UnsafeRawPointer(start)
            low = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
            high = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            if count < 8 {
                low &= (1 &<< UInt64(count &* 8)) &- 1
                high = 0
            } else {
                high &= (1 &<< UInt64((count &- 8) &* 8)) &- 1
            }
        } else {
            for i in 0..<count {
                if i < 8 {
                    low |= UInt64(start[i]) &<< UInt64(i &* 8)
                } else {
                    high |= UInt64(start[i]) &<< UInt64((i &- 8) &* 8)
                }
            }
        }
        high |= UInt64(count) &<< 56
        let hash = (low &* 0x9E37_79B9_7F4A_7C15) ^ (high &* 0xC2B2_AE3D_27D4_EB4F)
        let entry = entries + Int(truncatingIfNeeded: hash &>> UInt64(64 - Self.bits))
        if entry.pointee.low == low && entry.pointee.high == high {
            return entry.pointee.string
        }
        let string = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
        entry.pointee = Entry(low: low, high: high, string: string)
        return string
    }
}

/// Makes the `String` for 0 to 15 ASCII bytes without going through the standard library's
/// UTF-8 validation and small-string assembly, which cost more than the rest of reading such a
/// string (most keys and many values are this short).
///
/// On 64-bit platforms such a string is stored inline in the 16 bytes of `String` itself: the
/// bytes in order, and in the top byte a discriminator (immortal, small, ASCII) plus the count.
/// That layout is the standard library's, not a promise, so it is used only after checking,
/// once per process, that it produces bit for bit the strings `String(decoding:as:)` makes for
/// every length; otherwise ``isAvailable`` is false and the parser takes the ordinary path.
enum SmallASCIIString {
    static let maximumLength = 15

    static let isAvailable: Bool = {
        guard MemoryLayout<String>.size == 16, MemoryLayout<(UInt64, UInt64)>.size == 16 else { return false }
        let sample = Array("~Az 09:-_.{}[]a".utf8) + [0x20]
        for count in 0...maximumLength {
            let expected = String(decoding: sample[0..<count], as: UTF8.self)
            let expectedBits = unsafeBitCast(expected, to: (UInt64, UInt64).self)
            // Both ways of gathering the bytes: whole words, and byte by byte near the end.
            for available in [sample.count, count] {
                let made = sample.withUnsafeBufferPointer { make($0.baseAddress!, count: count, available: available) }
                guard unsafeBitCast(made, to: (UInt64, UInt64).self) == expectedBits, made == expected,
                    made.utf8.count == count, made.utf8.elementsEqual(sample[0..<count])
                else { return false }
            }
        }
        return true
    }()

    /// The string for `count` (at most 15) ASCII bytes at `start`; `available` bytes may be read
    /// from `start` without leaving the buffer.
    @inline(__always)
    static func make(_ start: UnsafePointer<UInt8>, count: Int, available: Int) -> String {
        var low: UInt64 = 0
        var high: UInt64 = 0
        if available >= 16 {
            let raw = UnsafeRawPointer(start)
            low = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
            high = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            if count < 8 {
                low &= (1 &<< UInt64(count &* 8)) &- 1
                high = 0
            } else {
                high &= (1 &<< UInt64((count &- 8) &* 8)) &- 1
            }
        } else {
            for i in 0..<count {
                if i < 8 {
                    low |= UInt64(start[i]) &<< UInt64(i &* 8)
                } else {
                    high |= UInt64(start[i]) &<< UInt64((i &- 8) &* 8)
                }
            }
        }
        // Immortal, small, ASCII (0xE0), and the count.
        high |= (0xE0 | UInt64(count)) &<< 56
        return unsafeBitCast((low, high), to: String.self)
    }
}

/// The member buffer being filled at each nesting depth of one message.
///
/// Each buffer is held unmanaged (one reference, released in `deinit`), so that putting an
/// object into it costs exactly the one retain the object itself keeps; a plain optional
/// reference cost a retain and a release more per object, about 3% of reading the schema reply.
struct ObjectBuffers: ~Copyable {
    private var buffers: UnsafeMutablePointer<Unmanaged<JSONObjectStorage>?>
    private var depths: Int

    init() {
        // Deep enough for nearly every message, so one allocation is all most parsers make.
        depths = 8
        buffers = .allocate(capacity: depths)
        buffers.initialize(repeating: nil, count: depths)
    }

    deinit {
        for depth in 0..<depths {
            buffers[depth]?.release()
        }
        buffers.deallocate()
    }

    /// The object at `depth` whose `count` keys and values are moved out of `keys` and `values`
    /// into the depth's buffer. A message's first buffer at a depth holds just the first object,
    /// as most messages have one object per depth; later ones double up to
    /// ``JSONObjectStorage/sharedCapacity`` members. A larger object gets a buffer of its own.
    @inline(__always)
    mutating func object(
        depth: Int,
        count: Int,
        movingKeys keys: UnsafeMutablePointer<String>,
        values: UnsafeMutablePointer<JSONValue>
    ) -> JSONObject {
        if count > JSONObjectStorage.sharedCapacity {
            // A buffer of its own, leaving the depth's shared buffer to the objects after it.
            let storage = JSONObjectStorage.make(capacity: count)
            Self.move(count: count, keys: keys, values: values, into: storage)
            return JSONObject(storage: storage, offset: 0, count: count)
        }
        var buffer = depth < depths ? buffers[depth] : nil
        if buffer == nil || buffer.unsafelyUnwrapped._withUnsafeGuaranteedRef({ $0.headerPointer.pointee.room }) < count
        {
            buffer = replace(depth: depth, room: count)
        }
        return buffer.unsafelyUnwrapped._withUnsafeGuaranteedRef { storage in
            let offset = storage.headerPointer.pointee.used
            Self.move(count: count, keys: keys, values: values, into: storage)
            return JSONObject(storage: storage, offset: offset, count: count)
        }
    }

    /// Moves `count` keys and values into `storage` after the members it has.
    @inline(__always)
    private static func move(
        count: Int,
        keys: UnsafeMutablePointer<String>,
        values: UnsafeMutablePointer<JSONValue>,
        into storage: JSONObjectStorage
    ) {
        let header = storage.headerPointer
        let target = storage.elements + header.pointee.used
        for i in 0..<count {
            (target + i).initialize(to: JSONObject.Member(key: (keys + i).move(), value: (values + i).move()))
        }
        header.pointee.used += count
    }

    private mutating func replace(depth: Int, room: Int) -> Unmanaged<JSONObjectStorage> {
        if depth >= depths {
            let newDepths = Swift.max(depth + 1, depths * 2)
            let grown = UnsafeMutablePointer<Unmanaged<JSONObjectStorage>?>.allocate(capacity: newDepths)
            grown.moveInitialize(from: buffers, count: depths)
            (grown + depths).initialize(repeating: nil, count: newDepths - depths)
            buffers.deallocate()
            buffers = grown
            depths = newDepths
        }
        let previous = buffers[depth]?._withUnsafeGuaranteedRef { $0.headerPointer.pointee.capacity } ?? 0
        let capacity = Swift.max(room, Swift.min(previous * 2, JSONObjectStorage.sharedCapacity))
        let fresh = Unmanaged.passRetained(JSONObjectStorage.make(capacity: capacity))
        buffers[depth]?.release()
        buffers[depth] = fresh
        return fresh
    }
}

struct MessageParser: ~Copyable {
    struct Frame {
        enum Kind { case array, object, badKey }
        var kind: Kind
        var valueStart: Int
        var keyStart: Int
        /// Index into `keySets` once the object has many members, else -1.
        var keySet: Int
        /// Where the key of the member being read starts (for "duplicate key").
        var keyOffset: Int
    }

    let base: UnsafePointer<UInt8>
    let end: Int
    /// Stream offset of `base[0]`, for error offsets.
    let streamOffset: Int
    let bounded: Bool
    let singleQuotes: Bool
    let nonFinite: Bool
    let maximumDepth: Int
    let maximumTokens: Int

    var p: Int
    /// Tokens completed so far, counted only when the message could hold more tokens than the
    /// limit allows (each token takes at least one byte).
    private var tokens = 0
    private let countsTokens: Bool
    private(set) var frames = MoveStack<Frame>(capacity: 16)
    private var values = MoveStack<JSONValue>(capacity: 16)
    private var keys = MoveStack<String>(capacity: 16)
    private var keySets: [Set<UTF8Key>] = []
    private var objectBuffers = ObjectBuffers()
    private var scratch: [UInt8] = []
    /// Only large messages get a string cache (once this many bytes of the message are read);
    /// it would cost small ones more than it saves.
    private var cache: StringCache?
    private let start: Int
    static let cacheThreshold = 4096
    /// Whether short ASCII strings can be made directly (``SmallASCIIString``).
    private let makesSmallStrings: Bool

    /// Objects with at least this many members detect duplicate keys with a hash set.
    private static let keySetThreshold = 12

    init(
        base: UnsafePointer<UInt8>,
        start: Int,
        end: Int,
        streamOffset: Int,
        bounded: Bool,
        configuration: JSONReader.Configuration
    ) {
        self.base = base
        self.end = end
        self.streamOffset = streamOffset
        self.bounded = bounded
        self.singleQuotes = configuration.acceptsSingleQuotedStrings
        self.nonFinite = configuration.acceptsNonFiniteNumbers
        // The scanner has enforced the limits on a bounded message already.
        self.maximumDepth = bounded ? Int.max : configuration.maximumDepth
        self.maximumTokens = bounded ? Int.max : configuration.maximumTokenCount
        self.p = start
        self.countsTokens = !bounded && end - start > configuration.maximumTokenCount
        self.start = start
        self.cache = nil
        self.makesSmallStrings = SmallASCIIString.isAvailable
    }

    deinit {
        cache?.free()
    }

    // MARK: Values

    mutating func parseValue() throws(ParseStop) -> JSONValue {
        nextValue: while true {
            var value: JSONValue
            skipWhitespace()
            guard p < end else { throw endOfInput() }
            let c = base[p]
            switch c {
            case 0x7B:  // {
                try checkDepth()
                p &+= 1
                try tokenCompleted()
                frames.push(
                    Frame(kind: .object, valueStart: values.count, keyStart: keys.count, keySet: -1, keyOffset: p)
                )
                skipWhitespace()
                guard p < end else { throw endOfInput() }
                if base[p] == 0x7D {
                    p &+= 1
                    try tokenCompleted()
                    frames.removeLast()
                    value = .object(JSONObject())
                } else {
                    try parseMemberKey()
                    continue nextValue
                }
            case 0x5B:  // [
                try checkDepth()
                p &+= 1
                try tokenCompleted()
                frames.push(
                    Frame(kind: .array, valueStart: values.count, keyStart: keys.count, keySet: -1, keyOffset: 0)
                )
                skipWhitespace()
                guard p < end else { throw endOfInput() }
                if base[p] == 0x5D {
                    p &+= 1
                    try tokenCompleted()
                    frames.removeLast()
                    value = .array([])
                } else {
                    continue nextValue
                }
            case 0x22:
                value = .string(try parseString(quote: 0x22))
                try tokenCompleted()
            case 0x27 where singleQuotes:
                value = .string(try parseString(quote: 0x27))
                try tokenCompleted()
            case 0x2D, 0x30...0x39:
                value = try parseNumber()
                try tokenCompleted()
            case 0x61...0x7A:
                value = try parseKeyword()
                try tokenCompleted()
            case 0x7D, 0x5D, 0x3A, 0x2C:
                throw failure(
                    qemu: "expecting value",
                    detail: "expected a value, found \(JSONText.describeByte(c))",
                    at: p
                )
            default:
                throw lexicalProblem()
            }

            // A value is complete: put it into its container, closing containers as they end.
            while frames.count > 0 {
                let top = frames.top
                switch top.pointee.kind {
                case .object:
                    try checkDuplicateKey(frame: top)
                    values.push(consume value)
                    skipWhitespace()
                    guard p < end else { throw endOfInput() }
                    switch base[p] {
                    case 0x2C:
                        p &+= 1
                        try tokenCompleted()
                        try parseMemberKey()
                        continue nextValue
                    case 0x7D:
                        p &+= 1
                        try tokenCompleted()
                        value = .object(popObject(frame: top.pointee))
                        if top.pointee.keySet >= 0 { keySets.removeLast() }
                        frames.removeLast()
                    default:
                        throw failure(
                            qemu: "expected separator in dict",
                            detail:
                                "expected ',' or '}' after an object member, found \(JSONText.describeToken(base, at: p, end: end))",
                            at: p
                        )
                    }
                case .array:
                    values.push(consume value)
                    skipWhitespace()
                    guard p < end else { throw endOfInput() }
                    switch base[p] {
                    case 0x2C:
                        p &+= 1
                        try tokenCompleted()
                        continue nextValue
                    case 0x5D:
                        p &+= 1
                        try tokenCompleted()
                        value = .array(values.popArray(from: top.pointee.valueStart))
                        frames.removeLast()
                    default:
                        throw failure(
                            qemu: "expected separator in list",
                            detail:
                                "expected ',' or ']' after an array element, found \(JSONText.describeToken(base, at: p, end: end))",
                            at: p
                        )
                    }
                case .badKey:
                    // A complete value in key position that is not a string (QEMU parses it
                    // first, so errors inside it win).
                    throw failure(
                        qemu: "key is not a string in object",
                        detail: "an object key must be a string, found \(value.kindName)",
                        at: top.pointee.keyOffset
                    )
                }
            }
            return value
        }
    }

    /// Reads an object key and the colon after it; or, for a key that is not a string, pushes
    /// a `.badKey` frame so that the caller parses the key as a value and then reports it.
    private mutating func parseMemberKey() throws(ParseStop) {
        skipWhitespace()
        guard p < end else { throw endOfInput() }
        let keyOffset = p
        let c = base[p]
        guard c == 0x22 || (c == 0x27 && singleQuotes) else {
            guard bounded else { throw .fallback }
            frames.push(Frame(kind: .badKey, valueStart: 0, keyStart: 0, keySet: -1, keyOffset: keyOffset))
            return
        }
        let key = c == 0x22 ? try parseString(quote: 0x22) : try parseString(quote: 0x27)
        try tokenCompleted()
        frames.top.pointee.keyOffset = keyOffset
        keys.push(key)
        skipWhitespace()
        guard p < end else { throw endOfInput() }
        guard base[p] == 0x3A else {
            throw failure(
                qemu: "missing : in object pair",
                detail: "expected ':' after the object key, found \(JSONText.describeToken(base, at: p, end: end))",
                at: p
            )
        }
        p &+= 1
        try tokenCompleted()
    }

    /// QEMU checks for a duplicate key after it has parsed the member's value.
    @inline(__always)
    private mutating func checkDuplicateKey(frame: UnsafeMutablePointer<Frame>) throws(ParseStop) {
        let newest = keys.count - 1
        let existing = newest - frame.pointee.keyStart
        guard existing > 0 else { return }
        var duplicate = false
        if frame.pointee.keySet < 0 && existing < Self.keySetThreshold {
            let key = keys.base + newest
            var other = keys.base + frame.pointee.keyStart
            while other < key {
                if JSONObject.sameKey(other.pointee, key.pointee) {
                    duplicate = true
                    break
                }
                other += 1
            }
        } else {
            duplicate = checkDuplicateKeyWithSet(frame: frame)
        }
        if duplicate {
            throw failure(
                qemu: "duplicate key",
                detail: "duplicate key \"\(keys.base[newest])\" in object",
                at: frame.pointee.keyOffset
            )
        }
    }

    private mutating func checkDuplicateKeyWithSet(frame: UnsafeMutablePointer<Frame>) -> Bool {
        let newest = keys.count - 1
        if frame.pointee.keySet < 0 {
            var set = Set<UTF8Key>(minimumCapacity: 2 * Self.keySetThreshold)
            for i in frame.pointee.keyStart..<newest { set.insert(UTF8Key(keys.base[i])) }
            keySets.append(set)
            frame.pointee.keySet = keySets.count - 1
        }
        return !keySets[frame.pointee.keySet].insert(UTF8Key(keys.base[newest])).inserted
    }

    /// A key that equals another only with the same bytes (see `JSONObject.sameKey`).
    struct UTF8Key: Hashable {
        let text: String

        init(_ text: String) { self.text = text }

        static func == (lhs: UTF8Key, rhs: UTF8Key) -> Bool { JSONObject.sameKey(lhs.text, rhs.text) }

        // String's hash is equal for equal strings, so for equal bytes too.
        func hash(into hasher: inout Hasher) { hasher.combine(text) }
    }

    /// Moves the members of the object that `frame` describes into the shared member buffer of
    /// its depth (see ``JSONObject``). A buffer only ever holds objects of one depth, and an
    /// object's values only hold deeper objects, so buffers never reference each other in a
    /// cycle.
    private mutating func popObject(frame: Frame) -> JSONObject {
        let n = keys.count - frame.keyStart
        guard n > 0 else { return JSONObject() }
        let object = objectBuffers.object(
            depth: frames.count - 1,
            count: n,
            movingKeys: keys.base + frame.keyStart,
            values: values.base + frame.valueStart
        )
        keys.discardMoved(from: frame.keyStart)
        values.discardMoved(from: frame.valueStart)
        return object
    }

    // MARK: Tokens

    @inline(__always)
    private mutating func skipWhitespace() {
        var i = p
        while i < end {
            let c = base[i]
            // Space, tab, LF, CR: all at most 0x20, and picked out of a 64-bit mask.
            guard c <= 0x20, (UInt64(1) &<< UInt64(c)) & 0x1_0000_2600 != 0 else { break }
            i &+= 1
        }
        p = i
    }

    @inline(__always)
    private mutating func tokenCompleted() throws(ParseStop) {
        guard countsTokens else { return }
        guard tokens < maximumTokens else { throw .fallback }
        tokens &+= 1
    }

    @inline(__always)
    private func checkDepth() throws(ParseStop) {
        guard frames.count < maximumDepth else { throw .fallback }
    }

    private func endOfInput() -> ParseStop {
        guard bounded else { return .fallback }
        return failure(qemu: "premature EOI", detail: "the input ended inside a JSON value", at: end)
    }

    /// Something QEMU's lexer rejects. The scanner reports those before a bounded parse, so in
    /// bounded mode this is unreachable; report it sensibly all the same.
    private func lexicalProblem() -> ParseStop {
        guard bounded else { return .fallback }
        return failure(
            qemu: "expecting value",
            detail: "unexpected \(JSONText.describeByte(base[min(p, end - 1)]))",
            at: p
        )
    }

    private func failure(qemu: String, detail: String, at position: Int) -> ParseStop {
        .failed(.syntax(qemuReason: qemu, detail: detail, offset: streamOffset + position))
    }

    // MARK: Keywords and numbers

    private mutating func parseKeyword() throws(ParseStop) -> JSONValue {
        let start = p
        var q = p
        while q < end, base[q] >= 0x61, base[q] <= 0x7A { q += 1 }
        if q == end && !bounded { throw .fallback }  // the keyword may go on
        p = q
        switch q - start {
        case 3 where nonFinite:
            if let number = nonFiniteNumber(at: start) { return .double(number) }
        case 4:
            let word = UnsafeRawPointer(base + start).loadUnaligned(as: UInt32.self)
            if word == UInt32(littleEndian: 0x6575_7274) { return .bool(true) }  // "true"
            if word == UInt32(littleEndian: 0x6C6C_756E) { return .null }  // "null"
        case 5:
            let word = UnsafeRawPointer(base + start).loadUnaligned(as: UInt32.self)
            if word == UInt32(littleEndian: 0x736C_6166), base[start + 4] == 0x65 { return .bool(false) }  // "fals" "e"
        default:
            break
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: q - start), as: UTF8.self)
        throw failure(
            qemu: "invalid keyword '\(text)'",
            detail: "invalid keyword '\(text)'; expected true, false or null",
            at: start
        )
    }

    /// `inf` or `nan` in the three bytes at `start`, as C's printf writes them.
    private func nonFiniteNumber(at start: Int) -> Double? {
        switch (base[start], base[start + 1], base[start + 2]) {
        case (0x69, 0x6E, 0x66): .infinity  // "inf"
        case (0x6E, 0x61, 0x6E): .nan  // "nan"
        default: nil
        }
    }

    /// `-inf` or `-nan`, with `p` at the minus sign and a letter after it.
    private mutating func parseNegativeNonFinite() throws(ParseStop) -> JSONValue {
        let start = p
        var q = p + 1
        while q < end, base[q] >= 0x61, base[q] <= 0x7A { q += 1 }
        if q == end && !bounded { throw .fallback }  // the word may go on
        p = q
        if q - start == 4, let number = nonFiniteNumber(at: start + 1) {
            return .double(-number)
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: q - start), as: UTF8.self)
        throw failure(
            qemu: "invalid keyword '\(text)'",
            detail: "invalid keyword '\(text)'; expected a number, -inf or -nan",
            at: start
        )
    }

    @inline(__always)
    private static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    /// QEMU's number grammar: RFC 8259, except that a lone zero integer part cannot take an
    /// exponent (`0e5` lexes as `0` followed by the keyword `e5`... and fails).
    private mutating func parseNumber() throws(ParseStop) -> JSONValue {
        let start = p
        var q = p
        let negative = base[q] == 0x2D
        if negative {
            q &+= 1
            guard q < end else { throw incompleteToken() }
        }
        let integerStart = q
        if negative && nonFinite && (base[q] == 0x69 || base[q] == 0x6E) { return try parseNegativeNonFinite() }
        guard Self.isDigit(base[q]) else { throw lexicalProblem() }
        var isFloat = false
        if base[q] == 0x30 {
            q &+= 1
            if q < end {
                if Self.isDigit(base[q]) { throw lexicalProblem() }
                if base[q] == 0x2E { isFloat = true }
            }
        } else {
            q &+= 1
            while q < end, Self.isDigit(base[q]) { q += 1 }
            if q < end, base[q] == 0x2E { isFloat = true }
        }
        let integerEnd = q
        var hasExponentAllowed = integerEnd - integerStart > 1 || base[integerStart] != 0x30
        if isFloat {
            q += 1  // '.'
            guard q < end else { throw incompleteToken() }
            guard Self.isDigit(base[q]) else { throw lexicalProblem() }
            while q < end, Self.isDigit(base[q]) { q += 1 }
            hasExponentAllowed = true
        }
        if hasExponentAllowed, q < end, base[q] | 0x20 == 0x65 {  // e or E
            isFloat = true
            q &+= 1
            guard q < end else { throw incompleteToken() }
            if base[q] == 0x2B || base[q] == 0x2D {
                q &+= 1
                guard q < end else { throw incompleteToken() }
            }
            guard Self.isDigit(base[q]) else { throw lexicalProblem() }
            while q < end, Self.isDigit(base[q]) { q += 1 }
        }
        if q == end && !bounded { throw .fallback }  // the number may go on
        p = q

        if !isFloat {
            let digits = integerEnd - integerStart
            if digits <= 18 {
                var magnitude: Int64 = 0
                for i in integerStart..<integerEnd {
                    magnitude = magnitude &* 10 &+ Int64(base[i] &- 0x30)
                }
                return .int(negative ? -magnitude : magnitude)
            }
            if digits <= 20 {
                var magnitude: UInt64 = 0
                var overflow = false
                for i in integerStart..<integerEnd {
                    let (product, o1) = magnitude.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = product.addingReportingOverflow(UInt64(base[i] &- 0x30))
                    if o1 || o2 {
                        overflow = true
                        break
                    }
                    magnitude = sum
                }
                if !overflow {
                    if negative {
                        if magnitude <= UInt64(Int64.max) { return .int(-Int64(magnitude)) }
                        if magnitude == UInt64(Int64.max) + 1 { return .int(Int64.min) }
                    } else {
                        if magnitude <= UInt64(Int64.max) { return .int(Int64(magnitude)) }
                        return .uint(magnitude)
                    }
                }
            }
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: q - start), as: UTF8.self)
        return .double(Double(text) ?? (negative ? -.infinity : .infinity))
    }

    private func incompleteToken() -> ParseStop {
        guard bounded else { return .fallback }
        return failure(qemu: "premature EOI", detail: "the input ended inside a token", at: end)
    }

    // MARK: Strings

    /// True when the 8 bytes hold the quote, a backslash, a control character or a non-ASCII
    /// byte: anything that ends the fast scan.
    /// The lowest set bit marks the first such byte (bit 8i+7 for byte i; exact for the first
    /// one, as borrows only run upwards).
    @inline(__always)
    static func attentionMask(_ word: UInt64, quote: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let q = word ^ (ones &* quote)
        let b = word ^ (ones &* 0x5C)
        let hasQuote = (q &- ones) & ~q
        let hasBackslash = (b &- ones) & ~b
        let hasControl = (word &- ones &* 0x20) & ~word
        return (hasQuote | hasBackslash | hasControl | word) & highs
    }

    @inline(__always)
    private mutating func parseString(quote: UInt8) throws(ParseStop) -> String {
        let contentStart = p + 1
        var q = contentStart
        let quoteWord = UInt64(quote)
        var isASCII = true
        while true {
            while q &+ 8 <= end {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + q).loadUnaligned(as: UInt64.self))
                let mask = Self.attentionMask(word, quote: quoteWord)
                if mask != 0 {
                    q &+= mask.trailingZeroBitCount &>> 3
                    break
                }
                q &+= 8
            }
            guard q < end else { throw incompleteToken() }
            let c = base[q]
            if c == quote {
                p = q + 1
                let count = q - contentStart
                if isASCII && count <= SmallASCIIString.maximumLength && makesSmallStrings {
                    return SmallASCIIString.make(base + contentStart, count: count, available: end - contentStart)
                }
                if count <= StringCache.maximumLength {
                    if let cache {
                        return cache.string(base + contentStart, count: count, available: end - contentStart)
                    }
                    if q - start >= Self.cacheThreshold {
                        let cache = StringCache()
                        self.cache = cache
                        return cache.string(base + contentStart, count: count, available: end - contentStart)
                    }
                }
                return String(decoding: UnsafeBufferPointer(start: base + contentStart, count: count), as: UTF8.self)
            }
            if c < 0x80 {
                if c == 0x5C { break }
                if c < 0x20 { throw lexicalProblem(at: q) }
                q &+= 1
                continue
            }
            let (length, modifiedNul) = try utf8Sequence(at: q)
            if modifiedNul { break }
            isASCII = false
            q += length
        }
        return try parseStringSlowly(quote: quote, contentStart: contentStart, from: q)
    }

    /// For strings with escapes or "\xC0\x80": builds the contents byte by byte.
    private mutating func parseStringSlowly(
        quote: UInt8,
        contentStart: Int,
        from resume: Int
    ) throws(ParseStop) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + contentStart, count: resume - contentStart))
        var q = resume
        while true {
            guard q < end else { throw incompleteToken() }
            let c = base[q]
            if c == quote {
                p = q + 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if c == 0x5C {
                guard q + 1 < end else { throw incompleteToken() }
                let escaped = base[q + 1]
                switch escaped {
                case 0x22, 0x27, 0x5C, 0x2F: scratch.append(escaped)
                case 0x62: scratch.append(0x08)
                case 0x66: scratch.append(0x0C)
                case 0x6E: scratch.append(0x0A)
                case 0x72: scratch.append(0x0D)
                case 0x74: scratch.append(0x09)
                case 0x75:
                    q = try unicodeEscape(at: q, quote: quote)
                    continue
                default:
                    if escaped < 0x20 || escaped >= 0xFE { throw lexicalProblem(at: q + 1) }
                    let shown =
                        escaped < 0x80
                        ? "\\\(Character(Unicode.Scalar(escaped)))"
                        : "a backslash followed by byte 0x\(JSONText.hex(UInt32(escaped), width: 2))"
                    throw failure(
                        qemu: "invalid escape sequence in string",
                        detail:
                            "invalid escape sequence '\(shown)' in string; valid escapes are \\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX",
                        at: q
                    )
                }
                q += 2
                continue
            }
            if c < 0x80 {
                if c < 0x20 { throw lexicalProblem(at: q) }
                scratch.append(c)
                q &+= 1
                continue
            }
            let (length, modifiedNul) = try utf8Sequence(at: q)
            if modifiedNul {
                scratch.append(0)
            } else {
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + q, count: length))
            }
            q += length
        }
    }

    private func lexicalProblem(at position: Int) -> ParseStop {
        guard bounded else { return .fallback }
        return failure(
            qemu: "invalid UTF-8 sequence in string",
            detail: "unexpected \(JSONText.describeByte(base[position])) in string",
            at: position
        )
    }

    /// Validates one multi-byte sequence the way QEMU does (strict UTF-8 without surrogates and
    /// noncharacters, plus "\xC0\x80" for U+0000) and returns its length.
    @inline(__always)
    private func utf8Sequence(at q: Int) throws(ParseStop) -> (length: Int, modifiedNul: Bool) {
        let b0 = base[q]
        @inline(__always) func continuation(_ i: Int) throws(ParseStop) -> UInt32 {
            guard q + i < end else { throw incompleteToken() }
            let b = base[q + i]
            guard b & 0xC0 == 0x80 else { throw invalidUTF8(at: q) }
            return UInt32(b & 0x3F)
        }
        switch b0 {
        case 0xC0:
            guard try continuation(1) == 0, base[q + 1] == 0x80 else { throw invalidUTF8(at: q) }
            return (2, true)
        case 0xC2...0xDF:
            _ = try continuation(1)
            return (2, false)
        case 0xE0...0xEF:
            let scalar = UInt32(b0 & 0x0F) << 12 | (try continuation(1)) << 6 | (try continuation(2))
            guard scalar >= 0x800, Self.isValidScalar(scalar) else { throw invalidUTF8(at: q) }
            return (3, false)
        case 0xF0...0xF4:
            let scalar =
                UInt32(b0 & 0x07) << 18 | (try continuation(1)) << 12 | (try continuation(2)) << 6
                | (try continuation(3))
            guard scalar >= 0x10000, Self.isValidScalar(scalar) else { throw invalidUTF8(at: q) }
            return (4, false)
        case 0xFE, 0xFF:
            throw lexicalProblem(at: q)
        default:
            throw invalidUTF8(at: q)
        }
    }

    private func invalidUTF8(at position: Int) -> ParseStop {
        failure(
            qemu: "invalid UTF-8 sequence in string",
            detail: "invalid UTF-8 sequence in string (overlong, surrogate, noncharacter or truncated)",
            at: position
        )
    }

    /// A Unicode scalar QEMU accepts: in range, no surrogate, no noncharacter.
    static func isValidScalar(_ value: UInt32) -> Bool {
        if value > 0x10FFFF { return false }
        if value >= 0xD800 && value <= 0xDFFF { return false }
        if value >= 0xFDD0 && value <= 0xFDEF { return false }
        if value & 0xFFFE == 0xFFFE { return false }
        return true
    }

    /// Four hex digits at `q`, or nil (QEMU reads them up to the first non-hex character).
    private func hex4(at q: Int) throws(ParseStop) -> UInt32? {
        var value: UInt32 = 0
        for i in 0..<4 {
            guard q + i < end else {
                if bounded { return nil }
                throw .fallback
            }
            let c = base[q + i]
            let digit: UInt8
            switch c {
            case 0x30...0x39: digit = c - 0x30
            case 0x41...0x46: digit = c - 0x41 + 10
            case 0x61...0x66: digit = c - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Decodes `\uXXXX` (or a surrogate pair `\uXXXX\uXXXX`) at `q` into `scratch`; returns the
    /// position after it.
    private mutating func unicodeEscape(at q: Int, quote: UInt8) throws(ParseStop) -> Int {
        var scalar = try hex4(at: q + 2).map(Int.init) ?? -1
        var length = 6
        if scalar >= 0xD800 && scalar <= 0xDBFF,
            q + 7 < end, base[q + 6] == 0x5C, base[q + 7] == 0x75
        {
            if let trailing = try hex4(at: q + 8), trailing >= 0xDC00, trailing <= 0xDFFF {
                scalar = 0x10000 + ((scalar & 0x3FF) << 10) | Int(trailing & 0x3FF)
                length = 12
            } else {
                scalar = -1
            }
        }
        guard scalar >= 0, Self.isValidScalar(UInt32(scalar)) else {
            guard bounded else { throw .fallback }
            // QEMU prints the escape as written: 6 characters (12 for a pair), cut at the end of
            // the string token.
            let tokenEnd = closingQuote(after: q, quote: quote).map { $0 + 1 } ?? end
            let shown = UnsafeBufferPointer(start: base + q, count: min(length, tokenEnd - q))
            let text = String(decoding: shown, as: UTF8.self)
            throw failure(
                qemu: "\(text) is not a valid Unicode character",
                detail:
                    "\(text) is not a valid Unicode character (lone surrogate, noncharacter or malformed \\u escape)",
                at: q
            )
        }
        if scalar == 0 {
            scratch.append(0)
        } else {
            var encoded = Unicode.UTF8.encode(Unicode.Scalar(UInt32(scalar))!)!.makeIterator()
            while let byte = encoded.next() { scratch.append(byte) }
        }
        return q + length
    }

    private func closingQuote(after q: Int, quote: UInt8) -> Int? {
        var i = q
        while i < end {
            if base[i] == 0x5C {
                i += 2
                continue
            }
            if base[i] == quote { return i }
            i += 1
        }
        return nil
    }
}
