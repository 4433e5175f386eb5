import Foundation
import Testing
import TestSupport

/// What GitHub's runner gives a step at run time that audit 50 found missing or different: the
/// command files, `runner.workspace`, absolute `hashFiles` patterns, outputs' names and sizes, a
/// command file read up to its bad line, annotation paths.
@Suite("Scenarios: the runner's files and values as GitHub gives them")
struct RunnerFilesScenarios {
    @Test("the command files exist and are empty when a step starts (@actions/core refuses a missing one); github.env, github.output, … name them; runner.workspace and RUNNER_WORKSPACE are the folder that holds the workspace (audit 50)")
    func filesAndWorkspace() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - run: |
                      echo "value=1" >> "$GITHUB_OUTPUT"
                      echo "X=1" >> "$GITHUB_ENV"
                  - run: |
                      for v in GITHUB_ENV GITHUB_OUTPUT GITHUB_PATH GITHUB_STEP_SUMMARY GITHUB_STATE; do
                        f=$(printenv $v)
                        if [ -f "$f" ] && [ ! -s "$f" ] && [ -w "$f" ]; then echo "$v exists, empty"; else echo "$v MISSING or not empty"; fi
                      done
                  - run: |
                      echo "FROM_CONTEXT=yes" >> ${{ github.env }}
                      echo "out=1" >> ${{ github.output }}
                      [ "${{ github.output }}" = "$GITHUB_OUTPUT" ] && [ "${{ github.path }}" = "$GITHUB_PATH" ] && [ "${{ github.step_summary }}" = "$GITHUB_STEP_SUMMARY" ] && [ "${{ github.state }}" = "$GITHUB_STATE" ] && echo "github.* name the files"
                  - run: |
                      echo "FROM_CONTEXT=$FROM_CONTEXT"
                      [ "$RUNNER_WORKSPACE" = "$(dirname "$GITHUB_WORKSPACE")" ] && echo "RUNNER_WORKSPACE is the workspace's parent"
                      [ "${{ runner.workspace }}" = "$RUNNER_WORKSPACE" ] && echo "runner.workspace is RUNNER_WORKSPACE"
                      mkdir -p "${{ runner.workspace }}/build" && echo made > "${{ runner.workspace }}/build/x" && echo "build folder beside the workspace"
              b:
                needs: a
                steps:
                  - run: '[ ! -e "$RUNNER_WORKSPACE/build" ] && echo "the next job does not see it"'
            """, ["--log-format", "plain", "-j", "1"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        for variable in ["GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_STATE"] {
            #expect(result.stdout.contains("[a] \(variable) exists, empty\n"), "\(variable): \(result.stdout)")
        }
        #expect(result.stdout.contains("[a] github.* name the files\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] FROM_CONTEXT=yes\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] RUNNER_WORKSPACE is the workspace's parent\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] runner.workspace is RUNNER_WORKSPACE\n"))
        #expect(result.stdout.contains("[a] build folder beside the workspace\n"))
        #expect(result.stdout.contains("[b] the next job does not see it\n"), "\(result.stdout)")
        #expect(!FileManager.default.fileExists(atPath: "/build/x"))
    }

    @Test("hashFiles with an absolute path inside the workspace hashes it (it gave ''); patterns apply in order")
    func absoluteHashFiles() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        try "echo build\n".write(toFile: scenario.project + "/build.sh", atomically: false, encoding: .utf8)
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - run: |
                      [ "${{ hashFiles(format('{0}/build.sh', github.workspace)) }}" = "${{ hashFiles('build.sh') }}" ] && echo "absolute = relative"
                      [ -n "${{ hashFiles('build.sh') }}" ] && echo "not empty"
                      [ "${{ hashFiles('*.sh', '!build.sh', 'build.sh') }}" = "${{ hashFiles('build.sh') }}" ] && echo "taken back"
                  - if: hashFiles(format('{0}/build.sh', github.workspace)) != ''
                    run: echo "guarded step ran"
            """, ["--log-format", "plain"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        for line in ["absolute = relative", "not empty", "taken back", "guarded step ran"] {
            #expect(result.stdout.contains("[a] \(line)\n"), "\(line): \(result.stdout)")
        }
    }

