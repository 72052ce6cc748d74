import Foundation
import QEMULauncher
import QMPClient
import QMPCore
import Testing

@Suite("Against the QEMU 7.2 of the distribution")
struct RealQEMUTests {
    @Test("the client negotiates OOB and reads query-status")
    func negotiationAndStatus() async throws {
        try await RealQEMU.with { qemu in
            let client = qemu.client
            #expect(client.greeting.offersOOB)
            #expect(client.oobEnabled)
            let version = try #require(client.greeting.version)
            #expect(version >= QEMUVersion(major: 7, minor: 0, micro: 0))
            let status = try await client.execute("query-status")
            #expect(status["status"] == "prelaunch")
            #expect(status["running"] == false)
        }
    }

    @Test("stop and cont bring STOP and RESUME events, also when the event overtakes the reply")
    func stopAndCont() async throws {
        try await RealQEMU.with { qemu in
            let client = qemu.client
            try await client.execute("cont")
            let events = client.events(named: ["STOP", "RESUME"])
            var iterator = events.makeAsyncIterator()

            try await client.execute("stop")
            #expect(try await iterator.next()?.name == "STOP")
            #expect(try await client.execute("query-status")["status"] == "paused")

            try await client.execute("cont")
            let resume = try #require(try await iterator.next())
            #expect(resume.name == "RESUME")
            #expect(resume.data == nil)
            #expect(resume.timestamp.seconds > 1_600_000_000)
            #expect(try await client.execute("query-status")["status"] == "running")

            // The waiting helper subscribes before sending, so it sees STOP even though QEMU
            // sends it before the reply.
            let (reply, stop) = try await client.execute("stop", thenWaitFor: "STOP")
            #expect(reply == .object([:]))
            #expect(stop.name == "STOP")
        }
    }

