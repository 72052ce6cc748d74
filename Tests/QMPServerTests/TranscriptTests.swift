import Foundation
import QMPClient
import QMPCore
import QMPServer
import Testing

/// A line of `qmp record`'s output.
private func line(_ direction: String, connection: Int, _ value: JSONValue, key: String = "message") -> String {
    let entry: JSONValue = [
        "time": 0.001, "direction": .string(direction), "connection": .int(Int64(connection)), key: value,
    ]
    return entry.serialized()
}

@Suite("Transcripts")
struct TranscriptTests {
    @Test("input that was not JSON, recorded as malformed, is skipped and the rest is read")
    func malformedLinesSkipped() throws {
        let text = [
            line("to-server", connection: 1, "JSON parse error, stray '}'", key: "malformed"),
            line("to-server", connection: 1, ["execute": "query-kvm", "id": 1]),
            line("from-server", connection: 1, ["return": ["enabled": false, "present": true], "id": 1]),
        ].joined(separator: "\n")
        let transcript = try QMPTranscript(parsing: text)
        #expect(transcript.exchanges.map(\.command) == ["query-kvm"])
        #expect(transcript.exchanges.first?.reply == ["return": ["enabled": false, "present": true]])
    }

    @Test("two clients recorded at once, both using id 1, each get their own reply and events")
    func connectionsKeptApart() throws {
        let text = [
            line("to-server", connection: 1, ["execute": "stop", "id": 1]),
            line("to-server", connection: 2, ["execute": "query-name", "id": 1]),
            line("from-server", connection: 2, ["return": ["name": "vm"], "id": 1]),
            line("from-server", connection: 1, ["event": "STOP", "timestamp": ["seconds": 1, "microseconds": 0]]),
            line("from-server", connection: 1, ["return": [:], "id": 1]),
        ].joined(separator: "\n")
        let transcript = try QMPTranscript(parsing: text)
        let stop = try #require(transcript.exchanges.first { $0.command == "stop" })
        let name = try #require(transcript.exchanges.first { $0.command == "query-name" })
        #expect(stop.reply == ["return": [:]])
        #expect(stop.events.map { $0["event"] } == ["STOP"])
        #expect(name.reply == ["return": ["name": "vm"]])
        #expect(name.events.isEmpty)
    }

    @Test(
        "a reply without id goes to the waiting command sent without id, not to an exec-oob command waiting before it"
    )
    func idlessReplyToInBand() throws {
        let text = [
            line("to-server", connection: 1, ["exec-oob": "migrate-pause", "id": 1]),
            line("to-server", connection: 1, ["execute": "query-name"]),
            line("from-server", connection: 1, ["return": ["name": "vm"]]),
            line(
                "from-server",
                connection: 1,
                ["error": ["class": "GenericError", "desc": "not in postcopy"], "id": 1]
            ),
        ].joined(separator: "\n")
        let transcript = try QMPTranscript(parsing: text)
        let name = try #require(transcript.exchanges.first { $0.command == "query-name" })
        let pause = try #require(transcript.exchanges.first { $0.command == "migrate-pause" })
        #expect(name.reply == ["return": ["name": "vm"]])
        #expect(pause.reply == ["error": ["class": "GenericError", "desc": "not in postcopy"]])
    }

    @Test("a file with no command and reply in it is an error that says what was expected")
    func emptyTranscript() {
        let error = #expect(throws: QMPError.self) { try QMPTranscript(parsing: #"{"hello": "world"}"#) }
        #expect(
            error?.message
                == "the transcript has no command with its reply: expected the output of `qmp record` or a libvirt .replies file"
        )
    }

    @Test("a command recorded with exec-oob is replayed out of band")
    func outOfBandReplayed() async throws {
        let text = [
            line(
                "from-server",
                connection: 1,
                [
                    "QMP": [
                        "version": ["qemu": ["major": 7, "minor": 2, "micro": 0], "package": ""],
                        "capabilities": ["oob"],
                    ]
                ]
            ),
            line("to-server", connection: 1, ["exec-oob": "query-yank", "id": 1]),
            line("from-server", connection: 1, ["return": [], "id": 1]),
        ].joined(separator: "\n")
        let transcript = try QMPTranscript(parsing: text)
        #expect(transcript.exchanges.first?.outOfBand == true)
        try await withSocketPath(named: "swift-qmp-transcript") { path in
            let server = QMPReplay(transcript: transcript).makeServer(listeningOn: [.unixSocket(path: path)])
            try await withRunningServer(server) { address in
                try await withClient(of: address) { client async throws in
                    #expect(try await client.executeOutOfBand("query-yank", timeout: .seconds(10)) == [])
                }
            }
        }
    }
}
