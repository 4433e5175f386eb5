import Foundation
import NixActionsEngine
import Testing
import TestSupport

/// Reusable workflows (`jobs.<id>.uses: ./.github/workflows/FILE.yml`), run as GitHub runs them:
/// each instance of the calling job runs the called file's jobs with its own inputs and secrets.
@Suite("Reusable workflows: calls with inputs, secrets and outputs, checked before the run")
struct ReusableWorkflowTests {
    static let build = """
        name: build
        on:
          workflow_call:
            inputs:
              target: { type: string, required: true }
              release: { type: boolean, default: false }
              level: { type: number, default: 3 }
              note: { type: string }
            secrets:
              token: { required: false }
            outputs:
              file:
                value: ${{ jobs.package.outputs.file }}-${{ inputs.target }}
        env:
          WHERE: called
        jobs:
          compile:
            runs-on: ubuntu-latest
            outputs:
              bin: ${{ steps.c.outputs.bin }}
            artifacts: { keep: [out] }
            steps:
              - run: mkdir -p out && echo "made for ${{ inputs.target }}" > out/made.txt
              - id: c
                run: |
                  echo "compile ${{ inputs.target }} release=${{ inputs.release }} level=${{ inputs.level }} note='${{ inputs.note }}' job=${{ github.job }} event=${{ github.event_name }} WHERE=$WHERE TOP=${TOP:-unset}"
                  echo "token=${{ secrets.token }} other='${{ secrets.OTHER }}' env-token=${TOKEN:-unset}"
                  echo "bin=app-${{ inputs.target }}" >> "$GITHUB_OUTPUT"
          package:
            needs: compile
            runs-on: ubuntu-latest
            outputs:
              file: ${{ steps.p.outputs.file }}
            artifacts:
              restore: [ { job: compile } ]
            steps:
              - run: echo "package has $(cat out/made.txt)"
              - id: p
                run: echo "file=${{ needs.compile.outputs.bin }}.tar" >> "$GITHUB_OUTPUT"
          nested:
            needs: package
            uses: ./.github/workflows/leaf.yml
            with:
              from: ${{ needs.package.outputs.file }}
        """
    static let leaf = """
        on:
          workflow_call:
            inputs:
              from: { type: string, required: true }
        jobs:
          leaf:
            runs-on: ubuntu-latest
            steps:
              - run: echo "leaf got ${{ inputs.from }}"
        """

