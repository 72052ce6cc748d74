import ArgumentParser

/// `qmp`: the QEMU Machine Protocol at a terminal.
public struct QMPCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "qmp",
        abstract: "Talk to QEMU (or anything that speaks QMP) over the QEMU Machine Protocol.",
        discussion: """
            ADDRESS is a Unix socket path or HOST:PORT. With --launch, qmp starts a private QEMU \
            (qemu-system-x86_64 from PATH, or $QEMU_BINARY) instead and shuts it down afterwards.

            Exit codes: 0 success; 1 QEMU answered with an error; 3 connection failed, was lost, \
            timed out, or the peer does not speak QMP; 64 bad command line.
            """,
        // Every command, subcommands included, names itself: ArgumentParser otherwise derives
        // the name from the type's, which at every start of the tool runs the runtime's
        // demangler and the standard library's Unicode tables.
        subcommands: [
            ShellCommand.self, ExecCommand.self, EventsCommand.self, QOMCommand.self, SchemaCommand.self,
            MockCommand.self, RecordCommand.self, GuestAgentCommand.self, ProxyCommand.self,
        ]
    )

    public init() {}
}

/// Exit codes shared by every subcommand.
enum ExitCodes {
    static let commandFailed = ExitCode(1)
    static let connectionProblem = ExitCode(3)
    static let usage = ExitCode.validationFailure
}
