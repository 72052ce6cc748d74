import Foundation
import QMPClient
import QMPCore
import QMPServer
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A transcript written by the recording proxy is private to its owner, holds no secrets, and
/// cannot be pointed at another file; it still replays.
@Suite("Transcript privacy")
struct TranscriptPrivacyTests {
    func mode(of path: String) -> mode_t {
        var info = stat()
        _ = stat(path, &info)
        return info.st_mode & 0o777
    }

    @Test("a new transcript is readable and writable by its owner only, whatever the umask")
    func newTranscriptIsPrivate() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-privacy") { directory in
            let path = directory.appendingPathComponent("t.jsonl").path
            let previous = umask(0)
            defer { umask(previous) }
            let proxy = try QMPRecordingProxy(upstream: .unixSocket(path: directory.path + "/none"), outputPath: path)
            await proxy.shutdown()
            #expect(mode(of: path) == 0o600)
        }
    }

    @Test("an existing transcript is emptied and made private")
    func existingTranscriptReplaced() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-privacy") { directory in
            let path = directory.appendingPathComponent("t.jsonl").path
            #expect(FileManager.default.createFile(atPath: path, contents: Data("old".utf8)))
            #expect(chmod(path, 0o644) == 0)
            let proxy = try QMPRecordingProxy(upstream: .unixSocket(path: directory.path + "/none"), outputPath: path)
            await proxy.shutdown()
            #expect(mode(of: path) == 0o600)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)).isEmpty)
        }
    }

    @Test("a symbolic link as the transcript is refused, and its target is left as it was")
    func symbolicLinkRefused() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-privacy") { directory in
            let target = directory.appendingPathComponent("precious").path
            let linkPath = directory.appendingPathComponent("t.jsonl").path
            #expect(FileManager.default.createFile(atPath: target, contents: Data("keep me".utf8)))
            try FileManager.default.createSymbolicLink(atPath: linkPath, withDestinationPath: target)
            let error = #expect(throws: QMPError.self) {
                try QMPRecordingProxy(upstream: .unixSocket(path: directory.path + "/none"), outputPath: linkPath)
            }
            #expect(error?.message.contains("is a symbolic link") == true)
            let kept = try String(contentsOfFile: target, encoding: .utf8)
            #expect(kept == "keep me")
        }
    }

    @Test("a file with another hard link is refused, and left as it was")
    func hardLinkRefused() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-privacy") { directory in
            let target = directory.appendingPathComponent("precious").path
            let linkPath = directory.appendingPathComponent("t.jsonl").path
            #expect(FileManager.default.createFile(atPath: target, contents: Data("keep me".utf8)))
            #expect(link(target, linkPath) == 0)
            #expect(throws: QMPError.self) {
                try QMPRecordingProxy(upstream: .unixSocket(path: directory.path + "/none"), outputPath: linkPath)
            }
            let kept = try String(contentsOfFile: target, encoding: .utf8)
            #expect(kept == "keep me")
        }
    }

    @Test("secret data and passwords are redacted; ids of secret objects are kept")
    func redactionRule() {
        let flat: JSONValue = [
            "execute": "object-add",
            "arguments": ["qom-type": "secret", "id": "sec0", "data": "hunter2", "format": "raw"],
        ]
        #expect(
            QMPTranscript.redactingSecrets(flat)
                == [
                    "execute": "object-add",
                    "arguments": [
                        "qom-type": "secret", "id": "sec0", "data": QMPTranscript.redactedValue, "format": "raw",
                    ],
                ]
        )
        let old: JSONValue = [
            "execute": "object-add", "arguments": ["qom-type": "secret", "id": "s", "props": ["data": "hunter2"]],
        ]
        #expect(old["arguments"]?["props"]?["data"] != nil)
        #expect(QMPTranscript.redactingSecrets(old)["arguments"]?["props"]?["data"] == QMPTranscript.redactedValue)
        let password: JSONValue = [
            "execute": "set_password", "arguments": ["protocol": "vnc", "password": "hunter2"],
        ]
        #expect(QMPTranscript.redactingSecrets(password)["arguments"]?["password"] == QMPTranscript.redactedValue)
        let reference: JSONValue = [
            "execute": "blockdev-add",
            "arguments": ["driver": "luks", "node-name": "n", "key-secret": "sec0", "file": "f"],
        ]
        #expect(QMPTranscript.redactingSecrets(reference) == reference)
        let notASecret: JSONValue = ["execute": "object-add", "arguments": ["qom-type": "memory", "data": "x"]]
        #expect(QMPTranscript.redactingSecrets(notASecret) == notASecret)
        let hmp: JSONValue = [
            "execute": "human-monitor-command",
            "arguments": ["command-line": "object_add secret,id=s,data=hunter2,format=raw"],
        ]
        // Redacted whole: the rule shared with logs replaces any HMP line that mentions a secret.
        #expect(QMPTranscript.redactingSecrets(hmp)["arguments"]?["command-line"] == QMPTranscript.redactedValue)
    }

    @Test("a secret passed through the proxy is forwarded as sent, recorded redacted, and replays")
    func recordedRedactedAndReplayed() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-privacy") { directory in
            let received = ReceivedData()
            var commands = QMPCommandTable()
            commands.registerImmediate("object-add") { request in
                received.append(request.arguments["data"]?.stringValue ?? "")
                return [:]
            }
            let upstream = QMPServer(
                configuration: .init(
                    greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0)),
                    commands: commands,
                    addresses: [.unixSocket(path: directory.path + "/qemu.sock")]
                )
            )
            let transcriptPath = directory.path + "/t.jsonl"
            try await withRunningServer(upstream) { upstreamAddress in
                let proxy = try QMPRecordingProxy(upstream: upstreamAddress, outputPath: transcriptPath)
                do {
                    let front = try await proxy.listen(on: .unixSocket(path: directory.path + "/front.sock"))
                    try await withClient(of: front) { client in
                        _ = try await client.execute(
                            "object-add",
                            arguments: ["qom-type": "secret", "id": "sec0", "data": "hunter2"]
                        )
                    }
                } catch {
                    await proxy.shutdown()
                    throw error
                }
                await proxy.shutdown()
            }
            #expect(received.values == ["hunter2"])
            let text = try String(contentsOfFile: transcriptPath, encoding: .utf8)
            #expect(!text.contains("hunter2"))
            #expect(mode(of: transcriptPath) == 0o600)

            let transcript = try QMPTranscript(parsing: text)
            let replay = QMPReplay(transcript: transcript).makeServer(listeningOn: [
                .unixSocket(path: directory.path + "/replay.sock")
            ])
            try await withRunningServer(replay) { address in
                try await withClient(of: address) { client in
                    let reply = try await client.execute(
                        "object-add",
                        arguments: ["qom-type": "secret", "id": "sec0", "data": "another secret"]
                    )
                    #expect(reply == [:])
                }
            }
        }
    }
}