    /// A project folder with an empty `.github/workflows`.
    static func emptyProject() throws -> TemporaryDirectory {
        let temp = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: temp.path + "/.github/workflows", withIntermediateDirectories: true)
        return temp
    }

    /// A project whose `.github/workflows` holds `build.yml` and the `leaf.yml` it calls.
    func project() throws -> TemporaryDirectory {
        let temp = try Self.emptyProject()
        _ = try temp.write(".github/workflows/build.yml", Self.build)
        _ = try temp.write(".github/workflows/leaf.yml", Self.leaf)
        return temp
    }

    @Test("each matrix instance of the caller runs the called jobs with its typed inputs and defaults; outputs reach needs; the called file's env, not the caller's; secrets passed are masked, others empty; nested calls; -j1 finishes")
    func callsRun() async throws {
        let temp = try project()
        defer { temp.remove() }
        _ = try temp.write("ci.yml", """
            on: push
            env:
              TOP: caller-env
            jobs:
              prepare:
                runs-on: ubuntu-latest
                outputs:
                  level: ${{ steps.l.outputs.level }}
                steps:
                  - id: l
                    run: echo "level=7" >> "$GITHUB_OUTPUT"
              build:
                needs: prepare
                strategy:
                  matrix:
                    target: [linux, arm]
                uses: ./.github/workflows/build.yml
                with:
                  target: ${{ matrix.target }}
                  release: ${{ matrix.target == 'arm' }}
                  level: ${{ fromJSON(needs.prepare.outputs.level) }}
                secrets:
                  token: ${{ secrets.TOKEN }}
              defaults:
                uses: ./.github/workflows/build.yml
                with: { target: plain }
                secrets: { token: plain-s3cr3t-written-out }
              report:
                needs: [build, defaults]
                runs-on: ubuntu-latest
                steps:
                  - run: echo "report ${{ needs.build.result }} ${{ needs.defaults.outputs.file }}"
            """)
        for jobs in ["1", "4"] {
            let result = try await nixactions(["run", "ci.yml", "-j", jobs, "--log-format", "plain", "--secret", "TOKEN=tok-s3cr3t-value", "--secret", "OTHER=other-s3cr3t"],
                                              in: temp.path)
            #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
            let out = result.stdout
            for line in [
                "[build-target-linux-compile] compile linux release=false level=7 note='' job=compile event=push WHERE=called TOP=unset\n",
                "[build-target-arm-compile] compile arm release=true level=7 note='' job=compile event=push WHERE=called TOP=unset\n",
                "[defaults-compile] compile plain release=false level=3 note='' job=compile event=push WHERE=called TOP=unset\n",
                "[build-target-linux-compile] token=*** other='' env-token=unset\n",
                "[defaults-compile] token=*** other='' env-token=unset\n",
                "[build-target-arm-nested-leaf] leaf got app-arm.tar\n",
                "[build-target-arm-package] package has made for arm\n", "[build-target-linux-package] package has made for linux\n",
                "[defaults-package] package has made for plain\n",
                "[defaults-nested-leaf] leaf got app-plain.tar\n",
                "[report] report success app-plain.tar-plain\n",
                "==> job 'build (target: linux) / nested / leaf' succeeded",
                "==> job 'build (target: arm)' succeeded",
            ] {
                #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
            }
            #expect(!out.contains("s3cr3t"), "\(out)")
        }
    }

    @Test("secrets: inherit gives the caller's secrets, also those exported as variables")
    func inheritedSecrets() async throws {
        let temp = try project()
        defer { temp.remove() }
        _ = try temp.write("ci.yml", """
            on: push
            secrets: [TOKEN]
            jobs:
              call:
                uses: ./.github/workflows/build.yml
                with: { target: x }
                secrets: inherit
            """)
        let result = try await nixactions(["run", "ci.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"], in: temp.path,
                                          environment: ["TOKEN": "inherited-s3cr3t", "OTHER": "x"])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        #expect(result.stdout.contains("[call-compile] token=*** other='' env-token=***\n"), "\(result.stdout)")
        #expect(!result.stdout.contains("s3cr3t"))
        // The events: the calling job's own start and end, then its called jobs' under their keys and names.
        let runs = try FileManager.default.contentsOfDirectory(atPath: temp.path + "/logs")
        let events = try String(contentsOfFile: temp.path + "/logs/" + (runs.first ?? "") + "/events.jsonl", encoding: .utf8)
        #expect(!events.contains("s3cr3t"))
        let state = try RunState.replay(events)
        #expect(state.jobs.map(\.key) == ["call", "call-compile", "call-package", "call-nested", "call-nested-leaf"], "\(state.jobs.map(\.key))")
        #expect(state.jobs.map(\.name) == ["call", "call / compile", "call / package", "call / nested", "call / nested / leaf"])
        #expect(state.jobs.allSatisfy { $0.status == "success" })
        #expect(state.jobs.first?.steps.isEmpty == true)
        #expect(state.jobs.first?.uses == "./.github/workflows/build.yml")
        #expect(state.jobs.first?.calls == ["call-compile", "call-package", "call-nested"])
        #expect(state.jobs.last?.uses == nil && state.jobs[3].calls == ["call-nested-leaf"])
        // The called jobs as the plan describes a run's (audit 54 M2): ids and needs in their file;
        // the caller's outputs in its job_finished, as needs.call.outputs sees them (M1); the exit status (M3).
        #expect(state.jobs.map(\.id) == ["call", "compile", "package", "nested", "leaf"], "\(state.jobs.map(\.id))")
        #expect(state.jobs.map(\.needs) == [[], [], ["compile"], ["package"], []], "\(state.jobs.map(\.needs))")
        #expect(state.jobs.first?.outputs == ["file": "app-x.tar-x"], "\(state.jobs.first?.outputs ?? [:])")
        #expect(state.exitStatus == 0 && state.recordedExitStatus == 0)
    }

    @Test("a called job that fails fails its caller (exit 1): the called jobs after it are skipped, fail-fast cancels the caller's other instances, always() jobs see the failure")
    func failures() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/inner.yml", """
            on:
              workflow_call:
                inputs:
                  n: { type: number, required: true }
            jobs:
              first:
                runs-on: ubuntu-latest
                steps:
                  - run: if [ "${{ inputs.n }}" = 1 ]; then exit 3; fi; sleep 30; echo NEVER_SLEPT_THROUGH
              second:
                needs: first
                runs-on: ubuntu-latest
                steps:
                  - run: echo NEVER_RAN
            """)
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              call:
                strategy:
                  matrix:
                    n: [1, 2]
                uses: ./.github/workflows/inner.yml
                with:
                  n: ${{ matrix.n }}
              after:
                needs: call
                if: always()
                runs-on: ubuntu-latest
                steps:
                  - run: echo "call was ${{ needs.call.result }}"
              typed:
                uses: ./.github/workflows/inner.yml
                with:
                  n: ${{ format('{0}x', 'abc') }}
            """)
        let result = try await nixactions(["run", "ci.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        let out = result.stdout
        #expect(out.contains("==> job 'call (n: 1) / first' failed"), "\(out)")
        #expect(out.contains("==> job 'call (n: 2) / first' cancelled"), "\(out)")
        #expect(out.contains("==> job 'call (n: 1)' failed"), "\(out)")
        #expect(out.contains("[after] call was failure\n"), "\(out)")
        #expect(out.contains("ci.yml:19:10: cannot give input 'n' of './.github/workflows/inner.yml': 'abcx' is a string, and input 'n' is a number: GitHub refuses it (Unexpected value 'abcx')"), "\(out)")
        #expect(!out.contains("NEVER_RAN") && !out.contains("NEVER_SLEPT_THROUGH"), "\(out)")
        // The summary lists each calling instance's jobs after it.
        let table = out[(out.range(of: "\nJOB ")?.upperBound ?? out.startIndex)...]
        let rows = table.split(separator: "\n").map { $0.split(separator: "  ").first.map(String.init) ?? "" }
        for caller in ["call (n: 1)", "call (n: 2)"] {
            let at = try #require(rows.firstIndex(of: caller), "\(rows)")
            #expect(Array(rows[at...].prefix(3)) == [caller, caller + " / first", caller + " / second"], "\(rows)")
        }
    }

    @Test("a matrix over a call: the output is the one an instance set, an instance that leaves it empty does not hide it (audit 53)")
    func matrixCallOutputs() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/emit.yml", """
            on:
              workflow_call:
                inputs:
                  v: { type: string, required: true }
                outputs:
                  art: { value: "${{ jobs.make.outputs.art }}" }
            jobs:
              make:
                runs-on: ubuntu-latest
                outputs:
                  art: ${{ steps.s.outputs.art }}
                steps:
                  - id: s
                    run: if [ "${{ inputs.v }}" = a ]; then echo "art=built-a" >> "$GITHUB_OUTPUT"; fi
            """)
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              call:
                strategy:
                  max-parallel: 1
                  matrix:
                    v: [a, b]
                uses: ./.github/workflows/emit.yml
                with:
                  v: ${{ matrix.v }}
              after:
                needs: call
                runs-on: ubuntu-latest
                steps:
                  - run: echo "art=[${{ needs.call.outputs.art }}] all=${{ toJSON(needs.call.outputs) }}"
            """)
        let result = try await nixactions(["run", "ci.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        #expect(result.stdout.contains("[after] art=[built-a] all={"), "\(result.stdout)")
    }

    @Test("Ctrl-C while a called job runs: exit 130, its always() step runs, the jobs after it and the caller are cancelled, no process is left")
    func cancelledCall() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/sleeper.yml", """
            on: workflow_call
            jobs:
              s:
                runs-on: ubuntu-latest
                steps:
                  - run: touch "\(temp.path)/started"; exec sleep 307
                  - if: always()
                    run: echo cleanup ran
              t:
                needs: s
                runs-on: ubuntu-latest
                steps:
                  - run: echo NEVER_RAN
            """)
        _ = try temp.write("ci.yml", "on: push\njobs:\n  call:\n    uses: ./.github/workflows/sleeper.yml\n")
        let output = temp.path + "/out.txt"
        FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        defer { try? handle.close() }
        let process = try launchNixactions(["run", "ci.yml", "--log-format", "plain"], in: temp.path, output: handle)
        #expect(await eventually { FileManager.default.fileExists(atPath: temp.path + "/started") }, "the called job never started")
        kill(process.processIdentifier, SIGINT)
        await waitForExit(process)
        #expect(process.terminationStatus == 130)
        let out = try String(contentsOfFile: output, encoding: .utf8)
        for line in ["[call-s] cleanup ran\n", "==> job 'call / s' cancelled", "==> job 'call / t' cancelled", "==> job 'call' cancelled"] {
            #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
        }
        #expect(!out.contains("NEVER_RAN"))
        #expect(await livePids(after: .seconds(10)) { $0.contains("sleep 307") }.isEmpty, "the called job's process was left")
    }

    @Test("calls are checked before the run, each problem at its line with a hint: inputs and secrets the file does not declare, required ones missing, a literal of the wrong type, a missing file, a file that is not reusable, a loop, outputs reading no job")
    func checkedBeforeTheRun() async throws {
        let temp = try project()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/plain.yml", "on: push\njobs:\n  a:\n    steps: [ { run: echo } ]\n")
        _ = try temp.write(".github/workflows/loop-a.yml", "on: workflow_call\njobs:\n  a:\n    uses: ./.github/workflows/loop-b.yml\n")
        _ = try temp.write(".github/workflows/loop-b.yml", "on: workflow_call\njobs:\n  b:\n    uses: ./.github/workflows/loop-a.yml\n")
        _ = try temp.write(".github/workflows/outs.yml", """
            on:
              workflow_call:
                outputs:
                  x: { value: "${{ jobs.nope.outputs.x }}" }
                  y: { value: "${{ steps.s.outputs.y }}" }
            jobs:
              real:
                steps: [ { run: echo } ]
            """)
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              wrong:
                uses: ./.github/workflows/build.yml
                with:
                  release: maybe
                  colour: red
                secrets:
                  tokn: x
              missing:
                uses: ./.github/workflows/biuld.yml
              plain:
                uses: ./.github/workflows/plain.yml
              loop:
                uses: ./.github/workflows/loop-a.yml
              outs:
                uses: ./.github/workflows/outs.yml
              elsewhere:
                uses: ./workflows/build.yml
              typed:
                uses: ./.github/workflows/build.yml
                with:
                  target: [1, 2]
            """)
        let result = try await nixactions(["validate", "ci.yml"], in: temp.path)
        #expect(result.status == 2, "\(result.stderr)")
        let err = result.stderr
        for text in [
            "ci.yml:4:11: error: input 'target' of './.github/workflows/build.yml' is required, but the call does not give it",
            "ci.yml:6:16: error: with.release: 'maybe' is a string, and input 'release' is a boolean: GitHub refuses it (Unexpected value 'maybe')",
            "ci.yml:7:15: error: './.github/workflows/build.yml' has no input 'colour'",
            "hint: its inputs: target, release, level, note",
            "ci.yml:9:13: error: './.github/workflows/build.yml' has no secret 'tokn'",
            "hint: did you mean 'token'?",
            "ci.yml:11:11: error: cannot read the called workflow './.github/workflows/biuld.yml': no such file",
            "hint: did you mean './.github/workflows/build.yml'?",
            "ci.yml:13:11: error: './.github/workflows/plain.yml' is not a reusable workflow: its 'on' has no workflow_call",
            "loop-b.yml:4:11: error: './.github/workflows/loop-a.yml' is called again (loop-a.yml → loop-b.yml → loop-a.yml)",
            ".github/workflows/outs.yml:4:24: error: on.workflow_call.outputs.x reads jobs.nope, but the workflow has no job 'nope'",
            ".github/workflows/outs.yml:5:24: error: 'steps' is not available in on.workflow_call.outputs.y",
            "ci.yml:19:11: error: './workflows/build.yml' is not a workflow file of a .github/workflows folder",
            // A value of the wrong kind is that error alone, not also "not given" (audit 55 M4).
            "ci.yml:23:15: error: with.target must be a string, found a sequence",
        ] {
            #expect(err.contains(text), "missing '\(text)' in:\n\(err)")
        }
        #expect(!err.contains("ci.yml:21:11: error: input 'target'"), "\(err)")
        #expect(err.contains("nixactions: ci.yml: 11 errors"), "\(err)")
    }

    @Test("a string input's plain number default is the number's text as GitHub writes it (3.10 is '3.1'), with a warning; a quoted one stays (audit 63 fidelity H2)")
    func numberDefaults() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/py.yml", """
            on:
              workflow_call:
                inputs:
                  py: { type: string, default: 3.10 }
                  kept: { type: string, default: "3.10" }
            jobs:
              show:
                runs-on: ubuntu-latest
                steps:
                  - run: echo "py=${{ inputs.py }} kept=${{ inputs.kept }}"
            """)
        _ = try temp.write("ci.yml", "on: push\njobs:\n  c: { uses: ./.github/workflows/py.yml }\n")
        let checked = try await nixactions(["validate", ".github/workflows/py.yml"], in: temp.path)
        #expect(checked.status == 0 && checked.stderr.contains("py.yml:4:36: warning: on.workflow_call.inputs.py.default: GitHub reads 3.10 as the number 3.1, so the value is '3.1'"),
                "\(checked.stderr)")
        let result = try await nixactions(["run", "ci.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0 && result.stdout.contains("[c-show] py=3.1 kept=3.10\n"), "\(result.stdout)\(result.stderr)")
    }

    @Test("inputs are typed as GitHub types them: a number or boolean input refuses text (a job output, a quoted literal) with GitHub's 'Unexpected value', fromJSON() makes it one; a string input given a number warns (audit 51)")
    func inputTypes() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/typed.yml", """
            on:
              workflow_call:
                inputs:
                  n: { type: number, required: true }
                  flag: { type: boolean, default: false }
                  s: { type: string, default: "" }
            jobs:
              show:
                runs-on: ubuntu-latest
                steps:
                  - run: echo "got ${{ toJSON(inputs) }}" | tr -d ' \\n'; echo
            """)
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              p:
                runs-on: ubuntu-latest
                outputs: { n: "${{ steps.x.outputs.n }}" }
                steps: [ { id: x, run: 'echo "n=60" >> "$GITHUB_OUTPUT"' } ]
              text:
                needs: p
                uses: ./.github/workflows/typed.yml
                with: { n: "${{ needs.p.outputs.n }}" }
              converted:
                needs: p
                uses: ./.github/workflows/typed.yml
                with:
                  n: ${{ fromJSON(needs.p.outputs.n) }}
                  flag: ${{ needs.p.outputs.n == '60' }}
                  s: ${{ github.run_attempt }}
              literals:
                uses: ./.github/workflows/typed.yml
                with: { n: 0x10, flag: true, s: 3.10 }
            """)
        let checked = try await nixactions(["validate", "ci.yml"], in: temp.path)
        #expect(checked.status == 0, "\(checked.stderr)")
        // GitHub takes a number for a string input and writes it as it writes numbers (audit 63 fidelity H2; review 51 kept the text).
        #expect(checked.stderr.contains("ci.yml:20:37: warning: with.s: GitHub reads 3.10 as the number 3.1, so the value is '3.1'; quote it ('3.10') to keep the text as written"),
                "\(checked.stderr)")
        #expect(!checked.stderr.contains("may refuse it"), "\(checked.stderr)")
        let result = try await nixactions(["run", "ci.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("ci.yml:10:16: cannot give input 'n' of './.github/workflows/typed.yml': '60' is a string, and input 'n' is a number: GitHub refuses it (Unexpected value '60'); make it a number with fromJSON()"),
                "\(out)")
        // (The shell drops the JSON's quotes.) A string's `github.run_attempt` is a string, as on GitHub.
        #expect(out.contains("[converted-show] got{flag:true,n:60,s:1}\n"), "\(out)")
        // A plain 3.10 given to a string input is the number's text, 3.1, as on GitHub.
        #expect(out.contains("[literals-show] got{flag:true,n:16,s:3.1}\n"), "\(out)")

        // A quoted number for a number input: an error before the run, told to lose its quotes.
        _ = try temp.write("quoted.yml", """
            jobs:
              q:
                uses: ./.github/workflows/typed.yml
                with: { n: "7" }
            """)
        let quoted = try await nixactions(["validate", "quoted.yml"], in: temp.path)
        #expect(quoted.status == 2, "\(quoted.stderr)")
        #expect(quoted.stderr.contains("quoted.yml:4:16: error: with.n: '7' is a string, and input 'n' is a number: GitHub refuses it (Unexpected value '7'); write it without quotes"),
                "\(quoted.stderr)")

        // A workflow_dispatch number is text in `inputs` (GitHub's actions/runner#2848): given on
        // to a number input it fails, fromJSON() passes it. A caller's own workflow_call number
        // not given is 0, GitHub's empty number, and passes on as one (review 51).
        _ = try temp.write("dispatch.yml", """
            on:
              workflow_dispatch:
                inputs: { count: { type: number, default: 5 } }
            jobs:
              raw:
                uses: ./.github/workflows/typed.yml
                with: { n: "${{ inputs.count }}" }
              parsed:
                uses: ./.github/workflows/typed.yml
                with: { n: "${{ fromJSON(inputs.count) }}" }
            """)
        let dispatch = try await nixactions(["run", "dispatch.yml", "--event", "workflow_dispatch", "--log-format", "plain"], in: temp.path)
        #expect(dispatch.status == 1, "\(dispatch.stdout)\(dispatch.stderr)")
        #expect(dispatch.stdout.contains("'5' is a string, and input 'n' is a number: GitHub refuses it (Unexpected value '5')"), "\(dispatch.stdout)")
        #expect(dispatch.stdout.contains("[parsed-show] got{flag:false,n:5,s:}\n"), "\(dispatch.stdout)")
        _ = try temp.write("passing.yml", """
            on:
              workflow_call:
                inputs: { count: { type: number } }
            jobs:
              pass:
                uses: ./.github/workflows/typed.yml
                with: { n: "${{ inputs.count }}" }
            """)
        let passing = try await nixactions(["run", "passing.yml", "--log-format", "plain"], in: temp.path)
        #expect(passing.status == 0, "\(passing.stdout)\(passing.stderr)")
        #expect(passing.stdout.contains("[pass-show] got{flag:false,n:0,s:}\n"), "\(passing.stdout)")
    }

    @Test("a reusable workflow of another repository (OWNER/REPO/.github/workflows/FILE.yml@REF) is fetched from the actions' server: its ./ calls name its own repository, its local actions the project; validate only notes it; a missing file or ref is an error before any job")
    func remoteCalls() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        try daemon.publish("octo/pipelines", files: [
            ".github/workflows/build.yml": Self.build,
            ".github/workflows/leaf.yml": Self.leaf.replacingOccurrences(of: "leaf got", with: "remote leaf got"),
            ".github/workflows/greet.yml": "on: workflow_call\njobs:\n  greet:\n    steps:\n      - uses: ./.github/actions/hi\n",
            ".github/actions/hi/action.yml": "runs:\n  using: composite\n  steps:\n    - run: echo hi from the remote repository\n      shell: bash\n",
            // `$/` in a file of that repository: a call names that repository; an action is not read from there yet.
            ".github/workflows/selfcall.yml": "on: workflow_call\njobs:\n  again:\n    uses: $/.github/workflows/leaf.yml\n    with: { from: self }\n",
            ".github/workflows/selfstep.yml": "on: workflow_call\njobs:\n  step:\n    steps:\n      - uses: $/.github/actions/hi\n",
        ], tags: ["v1"])
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let cache = try TemporaryDirectory()
        defer { cache.remove() }
        try FileManager.default.createDirectory(atPath: temp.path + "/.github/actions/hi", withIntermediateDirectories: true)
        _ = try temp.write(".github/actions/hi/action.yml", "runs:\n  using: composite\n  steps:\n    - run: echo hi from the project\n      shell: bash\n")
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              greet:
                uses: octo/pipelines/.github/workflows/greet.yml@v1
              call:
                uses: octo/pipelines/.github/workflows/build.yml@v1
                with: { target: far }
              after:
                needs: call
                runs-on: ubuntu-latest
                steps:
                  - run: echo "after ${{ needs.call.outputs.file }}"
            """)
        let environment = ["XDG_CACHE_HOME": cache.path]
        let validate = try await nixactions(["validate", "ci.yml"], in: temp.path, environment: environment)
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stderr.contains("ci.yml:6:11: note: the reusable workflow 'octo/pipelines/.github/workflows/build.yml@v1' is fetched when a run starts"),
                "\(validate.stderr)")
        let result = try await nixactions(["run", "ci.yml", "--actions-url", daemon.url, "--log-format", "plain"], in: temp.path, environment: environment)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        #expect(!result.stderr.contains("warning"), "\(result.stderr)")
        for line in ["[call-compile] compile far release=false level=3 note='' job=compile event=push WHERE=called TOP=unset\n",
                     "[call-nested-leaf] remote leaf got app-far.tar\n", "[after] after app-far.tar-far\n", "[greet-greet] hi from the project\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        _ = try temp.write("self.yml", """
            on: push
            jobs:
              selfcall:
                uses: octo/pipelines/.github/workflows/selfcall.yml@v1
            """)
        let selfCall = try await nixactions(["run", "self.yml", "--actions-url", daemon.url, "--log-format", "plain"], in: temp.path,
                                            environment: environment)
        #expect(selfCall.status == 0, "\(selfCall.stderr)\n\(selfCall.stdout)")
        #expect(selfCall.stdout.contains("] remote leaf got self\n"), "\(selfCall.stdout)")
        _ = try temp.write("selfstep.yml", """
            on: push
            jobs:
              selfstep:
                uses: octo/pipelines/.github/workflows/selfstep.yml@v1
            """)
        let selfStep = try await nixactions(["run", "selfstep.yml", "--actions-url", daemon.url], in: temp.path, environment: environment)
        #expect(selfStep.status == 2, "\(selfStep.stderr)")
        #expect(selfStep.stderr.contains("the action '$/.github/actions/hi' (a self-repository reference in another repository's workflow)"),
                "\(selfStep.stderr)")
        #expect(!selfStep.stdout.contains("hi from the project"))
        _ = try temp.write("bad.yml", """
            on: push
            jobs:
              nofile:
                uses: octo/pipelines/.github/workflows/deploy.yml@v1
              noref:
                uses: octo/pipelines/.github/workflows/build.yml@v9
                with: { target: x }
            """)
        let bad = try await nixactions(["run", "bad.yml", "--actions-url", daemon.url], in: temp.path, environment: environment)
        #expect(bad.status == 2, "\(bad.stderr)")
        #expect(bad.stderr.contains("bad.yml:4:11: error: cannot read the called workflow 'octo/pipelines/.github/workflows/deploy.yml@v1': no such file"), "\(bad.stderr)")
        #expect(bad.stderr.contains("bad.yml:6:11: error: cannot fetch the reusable workflow 'octo/pipelines/.github/workflows/build.yml@v9'"), "\(bad.stderr)")
        #expect(!bad.stdout.contains("==> job"))
        _ = try temp.write("malformed.yml", "on: push\njobs:\n  malformed:\n    uses: octo/pipelines/build.yml@v1\n")
        let malformed = try await nixactions(["validate", "malformed.yml"], in: temp.path, environment: environment)
        #expect(malformed.status == 2, "\(malformed.stderr)")
        #expect(malformed.stderr.contains("malformed.yml:4:11: error: 'octo/pipelines/build.yml@v1' is not a reusable workflow"), "\(malformed.stderr)")
    }

    @Test("max-parallel of a calling job runs its instances' calls one at a time; a called file's problem stops a run of any job that calls it")
    func maxParallelAndSelection() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/step.yml", """
            on:
              workflow_call:
                inputs: { n: { type: number } }
            jobs:
              one:
                runs-on: ubuntu-latest
                steps:
                  - run: echo "start ${{ inputs.n }}" >> "\(temp.path)/order"; sleep 0.3; echo "end ${{ inputs.n }}" >> "\(temp.path)/order"
            """)
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              call:
                strategy:
                  max-parallel: 1
                  matrix: { n: [1, 2, 3] }
                uses: ./.github/workflows/step.yml
                with: { n: "${{ matrix.n }}" }
            """)
        let result = try await nixactions(["run", "ci.yml", "-j", "4"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        let order = try String(contentsOfFile: temp.path + "/order", encoding: .utf8).split(separator: "\n")
        #expect(order == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"], "\(order)")

        _ = try temp.write(".github/workflows/broken.yml", "on: workflow_call\njobs:\n  x:\n    steps:\n      - run: echo ${{ nope.x }}\n")
        _ = try temp.write("two.yml", """
            on: push
            jobs:
              first:
                uses: ./.github/workflows/broken.yml
              second:
                uses: ./.github/workflows/broken.yml
              other:
                steps: [ { run: echo other ran } ]
            """)
        let second = try await nixactions(["run", "two.yml", "second"], in: temp.path)
        #expect(second.status == 2, "\(second.stderr)")
        #expect(second.stderr.contains(".github/workflows/broken.yml:5:23: error: unknown context 'nope'"), "\(second.stderr)")
        #expect(second.stderr.contains("in workflow 'two' › job 'second' › workflow 'broken' › job 'x'"), "\(second.stderr)")
        let other = try await nixactions(["run", "two.yml", "other"], in: temp.path)
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stderr.contains("(in job 'first', which this run does not run)") && other.stderr.contains("(in job 'second', which this run does not run)"),
                "\(other.stderr)")
    }

    @Test("a matrix from needs inside a called workflow is expanded when its needs finish, per calling instance")
    func matrixFromNeedsInACall() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/fan.yml", """
            on:
              workflow_call:
                inputs: { base: { type: string } }
            jobs:
              plan:
                runs-on: ubuntu-latest
                outputs: { list: "${{ steps.p.outputs.list }}" }
                steps:
                  - id: p
                    run: echo 'list=["${{ inputs.base }}-a","${{ inputs.base }}-b"]' >> "$GITHUB_OUTPUT"
              each:
                needs: plan
                runs-on: ubuntu-latest
                strategy: { matrix: { item: "${{ fromJSON(needs.plan.outputs.list) }}" } }
                steps:
                  - run: echo "item ${{ matrix.item }}"
            """)
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              fan:
                strategy: { matrix: { base: [x, y] } }
                uses: ./.github/workflows/fan.yml
                with: { base: "${{ matrix.base }}" }
            """)
        let result = try await nixactions(["run", "ci.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        for line in ["[fan-base-x-each-item-x-a] item x-a\n", "[fan-base-x-each-item-x-b] item x-b\n",
                     "[fan-base-y-each-item-y-a] item y-a\n", "[fan-base-y-each-item-y-b] item y-b\n",
                     "==> job 'fan (base: x) / each (item: x-b)' succeeded"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        let runs = try FileManager.default.contentsOfDirectory(atPath: temp.path + "/logs")
        let state = try RunState.replay(try String(contentsOfFile: temp.path + "/logs/" + (runs.first ?? "") + "/events.jsonl", encoding: .utf8))
        // call_started lists the stand-in of the matrix from needs; matrix_expanded replaces it with its instances.
        #expect(state.jobs.first { $0.key == "fan-base-x" }?.calls == ["fan-base-x-plan", "fan-base-x-each-item-x-a", "fan-base-x-each-item-x-b"])
        let table = result.stdout[(result.stdout.range(of: "\nJOB ")?.upperBound ?? result.stdout.startIndex)...]
        let rows = table.split(separator: "\n").map { $0.split(separator: "  ").first.map(String.init) ?? "" }
        let at = try #require(rows.firstIndex(of: "fan (base: y)"), "\(rows)")
        #expect(Array(rows[at...].prefix(4)) == ["fan (base: y)", "fan (base: y) / plan", "fan (base: y) / each (item: y-a)", "fan (base: y) / each (item: y-b)"],
                "\(rows)")
    }

    @Test("GitHub's limits and what a called file may not do: more than 10 levels, more than 50 files, a link out of the project, secrets of its own")
    func limits() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        // level1.yml calls level2.yml … level10.yml: with ci.yml, 11 levels.
        for level in 1...10 {
            let body = level < 10 ? "    uses: ./.github/workflows/level\(level + 1).yml\n" : "    steps: [ { run: echo deep } ]\n"
            _ = try temp.write(".github/workflows/level\(level).yml", "on: workflow_call\njobs:\n  j:\n" + body)
        }
        _ = try temp.write("deep.yml", "on: push\njobs:\n  deep:\n    uses: ./.github/workflows/level1.yml\n  ok:\n    uses: ./.github/workflows/level2.yml\n")
        let deep = try await nixactions(["validate", "deep.yml"], in: temp.path)
        #expect(deep.status == 2, "\(deep.stderr)")
        #expect(deep.stderr.contains("deep.yml:4:11: error: './.github/workflows/level1.yml' and the workflows it calls make 11 levels of workflows; at most 10 are allowed"),
                "\(deep.stderr)")
        #expect(deep.stderr.contains("nixactions: deep.yml: 1 error"), "\(deep.stderr)")

        var many = "on: push\njobs:\n"
        for index in 1...51 {
            _ = try temp.write(".github/workflows/w\(index).yml", "on: workflow_call\njobs:\n  j:\n    steps: [ { run: echo \(index) } ]\n")
            many += "  c\(index):\n    uses: ./.github/workflows/w\(index).yml\n"
        }
        _ = try temp.write("many.yml", many)
        let tooMany = try await nixactions(["validate", "many.yml"], in: temp.path)
        #expect(tooMany.status == 2, "\(tooMany.stderr)")
        #expect(tooMany.stderr.contains("many.yml:104:11: error: more than 50 reusable workflows are called"), "\(tooMany.stderr)")

        let outside = try TemporaryDirectory()
        defer { outside.remove() }
        _ = try outside.write("secret.yml", "on: workflow_call\njobs:\n  j:\n    steps: [ { run: echo outside } ]\n")
        try FileManager.default.createSymbolicLink(atPath: temp.path + "/.github/workflows/link.yml", withDestinationPath: outside.path + "/secret.yml")
        _ = try temp.write(".github/workflows/own.yml", "on: workflow_call\nsecrets: [DEPLOY_TOKEN]\njobs:\n  j:\n    steps: [ { run: echo } ]\n")
        _ = try temp.write("rules.yml", "on: push\njobs:\n  link:\n    uses: ./.github/workflows/link.yml\n  own:\n    uses: ./.github/workflows/own.yml\n")
        let rules = try await nixactions(["validate", "rules.yml"], in: temp.path)
        #expect(rules.status == 2, "\(rules.stderr)")
        #expect(rules.stderr.contains("rules.yml:4:11: error: the called workflow './.github/workflows/link.yml' is a link to a file outside its repository"),
                "\(rules.stderr)")
        #expect(rules.stderr.contains(".github/workflows/own.yml:2:11: error: a called workflow cannot declare 'secrets:' of its own"), "\(rules.stderr)")
    }

    @Test("with max-parallel and fail-fast, the instances held back are cancelled when one fails, and the jobs after them run: for a matrix job and a calling job")
    func heldBackInstancesAreDecided() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/one.yml", """
            on:
              workflow_call:
                inputs: { n: { type: number } }
            jobs:
              j:
                runs-on: ubuntu-latest
                steps:
                  - run: test "${{ inputs.n }}" != 1
            """)
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              plain:
                runs-on: ubuntu-latest
                strategy: { max-parallel: 1, matrix: { n: [1, 2, 3] } }
                steps:
                  - run: test "${{ matrix.n }}" != 1
              call:
                strategy: { max-parallel: 1, matrix: { n: [1, 2, 3] } }
                uses: ./.github/workflows/one.yml
                with: { n: "${{ matrix.n }}" }
              after:
                needs: [plain, call]
                if: always()
                runs-on: ubuntu-latest
                steps:
                  - run: echo "after ${{ needs.plain.result }} ${{ needs.call.result }}"
            """)
        let result = try await nixactions(["run", "ci.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        for line in ["==> job 'plain (n: 3)' cancelled", "==> job 'call (n: 3)' cancelled", "[after] after failure failure\n", "8 jobs: "] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
    }

    @Test("a called file's problems reach every job of the run that reaches it, directly or through another called file")
    func problemsReachEveryCaller() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/broken.yml", "on: workflow_call\njobs:\n  x:\n    steps:\n      - run: echo ${{ nope.x }}\n")
        _ = try temp.write(".github/workflows/middle.yml", "on: workflow_call\njobs:\n  y:\n    uses: ./.github/workflows/broken.yml\n")
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              a:
                uses: ./.github/workflows/middle.yml
              y:
                uses: ./.github/workflows/broken.yml
              fine:
                steps: [ { run: echo fine } ]
            """)
        for job in ["a", "y"] {
            let result = try await nixactions(["run", "ci.yml", job], in: temp.path)
            #expect(result.status == 2, "\(job): \(result.stderr)")
            #expect(result.stderr.contains("broken.yml:5:23: error: unknown context 'nope'"), "\(job): \(result.stderr)")
        }
        let fine = try await nixactions(["run", "ci.yml", "fine"], in: temp.path)
        #expect(fine.status == 0, "\(fine.stderr)")
    }

    @Test("a called file's env, defaults and timeout apply to its jobs, --env is over them; a call whose jobs were all skipped succeeds")
    func whatCalledJobsSee() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        try FileManager.default.createDirectory(atPath: temp.path + "/sub", withIntermediateDirectories: true)
        _ = try temp.write(".github/workflows/levels.yml", """
            on: workflow_call
            timeout: 2s
            env: { WHO: called-file, KEEP: called-file }
            defaults:
              run: { working-directory: sub }
            jobs:
              show:
                runs-on: ubuntu-latest
                steps:
                  - run: echo "in $(basename "$PWD") WHO=$WHO KEEP=$KEEP"
              slow:
                runs-on: ubuntu-latest
                steps:
                  - run: sleep 30; echo "NEVER_$((1 + 1))"
            """)
        _ = try temp.write(".github/workflows/skipped.yml", """
            on: workflow_call
            jobs:
              never:
                if: false
                runs-on: ubuntu-latest
                steps: [ { run: echo "RAN_$((2 + 2))" } ]
            """)
        _ = try temp.write("ci.yml", """
            on: push
            env: { WHO: caller }
            jobs:
              levels:
                uses: ./.github/workflows/levels.yml
              skipped:
                uses: ./.github/workflows/skipped.yml
              after:
                needs: [levels, skipped]
                if: always()
                runs-on: ubuntu-latest
                steps:
                  - run: echo "levels ${{ needs.levels.result }} skipped ${{ needs.skipped.result }}"
            """)
        let result = try await nixactions(["run", "ci.yml", "--log-format", "plain", "--env", "WHO=command-line"], in: temp.path)
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        for line in ["[levels-show] in sub WHO=command-line KEEP=called-file\n", "==> job 'levels / slow' failed",
                     "==> job 'skipped' succeeded", "[after] levels failure skipped success\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        #expect(!result.stdout.contains("NEVER_2") && !result.stdout.contains("RAN_4"), "\(result.stdout)")
    }

    @Test("an input's default may be an expression (github, inputs given, vars), typed as the input, when called and when the file is run; a value of the wrong type fails at its place; other contexts are errors")
    func defaultExpressions() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/image.yml", """
            on:
              workflow_call:
                inputs:
                  push: { type: boolean, default: "${{ github.event_name != 'pull_request' }}" }
                  attempts: { type: number, default: "${{ github.run_attempt }}" }
                  tag: { type: string, default: "${{ inputs.name }}-${{ vars.SUFFIX }}" }
                  name: { type: string, required: true }
                  wrong: { type: number, default: "${{ inputs.name }}" }
            jobs:
              show:
                runs-on: ubuntu-latest
                steps:
                  - run: echo "push=${{ inputs.push }} attempts=${{ inputs.attempts }} tag=${{ inputs.tag }} wrong=${{ inputs.wrong }} quoted=${{ startsWith(toJSON(inputs.push), '"') }}/${{ startsWith(toJSON(inputs.attempts), '"') }}"
            """)
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              good:
                uses: ./.github/workflows/image.yml
                with: { name: app, wrong: 7 }
              bad:
                uses: ./.github/workflows/image.yml
                with: { name: app }
            """)
        let result = try await nixactions(["run", "ci.yml", "--log-format", "plain", "--var", "SUFFIX=s1"], in: temp.path)
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        let out = result.stdout + result.stderr
        for line in ["[good-show] push=true attempts=1 tag=app-s1 wrong=7 quoted=false/false\n",
                     "image.yml:8:39: default of input 'wrong': 'app' is not a number (in the call of './.github/workflows/image.yml')"] {
            #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
        }
        // The file run by itself: the defaults with the run's own github and vars.
        let alone = try await nixactions(["run", ".github/workflows/image.yml", "--log-format", "plain", "--event", "pull_request",
                                          "--input", "name=solo", "--input", "wrong=1"], in: temp.path)
        #expect(alone.status == 0, "\(alone.stderr)\n\(alone.stdout)")
        #expect(alone.stdout.contains("[show] push=false attempts=1 tag=solo- wrong=1 quoted=false/false\n"), "\(alone.stdout)")
        let wrongAlone = try await nixactions(["run", ".github/workflows/image.yml", "--input", "name=solo"], in: temp.path)
        #expect(wrongAlone.status == 2)
        #expect(wrongAlone.stderr.contains("image.yml:8:39: error: default of input 'wrong': 'solo' is not a number"), "\(wrongAlone.stderr)")

        // needs, env, secrets... are not available there.
        _ = try temp.write(".github/workflows/bad.yml", """
            on:
              workflow_call:
                inputs:
                  x: { type: string, default: "${{ env.HOME }}" }
            jobs:
              a: { runs-on: ubuntu-latest, steps: [ { run: "true" } ] }
            """)
        let checked = try await nixactions(["validate", ".github/workflows/bad.yml"], in: temp.path)
        #expect(checked.status == 2)
        #expect(checked.stderr.contains("bad.yml:4:40: error: 'env' is not available in 'on.workflow_call.inputs.x.default'"), "\(checked.stderr)")
    }

    @Test("the jobs of called files are placed before the run: a label no executor carries and an executor no plugin provides stop it; labels from the call's inputs wait for it")
    func calledJobsArePlaced() async throws {
        let temp = try Self.emptyProject()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/placed.yml", """
            on:
              workflow_call:
                inputs: { os: { type: string } }
            jobs:
              labelled: { runs-on: weird, steps: [ { run: echo x } ] }
              named: { executor: locl, steps: [ { run: echo x } ] }
              later: { runs-on: "${{ inputs.os }}", steps: [ { run: echo x } ] }
            """)
        _ = try temp.write("ci.yml", """
            on: push
            jobs:
              first: { steps: [ { run: echo first-ran } ] }
              call:
                needs: first
                uses: ./.github/workflows/placed.yml
                with: { os: also-weird }
            """)
        let result = try await nixactions(["run", "ci.yml"], in: temp.path)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains(".github/workflows/placed.yml:5:24: error: runs-on label 'weird' of job 'labelled' is not mapped to an executor"),
                "\(result.stderr)")
        #expect(result.stderr.contains(".github/workflows/placed.yml:6:22: error: job 'named': no executor plugin 'locl' was found"), "\(result.stderr)")
        #expect(!result.stderr.contains("also-weird"), "\(result.stderr)")
        #expect(result.stderr.contains("nixactions: no job was started"))
        #expect(!result.stdout.contains("first-ran"))
    }

    @Test("run --dry-run, list and graph show what a calling job calls")
    func shownBeforeTheRun() async throws {
        let temp = try project()
        defer { temp.remove() }
        _ = try temp.write(".github/workflows/ci.yml", """
            on: push
            jobs:
              call:
                uses: ./.github/workflows/build.yml
                with: { target: t }
            """)
        let dry = try await nixactions(["run", ".github/workflows/ci.yml", "--dry-run"], in: temp.path)
        #expect(dry.status == 0, "\(dry.stderr)")
        // The header says the summary will have rows for the called jobs too (audit 58 examples L14).
        #expect(dry.stdout.hasPrefix("plan of workflow 'ci': 1 job, 1 to run (1 calls a workflow: the run's summary lists the called jobs too), at most "),
                "\(dry.stdout)")
        #expect(dry.stdout.contains("1. call  [calls ./.github/workflows/build.yml]\n   - job compile\n   - job package  (needs: compile)\n   - job nested calls ./.github/workflows/leaf.yml  (needs: package)\n"),
                "\(dry.stdout)")
        let list = try await nixactions(["list"], in: temp.path)
        #expect(list.stdout.contains("  call  executor: calls ./.github/workflows/build.yml\n"), "\(list.stdout)")

        // A called file's own workflow-level concurrency is not held: a note says so.
        _ = try temp.write(".github/workflows/grouped.yml", """
            on: { workflow_call: {} }
            concurrency: { group: inner, cancel-in-progress: true }
            jobs:
              x:
                steps: [ { run: echo x } ]
            """)
        _ = try temp.write(".github/workflows/calls.yml", "on: push\njobs:\n  c:\n    uses: ./.github/workflows/grouped.yml\n")
        let noted = try await nixactions(["validate", ".github/workflows/calls.yml"], in: temp.path)
        #expect(noted.status == 0, "\(noted.stderr)")
        #expect(noted.stderr.contains(".github/workflows/grouped.yml:2:14: note: the 'concurrency' of a called workflow is not used here"), "\(noted.stderr)")
    }
}
