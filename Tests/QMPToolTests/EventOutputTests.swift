import QMPCore
import Testing

@testable import QMPTool

/// `qmp events --format text` prints what any server sends without crashing and without
/// handing the terminal anything but text.
@Suite("Event output")
struct EventOutputTests {
    func textLine(seconds: Int64, microseconds: Int64, name: String = "STOP") -> String {
        let event = QMPEvent(name: name, timestamp: .init(seconds: seconds, microseconds: microseconds))
        return EventsCommand.render(event, format: .text, sinceStart: nil)
    }

    @Test("an ordinary timestamp is printed as seconds with six decimals")
    func ordinaryTimestamp() {
        #expect(textLine(seconds: 1_700_000_000, microseconds: 42) == "1700000000.000042 STOP")
    }

    @Test("a timestamp beyond what microseconds in 64 bits can hold is printed, not a crash")
    func hugeTimestamp() {
        #expect(textLine(seconds: 9_300_000_000_000, microseconds: 5) == "9300000000000.000005 STOP")
        #expect(textLine(seconds: Int64.max, microseconds: 999_999) == "\(Int64.max).999999 STOP")
    }

    @Test("microseconds outside a second carry into the seconds, or are shown as sent when they cannot")
    func microsecondsOutOfRange() {
        #expect(textLine(seconds: 10, microseconds: 2_500_000) == "12.500000 STOP")
        #expect(textLine(seconds: 10, microseconds: -1) == "9.999999 STOP")
        #expect(textLine(seconds: Int64.max, microseconds: 1_000_000) == "\(Int64.max)s+1000000us STOP")
        #expect(textLine(seconds: 0, microseconds: Int64.min) == "0s+\(Int64.min)us STOP")
    }

    @Test("a negative second count is QEMU's clock-unavailable mark")
    func negativeSeconds() {
        #expect(textLine(seconds: -1, microseconds: -1) == "- STOP")
        #expect(textLine(seconds: Int64.min, microseconds: Int64.max) == "- STOP")
    }

    @Test("seconds since start are printed for any duration, however long")
    func sinceStart() {
        #expect(EventsCommand.fixed(1.5) == "1.500000")
        #expect(EventsCommand.fixed(1e300) == "\(1e300)")
        #expect(EventsCommand.fixed(-0.25) == "-0.250000")
    }
}

/// What a server sends reaches the terminal as visible text: escape sequences and other control
/// characters are shown, not obeyed.
@Suite("Server text on the terminal")
struct TerminalTextTests {
    @Test("an event name with an escape sequence is printed escaped in text format")
    func eventName() {
        let event = QMPEvent(name: "STOP\u{1B}]0;owned\u{07}", timestamp: .init(seconds: 1, microseconds: 0))
        let line = EventsCommand.render(event, format: .text, sinceStart: nil)
        #expect(line == #"1.000000 STOP\u001b]0;owned\u0007"#)
    }

    @Test("an error desc with control characters is printed escaped, on one line")
    func errorDescription() {
        let error = QMPError(
            code: .commandFailed,
            errorClass: "Generic\u{9B}31m",
            message: "no\u{1B}[2J such\ndevice\r\u{7F}"
        )
        let (line, code) = failureLine(for: error)
        #expect(line == #"error: Generic\u009b31m: no\u001b[2J such\u000adevice\u000d\u007f"#)
        #expect(code == ExitCodes.commandFailed)
    }

    @Test("text meant to span lines keeps its line breaks and tabs, and loses only the controls")
    func multiLineText() {
        #expect(escapingControlCharacters("a\tb\nc\u{1B}[0m", keepingLineBreaks: true) == "a\tb\nc\\u001b[0m")
        #expect(escapingControlCharacters("plain text, ünïcode") == "plain text, ünïcode")
    }
}
