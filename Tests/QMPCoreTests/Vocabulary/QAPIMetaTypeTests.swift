import QMPCore
import Testing

@Suite("QAPI meta-types")
struct QAPIMetaTypeTests {
    @Test("The words are introspection's seven meta-types, and a union is not one of them")
    func words() {
        let words = ["builtin", "enum", "array", "object", "alternate", "command", "event"]
        #expect(QAPIMetaType.allCases.map(\.rawValue) == words)
        #expect(QAPIMetaType(rawValue: "union") == nil)
        #expect(QAPIMetaType(rawValue: "struct") == nil)
        #expect("\(QAPIMetaType.enumeration)" == "enum")
    }
}
