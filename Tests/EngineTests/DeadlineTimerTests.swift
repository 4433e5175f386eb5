import Foundation
import Synchronization
import Testing

@testable import NixActionsEngine

/// The shared timer behind job time limits and plugin operations' watchdogs.
@Suite struct DeadlineTimerTests {
    /// Wait (polling, with `Task.sleep`: a blocked thread of Swift's small pool would starve the
    /// tasks some of these tests wait for) until `condition` holds or `limit` passes. The limits
    /// are minutes: while the whole suite starts, a task's next turn can come half a minute late.
    static func waitUntil(_ limit: Duration, _ condition: () -> Bool) async -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return condition()
    }

    static func pause(_ duration: Duration) async { try? await Task.sleep(for: duration) }

    @Test func anActionRunsAfterItsDelayAndNotBefore() async {
        let timer = DeadlineTimer()
        let ranAt = Mutex<ContinuousClock.Instant?>(nil)
        let start = ContinuousClock.now
        timer.schedule(after: .milliseconds(150)) { ranAt.withLock { $0 = ContinuousClock.now } }
        await Self.pause(.milliseconds(50))
        // (Only while the deadline is surely ahead: on a busy machine the pause may overshoot it.)
        if ContinuousClock.now - start < .milliseconds(120) { #expect(ranAt.withLock { $0 } == nil, "ran before its deadline") }
        #expect(await Self.waitUntil(.seconds(300)) { ranAt.withLock { $0 } != nil })
        if let at = ranAt.withLock({ $0 }) { #expect(at - start >= .milliseconds(150)) }
        #expect(timer.pending == 0)
    }

    @Test func aCancelledActionNeverRuns() async {
        let timer = DeadlineTimer()
        let ran = Atomic<Int>(0)
        let token = timer.schedule(after: .milliseconds(1000)) { ran.add(1, ordering: .relaxed) }
        timer.cancel(token)
        #expect(timer.pending == 0)
        // A later one still runs: the thread is alive and woke for the cancelled deadline for nothing.
        timer.schedule(after: .milliseconds(1200)) { ran.add(10, ordering: .relaxed) }
        #expect(await Self.waitUntil(.seconds(300)) { ran.load(ordering: .relaxed) == 10 })
        await Self.pause(.milliseconds(100))
        #expect(ran.load(ordering: .relaxed) == 10)
    }

    @Test func anEarlierDeadlineScheduledAfterALaterOneWakesTheThread() async {
        let timer = DeadlineTimer()
        let ranAt = Mutex<ContinuousClock.Instant?>(nil)
        let far = timer.schedule(after: .seconds(3600)) { ranAt.withLock { $0 = ContinuousClock.now } }
        let start = ContinuousClock.now
        timer.schedule(after: .milliseconds(80)) { ranAt.withLock { $0 = $0 ?? ContinuousClock.now } }
        #expect(await Self.waitUntil(.seconds(300)) { ranAt.withLock { $0 } != nil })
        // Timed on the timer's own thread (not when this task, on a busy pool, looked): asleep
        // until the hour-long deadline, it would not have run for an hour.
        if let at = ranAt.withLock({ $0 }) { #expect(at - start < .seconds(60)) }
        #expect(timer.pending == 1)
        timer.cancel(far)
        #expect(timer.pending == 0)
    }

    @Test func manyDeadlinesEachRunOnceAndNotEarly() async {
        let timer = DeadlineTimer()
        let count = 1_000
        let early = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        var random = SystemRandomNumberGenerator()
        var cancelledCount = 0
        for index in 0..<count {
            // A cancel races with a deadline being taken out (documented): the ones cancelled here
            // are far enough ahead that no machine is that slow.
            let cancelled = index % 10 == 0
            let delay = Duration.milliseconds(cancelled ? Int.random(in: 2_000...3_000, using: &random) : Int.random(in: 0...200, using: &random))
            let due = ContinuousClock.now + delay
            let token = timer.schedule(after: delay) {
                if ContinuousClock.now < due { early.add(1, ordering: .relaxed) }
                done.add(1, ordering: .relaxed)
            }
            if cancelled {
                timer.cancel(token)
                cancelledCount += 1
            }
        }
        let expected = count - cancelledCount
        #expect(await Self.waitUntil(.seconds(300)) { done.load(ordering: .relaxed) >= expected })
        await Self.pause(.milliseconds(50))
        #expect(done.load(ordering: .relaxed) == expected)
        #expect(early.load(ordering: .relaxed) == 0)
        #expect(timer.pending == 0)
    }

    /// Out of threads: deadlines fall back to sleeping tasks, and a cancel still holds.
    @Test func withoutItsThreadDeadlinesStillPass() async {
        let timer = DeadlineTimer(threadAvailable: false)
        let ran = Atomic<Int>(0)
        let kept = timer.schedule(after: .milliseconds(60)) { ran.add(1, ordering: .relaxed) }
        let dropped = timer.schedule(after: .milliseconds(60)) { ran.add(100, ordering: .relaxed) }
        timer.cancel(dropped)
        _ = kept
        #expect(await Self.waitUntil(.seconds(300)) { ran.load(ordering: .relaxed) == 1 })
        await Self.pause(.milliseconds(100))
        #expect(ran.load(ordering: .relaxed) == 1)
        #expect(timer.pending == 0)
    }
}
