import Foundation
import NIOConcurrencyHelpers
import QGAClient
import QMPCore
import Testing

/// Copying files through the agent in chunks, with progress, resumption and a checksum check.
/// The real agent runs on this host, so "the guest's" files are files here, in its private
/// directory, and the test can look at both sides.
@Suite("Copying files to and from the guest")
struct FileTransferTests {
    /// 64 KiB chunks of a file of a few MiB: many chunks, quickly.
    static let chunkSize = 64 * 1024
    static let contents = pseudoRandomBytes(count: 3 * 1024 * 1024 + 12345)

    /// Every progress report, in order.
    final class ProgressLog: Sendable {
        private let reports = NIOLockedValueBox<[QGAFileTransfer.Progress]>([])
        var all: [QGAFileTransfer.Progress] { reports.withLockedValue { $0 } }
        func record(_ progress: QGAFileTransfer.Progress) { reports.withLockedValue { $0.append(progress) } }
    }

    @Test("a file of many chunks goes to the guest and back unchanged, checked by SHA-256 on both sides")
    func roundTrip() async throws {
        let local = try TemporaryDirectory()
        let source = local.url.appendingPathComponent("source")
        let back = local.url.appendingPathComponent("back")
        try Data(Self.contents).write(to: source)
        let expectedHash = try sha256sum(source.path)
        try await RealGuestAgent.with { agent in
            let guestPath = agent.directory.appendingPathComponent("copied").path
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let options = QGAFileTransfer.Options(chunkSize: Self.chunkSize)
                let log = ProgressLog()
                let sent = try await client.copyToGuest(
                    from: source.path,
                    to: guestPath,
                    options: options,
                    progress: log.record
                )
                #expect(sent.bytesTransferred == Int64(Self.contents.count))
                #expect(sent.totalBytes == Int64(Self.contents.count))
                #expect(sent.sha256 == expectedHash)
                #expect(sent.checksumVerified)
                #expect(try Data(contentsOf: URL(fileURLWithPath: guestPath)) == Data(Self.contents))
                // A report per chunk, growing to the whole file.
                let reports = log.all
                #expect(reports.count == (Self.contents.count + Self.chunkSize - 1) / Self.chunkSize)
                #expect(reports.map(\.bytesTransferred) == reports.map(\.bytesTransferred).sorted())
                #expect(
                    reports.last
                        == QGAFileTransfer.Progress(
                            bytesTransferred: Int64(Self.contents.count),
                            totalBytes: Int64(Self.contents.count)
                        )
                )

                let received = try await client.copyFromGuest(from: guestPath, to: back.path, options: options)
                #expect(received.bytesTransferred == Int64(Self.contents.count))
                #expect(received.sha256 == expectedHash)
                #expect(received.checksumVerified)
                #expect(try Data(contentsOf: back) == Data(Self.contents))

                // Unchecked copies hash nothing, and say so.
                let unchecked = QGAFileTransfer.Options(chunkSize: Self.chunkSize, verifiesChecksum: false)
                try FileManager.default.removeItem(at: back)
                let quick = try await client.copyFromGuest(from: guestPath, to: back.path, options: unchecked)
                #expect(quick.sha256 == nil && !quick.checksumVerified)
                #expect(try Data(contentsOf: back) == Data(Self.contents))
                let quickOut = try await client.copyToGuest(from: source.path, to: guestPath, options: unchecked)
                #expect(quickOut.sha256 == nil && !quickOut.checksumVerified)
            }
        }
    }

    @Test("an empty file is copied both ways, with the SHA-256 of nothing")
    func emptyFile() async throws {
        let local = try TemporaryDirectory()
        let source = local.url.appendingPathComponent("empty")
        let back = local.url.appendingPathComponent("back")
        try Data().write(to: source)
        try await RealGuestAgent.with { agent in
            let guestPath = agent.directory.appendingPathComponent("empty").path
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let sent = try await client.copyToGuest(from: source.path, to: guestPath)
                let received = try await client.copyFromGuest(from: guestPath, to: back.path)
                for result in [sent, received] {
                    #expect(result.totalBytes == 0 && result.bytesTransferred == 0)
                    #expect(result.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                    #expect(result.checksumVerified)
                }
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: guestPath)).isEmpty)
            #expect(try Data(contentsOf: back).isEmpty)
        }
    }

    @Test("a copy to the guest cancelled midway resumes from the offset reached and completes")
    func resumeToGuest() async throws {
        let local = try TemporaryDirectory()
        let source = local.url.appendingPathComponent("source")
        try Data(Self.contents).write(to: source)
        try await RealGuestAgent.with { agent in
            let guestPath = agent.directory.appendingPathComponent("resumed").path
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let log = ProgressLog()
                // A task of its own, so that cancelling it does not cancel the test.
                let copy = Task {
                    try await client.copyToGuest(
                        from: source.path,
                        to: guestPath,
                        options: QGAFileTransfer.Options(chunkSize: Self.chunkSize),
                        progress: { progress in
                            log.record(progress)
                            // Cancels the copy's own task, as a caller giving up would.
                            if progress.bytesTransferred >= 1024 * 1024 { withUnsafeCurrentTask { $0?.cancel() } }
                        }
                    )
                }
                await #expect(throws: (any Error).self) { try await copy.value }
                let reached = try #require(log.all.last).bytesTransferred
                #expect(reached >= 1024 * 1024 && reached < Int64(Self.contents.count))
                let partial = try Data(contentsOf: URL(fileURLWithPath: guestPath))
                #expect(partial.count >= reached && partial.count < Self.contents.count)

                let resumed = try await client.copyToGuest(
                    from: source.path,
                    to: guestPath,
                    options: QGAFileTransfer.Options(chunkSize: Self.chunkSize, resumeFrom: reached)
                )
                #expect(resumed.resumedFrom == reached)
                #expect(resumed.bytesTransferred == Int64(Self.contents.count) - reached)
                #expect(resumed.checksumVerified)
                #expect(resumed.sha256 == (try sha256sum(source.path)))
                #expect(try Data(contentsOf: URL(fileURLWithPath: guestPath)) == Data(Self.contents))
            }
        }
    }

    @Test("a copy from the guest cancelled midway resumes from the offset reached and completes")
    func resumeFromGuest() async throws {
        let local = try TemporaryDirectory()
        let destination = local.url.appendingPathComponent("destination")
        try await RealGuestAgent.with { agent in
            let guestFile = agent.directory.appendingPathComponent("original")
            try Data(Self.contents).write(to: guestFile)
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let log = ProgressLog()
                let copy = Task {
                    try await client.copyFromGuest(
                        from: guestFile.path,
                        to: destination.path,
                        options: QGAFileTransfer.Options(chunkSize: Self.chunkSize),
                        progress: { progress in
                            log.record(progress)
                            if progress.bytesTransferred >= 1024 * 1024 { withUnsafeCurrentTask { $0?.cancel() } }
                        }
                    )
                }
                await #expect(throws: (any Error).self) { try await copy.value }
                let reached = try #require(log.all.last).bytesTransferred
                #expect(reached >= 1024 * 1024 && reached < Int64(Self.contents.count))
                #expect(try Data(contentsOf: destination).count == reached)

                let resumed = try await client.copyFromGuest(
                    from: guestFile.path,
                    to: destination.path,
                    options: QGAFileTransfer.Options(chunkSize: Self.chunkSize, resumeFrom: reached)
                )
                #expect(resumed.resumedFrom == reached)
                #expect(resumed.bytesTransferred == Int64(Self.contents.count) - reached)
                #expect(resumed.checksumVerified)
                #expect(resumed.sha256 == (try sha256sum(guestFile.path)))
            }
            #expect(try Data(contentsOf: destination) == Data(Self.contents))
        }
    }

    @Test("a destination that differs from the source after a bad resume fails the checksum check")
    func checksumMismatch() async throws {
        let local = try TemporaryDirectory()
        let source = local.url.appendingPathComponent("source")
        try Data(Self.contents).write(to: source)
        let expectedHash = try sha256sum(source.path)
        try await RealGuestAgent.with { agent in
            // The guest already has a file of the right length whose first part is not the source's.
            let guestFile = agent.directory.appendingPathComponent("stale")
            try Data(repeating: 0x55, count: 100_000).write(to: guestFile)
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let error = await #expect(throws: QGAFileTransferError.self) {
                    try await client.copyToGuest(
                        from: source.path,
                        to: guestFile.path,
                        options: QGAFileTransfer.Options(chunkSize: Self.chunkSize, resumeFrom: 100_000)
                    )
                }
                guard case .checksumMismatch(let path, let sourceHash, _) = error else {
                    Issue.record("expected checksumMismatch, got \(String(describing: error))")
                    return
                }
                #expect(path == guestFile.path)
                #expect(sourceHash == expectedHash)
            }
        }
    }

    @Test("a copy from a guest file that does not exist fails with the agent's error and leaves the local file alone")
    func missingGuestFile() async throws {
        let local = try TemporaryDirectory()
        let destination = local.url.appendingPathComponent("precious")
        try Data("keep me".utf8).write(to: destination)
        try await RealGuestAgent.with { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let error = await #expect(throws: QMPError.self) {
                    try await client.copyFromGuest(
                        from: agent.directory.appendingPathComponent("missing").path,
                        to: destination.path
                    )
                }
                #expect(error?.command == "guest-file-open")
            }
        }
        #expect(try Data(contentsOf: destination) == Data("keep me".utf8))
    }

    @Test("a chunk size over what every hop carries is refused before anything is sent, naming the limits")
    func chunkSizeLimits() async throws {
        try await FakeAgent.with(answering: { _, _ in .nothing }) { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                for size in [0, QGAFileTransfer.maximumChunkSize + 1, 48 * 1024 * 1024] {
                    let error = await #expect(throws: QGAFileTransferError.self) {
                        try await client.copyFromGuest(
                            from: "/etc/hostname",
                            to: "/nonexistent/never-written",
                            options: QGAFileTransfer.Options(chunkSize: size)
                        )
                    }
                    #expect(error == .invalidChunkSize(size, maximum: QGAFileTransfer.maximumChunkSize))
                    #expect(error?.description.contains("10485760") == true)
                    #expect(error?.description.contains("50331648") == true)
                }
            }
            #expect(agent.commands.isEmpty)
        }
        // Under libvirt's 10 MiB reply cap once base64 encoded.
        #expect(QGAFileTransfer.maximumChunkSize / 3 * 4 < QGAFileTransfer.replySizeLimit)
    }

    @Test("the guest's file handle is closed when the copy is cancelled")
    func handleClosedOnCancellation() async throws {
        let local = try TemporaryDirectory()
        let source = local.url.appendingPathComponent("source")
        try Data(repeating: 1, count: 3 * 1024).write(to: source)
        try await FakeAgent.with(answering: { name, _ in
            switch name {
            case "guest-file-open": .reply(["return": 7])
            case "guest-file-write": .reply(["return": ["count": 1024, "eof": false]])
            default: .reply(["return": [:]])
            }
        }) { agent in
            try await QGAClient.withConnection(to: .unixSocket(path: agent.socketPath)) { client in
                let copy = Task {
                    try await client.copyToGuest(
                        from: source.path,
                        to: "/guest/file",
                        options: QGAFileTransfer.Options(chunkSize: 1024),
                        progress: { _ in withUnsafeCurrentTask { $0?.cancel() } }
                    )
                }
                _ = await #expect(throws: (any Error).self) { try await copy.value }
            }
            let commands = agent.commands.filter { $0 != "guest-sync-delimited" }
            #expect(commands == ["guest-file-open", "guest-file-write", "guest-file-close"])
        }
    }
}
