import QMPCore
import Testing

@Suite("JSON kinds and the words QMP gives them")
struct JSONKindTests {
    /// One value of every `JSONValue` case, with the case's name.
    static let valuesByCase: [(name: String, value: JSONValue)] = [
        ("null", .null), ("bool", .bool(true)), ("int", .int(-1)), ("uint", .uint(UInt64.max)),
        ("double", .double(0.5)), ("string", .string("s")), ("array", .array([])), ("object", .object([:])),
    ]

    @Test("A kind's value cases are exactly the cases whose values have that kind")
    func valueCasesReverseKind() {
        for kind in JSONKind.allCases {
            let cases = Self.valuesByCase.filter { $0.value.kind == kind }.map(\.name)
            #expect(kind.valueCases == cases, "\(kind)")
        }
    }

    @Test("A json-type word stands for the kinds it accepts, and each set of kinds for one word")
    func jsonTypeWords() {
        #expect(QAPIJSONType.int.acceptedKinds == [.integer])
        #expect(QAPIJSONType.number.acceptedKinds == [.integer, .number])
        #expect(QAPIJSONType.value.acceptedKinds == Set(JSONKind.allCases))
        #expect(QAPIJSONType(accepting: [.boolean]) == .boolean)
        #expect(QAPIJSONType(accepting: [.number]) == nil)
        for word in QAPIJSONType.allCases {
            #expect(QAPIJSONType(accepting: word.acceptedKinds) == word)
        }
    }
}
