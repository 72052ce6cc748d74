import QMPCore

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension QMPTransport {
    /// Opens the character device at `path` for reading and writing: a serial port, a pty (the
    /// host side of QEMU's `-chardev pty`) or a virtio-serial port inside a guest.
    ///
    /// A terminal is put in raw mode: with the line discipline's defaults it would echo what the
    /// client writes back as if the other end had sent it, hold input until a newline and turn
    /// control characters (the agent's 0xFF marker is none, but a JSON text may hold others)
    /// into signals. `O_NOCTTY`, so that a terminal never becomes the process's controlling one.
    ///
    /// - Returns: the open descriptor, which the caller owns.
    /// - Throws: `QMPError` with code `connectionFailed` naming `endpoint` and the reason.
    package static func openCharacterDevice(_ path: String, naming endpoint: String) throws(QMPError) -> CInt {
        let descriptor = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            let hint: String?
            switch code {
            case ENOENT: hint = "no device exists at that path"
            case EACCES: hint = "permission denied"
            // Opening a Unix socket, or a device whose driver is gone.
            case ENXIO: hint = "nothing serves that path as a device (a Unix socket is given by its bare path)"
            case EBUSY: hint = "the device is in use"
            default: hint = nil
            }
            throw QMPError(
                code: .connectionFailed,
                message: "could not open \(endpoint)" + (hint.map { ": " + $0 } ?? ""),
                underlying: SystemError(errno: code)
            )
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFCHR else {
            closeDescriptor(descriptor)
            throw QMPError(code: .connectionFailed, message: "could not open \(endpoint): it is not a character device")
        }
        if isatty(descriptor) != 0 {
            var settings = termios()
            guard tcgetattr(descriptor, &settings) == 0 else {
                let code = errno
                closeDescriptor(descriptor)
                throw QMPError(
                    code: .connectionFailed,
                    message: "could not read the terminal settings of \(endpoint)",
                    underlying: SystemError(errno: code)
                )
            }
            cfmakeraw(&settings)
            guard tcsetattr(descriptor, TCSANOW, &settings) == 0 else {
                let code = errno
                closeDescriptor(descriptor)
                throw QMPError(
                    code: .connectionFailed,
                    message: "could not put \(endpoint) in raw mode",
                    underlying: SystemError(errno: code)
                )
            }
        }
        return descriptor
    }
}
