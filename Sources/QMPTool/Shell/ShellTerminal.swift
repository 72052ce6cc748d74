import CLineEditor
import Dispatch
import NIOConcurrencyHelpers

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Line editing comes from libedit, loaded with dlopen (Sources/CLineEditor).
//
// Why libedit: it is a well-kept, BSD-licensed line editor with a readline-compatible API
// (history with search, Emacs and vi key bindings, completion hooks, and the callback
// interface that lets events be printed while a line is being typed). It ships with macOS and
// is installed by default on Debian and Ubuntu (libedit2), so `qmp` needs nothing extra.
// GNU readline would be GPL, and a Swift package for line editing would mean hand-rolled
// terminal handling with a short maintenance record.
//
// Why dlopen: libedit's headers are rarely installed, and a missing library must not stop
// `qmp` from starting. Without libedit, or when standard input or output is not a terminal,
// the shell reads plain lines.
//
// Threads: one thread owns the terminal. It waits (poll) for keys and for a wake-up pipe, feeds
// keys to libedit, and does every write to the terminal: replies and events are posted to it
// as messages, and it hides the line being typed, prints them, and draws the line again.
// Finished lines go to the async side through an AsyncStream; the thread stops reading keys
// until the async side says it is ready for the next line, so replies come before the prompt.

/// The terminal of `qmp shell`: lines in, text out.
final class ShellTerminal: Sendable {
    enum Input: Sendable, Hashable {
        case line(String)
        /// Ctrl-C while typing: the line was discarded.
        case interrupt
        case endOfInput
    }

    /// Completes the line up to the cursor; runs on the terminal thread and may block briefly.
    typealias Completer = @Sendable (_ linePrefix: String) -> ShellCompleter.Completion

    enum Message: Sendable {
        case output(String)
        case ready(prompt: String)
        case addHistory(String)
        case stop
    }

    let inputs: AsyncStream<Input>
    private let continuation: AsyncStream<Input>.Continuation
    /// Whether libedit edits the lines (both ends a terminal and the library found).
    let isInteractive: Bool
    let colors: Bool
    private let messages = NIOLockedValueBox<[Message]>([])
    private let wakeRead: CInt
    private let wakeWrite: CInt
    private let historyPath: String?
    private let completer: Completer
    private let finished = DispatchSemaphore(value: 0)

    /// The shell cannot run without its wake-up pipe (no file descriptors left).
    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    init(historyPath: String?, completer: @escaping Completer) throws(SetupError) {
        let terminal = isatty(0) == 1 && isatty(1) == 1
        isInteractive = terminal && cqmp_le_load() == 1
        colors =
            isatty(1) == 1 && getenv("NO_COLOR") == nil && getenv("TERM").map { String(cString: $0) != "dumb" } != false
        var fds: [CInt] = [-1, -1]
        // The pipe wakes the terminal thread for output; without it the shell cannot run.
        guard pipe(&fds) == 0 else {
            throw SetupError(description: "cannot make the shell's wake-up pipe: \(String(cString: strerror(errno)))")
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, O_NONBLOCK)
        // A wake-up that finds the pipe full is not needed (one is pending), and the SIGINT
        // handler writes here too: it must never block.
        _ = fcntl(wakeWrite, F_SETFL, O_NONBLOCK)
        _ = fcntl(wakeRead, F_SETFD, FD_CLOEXEC)
        _ = fcntl(wakeWrite, F_SETFD, FD_CLOEXEC)
        self.historyPath = historyPath
        self.completer = completer
        (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
    }

    /// Why lines are read without editing, if they are.
    var plainReason: String? {
        if isInteractive { return nil }
        if isatty(0) != 1 || isatty(1) != 1 { return "not a terminal" }
        return String(cString: cqmp_le_description())
    }

    /// Starts the terminal thread with the first prompt.
    func start(prompt: String) {
        let loop = TerminalLoop(terminal: self, prompt: prompt)
        // A queue of its own: the loop blocks in the line editor for the whole session, which
        // must not hold a thread of the cooperative pool.
        DispatchQueue(label: "qmp-shell-terminal").async { [self] in
            loop.run()
            finished.signal()
        }
    }

    func post(_ message: Message) {
        messages.withLockedValue { $0.append(message) }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    func print(_ text: String) {
        post(.output(text.hasSuffix("\n") ? text : text + "\n"))
    }

    /// Messages posted that the terminal thread has not taken yet: they pile up while it is
    /// blocked writing to an output nobody reads.
    var pendingMessages: Int { messages.withLockedValue { $0.count } }

    /// Stops the terminal thread and waits for it (the terminal is restored, history saved).
    func stop() async {
        post(.stop)
        let finished = self.finished
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                finished.wait()
                done.resume()
            }
        }
    }

