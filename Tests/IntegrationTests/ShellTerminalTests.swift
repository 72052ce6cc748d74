import CQMPSystem
import Foundation
import QEMULauncher
import QMPClient
import QMPCore
import Testing

/// A terminal for `qmp shell`: a tmux session on a private tmux server, driven with send-keys
/// and read with capture-pane. Every wait is bounded; ``close()`` kills the server it started.
final class TmuxTerminal: Sendable {
    let socketName: String
    let session = "shell"

    private init(socketName: String) {
        self.socketName = socketName
    }

    /// Starts `command` in a new tmux server of its own, in `directory` when given.
    static func start(
        _ command: [String],
        environment: [String: String],
        directory: String? = nil,
        columns: Int = 160,
        rows: Int = 60
    ) async throws -> TmuxTerminal {
        let terminal = TmuxTerminal(socketName: "swift-qmp-test-\(UUID().uuidString.prefix(8))")
        let exports = environment.map { "\($0.key)=\(Self.quoted($0.value))" }.joined(separator: " ")
        // The pane stays after qmp exits, so that its last screen can still be read.
        let line = "env \(exports) \(command.map(Self.quoted).joined(separator: " ")); echo \"[exit $?]\"; sleep 600"
        let arguments =
            [
                "-L", terminal.socketName, "new-session", "-d", "-s", terminal.session, "-x", "\(columns)", "-y",
                "\(rows)",
            ] + (directory.map { ["-c", $0] } ?? []) + [line]
        _ = try await offCooperativePool { try Self.tmux(arguments) }.get()
        return terminal
    }

    static func quoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Runs tmux and returns what it printed. Not with Foundation's Process: its exit
    /// notification depends on SIGCHLD handling that QEMU's launcher in the same process can
    /// take away, which left waitUntilExit waiting for good; a spawn and a waitpid cannot miss.
    @discardableResult
    static func tmux(_ arguments: [String]) throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-tmux-\(UUID().uuidString.prefix(8)).out"
        ).path
        defer { unlink(output) }
        let argv = ["tmux"] + arguments
        var pointers = argv.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        let pid = pointers.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                cqmp_spawn($0, output)
            }
        }
        guard pid > 0 else {
            throw SetupFailure(description: "could not start tmux: errno \(-pid)")
        }
        var status: CInt = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw SetupFailure(description: "tmux \(arguments.prefix(4)) failed with status \(status): \(text)")
        }
        return text
    }

    /// Types keys: literal text, or tmux key names (`Tab`, `Enter`, `Up`, `C-d`) with `keys:`.
    func type(_ text: String) async throws {
        let socketName = self.socketName
        let session = self.session
        _ = try await offCooperativePool { try Self.tmux(["-L", socketName, "send-keys", "-t", session, "-l", text]) }
            .get()
        try await Task.sleep(for: .milliseconds(150))
    }

    func press(_ keys: String...) async throws {
        let socketName = self.socketName
        let session = self.session
        for key in keys {
            _ = try await offCooperativePool { try Self.tmux(["-L", socketName, "send-keys", "-t", session, key]) }
                .get()
            try await Task.sleep(for: .milliseconds(150))
        }
    }

    func screen() async throws -> String {
        let socketName = self.socketName
        let session = self.session
        return try await offCooperativePool {
            try Self.tmux(["-L", socketName, "capture-pane", "-p", "-S", "-2000", "-t", session])
        }.get()
    }

    /// Waits until the screen satisfies `condition`, at most `timeout`; returns the screen.
    @discardableResult
    func waitFor(
        _ what: String,
        timeout: Duration = .seconds(15),
        sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: @escaping (String) -> Bool
    ) async throws -> String {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last = ""
        while clock.now < deadline {
            last = try await screen()
            if condition(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what); the screen:\n\(last)", sourceLocation: sourceLocation)
        throw QMPError(code: .timeout, message: "timed out waiting for \(what)")
    }

    /// The last line on the screen that is not empty: the one being typed.
    static func currentLine(_ screen: String) -> String {
        screen.split(separator: "\n", omittingEmptySubsequences: true).last.map(String.init) ?? ""
    }

    static func count(_ text: String, in screen: String) -> Int {
        screen.components(separatedBy: text).count - 1
    }

    /// Ends the tmux server and everything in its pane. Processes spawned from a Dispatch
    /// thread inherit its blocked signals (SIGHUP, SIGTERM), so tmux's own kill-server is not
    /// enough: the server and the pane's process group are sent SIGKILL by their pids.
    func close() {
        let pids =
            (try? Self.tmux(["-L", socketName, "display-message", "-p", "-t", session, "#{pid} #{pane_pid}"]))?
            .split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { pid_t($0) } ?? []
        _ = try? Self.tmux(["-L", socketName, "kill-server"])
        if pids.count == 2 {
            kill(-pids[1], SIGKILL)
            kill(pids[1], SIGKILL)
            kill(pids[0], SIGKILL)
        }
        // A killed server leaves its socket behind.
        let directory = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
        unlink("\(directory)/tmux-\(getuid())/\(socketName)")
    }
}

