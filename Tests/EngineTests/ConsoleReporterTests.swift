@testable import NixActionsEngine
import Synchronization
import Testing

@Suite("Console: one line per finished step, the summary table in plan order with totals")
struct ConsoleReporterTests {
    /// A plain console whose text is collected.
    final class Collected: Sendable {
        let text = Mutex("")
        var reporter: ConsoleReporter { ConsoleReporter(style: .plain) { line in self.text.withLock { $0 += line } } }
    }

    @Test("a finished step: ✓ with its duration, ✗ with exit code and duration, skipped, cancelled")
    func stepLines() {
        let collected = Collected()
        let console = collected.reporter
        console.report(.stepFinished(job: "build", step: 0, name: "Run make", outcome: .success, exitCode: 0, duration: .milliseconds(1200)))
        console.report(.stepFinished(job: "build", step: 1, name: "Test", outcome: .failure, exitCode: 2, duration: .milliseconds(3410)))
        console.report(.stepFinished(job: "build", step: 2, name: "Refused", outcome: .failure, exitCode: nil, duration: .zero))
        console.report(.stepFinished(job: "build", step: 3, name: "Deploy", outcome: .skipped, exitCode: nil, duration: .zero))
        console.report(.stepFinished(job: "build", step: 4, name: "Wait", outcome: .cancelled, exitCode: nil, duration: .seconds(2)))
        #expect(collected.text.withLock { $0 } == """
            [build] ✓ Run make (1.20s)
            [build] ✗ Test (exit code 2, 3.41s)
            [build] ✗ Refused
            [build] - Deploy (skipped)
            [build] ✗ Wait (cancelled, 2.00s)

            """)
    }

    @Test("the table lists jobs in plan order, not finish order, then the counts per outcome and the run's duration")
    func orderedTable() {
        let collected = Collected()
        let console = collected.reporter
        console.report(.planned(jobs: ["lint", "test", "package", "notify"]))
        // Finish order differs from plan order.
        console.report(.jobFinished(job: "test", name: "test", outcome: .failure, duration: .seconds(3),
                                    failure: JobFailure(stepIndex: 1, stepName: "Run tests", exitCode: 1, message: "failed")))
        console.report(.jobFinished(job: "package", name: "package", outcome: .skipped, duration: .zero, failure: nil))
        console.report(.jobFinished(job: "notify", name: "notify", outcome: .success, duration: .milliseconds(500), failure: nil))
        console.report(.jobFinished(job: "lint", name: "lint", outcome: .success, duration: .seconds(1), failure: nil))
        console.report(.workflowFinished(workflow: "ci", outcome: .failure, duration: .milliseconds(4250)))
        #expect(collected.text.withLock { $0 }.hasSuffix("""

            JOB      STATUS   DURATION  FAILED STEP
            lint     success  1.00s
            test     failure  3.00s     'Run tests' (exit code 1)
            package  skipped  -
            notify   success  0.50s

            4 jobs: 2 succeeded, 1 failed, 1 skipped in 4.25s

            ==> workflow 'ci' failure in 4.25s

            """), "\(collected.text.withLock { $0 })")
    }
}
