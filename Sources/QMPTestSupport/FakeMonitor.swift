import Logging
import NIOConcurrencyHelpers
import QMPCore
import QMPServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body` with a scripted QMP monitor listening on a fresh address, then checks that every
/// expected command came and nothing else did.
///
/// The monitor is stopped and its private directory removed however `body` ends. When `body`
/// returns, the commands that were expected and never sent, and those sent without being
/// expected, fail the call with a ``FakeMonitorError`` that names them all; when `body` throws,
/// its error is rethrown instead.
///
/// ```swift
/// try await withFakeMonitor { monitor in
///     monitor.expect("query-status", reply: ["running": true, "status": "running"])
///     monitor.expect("stop", emitting: ["STOP"])
///     try await pauseIfRunning(at: monitor.address)   // the code under test
/// }
/// ```
///
/// - Parameters:
///   - transport: a Unix socket in a private temporary directory (the default), or TCP on
///     127.0.0.1 at a port the system picks.
///   - greeting: what the monitor greets with: its QEMU version and capabilities.
///   - logger: for the server underneath.
///   - isolation: the actor the body runs on, the caller's by default.
///   - body: the test, given the running monitor; what it returns is returned.
public func withFakeMonitor<Result: Sendable>(
    transport: FakeMonitor.Transport = .unixSocket,
    greeting: QMPGreeting = FakeMonitor.defaultGreeting,
    logger: Logger = Logger(label: "qmp.fake-monitor", factory: { _ in SwiftLogNoOpLogHandler() }),
    isolation: isolated (any Actor)? = #isolation,
    _ body: (FakeMonitor) async throws -> Result
) async throws -> Result {
    let directory: String? = transport == .unixSocket ? try FakeMonitor.makePrivateDirectory() : nil
    defer {
        if let directory { FakeMonitor.removeSocketDirectory(directory) }
    }
    let (server, script) = FakeMonitor.makeServer(listeningIn: directory, greeting: greeting, logger: logger)
    // The server's own scope: it stops listening and closes every connection however the body
    // ends, before the directory goes.
    let (result, monitor) = try await server.serving { addresses in
        let monitor = FakeMonitor(address: addresses[0], server: server, script: script, directory: directory)
        return (try await body(monitor), monitor)
    }
    try monitor.verify()
    return result
}

/// A QMP monitor that answers from a script, for tests of code that talks to QEMU.
///
/// It greets, negotiates and checks the envelope of every message as QEMU does (it is a
/// `QMPServer`); each command is then matched against the expectations: the first unmet one
/// with the command's name and, when it gives them, equal arguments. Expectations of one
/// command are met in the order they were made; those of different commands in any order, so
/// that code which sends commands concurrently can be scripted. A command that matches none
/// gets an error reply (`CommandNotFound` when the name was never expected, `GenericError`
/// naming the arguments otherwise) and is reported by ``verify()``.
///
/// Use it through ``withFakeMonitor(transport:greeting:logger:isolation:_:)``, which stops it.
public final class FakeMonitor: Sendable {
    /// Where the monitor listens.
    public enum Transport: Sendable, Hashable {
        /// A Unix socket, `qmp.sock` in a private temporary directory under `$TMPDIR`.
        case unixSocket
        /// TCP on 127.0.0.1, at a port the system picks.
        case tcp
    }

    /// An event for the monitor to send; its timestamp is taken when it is sent.
    public struct Event: Sendable, Hashable, ExpressibleByStringLiteral {
        public var name: String
        public var data: JSONObject?

        public init(_ name: String, data: JSONObject? = nil) {
            self.name = name
            self.data = data
        }

        public init(stringLiteral name: String) {
            self.init(name)
        }
    }

    /// How the monitor answers an expected command.
    public enum Answer: Sendable, Hashable {
        /// A success reply, `{"return": value}`.
        case reply(JSONValue)
        /// An error reply with this class and description.
        case error(QMPErrorBody)
        /// No reply: the connection closes instead, as when QEMU dies mid-command. Events the
        /// expectation emits are still sent first.
        case closeConnection
    }

    /// A command as the monitor received it.
    public struct Command: Sendable, Hashable, CustomStringConvertible {
        public var name: String
        public var arguments: JSONObject
        /// Whether it came as `exec-oob`.
        public var outOfBand: Bool

        public var description: String {
            arguments.isEmpty ? name : "\(name) \(JSONValue.object(arguments))"
        }
    }

    /// QEMU 9.2's greeting, with out-of-band execution offered.
    public static let defaultGreeting = QMPGreeting(
        version: QEMUVersion(major: 9, minor: 2, micro: 0),
        package: "",
        capabilities: [.oob]
    )

