import Foundation
import Testing

/// `qmp ga exec` and `qmp ga cp` against QEMU's real guest agent, run on this host.
@Suite("qmp ga exec and cp, against a real qemu-ga")
struct GuestAgentTransferToolTests {
    @Test("exec: the program's exit code, its output on qmp's streams, standard input passed on")
    func exec() async throws {
        try await GuestAgentProcess.with { agent in
            let socket = agent.socketPath
            let streams = try await QMPExecutable.run([
                "ga", socket, "exec", "--", "sh", "-c", "echo out; echo err >&2; exit 7",
            ])
            #expect(streams.status == 7)
            #expect(streams.stdout == "out\n")
            #expect(streams.stderr == "err\n")

            let input = try await QMPExecutable.run(["ga", socket, "exec", "--", "tr", "a-z", "A-Z"], input: "hello\n")
            #expect(input.status == 0, "\(input.stderr)")
            #expect(input.stdout == "HELLO\n")

            let environment = try await QMPExecutable.run([
                "ga", socket, "exec", "--env", "GREETING=hi there", "--", "sh", "-c", "echo $GREETING",
            ])
            #expect(environment.stdout == "hi there\n", "\(environment.stderr)")

            let killed = try await QMPExecutable.run(["ga", socket, "exec", "--", "sh", "-c", "kill -9 $$"])
            #expect(killed.status == 128 + 9)
            #expect(killed.stderr.contains("qmp: sh in the guest was ended by signal 9"), "\(killed.stderr)")

            let missing = try await QMPExecutable.run(["ga", socket, "exec", "--", "/nonexistent/program"])
            #expect(missing.status == 1)
            #expect(missing.stderr.hasPrefix("error: GenericError: "), "\(missing.stderr)")

            let late = try await QMPExecutable.run(["ga", socket, "exec", "--time-limit", "0.5", "--", "sleep", "3"])
            #expect(late.status == 3)
            #expect(late.stderr.contains("did not end within"), "\(late.stderr)")

            let nothing = try await QMPExecutable.run(["ga", socket, "exec"])
            #expect(nothing.status == 64)
            #expect(nothing.stderr.contains("expected the program to run, after --"), "\(nothing.stderr)")
        }
    }

    @Test("exec: output over the agent's 16 MiB is cut there, and stderr says so")
    func execTruncation() async throws {
        try await GuestAgentProcess.with { agent in
            let output = try await QMPExecutable.run(
                ["ga", agent.socketPath, "exec", "--", "head", "-c", "\(17 << 20)", "/dev/zero"],
                timeout: .seconds(120)
            )
            #expect(output.status == 0, "\(output.stderr)")
            #expect(output.stdout.utf8.count == 16 << 20)
            #expect(output.stderr.contains("the agent kept only the first 16 MiB of the program's standard output"))
        }
    }

    @Test("cp: a file of several chunks into the guest and back, the same bytes; a copy out resumed")
    func copy() async throws {
        try await GuestAgentProcess.with { agent in
            let socket = agent.socketPath
            let directory = agent.directory.path
            var bytes = [UInt8](repeating: 0, count: 300_000)
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: (index &* 7919) >> 3) }
            let original = Data(bytes)
            try original.write(to: agent.directory.appendingPathComponent("original"))

            let into = try await QMPExecutable.run([
                "ga", socket, "cp", "--chunk-size", "64K", "\(directory)/original", "guest:\(directory)/in-guest",
            ])
            #expect(into.status == 0, "\(into.stderr)")
            // Not at a terminal: no progress bar, nothing at all.
            #expect(into.stderr.isEmpty && into.stdout.isEmpty, "\(into.stderr)")
            let back = try await QMPExecutable.run([
                "ga", socket, "cp", "--chunk-size", "64K", "guest:\(directory)/in-guest", "\(directory)/back",
            ])
            #expect(back.status == 0, "\(back.stderr)")
            #expect(try Data(contentsOf: agent.directory.appendingPathComponent("back")) == original)

            // A copy out that stopped part of the way: --resume goes on from the local file's size.
            try original.prefix(100_000).write(to: agent.directory.appendingPathComponent("partial"))
            let resumed = try await QMPExecutable.run([
                "ga", socket, "cp", "--resume", "--chunk-size", "64K", "guest:\(directory)/original",
                "\(directory)/partial",
            ])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(try Data(contentsOf: agent.directory.appendingPathComponent("partial")) == original)

            // A directory as the destination gets the source's name.
            try FileManager.default.createDirectory(
                at: agent.directory.appendingPathComponent("folder"),
                withIntermediateDirectories: false
            )
            let named = try await QMPExecutable.run([
                "ga", socket, "cp", "guest:\(directory)/original", "\(directory)/folder",
            ])
            #expect(named.status == 0, "\(named.stderr)")
            #expect(try Data(contentsOf: agent.directory.appendingPathComponent("folder/original")) == original)

            let missing = try await QMPExecutable.run(["ga", socket, "cp", "guest:\(directory)/none", "\(directory)/x"])
            #expect(missing.status == 1)
            #expect(missing.stderr.hasPrefix("error: GenericError: failed to open file"), "\(missing.stderr)")
            let cases: [([String], String)] = [
                (["a", "b"], "neither path is in the guest"),
                (["guest:/a", "guest:/b"], "both paths are in the guest"),
                (["guest:/a"], "expected SOURCE and DESTINATION"),
                (["\(directory)/none", "guest:/tmp/x"], "is no file this user can read"),
                (["--resume", "\(directory)/original", "guest:/tmp/x"], "give --resume-from BYTES"),
                (["--chunk-size", "100M", "\(directory)/original", "guest:/tmp/x"], "--chunk-size expects a size"),
            ]
            for (paths, expected) in cases {
                let output = try await QMPExecutable.run(["ga", socket, "cp"] + paths)
                #expect(output.status == 64, "\(paths): \(output.stderr)")
                #expect(output.stderr.contains(expected), "\(paths): \(output.stderr)")
            }
        }
    }
}
