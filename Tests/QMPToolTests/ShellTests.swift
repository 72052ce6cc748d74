import Foundation
import QAPI
import QMPCore
import QMPHistory
import QMPServer
import QMPSimulator
import Testing

@testable import QMPTool

@Suite("qmp shell: the line interpreter")
struct ShellInterpreterTests {
    @Test("a command in qmp-shell syntax, with dotted keys and conversions")
    func command() throws {
        var shell = ShellInterpreter()
        let step = try shell.interpret(
            "blockdev-add driver=null-co node-name=d0 size=1_024 read-only=TRUE cache.direct=false"
        )
        #expect(
            step
                == .execute(
                    name: "blockdev-add",
                    arguments: [
                        "driver": "null-co", "node-name": "d0", "size": 1024, "read-only": true,
                        "cache": ["direct": false],
                    ]
                )
        )
        #expect(shell.prompt == "(QEMU) ")
        #expect(try shell.interpret("   ") == .nothing)
    }

    @Test("transaction( … ) collects actions and sends one transaction; the one-line form too")
    func transaction() throws {
        var shell = ShellInterpreter()
        #expect(try shell.interpret("transaction(") == .nothing)
        #expect(shell.prompt == "TRANS> ")
        #expect(try shell.interpret("block-dirty-bitmap-add node=d0 name=b0") == .nothing)
        #expect(try shell.interpret("abort") == .nothing)
        let actions: JSONValue = [
            ["type": "block-dirty-bitmap-add", "data": ["node": "d0", "name": "b0"]],
            ["type": "abort", "data": [:]],
        ]
        #expect(try shell.interpret(")") == .execute(name: "transaction", arguments: ["actions": actions]))
        #expect(shell.prompt == "(QEMU) ")
        #expect(
            try shell.interpret("transaction( abort )")
                == .execute(name: "transaction", arguments: ["actions": [["type": "abort", "data": [:]]]])
        )
        _ = try shell.interpret("transaction(")
        #expect(throws: CommandLineError.self) { try shell.interpret(") extra") }
    }

    @Test("help, raw JSON, and lines that continue")
    func rawAndContinuation() throws {
        var shell = ShellInterpreter()
        #expect(try shell.interpret("help") == .help(topic: nil))
        #expect(try shell.interpret("help query-status") == .help(topic: "query-status"))
        #expect(try shell.interpret(#"{"execute": "stop"}"#) == .raw(name: "stop", arguments: nil, outOfBand: false))
        #expect(
            try shell.interpret(#"{"exec-oob": "migrate-pause", "arguments": {}}"#)
                == .raw(name: "migrate-pause", arguments: [:], outOfBand: true)
        )
        #expect(try shell.interpret(#"{"execute": "qom-list","#) == .more)
        #expect(shell.prompt == "...... ")
        #expect(
            try shell.interpret(#" "arguments": {"path": "/machine"}}"#)
                == .raw(name: "qom-list", arguments: ["path": "/machine"], outOfBand: false)
        )
        #expect(shell.lastInput == #"{"execute": "qom-list",  "arguments": {"path": "/machine"}}"#)
        #expect(try shell.interpret(#"qom-list \"#) == .more)
        #expect(try shell.interpret("path=/machine") == .execute(name: "qom-list", arguments: ["path": "/machine"]))
        #expect(try shell.interpret("x a=[1,") == .more)
        shell.discardPending()
        #expect(shell.prompt == "(QEMU) ")
        #expect(throws: CommandLineError.self) { try shell.interpret("query-status oops") }
    }

    @Test("HMP mode: every line goes to human-monitor-command, cpu N selects the CPU")
    func hmp() throws {
        var shell = ShellInterpreter(mode: .hmp)
        #expect(shell.prompt == "(HMP) ")
        #expect(try shell.interpret("info status") == .hmp(commandLine: "info status", cpuIndex: nil))
        #expect(try shell.interpret("cpu 1") == .selectCPU(1))
        shell.cpuIndex = 1
        #expect(try shell.interpret("info registers") == .hmp(commandLine: "info registers", cpuIndex: 1))
        #expect(throws: CommandLineError.self) { try shell.interpret("cpu x") }
    }
}

@Suite("qmp shell: completion from QEMU 7.2's schema")
struct ShellCompleterTests {
    static let completer = ShellCompleter(schema: QEMUSimulator.schema.introspection)