    @Test("2,000 concurrent calls from 50 tasks each get their own reply")
    func concurrentCalls() async throws {
        try await RealQEMU.with { qemu in
            let client = qemu.client
            try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<50 {
                    group.addTask {
                        var matched = 0
                        for call in 0..<40 {
                            // HMP's `print` answers with the number it was given, in hex: a
                            // reply that only this call can have.
                            let number = task * 1000 + call + 1
                            let reply = try await client.execute(
                                "human-monitor-command",
                                arguments: ["command-line": .string("p \(number)")]
                            )
                            #expect(reply == .string("0x\(String(number, radix: 16))\r\n"))
                            matched += 1
                        }
                        return matched
                    }
                }
                var total = 0
                for try await matched in group {
                    total += matched
                }
                #expect(total == 2000)
            }
        }
    }

    @Test(
        "error replies keep the class and desc of QEMU and name the command; QEMU 7.2 echoes the id of in-band commands"
    )
    func errorClasses() async throws {
        try await RealQEMU.with { qemu in
            let client = qemu.client
            let notFound = await #expect(throws: QMPError.self) { try await client.execute("no-such-command") }
            #expect(notFound?.code == .commandFailed)
            #expect(notFound?.errorClass == QMPError.ErrorClass.commandNotFound)
            #expect(notFound?.message == "The command no-such-command has not been found")
            #expect(notFound?.command == "no-such-command")
            // Every command carries an id by default; the error names the one QEMU sent back.
            #expect(notFound?.id != nil)

            let device = await #expect(throws: QMPError.self) {
                try await client.execute("device_del", arguments: ["id": "nope"])
            }
            #expect(device?.errorClass == QMPError.ErrorClass.deviceNotFound)
            #expect(device?.message == "Device 'nope' not found")

            let generic = await #expect(throws: QMPError.self) {
                try await client.execute("human-monitor-command")
            }
            #expect(generic?.errorClass == QMPError.ErrorClass.genericError)
            #expect(generic?.message == "Parameter 'command-line' is missing")

            // The connection is still good after errors.
            let status = try await client.execute("query-status")
            #expect(status["status"] == "prelaunch")
        }
    }

    @Test("a command is checked against the connected QEMU's own schema before it is sent")
    func preSendCheck() async throws {
        try await RealQEMU.with(RealQEMU.checkedLauncher) { qemu in
            let client = qemu.client
            let schema = try await client.schema()
            let version = try #require(client.greeting.version)
            #expect(schema.commands["query-status"] != nil)
            let missing = await #expect(throws: QMPError.self) { try await client.check("blockdev-reopen-everything") }
            #expect(missing?.code == .invalidArguments)
            #expect(missing?.message == "QEMU \(version) has no command 'blockdev-reopen-everything'")
            let mistyped = await #expect(throws: QMPError.self) {
                try await client.execute("qom-get", arguments: ["path": 5, "property": "type"])
            }
            #expect(mistyped?.message == "arguments.path: expected string, got 5 (checked against QEMU \(version))")
            let type = try await client.execute("qom-get", arguments: ["path": "/machine", "property": "type"])
            #expect(type == "none-machine")
        }
    }

    @Test("exec-oob runs query-yank out of band")
    func outOfBand() async throws {
        try await RealQEMU.with { qemu in
            let yank = try await qemu.client.executeOutOfBand("query-yank")
            let instances = try #require(yank.arrayValue)
            #expect(instances.contains { $0["type"] == "chardev" })

            let refused = await #expect(throws: QMPError.self) {
                try await qemu.client.executeOutOfBand("query-status")
            }
            #expect(refused?.message == "The command query-status does not support OOB")
        }
    }

    @Test("the 200 KB query-qmp-schema reply arrives whole")
    func largeReply() async throws {
        try await RealQEMU.with { qemu in
            let schema = try #require(try await qemu.client.execute("query-qmp-schema").arrayValue)
            #expect(schema.count > 1000)
            let names = Set(schema.compactMap { $0["name"]?.stringValue })
            #expect(names.contains("query-status"))
            #expect(names.contains("SHUTDOWN"))
            #expect(schema.contains { $0["meta-type"] == "command" && $0["allow-oob"] == true })
        }
    }

    @Test("when QEMU is killed with SIGKILL, ten pending calls all fail at once, long before their limit")
    func peerDeath() async throws {
        try await RealQEMU.with { qemu in
            let client = qemu.client
            // A stopped QEMU reads nothing, so the calls stay pending.
            kill(qemu.pid, SIGSTOP)
            let clock = ContinuousClock()
            let results = try await withThrowingTaskGroup(of: (QMPError?, Duration).self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        do {
                            try await client.execute("query-status", timeout: .seconds(30))
                            return (nil, .zero)
                        } catch let error as QMPError {
                            return (error, .zero)
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(300))
                let killed = clock.now
                kill(qemu.pid, SIGKILL)
                var results: [(QMPError?, Duration)] = []
                for try await (error, _) in group {
                    results.append((error, clock.now - killed))
                }
                return results
            }
            #expect(results.count == 10)
            for (error, elapsed) in results {
                #expect(error?.code == .connectionClosed)
                #expect(error?.command == "query-status")
                // Far below the calls' 30 s limit, with room for a loaded CI host.
                #expect(elapsed < .seconds(5))
            }
            #expect(!client.isConnected)
        }
    }

    @Test("a client connects to QEMU over TCP, and refuses descriptor passing there")
    func overTCP() async throws {
        let port = try freeTCPPort()
        let launcher = QEMULauncher(extraArguments: ["-qmp", "tcp:127.0.0.1:\(port),server=on,wait=off"])
        try await RealQEMU.with(launcher) { _ in
            let client = try await QMPClient.connect(to: try QMPAddress(parsing: "127.0.0.1:\(port)"))
            #expect(try await client.execute("query-status")["status"] == "prelaunch")
            let refused = await #expect(throws: QMPError.self) {
                try await client.execute("getfd", arguments: ["fdname": "x"], passing: [0])
            }
            #expect(refused?.code == .unsupported)
            await client.close()
        }
    }

    @Test("a monitor busy with another client is named as the likely cause when no greeting comes")
    func busyMonitor() async throws {
        let (launcher, socket) = try RealQEMUToolTests.launcherWithSecondMonitor()
        defer { try? FileManager.default.removeItem(atPath: (socket as NSString).deletingLastPathComponent) }
        try await RealQEMU.with(launcher) { _ in
            let holder = try await QMPClient.connect(to: .unixSocket(path: socket))
            let refused = await #expect(throws: QMPError.self) {
                _ = try await QMPClient.connect(
                    to: .unixSocket(path: socket),
                    configuration: QMPClient.Configuration(connectTimeout: .seconds(1))
                )
            }
            #expect(refused?.code == .timeout)
            #expect(refused?.message.contains("the monitor may be serving another client") == true)
            // The first client still has the monitor.
            let status = try? await holder.execute("query-status")
            await holder.close()
            #expect(status?["status"] == "prelaunch")
        }
    }

    @Test("getfd and add-fd pass descriptors, also two at once and amid other commands, as query-fdsets shows")
    func descriptorPassing() async throws {
        try await RealQEMU.with { qemu in
            let client = qemu.client
            var pipeA: [Int32] = [0, 0]
            var pipeB: [Int32] = [0, 0]
            #expect(pipe(&pipeA) == 0)
            #expect(pipe(&pipeB) == 0)
            defer { (pipeA + pipeB).forEach { close($0) } }

            // getfd: the descriptor arrives and can be closed by name.
            try await client.execute("getfd", arguments: ["fdname": "passed"], passing: [pipeA[0]])
            try await client.execute("closefd", arguments: ["fdname": "passed"])
            let missing = await #expect(throws: QMPError.self) {
                try await client.execute("closefd", arguments: ["fdname": "passed"])
            }
            #expect(missing?.errorClass == QMPError.ErrorClass.genericError)

            // add-fd twice into one set, started concurrently: the client sends them one at a time.
            let (writeEndA, readEndB) = (pipeA[1], pipeB[0])
            async let first = client.execute(
                "add-fd",
                arguments: ["fdset-id": 7, "opaque": "first"],
                passing: [writeEndA]
            )
            async let second = client.execute(
                "add-fd",
                arguments: ["fdset-id": 7, "opaque": "second"],
                passing: [readEndB]
            )
            let replies = try await [first, second]
            #expect(replies.allSatisfy { $0["fdset-id"] == 7 })

            // Two descriptors in one message: QEMU takes the first for the command.
            try await client.execute("add-fd", arguments: ["fdset-id": 8], passing: [pipeB[1], pipeB[0]])

            let fdsets = try #require(try await client.execute("query-fdsets").arrayValue)
            let seven = try #require(fdsets.first { $0["fdset-id"] == 7 })
            let opaques = Set(try #require(seven["fds"]?.arrayValue).compactMap { $0["opaque"]?.stringValue })
            #expect(opaques == ["first", "second"])
            let eight = try #require(fdsets.first { $0["fdset-id"] == 8 })
            #expect(eight["fds"]?.arrayValue?.count == 1)

            // Amid a stream of ordinary commands, each descriptor still goes with its own command.
            let ends = [pipeA[0], pipeA[1], pipeB[0], pipeB[1]]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask { _ = try await client.execute("query-name") }
                    if index % 50 == 25 {
                        let end = ends[index / 50]
                        group.addTask {
                            try await client.execute(
                                "add-fd",
                                arguments: ["fdset-id": 9, "opaque": .string("end \(index / 50)")],
                                passing: [end]
                            )
                        }
                    }
                }
                try await group.waitForAll()
            }
            let nine = try #require(try await client.execute("query-fdsets").arrayValue?.first { $0["fdset-id"] == 9 })
            let nineOpaques = Set(try #require(nine["fds"]?.arrayValue).compactMap { $0["opaque"]?.stringValue })
            #expect(nineOpaques == ["end 0", "end 1", "end 2", "end 3"])
        }
    }

    @Test("device_del waits for the DEVICE_DELETED of that device")
    func commandThenEvent() async throws {
        let launcher = QEMULauncher(machine: "q35", extraArguments: ["-device", "qemu-xhci,id=usb"])
        try await RealQEMU.with(launcher) { qemu in
            let client = qemu.client
            try await client.execute(
                "device_add",
                arguments: ["driver": "usb-tablet", "id": "tablet0", "bus": "usb.0"]
            )
            let (_, event) = try await client.execute(
                "device_del",
                arguments: ["id": "tablet0"],
                thenWaitFor: "DEVICE_DELETED",
                matching: { $0.data?["device"] == "tablet0" }
            )
            #expect(event.data?["path"] == "/machine/peripheral/tablet0")
        }
    }
}

