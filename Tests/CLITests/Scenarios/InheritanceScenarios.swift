import Foundation
import Testing
import TestSupport

/// Issue 13: retry and timeout at workflow, job and step level, the nearest one winning, never
/// leaking from one step to another (the original NixActions inherited action > job > workflow).
@Suite("Scenarios: retry and timeout defaults at workflow, job and step level")
struct InheritanceScenarios {
    @Test("retry: the workflow's for every step, a job's over it, a step's over both; counted per step")
    func retryLevels() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        // Each step fails until it has run N times (a counter file per step), so its attempts show
        // which retry it got.
        func flaky(_ name: String, _ succeedOn: Int) -> String {
            "n=$(cat \(temp.path)/\(name) 2>/dev/null || echo 0); n=$((n + 1)); echo $n > \(temp.path)/\(name); echo \"\(name) attempt $n\"; [ $n -ge \(succeedOn) ]"
        }
        let workflow = try temp.write("wf.yml", """
            retry: { max-attempts: 2, delay: 10ms }
            jobs:
              inherits-workflow:
                steps:
                  - run: '\(flaky("w", 2))'
              job-level:
                retry: { max-attempts: 3, delay: 10ms }
                steps:
                  - run: '\(flaky("j", 3))'
                  - run: '\(flaky("s", 4))'
                    retry: { max-attempts: 4, delay: 10ms }
                  - run: '\(flaky("after", 4))'
                    continue-on-error: true
              defaults-level:
                defaults:
                  retry: { max-attempts: 1 }
                steps:
                  - run: '\(flaky("d", 2))'
                    continue-on-error: true
            """)
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("w attempt 2"))                                   // the workflow's 2
        #expect(out.contains("j attempt 3") && !out.contains("j attempt 4"))  // the job's 3
        #expect(out.contains("s attempt 4"))                                   // the step's own 4
        // The step's 4 did not leak to the next step: it has the job's 3 and then fails.
        #expect(out.contains("after attempt 3") && !out.contains("after attempt 4"), "\(out)")
        // defaults.retry of the job (1 attempt) wins over the workflow's 2.
        #expect(out.contains("d attempt 1") && !out.contains("d attempt 2"))
    }

    @Test("timeout: defaults.timeout for each step (workflow, then job), a step's own over both; the workflow's timeout limits each job")
    func timeoutLevels() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            timeout: 30s
            defaults:
              timeout: 1s
            jobs:
              a:
                steps:
                  - run: sleep 5
                    continue-on-error: true
                  - run: sleep 2; echo "own limit ok"
                    timeout: 4s
              b:
                defaults:
                  timeout: 3s
                steps:
                  - run: sleep 2; echo "job default ok"
              c:
                timeout: 1s
                steps:
                  - run: sleep 5
            """)
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.seconds < 12)
        #expect(result.status == 1)
        let all = result.stdout + result.stderr
        #expect(all.contains("timed out after 1s"), "\(all)")            // a's first step: the workflow default
        #expect(result.stdout.contains("[a] own limit ok"), "\(result.stdout)")
        #expect(result.stdout.contains("[b] job default ok"))
        #expect(all.contains("job 'c' timed out after 1s"), "\(all)")
        // The dry run shows what each step gets.
        let plan = try await nixactions(["run", workflow, "--dry-run"], in: temp.path)
        #expect(plan.stdout.contains("timeout 1s"), "\(plan.stdout)")
        #expect(plan.stdout.contains("timeout 3s"))
        #expect(plan.stdout.contains("timeout: 30s"))
    }

    @Test("retry given twice at one level is an error at its line")
    func bothRetries() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              a:
                defaults: { retry: 2 }
                retry: 3
                steps: [ { run: echo } ]
            """)
        let result = try await nixactions(["validate", workflow], in: temp.path)
        #expect(result.status == 2)
        #expect(result.stderr.contains("wf.yml:4:5: error: both 'retry' and 'defaults.retry' are given"), "\(result.stderr)")
    }
}
