import QMPCore
import QMPTool
import Testing

@Suite("qmp-shell command syntax")
struct CommandLineSyntaxTests {
    @Test("a command name alone has empty arguments")
    func nameOnly() throws {
        let command = try CommandLineSyntax.parse(["query-status"])
        #expect(command.name == "query-status")
        #expect(command.arguments == [:])
    }

    @Test("dotted keys build nested objects")
    func dottedKeys() throws {
        let arguments = try CommandLineSyntax.arguments(["a.b.c=1", "a.b.d=true", "e=x"])
        #expect(arguments == ["a": ["b": ["c": 1, "d": true]], "e": "x"])
    }

    @Test("integers follow Python's int(): signs and underscores, but not hex")
    func integers() {
        #expect(CommandLineSyntax.parseValue("42") == 42)
        #expect(CommandLineSyntax.parseValue("-3") == -3)
        #expect(CommandLineSyntax.parseValue("+5") == 5)
        #expect(CommandLineSyntax.parseValue("1_000") == 1000)
        #expect(CommandLineSyntax.parseValue("007") == 7)
        #expect(CommandLineSyntax.parseValue("0x10") == "0x10")
        #expect(CommandLineSyntax.parseValue("1__0") == "1__0")
        #expect(CommandLineSyntax.parseValue("18446744073709551615") == .uint(UInt64.max))
        #expect(CommandLineSyntax.parseValue("-9223372036854775808") == .int(Int64.min))
    }

    @Test("true and false in any case are booleans; floats and null stay strings")
    func booleansAndStrings() {
        #expect(CommandLineSyntax.parseValue("true") == true)
        #expect(CommandLineSyntax.parseValue("FALSE") == false)
        #expect(CommandLineSyntax.parseValue("1.5") == "1.5")
        #expect(CommandLineSyntax.parseValue("null") == "null")
        #expect(CommandLineSyntax.parseValue("") == "")
    }

    @Test("values starting with { or [ are JSON, or Python-style literals, or else strings")
    func structuredValues() {
        #expect(CommandLineSyntax.parseValue(#"{"a":[1,2]}"#) == ["a": [1, 2]])
        #expect(CommandLineSyntax.parseValue("[1,true,null]") == [1, true, nil])
        #expect(CommandLineSyntax.parseValue("{'a': True, 'b': None}") == ["a": true, "b": nil])
        #expect(CommandLineSyntax.parseValue("[not json") == "[not json")
    }

    @Test("a word without = is refused with the word named")
    func missingEquals() {
        let error = #expect(throws: CommandLineError.self) { try CommandLineSyntax.parse(["cmd", "oops"]) }
        #expect(error?.message == "Expected a key=value pair, got 'oops'")
    }

    @Test("a key set twice, or used as leaf and parent, is refused")
    func conflictingKeys() {
        let twice = #expect(throws: CommandLineError.self) { try CommandLineSyntax.arguments(["a=1", "a=2"]) }
        #expect(twice?.message == #"Cannot set "a" multiple times"#)
        let leafThenParent = #expect(throws: CommandLineError.self) {
            try CommandLineSyntax.arguments(["a=1", "a.b=2"])
        }
        #expect(leafThenParent?.message == #"Cannot use "a" as both leaf and non-leaf key"#)
        let parentThenLeaf = #expect(throws: CommandLineError.self) {
            try CommandLineSyntax.arguments(["a.b=1", "a=2"])
        }
        #expect(parentThenLeaf?.message == #"Cannot use "a" as both leaf and non-leaf key"#)
    }

    @Test("key=value pairs are added to an --args object")
    func mergeOntoBase() throws {
        let arguments = try CommandLineSyntax.arguments(
            ["size=1024"],
            base: ["qom-type": "memory-backend-ram", "id": "m0"]
        )
        #expect(arguments == ["qom-type": "memory-backend-ram", "id": "m0", "size": 1024])
    }

    @Test("a line splits on whitespace, but quoted parts stay whole with their quotes")
    func splitting() {
        #expect(CommandLineSyntax.split("  cmd a=1   b=2 ") == ["cmd", "a=1", "b=2"])
        #expect(CommandLineSyntax.split(#"cmd name="a b" x='c d'"#) == ["cmd", #"name="a b""#, "x='c d'"])
        #expect(CommandLineSyntax.split(#"cmd v="say \"hi there\"""#) == ["cmd", #"v="say \"hi there\"""#])
        #expect(CommandLineSyntax.split("") == [])
    }
}

@Suite("QMP addresses")
struct AddressTests {
    @Test("HOST:PORT is TCP, anything else a Unix socket path")
    func parsing() throws {
        #expect(try QMPAddressProbe.parse("localhost:4444") == "tcp localhost 4444")
        #expect(try QMPAddressProbe.parse(":4444") == "tcp localhost 4444")
        #expect(try QMPAddressProbe.parse("/run/qmp.sock") == "unix /run/qmp.sock")
        #expect(try QMPAddressProbe.parse("qmp.sock") == "unix qmp.sock")
        #expect(try QMPAddressProbe.parse("a:b:c") == "unix a:b:c")
    }

    @Test("vsock:CID:PORT is a vsock port, chardev:PATH a character device; both print as they parse")
    func vsockAndCharacterDevices() throws {
        #expect(try QMPAddressProbe.parse("vsock:3:1234") == "vsock 3 1234")
        #expect(try QMPAddressProbe.parse("vsock:4294967295:0") == "vsock 4294967295 0")
        #expect(try QMPAddressProbe.parse("chardev:/dev/pts/7") == "chardev /dev/pts/7")
        #expect(try QMPAddressProbe.parse("chardev:./ttyS0") == "chardev ./ttyS0")
        for text in ["vsock:3:1234", "chardev:/dev/virtio-ports/org.qemu.guest_agent.0"] {
            #expect(try QMPAddress(parsing: text).description == text)
        }
        #expect(QMPAddress.vsock(cid: 2, port: 9).description == "vsock:2:9")
        #expect(QMPAddress.characterDevice(path: "/dev/ttyS1").description == "chardev:/dev/ttyS1")
    }

    @Test("the older readings keep their meaning: a host named vsock, a chardev without a path")
    func schemesTakeNothingFromOlderReadings() throws {
        #expect(try QMPAddressProbe.parse("vsock:4444") == "tcp vsock 4444")
        #expect(throws: QMPError.self) { try QMPAddressProbe.parse("chardev:ttyS0") }
    }

    @Test("a vsock address whose numbers are not numbers is refused, saying what it should be")
    func badVsock() {
        let error = #expect(throws: QMPError.self) { try QMPAddressProbe.parse("vsock:host:1234") }
        #expect(error?.code == .invalidArguments)
        #expect(
            error?.message
                == "bad vsock address 'vsock:host:1234': expected vsock:CID:PORT with numbers from 0 to 4294967295"
        )
        #expect(throws: QMPError.self) { try QMPAddressProbe.parse("vsock:3:4294967296") }
    }

    @Test("a bad port is refused and the message says what a port is")
    func badPort() {
        let error = #expect(throws: QMPError.self) { try QMPAddressProbe.parse("localhost:http") }
        #expect(
            error?.message
                == "bad port number 'http' in 'localhost:http': expected HOST:PORT with a port from 0 to 65535"
        )
    }
}
