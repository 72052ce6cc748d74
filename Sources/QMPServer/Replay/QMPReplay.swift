import Logging
import NIOConcurrencyHelpers
import QMPCore

/// Serves a recorded transcript: each command is answered with its recorded reply, and the
/// events recorded after it are sent again (with fresh timestamps).
///
/// A command is matched by name and arguments (the id does not matter): the next unused
/// exchange in recorded order if one matches, otherwise any earlier one. A command the
/// transcript does not have gets a `GenericError` that says so, and one whose name never
/// appears gets QEMU's CommandNotFound. Secrets that ``QMPRecordingProxy`` redacted match any
/// value: the arriving command is redacted the same way before it is compared.
public final class QMPReplay: Sendable {
    /// The recorded session this replay answers from.
    public let transcript: QMPTranscript
    private let cursor = NIOLockedValueBox<Set<Int>>([])
    private let source: String

    /// A replay of `transcript`.
    ///
    /// - Parameters:
    ///   - transcript: the recorded session to answer from.
    ///   - source: what the transcript is called in error messages, e.g. its file name.
    public init(transcript: QMPTranscript, source: String = "the transcript") {
        self.transcript = transcript
        self.source = source
    }

    /// The recorded greeting; for libvirt's files, which have none, one made from the recorded
    /// `query-version` reply (or QEMU 7.2.0), offering OOB.
    public var greeting: QMPGreeting {
        if let greeting = transcript.greeting {
            return greeting
        }
        let version = transcript.exchanges.first { $0.command == "query-version" }?.reply["return"]
        let triple = version?["qemu"]
        let qemu = QEMUVersion(
            major: Int(triple?["major"]?.int64Value ?? 7),
            minor: Int(triple?["minor"]?.int64Value ?? 2),
            micro: Int(triple?["micro"]?.int64Value ?? 0)
        )
        return QMPGreeting(version: qemu, package: version?["package"]?.stringValue ?? "", capabilities: [.oob])
    }

    /// A server that answers from the transcript on `addresses` (see ``QMPServer/run()``).
    public func makeServer(
        listeningOn addresses: [QMPAddress],
        logger: Logger = Logger(label: "qmp", factory: { _ in SwiftLogNoOpLogHandler() }),
        onListening: @escaping @Sendable ([QMPAddress]) async -> Void = { _ in }
    ) -> QMPServer {
        var table = QMPCommandTable()
        for name in Set(transcript.exchanges.map(\.command)) where name != "qmp_capabilities" {
            let recordedOutOfBand = transcript.exchanges.contains { $0.command == name && $0.outOfBand }
            table.registerImmediate(name, allowsOutOfBand: recordedOutOfBand) { [self] request in
                try self.answer(request)
            }
        }
        return QMPServer(
            configuration: .init(greeting: greeting, commands: table, addresses: addresses),
            logger: logger,
            onListening: onListening
        )
    }

    private func answer(_ request: QMPServerRequest) throws -> JSONValue {
        let exchanges = transcript.exchanges
        let redacted = QMPTranscript.redactingSecrets(arguments: request.arguments)
        let index = cursor.withLockedValue { used -> Int? in
            let matches = exchanges.indices.filter {
                exchanges[$0].command == request.name
                    && (exchanges[$0].arguments == request.arguments || exchanges[$0].arguments == redacted)
            }
            guard let chosen = matches.first(where: { !used.contains($0) }) ?? matches.last else { return nil }
            used.insert(chosen)
            return chosen
        }
        guard let index else {
            let arguments = JSONValue.object(redacted).serialized()
            throw QMPErrorBody(
                errorClass: QMPError.ErrorClass.genericError,
                description: "replay: \(source) has no \(request.name) with arguments \(arguments)"
            )
        }
        let exchange = exchanges[index]
        for recorded in exchange.events {
            guard case .string(let name)? = recorded["event"] else { continue }
            request.server.broadcast(QMPEvent.stampedNow(name, recorded["data"]?.objectValue))
        }
        if let error = exchange.reply["error"] {
            throw QMPErrorBody(
                errorClass: error["class"]?.stringValue ?? QMPError.ErrorClass.genericError,
                description: error["desc"]?.stringValue ?? "",
                data: error["data"]
            )
        }
        return exchange.reply["return"] ?? .object([:])
    }
}