    @Test("command names, and the shell's own words")
    func commandNames() {
        let completion = Self.completer.complete("query-stat")
        #expect(completion.start == 0)
        #expect(completion.candidates == ["query-stats", "query-stats-schemas", "query-status"])
        #expect(Self.completer.complete("trans").candidates == ["transaction", "transaction("])
        #expect(Self.completer.complete("help query-sta").candidates.contains("query-status"))
        #expect(Self.completer.complete("help STO").candidates == ["STOP"])
    }

    @Test("argument names: not yet given, nested with dots, from the union variant chosen")
    func argumentNames() {
        let completion = Self.completer.complete("qom-get path=/machine ")
        #expect(completion.candidates == ["property="])
        #expect(completion.start == "qom-get path=/machine ".utf8.count)
        let file = Self.completer.complete("blockdev-add driver=file fil")
        #expect(file.candidates == ["filename="])
        let nested = Self.completer.complete("blockdev-add driver=qcow2 file.dri")
        #expect(nested.candidates == ["file.driver="])
        #expect(Self.completer.complete("blockdev-add driver=qcow2 fi").candidates == ["file.", "file="])
        #expect(Self.completer.complete("no-such-command a").candidates.isEmpty)
    }

    @Test("enum values and booleans")
    func values() {
        #expect(Self.completer.complete("blockdev-add driver=qco").candidates == ["driver=qcow", "driver=qcow2"])
        #expect(Self.completer.complete("eject force=").candidates == ["force=false", "force=true"])
        #expect(
            Self.completer.complete("blockdev-add driver=null-co detect-zeroes=u").candidates == ["detect-zeroes=unmap"]
        )
    }

    @Test("transaction actions and their data")
    func transactions() {
        let inside = ShellCompleter.Context(inTransaction: true)
        #expect(
            Self.completer.complete("block-dirty-bitmap-a", context: inside).candidates == ["block-dirty-bitmap-add"]
        )
        #expect(Self.completer.complete("", context: inside).candidates.contains(")"))
        #expect(Self.completer.complete("block-dirty-bitmap-add node=d0 na", context: inside).candidates == ["name="])
        #expect(Self.completer.complete("transaction( abo").candidates == ["abort"])
    }

    @Test("values that name something the machine has come from the machine")
    func machineNames() {
        #expect(Self.completer.source(for: "device_del id=") == .peripherals)
        #expect(Self.completer.complete("device_del id=n", names: ["nic0", "disk1"]).candidates == ["id=nic0"])
        #expect(Self.completer.source(for: "block_resize node-name=") == .nodeNames)
        #expect(Self.completer.source(for: "blockdev-add driver=null-co node-name=") == nil)
        #expect(Self.completer.source(for: "eject device=") == .blockDevices)
        #expect(Self.completer.source(for: "job-cancel id=") == .jobs)
        #expect(Self.completer.source(for: "block-job-cancel device=") == .jobs)
        #expect(Self.completer.source(for: "object-del id=") == .objects)
        #expect(Self.completer.source(for: "qom-list path=/machine/per") == .qomChildren(of: "/machine"))
        #expect(
            Self.completer.complete(
                "qom-list path=/machine/per",
                names: ["peripheral", "peripheral-anon", "unattached"]
            ).candidates
                == ["path=/machine/peripheral", "path=/machine/peripheral-anon"]
        )
        #expect(
            Self.completer.complete("qom-list path=/m", names: ["machine", "objects"]).candidates == ["path=/machine"]
        )
        #expect(Self.completer.source(for: "qom-get path=/machine property=") == .qomProperties(of: "/machine"))
        #expect(ShellCompleter.Completion.insertion(for: "path=/machine") == "path=/machine")
        #expect(ShellCompleter.Completion.insertion(for: "id=nic0") == "id=nic0 ")
        #expect(ShellCompleter.Completion.insertion(for: "file.") == "file.")
    }

    @Test("names in the machine's replies")
    func replies() throws {
        let blocks = try JSONValue(
            parsing:
                #"[{"device": "ide0-hd0", "qdev": "/machine/unattached/device[22]"}, {"device": "", "qdev": "cd0"}]"#
        )
        #expect(ShellCompleter.names(in: blocks, member: "device") == ["ide0-hd0"])
        let qom = try JSONValue(
            parsing:
                #"[{"name": "type", "type": "string"}, {"name": "nic0", "type": "child<e1000>"}, {"name": "bus", "type": "link<bus>"}]"#
        )
        #expect(ShellCompleter.qomNames(in: qom, linksOnly: true) == ["nic0", "bus"])
        #expect(ShellCompleter.qomNames(in: qom, linksOnly: false) == ["type", "nic0", "bus"])
    }
}

