import Foundation
import QAPI
import QMPCore
import SharedTestData
import Testing

/// Where the test data lives: `../shared` next to the package root.
enum TestData {
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        // Tests/QAPITests/Support.swift -> package root
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    static let sharedDirectory = URL(fileURLWithPath: SharedTestData.directory)
    static let schemasDirectory = sharedDirectory.appendingPathComponent("qapi-schemas")
    static let introspectionFile = sharedDirectory.appendingPathComponent("reference/qemu-7.2-schema.json")

    static var schemasDirectoryExists: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: schemasDirectory.path, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }
}

/// Every release's schema, loaded once for all tests.
enum SchemaCache {
    /// The QMP schemas of all releases in ../shared/qapi-schemas, or `nil` if the directory is missing.
    static let qmp: QAPIReleases? =
        TestData.schemasDirectoryExists
        ? try? QAPIReleases.load(directory: TestData.schemasDirectory.path, kind: .qmp) : nil

    /// The guest agent schemas of the releases that have one.
    static let guestAgent: QAPIReleases? =
        TestData.schemasDirectoryExists
        ? try? QAPIReleases.load(directory: TestData.schemasDirectory.path, kind: .guestAgent) : nil

    static let availability: QAPIAvailability? = qmp.map { $0.availability() }

    static var missingMessage: Comment {
        TestData.schemasDirectoryExists
            ? "the QAPI schemas in \(TestData.schemasDirectory.path) could not be loaded"
            : "\(MissingSharedData(relativePath: "qapi-schemas"))"
    }

    static func releases() throws -> QAPIReleases {
        if !TestData.schemasDirectoryExists { throw MissingSharedData(relativePath: "qapi-schemas") }
        return try #require(SchemaCache.qmp, missingMessage)
    }

    static func schema(_ version: String) throws -> QAPISchema {
        let releases = try releases()
        let parsed = try #require(QEMUVersion(version))
        let release = try #require(releases.release(parsed), "no release \(version)")
        return release.schema
    }

    static func history() throws -> QAPIAvailability {
        if !TestData.schemasDirectoryExists { throw MissingSharedData(relativePath: "qapi-schemas") }
        return try #require(SchemaCache.availability, missingMessage)
    }
}

/// The diagnostics of a schema given as in-memory files, as `file:line:col: message` strings.
func diagnostics(
    of files: [String: String],
    entry: String = "schema.json",
    parser: QAPIParser = QAPIParser()
) -> [String] {
    QAPISchema.load(files: files, entryFile: entry, parser: parser).diagnostics.map(\.description)
}
