import Foundation
import NixActionsEngine
import Testing
import TestSupport

/// Local composite actions (`uses: ./PATH` with `runs.using: composite`): read from the job's
/// workspace when the step runs, checked by `validate` and `run` from the project.
@Suite("Local composite actions")
struct CompositeActionTests {
    /// A project with actions under .github/actions and the workflow `wf.yml`.
    static func project(_ actions: [String: String], workflow: String) throws -> (TemporaryDirectory, String) {
        let temp = try TemporaryDirectory()
        for (path, text) in actions { try temp.write(path, text) }
        return (temp, try temp.write("wf.yml", workflow))
    }

    static let greet = """
        name: Greet
        description: says hello
        inputs:
          who:
            description: whom
            required: true
          greeting:
            default: Hello
          job-name:
            default: ${{ github.job }}
        outputs:
          message:
            description: the text
            value: ${{ steps.say.outputs.text }}-${{ steps.nested.outputs.echoed }}
        runs:
          using: composite
          steps:
            - id: say
              shell: bash
              run: |
                echo "${{ inputs.greeting }}, ${{ inputs.who }} from ${{ inputs.job-name }}"
                echo "text=${{ inputs.greeting }} ${{ inputs.who }}" >> "$GITHUB_OUTPUT"
                echo "GREETED=${{ inputs.who }}" >> "$GITHUB_ENV"
                mkdir -p "$RUNNER_TEMP/bin" && printf '#!/bin/sh\\necho tool ran\\n' > "$RUNNER_TEMP/bin/greet-tool" && chmod +x "$RUNNER_TEMP/bin/greet-tool"
                echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
                echo "action_path=${GITHUB_ACTION_PATH#$GITHUB_WORKSPACE} same=${{ github.action_path == env.GITHUB_ACTION_PATH }}"
                echo "step_env=$FROM_USING_STEP"
            - id: nested
              uses: ./.github/actions/inner
              with:
                value: ${{ inputs.who }}
        """

    static let inner = """
        inputs:
          value: {}
        outputs:
          echoed: { value: "${{ steps.e.outputs.v }}" }
        runs:
          using: composite
          steps:
            - id: e
              run: echo "inner got $V from ${GITHUB_ACTION_PATH##*/}"; echo "v=$V!" >> "$GITHUB_OUTPUT"
              shell: bash
              env:
                V: ${{ inputs.value }}
        """

    @Test("a composite action runs as one step: inputs (without case, defaults from expressions), outputs, GITHUB_ENV and GITHUB_PATH for later steps, its path, a nested action")
    func runs() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/greet/action.yml": Self.greet, ".github/actions/inner/action.yaml": Self.inner],
            workflow: """
                jobs:
                  build:
                    steps:
                      - id: greet
                        uses: ./.github/actions/greet
                        env:
                          FROM_USING_STEP: given
                        with:
                          Who: world
                      - run: |
                          echo "output=${{ steps.greet.outputs.message }} outcome=${{ steps.greet.outcome }}"
                          echo "env=$GREETED"
                          greet-tool
                      # An empty or null `if:` is success(), as GitHub's runner reads it.
                      - if:
                        run: echo "empty if ran"
                      - if: ~
                        run: echo "null if ran"
                """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow, "--log-dir", temp.path + "/logs"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        for line in ["Hello, world from build", "action_path=/.github/actions/greet same=true", "step_env=given", "inner got world from inner",
                     "output=Hello world-world! outcome=success", "env=world", "tool ran", "empty if ran", "null if ran"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        // Its steps are parts of the step that uses it: four steps in the events, the action's steps as lines.
        let folder = try FileManager.default.contentsOfDirectory(atPath: temp.path + "/logs").first ?? ""
        let events = try String(contentsOfFile: temp.path + "/logs/\(folder)/events.jsonl", encoding: .utf8)
        #expect(events.components(separatedBy: "\"event\":\"step_started\"").count - 1 == 4, "\(events)")
        // The using step's end carries the action's outputs, as steps.greet.outputs sees them.
        let state = try RunState.replay(events)
        #expect(state.jobs.first?.steps.first?.outputs["message"] == "Hello world-world!", "\(String(describing: state.jobs.first?.steps.first))")
        #expect(result.stdout.contains("[build] > ./.github/actions/greet › say"))
        #expect(result.stdout.contains("[build] > ./.github/actions/inner › e"))
    }

