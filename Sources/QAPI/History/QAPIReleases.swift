import QMPCore

/// Which schema of a QEMU source tree: the machine protocol's or the guest agent's.
public enum QAPISchemaKind: String, Sendable, Hashable, CaseIterable {
    /// QMP: `qapi/qapi-schema.json`, or `qapi-schema.json` at the top in QEMU ≤ 2.x.
    case qmp
    /// The guest agent: `qga/qapi-schema.json`.
    case guestAgent

    /// The entry file for this kind in the directory at `directory`, or `nil` if it has none.
    public func entryFile(in directory: String) -> String? {
        let candidates =
            switch self {
            case .qmp: ["qapi/qapi-schema.json", "qapi-schema.json"]
            case .guestAgent: ["qga/qapi-schema.json"]
            }
        return candidates.first { SchemaFiles.exists(SchemaFiles.join(directory, $0)) }
    }
}

/// The resolved schema of one QEMU release.
public struct QAPIRelease: Sendable {
    /// The release.
    public var version: QEMUVersion
    /// Its resolved schema.
    public var schema: QAPISchema

    /// A release and its schema.
    public init(version: QEMUVersion, schema: QAPISchema) {
        self.version = version
        self.schema = schema
    }
}

/// Schemas of several QEMU releases, oldest first.
public struct QAPIReleases: Sendable {
    /// The releases, oldest first.
    public var releases: [QAPIRelease]

    /// Sorts `releases` by version.
    public init(_ releases: [QAPIRelease]) {
        self.releases = releases.sorted { $0.version < $1.version }
    }

    /// Their versions, oldest first.
    public var versions: [QEMUVersion] { releases.map(\.version) }
    /// The newest release, if there is any.
    public var newest: QAPIRelease? { releases.last }

    /// The release with `version`.
    public func release(_ version: QEMUVersion) -> QAPIRelease? { releases.first { $0.version == version } }

    /// Loads every subdirectory of the directory at `directory` whose name is a version number
    /// (`1.0`, `2.12.0`, `9.2.0-rc2`, …) and that holds a schema of `kind`.
    /// Subdirectories with other names, or without such a schema, are skipped.
    ///
    /// `strict` holds every release to every rule of QEMU's current generator (see
    /// ``QAPISchema/load(directory:entryFile:parser:strict:)``).
    ///
    /// - Throws: ``QAPIFileError`` when `directory` cannot be read.
    public static func load(
        directory: String,
        kind: QAPISchemaKind = .qmp,
        parser: QAPIParser = QAPIParser(),
        strict: Bool = false
    ) throws -> QAPIReleases {
        let names = try SchemaFiles.names(inDirectory: directory)
        var releases: [QAPIRelease] = []
        for name in names {
            guard let version = QEMUVersion(name) else { continue }
            let releaseDirectory = SchemaFiles.join(directory, name)
            guard let entry = kind.entryFile(in: releaseDirectory) else { continue }
            releases.append(
                QAPIRelease(
                    version: version,
                    schema: QAPISchema.load(
                        directory: releaseDirectory,
                        entryFile: entry,
                        parser: parser,
                        strict: strict
                    )
                )
            )
        }
        return QAPIReleases(releases)
    }
}
