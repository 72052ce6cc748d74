import QGA
import QMPCore

/// The agent did not confirm that it thawed the guest's filesystems after
/// ``QGAClient/withFrozenFilesystems(mountpoints:_:)``: the guest may still be frozen, and every
/// program in it that writes to those filesystems hangs until someone thaws them
/// (`guest-fsfreeze-thaw`, or `guest-fsfreeze-status` to see).
public struct QGAThawError: Error, Sendable, CustomStringConvertible {
    /// The agent at fault.
    public var address: QMPAddress
    /// Why the thaw failed.
    public var thawError: any Error
    /// What the body (or the freeze) threw before the thaw, if it threw.
    public var bodyError: (any Error)?

    public init(address: QMPAddress, thawError: any Error, bodyError: (any Error)? = nil) {
        self.address = address
        self.thawError = thawError
        self.bodyError = bodyError
    }

    public var description: String {
        var text =
            "THE GUEST MAY STILL BE FROZEN: the guest agent at \(address) did not thaw its filesystems "
            + "(\(thawError)); run guest-fsfreeze-thaw before anything else in the guest writes to disk"
        if let bodyError { text += "; before the thaw, the frozen section failed: \(bodyError)" }
        return text
    }
}

extension QGAClient {
    /// Freezes the guest's filesystems, runs `body`, and thaws them, whatever happens.
    ///
    /// A freeze flushes the guest's filesystems and holds every write until the thaw: the state
    /// a backup or a disk snapshot taken in `body` should capture. A guest left frozen hangs, so
    /// the thaw is sent and awaited when `body` returns, when it throws, and when the task is
    /// cancelled; the task's cancellation does not cut that wait short (the thaw's time limit
    /// does). When the freeze itself did not come back (a timeout, a cancellation, a garbled
    /// reply), the agent may have frozen anyway, so the client thaws then too.
    ///
    /// - Parameters:
    ///   - mountpoints: the mount points to freeze (`guest-fsfreeze-freeze-list`); `nil` freezes
    ///     every filesystem the agent can (`guest-fsfreeze-freeze`).
    ///   - body: what to do while the filesystems are frozen. Keep it short: the guest's
    ///     programs wait for it.
    /// - Returns: what `body` returned.
    /// - Throws: the agent's error when it refuses the freeze (the command is blocked, a
    ///   filesystem cannot be frozen: the agent thaws what it froze itself); what `body` threw;
    ///   ``QGAThawError``, holding what `body` threw if it did, when the thaw failed.
    public func withFrozenFilesystems<R: Sendable>(
        mountpoints: [String]? = nil,
        _ body: () async throws -> R
    ) async throws -> R {
        do {
            if let mountpoints {
                _ = try await execute(GuestFsfreezeFreezeListCommand(mountpoints: mountpoints))
            } else {
                _ = try await execute(GuestFsfreezeFreezeCommand())
            }
        } catch let error as QMPError where error.code == .commandFailed {
            throw error
        } catch let error as QMPError {
            try await thaw(after: error)
            throw error
        }
        let result: R
        do {
            result = try await body()
        } catch {
            try await thaw(after: error)
            throw error
        }
        try await thaw(after: nil)
        return result
    }

    private func thaw(after earlier: (any Error)?) async throws {
        do {
            _ = try await execute(GuestFsfreezeThawCommand(), timeout: nil, cancellable: false)
        } catch {
            throw QGAThawError(address: address, thawError: error, bodyError: earlier)
        }
    }
}
