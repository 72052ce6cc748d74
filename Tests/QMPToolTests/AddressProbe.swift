import QMPClient
import QMPCore

/// Spells a parsed address as text, for compact expectations.
enum QMPAddressProbe {
    static func parse(_ text: String) throws(QMPError) -> String {
        switch try QMPAddress(parsing: text) {
        case .unixSocket(let path): "unix \(path)"
        case .tcp(let host, let port): "tcp \(host) \(port)"
        case .vsock(let cid, let port): "vsock \(cid) \(port)"
        case .characterDevice(let path): "chardev \(path)"
        }
    }
}
