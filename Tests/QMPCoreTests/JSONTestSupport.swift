import QMPCore
import Testing

/// What a reader produced, in order: values and errors.
enum ReadEvent: Hashable, CustomStringConvertible {
    case value(JSONValue)
    case error(JSONReaderError)

    var description: String {
        switch self {
        case .value(let value): "value \(value.serialized())"
        case .error(let error): "error \(error.qemuDescription) @\(error.offset)"
        }
    }

    var value: JSONValue? {
        if case .value(let value) = self { return value }
        return nil
    }

    var error: JSONReaderError? {
        if case .error(let error) = self { return error }
        return nil
    }

    var qemuDescription: String? { error?.qemuDescription }
}

/// The bytes of `text` as UTF-8.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Drains everything the reader can produce right now.
func drain(_ reader: inout JSONReader, finishing: Bool = false, into events: inout [ReadEvent]) {
    while true {
        do {
            let value = finishing ? try reader.finish() : try reader.next()
            guard let value else { return }
            events.append(.value(value))
        } catch {
            events.append(.error(error))
        }
    }
}

/// Feeds `input` in pieces of the given sizes (the last size repeats), draining after each.
func read(
    _ input: [UInt8],
    chunkSizes: [Int],
    configuration: JSONReader.Configuration = .client,
    finish: Bool = false
) -> [ReadEvent] {
    var reader = JSONReader(configuration: configuration)
    var events: [ReadEvent] = []
    var offset = 0
    var sizeIndex = 0
    while offset < input.count {
        let size = max(1, chunkSizes[min(sizeIndex, chunkSizes.count - 1)])
        sizeIndex += 1
        let end = min(input.count, offset + size)
        reader.feed(input[offset..<end])
        offset = end
        drain(&reader, into: &events)
    }
    if finish { drain(&reader, finishing: true, into: &events) }
    return events
}

/// A small deterministic generator, so that "random" chunkings are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomChunkSizes(count: Int, seed: UInt64, maximum: Int = 17) -> [Int] {
    var generator = SplitMix64(seed: seed)
    return (0..<max(1, count)).map { _ in Int.random(in: 1...maximum, using: &generator) }
}

/// Reads `input` all at once, byte by byte and in several random chunkings, expects all of them
/// to produce the same events, and returns those events.
func readAllWays(
    _ input: [UInt8],
    configuration: JSONReader.Configuration = .client,
    finish: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
) -> [ReadEvent] {
    let whole = read(input, chunkSizes: [max(1, input.count)], configuration: configuration, finish: finish)
    let byteByByte = read(input, chunkSizes: [1], configuration: configuration, finish: finish)
    #expect(
        byteByByte == whole,
        "byte-by-byte feeding differs from feeding all at once",
        sourceLocation: sourceLocation
    )
    for seed in UInt64(1)...4 {
        let chunked = read(
            input,
            chunkSizes: randomChunkSizes(count: input.count, seed: seed),
            configuration: configuration,
            finish: finish
        )
        #expect(
            chunked == whole,
            "random chunking (seed \(seed)) differs from feeding all at once",
            sourceLocation: sourceLocation
        )
    }
    return whole
}

/// The QEMU description of the only error `input` produces, read in every way.
func onlyError(
    _ input: [UInt8],
    configuration: JSONReader.Configuration = .client,
    sourceLocation: SourceLocation = #_sourceLocation
) -> JSONReaderError? {
    let events = readAllWays(input, configuration: configuration, finish: true, sourceLocation: sourceLocation)
    #expect(events.count == 1, "expected exactly one event, got \(events)", sourceLocation: sourceLocation)
    return events.first?.error
}

/// The only value `input` produces, read in every way.
func onlyValue(
    _ input: [UInt8],
    configuration: JSONReader.Configuration = .client,
    sourceLocation: SourceLocation = #_sourceLocation
) -> JSONValue? {
    let events = readAllWays(input, configuration: configuration, finish: true, sourceLocation: sourceLocation)
    #expect(events.count == 1, "expected exactly one event, got \(events)", sourceLocation: sourceLocation)
    return events.first?.value
}
