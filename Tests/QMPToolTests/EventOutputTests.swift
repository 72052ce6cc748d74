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
