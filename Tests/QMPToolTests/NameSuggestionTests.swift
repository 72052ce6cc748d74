import Testing

@testable import QMPTool

@Suite("Suggestions for mistyped names")
struct NameSuggestionTests {
    static let commands = ["query-status", "query-stats", "query-stats-schemas", "query-sev", "stop", "cont"]

    @Test("a name a letter or two away is suggested, closest first, with those one edit further")
    func nearNames() {
        #expect(NameSuggestions.closest(to: "query-stat", among: Self.commands) == ["query-stats", "query-status"])
        // One edit from each: a swap, or a letter too many.
        #expect(NameSuggestions.closest(to: "query-stauts", among: Self.commands) == ["query-stats", "query-status"])
        #expect(NameSuggestions.closest(to: "stpo", among: Self.commands) == ["stop"])
    }

    @Test("case and - versus _ do not count as differences, and such a match stands alone")
    func spelling() {
        #expect(NameSuggestions.closest(to: "query_status", among: Self.commands) == ["query-status"])
        #expect(NameSuggestions.closest(to: "QUERY-STATS", among: Self.commands) == ["query-stats"])
        #expect(
            NameSuggestions.closest(to: "block_resize", among: ["block_resize", "block-resize"]) == ["block-resize"]
        )
    }

    @Test("short words may be one edit away, longer ones more")
    func allowedEdits() {
        #expect(NameSuggestions.closest(to: "id", among: ["if", "idx", "name"]) == ["idx", "if"])
        #expect(NameSuggestions.closest(to: "nme", among: ["node", "name"]) == ["name"])
        #expect(NameSuggestions.closest(to: "xyz", among: ["node", "name"]).isEmpty)
        #expect(NameSuggestions.closest(to: "nodname", among: ["node-name"]) == ["node-name"])
        #expect(NameSuggestions.allowedEdits(for: "abcd") == 1)
        #expect(NameSuggestions.allowedEdits(for: "abcdefghijkl") == 2)
        #expect(NameSuggestions.allowedEdits(for: "abcdefghijklm") == 3)
        // Three letters changed in ten are another word, not a typo.
        #expect(NameSuggestions.closest(to: "query-cpus", among: ["query-jobs", "query-tpm"]).isEmpty)
    }

    @Test("with nothing near: names that start with the word, contain it, or abbreviate to it, shortest first")
    func prefixes() {
        let names = ["query-cpus-fast", "query-cpu-definitions", "x-query-cpus-ext", "query-mice"]
        #expect(NameSuggestions.closest(to: "query-cpus", among: names) == ["query-cpus-fast", "x-query-cpus-ext"])
        #expect(NameSuggestions.closest(to: "cpus-fast", among: names) == ["query-cpus-fast"])
        #expect(NameSuggestions.closest(to: "qu", among: names).isEmpty)
        let types = ["BlockDeviceInfo", "BlockInfo", "BlockJobInfo", "BlockDeviceInfoWithAVeryLongTail"]
        #expect(NameSuggestions.closest(to: "BlockDevInfo", among: types) == ["BlockDeviceInfo"])
    }

    @Test("at most three names, and none for the word itself or for nothing")
    func limits() {
        let names = ["aaa1", "aaa2", "aaa3", "aaa4", "aaa"]
        #expect(NameSuggestions.closest(to: "aaa", among: names) == ["aaa1", "aaa2", "aaa3"])
        #expect(NameSuggestions.closest(to: "", among: names).isEmpty)
        #expect(NameSuggestions.closest(to: "zzzzzzzz", among: names).isEmpty)
    }

    @Test("the hint lists one name, two with or, three with a comma and or")
    func phrasing() {
        #expect(NameSuggestions.phrase([]) == "")
        #expect(NameSuggestions.phrase(["a"]) == "; did you mean a?")
        #expect(NameSuggestions.phrase(["a", "b"]) == "; did you mean a or b?")
        #expect(NameSuggestions.phrase(["a", "b", "c"]) == "; did you mean a, b or c?")
    }

    @Test("edit distance counts insertions, deletions, substitutions and swapped neighbours")
    func editDistance() {
        func distance(_ a: String, _ b: String, atMost limit: Int = .max) -> Int {
            NameSuggestions.editDistance(Array(a.unicodeScalars), Array(b.unicodeScalars), atMost: limit)
        }
        #expect(distance("stop", "stop") == 0)
        #expect(distance("stop", "stops") == 1)
        #expect(distance("stop", "sop") == 1)
        #expect(distance("stop", "step") == 1)
        #expect(distance("stop", "stpo") == 1)
        #expect(distance("", "abc") == 3)
        #expect(distance("kitten", "sitting") == 3)
        // Past the limit, the answer is only "more than the limit".
        #expect(distance("abcdefgh", "zyxwvuts", atMost: 2) == 3)
    }
}
