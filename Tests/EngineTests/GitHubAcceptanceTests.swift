import Foundation
@testable import NixActionsEngine
import Testing

/// Issue 12's findings about valid GitHub syntax that was refused, and about diagnostics that
/// cascaded: each reproduces the original report.
@Suite("GitHub syntax is accepted with GitHub's meaning; one error per root cause")
struct GitHubAcceptanceTests {
    func load(_ yaml: String) -> LoadResult { WorkflowLoader.load(yaml: yaml, file: "wf.yml") }
    func errors(_ result: LoadResult) -> [String] { result.diagnostics.filter { $0.severity == .error }.map(\.description) }

    @Test("env names with '-' (GitHub's own caching example) are environment variables")
    func dashedEnvNames() {
        let result = load("""
            env: { cache-name: cache-node-modules }
            jobs:
              a:
                env: { my-var: x }
                steps:
                  - run: echo "$(printenv cache-name)"
                    env: { step-var: y }
            """)
        #expect(errors(result) == [])
        #expect(result.workflow?.env.map(\.name) == ["cache-name"])
        #expect(load("env: { 'A=B': x }\njobs: { a: { steps: [ { run: x } ] } }").hasErrors)
    }

    @Test("an expression in timeout-minutes of a job and a step is kept for when it starts")
    func timeoutExpressions() throws {
        let result = load("""
            on: workflow_dispatch
            jobs:
              a:
                timeout-minutes: ${{ inputs.minutes || 5 }}
                strategy: { matrix: { t: [1] } }
                steps:
                  - run: x
                    timeout-minutes: ${{ matrix.t }}
                  - run: y
                    timeout: ${{ '90s' }}
            """)
        #expect(errors(result) == [])
        let job = try #require(result.workflow?.jobs.first)
        #expect(job.timeoutExpression?.minutes == true)
        #expect(job.steps[0].timeoutExpression?.field.source.value == "${{ matrix.t }}")
        #expect(job.steps[1].timeoutExpression?.minutes == false)
        // A job's timeout is set before its steps: steps is not available there.
        let wrong = load("jobs:\n  a:\n    timeout-minutes: ${{ steps.x.outputs.t }}\n    steps: [ { run: x } ]")
        #expect(errors(wrong).first?.contains("'steps' is not available in 'timeout-minutes'") == true)
    }

    @Test("expressions in strategy: fail-fast, max-parallel, a dimension, include and exclude, a whole matrix from needs")
    func strategyExpressions() throws {
        let result = load("""
            jobs:
              plan:
                outputs: { matrix: "${{ steps.m.outputs.matrix }}" }
                steps: [ { id: m, run: x } ]
              a:
                needs: plan
                strategy:
                  fail-fast: ${{ github.event_name == 'push' }}
                  max-parallel: ${{ 2 }}
                  matrix:
                    python: ${{ fromJSON('["3.12", "3.13"]') }}
                    os: [linux, "${{ 'mac' }}"]
                    include: ${{ fromJSON('[{"python":"3.14","os":"linux"}]') }}
                    exclude:
                      - os: ${{ 'mac' }}
                steps: [ { run: "echo ${{ matrix.python }} ${{ matrix.extra }}" } ]
              b:
                needs: plan
                strategy:
                  matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
                steps: [ { run: "echo ${{ matrix.anything }}" } ]
            """)
        #expect(errors(result) == [], "\(result.diagnostics)")
        let a = try #require(result.workflow?.job("a"))
        #expect(a.strategy?.failFastExpression != nil && a.strategy?.maxParallelExpression != nil)
        guard case .deferred(let deferred)? = a.strategy?.matrix else { Issue.record("not deferred"); return }
        #expect(deferred.dimensions.map(\.key) == ["python", "os"])
        #expect(deferred.knownKeys == nil)  // include is an expression: any key may come from it
        #expect(result.workflow?.job("b")?.strategy?.usesNeeds == true)
        #expect(a.strategy?.usesNeeds == false)
        // Expanded with the contexts of the run: file order, include and exclude applied.
        let planned = try Planner.expand(a, workflow: result.workflow!, contexts: DictionaryExpressionContext([
            "github": .object(["event_name": .string("pull_request")]), "vars": .object([:]), "inputs": .object([:]),
        ])).get()
        #expect(planned.map(\.displayName) == ["a (python: 3.12, os: linux)", "a (python: 3.13, os: linux)", "a (os: linux, python: 3.14)"])
        #expect(planned.allSatisfy { $0.failFast == false && $0.maxParallel == 2 })
    }

