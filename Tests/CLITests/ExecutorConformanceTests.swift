import Foundation
import Testing
import TestSupport

/// One set of scenarios run against every executor plugin: the same workflow, the same expected
/// output, nothing left behind. The job is placed by its `runs-on` label, mapped to the executor
/// under test in a configuration file (see docs/executors.md).
extension RealExecutorSuites {
    @Suite("Executor conformance: local, oci and ssh behave alike", .serialized)
    struct ExecutorConformanceTests {
        enum Target: String, CaseIterable, Sendable {
            case local, oci, ssh
        }

        static let workflow = """
            name: conformance
            env: { LEVEL: workflow, FROM_WORKFLOW: w }
            jobs:
              main:
                runs-on: conformance
                env: { LEVEL: job, API_TOKEN: tok-5be1c0-conformance }
                steps:
                  - name: precedence and masking
                    env: { LEVEL: step }
                    run: echo "level=$LEVEL from_workflow=$FROM_WORKFLOW token=$API_TOKEN"
                  - name: exact exit code
                    run: exit 7
                    continue-on-error: true
                  - name: command files
                    run: |
                      ok=yes
                      for f in "$GITHUB_ENV" "$GITHUB_OUTPUT" "$GITHUB_PATH" "$GITHUB_STEP_SUMMARY" "$GITHUB_STATE"; do
                        { [ -n "$f" ] && [ -f "$f" ] && [ ! -s "$f" ]; } || ok=no
                      done
                      echo "command files exist and are empty: $ok"
                      [ "${{ github.env }}" = "$GITHUB_ENV" ] && [ "${{ github.output }}" = "$GITHUB_OUTPUT" ] && echo "github.env and github.output name them"
                      [ "${{ runner.workspace }}" = "${GITHUB_WORKSPACE%/*}" ] && [ "$RUNNER_WORKSPACE" = "${{ runner.workspace }}" ] && echo "runner.workspace holds the workspace"
                  - name: files
                    id: files
                    run: |
                      mkdir -p tools sub/dir
                      printf '#!/bin/sh\\necho "tool on PATH ran"\\n' > tools/hello && chmod +x tools/hello
                      echo "$PWD/tools" >> "$GITHUB_PATH"
                      echo "CARRIED=over" >> "$GITHUB_ENV"
                      echo "value=forty-two" >> "$GITHUB_OUTPUT"
                      echo "## summary" >> "$GITHUB_STEP_SUMMARY"
                  - name: path, env and outputs
                    run: |
                      hello
                      echo "carried=$CARRIED output=${{ steps.files.outputs.value }}"
                  - name: working directory
                    working-directory: sub/dir
                    run: echo "in=${PWD##*/workspace}"
                  - name: sh shell
                    shell: sh
                    run: echo "sh says $((6 * 7))"
                  - name: times out
                    id: hung
                    timeout: 2s
                    run: |
                      echo "HUNG_ENV=set" >> "$GITHUB_ENV"
                      echo "recorded=4242" >> "$GITHUB_OUTPUT"
                      (exec -a nxaconformance sleep 300) &
                      sleep 300
                  - name: cleanup
                    if: always()
                    run: echo "cleanup ran after the timeout and saw recorded=${{ steps.hung.outputs.recorded }} env=$HUNG_ENV"
                outputs:
                  value: ${{ steps.files.outputs.value }}
              after:
                needs: main
                if: always()
                steps:
                  - run: echo "main gave ${{ needs.main.outputs.value }} result ${{ needs.main.result }}"
              upload:
                runs-on: conformance
                artifacts:
                  keep: [dist/]
                steps:
                  - run: |
                      mkdir -p dist/sub
                      echo "artifact v1" > dist/app.txt
                      echo "nested" > dist/sub/more.txt
                      ln -s app.txt dist/link.txt
                      echo "report 7" > report.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: report, path: report.txt }
              download:
                runs-on: conformance
                needs: upload
                artifacts:
                  restore:
                    - { job: upload, path: in }
                steps:
                  - uses: actions/download-artifact@v4
                    with: { name: report, path: got }
                  - run: |
                      echo "restored=$(cat in/dist/app.txt) nested=$(cat in/dist/sub/more.txt) link=$(readlink in/dist/link.txt)"
                      echo "downloaded=$(cat got/report.txt)"
                      [ ! -e in/report.txt ] && echo "only kept paths travel"
            """