    // MARK: Used by the terminal thread

    /// The messages posted so far, and whether Ctrl-C was pressed (the signal handler writes a
    /// 2 to the wake-up pipe, `post` a 1).
    fileprivate func takeMessages() -> (interrupted: Bool, messages: [Message]) {
        var bytes = [UInt8](repeating: 0, count: 64)
        var interrupted = false
        while true {
            let count = read(wakeRead, &bytes, 64)
            guard count > 0 else { break }
            interrupted = interrupted || bytes[..<count].contains(2)
        }
        let taken = messages.withLockedValue { messages in
            defer { messages = [] }
            return messages
        }
        return (interrupted, taken)
    }

    fileprivate var wakeDescriptor: CInt { wakeRead }
    fileprivate var wakeWriteDescriptor: CInt { wakeWrite }
    fileprivate var history: String? { historyPath }
    fileprivate func deliver(_ input: Input) { continuation.yield(input) }

    /// Ends the inputs from outside, e.g. when the connection is gone.
    func endInput() { continuation.yield(.endOfInput) }
    fileprivate func complete(_ prefix: String) -> ShellCompleter.Completion { completer(prefix) }
    fileprivate func finishInputs() { continuation.finish() }
}

/// The state of the terminal thread. Only that thread touches it, including from libedit's
/// callbacks, which find it through ``current``.
private final class TerminalLoop: @unchecked Sendable {
    /// Set once by the terminal thread before it calls into libedit; read only there.
    nonisolated(unsafe) static var current: TerminalLoop?

    let terminal: ShellTerminal
    var prompt: String
    /// Whether keys are read (false while the async side handles a line).
    var reading = true
    /// Whether libedit shows a prompt and a line being edited.
    var editing = false
    var running = true
    /// Plain mode: bytes read but not yet delivered as lines.
    var buffered: [UInt8] = []
    var endOfInput = false

    init(terminal: ShellTerminal, prompt: String) {
        self.terminal = terminal
        self.prompt = prompt
    }