    /// The address to connect the code under test to.
    public let address: QMPAddress
    /// The greeting every client gets.
    public var greeting: QMPGreeting { server.configuration.greeting }

    private let server: QMPServer
    private let script: NIOLockedValueBox<Script>
    /// The private directory of a Unix socket, removed when the monitor's scope ends.
    private let directory: String?

    init(address: QMPAddress, server: QMPServer, script: NIOLockedValueBox<Script>, directory: String?) {
        self.address = address
        self.server = server
        self.script = script
        self.directory = directory
    }

    // MARK: - Scripting

    /// Expects `command`, answered with a success reply.
    ///
    /// - Parameters:
    ///   - command: the command's name.
    ///   - arguments: the arguments the command must come with; `nil` accepts any. A command
    ///     sent without arguments has the empty object.
    ///   - reply: the `return` value.
    ///   - events: sent after the command ran and before its reply, as QEMU sends the events a
    ///     command causes (`STOP` before the reply to `stop`).
    ///   - thenClose: closes the client's connection after the reply, as QEMU does after `quit`.
    ///   - fileID: where the expectation was made, for the failure text; leave the default.
    ///   - line: the line of that place; leave the default.
    public func expect(
        _ command: String,
        arguments: JSONObject? = nil,
        reply: JSONValue = [:],
        emitting events: [Event] = [],
        thenClose: Bool = false,
        fileID: String = #fileID,
        line: Int = #line
    ) {
        expect(
            command,
            arguments: arguments,
            answer: .reply(reply),
            emitting: events,
            thenClose: thenClose,
            fileID: fileID,
            line: line
        )
    }

    /// Expects `command`, answered with an error reply of this class and description.
    public func expect(
        _ command: String,
        arguments: JSONObject? = nil,
        error: QMPErrorBody,
        emitting events: [Event] = [],
        thenClose: Bool = false,
        fileID: String = #fileID,
        line: Int = #line
    ) {
        expect(
            command,
            arguments: arguments,
            answer: .error(error),
            emitting: events,
            thenClose: thenClose,
            fileID: fileID,
            line: line
        )
    }

    /// Expects `command`, answered as `answer` says; the other `expect` methods say the rest.
    public func expect(
        _ command: String,
        arguments: JSONObject? = nil,
        answer: Answer,
        emitting events: [Event] = [],
        thenClose: Bool = false,
        fileID: String = #fileID,
        line: Int = #line
    ) {
        let expectation = Expectation(
            command: command,
            arguments: arguments,
            answer: answer,
            events: events,
            thenClose: thenClose,
            location: "\(fileID):\(line)"
        )
        script.withLockedValue { $0.expectations.append(expectation) }
    }

    /// Sends `event` now to every client that has negotiated capabilities.
    public func emit(_ event: Event) {
        server.broadcast(Self.stamped(event))
    }

    /// Closes every client's connection; the monitor goes on listening.
    public func closeConnections() {
        for connection in server.connectionIDs {
            server.closeConnection(connection)
        }
    }

    // MARK: - What happened

    /// Every command received, in order (`qmp_capabilities` excepted: the server's own).
    public var received: [Command] {
        script.withLockedValue { $0.received }
    }

    /// Clients connected right now.
    public var connectionCount: Int { server.connectionCount }

    /// The expectations not met yet, each with where it was made.
    public var unmetExpectations: [String] {
        script.withLockedValue { $0.expectations.filter { !$0.met }.map(\.description) }
    }

    /// The commands that matched no expectation, in order.
    public var unexpectedCommands: [Command] {
        script.withLockedValue { $0.unexpected }
    }

    /// Throws a ``FakeMonitorError`` naming every unmet expectation and every unexpected
    /// command, if there is one.
    public func verify() throws(FakeMonitorError) {
        let (unmet, unexpected) = script.withLockedValue { script in
            (script.expectations.filter { !$0.met }.map(\.description), script.unexpected.map(\.description))
        }
        guard unmet.isEmpty && unexpected.isEmpty else {
            throw FakeMonitorError(unmetExpectations: unmet, unexpectedCommands: unexpected)
        }
    }

    // MARK: - Running

    /// The server behind a monitor: on a Unix socket in `directory`, or on TCP port 0 without
    /// one. ``withFakeMonitor(transport:greeting:logger:isolation:_:)`` runs it.
    static func makeServer(
        listeningIn directory: String?,
        greeting: QMPGreeting,
        logger: Logger
    ) -> (QMPServer, NIOLockedValueBox<Script>) {
        let script = NIOLockedValueBox(Script())
        let address: QMPAddress =
            directory.map { .unixSocket(path: $0 + "/qmp.sock") } ?? .tcp(host: "127.0.0.1", port: 0)
        let configuration = QMPServer.Configuration(
            greeting: greeting,
            commands: QMPCommandTable(),
            addresses: [address],
            // A scripted event is sent when the script says, not when QEMU's rate limit would.
            throttledEvents: [:],
            // A monitor in a test answers at once; nothing is worth waiting for at the end.
            shutdownGracePeriod: .seconds(1)
        )
        let server = QMPServer(
            configuration: configuration,
            unknownCommandHandler: { request in try Self.answer(request, script: script) },
            logger: logger
        )
        return (server, script)
    }