@Suite("The QEMU launcher")
struct LauncherTests {
    struct Boom: Error {}

    @Test("when the body throws, QEMU is still shut down and its directory removed")
    func cleanupOnThrow() async throws {
        let seen = LockedPid()
        await #expect(throws: Boom.self) {
            try await QEMULauncher().withQEMU { qemu in
                seen.set(qemu.pid, qemu.socketPath)
                throw Boom()
            }
        }
        let (pid, socket) = try #require(seen.value)
        #expect(kill(pid, 0) != 0)
        #expect(!FileManager.default.fileExists(atPath: (socket as NSString).deletingLastPathComponent))
    }

    @Test("a QEMU that answers nothing is ended with SIGTERM and then SIGKILL")
    func escalation() async throws {
        let launcher = QEMULauncher(shutdownStepTimeout: .milliseconds(300))
        let qemu = try await launcher.launch()
        // A stopped process neither answers quit nor handles SIGTERM; only SIGKILL ends it.
        kill(qemu.pid, SIGSTOP)
        let clock = ContinuousClock()
        let started = clock.now
        await qemu.shutdown()
        #expect(kill(qemu.pid, 0) != 0)
        // Two steps of 0.3 s, then SIGKILL: the bound only proves that nothing waits for a
        // process that will never answer, with room for a machine busy with the other tests.
        #expect(clock.now - started < .seconds(10))
        #expect(!qemu.isRunning)
    }

    @Test("shutdown from several tasks at once, one of them cancelled, ends QEMU once and returns in each")
    func concurrentShutdown() async throws {
        let qemu = try await RealQEMU.launcher.launch()
        let directory = (qemu.socketPath as NSString).deletingLastPathComponent
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                withUnsafeCurrentTask { $0?.cancel() }
                await qemu.shutdown()
            }
            for _ in 0..<3 {
                group.addTask { await qemu.shutdown() }
            }
        }
        #expect(!qemu.isRunning)
        #expect(kill(qemu.pid, 0) != 0)
        #expect(!FileManager.default.fileExists(atPath: directory))
        // And once more, after the fact.
        await qemu.shutdown()
    }

    @Test("QEMU may take all of the startup time to greet, however short the client's own connect bound")
    func greetingUsesStartupTime() async throws {
        // QEMU creates its socket before it builds the machine and greets only after; on a
        // loaded host that gap outlasts a client's connect bound, which is meant for servers
        // that are already running.
        let launcher = QEMULauncher(
            startupTimeout: RealQEMU.startupTimeout,
            client: QMPClient.Configuration(connectTimeout: .nanoseconds(1))
        )
        try await launcher.withQEMU { qemu in
            let status = try await qemu.client.execute("query-status")
            #expect(status["status"] == "prelaunch")
        }
    }

    @Test("a QEMU that offers its socket but never greets fails the launch when the startup time runs out, saying so")
    func socketWithoutGreeting() async throws {
        // A stand-in for a QEMU stuck while building its machine: it listens where -qmp says and
        // then says nothing.
        let script = try Self.standIn(
            """
            import socket, sys, time
            spec = sys.argv[sys.argv.index("-qmp") + 1]
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(spec[len("unix:"):].split(",")[0])
            listener.listen(4)
            time.sleep(600)
            """
        )
        defer { try? FileManager.default.removeItem(atPath: script) }
        let clock = ContinuousClock()
        let started = clock.now
        let error = await #expect(throws: QEMULaunchError.self) {
            // Time enough for the stand-in to start and listen on a busy machine.
            try await QEMULauncher(binary: script, startupTimeout: .seconds(10), shutdownStepTimeout: .seconds(2))
                .launch()
        }
        #expect(
            error?.message.contains("offered its QMP socket but did not greet within its startup time of 10.0 seconds")
                == true,
            "\(error?.message ?? "")"
        )
        #expect(error?.message.contains("1e-09") == false)
        // The launch ends at its startup time, not at a bound of the client's.
        #expect(clock.now - started < .seconds(40))
    }

    @Test("a QEMU that never makes its socket fails the launch when the startup time runs out, saying so")
    func noSocket() async throws {
        let script = try Self.standIn("import time\ntime.sleep(600)\n")
        defer { try? FileManager.default.removeItem(atPath: script) }
        let error = await #expect(throws: QEMULaunchError.self) {
            try await QEMULauncher(binary: script, startupTimeout: .milliseconds(500), shutdownStepTimeout: .seconds(2))
                .launch()
        }
        #expect(
            error?.message.contains("did not offer its QMP socket within its startup time of 0.5 seconds") == true,
            "\(error?.message ?? "")"
        )
    }

    /// An executable Python script that stands in for QEMU; its path.
    static func standIn(_ program: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("swift-qmp-stand-in-\(UUID().uuidString.prefix(8))").path
        try ("#!/usr/bin/env python3\n" + program).write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    @Test("a missing QEMU binary is a launch error that says how to install QEMU")
    func missingBinary() async throws {
        let error = await #expect(throws: QEMULaunchError.self) {
            try await QEMULauncher(binary: "qemu-system-nonexistent").launch()
        }
        #expect(error?.message.contains("apt-get install qemu-system-x86") == true)
    }

    @Test("a QEMU that exits at once reports its status and what it printed")
    func earlyExit() async throws {
        let error = await #expect(throws: QEMULaunchError.self) {
            try await QEMULauncher(extraArguments: ["-no-such-option"]).launch()
        }
        #expect(error?.message.contains("exited with status 1 before offering its QMP socket") == true)
        #expect(error?.message.contains("no-such-option") == true)
    }
}

