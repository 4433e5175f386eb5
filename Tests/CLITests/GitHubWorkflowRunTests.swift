import Foundation
import Testing
import TestSupport

/// Issue 12: what valid GitHub workflows do when they run (expressions evaluated at the job's
/// start, a matrix from needs outputs, checks of jobs a run does not run).
@Suite("GitHub workflows run with GitHub's meaning")
struct GitHubWorkflowRunTests {
    @Test("objects keep their order, as GitHub's dictionaries do: an --event-path payload, fromJSON, and a matrix from fromJSON (its dimensions, instance name and toJSON(matrix)) (audit 48 M1)")
    func objectOrder() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("event.json", #"{"zeta": 1, "alpha": {"y": true, "b": null}, "mid": [2]}"#)
        try temp.write("wf.yml", """
            on: push
            jobs:
              a:
                strategy:
                  matrix: '${{ fromJSON(''{"os": ["linux"], "node": [20]}'') }}'
                steps:
                  - run: |
                      echo 'event=${{ toJSON(github.event) }}' | tr -d ' \\n'; echo
                      echo 'matrix=${{ toJSON(matrix) }}' | tr -d ' \\n'; echo
                      echo "values=${{ join(fromJSON('{"z": 1, "a": 2, "m": 3}').*, ';') }}"
              b:
                strategy:
                  matrix:
                    cfg: [{zeta: 1, alpha: 2}]
                steps:
                  - run: |
                      echo 'cfg=${{ toJSON(matrix.cfg) }}' | tr -d ' \\n'; echo
            """)
        let result = try await nixactions(["run", "wf.yml", "--event-path", "event.json", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        for expected in [#"event={"zeta":1,"alpha":{"y":true,"b":null},"mid":[2]}"#, #"matrix={"os":"linux","node":20}"#, "values=1;2;3",
                         #"cfg={"zeta":1,"alpha":2}"#] {
            #expect(lines.contains { $0.hasSuffix("] " + expected) }, "\(expected):\n\(result.stdout)")
        }
        #expect(result.stdout.contains("a (os: linux, node: 20)"), "\(result.stdout)")
    }

    @Test("an empty container as written (container:, container: '', image: '') is no container: the job runs where runs-on says, as on GitHub, and does not clash with an executor: beside it (audit 63 fidelity M1, review 63)")
    func emptyContainerAsWritten() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on: push
            jobs:
              none:
                runs-on: ubuntu-latest
                container:
                steps: [ { run: echo none-ran } ]
              quoted:
                runs-on: ubuntu-latest
                container: ''
                steps: [ { run: echo quoted-ran } ]
              image:
                runs-on: ubuntu-latest
                container: { image: '', options: --init }
                steps: [ { run: echo image-ran } ]
              beside:
                executor: local
                container: ~
                steps: [ { run: echo beside-ran } ]
            """)
        let valid = try await nixactions(["validate", "wf.yml"], in: temp.path)
        #expect(valid.status == 0 && valid.stderr.isEmpty, "\(valid.stderr)")
        let plan = try await nixactions(["run", "wf.yml", "--dry-run"], in: temp.path)
        #expect(!plan.stdout.contains("oci"), "\(plan.stdout)")
        // One that renders empty for an instance is planned as the run will choose (audit 63
        // fidelity L4: the plan said oci, the run used local).
        try temp.write("matrix.yml", """
            on: push
            jobs:
              c:
                container: { image: '${{ matrix.img }}' }
                strategy: { matrix: { img: ['', alpine] } }
                steps: [ { run: echo hi } ]
            """)
        let matrixPlan = try await nixactions(["run", "matrix.yml", "--dry-run"], in: temp.path)
        #expect(matrixPlan.stdout.contains("c (img: )  [executor: local;") && matrixPlan.stdout.contains("c (img: alpine)  [executor: oci;"), "\(matrixPlan.stdout)")
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for job in ["none", "quoted", "image", "beside"] { #expect(result.stdout.contains("[\(job)] \(job)-ran\n"), "\(result.stdout)") }
    }

    @Test("a strategy that cannot be evaluated when the run is planned fails that job when it is due; the jobs that do not need it run (audit 63 fidelity M2: the run exited 2)")
    func strategyFailsItsJob() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on: push
            jobs:
              ok: { runs-on: ubuntu-latest, steps: [ { run: echo ok-ran } ] }
              bad:
                runs-on: ubuntu-latest
                strategy: { matrix: { x: '${{ fromJSON(github.event.nonexistent) }}' } }
                steps: [ { run: echo bad-ran } ]
              after: { needs: bad, runs-on: ubuntu-latest, steps: [ { run: echo after-ran } ] }
            """)
        let plan = try await nixactions(["run", "wf.yml", "--dry-run"], in: temp.path)
        #expect(plan.status == 0, "\(plan.stdout)\(plan.stderr)")
        #expect(plan.stderr.contains("wf.yml:6:35: warning: cannot evaluate strategy.matrix: fromJSON: empty input; job 'bad' fails when it is due, the jobs that do not need it run"),
                "\(plan.stderr)")
        #expect(plan.stdout.contains("bad (strategy: error)  [error: cannot evaluate strategy.matrix: fromJSON: empty input; executor: local"), "\(plan.stdout)")
        // The json plan says why too (review 63: the stand-in was shown without its error).
        let json = try await nixactions(["run", "wf.yml", "--dry-run", "--log-format", "json"], in: temp.path)
        #expect(json.stdout.contains(#""name":"bad (strategy: error)","facts":["error: cannot evaluate strategy.matrix: fromJSON: empty input","#), "\(json.stdout)")
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[ok] ok-ran\n") && !result.stdout.contains("bad-ran") && !result.stdout.contains("after-ran"), "\(result.stdout)")
        #expect(result.stdout.contains("cannot evaluate strategy.matrix: fromJSON: empty input"), "\(result.stdout)")
    }

    @Test("a matrix from a needs output is expanded when the job starts: dimensions, include, exclude, fail-fast and max-parallel from expressions")
    func matrixFromNeeds() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              plan:
                outputs:
                  matrix: ${{ steps.m.outputs.matrix }}
                  names: ${{ steps.m.outputs.names }}
                steps:
                  - id: m
                    run: |
                      echo 'matrix={"x":[1,2],"include":[{"x":3,"extra":"e"}]}' >> "$GITHUB_OUTPUT"
                      echo 'names=["a","b","c"]' >> "$GITHUB_OUTPUT"
              whole:
                needs: plan
                strategy:
                  fail-fast: ${{ needs.plan.result != 'success' }}
                  max-parallel: ${{ 1 }}
                  matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
                steps:
                  - run: echo "whole x=${{ matrix.x }} extra=${{ matrix.extra }} ff=${{ strategy.fail-fast }} mp=${{ strategy.max-parallel }} of ${{ strategy.job-total }}"
              dims:
                needs: plan
                strategy:
                  matrix:
                    name: ${{ fromJSON(needs.plan.outputs.names) }}
                    k: [1, "${{ 2 }}"]
                    exclude: ${{ fromJSON('[{"name":"a"},{"k":2}]') }}
                steps:
                  - run: echo "dims ${{ matrix.name }}-${{ matrix.k }}"
              after:
                needs: [whole, dims]
                steps:
                  - run: echo "after ${{ needs.whole.result }} ${{ needs.dims.result }}"
            """)
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        for line in ["whole x=1 extra= ff=false mp=1 of 3", "whole x=2 extra= ff=false mp=1 of 3", "whole x=3 extra=e ff=false mp=1 of 3",
                     "dims b-1", "dims c-1", "after success success"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        #expect(!result.stdout.contains("dims a-"))
        #expect(!result.stdout.contains("-2\n"))
    }

    @Test("a matrix from needs that is not a matrix fails that job with the expression's place; the rest of the run goes on")
    func badMatrixFromNeeds() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              plan:
                outputs: { m: "${{ steps.m.outputs.m }}" }
                steps: [ { id: m, run: "echo 'm=[1,2]' >> $GITHUB_OUTPUT" } ]
              test:
                needs: plan
                strategy: { matrix: "${{ fromJSON(needs.plan.outputs.m) }}" }
                steps: [ { run: echo never } ]
              other:
                needs: plan
                steps: [ { run: echo other ran } ]
            """)
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("other ran"))
        #expect((result.stdout + result.stderr).contains("wf.yml:7:26: cannot evaluate strategy.matrix: the matrix must be an object, got array"))
        #expect(!result.stdout.contains("never"))
    }

    @Test("a matrix from an expression is checked as GitHub checks it: an empty list, an include that is no list, an entry that is no object or is empty each fail their job (audit 53: they ran once or were dropped); matrix is null without one")
    func matrixValuesGitHubRefuses() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let cases = [
            ("empty", #"{"os":[]}"#, "matrix dimension 'os' is empty"),
            ("includemap", #"{"os":["a"],"include":{"os":"b"}}"#, "matrix.include must be a list of objects, got object"),
            ("includetext", #"{"os":["a"],"include":["b"]}"#, "each entry of matrix.include must be an object, got string"),
            ("excludeempty", #"{"os":["a"],"exclude":[{}]}"#, "an entry of matrix.exclude is empty ({})"),
            ("includeempty", #"{"include":[{}]}"#, "an entry of matrix.include is empty ({})"),
        ]
        // Read from a needed job's (empty) output: evaluated when the job is to start, as a
        // generated matrix is.
        var yaml = "jobs:\n  plain:\n    steps:\n      - run: echo \"plain matrix=${{ toJSON(matrix) }} null=${{ matrix == null }}\"\n"
        for (id, value, _) in cases {
            yaml += "  \(id):\n    needs: plain\n    strategy:\n      matrix: ${{ fromJSON(needs.plain.outputs.none || '\(value)') }}\n"
                + "    steps:\n      - run: echo NEVER-\(id)\n"
        }
        let workflow = try temp.write("wf.yml", yaml)
        let result = try await nixactions(["run", workflow, "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1, "\(result.stderr)\n\(result.stdout)")
        let all = result.stdout + result.stderr
        for (id, _, message) in cases {
            #expect(all.contains("cannot evaluate strategy.matrix: \(message)"), "\(id): \(all)")
            #expect(!all.contains("NEVER-\(id)"), "\(all)")
        }
        #expect(result.stdout.contains("[plain] plain matrix=null null=true\n"), "\(result.stdout)")
    }

    @Test("strategy: ${{ … }} (docker-library's workflows): the whole strategy from a needs output or a literal, fail-fast and max-parallel with it; no matrix is one instance; a value that is no strategy fails that job with its place")
    func wholeStrategyExpression() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              generate:
                outputs:
                  strategy: ${{ steps.gen.outputs.strategy }}
                steps:
                  - id: gen
                    run: |
                      echo 'strategy={"fail-fast":false,"max-parallel":1,"matrix":{"include":[{"name":"a","runs":{"build":"exit 3"}},{"name":"b","runs":{"build":"echo built b"}}]}}' >> "$GITHUB_OUTPUT"
              test:
                needs: generate
                strategy: ${{ fromJson(needs.generate.outputs.strategy) }}
                name: ${{ matrix.name }}
                steps:
                  - run: ${{ matrix.runs.build }}
                  - run: echo "ran ${{ matrix.name }} ff=${{ strategy.fail-fast }} mp=${{ strategy.max-parallel }} of ${{ strategy.job-total }}"
              literal:
                strategy: ${{ fromJSON('{"matrix":{"x":[1,2]}}') }}
                steps:
                  - run: echo "literal x=${{ matrix.x }} ff=${{ strategy.fail-fast }}"
              plain:
                strategy: ${{ fromJSON('{"fail-fast":false}') }}
                steps:
                  - run: echo "plain ${{ strategy.job-total }} ff=${{ strategy.fail-fast }}"
              wrong:
                needs: generate
                strategy: "${{ fromJSON(needs.generate.result == 'success' && '[1]' || '[2]') }}"
                steps: [ { run: echo never } ]
            """)
        let validated = try await nixactions(["validate", workflow], in: temp.path)
        #expect(validated.status == 0, "\(validated.stderr)")
        #expect(!validated.stderr.contains("warning"), "\(validated.stderr)")
        let result = try await nixactions(["run", workflow, "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1)
        let out = result.stdout + result.stderr
        for line in ["] built b\n", "ran b ff=false mp=1 of 2", "literal x=1 ff=true", "literal x=2 ff=true", "plain 1 ff=false",
                     "wf.yml:26:15: strategy must be an object, the expression gave array '[1]'"] {
            #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
        }
        // fail-fast: false from the expression: b ran although a failed first (max-parallel 1).
        #expect(out.contains("exit code 3"), "\(out)")
        #expect(!out.contains("never"), "\(out)")

        // A strategy known before the run (no needs) is checked before anything runs.
        let typo = try temp.write("typo.yml", """
            jobs:
              typo:
                strategy: ${{ fromJSON('{"matrx":{"x":[1]}}') }}
                steps: [ { run: echo never } ]
            """)
        let stopped = try await nixactions(["run", typo], in: temp.path)
        #expect(stopped.status == 2)
        #expect(stopped.stderr.contains("typo.yml:3:15: error: the strategy the expression gave has a key 'matrx'; a strategy has matrix, fail-fast and max-parallel"),
                "\(stopped.stderr)")
        #expect(!stopped.stdout.contains("never"))
    }

    @Test("defaults.run: ${{ … }} (workflow and job level) gives shell and working-directory setting by setting, nearest level first; not an object fails the step with its place")
    func defaultsRunExpression() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try FileManager.default.createDirectory(atPath: temp.path + "/sub", withIntermediateDirectories: true)
        let workflow = try temp.write("wf.yml", """
            defaults:
              run: ${{ fromJSON('{"working-directory":"sub"}') }}
            jobs:
              a:
                strategy:
                  matrix:
                    include:
                      - { name: dash, defaults: { shell: sh } }
                      - { name: plain, defaults: {} }
                defaults:
                  run: ${{ matrix.defaults }}
                steps:
                  - run: echo "${{ matrix.name }} in $(basename "$PWD") shell=$(basename "$(readlink /proc/$$/exe)")"
              bad:
                defaults:
                  run: ${{ 'x' }}
                steps:
                  - run: echo never
            """)
        let validated = try await nixactions(["validate", workflow], in: temp.path)
        #expect(validated.status == 0 && !validated.stderr.contains("warning"), "\(validated.stderr)")
        let result = try await nixactions(["run", workflow, "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1)
        for line in ["dash in sub shell=dash\n", "plain in sub shell=bash\n",
                     "wf.yml:16:12: 'defaults.run' must be an object of shell and working-directory, the expression gave string 'x'"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        #expect(!result.stdout.contains("[bad] never\n"))
    }

    @Test("timeout-minutes from an expression limits the job and the step; a bad value fails the step with its place")
    func timeoutExpressions() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              a:
                strategy: { matrix: { limit: ['1s'] } }
                steps:
                  - run: sleep 5
                    timeout: ${{ matrix.limit }}
                    continue-on-error: true
                  - run: echo bad
                    timeout-minutes: ${{ 'soon' }}
              b:
                steps:
                  - run: echo text
                    timeout-minutes: ${{ '5' }}
                  - run: echo number
                    timeout-minutes: ${{ fromJSON('5') }}
                    if: always()
              c:
                timeout-minutes: ${{ '5' }}
                steps:
                  - run: echo job text
              d:
                timeout: ${{ 5 }}
                steps:
                  - run: echo bare number
            """)
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.seconds < 4.5)
        #expect(result.status == 1)
        let all = result.stdout + result.stderr
        #expect(all.contains("timed out after 1s"), "\(all)")
        // A step timeout that cannot be used is an error message, and the step runs without a limit
        // of its own, as GitHub's runner does (review 53: it failed the step).
        #expect(all.contains("wf.yml:9:26: cannot evaluate timeout-minutes of step 'Run echo bad': timeout-minutes must be a positive number of minutes, the expression gave 'soon'; it runs without a time limit of its own"), "\(all)")
        #expect(result.stdout.contains("[a-limit-1s] bad\n"), "\(result.stdout)")
        // Text is not a number, as GitHub's AssertNumber has it ('5' was taken as 5); fromJSON makes one.
        #expect(all.contains("cannot evaluate timeout-minutes of step 'Run echo text': timeout-minutes must be a number, the expression gave the text '5'"), "\(all)")
        #expect(result.stdout.contains("[b] text\n") && result.stdout.contains("[b] number\n"), "\(result.stdout)")
        // At job level, text fails the job, as on GitHub (its server refuses it).
        #expect(all.contains("cannot evaluate timeout-minutes of job 'c': timeout-minutes must be a number, the expression gave the text '5'"), "\(all)")
        #expect(!result.stdout.contains("[c] job text\n"), "\(result.stdout)")
        // A bare number for `timeout` is an error, as one written in the file is (audit 55 M1: 5 seconds).
        #expect(all.contains("cannot evaluate timeout of job 'd': timeout must be a duration such as 90s, 10m or 1h30m, the expression gave the number 5: add a unit ('5s' or '5m'), or use timeout-minutes"), "\(all)")
        #expect(!result.stdout.contains("[d] bare number\n"), "\(result.stdout)")
    }

    @Test("GITHUB_ENV cannot set NODE_OPTIONS, in any case (GitHub's block list): left out with an error, the rest applies, the step succeeds")
    func nodeOptionsBlocked() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      echo "NODE_OPTIONS=--require=/tmp/evil.js" >> "$GITHUB_ENV"
                      echo "node_options=--inspect" >> "$GITHUB_ENV"
                      echo "KEPT=yes" >> "$GITHUB_ENV"
                  - run: echo "node=${NODE_OPTIONS-unset} lower=${node_options-unset} kept=$KEPT"
            """)
        let result = try await nixactions(["run", workflow, "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] node=unset lower=unset kept=yes"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] error: GITHUB_ENV of step 'Run echo \"NODE_OPTIONS=--require=/tmp/evil.js\" >> \"$GITHUB_ENV\"': NODE_OPTIONS cannot be set through GITHUB_ENV (as on GitHub); it was left out"), "\(result.stdout)")
        #expect(result.stdout.contains("node_options cannot be set through GITHUB_ENV"), "\(result.stdout)")
    }

    @Test("container: ${{ matrix.image }} that is empty runs the job without a container (GitHub's rule)")
    func emptyContainer() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              a:
                runs-on: ubuntu-latest
                container: ${{ matrix.image }}
                strategy: { matrix: { image: [''] } }
                steps:
                  - run: echo "no container here $([ -f /run/.containerenv ] && echo in-podman || echo on-host)"
            """)
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        #expect(result.stdout.contains("no container here on-host"))
    }

    @Test("run FILE JOB: errors and unsupported constructs in jobs it does not run are warnings; in the jobs it runs they stop it")
    func unselectedJobsDoNotBlock() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              test:
                steps: [ { run: echo tested } ]
              publish:
                needs: test
                steps:
                  - uses: docker/build-push-action@v5
              call:
                uses: ./.github/workflows/other.yml
                secrets: inherit
              boxed:
                container:
                  image: node:20
                  mounts: [x]
                steps: [ { run: echo boxed } ]
            """)
        let selected = try await nixactions(["run", workflow, "test"], in: temp.path)
        #expect(selected.status == 0, "\(selected.stderr)")
        #expect(selected.stderr.contains("unknown key 'mounts' in container (in job 'boxed', which this run does not run)"), "\(selected.stderr)")
        #expect(selected.stdout.contains("tested"))
        // A remote action is fetched only for the jobs a run runs.
        #expect(!selected.stderr.contains("docker/build-push-action"), "\(selected.stderr)")
        #expect(selected.stderr.contains("warning: cannot read the called workflow './.github/workflows/other.yml': no such file (in job 'call', which this run does not run)"),
                "\(selected.stderr)")

        let blocked = try await nixactions(["run", workflow, "publish"], in: temp.path)
        #expect(blocked.status == 2)
        #expect(blocked.stderr.contains("wf.yml:7:15: error: cannot fetch the action 'docker/build-push-action@v5' from \(offlineActionsURL)/docker/build-push-action"),
                "\(blocked.stderr)")
        #expect(!blocked.stdout.contains("==> job"))
        // Valid GitHub that this version cannot run: validate reports it and succeeds.
        let actions = try temp.write("actions.yml", """
            jobs:
              build:
                steps:
                  - uses: actions/checkout@v4
                  - uses: actions/setup-node@v4
                    with: { node-version: 20 }
                  - uses: ./.github/actions/local
                  - uses: docker://alpine:3
            """)
        let validate = try await nixactions(["validate", actions], in: temp.path)
        #expect(validate.status == 0, "\(validate.stderr)")
        // A local action is read from the project: not there, a warning (an earlier step may make it).
        #expect(validate.stderr.contains("actions.yml:7:15: warning: no action.yml, action.yaml or Dockerfile in './.github/actions/local' of the project"))
        // A remote action is read by run, which fetches it: validate says so in a note.
        #expect(validate.stderr.contains("actions.yml:5:15: note: the action 'actions/setup-node@v4' is fetched when a run starts"), "\(validate.stderr)")
        // A docker:// step runs its image (DockerActionTests): nothing to say about it.
        #expect(!validate.stderr.contains("docker://alpine:3"), "\(validate.stderr)")
        let call = try await nixactions(["run", workflow, "call"], in: temp.path)
        #expect(call.status == 2)
        #expect(call.stderr.contains("wf.yml:9:11: error: cannot read the called workflow './.github/workflows/other.yml': no such file"), "\(call.stderr)")
        #expect(!call.stdout.contains("==> job"))
    }

    @Test("an env name with '-' reaches the step's environment")
    func dashedEnv() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            env: { cache-name: cache-node-modules }
            jobs:
              a:
                steps:
                  - run: echo "name=$(printenv cache-name) expr=${{ env.cache-name }}"
            """)
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("name=cache-node-modules expr=cache-node-modules"))
    }
}

