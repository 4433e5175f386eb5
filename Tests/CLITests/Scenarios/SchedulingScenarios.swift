import Foundation
import NixActionsEngine
import Testing
import TestSupport

@Suite("Scenarios: scheduling from the ready set")
struct SchedulingScenarios {
    /// root → fast → after-fast, root → slow, and join needs after-fast and slow.
    ///
    /// `slow` waits (up to 20 s) until `after-fast` has left a marker, then keeps running a little:
    /// this only succeeds when a job is started the moment what it needs is done, not when a whole
    /// "level" of the graph is done.
    static func diamond(marks: String) -> String {
        """
        name: diamond
        env:
          MARKS: \(marks)
        jobs:
          root:
            steps:
              - run: echo root
          fast:
            needs: root
            steps:
              - run: echo fast
          slow:
            needs: root
            steps:
              - name: Wait for after-fast
                run: |
                  for i in $(seq 1 400); do [ -f "$MARKS/after-fast" ] && break; sleep 0.05; done
                  [ -f "$MARKS/after-fast" ] || { echo "after-fast never started while slow ran" >&2; exit 9; }
                  echo "slow saw after-fast"
                  sleep 0.5
                  echo "slow done"
          after-fast:
            needs: fast
            steps:
              - run: |
                  touch "$MARKS/after-fast"
                  echo "after-fast ran"
          join:
            needs: [after-fast, slow]
            steps:
              - run: echo join
        """
    }

