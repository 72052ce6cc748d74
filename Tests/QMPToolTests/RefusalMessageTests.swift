import Foundation
import QMPCore
import Testing

@testable import QMPTool

/// The tool's refusals say what was expected and where, never repeat what may be a secret, and
/// never show a library's raw error value.
@Suite("Refusal messages")
struct RefusalMessageTests {
    func refusal(_ arguments: String) -> String? {
        do {
            _ = try ExecCommand.object(parsing: arguments, what: "--args")
            return nil
        } catch {
            return error.message
        }
    }

    @Test("invalid --args JSON is refused with the position and what was expected, not the text")
    func invalidArgumentsJSON() throws {
        let message = try #require(refusal(#"{"id": "sec0", "data": hunter2}"#))
        #expect(!message.contains("hunter2"))
        #expect(!message.contains("sec0"))
        #expect(message.contains("--args is not valid JSON"))
        #expect(message.contains("at byte "))
        #expect(message.contains("expected a JSON object"))
    }

    @Test("--args that is JSON but not an object names the kind it got, not the value")
    func argumentsNotAnObject() throws {
        let message = try #require(refusal(#"["hunter2"]"#))
        #expect(message == "--args expects a JSON object, got array")
    }

    @Test("a JSON line on standard input that is not valid JSON is refused without echoing it")
    func invalidLine() throws {
        #expect(throws: CommandLineError.self) {
            _ = try ExecCommand.command(fromLine: #"{"execute": "object-add", "arguments": {"data": s3cret"#)
        }
        do {
            _ = try ExecCommand.command(fromLine: #"{"execute": "object-add", "arguments": {"data": s3cret"#)
        } catch {
            #expect(!error.message.contains("s3cret"))
        }
    }

    @Test("a path that is no socket is refused naming what it is")
    func notASocket() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-notsock-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("plain").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let error = try #require(throws: QMPError.self) { try refuseNonSocket(.unixSocket(path: file)) }
        #expect(error.message == "\(file) is not a socket (it is a regular file)")
        let directoryError = try #require(throws: QMPError.self) {
            try refuseNonSocket(.unixSocket(path: directory.path))
        }
        #expect(directoryError.message == "\(directory.path) is not a socket (it is a directory)")
        #expect(throws: Never.self) { try refuseNonSocket(.unixSocket(path: directory.path + "/missing")) }
        // A terminal or serial device is reached by saying so.
        let device = try #require(throws: QMPError.self) { try refuseNonSocket(.unixSocket(path: "/dev/null")) }
        #expect(
            device.message
                == "/dev/null is not a socket (it is a character device); write chardev:/dev/null to open it as one"
        )
        #expect(throws: Never.self) { try refuseNonSocket(.characterDevice(path: "/dev/null")) }
    }

    @Test("qmp exec against a regular file says it is not a socket, not a library error's name")
    func execAgainstRegularFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-notsock-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("plain").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let options = try ConnectionOptions.parse([])
        let error = await #expect(throws: QMPError.self) {
            try await options.withClient(address: file) { _ in }
        }
        #expect(error?.message.contains("is not a socket (it is a regular file)") == true)
        #expect(error.map { "\($0)" }?.contains("WrongType") == false)
    }
}
