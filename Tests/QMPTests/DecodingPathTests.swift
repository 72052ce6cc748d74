import QMP
import QMPCore
import Testing

/// The helpers hand members a placeholder path and fill it in only when an error passes back
/// through them; the messages must read exactly as if every level had built its path.
@Suite("Error paths of the typed bindings")
struct DecodingPathTests {
    func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as QMPDecodingError {
            #expect(error.path.description + ": " + error.message == error.description)
            return error.description
        } catch {
            return "unexpected \(error)"
        }
    }

    static let command: JSONValue = ["name": "query-x", "meta-type": "command", "arg-type": "0", "ret-type": "1"]

    @Test("a member deep inside arrays and union branches")
    func nested() {
        let schema: JSONValue = [
            Self.command,
            [
                "name": "1", "meta-type": "object",
                "members": [["name": "a", "type": "int"], ["name": "b", "type": 5]],
            ],
        ]
        #expect(
            message { _ = try QueryQmpSchemaCommand.Response(json: schema, path: QMPPath(["return"])) }
                == "return[1].members[1].type: expected string, got 5"
        )
        #expect(
            message { _ = try QueryQmpSchemaCommand.Response(json: schema) }
                == "[1].members[1].type: expected string, got 5"
        )
        #expect(
            message { _ = try QueryQmpSchemaCommand.Response(json: schema, path: QMPPath(["a", "b"])) }
                == "a.b[1].members[1].type: expected string, got 5"
        )
    }

    @Test("a missing member, a wrong container and a wrong branch member")
    func missingAndMismatched() {
        let missing: JSONValue = [
            Self.command, ["name": "2", "meta-type": "enum", "values": ["x"], "members": [["features": []]]],
        ]
        #expect(
            message { _ = try QueryQmpSchemaCommand.Response(json: missing, path: QMPPath(["return"])) }
                == "return[1].members[0].name: missing required member"
        )
        let notObject: JSONValue = [Self.command, "x"]
        #expect(
            message { _ = try QueryQmpSchemaCommand.Response(json: notObject, path: QMPPath(["return"])) }
                == "return[1]: expected object, got \"x\""
        )
        let branch: JSONValue = [
            ["name": "c", "meta-type": "command", "arg-type": "0", "ret-type": "0", "allow-oob": "yes"]
        ]
        #expect(
            message { _ = try QueryQmpSchemaCommand.Response(json: branch, path: QMPPath(["return"])) }
                == "return[0].allow-oob: expected boolean, got \"yes\""
        )
        #expect(
            message { _ = try QueryQmpSchemaCommand.Response(json: ["name": "x"], path: QMPPath(["return"])) }
                == "return: expected array, got {\"name\":\"x\"}"
        )
        #expect(
            message { _ = try SchemaInfo(json: ["meta-type": "builtin"], path: QMPPath(["return"])) }
                == "return.name: missing required member"
        )
    }

    @Test("arrays of arrays join their indexes")
    func arraysOfArrays() {
        let value: JSONValue = [["a"], ["b", 5]]
        #expect(
            message { _ = try [[String]](json: value, path: QMPPath(["return"])) }
                == "return[1][1]: expected string, got 5"
        )
        #expect(message { _ = try [[String]](json: value) } == "[1][1]: expected string, got 5")
        let deeper: JSONValue = [[["a"]], [[], ["b", "c", 5]]]
        #expect(
            message { _ = try [[[String]]](json: deeper, path: QMPPath(["x"])) } == "x[1][1][2]: expected string, got 5"
        )
        #expect(message { _ = try [[[String]]](json: deeper) } == "[1][1][2]: expected string, got 5")
    }

    @Test("an error that names its own absolute path keeps it")
    func absolute() {
        struct Custom: QMPJSONConvertible {
            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                throw QMPDecodingError(path: QMPPath(["elsewhere"]), message: "no")
            }
            var json: JSONValue { nil }
        }
        struct Holder: QMPJSONConvertible {
            var custom: Custom
            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                custom = try json.object(at: path).required("c", at: path)
            }
            var json: JSONValue { nil }
        }
        #expect(message { _ = try [Holder](json: [["c": 1]], path: QMPPath(["return"])) } == "elsewhere: no")
        // A hand-written decoder that builds on the path it is given gets the full path.
        struct Relative: QMPJSONConvertible {
            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                throw QMPDecodingError(path: path.appending("inner").appending(index: 4), message: "no")
            }
            var json: JSONValue { nil }
        }
        struct Outer: QMPJSONConvertible {
            init(json: JSONValue, path: QMPPath) throws(QMPDecodingError) {
                _ = try json.object(at: path).optional("r", at: path, as: [Relative].self)
            }
            var json: JSONValue { nil }
        }
        #expect(message { _ = try Outer(json: ["r": [1, 2]], path: QMPPath(["data"])) } == "data.r[0].inner[4]: no")
        #expect(message { _ = try [Outer](json: [["r": [1]]]) } == "[0].r[0].inner[4]: no")
    }
}
