import Foundation
import Synchronization
import Testing

@testable import NixActionsEngine

/// `withTimeout`, behind every step with `timeout-minutes` and every hidden command with a limit.
@Suite struct WithTimeoutTests {
    @Test("a body that ends in time gives its value; without a limit it just runs")
    func inTime() async {
        // Limits far above what a loaded machine can delay a task by: a body that ends is never late.
        #expect(await withTimeout(.seconds(600)) { 42 } == 42)
        #expect(await withTimeout(nil) { "no limit" } == "no limit")
    }

    @Test("a body still running at the limit is cancelled, and nil says it timed out")
    func timesOut() async {
        let cancelled = Atomic<Bool>(false)
        let start = ContinuousClock.now
        let value: Int? = await withTimeout(.milliseconds(100)) {
            do {
                try await Task.sleep(for: .seconds(600))
                return 1
            } catch {
                cancelled.store(true, ordering: .relaxed)
                return 2  // winds down; the value is dropped
            }
        }
        let wasCancelled = cancelled.load(ordering: .relaxed)
        #expect(value == nil)
        #expect(wasCancelled, "the body saw the cancellation")
        #expect(ContinuousClock.now - start < .seconds(120), "waited for the body instead of cancelling it")
    }

    @Test("an outside cancellation reaches the body, whose value is returned: it is not a timeout")
    func outsideCancellation() async {
        let task = Task { () -> String? in
            await withTimeout(.seconds(60)) {
                do {
                    try await Task.sleep(for: .seconds(60))
                    return "slept"
                } catch {
                    return "cancelled"
                }
            }
        }
        try? await Task.sleep(for: .milliseconds(50))
        task.cancel()
        #expect(await task.value == "cancelled")
    }

    @Test("short limits racing short bodies: a body that finished gives its own value, a timed-out one nil, and a cancelled body's value never comes out")
    func races() async {
        for round in 0..<200 {
            let value: Int? = await withTimeout(.microseconds(200 + (round % 7) * 50)) {
                try? await Task.sleep(for: .microseconds(250))
                return Task.isCancelled ? -1 : round
            }
            #expect(value == nil || value == round, "round \(round): \(String(describing: value))")
        }
    }
}