    @Test("diamond: a job that needs only the fast branch starts before the slow branch ends (JSON timestamps)")
    func diamondJSON() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run(Self.diamond(marks: scenario.marks), ["--jobs", "4", "--log-format", "json"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let events = try JSONEvents(result.stdout)

        // Every line is an event with a timestamp and a known kind.
        let kinds: Set<String> = [
            "workflow_started", "planned", "job_started", "step_started", "output", "step_finished", "job_finished",
            "workflow_finished", "message", "annotation", "job_summary", "step_retrying",
        ]
        for event in events.events {
            #expect(kinds.contains(event["event"] as? String ?? ""), "unknown event \(event)")
            #expect(event["ts"] is String, "event without ts: \(event)")
        }
        #expect(events.all("workflow_started").count == 1)
        let finished = try #require(events.all("workflow_finished").first)
        #expect(finished["status"] as? String == "success")
        #expect(JSONEvents.int(finished["duration_ms"]) != nil)

        // The point of the scenario: after-fast started while slow was still running.
        let afterFastStarted = try events.time("job_started", job: "after-fast")
        let slowStarted = try events.time("job_started", job: "slow")
        let slowFinished = try events.time("job_finished", job: "slow")
        let fastFinished = try events.time("job_finished", job: "fast")
        #expect(afterFastStarted < slowFinished, "after-fast started at \(afterFastStarted), slow finished at \(slowFinished)")
        #expect(fastFinished <= afterFastStarted)
        #expect(slowStarted <= afterFastStarted)  // both may start in one millisecond
        #expect(try events.index("job_started", job: "after-fast") < events.index("job_finished", job: "slow"))

        // join waits for both of its needs.
        let joinStarted = try events.time("job_started", job: "join")
        #expect(slowFinished <= joinStarted)
        #expect(try events.time("job_finished", job: "after-fast") <= joinStarted)
        #expect(try events.index("job_finished", job: "slow") < events.index("job_started", job: "join"))

        // Output events carry the job, the step and the line.
        let slowOutput = events.all("output", job: "slow").compactMap { $0["text"] as? String }
        #expect(slowOutput == ["slow saw after-fast", "slow done"])
        let slowStep = try events.one("step_finished", job: "slow")
        #expect(slowStep["status"] as? String == "success")
        #expect(JSONEvents.int(slowStep["exit_code"]) == 0)
        #expect(JSONEvents.int(slowStep["step"]) == 0)
        #expect((JSONEvents.int(slowStep["duration_ms"]) ?? 0) >= 500)
        let slowJob = try events.one("job_finished", job: "slow")
        #expect(slowJob["status"] as? String == "success")
        #expect((JSONEvents.int(slowJob["duration_ms"]) ?? 0) >= 500)
    }

    @Test("diamond in the plain console format: same order, labelled lines, a summary table")
    func diamondPlain() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run(Self.diamond(marks: scenario.marks), ["--jobs", "4", "--log-format", "plain"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("[slow] > Wait for after-fast\n"))
        #expect(out.contains("[slow] slow saw after-fast\n"))
        #expect(out.contains("[after-fast] after-fast ran\n"))
        let afterFastStart = try #require(out.range(of: "==> job 'after-fast' started"))
        let slowDone = try #require(out.range(of: "==> job 'slow' succeeded in "))
        #expect(afterFastStart.upperBound <= slowDone.lowerBound)
        let joinStart = try #require(out.range(of: "==> job 'join' started"))
        #expect(slowDone.upperBound <= joinStart.lowerBound)
        let table = outputLines(out)
        #expect(table.contains { $0.hasPrefix("JOB") && $0.contains("STATUS") && $0.contains("DURATION") && $0.contains("FAILED STEP") })
        for job in ["root", "fast", "slow", "after-fast", "join"] {
            #expect(table.contains { $0.hasPrefix(job + " ") && $0.contains("success") }, "no table row for \(job)")
        }
        #expect(out.contains("==> workflow 'diamond' succeeded in "))
    }

    @Test("concurrency within a run, as on GitHub: one job of a group runs, the newest waits and a later one cancels the one waiting; a group per matrix value runs them all; exit 1, not 130")
    func concurrencyGroups() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              deploy:
                concurrency: production
                strategy: { matrix: { v: [1, 2, 3] } }
                steps:
                  - run: |
                      if [ -e "\(scenario.marks)/in" ]; then echo OVERLAP; fi
                      touch "\(scenario.marks)/in"; sleep 0.5; rm "\(scenario.marks)/in"; echo "deployed ${{ matrix.v }}"
              each:
                concurrency: each-${{ matrix.v }}
                strategy: { matrix: { v: [1, 2] } }
                steps: [ { run: "echo each ${{ matrix.v }}" } ]
              after:
                needs: deploy
                if: always()
                steps: [ { run: "echo deploy was ${{ needs.deploy.result }}" } ]
            """, ["--jobs", "6", "--log-format", "plain"])
        #expect(result.status == 1, "the run went on: not 130\n\(result.stdout)\(result.stderr)")
        let out = result.stdout
        #expect(!out.contains("OVERLAP"), "\(out)")
        #expect(out.contains("[deploy-v-1] deployed 1\n") && out.contains("[deploy-v-3] deployed 3\n") && !out.contains("deployed 2"), "\(out)")
        #expect(out.contains("[deploy-v-2] cancelled: 'deploy (v: 3)' of concurrency group 'production' waits after it"), "\(out)")
        #expect(out.contains("[deploy-v-3] waiting: 'deploy (v: 1)' of concurrency group 'production' is running"), "\(out)")
        #expect(out.contains("[each-v-1] each 1\n") && out.contains("[each-v-2] each 2\n") && !out.contains("waiting: 'each"), "\(out)")
        #expect(out.contains("[after] deploy was cancelled\n"), "\(out)")
    }

    @Test("concurrency with cancel-in-progress: the running job of the group is cancelled and the new one runs after it ended")
    func concurrencyCancelInProgress() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              old:
                concurrency: { group: release, cancel-in-progress: false }
                steps:
                  - run: sleep 30; echo NEVER
                  - if: cancelled()
                    run: echo old cleaned up
              new:
                needs: []
                concurrency: { group: "${{ 'rel' }}ease", cancel-in-progress: "${{ github.event_name == 'push' }}" }
                steps:
                  - run: sleep 0.3
                  - run: echo new ran
            """, ["--jobs", "2", "--log-format", "plain"])
        #expect(result.seconds < 20, "the running job was not cancelled")
        let out = result.stdout
        #expect(out.contains("[old] warning: cancelling: 'new' of concurrency group 'release' is to run (cancel-in-progress)"), "\(out)")
        #expect(out.contains("[old] old cleaned up\n") && out.contains("[new] new ran\n") && !out.contains("[old] NEVER\n"), "\(out)")
        // The new one started after the old one ended.
        let ended = try #require(out.range(of: "==> job 'old' cancelled"))
        let started = try #require(out.range(of: "==> job 'new' started"))
        #expect(ended.upperBound <= started.lowerBound)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        // The record says 1 too (audit 54 M3: `cancelled`, which replays as a signal's 130).
        let run = try #require(try FileManager.default.contentsOfDirectory(atPath: scenario.logs).first)
        let state = try RunState.replay(try String(contentsOfFile: scenario.logs + "/" + run + "/events.jsonl", encoding: .utf8))
        #expect(state.status == "cancelled" && state.exitStatus == 1, "\(state.status ?? "") \(state.exitStatus ?? -1)")
    }
}
