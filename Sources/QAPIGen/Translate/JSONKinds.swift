import QAPI
import QMPCore

/// The JSON kinds a value of a QAPI type arrives as, which is what tells an alternate's branches
/// apart.
extension Translator {
    /// How a decoding error names the JSON kinds one branch takes (`JSONValue`'s case names in,
    /// the words of `JSONKind` out).
    static func jsonKindName(_ cases: [String]) -> String {
        let kinds = Set(JSONKind.allCases.filter { $0.valueCases.contains(where: cases.contains) })
        return JSONKind.name(accepting: kinds.contains(.number) ? [.integer, .number] : kinds) ?? "value"
    }

    /// The JSONValue cases a value of a type arrives as, for telling alternate branches apart;
    /// none for a type that takes every kind (an alternate's branch cannot be one).
    func jsonKinds(of qapiType: String) -> [String] {
        let kinds = schema.acceptedKinds(of: qapiType)
        guard kinds.count < JSONKind.allCases.count else { return [] }
        return JSONKind.allCases.filter(kinds.contains).flatMap(\.valueCases)
    }
}
