import QAPI
import QMPCore
import Testing

@Suite("Validating values against the schema")
struct ValidationTests {
    static let numbers = QAPISchema.load(
        files: [
            "n.json": """
            { 'struct': 'Numbers', 'data': { '*u8': 'uint8', '*i8': 'int8', '*u64': 'uint64', '*i64': 'int',
                                             '*sz': 'size', '*ratio': 'number', '*flag': 'bool', '*nothing': 'null',
                                             '*blob': 'any' } }
            { 'enum': 'Accel', 'data': [ 'tcg', { 'name': 'kvm', 'if': 'CONFIG_KVM' }, { 'name': 'hvf', 'if': 'CONFIG_HVF' } ] }
            { 'alternate': 'CountOrName', 'data': { 'count': 'uint16', 'name': 'str' } }
            { 'alternate': 'RatioOrOff', 'data': { 'ratio': 'number', 'off': 'bool' } }
            """
        ],
        entryFile: "n.json"
    )

    func validator72() throws -> QAPIValidator {
        QAPIValidator(schema: try SchemaCache.schema("7.2.0"))
    }

    @Test("A member of the wrong type is reported with its path")
    func wrongType() throws {
        let issues = try validator72().validateArguments(["node-name": 5], ofCommand: "blockdev-del")
        #expect(issues.map(\.description) == ["arguments.node-name: expected string, got 5"])
    }