final class LockedPid: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (pid_t, String)?
    func set(_ pid: pid_t, _ socket: String) { lock.withLock { stored = (pid, socket) } }
    var value: (pid_t, String)? { lock.withLock { stored } }
}

@Suite("The qmp tool against the QEMU 7.2 of the distribution")
struct RealQEMUToolTests {
    /// A QEMU with a second QMP monitor, since one monitor serves one client at a time.
    static func launcherWithSecondMonitor(machine: String = "none") throws -> (QEMULauncher, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swift-qmp-tool-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let socket = directory.appendingPathComponent("second.sock").path
        let launcher = QEMULauncher(machine: machine, extraArguments: ["-qmp", "unix:\(socket),server=on,wait=off"])
        return (launcher, socket)
    }

    @Test("qmp exec prints the reply as JSON and exits 0")
    func execPrintsReply() async throws {
        let (launcher, socket) = try Self.launcherWithSecondMonitor()
        defer { try? FileManager.default.removeItem(atPath: (socket as NSString).deletingLastPathComponent) }
        try await RealQEMU.with(launcher) { _ in
            let output = try await QMPExecutable.run(["exec", socket, "query-status"])
            #expect(output.status == 0)
            let reply = try JSONValue(parsing: output.stdout)
            #expect(reply["status"] == "prelaunch")

            let withArguments = try await QMPExecutable.run([
                "exec", socket, "qom-get", "path=/machine", "property=type",
            ])
            #expect(withArguments.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\"none-machine\"")
        }
    }

