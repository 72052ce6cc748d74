import Foundation
import QMPClient
import QMPCore
import QMPServer
import Testing

/// The guest agent's secrets stay out of logs and transcripts: a user's password, the contents
/// of files written and read, the input fed to a program.
@Suite("Guest agent secrets are redacted")
struct GuestAgentRedactionTests {
    @Test(
        "guest-set-user-password, guest-file-write and guest-exec: their secret arguments are redacted, the rest kept"
    )
    func commands() {
        let password: JSONValue = [
            "execute": "guest-set-user-password",
            "arguments": ["username": "root", "password": "aHVudGVyMg==", "crypted": false],
        ]
        let write: JSONValue = [
            "execute": "guest-file-write", "arguments": ["handle": 1000, "buf-b64": "c2VjcmV0IGZpbGU=", "count": 11],
        ]
        let exec: JSONValue = [
            "execute": "guest-exec",
            "arguments": ["path": "/bin/sh", "arg": ["-c", "cat"], "input-data": "aW5wdXQ=", "capture-output": true],
        ]
        for (placeholder, redact) in [
            (QMPRedaction.placeholder, { QMPRedaction.redacting($0) }),
            (QMPTranscript.redactedValue, { QMPTranscript.redactingSecrets($0) }),
        ] as [(JSONValue, (JSONValue) -> JSONValue)] {
            #expect(redact(password)["arguments"] == ["username": "root", "password": placeholder, "crypted": false])
            #expect(redact(write)["arguments"] == ["handle": 1000, "buf-b64": placeholder, "count": 11])
            #expect(
                redact(exec)["arguments"]
                    == ["path": "/bin/sh", "arg": ["-c", "cat"], "input-data": placeholder, "capture-output": true]
            )
        }
        #expect(QMPRedaction.placeholder == "<redacted>")
    }

    @Test("a guest-file-read reply: the contents are redacted, the count and end of file kept")
    func fileReadReply() {
        let reply: JSONValue = ["return": ["count": 11, "buf-b64": "c2VjcmV0IGZpbGU=", "eof": true]]
        #expect(
            QMPRedaction.redacting(reply)
                == ["return": ["count": 11, "buf-b64": QMPRedaction.placeholder, "eof": true]]
        )
    }

    /// What passed through a recording proxy to an upstream that answers the agent's file and
    /// exec commands: what the upstream got, the reply the client read, the transcript's text.
    static func recordAgentConversation(
        keepingSecrets: Bool
    ) async throws -> (written: [String], read: JSONValue, transcript: String) {
        try await withTemporaryDirectory(named: "swift-qmp-qga-redaction") { directory in
            var commands = QMPCommandTable()
            let written = Collected<[String]>([])
            commands.registerImmediate("guest-file-write") { request in
                written.append(request.arguments["buf-b64"]?.stringValue ?? "")
                return ["count": 14, "eof": false]
            }
            commands.registerImmediate("guest-file-read") { _ in
                ["count": 11, "buf-b64": "cmVhZCBzZWNyZXQ=", "eof": true]
            }
            commands.registerImmediate("guest-exec") { request in
                written.append(request.arguments["input-data"]?.stringValue ?? "")
                return ["pid": 42]
            }
            let upstream = QMPServer(
                configuration: .init(
                    greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0)),
                    commands: commands,
                    addresses: [.unixSocket(path: directory.path + "/upstream.sock")]
                )
            )
            let transcriptPath = directory.path + "/t.jsonl"
            let read = try await withRunningServer(upstream) { upstreamAddress in
                let proxy = try QMPRecordingProxy(
                    upstream: upstreamAddress,
                    outputPath: transcriptPath,
                    keepingSecrets: keepingSecrets
                )
                do {
                    let front = try await proxy.listen(on: .unixSocket(path: directory.path + "/front.sock"))
                    let read = try await withClient(of: front) { client in
                        try await client.execute(
                            "guest-file-write",
                            arguments: ["handle": 1, "buf-b64": "d3JpdHRlbiBzZWNyZXQ="]
                        )
                        try await client.execute(
                            "guest-exec",
                            arguments: ["path": "/bin/cat", "input-data": "aW5wdXQgc2VjcmV0"]
                        )
                        return try await client.execute("guest-file-read", arguments: ["handle": 1])
                    }
                    await proxy.shutdown()
                    return read
                } catch {
                    await proxy.shutdown()
                    throw error
                }
            }
            return (written.value, read, try String(contentsOfFile: transcriptPath, encoding: .utf8))
        }
    }

    static let secrets = ["d3JpdHRlbiBzZWNyZXQ=", "aW5wdXQgc2VjcmV0", "cmVhZCBzZWNyZXQ="]

    @Test("through the recording proxy: sent as they are, recorded without the secrets of commands or replies")
    func recorded() async throws {
        let (written, read, text) = try await Self.recordAgentConversation(keepingSecrets: false)
        // The conversation itself is untouched.
        #expect(written == ["d3JpdHRlbiBzZWNyZXQ=", "aW5wdXQgc2VjcmV0"])
        #expect(read["buf-b64"] == "cmVhZCBzZWNyZXQ=")
        for secret in Self.secrets {
            #expect(!text.contains(secret), "\(secret) is in the transcript")
        }
        let transcript = try QMPTranscript(parsing: text)
        let recordedRead = try #require(transcript.exchanges.first { $0.command == "guest-file-read" })
        #expect(
            JSONValue.object(recordedRead.reply)
                == ["return": ["count": 11, "buf-b64": QMPTranscript.redactedValue, "eof": true]]
        )
    }

    @Test("asked to keep secrets, the recording proxy writes them as they went")
    func keptWhenAsked() async throws {
        let (_, _, text) = try await Self.recordAgentConversation(keepingSecrets: true)
        for secret in Self.secrets {
            #expect(text.contains(secret), "\(secret) is not in the transcript")
        }
        #expect(!text.contains(QMPTranscript.redactedValue.stringValue ?? "(redacted"))
    }
}

/// A value shared with the upstream's handlers, which run on its event loop threads.
private final class Collected<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func append<Element>(_ element: Element) where Value == [Element] { lock.withLock { stored.append(element) } }
}
