import ArgumentParser
import QMPClient
import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct QOMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qom",
        abstract: "Browse and change QEMU's object model (QOM).",
        discussion: """
            PATH.PROP splits at the last dot: /machine/peripheral/nic0.mac is the property mac \
            of /machine/peripheral/nic0 (object names may contain dots themselves, property names \
            do not).
            """,
        subcommands: [Get.self, Set.self, List.self, Tree.self]
    )

    /// Splits the leading ADDRESS off the words: there is one when there is a word more than the
    /// subcommand takes. Without one, --launch or the simulated QEMU answers.
    static func split(
        _ words: [String],
        launch: Bool,
        expecting count: Int,
        usage: String
    ) throws -> (String?, [String]) {
        if words.count == count + 1 {
            guard !launch else { throw ConnectionOptions.addressWithLaunch }
            return (words[0], Array(words.dropFirst()))
        }
        guard words.count == count else {
            throw ValidationError("usage: qmp qom \(usage)")
        }
        return (nil, words)
    }

    static func propertyPath(_ text: String) throws -> (path: String, property: String) {
        guard let dot = text.lastIndex(of: "."), dot != text.startIndex, text.index(after: dot) != text.endIndex else {
            throw ValidationError("expected PATH.PROPERTY, e.g. /machine.type, got '\(text)'")
        }
        return (String(text[..<dot]), String(text[text.index(after: dot)...]))
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get",
            abstract: "Print a property's value as JSON.",
            discussion: """
                Examples:
                  qmp qom get /tmp/qmp.sock /machine.type
                  qmp qom get --launch /machine/unattached/device[0].family
                """
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: ArgumentHelp("[ADDRESS] PATH.PROP", valueName: "words")) var words: [String] = []

        func validate() throws {
            _ = try QOMCommand.split(words, launch: connection.launch, expecting: 1, usage: "get [ADDRESS] PATH.PROP")
        }

        func run() async throws {
            let (address, rest) = try QOMCommand.split(
                words,
                launch: connection.launch,
                expecting: 1,
                usage: "get [ADDRESS] PATH.PROP"
            )
            let (path, property) = try QOMCommand.propertyPath(rest[0])
            do {
                let value = try await connection.withClient(address: address) { client in
                    try await client.execute(
                        "qom-get",
                        arguments: ["path": .string(path), "property": .string(property)]
                    )
                }
                printLine(value.serialized())
            } catch {
                throw failure(reporting: error)
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set a property; VALUE converts as in qmp exec (integers, true/false, JSON, else a string).",
            discussion: """
                Examples:
                  qmp qom set /tmp/qmp.sock /machine/peripheral/nic0.x-pcie-extcap-init false
                  qmp qom set /tmp/qmp.sock /objects/mem0.prealloc true
                """
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: ArgumentHelp("[ADDRESS] PATH.PROP VALUE", valueName: "words")) var words: [String] = []

        func validate() throws {
            _ = try QOMCommand.split(
                words,
                launch: connection.launch,
                expecting: 2,
                usage: "set [ADDRESS] PATH.PROP VALUE"
            )
        }

        func run() async throws {
            let (address, rest) = try QOMCommand.split(
                words,
                launch: connection.launch,
                expecting: 2,
                usage: "set [ADDRESS] PATH.PROP VALUE"
            )
            let (path, property) = try QOMCommand.propertyPath(rest[0])
            let value = CommandLineSyntax.parseValue(rest[1])
            do {
                _ = try await connection.withClient(address: address) { client in
                    try await client.execute(
                        "qom-set",
                        arguments: ["path": .string(path), "property": .string(property), "value": value]
                    )
                }
            } catch {
                throw failure(reporting: error)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List an object's properties and children, one 'name: type' per line.",
            discussion: """
                Examples:
                  qmp qom list /tmp/qmp.sock /machine
                  qmp qom list --launch /machine/peripheral-anon
                """
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: ArgumentHelp("[ADDRESS] PATH", valueName: "words")) var words: [String] = []

        func validate() throws {
            _ = try QOMCommand.split(words, launch: connection.launch, expecting: 1, usage: "list [ADDRESS] PATH")
        }

        func run() async throws {
            let (address, rest) = try QOMCommand.split(
                words,
                launch: connection.launch,
                expecting: 1,
                usage: "list [ADDRESS] PATH"
            )
            do {
                let entries = try await connection.withClient(address: address) { client in
                    try await QOMTree.list(rest[0], client: client)
                }
                for entry in entries {
                    printLine(escapingControlCharacters("\(entry.name): \(entry.type)"))
                }
            } catch {
                throw failure(reporting: error)
            }
        }
    }

    struct Tree: AsyncParsableCommand {
        static func namesServer(_ word: String) -> Bool {
            switch try? QMPAddress(parsing: word) {
            case .tcp?, .vsock?, .characterDevice?: return true
            default: break
            }
            var info = stat()
            return stat(word, &info) == 0 && (info.st_mode & S_IFMT) != S_IFDIR
        }

        static let configuration = CommandConfiguration(
            commandName: "tree",
            abstract: "Print the object tree below PATH (default /), with every property's type and value.",
            discussion: """
                Each object is a line 'name (type)'; below it, indented by two spaces, its \
                properties as 'name: type = value' (the value as JSON, or <error: …> when QEMU \
                cannot read it), then its children.

                Examples:
                  qmp qom tree /tmp/qmp.sock /machine/peripheral
                  qmp qom tree --launch --machine q35 /machine
                """
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: ArgumentHelp("[ADDRESS] [PATH]", valueName: "words")) var words: [String] = []

        func validate() throws {
            if words.count == 2 && connection.launch {
                throw ConnectionOptions.addressWithLaunch
            }
        }

        func run() async throws {
            // QOM paths start with a slash like socket paths do: one word is the ADDRESS only
            // when it is HOST:PORT or an existing file that is not a directory.
            let address: String?
            let rest: [String]
            if words.count == 2 && !connection.launch {
                (address, rest) = (words[0], [words[1]])
            } else if words.count == 1, !connection.launch, Self.namesServer(words[0]) {
                (address, rest) = (words[0], [])
            } else {
                (address, rest) = (nil, words)
            }
            guard rest.count <= 1 else {
                throw ValidationError("usage: qmp qom tree [ADDRESS] [PATH]")
            }
            let root = rest.first ?? "/"
            do {
                let lines = try await connection.withClient(address: address) { client in
                    try await QOMTree.render(root, client: client)
                }
                for line in lines {
                    printLine(escapingControlCharacters(line))
                }
            } catch {
                throw failure(reporting: error)
            }
        }
    }
}