    @Test("outputs: a step output over 1 MiB is kept (GitHub limits job outputs, not step outputs); names are one whatever their case, in write order; a job's outputs over 1 MiB in all are not passed on")
    func outputNamesAndSizes() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                outputs:
                  small: ${{ steps.w.outputs.version }}
                  big: ${{ steps.big.outputs.files }}
                steps:
                  - id: big
                    run: |
                      printf 'files=' >> "$GITHUB_OUTPUT"
                      head -c 1200000 /dev/zero | tr '\\0' x >> "$GITHUB_OUTPUT"
                      echo >> "$GITHUB_OUTPUT"
                  - run: |
                      cat > big.txt <<'EOF'
                      ${{ steps.big.outputs.files }}
                      EOF
                      echo "step output length $(tr -d '\\n ' < big.txt | wc -c)"
                  - id: w
                    run: |
                      echo "Version=old" >> "$GITHUB_OUTPUT"
                      echo "zeta=z" >> "$GITHUB_OUTPUT"
                      echo "version=new" >> "$GITHUB_OUTPUT"
                  - run: |
                      echo "lower=${{ steps.w.outputs.version }} upper=${{ steps.w.outputs.VERSION }}"
                      echo 'json=${{ toJSON(steps.w.outputs) }}'
              b:
                needs: a
                steps:
                  - run: echo "small=${{ needs.a.outputs.small }} big=[${{ needs.a.outputs.big }}]"
            """, ["--log-format", "plain"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[a] step output length 1200000\n"), "\(result.stdout.suffix(3000))")
        #expect(!result.stdout.contains("larger than 1 MB"))
        #expect(result.stdout.contains("[a] lower=new upper=new\n"), "\(result.stdout.suffix(3000))")
        #expect(result.stdout.contains(#"[a] json={"#), "\(result.stdout.suffix(3000))")
        let json = result.stdout.components(separatedBy: "\n").drop { !$0.hasPrefix("[a] json={") }.prefix(4).joined(separator: "\n")
        #expect(json.contains(#""Version": "new","#) && json.contains(#""zeta": "z""#), "\(json)")
        #expect(!json.contains(#""version""#), "one output: \(json)")
        #expect(result.stdout.contains("[b] small=new big=[]\n"), "\(result.stdout.suffix(3000))")
        #expect(result.stdout.contains("output 'big' (1200000 bytes) is not passed on: a job's outputs can be at most 1 MiB in all"),
                "\(result.stdout.suffix(3000))")
    }

    @Test("a command file with a bad line: the step fails and the entries before the line are used (as on GitHub); an output or a variable without a name, or a variable name with a NUL, fails the step (audit 55 M2: the variable was dropped unsaid)")
    func partialCommandFiles() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - id: env
                    continue-on-error: true
                    run: |
                      echo "GOOD=before" >> "$GITHUB_ENV"
                      echo "garbage line" >> "$GITHUB_ENV"
                      echo "AFTER=after" >> "$GITHUB_ENV"
                  - id: out
                    continue-on-error: true
                    run: |
                      echo "first=1" >> "$GITHUB_OUTPUT"
                      echo "=nameless" >> "$GITHUB_OUTPUT"
                      echo "later=2" >> "$GITHUB_OUTPUT"
                  - id: nameless
                    continue-on-error: true
                    run: |
                      echo "NAMED=1" >> "$GITHUB_ENV"
                      echo "=nameless" >> "$GITHUB_ENV"
                      echo "UNSEEN=1" >> "$GITHUB_ENV"
                  - id: nul
                    continue-on-error: true
                    run: printf 'A\\0B=1\\n' >> "$GITHUB_ENV"
                  - id: nulout
                    run: printf 'v=a\\0b\\n' >> "$GITHUB_OUTPUT"
                  - id: usesnul
                    name: uses the NUL
                    continue-on-error: true
                    run: echo "${{ steps.nulout.outputs.v }}"
                  - id: envnul
                    name: env with a NUL
                    continue-on-error: true
                    env: { HELD: "a\\0b" }
                    run: echo "HELD=[$HELD]"
                  - run: |
                      echo "GOOD=[$GOOD] AFTER=[${AFTER:-}] first=[${{ steps.out.outputs.first }}] later=[${{ steps.out.outputs.later }}]"
                      echo "env=${{ steps.env.outcome }} out=${{ steps.out.outcome }}"
                      echo "nameless=${{ steps.nameless.outcome }} NAMED=[${NAMED:-}] UNSEEN=[${UNSEEN:-}] nul=${{ steps.nul.outcome }} usesnul=${{ steps.usesnul.outcome }}"
            """, ["--log-format", "plain"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[a] GOOD=[before] AFTER=[] first=[1] later=[]\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] env=failure out=failure\n"), "\(result.stdout)")
        #expect(result.stdout.contains("the entries before it were used, as on GitHub"), "\(result.stdout)")
        #expect(result.stdout.contains("an output without a name"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] nameless=failure NAMED=[1] UNSEEN=[] nul=failure usesnul=failure\n"), "\(result.stdout)")
        // A NUL an expression put in a script is said (audit 55 L5: bash's "cannot execute binary file").
        #expect(result.stdout.contains("error: the script of step 'uses the NUL' holds a NUL byte (an expression's value put it there); no shell runs a script with one"),
                "\(result.stdout)")
        #expect(result.stdout.contains("a variable without a name ('=VALUE'); the variables before it were used, as on GitHub"), "\(result.stdout)")
        #expect(result.stdout.contains("a variable name with a NUL byte"), "\(result.stdout)")
        // A NUL in an env value is said, not cut without a word (audit 66 hardening L6).
        #expect(result.stdout.contains("error: the value of 'HELD' in the environment of step 'env with a NUL' holds a NUL byte") && !result.stdout.contains("HELD=[a]"),
                "\(result.stdout)")
    }

    @Test("what a step that timed out wrote to its command files is used, as GitHub's runner reads them whatever ended the step: a cleanup step sees the id a hung step recorded")
    func filesOfATimedOutStep() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - id: long
                    timeout: 1s
                    run: |
                      echo "STARTED_AT=12345" >> "$GITHUB_ENV"
                      echo "pid=4242" >> "$GITHUB_OUTPUT"
                      sleep 30
                  - if: always()
                    run: echo "cleanup sees STARTED_AT=[$STARTED_AT] pid=[${{ steps.long.outputs.pid }}] outcome=${{ steps.long.outcome }}"
            """, ["--log-format", "plain"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[a] cleanup sees STARTED_AT=[12345] pid=[4242] outcome=failure\n"), "\(result.stdout)")
        #expect(result.seconds < 20, "took \(result.seconds) s")
    }

    @Test("an annotation's file= inside the workspace is shown relative to it (the workspace is gone after the run)")
    func annotationPaths() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - run: |
                      echo "::error file=$GITHUB_WORKSPACE/src/a.c,line=3::inside"
                      echo "::warning file=/etc/hosts,line=1::outside"
            """, ["--log-format", "plain"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("inside (src/a.c:3)"), "\(result.stdout)")
        #expect(result.stdout.contains("outside (/etc/hosts:1)"), "\(result.stdout)")
    }
}
