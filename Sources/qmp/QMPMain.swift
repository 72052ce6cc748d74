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
        Task.detached {
            await QMPCommand.main()
            exit(EXIT_SUCCESS)
        }
        while true { pause() }
    }
}
