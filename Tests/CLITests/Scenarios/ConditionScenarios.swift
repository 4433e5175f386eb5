import Foundation
import Testing
import TestSupport

@Suite("Scenarios: if, status functions and continue-on-error")
struct ConditionScenarios {
    @Test("after a failed step: success() (the default) skips, failure() and always() run")
    func stepConditions() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: steps
            jobs:
              build:
                steps:
                  - name: Before
                    run: echo before
                  - name: Breaks
                    id: breaks
                    run: echo breaking; exit 4
                  - name: Default
                    run: echo must-not-run-default
                  - name: Explicit success
                    if: success()
                    run: echo must-not-run-success
                  - name: Plain expression
                    if: github.job == 'build'
                    run: echo must-not-run-plain
                  - name: On failure
                    if: failure()
                    run: echo "on-failure saw outcome=${{ steps.breaks.outcome }} job=${{ job.status }}"
                  - name: Always
                    if: always()
                    run: echo always-step-ran
                  - name: Not on failure
                    if: ${{ !failure() }}
                    run: echo must-not-run-not-failure
            """)
        #expect(result.status == 1)
        let out = result.stdout
        #expect(out.contains("[build] before\n[build] ✓ "))
        #expect(out.contains("[build] > Breaks\n[build] breaking\n[build] ✗ Breaks (exit code 4, "))
        for name in ["Default", "Explicit success", "Plain expression", "Not on failure"] {
            #expect(out.contains("[build] - \(name) (skipped)\n"), "step '\(name)' was not reported skipped")
        }
        #expect(!out.contains("must-not-run"))
        #expect(out.contains("[build] on-failure saw outcome=failure job=failure\n"))
        #expect(out.contains("[build] always-step-ran\n"))
        #expect(out.contains("==> job 'build' failed"))
        #expect(outputLines(out).contains { $0.hasPrefix("build ") && $0.contains("failure") && $0.hasSuffix("'Breaks' (exit code 4)") })
        #expect(out.contains("==> workflow 'steps' failed in "))
    }

    @Test("after a failed job: failure() and always() jobs run, needs.x.result is 'failure', the default skips")
    func jobConditions() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: jobs
            jobs:
              build:
                steps:
                  - run: echo building; exit 2
              ok:
                steps:
                  - run: echo ok
              on-failure:
                needs: build
                if: failure()
                steps:
                  - run: echo failure-job-ran
              on-always:
                needs: build
                if: always()
                steps:
                  - run: echo "always-job-ran result=${{ needs.build.result }}"
              by-result:
                needs: build
                if: ${{ always() && needs.build.result == 'failure' }}
                steps:
                  - run: echo "result-job-ran"
              by-result-implicit:
                # No status function: GitHub adds success(), so this is skipped when build failed.
                needs: build
                if: needs.build.result == 'failure'
                steps:
                  - run: echo must-not-run-implicit
              default:
                needs: build
                steps:
                  - run: echo must-not-run-default
              explicit-success:
                needs: build
                if: success()
                steps:
                  - run: echo must-not-run-success
              downstream-failure:
                # failure() looks at every job upstream, not only the direct needs.
                needs: on-always
                if: failure()
                steps:
                  - run: echo downstream-failure-ran
              on-failure-of-ok:
                needs: ok
                if: failure()
                steps:
                  - run: echo must-not-run-ok-failure
            """)
        #expect(result.status == 1)
        let out = result.stdout
        #expect(out.contains("[on-failure] failure-job-ran\n"))
        #expect(out.contains("[on-always] always-job-ran result=failure\n"))
        #expect(out.contains("[by-result] result-job-ran\n"))
        #expect(out.contains("[downstream-failure] downstream-failure-ran\n"))
        #expect(!out.contains("must-not-run"))
        #expect(out.contains("[default] skipped: needed job 'build' did not succeed\n"))
        for job in ["by-result-implicit", "default", "explicit-success", "on-failure-of-ok"] {
            #expect(out.contains("==> job '\(job)' skipped\n"), "job '\(job)' was not reported skipped")
        }
        let table = outputLines(out)
        for (job, status) in [
            ("build", "failure"), ("ok", "success"), ("on-failure", "success"), ("on-always", "success"),
            ("by-result", "success"), ("by-result-implicit", "skipped"), ("default", "skipped"),
            ("explicit-success", "skipped"), ("downstream-failure", "success"), ("on-failure-of-ok", "skipped"),
        ] {
            #expect(table.contains { $0.hasPrefix(job + " ") && $0.contains(" \(status) ") }, "no table row '\(job) \(status)'")
        }
        #expect(out.contains("==> workflow 'jobs' failed in "))
    }

    @Test("success() at job level looks at the whole chain of needs, as GitHub: after a failure or a skip, a job that needs an always() job is skipped; !failure() and always() run")
    func transitiveSuccess() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: chain
            jobs:
              test:
                steps:
                  - run: exit 1
              report:
                needs: test
                if: always()
                steps:
                  - run: echo report-ran
              publish:
                needs: report
                steps:
                  - run: echo must-not-run-publish
              publish-success:
                needs: report
                if: success()
                steps:
                  - run: echo must-not-run-publish-success
              gated:
                if: github.event_name == 'no-such-event'
                steps:
                  - run: echo must-not-run-gated
              summary:
                needs: gated
                if: always()
                steps:
                  - run: echo summary-ran
              after-summary:
                needs: summary
                steps:
                  - run: echo must-not-run-after-summary
              not-failed:
                needs: summary
                if: ${{ !failure() && !cancelled() }}
                steps:
                  - run: echo not-failed-ran
              fine:
                steps:
                  - run: echo fine
              after-fine:
                needs: fine
                steps:
                  - run: echo after-fine-ran
            """)
        #expect(result.status == 1)
        let out = result.stdout
        for line in ["[report] report-ran\n", "[summary] summary-ran\n", "[not-failed] not-failed-ran\n", "[after-fine] after-fine-ran\n",
                     "[publish] skipped: a job before its needs did not succeed (success() looks at the whole chain, as on GitHub)\n"] {
            #expect(out.contains(line), "missing \(line.debugDescription) in:\n\(out)")
        }
        #expect(!out.contains("must-not-run"), "\(out)")
    }

    @Test("a job's name may read needs (rendered when it starts), strategy and matrix, as GitHub allows")
    func jobNameContexts() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: names
            jobs:
              build:
                outputs:
                  v: ${{ steps.s.outputs.v }}
                steps:
                  - id: s
                    run: echo "v=9" >> "$GITHUB_OUTPUT"
              deploy:
                needs: build
                name: Deploy ${{ needs.build.outputs.v }} (${{ needs.build.result }})
                steps:
                  - run: echo hi
              m:
                strategy:
                  matrix:
                    os: [a, b]
                name: M ${{ strategy.job-index }} of ${{ strategy.job-total }} ${{ matrix.os }}
                steps:
                  - run: echo m
            """, ["-j", "1"])
        #expect(result.status == 0, "\(result.stdout)")
        for line in ["==> job 'Deploy 9 (success)' started", "==> job 'M 0 of 2 a' started", "==> job 'M 1 of 2 b' started"] {
            #expect(result.stdout.contains(line), "missing \(line) in:\n\(result.stdout)")
        }
    }

    @Test("an if: of one ${{ }} with white space around it (a | block's line break, spaces in quotes) is a string, always true, as on GitHub, with a warning; |- is the expression (audit 52)")
    func paddedConditions() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - if: |
                      ${{ false }}
                    run: echo "block ran"
                  - if: " ${{ false }} "
                    run: echo "quoted ran"
                  - if: |-
                      ${{ false }}
                    run: echo "stripped ran"
                  - if: ${{ false }}
                    run: echo "plain ran"
              b:
                if: >
                  ${{ github.event_name == 'nope' }}
                steps:
                  - run: echo "job ran"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let lines = outputLines(result.stdout)
        #expect(lines.contains("[a] block ran") && lines.contains("[a] quoted ran") && lines.contains("[b] job ran"), "\(result.stdout)")
        #expect(!lines.contains("[a] stripped ran") && !lines.contains("[a] plain ran"), "\(result.stdout)")
        #expect(result.stderr.components(separatedBy: "this condition is always true").count == 4, "\(result.stderr)")
        #expect(result.stderr.contains("wf.yml:4:"), "\(result.stderr)")
        // validate gives the same three warnings, and the file is valid.
        let validated = try await nixactions(["validate", scenario.temp.path + "/wf.yml"], in: scenario.project)
        #expect(validated.status == 0, "\(validated.stderr)")
        #expect(validated.stderr.components(separatedBy: "this condition is always true").count == 4, "\(validated.stderr)")
    }

    @Test("outside if:, a lone ${{ }} with white space around it gives its value (continue-on-error false fails the job, timeout-minutes 1 is one minute)")
    func paddedValues() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - run: echo "limited"
                    timeout-minutes: " ${{ 1 }} "
                  - run: exit 3
                    continue-on-error: " ${{ false }}"
            """, ["--log-format", "json"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        let events = try JSONEvents(result.stdout)
        let job = try events.one("job_finished", job: "a")
        #expect(job["status"] as? String == "failure" && job["failed_step"] as? String == "Run exit 3", "\(job)")
        let steps = events.all("step_finished", job: "a")
        #expect(steps.map { $0["status"] as? String } == ["success", "failure"], "\(steps)")
        #expect(!result.stderr.contains("always true"), "\(result.stderr)")
    }

    @Test("an if: of text with ${{ }} in it (`${{ a }} && ${{ b }}`) is a string, always true, as on GitHub, with a warning that says how to write it (audit 56 U1)")
    func textWithExpressionsCondition() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                if: ${{ false }} && ${{ false }}
                steps:
                  - if: ${{ false }} || ${{ false }}
                    run: echo "step ran"
                  - if: false && ${{ true }}
                    run: echo "mixed ran"
                  - if: ${{ false }}
                    run: echo "one ran"
                  - if: false && true
                    run: echo "bare ran"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let lines = outputLines(result.stdout)
        #expect(lines.contains("[a] step ran") && lines.contains("[a] mixed ran"), "\(result.stdout)")
        #expect(!lines.contains("[a] one ran") && !lines.contains("[a] bare ran"), "\(result.stdout)")
        #expect(result.stderr.components(separatedBy: "this condition is always true: the text beside its ${{ }} makes it a string").count == 4, "\(result.stderr)")
        #expect(result.stderr.contains("write one expression: `if: ${{ a && b }}`"), "\(result.stderr)")
    }

    @Test("continue-on-error takes only a boolean, as GitHub: a string ('false', 'true') is an error and the failure is not allowed; fromJSON gives a boolean (audit 52: 'false' was truthy)")
    func continueOnErrorNeedsABoolean() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            env:
              ALLOW: "true"
            jobs:
              a:
                steps:
                  - run: exit 3
                    continue-on-error: ${{ fromJSON(env.ALLOW) }}
                  - run: echo "after the allowed failure"
                  - run: exit 4
                    continue-on-error: ${{ env.ALLOW }}
                  - run: echo "must not run"
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        let lines = outputLines(result.stdout)
        #expect(lines.contains("[a] after the allowed failure") && !lines.contains("[a] must not run"), "\(result.stdout)")
        #expect(result.stdout.contains("'continue-on-error': Unexpected value 'true': it must be a boolean"), "\(result.stdout)")
        // Read only for a step that failed, as GitHub's runner does: a skipped step and one that
        // succeeded say nothing of it (audit 66 fidelity L2).
        let quiet = try await scenario.run("""
            jobs:
              b:
                steps:
                  - if: false
                    continue-on-error: ${{ matrix.experimental }}
                    run: echo never
                  - continue-on-error: ${{ matrix.experimental }}
                    run: echo "succeeds"
                  - continue-on-error: ${{ fromJSON('{') }}
                    run: echo "succeeds too"
            """)
        #expect(quiet.status == 0 && quiet.stdout.contains("[b] succeeds too"), "\(quiet.stdout)\(quiet.stderr)")
        #expect(!quiet.stdout.contains("continue-on-error"), "\(quiet.stdout)")
    }

    @Test("continue-on-error on a step: later steps run, outcome is failure, conclusion is success, the job succeeds")
    func continueOnErrorStep() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: coe-step
            jobs:
              build:
                steps:
                  - name: Flaky
                    id: flaky
                    continue-on-error: true
                    run: echo trying; exit 7
                  - name: Next
                    run: |
                      echo "next ran outcome=${{ steps.flaky.outcome }} conclusion=${{ steps.flaky.conclusion }}"
                      echo "job status=${{ job.status }}"
                  - name: Gate
                    if: steps.flaky.outcome == 'failure'
                    run: echo gate-ran
                  - name: On failure
                    if: failure()
                    run: echo must-not-run-on-failure
              after:
                needs: build
                steps:
                  - run: echo "after ran result=${{ needs.build.result }}"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("[build] ✗ Flaky (exit code 7, "))
        #expect(out.contains("[build] warning: step 'Flaky' failed; allowed by continue-on-error\n"))
        #expect(out.contains("[build] next ran outcome=failure conclusion=success\n"))
        #expect(out.contains("[build] job status=success\n"))
        #expect(out.contains("[build] gate-ran\n"))
        #expect(out.contains("[build] - On failure (skipped)\n"))
        #expect(!out.contains("must-not-run"))
        #expect(out.contains("==> job 'build' succeeded"))
        #expect(out.contains("[after] after ran result=success\n"))
        #expect(out.contains("==> workflow 'coe-step' succeeded in "))
    }

    @Test("continue-on-error on a job: the run exits 0 and the jobs that need it run")
    func continueOnErrorJob() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: coe-job
            jobs:
              experimental:
                continue-on-error: true
                steps:
                  - run: echo experimental; exit 5
                  - name: Never
                    run: echo must-not-run-after-failure
              dependant:
                needs: experimental
                steps:
                  - run: echo dependant-ran
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("[experimental] experimental\n"))
        #expect(out.contains("(exit code 5, "))
        #expect(out.contains("[experimental] - Never (skipped)\n"), "a failed step still stops its job")
        #expect(!out.contains("[experimental] must-not-run"))
        #expect(out.contains("[experimental] warning: job failed; allowed by continue-on-error\n"))
        #expect(out.contains("[dependant] dependant-ran\n"))
        let all = outputLines(out)
        let experimentalDone = try #require(all.firstIndex { $0.hasPrefix("==> job 'experimental' ") && !$0.hasSuffix(" started") })
        let dependantStarted = try #require(all.firstIndex(of: "==> job 'dependant' started"))
        #expect(experimentalDone < dependantStarted)
        #expect(out.contains("==> workflow 'coe-job' succeeded in "))
    }
}
