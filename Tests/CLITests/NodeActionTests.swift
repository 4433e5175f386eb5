import Foundation
import Testing
import TestSupport

/// JavaScript actions (`runs.using: node20`, …), run with the executor's Node.js as GitHub's
/// runner runs them: `INPUT_*`, GITHUB_OUTPUT/ENV/PATH/STATE, `pre` and `post` scripts.
@Suite("JavaScript actions")
struct NodeActionTests {
    /// Writes what it was given and what it can see; saves state for its post script.
    static let hello = """
        name: hello
        inputs:
          who name:
            default: world
          Count:
            required: true
          unused:
            default: ${{ github.job }}
          fetch-depth:
            default: "1"
          github-token:
            required: false
        outputs:
          greeting:
            description: set by the script
        runs:
          using: node20
          main: dist/index.js
          post: dist/post.js
        """

    static let helloMain = """
        const fs = require('fs');
        const env = process.env;
        console.log(`hello ${env.INPUT_WHO_NAME} x${env.INPUT_COUNT} default=${env.INPUT_UNUSED} extra=${env.INPUT_EXTRA}`);
        console.log(`cwd-is-workspace=${process.cwd() === env.GITHUB_WORKSPACE} path=${env.GITHUB_ACTION_PATH.slice(env.GITHUB_WORKSPACE.length)}`);
        console.log(`step-env=${env.FROM_STEP}`);
        fs.appendFileSync(env.GITHUB_OUTPUT, `greeting=hi ${env.INPUT_WHO_NAME}\\n`);
        fs.appendFileSync(env.GITHUB_ENV, `FROM_JS=set by js\\n`);
        fs.appendFileSync(env.GITHUB_PATH, `${env.GITHUB_WORKSPACE}/tools\\n`);
        fs.appendFileSync(env.GITHUB_STATE, `started<<EOF\\nat ${env.INPUT_WHO_NAME}\\nline two\\nEOF\\n`);
        console.log(`token=${env.INPUT_TOKEN}`);
        fs.appendFileSync(env.GITHUB_STATE, `token=${env.INPUT_TOKEN}\n`);
        // Names keep their '-' (GitHub's runner; @actions/core reads INPUT_FETCH-DEPTH), state names too.
        console.log(`dashed fetch-depth=${env['INPUT_FETCH-DEPTH']} github-token=${env['INPUT_GITHUB-TOKEN']} carried-left=${Object.keys(env).filter(k => k.startsWith('NIXACTIONS_CARRIED_ENV_')).length}`);
        fs.appendFileSync(env.GITHUB_STATE, `my-key=dashed state\n`);
        console.log('::add-mask::hush-hush');
        console.log('the password is hush-hush');
        """

    static let helloPost = """
        console.log(`post: state=${JSON.stringify(process.env.STATE_started)} input=${process.env.INPUT_WHO_NAME} env=${process.env.FROM_STEP}`);
        console.log(`saved-token=${process.env.STATE_token}`);
        console.log(`dashed state=${process.env['STATE_my-key']} fetch-depth=${process.env['INPUT_FETCH-DEPTH']}`);
        require('fs').appendFileSync(process.env.GITHUB_STATE, 'fromPost=1\\n');  // throws when a post script has no GITHUB_STATE
        """

    static func project(_ files: [String: String], workflow: String) throws -> (TemporaryDirectory, String) {
        let temp = try TemporaryDirectory()
        for (path, text) in files { try temp.write(path, text) }
        return (temp, try temp.write("wf.yml", workflow))
    }

    static func events(in logs: String) throws -> String {
        let folder = try FileManager.default.contentsOfDirectory(atPath: logs).first ?? ""
        return try String(contentsOfFile: logs + "/\(folder)/events.jsonl", encoding: .utf8)
    }

