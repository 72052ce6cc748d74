import Testing

@testable import QMPCore

/// `QMPMemberReader` passes over the members it has read and stops looking once all are read;
/// what a binding reads, and what it keeps, must not depend on the order of either side.
@Suite("QMPMemberReader: what a binding reads and what it keeps")
struct MemberReaderTests {
    func reader(_ text: String) throws -> QMPMemberReader {
        try QMPMemberReader(JSONValue(parsing: text), at: QMPPath(["return"]))
    }

    @Test("members are found whatever order they come in, and nothing is left over")
    func anyOrder() throws {
        var reader = try reader(#"{"c": 3, "a": 1, "b": "two"}"#)
        #expect(try reader.required("a", at: QMPPath()) as Int64 == 1)
        #expect(try reader.required("b", at: QMPPath()) as String == "two")
        #expect(try reader.required("c", at: QMPPath()) as Int64 == 3)
        #expect(reader.remainingMembers().isEmpty)
    }

    @Test("an optional member asked for after every member was read is absent")
    func absentAfterAllRead() throws {
        var reader = try reader(#"{"name": "x"}"#)
        #expect(try reader.required("name", at: QMPPath()) as String == "x")
        #expect(try reader.optional("features", at: QMPPath(), as: [String].self) == nil)
        #expect(reader.remainingMembers().isEmpty)
    }

    @Test("a required member missing among unread ones is an error naming it")
    func missingAmongUnread() throws {
        var reader = try reader(#"{"name": "x", "extra": 1}"#)
        #expect(try reader.required("name", at: QMPPath()) as String == "x")
        #expect(throws: QMPDecodingError.missing(QMPPath(["return", "type"]))) {
            _ = try reader.required("type", at: QMPPath(["return"]), as: String.self)
        }
    }

    @Test("members not read, and a null where an optional was asked for, are kept in their order")
    func unreadKept() throws {
        var reader = try reader(#"{"new": [1], "name": "x", "gone": null, "newer": {"a": true}}"#)
        #expect(try reader.required("name", at: QMPPath()) as String == "x")
        #expect(try reader.optional("gone", at: QMPPath(), as: Bool.self) == nil)
        let rest = reader.remainingMembers()
        #expect(rest.keys == ["new", "gone", "newer"])
        #expect(rest == ["new": [1], "gone": nil, "newer": ["a": true]])
        #expect(reader.remainingMembers().isEmpty)
    }

    @Test("a member is read once: asked for again, it is not found")
    func readOnce() throws {
        var reader = try reader(#"{"a": 1, "b": 2}"#)
        #expect(try reader.required("a", at: QMPPath()) as Int64 == 1)
        #expect(try reader.optional("a", at: QMPPath(), as: Int64.self) == nil)
        #expect(try reader.required("b", at: QMPPath()) as Int64 == 2)
        #expect(try reader.optional("a", at: QMPPath(), as: Int64.self) == nil)
    }

    @Test("objects beyond 128 members are read and kept like small ones")
    func largeObject() throws {
        let members = (0..<200).map { #""m\#($0)": \#($0)"# }.joined(separator: ", ")
        var reader = try reader("{\(members)}")
        #expect(try reader.required("m150", at: QMPPath()) as Int64 == 150)
        #expect(try reader.required("m70", at: QMPPath()) as Int64 == 70)
        #expect(try reader.required("m3", at: QMPPath()) as Int64 == 3)
        let rest = reader.remainingMembers()
        #expect(rest.count == 197)
        #expect(rest["m150"] == nil && rest["m70"] == nil && rest["m3"] == nil && rest["m199"] == 199)
    }
}
