import QMPCore

/// A position in a QAPI schema source file.
///
/// `file` is the path of the file relative to the schema's root directory (for QEMU's
/// releases, the version directory, e.g. `qapi/block-core.json`). Lines and columns count
/// from 1; a column counts Unicode scalars, so it matches what an editor shows for the
/// ASCII text QEMU's schemas are written in.
public struct QAPISourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The file, relative to the schema's root directory.
    public var file: String
    /// The line, from 1.
    public var line: Int
    /// The column in Unicode scalars, from 1.
    public var column: Int

    /// A position in `file`.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, the form compilers use, so editors and terminals can jump to it.
    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: QAPISourceLocation, rhs: QAPISourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// A problem found while reading or resolving a schema, tied to the place that causes it.
///
/// Its ``description`` is exactly `file:line:col: message`, at the exact place of the problem.
/// ``qemuDescription`` is how QEMU's own generator reports the same problem: a syntax error at
/// `file:line:col`, a schema error at the line of the definition it is in (QEMU knows no finer
/// place), after a line naming that definition.
public struct QAPIDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is.
    public var location: QAPISourceLocation
    /// What the problem is.
    public var message: String
    /// Where QEMU reports the problem: for a syntax error the place itself, for a schema error
    /// the start of the top-level expression it is in, with no column. Filled in when the
    /// schema is resolved; `nil` until then.
    public var reportedLocation: QAPIReportedLocation?
    /// The definition the problem is in, as QEMU names it (`struct 'Foo'`); `nil` for a syntax
    /// error and for one outside any definition (a pragma, an include).
    public var definition: String?
    /// The `include` expressions that led to the file, outermost first.
    public var includedFrom: [QAPISourceLocation]
    /// The rule of QEMU's newer generators that the problem breaks, when it is one that the
    /// schemas of older releases break too: such problems are reported only when resolving
    /// strictly.
    public var relaxedRule: QAPIRelaxedRule?

    /// A problem at `location`.
    public init(_ message: String, at location: QAPISourceLocation, relaxedRule: QAPIRelaxedRule? = nil) {
        self.location = location
        self.message = message
        self.reportedLocation = nil
        self.definition = nil
        self.includedFrom = []
        self.relaxedRule = relaxedRule
    }

    /// A syntax error, which QEMU reports at its line and column.
    static func syntax(_ message: String, at location: QAPISourceLocation) -> QAPIDiagnostic {
        var diagnostic = QAPIDiagnostic(message, at: location)
        diagnostic.reportedLocation = QAPIReportedLocation(
            file: location.file,
            line: location.line,
            column: location.column
        )
        return diagnostic
    }

    public var description: String { "\(location): \(message)" }

    /// The problem as QEMU's generator prints it:
    ///
    ///     In file included from qapi/qapi-schema.json:12:
    ///     qapi/misc.json: In command 'stop':
    ///     qapi/misc.json:40: flag 'gen' may only use false value
    public var qemuDescription: String {
        let reported =
            reportedLocation
            ?? QAPIReportedLocation(file: location.file, line: location.line, column: location.column)
        var lines = includedFrom.map { "In file included from \($0.file):\($0.line):" }
        if let definition { lines.append("\(reported.file): In \(definition):") }
        lines.append("\(reported): \(message)")
        return lines.joined(separator: "\n")
    }
}

/// A place as QEMU reports it: `file:line`, or `file:line:column` for a syntax error.
public struct QAPIReportedLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// The column, for a syntax error; QEMU gives none for the rest.
    public var column: Int?

    public init(file: String, line: Int, column: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { column.map { "\(file):\(line):\($0)" } ?? "\(file):\(line)" }
}
