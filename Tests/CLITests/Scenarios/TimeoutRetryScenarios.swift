import Foundation
import NixActionsEngine
import Testing
import TestSupport

@Suite("Scenarios: step timeouts and retries")
struct TimeoutRetryScenarios {
    @Test("timeout: 1s on sleep 30 fails the step within seconds, ends its process tree, and the run exits 1")
    func stepTimeout() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: timeouts
            env:
              MARKS: \(scenario.marks)
            jobs:
              slow:
                steps:
                  - name: Sleeper
                    timeout: 1s
                    run: |
                      (sleep 2; touch "$MARKS/orphan") &
                      echo sleeping
                      sleep 30
                      echo must-not-wake
                  - name: After
                    run: echo must-not-run
                  - name: Cleanup
                    if: always()
                    run: echo cleanup-ran
            """)
        let elapsed = result.seconds
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(elapsed < 15, "the timeout did not stop the step: the run took \(elapsed) s")
        let out = result.stdout
        #expect(out.contains("[slow] sleeping\n"))
        #expect(out.contains("[slow] error: step 'Sleeper' timed out after 1s; its process tree was ended\n"))
        #expect(out.contains("[slow] ✗ Sleeper (timed out after 1s, 1."), "\(out)")  // no exit code; its time limit
        #expect(!out.contains("must-not-wake"))
        #expect(out.contains("[slow] - After (skipped)\n"))
        #expect(!out.contains("[slow] must-not-run"))
        #expect(out.contains("[slow] cleanup-ran\n"))
        #expect(out.contains("==> job 'slow' failed"))
        #expect(outputLines(out).contains { $0.hasPrefix("slow ") && $0.contains(" failure ") && $0.hasSuffix("'Sleeper' (timed out after 1s)") })
        #expect(out.contains("==> workflow 'timeouts' failed in "))
        // The background child of the step was ended with it.
        try await pause(until: Date().addingTimeInterval(3.5 - elapsed))  // 3.5 s after the run began
        #expect(!scenario.marked("orphan"), "a process of the timed-out step outlived it")
    }

    @Test("a step that stopped itself (SIGSTOP) gets SIGCONT after the SIGTERM of its time limit: its TERM handler runs in the grace, not the SIGKILL after it (audit 66 hardening L7)")
    func stoppedStepIsResumed() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            env:
              MARKS: \(scenario.marks)
            jobs:
              a:
                steps:
                  - timeout: 1s
                    run: |
                      trap 'echo handled > "$MARKS/term"; exit 3' TERM
                      kill -STOP $$
                      sleep 30
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(scenario.mark("term") == "handled", "the step's TERM handler did not run: \(result.stdout)")
    }

    /// A step that fails until its `succeedOn`-th attempt (counted in a marker file).
    static func counting(_ name: String, succeedOn: Int) -> String {
        """
        n=$(cat "$MARKS/\(name)" 2>/dev/null || echo 0)
        n=$((n + 1))
        echo "$n" > "$MARKS/\(name)"
        echo "\(name) attempt $n"
        [ "$n" -ge \(succeedOn) ] || exit 9
        """
    }

    @Test("on the local executor too, what a timed-out step's group prints in its grace is that step's output, and a member that ignores SIGTERM is gone before the next step (as RealExecutorSuites checks for oci and ssh)")
    func graceOutputLocal() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("jobs:\n" + RealExecutorSuites.ignorerJob(executor: "{ plugin: local, with: { grace-seconds: 1 } }"),
                                            ["--log-format", "plain"])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(RealExecutorSuites.saidInGrace(result.stdout), "\(result.stdout)")
        #expect(result.stdout.contains("[ignorer] the ignorer is gone"), "\(result.stdout)")
    }

    @Test("retry: { max-attempts: 3, delay: 100ms } succeeds on the third attempt")
    func retrySucceeds() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: retries
            env:
              MARKS: \(scenario.marks)
            jobs:
              eventually:
                steps:
                  - name: Flaky
                    retry: { max-attempts: 3, delay: 100ms }
                    run: |
            \(indented(Self.counting("flaky", succeedOn: 3), by: 10))
                  - run: echo after-flaky
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(scenario.mark("flaky") == "3")
        let out = result.stdout
        #expect(out.contains("[eventually] flaky attempt 1\n"))
        #expect(out.contains("[eventually] warning: step 'Flaky' failed (exit code 9); attempt 2 of 3 in "))
        #expect(out.contains("[eventually] warning: step 'Flaky' failed (exit code 9); attempt 3 of 3 in "))
        #expect(out.contains("[eventually] flaky attempt 3\n"))
        #expect(!out.contains("step 'Flaky' failed with"))
        #expect(!out.contains("error:"))
        #expect(out.contains("[eventually] after-flaky\n"))
        #expect(out.contains("==> job 'eventually' succeeded"))
        #expect(outputLines(out).filter { $0 == "[eventually] > Flaky" }.count == 1, "one step, several attempts")
    }

    @Test("an attempt killed by a signal says so in the retry line, the events and the final error (audit 48: 'exit code -')")
    func retryKilledBySignal() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let workflow = """
            jobs:
              sig:
                steps:
                  - name: Killed
                    retry: { max-attempts: 2, delay: 10ms }
                    run: kill -9 $$
            """
        let result = try await scenario.run(workflow, ["--log-format", "json"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        let retrying = result.stdout.split(separator: "\n").first { $0.contains("\"event\":\"step_retrying\"") } ?? ""
        #expect(retrying.contains("\"signal\":9") && retrying.contains("\"exit_code\":null"), "\(result.stdout)")
        #expect(result.stdout.contains("step 'Killed' failed after 2 attempts (the last killed by signal 9)"), "\(result.stdout)")
        // The last attempt's signal is a field of the step's end too (audit 54 L4).
        let finished = try #require(try JSONEvents(result.stdout).all("step_finished", job: "sig").first)
        #expect(finished["signal"] as? Int == 9 && finished["exit_code"] is NSNull, "\(finished)")
        let plain = try await scenario.run(workflow)
        #expect(plain.stdout.contains("[sig] warning: step 'Killed' failed (killed by signal 9); attempt 2 of 2 in 10ms"), "\(plain.stdout)")
    }

    @Test("timeout-minutes 0 (given or from an expression) sets no limit of its own, as on GitHub, and the defaults apply; validate warns (audit 55 F4: refused)")
    func zeroTimeout() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let workflow = """
            jobs:
              zero:
                timeout-minutes: 0
                steps:
                  - run: sleep 1.5; echo step-zero-ran
                    timeout-minutes: 0
                  - run: sleep 1.5; echo expression-zero-ran
                    timeout-minutes: ${{ fromJSON('0') }}
              defaulted:
                defaults:
                  timeout: 1s
                steps:
                  - name: Falls back
                    run: sleep 30
                    timeout-minutes: ${{ fromJSON('-1') }}
            """
        let result = try await scenario.run(workflow, ["--log-format", "plain"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[zero] step-zero-ran") && result.stdout.contains("[zero] expression-zero-ran"), "\(result.stdout)")
        #expect(result.stdout.contains("==> job 'zero' succeeded"), "\(result.stdout)")
        // The job's default for its steps applies to the step whose expression gave -1.
        #expect(result.stdout.contains("[defaulted] error: step 'Falls back' timed out after 1s"), "\(result.stdout)")
        #expect(result.seconds < 20, "the default did not apply: \(result.seconds) s")
        let validation = try await nixactions(["validate", scenario.temp.path + "/wf.yml"], in: scenario.project)
        #expect(validation.status == 0, "\(validation.stdout)\n\(validation.stderr)")
        let warnings = (validation.stdout + validation.stderr).components(separatedBy: "warning: timeout-minutes '0' sets no time limit of its own").count - 1
        #expect(warnings == 2, "\(validation.stdout)\(validation.stderr)")
    }

    @Test("a step's and a job's time limits are fields of their ends in the events (timed_out_after_ms), not only text (audit 54 L4)")
    func timeoutsInEvents() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              step-limit:
                steps:
                  - name: Slow
                    timeout: 500ms
                    run: sleep 30
              job-limit:
                timeout-minutes: 0.02
                steps:
                  - run: sleep 30
              plain:
                steps:
                  - run: exit 3
            """, ["--log-format", "json"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        let events = try JSONEvents(result.stdout)
        let slow = try #require(events.all("step_finished", job: "step-limit").first)
        #expect(slow["status"] as? String == "failure" && slow["timed_out_after_ms"] as? Int == 500 && slow["signal"] == nil, "\(slow)")
        #expect(try events.one("job_finished", job: "step-limit")["timed_out_after_ms"] == nil)  // its step's limit, not the job's
        let job = try events.one("job_finished", job: "job-limit")
        #expect(job["status"] as? String == "failure" && job["timed_out_after_ms"] as? Int == 1200, "\(job)")
        #expect(events.all("step_finished", job: "job-limit").allSatisfy { $0["timed_out_after_ms"] == nil })
        let plain = try #require(events.all("step_finished", job: "plain").first)
        #expect(plain["exit_code"] as? Int == 3 && plain["timed_out_after_ms"] == nil && plain["signal"] == nil, "\(plain)")
        #expect(try events.one("job_finished", job: "plain")["timed_out_after_ms"] == nil)
        // And they replay from events.jsonl.
        let folder = try #require(scenario.logFolders().first)
        let state = try RunState.replay(try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8))
        let jobs = Dictionary(uniqueKeysWithValues: state.jobs.map { ($0.key, $0) })
        #expect(jobs["step-limit"]?.steps.first?.timedOutAfterMilliseconds == 500 && jobs["step-limit"]?.timedOutAfterMilliseconds == nil)
        #expect(jobs["job-limit"]?.timedOutAfterMilliseconds == 1200)
        #expect(jobs["plain"]?.steps.first?.timedOutAfterMilliseconds == nil && jobs["plain"]?.steps.first?.exitCode == 3)
    }

    @Test("an exhausted retry fails the step and the job, and is never reported as a success")
    func retryExhausted() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: exhausted
            env:
              MARKS: \(scenario.marks)
            jobs:
              never:
                steps:
                  - name: Hopeless
                    retry: { max-attempts: 3, delay: 100ms }
                    run: |
            \(indented(Self.counting("hopeless", succeedOn: 99), by: 10))
                  - name: After
                    run: echo must-not-run
            """, ["--log-format", "json"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(scenario.mark("hopeless") == "3", "exactly max-attempts attempts")
        let events = try JSONEvents(result.stdout)
        let texts = events.all("output", job: "never").compactMap { $0["text"] as? String }
        #expect(texts == ["hopeless attempt 1", "hopeless attempt 2", "hopeless attempt 3"])
        let messages = events.all("message", job: "never").compactMap { $0["text"] as? String }
        #expect(messages.contains("step 'Hopeless' failed after 3 attempts"), "\(messages)")
        // The step finished once, as a failure with the last exit code; nothing reports success.
        let steps = events.all("step_finished", job: "never")
        let hopeless = steps.filter { $0["name"] as? String == "Hopeless" }
        #expect(hopeless.count == 1)
        #expect(hopeless.first?["status"] as? String == "failure")
        #expect(JSONEvents.int(hopeless.first?["exit_code"]) == 9)
        #expect(!steps.contains { $0["status"] as? String == "success" })
        #expect(steps.contains { $0["name"] as? String == "After" && $0["status"] as? String == "skipped" })
        // Each retry is an event of its own, and the step's end says how many attempts it took.
        let retries = events.all("step_retrying", job: "never")
        #expect(retries.map { JSONEvents.int($0["attempt"]) } == [1, 2], "\(retries)")
        #expect(retries.allSatisfy { JSONEvents.int($0["max_attempts"]) == 3 && JSONEvents.int($0["exit_code"]) == 9
                                     && JSONEvents.int($0["step"]) == JSONEvents.int(hopeless.first?["step"])
                                     && (JSONEvents.int($0["wait_ms"]) ?? 0) >= 100 && $0["name"] as? String == "Hopeless" })
        #expect(JSONEvents.int(hopeless.first?["attempts"]) == 3)
        #expect(steps.first { $0["name"] as? String == "After" }?["attempts"] == nil, "one attempt is not written")
        let job = try events.one("job_finished", job: "never")
        #expect(job["status"] as? String == "failure")
        #expect(job["failed_step"] as? String == "Hopeless")
        #expect(events.all("workflow_finished").first?["status"] as? String == "failure")
    }

    @Test("SIGTERM during a retry's wait: no new attempt, the step and job are cancelled; jobs the signal decides say so, a job its label skips says that")
    func retryWaitCancelled() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        // `killer` signals the host ($PPID of a local step) once `flaky` has failed its first
        // attempt and is waiting 30 s before the second.
        let result = try await scenario.run("""
            name: cut
            env:
              MARKS: \(scenario.marks)
            jobs:
              flaky:
                steps:
                  - name: Flaky
                    retry: { max-attempts: 3, delay: 30s }
                    run: |
            \(indented(Self.counting("flaky", succeedOn: 99), by: 10))
              killer:
                steps:
                  - run: |
                      until [ -f "$MARKS/flaky" ]; do sleep 0.05; done
                      sleep 0.5
                      kill -TERM $PPID
                      sleep 30
              after:
                needs: killer
                steps: [ { run: echo after-ran } ]
              mac:
                needs: killer
                if: always()
                runs-on: macos-latest
                steps: [ { run: echo mac-ran } ]
            """, ["--log-format", "json", "--jobs", "4"])
        let elapsed = result.seconds  // the run's own time (a test may wait for a slot to start it)
        #expect(result.status == 130, "\(result.stdout)\n\(result.stderr)")
        #expect(elapsed < 20, "the retry's 30 s wait held the run: \(elapsed) s")
        #expect(scenario.mark("flaky") == "1", "no attempt after the signal")
        let events = try JSONEvents(result.stdout)
        #expect(events.all("step_retrying", job: "flaky").count == 1)
        let step = try #require(events.all("step_finished", job: "flaky").first { $0["name"] as? String == "Flaky" })
        #expect(step["status"] as? String == "cancelled", "\(step)")
        #expect(step["attempts"] == nil, "one attempt started: \(step)")
        #expect(try events.one("job_finished", job: "flaky")["status"] as? String == "cancelled")
        // A job the signal kept from starting is cancelled, and says so.
        let after = try events.one("job_finished", job: "after")
        #expect(after["status"] as? String == "cancelled" && after["message"] as? String == "cancelled before it started", "\(after)")
        #expect(!result.stdout.contains("after-ran"))
        // One whose `if` holds after a cancellation but whose label maps to no executor here is
        // skipped for its label: the signal did not decide it.
        let mac = try events.one("job_finished", job: "mac")
        #expect(mac["status"] as? String == "skipped", "\(mac)")
        #expect((mac["message"] as? String)?.hasPrefix("skipped: it runs on 'macos-latest'") == true, "\(mac)")
    }
}