    @Test("$/PATH (GitHub's self-repository reference) runs the project's own action without a checkout, composite and JavaScript, with the repository's other files; a job calls $/.github/workflows/FILE.yml; a missing one is an error before the run")
    func selfRepositoryReference() async throws {
        let (temp, workflow) = try Self.project([
            ".github/actions/hello/action.yml": """
                name: hello
                inputs:
                  who: { default: world }
                outputs:
                  said: { value: "${{ steps.s.outputs.said }}" }
                runs:
                  using: composite
                  steps:
                    - id: s
                      shell: bash
                      run: |
                        echo "hello ${{ inputs.who }} from $(basename "$GITHUB_ACTION_PATH") shared=$(cat "$GITHUB_ACTION_PATH/../shared.txt")"
                        echo "said=yes" >> "$GITHUB_OUTPUT"
                """,
            ".github/actions/shared.txt": "shared-file\n",
            ".github/actions/js/action.yml": "name: js\nruns:\n  using: node20\n  main: index.js\n",
            ".github/actions/js/index.js": "console.log('js action in ' + require('path').basename(__dirname))\n",
            ".github/workflows/called.yml": """
                on: workflow_call
                jobs:
                  inner:
                    runs-on: ubuntu-latest
                    steps:
                      - uses: $/.github/actions/hello
                        with: { who: called }
                """,
        ], workflow: """
            jobs:
              steps:
                workspace: { copy-project: false }
                steps:
                  - uses: $/.github/actions/hello
                    id: h
                    with: { who: self }
                  - uses: $/.github/actions/js
                  - run: echo "said=${{ steps.h.outputs.said }} workspace=[$(ls -A)]"
              call:
                uses: $/.github/workflows/called.yml
            """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow, "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        for line in ["[steps] hello self from hello shared=shared-file\n", "[steps] js action in js\n", "[steps] said=yes workspace=[]\n",
                     "[call-inner] hello called from hello shared=shared-file\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        // Nothing a step does can make a $/ action: a missing one is an error before the run.
        let missing = try temp.write("missing.yml", """
            jobs:
              a:
                steps:
                  - uses: $/.github/actions/nope
            """)
        let checked = try await nixactions(["run", missing], in: temp.path)
        #expect(checked.status == 2)
        #expect(checked.stderr.contains("missing.yml:4:15: error: no action.yml, action.yaml or Dockerfile in '$/.github/actions/nope' of the project"),
                "\(checked.stderr)")
    }

    @Test("a local action under the folder an earlier step checked the project out at (actions/checkout with path:) is read by validate from the project, and runs (audit 54: containerd's and poetry's workflows got a false warning)")
    func actionInCheckoutPath() async throws {
        let (temp, workflow) = try Self.project([
            ".github/actions/setup/action.yml": "inputs:\n  who: {}\nruns:\n  using: composite\n  steps:\n    - run: echo \"setup for ${{ inputs.who }}\"\n      shell: bash\n",
            // The repository's root action, which uses another of its actions through the same
            // checkout (audit 56 F1, F2: docker/build-push-action's and electron's workflows).
            "action.yml": "runs:\n  using: composite\n  steps:\n    - run: echo root action\n      shell: bash\n    - uses: ./src/github.com/o/r/.github/actions/inner\n",
            ".github/actions/inner/action.yml": "runs:\n  using: composite\n  steps:\n    - run: echo inner action\n      shell: bash\n",
        ], workflow: """
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                    with: { path: ./src/github.com/o/r/, repository: "${{ github.repository }}" }
                  - uses: ./src/github.com/o/r/.github/actions/setup
                    with: { who: me, typo: x }
                  - uses: ./src/github.com/o/r
                  - uses: ./elsewhere/.github/actions/setup
            """)
        defer { temp.remove() }
        let git = URL(fileURLWithPath: try #require(testTool("git")))
        for arguments in [["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-qm", "x"]] {
            let done = try await runCommand(git, arguments, in: temp.path)
            #expect(done.status == 0, "\(done.stderr)")
        }
        let validated = try await nixactions(["validate", workflow], in: temp.path)
        #expect(validated.status == 0, "\(validated.stderr)")
        // Read through the checkout's path: its inputs are checked; a path no checkout made still warns.
        #expect(validated.stderr.contains("wf.yml:7:32: warning: the action './src/github.com/o/r/.github/actions/setup' declares no input 'typo'"),
                "\(validated.stderr)")
        #expect(!validated.stderr.contains("no action.yml, action.yaml or Dockerfile in './src/"), "\(validated.stderr)")
        #expect(validated.stderr.components(separatedBy: "no action.yml, action.yaml or Dockerfile").count == 2, "only ./elsewhere: \(validated.stderr)")
        #expect(validated.stderr.contains("no action.yml, action.yaml or Dockerfile in './elsewhere/.github/actions/setup'"), "\(validated.stderr)")
        let ran = try await nixactions(["run", workflow, "--log-format", "plain"], in: temp.path)
        #expect(ran.stdout.contains("[a] setup for me\n"), "\(ran.stdout)")
        #expect(ran.stdout.contains("[a] root action\n") && ran.stdout.contains("[a] inner action\n"), "\(ran.stdout)")
    }

