import QMPCore

/// The release each definition, member and enum value says it came in, read from the `Since:`
/// notes of a schema's documentation blocks.
///
/// QEMU documents a definition's first release in a section of its own (`# Since: 10.1`, in
/// old schemas also `# Since 2.3` or `# Since: 0.14.0`), and a member or enum value added
/// later in its description (`(since 10.1)`, `(Since: 2.8)`, `(default false; since 9.0)`).
/// Only these notes are kept: names and numbers, no prose.
public struct QAPIDocumentedSince: Sendable, Hashable {
    /// A definition's own `Since:`, by the symbol its documentation block names (a command,
    /// event or type name).
    public var definitions: [String: QEMUVersion] = [:]
    /// The `since` notes of members and enum values, by symbol, then by member or value name.
    public var members: [String: [String: QEMUVersion]] = [:]

    public init() {}

    /// The notes of every documentation block in `texts` (file texts; order does not matter).
    public init(texts: [String]) {
        for text in texts { read(text) }
    }

    /// The notes of the schema files of `schema` (its ``QAPISchema/files``), read from the
    /// directory at `directory` that it was loaded from. Files that cannot be read are passed over.
    public init(directory: String, schema: QAPISchema) {
        self.init(texts: schema.files.compactMap { SchemaFiles.text(at: SchemaFiles.join(directory, $0)) })
    }

    /// The release `member` of `symbol` says it came in; `nil` when it says nothing.
    public func member(_ member: String, of symbol: String) -> QEMUVersion? { members[symbol]?[member] }

    private mutating func read(_ text: String) {
        var block: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.hasPrefix("##") && trimmed.allSatisfy({ $0 == "#" || $0 == " " || $0 == "\r" }) {
                if let lines = block, !lines.isEmpty { readBlock(lines) }
                block = block == nil ? [] : nil
                continue
            }
            guard trimmed.hasPrefix("#") else {
                if let lines = block, !lines.isEmpty { readBlock(lines) }
                block = nil
                continue
            }
            block?.append(trimmed.dropFirst())
        }
    }

    /// One block: `lines` without their leading `#`. The first line names the symbol
    /// (` @name:`); member descriptions start with ` @member:` and go on while lines are blank
    /// or indented; any other line at the margin ends them. The members under a `Features:`
    /// heading are features, whose notes are not kept.
    private mutating func readBlock(_ lines: [Substring]) {
        guard let first = lines.first, let symbol = Self.memberName(first) else { return }
        var member: String?
        var description = ""
        var inFeatures = false
        func finishMember() {
            if let member, !inFeatures, let version = Self.lastSince(in: description) {
                members[symbol, default: [:]][member] = version
            }
            member = nil
            description = ""
        }
        for line in lines.dropFirst() {
            let isBlank = line.allSatisfy { $0 == " " || $0 == "\r" }
            let isIndented = line.hasPrefix("  ") || line.hasPrefix("\t")
            if member != nil, isBlank || isIndented {
                description += " " + line
                continue
            }
            if isBlank { continue }
            if let name = Self.memberName(line) {
                finishMember()
                member = name
                description = String(line)
                continue
            }
            finishMember()
            let text = line.drop { $0 == " " }
            if text.hasPrefix("Features:") { inFeatures = true }
            if definitions[symbol] == nil, let version = Self.sectionSince(text) {
                definitions[symbol] = version
            }
        }
        finishMember()
    }

    /// `name` of a line ` @name: …`.
    private static func memberName(_ line: Substring) -> String? {
        let text = line.drop { $0 == " " }
        guard text.first == "@", let colon = text.firstIndex(of: ":") else { return nil }
        let name = text[text.index(after: text.startIndex)..<colon]
        guard !name.isEmpty, !name.contains(" ") else { return nil }
        return String(name)
    }

    /// The version of a section line `Since: 10.1`, `Since 2.3`, `Since: 0.14.0 (…)`.
    private static func sectionSince(_ text: Substring) -> QEMUVersion? {
        guard text.hasPrefix("Since") else { return nil }
        var rest = text.dropFirst("Since".count)
        if rest.first == ":" { rest = rest.dropFirst() }
        guard rest.first == " " else { return nil }
        return leadingVersion(rest.drop { $0 == " " })
    }

    /// The last `since N` (any case, with or without a colon) in a description: a member
    /// documents when it came at the end of its text. `since QEMU N` speaks of a change of
    /// behaviour, not of when the member came, and does not count.
    static func lastSince(in description: String) -> QEMUVersion? {
        let lowered = description.lowercased()
        var found: QEMUVersion?
        var rest = lowered[...]
        while let range = rest.firstRange(of: "since") {
            rest = rest[range.upperBound...]
            var after = rest
            if after.first == ":" { after = after.dropFirst() }
            guard after.first == " " else { continue }
            if let version = leadingVersion(after.drop { $0 == " " }) { found = version }
        }
        return found
    }

    /// `MAJOR.MINOR[.MICRO]` at the start of `text`, before anything that is not a digit or a dot.
    private static func leadingVersion(_ text: Substring) -> QEMUVersion? {
        var number = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        while number.last == "." { number = number.dropLast() }
        return QEMUVersion(String(number))
    }
}
