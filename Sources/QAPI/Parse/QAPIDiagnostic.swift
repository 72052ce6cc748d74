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
/// Its ``description`` is exactly `file:line:col: message`.
public struct QAPIDiagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is.
    public var location: QAPISourceLocation
    /// What the problem is.
    public var message: String

    /// A problem at `location`.
    public init(_ message: String, at location: QAPISourceLocation) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}
