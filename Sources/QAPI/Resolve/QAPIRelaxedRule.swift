/// A rule of QEMU's current schema generator that the schemas of older QEMU releases break,
/// because QEMU made it a rule later (or dropped the construct) and changed its own schemas
/// to match.
///
/// Resolving a schema accepts what these rules refuse, so that every release from 1.0 on
/// resolves; resolving strictly (`qapi-swift --strict`) refuses it as QEMU does today. Strictly,
/// the parser also takes no missing comma and no comma before a closing bracket, slips that
/// QEMU 1.1 to 1.5 let through (see ``QAPIParser/Options``).
public enum QAPIRelaxedRule: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Events in capitals, commands and members in lower case without `_`, types in CamelCase
    /// (QEMU 6.0 made these rules, with pragmas listing the old names it keeps).
    case nameCase = "name-case"
    /// `'type'` for `'struct'` (QEMU 1.x spelling, renamed in 2.1).
    case typeKeyword = "type-keyword"
    /// A union without `'base'` and `'discriminator'`: a simple union (dropped in QEMU 6.2).
    case simpleUnion = "simple-union"
    /// A union with `'discriminator': {}`: what became an alternate (QEMU 1.7 to 2.4).
    case anonymousUnion = "anonymous-union"
    /// A union tagged by a `str` member rather than an enum (QEMU 1.7 to 2.0).
    case stringDiscriminator = "string-discriminator"
    /// `'gen': 'no'` and `'success-response': 'no'`, strings for flags (QEMU 1.x to 2.x).
    case flagStrings = "flag-strings"
    /// An anonymous object as the type of a member (QEMU 1.x).
    case nestedObjectType = "nested-object-type"
    /// The pseudo-types `'**'`, `'visitor'` and `'dict'` of hand-written commands (before 2.5).
    case pseudoType = "pseudo-type"
    /// Conditions written as C preprocessor text, or as a list (QEMU 2.12 to 6.0).
    case preprocessorCondition = "preprocessor-condition"
    /// A command returning something other than an object or a list of objects without the
    /// pragma that allows it (the pragma came with QEMU 2.10).
    case commandReturns = "command-returns"
    /// The pragmas' older names, `returns-whitelist` and `name-case-whitelist` (QEMU 2.10 to 5.2).
    case pragmaNames = "pragma-names"
    /// An enum value with `.` in it (`l1_grow.alloc_table`, QEMU 2.0 to 2.5).
    case dottedValueName = "dotted-value-name"

    public var description: String { rawValue }
}
