/// The known names that a mistyped one was probably meant to be: `query-stat` → `query-stats`,
/// `query-status`. Used wherever the tool refuses a name it does not know (a command, an
/// argument, an enum value), so that the refusal says what would have worked.
///
/// The rule, in order; the first that finds something decides:
/// 1. Names equal to the word but for case and `-` versus `_` (`query_status`, `QUERY-STATUS`).
/// 2. Names a few edits away (a letter added, dropped, changed, or two neighbours swapped): at
///    most one edit for words of up to four characters, two up to twelve, three beyond. Only
///    the closest names and those one edit further are kept, closest first: `query-stat` is
///    one edit from `query-stats` and two from `query-status`, and either may be meant.
/// 3. For words of at least three characters: names that start with the word, then names that
///    contain it, then names that contain its characters in order and are at most half as long
///    again (an abbreviation: `BlockDevInfo` → `BlockDeviceInfo`), shortest first in each.
///
/// At most ``limit`` names; none when nothing is close, since a far-fetched guess misleads
/// more than silence does.
struct NameSuggestions {
    /// The most names a suggestion offers.
    static let limit = 3

    /// The names among `candidates` that `word` was probably meant to be, best first.
    static func closest(to word: String, among candidates: some Sequence<String>) -> [String] {
        let wanted = normalized(word)
        guard !wanted.isEmpty else { return [] }
        let names = Set(candidates).subtracting([word]).sorted()
        let normalizedNames = names.map(normalized)

        let sameButSpelling = zip(names, normalizedNames).filter { $0.1 == wanted }.map(\.0)
        if !sameButSpelling.isEmpty { return Array(sameButSpelling.prefix(limit)) }

        let allowed = allowedEdits(for: wanted)
        let target = Array(wanted.unicodeScalars)
        var near: [(name: String, edits: Int)] = []
        for (name, normalizedName) in zip(names, normalizedNames) {
            let scalars = Array(normalizedName.unicodeScalars)
            guard abs(scalars.count - target.count) <= allowed else { continue }
            let edits = editDistance(target, scalars, atMost: allowed)
            if edits <= allowed { near.append((name, edits)) }
        }
        if let best = near.map(\.edits).min() {
            return near.filter { $0.edits <= best + 1 }
                .sorted { ($0.edits, $0.name) < ($1.edits, $1.name) }
                .prefix(limit).map(\.name)
        }

        guard wanted.count >= 3 else { return [] }
        let pairs = zip(names, normalizedNames)
        let starting = pairs.filter { $0.1.hasPrefix(wanted) }.map(\.0)
        let containing = pairs.filter { !$0.1.hasPrefix(wanted) && $0.1.contains(wanted) }.map(\.0)
        let abbreviated = pairs.filter { pair in
            !pair.1.contains(wanted) && pair.1.count * 2 <= wanted.count * 3 && isSubsequence(wanted, of: pair.1)
        }.map(\.0)
        let byLength: (String, String) -> Bool = { ($0.count, $0) < ($1.count, $1) }
        let ranked = starting.sorted(by: byLength) + containing.sorted(by: byLength) + abbreviated.sorted(by: byLength)
        return Array(ranked.prefix(limit))
    }

    /// Whether `name` has every character of `word` in order.
    static func isSubsequence(_ word: String, of name: String) -> Bool {
        var rest = name.unicodeScalars[...]
        for scalar in word.unicodeScalars {
            guard let found = rest.firstIndex(of: scalar) else { return false }
            rest = rest[rest.index(after: found)...]
        }
        return true
    }

    /// `; did you mean a, b or c?`, or nothing when no name is close.
    static func hint(for word: String, among candidates: some Sequence<String>) -> String {
        phrase(closest(to: word, among: candidates))
    }

    /// `; did you mean a, b or c?` for names already chosen; empty for none.
    static func phrase(_ names: [String]) -> String {
        guard let last = names.last else { return "" }
        let listed = names.count == 1 ? last : names.dropLast().joined(separator: ", ") + " or " + last
        return "; did you mean \(listed)?"
    }

    /// How many edits a word of this length may be from a name it was meant to be.
    static func allowedEdits(for word: String) -> Int {
        switch word.count {
        case ...4: 1
        case ...12: 2
        default: 3
        }
    }

    /// QAPI spells words apart with `-` and `_` (older commands use `_`), and people type in
    /// any case: neither tells names apart.
    static func normalized(_ name: String) -> String {
        String(name.lowercased().map { $0 == "_" ? "-" : $0 })
    }

    /// Edits from `a` to `b`: insertions, deletions, substitutions and swaps of neighbours (the
    /// optimal string alignment distance). Stops early and returns `limit + 1` once two rows
    /// in a row exceed `limit`: a swap reaches back two rows, nothing further.
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar], atMost limit: Int = .max) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var beforePrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        var previousMinimum = 0
        for i in 1...a.count {
            current[0] = i
            var rowMinimum = current[0]
            for j in 1...b.count {
                let substitution = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + substitution)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, beforePrevious[j - 2] + 1)
                }
                current[j] = value
                rowMinimum = min(rowMinimum, value)
            }
            if rowMinimum > limit && previousMinimum > limit { return limit + 1 }
            previousMinimum = rowMinimum
            (beforePrevious, previous, current) = (previous, current, beforePrevious)
        }
        return previous[b.count]
    }
}
