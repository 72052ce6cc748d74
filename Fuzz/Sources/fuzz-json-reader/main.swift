// The JSON reader must not depend on how the stream is cut: the same bytes fed whole, in random
// pieces, or one byte at a time give the same values and the same errors at the same offsets
// (resynchronisation included), and never hold more than the documented bound. Every value
// read also writes out and reads back as itself.
import CFuzzerDriver
import FuzzSupport
import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What the reader made of the stream, in order.
enum Outcome: Hashable {
    case value(JSONValue)
    case error(JSONReaderError)
}

/// QEMU's limits, and limits so small that short inputs reach them.
let configurations: [JSONReader.Configuration] = [
    .client,
    JSONReader.Configuration(
        maximumDepth: 3,
        maximumMessageSize: 48,
        maximumTokenCount: 12,
        acceptsSingleQuotedStrings: true
    ),
]

func read(_ input: [UInt8], in pieces: [Range<Int>], configuration: JSONReader.Configuration) -> [Outcome] {
    var reader = JSONReader(configuration: configuration)
    var outcomes: [Outcome] = []
    for piece in pieces {
        reader.feed(input[piece])
        while true {
            do {
                guard let value = try reader.next() else { break }
                outcomes.append(.value(value))
            } catch {
                outcomes.append(.error(error))
            }
        }
        invariant(
            reader.bufferedByteCount <= configuration.maximumMessageSize + piece.count,
            "\(reader.bufferedByteCount) bytes buffered after a piece of \(piece.count), limit "
                + "\(configuration.maximumMessageSize)"
        )
    }
    while true {
        do {
            guard let value = try reader.finish() else { break }
            outcomes.append(.value(value))
        } catch {
            outcomes.append(.error(error))
        }
    }
    return outcomes
}

func describe(_ outcomes: [Outcome]) -> String {
    outcomes.map { outcome in
        switch outcome {
        case .value(let value): "value \(value.serialized())"
        case .error(let error): "error \(error.kind) at \(error.offset): \(error.qemuDescription) / \(error)"
        }
    }.joined(separator: "\n  ")
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    var random = InputRandom(seededBy: input)
    for configuration in configurations {
        let whole = read(input, in: input.isEmpty ? [] : [0..<input.count], configuration: configuration)
        let split = read(input, in: pieces(of: input.count, longest: 16, random: &random), configuration: configuration)
        let bytes = read(input, in: pieces(of: input.count, longest: 1, random: &random), configuration: configuration)
        invariant(whole == split, "whole and split differ:\n  \(describe(whole))\nvs\n  \(describe(split))")
        invariant(whole == bytes, "whole and byte by byte differ:\n  \(describe(whole))\nvs\n  \(describe(bytes))")
        for case .value(let value) in whole where !hasNonFinite(value) {
            let text = value.serialized()
            let again = Result { () throws(JSONReaderError) in try JSONValue(parsing: text) }
            invariant(
                (try? again.get()) == value,
                "\(text) does not read back as the value it was written from: \(again)"
            )
        }
    }
    return 0
}

exit(qmp_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv))
