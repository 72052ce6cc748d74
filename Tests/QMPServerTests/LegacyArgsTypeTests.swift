import QMPClient
import QMPCore
import QMPServer
import Testing

@Suite("Legacy args_type declarations")
struct LegacyArgsTypeTests {
    @Test("change device:B,target:F,arg:s? requires device and target, and types them")
    func change() throws {
        let change = try LegacyArgsType("device:B,target:F,arg:s?")
        #expect(change.check(["device": "ide0", "target": "/tmp/cd.iso"]) == nil)
        #expect(change.check(["device": "ide0", "target": "/tmp/cd.iso", "arg": "raw"]) == nil)
        #expect(change.check(["device": "ide0"])?.description == "Parameter 'target' is missing")
        #expect(
            change.check(["device": 1, "target": "x"])?.description
                == "Invalid parameter type for 'device', expected: string"
        )
        #expect(
            change.check(["device": "a", "target": "b", "bogus": 1])?.description == "Parameter 'bogus' is unexpected"
        )
    }

    @Test("flags are optional booleans; integers, numbers and any values check their kind")
    func letters() throws {
        let eject = try LegacyArgsType("force:-f,device:B")
        #expect(eject.check(["device": "ide0"]) == nil)
        #expect(
            eject.check(["device": "ide0", "force": "yes"])?.description
                == "Invalid parameter type for 'force', expected: bool"
        )
        let downtime = try LegacyArgsType("value:T")
        #expect(downtime.check(["value": 1]) == nil)
        #expect(downtime.check(["value": 0.5]) == nil)
        let memsave = try LegacyArgsType("val:l,size:i,filename:s,cpu:i?")
        #expect(memsave.check(["val": 0, "size": 4096, "filename": "f"]) == nil)
        #expect(
            memsave.check(["val": 0, "size": "4096", "filename": "f"])?.description
                == "Invalid parameter type for 'size', expected: int"
        )
        let transaction = try LegacyArgsType("actions:q,properties:q?")
        #expect(transaction.check(["actions": [["type": "x"]]]) == nil)
    }

    @Test("an O entry accepts any other argument, as device_add device:O did")
    func optionString() throws {
        let deviceAdd = try LegacyArgsType("device:O")
        #expect(deviceAdd.check(["driver": "e1000", "id": "nic0", "mac": "52:54:00:12:34:56"]) == nil)
    }

    @Test("a malformed declaration is refused with the entry named")
    func malformed() {
        let missingColon = #expect(throws: QMPError.self) { try LegacyArgsType("device") }
        #expect(missingColon?.message == "args_type entry 'device': expected NAME:TYPE")
        let badLetter = #expect(throws: QMPError.self) { try LegacyArgsType("fmt:/") }
        #expect(badLetter?.message == "args_type entry 'fmt:/': '/' is not a QMP argument type")
    }
}

@Suite("A server with commands declared by args_type")
struct LegacyDispatchTests {
    @Test("the server checks arguments against the declaration before the handler runs")
    func serverChecks() async throws {
        var commands = QMPCommandTable()
        try commands.register("eject", argsType: "force:-f,device:B") { request in
            .string("ejected \(request.arguments["device"]?.stringValue ?? "?")")
        }
        let server = QMPServer(
            configuration: .init(
                greeting: QMPGreeting(version: QEMUVersion(major: 1, minor: 0, micro: 0)),
                commands: commands,
                addresses: [.tcp(host: "127.0.0.1", port: 0)]
            )
        )
        try await withRunningServer(server) { address in
            try await withClient(of: address) { client async throws in
                #expect(try await client.execute("eject", arguments: ["device": "ide1-cd0"]) == "ejected ide1-cd0")
                let missing = await #expect(throws: QMPError.self) { try await client.execute("eject") }
                #expect(missing?.message == "Parameter 'device' is missing")
                let wrongType = await #expect(throws: QMPError.self) {
                    try await client.execute("eject", arguments: ["device": 5])
                }
                #expect(wrongType?.message == "Invalid parameter type for 'device', expected: string")
            }
        }
    }
}
