import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Stops the process when an invariant does not hold, saying which. libFuzzer records the input
/// as a crash. (`precondition` would do, but its message is dropped in optimised builds.)
public func invariant(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    let text = Array("invariant violated: \(message())\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// The fuzzer's input as a libFuzzer callback receives it.
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Pseudo-random numbers decided by the input alone (SplitMix64), so that a crash replays:
/// libFuzzer's own randomness is not the target's to use.
public struct InputRandom: Sendable {
    private var state: UInt64

    /// Numbers seeded from a hash of `bytes` (FNV-1a).
    public init(seededBy bytes: [UInt8]) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        state = hash
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound`; `bound` must be positive.
    public mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}

/// Cuts `0..<count` into consecutive pieces of 1 to `longest` elements.
public func pieces(of count: Int, longest: Int, random: inout InputRandom) -> [Range<Int>] {
    var result: [Range<Int>] = []
    var start = 0
    while start < count {
        let end = min(count, start + 1 + random.below(longest))
        result.append(start..<end)
        start = end
    }
    return result
}

/// Reads a fuzz input as a few leading control bytes followed by a payload: the control bytes
/// choose what the target does, the payload is what it reads. Out of control bytes, every
/// choice is 0.
public struct ControlledInput: Sendable {
    public let control: [UInt8]
    public let payload: [UInt8]
    private var position = 0

    /// The first byte says how many control bytes follow it (at most 63); the rest is payload.
    public init(_ bytes: [UInt8]) {
        guard let first = bytes.first else {
            control = []
            payload = []
            return
        }
        let count = min(Int(first & 0x3f), bytes.count - 1)
        control = Array(bytes[1..<(1 + count)])
        payload = Array(bytes[(1 + count)...])
    }

    /// Whether control bytes remain.
    public var hasControl: Bool { position < control.count }

    /// The next control byte, or 0 when they are used up.
    public mutating func nextControl() -> UInt8 {
        guard position < control.count else { return 0 }
        defer { position += 1 }
        return control[position]
    }
}

/// Whether the value holds a double without JSON spelling (the writer makes it `null`).
public func hasNonFinite(_ value: JSONValue) -> Bool {
    switch value {
    case .double(let number): !number.isFinite
    case .array(let elements): elements.contains(where: hasNonFinite)
    case .object(let object): object.contains { hasNonFinite($0.value) }
    default: false
    }
}
