// The transcript reader (`qmp mock --replay`), on arbitrary text in either format it reads:
// it accepts a transcript or throws an error that says why, and never crashes; what it accepts
// has at least one exchange, and a replay of it has a greeting.
import CFuzzerDriver
import FuzzSupport
import QMPCore
import QMPServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: fuzzInput(data, size), as: UTF8.self)
    let transcript: QMPTranscript
    do {
        transcript = try QMPTranscript(parsing: text)
    } catch {
        invariant(!error.description.isEmpty, "an error without a description")
        return 0
    }
    invariant(!transcript.exchanges.isEmpty, "a transcript without exchanges was accepted")
    let replay = QMPReplay(transcript: transcript, source: "the fuzz input")
    _ = replay.greeting.raw.serialized()
    return 0
}

exit(qmp_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv))
