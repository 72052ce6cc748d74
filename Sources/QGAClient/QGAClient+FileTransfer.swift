import NIOCore
import NIOPosix
import QGA
import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Copying files between the host and the guest through the agent's file commands:
/// ``QGAClient/copyToGuest(from:to:options:progress:)`` and
/// ``QGAClient/copyFromGuest(from:to:options:progress:)``.
///
/// The agent moves file contents as base64 inside JSON, a chunk per command. Every hop between
/// the client and the agent has a limit a chunk must stay under: qemu-ga reads at most
/// ``agentReadLimit`` bytes at once, and libvirt (and clients modelled on it) refuse an agent
/// reply over ``replySizeLimit`` bytes, which a chunk's base64 inflates by a third. So a chunk
/// is at most ``maximumChunkSize`` raw bytes, whatever the client's own reply limit allows.
public enum QGAFileTransfer {
    /// The reply size libvirt accepts from an agent; it disables the agent of a domain whose
    /// agent sent more. A chunk must fit, base64 encoded, in a reply this size.
    public static let replySizeLimit = 10 * 1024 * 1024
    /// The most qemu-ga reads from a file with one `guest-file-read`.
    public static let agentReadLimit = 48 * 1024 * 1024
    /// Room for the JSON around a chunk's base64 in a reply.
    static let replyOverhead = 1024
    /// The largest chunk whose reply stays under ``replySizeLimit`` (and so under
    /// ``agentReadLimit``).
    public static let maximumChunkSize = (replySizeLimit - replyOverhead) / 4 * 3

    /// How to copy.
    public struct Options: Sendable, Hashable {
        /// Raw bytes per command, at most ``QGAFileTransfer/maximumChunkSize``. Larger chunks
        /// mean fewer round trips, smaller ones finer progress and less lost on an interruption.
        public var chunkSize: Int
        /// Where to pick up an interrupted copy: the destination keeps its first `resumeFrom`
        /// bytes (a guest file is opened without truncating it, a local one is cut to that
        /// length) and the copy goes on from there in both files. The last
        /// ``Progress/bytesTransferred`` an interrupted copy reported is always safe.
        public var resumeFrom: Int64?
        /// Whether to compare the SHA-256 of the whole file on both sides at the end. The
        /// guest's side is read back through `guest-file-read`, which moves the file once more
        /// over the channel (see ``QGAClient/copyToGuest(from:to:options:progress:)``).
        public var verifiesChecksum: Bool

        /// Options of your own; by default 4 MiB chunks, from the start, with the checksum check.
        public init(chunkSize: Int = 4 * 1024 * 1024, resumeFrom: Int64? = nil, verifiesChecksum: Bool = true) {
            self.chunkSize = chunkSize
            self.resumeFrom = resumeFrom
            self.verifiesChecksum = verifiesChecksum
        }
    }

    /// How far a copy is, reported after every chunk.
    public struct Progress: Sendable, Hashable {
        /// The bytes of the file the destination holds so far, a resumed copy's first part
        /// included: the ``Options/resumeFrom`` for another attempt should this one fail.
        public var bytesTransferred: Int64
        /// The size of the file, when known.
        public var totalBytes: Int64?

        public init(bytesTransferred: Int64, totalBytes: Int64?) {
            self.bytesTransferred = bytesTransferred
            self.totalBytes = totalBytes
        }
    }

    /// A finished copy.
    public struct Result: Sendable, Hashable {
        /// The bytes this call moved: the file's size less ``resumedFrom``.
        public var bytesTransferred: Int64
        /// The size of the file.
        public var totalBytes: Int64
        /// The SHA-256 of the whole source file, in lowercase hexadecimal as `sha256sum` writes it;
        /// `nil` when the copy was not checked (hashing is most of a copy's own CPU time).
        public var sha256: String?
        /// Whether the destination was read back and had the same SHA-256.
        public var checksumVerified: Bool
        /// Where this call began: ``Options/resumeFrom``, or 0.
        public var resumedFrom: Int64

        public init(
            bytesTransferred: Int64,
            totalBytes: Int64,
            sha256: String?,
            checksumVerified: Bool,
            resumedFrom: Int64
        ) {
            self.bytesTransferred = bytesTransferred
            self.totalBytes = totalBytes
            self.sha256 = sha256
            self.checksumVerified = checksumVerified
            self.resumedFrom = resumedFrom
        }
    }
}

