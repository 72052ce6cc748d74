import QAPI
import QMPCore

/// Tab completion for `qmp shell`, from the connected QEMU's own `query-qmp-schema`: command
/// names, argument names (dotted, into nested objects and union variants), enum values and
/// booleans, and, for arguments that name something the machine has, the names it has now.
///
/// Pure: the input is the line up to the cursor; what the machine has comes in as a list the
/// caller fetched for the ``Source`` that ``source(for:context:)`` asked for.
struct ShellCompleter: Sendable {
    /// Where the shell is, which changes what the first word means.
    struct Context: Sendable, Hashable {
        var mode: ShellInterpreter.Mode = .qmp
        var inTransaction = false
    }

    /// Something on the machine whose current names complete a value.
    enum Source: Sendable, Hashable {
        /// Block backends (`query-block`'s `device` and `qdev`) and node names.
        case blockDevices
        /// `query-named-block-nodes`' node names.
        case nodeNames
        /// `query-jobs` ids and `query-block-jobs` devices.
        case jobs
        /// Devices with an id: children of `/machine/peripheral`.
        case peripherals
        /// User-created objects: children of `/objects`.
        case objects
        /// `query-chardev` labels.
        case chardevs
        /// The child and link properties of the QOM object at a path.
        case qomChildren(of: String)
        /// Every property of the QOM object at a path.
        case qomProperties(of: String)
        /// The files in a directory of this host (the current one for `""`), as the value
        /// goes on: `directory` ends in `/` unless empty. Listed by ``ShellFileNames``.
        case fileNames(in: String)
    }

    /// What to offer: each candidate replaces the word that starts at byte offset ``start``.
    struct Completion: Sendable, Hashable {
        var start: Int
        var candidates: [String]

        static let none = Completion(start: 0, candidates: [])

        /// What a lone candidate inserts: a space after a finished word, none after `key=`,
        /// `key.` or a QOM path (which may go on).
        static func insertion(for candidate: String) -> String {
            candidate.hasSuffix("=") || candidate.hasSuffix(".") || candidate.hasSuffix("/") || candidate.contains("=/")
                ? candidate : candidate + " "
        }
    }

    let schema: QAPIIntrospection
    /// The names of the types `help` describes (introspection numbers its types, so these come
    /// from the bindings' history).
    let typeNames: [String]
    /// Words the shell itself understands in QMP mode.
    static let builtins = ["help", "transaction("]

    init(schema: QAPIIntrospection, typeNames: [String] = []) {
        self.schema = schema
        self.typeNames = typeNames
    }

    /// What the word before the cursor would need from the machine or this host; `nil` when
    /// the schema is enough.
    func source(for line: String, context: Context = Context()) -> Source? {
        let here = target(of: line, context: context)
        if case .value(let type, let owner, let key, let command, let given, let prefix) = here {
            if takesFileName(key: key, command: command, type: type, owner: owner) {
                return .fileNames(in: Self.directoryPart(of: prefix))
            }
            return Self.source(forKey: key, command: command, given: given, prefix: prefix)
        }
        return nil
    }

    /// The candidates for the word before the cursor; `names` are the machine's names for the
    /// ``Source`` that ``source(for:context:)`` returned.
    func complete(_ line: String, context: Context = Context(), names: [String] = []) -> Completion {
        let word = Self.currentWord(line)
        let start = line.utf8.count - word.utf8.count
        let candidates: [String]
        switch target(of: line, context: context) {
        case .nothing:
            candidates = []
        case .commandName:
            let commands = schema.entries.compactMap { entry -> String? in
                if case .command = entry.metaType { return entry.name }
                return nil
            }
            let builtins = context.mode == .agent ? ["help"] : Self.builtins
            candidates = (commands + builtins).filter { $0.hasPrefix(word) }.sorted()
        case .helpTopic:
            let topics = schema.entries.compactMap { entry -> String? in
                switch entry.metaType {
                case .command, .event: return entry.name
                default: return nil
                }
            }
            candidates = Set(topics + typeNames).filter { $0.hasPrefix(word) }.sorted()
        case .actionName:
            candidates = (actionTypes().keys.sorted() + [")"]).filter { $0.hasPrefix(word) }
        case .argumentName(let argumentType, let given):
            candidates = argumentNames(word, in: argumentType, given: given)
        case .value(let type, let owner, let key, let command, let given, let prefix):
            var values = valueCandidates(type)
            if takesFileName(key: key, command: command, type: type, owner: owner) {
                values += Self.filter(names, for: .fileNames(in: Self.directoryPart(of: prefix)), prefix: prefix)
            } else if let source = Self.source(forKey: key, command: command, given: given, prefix: prefix) {
                values += Self.filter(names, for: source, prefix: prefix)
            }
            var seen = Set<String>()
            candidates = values.filter { $0.hasPrefix(prefix) && seen.insert($0).inserted }.sorted().map {
                "\(key)=\($0)"
            }
        }
        return Completion(start: start, candidates: candidates)
    }

