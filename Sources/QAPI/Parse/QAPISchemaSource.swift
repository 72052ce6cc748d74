import QMPCore

/// The expressions of a whole schema: an entry file with every `include` followed.
///
/// Included files are spliced in where the `include` expression stands. Each file is read
/// once; a later `include` of the same file is skipped, the way QEMU does it. Include paths
/// are relative to the including file.
public struct QAPISchemaSource: Sendable, Hashable {
    /// The entry file, relative to the root.
    public var entryFile: String
    /// Every file read, in the order first included.
    public var files: [String]
    /// All expressions other than `include`, in schema order.
    public var expressions: [QAPIExpression]
    /// Syntax errors and unreadable includes.
    public var diagnostics: [QAPIDiagnostic]
    /// The `include` expressions, in schema order.
    public var includes: [QAPIExpression] = []
    /// Where each included file was first included from (the entry file has no entry).
    public var includedFrom: [String: QAPISourceLocation] = [:]

    /// Reads `entryFile` and what it includes through `read`, which gets a path relative to the
    /// root and returns the file's text, or `nil` if there is no such file.
    public static func load(
        entryFile: String,
        parser: QAPIParser = QAPIParser(),
        read: (String) -> String?
    ) -> QAPISchemaSource {
        var loader = Loader(parser: parser)
        let entry = normalizePath(entryFile)
        if let text = read(entry) {
            loader.load(file: entry, text: text, read: read)
        } else {
            loader.diagnostics.append(
                QAPIDiagnostic(
                    "cannot read schema file '\(entry)'",
                    at: QAPISourceLocation(file: entry, line: 1, column: 1)
                )
            )
        }
        return QAPISchemaSource(
            entryFile: entry,
            files: loader.files,
            expressions: loader.expressions,
            diagnostics: loader.diagnostics,
            includes: loader.includes,
            includedFrom: loader.includedFrom
        )
    }

    /// Reads `entryFile` from the directory at `directory` (locations are relative to it).
    public static func load(directory: String, entryFile: String, parser: QAPIParser = QAPIParser()) -> QAPISchemaSource
    {
        load(entryFile: entryFile, parser: parser) { path in
            SchemaFiles.text(at: SchemaFiles.join(directory, path))
        }
    }

    /// Parses in-memory files, keyed by path. For tests and for schemas that don't live on disk.
    public static func load(
        files: [String: String],
        entryFile: String,
        parser: QAPIParser = QAPIParser()
    ) -> QAPISchemaSource {
        load(entryFile: entryFile, parser: parser) { files[$0] }
    }

    private struct Loader {
        let parser: QAPIParser
        var files: [String] = []
        var expressions: [QAPIExpression] = []
        var diagnostics: [QAPIDiagnostic] = []
        var includes: [QAPIExpression] = []
        var includedFrom: [String: QAPISourceLocation] = [:]

        mutating func load(file: String, text: String, read: (String) -> String?) {
            files.append(file)
            let parsed = parser.parse(text, file: file)
            diagnostics += parsed.diagnostics
            let directory = file.split(separator: "/").dropLast().joined(separator: "/")
            for expression in parsed.expressions {
                guard let include = expression["include"] else {
                    expressions.append(expression)
                    continue
                }
                includes.append(expression)
                guard let target = include.stringValue else {
                    diagnostics.append(QAPIDiagnostic("value of 'include' must be a string", at: include.location))
                    continue
                }
                for member in expression.members where member.key != "include" {
                    diagnostics.append(QAPIDiagnostic("invalid 'include' directive", at: member.keyLocation))
                }
                let path = normalizePath(directory.isEmpty ? target : directory + "/" + target)
                if files.contains(path) { continue }
                guard let includedText = read(path) else {
                    diagnostics.append(QAPIDiagnostic("can't read include file '\(path)'", at: include.location))
                    continue
                }
                includedFrom[path] = expression.location
                load(file: path, text: includedText, read: read)
            }
        }
    }
}

/// Removes `.` and resolves `..` components of a relative path.
func normalizePath(_ path: String) -> String {
    var components: [Substring] = []
    for component in path.split(separator: "/", omittingEmptySubsequences: true) {
        switch component {
        case ".": continue
        case "..":
            if let last = components.last, last != ".." {
                components.removeLast()
            } else {
                components.append(component)
            }
        default: components.append(component)
        }
    }
    return components.joined(separator: "/")
}