    @Test("a GitHub-shaped workflow (on:) that uses a local action before any actions/checkout in its job is warned about: it fails on GitHub; it runs here (audit 66 fidelity H3)")
    func localActionBeforeCheckout() async throws {
        let action = "runs:\n  using: composite\n  steps: [{ run: echo action ran, shell: bash }]\n"
        let (temp, workflow) = try Self.project(["act/action.yml": action], workflow: """
            on: push
            jobs:
              a:
                steps:
                  - uses: ./act
              b:
                steps:
                  - uses: actions/checkout@v4
                  - uses: ./act
            """)
        defer { temp.remove() }
        let checked = try await nixactions(["validate", workflow], in: temp.path)
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.stderr.components(separatedBy: "is used before any actions/checkout in its job").count == 2, "job a only: \(checked.stderr)")
        #expect(checked.stderr.contains(":5:15: warning: the local action './act' is used before any actions/checkout in its job: on GitHub the step fails")
                    && checked.stderr.contains("hint: add '- uses: actions/checkout@v4' before this step"), "\(checked.stderr)")
        let ran = try await nixactions(["run", workflow, "--log-format", "plain"], in: temp.path)
        #expect(ran.status == 0 && ran.stdout.contains("[a] action ran\n"), "\(ran.stdout)\(ran.stderr)")
        // A workflow without on: (NixActions' own shape) is not warned about: its jobs start with the project.
        try temp.write(".github/workflows/own.yml", "jobs:\n  a:\n    steps:\n      - uses: ./act\n")
        let own = try await nixactions(["validate", temp.path + "/.github/workflows/own.yml"], in: temp.path)
        #expect(own.status == 0 && !own.stderr.contains("actions/checkout"), "\(own.stderr)")
    }

    @Test("keys GitHub's action schema does not name, at the top of action.yml or in an input, are warnings that say they are ignored, with a did-you-mean (audit 55 M3: unsaid)")
    func actionFileUnknownKeys() async throws {
        let (temp, workflow) = try Self.project([
            "act/action.yml": """
                name: act
                descripton: typo
                authr: me
                branding: { icon: box, color: blue }
                inputs:
                  x:
                    default: 1
                    requird: true
                    deprecationMesage: x
                    type: string
                runs:
                  using: composite
                  steps: [{ id: a, run: echo hi, shell: bash }]
                """,
        ], workflow: "jobs:\n  a:\n    steps:\n      - uses: ./act\n")
        defer { temp.remove() }
        let result = try await nixactions(["validate", workflow], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        for (line, key, suggestion) in [(2, "descripton", "description"), (3, "authr", "author"), (8, "requird", "required"), (9, "deprecationMesage", "deprecationMessage")] {
            #expect(result.stderr.contains("act/action.yml:\(line):") && result.stderr.contains("warning: unknown key '\(key)' in ")
                        && result.stderr.contains("did you mean '\(suggestion)'?"), "\(key): \(result.stderr)")
        }
        #expect(!result.stderr.contains("'branding'") && !result.stderr.contains("'name'"), "\(result.stderr)")
        // A key that is no typo of a known one is a note: GitHub's action schema takes any key in
        // an input (audit 63 fidelity L9: swift-nio's `type:` was warned).
        #expect(result.stderr.contains("act/action.yml:10:") && result.stderr.contains("note: key 'type' in inputs.x is not used here")
                    && !result.stderr.contains("unknown key 'type'"), "\(result.stderr)")
    }

    @Test("actions that each use the next one ten times, twelve levels deep, are walked once per depth: validate, --dry-run and graph take moments and say the depth once (audit 55 H1: exponential, out of memory)")
    func fanOutActionsWalkedOnce() async throws {
        var files: [String: String] = [:]
        for level in 0..<12 {
            let steps = level == 11 ? "    - run: echo leaf\n      shell: bash\n"
                : String(repeating: "    - uses: ./f/a\(level + 1)\n", count: 10)
            files["f/a\(level)/action.yml"] = "runs:\n  using: composite\n  steps:\n" + steps
        }
        let (temp, workflow) = try Self.project(files, workflow: """
            jobs:
              a:
                steps:
                  - uses: ./f/a0
              b:
                steps:
                  - uses: ./f/a0
            """)
        defer { temp.remove() }
        for command in [["validate"], ["run", "--dry-run"], ["graph"]] {
            let result = try await nixactions(command + [workflow], in: temp.path)
            // The command's own time (not the wait for a slot of the tests' command runner).
            #expect(result.seconds < 20, "\(command): \(result.seconds) s")
            #expect(result.status == 0, "\(command): \(result.stderr.prefix(2000))")
            // Said once per place the limit is passed at (f/a9's ten uses of f/a10); validate says
            // a diagnostic at the same place in the same words once, not again for the second job.
            let said = result.stderr.components(separatedBy: "composite actions nest more than 10 deep at './f/a10'").count - 1
            if command == ["validate"] { #expect(said == 10, "\(result.stderr.prefix(2000))") }
            #expect(said <= 20 && result.stderr.utf8.count < 20_000, "\(command): \(result.stderr.utf8.count) bytes of stderr")
        }
    }

    @Test("$/PATH comes from the project's HEAD, as the workspace does: nothing git ignores, nothing uncommitted; with --working-tree, the folder as it is")
    func selfRepositoryFromCommit() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        try repo.temp.write("project/.github/actions/peek/action.yml", """
            runs:
              using: composite
              steps:
                - shell: bash
                  run: |
                    top="$GITHUB_ACTION_PATH/../../.."
                    echo "files=$(ls -A "$top" | tr '\\n' ' ') version=$(cat "$top/version.txt")"
            """)
        try repo.temp.write("project/.gitignore", "ignored.txt\n.env\n")
        try repo.git(["add", "-A"])
        try repo.commit("the action")
        try repo.temp.write("project/.env", "SECRET=hunter2\n")
        try repo.temp.write("project/wip.txt", "not committed\n")
        try repo.temp.write("project/version.txt", "changed\n")
        let workflow = """
            jobs:
              a:
                steps:
                  - uses: $/.github/actions/peek
            """
        let result = try await repo.run(workflow)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] files=.github .gitignore version.txt  version=two\n"), "\(result.stdout)")
        #expect(!result.stdout.contains("hunter2") && !result.stdout.contains(".env"), "\(result.stdout)")
        let workingTree = try await repo.run(workflow, ["--working-tree"])
        #expect(workingTree.status == 0, "\(workingTree.stdout)\(workingTree.stderr)")
        #expect(workingTree.stdout.contains("wip.txt") && workingTree.stdout.contains("version=changed\n"), "\(workingTree.stdout)")
        #expect(repo.leftovers().isEmpty)
    }

    @Test("with: ${{ … }} gives a step its inputs from one expression (a matrix entry): texts as they are, numbers, booleans and lists as JSON; a value that is not an object fails the step at its place")
    func withFromExpression() async throws {
        let (temp, workflow) = try Self.project([
            ".github/actions/show/action.yml": """
                inputs:
                  name: { default: nobody }
                  count: {}
                  flag: {}
                  list: {}
                runs:
                  using: composite
                  steps:
                    - shell: bash
                      run: echo "name=${{ inputs.name }} count=${{ inputs.count }} flag=${{ inputs.flag }} list=${{ inputs.list }}"
                """,
        ], workflow: """
            jobs:
              a:
                strategy:
                  matrix:
                    include:
                      - with: { name: first, count: 3, flag: true, list: [1, "two"] }
                      - with: {}
                steps:
                  - uses: ./.github/actions/show
                    with: ${{ matrix.with }}
              bad:
                steps:
                  - uses: ./.github/actions/show
                    with: ${{ 'not an object' }}
            """)
        defer { temp.remove() }
        let checked = try await nixactions(["validate", workflow], in: temp.path)
        #expect(checked.status == 0, "\(checked.stderr)")
        let result = try await nixactions(["run", workflow, "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        // The list reaches the action as its JSON text, `[1,"two"]` (bash's echo drops the quotes).
        for line in ["name=first count=3 flag=true list=[1,two]\n", "name=nobody count= flag= list=\n",
                     "wf.yml:14:15: 'with' must be an object of inputs, the expression gave string 'not an object'"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
    }

    @Test("a step of the action that fails fails the step that uses it; if: failure() inside runs; continue-on-error and outputs still apply")
    func failure() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/fails/action.yml": """
                inputs:
                  code: { default: "3" }
                outputs:
                  after: { value: "${{ steps.after.outputs.x }}" }
                runs:
                  using: composite
                  steps:
                    - run: echo before; exit ${{ inputs.code }}
                      shell: bash
                    - run: echo never ran
                      shell: bash
                    - id: after
                      if: failure()
                      run: echo "cleanup in action"; echo "x=1" >> "$GITHUB_OUTPUT"
                      shell: bash
                """],
            workflow: """
                jobs:
                  a:
                    steps:
                      - id: f
                        uses: ./.github/actions/fails
                        continue-on-error: true
                      - run: echo "outcome=${{ steps.f.outcome }} conclusion=${{ steps.f.conclusion }} after=${{ steps.f.outputs.after }}"
                      - uses: ./.github/actions/fails
                        with: { code: 5 }
                      - run: echo "not after a failure"
                      - if: failure()
                        run: echo "job saw the failure"
                """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        #expect(result.stdout.contains("outcome=failure conclusion=success after=1"), "\(result.stdout)")
        #expect(result.stdout.components(separatedBy: "cleanup in action").count - 1 == 2)
        #expect(!result.stdout.contains("[a] never ran\n"))
        #expect(!result.stdout.contains("[a] not after a failure\n"))
        #expect(result.stdout.contains("job saw the failure"))
        #expect(result.stdout.contains("'./.github/actions/fails' (exit code 5)"), "\(result.stdout)")
        // The action's steps that did not succeed, in the job's steps' form (audit 58 examples L12).
        #expect(result.stdout.contains("[a] ✗ ./.github/actions/fails › Run echo before; exit ${{ inputs.code }} (exit code 5)\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] - ./.github/actions/fails › Run echo never ran (skipped)\n"), "\(result.stdout)")
    }

    @Test("the using step's timeout bounds the action's steps: the running one is ended, the rest skipped, cleanup runs, the job fails")
    func timeout() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/slow/action.yml": """
                runs:
                  using: composite
                  steps:
                    - run: echo first
                      shell: bash
                    - run: echo sleeping; sleep 30; echo woke up
                      shell: bash
                    - run: echo never ran
                      shell: bash
                    - if: always()
                      run: echo cleanup ran
                      shell: bash
                """],
            workflow: """
                jobs:
                  a:
                    steps:
                      - uses: ./.github/actions/slow
                        timeout: 1s
                      - if: always()
                        run: echo after the action
                """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        // The job's own time (the test's wall clock also counts waiting for a free slot).
        let took = result.stdout.firstMatch(of: /==> job 'a' failed in ([0-9.]+)s/).flatMap { Double($0.1) }
        #expect(took.map { $0 < 15 } == true, "\(result.stdout)")
        for line in ["[a] first\n", "[a] sleeping\n", "[a] cleanup ran\n", "[a] after the action\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        #expect(!result.stdout.contains("[a] woke up"))
        #expect(!result.stdout.contains("[a] never ran"))
        #expect((result.stdout + result.stderr).contains("timed out after"), "\(result.stdout)")
    }

    @Test("inside an action job.status is the job's; its default steps run after an earlier failure when it is used with always(); an undeclared input is passed on")
    func jobStatusAndInputs() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/report/action.yml": """
                inputs:
                  known: { default: k }
                runs:
                  using: composite
                  steps:
                    - run: echo "job=${{ job.status }} known=${{ inputs.known }} extra=${{ inputs.extra }}"
                      shell: bash
                """],
            workflow: """
                jobs:
                  a:
                    steps:
                      - id: first
                        run: echo "o=1" >> "$GITHUB_OUTPUT"
                      - uses: ./.github/actions/report
                        with: { extra: given }
                      - run: exit 3
                      - if: always()
                        uses: ./.github/actions/report
                      - if: always()
                        run: echo "inner id seen=${{ steps.say.outcome }} first=${{ steps.first.outputs.o }}"
                """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        for line in ["[a] job=success known=k extra=given\n", "[a] job=failure known=k extra=\n", "[a] inner id seen= first=1\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
    }

    @Test("inside an action GITHUB_ENV is over the job's env but under the env: of the steps using it (outermost first), then the inner step's env:, then --env; a required input not given and a deprecated one are warnings")
    func environmentAndInputWarnings() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/setenv/action.yml": """
                inputs:
                  needed: { required: true }
                  old: { deprecationMessage: use 'needed' }
                runs:
                  using: composite
                  steps:
                    - shell: bash
                      run: |
                        echo "PINNED=from-action" >> "$GITHUB_ENV"
                        echo "JOBVAR=from-action" >> "$GITHUB_ENV"
                        echo "EARLY=from-action" >> "$GITHUB_ENV"
                    - shell: bash
                      run: echo "inside PINNED=$PINNED JOBVAR=$JOBVAR EARLY=$EARLY ctx=${{ env.PINNED }}/${{ env.JOBVAR }} needed=[${{ inputs.needed }}]"
                    - shell: bash
                      env: { PINNED: inner, FORCED: inner }
                      run: echo "own PINNED=$PINNED FORCED=$FORCED"
                    - uses: ./.github/actions/nested
                      env: { NEST: n }
                    - shell: bash
                      run: echo "back NEST=${NEST:-none} path=${GITHUB_ACTION_PATH##*/}"
                """,
             ".github/actions/nested/action.yml": """
                runs:
                  using: composite
                  steps:
                    - shell: bash
                      run: echo "NEST=from-nested" >> "$GITHUB_ENV"
                    - shell: bash
                      run: echo "nested PINNED=$PINNED NEST=$NEST path=${GITHUB_ACTION_PATH##*/}"
                """],
            workflow: """
                jobs:
                  a:
                    env: { JOBVAR: job }
                    steps:
                      - run: echo "EARLY=before" >> "$GITHUB_ENV"
                      - uses: ./.github/actions/setenv
                        env: { PINNED: from-step, FORCED: step }
                        with: { old: x }
                      - uses: ./.github/actions/setenv
                        env: ${{ fromJSON('{"PINNED":"from-object"}') }}
                      - run: echo "after PINNED=$PINNED JOBVAR=$JOBVAR EARLY=$EARLY NEST=$NEST"
                """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow, "--env", "FORCED=cli"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        for line in ["[a] inside PINNED=from-step JOBVAR=from-action EARLY=from-action ctx=from-step/from-action needed=[]\n",
                     "[a] inside PINNED=from-object JOBVAR=from-action EARLY=from-action ctx=from-object/from-action needed=[]\n",
                     "[a] own PINNED=inner FORCED=cli\n",
                     "[a] nested PINNED=from-step NEST=n path=nested\n", "[a] nested PINNED=from-object NEST=n path=nested\n",
                     "[a] back NEST=from-nested path=setenv\n",
                     "[a] after PINNED=from-action JOBVAR=from-action EARLY=from-action NEST=from-nested\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        let all = result.stdout + result.stderr
        for warning in ["input 'needed' of './.github/actions/setenv' is required and was not given; it is empty",
                        "input 'old' of './.github/actions/setenv' is deprecated: use 'needed'"] {
            #expect(all.contains(warning), "missing '\(warning)' in:\n\(all)")
        }
    }

    @Test("the timeout fails the action even when the step it ends may fail (continue-on-error): its later default steps are skipped")
    func timeoutAllowedStep() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/slow/action.yml": """
                runs:
                  using: composite
                  steps:
                    - run: echo sleeping; sleep 30
                      shell: bash
                      continue-on-error: true
                    - run: echo after the timeout
                      shell: bash
                """],
            workflow: """
                jobs:
                  a:
                    steps:
                      - uses: ./.github/actions/slow
                        timeout: 1s
                """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        #expect(result.stdout.contains("[a] sleeping\n"))
        #expect(!result.stdout.contains("[a] after the timeout"), "\(result.stdout)")
        #expect((result.stdout + result.stderr).contains("'./.github/actions/slow' timed out after 1s"), "\(result.stdout)")
    }

    @Test("the action cannot read the workflow's secrets; a secret given as an input is masked in its output")
    func secrets() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/tok/action.yml": """
                inputs:
                  token: { required: true }
                runs:
                  using: composite
                  steps:
                    - run: echo "token=${{ inputs.token }}"
                      shell: bash
                """],
            workflow: """
                jobs:
                  a:
                    steps:
                      - uses: ./.github/actions/tok
                        with:
                          token: ${{ secrets.API_TOKEN }}
                """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow, "--secret", "API_TOKEN=tok-5e3c1f-composite"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        #expect(result.stdout.contains("token=***\n"), "\(result.stdout)")
        #expect(!(result.stdout + result.stderr).contains("tok-5e3c1f-composite"))
    }

    @Test("validate reads the action from the project: errors at the action file's line and column, an action of a kind that does not run here (runs.using: node8) refused by run, a missing one a warning")
    func validate() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/broken/action.yml": """
                inputs:
                  x:
                    default: ${{ secrets.TOKEN }}
                runs:
                  using: composite
                  steps:
                    - run: echo ${{ inputs.y }}
                    - run: echo hi
                      shell: bash
                      retry: 3
                    - uses: ./.github/actions/legacy
                      working-directory: sub
                    - if:
                      run: echo an empty if is success()
                      shell: bash
                      timeout-minutes: 1
                """,
             ".github/actions/legacy/action.yml": "name: n\nruns:\n  using: node8\n  main: index.js\n",
             ".github/actions/bare/action.yml": "inputs:\n  fine: {}\n  bare:\nruns:\n  using: composite\n  steps: []\n",
             ".github/actions/loop/action.yml": "runs:\n  using: composite\n  steps:\n    - uses: ./.github/actions/loop2\n",
             ".github/actions/loop2/action.yml": "runs:\n  using: composite\n  steps:\n    - uses: ./.github/actions/loop\n"],
            workflow: """
                jobs:
                  a:
                    steps:
                      - uses: ./.github/actions/broken
                      - uses: ./../outside
                  b:
                    steps:
                      - uses: ./.github/actions/legacy
                      - uses: ./.github/actions/missing
                  d:
                    steps:
                      - uses: ./.github/actions/legacy
                        with:
                          nope: 1
                          Extra: 2
                  c:
                    steps:
                      - uses: ./.github/actions/loop
                  e:
                    steps:
                      - uses: ./.github/actions/broken
                      - uses: ./.github/actions/bare
                """)
        defer { temp.remove() }
        let result = try await nixactions(["validate", workflow], in: temp.path)
        #expect(result.status == 2)
        let file = ".github/actions/broken/action.yml"
        for line in ["\(file):3:18: error: 'secrets' is not available in 'inputs.x.default'",
                     "\(file):7:7: error: step 1 of a composite action runs a command without 'shell'",
                     "\(file):7:21: warning: inputs.y in 'run': the action declares no input 'y'; it is empty unless the step using the action passes it in 'with:'",
                     "\(file):10:7: error: unknown key 'retry' in step 2",
                     "wf.yml:8:15: warning: job 'b', step 1: the action './.github/actions/legacy' (runs.using: node8) is not supported",
                     "wf.yml:9:15: warning: no action.yml, action.yaml or Dockerfile in './.github/actions/missing' of the project",
                     "wf.yml:5:15: warning: job 'a', step 2: the action './../outside' (a folder outside the workspace) is not supported",
                     ".github/actions/loop2/action.yml:4:13: warning: composite actions use each other in a cycle: ./.github/actions/loop → ./.github/actions/loop2 → ./.github/actions/loop",
                     "wf.yml:14:17: warning: the action './.github/actions/legacy' declares no input 'nope' (it is passed on",
                     "wf.yml:15:18: warning: the action './.github/actions/legacy' declares no input 'Extra' (it is passed on",
                     "\(file):12:7: error: 'working-directory' only applies to a step with 'run'",
                     "\(file):16:7: error: unknown key 'timeout-minutes' in step 4",
                     ".github/actions/bare/action.yml:3:8: error: inputs.bare must be a mapping, found nothing"] {
            #expect(result.stderr.contains(line), "missing '\(line)' in:\n\(result.stderr)")
        }
        // Only job b is valid: run refuses its node8 action before any job starts.
        let run = try await nixactions(["run", workflow, "b"], in: temp.path)
        #expect(run.status == 2, "\(run.stderr)\n\(run.stdout)")
        #expect(run.stderr.contains("wf.yml:8:15: error: job 'b', step 1: the action './.github/actions/legacy' (runs.using: node8) is not supported by this version of nixactions yet"), "\(run.stderr)")
        #expect(!run.stdout.contains("started"))
        // The action's errors are each job's that uses it: a run of only job e stops too.
        let second = try await nixactions(["run", workflow, "e"], in: temp.path)
        #expect(second.status == 2, "\(second.stderr)\n\(second.stdout)")
        #expect(second.stderr.contains("\(file):3:18: error: 'secrets' is not available in 'inputs.x.default'\n  in workflow 'wf' › job 'e'"), "\(second.stderr)")
        #expect(!second.stdout.contains("started"))
    }

    @Test("an action missing from the workspace fails its step with a hint; one made by an earlier step runs")
    func madeByAnEarlierStep() async throws {
        let (temp, workflow) = try Self.project(
            [:],
            workflow: """
                jobs:
                  a:
                    steps:
                      - run: |
                          mkdir -p gen
                          printf 'runs:\\n  using: composite\\n  steps:\\n    - run: echo generated action ran\\n      shell: bash\\n' > gen/action.yml
                      - uses: ./gen
                      - uses: ./absent
                """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("generated action ran"), "\(result.stdout)")
        let all = result.stdout + result.stderr
        #expect(all.contains("no action.yml, action.yaml or Dockerfile in './absent' of the job's workspace"), "\(all)")
        #expect(all.contains("hint: commit it"), "\(all)")
    }

    @Test("an action file that is a symbolic link out of the workspace is refused, not read")
    func symlinkRefused() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("elsewhere/action.yml", "runs:\n  using: composite\n  steps:\n    - run: echo should not run\n      shell: bash\n")
        let workflow = try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: mkdir -p act && ln -s "\(temp.path)/elsewhere/action.yml" act/action.yml
                  - uses: ./act
            """)
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 1)
        #expect(!result.stdout.contains("should not run"))
        let all = result.stdout + result.stderr
        #expect(all.contains("'act/action.yml' is (or passes through) a symbolic link"), "\(all)")
    }
}

