import QMPCore
import Testing

@Suite("JSONReader: syntax errors, with QEMU's texts")
struct JSONReaderSyntaxTests {
    @Test(
        "Each syntax error has QEMU's description",
        arguments: [
            (#"{"a": 1, "a": 2}"#, "JSON parse error, duplicate key"),
            ("[1, 2,]", "JSON parse error, expecting value"),
            (#"{"a": 1,}"#, "JSON parse error, expecting value"),
            (#"{"a": }"#, "JSON parse error, expecting value"),
            ("[, 1]", "JSON parse error, expecting value"),
            (#"{"a" 1}"#, "JSON parse error, missing : in object pair"),
            (#"{"a": 1 "b": 2}"#, "JSON parse error, expected separator in dict"),
            ("[1 2]", "JSON parse error, expected separator in list"),
            ("{1: 2}", "JSON parse error, key is not a string in object"),
            ("{[1 2]: 3}", "JSON parse error, expected separator in list"),
            ("{}}", "JSON parse error, expecting value"),
            ("nul ", "JSON parse error, invalid keyword 'nul'"),
            ("[truex]", "JSON parse error, invalid keyword 'truex'"),
            (#"{"a": 1, "a": "\x"}"#, "JSON parse error, invalid escape sequence in string"),
        ]
    )
    func syntaxErrors(input: String, qemuDescription: String) throws {
        let events = readAllWays(bytes(input), finish: true)
        let error = try #require(events.compactMap(\.error).first, "no error for \(input)")
        #expect(error.qemuDescription == qemuDescription)
        #expect(error.kind == .syntax)
        #expect(error.description.hasPrefix("JSON parse error: "))
        #expect(error.description.contains("at byte offset \(error.offset)"))
    }

    @Test("A duplicate key is found among many members too")
    func duplicateKeyInLargeObject() throws {
        let members = (0..<40).map { #""key\#($0)": \#($0)"# }
        let valid = "{" + members.joined(separator: ", ") + "}"
        let value = try #require(onlyValue(bytes(valid)))
        #expect(value.objectValue?.keys == (0..<40).map { "key\($0)" })
        let duplicated = "{" + members.joined(separator: ", ") + #", "key17": 0}"#
        let error = onlyError(bytes(duplicated))
        #expect(error?.qemuDescription == "JSON parse error, duplicate key")
        #expect(error?.description.contains(#""key17""#) == true)
    }

    @Test(
        "A key written in two Unicode normalisations is two keys, as QEMU compares bytes",
        arguments: [0, 20]
    )
    func keysInTwoNormalisations(otherMembers: Int) throws {
        // Enough other members make the reader look duplicates up in a hash set.
        let others = (0..<otherMembers).map { #""key\#($0)": 0, "# }.joined()
        let composed = "\u{E9}"
        let decomposed = "e\u{301}"
        let value = try #require(onlyValue(bytes("{\(others)\"\(composed)\": 1, \"\(decomposed)\": 2}")))
        let object = try #require(value.objectValue)
        #expect(object.count == otherMembers + 2)
        #expect(object[composed] == 1)
        #expect(object[decomposed] == 2)
        // The same bytes twice are still a duplicate.
        let error = onlyError(bytes("{\(others)\"\(decomposed)\": 1, \"\(decomposed)\": 2}"))
        #expect(error?.qemuDescription == "JSON parse error, duplicate key")
    }

    @Test("Objects whose keys differ only in normalisation are different objects")
    func objectEqualityByBytes() {
        let composed = "\u{E9}"
        let decomposed = "e\u{301}"
        let both: JSONObject = [composed: 1, decomposed: 1]
        #expect(both.count == 2)
        #expect(both != [composed: 1, decomposed: 2])
        #expect(JSONObject([(composed, JSONValue.int(1))]) != JSONObject([(decomposed, JSONValue.int(1))]))
    }

    @Test("The description says what was expected and what was found")
    func humanDescriptions() {
        #expect(
            onlyError(bytes("[1, 2,]"))?.description
                == "JSON parse error: expected a value, found ']' (at byte offset 6)"
        )
        #expect(
            onlyError(bytes(#"{"a" 1}"#))?.description
                == "JSON parse error: expected ':' after the object key, found a number (at byte offset 5)"
        )
        #expect(
            onlyError(bytes("nul "))?.description
                == "JSON parse error: invalid keyword 'nul'; expected true, false or null (at byte offset 0)"
        )
    }

    @Test("Member order is kept, and equality ignores it")
    func memberOrder() throws {
        let value = try #require(onlyValue(bytes(#"{"z": 1, "a": 2, "m": 3}"#)))
        #expect(value.objectValue?.keys == ["z", "a", "m"])
        #expect(value == ["a": 2, "m": 3, "z": 1])
    }

    @Test("Nested structures of every kind are read")
    func nesting() {
        let input = bytes(
            #"{"return": [{"name": "x", "members": [], "extra": {}, "flags": [true, false, null]}], "id": "a-1"}"#
        )
        #expect(
            onlyValue(input) == [
                "return": [["name": "x", "members": [], "extra": [:], "flags": [true, false, nil]]],
                "id": "a-1",
            ]
        )
    }
}