    @Test("an undefined matrix key is empty with a warning, not an error (GitHub gives '')")
    func undefinedMatrixKey() {
        let result = load("""
            jobs:
              a:
                strategy: { matrix: { python: ['3.12'] } }
                steps: [ { run: "echo ${{ matrix.rust }}" } ]
              b:
                steps: [ { run: "echo ${{ matrix.os }}" } ]
            """)
        #expect(!result.hasErrors)
        let warnings = result.diagnostics.filter { $0.severity == .warning }.map(\.message)
        #expect(warnings.contains("matrix.rust in 'run': the matrix of 'a' has no key 'rust'; it is empty"))
        #expect(warnings.contains("matrix.os in 'run': job 'b' has no strategy.matrix; it is empty"))
    }

    @Test("one rejected matrix is one error, not one more for every matrix.* use")
    func noMatrixCascade() {
        let uses = (1...33).map { _ in "      - run: echo ${{ matrix.python }} ${{ matrix.os }}" }.joined(separator: "\n")
        let result = load("jobs:\n  a:\n    strategy:\n      matrix:\n        python: '3.12'\n    steps:\n" + uses)
        #expect(errors(result).count == 1, "\(errors(result))")
        #expect(result.diagnostics.filter { $0.severity == .warning }.isEmpty)
    }

    @Test("a reusable-workflow call is read as a call (uses, with, secrets: inherit or a mapping), of this project or of another repository, with no warning; a malformed one is one error")
    func reusableWorkflowCall() throws {
        let result = load("""
            jobs:
              call:
                uses: ./.github/workflows/build.yml
                with: { target: x }
                secrets: inherit
              remote:
                uses: octo/pipelines/.github/workflows/build.yml@v1
                secrets: { token: "${{ secrets.TOKEN }}" }
              after:
                needs: [call, remote]
                steps: [ { run: x } ]
            """)
        #expect(errors(result) == [])
        #expect(result.diagnostics.filter { $0.severity == .warning }.isEmpty, "\(result.diagnostics)")
        #expect(result.workflow?.unsupported.isEmpty == true)
        let malformed = load("jobs:\n  a:\n    uses: octo/pipelines@v1\n  b:\n    uses: octo/p/.github/workflows/x.yml@refs/heads/main\n")
        #expect(errors(malformed).count == 2, "\(errors(malformed))")
        #expect(errors(malformed).allSatisfy { $0.contains("is not a reusable workflow") })
        let call = try #require(result.workflow?.job("call")?.call)
        #expect(call.uses.value == "./.github/workflows/build.yml")
        #expect(call.with.map(\.name) == ["target"] && call.with.first?.value.source.value == "x")
        guard case .inherit = call.secrets else { Issue.record("secrets: inherit not read"); return }
        guard case .mapped(let passed)? = result.workflow?.job("remote")?.call?.secrets else { Issue.record("secrets mapping not read"); return }
        #expect(passed.map(\.name) == ["token"])
    }