/// ``offCooperativePool(_:)`` for work that throws.
func offCooperativePool<Value: Sendable>(
    _ work: @escaping @Sendable () throws -> Value
) async -> Result<Value, any Error> {
    await offCooperativePool { Result { try work() } }
}

@Suite("qmp shell at a terminal, against a real QEMU 7.2", .serialized)
struct ShellTerminalTests {
    /// A private directory with a second QMP socket for the shell (QEMU serves one client per
    /// socket; the test's own client keeps the first) and a private HOME for the history.
    private static func workspace() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-shell-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("a person at the shell: completion, replies, history, a transaction, an event while typing, then HMP")
    func person() async throws {
        let directory = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let shellSocket = directory.appendingPathComponent("shell.sock").path
        let launcher = QEMULauncher(
            extraArguments: ["-qmp", "unix:\(shellSocket),server=on,wait=off"],
            startupTimeout: RealQEMU.startupTimeout,
            shutdownStepTimeout: .seconds(5)
        )
        let qmp = try QMPExecutable.url.path
        let environment = ["HOME": directory.path, "XDG_STATE_HOME": "", "TERM": "xterm", "NO_COLOR": "1"]
        try await RealQEMU.with(launcher) { qemu in
            let terminal = try await TmuxTerminal.start([qmp, "shell", shellSocket], environment: environment)
            defer { terminal.close() }
            try await terminal.waitFor("the prompt") { $0.contains("Connected to QEMU 7.2") && $0.contains("(QEMU)") }

            // A command name completed with Tab, and its reply.
            try await terminal.type("query-statu")
            try await terminal.press("Tab")
            try await terminal.waitFor("query-status completed") {
                TmuxTerminal.currentLine($0) == "(QEMU) query-status"
            }
            try await terminal.press("Enter")
            try await terminal.waitFor("the status") { $0.contains("\"status\": \"prelaunch\"") }

            // An argument name and a QOM path completed with Tab; the path comes from the machine.
            try await terminal.type("qom-list pa")
            try await terminal.press("Tab")
            try await terminal.waitFor("path=") { TmuxTerminal.currentLine($0) == "(QEMU) qom-list path=" }
            try await terminal.type("/mach")
            try await terminal.press("Tab")
            try await terminal.waitFor("the path /machine") {
                TmuxTerminal.currentLine($0) == "(QEMU) qom-list path=/machine"
            }
            try await terminal.press("Enter")
            try await terminal.waitFor("the children of /machine") { $0.contains("\"peripheral-anon\"") }

            // History: Up twice brings back query-status.
            try await terminal.press("Up", "Up")
            try await terminal.waitFor("query-status from the history") {
                TmuxTerminal.currentLine($0) == "(QEMU) query-status"
            }
            try await terminal.press("Enter")
            try await terminal.waitFor("a second status") { TmuxTerminal.count("\"prelaunch\"", in: $0) >= 2 }

            // A check before sending: the argument is reported with what was expected.
            try await terminal.type("qom-list path=5")
            try await terminal.press("Enter")
            try await terminal.waitFor("the local check") {
                $0.contains("error: arguments.path: expected string, got 5 (checked against QEMU 7.2")
            }

            // A transaction, collected over several lines.
            try await terminal.type("blockdev-add driver=null-co node-name=disk0")
            try await terminal.press("Enter")
            try await terminal.type("transaction(")
            try await terminal.press("Enter")
            try await terminal.waitFor("the transaction prompt") { TmuxTerminal.currentLine($0) == "TRANS>" }
            try await terminal.type("block-dirty-bitmap-add node=disk0 name=bitmap0")
            try await terminal.press("Enter")
            try await terminal.type("block-dirty-bitmap-add node=disk0 name=bitmap1 persistent=false")
            try await terminal.press("Enter")
            try await terminal.type(")")
            try await terminal.press("Enter")
            try await terminal.waitFor("the prompt after the transaction") { TmuxTerminal.currentLine($0) == "(QEMU)" }
            let nodes = try await qemu.client.execute("query-named-block-nodes")
            let bitmaps = nodes.arrayValue?.first { $0["node-name"] == "disk0" }?["dirty-bitmaps"]?.arrayValue?
                .compactMap { $0["name"]?.stringValue }
            #expect(Set(bitmaps ?? []) == ["bitmap0", "bitmap1"])

            // An event that arrives while a line is being typed is printed above it, and the
            // line goes on where it was.
            try await terminal.type("query-")
            try await qemu.client.execute("cont")
            let screen = try await terminal.waitFor("the RESUME event") { $0.contains("\"event\": \"RESUME\"") }
            #expect(TmuxTerminal.currentLine(screen) == "(QEMU) query-")
            try await terminal.type("status")
            try await terminal.press("Enter")
            try await terminal.waitFor("the running status") { $0.contains("\"status\": \"running\"") }

            // Ctrl-D leaves; the history is kept.
            try await terminal.press("C-d")
            try await terminal.waitFor("qmp to exit") { $0.contains("[exit 0]") }
            let history = try String(contentsOf: directory.appendingPathComponent(".qmp_history"), encoding: .utf8)
            // libedit's history format encodes spaces as \040.
            #expect(history.contains("qom-list\\040path=/machine") || history.contains("qom-list path=/machine"))

            // HMP mode on the same socket.
            let hmp = try await TmuxTerminal.start([qmp, "shell", "-H", shellSocket], environment: environment)
            defer { hmp.close() }
            try await hmp.waitFor("the HMP prompt") { $0.contains("Welcome to the HMP shell!") && $0.contains("(HMP)") }
            try await hmp.type("info status")
            try await hmp.press("Enter")
            try await hmp.waitFor("the HMP status") { $0.contains("VM status: running") }
            try await hmp.type("cpu 7")
            try await hmp.press("Enter")
            try await hmp.waitFor("the CPU check") { $0.contains("bad CPU index") }
            try await hmp.press("C-d")
            try await hmp.waitFor("qmp -H to exit") { $0.contains("[exit 0]") }
        }
    }
}

