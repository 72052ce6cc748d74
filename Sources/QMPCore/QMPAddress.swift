/// Where a QMP server or a guest agent listens.
///
/// Its text form (``init(parsing:)``, ``description``) is what the `qmp` tool takes: a Unix
/// socket's path, `HOST:PORT`, `vsock:CID:PORT`, `chardev:PATH`.
public enum QMPAddress: Sendable, Hashable, CustomStringConvertible {
    /// A Unix domain socket, QEMU's `-qmp unix:PATH,server=on,wait=off`.
    case unixSocket(path: String)
    /// A TCP socket, QEMU's `-qmp tcp:HOST:PORT,server=on,wait=off`.
    case tcp(host: String, port: Int)
    /// A vsock (`AF_VSOCK`) port of a virtual machine, e.g. a guest agent started with
    /// `qemu-ga -m vsock-listen -p 3:1234`, which guests of vfkit and krunkit on macOS use.
    /// Clients only: a server does not listen on one.
    case vsock(cid: UInt32, port: UInt32)
    /// A character device opened by path: the host side of QEMU's `-chardev pty`, a serial
    /// port, or a virtio-serial port inside a guest (`/dev/virtio-ports/org.qemu.guest_agent.0`).
    /// A terminal is put in raw mode. Clients only.
    case characterDevice(path: String)

    /// Reads an address: `vsock:CID:PORT` (decimal numbers), `chardev:PATH` (a path with a
    /// slash); otherwise as `qmp-shell` does, `HOST:PORT` when the text has exactly one colon,
    /// else a Unix socket path.
    ///
    /// - Throws: ``QMPError`` with code ``QMPError/Code-swift.struct/invalidArguments`` when the
    ///   text after the colon is not a port number, or a vsock address's numbers are not.
    public init(parsing text: String) throws(QMPError) {
        if let address = try Self.parsingPrefixed(text) {
            self = address
            return
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            guard !text.isEmpty else {
                throw QMPError(
                    code: .invalidArguments,
                    message: "empty address: expected a Unix socket path or HOST:PORT"
                )
            }
            self = .unixSocket(path: text)
            return
        }
        guard let port = Int(parts[1]), (0...65535).contains(port) else {
            throw QMPError(
                code: .invalidArguments,
                message: "bad port number '\(parts[1])' in '\(text)': expected HOST:PORT with a port from 0 to 65535"
            )
        }
        let host = parts[0].isEmpty ? "localhost" : String(parts[0])
        self = .tcp(host: host, port: port)
    }

    /// The forms with a scheme, narrowed so as to take as little as possible from the older
    /// readings: a `vsock:` address has two colons (with one it stays `HOST:PORT` for a host
    /// named `vsock`; only a relative socket path spelt like a vsock address changes meaning),
    /// a `chardev:` path has a slash (text without one stays a bad port number).
    private static func parsingPrefixed(_ text: String) throws(QMPError) -> QMPAddress? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 3, parts[0] == "vsock" {
            guard let cid = UInt32(parts[1]), let port = UInt32(parts[2]) else {
                throw QMPError(
                    code: .invalidArguments,
                    message: "bad vsock address '\(text)': expected vsock:CID:PORT with numbers from 0 to 4294967295"
                )
            }
            return .vsock(cid: cid, port: port)
        }
        let prefix = "chardev:"
        if text.hasPrefix(prefix), text.dropFirst(prefix.count).contains("/") {
            return .characterDevice(path: String(text.dropFirst(prefix.count)))
        }
        return nil
    }

    public var description: String {
        switch self {
        case .unixSocket(let path): path
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .vsock(let cid, let port): "vsock:\(cid):\(port)"
        case .characterDevice(let path): "chardev:\(path)"
        }
    }
}
