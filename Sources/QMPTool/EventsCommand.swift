import ArgumentParser
import QMPClient
import QMPCore

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Print QMP events as JSON lines as they arrive.",
        discussion: """
            Runs until --count events were printed, or until interrupted. Exits with 3 when the \
            connection drops.

            Examples:
              qmp events /tmp/qmp.sock
              qmp events /tmp/qmp.sock --filter SHUTDOWN --filter STOP --count 1
              qmp events localhost:4444 --filter DEVICE_DELETED
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .customLong("filter"), help: ArgumentHelp("Only events with this name (repeatable).", valueName: "name"))
    var names: [String] = []

    @Option(help: "Stop after this many events.")
    var count: Int?

    @Argument(help: ArgumentHelp("Unix socket path or HOST:PORT (not with --launch).", valueName: "address"))
    var address: String?

    func validate() throws {
        if let count, count < 1 {
            throw ValidationError("--count must be at least 1")
        }
        if connection.launch && address != nil {
            throw ValidationError("give either ADDRESS or --launch, not both")
        }
    }

    func run() async throws {
        let filter = names.isEmpty ? nil : Set(names)
        let limit = count
        do {
            try await connection.withClient(address: address) { client in
                var printed = 0
                for try await event in client.events(named: filter, bufferSize: 65536) {
                    printLine(event.json.serialized())
                    printed += 1
                    if let limit, printed >= limit {
                        return
                    }
                }
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            throw failure(reporting: error)
        }
    }
}
