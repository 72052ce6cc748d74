#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `../shared` beside the repository: QEMU's QAPI schema sources of every release, the
/// reference `query-qmp-schema` of QEMU 7.2 and the seed documents. They are QEMU's text, kept
/// out of the repository; the tests that read them say so in one line when they are missing,
/// and nothing else needs them.
public enum SharedTestData {
    /// `$SWIFT_QMP_SHARED` when set (a copy kept elsewhere), else `shared` beside the package.
    public static let directory: String = {
        if let configured = getenv("SWIFT_QMP_SHARED"), configured.pointee != 0 {
            return String(cString: configured)
        }
        // Tests/SharedTestData/SharedTestData.swift -> the package -> beside it.
        var path = #filePath
        for _ in 0..<4 {
            path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        }
        return path + "/shared"
    }()

    /// Whether `relative` exists inside ``directory``.
    public static func contains(_ relative: String) -> Bool {
        access(directory + "/" + relative, F_OK) == 0
    }

    /// The path of `relative` inside ``directory``.
    ///
    /// - Throws: ``MissingSharedData`` naming what is missing and why, when it is not there.
    public static func path(_ relative: String) throws(MissingSharedData) -> String {
        guard contains(relative) else { throw MissingSharedData(relativePath: relative) }
        return directory + "/" + relative
    }
}

/// What a test needs from `../shared` is not there; its description is the one line to read.
public struct MissingSharedData: Error, Sendable, CustomStringConvertible {
    /// The path inside the shared directory, e.g. `qapi-schemas`.
    public var relativePath: String

    public init(relativePath: String) {
        self.relativePath = relativePath
    }

    public var description: String {
        "needs ../shared/\(relativePath) (QEMU's schema sources and references, kept beside the repository, not in it): "
            + "\(SharedTestData.directory)/\(relativePath) is missing"
    }
}