/// Why a copy between the host and the guest failed, when it is not an error of the agent or
/// of the connection (those are `QMPError`s).
public enum QGAFileTransferError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The chunk size is not in `1...maximum`.
    case invalidChunkSize(Int, maximum: Int)
    /// The copy cannot resume from `offset`: one file is too short or the destination too long.
    case cannotResume(offset: Int64, reason: String)
    /// The agent wrote fewer bytes of a chunk than it was given.
    case shortWrite(path: String, offset: Int64, written: Int64, expected: Int64)
    /// The destination does not have the source's content.
    case checksumMismatch(path: String, source: String, destination: String)

    public var description: String {
        switch self {
        case .invalidChunkSize(let size, let maximum):
            "the chunk size \(size) is outside 1...\(maximum): a chunk travels base64 encoded (a third larger) "
                + "in one reply, which must stay under the \(QGAFileTransfer.replySizeLimit) bytes libvirt "
                + "accepts from an agent, under the client's maximumReplySize, and under the "
                + "\(QGAFileTransfer.agentReadLimit) bytes qemu-ga reads at once"
        case .cannotResume(let offset, let reason):
            "cannot resume the copy at byte \(offset): \(reason)"
        case .shortWrite(let path, let offset, let written, let expected):
            "the agent wrote \(written) of \(expected) bytes to \(path) at byte \(offset)"
        case .checksumMismatch(let path, let source, let destination):
            "\(path) does not have the content copied: SHA-256 \(destination), the source's is \(source)"
        }
    }
}

extension QGAClient {
    /// Copies the local file at `localPath` to `guestPath` in the guest, in chunks, and checks
    /// that the guest's file has the same SHA-256.
    ///
    /// The guest file is created or, unless resuming, truncated. The agent's file handle is
    /// closed whatever happens, also when the task is cancelled.
    ///
    /// The guest's checksum comes from reading the guest file back with `guest-file-read`. Running
    /// `sha256sum` in the guest with `guest-exec` would spare moving the file a second time, but
    /// needs `guest-exec` enabled (agents are often configured to block it while allowing file
    /// access), a `sha256sum` in the guest (Windows has none), and trusts a program's output;
    /// reading back needs only the commands the copy itself uses and works on every guest.
    /// Switch it off with ``QGAFileTransfer/Options/verifiesChecksum`` when the extra pass costs
    /// too much.
    ///
    /// - Parameters:
    ///   - localPath: the file to copy, on this host.
    ///   - guestPath: where to put it in the guest, as the agent's process sees paths.
    ///   - options: chunk size, where to resume, whether to check the result.
    ///   - progress: called after each chunk, on the calling task.
    /// - Throws: ``QGAFileTransferError`` (a chunk size out of range, before anything happens; a
    ///   resume that does not fit the files; a checksum mismatch); the agent's `QMPError`s; the
    ///   local file system's errors. After a failure, ``QGAFileTransfer/Options/resumeFrom`` set
    ///   to the last progress reported picks the copy up.
    public func copyToGuest(
        from localPath: String,
        to guestPath: String,
        options: QGAFileTransfer.Options = .init(),
        progress: (@Sendable (QGAFileTransfer.Progress) -> Void)? = nil
    ) async throws -> QGAFileTransfer.Result {
        try validate(options)
        let chunkSize = options.chunkSize
        let offset = options.resumeFrom ?? 0
        let io = NonBlockingFileIO(threadPool: .singleton)
        let (size, sourceHash) = try await io.withFileHandle(_deprecatedPath: localPath, mode: .read) {
            local -> (Int64, String?) in
            let size = try await io.readFileSize(fileHandle: local)
            guard (0...size).contains(offset) else {
                throw QGAFileTransferError.cannotResume(
                    offset: offset,
                    reason: "\(localPath) has \(size) bytes"
                )
            }
            var hasher: SHA256? = nil
            if options.verifiesChecksum {
                var prefix = SHA256()
                try await Self.hashLocal(local, upTo: offset, chunkSize: chunkSize, io: io, into: &prefix)
                hasher = prefix
            }
            var position = offset
            try await withGuestFile(guestPath, mode: offset > 0 ? "r+b" : "wb") { handle in
                if offset > 0 {
                    let guestSize = try await seek(handle, to: 0, from: .end)
                    guard guestSize >= offset, guestSize <= size else {
                        throw QGAFileTransferError.cannotResume(
                            offset: offset,
                            reason: "the guest's \(guestPath) has \(guestSize) bytes, the local file \(size)"
                        )
                    }
                    _ = try await seek(handle, to: offset, from: .set)
                }
                while position < size {
                    let count = Int(min(Int64(chunkSize), size - position))
                    let chunk = try await io.read(
                        fileHandle: local,
                        fromOffset: position,
                        byteCount: count,
                        allocator: ByteBufferAllocator()
                    )
                    guard chunk.readableBytes > 0 else { break }
                    if hasher != nil { chunk.withUnsafeReadableBytes { hasher?.update($0) } }
                    let written = try await execute(
                        GuestFileWriteCommand(
                            handle: handle,
                            bufB64: Base64.encode(chunk.readableBytesView),
                            count: Int64(chunk.readableBytes)
                        )
                    )
                    guard written.count == Int64(chunk.readableBytes) else {
                        throw QGAFileTransferError.shortWrite(
                            path: guestPath,
                            offset: position,
                            written: written.count,
                            expected: Int64(chunk.readableBytes)
                        )
                    }
                    position += written.count
                    progress?(QGAFileTransfer.Progress(bytesTransferred: position, totalBytes: size))
                }
            }
            return (position, hasher?.finalizeHex())
        }
        if let sourceHash {
            let guestHash = try await hashGuestFile(guestPath, chunkSize: chunkSize)
            guard guestHash == sourceHash else {
                throw QGAFileTransferError.checksumMismatch(path: guestPath, source: sourceHash, destination: guestHash)
            }
        }
        return QGAFileTransfer.Result(
            bytesTransferred: size - offset,
            totalBytes: size,
            sha256: sourceHash,
            checksumVerified: options.verifiesChecksum,
            resumedFrom: offset
        )
    }

