import Foundation
import Testing

/// The shell sessions shown in `qmp shell --help` and in README.md, run against the simulated
/// QEMU: the lines typed at a prompt go to the shell, and every other line of the example must
/// appear in what it prints, in order. An example that no longer does what it shows fails here.
@Suite("The qmp shell examples run as shown")
struct ShellExampleTests {
    /// A session: what is typed, and what must come out.
    struct Session {
        var input: [String] = []
        var output: [String] = []
    }

    /// Lines typed after a prompt, `(QEMU) ` or `TRANS> `; the rest is output.
    static func session(_ lines: some Sequence<Substring>) -> Session {
        var session = Session()
        for line in lines {
            if let prompt = ["(QEMU) ", "TRANS> "].first(where: { line.hasPrefix($0) }) {
                session.input.append(String(line.dropFirst(prompt.count)))
            } else if !line.isEmpty {
                session.output.append(String(line))
            }
        }
        return session
    }

    /// Runs `session` in `qmp shell` with the simulated QEMU and checks its output.
    static func run(_ session: Session, from place: String) async throws {
        #expect(!session.input.isEmpty, "no lines typed in \(place)")
        let (process, stdout, stderr) = try QMPExecutable.start(
            ["shell"],
            input: session.input.joined(separator: "\n") + "\n",
            environment: ["PATH": "/nonexistent", "QEMU_BINARY": "", "QMP_SOCKET": ""]
        )
        let result = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(30))
        #expect(result.status == 0, "\(place): \(result.stderr)")
        var rest = Substring(result.stdout)
        for expected in session.output {
            guard let found = rest.range(of: expected) else {
                Issue.record("\(place): '\(expected)' is not in the output (in order):\n\(result.stdout)")
                return
            }
            rest = rest[found.upperBound...]
        }
        #expect(!result.stdout.contains("Error while parsing"), "\(place): \(result.stdout)")
        // A help topic shown without its output must still find something.
        #expect(!result.stdout.contains("has no command, event or type"), "\(place): \(result.stdout)")
    }

    @Test("the session in qmp shell --help")
    func helpExamples() async throws {
        let help = try await QMPExecutable.run(["shell", "--help"])
        let lines = help.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "In the shell:" })
        let example = lines[(start + 1)...].prefix { $0.hasPrefix("  ") }.map { $0.drop { $0 == " " } }
        try await Self.run(Self.session(example), from: "qmp shell --help")
    }

    @Test("the sessions in README.md")
    func readmeExamples() async throws {
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("README.md"),
            encoding: .utf8
        )
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        var sessions: [(line: Int, lines: [Substring])] = []
        var index = 0
        while index < lines.count {
            if lines[index] == "```", index + 1 < lines.count, lines[index + 1].hasPrefix("(QEMU) ") {
                let body = lines[(index + 1)...].prefix { $0 != "```" }
                sessions.append((index + 2, Array(body)))
                index += body.count + 2
            } else {
                index += 1
            }
        }
        #expect(!sessions.isEmpty, "README.md shows no shell session")
        for (line, body) in sessions {
            try await Self.run(Self.session(body), from: "README.md:\(line)")
        }
    }

    @Test("qmp exec query-stat, as its --help shows, names the commands meant")
    func execSuggestion() async throws {
        let help = try await QMPExecutable.run(["exec", "--help"])
        #expect(help.stdout.contains("qmp exec query-stat"))
        let (process, stdout, stderr) = try QMPExecutable.start(
            ["exec", "query-stat"],
            environment: ["PATH": "/nonexistent", "QEMU_BINARY": ""]
        )
        let result = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
        #expect(result.status == 1)
        // Also as README.md shows it.
        let line =
            "error: CommandNotFound: The command query-stat has not been found; "
            + "did you mean query-stats or query-status?"
        #expect(result.stderr.contains(line))
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("README.md"),
            encoding: .utf8
        )
        #expect(readme.contains("`\(line)`"))
    }

    @Test("qmp exec names the argument and the value meant, and the release that removed a command")
    func execAdvice() async throws {
        for (words, expected) in [
            (["eject", "device=cd0", "forse=true"], "Parameter 'forse' is unexpected; did you mean force?"),
            (["blockdev-del", "nod-name=d0"], "is missing; nod-name is not known there: did you mean node-name?"),
            (["blockdev-add", "driver=qcow3", "node-name=d0"], "; did you mean qcow or qcow2?"),
            (["query-cpus"], "; QEMU removed it after 5.2.0; did you mean query-cpus-fast?"),
        ] {
            let (process, stdout, stderr) = try QMPExecutable.start(
                ["exec"] + words,
                environment: ["PATH": "/nonexistent", "QEMU_BINARY": ""]
            )
            let result = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
            #expect(result.status == 1)
            #expect(result.stderr.contains(expected), "\(words): \(result.stderr)")
        }
        let (process, stdout, stderr) = try QMPExecutable.start(
            ["exec", "-"],
            input: "query-stauts\n",
            environment: ["PATH": "/nonexistent", "QEMU_BINARY": ""]
        )
        let result = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
        #expect(result.stderr.contains("query-stauts has not been found; did you mean query-stats or query-status?"))
    }
}