    @Test("a call's with and secrets may use only the contexts GitHub allows there; the caller takes no steps or runs-on")
    func reusableCallContexts() throws {
        let result = load("""
            jobs:
              call:
                uses: ./.github/workflows/build.yml
                runs-on: ubuntu-latest
                with: { a: "${{ env.X }}", b: "${{ matrix.k }} ${{ github.sha }} ${{ inputs.i }} ${{ vars.V }}" }
                secrets: { token: "${{ secrets.T }}", other: "${{ steps.x.outputs.y }}" }
            """)
        let messages = errors(result)
        #expect(messages.contains { $0.contains("'env' is not available in 'with.a'") }, "\(messages)")
        #expect(messages.contains { $0.contains("'steps' is not available in 'secrets.other'") }, "\(messages)")
        #expect(messages.contains { $0.contains("'runs-on' cannot be used in a job that calls a reusable workflow") }, "\(messages)")
        #expect(messages.count == 3, "\(messages)")
        // Keys it takes and does not use are said, never silently ignored.
        let said = load("jobs:\n  call:\n    uses: ./.github/workflows/build.yml\n    concurrency: deploy\n    permissions: read-all\n")
        #expect(said.diagnostics.contains { $0.severity == .warning && $0.message == "'concurrency' of a job that calls a reusable workflow is not used here" },
                "\(said.diagnostics)")
        #expect(said.diagnostics.contains { $0.severity == .note && $0.message.hasPrefix("'permissions' is a GitHub-only key") }, "\(said.diagnostics)")
        // The other way round: a job that runs steps takes no with (audit 64 cli M2: ignored silently).
        let stray = load("jobs:\n  t:\n    with: { a: 1 }\n    steps: [ { run: echo } ]\n")
        #expect(errors(stray).count == 1 && errors(stray)[0].contains(":3:5: error: 'with' gives inputs to a reusable workflow a job calls ('uses:'); job 't' runs steps"),
                "\(errors(stray))")
    }

    @Test("no did-you-mean between unrelated names; transposed letters still get one")
    func didYouMeanThreshold() {
        #expect(didYouMean("pwsh", in: ["bash", "sh", "python"]) == nil)
        #expect(didYouMean("nmae", in: ["name", "needs"]) == "name")
        #expect(didYouMean("biuld", in: ["build", "test"]) == "build")
        #expect(didYouMean("deploy", in: ["build", "test"]) == nil)
    }

    @Test("a strategy evaluated with needs is planned as one stand-in and expanded when its needs finish")
    func deferredPlan() throws {
        let result = load("""
            jobs:
              plan: { outputs: { m: "${{ steps.s.outputs.m }}" }, steps: [ { id: s, run: x } ] }
              test:
                needs: plan
                strategy: { matrix: "${{ fromJSON(needs.plan.outputs.m) }}" }
                steps: [ { run: x } ]
            """)
        let plan = try Planner.plan(try #require(result.workflow)).get()
        #expect(plan.instances["test"]?.count == 1)
        #expect(plan.instances["test"]?.first?.awaitsExpansion == true)
        #expect(plan.instances["plan"]?.first?.awaitsExpansion == false)
    }
}

extension GitHubAcceptanceTests {
    @Test("newer GitHub keys found in real workflows: snapshot (note), parallel steps (one warning), service entrypoint/command, cmd shell")
    func newerKeys() throws {
        let result = load("""
            jobs:
              image:
                snapshot: my-image
                runs-on: ubuntu-latest
                services:
                  redis: { image: redis, entrypoint: redis-server, command: --save 60 1 }
                steps:
                  - { id: server, run: sleep 2, background: true }
                  - run: echo test
                  - wait: server
              win:
                runs-on: windows-latest
                steps:
                  - run: dir
                    shell: cmd
            """)
        #expect(errors(result) == [], "\(result.diagnostics)")
        let warnings = result.diagnostics.filter { $0.severity == .warning }.map(\.message)
        #expect(warnings == ["job 'image': parallel steps ('background' of step 1) is not supported by this version of nixactions yet; 'run' will refuse it"])
        #expect(result.diagnostics.contains { $0.severity == .note && $0.message.contains("'snapshot'") })
        #expect(result.workflow?.job("image")?.services.first?.options["command"] == .string("--save 60 1"))
    }

    @Test("step ids and needs are matched without case; a job that writes GITHUB_ENV gets no env.X guesses; a reusable call's matrix is read")
    func lookupsWithoutCase() {
        let result = load("""
            jobs:
              Build:
                steps:
                  - id: Compile
                    run: echo "VERSION=1" >> "$GITHUB_ENV"
                  - run: echo ${{ steps.compile.outputs.x }} ${{ env.VERSION }}
              test:
                needs: Build
                steps: [ { run: "echo ${{ needs.build.result }}" } ]
              call:
                uses: ./.github/workflows/x.yml
                strategy: { matrix: { os: [a, b] } }
                with: { os: "${{ matrix.os }}" }
            """)
        #expect(errors(result) == [], "\(result.diagnostics)")
        let warnings = result.diagnostics.filter { $0.severity == .warning }.map(\.message)
        #expect(warnings.isEmpty, "\(warnings)")
    }
}

