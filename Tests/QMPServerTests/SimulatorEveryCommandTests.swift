import QAPI
import QMPClient
import QMPCore
import QMPServer
import QMPSimulator
import Testing

/// Every command QEMU 7.2 has, called on the simulator with the smallest arguments its schema
/// allows: the arguments pass the schema check, and every reply is QEMU's kind of answer — a
/// value of the command's return type, or an error that is not "not implemented".
@Suite("The simulator answers every QEMU 7.2 command")
struct SimulatorEveryCommandTests {
    @Test("minimal arguments from the schema are accepted and every success is a value of the return type")
    func everyCommand() async throws {
        let introspection = QEMUSimulator.schema.introspection
        try await withSimulator { client in
            var successes = 0
            var failures = 0
            // quit last: after it the machine is shut down.
            let names = introspection.commands.keys.filter { $0 != "qmp_capabilities" }.sorted { a, b in
                (a == "quit" ? 1 : 0, a) < (b == "quit" ? 1 : 0, b)
            }
            #expect(names.count == 215)
            for name in names {
                guard case .command(let argumentType, let returnType, _)? = introspection.entry(named: name)?.metaType
                else {
                    Issue.record("\(name) is not a command")
                    continue
                }
                let arguments = introspection.minimalValue(of: argumentType).objectValue ?? [:]
                let argumentIssues = introspection.validateArguments(arguments, ofCommand: name)
                #expect(argumentIssues.isEmpty, "minimal arguments of \(name) are not valid: \(argumentIssues)")
                do {
                    let reply = try await client.execute(name, arguments: arguments)
                    successes += 1
                    let issues = introspection.validate(reply, as: returnType, path: "return")
                    #expect(issues.isEmpty, "\(name) returned \(reply.serialized()), not a \(returnType): \(issues)")
                } catch let error as QMPError where error.code == .commandFailed {
                    failures += 1
                    #expect(!error.message.contains("does not implement"), "\(name): \(error.message)")
                    #expect(!error.message.contains("x-"), "\(name) leaks a recorded placeholder: \(error.message)")
                    // The schema check passed, so the error is the command's own, not the dispatcher's.
                    #expect(error.errorClass != "CommandNotFound", "\(name): \(error.message)")
                    #expect(!error.message.hasPrefix("Invalid parameter type"), "\(name): \(error.message)")
                    #expect(!error.message.contains("is unexpected"), "\(name): \(error.message)")
                } catch let error as QMPError where name == "quit" && error.code == .connectionClosed {
                    successes += 1
                }
            }
            #expect(successes + failures == names.count)
            // Real QEMU 7.2 answered 87 of these with a value on -machine none; the simulator
            // models more of the machine, not less.
            #expect(successes >= 87, "only \(successes) commands succeeded")
        }
    }

    @Test("a recorded error names the caller's values")
    func recordedErrorTemplates() async throws {
        try await withSimulator { client in
            do {
                _ = try await client.execute(
                    "block-dirty-bitmap-add",
                    arguments: ["node": "drive0", "name": "bitmap0"]
                )
                Issue.record("block-dirty-bitmap-add succeeded on a machine without that node")
            } catch let error as QMPError {
                #expect(error.message == "Cannot find device='drive0' nor node-name='drive0'")
            }
            let cancel = await #expect(throws: QMPError.self) {
                try await client.execute("block-job-cancel", arguments: ["device": "job7"])
            }
            #expect(cancel?.errorClass == "DeviceNotActive")
            #expect(cancel?.message == "Block job 'job7' not found")
            #expect(try await client.execute("query-vnc") == ["enabled": false])
            #expect(try await client.execute("query-migrate") == [:])
        }
    }

    private func withSimulator(_ body: (QMPClient) async throws -> Void) async throws {
        let server = QEMUSimulator().makeServer(listeningOn: [.tcp(host: "127.0.0.1", port: 0)])
        try await withRunningServer(server) { address in
            try await withClient(of: address, body)
        }
    }
}
