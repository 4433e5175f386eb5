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
                steps:
                  - name: first
                    run: echo one; echo two >&2
                  - name: second
                    run: |
                      echo "::warning::careful"
                      echo "done" >> "$GITHUB_STEP_SUMMARY"
              b:
                steps:
                  - name: fails
                    run: echo bad; exit 3
              c:
                needs: b
                steps:
                  - run: echo never
            """)
        #expect(result.status == 1)
        let folder = try #require(scenario.logFolders().first)
        let state = try RunState.replay(try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8))
        #expect(state.format == "nixactions.events/1")
        #expect(state.workflow == "replay" && state.status == "failure")
        let jobs = Dictionary(uniqueKeysWithValues: state.jobs.map { ($0.key, $0) })
        #expect(jobs["a"]?.status == "success" && jobs["b"]?.status == "failure" && jobs["c"]?.status == "skipped")
        #expect(jobs["a"]?.steps.map(\.name) == ["first", "second"])
        #expect(jobs["a"]?.steps.map(\.status) == ["success", "success"])
        #expect(jobs["b"]?.steps.first?.exitCode == 3)
        #expect(jobs["b"]?.failedStep == "fails")
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
}
