import Foundation
import Testing
import TestSupport

@Suite("Scenarios: workflow commands and the step summary")
struct CommandsScenarios {
    @Test("::add-mask:: hides the value everywhere from then on, and its own line is never printed")
    func addMask() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let secret = "hunter2secret"
        let result = try await scenario.run("""
            name: masking
            jobs:
              cmds:
                steps:
                  - name: Mask
                    run: |
                      echo "::add-mask::\(secret)"
                      echo "the value is \(secret)"
                      echo "on stderr \(secret)" >&2
                  - name: Later
                    run: |
                      echo "later: \(secret)"
                      echo "MASKED_OUT=\(secret)" >> "$GITHUB_ENV"
                      echo "## summary with \(secret)" >> "$GITHUB_STEP_SUMMARY"
                  - name: Env
                    run: echo "env has $MASKED_OUT"
              other:
                needs: cmds
                steps:
                  - run: echo "another job prints \(secret)"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(!out.contains(secret), "the masked value leaked:\n\(out)")
        #expect(!out.contains("::add-mask::"))
        #expect(out.contains("[cmds] the value is ***\n"))
        #expect(out.contains("[cmds] on stderr ***\n"))
        #expect(out.contains("[cmds] later: ***\n"))
        #expect(out.contains("[cmds] env has ***\n"))
        #expect(out.contains("[other] another job prints ***\n"))
        #expect(out.contains("Summary of 'cmds':\n  ## summary with ***\n"))
        // Nor in the run's log folder (per-job logs, events.jsonl, summary.md).
        let files = scenario.logFiles()
        #expect(!files.isEmpty, "the run kept no logs in \(scenario.logs)")
        for file in files { #expect(!file.text.contains(secret), "the masked value leaked into \(file.path)") }
    }

    @Test("::error file=…,line=…:: and ::warning title=…:: become annotations, listed after the table")
    func annotations() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: annotations
            jobs:
              lint:
                steps:
                  - name: Lint
                    run: |
                      echo "::error file=a.txt,line=3::boom"
                      echo "::warning title=Careful::watch out"
                      echo "::notice::fyi%2C a comma kept escaped in a message (as GitHub: only CR, LF and percent there)%25"
                      echo "plain line"
            """)
        #expect(result.status == 0, "an ::error:: annotation alone does not fail the step\n\(result.stdout)")
        let out = result.stdout
        #expect(out.contains("[lint] error: boom (a.txt:3)\n"))
        #expect(!out.contains("::error"))
        #expect(out.contains("[lint] plain line\n"))
        let block = try #require(out.range(of: "Annotations:\n"), "no Annotations block:\n\(out)")
        let table = try #require(out.range(of: "\nJOB "))
        #expect(table.upperBound <= block.lowerBound, "the annotations come after the summary table")
        let annotations = String(out[block.upperBound...])
        #expect(annotations.hasPrefix(
            "  [lint] error: boom (a.txt:3)\n  [lint] warning: Careful: watch out\n  [lint] notice: fyi%2C a comma kept escaped in a message (as GitHub: only CR, LF and percent there)%\n"),
            "\(annotations)")
    }

    @Test("::group::Build shows ▸ Build; ::endgroup:: is not shown")
    func group() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: groups
            jobs:
              build:
                steps:
                  - name: Grouped
                    run: |
                      echo "::group::Build"
                      echo "inside group"
                      echo "::endgroup::"
                      echo "after group"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[build] ▸ Build\n[build] inside group\n[build] after group\n"))
        #expect(!result.stdout.contains("::group::"))
        #expect(!result.stdout.contains("::endgroup::"))
    }

    @Test("::stop-commands::TOKEN turns command processing off until ::TOKEN:: (both lines shown, a token over 6 bytes masked, as GitHub)")
    func stopCommands() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: stopping
            jobs:
              cmds:
                steps:
                  - name: Stopping
                    run: |
                      echo "::stop-commands::pause123"
                      echo "::error::not-an-annotation"
                      echo "::add-mask::literal-while-stopped"
                      echo "::group::not-a-group"
                      echo "::pause123::"
                      echo "::notice::back on"
                      echo "literal-while-stopped is not masked"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains(
            "[cmds] ::error::not-an-annotation\n[cmds] ::add-mask::literal-while-stopped\n[cmds] ::group::not-a-group\n"))
        #expect(out.contains("[cmds] ::stop-commands::***\n"))
        #expect(out.contains("[cmds] ::***::\n"))
        #expect(!out.contains("pause123"))
        #expect(out.contains("[cmds] notice: back on\n"))
        #expect(out.contains("[cmds] literal-while-stopped is not masked\n"))
        #expect(!out.contains("▸ not-a-group"))
        let block = try #require(out.range(of: "Annotations:\n"))
        let annotations = String(out[block.upperBound...])
        #expect(annotations.hasPrefix("  [cmds] notice: back on\n\n"), "only the notice after the token is an annotation:\n\(annotations)")
    }

    @Test("$GITHUB_STEP_SUMMARY of every step appears in the job's Summary of block, failed jobs included")
    func stepSummary() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: summaries
            jobs:
              report:
                name: Report job
                steps:
                  - run: |
                      echo "## Test results" >> "$GITHUB_STEP_SUMMARY"
                      echo "" >> "$GITHUB_STEP_SUMMARY"
                      echo "- passed: 12" >> "$GITHUB_STEP_SUMMARY"
                  - run: |
                      echo "- failed: 0" >> "$GITHUB_STEP_SUMMARY"
              quiet:
                steps:
                  - run: echo nothing to summarize
              broken:
                steps:
                  - run: |
                      echo "partial results" >> "$GITHUB_STEP_SUMMARY"
                      exit 1
            """)
        #expect(result.status == 1)
        let out = result.stdout
        #expect(out.contains("Summary of 'Report job':\n  ## Test results\n  \n  - passed: 12\n  - failed: 0\n"), "\(out)")
        #expect(out.contains("Summary of 'broken':\n  partial results\n"))
        #expect(!out.contains("Summary of 'quiet'"))
        // The summary text is not step output.
        #expect(!out.contains("[report] ## Test results"))
        // The blocks come after the table and before the workflow's last line.
        let table = try #require(out.range(of: "\nJOB "))
        let summary = try #require(out.range(of: "Summary of 'Report job':"))
        let finished = try #require(out.range(of: "==> workflow 'summaries' failed in "))
        #expect(table.upperBound <= summary.lowerBound)
        #expect(summary.upperBound <= finished.lowerBound)
    }

    @Test("GitHub's runner's details: older commands (set-output, ##[add-mask] mid-line, ::ADD-MASK::), CRLF in GITHUB_OUTPUT (the CR kept, as on GitHub), GITHUB_STATE, GITHUB_ACTION and github.action, CI: false kept, a step's env as a whole, a malformed GITHUB_OUTPUT and ::set-env fail their step")
    func runnerDetails() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: details
            env: { CI: "false", A: outer }
            jobs:
              a:
                outputs: { v: "${{ steps.old.outputs.version }}" }
                steps:
                  - id: old
                    run: |
                      echo "::set-output name=version::1.2.3"
                      echo "progress ##[add-mask]legacySecret9"
                      echo "::ADD-MASK::UpperSecret8"
                      echo "shown: legacySecret9 UpperSecret8"
                      printf 'crlf=yes\\r\\nnext=also\\r\\n' >> "$GITHUB_OUTPUT"
                      echo "pid=1" >> "$GITHUB_STATE"
                      echo "action=$GITHUB_ACTION ci=$CI"
                  - run: echo "second=$GITHUB_ACTION ctx=${{ github.action }}"
                  - run: echo "third=$GITHUB_ACTION crlf=[${{ steps.old.outputs.crlf == 'yes' }}] next=[${{ steps.old.outputs.next == 'also' }}] old=${{ steps.old.outputs.version }}"
                    env: { A: inner, B: "${{ env.A }}-b" }
                  - run: echo "env a=$A b=$B"
                    env: { A: inner, B: "${{ env.A }}-b" }
                  - id: bad
                    continue-on-error: true
                    run: echo "garbage line" >> "$GITHUB_OUTPUT"
                  - id: setenv
                    continue-on-error: true
                    run: |
                      echo "::set-env name=X::y"
                      echo "after-setenv"
                  - run: echo "bad=${{ steps.bad.outcome }} setenv=${{ steps.setenv.outcome }} arr=${{ fromJSON('[1,2]') }} obj=${{ github.event }}"
                  - id: whole
                    continue-on-error: true
                    env: { EVENT: "${{ github.event }}" }
                    run: echo "never"
              b:
                needs: a
                steps:
                  - run: echo "job output ${{ needs.a.outputs.v }}"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        for line in [
            "[a] shown: *** ***\n",
            "[a] action=old ci=false\n",
            "[a] second=__run ctx=__run\n",
            // The CR of a CRLF line is kept, as GitHub's Linux runner keeps it (audit 58 F4), and said.
            "[a] third=__run_2 crlf=[false] next=[false] old=1.2.3\n",
            "[a] warning: GITHUB_OUTPUT of step 'old': line 1 ends with CR LF; the CR is part of what it sets, as on GitHub's Linux runners (write LF line ends: tr -d '\\r')\n",
            "[a] env a=inner b=outer-b\n",
            "line 1 'garbage line' is neither NAME=VALUE nor NAME<<DELIMITER",
            "Unable to process command '::set-env name=X::y' successfully. The `set-env` command is disabled",
            "[a] error: step 'setenv' failed: a workflow command could not be processed\n",
            "[a] bad=failure setenv=failure arr=Array obj=Object\n",
            "cannot evaluate 'env.EVENT': the expression gave an object, where a text is expected",
            "[b] job output 1.2.3\n",
            "The `set-output` command is deprecated",
        ] {
            #expect(out.contains(line), "missing \(line.debugDescription) in:\n\(out)")
        }
        #expect(!out.contains("legacySecret9") && !out.contains("UpperSecret8"), "\(out)")
        #expect(!out.contains("[a] progress"), "a command line is hidden whole, as on GitHub:\n\(out)")
        // The error is said where the command is, before the step's later output.
        let error = try #require(out.range(of: "Unable to process command"))
        let after = try #require(out.range(of: "[a] after-setenv"))
        #expect(error.lowerBound < after.lowerBound, "\(out)")
    }
}
