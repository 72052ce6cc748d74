import Foundation
import QEMULauncher
import QMPClient
import QMPCore
import QMPServer
import Testing

@Suite("Recording a conversation with QEMU 7.2 and replaying it")
struct RecordReplayTests {
    @Test("the proxy records what passes, and the replay answers the same commands the same way")
    func recordThenReplay() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-rec-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let upstream = directory.appendingPathComponent("qemu.sock").path
        let transcriptPath = directory.appendingPathComponent("session.jsonl").path
        let launcher = QEMULauncher(extraArguments: ["-qmp", "unix:\(upstream),server=on,wait=off"])

        var recorded: [JSONValue] = []
        try await RealQEMU.with(launcher) { _ in
            let proxy = try QMPRecordingProxy(upstream: .unixSocket(path: upstream), outputPath: transcriptPath)
            do {
                let front = try await proxy.listen(
                    on: .unixSocket(path: directory.appendingPathComponent("front.sock").path)
                )
                try await withClient(of: front) { client in
                    #expect(client.oobEnabled)
                    recorded.append(try await client.execute("query-status"))
                    recorded.append(try await client.execute("cont"))
                    recorded.append(try await client.execute("query-status"))
                    recorded.append(
                        try await client.execute("qom-get", arguments: ["path": "/machine", "property": "type"])
                    )
                    await #expect(throws: QMPError.self) {
                        try await client.execute("device_del", arguments: ["id": "nope"])
                    }
                }
            } catch {
                await proxy.shutdown()
                throw error
            }
            await proxy.shutdown()
        }

        let transcript = try QMPTranscript(parsing: String(contentsOfFile: transcriptPath, encoding: .utf8))
        #expect(transcript.greeting?.version?.major == 7)
        #expect(
            transcript.exchanges.map(\.command) == [
                "qmp_capabilities", "query-status", "cont", "query-status", "qom-get", "device_del",
            ]
        )
        #expect(transcript.exchanges[2].events.first?["event"] == "RESUME")

        let replay = QMPReplay(transcript: transcript, source: "session.jsonl")
        let server = replay.makeServer(listeningOn: [
            .unixSocket(path: directory.appendingPathComponent("replay.sock").path)
        ])
        try await server.serving { addresses in
            try await withClient(of: addresses[0]) { client in
                #expect(client.greeting.version == transcript.greeting?.version)
                let resumed = client.events(named: ["RESUME"])
                var replayed: [JSONValue] = []
                replayed.append(try await client.execute("query-status"))
                replayed.append(try await client.execute("cont"))
                replayed.append(try await client.execute("query-status"))
                replayed.append(
                    try await client.execute("qom-get", arguments: ["path": "/machine", "property": "type"])
                )
                #expect(replayed == recorded)
                var events = resumed.makeAsyncIterator()
                #expect(try await events.next()?.name == "RESUME")

                let deviceError = await #expect(throws: QMPError.self) {
                    try await client.execute("device_del", arguments: ["id": "nope"])
                }
                #expect(deviceError?.errorClass == "DeviceNotFound")
                let missing = await #expect(throws: QMPError.self) {
                    try await client.execute("qom-get", arguments: ["path": "/other", "property": "type"])
                }
                #expect(
                    missing?.message
                        == #"replay: session.jsonl has no qom-get with arguments {"path":"/other","property":"type"}"#
                )
                let unknown = await #expect(throws: QMPError.self) { try await client.execute("query-kvm") }
                #expect(unknown?.errorClass == "CommandNotFound")
            }
        }
    }

    @Test("libvirt's .replies format replays, with a greeting made from its query-version")
    func libvirtReplies() async throws {
        // Written for this test in the layout of libvirt's qemucapabilitiesdata files.
        let replies = """
            {
              "execute": "qmp_capabilities",
              "id": "libvirt-1"
            }

            {
              "return": {
              },
              "id": "libvirt-1"
            }

            {
              "execute": "query-version",
              "id": "libvirt-2"
            }

            {
              "return": {
                "qemu": {
                  "micro": 0,
                  "minor": 1,
                  "major": 8
                },
                "package": "v8.1.0"
              },
              "id": "libvirt-2"
            }

            {
              "execute": "query-kvm",
              "id": "libvirt-3"
            }

            {
              "return": {
                "enabled": false,
                "present": true
              },
              "id": "libvirt-3"
            }

            """
        let transcript = try QMPTranscript(parsing: replies)
        #expect(transcript.greeting == nil)
        let replay = QMPReplay(transcript: transcript)
        #expect(replay.greeting.version == QEMUVersion(major: 8, minor: 1, micro: 0))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-lv-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = replay.makeServer(listeningOn: [
            .unixSocket(path: directory.appendingPathComponent("qmp.sock").path)
        ])
        try await server.serving { addresses in
            try await withClient(of: addresses[0]) { client async throws in
                #expect(try await client.execute("query-kvm") == ["enabled": false, "present": true])
                #expect(try await client.execute("query-version")["package"] == "v8.1.0")
            }
        }
    }
}