    func run() {
        TerminalLoop.current = self
        if terminal.isInteractive {
            cqmp_le_configure("qmp", { text, start, end in TerminalLoop.current?.completions(start: start, end: end) })
            cqmp_le_stifle_history(1000)
            if let path = terminal.history {
                _ = cqmp_le_read_history(path)
            }
        }
        // After libedit's setup, so that nothing replaces the handler.
        installInterruptHandler(wake: terminal.wakeWriteDescriptor)
        // What was posted before the start (the banner) comes before the first prompt.
        handleMessages()
        startLine()
        while running {
            var fds = [pollfd(fd: terminal.wakeDescriptor, events: Int16(POLLIN), revents: 0)]
            if reading && !endOfInput {
                fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0))
            }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[0].revents != 0 {
                handleMessages()
            }
            if fds.count > 1, fds[1].revents != 0, running, reading {
                readInput()
            }
        }
        if editing {
            cqmp_le_remove()
            editing = false
        }
        if terminal.isInteractive, let path = terminal.history {
            _ = cqmp_le_write_history(path)
        }
        terminal.finishInputs()
        TerminalLoop.current = nil
    }

    private func startLine() {
        reading = true
        if terminal.isInteractive {
            cqmp_le_install(prompt, { line in TerminalLoop.current?.lineFinished(line) })
            editing = true
        } else {
            if isatty(1) == 1 && isatty(0) == 1 {
                writeAll(prompt)
            }
            deliverBufferedLine()
        }
    }

    /// libedit's line handler.
    func lineFinished(_ line: UnsafeMutablePointer<CChar>?) {
        cqmp_le_remove()
        editing = false
        reading = false
        guard let line else {
            writeAll("\n")
            terminal.deliver(.endOfInput)
            endOfInput = true
            return
        }
        let text = String(cString: line)
        free(line)
        terminal.deliver(.line(text))
    }

    private func readInput() {
        if terminal.isInteractive {
            cqmp_le_read_char()
            if cqmp_le_take_interrupt() == 1 {
                interrupted()
            }
            return
        }
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count = read(0, &chunk, chunk.count)
        if count < 0 && errno == EINTR { return }
        if count <= 0 {
            endOfInput = true
            if !buffered.isEmpty {
                buffered.append(UInt8(ascii: "\n"))
            }
        } else {
            buffered += chunk[..<count]
        }
        deliverBufferedLine()
    }

    /// Plain mode: hands over one complete line, if there is one.
    private func deliverBufferedLine() {
        if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
            var line = Array(buffered[..<newline])
            buffered.removeSubrange(...newline)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            reading = false
            terminal.deliver(.line(String(decoding: line, as: UTF8.self)))
        } else if endOfInput {
            reading = false
            terminal.deliver(.endOfInput)
        }
    }

    private func handleMessages() {
        let (wasInterrupted, messages) = terminal.takeMessages()
        if wasInterrupted {
            interrupted()
        }
        for message in messages {
            switch message {
            case .output(let text):
                if editing {
                    hideLine()
                    writeAll(text)
                    cqmp_le_redisplay()
                } else {
                    writeAll(text)
                }
            case .ready(let prompt):
                self.prompt = prompt
                if !endOfInput {
                    startLine()
                } else {
                    terminal.deliver(.endOfInput)
                }
            case .addHistory(let line):
                if terminal.isInteractive {
                    cqmp_le_add_history(line)
                    if let path = terminal.history {
                        _ = cqmp_le_write_history(path)
                    }
                }
            case .stop:
                running = false
                return
            }
        }
    }

    /// Ctrl-C: it never ends the shell (a QEMU started with --launch would be left behind);
    /// it drops a half-typed multi-line input. (libedit offers no reliable way to empty the
    /// line from outside a key binding; Ctrl-U does that.)
    private func interrupted() {
        if reading {
            terminal.deliver(.interrupt)
        }
    }

    /// Clears the prompt and the line being edited from the screen, leaving the cursor at the
    /// start of the prompt's row, so that text printed next takes its place.
    private func hideLine() {
        var size = winsize()
        let columns = ioctl(1, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 80
        let line = String(cString: cqmp_le_line_buffer())
        let point = Int(cqmp_le_point())
        let beforeCursor = prompt.count + String(decoding: Array(line.utf8).prefix(point), as: UTF8.self).count
        let row = beforeCursor / columns
        writeAll("\r" + (row > 0 ? "\u{1B}[\(row)A" : "") + "\u{1B}[J")
    }

    /// libedit's completion hook: the candidates as full replacements of libedit's word.
    func completions(start: CInt, end: CInt) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        let bytes = Array(String(cString: cqmp_le_line_buffer()).utf8)
        let cursor = min(Int(end), bytes.count)
        let prefix = String(decoding: bytes[..<cursor], as: UTF8.self)
        let completion = terminal.complete(prefix)
        guard !completion.candidates.isEmpty else { return nil }
        // libedit's word starts at `start`; the completer's at `completion.start`.
        let wordStart = Int(start)
        var words = completion.candidates.compactMap { candidate -> String? in
            let full = Array(bytes[..<completion.start]) + Array(candidate.utf8)
            guard full.count >= wordStart else { return nil }
            return String(decoding: full[wordStart...], as: UTF8.self)
        }
        if words.count == 1 {
            words[0] = ShellCompleter.Completion.insertion(for: words[0])
        }
        var pointers = words.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                cqmp_le_make_matches($0, CInt(buffer.count))
            }
        }
    }
}

/// The descriptor the SIGINT handler writes to; set before the handler is installed.
nonisolated(unsafe) private var interruptWakeDescriptor: CInt = -1

/// Ctrl-C must not kill the shell (a QEMU started with --launch would be left behind): it wakes
/// the terminal thread, which drops the line being typed.
private func installInterruptHandler(wake: CInt) {
    interruptWakeDescriptor = wake
    signal(SIGINT) { _ in
        // Only async-signal-safe work here: one write to the pipe.
        var byte: UInt8 = 2
        _ = write(interruptWakeDescriptor, &byte, 1)
    }
}

/// Writes all of `text` to standard output.
private func writeAll(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        offset += written
    }
}
