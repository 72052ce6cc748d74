import QMPCore
import QMPSimulator
import Testing

@testable import QMPTool

@Suite("What a refusal adds, from QEMU 7.2's schema")
struct RefusalAdviceTests {
    static let advice = RefusalAdvice(
        schema: QEMUSimulator.schema.introspection,
        version: QEMUVersion("7.2.22")
    )

    @Test("an unknown command: the closest commands")
    func unknownCommand() {
        #expect(Self.advice.advice(for: "query-stat", arguments: nil) == "; did you mean query-stats or query-status?")
        #expect(
            Self.advice.advice(for: "qurey-status", arguments: nil) == "; did you mean query-status or query-stats?"
        )
        #expect(Self.advice.advice(for: "frobnicate", arguments: nil) == "")
    }

    @Test("a command this QEMU lacks: the release that removed or introduced it, as the typed API says it")
    func absentCommand() {
        #expect(
            Self.advice.advice(for: "query-cpus", arguments: nil)
                == "; QEMU removed it after 5.2.0; did you mean query-cpus-fast?"
        )
        #expect(Self.advice.advice(for: "query-stats", arguments: nil) == "")
        let old = RefusalAdvice(schema: QEMUSimulator.schema.introspection, version: QEMUVersion("6.2.0"))
        #expect(old.advice(for: "blockdev-reopen", arguments: nil) == "")
        #expect(
            RefusalAdvice(schema: Self.advice.schema, version: nil).advice(for: "query-cpus", arguments: nil)
                == "; did you mean query-cpus-fast?"
        )
    }

    @Test("an unknown argument: the closest arguments not given yet, also nested and in a union's branch")
    func unknownArgument() {
        #expect(
            Self.advice.advice(for: "eject", arguments: ["device": "d0", "forse": true]) == "; did you mean force?"
        )
        #expect(
            Self.advice.advice(
                for: "blockdev-add",
                arguments: ["driver": "file", "node-name": "d0", "filename": "/x", "read-onyl": true]
            ) == "; did you mean read-only?"
        )
        #expect(
            Self.advice.advice(
                for: "blockdev-add",
                arguments: ["driver": "null-co", "node-name": "d0", "cache": ["direkt": true]]
            ) == "; did you mean direct?"
        )
        #expect(Self.advice.advice(for: "query-status", arguments: ["oops": 1]) == "")
    }

    @Test("a required argument typed wrong: the refusal names it missing, the advice names what was typed")
    func misspeltRequiredArgument() {
        #expect(
            Self.advice.advice(for: "blockdev-del", arguments: ["nod-name": "d0"])
                == "; nod-name is not known there: did you mean node-name?"
        )
        #expect(
            Self.advice.advice(for: "blockdev-add", arguments: ["driver": "file", "node-name": "d0", "filenam": "/x"])
                == "; filenam is not known there: did you mean filename?"
        )
        #expect(Self.advice.advice(for: "blockdev-del", arguments: [:]) == "")
    }

    @Test("an argument this QEMU lacks: the release that introduced or removed it")
    func absentArgument() {
        // block-commit's 'backing-mask-protocol' came in 9.0.
        #expect(
            Self.advice.advice(for: "block-commit", arguments: ["device": "d0", "backing-mask-protocol": true])
                == "; it was introduced in 9.0.0"
        )
    }

    @Test("an invalid enum value: the closest values, also inside arrays")
    func enumValues() {
        #expect(
            Self.advice.advice(for: "blockdev-add", arguments: ["driver": "qcow3", "node-name": "d0"])
                == "; did you mean qcow or qcow2?"
        )
        #expect(
            Self.advice.advice(for: "send-key", arguments: ["keys": [["type": "qcode", "data": "shfit"]]])
                == "; did you mean shift?"
        )
        #expect(Self.advice.advice(for: "blockdev-add", arguments: ["driver": "zzzzzz", "node-name": "d0"]) == "")
    }

    @Test("a problem that is no name: nothing to add")
    func otherProblems() {
        #expect(Self.advice.advice(for: "qom-list", arguments: ["path": 5]) == "")
        #expect(Self.advice.advice(for: "query-status", arguments: nil) == "")
    }

    @Test("a place in the arguments is read as the validator writes it")
    func places() {
        #expect(RefusalAdvice.Place("arguments.keys[0].data")?.steps == [.member("keys"), .element, .member("data")])
        #expect(RefusalAdvice.Place("arguments")?.steps == [])
        #expect(RefusalAdvice.Place("execute") == nil)
    }
}
