import QMPCore

/// A virtio-serial port as QEMU's command line makes it:
/// `-device virtserialport,id=DEVICE,chardev=CHARDEV,name=org.qemu.guest_agent.0`, the guest
/// agent's channel among others.
///
/// QEMU tells whether the guest has opened the port in two places: `query-chardev` reports the
/// port's chardev with `frontend-open`, and the `VSERPORT_CHANGE` event names the port's device
/// id when the guest opens or closes it. QEMU sends no event for a device without an id.
public struct QMPVirtioSerialPort: Sendable, Hashable, CustomStringConvertible {
    /// The id of the chardev behind the port (`chardev=`).
    public var chardev: String
    /// The port device's id (`id=`), which `VSERPORT_CHANGE` names; `nil` for a device without
    /// one, which is then only watched through `query-chardev`.
    public var deviceID: String?

    public init(chardev: String, deviceID: String? = nil) {
        self.chardev = chardev
        self.deviceID = deviceID
    }

    public var description: String {
        "the virtio-serial port on chardev \(chardev)" + (deviceID.map { " (device \($0))" } ?? "")
    }
}

extension QMPClient {
    /// Whether the guest has `port` open now (`query-chardev`'s `frontend-open` of its chardev):
    /// for the guest agent's port, whether an agent in the guest is there to answer.
    ///
    /// - Throws: `QMPError`: `invalidArguments` when QEMU has no chardev of that id;
    ///   `unsupported` when QEMU does not report `frontend-open` (QEMU before 2.1); the errors
    ///   of ``execute(_:arguments:passing:timeout:)``.
    public func isGuestConnected(to port: QMPVirtioSerialPort) async throws -> Bool {
        let reply = try await execute("query-chardev")
        guard let chardev = reply.arrayValue?.first(where: { $0["label"]?.stringValue == port.chardev }) else {
            throw QMPError(
                code: .invalidArguments,
                message: "QEMU has no chardev '\(port.chardev)' (query-chardev lists none of that id)",
                command: "query-chardev"
            )
        }
        guard let open = chardev["frontend-open"]?.boolValue else {
            throw QMPError(
                code: .unsupported,
                message: "this QEMU does not say whether a chardev's frontend is open (frontend-open came in 2.1)",
                command: "query-chardev"
            )
        }
        return open
    }

    /// Returns once the guest has `port` open, waiting at most `timeout`: how a caller waits for
    /// the guest agent to come up before talking to it.
    ///
    /// The wait subscribes to `VSERPORT_CHANGE` before it reads the port's state, so an opening
    /// between the two is not missed; it ends on an event with `open: true` for the port's
    /// device. Since QEMU rate-limits that event and sends none for a device without an id, it
    /// also reads the state again every `pollInterval`.
    ///
    /// - Throws: `QMPError` with code `timeout` naming the port and what was waited for; the
    ///   errors of ``isGuestConnected(to:)``; `connectionClosed` when the connection ends first;
    ///   `CancellationError` when the task is cancelled.
    public func waitUntilGuestConnected(
        to port: QMPVirtioSerialPort,
        timeout: Duration,
        pollInterval: Duration = .seconds(1)
    ) async throws {
        let events = events(named: ["VSERPORT_CHANGE"], bufferSize: 64)
        if try await isGuestConnected(to: port) { return }
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let deviceID = port.deviceID {
                group.addTask {
                    for try await event in events {
                        if event.isConnectionGap {
                            // Events of the gap are lost: the state is read again instead.
                            if try await self.isGuestConnected(to: port) { return }
                        } else if event.data?["id"]?.stringValue == deviceID, event.data?["open"]?.boolValue == true {
                            return
                        }
                    }
                    try Task.checkCancellation()
                    throw QMPError(
                        code: .connectionClosed,
                        message: "the connection closed while waiting for the guest to open \(port)"
                    )
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: pollInterval)
                    if try await self.isGuestConnected(to: port) { return }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                let state = "query-chardev to report chardev \(port.chardev) frontend-open: true"
                let what =
                    if let deviceID = port.deviceID {
                        "a VSERPORT_CHANGE event with open: true for device \(deviceID), or for \(state)"
                    } else {
                        "\(state) (the port's device has no id, so QEMU sends no VSERPORT_CHANGE for it)"
                    }
                throw QMPError(
                    code: .timeout,
                    message: "the guest did not open \(port) within \(timeout): waited for \(what)"
                )
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }
}
