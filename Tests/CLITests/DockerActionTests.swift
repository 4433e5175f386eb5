import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Docker actions (`runs.using: docker`) and `uses: docker://IMAGE` steps, run with a real podman
/// (runc, the busybox image `PodmanFixture` makes) as GitHub's runner runs them.
extension RealExecutorSuites {
    @Suite("Docker actions: images run by the job's podman", .serialized)
    struct DockerActionTests {
        /// A Dockerfile action: args and env from its inputs, files of the workspace, outputs,
        /// GITHUB_ENV, state for its post entry point, the event file.
        static let greet = [
            ".github/actions/greet/action.yml": """
                name: Greet in a container
                inputs:
                  who: { description: whom, default: world }
                outputs:
                  said: { description: what it said }
                runs:
                  using: docker
                  image: docker/Dockerfile
                  args: ["--who", "${{ inputs.who }}", "two words"]
                  env:
                    GREETING: hello ${{ inputs.who }}
                    SHADOW: from the action
                  post-entrypoint: /post.sh
                """,
            // In a folder of its own, which is the build's context (as on GitHub).
            ".github/actions/greet/docker/Dockerfile": """
                FROM \(PodmanFixture.image)
                COPY entrypoint.sh post.sh /
                ENTRYPOINT ["sh", "/entrypoint.sh"]
                """,
            ".github/actions/greet/docker/entrypoint.sh": """
                echo "args: $# [$1] [$2] [$3]"
                echo "greeting=$GREETING input=$INPUT_WHO cwd=$(pwd) home=$HOME workspace=$GITHUB_WORKSPACE"
                echo "token=$MY_TOKEN job=$GITHUB_JOB ci=$CI path-is-image's=$PATH"
                echo "shadow=$SHADOW out=$OUT_DIR name=$name"
                cat project-file.txt
                echo "said=$GREETING" >> "$GITHUB_OUTPUT"
                echo "FROM_DOCKER=set in a container" >> "$GITHUB_ENV"
                echo "kept=from main" >> "$GITHUB_STATE"
                echo "written in the container" > made-in-container.txt
                grep -q '"ref"' "$GITHUB_EVENT_PATH" && echo "event at $GITHUB_EVENT_PATH"
                echo "## summary from a container" >> "$GITHUB_STEP_SUMMARY"
                """,
            ".github/actions/greet/docker/post.sh": """
                #!/bin/sh
                echo "post: state=$STATE_kept input=$INPUT_WHO"
                """,
            "project-file.txt": "a file of the project\n",
            // A folder with only a Dockerfile: an action without inputs, as on GitHub.
            "tools/bare/Dockerfile": "FROM \(PodmanFixture.image)\nENTRYPOINT [\"/bin/echo\", \"from a local Dockerfile:\"]\n",
        ]

        static func write(_ files: [String: String], workflow: String) throws -> TemporaryDirectory {
            let temp = try TemporaryDirectory()
            for (path, text) in files { try temp.write(path, text) }
            try temp.write("wf.yml", workflow)
            chmod(temp.path + "/.github/actions/greet/docker/post.sh", 0o755)
            return temp
        }

        /// Images that runs built, left in the test storage (tagged `localhost/nixactions-RUN-dN`).
        static func runImages(_ podman: PodmanFixture.Ready) throws -> [String] {
            try podman.podman(["images", "-q", "--filter", "reference=localhost/nixactions-*"]).stdout.split(separator: "\n").map(String.init)
        }