/// Walks QOM with `qom-list` and `qom-get`.
enum QOMTree {
    struct Entry: Sendable {
        var name: String
        var type: String
        var isChild: Bool { type.hasPrefix("child<") }
        var childType: String { String(type.dropFirst("child<".count).dropLast()) }
    }

    static func list(_ path: String, client: QMPClient) async throws -> [Entry] {
        let reply = try await client.execute("qom-list", arguments: ["path": .string(path)])
        return (reply.arrayValue ?? []).compactMap { item in
            guard let name = item["name"]?.stringValue, let type = item["type"]?.stringValue else { return nil }
            return Entry(name: name, type: type)
        }
    }

    static func child(_ path: String, _ name: String) -> String {
        path == "/" ? "/" + name : path + "/" + name
    }

    /// The tree below `root` as lines. Properties are read concurrently (the client pipelines),
    /// children in name order.
    static func render(_ root: String, client: QMPClient) async throws -> [String] {
        let type = try await rootType(root, client: client)
        var lines: [String] = []
        try await render(path: root, name: root, type: type, depth: 0, client: client, into: &lines)
        return lines
    }

    private static func rootType(_ path: String, client: QMPClient) async throws -> String {
        if let type = try? await client.execute("qom-get", arguments: ["path": .string(path), "property": "type"])
            .stringValue
        {
            return type
        }
        return "?"
    }

    private static func render(
        path: String,
        name: String,
        type: String,
        depth: Int,
        client: QMPClient,
        into lines: inout [String]
    ) async throws {
        let indent = String(repeating: "  ", count: depth)
        lines.append("\(indent)\(name) (\(type))")
        let entries = try await list(path, client: client).sorted { $0.name < $1.name }
        let properties = entries.filter { !$0.isChild }
        let values = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (index, property) in properties.enumerated() {
                group.addTask {
                    do {
                        let value = try await client.execute(
                            "qom-get",
                            arguments: ["path": .string(path), "property": .string(property.name)]
                        )
                        return (index, value.serialized())
                    } catch let error as QMPError where error.code == .commandFailed {
                        return (index, "<error: \(error.message)>")
                    }
                }
            }
            var values = [String](repeating: "", count: properties.count)
            for try await (index, value) in group {
                values[index] = value
            }
            return values
        }
        for (property, value) in zip(properties, values) {
            lines.append("\(indent)  \(property.name): \(property.type) = \(value)")
        }
        for entry in entries where entry.isChild {
            try await render(
                path: child(path, entry.name),
                name: entry.name,
                type: entry.childType,
                depth: depth + 1,
                client: client,
                into: &lines
            )
        }
    }
}