    // MARK: - Reading the line

    private enum Target {
        case nothing
        case commandName
        case helpTopic
        case actionName
        /// `given` holds the arguments already typed.
        case argumentName(type: String, given: JSONObject)
        /// `owner` is the object type whose member the value is.
        case value(type: String, owner: String, key: String, command: String, given: JSONObject, prefix: String)
    }

    /// The word the cursor is in: empty after whitespace.
    static func currentWord(_ line: String) -> String {
        guard let last = line.last, !last.isWhitespace else { return "" }
        return CommandLineSyntax.split(line).last ?? ""
    }

    private func target(of line: String, context: Context) -> Target {
        guard context.mode != .hmp, !line.hasPrefix("{"), line.first.map({ !$0.isWhitespace }) ?? true else {
            return .nothing
        }
        let word = Self.currentWord(line)
        var before = CommandLineSyntax.split(line)
        if !word.isEmpty { before.removeLast() }
        var inTransaction = context.inTransaction
        if before.first == "transaction(" {
            inTransaction = true
            before.removeFirst()
        } else if before.isEmpty && !inTransaction {
            return .commandName
        }
        if before.first == "help" && !inTransaction {
            return before.count == 1 ? .helpTopic : .nothing
        }
        guard let name = before.first else {
            return inTransaction ? .actionName : .commandName
        }
        let argumentType: String
        if inTransaction {
            guard let type = actionTypes()[name] else { return .nothing }
            argumentType = type
        } else {
            guard case .command(let type, _, _)? = schema.entry(named: name)?.metaType else { return .nothing }
            argumentType = type
        }
        let given = Self.arguments(Array(before.dropFirst()))
        guard let equals = word.firstIndex(of: "=") else {
            return .argumentName(type: argumentType, given: given)
        }
        let key = String(word[..<equals])
        let path = key.split(separator: ".").map(String.init)
        guard let type = memberType(at: path, in: argumentType, given: given),
            let owner = path.count == 1
                ? argumentType : memberType(at: Array(path.dropLast()), in: argumentType, given: given)
        else {
            return .nothing
        }
        return .value(
            type: type,
            owner: objectType(owner) ?? owner,
            key: key,
            command: inTransaction ? "transaction:\(name)" : name,
            given: given,
            prefix: String(word[word.index(after: equals)...])
        )
    }

    /// The arguments typed so far, as far as they parse.
    private static func arguments(_ words: [String]) -> JSONObject {
        var result: JSONObject = [:]
        for word in words {
            if let merged = try? CommandLineSyntax.arguments([word], base: result) {
                result = merged
            }
        }
        return result
    }

    // MARK: - The schema

    /// Transaction action names and the types of their `data`.
    private func actionTypes() -> [String: String] {
        guard case .command(let argumentType, _, _)? = schema.entry(named: "transaction")?.metaType,
            let actions = objectMembers(argumentType, given: [:]).first(where: { $0.name == "actions" }),
            case .array(let elementType)? = schema.entry(named: actions.type)?.metaType,
            case .object(_, _, let variants)? = schema.entry(named: elementType)?.metaType
        else { return [:] }
        var result: [String: String] = [:]
        for variant in variants {
            if let data = objectMembers(variant.type, given: [:]).first(where: { $0.name == "data" }) {
                result[variant.tagValue] = data.type
            }
        }
        return result
    }