    /// Copies `guestPath` in the guest to the local file at `localPath`, in chunks, and checks
    /// that the local file has the same SHA-256 as the guest's.
    ///
    /// The local file is created or, unless resuming, truncated; when resuming it is cut to
    /// ``QGAFileTransfer/Options/resumeFrom`` bytes and the rest appended. The guest's checksum
    /// is that of the bytes the agent sent; when resuming, the guest file's first part is read
    /// once more for it. The local file is read back from disk for its own checksum. With the
    /// check off nothing is hashed.
    /// The agent's file handle is closed whatever happens, also when the task is cancelled.
    ///
    /// - Parameters:
    ///   - guestPath: the file to copy, as the agent's process sees paths.
    ///   - localPath: where to put it on this host.
    ///   - options: chunk size, where to resume, whether to check the result.
    ///   - progress: called after each chunk, on the calling task.
    /// - Throws: as ``copyToGuest(from:to:options:progress:)``.
    public func copyFromGuest(
        from guestPath: String,
        to localPath: String,
        options: QGAFileTransfer.Options = .init(),
        progress: (@Sendable (QGAFileTransfer.Progress) -> Void)? = nil
    ) async throws -> QGAFileTransfer.Result {
        try validate(options)
        let chunkSize = options.chunkSize
        let offset = options.resumeFrom ?? 0
        let io = NonBlockingFileIO(threadPool: .singleton)
        let flags = NIOFileHandle.Flags.posix(
            flags: O_CREAT,
            mode: S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH
        )
        var hasher: SHA256? = options.verifiesChecksum ? SHA256() : nil
        // The guest file first: a local file is cut only once there is something to copy.
        let size = try await withGuestFile(guestPath, mode: "rb") { handle -> Int64 in
            let guestSize = try await seek(handle, to: 0, from: .end)
            guard guestSize >= offset else {
                throw QGAFileTransferError.cannotResume(
                    offset: offset,
                    reason: "the guest's \(guestPath) has \(guestSize) bytes"
                )
            }
            _ = try await seek(handle, to: 0, from: .set)
            return try await io.withFileHandle(_deprecatedPath: localPath, mode: .write, flags: flags) { local in
                let localSize = try await io.readFileSize(fileHandle: local)
                guard localSize >= offset else {
                    throw QGAFileTransferError.cannotResume(
                        offset: offset,
                        reason: "\(localPath) has \(localSize) bytes"
                    )
                }
                try await io.changeFileSize(fileHandle: local, size: offset)
                if offset > 0 {
                    if var prefix = hasher {
                        try await hashGuest(handle, path: guestPath, upTo: offset, chunkSize: chunkSize, into: &prefix)
                        hasher = prefix
                    }
                    _ = try await seek(handle, to: offset, from: .set)
                }
                var position = offset
                while true {
                    let read = try await execute(GuestFileReadCommand(handle: handle, count: Int64(chunkSize)))
                    guard let bytes = Base64.decode(read.bufB64) else {
                        throw QMPError(
                            code: .protocolViolation,
                            message: "the agent's buf-b64 for \(guestPath) at byte \(position) is not base64",
                            command: GuestFileReadCommand.name
                        )
                    }
                    if !bytes.isEmpty {
                        hasher?.update(bytes)
                        try await io.write(fileHandle: local, toOffset: position, buffer: ByteBuffer(bytes: bytes))
                        position += Int64(bytes.count)
                        progress?(
                            QGAFileTransfer.Progress(bytesTransferred: position, totalBytes: max(guestSize, position))
                        )
                    }
                    if read.eof || bytes.isEmpty { break }
                }
                return position
            }
        }
        let sourceHash = hasher?.finalizeHex()
        if let sourceHash {
            let localHash = try await io.withFileHandle(_deprecatedPath: localPath, mode: .read) { local in
                var hasher = SHA256()
                try await Self.hashLocal(local, upTo: nil, chunkSize: chunkSize, io: io, into: &hasher)
                return hasher.finalizeHex()
            }
            guard localHash == sourceHash else {
                throw QGAFileTransferError.checksumMismatch(path: localPath, source: sourceHash, destination: localHash)
            }
        }
        return QGAFileTransfer.Result(
            bytesTransferred: size - offset,
            totalBytes: size,
            sha256: sourceHash,
            checksumVerified: options.verifiesChecksum,
            resumedFrom: offset
        )
    }

