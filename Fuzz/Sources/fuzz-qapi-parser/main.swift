// QEMU's schema language, from arbitrary text: the parser, the resolver and what is derived from
// a schema (introspection, minimal values, validation) report problems as diagnostics and never
// crash. Every diagnostic points into a file that was read.
import CFuzzerDriver
import FuzzSupport
import QAPI
import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = ControlledInput(fuzzInput(data, size))
    let setup = input.nextControl()
    // The payload is two files, the first of which may include the second (or itself).
    let cut = input.hasControl ? min(input.payload.count, Int(input.nextControl()) * 16) : input.payload.count
    let files = [
        "qapi/schema.json": String(decoding: input.payload[..<cut], as: UTF8.self),
        "qapi/sub/included.json": String(decoding: input.payload[cut...], as: UTF8.self),
    ]
    let parser = QAPIParser(options: setup & 1 == 0 ? QAPIParser.Options() : .strict)
    let source = QAPISchemaSource.load(files: files, entryFile: "qapi/schema.json", parser: parser)
    let schema = QAPISchema.resolve(source)
    for diagnostic in schema.diagnostics {
        invariant(
            diagnostic.location.line >= 1 && diagnostic.location.column >= 1,
            "a diagnostic at \(diagnostic.location): \(diagnostic.message)"
        )
        if let text = files[diagnostic.location.file] {
            let lines = text.utf8.count(where: { $0 == 0x0A }) + 1
            invariant(
                diagnostic.location.line <= lines,
                "a diagnostic at line \(diagnostic.location.line) of a file of \(lines) lines: \(diagnostic.message)"
            )
        }
    }
    let introspection = QAPIIntrospection(deriving: schema)
    let validator = QAPIValidator(introspection: introspection)
    for entry in introspection.entries.prefix(32) {
        _ = validator.validate(introspection.minimalValue(of: entry.name), as: entry.name)
    }
    return 0
}

exit(qmp_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv))
