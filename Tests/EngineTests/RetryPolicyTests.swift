import Foundation
@testable import NixActionsEngine
import Testing

@Suite("Retry waits: the backoff table of workflow-syntax.md")
struct RetryPolicyTests {
    @Test("the waits before attempts 2 to 5 with delay 1s are the documented table's; max-delay caps them; the defaults are exponential, 1s and 60s")
    func waits() throws {
        func waits(_ backoff: RetryPolicy.Backoff, delay: Duration = .seconds(1), maxDelay: Duration = .seconds(60)) -> [Duration] {
            let policy = RetryPolicy(maxAttempts: 10, backoff: backoff, delay: delay, maxDelay: maxDelay)
            return (2...5).map { policy.wait(before: $0) }
        }
        #expect(waits(.constant) == [.seconds(1), .seconds(1), .seconds(1), .seconds(1)])
        #expect(waits(.linear) == [.seconds(1), .seconds(2), .seconds(3), .seconds(4)])
        #expect(waits(.exponential) == [.seconds(1), .seconds(2), .seconds(4), .seconds(8)])
        #expect(waits(.exponential, maxDelay: .seconds(3)) == [.seconds(1), .seconds(2), .seconds(3), .seconds(3)])
        #expect(waits(.linear, delay: .zero) == [.zero, .zero, .zero, .zero])
        // 2^min(n, 30): a far attempt neither overflows nor passes max-delay.
        #expect(RetryPolicy(maxAttempts: 100).wait(before: 100) == .seconds(60))

        // `retry: 3` is max-attempts 3 with the other fields at their defaults.
        let loaded = WorkflowLoader.load(yaml: "jobs: { a: { steps: [ { run: 'false', retry: 3 } ] } }", file: "wf.yml")
        let retry = try #require(loaded.workflow?.job("a")?.steps.first?.retry)
        #expect(retry == RetryPolicy(maxAttempts: 3))
        #expect(retry.backoff == .exponential && retry.delay == .seconds(1) && retry.maxDelay == .seconds(60) && retry.onExitCodes == nil)
    }
}
