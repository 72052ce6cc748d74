import QAPI
import QMPCore

/// Turns a resolved QAPI schema into Swift declarations, as data for ``SwiftRenderer``.
///
/// Translates enumerations, structs, unions (flat, and the simple unions of QEMU ≤ 6.1 whose
/// branches wrap their value in `data`), alternates, commands (boxed ones taking a union too)
/// and events, each in a file of its own beside this one. What it cannot express is reported
/// as a diagnostic rather than translated halfway.
public struct Translator: Sendable {
    public var schema: QAPISchema
    /// When commands, events, types and members came and went; without it every command and
    /// event is said to come from `defaultVersion`.
    public var history: QAPIAvailability?
    public var defaultVersion: QEMUVersion
    /// Members the schema makes optional although the newest release requires them (see
    /// ``MergedSchema/relaxedMembers``), for their comments.
    public var relaxedMembers: [String: Set<String>]
    /// Unions and alternates that can hold a value of their own type other than through an
    /// array (see ``typesHoldingThemselves(_:)``).
    let selfContainingTypes: Set<String>
    /// Members, as `Type.member`, stored indirectly (see ``membersInCycles(_:)``).
    let indirectMembers: Set<String>
    /// The Swift names of the schema's types, which a command's or an event's type must not take.
    let typeSwiftNames: Set<String>
    /// Older shapes of commands' arguments, each generated as a command type of its own (see
    /// ``MergedSchema/olderShapes``).
    public var olderShapes: [String: [MergedSchema.OlderShape]] = [:]
    /// The newest shape of each command in ``olderShapes``.
    public var newestShapes: [String: QAPIArgumentShape] = [:]
    /// The types some union's branches are, which a union's decoding reads through its own
    /// reader (see ``readingInitializers(_:isBranch:)``).
    let unionBranchTypes: Set<String>

    public init(
        schema: QAPISchema,
        defaultVersion: QEMUVersion = QEMUVersion(1, 0),
        history: QAPIAvailability? = nil,
        relaxedMembers: [String: Set<String>] = [:]
    ) {
        self.schema = schema
        self.defaultVersion = defaultVersion
        self.history = history
        self.relaxedMembers = relaxedMembers
        self.indirectMembers = Self.membersInCycles(schema)
        self.selfContainingTypes = Self.typesHoldingThemselves(schema)
        self.typeSwiftNames = Set(schema.definedTypes.map { SwiftNaming.typeName($0.name) })
        var branches: Set<String> = []
        for type in schema.types.values {
            guard case .object(let object) = type.kind, let variants = object.variants else { continue }
            branches.formUnion(variants.variants.map(\.type))
        }
        self.unionBranchTypes = branches
    }

    /// The Swift type of command `name`: `query-status` → `QueryStatusCommand`, or, when the
    /// schema has a type of that very name (QEMU allows a struct `QueryStatusCommand`),
    /// `QMPQueryStatusCommand`, which keeps the type its name from QEMU's documentation.
    func commandSwiftName(_ name: String) -> String {
        unclashed(SwiftNaming.commandTypeName(name))
    }

    /// The Swift type of event `name`, told apart from the schema's types as commands are.
    func eventSwiftName(_ name: String) -> String {
        unclashed(SwiftNaming.eventTypeName(name))
    }

    private func unclashed(_ candidate: String) -> String {
        var name = candidate
        while typeSwiftNames.contains(name) { name = "QMP" + name }
        return name
    }

    /// A translator for the bindings of every release in `merged`.
    public init(merged: MergedSchema) {
        self.init(
            schema: merged.schema,
            defaultVersion: merged.availability.versions.first ?? QEMUVersion(1, 0),
            history: merged.availability,
            relaxedMembers: merged.relaxedMembers
        )
        olderShapes = merged.olderShapes
        newestShapes = merged.newestShapes
    }

