import Testing

@testable import QMPCore

/// The reader stores the objects of one depth of a message side by side in shared member
/// buffers. These tests make sure that sharing never shows: every object is still a value of
/// its own, and the buffers go away with the last value that uses them.
@Suite("JSONObject: values over shared member buffers")
struct JSONObjectStorageTests {
    func parse(_ text: String) throws -> JSONValue {
        try JSONValue(parsing: text)
    }

    @Test("changing one of several objects read side by side leaves the others and the message as read")
    func neighboursStayAsRead() throws {
        let message = try parse(#"[{"a": 1, "b": 2}, {"c": 3}, {"d": 4, "e": 5, "f": 6}]"#)
        let elements = try #require(message.arrayValue)
        var first = try #require(elements[0].objectValue)
        var last = try #require(elements[2].objectValue)

        first["a"] = "changed"
        first["z"] = true
        first.removeValue(forKey: "b")
        #expect(first == ["a": "changed", "z": true])
        #expect(first.keys == ["a", "z"])

        #expect(last.removeValue(forKey: "e") == 5)
        last["g"] = 7
        #expect(last.keys == ["d", "f", "g"])

        #expect(message == [["a": 1, "b": 2], ["c": 3], ["d": 4, "e": 5, "f": 6]])
        #expect(elements[1].objectValue?.keys == ["c"])
    }

    @Test("a copy keeps its members when the original changes, and the other way round")
    func copiesAreIndependent() throws {
        var original = try #require(try parse(#"{"x": {"k": "v", "n": null}}"#)["x"]?.objectValue)
        let copy = original
        original["k"] = "w"
        original["m"] = 1
        #expect(copy == ["k": "v", "n": nil])
        #expect(original == ["k": "w", "n": nil, "m": 1])

        var built = JSONObject()
        built["one"] = 1
        let builtCopy = built
        built["two"] = 2
        built["one"] = nil
        #expect(builtCopy == ["one": 1])
        #expect(built == ["two": 2])
        #expect(built.keys == ["two"])
    }

    @Test("objects of every size up to past a shared buffer read whole and in order, at every depth")
    func sizesAndDepths() throws {
        let sizes = [1, 2, 3, 5, 17, 63, 64, 65, 130, 1, 0, 4]
        var expected: [JSONValue] = []
        var text = "["
        for (index, size) in sizes.enumerated() {
            let keys = (0..<size).map { "key\(index)-\($0)" }
            let inner = JSONObject(keys.enumerated().map { ($0.element, JSONValue(integer: $0.offset)) })
            let outer = JSONObject([("size", JSONValue(integer: size)), ("members", .object(inner))])
            expected.append(.object(outer))
            let members = keys.enumerated().map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ")
            text += (index == 0 ? "" : ", ") + "{\"size\": \(size), \"members\": {\(members)}}"
        }
        text += "]"
        let read = try parse(text)
        #expect(read == .array(expected))
        for (index, element) in try #require(read.arrayValue).enumerated() {
            let members = try #require(element["members"]?.objectValue)
            #expect(members.count == sizes[index])
            #expect(members.keys == (0..<sizes[index]).map { "key\(index)-\($0)" })
            #expect(members.map(\.value) == (0..<sizes[index]).map { JSONValue(integer: $0) })
        }
    }

    @Test("equal objects hash alike whether read or built, in any member order")
    func equalityAcrossStorage() throws {
        let read = try #require(try parse(#"[{"p": 1}, {"b": [true], "a": {"c": null}}]"#).arrayValue?[1].objectValue)
        let built: JSONObject = ["a": ["c": nil], "b": [true]]
        #expect(read == built)
        #expect(read.hashValue == built.hashValue)
        #expect(read != ["a": ["c": nil]])
        #expect(read != ["a": ["c": nil], "b": [false]])
    }

    @Test("every member buffer of a message is freed with the last value that uses it")
    func buffersAreFreed() throws {
        weak var outer: JSONObjectStorage?
        weak var middle: JSONObjectStorage?
        weak var inner: JSONObjectStorage?
        weak var inArray: JSONObjectStorage?
        var kept: JSONObject?
        do {
            let message = try parse(#"{"a": {"b": {"c": {"d": 1}}, "e": 2}, "f": [{"g": 3}, {"h": 4}]}"#)
            let a = try #require(message["a"]?.objectValue)
            let b = try #require(a["b"]?.objectValue)
            let g = try #require(message["f"]?.arrayValue?.first?.objectValue)
            let h = try #require(message["f"]?.arrayValue?.last?.objectValue)
            outer = message.objectValue?.storage
            middle = a.storage
            inner = b.storage
            inArray = g.storage
            kept = try #require(b["c"]?.objectValue)
            // Objects of one depth share a buffer once the first one's is full (`b`, `g` and `h`
            // are two levels down); objects of different depths never do.
            #expect(b.storage !== g.storage && g.storage === h.storage)
            #expect(outer !== middle && middle !== inner)
        }
        #expect(outer == nil)
        #expect(middle == nil)
        #expect(inner == nil)
        #expect(inArray == nil)
        #expect(kept == ["d": 1])
        weak let keptStorage = kept?.storage
        kept = nil
        #expect(keptStorage == nil)
    }

    @Test("an object changes its buffer in place only when it alone uses all of it")
    func inPlaceOnlyWhenAlone() throws {
        // At depth 1: {"a"} fills a buffer of its own; {"b"} and {"c"} share the next one.
        func element(_ index: Int) throws -> JSONObject {
            try #require(try parse(#"[{"a": 1}, {"b": 2}, {"c": 3}]"#).arrayValue?[index].objectValue)
        }
        for index in [1, 2] {
            // Alone now, but its neighbour's slot is still in the buffer: it must not write there.
            var object = try element(index)
            weak let shared = object.storage
            object["z"] = 1
            #expect(object.storage !== shared)
            #expect(shared == nil, "the shared buffer outlived its last object")
            #expect(object.keys == [index == 1 ? "b" : "c", "z"])
        }
        var alone = try element(0)
        weak let original = alone.storage
        alone["a"] = 5
        #expect(
            original != nil && alone.storage === original,
            "a value replaced in a buffer the object alone uses all of"
        )
        alone["more"] = true
        #expect(original == nil, "the full buffer outlived the move to a larger one")
        #expect(alone == ["a": 5, "more": true])
    }

    @Test(
        "objects nested twenty deep, with neighbours at every depth, read whole, also when the message arrives in pieces"
    )
    func deepAndSplit() throws {
        var expected: JSONValue = ["leaf": true]
        var text = #"{"leaf": true}"#
        for depth in (0..<20).reversed() {
            expected = [
                ["inner": expected, "depth": JSONValue(integer: depth)], ["neighbour": JSONValue(integer: depth)],
            ]
            text = #"[{"inner": \#(text), "depth": \#(depth)}, {"neighbour": \#(depth)}]"#
        }
        #expect(try parse(text) == expected)
        // Ending a piece after a closing brace makes the reader try the message whole first and
        // give up part-way, after it has built objects; the rest must not be affected.
        let input = bytes(text)
        for split in input.indices where input[split] == UInt8(ascii: "}") {
            let events = read(input, chunkSizes: [split + 1, input.count], finish: true)
            #expect(events == [.value(expected)], "split after byte \(split)")
        }
    }

}
