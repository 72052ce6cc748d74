import Foundation
import QMPClient
import QMPCore
import QMPServer

/// Runs `server` while `body` runs, with the first address it listens on; the server shuts down
/// and its connections close whether `body` returns or throws.
func withRunningServer<Result: Sendable>(
    _ server: QMPServer,
    _ body: (QMPAddress) async throws -> Result
) async throws -> Result {
    try await server.serving { addresses in try await body(addresses[0]) }
}

/// A client of `address` while `body` runs, closed whether `body` returns or throws.
func withClient<Result: Sendable>(
    of address: QMPAddress,
    configuration: QMPClient.Configuration = QMPClient.Configuration(),
    _ body: (QMPClient) async throws -> Result
) async throws -> Result {
    try await QMPClient.withConnection(to: address, configuration: configuration) { client in try await body(client) }
}

/// A private directory for sockets while `body` runs, removed whether it returns or throws.
func withTemporaryDirectory<Result>(
    named prefix: String,
    _ body: (URL) async throws -> Result
) async throws -> Result {
    let name = "\(prefix)-\(UUID().uuidString.prefix(8))"
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

/// A Unix socket path in a private temporary directory that `body` may listen on.
func withSocketPath<Result>(named prefix: String, _ body: (String) async throws -> Result) async throws -> Result {
    try await withTemporaryDirectory(named: prefix) { directory in
        try await body(directory.appendingPathComponent("qmp.sock").path)
    }
}
