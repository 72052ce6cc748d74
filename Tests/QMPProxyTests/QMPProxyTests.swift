import NIOConcurrencyHelpers
import QMPClient
import QMPCore
import QMPProxy
import QMPServer
import QMPSimulator
import Testing

@Suite("QMP proxy: many clients on one monitor")
struct QMPProxyTests {
    @Test("a client is greeted with the upstream's version and the capabilities the proxy honours")
    func greeting() async throws {
        try await ProxyRig.with { rig in
            let client = try WireClient(path: rig.path())
            let greeting = try await client.next()
            #expect(greeting?["QMP"]?["version"] == rig.upstream.greeting.raw["QMP"]?["version"])
            #expect(greeting?["QMP"]?["version"]?["qemu"]?["major"] == 7)
            #expect(greeting?["QMP"]?["capabilities"] == ["oob"])
            client.send(#"{"execute":"query-status","id":1}"#)
            #expect(
                try await client.reply()
                    == [
                        "id": 1,
                        "error": [
                            "class": "CommandNotFound",
                            "desc": "Expecting capabilities negotiation with 'qmp_capabilities'",
                        ],
                    ]
            )
            client.send(#"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]},"id":"neg"}"#)
            #expect(try await client.reply() == ["return": [:], "id": "neg"])
        }
    }

    @Test("clients that use the same ids each get their own replies, under their own ids and in their order")
    func idsComeBackUnchanged() async throws {
        try await ProxyRig.with { rig in
            let first = try WireClient(path: rig.path())
            let second = try WireClient(path: rig.path())
            let anonymous = try WireClient(path: rig.path())
            for client in [first, second, anonymous] {
                try await client.negotiate()
            }
            // The same ids on two connections, one of them not even a number or a string; all
            // pipelined, so that the proxy has both clients' commands upstream at once.
            first.send(
                #"{"execute":"query-status","id":1}{"execute":"query-name","id":{"mine":[1]}}"#
                    + #"{"execute":"no-such-command","id":"x"}"#
            )
            second.send(
                #"{"execute":"query-name","id":1}{"execute":"query-status","id":{"mine":[1]}}"#
                    + #"{"execute":"query-status","arguments":{"bogus":true},"id":"x"}"#
            )
            anonymous.send(#"{"execute":"query-kvm"}{"execute":"no-such-command"}{"execute":"query-name"}"#)

            #expect(
                try await first.reply() == [
                    "return": ["status": "prelaunch", "singlestep": false, "running": false], "id": 1,
                ]
            )
            #expect(try await first.reply() == ["return": [:], "id": ["mine": [1]]])
            #expect(
                try await first.reply()
                    == [
                        "id": "x",
                        "error": [
                            "class": "CommandNotFound", "desc": "The command no-such-command has not been found",
                        ],
                    ]
            )
            #expect(try await second.reply() == ["return": [:], "id": 1])
            let status = try await second.reply()
            #expect(status?["return"]?["status"] == "prelaunch")
            #expect(status?["id"] == ["mine": [1]])
            #expect(
                try await second.reply()
                    == ["id": "x", "error": ["class": "GenericError", "desc": "Parameter 'bogus' is unexpected"]]
            )
            let kvm = try await rig.upstream.execute("query-kvm")
            #expect(try await anonymous.reply() == ["return": kvm])
            #expect(try await anonymous.reply()?["error"]?["class"] == "CommandNotFound")
            #expect(try await anonymous.reply() == ["return": [:]])
        }
    }

    @Test("many concurrent clients of ours, over Unix and TCP, each get the replies to their own calls")
    func concurrentClients() async throws {
        try await ProxyRig.with(tcp: true) { rig in
            let addresses = rig.listeners[0]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await QMPClient.withConnection(to: addresses[index % addresses.count]) { client in
                            // Two commands whose replies differ in shape, alternated: a reply
                            // taken for another call's would show.
                            for call in 0..<20 {
                                if call.isMultiple(of: 2) {
                                    let status = try await client.execute("query-status")
                                    #expect(status["status"] == "prelaunch")
                                } else {
                                    let kvm = try await client.execute("query-kvm")
                                    #expect(kvm["present"] == true)
                                }
                            }
                            let name = try await client.execute("query-name")
                            #expect(name == [:])
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(rig.proxy.statistics.commandsForwarded == 8 * 21)
        }
    }

    @Test("out-of-band commands go upstream out of band, and the upstream judges them")
    func outOfBand() async throws {
        try await ProxyRig.with { rig in
            let client = try WireClient(path: rig.path())
            try await client.negotiate(oob: true)
            client.send(#"{"exec-oob":"query-status","id":"q"}"#)
            #expect(
                try await client.reply()
                    == [
                        "id": "q",
                        "error": ["class": "GenericError", "desc": "The command query-status does not support OOB"],
                    ]
            )
            client.send(#"{"exec-oob":"query-yank","id":"y"}"#)
            let direct = try await rig.upstream.executeOutOfBand("query-yank")
            #expect(try await client.reply() == ["return": direct, "id": "y"])
        }
    }
}
