import QMPCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension QMPEvent {
    /// An event stamped with the host's clock, as QEMU stamps the events it sends. Shared by the
    /// replay here and the simulator in QMPSimulator.
    package static func stampedNow(_ name: String, _ data: JSONObject? = nil) -> QMPEvent {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return QMPEvent(
            name: name,
            data: data,
            timestamp: .init(seconds: Int64(now.tv_sec), microseconds: Int64(now.tv_nsec / 1000))
        )
    }
}
