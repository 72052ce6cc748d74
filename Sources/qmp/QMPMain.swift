import NIOCore
import QMPTool

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `qmp` executable: everything lives in QMPTool, where tests can reach it.
///
/// Not an async `main`: on Linux that hands the main thread to `dispatch_main`, which ends it
/// with `pthread_exit`, and unwinding the thread reads some 0.8 MB of the binary's unwind tables,
/// a twentieth of what a one-shot `qmp exec` holds. The command runs as a task on the global
/// executor instead, and the main thread waits until the task ends the process. Nothing in
/// the tool runs on the main actor, which this thread therefore never serves.
@main
enum QMPMain {
    static func main() {
        // NIO's shared event loop group has a thread per core by default, each with its stack
        // and malloc arena. Every command but the two servers, which may have thousands of
        // clients, is one client of one monitor, which one loop serves. Set before anything
        // touches the group, as NIO requires.
        let servers = ["mock", "record"]
        if !servers.contains(CommandLine.arguments.dropFirst().first ?? "") {
            NIOSingletons.groupLoopCountSuggestion = 1
        }
        Task.detached {
            await QMPCommand.main()
            exit(EXIT_SUCCESS)
        }
        while true { pause() }
    }
}
