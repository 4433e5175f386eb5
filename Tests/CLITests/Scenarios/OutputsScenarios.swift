import Foundation
import Testing
import TestSupport

@Suite("Scenarios: job outputs through GITHUB_OUTPUT and needs")
struct OutputsScenarios {
    @Test("outputs cross two levels of needs: a → b → c, b's output derived from a's")
    func twoLevels() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: outputs
            jobs:
              a:
                outputs:
                  y: ${{ steps.gen.outputs.y }}
                steps:
                  - id: gen
                    run: echo "y=from-a" >> "$GITHUB_OUTPUT"
              b:
                needs: a
                outputs:
                  x: ${{ steps.derive.outputs.x }}
                steps:
                  - id: derive
                    run: echo "x=b-saw-${{ needs.a.outputs.y }}" >> "$GITHUB_OUTPUT"
                  - run: echo "b step sees ${{ steps.derive.outputs.x }}"
              c:
                needs: b
                steps:
                  - run: echo "c got ${{ needs.b.outputs.x }} (b was ${{ needs.b.result }})"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[b] b step sees b-saw-from-a\n"))
        #expect(result.stdout.contains("[c] c got b-saw-from-a (b was success)\n"))
        #expect(result.stdout.contains("==> workflow 'outputs' succeeded in "))
    }

    @Test("GitHub's matrix outputs example: each instance sets its own name, all three arrive; an empty value is no output (audit 53)")
    func matrixInstancesOwnOutputs() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              job1:
                outputs:
                  output_1: ${{ steps.gen_output.outputs.output_1 }}
                  output_2: ${{ steps.gen_output.outputs.output_2 }}
                  output_3: ${{ steps.gen_output.outputs.output_3 }}
                  never: ${{ steps.gen_output.outputs.never }}
                strategy:
                  max-parallel: 1
                  matrix:
                    version: [1, 2, 3]
                steps:
                  - id: gen_output
                    run: echo "output_${{ matrix.version }}=${{ matrix.version }}" >> "$GITHUB_OUTPUT"
              job2:
                needs: [job1]
                steps:
                  - run: echo '${{ toJSON(needs.job1.outputs) }}' | tr -d ' \\n'; echo
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[job2] {\"output_1\":\"1\",\"output_2\":\"2\",\"output_3\":\"3\"}\n"), "\(result.stdout)")
    }

    @Test("an output that cannot be evaluated fails the job, which passes on no outputs (GitHub: Fail to evaluate job outputs)")
    func outputThatFails() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                outputs:
                  good: ${{ steps.s.outputs.good }}
                  bad: ${{ fromJSON('{') }}
                steps:
                  - id: s
                    run: echo "good=yes" >> "$GITHUB_OUTPUT"
              b:
                needs: a
                if: always()
                steps:
                  - run: echo "a was ${{ needs.a.result }} good=[${{ needs.a.outputs.good }}]"
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("cannot evaluate 'outputs.bad'"), "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[b] a was failure good=[]\n"), "\(result.stdout)")
    }

    @Test("a job's outputs see its status: job.status of a failed job is failure there, as on GitHub (audit 66 fidelity M2: success)")
    func outputsSeeTheJobsStatus() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                outputs:
                  st: ${{ job.status }}
                steps:
                  - run: exit 1
                  - if: always()
                    run: echo "in step job.status=${{ job.status }}"
              ok:
                outputs:
                  st: ${{ job.status }}
                steps:
                  - run: "true"
              b:
                needs: [a, ok]
                if: always()
                steps:
                  - run: echo "st=${{ needs.a.outputs.st }} r=${{ needs.a.result }} ok=${{ needs.ok.outputs.st }}"
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[a] in step job.status=failure\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[b] st=failure r=failure ok=success\n"), "\(result.stdout)")
    }

    @Test("needs.<job> only holds the jobs named in needs: c cannot read a's outputs through b")
    func onlyDirectNeeds() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: outputs
            jobs:
              a:
                steps:
                  - run: echo "y=from-a" >> "$GITHUB_OUTPUT"
              b:
                needs: a
                steps:
                  - run: echo b
              c:
                needs: b
                steps:
                  - run: echo "c sees '${{ needs.a.outputs.y }}'"
            """)
        // Only direct needs are visible: GitHub gives '' for a job not needed; a warning names it.
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("warning: needs.a in 'run': job 'c' does not need 'a'; it is empty"), "\(result.stderr)")
        #expect(result.stdout.contains("c sees ''"))
        #expect(!result.stdout.contains("c sees 'from-a'"))
    }

    @Test("multi-line outputs written as NAME<<EOF … EOF reach a later job intact")
    func multiLine() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: multi
            jobs:
              produce:
                steps:
                  - id: notes
                    run: |
                      {
                        echo "NOTES<<EOF"
                        echo "line one"
                        echo "line two: with = and \\$dollar"
                        echo ""
                        echo "line four"
                        echo "EOF"
                        echo "AFTER=plain"
                      } >> "$GITHUB_OUTPUT"
                  - env:
                      SAME_JOB: ${{ steps.notes.outputs.NOTES }}
                    run: echo "same job sees $(printf '%s\\n' "$SAME_JOB" | wc -l | tr -d ' ') lines"
              consume:
                needs: produce
                steps:
                  - env:
                      NOTES: ${{ needs.produce.outputs.NOTES }}
                    run: |
                      printf '%s\\n' "$NOTES" | sed 's/^/got: /'
                      echo "lines=$(printf '%s\\n' "$NOTES" | wc -l | tr -d ' ')"
                      echo "after=${{ needs.produce.outputs.AFTER }}"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("[produce] same job sees 4 lines\n"))
        #expect(out.contains(
            "[consume] got: line one\n[consume] got: line two: with = and $dollar\n[consume] got: \n[consume] got: line four\n"))
        #expect(out.contains("[consume] lines=4\n"))
        #expect(out.contains("[consume] after=plain\n"))
        // The delimiter and the NAME<<EOF header are not part of any value.
        #expect(!out.contains("got: EOF"))
        #expect(!out.contains("NOTES<<"))
    }

    /// The seed's example: no `outputs:` map, so every name written to GITHUB_OUTPUT is exported.
    static let versionWorkflow = """
        name: job-outputs
        jobs:
          version:
            steps:
              - run: echo "VERSION=1.2.3" >> "$GITHUB_OUTPUT"
          deploy:
            needs: version
            steps:
              - run: |
                  echo "Version: ${{ needs.version.outputs.VERSION }}"
        """

    @Test("without an outputs: map every GITHUB_OUTPUT name is exported (VERSION=1.2.3)")
    func allNamesExported() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run(Self.versionWorkflow)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[deploy] Version: 1.2.3\n"))
        let versionDone = try #require(result.stdout.range(of: "==> job 'version' succeeded"))
        let deployStart = try #require(result.stdout.range(of: "==> job 'deploy' started"))
        #expect(versionDone.upperBound <= deployStart.lowerBound)
    }

    @Test("an outputs: map exports only the names it declares; naming another one is a load error")
    func declaredOnly() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let producer = """
            name: declared
            jobs:
              version:
                outputs:
                  exported: ${{ steps.v.outputs.VERSION }}
                steps:
                  - id: v
                    run: |
                      echo "VERSION=1.2.3" >> "$GITHUB_OUTPUT"
                      echo "HIDDEN=nope" >> "$GITHUB_OUTPUT"
              deploy:
                needs: version
                steps:
                  - run: |
            """
        let result = try await scenario.run(producer + """

                      echo "exported=${{ needs.version.outputs.exported }}"
                      echo 'all=${{ toJSON(needs.version.outputs) }}'
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[deploy] exported=1.2.3\n"))
        #expect(result.stdout.contains("[deploy] all={\n[deploy]   \"exported\": \"1.2.3\"\n[deploy] }\n"))
        #expect(!result.stdout.contains("HIDDEN"))

        let undeclared = try await scenario.run(producer + """

                      echo "hidden=${{ needs.version.outputs.HIDDEN }}"
            """, file: "undeclared.yml")
        // An output the job does not declare is not exported: empty, as on GitHub, with a warning.
        #expect(undeclared.status == 0, "\(undeclared.stderr)")
        #expect(undeclared.stderr.contains("warning: job 'version' has no output 'HIDDEN'; it is empty"), "\(undeclared.stderr)")
        #expect(undeclared.stdout.contains("[deploy] hidden=\n"))
    }

    @Test("examples/02-job-outputs runs from the package folder and prints Version: 1.2.3, in the form GitHub runs too: no warning (audit 57 UX M11)")
    func example() async throws {
        let example = packageDirectory.appendingPathComponent("examples/02-job-outputs/workflow.yml").path
        let text = try String(contentsOfFile: example, encoding: .utf8)
        #expect(text.contains("VERSION=1.2.3"))
        #expect(text.contains("    outputs:\n"), "the example declares its outputs, as GitHub needs")
        let logs = try TemporaryDirectory()
        defer { logs.remove() }
        let result = try await nixactions(
            ["run", "examples/02-job-outputs/workflow.yml", "--log-dir", logs.path], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[deploy] Version: 1.2.3\n"))
        #expect(result.stdout.contains("==> workflow 'job-outputs' succeeded in "))
        #expect(!result.stderr.contains("warning"), "\(result.stderr)")
    }
}
