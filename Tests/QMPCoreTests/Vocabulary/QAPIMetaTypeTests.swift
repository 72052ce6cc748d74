import QMPCore
import Testing

@Suite("QAPI meta-types")
struct QAPIMetaTypeTests {
    @Test("The words are introspection's seven meta-types, and a union is not one of them")
    func words() {
        #expect(QAPIMetaType.allCases.map(\.rawValue) == ["builtin", "enum", "array", "object", "alternate", "command", "event"])
        #expect(QAPIMetaType(rawValue: "union") == nil)
        #expect(QAPIMetaType(rawValue: "struct") == nil)
        #expect("\(QAPIMetaType.enumeration)" == "enum")
    }
}
