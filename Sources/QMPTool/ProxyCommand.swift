import ArgumentParser
import QMPClient
import QMPCore
import QMPProxy

// FoundationEssentials where it exists: the whole of Foundation would bring its
// internationalisation data into every run of qmp, one-shot ones included.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Serve many QMP clients over one monitor connection, with a policy per listener.",
        discussion: """
            Connects to ADDRESS (or --launch, or the simulated QEMU when neither is given) and \
            serves clients on every --listen and --read-only address, each of which gets QEMU's \
            greeting, negotiates on its own and gets its own replies under its own ids, and every \
            event. Commands that can take guest memory off the host, bypass QMP or end QEMU \
            (migrate, dump-guest-memory, pmemsave, memsave, human-monitor-command, quit, secret \
            objects) are refused unless a policy lifts them by name; a refused command never \
            reaches QEMU.

            --policy FILE holds the policy of the --listen addresses as JSON: \
            {"profile": "full"|"read-only", "deny": [RULE...], "allow": [RULE...], \
            "liftedBuiltInRules": [NAME...]}, where a RULE is {"command": GLOB, "arguments": \
            {"PATH": GLOB, ...}} and a GLOB starting with ! matches what the rest does not. \
            --config FILE describes every listener instead: {"listeners": [{"name": NAME, \
            "addresses": [ADDRESS...], "policy": POLICY, "peerPolicies": [{"uid": UID, "gid": GID, \
            "policy": POLICY}...]}]}; a client on a Unix socket gets the first peer policy that \
            matches the user and group of its process, any other client the listener's policy.

            Runs until interrupted (SIGINT, SIGTERM) or until the monitor's connection ends \
            (exit code 3), which fails every unanswered command and closes the clients.

            Examples:
              qmp proxy /run/vm/qmp.sock --listen /run/vm/ops.sock --read-only 127.0.0.1:4444
              qmp proxy /run/vm/qmp.sock --config proxy.json
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: ArgumentHelp("The monitor: a Unix socket path or HOST:PORT.", valueName: "address"))
    var address: String?

    @Option(
        help: ArgumentHelp("Where clients connect (repeatable): a Unix socket path or HOST:PORT.", valueName: "address")
    )
    var listen: [String] = []

    @Option(
        name: .customLong("read-only"),
        help: ArgumentHelp("Where clients that may only read connect (repeatable).", valueName: "address")
    )
    var readOnly: [String] = []

    @Option(help: ArgumentHelp("The policy of the --listen addresses, as JSON.", valueName: "file"))
    var policy: String?

    @Option(help: ArgumentHelp("Every listener with its addresses and policy, as JSON.", valueName: "file"))
    var config: String?

    func validate() throws {
        if connection.launch && address != nil {
            throw ConnectionOptions.addressWithLaunch
        }
        if config == nil && listen.isEmpty && readOnly.isEmpty {
            throw ValidationError("give at least one --listen or --read-only address, or a --config file")
        }
        if config != nil && (policy != nil || !listen.isEmpty || !readOnly.isEmpty) {
            throw ValidationError(
                "--config describes every listener: give it without --listen, --read-only or --policy"
            )
        }
    }

    func run() async throws {
        let listeners: [QMPProxy.Listener]
        do {
            listeners = try makeListeners()
        } catch {
            throw failure(reporting: error)
        }
        do {
            try await connection.withClient(address: address) { upstream in
                let proxy = QMPProxy(
                    upstream: upstream,
                    configuration: .init(listeners: listeners),
                    onListening: { name, addresses in
                        printError(
                            "qmp proxy: listener \(name) on \(addresses.map(\.description).joined(separator: ", "))"
                        )
                    }
                )
                try await withThrowingTaskGroup(of: String?.self) { group in
                    let (ended, end) = AsyncStream<String>.makeStream()
                    group.addTask {
                        defer { end.finish() }
                        try await proxy.run()
                        return nil
                    }
                    group.addTask {
                        let reason = await waitForSignal(or: ended)
                        proxy.beginGracefulShutdown()
                        return reason
                    }
                    while let reason = try await group.next() {
                        if let reason {
                            printError("qmp proxy: stopped (\(reason))")
                        }
                    }
                }
            }
        } catch {
            throw failure(reporting: error)
        }
    }

    private func makeListeners() throws -> [QMPProxy.Listener] {
        if let config {
            let file = try Self.decode(ProxyFile.self, from: config)
            return try file.listeners.map { listener in
                QMPProxy.Listener(
                    name: listener.name,
                    addresses: try listener.addresses.map { try QMPAddress(parsing: $0) },
                    policy: listener.policy ?? .standard,
                    peerPolicies: listener.peerPolicies ?? []
                )
            }
        }
        let policy = try self.policy.map { try Self.decode(QMPProxyPolicy.self, from: $0) } ?? .standard
        var listeners: [QMPProxy.Listener] = []
        if !listen.isEmpty {
            listeners.append(
                .init(name: "listen", addresses: try listen.map { try QMPAddress(parsing: $0) }, policy: policy)
            )
        }
        if !readOnly.isEmpty {
            listeners.append(
                .init(name: "read-only", addresses: try readOnly.map { try QMPAddress(parsing: $0) }, policy: .readOnly)
            )
        }
        return listeners
    }

    /// The JSON of a --config file.
    struct ProxyFile: Decodable {
        struct Listener: Decodable {
            var name: String
            var addresses: [String]
            var policy: QMPProxyPolicy?
            var peerPolicies: [QMPProxy.PeerPolicy]?
        }

        var listeners: [Listener]
    }

    private static func decode<Value: Decodable>(_ type: Value.Type, from path: String) throws -> Value {
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CommandLineError(message: "cannot read \(path): no such file")
        }
        guard !isDirectory, let data = FileManager.default.contents(atPath: path) else {
            throw CommandLineError(
                message: "cannot read \(path): \(isDirectory ? "it is a directory" : "not readable")"
            )
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw CommandLineError(message: "\(path) is not a valid proxy policy: \(error)")
        }
    }
}