extension ShellTerminalTests {
    @Test("a person who mistypes: suggestions, the version hint, help TYPE, and Tab that offers only what fits")
    func mistakes() async throws {
        let directory = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: directory) }
        let shellSocket = directory.appendingPathComponent("shell.sock").path
        // Files for Tab: one where an argument is a path, one that no other argument may offer.
        let images = directory.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try Data().write(to: images.appendingPathComponent("screen.ppm"))
        try Data().write(to: directory.appendingPathComponent("zz-not-an-argument"))
        let launcher = QEMULauncher(
            extraArguments: ["-qmp", "unix:\(shellSocket),server=on,wait=off"],
            startupTimeout: RealQEMU.startupTimeout,
            shutdownStepTimeout: .seconds(5)
        )
        let qmp = try QMPExecutable.url.path
        let environment = ["HOME": directory.path, "XDG_STATE_HOME": "", "TERM": "xterm", "NO_COLOR": "1"]
        try await RealQEMU.with(launcher) { _ in
            let terminal = try await TmuxTerminal.start(
                [qmp, "shell", shellSocket],
                environment: environment,
                directory: directory.path
            )
            defer { terminal.close() }
            try await terminal.waitFor("the prompt") { $0.contains("Connected to QEMU 7.2") && $0.contains("(QEMU)") }

            // A mistyped command is refused with the commands it was probably meant to be.
            try await terminal.type("query-stat")
            try await terminal.press("Enter")
            try await terminal.waitFor("the suggestion") {
                $0.contains("has no command 'query-stat'; did you mean query-stats or query-status?")
            }

            // A command this QEMU no longer has: the release that removed it, as the typed API says.
            try await terminal.type("query-cpus")
            try await terminal.press("Enter")
            try await terminal.waitFor("the version hint") {
                $0.contains("has no command 'query-cpus'; QEMU removed it after 5.2.0; did you mean query-cpus-fast?")
            }

            // A mistyped argument and a mistyped enum value.
            try await terminal.type("eject device=cd0 forse=true")
            try await terminal.press("Enter")
            try await terminal.waitFor("the argument suggestion") {
                $0.contains("has no argument 'forse' of 'eject'; did you mean force?")
            }
            try await terminal.type("blockdev-add driver=qcow3 node-name=disk0")
            try await terminal.press("Enter")
            try await terminal.waitFor("the value suggestion") { $0.contains("; did you mean qcow or qcow2?") }

            // help TYPE describes a type: members, types, which are required.
            try await terminal.type("help BlockDeviceInfo")
            try await terminal.press("Enter")
            try await terminal.waitFor("the type's help") {
                $0.contains("object BlockDeviceInfo") && $0.contains("members: (* required in QEMU 7.2")
                    && $0.contains("* file ")
            }

            // Tab completes file names where the argument is a path...
            try await terminal.type("screendump filename=ima")
            try await terminal.press("Tab")
            try await terminal.waitFor("the directory") {
                TmuxTerminal.currentLine($0) == "(QEMU) screendump filename=images/"
            }
            try await terminal.type("sc")
            try await terminal.press("Tab")
            try await terminal.waitFor("the file") {
                TmuxTerminal.currentLine($0) == "(QEMU) screendump filename=images/screen.ppm"
            }
            try await terminal.press("C-u")
            // ...also where the type says so: QEMU numbers its types, the shell names them.
            try await terminal.type("chardev-add id=c0 backend.type=file backend.data.out=ima")
            try await terminal.press("Tab")
            try await terminal.waitFor("the directory for a file chardev") {
                TmuxTerminal.currentLine($0) == "(QEMU) chardev-add id=c0 backend.type=file backend.data.out=images/"
            }
            try await terminal.press("C-u")
            // ...and nowhere else: with no match, Tab leaves the line as it is.
            try await terminal.type("query-status zz")
            try await terminal.press("Tab")
            try await Task.sleep(for: .milliseconds(500))
            #expect(TmuxTerminal.currentLine(try await terminal.screen()) == "(QEMU) query-status zz")
            try await terminal.press("C-u")

            try await terminal.press("C-d")
            try await terminal.waitFor("qmp to exit") { $0.contains("[exit 0]") }
        }
    }
}

@Suite("qmp shell without QEMU")
struct ShellWithoutQEMUTests {
    @Test("qmp shell with no ADDRESS starts the simulated QEMU, and query-status works")
    func simulated() async throws {
        let (process, stdout, stderr) = try QMPExecutable.start(
            ["shell"],
            input: "query-status\nquery-status oops=1\n",
            environment: ["PATH": "/nonexistent", "QEMU_BINARY": "", "QMP_SOCKET": ""]
        )
        let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(20))
        #expect(output.status == 0)
        #expect(output.stdout.contains(#"{"return": {"status": "prelaunch", "singlestep": false, "running": false}}"#))
        #expect(output.stdout.contains("error: QEMU 7.2.22 has no argument 'oops' of 'query-status'\n"))
        #expect(output.stderr.contains("simulated QEMU 7.2"))
    }
}