    /// The object type a type stands for: itself, or an alternate's object branch.
    private func objectType(_ typeName: String) -> String? {
        switch schema.entry(named: typeName)?.metaType {
        case .object?: return typeName
        case .alternate(let branches)?: return branches.first { objectType($0) != nil }
        default: return nil
        }
    }

    /// The members of an object type, with those of the union variant that `given` selects.
    private func objectMembers(_ typeName: String, given: JSONObject) -> [QAPISchemaInfo.ObjectMember] {
        guard let objectName = objectType(typeName),
            case .object(let members, let tag, let variants)? = schema.entry(named: objectName)?.metaType
        else { return [] }
        guard let tag, case .string(let value)? = given[tag],
            let variant = variants.first(where: { $0.tagValue == value }),
            case .object(let more, _, _)? = schema.entry(named: variant.type)?.metaType
        else { return members }
        return members + more.filter { member in !members.contains { $0.name == member.name } }
    }

    /// The type of the member at a dotted path.
    private func memberType(at path: [String], in typeName: String, given: JSONObject) -> String? {
        guard let first = path.first,
            let member = objectMembers(typeName, given: given).first(where: { $0.name == first })
        else { return nil }
        if path.count == 1 { return member.type }
        return memberType(at: Array(path.dropFirst()), in: member.type, given: given[first]?.objectValue ?? [:])
    }

    private func argumentNames(_ word: String, in typeName: String, given: JSONObject) -> [String] {
        var path = word.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let last = path.removeLast()
        var type = typeName
        var here = given
        for part in path {
            guard let member = objectMembers(type, given: here).first(where: { $0.name == part }) else { return [] }
            type = member.type
            here = here[part]?.objectValue ?? [:]
        }
        let prefix = path.map { $0 + "." }.joined()
        var result: [String] = []
        for member in objectMembers(type, given: here) where member.name.hasPrefix(last) && here[member.name] == nil {
            let isObject = objectType(member.type) != nil
            let isOnlyObject =
                isObject
                && schema.entry(named: member.type).map { if case .object = $0.metaType { true } else { false } }
                    == true
            if !isOnlyObject { result.append(prefix + member.name + "=") }
            if isObject { result.append(prefix + member.name + ".") }
        }
        return result.sorted()
    }

    /// Values the schema itself knows: enum values, booleans.
    private func valueCandidates(_ typeName: String) -> [String] {
        switch schema.entry(named: typeName)?.metaType {
        case .enumeration(let members, let values)?:
            return members.isEmpty ? values : members.map(\.name)
        case .builtin? where schema.acceptedKinds(of: typeName) == [.boolean]:
            return ["false", "true"]
        case .alternate(let branches)?:
            return branches.flatMap { valueCandidates($0) }
        default:
            return []
        }
    }

    // MARK: - File names

    /// Whether a value names a file of the host QEMU runs on, so that Tab offers file names.
    ///
    /// The schema has no type for paths, so the rule goes by name, checked against every
    /// release's schema: a plain string argument (at any depth) whose name ends in `file`,
    /// `filename`, `path` or `dir` (`filename`, `logfile`, `snapshot-file`, `mem-path`,
    /// `addr.path` of a Unix socket, `dir` of TLS credentials). Not QOM paths: names that
    /// contain `qom` (`qom-path`), and the `path` of the commands that take a QOM object's
    /// path (`qom-…`, `cxl-…`, `x-query-virtio…`; see ``takesQOMPath(command:)``). Besides,
    /// the members of the types in ``fileMembers``, whose names say nothing of files (a file
    /// chardev's `in` and `out`), where the schema names its types (QEMU's own introspection
    /// numbers them; the shell's client fills the names in from the history). Anywhere else
    /// Tab offers no file names.
    func takesFileName(key: String, command: String, type: String, owner: String? = nil) -> Bool {
        guard case .builtin? = schema.entry(named: type)?.metaType, schema.acceptedKinds(of: type) == [.string]
        else { return false }
        let name = key.split(separator: ".").last.map(String.init) ?? key
        if let owner, let ownerName = schema.sourceName(of: owner), Self.fileMembers[ownerName]?.contains(name) == true
        {
            return true
        }
        return ["file", "filename", "path", "dir"].contains(where: { name.hasSuffix($0) }) && !name.contains("qom")
            && !(key == "path" && Self.takesQOMPath(command: command))
    }

