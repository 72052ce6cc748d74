import Foundation
import QMPCore
import Testing

/// `qmp record` as an operator runs it.
@Suite("qmp record")
struct RecordToolTests {
    func withDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-record-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(directory)
    }

    @Test("--listen and --upstream at the same path (spelt differently) is refused at once")
    func listenEqualsUpstream() async throws {
        try await withDirectory { directory in
            let output = try await QMPExecutable.run(
                [
                    "record", "--listen", directory + "/q.sock", "--upstream", directory + "/./q.sock",
                    "--out", directory + "/t.jsonl",
                ],
                timeout: .seconds(20)
            )
            #expect(output.status == 64)
            #expect(output.stderr.contains("--listen and --upstream are the same place"))
            #expect(!FileManager.default.fileExists(atPath: directory + "/t.jsonl"))
        }
    }
}