extension RealExecutorSuites.SSHExecutorTests {
    @Test("a local composite action on an ssh host: its file comes through the files interface, its steps run on the host")
    func compositeAction() async throws {
        let server = try await offThePool { try SSHServer() }
        defer { server.stop() }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let remote = temp.path + "/remote"
        try FileManager.default.createDirectory(atPath: remote, withIntermediateDirectories: true)
        try temp.write(".github/actions/where/action.yml", """
            inputs:
              label: { default: "${{ runner.os }}" }
            outputs:
              seen: { value: "${{ steps.w.outputs.seen }}" }
            runs:
              using: composite
              steps:
                - id: w
                  shell: bash
                  run: |
                    echo "label=${{ inputs.label }} via=${SSH_CONNECTION%% *}" | cut -c1-25
                    echo "on the host: ${GITHUB_ACTION_PATH#$GITHUB_WORKSPACE}"
                    echo "seen=yes" >> "$GITHUB_OUTPUT"
            """)
        try temp.write("wf.yml", """
            jobs:
              build:
                executor: \(Self.executor([server], workdir: remote))
                steps:
                  - id: a
                    uses: ./.github/actions/where
                  - run: |
                      mkdir -p made && printf 'runs:\\n  using: composite\\n  steps:\\n    - run: echo made on the host\\n      shell: bash\\n' > made/action.yml
                  - uses: ./made
                  - run: echo "seen=${{ steps.a.outputs.seen }}"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for line in ["[build] label=Linux via=127.0.0.1\n", "[build] on the host: /.github/actions/where\n", "[build] made on the host\n", "[build] seen=yes\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: remote)) ?? ["?"]).isEmpty)
    }

    /// One job on an ssh host (a folder of `temp` as its workdir) whose `steps` use actions that
    /// `repository` holds at tag `tag`, published on a git daemon: the run's result, and whether
    /// the host's folder was left empty.
    static func runRemoteActions(_ repository: String, files: [String: String], tag: String, steps: String) async throws
        -> (result: CommandResult, leftEmpty: Bool)
    {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        try daemon.publish(repository, files: files, tags: [tag])
        let server = try await offThePool { try SSHServer() }
        defer { server.stop() }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let remote = temp.path + "/remote"
        try FileManager.default.createDirectory(atPath: remote, withIntermediateDirectories: true)
        try temp.write("wf.yml", """
            jobs:
              build:
                executor: \(Self.executor([server], workdir: remote))
                steps:
            \(steps)
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--actions-url", daemon.url], in: temp.path,
                                          environment: ["XDG_CACHE_HOME": temp.path + "/cache"])
        return (result, ((try? FileManager.default.contentsOfDirectory(atPath: remote)) ?? ["?"]).isEmpty)
    }

    @Test("a remote composite action on an ssh host: its repository is put into the job's RUNNER_TEMP through the files interface, and goes with the job")
    func remoteAction() async throws {
        let (result, leftEmpty) = try await Self.runRemoteActions("acme/where", files: [
            "action.yml": """
                runs:
                  using: composite
                  steps:
                    - shell: bash
                      run: |
                        echo "via=${SSH_CONNECTION%% *} in=${GITHUB_ACTION_PATH#$RUNNER_TEMP/}"
                        "$GITHUB_ACTION_PATH/tool.sh"
                """,
            "tool.sh": "#!/bin/sh\necho tool ran on the host\n",
        ], tag: "v2", steps: "      - uses: acme/where@v2")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for line in ["[build] via=127.0.0.1 in=_actions/acme/where/v2\n", "[build] tool ran on the host\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        #expect(leftEmpty)
    }
}