extension GitHubAcceptanceTests {
    @Test("inputs.X that the workflow does not declare is empty with a warning and a did-you-mean")
    func undeclaredInput() {
        let result = load("""
            on:
              workflow_dispatch:
                inputs:
                  environment: { type: choice, options: [staging, prod] }
            jobs:
              a:
                steps: [ { run: "echo ${{ inputs.enviroment }} ${{ inputs.environment }}" } ]
            """)
        #expect(!result.hasErrors)
        let warnings = result.diagnostics.filter { $0.severity == .warning }
        #expect(warnings.map(\.message) == ["inputs.enviroment in 'run': the workflow declares no input 'enviroment'; it is empty"])
        #expect(warnings.first?.hint == "did you mean 'environment'?")
    }

    @Test("github.X that the github context does not have is empty with a warning and a did-you-mean; its fields, any case, are not (audit 57 UX M13)")
    func unknownGithubField() {
        let result = load("""
            jobs:
              a:
                steps:
                  - run: echo "${{ github.shaa }} ${{ github.SHA }} ${{ github.repositoryUrl }} ${{ github.event.head_commit.id }} ${{ github.run_attempt }}"
            """)
        #expect(!result.hasErrors)
        let warnings = result.diagnostics.filter { $0.severity == .warning }
        #expect(warnings.map(\.message) == ["github.shaa in 'run': the github context has no field 'shaa'; it is empty"])
        #expect(warnings.first?.hint == "did you mean 'sha'?")
    }

    @Test("runner.X, job.X and strategy.X that their contexts do not have are empty with a warning; their fields, any case, are not (audit 66 fidelity L1)")
    func unknownRunnerJobStrategyFields() {
        let result = load("""
            jobs:
              a:
                strategy: { matrix: { v: [1] } }
                steps:
                  - run: echo "${{ runner.OS }} ${{ runner.temp }} ${{ job.status }} ${{ job.container.id }} ${{ strategy.job-index }} ${{ runner.foo }} ${{ job.sttus }} ${{ strategy.fail_fast }}"
            """)
        #expect(!result.hasErrors)
        let warnings = result.diagnostics.filter { $0.severity == .warning }
        #expect(warnings.map(\.message) == [
            "runner.foo in 'run': the runner context has no field 'foo'; it is empty",
            "job.sttus in 'run': the job context has no field 'sttus'; it is empty",
            "strategy.fail_fast in 'run': the strategy context has no field 'fail_fast'; it is empty",
        ], "\(warnings.map(\.message))")
        #expect(warnings.dropFirst().first?.hint == "did you mean 'status'?" && warnings.last?.hint == "did you mean 'fail-fast'?", "\(warnings.map(\.hint))")
    }
}

