import Foundation
import Testing
import TestSupport

/// Rules docs/workflow-syntax.md and docs/cli.md state, each checked through the binary.
@Suite("Documented rules")
struct DocumentedRulesScenarios {
    func run(_ yaml: String, _ arguments: [String] = [], files: [String: String] = [:]) async throws -> CommandResult {
        try await runWorkflow(yaml, arguments, files: files)
    }

    @Test("retry: only the listed exit codes, never after a step timeout, and attempts are counted")
    func retryRules() async throws {
        let result = try await run("""
            jobs:
              a:
                steps:
                  - name: other-code
                    run: echo x >> TEMP/other; exit 3
                    retry: { max-attempts: 3, delay: 10ms, on-exit-codes: [75] }
                    continue-on-error: true
                  - name: listed-code
                    run: echo x >> TEMP/listed; exit 75
                    retry: { max-attempts: 3, delay: 10ms, on-exit-codes: 75 }
                    continue-on-error: true
                  - name: timed-out
                    run: echo x >> TEMP/timed; sleep 5
                    timeout: 300ms
                    retry: 3
                    continue-on-error: true
                  - run: echo "other=$(wc -l < TEMP/other) listed=$(wc -l < TEMP/listed) timed=$(wc -l < TEMP/timed)"
            """)
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("[a] other=1 listed=3 timed=1\n"))
        #expect(result.stdout.contains("step 'listed-code' failed after 3 attempts"))
    }

    @Test("local executor: inherit-env false gives a minimal environment; grace-seconds: SIGTERM first, then SIGKILL")
    func localOptions() async throws {
        setenv("NIXACTIONS_TEST_INHERITED", "yes", 1)
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        // The stubborn step traps SIGTERM and goes on, ticking: it ends only by SIGKILL, 3 s after the
        // SIGTERM (its `sleep`, in the same process group, gets the SIGTERM too: `|| true` under bash -e).
        // 3 s, not 1: with the whole suite on two cores a bash can wait a second for a core.
        try temp.write("wf.yml", """
            jobs:
              bare:
                executor: { plugin: local, with: { inherit-env: false } }
                steps:
                  - run: echo "path=$PATH inherited=${NIXACTIONS_TEST_INHERITED:-none} ci=$CI"
              stubborn:
                executor: { plugin: local, with: { grace-seconds: 3 } }
                steps:
                  - run: |
                      trap 'echo "${EPOCHREALTIME/./}" > \(temp.path)/term' TERM
                      while true; do [ -f \(temp.path)/term ] && echo "${EPOCHREALTIME/./}" >> \(temp.path)/after; sleep 0.1 || true; done
                    timeout: 500ms
            """)
        let result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("[bare] path=/usr/local/bin:/usr/bin:/bin inherited=none ci=true\n"))
        #expect(result.stdout.contains("step 'Run trap 'echo \"${EPOCHREALTIME/./}\" > "), "\(result.stdout)")
        #expect(result.stdout.contains("timed out after 500ms; its process tree was ended"))
        // It kept running through the grace (a tick about every 0.1 s, in microseconds since the
        // epoch, from bash's own clock: no `date` to fork and exec, which a loaded machine can hold
        // back for seconds), then SIGKILL ended it: its last tick is well after the SIGTERM, and none after the run.
        let read = { (name: String) in
            ((try? String(contentsOfFile: temp.path + "/" + name, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int64($0) }
        }
        let term = try #require(read("term").first, "the step never got SIGTERM")
        let ticks = read("after")
        let ranOn = Double((ticks.last ?? term) - term) / 1e6
        #expect(ranOn >= 0.5, "the step ran \(ranOn) s after SIGTERM: the grace of 3 s was not given")
        #expect(ranOn < 4.5, "the step ran \(ranOn) s after SIGTERM: the default grace (5 s), not grace-seconds 3")
        try await Task.sleep(for: .milliseconds(300))
        #expect(read("after").count == ticks.count, "the step still ran after the run ended")
    }

    @Test("--env must be NAME=VALUE; an unreadable --env-file is an error; env files are dotenv: quotes, multi-line quoted values, comments")
    func commandLineEnv() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo \"A=$A B=$B\"\n")
        try temp.write("vars.env", "# a comment\nA=\"quoted\"\nB=\"line1\nline2\"\n")
        for bad in [["--env", "typed-value-1"], ["--env", "=typed-value-2"]] {
            let result = try await nixactions(["run", "wf.yml"] + bad, in: temp.path)
            #expect(result.status == 2)
            #expect(result.stderr.contains("must be NAME=VALUE"))
            // What was typed is not shown: without its name it may be the value (audit 55b F5).
            #expect(!result.stderr.contains("typed-value"), "\(result.stderr)")
        }
        // A control character in a name is refused, the value not shown (audit 55 L7).
        let control = try await nixactions(["run", "wf.yml", "--env", "A\u{1}B=hidden-value"], in: temp.path)
        #expect(control.status == 2 && control.stderr.contains("--env: 'A\\x01B' is not a variable name (letters, digits and '_', not starting with a digit)"),
                "\(control.stderr)")
        #expect(!control.stderr.contains("hidden-value"), "\(control.stderr)")
        // A name no shell reads is refused as --secret's and --var's are (audit 64 cli L18).
        for name in ["é", "1X", "A-B"] {
            let refused = try await nixactions(["run", "wf.yml", "--env", "\(name)=hidden-value"], in: temp.path)
            #expect(refused.status == 2 && refused.stderr.contains("--env: '\(name)' is not a variable name"), "\(name): \(refused.stderr)")
            #expect(!refused.stderr.contains("hidden-value"), "\(refused.stderr)")
        }
        // An env file's line without a name says what a line without '=' says (audit 64 cli L21).
        try temp.write("eq.env", "=hidden-value\n")
        let unnamed = try await nixactions(["run", "wf.yml", "--env-file", "eq.env"], in: temp.path)
        #expect(unnamed.status == 2 && unnamed.stderr.contains("eq.env:1: error: expected NAME=VALUE, NAME letters, digits and '_', not starting with a digit (the line is not shown"),
                "\(unnamed.stderr)")
        #expect(!unnamed.stderr.contains("hidden-value"), "\(unnamed.stderr)")
        // Not UTF-8: the place of the first bad byte, as for a workflow file (audit 55 L10).
        #expect(FileManager.default.createFile(atPath: temp.path + "/bin.env", contents: Data("A=1\nB=x".utf8) + Data([0xFF]) + Data("\n".utf8)))
        let binary = try await nixactions(["run", "wf.yml", "--env-file", "bin.env"], in: temp.path)
        #expect(binary.status == 2 && binary.stderr.contains("bin.env:2:4: error: the --env-file file is not UTF-8 text (byte 0xFF)"), "\(binary.stderr)")
        let missing = try await nixactions(["run", "wf.yml", "--env-file", "nope.env"], in: temp.path)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("error: cannot read --env-file 'nope.env'"))
        let ok = try await nixactions(["run", "wf.yml", "--env-file", "vars.env"], in: temp.path)
        #expect(ok.stdout.contains("[a] A=quoted B=line1\n[a] line2\n"), "\(ok.stdout)\n\(ok.stderr)")
    }

    @Test("artifacts: restoring from a job not needed is invalid; a missing artifact fails the job; checkout needs the project copy")
    func artifactErrors() async throws {
        let notNeeded = try await run("jobs:\n  a: { steps: [ { run: x } ] }\n  b: { artifacts: { restore: [a] }, steps: [ { run: x } ] }\n")
        #expect(notNeeded.status == 2)
        #expect(notNeeded.stderr.contains("job 'b' restores artifacts of 'a', which it does not need"))
        let missing = try await run("""
            jobs:
              a: { steps: [ { run: echo a } ] }
              b:
                needs: a
                artifacts: { restore: [a] }
                steps:
                  - run: echo never
                  - if: failure()
                    run: echo on-failure
            """)
        #expect(missing.status == 1)
        #expect(missing.stdout.contains("no artifact 'a' to restore"))
        #expect(missing.stdout.contains("[b] on-failure\n"))
        #expect(!missing.stdout.contains("[b] never"))
        let checkout = try await run("jobs:\n  a:\n    workspace: { copy-project: false }\n    steps: [ { uses: actions/checkout@v4 } ]\n")
        #expect(checkout.status == 1)
        #expect(checkout.stdout.contains("opted out of the project copy"))
    }

    @Test("variables every step sees: GITHUB_ACTION, JOB_ENV, GITHUB_PATH order (a repeat moves to the front, spaces kept); CI: false is kept (GitHub's runner sets CI only when no env does)")
    func runnerVariables() async throws {
        let result = try await run("""
            env:
              CI: "false"
              F: 1.0
            jobs:
              a:
                steps:
                  - run: |
                      echo "first=$GITHUB_ACTION"
                      echo "FROM_JOB_ENV=yes" >> "$JOB_ENV"
                      echo /first/dir >> "$GITHUB_PATH"
                      echo /second/dir >> "$GITHUB_PATH"
                  - run: |
                      # A repeat moves to the front (GitHub's runner lists an entry once); spaces are kept.
                      echo /first/dir >> "$GITHUB_PATH"
                      echo " /spaced dir " >> "$GITHUB_PATH"
                      echo /third/dir >> "$GITHUB_PATH"
                  - id: named
                    run: |
                      echo "named=$GITHUB_ACTION job_env=$FROM_JOB_ENV path=[$(echo "$PATH" | cut -d : -f 1-4)] ci=$CI f=$F"
                  - run: echo "runner=$RUNNER_OS/$RUNNER_ARCH ${{ runner.os }}/${{ runner.arch }}"
            """)
        #expect(result.status == 0)
        // What the local executor reports (uname's machine, GitHub's names).
        var names = utsname()
        uname(&names)
        let machine = withUnsafeBytes(of: &names.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let arch = machine == "x86_64" ? "X64" : machine == "aarch64" ? "ARM64" : machine
        #expect(result.stdout.contains("[a] runner=Linux/\(arch) Linux/\(arch)\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] first=__run\n"))
        #expect(result.stdout.contains("[a] named=named job_env=yes path=[/third/dir: /spaced dir :/first/dir:/second/dir]"))
        // A plain 1.0 is GitHub's number 1, written back as "1" (GitHubScalarsTests).
        #expect(result.stdout.contains("ci=false f=1\n"), "\(result.stdout)")
    }

    @Test("each step sees its own environment when the job's is sent once: GITHUB_ENV, a step's env, env objects, in any order")
    func stepEnvironments() async throws {
        let result = try await run("""
            env:
              X: workflow
            jobs:
              a:
                env:
                  Y: job
                steps:
                  - run: echo "1 X=$X Y=$Y A=$GITHUB_ACTION ctx=${{ env.X }}"
                  - id: second
                    run: |
                      echo "2 X=$X A=$GITHUB_ACTION"
                      echo "X=from-env-file" >> "$GITHUB_ENV"
                  - run: echo "3 X=$X Y=$Y A=$GITHUB_ACTION ctx=${{ env.X }}"
                  - env:
                      X: step
                      Z: only-here
                    run: echo "4 X=$X Z=$Z ctx=${{ env.X }}"
                  - run: echo "5 X=$X Z=${Z-unset} ctx=${{ env.X }}"
                  - env: ${{ fromJSON('{"Y":"object","W":"w"}') }}
                    run: echo "6 X=$X Y=$Y W=$W"
                  - run: |
                      echo "7 Y=$Y W=${W-unset} CI=$CI"
                      echo "Y=later" >> "$GITHUB_ENV"
                      echo "CI=false" >> "$GITHUB_ENV"
                  - run: echo "8 Y=$Y CI=$CI ctx=${{ env.Y }}"
            """)
        #expect(result.status == 0, "\(result.stderr)")
        for line in [
            "1 X=workflow Y=job A=__run ctx=workflow", "2 X=workflow A=second",
            "3 X=from-env-file Y=job A=__run_2 ctx=from-env-file", "4 X=step Z=only-here ctx=step",
            "5 X=from-env-file Z=unset ctx=from-env-file", "6 X=from-env-file Y=object W=w", "7 Y=job W=unset CI=true",
            "8 Y=later CI=false ctx=later",
        ] {
            #expect(result.stdout.contains("[a] \(line)\n"), "\(line)\n\(result.stdout)")
        }
    }

    @Test("a job's outputs over 1 MiB in all: the one that passes it is not passed on, with a warning; 1 MiB exactly passes")
    func outputLimit() async throws {
        let result = try await run("""
            jobs:
              a:
                steps:
                  - run: |
                      { printf 'ok<<EOF\\n'; head -c 1048576 /dev/zero | tr '\\0' x; printf '\\nEOF\\n'; } >> "$GITHUB_OUTPUT"
                      { printf 'big<<EOF\\n'; head -c 1048577 /dev/zero | tr '\\0' x; printf '\\nEOF\\n'; } >> "$GITHUB_OUTPUT"
              b:
                needs: a
                steps:
                  - run: |
                      cat > TEMP/ok.txt <<'DATA'
                      ${{ needs.a.outputs.ok }}
                      DATA
                      echo "ok=$(tr -d '\\n' < TEMP/ok.txt | wc -c) big=[${{ needs.a.outputs.big }}]"
            """)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("warning: output 'big' (1048577 bytes) is not passed on: a job's outputs can be at most 1 MiB in all"), "\(result.stdout.suffix(2000))")
        #expect(result.stdout.contains("[b] ok=1048576 big=[]\n"))
    }

    @Test("a job's steps keep at most 64 MiB of outputs in all (the step that passes it fails, its outputs unused) and 20 step summaries (audit 66 hardening M3)")
    func jobStepOutputTotal() async throws {
        let big = (1...5).map { index in
            "      - id: s\(index)\n        run: |\n          { printf 'o\(index)<<EOF\\n'; head -c 14000000 /dev/zero | tr '\\0' a; printf '\\nEOF\\n'; } >> \"$GITHUB_OUTPUT\"\n"
        }.joined()
        let summaries = (1...21).map { "      - run: echo 'summary \($0)' >> \"$GITHUB_STEP_SUMMARY\"\n" }.joined()
        let result = try await run("jobs:\n  a:\n    steps:\n" + summaries + big
            + "      - if: always()\n        run: echo \"four=${{ steps.s4.outputs.o4 != '' }} five=${{ steps.s5.outputs.o5 != '' }}\"\n")
        #expect(result.status == 1, "\(result.stdout.suffix(3000))\(result.stderr)")
        #expect(result.stdout.contains("GITHUB_OUTPUT of step 's5': its outputs (14000002 bytes) would pass the 64 MiB a job's steps may set in all (56000008 bytes before it); none of them was used"),
                "\(result.stdout.suffix(3000))")
        #expect(result.stdout.contains("[a] four=true five=false\n"), "\(result.stdout.suffix(2000))")
        #expect(result.stdout.contains("warning: the step summary of step 'Run echo 'summary 21' >> \"$GITHUB_STEP_SUMMARY\"' was left out: a job keeps at most 20 step summaries"),
                "\(result.stdout.suffix(3000))")
        #expect(result.stdout.contains("  summary 20\n") && !result.stdout.contains("  summary 21\n"), "\(result.stdout.suffix(3000))")
    }

    @Test("workflow commands: escapes are decoded, indented commands work, commands on stderr count too, ::debug:: is hidden")
    func commandDetails() async throws {
        let result = try await run("""
            jobs:
              a:
                steps:
                  - run: |
                      echo "  ::warning title=T%3Ax::a%3Ab%0Ac%25"
                      echo "::error file=x.c,line=7,col=2::boom"
                      echo "::debug::hidden"
                      echo "::notice::on stderr" >&2
            """)
        #expect(result.status == 0)
        // %3A is a property's escape, not a message's (GitHub's runner).
        // The message's second line keeps the job's key (audit 64 events L2).
        #expect(result.stdout.contains("[a] warning: T:x: a%3Ab\n[a]   c%\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] error: boom (x.c:7)\n"))
        #expect(!result.stdout.contains("hidden"))
        #expect(result.stdout.contains("[a] notice: on stderr\n"))
        #expect(!result.stdout.contains("::notice::"))
    }
}