    /// The SHA-256 of the guest file at `path`, read through the agent.
    func hashGuestFile(_ path: String, chunkSize: Int) async throws -> String {
        var hasher = SHA256()
        try await withGuestFile(path, mode: "rb") { handle in
            try await hashGuest(handle, path: path, upTo: nil, chunkSize: chunkSize, into: &hasher)
        }
        return hasher.finalizeHex()
    }

    private func validate(_ options: QGAFileTransfer.Options) throws {
        let clientLimit = (configuration.maximumReplySize - QGAFileTransfer.replyOverhead) / 4 * 3
        let maximum = min(QGAFileTransfer.maximumChunkSize, clientLimit)
        guard (1...max(1, maximum)).contains(options.chunkSize) else {
            throw QGAFileTransferError.invalidChunkSize(options.chunkSize, maximum: maximum)
        }
        if let offset = options.resumeFrom, offset < 0 {
            throw QGAFileTransferError.cannotResume(offset: offset, reason: "an offset cannot be negative")
        }
    }

    /// Opens `path` in the guest, runs `body` with the handle, and closes the handle whatever
    /// happens: an agent keeps a handle open until told, and has a limit on how many it keeps.
    private func withGuestFile<Result>(
        _ path: String,
        mode: String,
        _ body: (Int64) async throws -> Result
    ) async throws -> Result {
        let handle = try await execute(GuestFileOpenCommand(path: path, mode: mode))
        let result: Result
        do {
            result = try await body(handle)
        } catch {
            _ = try? await execute(GuestFileCloseCommand(handle: handle), timeout: nil, cancellable: false)
            throw error
        }
        // Closing flushes what the agent buffered: its failure is the copy's.
        _ = try await execute(GuestFileCloseCommand(handle: handle), timeout: nil, cancellable: false)
        return result
    }

    /// Moves the guest file's position; returns the new one.
    private func seek(_ handle: Int64, to offset: Int64, from whence: QGASeek) async throws -> Int64 {
        try await execute(GuestFileSeekCommand(handle: handle, offset: offset, whence: .name(whence))).position
    }

    /// Hashes the guest file from its current position up to `end` bytes, or to its end.
    private func hashGuest(
        _ handle: Int64,
        path: String,
        upTo end: Int64?,
        chunkSize: Int,
        into hasher: inout SHA256
    ) async throws {
        var position: Int64 = 0
        while end.map({ position < $0 }) ?? true {
            let count = end.map { min(Int64(chunkSize), $0 - position) } ?? Int64(chunkSize)
            let read = try await execute(GuestFileReadCommand(handle: handle, count: count))
            guard let bytes = Base64.decode(read.bufB64) else {
                throw QMPError(
                    code: .protocolViolation,
                    message: "the agent's buf-b64 for \(path) at byte \(position) is not base64",
                    command: GuestFileReadCommand.name
                )
            }
            hasher.update(bytes)
            position += Int64(bytes.count)
            if read.eof || bytes.isEmpty { break }
        }
        if let end, position < end {
            throw QGAFileTransferError.cannotResume(offset: end, reason: "the guest's \(path) has \(position) bytes")
        }
    }

    /// Hashes the local file from its start up to `end` bytes, or to its end.
    private static func hashLocal(
        _ handle: NIOFileHandle,
        upTo end: Int64?,
        chunkSize: Int,
        io: NonBlockingFileIO,
        into hasher: inout SHA256
    ) async throws {
        var position: Int64 = 0
        while end.map({ position < $0 }) ?? true {
            let count = end.map { Int(min(Int64(chunkSize), $0 - position)) } ?? chunkSize
            let chunk = try await io.read(
                fileHandle: handle,
                fromOffset: position,
                byteCount: count,
                allocator: ByteBufferAllocator()
            )
            if chunk.readableBytes == 0 { break }
            chunk.withUnsafeReadableBytes { hasher.update($0) }
            position += Int64(chunk.readableBytes)
        }
    }
}
