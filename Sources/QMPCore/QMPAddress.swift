/// Where a QMP server listens.
public enum QMPAddress: Sendable, Hashable, CustomStringConvertible {
    /// A Unix domain socket, QEMU's `-qmp unix:PATH,server=on,wait=off`.
    case unixSocket(path: String)
    /// A TCP socket, QEMU's `-qmp tcp:HOST:PORT,server=on,wait=off`.
    case tcp(host: String, port: Int)

    /// Reads an address the way `qmp-shell` does: `HOST:PORT` when the text has exactly one
    /// colon, otherwise a Unix socket path.
    ///
    /// - Throws: ``QMPError`` with code ``QMPError/Code-swift.struct/invalidArguments`` when the
    ///   text after the colon is not a port number.
    public init(parsing text: String) throws(QMPError) {
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

    public var description: String {
        switch self {
        case .unixSocket(let path): path
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}
