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
        // Exited 0, failed for another reason (a bad GITHUB_ENV line): no "exit code 0" (audit 53).
        console.report(.stepFinished(job: "build", step: 5, name: "Env", outcome: .failure, exitCode: 0, duration: .milliseconds(10)))
        #expect(collected.text.withLock { $0 } == """
            [build] ✓ Run make (1.20s)
            [build] ✗ Test (exit code 2, 3.41s)
            [build] ✗ Refused
            [build] - Deploy (skipped)
            [build] ✗ Wait (cancelled, 2.00s)
            [build] ✗ Env (0.01s)

            """)
    }

    @Test("a timed-out step says so on its line and in the table's FAILED STEP (audit 58 examples L2: only the error line, which scrolls away)")
    func timedOutStep() {
        let collected = Collected()
        let console = collected.reporter
        console.report(.planned(jobs: ["build"]))
        console.report(.stepFinished(job: "build", step: 0, name: "Slow", outcome: .failure, exitCode: nil, duration: .seconds(2), timeLimit: .seconds(2)))
        console.report(.jobFinished(job: "build", name: "build", outcome: .failure, duration: .milliseconds(2290),
                                    failure: JobFailure(stepIndex: 0, stepName: "Slow", message: "step 'Slow' timed out after 2s", stepTimeLimit: .seconds(2))))
        console.report(.workflowFinished(workflow: "ci", outcome: .failure, duration: .seconds(3)))
        let text = collected.text.withLock { $0 }
        #expect(text.contains("[build] ✗ Slow (timed out after 2s, 2.00s)\n"), "\(text)")
        #expect(text.contains("'Slow' (timed out after 2s)"), "\(text)")
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

            ==> workflow 'ci' failed in 4.25s

            """), "\(collected.text.withLock { $0 })")
    }

    @Test("names a matrix or an expression gave: control characters shown as escapes, wide characters counted as two columns")
    func hostileNames() {
        let collected = Collected()
        let console = collected.reporter
        let names = ["build (os: x\ny)", "build (os: \u{1B}[2J\u{1B}]0;owned\u{07})", "build (os: \u{0}z\u{9B}31m)", "build (os: 名前)", "build (os: a)"]
        console.report(.planned(jobs: names.indices.map { "j\($0)" }))
        for (index, name) in names.enumerated() {
            console.report(.jobStarted(job: "j\(index)", name: name))
            console.report(.stepStarted(job: "j\(index)", step: 0, name: "Deploy \(name)"))
            console.report(.stepFinished(job: "j\(index)", step: 0, name: "Deploy \(name)", outcome: .failure, exitCode: 1, duration: .seconds(1)))
            console.report(.jobFinished(job: "j\(index)", name: name, outcome: .failure, duration: .seconds(1),
                                        failure: JobFailure(stepIndex: 0, stepName: "Deploy \(name)", exitCode: 1, message: "failed")))
        }
        console.report(.workflowFinished(workflow: "ci", outcome: .failure, duration: .seconds(5)))
        let text = collected.text.withLock { $0 }
        // Nothing a terminal would act on: no control character but the lines' own newlines.
        #expect(!text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) }, "\(text.debugDescription)")
        #expect(text.contains("==> job 'build (os: x\\ny)' started"), "\(text)")
        #expect(text.contains("[j1] > Deploy build (os: \\x1B[2J\\x1B]0;owned\\x07)"), "\(text)")
        #expect(text.contains("build (os: \\x00z\\x9B31m)"), "\(text)")
        // The table's columns line up in a terminal: STATUS starts at one column on every row.
        let table = text.split(separator: "\n").map(String.init).drop { !$0.hasPrefix("JOB ") }.prefix(names.count + 1)
        #expect(table.count == names.count + 1, "\(text)")
        let statusColumns = table.map { line -> Int in
            let prefix = line.components(separatedBy: line.hasPrefix("JOB ") ? "STATUS" : "failure").first ?? ""
            return DisplayText.width(prefix)
        }
        #expect(Set(statusColumns).count == 1, "\(statusColumns)\n\(table.joined(separator: "\n"))")
    }
}
