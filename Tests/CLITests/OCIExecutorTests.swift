import Foundation
import Testing
import TestSupport
import NixActionsContainerKit
import NixActionsEngine

/// The oci executor against a real podman (runc, an image made locally; see `PodmanFixture`).
extension RealExecutorSuites {
    @Suite("The oci executor: jobs in podman containers", .serialized)
    struct OCIExecutorTests {
        static let container = "{ image: \(PodmanFixture.image), options: --network none }"

        func run(_ temp: TemporaryDirectory, _ arguments: [String], _ podman: PodmanFixture.Ready,
                 extra: [String: String] = [:]) async throws -> CommandResult {
            try await nixactions(arguments, in: temp.path, environment: podman.environment.merging(extra) { _, new in new })
        }

        @Test("a container: job's steps have GitHub's home, /github/home: their own folder, kept from step to step, theirs when the container runs as another user; a HOME the job sets wins; an oci executor: job keeps the image's unless 'home' is given")
        func home() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("wf.yml", """
                jobs:
                  c:
                    container: \(Self.container)
                    steps:
                      - run: echo "home is $HOME"; echo kept > ~/file
                      - run: echo "then $(cat ~/file), under RUNNER_TEMP $(ls "$RUNNER_TEMP/_github_home")"
                  user:
                    container: { image: \(PodmanFixture.image), options: --network none --user 1000 }
                    steps:
                      - run: echo "home of $(id -u) is $HOME"; echo mine > ~/file && echo "wrote $(cat ~/file)"
                  own:
                    container: \(Self.container)
                    env: { HOME: /tmp/elsewhere }
                    steps:
                      - run: echo "own home is $HOME"
                  plain:
                    executor: { plugin: oci, with: { image: \(PodmanFixture.image), network: none } }
                    steps:
                      - run: echo "plain home is $HOME"
                  given:
                    executor: { plugin: oci, with: { image: \(PodmanFixture.image), network: none, home: /home/ci } }
                    steps:
                      - run: echo "given home is $HOME"; touch ~/ok && echo "writable"
                  bad:
                    executor: { plugin: oci, with: { image: \(PodmanFixture.image), network: none, home: "${{ 'relative' }}" } }
                    steps:
                      - run: "true"
                """)
            let result = try await run(temp, ["run", "wf.yml", "--log-format", "plain"], podman)
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("[c] home is /github/home\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[c] then kept, under RUNNER_TEMP file\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[user] home of 1000 is /github/home\n") && result.stdout.contains("[user] wrote mine\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[own] own home is /tmp/elsewhere\n"), "\(result.stdout)")
            #expect(!result.stdout.contains("plain home is /github/home") && result.stdout.contains("[plain] plain home is "), "\(result.stdout)")
            #expect(result.stdout.contains("[given] given home is /home/ci\n") && result.stdout.contains("[given] writable\n"), "\(result.stdout)")
            #expect(result.stdout.contains("oci executor: 'home' 'relative' is not an absolute folder path inside the container"), "\(result.stdout)")
            #expect(try podman.containers().isEmpty)
        }

        @Test("a container: job runs its steps inside, with the workspace, env, outputs and exact exit codes; nothing is left")
        func steps() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("project.txt", "from the project\n")
            try temp.write("wf.yml", """
                name: oci
                jobs:
                  build:
                    container:
                      image: \(PodmanFixture.image)
                      options: --network none --hostname nxa-test
                      env: { IN_CONTAINER: "yes", OVERRIDDEN: container, TWO_LINES: "first\\nsecond", DB_PASSWORD: ctr-dbpw-5e1c9 }
                    env:
                      QUOTED: "it's \\"quoted\\" $HOME `x`"
                      LINES: "one\\ntwo"
                      OVERRIDDEN: job
                      API_TOKEN: tok-4f1a9c-secret
                    steps:
                      - id: first
                        run: |
                          echo "host=$(hostname) container_env=$IN_CONTAINER overridden=$OVERRIDDEN"
                          printf 'two=%s\\n' "$TWO_LINES" | tr '\\n' '|'; echo
                          # The container's env reaches the steps, not the container's own
                          # configuration (its main process): podman kept it (audit 56 M1).
                          tr '\\0' '\\n' < /proc/1/environ > pid1.env
                          echo "in_spec=$(grep -c '^IN_CONTAINER=' pid1.env) path_in_spec=$(grep -c '^PATH=' pid1.env)" || true
                          echo "quoted=$QUOTED"
                          printf 'lines=%s\\n' "$LINES" | tr '\\n' '|'; echo
                          cat project.txt
                          echo "token=$API_TOKEN"
                          echo "dbpw=$DB_PASSWORD"
                          echo "answer=42" >> "$GITHUB_OUTPUT"
                          echo "FROM_STEP=set by a step" >> "$GITHUB_ENV"
                          mkdir -p sub/dir
                      - run: exit 3
                        continue-on-error: true
                      # The $GITHUB_* files are in a folder the container writes: a link to a file
                      # of the host, or a named pipe, must not be read there.
                      - run: |
                          ln -sf /etc/passwd "$GITHUB_STEP_SUMMARY"
                          ln -sf /etc/passwd "$GITHUB_OUTPUT"
                          rm -f "$GITHUB_ENV"; mkfifo "$GITHUB_ENV"
                      - run: echo "pwd=$(pwd) from_step=$FROM_STEP answer=${{ steps.first.outputs.answer }} os=${{ runner.os }}"
                        working-directory: sub/dir
                    outputs:
                      answer: ${{ steps.first.outputs.answer }}
                  after:
                    needs: build
                    steps:
                      - run: echo "after got ${{ needs.build.outputs.answer }}"
                """)
            let result = try await run(temp, ["run", "wf.yml", "--log-format", "plain"], podman)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("[build] host=nxa-test container_env=yes overridden=job\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[build] two=first|second|\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[build] in_spec=0 path_in_spec=1\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[build] quoted=it's \"quoted\" $HOME `x`\n"))
            #expect(result.stdout.contains("[build] lines=one|two|\n"))
            #expect(result.stdout.contains("[build] from the project\n"))
            #expect(result.stdout.contains("[build] token=***\n"))
            #expect(!result.stdout.contains("tok-4f1a9c-secret"))
            // A container's env named like a secret is masked, as a job's is (audit 65 secrets M2).
            #expect(result.stdout.contains("[build] dbpw=***\n") && !result.stdout.contains("ctr-dbpw-5e1c9"), "\(result.stdout)")
            #expect(result.stdout.contains("[build] ✗ Run exit 3 (exit code 3, "))
            #expect(result.stdout.contains("/sub/dir from_step=set by a step answer=42 os=Linux\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[after] after got 42\n"))
            #expect(!result.stdout.contains("root:x:0:0"), "a host file came back through a link")
            #expect(try podman.containers().isEmpty)
        }

        @Test("a container: job's steps without a shell run `sh -e` even where the image has bash, as on GitHub; `shell: bash` without bash fails with 127 and says why (audit 66 fidelity H1, M1)")
        func containerShells() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("wf.yml", """
                jobs:
                  default:
                    container: \(PodmanFixture.image)
                    steps:
                      # A bash in the image (a stand-in that says when it runs).
                      - run: |
                          cat > /bin/bash <<'EOF'
                          #!/bin/sh
                          echo bash-ran >&2
                          for last; do :; done
                          exec sh -e "$last"
                          EOF
                          chmod +x /bin/bash
                      - run: echo "argv=$(tr '\\0' ' ' < /proc/$$/cmdline)"
                      - shell: bash
                        run: echo "asked for bash"
                  asked:
                    container: { image: \(PodmanFixture.image), options: --network none }
                    steps:
                      # GitHub's job.container (audit 66 fidelity L1: empty): the id is the container's own.
                      - run: |
                          id='${{ job.container.id }}'
                          echo "network=${{ job.container.network }} hostname-is-id=$([ "$(hostname)" = "$(printf %s "$id" | cut -c1-12)" ] && echo yes) id-length=${#id}"
                      - shell: bash
                        run: |
                          false | true
                          echo "must not run"
                """)
            let result = try await run(temp, ["run", "wf.yml", "--log-format", "plain"], podman)
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            let lines = outputLines(result.stdout)
            #expect(lines.contains { $0.hasPrefix("[default] argv=sh -e ") }, "\(result.stdout)")
            #expect(lines.contains("[default] bash-ran") && lines.contains("[default] asked for bash"), "\(result.stdout)")
            #expect(lines.filter { $0 == "[default] bash-ran" }.count == 1, "only the step that asked for bash: \(result.stdout)")
            #expect(lines.contains("[asked] nixactions: cannot start 'bash': it is not installed here; the step asks for it (shell: bash). Use shell: sh, or an image or host that has bash"),
                    "\(result.stdout)")
            #expect(result.stdout.contains("(exit code 127, ") && !result.stdout.contains("must not run"), "\(result.stdout)")
            #expect(result.stdout.contains("[asked] network=none hostname-is-id=yes id-length=64\n"), "\(result.stdout)")
            #expect(try podman.containers().isEmpty)
        }

        @Test("a step that times out is ended inside the container (its background processes too); cleanup steps still run")
        func timeout() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let marker = "nxaoci\(getpid())"
            try temp.write("wf.yml", """
                jobs:
                  t:
                    container: \(Self.container)
                    steps:
                      - run: |
                          (exec -a \(marker) sleep 300) &
                          echo started
                          sleep 300
                        timeout: 2s
                      - if: always()
                        run: echo "cleanup ran"
                \(RealExecutorSuites.ignorerJob(executor: "{ plugin: oci, with: { image: \(PodmanFixture.image), network: none, grace-seconds: 1 } }"))
                """)
            let result = try await run(temp, ["run", "wf.yml", "--log-format", "plain"], podman)
            #expect(result.status == 1)
            #expect(result.seconds < 30)
            #expect(result.stdout.contains("timed out after 2s"), "\(result.stdout)")
            #expect(result.stdout.contains("[t] cleanup ran\n"))
            // A member that ignores SIGTERM is killed after the grace (1 s) before the job's next
            // step starts (audit 66 remote M1: it ran beside it, and on oci for good).
            #expect(result.stdout.contains("[ignorer] the ignorer is gone"), "\(result.stdout)")
            #expect(RealExecutorSuites.saidInGrace(result.stdout), "\(result.stdout)")
            #expect(try podman.containers().isEmpty)
            #expect(try await runCommand(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-f", marker]).stdout.isEmpty)
        }

        @Test("a host killed with SIGKILL: its supervisor removes the run's containers; a killed supervisor too: the next run does")
        func hostKilled() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            // With a service: it depends on the job container's network, so it must go first.
            try temp.write("wf.yml", """
                jobs:
                  t:
                    container: \(Self.container)
                    services:
                      side: { image: \(PodmanFixture.image), options: "--entrypoint '[\\"sleep\\",\\"300\\"]'" }
                    steps:
                      - run: sleep 300
                """)
            for killSupervisor in [false, true] {
                let process = try LaunchedProcess([nixactionsBinary.path, "run", "wf.yml", "--log-format", "plain"], directory: temp.path,
                                                 environment: ProcessInfo.processInfo.environment.merging(podman.environment) { _, new in new })
                #expect(try await !podman.containers(atLeast: 2).isEmpty, "the job's container never started")
                if killSupervisor {
                    // The host's supervisor only (other tests' runs keep theirs).
                    _ = try await runCommand(URL(fileURLWithPath: "/usr/bin/pkill"), ["-KILL", "-P", "\(process.processIdentifier)", "-f", "__supervise"])
                }
                process.signal(SIGKILL)
                process.wait()
                if !killSupervisor {
                    let left = try await podman.containersGone(within: .seconds(10))
                    #expect(left.isEmpty, "the supervisor left \(left)")
                } else {
                    #expect(try !podman.containers().isEmpty)
                    // The next run sweeps the dead run's folder, running its cleanup script first.
                    try temp.write("ok.yml", "jobs:\n  a:\n    steps:\n      - run: 'true'\n")
                    #expect(try await run(temp, ["run", "ok.yml"], podman).status == 0)
                    #expect(try podman.containers().isEmpty, "the next run left the dead run's container")
                }
            }
        }

        @Test("the job's container stopped under a step: that step fails, and each later one at once, not after the helper's 10 s wait (audit 56 F5)")
        func containerStopped() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("wf.yml", """
                jobs:
                  t:
                    container: \(Self.container)
                    steps:
                      - run: sleep 300
                      - if: always()
                        run: echo one
                      - if: always()
                        run: echo two
                """)
            let process = try LaunchedProcess([nixactionsBinary.path, "run", "wf.yml", "--log-format", "plain"], directory: temp.path,
                                             environment: ProcessInfo.processInfo.environment.merging(podman.environment) { _, new in new },
                                             output: temp.path + "/out.txt")
            let name = try #require(try await podman.containers(atLeast: 1).first)
            try await Task.sleep(for: .milliseconds(500))
            _ = try podman.podman(["kill", name])
            let killed = ContinuousClock.now
            process.wait()
            let output = (try? String(contentsOfFile: temp.path + "/out.txt", encoding: .utf8)) ?? ""
            #expect(process.exitStatus == 1, "\(output)")
            #expect(ContinuousClock.now - killed < .seconds(8), "the later steps waited: \(output)")
            #expect(output.contains("the job's container stopped while the step ran"), "\(output)")
            #expect(output.components(separatedBy: "the job's container has stopped; no more steps run in it").count == 3, "\(output)")
            #expect(try await podman.containersGone(within: .seconds(10)).isEmpty)
        }

        @Test("the run's cleanup script waits for a container start still under way for the run, then removes what it made (audit 47: a host killed while a service started left a container)")
        func cleanupEndsStartsUnderWay() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let runID = "nxacleanup-\(UInt32.random(in: 0...UInt32.max))"
            let environment = ProcessInfo.processInfo.environment.merging(podman.environment) { _, new in new }
            try temp.write("cleanup.sh", ContainerEngine(path: podman.podman).cleanupScript(runID: runID, who: "test"))
            // A start under way, as the executor's `podman run -d` of a service: it makes its
            // container a moment later, the run's label on its command line.
            let starter = try LaunchedProcess(
                ["/bin/sh", "-c", "sleep 2; exec \"$0\" run -d --name \(runID)-late --label \(ContainerEngine.runLabel)=\(runID) \(PodmanFixture.image) sleep 300",
                 podman.podman], in: temp.path, environment: environment)
            defer { _ = try? podman.podman(["rm", "-f", "-t", "0", "\(runID)-late"]) }
            let cleanup = try await runCommand(URL(fileURLWithPath: "/bin/sh"), [temp.path + "/cleanup.sh"], environment: environment)
            #expect(cleanup.status == 0, "\(cleanup.stderr)")
            starter.wait()
            try await Task.sleep(for: .seconds(1))
            #expect(try podman.containers(label: "\(ContainerEngine.runLabel)=\(runID)").isEmpty, "the start under way made its container after the cleanup")
        }

        @Test("services: the job reaches each sidecar by its name once its health check passes; failures name the service; none is left")
        func services() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            // busybox's httpd as the sidecar; it starts a second late, so the job has to wait for its health check.
            // web sets its entrypoint through options, api through GitHub's entrypoint and command keys.
            func server(_ name: String) -> String {
                name == "api" ? """
                      \(name):
                        image: \(PodmanFixture.image)
                        env: { GREETING: "hello from \(name)" }
                        entrypoint: sh
                        command: -c "sleep 1; mkdir -p /www; echo $GREETING > /www/index.html; exec httpd -f -p 9090 -h /www"
                        options: --health-cmd "wget -qO- http://127.0.0.1:9090/" --health-interval 1s --health-retries 20
                """ : """
                      \(name):
                        image: \(PodmanFixture.image)
                        env: { GREETING: "hello from \(name)" }
                        options: >-
                          --entrypoint '["sh","-c","sleep 1; mkdir -p /www; echo $GREETING > /www/index.html; exec httpd -f -p \(name == "web" ? 8080 : 9090) -h /www"]'
                          --health-cmd "wget -qO- http://127.0.0.1:\(name == "web" ? 8080 : 9090)/" --health-interval 1s --health-retries 20 --name www
                """
            }
            try temp.write("wf.yml", """
                jobs:
                  talk:
                    container: \(Self.container)
                    services:
                \(server("web"))
                \(server("api"))
                    steps:
                      - run: |
                          echo "web says $(wget -qO- http://web:8080/)"
                          echo "api says $(wget -qO- http://api:9090/)"
                          echo "www says $(wget -qO- http://www:8080/)"
                          echo "web's id known=${{ job.services.web.id != '' }} ports=${{ toJSON(job.services.web.ports) }}"
                  broken:
                    container: \(Self.container)
                    services:
                      db:
                        image: \(PodmanFixture.image)
                        options: --entrypoint '["sh","-c","echo db-starting; echo bad-setting >&2; exit 3"]' --health-cmd "true"
                    steps:
                      - run: echo "never runs"
                  nocontainer:
                    services:
                      db: \(PodmanFixture.image)
                    runs-on: farm
                    steps:
                      - run: echo "never runs"
                """)
            // A label mapped to ssh: services run in a container or on this machine only.
            try temp.write(".nixactions/config.yml", "runners: { farm: { plugin: ssh, with: { host: nxa-nowhere.invalid } } }\n")
            let result = try await run(temp, ["run", "wf.yml", "--log-format", "plain"], podman)
            #expect(result.status == 1)
            #expect(result.stdout.contains("[talk] web says hello from web\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[talk] api says hello from api\n"))
            // A service's `--name` (GitHub workflows give one) is another name of it, not its container's.
            #expect(result.stdout.contains("[talk] www says hello from web\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[talk] web's id known=true ports={}\n"), "\(result.stdout)")
            #expect(result.stdout.contains("==> job 'talk' succeeded"))
            #expect(result.stdout.contains("[broken] error: cannot start job 'broken' on executor 'oci': service 'db' of job 'broken' stopped before it was healthy; its last output:\n"), "\(result.stdout)")
            #expect(result.stdout.contains("db-starting\n") && result.stdout.contains("bad-setting\n"))
            #expect(!result.stdout.contains("never runs\n"))
            #expect(result.stdout.contains("[nocontainer] error: wf.yml:"), "\(result.stdout)")
            #expect(result.stdout.contains("job 'nocontainer' has services, which run next to a job container or on this machine; it runs on executor 'ssh'"),
                    "\(result.stdout)")
            #expect(try podman.containers().isEmpty)
        }

        @Test("steps go through the container's helper: output is exact, a background process does not hold its step, a stopped container fails the step at once")
        func helper() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("wf.yml", """
                jobs:
                  a:
                    container: \(Self.container)
                    steps:
                      - run: |
                          i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i + 1)); done
                          echo "to stderr" >&2
                          sleep 300 &
                          echo "left a sleeper"
                          (while :; do echo tick; echo alive >> /tmp/alive; sleep 0.1; done) &
                      - run: echo "second step"
                      # A background process that prints after its step ended goes on (audit 67
                      # remote N3: its next line killed it, a server started with & too).
                      - run: |
                          sleep 0.5; before=$(wc -l < /tmp/alive); sleep 0.5; after=$(wc -l < /tmp/alive)
                          if [ "$after" -gt "$before" ]; then echo "the ticker still runs"; else echo "the ticker died"; fi
                  b:
                    needs: a
                    container: \(Self.container)
                    steps:
                      - run: echo "b is running"; sleep 300
                """)
            let log = temp.path + "/run.log"
            let clock = ContinuousClock(), started = clock.now
            let process = try LaunchedProcess([nixactionsBinary.path, "run", "wf.yml", "--log-format", "plain"], directory: temp.path,
                                             environment: ProcessInfo.processInfo.environment.merging(podman.environment) { _, new in new },
                                             output: log)
            var waited = 0
            while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("[b] b is running") && waited < 600 {
                try? await Task.sleep(for: .milliseconds(50))
                waited += 1
            }
            let container = try #require(try podman.containers().first { $0.hasSuffix("-b") })
            _ = try podman.podman(["kill", container])
            let status = process.exitStatus
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(status == 1, "\(text)")
            #expect(clock.now - started < .seconds(60))
            let lines = text.split(separator: "\n").filter { $0.hasPrefix("[a] line ") }.map(String.init)
            #expect(lines == (0..<2000).map { "[a] line \($0)" }, "output lost or out of order")
            #expect(text.contains("[a] to stderr\n") && text.contains("[a] left a sleeper\n") && text.contains("[a] second step\n"))
            #expect(text.contains("[a] the ticker still runs\n"), "\(text)")
            #expect(text.contains("[b] error: step 'Run echo \"b is running\"; sleep 300': the job's container stopped while the step ran\n"), "\(text)")
            #expect(try podman.containers().isEmpty)
        }

        @Test("credentials reach the engine in an auth file that is removed after the pull, never on a command line; ${{ }} in the options is evaluated")
        func credentials() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            // An engine named podman that records its arguments and any auth file, then runs the real one.
            let record = temp.path + "/record"
            try FileManager.default.createDirectory(atPath: temp.path + "/bin", withIntermediateDirectories: true)
            try temp.write("bin/podman", """
                #!/bin/sh
                echo "ARGS $*" >> \(record)
                prev=
                for arg; do
                    [ "$prev" = --authfile ] && { echo "AUTH $(cat "$arg") MODE $(stat -c %a "$arg")"; } >> \(record)
                    prev=$arg
                done
                exec \(podman.podman) "$@"
                """)
            chmod(temp.path + "/bin/podman", 0o755)
            try temp.write("wf.yml", """
                secrets: [ { provider: env, names: [REGISTRY_TOKEN] } ]
                jobs:
                  pull:
                    strategy: { matrix: { tag: [v1] } }
                    executor:
                      plugin: oci
                      with:
                        engine: \(temp.path)/bin/podman
                        image: 127.0.0.1:9/nixactions/private:${{ matrix.tag }}
                        network: none
                        credentials: { username: robot, password: "${{ secrets.REGISTRY_TOKEN }}" }
                    steps: [ { run: echo never } ]
                  local:
                    strategy: { matrix: { image: ["\(PodmanFixture.image)"] } }
                    container: { image: "${{ matrix.image }}", options: --network none, env: { FROM: "${{ github.job }}" } }
                    steps:
                      - run: echo "container env FROM=$FROM"
                """)
            let token = "tok-reg-8c1f2e"
            let result = try await run(temp, ["run", "wf.yml", "--log-format", "plain"], podman, extra: ["REGISTRY_TOKEN": token])
            #expect(result.status == 1)
            #expect(result.stdout.contains("image '127.0.0.1:9/nixactions/private:v1' of job 'pull (tag: v1)' is not on this machine and pulling it failed"),
                    "\(result.stdout)")
            #expect(result.stdout.contains("] container env FROM=local\n"), "\(result.stdout)")
            let recorded = (try? String(contentsOfFile: record, encoding: .utf8)) ?? ""
            let pull = recorded.split(separator: "\n").first { $0.hasPrefix("ARGS pull ") }
            #expect(pull?.contains("--authfile ") == true, "\(recorded)")
            let expected = Data("robot:\(token)".utf8).base64EncodedString()
            #expect(recorded.contains("AUTH {\"auths\":{\"127.0.0.1:9\":{\"auth\":\"\(expected)\"}}} MODE 600"), "\(recorded)")
            // Never on a command line, never printed; and the file is gone.
            #expect(!recorded.split(separator: "\n").contains { $0.hasPrefix("ARGS") && $0.contains(token) })
            #expect(!result.stdout.contains(token) && !result.stderr.contains(token))
            if let authfile = pull?.split(separator: " ").drop(while: { $0 != "--authfile" }).dropFirst().first {
                #expect(!FileManager.default.fileExists(atPath: String(authfile)))
            }
            #expect(try podman.containers().isEmpty)
        }

        @Test("a cancel while the job's container starts lets the start finish: the always() steps run in it, at once, and nothing is left (audit 65 cancel M1: 10 s, then failed)")
        func cancelDuringStart() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            // The engine's `run -d` made slow, so that the cancel lands while it starts the container.
            let marker = temp.path + "/starting"
            try temp.write("bin/podman", "#!/bin/sh\n[ \"$1\" = run ] && { touch \(marker); sleep 1; }\nexec \(podman.podman) \"$@\"\n")
            chmod(temp.path + "/bin/podman", 0o755)
            try temp.write("wf.yml", """
                jobs:
                  a:
                    executor: { plugin: oci, with: { image: "\(PodmanFixture.image)", engine: "\(temp.path)/bin/podman" } }
                    steps:
                      - run: echo main-ran; sleep 300
                      - if: always()
                        run: echo cleanup-ran; sleep 300
                """)
            let log = temp.path + "/run.log"
            let environment = ProcessInfo.processInfo.environment.merging(podman.environment) { _, new in new }
            let process = try LaunchedProcess([nixactionsBinary.path, "run", "wf.yml", "--log-format", "plain"], directory: temp.path,
                                              environment: environment, output: log)
            let signalled = await signalWhen(process, SIGINT) { FileManager.default.fileExists(atPath: marker) }
            #expect(signalled != nil, "the container's start never began")
            // The cleanup step runs in the container; a second signal then kills it: `cancelled`,
            // as on the local executor, not a failure "the container stopped" (audit 65 cancel M2).
            let second = await signalWhen(process, SIGINT) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("[a] cleanup-ran\n") }
            #expect(second != nil, "the cleanup step never ran: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            let status = process.exitStatus
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(status == 130, "\(text)")
            #expect(!text.contains("[a] main-ran"), "\(text)")
            #expect(!text.contains("container stopped"), "\(text)")
            let runs = temp.path + "/.nixactions/runs"
            let folder = runs + "/" + (((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).first { !$0.hasPrefix(".") } ?? "")
            var state = RunState()
            for _ in 0..<250 {
                state = (try? RunState.replay(String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8))) ?? RunState()
                if state.status != nil { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(state.jobs.first?.steps.map(\.status) == ["skipped", "cancelled"] && state.jobs.first?.status == "cancelled",
                    "\(state.jobs.first.map { "\($0.steps.map(\.status)) \($0.status ?? "open")" } ?? "no job")")
            let left = try podman.podman(["ps", "-a", "--format", "{{.Names}}"]).stdout.split(separator: "\n").filter { $0.hasPrefix("nixactions-") }
            #expect(left.isEmpty, "containers left: \(left)")
        }

        @Test("a pull the run's cancel ends leaves nothing in TMPDIR: podman stages it in a folder of the run's (audit 56 F4)")
        func cancelledPull() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let registry = try SilentServer()  // takes the connection and never answers
            defer { registry.close() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let tmp = temp.path + "/tmp"
            try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
            let image = "127.0.0.1:\(registry.port)/nixactions/never:latest"
            try temp.write("wf.yml", """
                jobs:
                  a:
                    container: { image: "\(image)", options: --network none }
                    steps: [ { run: echo never } ]
                """)
            let log = temp.path + "/run.log"
            var environment = ProcessInfo.processInfo.environment.merging(podman.environment) { _, new in new }
            environment["TMPDIR"] = tmp
            let process = try LaunchedProcess([nixactionsBinary.path, "run", "wf.yml", "--log-format", "plain"], directory: temp.path,
                                              environment: environment, output: log)
            let pulling = { @Sendable in !SSHServer.processes(matching: "pull -q \(image)").isEmpty }
            #expect(await signalWhen(process, SIGINT, after: .milliseconds(500)) { pulling() } != nil, "the pull never started")
            let status = process.exitStatus
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(status == 130, "\(text)")
            #expect(!pulling(), "the pull outlived the run")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? ["?"]
            #expect(left.isEmpty, "left in TMPDIR: \(left)")
        }

        @Test("a container that runs as another user than root (the image's USER, by number or by name, or --user) runs its steps as that user, in folders that are theirs, artifacts and caches included")
        func otherUser() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let numeric = try await offThePool { try podman.image(user: "1000") }
            let named = try await offThePool { try podman.image(user: "builder", passwd: ["builder:x:1234:2345::/tmp:/bin/sh"], group: ["builders:x:2345:"]) }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("project.txt", "from the project\n")
            try temp.write("wf.yml", """
                jobs:
                  numeric:
                    container: { image: \(numeric), options: --network none }
                    steps:
                      - id: s
                        run: |
                          echo "id=$(id -u):$(id -g)"
                          cat project.txt; echo made >> project.txt; mkdir -p deps && echo cached > deps/a
                          echo "x=1" >> "$GITHUB_OUTPUT"; echo "E=2" >> "$GITHUB_ENV"
                      - run: echo "x=${{ steps.s.outputs.x }} E=$E"
                      - uses: actions/upload-artifact@v4
                        with: { name: made, path: project.txt }
                      - uses: actions/cache/save@v4
                        with: { path: deps, key: "deps-${{ github.run_id }}" }
                  named:
                    needs: numeric
                    container: { image: \(named), options: --network none }
                    steps:
                      - uses: actions/download-artifact@v4
                        with: { name: made, path: got/deep }
                      - uses: actions/cache/restore@v4
                        with: { path: deps, key: "deps-${{ github.run_id }}" }
                      - run: |
                          echo "id=$(id -un):$(id -u):$(id -g)"
                          echo more >> got/deep/project.txt && cat got/deep/project.txt
                          touch got/sibling && echo "made a file beside the artifact's folder"
                          echo again >> deps/a && cat deps/a
                  option:
                    container: { image: \(PodmanFixture.image), options: --network none --user 4321:4321 }
                    steps:
                      - run: echo "id=$(id -u):$(id -g)"; touch mine && ls -ln mine | awk '{print "owner=" $3 ":" $4}'
                      - run: sleep 300
                        timeout-minutes: 0.05
                        continue-on-error: true
                """)
            let result = try await run(temp, ["run", "wf.yml", "--log-format", "plain"], podman, extra: ["XDG_CACHE_HOME": temp.path + "/xdg"])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("[numeric] id=1000:0\n"), "\(result.stdout)")
            #expect(result.stdout.contains("[numeric] from the project\n"))
            #expect(result.stdout.contains("[numeric] x=1 E=2\n"))
            #expect(result.stdout.contains("[named] id=builder:1234:2345\n"), "\(result.stdout)")
            // Put into the job's workspace by the host, and still the job's user's to change.
            let namedLines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("[named] ") }.joined(separator: "\n")
            #expect(namedLines.contains("[named] from the project\n[named] made\n[named] more"), "\(result.stdout)")
            #expect(namedLines.contains("[named] cached\n[named] again"), "\(result.stdout)")
            // The folder `mkdir -p` made above the artifact's is the job user's too (review 48).
            #expect(result.stdout.contains("[named] made a file beside the artifact's folder\n"), "\(result.stdout)")
            // Line by line: the jobs run at once, and their lines interleave on the console.
            #expect(result.stdout.contains("[option] id=4321:4321\n") && result.stdout.contains("[option] owner=4321:4321\n"), "\(result.stdout)")
            // A step ended by its timeout as that user.
            #expect(result.stdout.contains("timed out"), "\(result.stdout)")
            #expect(try podman.containers().isEmpty)
        }

        /// A static program for the container: forever, wherever a folder named `sub` is in one of
        /// the folders watched (`dl`, `out` and every staging folder of the files interface in
        /// RUNNER_TEMP, at any depth below them), exchange it atomically with a link to `$1` (a
        /// folder of the host), and back. Against the copy by path it replaced, it made the host
        /// write into `$1` and read `$1/secret.txt` into an artifact (checked by hand with the
        /// build before the fix: `f348` written there, the secret downloaded).
        static let swapper = """
            #define _GNU_SOURCE
            #include <dirent.h>
            #include <fcntl.h>
            #include <stdio.h>
            #include <string.h>
            #include <sys/stat.h>
            #include <sys/syscall.h>
            #include <unistd.h>
            #include <linux/fs.h>
            static const char *target;
            static void swap_in(const char *folder, int depth) {
                char sub[4096], link[4096];
                snprintf(sub, sizeof sub, "%s/sub", folder);
                snprintf(link, sizeof link, "%s/.lnk", folder);
                if (symlink(target, link) != 0) { struct stat st; if (lstat(link, &st) != 0) return; }
                syscall(SYS_renameat2, AT_FDCWD, link, AT_FDCWD, sub, RENAME_EXCHANGE);
                syscall(SYS_renameat2, AT_FDCWD, link, AT_FDCWD, sub, RENAME_EXCHANGE);
                if (depth > 3) return;
                DIR *d = opendir(folder);
                if (!d) return;
                struct dirent *e;
                while ((e = readdir(d))) {
                    if (e->d_name[0] == '.' && strncmp(e->d_name, ".nixactions", 11) != 0) continue;
                    if (e->d_type != DT_DIR) continue;
                    char next[4096];
                    snprintf(next, sizeof next, "%s/%s", folder, e->d_name);
                    swap_in(next, depth + 1);
                }
                closedir(d);
            }
            int main(int argc, char **argv) {
                target = argv[1];
                for (;;) { for (int i = 2; i < argc; i++) swap_in(argv[i], 0); }
            }
            """

        @Test("a process left in the container that swaps the folders artifacts go through for links to the host's (audit 51 H1) makes the host write and read nothing outside the job's folders")
        func linkSwapRace() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            // The host's folder the links point to, with a file the job must never read.
            let victim = temp.path + "/victim"
            try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
            try "HOST-ONLY-7c1e\n".write(toFile: victim + "/secret.txt", atomically: false, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: temp.path + "/project", withIntermediateDirectories: true)
            try Self.swapper.write(toFile: temp.path + "/swap.c", atomically: false, encoding: .utf8)
            let compiler = ["/usr/bin/cc", "/usr/bin/gcc", "/opt/swift/usr/bin/clang"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/cc"
            let built = try await runCommand(URL(fileURLWithPath: compiler), ["-static", "-O2", "-o", temp.path + "/project/swap", temp.path + "/swap.c"])
            try #require(built.status == 0, "cannot build the racer: \(built.stderr)")
            try temp.write("project/wf.yml", """
                jobs:
                  up:
                    workspace: { copy-project: false }
                    steps:
                      - run: mkdir -p got/sub && for i in $(seq 1 400); do echo pwned > got/sub/f$i; done
                      - uses: actions/upload-artifact@v4
                        with: { name: payload, path: got/ }
                  ctr:
                    needs: up
                    container: \(Self.container)
                    steps:
                      - run: |
                          mkdir -p dl/sub out/sub && echo decoy > out/sub/decoy.txt
                          (setsid ./swap \(victim) dl out "$RUNNER_TEMP" </dev/null >/dev/null 2>&1 &)
                          sleep 0.3
                      - uses: actions/download-artifact@v4
                        continue-on-error: true
                        with: { name: payload, path: dl }
                      - uses: actions/download-artifact@v4
                        continue-on-error: true
                        with: { name: payload, path: dl }
                      - uses: actions/upload-artifact@v4
                        continue-on-error: true
                        with: { name: back, path: out/ }
                      - uses: actions/upload-artifact@v4
                        continue-on-error: true
                        with: { name: back2, path: dl/ }
                  read:
                    needs: ctr
                    if: always()
                    workspace: { copy-project: false }
                    steps:
                      - uses: actions/download-artifact@v4
                        continue-on-error: true
                        with: { path: all }
                      - run: P=HOST; grep -r "$P-ONLY-7c1e" . || echo "no host file came back"
                """)
            for round in 1...3 {
                // From the project's folder: the victim is not in the project the jobs get.
                let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs\(round)"],
                                                  in: temp.path + "/project", environment: podman.environment)
                #expect(result.status == 0 || result.status == 1, "\(result.stdout)\(result.stderr)")
                let inVictim = try FileManager.default.contentsOfDirectory(atPath: victim)
                #expect(inVictim == ["secret.txt"], "round \(round): the host wrote through a link: \(inVictim.prefix(5))")
                #expect(!result.stdout.contains("HOST-ONLY-7c1e"), "round \(round): a host file came back: \(result.stdout)")
                // (`grep -r` follows no link it meets: a link kept as a link is no file read.)
                #expect(result.stdout.contains("[read] no host file came back"), "\(result.stdout)")
                // The transfers ran here, in the namespace, not in the container (the fall back).
                #expect(!(result.stdout + result.stderr).contains("cannot keep symbolic links in the jobs' folders"), "\(result.stdout)")
            }
            #expect(try podman.containers().isEmpty)
        }

        @Test("a missing image, a missing engine and bad options are errors naming the job")
        func errors() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write("wf.yml", """
                jobs:
                  missing:
                    container: { image: localhost/nixactions-test:nope, options: --network none }
                    steps: [ { run: 'true' } ]
                  engine:
                    executor: { plugin: oci, with: { image: x, engine: docker-nope } }
                    steps: [ { run: 'true' } ]
                  login:
                    container: { image: x, credentials: { username: u } }
                    steps: [ { run: 'true' } ]
                  flag:
                    strategy: { fail-fast: false, matrix: { image: ["--privileged", "alpine -v=/:/host"] } }
                    container: { image: "${{ matrix.image }}" }
                    steps: [ { run: 'true' } ]
                  service:
                    container: { image: x }
                    services: { db: { image: "-v=/:/host" } }
                    steps: [ { run: 'true' } ]
                  user:
                    executor: { plugin: oci, with: { image: \(PodmanFixture.image), user: nosuch, network: none } }
                    steps: [ { run: 'true' } ]
                  named:
                    container: { image: \(PodmanFixture.image), options: --network none --name nxa-fixed-name }
                    steps: [ { run: 'true' } ]
                  labelled:
                    container: { image: \(PodmanFixture.image), options: "--network none -l keep=me --label io.nixactions.run=bogus" }
                    steps: [ { run: 'true' } ]
                  podded:
                    container: { image: x }
                    services: { db: { image: \(PodmanFixture.image), options: "--pod new:nxa-pod" } }
                    steps: [ { run: 'true' } ]
                """)
            // Options written out that the executor refuses stop the run before any job starts,
            // as validate says them (audit 67 remote N6: each failed its job at its start).
            let written = try await run(temp, ["run", "wf.yml", "engine", "login", "service", "labelled", "podded", "--log-format", "plain"], podman)
            #expect(written.status == 2 && written.stderr.contains("nixactions: no job was started") && !written.stdout.contains("started"),
                    "\(written.stdout)\(written.stderr)")
            #expect(written.stderr.contains("wf.yml:6:15: error: the executor 'oci' refuses its options: oci executor: engine 'docker-nope' is not podman or docker\n  in workflow 'wf' › job 'engine'"),
                    "\(written.stderr)")
            #expect(written.stderr.contains("error: the executor 'oci' refuses its options: oci executor: the container's credentials need a 'username' and a 'password'\n  in workflow 'wf' › job 'login'"),
                    "\(written.stderr)")
            #expect(written.stderr.contains("error: the executor 'oci' refuses its options: oci executor: the image of service 'db' '-v=/:/host' is not an image name\n  in workflow 'wf' › job 'service'"),
                    "\(written.stderr)")
            #expect(written.stderr.contains("error: the executor 'oci' refuses its options: oci executor: 'options': 'io.nixactions.run=bogus' would set a label of the executor's own\n  in workflow 'wf' › job 'labelled'"),
                    "\(written.stderr)")
            #expect(written.stderr.contains("error: the executor 'oci' refuses its options: oci executor: the options of service 'db': '--pod' would put the container in a pod, which outlives the job\n  in workflow 'wf' › job 'podded'"),
                    "\(written.stderr)")
            // What is known only at the job's start fails that job.
            let result = try await run(temp, ["run", "wf.yml", "missing", "flag", "user", "named", "--log-format", "plain"], podman)
            #expect(result.status == 1)
            #expect(result.stdout.contains("[missing] error: cannot start job 'missing' on executor 'oci': image 'localhost/nixactions-test:nope' of job 'missing' is not on this machine and pulling it failed: Error: "), "\(result.stdout)")
            #expect(result.stdout.contains("hint: build or load it locally ('podman images' lists them)"))
            // An image the engine would read as one of its options (a matrix value can be anything).
            #expect(result.stdout.contains("error: wf.yml:13:16: executor 'oci' rejected its configuration: oci executor: the image '--privileged' is not an image name"), "\(result.stdout)")
            #expect(result.stdout.contains("error: wf.yml:13:16: executor 'oci' rejected its configuration: oci executor: the image 'alpine -v=/:/host' is not an image name"), "\(result.stdout)")
            // A user the image does not have: said when the job starts, with the engine's reason.
            #expect(result.stdout.contains("[user] error: cannot start job 'user' on executor 'oci': cannot find which user 'nosuch' is in image '\(PodmanFixture.image)' for job 'user': Error: unable to find user nosuch"), "\(result.stdout)")
            // What the executor finds its containers by is its own (audit 66 remote M4: a container
            // named or labelled by the options outlived the run).
            #expect(result.stdout.contains("[named] warning: oci: the container's '--name nxa-fixed-name' is not used: the executor names its containers (nixactions-"), "\(result.stdout)")
            #expect(result.stdout.contains("==> job 'named' succeeded"), "\(result.stdout)")
            #expect(try podman.containers().isEmpty)
        }

        @Test("a runs-on label mapped to oci runs the job in a container; Ctrl-C removes it and exits 130")
        func labelAndCancel() async throws {
            let podman = try await offThePool { try PodmanFixture.ready() }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            try temp.write(".nixactions/config.yml", """
                runners:
                  ubuntu-latest: { plugin: oci, with: { image: \(PodmanFixture.image), network: none } }
                """)
            try temp.write("wf.yml", """
                jobs:
                  a:
                    runs-on: ubuntu-latest
                    steps:
                      - run: test -x /bin/busybox && echo "in busybox"
                  b:
                    needs: a
                    runs-on: ubuntu-latest
                    steps:
                      - run: sleep 300
                """)
            let log = temp.path + "/run.log"
            let process = try LaunchedProcess([nixactionsBinary.path, "run", "wf.yml", "--log-format", "plain"], directory: temp.path,
                                             environment: ProcessInfo.processInfo.environment.merging(podman.environment) { _, new in new },
                                             output: log)
            var waited = 0
            while try !podman.containers().contains(where: { $0.hasSuffix("-b") }) && waited < 300 {
                try? await Task.sleep(for: .milliseconds(100))
                waited += 1
            }
            process.signal(SIGINT)
            let status = process.exitStatus
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(status == 130, "\(text)")
            #expect(text.contains("[a] in busybox\n"), "\(text)")
            #expect(try podman.containers().isEmpty)
        }
    }
}