        /// The expected lines, whatever the executor.
        static let expected = [
            "[main] level=step from_workflow=w token=***\n",
            "[main] ✗ exact exit code (exit code 7, ",
            "[main] command files exist and are empty: yes\n",
            "[main] github.env and github.output name them\n",
            "[main] runner.workspace holds the workspace\n",
            "[main] tool on PATH ran\n",
            "[main] carried=over output=forty-two\n",
            "[main] in=/sub/dir\n",
            "[main] sh says 42\n",
            "[main] error: step 'times out' timed out after 2s; its process tree was ended\n",
            // What the timed-out step wrote to its command files is used, as GitHub's runner reads them.
            "[main] cleanup ran after the timeout and saw recorded=4242 env=set\n",
            "[after] main gave forty-two result failure\n",
            // Artifacts both ways (the ssh executor moves them through its files interface).
            "[upload] uploaded artifact 'report': report.txt (1 file)\n",
            "[download] downloaded artifact 'report'\n",
            "[download] restored=artifact v1 nested=nested link=app.txt\n",
            "[download] downloaded=report 7\n",
            "[download] only kept paths travel\n",
        ]

        /// A run folder, the executor's settings for `target` and what it needs running.
        struct Setup {
            let temp: TemporaryDirectory
            let runs: String
            var environment: [String: String]
            var server: SSHServer?
            var podman: PodmanFixture.Ready?
            var executor = "local"

            init(_ target: Target) throws {
                temp = try TemporaryDirectory()
                runs = temp.path + "/tmp"
                try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
                environment = ["TMPDIR": runs]
                switch target {
                case .local: break
                case .oci:
                    let ready = try PodmanFixture.ready()
                    podman = ready
                    environment.merge(ready.environment) { _, new in new }
                    executor = "{ plugin: oci, with: { image: \(PodmanFixture.image), network: none, grace-seconds: 1 } }"
                case .ssh:
                    let started = try SSHServer()
                    server = started
                    executor = "{ plugin: ssh, with: { host: \"\(started.hostEntry)\", identity-file: \(started.identityFile), "
                        + "known-hosts: \(started.knownHosts), workdir: \(runs), grace-seconds: 1 } }"
                }
                try temp.write("config.yml", "runners:\n  conformance: \(executor)\n")
            }

            func stop() {
                server?.stop()
                temp.remove()
            }

            /// Nothing left: no run folder or remote folder, no container, no process marked `marker`.
            func expectNothingLeft(_ target: Target, marker: String) throws {
                let left = ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).filter { $0.hasPrefix("nixactions-") }
                #expect(left.isEmpty, "\(target) left \(left)")
                if let podman { #expect(try podman.containers().isEmpty, "\(target) left containers") }
                #expect(SSHServer.processes(matching: marker).isEmpty, "\(target) left a step's process")
            }
        }

        @Test("Ctrl-C during a step: exit 130, the step's processes ended, nothing left", arguments: Target.allCases)
        func cancel(_ target: Target) async throws {
            let setup = try Setup(target)
            defer { setup.stop() }
            let marker = "nxacancel\(target)"
            try setup.temp.write("wf.yml", """
                jobs:
                  main:
                    runs-on: conformance
                    steps:
                      - run: |
                          (exec -a \(marker) sleep 300) &
                          echo "started"
                          sleep 300
                      - run: echo "never runs"
                """)
            let log = setup.temp.path + "/run.log"
            let process = try LaunchedProcess([nixactionsBinary.path, "run", "wf.yml", "--config", "config.yml", "--log-format", "plain"],
                                             directory: setup.temp.path,
                                             environment: ProcessInfo.processInfo.environment.merging(setup.environment) { _, new in new },
                                             output: log)
            var waited = 0
            while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("[main] started") && waited < 600 {
                try? await Task.sleep(for: .milliseconds(50))
                waited += 1
            }
            let clock = ContinuousClock(), interrupted = clock.now
            process.signal(SIGINT)
            // Waited for off Swift's cooperative threads, and timed there: a task's next turn can
            // come late while the whole suite runs.
            let (status, took) = try await offThePool { (process.exitStatus, clock.now - interrupted) }
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(status == 130, "\(target): \(text)")
            #expect(text.contains("[main] started\n"), "\(target): \(text)")
            #expect(took < .seconds(20), "\(target): the run took \(took) to end after Ctrl-C")
            #expect(!text.contains("never runs\n"))
            try setup.expectNothingLeft(target, marker: marker)
        }

        @Test("the same workflow gives the same output on each executor, and leaves nothing", arguments: Target.allCases)
        func conformance(_ target: Target) async throws {
            let setup = try Setup(target)
            defer { setup.stop() }
            try setup.temp.write("wf.yml", Self.workflow)
            let result = try await nixactions(["run", "wf.yml", "--config", "config.yml", "--log-format", "plain"],
                                        in: setup.temp.path, environment: setup.environment)
            #expect(result.status == 1, "\(target): \(result.stdout)\(result.stderr)")
            for line in Self.expected {
                #expect(result.stdout.contains(line), "\(target): missing \(line.debugDescription)\n\(result.stdout)")
            }
            #expect(!result.stdout.contains("tok-5be1c0-conformance"), "\(target) leaked the token")
            try setup.expectNothingLeft(target, marker: "nxaconformance")
        }
    }
}
