import Foundation
import QMPClient
import QMPCore
import QMPServer
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A Unix socket address holds at most 107 bytes of path (103 on macOS); servers and clients
/// still use sockets at longer paths, without changing the process's working directory.
/// Serialized: each test checks that no short link is left in /tmp, which a link in use by another would upset.
@Suite("Unix sockets at paths longer than a socket address holds", .serialized)
struct LongSocketPathTests {
    /// A directory inside `directory` whose path, with `/qmp.sock`, is over 150 bytes long.
    func deepDirectory(in directory: URL) throws -> String {
        var path = directory.path
        while path.utf8.count < 150 {
            path += "/a-directory-with-a-long-name"
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The entries of `/tmp` that the server's short links live in.
    func linkDirectories() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: "/tmp").filter { $0.hasPrefix("qmp-link-") })
    }

    @Test("a server listens at a path over 107 bytes and a client connects to it there")
    func listenAndConnect() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-long") { directory in
            let path = try deepDirectory(in: directory) + "/qmp.sock"
            #expect(path.utf8.count > 150)
            let linksBefore = try linkDirectories()
            let workingDirectory = FileManager.default.currentDirectoryPath
            var commands = QMPCommandTable()
            commands.registerImmediate("query-status") { _ in ["status": "running"] }
            let server = QMPServer(
                configuration: .init(
                    greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0)),
                    commands: commands,
                    addresses: [.unixSocket(path: path)]
                )
            )
            try await withRunningServer(server) { address in
                #expect(address == .unixSocket(path: path))
                var info = stat()
                #expect(lstat(path, &info) == 0)
                #expect(info.st_mode & S_IFMT == S_IFSOCK)
                #expect(info.st_mode & 0o777 == 0o600)
                try await withClient(of: .unixSocket(path: path)) { client in
                    let status = try await client.execute("query-status")
                    #expect(status == ["status": "running"])
                }
            }
            #expect(FileManager.default.currentDirectoryPath == workingDirectory)
            #expect(try linkDirectories().subtracting(linksBefore).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test("the recording proxy listens at a path over 107 bytes and reaches an upstream at one")
    func recordingProxy() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-long") { directory in
            let deep = try deepDirectory(in: directory)
            let linksBefore = try linkDirectories()
            var commands = QMPCommandTable()
            commands.registerImmediate("query-status") { _ in ["status": "running"] }
            let upstream = QMPServer(
                configuration: .init(
                    greeting: QMPGreeting(version: QEMUVersion(major: 7, minor: 2, micro: 0)),
                    commands: commands,
                    addresses: [.unixSocket(path: deep + "/qemu.sock")]
                )
            )
            try await withRunningServer(upstream) { upstreamAddress in
                let proxy = try QMPRecordingProxy(upstream: upstreamAddress, outputPath: directory.path + "/t.jsonl")
                do {
                    let front = try await proxy.listen(on: .unixSocket(path: deep + "/front.sock"))
                    try await withClient(of: front) { client in
                        let status = try await client.execute("query-status")
                        #expect(status == ["status": "running"])
                    }
                } catch {
                    await proxy.shutdown()
                    throw error
                }
                await proxy.shutdown()
            }
            #expect(try linkDirectories().subtracting(linksBefore).isEmpty)
        }
    }

    @Test("a socket whose own name is too long for an address fails with an error that names the limit")
    func nameTooLong() async throws {
        try await withTemporaryDirectory(named: "swift-qmp-long") { directory in
            let path = directory.path + "/" + String(repeating: "n", count: 120) + ".sock"
            let error = await #expect(throws: QMPError.self) {
                try await QMPClient.withConnection(to: .unixSocket(path: path)) { _ in }
            }
            #expect(error?.code == .connectionFailed)
            #expect(error?.description.contains("sun_path holds 107 bytes") == true)
        }
    }
}
