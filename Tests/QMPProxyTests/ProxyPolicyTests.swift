import Foundation
import QMPClient
import QMPCore
import QMPProxy
import Testing

@Suite("QMP proxy: policy per listener")
struct ProxyPolicyTests {
    /// The listeners of the table below, by index.
    static let listeners: [(name: String, policy: QMPProxyPolicy)] = [
        // Everything but the built-in rules, and hot-unplug only of devices named hot-*.
        ("operators", QMPProxyPolicy(deny: [.init(command: "device_del", arguments: ["id": "!hot-*"])])),
        ("metrics", .readOnly),
        // Only what the allow list names; an allow list does not lift a built-in rule.
        ("agents", QMPProxyPolicy(allow: [.init(command: "query-*"), .init(command: "human-monitor-command")])),
        // A built-in rule lifted by name, explicitly.
        ("debug", QMPProxyPolicy(liftedBuiltInRules: [.humanMonitorCommand])),
    ]

    struct Row: Sendable, CustomTestStringConvertible {
        var listener: Int
        var command: String
        var arguments: JSONObject
        /// `nil` when the command must reach QEMU; else the end of the refusal's desc.
        var refusal: String?

        var testDescription: String {
            "\(ProxyPolicyTests.listeners[listener].name): \(command) \(arguments) → \(refusal ?? "forwarded")"
        }
    }

    static let table: [Row] = [
        Row(listener: 0, command: "query-status", arguments: [:], refusal: nil),
        Row(listener: 0, command: "device_del", arguments: ["id": "hot-disk1"], refusal: nil),
        Row(
            listener: 0,
            command: "device_del",
            arguments: ["id": "boot-disk"],
            refusal: "deny rule 1 ('device_del' with id '!hot-*')"
        ),
        Row(
            listener: 0,
            command: "migrate",
            arguments: ["uri": "tcp:192.0.2.1:4444"],
            refusal: "built-in rule 'migrate'"
        ),
        Row(
            listener: 0,
            command: "object-add",
            arguments: ["qom-type": "secret", "id": "sec0", "data": "hunter2"],
            refusal: "built-in rule 'object-add-secret'"
        ),
        Row(listener: 0, command: "object-add", arguments: ["qom-type": "iothread", "id": "io0"], refusal: nil),
        Row(listener: 0, command: "quit", arguments: [:], refusal: "built-in rule 'quit'"),
        Row(listener: 1, command: "query-name", arguments: [:], refusal: nil),
        Row(listener: 1, command: "qom-get", arguments: ["path": "/machine", "property": "type"], refusal: nil),
        Row(listener: 1, command: "stop", arguments: [:], refusal: "the read-only profile"),
        Row(listener: 2, command: "query-kvm", arguments: [:], refusal: nil),
        Row(listener: 2, command: "cont", arguments: [:], refusal: "no allow rule matches"),
        Row(
            listener: 2,
            command: "human-monitor-command",
            arguments: ["command-line": "info status"],
            refusal: "built-in rule 'human-monitor-command'"
        ),
        Row(listener: 3, command: "human-monitor-command", arguments: ["command-line": "info version"], refusal: nil),
        Row(
            listener: 3,
            command: "dump-guest-memory",
            arguments: ["paging": false, "protocol": "file:/tmp/x"],
            refusal: "built-in rule 'dump-guest-memory'"
        ),
    ]

