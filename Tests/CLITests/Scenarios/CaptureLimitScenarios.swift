import Foundation
import Testing
import TestSupport

@Suite("Scenarios: limits on GITHUB_OUTPUT, GITHUB_ENV and GITHUB_STEP_SUMMARY")
struct CaptureLimitScenarios {
    /// Runs `yaml` under /usr/bin/time when it is there; returns the result and the peak memory in KiB.
    func measured(_ scenario: Scenario, _ yaml: String) async throws -> (CommandResult, Int?) {
        let path = try scenario.temp.write("wf.yml", yaml)
        let arguments = ["run", path, "--log-dir", scenario.logs, "-j", "1"]
        let time = URL(fileURLWithPath: "/usr/bin/time")
        guard FileManager.default.isExecutableFile(atPath: time.path) else {
            return (try await nixactions(arguments, in: scenario.project), nil)
        }
        var result = try await runCommand(time, ["-f", "MAXRSS %M", nixactionsBinary.path] + arguments, in: scenario.project)
        let line = outputLines(result.stderr).last { $0.hasPrefix("MAXRSS ") }
        result.stderr = result.stderr.replacingOccurrences(of: (line ?? "") + "\n", with: "")
        return (result, line.flatMap { Int($0.dropFirst("MAXRSS ".count)) })
    }

    @Test("300 MB written to GITHUB_OUTPUT fails the step with a clear error; memory stays small")
    func hugeOutput() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let (result, peak) = try await measured(scenario, """
            name: caps
            jobs:
              big:
                steps:
                  - id: out
                    run: |
                      echo "small=yes" >> "$GITHUB_OUTPUT"
                      { printf 'x='; head -c 300000000 /dev/zero | tr '\\0' a; } >> "$GITHUB_OUTPUT"
                  - if: always()
                    run: echo "outcome=${{ steps.out.outcome }} small='${{ steps.out.outputs.small }}'"
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains(
            "[big] error: GITHUB_OUTPUT of step 'out' exceeded 16777216 bytes (16 MiB); nothing from it was used"), "\(result.stdout)")
        #expect(result.stdout.contains("[big] outcome=failure small=''"))
        if let peak { #expect(peak < 300_000, "peak memory \(peak) KiB") }  // it was 900 MB
    }

    @Test("a 300 MB step summary is left out with an error, as on GitHub; the step and the other summaries stay")
    func hugeSummary() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let (result, peak) = try await measured(scenario, """
            name: caps
            jobs:
              report:
                steps:
                  - name: big
                    run: head -c 300000000 /dev/zero | tr '\\0' '#' >> "$GITHUB_STEP_SUMMARY"
                  - name: small
                    run: echo "all good" >> "$GITHUB_STEP_SUMMARY"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains(
            "[report] error: the step summary of step 'big' was left out: a summary can be at most 1024k (1 MiB), got more than 16384k"), "\(result.stdout)")
        #expect(result.stdout.contains("Summary of 'report':\n  all good\n"))
        #expect(!result.stdout.contains("####"))
        if let peak { #expect(peak < 300_000, "peak memory \(peak) KiB") }  // it was 1.5 GB
    }

    @Test("a summary just over 1 MiB is left out and its size is given")
    func summaryJustOver() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: caps
            jobs:
              report:
                steps:
                  - name: big
                    run: head -c 1100000 /dev/zero | tr '\\0' '#' >> "$GITHUB_STEP_SUMMARY"
            """)
        #expect(result.status == 0)
        #expect(result.stdout.contains("got 1074k"), "\(result.stdout)")
    }

    @Test("a GITHUB_OUTPUT or GITHUB_ENV block that never closes fails the step, naming the variable and the delimiter")
    func unclosedBlocks() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: blocks
            jobs:
              out:
                steps:
                  - id: write
                    run: |
                      echo "a=1" >> "$GITHUB_OUTPUT"
                      echo "notes<<EOF" >> "$GITHUB_OUTPUT"
                      echo "line" >> "$GITHUB_OUTPUT"
                      echo "b=2" >> "$GITHUB_OUTPUT"
                  - if: always()
                    run: echo "a='${{ steps.write.outputs.a }}' b='${{ steps.write.outputs.b }}'"
              env:
                steps:
                  - name: write
                    run: |
                      echo "FIRST=1" >> "$GITHUB_ENV"
                      echo "BODY<<END" >> "$GITHUB_ENV"
                      echo "SECOND=2" >> "$GITHUB_ENV"
                  - if: always()
                    run: echo "FIRST='$FIRST' BODY='${BODY-unset}'"
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains(
            "[out] error: GITHUB_OUTPUT of step 'write': 'notes<<EOF' on line 2 is never closed: matching delimiter 'EOF' not found; the entries before it were used, as on GitHub"),
            "\(result.stdout)")
        #expect(result.stdout.contains("[out] a='1' b=''"), "GitHub applies each entry as it reads it")
        #expect(result.stdout.contains(
            "[env] error: GITHUB_ENV of step 'write': 'BODY<<END' on line 2 is never closed: matching delimiter 'END' not found; the entries before it were used, as on GitHub"),
            "\(result.stdout)")
        #expect(result.stdout.contains("[env] FIRST='1' BODY='unset'"))
    }
}