    @Test("qmp exec reports the class and desc of an error reply on stderr and exits 1")
    func execReportsError() async throws {
        let (launcher, socket) = try Self.launcherWithSecondMonitor()
        defer { try? FileManager.default.removeItem(atPath: (socket as NSString).deletingLastPathComponent) }
        try await RealQEMU.with(launcher) { _ in
            let output = try await QMPExecutable.run(["exec", socket, "device_del", "id=nope"])
            #expect(output.status == 1)
            #expect(output.stdout.isEmpty)
            #expect(output.stderr == "error: DeviceNotFound: Device 'nope' not found\n")
        }
    }

    @Test("qmp exec --launch starts its own QEMU")
    func execLaunch() async throws {
        let output = try await QMPExecutable.run(["exec", "--launch", "query-version"])
        #expect(output.status == 0, "\(output.stderr)")
        let reply = try JSONValue(parsing: output.stdout)
        #expect(reply["qemu"]?["major"] == 7)
    }

    @Test("qmp events prints events as JSON lines and stops after --count")
    func eventsAsJSONLines() async throws {
        let (launcher, socket) = try Self.launcherWithSecondMonitor()
        defer { try? FileManager.default.removeItem(atPath: (socket as NSString).deletingLastPathComponent) }
        try await RealQEMU.with(launcher) { qemu in
            let (process, stdout, stderr) = try QMPExecutable.start([
                "events", socket, "--filter", "STOP", "--filter", "RESUME", "--count", "2",
            ])
            // The tool subscribes once it has negotiated; keep causing events until it has seen two.
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(20)
            while process.isRunning && clock.now < deadline {
                try await qemu.client.execute("cont")
                try await qemu.client.execute("stop")
                try await Task.sleep(for: .milliseconds(50))
            }
            let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(5))
            #expect(output.status == 0, "\(output.stderr)")
            let lines = output.stdout.split(separator: "\n")
            #expect(lines.count == 2)
            for line in lines {
                let event = try JSONValue(parsing: String(line))
                #expect(["STOP", "RESUME"].contains(event["event"]?.stringValue))
                #expect(event["timestamp"]?["seconds"]?.int64Value != nil)
            }
        }
    }

    @Test("qmp exec - reads commands from standard input and stops at the first error")
    func execFromStandardInput() async throws {
        let (launcher, socket) = try Self.launcherWithSecondMonitor()
        defer { try? FileManager.default.removeItem(atPath: (socket as NSString).deletingLastPathComponent) }
        try await RealQEMU.with(launcher) { _ in
            let lines = "cont\n# a comment\n\n{\"execute\": \"query-status\"}\nno-such-command\nquery-kvm\n"
            let output = try await QMPExecutable.run(["exec", socket, "-"], input: lines)
            #expect(output.status == 1)
            #expect(output.stdout.split(separator: "\n").count == 2)
            #expect(output.stdout.contains(#""status":"running""#))
            #expect(output.stderr == "error: CommandNotFound: The command no-such-command has not been found\n")

            let keepGoing = try await QMPExecutable.run(["exec", socket, "--keep-going", "-"], input: lines)
            #expect(keepGoing.status == 1)
            #expect(keepGoing.stdout.split(separator: "\n").count == 3)
        }
    }

    @Test("qmp qom get, set and list read and change properties")
    func qomGetSetList() async throws {
        let (launcher, socket) = try Self.launcherWithSecondMonitor(machine: "q35")
        defer { try? FileManager.default.removeItem(atPath: (socket as NSString).deletingLastPathComponent) }
        try await RealQEMU.with(launcher) { _ in
            let type = try await QMPExecutable.run(["qom", "get", socket, "/machine.type"])
            #expect(type.stdout == "\"pc-q35-7.2-machine\"\n")
            let set = try await QMPExecutable.run(["qom", "set", socket, "/machine.dump-guest-core", "false"])
            #expect(set.status == 0, "\(set.stderr)")
            let after = try await QMPExecutable.run(["qom", "get", socket, "/machine.dump-guest-core"])
            #expect(after.stdout == "false\n")
            let list = try await QMPExecutable.run(["qom", "list", socket, "/machine"])
            #expect(list.stdout.split(separator: "\n").contains("peripheral: child<container>"))
            let missing = try await QMPExecutable.run(["qom", "get", socket, "/nope.type"])
            #expect(missing.status == 1)
            #expect(missing.stderr.hasPrefix("error: DeviceNotFound: "))
        }
    }

    @Test("qmp qom tree /machine shows the tree that qom-list walked recursively finds")
    func qomTree() async throws {
        let (launcher, socket) = try Self.launcherWithSecondMonitor(machine: "q35")
        defer { try? FileManager.default.removeItem(atPath: (socket as NSString).deletingLastPathComponent) }
        try await RealQEMU.with(launcher) { qemu in
            let output = try await QMPExecutable.run(["qom", "tree", socket, "/machine"])
            #expect(output.status == 0, "\(output.stderr)")
            let printed = try QOMOutline(parsing: output.stdout)

            // The same tree, walked here with the client.
            func walk(_ path: String, name: String, type: String) async throws -> QOMOutline.Node {
                let entries = try #require(
                    try await qemu.client.execute("qom-list", arguments: ["path": .string(path)]).arrayValue
                )
                var node = QOMOutline.Node(name: name, type: type)
                for entry in entries {
                    let entryName = try #require(entry["name"]?.stringValue)
                    let entryType = try #require(entry["type"]?.stringValue)
                    if entryType.hasPrefix("child<") {
                        let childType = String(entryType.dropFirst(6).dropLast())
                        node.children.append(try await walk(path + "/" + entryName, name: entryName, type: childType))
                    } else {
                        node.properties[entryName] = entryType
                    }
                }
                node.children.sort { $0.name < $1.name }
                return node
            }
            let walked = try await walk("/machine", name: "/machine", type: "pc-q35-7.2-machine")
            #expect(printed.root == walked)
            #expect(walked.count > 50)
        }
    }

    @Test("qmp events exits 3 when QEMU goes away")
    func eventsConnectionDrop() async throws {
        let (launcher, socket) = try Self.launcherWithSecondMonitor()
        defer { try? FileManager.default.removeItem(atPath: (socket as NSString).deletingLastPathComponent) }
        let (process, stdout, stderr) = try await RealQEMU.with(launcher) { qemu in
            let started = try QMPExecutable.start(["events", socket])
            try await Task.sleep(for: .milliseconds(500))
            return started
        }
        let output = try await QMPExecutable.finish(process, stdout, stderr, timeout: .seconds(10))
        #expect(output.status == 3)
        #expect(output.stderr.contains("closed by the peer"))
    }
}