    @Test("a local JavaScript action: INPUT_ variables, outputs, GITHUB_ENV and GITHUB_PATH, masking, the workspace, and a post script with the state main saved")
    func localAction() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/hello/action.yml": Self.hello, ".github/actions/hello/dist/index.js": Self.helloMain,
             ".github/actions/hello/dist/post.js": Self.helloPost,
             "tools/greet-tool": "#!/bin/sh\necho tool on the path\n"],
            workflow: """
                jobs:
                  build:
                    defaults:
                      run:
                        working-directory: tools
                    steps:
                      - id: h
                        uses: ./.github/actions/hello
                        env:
                          FROM_STEP: given
                        with:
                          Who Name: Ada
                          count: 3
                          extra: passed on
                          token: ${{ secrets.API_TOKEN }}
                          github-token: ${{ secrets.API_TOKEN }}
                      - run: |
                          echo "output=${{ steps.h.outputs.greeting }} outcome=${{ steps.h.outcome }} env=$FROM_JS"
                          chmod +x greet-tool && greet-tool
                      - run: echo "last step"
                """)
        defer { temp.remove() }
        let secret = "tok-9f2e41-javascript"
        let result = try await nixactions(["run", workflow, "--log-format", "plain", "--log-dir", temp.path + "/logs", "--secret", "API_TOKEN=\(secret)"],
                                          in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let out = result.stdout
        // A secret given as an input, and saved in its state, is masked wherever the scripts print it, and in every log file.
        #expect(out.contains("[build] token=***\n") && out.contains("[build] saved-token=***\n"), "\(out)")
        #expect(!(out + result.stderr).contains(secret))
        for case let file as String in FileManager.default.enumerator(atPath: temp.path + "/logs")! {
            let text = (try? String(contentsOfFile: temp.path + "/logs/" + file, encoding: .utf8)) ?? ""
            #expect(!text.contains(secret) && !text.contains("hush-hush"), "\(file)")
        }
        for line in ["[build] hello Ada x3 default=build extra=passed on\n", "[build] cwd-is-workspace=true path=/.github/actions/hello\n",
                     "[build] step-env=given\n", "[build] the password is ***\n", "[build] output=hi Ada outcome=success env=set by js\n",
                     "[build] tool on the path\n",
                     "[build] dashed fetch-depth=1 github-token=*** carried-left=0\n",
                     "[build] dashed state=dashed state fetch-depth=1\n",
                     "[build] post: state=\"at Ada\\nline two\" input=Ada env=given\n"] {
            #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
        }
        #expect(!out.contains("hush-hush"))
        // The post script runs after the last step, as a step of its own after the job's three.
        let last = try #require(out.range(of: "last step\n"))
        #expect(out[last.upperBound...].contains("[build] > Post h\n"), "\(out)")
        let events = try Self.events(in: temp.path + "/logs")
        #expect(events.contains("\"event\":\"step_started\",\"job\":\"build\",\"step\":3,\"name\":\"Post h\""), "\(events)")
    }

    /// A remote action with all three scripts: pre and post say what they got; main fails when asked.
    static let setup: [String: String] = [
        "action.yml": """
            name: setup
            inputs:
              version: { default: "1.0" }
              fail: { default: "no" }
            runs:
              using: node24
              pre: dist/pre.js
              pre-if: runner.os == 'Linux'
              main: dist/main.js
              post: dist/post.js
              post-if: success()
            """,
        "dist/pre.js": """
            const fs = require('fs');
            console.log(`pre ${process.env.INPUT_VERSION} of ${process.env.GITHUB_ACTION_REPOSITORY}@${process.env.GITHUB_ACTION_REF}`);
            fs.appendFileSync(process.env.GITHUB_STATE, `fromPre=p-${process.env.INPUT_VERSION}\\n`);
            """,
        "dist/main.js": """
            const fs = require('fs');
            console.log(`main ${process.env.INPUT_VERSION} pre said ${process.env.STATE_fromPre}`);
            fs.appendFileSync(process.env.GITHUB_STATE, `fromMain=m-${process.env.INPUT_VERSION}\\n`);
            if (process.env.INPUT_FAIL === 'yes') { console.error('main failed on purpose'); process.exit(4); }
            """,
        "dist/post.js": "console.log(`post ${process.env.INPUT_VERSION}: ${process.env.STATE_fromPre} ${process.env.STATE_fromMain}`);\n"
            + "if (process.env['INPUT_NODE-VERSION']) console.log(`post node-version=${process.env['INPUT_NODE-VERSION']}`);\n",
        // A sub-action whose code is in a sibling folder (actions/cache/restore's layout).
        "other/action.yml": "runs:\n  using: node16\n  main: ../dist/other-main.js\n  post: post.js\n",
        "dist/other-main.js": "console.log('other main');\n",
        "other/post.js": "console.log('other post');\n",
    ]

    @Test("a remote JavaScript action: pre before the first step (pre-if), its state in main and post, posts last first, post-if: success() after a failure; a sub-action's main in a sibling folder (../dist)")
    func remoteAction() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        try daemon.publish("acme/setup", files: Self.setup, tags: ["v3"])
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              good:
                steps:
                  - run: echo first step
                  - uses: acme/setup@v3
                    with: { version: "2.5" }
                  - uses: acme/setup/other@v3
                  - run: echo last step
              bad:
                steps:
                  - uses: acme/setup@v3
                    with: { fail: "yes" }
                  - uses: acme/setup/other@v3
                    if: always()
            """)
        let result = try await nixactions(["run", workflow, "--log-format", "plain", "--actions-url", daemon.url, "-j", "1"], in: temp.path,
                                          environment: ["XDG_CACHE_HOME": temp.path + "/cache"])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let good = result.stdout.split(separator: "\n").filter { $0.hasPrefix("[good] ") }.map { String($0.dropFirst(7)) }
        let expected = ["> Pre acme/setup@v3", "pre 2.5 of acme/setup@v3", "> Run echo first step", "first step",
                        "> acme/setup@v3", "main 2.5 pre said p-2.5", "> acme/setup/other@v3", "other main", "> Run echo last step", "last step",
                        "> Post acme/setup/other@v3", "other post", "> Post acme/setup@v3", "post 2.5: p-2.5 m-2.5"]
        #expect(good.filter { !$0.hasPrefix("✓") && !$0.hasPrefix("the action") } == expected, "\(good)")
        // The failing main's exit code fails the job; its post-if: success() skips its post, the other's post runs.
        #expect(result.stdout.contains("[bad] main failed on purpose\n"))
        #expect(result.stdout.contains("[bad] ✗ acme/setup@v3 (exit code 4"), "\(result.stdout)")
        #expect(result.stdout.contains("[bad] other post\n"))
        #expect(!result.stdout.contains("post 1.0"), "\(result.stdout)")
    }

    @Test("a JavaScript action inside a composite action: its inputs from the composite's, its post after the job's steps")
    func insideComposite() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/hello/action.yml": Self.hello, ".github/actions/hello/dist/index.js": Self.helloMain,
             ".github/actions/hello/dist/post.js": Self.helloPost,
             ".github/actions/wrap/action.yml": """
                inputs:
                  name: {}
                outputs:
                  said: { value: "${{ steps.inner.outputs.greeting }}" }
                runs:
                  using: composite
                  steps:
                    - id: inner
                      uses: ./.github/actions/hello
                      with: { who name: "${{ inputs.name }}", count: 1 }
                    - run: echo "inside $FROM_JS"
                      shell: bash
                """],
            workflow: """
                jobs:
                  build:
                    steps:
                      - id: w
                        uses: ./.github/actions/wrap
                        with: { name: Grace }
                      - run: echo "said=${{ steps.w.outputs.said }}"
                """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow, "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let out = result.stdout
        for line in ["[build] hello Grace x1", "[build] inside set by js\n", "[build] said=hi Grace\n", "[build] > Post inner\n",
                     "[build] post: state=\"at Grace\\nline two\" input=Grace"] {
            #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
        }
        let said = try #require(out.range(of: "said=hi Grace"))
        #expect(out[said.upperBound...].contains("post: state="), "the post script runs after the job's last step:\n\(out)")
    }

    @Test("no node on the executor, a script that throws, a step timeout: each fails the step with why; post scripts still run, cleanup after a timeout")
    func failures() async throws {
        let onlyShell = try TemporaryDirectory()
        defer { onlyShell.remove() }
        try FileManager.default.createSymbolicLink(atPath: onlyShell.path + "/sh", withDestinationPath: "/bin/sh")
        let (temp, workflow) = try Self.project(
            [".github/actions/hello/action.yml": Self.hello, ".github/actions/hello/dist/index.js": Self.helloMain,
             ".github/actions/hello/dist/post.js": Self.helloPost,
             ".github/actions/throws/action.yml": "runs:\n  using: node20\n  main: main.js\n",
             ".github/actions/throws/main.js": "throw new Error('thrown by the action');\n",
             ".github/actions/slow/action.yml": "runs:\n  using: node20\n  main: main.js\n  post: post.js\n",
             ".github/actions/slow/main.js": "console.log('sleeping'); setTimeout(() => console.log('woke'), 60000);\n",
             ".github/actions/slow/post.js": "console.log('slow post ran');\n",
             ".github/actions/postfails/action.yml": "runs:\n  using: node20\n  main: main.js\n  post: post.js\n",
             ".github/actions/postfails/main.js": "console.log('main fine');\n",
             ".github/actions/postfails/post.js": "console.log('post failing'); process.exit(5);\n"],
            workflow: """
                jobs:
                  nonode:
                    steps:
                      - uses: ./.github/actions/hello
                        env: { PATH: "\(onlyShell.path)" }
                        with: { count: 1 }
                  throws:
                    steps:
                      - uses: ./.github/actions/throws
                        continue-on-error: true
                      - run: echo after the throw
                  slow:
                    steps:
                      - uses: ./.github/actions/slow
                        timeout-minutes: 0.05
                  allowed:
                    steps:
                      - uses: ./.github/actions/postfails
                        continue-on-error: ${{ github.job == 'allowed' }}
                  jobtimeout:
                    timeout-minutes: 0.05
                    steps:
                      - uses: ./.github/actions/slow
                """)
        defer { temp.remove() }
        let result = try await nixactions(["run", workflow, "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let out = result.stdout
        for line in ["[nonode] nixactions: the action './.github/actions/hello' (runs.using: node20) needs Node.js: there is no 'node' on the PATH of the job's executor",
                     "[nonode] ✗ ./.github/actions/hello (exit code 127",
                     "[throws] Error: thrown by the action", "[throws] after the throw\n",
                     "[slow] sleeping\n", "[slow] slow post ran\n",
                     // The job's timeout cancels it: the post script runs as a cleanup step.
                     "[jobtimeout] sleeping\n", "[jobtimeout] slow post ran\n"] {
            #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
        }
        #expect(!out.contains("[slow] woke") && !out.contains("[jobtimeout] woke"))
        // A failing post script is allowed by the step's continue-on-error, an expression evaluated when main ran.
        #expect(out.contains("[allowed] post failing\n") && out.contains("[allowed] ✗ Post ./.github/actions/postfails (exit code 5"), "\(out)")
        #expect(out.split(separator: "\n").contains { $0.hasPrefix("allowed ") && $0.contains(" success ") }, "\(out)")
        #expect((out + result.stderr).contains("step './.github/actions/slow' timed out after 3s"), "\(out)\(result.stderr)")
        #expect(out.contains("[throws] ✗ ./.github/actions/throws (exit code 1"), "\(out)")
        // Without node the action's post script is not run (it would fail the same way): said once,
        // and said why (audit 58 examples L11).
        #expect(out.components(separatedBy: "needs Node.js").count - 1 == 1, "\(out)")
        #expect(out.contains("[nonode] the post script of './.github/actions/hello' is not run: its main step found no Node.js\n"), "\(out)")
        #expect(!out.contains("Post ./.github/actions/hello"), "\(out)")
    }

    @Test("validate checks a JavaScript action's runs: main required, scripts inside the action's repository, pre-if and post-if expressions, unknown keys")
    func validation() async throws {
        let (temp, workflow) = try Self.project(
            [".github/actions/a/action.yml": "runs:\n  using: node20\n  mian: index.js\n  post-if: success(\n",
             ".github/actions/b/action.yml": "runs:\n  using: node20\n  main: ../../../../evil.js\n  pre: /abs.js\n",
             ".github/actions/c/action.yml": "runs:\n  using: node18\n  main: index.js\n",
             ".github/actions/d/action.yml": "runs:\n  using: node20\n  main: dist/missing.js\n  post: post.js\n",
             ".github/actions/d/post.js": "console.log('here')\n",
             ".github/actions/e/action.yml": "runs:\n  using: node20\n   main: index.js\n"],
            workflow: """
                jobs:
                  a:
                    steps:
                      - uses: ./.github/actions/a
                      - uses: ./.github/actions/b
                      - uses: ./.github/actions/c
                      - uses: ./.github/actions/d
                      - uses: ./.github/actions/e
                """)
        defer { temp.remove() }
        let result = try await nixactions(["validate", workflow], in: temp.path)
        #expect(result.status == 2, "\(result.stderr)")
        for line in [".github/actions/a/action.yml:1:1: error: a node20 action's 'runs' has no 'main'",
                     ".github/actions/a/action.yml:3:3: error: unknown key 'mian' in runs", "hint: did you mean 'main'?",
                     ".github/actions/a/action.yml:4:20: error: invalid expression in 'runs.post-if'",
                     ".github/actions/b/action.yml:3:9: error: runs.main '../../../../evil.js' leads out of the project",
                     ".github/actions/b/action.yml:4:8: error: runs.pre '/abs.js' is an absolute path",
                     "wf.yml:6:15: warning: job 'a', step 3: the action './.github/actions/c' (runs.using: node18) is not supported",
                     // A script the project does not hold: a warning at its line (audit 51: only node's stack at run time).
                     ".github/actions/d/action.yml:3:9: warning: runs.main 'dist/missing.js' of the action './.github/actions/d' is not a file of the project"] {
            #expect(result.stderr.contains(line), "missing '\(line)' in:\n\(result.stderr)")
        }
        #expect(!result.stderr.contains("./.github/actions/a' (runs.using: node20) is not supported"), "\(result.stderr)")
        #expect(!result.stderr.contains("runs.post 'post.js'"), "a script that is there: \(result.stderr)")
        // Invalid YAML in an action file names the step that uses it, as its other errors do.
        #expect(result.stderr.contains("in workflow 'wf' › job 'a' › step 5 › action file '.github/actions/e/action.yml'"), "\(result.stderr)")
    }
}

extension RealExecutorSuites.SSHExecutorTests {
    @Test("a remote JavaScript action on an ssh host: node runs there, with its pre and post scripts")
    func javaScriptAction() async throws {
        let (result, leftEmpty) = try await Self.runRemoteActions("acme/setup", files: NodeActionTests.setup, tag: "v3", steps: """
                  - uses: acme/setup@v3
                    with: { version: "9", node-version: "20" }
                  - run: echo "via=${SSH_CONNECTION%% *}"
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for line in ["[build] pre 9 of acme/setup@v3\n", "[build] main 9 pre said p-9\n", "[build] via=127.0.0.1\n", "[build] post 9: p-9 m-9\n",
                     "[build] post node-version=20\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        #expect(leftEmpty)
    }
}

