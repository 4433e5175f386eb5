import Foundation
import NixActionsEngine
import Testing
import TestSupport

/// A run's state can be rebuilt from `events.jsonl` alone (what a live view or a report needs).
@Suite("events.jsonl: a run's state replays from its events")
struct EventsReplayTests {
    @Test("jobs, steps, outcomes, exit codes, annotations, summaries and output ranges come back from the events")
    func replay() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: replay
            jobs:
              a:
                outputs:
                  greeting: ${{ steps.second-step.outputs.greeting }}
                  token: ${{ steps.second-step.outputs.token }}
                steps:
                  - name: first
                    run: echo one; echo two >&2
                  - name: second
                    id: second-step
                    run: |
                      echo "::warning::careful"
                      echo "done" >> "$GITHUB_STEP_SUMMARY"
                      echo "greeting=hello-output" >> "$GITHUB_OUTPUT"
                      echo "token=s3cr3t-v4lue" >> "$GITHUB_OUTPUT"
                  - name: allowed
                    continue-on-error: true
                    run: exit 4
              b:
                steps:
                  - name: fails
                    retry: { max-attempts: 2, delay: 10ms }
                    run: echo bad; exit 3
              c:
                needs: b
                steps:
                  - run: echo never
            """, ["--secret", "TOK=s3cr3t-v4lue"])
        #expect(result.status == 1)
        let folder = try #require(scenario.logFolders().first)
        let state = try RunState.replay(try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8))
        #expect(state.format == "nixactions.events/1")
        #expect(state.workflow == "replay" && state.status == "failure")
        // The command writes workflow_started before the secrets are read; the runner's is not written again.
        let raw = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)
        #expect(raw.components(separatedBy: "\"event\":\"workflow_started\"").count == 2, "\(raw.prefix(400))")
        let jobs = Dictionary(uniqueKeysWithValues: state.jobs.map { ($0.key, $0) })
        #expect(jobs["a"]?.status == "success" && jobs["b"]?.status == "failure" && jobs["c"]?.status == "skipped")
        // A job decided without starting says why in its job_finished (not only in a message event).
        #expect(jobs["c"]?.message == "skipped: needed job 'b' did not succeed", "\(jobs["c"]?.message ?? "nil")")
        #expect(jobs["a"]?.message == nil)
        #expect(jobs["a"]?.steps.map(\.name) == ["first", "second", "allowed"])
        #expect(jobs["a"]?.steps.map(\.status) == ["success", "success", "failure"])
        // GitHub's conclusion: an allowed failure concludes success; and the step's id.
        #expect(jobs["a"]?.steps.map(\.conclusion) == ["success", "success", "success"])
        #expect(jobs["a"]?.steps.map(\.id) == [nil, "second-step", nil])
        // Outputs: the step's (masked) and the job's (one holding a secret left out, as needs sees them).
        #expect(jobs["a"]?.steps.first { $0.id == "second-step" }?.outputs == ["greeting": "hello-output", "token": "***"])
        #expect(jobs["a"]?.outputs == ["greeting": "hello-output"], "\(jobs["a"]?.outputs ?? [:])")
        #expect(!(try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)).contains("s3cr3t-v4lue"))
        #expect(jobs["b"]?.steps.first?.exitCode == 3)
        #expect(jobs["b"]?.failedStep == "fails" && jobs["b"]?.failedStepIndex == 0)
        // Its retry: two attempts, both outputs kept under the one step.
        #expect(jobs["b"]?.steps.first?.attempts == 2 && jobs["a"]?.steps.map(\.attempts) == [1, 1, 1])
        let bLog = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/b.log")))
        #expect(String(decoding: (jobs["b"]?.steps.first?.output ?? []).flatMap { bLog[$0.offset..<($0.offset + $0.length)] }, as: UTF8.self) == "bad\nbad\n")
        // A step that ran took at least 1 ms as written (rounded up); 0 is for what never ran.
        #expect(state.jobs.flatMap(\.steps).allSatisfy { ($0.durationMilliseconds ?? 0) >= 1 }, "\(state.jobs.flatMap(\.steps))")
        #expect(jobs["a"]?.annotations == ["warning: careful"])
        #expect(jobs["a"]?.summary == "done\n")
        // Output ranges point at the job log: each step's output, by stream.
        let log = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/a.log")))
        func text(_ step: RunState.StepState?, _ stream: String) -> String {
            String(decoding: (step?.output ?? []).filter { $0.stream == stream }.flatMap { log[$0.offset..<($0.offset + $0.length)] }, as: UTF8.self)
        }
        #expect(text(jobs["a"]?.steps.first, "stdout") == "one\n")
        #expect(text(jobs["a"]?.steps.first, "stderr") == "two\n")
        // The same table as summary.md.
        let summary = try String(contentsOfFile: folder + "/summary.md", encoding: .utf8)
        for job in state.jobs {
            #expect(summary.contains("\(job.name)    \(job.status ?? "")") || summary.contains("\(job.name)  \(job.status ?? "")"),
                    "\(job.key) \(job.status ?? "nil") not in\n\(summary)")
        }
    }

    @Test("a secret in a job key's form: masked in keys, log names and what steps print, a long one where the key cuts it, however much of it the key keeps; executors get the key masked (folders, command lines); kept workspaces named as the folders")
    func keyForms() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let token = "Tok" + String(repeating: "x9Y", count: 43)  // 132 characters: the key (120 at most) cuts it
        // A 40-character secret the key cuts after 4, 5, 6, 8, 12, 20 and 30 of its characters
        // (the key is "l-long-" and the value, 120 at most).
        let long = "ghpXk29LmQw7Rt5Yu1Io3Pa8Sd6Fg4Hj0KlZx2Cv"
        let longs = [4, 5, 6, 8, 12, 20, 30].map { String(repeating: "a", count: 120 - 7 - $0) + long }
        let path = try scenario.temp.write("wf.yml", """
            jobs:
              d:
                strategy: { matrix: { env: [Prod.QX7] } }
                steps:
                  - run: echo "in $(pwd)"; pwd > \(scenario.marks)/d
              t:
                strategy: { matrix: { token: ["\(token)"] } }
                steps:
                  - run: echo "in $(pwd)"; pwd > \(scenario.marks)/t
              l:
                strategy: { matrix: { long: [\(longs.map { "\"\($0)\"" }.joined(separator: ", "))] } }
                steps:
                  - run: echo "in $(pwd)"; pwd >> \(scenario.marks)/l
            """)
        let result = try await nixactions(["run", path, "--log-dir", scenario.logs, "--secret", "A=Prod.QX7", "--secret", "B=\(token)",
                                           "--secret", "C=\(long)"],
                                          in: scenario.project, environment: ["NIXACTIONS_KEEP_WORKSPACE": "1"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        // No 4 characters in a row of the long secret's key form, anywhere (the key kept 4 to 30).
        let longForm = Array(long.lowercased())
        let windows = (0...(longForm.count - 4)).map { String(longForm[$0..<($0 + 4)]) }
        let folders = [scenario.mark("d") ?? "", scenario.mark("t") ?? "", scenario.mark("l") ?? ""]
        for (path, text) in scenario.logFiles() + [("stdout", result.stdout), ("stderr", result.stderr)] + folders.map { ("a step's pwd", $0) } {
            for leak in ["prod-qx7", "prod.qx7", "tokx9yx9y"] + windows {
                #expect(!text.lowercased().contains(leak) && !path.lowercased().contains(leak), "\(path) holds \(leak)")
            }
        }
        #expect(result.stdout.contains("[d-env-***] in /") && result.stdout.contains("[t-token-***] in /"), "\(result.stdout)")
        // The job's folder (what executors are given as its key) holds no secret: the step itself
        // wrote it, past the redactor.
        #expect(folders[0].hasSuffix("/d-env-MASKED/workspace") && folders[1].hasSuffix("/t-token-MASKED/workspace"), "\(folders)")
        #expect(result.stdout.contains("/d-env-MASKED/workspace") && result.stdout.contains("/t-token-MASKED/workspace"), "\(result.stdout)")
        let longFolders = folders[2].split(separator: "\n")
        #expect(longFolders.count == 7 && Set(longFolders).count == 7 && longFolders.allSatisfy { $0.contains("aMASKED/workspace") }, "\(longFolders)")
        // Kept workspaces are named as the job's folders (lower-cased, as artifact names are).
        let folder = try #require(scenario.logFolders().first)
        let kept = try FileManager.default.contentsOfDirectory(atPath: folder + "/workspaces").filter { !$0.hasPrefix(".") }.sorted()
        #expect(kept.count == 9 && kept.contains("d-env-masked") && kept.contains("t-token-masked"), "\(kept)")
    }

    @Test("keys cut inside a secret stay masked in fail-fast's message and with uniqueKey's -2 (review 46)")
    func cutKeysInMessages() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let long = "ghpXk29LmQw7Rt5Yu1Io3Pa8Sd6Fg4Hj0KlZx2Cv"
        let value = String(repeating: "a", count: 103) + long
        let path = try scenario.temp.write("wf.yml", """
            jobs:
              l:
                strategy: { matrix: { v: ["\(value)", x], w: [a, b] } }
                steps:
                  - run: if [ "${{ matrix.v }}" = x ]; then sleep 1; exit 1; fi; pwd; sleep 5
            """)
        let result = try await nixactions(["run", path, "--log-dir", scenario.logs, "--secret", "C=\(long)", "--log-format", "plain", "--jobs", "4"],
                                          in: scenario.project)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("fail-fast: 'l (v: x, w: "), "\(result.stdout)")
        let form = Array(long.lowercased())
        let windows = (0...(form.count - 4)).map { String(form[$0..<($0 + 4)]) }
        for (path, text) in scenario.logFiles() + [("stdout", result.stdout), ("stderr", result.stderr)] {
            for leak in windows { #expect(!text.lowercased().contains(leak) && !path.lowercased().contains(leak), "\(path) holds \(leak)") }
        }
        #expect(result.stdout.contains("aaa***-2]"), "\(result.stdout)")
    }

    @Test("an annotation of several lines (%0A) stays one entry: each console line keeps the job's key, the Annotations list and summary.md indent its lines, the record keeps its text (audit 64 events L2: a step forged the runner's lines)")
    func multiLineAnnotations() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              evil:
                steps:
                  - run: |
                      echo "::notice::ok%0A==> job 'deploy' succeeded in 0.10s"
                      printf '::error file=a.c,line=3,title=T::first%%0Asecond line%%0A\\033[2Kthird\\n'
                      echo "::notice::x%0AJOB  injected"
                      printf 'summary \\033[31mred\\n' >> "$GITHUB_STEP_SUMMARY"
            """, ["--log-format", "plain"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = outputLines(result.stdout)
        // No line of the console but the runner's own starts with "==> job 'deploy'".
        #expect(!lines.contains { $0.hasPrefix("==> job 'deploy'") }, "\(result.stdout)")
        #expect(lines.contains("[evil] notice: ok") && lines.contains("[evil]   ==> job 'deploy' succeeded in 0.10s"), "\(result.stdout)")
        #expect(lines.contains("[evil] error: T: first") && lines.contains("[evil]   second line") && lines.contains("[evil]   \\x1B[2Kthird (a.c:3)"),
                "\(result.stdout)")
        #expect(lines.contains("  [evil] notice: ok") && lines.contains("    ==> job 'deploy' succeeded in 0.10s"), "the Annotations list: \(result.stdout)")
        let folder = try #require(try FileManager.default.contentsOfDirectory(atPath: scenario.logs).first.map { scenario.logs + "/" + $0 })
        let summary = try String(contentsOfFile: folder + "/summary.md", encoding: .utf8)
        #expect(!outputLines(summary).contains { $0.hasPrefix("==> job 'deploy'") } && summary.contains("\n    second line\n"), "\(summary)")
        // summary.md is the run's end, whatever a step wrote (audit 66 output M1: it began at a forged "JOB" line).
        #expect(summary.hasPrefix("```\nJOB ") && summary.contains("\n    JOB  injected\n"), "\(summary)")
        // A step summary's escape sequence is shown as an escape on the console.
        #expect(result.stdout.contains("  summary \\x1B[31mred") && !result.stdout.contains("\u{1B}"), "\(result.stdout)")
        let log = try String(contentsOfFile: folder + "/evil.log", encoding: .utf8)
        #expect(log.contains(" notice: ok\n  ==> job 'deploy' succeeded in 0.10s\n"), "\(log)")
        // The record has the text as the step said it.
        let state = try RunState.replay(try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8))
        let annotations = state.jobs.first { $0.key == "evil" }?.annotations
        #expect(annotations == ["notice: ok\n==> job 'deploy' succeeded in 0.10s", "error: first\nsecond line\n\u{1B}[2Kthird", "notice: x\nJOB  injected"], "\(String(describing: annotations))")
    }

    @Test("a job's duration_ms spans its job_started and job_finished, however late its task started (audit 64 events L3)")
    func jobDurationSpansItsEvents() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let jobs = (0..<60).map { "  j\($0):\n    steps:\n      - run: sleep 0.05; echo $((\($0) * 7))\n" }.joined()
        let result = try await scenario.run("jobs:\n" + jobs, ["-j", "60"])
        #expect(result.status == 0, "\(result.stderr)")
        let folder = try #require(try FileManager.default.contentsOfDirectory(atPath: scenario.logs).first.map { scenario.logs + "/" + $0 })
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var started: [String: Date] = [:]
        var checked = 0
        for line in try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8).split(separator: "\n") {
            let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard let job = event["job"] as? String, let ts = (event["ts"] as? String).flatMap(formatter.date(from:)) else { continue }
            if event["event"] as? String == "job_started" { started[job] = ts }
            if event["event"] as? String == "job_finished", let from = started[job], let duration = event["duration_ms"] as? Int {
                let between = Int((ts.timeIntervalSince(from) * 1000).rounded())
                // The timestamps have milliseconds; the two events are written a moment after their instants.
                #expect(abs(between - duration) <= 15, "\(job): \(duration) ms against \(between) ms between its events")
                checked += 1
            }
        }
        #expect(checked == 60)
    }

    @Test("the plan's order, a built-in action's output by range, an annotation's title, and a job key that holds a secret masked everywhere")
    func planOrderAndKeys() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: plan
            jobs:
              a:
                steps:
                  - run: |
                      sleep 0.3
                      echo "::notice title=Deploy window::closes at 5pm"
              b:
                if: false
                steps:
                  - run: "true"
              m:
                strategy:
                  matrix:
                    env: [staging, prod-zz9, prod-zz9-b, Prod.QX7]
                steps:
                  - run: echo "env ${{ matrix.env }}"
              u:
                needs: a
                steps:
                  - run: echo hi > f.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: x, path: f.txt }
            """, ["--secret", "TOK=prod-zz9", "--secret", "TOK2=prod-zz9-b", "--secret", "TOK3=Prod.QX7"])
        #expect(result.status == 0, "\(result.stderr)")
        let folder = try #require(scenario.logFolders().first)
        // The secret is in no file of the run's logs and not on the console, key or not.
        for (path, text) in scenario.logFiles() + [("stdout", result.stdout), ("stderr", result.stderr)] {
            #expect(!text.contains("prod-zz9") && !path.contains("prod-zz9"), "\(path) holds the secret")
            // A secret with capitals and a dot is `prod-qx7` in the key: masked in that form too.
            for form in ["prod-qx7", "prod.qx7"] {
                #expect(!text.lowercased().contains(form) && !path.lowercased().contains(form), "\(path) holds the secret as \(form)")
            }
        }
        let state = try RunState.replay(try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8))
        // `b` was decided before `a` ended, but the plan (and the console's table) has the file's order.
        #expect(state.order == ["a", "b", "m-env-staging", "m-env-***", "m-env-***-2", "m-env-***-3", "u"], "\(state.order)")
        #expect(Set(state.jobs.map(\.key)) == Set(state.order))
        let logs = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".log") }.sorted()
        #expect(logs == ["a.log", "b.log", "m-env-***-2.log", "m-env-***-3.log", "m-env-***.log", "m-env-staging.log", "u.log"], "\(logs)")
        let jobs = Dictionary(uniqueKeysWithValues: state.jobs.map { ($0.key, $0) })
        let masked = try String(contentsOfFile: folder + "/m-env-***.log", encoding: .utf8)
        #expect(masked.contains("env ***") && jobs["m-env-***"]?.status == "success")
        // What the plan knows of each instance: its job's id, what it needs, its matrix values (masked).
        #expect(jobs["m-env-***"]?.id == "m" && jobs["m-env-***"]?.matrix == ["env": "***"], "\(String(describing: jobs["m-env-***"]))")
        #expect(jobs["m-env-staging"]?.matrix == ["env": "staging"] && jobs["u"]?.needs == ["a"] && jobs["a"]?.needs == [])
        #expect(jobs["b"]?.id == "b" && jobs["b"]?.status == "skipped")
        #expect(jobs["a"]?.annotations == ["notice: closes at 5pm"])
        let events = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)
        #expect(events.contains("\"title\":\"Deploy window\""))
        // The artifact step's line is in the job log, and its range points at it.
        let log = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/u.log")))
        let ranges = jobs["u"]?.steps.first(where: { $0.index == 1 })?.output ?? []
        let shown = String(decoding: ranges.flatMap { log[$0.offset..<($0.offset + $0.length)] }, as: UTF8.self)
        #expect(shown == "uploaded artifact 'x': f.txt (1 file)\n", "\(shown)")
        #expect(!events.contains("\"text\":\"uploaded"), "output is referenced, not copied")
    }
}