    @Test("Unknown and missing members are reported")
    func unknownAndMissing() throws {
        let validator = try validator72()
        #expect(
            validator.validateArguments(["node-name": "disk0", "foo": true], ofCommand: "blockdev-del").map(
                \.description
            )
                == ["arguments.foo: unexpected member"]
        )
        #expect(
            validator.validateArguments(nil, ofCommand: "blockdev-del").map(\.description)
                == ["arguments.node-name: missing required member"]
        )
        #expect(validator.validateArguments(["node-name": "disk0"], ofCommand: "blockdev-del").isEmpty)
        #expect(
            validator.validateArguments(["x": 1], ofCommand: "query-status").map(\.description) == [
                "arguments.x: unexpected member"
            ]
        )
        #expect(
            validator.validateArguments(nil, ofCommand: "no-such-command").map(\.description) == [
                "execute: unknown command 'no-such-command'"
            ]
        )
    }

    @Test("A union's tag selects the members of its variant")
    func unions() throws {
        let validator = try validator72()
        #expect(
            validator.validateArguments(
                ["driver": "file", "node-name": "f", "filename": "/tmp/disk"],
                ofCommand: "blockdev-add"
            ).isEmpty
        )
        #expect(
            validator.validateArguments(["driver": "qcow2", "node-name": "q", "file": "f"], ofCommand: "blockdev-add")
                .isEmpty
        )
        #expect(
            validator.validateArguments(["driver": "file", "bogus": 1], ofCommand: "blockdev-add").map(\.description)
                == [
                    "arguments.filename: missing required member",
                    "arguments.bogus: unexpected member",
                ]
        )
        #expect(
            validator.validateArguments(["driver": "nope", "x": 1], ofCommand: "blockdev-add").map(\.description) == [
                "arguments.driver: \"nope\" is not a value of BlockdevDriver ('blkdebug', 'blklogwrites', 'blkreplay', 'blkverify', 'bochs', 'cloop', 'compress', 'copy-before-write', …)"
            ]
        )
    }

    @Test("Array elements are checked with their index in the path; alternates pick a branch by JSON type")
    func arraysAndAlternates() throws {
        let validator = try validator72()
        let keys: JSONValue = [
            ["type": "qcode", "data": "ctrl"], ["type": "number", "data": "x"], ["type": "qcode", "data": "nokey"],
        ]
        #expect(
            validator.validateArguments(["keys": keys], ofCommand: "send-key").map(\.description) == [
                "arguments.keys[1].data: expected integer, got \"x\"",
                "arguments.keys[2].data: \"nokey\" is not a value of QKeyCode ('unmapped', 'shift', 'shift_r', 'alt', 'alt_r', 'ctrl', 'ctrl_r', 'menu', …)",
            ]
        )
        // BlockdevRef: a definition (object) or a node name (string).
        #expect(
            validator.validateArguments(["driver": "qcow2", "node-name": "q", "file": 5], ofCommand: "blockdev-add")
                .map(\.description) == [
                    "arguments.file: expected object or string, got 5"
                ]
        )
        #expect(
            validator.validateArguments(
                ["driver": "qcow2", "node-name": "q", "file": ["driver": "file", "filename": "/x"]],
                ofCommand: "blockdev-add"
            ).isEmpty
        )
        // BlockdevRefOrNull accepts null.
        #expect(
            validator.validateArguments(
                ["driver": "qcow2", "node-name": "q", "file": "f", "backing": nil],
                ofCommand: "blockdev-add"
            ).isEmpty
        )
    }

    @Test("Integer types are range-checked, number accepts integers, fractions are not integers")
    func integers() {
        let validator = QAPIValidator(schema: Self.numbers)
        func check(_ value: JSONObject) -> [String] {
            validator.validate(.object(value), as: "Numbers", path: "arguments").map(\.description)
        }
        #expect(
            check([
                "u8": 255, "i8": -128, "u64": .uint(UInt64.max), "i64": .int(Int64.min), "sz": 0, "ratio": 3,
                "flag": false, "nothing": nil, "blob": ["a": [1, 2]],
            ]).isEmpty
        )
        #expect(check(["u8": 256]) == ["arguments.u8: 256 is out of range for uint8 (0…255)"])
        #expect(check(["i8": -129]) == ["arguments.i8: -129 is out of range for int8 (-128…127)"])
        // QEMU reads unsigned types through uint64 and, for compatibility, takes a negative
        // integer there as its two's complement; only a narrower width refuses it.
        #expect(check(["u64": -1]).isEmpty)
        #expect(check(["u8": -1]) == ["arguments.u8: -1 is out of range for uint8 (0…255)"])
        #expect(
            check(["i64": .uint(UInt64.max)]) == [
                "arguments.i64: 18446744073709551615 is out of range for int (-9223372036854775808…9223372036854775807)"
            ]
        )
        #expect(check(["u8": 1.5]) == ["arguments.u8: expected integer, got 1.5"])
        #expect(check(["ratio": "1"]) == ["arguments.ratio: expected number, got \"1\""])
        #expect(check(["flag": nil]) == ["arguments.flag: expected boolean, got null"])
        #expect(check(["nothing": 0]) == ["arguments.nothing: expected null, got 0"])
        #expect(validator.validate("x", as: "Numbers").map(\.description) == ["expected object, got \"x\""])
    }

    @Test("Alternates of integer and string, number and boolean")
    func alternates() {
        let validator = QAPIValidator(schema: Self.numbers)
        #expect(validator.validate(7, as: "CountOrName").isEmpty)
        #expect(validator.validate("seven", as: "CountOrName").isEmpty)
        #expect(
            validator.validate(70000, as: "CountOrName").map(\.description) == [
                "70000 is out of range for uint16 (0…65535)"
            ]
        )
        #expect(
            validator.validate(true, as: "CountOrName").map(\.description) == ["expected integer or string, got true"]
        )
        #expect(validator.validate(2, as: "RatioOrOff").isEmpty)
        #expect(validator.validate(0.5, as: "RatioOrOff").isEmpty)
    }

    /// QEMU picks an alternate's branch by the value's QObject type, and a JSON integer and a
    /// fraction are both a QNum: a fraction goes into the integer branch and that branch refuses it.
    static let numericBranches = QAPISchema.load(
        files: [
            "a.json": """
            { 'enum': 'Named', 'data': [ 'first', 'last' ] }
            { 'alternate': 'CountOrName', 'data': { 'count': 'uint16', 'name': 'Named' } }
            { 'alternate': 'OffsetOrName', 'data': { 'offset': 'int', 'name': 'Named' } }
            { 'alternate': 'RatioOrOff', 'data': { 'ratio': 'number', 'off': 'bool' } }
            { 'command': 'seek', 'data': { '*count': 'CountOrName', '*offset': 'OffsetOrName', '*ratio': 'RatioOrOff' } }
            """
        ],
        entryFile: "a.json"
    )

    @Test("A fraction sent to an alternate goes into its integer branch, which words the refusal")
    func fractionInIntegerBranch() {
        let validator = QAPIValidator(schema: Self.numericBranches)
        #expect(Self.numericBranches.diagnostics.isEmpty)
        #expect(validator.validate(1.5, as: "CountOrName").map(\.description) == ["expected integer, got 1.5"])
        #expect(
            validator.validate(1.5, as: "CountOrName").map(\.kind)
                == [.wrongType(expected: "integer", type: .uint16)]
        )
        func qemu(_ arguments: JSONObject) -> [String] {
            validator.validateArguments(arguments, ofCommand: "seek").map(\.qemuDescription)
        }
        #expect(qemu(["count": 1.5]) == ["Parameter 'count' expects uint64"])
        #expect(qemu(["offset": 1.5]) == ["Invalid parameter type for 'offset', expected: integer"])
        #expect(qemu(["count": 7, "offset": -7, "ratio": 7]).isEmpty)
        #expect(qemu(["ratio": 0.5]).isEmpty)
        #expect(qemu(["count": true]) == ["Invalid parameter type for 'count', expected: CountOrName"])
    }

    @Test("Conditional enum values count only when the build defines their symbols")
    func conditionalValues() {
        let everything = QAPIValidator(schema: Self.numbers)
        let kvmOnly = QAPIValidator(schema: Self.numbers, definedSymbols: ["CONFIG_KVM"])
        #expect(everything.validate("hvf", as: "Accel").isEmpty)
        #expect(kvmOnly.validate("kvm", as: "Accel").isEmpty)
        #expect(kvmOnly.validate("hvf", as: "Accel").map(\.description) == ["\"hvf\" is not one of 'tcg', 'kvm'"])
    }

    @Test("Commands QEMU marshals by hand (device_add) accept extra properties; return values are checked too")
    func handMarshalledAndReturns() throws {
        let validator = try validator72()
        #expect(
            validator.validateArguments(
                ["driver": "virtio-net-pci", "id": "net0", "netdev": "n0", "mac": "52:54:00:12:34:56"],
                ofCommand: "device_add"
            ).isEmpty
        )
        #expect(
            validator.validateArguments(["id": "net0"], ofCommand: "device_add").map(\.description) == [
                "arguments.driver: missing required member"
            ]
        )
        #expect(
            validator.validateReturn(
                ["running": true, "singlestep": false, "status": "running"],
                ofCommand: "query-status"
            ).isEmpty
        )
        #expect(
            validator.validateReturn(["running": true, "status": "sleeping"], ofCommand: "query-status").map(
                \.description
            ) == [
                "return.singlestep: missing required member",
                "return.status: \"sleeping\" is not a value of RunState ('debug', 'inmigrate', 'internal-error', 'io-error', 'paused', 'postmigrate', 'prelaunch', 'finish-migrate', …)",
            ]
        )
        #expect(validator.validateData(["guest": true, "reason": "guest-shutdown"], ofEvent: "SHUTDOWN").isEmpty)
        #expect(
            validator.validateData(["guest": "yes", "reason": "guest-shutdown"], ofEvent: "SHUTDOWN").map(\.description)
                == ["data.guest: expected boolean, got \"yes\""]
        )
    }
}

