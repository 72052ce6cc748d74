import QMPClient
import QMPCore
import QMPTestSupport
import Testing

/// Whether the guest has a virtio-serial port open (the guest agent's, say), and a bounded wait
/// for it to open, from `query-chardev` and `VSERPORT_CHANGE`.
@Suite("Virtio-serial port presence")
struct VirtioSerialPortTests {
    static let port = QMPVirtioSerialPort(chardev: "qga0", deviceID: "qga-port")
    /// What a loaded machine (the whole suite beside other builds) may add to a timer and to
    /// the scheduling of the test itself; an unbounded wait would exceed any of it.
    static let slack = Duration.seconds(15)

    static func chardevs(agentOpen: Bool) -> JSONValue {
        [
            ["label": "compat_monitor0", "filename": "unix:/run/qmp.sock,server=on", "frontend-open": true],
            ["label": "qga0", "filename": "unix:/run/qga.sock,server=on", "frontend-open": .bool(agentOpen)],
        ]
    }

    static func change(_ id: String, open: Bool) -> FakeMonitor.Event {
        FakeMonitor.Event("VSERPORT_CHANGE", data: ["id": .string(id), "open": .bool(open)])
    }

    @Test("the port's state is query-chardev's frontend-open of its chardev")
    func state() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("query-chardev", reply: Self.chardevs(agentOpen: false))
            monitor.expect("query-chardev", reply: Self.chardevs(agentOpen: true))
            try await QMPClient.withConnection(to: monitor.address) { client async throws in
                #expect(try await client.isGuestConnected(to: Self.port) == false)
                #expect(try await client.isGuestConnected(to: Self.port) == true)
            }
        }
    }

    @Test("a port already open ends the wait at once")
    func alreadyOpen() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("query-chardev", reply: Self.chardevs(agentOpen: true))
            try await QMPClient.withConnection(to: monitor.address) { client async throws in
                try await client.waitUntilGuestConnected(to: Self.port, timeout: .seconds(30))
            }
        }
    }

    /// The event comes before the reply that still says closed: only a subscription made
    /// before the state was read sees it.
    @Test("VSERPORT_CHANGE with open: true for the port's device ends the wait, even one that overtakes the state")
    func eventEndsTheWait() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect(
                "query-chardev",
                reply: Self.chardevs(agentOpen: false),
                emitting: [Self.change("qga-port", open: true)]
            )
            try await QMPClient.withConnection(to: monitor.address) { client async throws in
                // Only the event can end this wait without an error: the state would be read
                // again only after the timeout, which throws.
                try await client.waitUntilGuestConnected(
                    to: Self.port,
                    timeout: .seconds(30),
                    pollInterval: .seconds(60)
                )
            }
        }
    }

    @Test("events of other ports and closings do not end the wait; its timeout names the port and what was awaited")
    func otherEventsAndTimeout() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect(
                "query-chardev",
                reply: Self.chardevs(agentOpen: false),
                emitting: [Self.change("serial-console", open: true), Self.change("qga-port", open: false)]
            )
            try await QMPClient.withConnection(to: monitor.address) { client async throws in
                let bound = Duration.milliseconds(300)
                let start = ContinuousClock.now
                let error = await #expect(throws: QMPError.self) {
                    try await client.waitUntilGuestConnected(to: Self.port, timeout: bound, pollInterval: .seconds(60))
                }
                let elapsed = ContinuousClock.now - start
                #expect(elapsed >= bound && elapsed < bound + Self.slack)
                #expect(error?.code == .timeout)
                #expect(
                    error?.message
                        == "the guest did not open the virtio-serial port on chardev qga0 (device qga-port) within "
                        + "0.3 seconds: waited for a VSERPORT_CHANGE event with open: true for device qga-port, "
                        + "or for query-chardev to report chardev qga0 frontend-open: true"
                )
            }
        }
    }

    @Test("a port whose device has no id is watched by reading its state again")
    func withoutDeviceIDPolls() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("query-chardev", reply: Self.chardevs(agentOpen: false))
            monitor.expect("query-chardev", reply: Self.chardevs(agentOpen: false))
            monitor.expect("query-chardev", reply: Self.chardevs(agentOpen: true))
            try await QMPClient.withConnection(to: monitor.address) { client async throws in
                try await client.waitUntilGuestConnected(
                    to: QMPVirtioSerialPort(chardev: "qga0"),
                    timeout: .seconds(30),
                    pollInterval: .milliseconds(20)
                )
            }
        }
    }

    @Test("a chardev QEMU does not have: the error names it")
    func unknownChardev() async throws {
        try await withFakeMonitor { monitor in
            monitor.expect("query-chardev", reply: Self.chardevs(agentOpen: false))
            try await QMPClient.withConnection(to: monitor.address) { client async throws in
                let error = await #expect(throws: QMPError.self) {
                    try await client.isGuestConnected(to: QMPVirtioSerialPort(chardev: "qga9"))
                }
                #expect(error?.code == .invalidArguments)
                #expect(error?.message == "QEMU has no chardev 'qga9' (query-chardev lists none of that id)")
            }
        }
    }
}

/// The transports QMPClient shares with the guest agent client, where this machine can show them.
@Suite("QMPClient transports beyond sockets")
struct QMPClientTransportTests {
    @Test("a vsock connect nobody answers ends within its bound and names the address")
    func vsockIsBounded() async throws {
        let bound = Duration.milliseconds(500)
        let start = ContinuousClock.now
        let error = await #expect(throws: QMPError.self) {
            try await QMPClient.connect(
                to: .vsock(cid: 1, port: 4444),
                configuration: QMPClient.Configuration(connectTimeout: bound)
            )
        }
        #expect(ContinuousClock.now - start < bound + VirtioSerialPortTests.slack)
        #expect(error?.code == .timeout || error?.code == .connectionFailed)
        #expect(error?.message.hasPrefix("could not connect to vsock:1:4444") == true, "\(String(describing: error))")
    }

    @Test("a missing character device: the error names it and says nothing is there")
    func missingCharacterDevice() async throws {
        let error = await #expect(throws: QMPError.self) {
            try await QMPClient.connect(to: .characterDevice(path: "/nonexistent/ttyS9"))
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message == "could not open QMP device /nonexistent/ttyS9: no device exists at that path")
    }
}