@Suite("continue-on-error as an expression")
struct ContinueOnErrorExpressionScenarios {
    @Test("job level per matrix instance (the experimental pattern), and step level")
    func expressions() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              test:
                continue-on-error: ${{ matrix.experimental }}
                strategy:
                  fail-fast: false
                  matrix:
                    v: [1, 2]
                    experimental: [false]
                    include:
                      - { v: 3, experimental: true }
                steps:
                  - id: probe
                    run: exit 4
                    continue-on-error: ${{ matrix.v == 1 }}
                  - run: echo "v${{ matrix.v }} went on, probe=${{ steps.probe.conclusion }}"
            """)
        let result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 1)  // v2 failed and was not allowed to
        #expect(result.stdout.contains("] v1 went on, probe=success\n"))
        #expect(!result.stdout.contains("v2 went on"))
        let table = result.stdout.split(separator: "\n").map(String.init)
        #expect(table.contains { $0.hasPrefix("test (v: 3, experimental: true)") && $0.contains("success (failure allowed)") })
        #expect(table.contains { $0.hasPrefix("test (v: 2, experimental: false)") && $0.contains("failure") })
        let dry = try await nixactions(["run", "wf.yml", "--dry-run"], in: temp.path)
        #expect(dry.stdout.contains("continue-on-error: ${{ matrix.experimental }}"))
    }
}