@Suite("qmp shell: help from the schema")
struct ShellHelpTests {
    static let help = ShellHelp(schema: QEMUSimulator.schema.introspection, server: "QEMU 7.2.0")

    @Test("help COMMAND shows arguments, types and which are required")
    func topic() throws {
        let text = try #require(Self.help.topic("qom-get"))
        #expect(text.contains("command qom-get"))
        #expect(text.contains("* path"))
        #expect(text.contains("* property"))
        let eject = try #require(Self.help.topic("eject"))
        #expect(eject.contains("  device  ") && eject.contains("[deprecated]"))
        #expect(eject.contains("force") && eject.contains("bool"))
        #expect(Self.help.topic("STOP")?.contains("event STOP") == true)
        #expect(Self.help.topic("nope") == nil)
    }

    @Test("help COMMAND says which QEMU versions have the command and its later arguments")
    func availability() throws {
        let text = try #require(Self.help.topic("blockdev-backup"))
        #expect(text.contains("in QEMU 2.3.0 and later, as of 10.2.2, the newest release known"))
        #expect(text.contains("  filter-node-name: QEMU 4.2.0 and later, as of 10.2.2, the newest release known"))
        let eject = try #require(Self.help.topic("eject"))
        #expect(eject.contains("in QEMU 1.1.0 and later, as of 10.2.2, the newest release known"))
    }

    @Test("help COMMAND never says a command or argument lasts past the newest release known")
    func availabilityDoesNotExtrapolate() {
        for name in QMPSchemaHistory.shared.commands.keys {
            for line in ShellHelp.availability(of: name) where line.contains(" and later") {
                #expect(line.contains(" and later, as of 10.2.2, the newest release known"), "\(name): \(line)")
            }
        }
    }

    @Test("help lists the commands")
    func overview() {
        let text = Self.help.overview()
        #expect(text.hasPrefix("QEMU 7.2.0 has "))
        #expect(text.contains("query-status"))
        #expect(text.contains("transaction( ... )"))
    }
}

@Suite("qmp shell: colours")
struct ShellColourTests {
    @Test("an error reply shows its keys in the error colour, a reply in the key colour")
    func errorReplies() {
        let error: JSONValue = ["error": ["class": "GenericError", "desc": "no"]]
        let painted = JSONHighlighter.render(error, keys: .error)
        #expect(painted.contains(JSONHighlighter.paint(#""error""#, .error)))
        #expect(painted.contains(JSONHighlighter.paint(#""class""#, .error)))
        #expect(painted.contains(JSONHighlighter.paint(#""GenericError""#, .string)))
        let reply = JSONHighlighter.render(["return": ["status": "running"]])
        #expect(reply.contains(JSONHighlighter.paint(#""status""#, .key)))
        #expect(!reply.contains(JSONHighlighter.Color.error.rawValue))
    }
}

@Suite("qmp shell: help TYPE, from the schema history")
struct ShellTypeHelpTests {
    static let help = ShellHelp(
        schema: QEMUSimulator.schema.introspection,
        server: "QEMU 7.2.22",
        version: QEMUVersion("7.2.22")
    )

