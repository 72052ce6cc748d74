import NIOConcurrencyHelpers
import QAPI
import QMPCore

/// Decoded server schemas, shared by every connection to the same QEMU build.
///
/// A QEMU's `query-qmp-schema` is a large document and, decoded, a large value; a program
/// that keeps many connections to one QEMU (or to many QEMUs of one build) would otherwise hold
/// a copy per connection. Each connection that needs the schema still asks its server for it,
/// since the greeting alone does not tell builds apart (QEMU's x86 and Arm binaries of one
/// package greet alike and have different commands); the answer is identified by the greeting's
/// version and package and a hash of the reply, and decoded only when no connection has
/// decoded that one yet.
///
/// Entries are held weakly: a schema lives as long as some connection uses it.
public final class QMPSchemaCache: Sendable {
    /// The cache connections use unless their configuration names another.
    public static let shared = QMPSchemaCache()

    /// An empty cache, for connections that should share schemas only among themselves.
    public init() {}

    /// Identifies one build's schema.
    struct Key: Hashable, Sendable {
        var version: QEMUVersion?
        var package: String
        /// The reply's own hash and its length: two schemas of one version and package that
        /// differ and still agree in both are not a case worth a stronger hash.
        var replyHash: Int
        var entryCount: Int
        /// The kind of schema sources the introspection was filled from (see
        /// ``QMPClient/Configuration-swift.struct/schemaSources``), if any. Sources are taken to
        /// be a function of their kind and the server's version, as the bindings' history is.
        var sources: String?

        init(greeting: QMPGreeting, reply: JSONValue, sources: (any QAPISourceTypes)?) {
            version = greeting.version
            package = greeting.package
            replyHash = reply.hashValue
            entryCount = reply.arrayValue?.count ?? 0
            self.sources = sources.map { String(reflecting: type(of: $0)) }
        }
    }

    /// One decoded schema; its identity is what connections share.
    final class Entry: Sendable {
        let introspection: QAPIIntrospection
        init(_ introspection: QAPIIntrospection) { self.introspection = introspection }
    }

    private struct Reference {
        weak var entry: Entry?
    }

    private let entries = NIOLockedValueBox<[Key: Reference]>([:])

    /// The schemas held right now, one per build some connection still uses.
    public var count: Int {
        entries.withLockedValue { entries in entries.values.count { $0.entry != nil } }
    }

    /// The entry for `key`, decoded with `decode` when there is none yet; `shared` says whether
    /// it was already there. Two connections that decode the same build at once both decode,
    /// and the first to finish is the one kept.
    func entry(for key: Key, decode: () throws -> QAPIIntrospection) rethrows -> (entry: Entry, shared: Bool) {
        if let entry = entries.withLockedValue({ $0[key]?.entry }) {
            return (entry, true)
        }
        // Decoding takes a while; not under the lock.
        let decoded = Entry(try decode())
        return entries.withLockedValue { entries in
            if let entry = entries[key]?.entry {
                return (entry, true)
            }
            entries = entries.filter { $0.value.entry != nil }
            entries[key] = Reference(entry: decoded)
            return (decoded, false)
        }
    }
}