    /// One translated declaration: what it stands for, and the schema file it comes from.
    public struct Translated: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            /// A named type: enumeration, struct, union or alternate.
            case type
            /// A command, by the name QEMU knows it by.
            case command(wireName: String)
            /// An event, by the name QEMU sends.
            case event(wireName: String)
            /// A command's arguments as older releases took them, by the command's name.
            case olderShape(wireName: String)
        }

        public var kind: Kind
        /// The Swift type declared.
        public var swiftName: String
        public var declaration: SwiftDeclaration
        /// The schema file that defines it (`qapi/block-core.json`), for grouping.
        public var schemaFile: String
    }

    /// Every declaration, in a stable order: types by name, then commands, then events.
    public func translateAll() -> (declarations: [Translated], diagnostics: [GeneratorDiagnostic]) {
        var declarations: [Translated] = []
        var diagnostics: [GeneratorDiagnostic] = []
        func add(
            _ result: Result<SwiftDeclaration, GeneratorDiagnostic>,
            _ kind: Translated.Kind,
            _ swiftName: String,
            _ schemaFile: String
        ) {
            switch result {
            case .success(let declaration):
                declarations.append(
                    Translated(kind: kind, swiftName: swiftName, declaration: declaration, schemaFile: schemaFile)
                )
            case .failure(let diagnostic):
                diagnostics.append(diagnostic)
            }
        }
        for type in schema.definedTypes where !type.isImplicit || type.isImplicitTagEnum {
            guard let result = translateType(type) else { continue }
            add(result, .type, SwiftNaming.typeName(type.name), type.location?.file ?? "")
        }
        for command in schema.commands.values.sorted(by: { $0.name < $1.name }) {
            let name = commandSwiftName(command.name)
            add(translateCommand(command), .command(wireName: command.name), name, command.location.file)
        }
        for (name, shapes) in olderShapes.sorted(by: { $0.key < $1.key }) {
            guard let command = schema.commands[name] else { continue }
            for shape in shapes {
                add(
                    translateCommand(command, olderShape: shape),
                    .olderShape(wireName: name),
                    olderShapeTypeName(shape),
                    command.location.file
                )
            }
        }
        for event in schema.events.values.sorted(by: { $0.name < $1.name }) {
            let name = eventSwiftName(event.name)
            add(translateEvent(event), .event(wireName: event.name), name, event.location.file)
        }
        return (declarations, diagnostics)
    }

    /// A named type's declaration, or why it cannot have one; nil for a kind that needs none
    /// (built-in types and arrays).
    func translateType(_ type: QAPIType) -> Result<SwiftDeclaration, GeneratorDiagnostic>? {
        if let unsupported = unsupportedReason(type) {
            return .failure(GeneratorDiagnostic(location: type.location, message: "\(type.name): \(unsupported)"))
        }
        switch type.kind {
        case .enumeration(let enumeration): return .success(translateEnum(type.name, enumeration))
        case .object(let object) where object.variants == nil: return .success(translateStruct(type.name, object))
        case .object(let object): return .success(translateUnion(type.name, object, object.variants!))
        case .alternate(let alternate): return .success(translateAlternate(type.name, alternate))
        case .builtin, .array: return nil
        }
    }

    /// Everything in one file.
    public func translate(source: String) -> (file: SwiftFile, diagnostics: [GeneratorDiagnostic]) {
        let (declarations, diagnostics) = translateAll()
        return (Self.file(source: source, declarations.map(\.declaration)), diagnostics)
    }

    /// `declarations` in one file per schema module (`qapi/block-core.json` →
    /// `BlockCore.swift`), so that the compiler can work on them in parallel; keyed by file name.
    public static func modules(_ declarations: [Translated], source: String) -> [String: SwiftFile] {
        Dictionary(grouping: declarations) { SwiftNaming.moduleFileName($0.schemaFile) }
            .mapValues { file(source: source, $0.map(\.declaration)) }
    }

    static func file(source: String, _ declarations: [SwiftDeclaration]) -> SwiftFile {
        SwiftFile(
            header: [
                "Generated by qapi-swift from \(source). Do not edit.",
                "Names and types only: QEMU's documentation is not copied.",
            ],
            imports: ["QMPCore"],
            declarations: declarations
        )
    }
}
