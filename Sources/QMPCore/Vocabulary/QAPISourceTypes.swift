/// What one release's QAPI sources say about types, for filling in what its introspection
/// leaves out: introspection folds every integer width into `int` and hides type names behind
/// numbers, but QEMU checks the widths and words some errors with the names.
///
/// Types are named as in the sources (`MigrateSetParameters`, `uint8`, `[str]`); a command's or
/// event's inline members form a type of their own, whichever name the conformer gives it.
public protocol QAPISourceTypes: Sendable {
    /// The type of a command's arguments; `nil` when the release has no such command or it
    /// takes none.
    func argumentType(ofCommand name: String) -> String?
    /// The type of an event's data; `nil` when the release has no such event or it has none.
    func dataType(ofEvent name: String) -> String?
    /// The source type of each member of a struct or union, base members included; empty for
    /// a type that is no object (or unknown).
    func memberTypes(ofType name: String) -> [String: String]
    /// The type of each branch: a union's by tag value, an alternate's in order by branch name.
    func branchTypes(ofType name: String) -> [(name: String, type: String)]
    /// Whether QEMU reads the command's arguments by hand (`'gen': false`), so that it takes
    /// members its introspection does not list; `nil` when the release has no such command.
    func takesExtraArguments(command name: String) -> Bool?
}