@Suite("QMP over the standard streams of QEMU")
struct StdioTests {
    @Test("a client talks QMP over a pipe pair to QEMU started with -qmp stdio")
    func pipePair() async throws {
        let launcher = QEMULauncher()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try launcher.resolvedBinary())
        process.arguments = [
            "-machine", "none", "-accel", QEMULauncher.kvmIsUsable ? "kvm" : "tcg",
            "-nodefaults", "-display", "none", "-S", "-qmp", "stdio",
        ]
        let toQEMU = Pipe()
        let fromQEMU = Pipe()
        process.standardInput = toQEMU
        process.standardOutput = fromQEMU
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
            }
            process.waitUntilExit()
        }
        // The client owns what it is given; Foundation keeps its own handles.
        let client = try await QMPClient.connect(
            input: dup(fromQEMU.fileHandleForReading.fileDescriptor),
            output: dup(toQEMU.fileHandleForWriting.fileDescriptor)
        )
        // QEMU 7.2 offers OOB on stdio too (its chardev supports the monitor's I/O thread).
        #expect(client.oobEnabled == client.greeting.offersOOB)
        if client.oobEnabled {
            #expect(try await client.executeOutOfBand("query-yank").arrayValue != nil)
        }
        let status = try await client.execute("query-status")
        #expect(status["status"] == "prelaunch")
        let shutdown = client.events(named: ["SHUTDOWN"])
        _ = try? await client.execute("quit", timeout: .seconds(5))
        var iterator = shutdown.makeAsyncIterator()
        let event = try await iterator.next()
        #expect(event?.data?["reason"] == "host-qmp-quit")
        await client.close()
    }
}

