/// The one place that turns QAPI names into Swift identifiers.
///
/// Rules:
/// - A QAPI name splits into words at `-`, `_` and `.`; a leading `__` vendor prefix
///   (`__com.redhat_drive-mirror`) and an `x-` experimental prefix are kept as words
///   (`comRedhatDriveMirror`, `xQueryUsb`).
/// - Type names: every word starts upper case, the rest of each word is kept as written, so
///   `BlockdevOptions` stays, `query-status` becomes `QueryStatus`. Commands get a `Command`
///   suffix and events an `Event` suffix; event names are all capitals and become words
///   (`BLOCK_JOB_COMPLETED` → `BlockJobCompletedEvent`).
/// - Member and case names: the first word lower case, the others upper case first
///   (`node-name` → `nodeName`, `x-perf` → `xPerf`).
/// - A name that starts with a digit gets a leading `_` (`1` → `_1`, `640x480` → `_640x480`).
/// - Swift keywords are escaped with backticks (`default` → `` `default` ``).
/// - `none` and `some` get a trailing underscore (`none` → `none_`): they are the cases of
///   `Optional`, which Swift gives meaning to in every scope. An enumeration `E` with a case
///   `none` makes `.none` ambiguous wherever an `E?` is expected, and Swift resolves it to
///   `Optional.none` (with only a warning): `settings.mode = .none` would clear the member
///   instead of sending `"none"`. Backticks would not help, since they change how the name is
///   parsed, not what it means. These names are checked with the keywords, in ``escaped(_:)``,
///   which every generated identifier passes through.
/// - A type name that would hide a type the generated code itself uses (`String`, `Bool`,
///   `JSONValue`, …) gets a `QAPI` prefix: QAPI's `String` struct becomes `QAPIString`.
/// - Names the generated types use themselves (`json`, `arguments`, `branch`, `rawValue`, and
///   an enumeration's `unknown`) get a trailing underscore when a member or value takes them
///   (`unknown` → `unknown_`), as `none` does. No QAPI name turns into a name ending in `_`
///   otherwise (`_` separates words), so this cannot clash, and the generated names stay the
///   same in every type: `unknown(String)` is always the value a binding does not know.
/// - Names that collide within one scope otherwise keep the first spelling; later ones get
///   `_2`, `_3`… in the order they appear. QEMU refuses such a clash within one schema (its C
///   names would clash too); it happens where the bindings merge releases that spelled a
///   value differently (`l1_grow.activate_table`, later `l1_grow_activate_table`).
///
/// Namespace: the generated types sit at the top level of the `QMP` module, under their QAPI
/// names, as QEMU's schema has them. QAPI names are unique within a schema (QEMU's generator
/// refuses a clash), and they are the names QEMU's documentation and error messages use, so a
/// user can go from `BlockdevOptions` in QEMU's manual to `BlockdevOptions` here without a map.
/// Where one clashes with a user's own type, the module name tells them apart
/// (`QMP.BlockdevOptions`). Nesting them by schema module (`Block.BlockdevOptions`) would
/// invent names QEMU does not have, and would rename a type whenever QEMU moves its definition
/// from one schema file to another, as 10.x did; only the generated file a type lands in
/// follows the schema module.
public enum SwiftNaming {
    static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout",
        "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public", "rethrows",
        "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue", "default",
        "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return", "throw", "switch",
        "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self", "super", "throws", "true",
        "try", "some", "any", "Type", "Protocol",
    ]

    /// Types the generated code names; a QAPI type must not hide them.
    static let reservedTypeNames: Set<String> = [
        "String", "Bool", "Double", "Float", "Int", "Int8", "Int16", "Int32", "Int64", "UInt", "UInt8", "UInt16",
        "UInt32", "UInt64", "Array", "Dictionary", "Set", "Optional", "Result", "Error", "Never", "Character",
        "Sendable", "Hashable", "Equatable", "JSONValue", "JSONObject", "QMPPath", "QMPDecodingError",
        "QEMUAvailability", "QEMUVersionRange", "QEMUVersion", "QMPEmpty", "QMPCommand", "QMPEventPayload",
        "QMPJSONConvertible", "QMPMemberReader", "QMPIndirect", "Branch", "Response",
    ]

    /// The words of a QAPI name.
    static func words(_ name: String) -> [Substring] {
        name.split(whereSeparator: { $0 == "-" || $0 == "_" || $0 == "." })
    }

    static func capitalized(_ word: Substring) -> String {
        guard let first = word.first else { return "" }
        return first.uppercased() + word.dropFirst()
    }

    static func guardDigit(_ name: String) -> String {
        guard let first = name.first, first.isNumber else { return name }
        return "_" + name
    }

    /// Names of `Optional`'s cases, which a generated identifier must not take (see above).
    static let optionalCaseNames: Set<String> = ["none", "some"]

    /// `name` made safe to use as a Swift identifier: `Optional`'s case names get a trailing
    /// underscore, keywords backticks.
    static func escaped(_ name: String) -> String {
        if optionalCaseNames.contains(name) { return name + "_" }
        return keywords.contains(name) ? "`\(name)`" : name
    }

    /// A type name: `query-status` → `QueryStatus`.
    public static func typeName(_ qapiName: String) -> String {
        let name = words(qapiName).map(capitalized).joined()
        if reservedTypeNames.contains(name) { return "QAPI" + name }
        return escaped(guardDigit(name.isEmpty ? "Unnamed" : name))
    }

    /// A member or case name: `node-name` → `nodeName`.
    public static func memberName(_ qapiName: String) -> String {
        let parts = words(qapiName)
        guard let first = parts.first else { return "_" }
        let name = first.lowercased() == first ? String(first) : lowerFirst(first)
        return escaped(guardDigit(name + parts.dropFirst().map(capitalized).joined()))
    }

    static func lowerFirst(_ word: Substring) -> String {
        // An all-capitals word (an event name, an acronym) goes entirely lower case.
        if word.allSatisfy({ $0.isUppercase || $0.isNumber }) {
            return word.lowercased()
        }
        return word.prefix(1).lowercased() + word.dropFirst()
    }

    /// The generated file for a schema module: `qapi/block-core.json` → `BlockCore.swift`.
    public static func moduleFileName(_ schemaFile: String) -> String {
        let base = schemaFile.split(separator: "/").last.map(String.init) ?? schemaFile
        let stem = base.hasSuffix(".json") ? String(base.dropLast(5)) : base
        let name = words(stem).map(capitalized).joined()
        return (name.isEmpty ? "Schema" : name) + ".swift"
    }

    public static func commandTypeName(_ command: String) -> String {
        typeName(command) + "Command"
    }

    public static func eventTypeName(_ event: String) -> String {
        words(event).map { capitalized(Substring($0.lowercased())) }.joined() + "Event"
    }

    /// The private stored property behind a member kept indirectly: `parent` → `_parent`,
    /// `` `default` `` → `_default`.
    public static func storageName(_ memberName: String) -> String {
        "_" + memberName.replacingOccurrences(of: "`", with: "")
    }

    /// Members the generated types declare themselves; a QAPI member of that name gets a
    /// trailing underscore (`json` → `json_`).
    public static let reservedMemberNames: Set<String> = ["json", "arguments", "branch", "rawValue", "unknownMembers"]
    /// Likewise for enumeration cases: `unknown` is the case of a value the binding does not know.
    public static let reservedCaseNames: Set<String> = ["json", "rawValue", "unknown"]

    /// Names for `qapiNames` in one scope, with collisions resolved in order; `reserved`
    /// names get a trailing underscore.
    public static func uniqueMemberNames(_ qapiNames: [String], reserved: Set<String> = []) -> [String] {
        var taken = reserved
        return qapiNames.map { qapiName in
            var base = memberName(qapiName)
            if reserved.contains(base) { base += "_" }
            var candidate = base
            var counter = 2
            while taken.contains(candidate) {
                candidate = base.hasSuffix("`") ? "`\(base.dropFirst().dropLast())_\(counter)`" : "\(base)_\(counter)"
                counter += 1
            }
            taken.insert(candidate)
            return candidate
        }
    }
}
