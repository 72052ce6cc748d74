import ArgumentParser
import Testing

@testable import QMPTool

/// Mistakes on the command line are refused before anything connects, with one line that
/// says what goes with what.
@Suite("Argument validation")
struct ArgumentValidationTests {
    /// The message ArgumentParser would print for `arguments`, or nil when they parse.
    func refusal(_ arguments: [String]) -> String? {
        do {
            _ = try QMPCommand.parseAsRoot(arguments)
            return nil
        } catch {
            return QMPCommand.message(for: error)
        }
    }

    @Test("an ADDRESS together with --launch is refused by every subcommand that connects")
    func addressWithLaunch() {
        let expected = "give either ADDRESS or --launch, not both"
        #expect(refusal(["exec", "--launch", "/tmp/qmp.sock", "query-status"]) == expected)
        #expect(refusal(["qom", "get", "--launch", "/tmp/qmp.sock", "/machine.type"]) == expected)
        #expect(refusal(["qom", "tree", "--launch", "/tmp/qmp.sock", "/machine"]) == expected)
        #expect(refusal(["events", "--launch", "/tmp/qmp.sock"]) == expected)
        #expect(refusal(["shell", "--launch", "/tmp/qmp.sock"]) == expected)
        #expect(refusal(["shell", "--launch"]) == nil)
        #expect(refusal(["exec", "--launch", "query-status"]) == nil)
    }

    @Test("options for one command are refused with commands from standard input, and the other way round")
    func standardInputOptions() {
        #expect(
            refusal(["exec", "/tmp/qmp.sock", "-", "--oob"])
                == "--oob and --args apply to one COMMAND, not to commands read from standard input ('-')"
        )
        #expect(
            refusal(["exec", "/tmp/qmp.sock", "-", "--args", "{}"])
                == "--oob and --args apply to one COMMAND, not to commands read from standard input ('-')"
        )
        #expect(
            refusal(["exec", "/tmp/qmp.sock", "query-status", "--keep-going"])
                == "--keep-going applies only to commands read from standard input (COMMAND '-')"
        )
        #expect(refusal(["exec", "/tmp/qmp.sock", "-", "--keep-going"]) == nil)
    }

    @Test("a --timeout that is not a positive number of seconds up to a year is refused, not a crash")
    func timeouts() {
        for value in ["0", "-1", "inf", "nan", "1e17"] {
            #expect(
                refusal(["exec", "--timeout=\(value)", "query-status"])
                    == "--timeout expects a positive number of seconds, at most a year; got \(Double(value)!)"
            )
        }
        #expect(refusal(["exec", "--timeout", "0.5", "query-status"]) == nil)
    }
}