/// The shape of `qmp qom tree` output: objects with their property names and types, and children.
struct QOMOutline {
    struct Node: Equatable {
        var name: String
        var type: String
        var properties: [String: String] = [:]
        var children: [Node] = []

        var count: Int { 1 + children.reduce(0) { $0 + $1.count } }
    }

    var root: Node

    init(parsing text: String) throws {
        var stack: [(depth: Int, node: Node)] = []
        var root: Node?
        func close(to depth: Int) {
            while let last = stack.last, last.depth >= depth {
                stack.removeLast()
                if stack.isEmpty {
                    root = last.node
                } else {
                    stack[stack.count - 1].node.children.append(last.node)
                }
            }
        }
        for line in text.split(separator: "\n") {
            let depth = line.prefix { $0 == " " }.count / 2
            let body = line.drop { $0 == " " }
            if let colon = body.range(of: ": "), let equals = body.range(of: " = "),
                colon.upperBound <= equals.lowerBound,
                !body[..<colon.lowerBound].contains(" ")
            {
                // A property of the innermost open object.
                let name = String(body[..<colon.lowerBound])
                let type = String(body[colon.upperBound..<equals.lowerBound])
                stack[stack.count - 1].node.properties[name] = type
            } else {
                guard let open = body.lastIndex(of: "("), body.hasSuffix(")") else {
                    throw QMPError(code: .protocolViolation, message: "unexpected line in qom tree output: \(line)")
                }
                close(to: depth)
                let name = String(body[..<open].dropLast())
                let type = String(body[body.index(after: open)..<body.index(before: body.endIndex)])
                stack.append((depth, Node(name: name, type: type)))
            }
        }
        close(to: 0)
        guard let root else { throw QMPError(code: .protocolViolation, message: "empty qom tree output") }
        self.root = root
    }
}

/// A TCP port on loopback that was free a moment ago.
func freeTCPPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
        }
    }
    guard bound else { throw QMPError(code: .connectionFailed, message: "no free TCP port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