extension RealExecutorSuites.OCIExecutorTests {
    @Test("a remote JavaScript action in a container without Node.js: its files reach the container, each script fails with exit 127 and says why")
    func javaScriptActionWithoutNode() async throws {
        let podman = try await offThePool { try PodmanFixture.ready() }
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        try daemon.publish("acme/setup", files: NodeActionTests.setup, tags: ["v3"])
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              build:
                container:
                  image: \(PodmanFixture.image)
                  options: --network none
                steps:
                  - uses: acme/setup@v3
                    if: always()
                  - if: always()
                    run: ls "$RUNNER_TEMP/_actions/acme/setup/v3/dist"
            """)
        let environment = podman.environment.merging(["XDG_CACHE_HOME": temp.path + "/cache"]) { _, given in given }
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--actions-url", daemon.url], in: temp.path,
                                          environment: environment)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(try podman.containers().isEmpty)
        let missing = "[build] nixactions: the action 'acme/setup@v3' (runs.using: node24) needs Node.js: there is no 'node' on the PATH of the job's executor"
        #expect(result.stdout.components(separatedBy: missing).count - 1 == 2, "pre and main say it (post-if: success() skips post):\n\(result.stdout)")
        #expect(result.stdout.contains("[build] ✗ Pre acme/setup@v3 (exit code 127"), "\(result.stdout)")
        for name in ["main.js", "post.js", "pre.js"] {
            #expect(result.stdout.contains("[build] \(name)\n"), "missing \(name) in:\n\(result.stdout)")
        }
    }
}
