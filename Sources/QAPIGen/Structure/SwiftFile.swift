/// One Swift source file as data: the translator builds it, only ``SwiftRenderer`` writes text.
///
/// The structure stops at what the generated bindings need (types, properties, initializers,
/// the statements and expressions of their bodies) so that every value it can hold has one
/// rendering, and two equal values render the same text.
public struct SwiftFile: Sendable, Hashable {
    /// Lines of the `//` comment that opens the file.
    public var header: [String]
    /// Module names, each `import`ed.
    public var imports: [String]
    public var declarations: [SwiftDeclaration]

    public init(header: [String], imports: [String], declarations: [SwiftDeclaration]) {
        self.header = header
        self.imports = imports
        self.declarations = declarations
    }
}