    @Test("a struct: its members with their types, which are required, and when each came where that differs")
    func structure() throws {
        let text = try #require(Self.help.topic("BlockDeviceInfo"))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "object BlockDeviceInfo")
        #expect(lines.contains("members: (* required in QEMU 7.2.22)"))
        #expect(lines.contains { $0.hasPrefix("* file ") && $0.hasSuffix("str") })
        // Optional in 7.2, required from 10.2 on: shown as 7.2 has it.
        #expect(
            lines.contains {
                $0.hasPrefix("  node-name ") && $0.contains("str")
                    && $0.contains("[QEMU 2.0.0 and later, as of 10.2.2, the newest release known]")
            }
        )
        // Not in 10.0.13's schema, in 10.2.2's, and documented "(since: 10.1)".
        #expect(
            lines.contains {
                $0.hasPrefix("  children ")
                    && $0.contains(
                        "[QEMU 10.1.0 and later, as of 10.2.2, the newest release known; not in QEMU 7.2.22]"
                    )
            }
        )
        #expect(lines.last == "in QEMU 1.0 and later, as of 10.2.2, the newest release known")
    }

    @Test("a stable update has what the history dates to its series' release: QEMU 10.0.2 has 10.0.13's active")
    func stableUpdate() throws {
        let help = ShellHelp(
            schema: QEMUSimulator.schema.introspection,
            server: "QEMU 10.0.2",
            version: QEMUVersion("10.0.2")
        )
        let text = try #require(help.topic("BlockDeviceInfo"))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(!text.contains("does not have it"))
        // Required from 10.0 on, so required in this QEMU, and not said to be missing.
        let active = try #require(lines.first { $0.hasPrefix("* active ") })
        #expect(!active.contains("not in QEMU 10.0.2"), "\(active)")
        // 10.1's members are still missing from 10.0.
        #expect(lines.contains { $0.hasPrefix("  children ") && $0.contains("not in QEMU 10.0.2") })
    }

    @Test("an enum: its values, with those this QEMU lacks marked")
    func enumeration() throws {
        let text = try #require(Self.help.topic("RunState"))
        #expect(text.hasPrefix("enum RunState\nvalues:\n  debug\n"))
        #expect(text.contains("\n  preconfig  [QEMU 3.0.0 to 5.2.0; not in QEMU 7.2.22]\n"))
    }

    @Test("a union: its members, the tag that selects the branch, and the branches")
    func union() throws {
        let text = try #require(Self.help.topic("SocketAddress"))
        #expect(text.hasPrefix("union SocketAddress\n"))
        #expect(text.contains("* type ") && text.contains("(selects the branch)"))
        #expect(text.contains("branches, by type:\n  inet"))
        #expect(text.contains("  unix   UnixSocketAddress"))
    }

    @Test("an alternate: its branches")
    func alternate() throws {
        let text = try #require(Self.help.topic("BlockdevRef"))
        #expect(text.contains("alternate BlockdevRef\none of:\n"))
        #expect(text.contains("  reference   str"))
    }

    @Test("a type this QEMU does not have is shown as the newest release knows it, saying so")
    func absentType() throws {
        let old = ShellHelp(
            schema: QEMUSimulator.schema.introspection,
            server: "QEMU 2.0.0",
            version: QEMUVersion("2.0.0")
        )
        let text = try #require(old.topic("BlockdevChild"))
        // Dated from its documentation ("Since: 10.1"): 10.1 is not on disk.
        #expect(text.hasPrefix("object BlockdevChild\n(QEMU 2.0.0 does not have it: it was introduced in 10.1.0;"))
        #expect(!text.contains("not in QEMU 2.0.0"))
        #expect(old.topic("BlockDeviceInfo")?.contains("members: (* required in QEMU 2.0.0)") == true)
    }

    @Test("an unknown name: what the server lacks, why, and the closest names")
    func missing() {
        #expect(
            Self.help.missing("query-stat")
                == "QEMU 7.2.22 has no command, event or type 'query-stat'; did you mean query-stats or query-status?"
        )
        #expect(
            Self.help.missing("query-cpus").hasPrefix(
                "QEMU 7.2.22 has no command, event or type 'query-cpus'; QEMU removed it after 5.2.0"
            )
        )
        #expect(Self.help.missing("BlockDevInfo").hasSuffix("; did you mean BlockDeviceInfo or BlockdevCacheInfo?"))
        #expect(Self.help.topic("nope") == nil)
    }

    @Test("Tab after help offers types too, those of this QEMU")
    func completion() {
        let completer = ShellCompleter(schema: Self.help.schema, typeNames: Self.help.typeNames)
        #expect(completer.complete("help BlockDeviceIn").candidates == ["BlockDeviceInfo"])
        #expect(!completer.complete("help BlockdevCh").candidates.contains("BlockdevChild"))
    }
}

@Suite("qmp shell: file names where an argument is a path")
struct ShellFileNameCompletionTests {
    static let completer = ShellCompleter(schema: QEMUSimulator.schema.introspection)

