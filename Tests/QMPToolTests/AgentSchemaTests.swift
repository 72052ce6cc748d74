import QAPI
import QGA
import QMPCore
import Testing

@testable import QMPTool

/// The guest agent's schema as the agent shell sees it: made from the history the QGA bindings
/// carry, one release at a time.
@Suite("The agent shell's schema")
struct AgentSchemaTests {
    static let newest = AgentSchema.release(forAgentVersion: nil)

    @Test("the newest release has every command the agent bindings have, and nothing else")
    func everyCommand() {
        let schema = AgentSchema.introspection(for: Self.newest)
        #expect(Set(schema.commands.keys) == Set(QGABindings.commands.keys))
    }

    @Test("every type a command's arguments or reply name is described")
    func closedOverTypes() {
        let schema = AgentSchema.introspection(for: Self.newest)
        for entry in schema.entries {
            var named: [String] = []
            switch entry.metaType {
            case .command(let arguments, let reply, _): named = [arguments, reply]
            case .array(let element): named = [element]
            case .object(let members, _, let variants): named = members.map(\.type) + variants.map(\.type)
            case .alternate(let types): named = types
            default: break
            }
            for name in named {
                #expect(schema.entry(named: name) != nil, "\(entry.name) names \(name), which is not described")
            }
        }
    }

    @Test("an agent's release picks its schema: QEMU 2.4's agent had no guest-exec, 2.5's had")
    func releases() {
        #expect(AgentSchema.release(forAgentVersion: "7.2.22") == QEMUVersion(7, 2, 0))
        #expect(AgentSchema.release(forAgentVersion: "99.0.0") == Self.newest)
        #expect(AgentSchema.release(forAgentVersion: "not a version") == Self.newest)
        let old = AgentSchema.introspection(for: AgentSchema.release(forAgentVersion: "2.4.1"))
        let exec = AgentSchema.introspection(for: AgentSchema.release(forAgentVersion: "2.5.0"))
        #expect(old.entry(named: "guest-exec") == nil)
        #expect(exec.entry(named: "guest-exec") != nil)
    }

    @Test("arguments are checked: required, optional, types, enum values")
    func checks() {
        let schema = AgentSchema.introspection(for: Self.newest)
        #expect(schema.validateArguments(["path": "/etc/hostname"], ofCommand: "guest-file-open").isEmpty)
        #expect(!schema.validateArguments([:], ofCommand: "guest-file-open").isEmpty)
        #expect(!schema.validateArguments(["handle": "one"], ofCommand: "guest-file-read").isEmpty)
        #expect(
            schema.validateArguments(["handle": 1, "offset": 0, "whence": "set"], ofCommand: "guest-file-seek").isEmpty
        )
        #expect(
            !schema.validateArguments(["handle": 1, "offset": 0, "whence": "middle"], ofCommand: "guest-file-seek")
                .isEmpty
        )
        #expect(
            AgentShellSession.problem("guest-pnig", arguments: [:], schema: schema, server: "qemu-ga 10.2.0")
                == "qemu-ga 10.2.0 has no command 'guest-pnig'"
        )
        #expect(
            AgentShellSession.problem(
                "guest-file-open",
                arguments: ["path": "/x", "mdoe": "r"],
                schema: schema,
                server: "qemu-ga"
            ) == "qemu-ga has no argument 'mdoe' of 'guest-file-open'"
        )
    }

    @Test("Tab completes agent commands, their arguments and enum values, and offers no transaction")
    func completion() {
        let schema = AgentSchema.introspection(for: Self.newest)
        let completer = ShellCompleter(schema: schema)
        let agent = ShellCompleter.Context(mode: .agent)
        #expect(completer.complete("guest-file-o", context: agent).candidates == ["guest-file-open"])
        #expect(completer.complete("tra", context: agent).candidates.isEmpty)
        #expect(completer.complete("he", context: agent).candidates == ["help"])
        #expect(completer.complete("guest-file-open p", context: agent).candidates == ["path="])
        #expect(
            completer.complete("guest-file-seek handle=1 offset=0 whence=", context: agent).candidates
                == ["whence=cur", "whence=end", "whence=set"]
        )
        #expect(completer.source(for: "guest-file-open path=/e", context: agent) != nil)
    }

    @Test("help describes agent commands and types from the agent's history")
    func help() throws {
        let schema = AgentSchema.introspection(for: Self.newest)
        var help = ShellHelp(schema: schema, server: "qemu-ga", version: Self.newest, history: AgentSchema.history)
        help.hasTransactions = false
        let exec = try #require(help.topic("guest-exec"))
        #expect(exec.hasPrefix("command guest-exec"))
        #expect(exec.contains("path"))
        #expect(exec.contains("QEMU 2.5.0"), "\(exec)")
        #expect(help.topic("GuestExecStatus")?.contains("exited") == true)
        #expect(!help.overview().contains("transaction("))
        #expect(help.overview().contains("qemu-ga has \(QGABindings.commands.count) commands"))
    }
}