/// Round 2's sweep of 668 real workflow files (55 repositories): what GitHub accepts and
/// `validate` refused, each reduced to its smallest form.
extension GitHubAcceptanceTests {
    @Test("parallel: step groups are parallel steps (one warning), not an unknown key and a step with neither run nor uses; their ids are steps for the steps after them (vuejs/core)")
    func parallelGroups() {
        let result = load("""
            jobs:
              t:
                outputs: { n: "${{ steps.a.outputs.n }}" }
                steps:
                  - parallel:
                      - { id: a, run: echo a }
                      - { id: b, run: echo b }
                  - run: echo ${{ steps.b.outputs.x }} ${{ steps.a.outputs.y }}
            """)
        #expect(errors(result) == [], "\(result.diagnostics)")
        #expect(result.diagnostics.filter { $0.severity == .warning }.map(\.message)
            == ["job 't': parallel steps ('parallel' of step 1) is not supported by this version of nixactions yet; 'run' will refuse it"])
    }

    @Test("matrix keys, needs and action inputs are matched without case, as GitHub's parser matches them")
    func withoutCase() throws {
        let result = load("""
            jobs:
              build:
                strategy:
                  matrix:
                    OS: [ubuntu, macos]
                    node: [22, 24]
                    exclude:
                      - { os: macos, Node: 22 }
                    include:
                      - { os: macos, experimental: true }
                steps:
                  - run: echo ${{ matrix.os }} ${{ matrix.NODE }}
                  - uses: actions/checkout@v4
                    with: { Fetch-Depth: 0 }
                  - uses: actions/cache@v4
                    with: { path: x, key: y, enablecrossosarchive: true }
              deploy:
                needs: [Build]
                steps: [ { run: "echo ${{ needs.build.result }}" } ]
            """)
        #expect(errors(result) == [], "\(result.diagnostics)")
        #expect(result.diagnostics.filter { $0.severity == .warning }.isEmpty, "\(result.diagnostics)")
        let workflow = try #require(result.workflow)
        #expect(workflow.job("deploy")?.needs.map(\.value) == ["build"])
        guard case .literal(let matrix)? = workflow.job("build")?.strategy?.matrix else {
            Issue.record("no literal matrix")
            return
        }
        let combinations = Planner.combine(matrix).map { $0.map { "\($0.key)=\($0.value.displayString)" }.joined(separator: ",") }
        #expect(combinations == ["OS=ubuntu,node=22", "OS=ubuntu,node=24", "OS=macos,node=24,experimental=true"])
        #expect(JobRunner.canonicalInput("Fetch-Depth", action: "actions/checkout") == "fetch-depth")
        #expect(JobRunner.canonicalInput("enablecrossosarchive", action: "actions/cache") == "enableCrossOsArchive")
        // Two jobs that differ only in case are one id twice (GitHub's parser); an unknown need is its own error.
        let twins = load("jobs:\n  A: { steps: [ { run: x } ] }\n  a: { steps: [ { run: x } ] }\n  b: { needs: [AA], steps: [ { run: x } ] }")
        #expect(errors(twins).count == 2, "\(errors(twins))")
        #expect(errors(twins).first?.contains("job id 'a' is already defined as 'A'") == true, "\(errors(twins))")
        // An exclude key that is no dimension in any case: one error, at the key.
        let wrong = load("jobs:\n  t:\n    strategy:\n      matrix:\n        os: [a]\n        exclude:\n          - { oss: a }\n          - { oss: b }\n    steps: [ { run: x } ]")
        #expect(errors(wrong) == ["wf.yml:7:15: error: matrix.exclude names 'oss', which is not a matrix dimension\n  in workflow 'wf' › job 't'\n  hint: did you mean 'os'?"])
    }

    @Test("matrix exclude and include match as GitHub's MatrixFilter: by each leaf of a nested value (nushell's exclude of its WASM fuzz builds), with the expressions' ==: strings without case, a number and a string as numbers")
    func matrixFilterLeaves() throws {
        func combinations(_ yaml: String) throws -> [String] {
            let result = load(yaml)
            #expect(errors(result) == [], "\(result.diagnostics)")
            guard case .literal(let matrix)? = try #require(result.workflow).jobs.first?.strategy?.matrix else { return [] }
            return Planner.combine(matrix).map { $0.map { "\($0.key)=\($0.value.displayString)" }.joined(separator: ",") }
        }
        let nested = try combinations("""
            jobs:
              cargo:
                strategy:
                  matrix:
                    target:
                      - { name: Ubuntu, steps: [fmt, build] }
                      - { name: WASM, steps: [build, check] }
                    workspace:
                      - { name: root }
                      - { name: fuzz, path: ./fuzz }
                    exclude:
                      - { target: { name: wasm }, workspace: { name: fuzz } }
                    include:
                      - { target: { steps: [fmt] }, formats: true }
                steps: [ { run: x } ]
            """)
        #expect(nested == [
            #"target={"name":"Ubuntu","steps":["fmt","build"]},workspace={"name":"root"},formats=true"#,
            #"target={"name":"Ubuntu","steps":["fmt","build"]},workspace={"name":"fuzz","path":"./fuzz"},formats=true"#,
            #"target={"name":"WASM","steps":["build","check"]},workspace={"name":"root"}"#,
        ], "\(nested)")
        let loose = try combinations("""
            jobs:
              py:
                strategy:
                  matrix:
                    py: ["3.9", "3.10"]
                    os: [ubuntu-latest, windows-latest]
                    exclude: [ { os: Ubuntu-Latest, py: 3.9 } ]
                    include: [ { py: 3.10, extra: a } ]
                steps: [ { run: x } ]
            """)
        #expect(loose == ["py=3.9,os=windows-latest", "py=3.10,os=ubuntu-latest,extra=a", "py=3.10,os=windows-latest,extra=a"], "\(loose)")
    }

    @Test("newer and loosely read keys: merge_group branches, schedule timezone, image_version, description, cancel-timeout-minutes, a BOM")
    func newerEventKeys() {
        let result = load("""
            \u{FEFF}name: ci
            description: Builds the project
            on:
              merge_group: { types: [checks_requested], branches: [main] }
              schedule:
                - { cron: '30 5 * * 1', timezone: America/New_York }
              image_version: { names: [my-image], versions: ['1.*'] }
              project: { types: [created] }
              pull_request_comment:
            jobs:
              build:
                cancel-timeout-minutes: 10
                steps:
                  - uses: actions/checkout@v6
                    with: { allow-unsafe-pr-checkout: true, fetch-depth: '', clean: '' }
            """)
        #expect(errors(result) == [], "\(result.diagnostics)")
        #expect(result.diagnostics.filter { $0.severity == .warning }.isEmpty, "\(result.diagnostics)")
        #expect(result.workflow?.name == "ci")
    }

    @Test("keys GitHub ignores under an event (not workflow_call) and an unknown dispatch input type are warnings; workflow_call stays strict")
    func looseEvents() {
        let result = load("""
            on:
              merge_group: { paths: [src] }
              workflow_dispatch:
                paths: [x]
                inputs:
                  n: { type: int, default: 3 }
              pull_request: { tags-ignore: [v1] }
            jobs: { a: { steps: [ { run: x } ] } }
            """)
        #expect(errors(result) == [], "\(result.diagnostics)")
        let warnings = result.diagnostics.filter { $0.severity == .warning }.map(\.message)
        #expect(warnings == [
            "unknown key 'paths' in on.merge_group is ignored (as GitHub ignores it)",
            "unknown key 'paths' in on.workflow_dispatch is ignored (as GitHub ignores it)",
            "unknown input type 'int' for input 'n': it is read as a string",
            "unknown key 'tags-ignore' in on.pull_request is ignored (as GitHub ignores it)",
        ], "\(warnings)")
        let strict = load("on:\n  workflow_call:\n    paths: [x]\n    inputs:\n      n: { type: int }\njobs: { a: { steps: [ { run: x } ] } }")
        #expect(errors(strict).count == 2, "\(strict.diagnostics)")
    }

    @Test("an action's metadata file among the workflows is one error saying what it is")
    func actionMetadataFile() {
        let result = load("""
            name: My action
            description: does things
            inputs:
              who: { required: true }
            runs:
              using: composite
              steps:
                - run: echo hi
                  shell: bash
            """)
        #expect(errors(result) == [
            "wf.yml:5:1: error: this is an action's metadata file (it has 'runs:' and no 'jobs:'), not a workflow\n  hint: workflows have 'jobs:'; an action (action.yml) is used from a workflow's step with 'uses:'",
        ], "\(errors(result))")
    }

    @Test("a quoted number or boolean where one is needed says it is quoted")
    func quotedScalars() {
        let result = load("""
            on:
              workflow_call:
                inputs:
                  n: { type: string, required: 'true' }
            jobs: { a: { timeout-minutes: "10", steps: [ { run: x } ] } }
            """)
        let messages = result.diagnostics.filter { $0.severity == .error }.map(\.message)
        #expect(messages == [
            "on.workflow_call.inputs.n.required must be true or false, found the string 'true' (in quotes; write it without them)",
            "timeout-minutes must be a positive number, found the string '10' (in quotes; write it without them)",
        ], "\(messages)")
    }
}