@Suite("Built-in integer types")
struct IntegerTypeTests {
    @Test("Every integer type's range, and how QEMU words a value outside it")
    func rangesAndWords() {
        let integers = QAPIBuiltinType.allCases.filter { $0.integerRange != nil }
        #expect(integers == [.int, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .size])
        let ranges = integers.map { type in
            type.integerRange.map { "\(type): \($0.minimum)…\($0.maximum)" } ?? ""
        }
        #expect(
            ranges == [
                "int: -9223372036854775808…9223372036854775807", "int8: -128…127", "int16: -32768…32767",
                "int32: -2147483648…2147483647", "int64: -9223372036854775808…9223372036854775807", "uint8: 0…255",
                "uint16: 0…65535", "uint32: 0…4294967295", "uint64: 0…18446744073709551615",
                "size: 0…18446744073709551615",
            ]
        )
        let words = integers.map {
            QAPIValidationIssue(path: "arguments.x", message: "", kind: .outOfRange(type: $0)).qemuDescription
        }
        #expect(
            words == [
                "Invalid parameter type for 'x', expected: integer", "Parameter 'x' expects int8_t",
                "Parameter 'x' expects int16_t", "Parameter 'x' expects int32_t",
                "Invalid parameter type for 'x', expected: integer", "Parameter 'x' expects uint8_t",
                "Parameter 'x' expects uint16_t", "Parameter 'x' expects uint32_t", "Parameter 'x' expects uint64",
                "Parameter 'x' expects uint64",
            ]
        )
    }

    @Test("A json-type word means the first built-in that has it: int for every integer width")
    func builtinForJSONType() {
        #expect(QAPIBuiltinType(jsonType: .int) == .int)
        #expect(QAPIBuiltinType.uint64.jsonType == .int)
        #expect(QAPIBuiltinType(jsonType: .object) == nil)
        #expect(
            QAPIBuiltinType.allCases.map(\.jsonType.rawValue) == [
                "string", "number", "int", "int", "int", "int", "int", "int", "int", "int", "int", "int", "boolean",
                "null", "value",
            ]
        )
    }
}