/// Logs and transcripts keep the same secrets out: what either used to redact, both redact.
@Suite("One redaction rule for logs and transcripts")
struct SharedRedactionRuleTests {
    /// Both ways of writing a message down, each with its own placeholder.
    func bothRecords(of message: JSONValue) -> [(record: JSONValue, placeholder: JSONValue)] {
        [
            (QMPRedaction.redacting(message), QMPRedaction.placeholder),
            (QMPTranscript.redactingSecrets(message), QMPTranscript.redactedValue),
        ]
    }

    @Test("a member whose name contains password, passwd or passphrase is redacted in both, in any case")
    func passwordNames() {
        let command: JSONValue = [
            "execute": "blockdev-create",
            "arguments": ["options": ["driver": "luks", "key-passphrase": "hunter2", "PassWd": "hunter3"]],
        ]
        for (record, placeholder) in bothRecords(of: command) {
            #expect(record["arguments"]?["options"]?["key-passphrase"] == placeholder)
            #expect(record["arguments"]?["options"]?["PassWd"] == placeholder)
            #expect(record["arguments"]?["options"]?["driver"] == "luks")
        }
    }

    @Test("an HMP command line with a password as a positional word is redacted whole in both")
    func positionalPassword() {
        let command: JSONValue = [
            "execute": "human-monitor-command", "arguments": ["command-line": "set_password vnc hunter2"],
        ]
        for (record, placeholder) in bothRecords(of: command) {
            #expect(record["arguments"]?["command-line"] == placeholder)
        }
    }

    @Test("in an HMP command line that names no secret, the value of data= is redacted in both")
    func dataInOtherCommandLines() {
        let command: JSONValue = [
            "execute": "human-monitor-command", "arguments": ["command-line": "object_add sec,id=s0,data=hunter2"],
        ]
        for (record, placeholder) in bothRecords(of: command) {
            let expected = "object_add sec,id=s0,data=" + (placeholder.stringValue ?? "")
            #expect(record["arguments"]?["command-line"] == .string(expected))
        }
    }

    @Test("what neither rule calls a secret is written down as sent by both")
    func plainKept() {
        let command: JSONValue = [
            "execute": "human-monitor-command", "arguments": ["command-line": "info status"], "id": 7,
        ]
        for (record, _) in bothRecords(of: command) {
            #expect(record == command)
        }
    }
}

/// What the upstream was sent, collected across its event loop threads.
private final class ReceivedData: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [String] = []
    func append(_ value: String) { lock.withLock { collected.append(value) } }
    var values: [String] { lock.withLock { collected } }
}