    @Test("string arguments named …file, …filename, …path or …dir take file names, at any depth")
    func pathArguments() {
        #expect(Self.completer.source(for: "screendump filename=") == .fileNames(in: ""))
        #expect(Self.completer.source(for: "screendump filename=/tmp/sh") == .fileNames(in: "/tmp/"))
        #expect(Self.completer.source(for: "blockdev-add driver=file filename=dir/x") == .fileNames(in: "dir/"))
        #expect(Self.completer.source(for: "blockdev-snapshot-sync snapshot-file=") == .fileNames(in: ""))
        #expect(
            Self.completer.source(for: "nbd-server-start addr.type=unix addr.data.path=/run/")
                == .fileNames(in: "/run/")
        )
    }

    @Test("members of the types whose strings are file names, though their names do not say so")
    func fileMembers() throws {
        // QEMU numbers its types; the shell's client names them from the history, as here.
        let sources = try #require(QMPSchemaHistory.shared.sourceTypes(forServer: QEMUVersion("7.2.22")!))
        let completer = ShellCompleter(schema: QEMUSimulator.schema.introspection.filling(from: sources))
        #expect(
            completer.source(for: "chardev-add id=c0 backend.type=file backend.data.out=/tmp/")
                == .fileNames(in: "/tmp/")
        )
        #expect(
            completer.source(for: "chardev-add id=c0 backend.type=serial backend.data.device=/dev/tty")
                == .fileNames(in: "/dev/")
        )
        // The same names elsewhere are no files: a block device's 'device'.
        #expect(completer.source(for: "eject device=") == .blockDevices)
        #expect(completer.source(for: "chardev-add id=c0 backend.type=udp backend.data.remote.data.host=") == nil)
    }

    @Test("QOM paths and strings that merely mention a file are not file names")
    func notPaths() {
        #expect(Self.completer.source(for: "qom-list path=/m") == .qomChildren(of: "/"))
        #expect(Self.completer.source(for: "x-query-virtio-status path=/machine/") == .qomChildren(of: "/machine"))
        // 'file' of a format node is a node's name or its options, not a file.
        #expect(Self.completer.source(for: "blockdev-add driver=qcow2 file=") == nil)
        #expect(Self.completer.source(for: "blockdev-add driver=qcow2 node-name=") == nil)
    }

    @Test("the names offered are the directory's entries, directories going on with a slash, hidden ones after a dot")
    func candidates() {
        let names = ["disk.img", "images/", ".hidden"]
        #expect(
            Self.completer.complete("screendump filename=", names: names).candidates
                == ["filename=disk.img", "filename=images/"]
        )
        #expect(
            Self.completer.complete("screendump filename=/srv/i", names: names).candidates == ["filename=/srv/images/"]
        )
        #expect(Self.completer.complete("screendump filename=.h", names: names).candidates == ["filename=.hidden"])
        #expect(ShellCompleter.Completion.insertion(for: "filename=images/") == "filename=images/")
        #expect(ShellCompleter.Completion.insertion(for: "filename=disk.img") == "filename=disk.img ")
    }

    @Test("a directory lists its entries, with a slash after directories")
    func listing() throws {
        let directory = "/tmp/swift-qmp-files-\(getpid())-\(UInt32.random(in: 0...UInt32.max))/"
        #expect(mkdir(directory, 0o700) == 0)
        defer {
            unlink(directory + "a.img")
            rmdir(directory + "sub")
            rmdir(directory)
        }
        #expect(mkdir(directory + "sub", 0o700) == 0)
        let file = fopen(directory + "a.img", "w")
        #expect(file != nil)
        if let file { fclose(file) }
        #expect(ShellFileNames.entries(in: directory) == ["a.img", "sub/"])
        #expect(ShellFileNames.entries(in: directory + "nonexistent/").isEmpty)
    }
}

@Suite("qmp shell: events for a terminal that falls behind")
struct ShellEventBacklogTests {
    @Test("below the limit every event is printed and nothing is said")
    func belowLimit() {
        var backlog = ShellEventBacklog(limit: 3)
        let admitted = [backlog.admits(pending: 0), backlog.admits(pending: 2)]
        #expect(admitted == [true, true])
        let notice = backlog.notice(droppedByStream: 0)
        #expect(notice == nil)
    }

    @Test("at the limit events are dropped, and the next printed event is preceded by their count, once")
    func dropsAndSaysSo() {
        var backlog = ShellEventBacklog(limit: 3)
        let admitted = [backlog.admits(pending: 3), backlog.admits(pending: 5), backlog.admits(pending: 1)]
        #expect(admitted == [false, false, true])
        let notices = [backlog.notice(droppedByStream: 0), backlog.notice(droppedByStream: 0)]
        #expect(notices == ["(2 events dropped: the terminal fell behind)", nil])
        let again = backlog.admits(pending: 3)
        #expect(!again)
        let one = backlog.notice(droppedByStream: 0)
        #expect(one == "(1 event dropped: the terminal fell behind)")
    }

    @Test("events the stream dropped are counted with those dropped here")
    func streamDrops() {
        var backlog = ShellEventBacklog(limit: 3)
        let admitted = backlog.admits(pending: 4)
        #expect(!admitted)
        let notices = [10, 10, 12].map { backlog.notice(droppedByStream: $0) }
        #expect(
            notices == [
                "(11 events dropped: the terminal fell behind)", nil, "(2 events dropped: the terminal fell behind)",
            ]
        )
    }
}