        @Test("a Dockerfile action and docker:// steps: args, inputs, env (the step's over runs.env, paths translated), outputs, GITHUB_ENV, state for post, the workspace, a secret masked and never on a command line, the container's exit status; nothing left")
        func runsDockerActions() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try Self.write(Self.greet, workflow: """
                on: push
                jobs:
                  a:
                    runs-on: ubuntu-latest
                    env:
                      MY_TOKEN: ${{ secrets.TOKEN }}
                      SHADOW: from the job
                      OUT_DIR: ${{ github.workspace }}/out
                      name: not the script's
                    steps:
                      - id: g
                        uses: ./.github/actions/greet
                        with: { who: the team }
                      - run: |
                          echo "output=${{ steps.g.outputs.said }} env=$FROM_DOCKER"
                          cat made-in-container.txt
                      - id: image
                        uses: docker://\(PodmanFixture.image)
                        with:
                          entrypoint: /bin/sh
                          args: -c "echo image step $INPUT_COLOUR in $(pwd); echo n=3 >> $GITHUB_OUTPUT; exit 3"
                          colour: blue
                        continue-on-error: true
                      - run: echo "image outcome=${{ steps.image.outcome }} n=${{ steps.image.outputs.n }}"
                      # Inputs keep the '-' of their names (GitHub's INPUT_SOME-KEY), which no POSIX
                      # shell passes on: through the engine's env file on a pipe, a secret too.
                      - uses: docker://\(PodmanFixture.image)
                        with:
                          entrypoint: /bin/env
                          some-key: hyphen value
                          api-token: ${{ secrets.TOKEN }}
                      - uses: ./tools/bare
                        with: { args: one two }
                      # Made by a step: read from the workspace when the step runs (lower case, as GitHub also takes).
                      - run: mkdir made && printf 'FROM %s\\nENTRYPOINT ["/bin/echo", "made by a step:"]\\n' \(PodmanFixture.image) > made/dockerfile
                      - uses: ./made
                        with: { args: three }
                """)
            defer { temp.remove() }
            // A podman in front of the real one that records every command line it is given.
            try temp.write("bin/podman", "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \(temp.path)/podman-commands\nexec \(podman.podman) \"$@\"\n")
            chmod(temp.path + "/bin/podman", 0o755)
            let path = temp.path + "/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--secret", "TOKEN", "--log-dir", temp.path + "/logs"],
                                              in: temp.path, environment: podman.environment.merging(["TOKEN": "tok-9f8e7d", "PATH": path]) { _, new in new })
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            let out = result.stdout
            for line in [
                "[a] args: 3 [--who] [the team] [two words]",
                "[a] greeting=hello the team input=the team cwd=/github/workspace home=/github/home workspace=/github/workspace",
                "[a] token=*** job=a ci=true path-is-image's=/usr/sbin:/usr/bin:/sbin:/bin",
                "[a] a file of the project",
                "[a] shadow=from the job out=/github/workspace/out name=not the script's",
                "[a] event at /github/workflow/event.json",
                "[a] output=hello the team env=set in a container",
                "[a] written in the container",
                "[a] image step blue in /github/workspace",
                "[a] ✗ image (exit code 3",
                "[a] image outcome=failure n=3",
                "[a] INPUT_SOME-KEY=hyphen value\n",
                "[a] INPUT_API-TOKEN=***\n",
                "[a] post: state=from main input=the team",
                "[a] ✓ Post g",
                "[a] from a local Dockerfile: one two\n",
                "[a] made by a step: three\n",
            ] {
                #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
            }
            #expect(!out.contains("tok-9f8e7d") && !result.stderr.contains("tok-9f8e7d"))
            #expect(!out.contains("NIXACTIONS_CARRIED_ENV_"), "the carrying variables stay out of the container: \(out)")
            let commands = try String(contentsOfFile: temp.path + "/podman-commands", encoding: .utf8)
            #expect(commands.contains(" -e MY_TOKEN ") && commands.contains("build --isolation=chroot -t localhost/nixactions-"), "\(commands)")
            #expect(!commands.contains("tok-9f8e7d"), "a secret value on podman's command line:\n\(commands)")
            let logs = try FileManager.default.subpathsOfDirectory(atPath: temp.path + "/logs").filter { $0.hasSuffix(".log") || $0.hasSuffix(".jsonl") || $0.hasSuffix(".md") }
            for log in logs {
                let text = try String(contentsOfFile: temp.path + "/logs/" + log, encoding: .utf8)
                #expect(!text.contains("tok-9f8e7d"), "the secret is in \(log)")
                if log.hasSuffix("summary.md") { #expect(text.contains("summary from a container"), "\(text)") }
            }
            #expect(try podman.containers().isEmpty, "a container of the run is left")
            #expect(try Self.runImages(podman).isEmpty, "a built image is left")
        }

        @Test("an argument of a docker action (runs.args from an input) or a docker:// step (with.args) holding a secret's value is warned of before the container runs, whichever way the value came (audit 58 H1: not a word)")
        func secretArgumentsWarned() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("tok/action.yml", """
                name: tok
                inputs: { token: { required: true } }
                runs:
                  using: docker
                  image: docker://\(PodmanFixture.image)
                  entrypoint: sh
                  args: ["-c", "echo token-length ${#INPUT_TOKEN}", "${{ inputs.token }}"]
                """)
            try temp.write("wf.yml", """
                secrets: [TOKEN]
                jobs:
                  a:
                    steps:
                      - uses: ./tok
                        with: { token: "${{ env.TOKEN }}" }
                      - uses: docker://\(PodmanFixture.image)
                        with: { entrypoint: /bin/sh, args: '-c "echo image ran" ${{ env.TOKEN }}' }
                      - uses: docker://\(PodmanFixture.image)
                        with: { entrypoint: /bin/sh, args: '-c "echo no secret here"' }
                """)
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--secret", "TOKEN"], in: temp.path,
                                              environment: podman.environment.merging(["TOKEN": "tok-31415926"]) { _, new in new })
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("[a] token-length 12\n") && result.stdout.contains("[a] image ran\n"), "\(result.stdout)")
            let warnings = result.stdout.split(separator: "\n").filter { $0.contains("of the container hold") }
            #expect(warnings.count == 2, "\(result.stdout)")
            #expect(warnings.contains { $0.contains("warning: step './tok': argument 3 of the container holds a secret's value: the arguments are the container engine's command line and the container's own, which every user of this machine can read (ps)") }, "\(warnings)")
            #expect(warnings.contains { $0.contains("step 'docker://\(PodmanFixture.image)") }, "\(warnings)")
            #expect(!result.stdout.contains("tok-31415926"), "\(result.stdout)")
        }

        @Test("a remote docker action with pre and post entry points and pre-if/post-if, and a repository with only a Dockerfile given args, from a git daemon")
        func remoteDockerActions() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let daemon = try GitDaemon()
            defer { daemon.stop() }
            try daemon.publish("acme/boxed", files: [
                "action.yml": """
                    inputs:
                      level: { default: "1" }
                    runs:
                      using: docker
                      image: docker://\(PodmanFixture.image)
                      entrypoint: /bin/sh
                      args: ["-c", "echo main level=$INPUT_LEVEL state=$STATE_pre; echo said=main >> $GITHUB_OUTPUT"]
                      pre-entrypoint: /bin/echo
                      pre-if: runner.os == 'Linux'
                      post-entrypoint: /bin/echo
                      post-if: success()
                    """,
                "only-dockerfile/Dockerfile": "FROM \(PodmanFixture.image)\nENTRYPOINT [\"/bin/echo\", \"from a bare Dockerfile:\"]\n",
            ], tags: ["v1"])
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("wf.yml", """
                on: push
                jobs:
                  a:
                    runs-on: ubuntu-latest
                    steps:
                      - id: boxed
                        uses: acme/boxed@v1
                        with: { level: "7" }
                      - run: echo "boxed said=${{ steps.boxed.outputs.said }}"
                      - uses: acme/boxed/only-dockerfile@v1
                        with:
                          args: 'one "two words" it''s'
                      - uses: acme/boxed/only-dockerfile@v1
                        with: { entrypoint: /bin/echo, args: replaced the entry point }
                """)
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--actions-url", daemon.url], in: temp.path,
                                              environment: podman.environment.merging(["XDG_CACHE_HOME": temp.path + "/cache"]) { _, new in new })
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            let out = result.stdout
            // The pre entry point gets the same arguments (GitHub's runner passes runs.args to each).
            #expect(out.contains("[a] ✓ Pre boxed"), "\(out)")
            #expect(out.contains("[a] -c echo main level=$INPUT_LEVEL"), "pre ran /bin/echo with the args:\n\(out)")
            #expect(out.contains("[a] main level=7"), "\(out)")
            #expect(out.contains("[a] boxed said=main"), "\(out)")
            // Without runs.args, the args input is split as GitHub's runner splits it (double quotes group; ' is a character).
            #expect(out.contains("[a] from a bare Dockerfile: one two words it's\n"), "\(out)")
            // Without runs.entrypoint, the entrypoint input replaces the image's.
            #expect(out.contains("[a] replaced the entry point\n") && !out.contains("Dockerfile: replaced"), "\(out)")
            #expect(out.contains("[a] ✓ Post boxed"), "post-if: success() runs the post entry point:\n\(out)")
            #expect(try podman.containers().isEmpty)
            #expect(try Self.runImages(podman).isEmpty)
        }

        @Test("a step's time limit while its action's image builds ends the build's RUN and removes the build's working container (audit 58 H1: RUN went on, the container stayed in storage)")
        func endedBuild() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("slow/Dockerfile", "FROM \(PodmanFixture.image)\nRUN sleep 37\nENTRYPOINT [\"echo\", \"built\"]\n")
            try temp.write("wf.yml", """
                on: push
                jobs:
                  a:
                    executor: { plugin: local, with: { grace-seconds: 20 } }
                    steps:
                      - uses: ./slow
                        timeout-minutes: 0.05
                """)
            let external = { try podman.podman(["ps", "-aq", "--external"]).stdout.split(separator: "\n").map(String.init) }
            let before = Set(try external())
            var started = ContinuousClock.now
            var result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: podman.environment)
            // buildah's chroot RUN re-executes a sealed copy of itself; under a full suite's load
            // the seal failed once ("Close_Fd sealing memfd copy: Device or resource busy"), the
            // build's own failure, not the runner's: tried again then.
            for _ in 0..<2 where result.stdout.contains("sealing memfd copy") {
                started = ContinuousClock.now
                result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: podman.environment)
            }
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("timed out after 3s"), "\(result.stdout)")
            #expect(ContinuousClock.now - started < .seconds(30), "the step ended at its limit, not the build's 37 s")
            let running = try await runCommand(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-f", "sleep 37"])
            #expect(running.stdout.isEmpty, "the build's RUN goes on: \(running.stdout)")
            let left = Set(try external()).subtracting(before)
            #expect(left.isEmpty, "the build's working container is left: \(left)")
            for id in left { _ = try? podman.podman(["rm", "-f", id]) }
        }

        @Test("a step's time limit ends its container and the job goes on; a host killed with SIGKILL: its supervisor removes the container")
        func endedContainers() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            // The step's cleanup (kill, rm, and a wait for the engine's own removal) runs in its
            // grace after the SIGTERM: 20 s here, as podman's calls wait for its storage lock while
            // other suites use it (CI: a 5 s grace ran out, and the run's end removed the container).
            try temp.write("wf.yml", """
                on: push
                jobs:
                  a:
                    executor: { plugin: local, with: { grace-seconds: 20 } }
                    steps:
                      - uses: docker://\(PodmanFixture.image)
                        timeout-minutes: 0.05
                        with: { args: sleep 300 }
                      - if: always()
                        run: echo "after the limit, containers of docker steps left=$(podman ps -a --format '{{.Names}}' | grep -c -- '-d[0-9]*$')"
                """)
            let started = ContinuousClock.now
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: podman.environment)
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            // Removed by the step itself, not by the cleanup at the run's end.
            #expect(result.stdout.contains("[a] after the limit, containers of docker steps left=0"), "\(result.stdout)")
            #expect(ContinuousClock.now - started < .seconds(30), "the step ended at its limit, not the container's 300 s")
            #expect(try podman.containers().isEmpty, "the timed-out step's container is left")

            try temp.write("long.yml", """
                on: push
                jobs:
                  a:
                    runs-on: ubuntu-latest
                    steps:
                      - uses: docker://\(PodmanFixture.image)
                        with: { args: sleep 300 }
                """)
            let run = try launchNixactions(["run", "long.yml"], in: temp.path, environment: podman.environment)
            let sent = await signalWhen(run, SIGKILL, timeout: .seconds(60)) { (try? podman.containers().isEmpty) == false }
            #expect(sent != nil, "the container never started")
            await waitForExit(run)
            var left = try podman.containers()
            _ = await eventually(timeout: .seconds(30)) {
                left = (try? podman.containers()) ?? left
                return left.isEmpty
            }
            #expect(left.isEmpty, "the killed run's container is left: \(left)")
            for name in left { _ = try? podman.podman(["rm", "-f", name]) }
        }

        @Test("a docker:// step whose pull its time limit ends leaves nothing in TMPDIR: the engine stages it in the job's temporary folder (audit 56 F4)")
        func endedPull() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let registry = try SilentServer()  // takes the connection and never answers
            defer { registry.close() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let tmp = temp.path + "/tmp"
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            try temp.write("wf.yml", """
                on: push
                jobs:
                  a:
                    runs-on: ubuntu-latest
                    steps:
                      - uses: docker://127.0.0.1:\(registry.port)/nixactions/never:latest
                        timeout-minutes: 0.05
                """)
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path,
                                              environment: podman.environment.merging(["TMPDIR": tmp]) { _, new in new })
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("timed out after 3s"), "\(result.stdout)")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? ["?"]
            #expect(left.isEmpty, "left in TMPDIR: \(left)")
        }

        @Test("on an executor whose files are not on this machine, a docker step fails and says why (nothing runs)")
        func refusedOnRemoteExecutors() async throws {
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let plugins = try temp.pluginFolder(["double": "nixactions-testplugin-double"])
            try temp.write("wf.yml", """
                jobs:
                  a:
                    executor: test-double
                    steps:
                      - uses: docker://\(PodmanFixture.image)
                      - if: always()
                        run: echo after
                """)
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path,
                                              environment: ["NIXACTIONS_PLUGIN_PATH": plugins])
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("the docker action 'docker://\(PodmanFixture.image)' cannot run on this job's executor"), "\(result.stdout)")
            #expect(result.stdout.contains("[a] after"), "\(result.stdout)")
        }

        @Test("validate: a docker action's mistakes at their line and column")
        func validateDockerActions() async throws {
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write(".github/actions/a/action.yml", "runs:\n  using: docker\n  args: --flag\n  entrypoint: /x\n  imag: Dockerfile\n")
            try temp.write(".github/actions/b/action.yml", "runs:\n  using: docker\n  image: ../../../../Dockerfile\n")
            try temp.write(".github/actions/c/action.yml", "runs:\n  using: docker\n  image: docker://\n  post-if: ${{ nope( }}\n")
            // GitHub's rule for runs.image: docker:// in any case, or a path ending in Dockerfile.
            try temp.write(".github/actions/f/action.yml", "runs:\n  using: docker\n  image: alpine:3\n")
            try temp.write(".github/actions/g/action.yml", "runs:\n  using: docker\n  image: DOCKER://alpine:3\n")
            try temp.write(".github/actions/h/action.yml", "runs:\n  using: docker\n  image: build/app.Dockerfile\n")
            try temp.write(".github/actions/h/build/app.Dockerfile", "FROM scratch\n")
            // Only a Dockerfile: an action (nothing to say); a Dockerfile that is a link: refused.
            try temp.write(".github/actions/d/Dockerfile", "FROM scratch\n")
            try temp.write("elsewhere/Dockerfile", "FROM scratch\n")
            try FileManager.default.createDirectory(atPath: temp.path + "/.github/actions/e", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: temp.path + "/.github/actions/e/Dockerfile", withDestinationPath: "../../../elsewhere/Dockerfile")
            try temp.write("wf.yml", """
                on: push
                jobs:
                  a:
                    runs-on: ubuntu-latest
                    steps:
                      - uses: ./.github/actions/a
                      - uses: ./.github/actions/b
                      - uses: ./.github/actions/c
                      - uses: docker://
                      - uses: ./.github/actions/d
                      - uses: ./.github/actions/e
                      - uses: ./.github/actions/f
                      - uses: ./.github/actions/g
                      - uses: ./.github/actions/h
                """)
            let result = try await nixactions(["validate", "wf.yml"], in: temp.path)
            #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
            let said = result.stdout + result.stderr
            for text in [
                ".github/actions/a/action.yml:3:9: error: runs.args must be a sequence, found a string",
                ".github/actions/a/action.yml:5:3: error: unknown key 'imag'",
                ".github/actions/a/action.yml:1:1: error: a docker action's 'runs' has no 'image'",
                ".github/actions/b/action.yml:3:10: error: runs.image '../../../../Dockerfile' leads out of the project",
                ".github/actions/c/action.yml:3:10: error: runs.image 'docker://' names no image",
                ".github/actions/c/action.yml:4:",
                "runs.post-if",
                "wf.yml:9:15: error: 'uses: docker://' names no image",
                "wf.yml:11:15: error: cannot read the action './.github/actions/e': '.github/actions/e/Dockerfile' is (or passes through) a symbolic link",
                ".github/actions/f/action.yml:3:10: error: runs.image 'alpine:3' is neither a Dockerfile nor 'docker://IMAGE'",
                "hint: write 'docker://alpine:3' to pull an image",
            ] {
                #expect(said.contains(text), "missing '\(text)' in:\n\(said)")
            }
            #expect(!said.contains("wf.yml:10:"), "a folder with only a Dockerfile is an action:\n\(said)")
            #expect(!said.contains("actions/g/") && !said.contains("actions/h/") && !said.contains("wf.yml:13:") && !said.contains("wf.yml:14:"),
                    "DOCKER:// and a path ending in Dockerfile are GitHub's forms:\n\(said)")
        }
    }
}

extension RealExecutorSuites.OCIExecutorTests {
    @Test("a docker action in a container job without podman or docker: the step fails with exit 127 and says why")
    func dockerActionWithoutEngine() async throws {
        let podman = try await offThePool { try PodmanFixture.ready() }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              build:
                container:
                  image: \(PodmanFixture.image)
                  options: --network none
                steps:
                  - uses: docker://\(PodmanFixture.image)
                    with: { args: echo never }
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: podman.environment)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[build] nixactions: the action 'docker://\(PodmanFixture.image)' is a docker action: it needs podman or docker "
                                       + "on the PATH of the job's executor"), "\(result.stdout)")
        #expect(result.stdout.contains("(exit code 127"), "\(result.stdout)")
        #expect(try podman.containers().isEmpty)
    }
}