    @Test("each command is forwarded or refused as its listener's policy says, and a refused one never reaches QEMU")
    func table() async throws {
        try await ProxyRig.with(listeners: Self.listeners) { rig in
            let clients = try rig.listeners.indices.map { try WireClient(path: rig.path($0)) }
            for client in clients {
                try await client.negotiate()
            }
            for (number, row) in Self.table.enumerated() {
                var command: JSONObject = ["execute": .string(row.command), "id": .int(Int64(number))]
                if !row.arguments.isEmpty { command["arguments"] = .object(row.arguments) }
                clients[row.listener].send(JSONValue.object(command).description)
                let reply = try #require(try await clients[row.listener].reply(), "\(row.testDescription)")
                #expect(reply["id"] == .int(Int64(number)))
                if let refusal = row.refusal {
                    let name = Self.listeners[row.listener].name
                    #expect(
                        reply["error"]
                            == [
                                "class": "GenericError",
                                "desc": .string(
                                    "Command '\(row.command)' refused by the proxy's policy for listener '\(name)': \(refusal)"
                                ),
                            ],
                        "\(row.testDescription)"
                    )
                } else if case .string(let desc)? = reply["error"]?["desc"] {
                    // QEMU's own answer is fine (no device hot-disk1, say): the command got there.
                    #expect(!desc.contains("refused by the proxy"), "\(row.testDescription)")
                }
            }

            // The upstream side's recording: what was forwarded is there, nothing refused is.
            let reached = try rig.commandsReachingQEMU()
            for row in Self.table {
                let arrived = reached.contains {
                    $0.name == row.command && Self.sameArguments($0.arguments, row.arguments)
                }
                #expect(arrived == (row.refusal == nil), "\(row.testDescription)")
            }
            #expect(!reached.contains { $0.name == "migrate" || $0.name == "quit" || $0.name == "stop" })
            let transcript = try String(contentsOfFile: rig.transcriptPath, encoding: .utf8)
            #expect(!transcript.contains("hunter2"))
            #expect(rig.proxy.statistics.commandsDenied == Self.table.count(where: { $0.refusal != nil }))
        }
    }

    /// The recording redacts secrets, so only the arguments a row names are compared.
    static func sameArguments(_ recorded: JSONObject, _ sent: JSONObject) -> Bool {
        sent.allSatisfy { key, value in recorded[key] == value }
    }

    @Test("a policy reads from JSON with every member optional, and writes back the same")
    func codable() throws {
        let json = #"""
            {"profile": "read-only",
             "deny": [{"command": "device_del", "arguments": {"id": "!hot-*"}}, {"command": "x-*"}],
             "liftedBuiltInRules": ["quit"]}
            """#
        let policy = try JSONDecoder().decode(QMPProxyPolicy.self, from: Data(json.utf8))
        #expect(
            policy
                == QMPProxyPolicy(
                    profile: .readOnly,
                    deny: [.init(command: "device_del", arguments: ["id": "!hot-*"]), .init(command: "x-*")],
                    liftedBuiltInRules: [.quit]
                )
        )
        #expect(try JSONDecoder().decode(QMPProxyPolicy.self, from: Data("{}".utf8)) == .standard)
        let again = try JSONDecoder().decode(QMPProxyPolicy.self, from: JSONEncoder().encode(policy))
        #expect(again == policy)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(QMPProxyPolicy.self, from: Data(#"{"liftedBuiltInRules": ["everything"]}"#.utf8))
        }
    }

    @Test("argument patterns: globs, negation, nested paths, and values that are not text")
    func patterns() {
        let rule = QMPProxyPolicy.Rule(command: "device_*", arguments: ["id": "hot-?*", "opts.bus": "pci.*"])
        #expect(rule.matches("device_del", ["id": "hot-1", "opts": ["bus": "pci.0"]]))
        #expect(!rule.matches("device_del", ["id": "hot-", "opts": ["bus": "pci.0"]]))
        #expect(!rule.matches("device_del", ["id": "hot-1"]))
        #expect(!rule.matches("object-add", ["id": "hot-1", "opts": ["bus": "pci.0"]]))
        let negated = QMPProxyPolicy.Rule(command: "device_del", arguments: ["id": "!hot-*"])
        #expect(negated.matches("device_del", ["id": "cold"]))
        #expect(negated.matches("device_del", [:]))
        #expect(!negated.matches("device_del", ["id": "hot-2"]))
        let numbers = QMPProxyPolicy.Rule(command: "*", arguments: ["size": "1??", "on": "true"])
        #expect(numbers.matches("anything", ["size": 128, "on": true]))
        #expect(!numbers.matches("anything", ["size": ["not", "text"], "on": true]))
    }

    @Test("a Unix socket client gets the policy for its user and group; a TCP client gets the listener's")
    func peerCredentials() async throws {
        let uid = UInt32(getuid())
        let gid = UInt32(getgid())
        let listener = QMPProxyPolicy(liftedBuiltInRules: [.quit])
        let byPeer = [
            // Another user's policy comes first and must not apply.
            QMPProxy.PeerPolicy(uid: uid &+ 1, policy: QMPProxyPolicy(deny: [.init(command: "*")])),
            QMPProxy.PeerPolicy(uid: uid, gid: gid, policy: .readOnly),
        ]
        try await ProxyRig.with(listeners: [("main", listener)], peerPolicies: [byPeer], tcp: true) { rig in
            let local = try WireClient(path: rig.path())
            try await local.negotiate()
            local.send(#"{"execute":"stop","id":1}"#)
            #expect(
                try await local.reply()
                    == [
                        "id": 1,
                        "error": [
                            "class": "GenericError",
                            "desc": .string(
                                "Command 'stop' refused by the proxy's policy for listener 'main' for uid \(uid) gid \(gid): "
                                    + "the read-only profile"
                            ),
                        ],
                    ]
            )
            local.send(#"{"execute":"query-status","id":2}"#)
            #expect(try await local.reply()?["return"]?["status"] == "prelaunch")
            guard let tcp = rig.listeners[0].first(where: { if case .tcp = $0 { true } else { false } }) else {
                Issue.record("the listener has no TCP address: \(rig.listeners)")
                return
            }
            try await QMPClient.withConnection(to: tcp) { client in
                try await client.execute("cont")
                let status = try await client.execute("query-status")
                #expect(status["status"] == "running")
            }
        }
    }

    @Test("peer policies read from JSON beside the others")
    func peerPolicyCodable() throws {
        let json = #"[{"uid": 1000, "policy": {"profile": "read-only"}}, {"gid": 27, "policy": {}}]"#
        let policies = try JSONDecoder().decode([QMPProxy.PeerPolicy].self, from: Data(json.utf8))
        #expect(policies == [.init(uid: 1000, policy: .readOnly), .init(gid: 27, policy: .standard)])
        #expect(policies[0].matches(uid: 1000, gid: 5))
        #expect(!policies[0].matches(uid: 1001, gid: 5))
        #expect(policies[1].matches(uid: 1, gid: 27))
    }
}
