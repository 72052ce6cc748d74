import QMPCore
import Testing

private func event(_ name: String, _ data: JSONObject? = nil) -> QMPEvent {
    QMPEvent(name: name, data: data, timestamp: .init(seconds: 1, microseconds: 0))
}

@Suite("Event rate limiting as QEMU does it")
struct EventThrottleTests {
    @Test("events that are not throttled always go out at once")
    func unthrottled() {
        var throttle = QMPEventThrottle()
        #expect(throttle.offer(event("STOP")) == .send)
        #expect(throttle.offer(event("STOP")) == .send)
    }

    @Test("the first RTC_CHANGE goes out and starts a timer; later ones are held and only the last survives")
    func lastOneWins() {
        var throttle = QMPEventThrottle()
        guard case .sendAndStartTimer(let key) = throttle.offer(event("RTC_CHANGE", ["offset": 1])) else {
            Issue.record("the first event was not sent")
            return
        }
        #expect(throttle.offer(event("RTC_CHANGE", ["offset": 2])) == .held)
        #expect(throttle.offer(event("RTC_CHANGE", ["offset": 3])) == .held)
        #expect(throttle.timerFired(key)?.data?["offset"] == 3)
        // The timer runs again; with nothing held when it fires, the kind is free.
        #expect(throttle.timerFired(key) == nil)
        #expect(throttle.offer(event("RTC_CHANGE", ["offset": 4])) == .sendAndStartTimer(key))
    }

    @Test("VSERPORT_CHANGE is limited per port id")
    func perInstance() {
        var throttle = QMPEventThrottle()
        #expect(throttle.offer(event("VSERPORT_CHANGE", ["id": "a", "open": true])) != .held)
        #expect(throttle.offer(event("VSERPORT_CHANGE", ["id": "b", "open": true])) != .held)
        #expect(throttle.offer(event("VSERPORT_CHANGE", ["id": "a", "open": false])) == .held)
    }
}
