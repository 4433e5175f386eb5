import Foundation
import Testing
import TestSupport

@Suite("Scenarios: the console a user of act expects")
struct ConsoleScenarios {
    @Test("each finished step on one line with its mark and duration; the table in plan order (not finish order) with totals")
    func stepLinesAndOrderedSummary() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: order
            jobs:
              slow:
                steps:
                  - run: sleep 0.5
              fast:
                steps:
                  - run: echo hi
                  - name: Breaks
                    run: exit 3
                  - name: Never
                    run: echo never
              after:
                needs: fast
                steps:
                  - run: echo x
            """, ["--log-format", "plain"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        let lines = outputLines(result.stdout).map { $0.replacingOccurrences(of: #"\d+\.\d\ds"#, with: "T", options: .regularExpression) }
        #expect(lines.contains("[fast] ✓ Run echo hi (T)"), "\(result.stdout)")
        #expect(lines.contains("[fast] ✗ Breaks (exit code 3, T)"))
        #expect(lines.contains("[fast] - Never (skipped)"))
        #expect(lines.contains("[slow] ✓ Run sleep 0.5 (T)"))
        // slow finishes last, yet its row comes first: the plan's order.
        let table = Array(lines.drop { !$0.hasPrefix("JOB ") })
        #expect(Array(table.prefix(6)) == [
            "JOB    STATUS   DURATION  FAILED STEP",
            "slow   success  T",
            "fast   failure  T     'Breaks' (exit code 3)",
            "after  skipped  -",
            "",
            "3 jobs: 1 succeeded, 1 failed, 1 skipped in T",
        ], "\(result.stdout)")
    }
}