    /// String members that are file names although their names do not say so, by type.
    static let fileMembers: [String: Set<String>] = [
        "ChardevFile": ["in", "out"],
        "ChardevHostdev": ["device"],
    ]

    /// Commands whose `path` argument is the path of a QOM object, not of a file.
    static func takesQOMPath(command: String) -> Bool {
        command.hasPrefix("qom-") || command.hasPrefix("cxl-") || command.hasPrefix("x-query-virtio")
    }

    /// `/tmp/` of `/tmp/di`, `` of `disk`: the directory a file name being typed is in.
    static func directoryPart(of prefix: String) -> String {
        guard let slash = prefix.lastIndex(of: "/") else { return "" }
        return String(prefix[...slash])
    }

    // MARK: - Names the machine has

    /// Which of the machine's names an argument takes, by its name and command. An `id` or
    /// `node-name` of a command that creates something (`…-add`, `…_add`, `…-create`) names a
    /// new thing, so nothing is offered for it.
    static func source(forKey key: String, command: String, given: JSONObject, prefix: String = "") -> Source? {
        let createsNew = command.hasSuffix("-add") || command.hasSuffix("_add") || command.hasSuffix("-create")
        if key == "path" && takesQOMPath(command: command) {
            return .qomChildren(of: qomParent(of: prefix))
        }
        if command.hasPrefix("qom-") {
            if key == "property", command == "qom-get" || command == "qom-set", case .string(let path)? = given["path"]
            {
                return .qomProperties(of: path)
            }
            return nil
        }
        if command.hasPrefix("job-") || command.hasPrefix("block-job-") {
            return ["id", "job-id", "device"].contains(key) ? .jobs : nil
        }
        switch key {
        case "device":
            return .blockDevices
        case "node-name":
            return createsNew ? nil : .nodeNames
        case "node", "base-node", "top-node":
            return .nodeNames
        case "chardev":
            return .chardevs
        case "id" where !createsNew:
            if command == "object-del" { return .objects }
            if command.hasPrefix("chardev-") { return .chardevs }
            return .peripherals
        default:
            return nil
        }
    }

    /// The machine's names that fit a value being typed. For QOM paths, the names are the
    /// children of the path's parent, which ``qomParent(of:)`` gives.
    /// For files, the names are the entries of the directory that ``Source/fileNames(in:)``
    /// names, as ``ShellFileNames`` lists them; hidden ones only once a `.` is typed.
    static func filter(_ names: [String], for source: Source, prefix: String) -> [String] {
        switch source {
        case .qomChildren:
            let parent = qomParent(of: prefix)
            return names.map { parent == "/" ? "/" + $0 : parent + "/" + $0 }
        case .fileNames(let directory):
            let showsHidden = prefix.dropFirst(directory.count).hasPrefix(".")
            return names.filter { showsHidden || !$0.hasPrefix(".") }.map { directory + $0 }
        default:
            return names
        }
    }

    /// The QOM path whose children complete `prefix`: `/machine/per` → `/machine`, `/` → `/`.
    static func qomParent(of prefix: String) -> String {
        guard let slash = prefix.lastIndex(of: "/"), slash != prefix.startIndex else { return "/" }
        return String(prefix[..<slash])
    }

    /// The names in a reply to the query that ``Source`` uses (see ``ShellMachineNames``).
    static func names(in reply: JSONValue, member: String) -> [String] {
        (reply.arrayValue ?? []).compactMap { $0[member]?.stringValue }.filter { !$0.isEmpty }
    }

    /// The property names in a `qom-list` reply; with `linksOnly`, only child and link properties.
    static func qomNames(in reply: JSONValue, linksOnly: Bool) -> [String] {
        (reply.arrayValue ?? []).compactMap { property -> String? in
            guard let name = property["name"]?.stringValue, let type = property["type"]?.stringValue else { return nil }
            return !linksOnly || type.hasPrefix("child<") || type.hasPrefix("link<") ? name : nil
        }
    }
}