extension GitHubWorkflowRunTests {
    @Test("a job output of ${{ env.VERSION }} sees VERSION written to GITHUB_ENV (ripgrep's release workflow relies on it)")
    func outputFromGitHubEnv() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              create:
                outputs:
                  version: ${{ env.VERSION }}
                steps:
                  - run: echo "VERSION=14.1.0" >> "$GITHUB_ENV"
              use:
                needs: create
                steps:
                  - run: echo "version is '${{ needs.create.outputs.version }}'"
            """)
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("version is '14.1.0'"), "\(result.stdout)")
    }
}

extension GitHubWorkflowRunTests {
    @Test("env: ${{ … }} for a whole map (workflow, job and step), from a needs output; a value that is not an object fails with its place")
    func wholeEnvExpression() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            env: ${{ fromJSON('{"LEVEL":"workflow","KEEP":"kept"}') }}
            jobs:
              plan:
                outputs: { env: "${{ steps.e.outputs.env }}" }
                steps:
                  - id: e
                    run: echo 'env={"FROM_NEEDS":"yes","LEVEL":"job"}' >> "$GITHUB_OUTPUT"
              use:
                needs: plan
                env: ${{ fromJSON(needs.plan.outputs.env) }}
                steps:
                  - run: echo "LEVEL=$LEVEL FROM_NEEDS=$FROM_NEEDS KEEP=$KEEP STEP=$STEP ${{ env.FROM_NEEDS }}"
                    env: ${{ fromJSON('{"STEP":"step"}') }}
                  - run: echo never
                    env: ${{ 'text' }}
            """)
        let validate = try await nixactions(["validate", workflow], in: temp.path)
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(!validate.stderr.contains("env.FROM_NEEDS"), "\(validate.stderr)")
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("LEVEL=job FROM_NEEDS=yes KEEP=kept STEP=step yes"), "\(result.stdout)")
        #expect((result.stdout + result.stderr).contains("wf.yml:15:14: env: the expression must give an object of NAME: value"), "\(result.stdout)")
        #expect(!result.stdout.contains("] never\n"))
    }
}

extension GitHubWorkflowRunTests {
    @Test("warnings (an unsupported construct) are printed also when the file has an error")
    func warningsWithErrors() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              a:
                steps: [ { run: echo, background: true } ]
              b:
                needs: nope
                steps: [ { run: echo } ]
            """)
        let result = try await nixactions(["validate", workflow], in: temp.path)
        #expect(result.status == 2)
        #expect(result.stderr.contains("warning: job 'a': parallel steps ('background' of step 1) is not supported by this version of nixactions yet"), "\(result.stderr)")
        #expect(result.stderr.contains("error: job 'b' needs 'nope', which is not a job of this workflow"))
    }
}