    /// Runs on the client connection's event loop: matches the command and answers it.
    private static func answer(_ request: QMPServerRequest, script: NIOLockedValueBox<Script>) throws -> JSONValue {
        let command = Command(name: request.name, arguments: request.arguments, outOfBand: request.outOfBand)
        let expectation = try script.withLockedValue { $0.match(command) }.get()
        for event in expectation.events {
            request.server.broadcast(stamped(event))
        }
        switch expectation.answer {
        case .reply(let value):
            if expectation.thenClose {
                request.server.closeConnection(request.connectionID)
            }
            return value
        case .error(let body):
            if expectation.thenClose {
                request.server.closeConnection(request.connectionID)
            }
            throw body
        case .closeConnection:
            request.server.closeConnection(request.connectionID, replyingFirst: false)
            return [:]
        }
    }

    private static func stamped(_ event: Event) -> QMPEvent {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return QMPEvent(
            name: event.name,
            data: event.data,
            timestamp: .init(seconds: Int64(now.tv_sec), microseconds: Int64(now.tv_nsec / 1000))
        )
    }

    /// A fresh `swift-qmp-fake-XXXXXX` under `$TMPDIR` (or /tmp) that only this user can enter.
    static func makePrivateDirectory() throws -> String {
        var base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        if base.isEmpty { base = "/tmp" }
        if base.hasSuffix("/") { base.removeLast() }
        var template = Array("\(base)/swift-qmp-fake-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            let code = errno
            throw SystemCallFailure(
                description: "could not create a private directory in \(base): \(String(cString: strerror(code)))"
            )
        }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes the directory and the socket in it, its only entry.
    static func removeSocketDirectory(_ directory: String) {
        unlink(directory + "/qmp.sock")
        rmdir(directory)
    }
}

/// The script and what became of it, behind the monitor's lock.
struct Script {
    var expectations: [Expectation] = []
    var received: [FakeMonitor.Command] = []
    var unexpected: [FakeMonitor.Command] = []

    /// The first unmet expectation that `command` meets, now met; or the error reply for a
    /// command that meets none.
    mutating func match(_ command: FakeMonitor.Command) -> Result<Expectation, QMPErrorBody> {
        received.append(command)
        let index = expectations.firstIndex { expectation in
            !expectation.met && expectation.command == command.name
                && (expectation.arguments.map { $0 == command.arguments } ?? true)
        }
        if let index {
            expectations[index].met = true
            return .success(expectations[index])
        }
        unexpected.append(command)
        guard expectations.contains(where: { $0.command == command.name }) else {
            // QEMU's own words for a command it does not have.
            return .failure(
                QMPErrorBody(
                    errorClass: QMPError.ErrorClass.commandNotFound,
                    description: "The command \(command.name) has not been found"
                )
            )
        }
        return .failure(
            QMPErrorBody(
                errorClass: QMPError.ErrorClass.genericError,
                description: "fake monitor: no expectation left for \(command)"
            )
        )
    }
}

struct Expectation: CustomStringConvertible {
    var command: String
    var arguments: JSONObject?
    var answer: FakeMonitor.Answer
    var events: [FakeMonitor.Event]
    var thenClose: Bool
    /// Where it was made, `File.swift:12`.
    var location: String
    var met = false

    var description: String {
        let withArguments = arguments.map { " with arguments \(JSONValue.object($0))" } ?? ""
        return "\(command)\(withArguments) (expected at \(location))"
    }
}

private struct SystemCallFailure: Error, CustomStringConvertible {
    var description: String
}

/// Some expected commands never came, or commands came that were not expected.
public struct FakeMonitorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Each with where it was made (`File.swift:12`).
    public var unmetExpectations: [String]
    /// As received, with their arguments.
    public var unexpectedCommands: [String]

    public init(unmetExpectations: [String], unexpectedCommands: [String]) {
        self.unmetExpectations = unmetExpectations
        self.unexpectedCommands = unexpectedCommands
    }

    public var description: String {
        var lines = ["the fake monitor's script was not followed:"]
        lines += unmetExpectations.map { "  expected, never sent: \($0)" }
        lines += unexpectedCommands.map { "  sent, not expected: \($0)" }
        return lines.joined(separator: "\n")
    }
}
