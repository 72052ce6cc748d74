import QGA
import QMPCore

/// What the guest agent says about its guest, typed, as ``QGAClient/guestInfo()`` gathers it.
///
/// Each part comes from a command of its own. An agent may lack a command (an older release, a
/// Windows build) or block it (`-b`, or `block-rpcs` in its configuration); such a part is `nil`
/// and ``unavailable`` says why, while the other parts are there.
public struct QGAGuestInfo: Sendable {
    /// The parts, each named by the command that reads it.
    public enum Part: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case operatingSystem = "guest-get-osinfo"
        case hostName = "guest-get-host-name"
        case networkInterfaces = "guest-network-get-interfaces"
        case users = "guest-get-users"
        case filesystems = "guest-get-fsinfo"
        case time = "guest-get-time"

        /// The command's name.
        public var description: String { rawValue }
    }

    /// The guest's operating system: kernel, distribution, version.
    public var operatingSystem: GuestOSInfo?
    /// The guest's host name.
    public var hostName: String?
    /// The guest's network interfaces with their hardware and IP addresses.
    public var networkInterfaces: [GuestNetworkInterface]?
    /// The users logged in to the guest.
    public var users: [GuestUser]?
    /// The guest's mounted filesystems with their devices and usage.
    public var filesystems: [GuestFilesystemInfo]?
    /// The guest's clock, in nanoseconds since the Unix epoch.
    public var time: Int64?
    /// Why a part is missing: the agent's error (`CommandNotFound`, a blocked command's
    /// `GenericError`), a time-out, or a reply of a shape the binding does not read.
    public var unavailable: [Part: QMPError]

    public init(
        operatingSystem: GuestOSInfo? = nil,
        hostName: String? = nil,
        networkInterfaces: [GuestNetworkInterface]? = nil,
        users: [GuestUser]? = nil,
        filesystems: [GuestFilesystemInfo]? = nil,
        time: Int64? = nil,
        unavailable: [Part: QMPError] = [:]
    ) {
        self.operatingSystem = operatingSystem
        self.hostName = hostName
        self.networkInterfaces = networkInterfaces
        self.users = users
        self.filesystems = filesystems
        self.time = time
        self.unavailable = unavailable
    }
}

extension QGAClient {
    /// Reads the guest's operating system, host name, network interfaces, users, filesystems
    /// and clock.
    ///
    /// A part whose command the agent lacks, blocks, fails, does not answer in time or answers
    /// in a shape its binding does not read is left out, with the reason in
    /// ``QGAGuestInfo/unavailable``; the others are still read.
    ///
    /// - Throws: `QMPError` only for what ends the whole: the connection closed, the task cancelled.
    public func guestInfo() async throws -> QGAGuestInfo {
        var info = QGAGuestInfo()
        info.operatingSystem = try await part(.operatingSystem, GuestGetOsinfoCommand(), into: &info)
        info.hostName = try await part(.hostName, GuestGetHostNameCommand(), into: &info)?.hostName
        info.networkInterfaces = try await part(.networkInterfaces, GuestNetworkGetInterfacesCommand(), into: &info)
        info.users = try await part(.users, GuestGetUsersCommand(), into: &info)
        info.filesystems = try await part(.filesystems, GuestGetFsinfoCommand(), into: &info)
        info.time = try await part(.time, GuestGetTimeCommand(), into: &info)
        return info
    }

    private func part<Command: QMPCommand>(
        _ part: QGAGuestInfo.Part,
        _ command: Command,
        into info: inout QGAGuestInfo
    ) async throws -> Command.Response? {
        do {
            return try await execute(command)
        } catch let error as QMPError
            where error.code == .commandFailed || error.code == .timeout || error.code == .protocolViolation
        {
            info.unavailable[part] = error
            return nil
        }
    }
}
