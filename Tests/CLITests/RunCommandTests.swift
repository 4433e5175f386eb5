import Foundation
import NixActionsEngine
import Synchronization
import Testing
import TestSupport

@Suite("nixactions run, end to end through the built binary and real plugins")
struct RunCommandTests {
    @Test("three jobs: two run in parallel, the third needs both")
    func threeJobs() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        // lint and test each wait for the other to have started: this only passes when they overlap.
        let rendezvous = """
            touch "$MARKS/$GITHUB_JOB"
            for i in $(seq 1 200); do [ -f "$MARKS/$OTHER" ] && break; sleep 0.05; done
            [ -f "$MARKS/$OTHER" ] || { echo "never saw $OTHER running" >&2; exit 9; }
            echo "$GITHUB_JOB saw $OTHER"
            """
        let workflow = try temp.write("wf.yml", """
            name: three
            env:
              MARKS: \(temp.path)
            jobs:
              lint:
                env: { OTHER: test }
                steps:
                  - run: |
            \(rendezvous.split(separator: "\n").map { "            " + $0 }.joined(separator: "\n"))
              test:
                env: { OTHER: lint }
                steps:
                  - run: |
            \(rendezvous.split(separator: "\n").map { "            " + $0 }.joined(separator: "\n"))
              package:
                needs: [lint, test]
                steps:
                  - run: echo "packaging after $(ls \(temp.path) | grep -c -E '^(lint|test)$') jobs"
            """)
        let result = try await nixactions(["run", workflow, "--jobs", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[lint] lint saw test\n"))
        #expect(result.stdout.contains("[test] test saw lint\n"))
        #expect(result.stdout.contains("[package] packaging after 2 jobs\n"))
        // package starts only after both finished.
        let packageStart = try #require(result.stdout.range(of: "job 'package' started"))
        for job in ["lint", "test"] {
            let done = try #require(result.stdout.range(of: "job '\(job)' succeeded"))
            #expect(done.upperBound <= packageStart.lowerBound)
        }
    }

    @Test("run's tasks are on SwiftNIO's event loops; NIXACTIONS_TASK_POOL=dispatch keeps libdispatch's pool, with the same results")
    func taskPool() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        // The step's parent is the nixactions process: its threads' names tell which pool runs the tasks.
        let workflow = try temp.write("wf.yml", """
            jobs:
              first:
                outputs: { n: "${{ steps.s.outputs.n }}" }
                steps:
                  - id: s
                    run: echo n=3 >> "$GITHUB_OUTPUT"
                  - run: sleep 0.2
                    timeout-minutes: 1
              second:
                needs: first
                steps:
                  - run: |
                      echo "got ${{ needs.first.outputs.n }}"
                      cat /proc/$PPID/task/*/comm | sort -u | grep -c '^NIO-SGLTN' || true
            """)
        let nio = try await nixactions(["run", workflow, "--log-format", "plain"])
        #expect(nio.status == 0, "\(nio.stdout)\(nio.stderr)")
        let dispatch = try await nixactions(["run", workflow, "--log-format", "plain"], environment: ["NIXACTIONS_TASK_POOL": "dispatch"])
        #expect(dispatch.status == 0, "\(dispatch.stdout)\(dispatch.stderr)")
        for result in [nio, dispatch] { #expect(result.stdout.contains("[second] got 3\n"), "\(result.stdout)") }
        let loops = nio.stdout.split(separator: "\n").first { $0.hasPrefix("[second] ") && Int($0.dropFirst(9)) != nil }
        #expect(loops.flatMap { Int($0.dropFirst(9)) } ?? 0 >= 1, "no event-loop thread: \(nio.stdout)")
        #expect(dispatch.stdout.contains("[second] 0\n"), "\(dispatch.stdout)")
    }

    @Test("a failing step fails its job, skips its dependants and makes the run exit 1")
    func failingStep() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              build:
                steps:
                  - name: Compile
                    run: echo compiling; exit 3
                  - name: Never
                    run: echo must-not-run
              other:
                steps:
                  - run: echo independent
              deploy:
                needs: build
                steps:
                  - run: echo must-not-deploy
            """)
        let result = try await nixactions(["run", workflow])
        #expect(result.status == 1)
        #expect(result.stdout.contains("[build] compiling\n"))
        #expect(result.stdout.contains("[build] ✗ Compile (exit code 3, "))
        #expect(!result.stdout.contains("must-not-run"))
        #expect(!result.stdout.contains("must-not-deploy"))
        #expect(result.stdout.contains("[deploy] skipped: needed job 'build' did not succeed\n"))
        #expect(result.stdout.contains("[other] independent\n"))
        // The summary table: job, status, duration, failing step with its exit code.
        let table = result.stdout.split(separator: "\n").map(String.init)
        #expect(table.contains { $0.hasPrefix("build") && $0.contains("failure") && $0.hasSuffix("'Compile' (exit code 3)") })
        #expect(table.contains { $0.hasPrefix("deploy") && $0.contains("skipped") })
        #expect(table.contains { $0.hasPrefix("other") && $0.contains("success") })
    }

    @Test("--log-format json: a run that stops before it starts (invalid workflow, a label no executor takes, no such file) still streams its start, why, and its end with exit status 2")
    func jsonStreamOfRunNotStarted() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("bad.yml", """
            name: Broken
            jobs:
              a:
                needs: [nope]
                steps:
                  - run: echo hi
            """)
        try temp.write("label.yml", """
            name: Labelled
            jobs:
              a:
                runs-on: gpu-farm
                steps:
                  - run: echo hi
            """)
        for (file, workflow, said) in [("bad.yml", "bad.yml", "bad.yml:4:"), ("label.yml", "Labelled", "gpu-farm"), ("missing.yml", "missing.yml", "missing.yml")] {
            for (arguments, environment) in [(["--log-format", "json"], [String: String]()), ([], ["NIXACTIONS_LOG_FORMAT": "json"])] {
                let result = try await nixactions(["run", file] + arguments, in: temp.path, environment: environment)
                #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
                let lines = result.stdout.split(separator: "\n").map(String.init)
                #expect(lines.count == 3, "\(result.stdout)")
                #expect(lines.first?.contains("\"event\":\"workflow_started\",\"format\":\"nixactions.events/1\",\"workflow\":\"\(workflow)\",\"run_id\":null") == true,
                        "\(result.stdout)")
                #expect(lines.count > 1 && lines[1].contains("\"event\":\"message\",\"job\":null,\"level\":\"error\"") && lines[1].contains(said), "\(result.stdout)")
                let state = try RunState.replay(result.stdout)
                #expect(state.status == "failure" && state.exitStatus == 2 && state.jobs.isEmpty && state.runID == nil, "\(result.stdout)")
                // Standard error says it as before.
                #expect(result.stderr.contains(said), "\(result.stderr)")
            }
        }
        // A run that starts streams as before: one workflow_started, with its run id.
        try temp.write("good.yml", "jobs:\n  a:\n    steps:\n      - run: echo hi\n")
        let good = try await nixactions(["run", "good.yml", "--log-format", "json"], in: temp.path)
        #expect(good.status == 0)
        #expect(good.stdout.components(separatedBy: "\"event\":\"workflow_started\"").count == 2 && !good.stdout.contains("\"run_id\":null"), "\(good.stdout)")
        // A dry run prints its plan only.
        let dry = try await nixactions(["run", "bad.yml", "--dry-run", "--log-format", "json"], in: temp.path)
        #expect(dry.status == 2 && !dry.stdout.contains("workflow_started"), "\(dry.stdout)")
    }

    @Test("the log root keeps the newest runs' logs (logs.keep, --keep-logs N|all, default 100): older run folders go at a run's end; other entries, links and a run still going stay; bad values exit 2")
    func logRetention() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo hi\n")
        let root = temp.path + "/.nixactions/runs"
        let old = (0..<5).map { "20200101-00000\($0)-0000000\($0)" }
        for name in old { try temp.write(".nixactions/runs/\(name)/a.log", "old\n") }
        try temp.write(".nixactions/runs/notes/keep.txt", "mine\n")
        try temp.write(".nixactions/runs/20190101-000000-aaaaaaaa", "a file named as a run\n")
        try temp.write("elsewhere/20190101-000000-bbbbbbbb/x", "x\n")
        try FileManager.default.createSymbolicLink(atPath: root + "/20190101-000000-bbbbbbbb", withDestinationPath: temp.path + "/elsewhere/20190101-000000-bbbbbbbb")
        func runs() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasPrefix("20") && $0.count == 24 }.sorted()
        }
        // The default keeps 100: nothing goes.
        var result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try runs().count == 8)
        // logs.keep: 3 keeps this run and the two newest before it; not the file, the link, notes.
        try temp.write(".nixactions/config.yml", "logs:\n  keep: 3\n")
        result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        var left = try runs()
        #expect(left.count == 5, "\(left)")  // 3 runs, the file, the link
        #expect(left.contains(old[4]) && !left.contains(old[3]) && !left.contains(old[0]), "\(left)")
        #expect(FileManager.default.fileExists(atPath: root + "/notes/keep.txt"))
        #expect(FileManager.default.fileExists(atPath: root + "/20190101-000000-aaaaaaaa"))
        #expect(FileManager.default.fileExists(atPath: temp.path + "/elsewhere/20190101-000000-bbbbbbbb/x"))
        // --keep-logs all wins over the file: nothing goes.
        result = try await nixactions(["run", "wf.yml", "--keep-logs", "all"], in: temp.path)
        #expect(result.status == 0)
        #expect(try runs().count == 6)
        // A run still going (its folder's lock held) is left, whatever its age.
        let busy = try runs().first { $0.hasPrefix("2026") || $0.hasPrefix("2027") || $0.hasPrefix("2028") } ?? ""
        let fd = open(root + "/" + busy, O_RDONLY | O_DIRECTORY)
        #expect(fd >= 0 && flock(fd, LOCK_SH) == 0)
        result = try await nixactions(["run", "wf.yml", "--keep-logs=1"], in: temp.path)
        close(fd)
        #expect(result.status == 0, "\(result.stderr)")
        left = try runs()
        #expect(left.count == 4 && left.contains(busy), "\(left) busy: \(busy)")  // the busy one, this run, the file, the link
        #expect(left.filter { $0.hasPrefix("2020") }.isEmpty, "\(left)")
        // Bad values: exit 2, saying what is wanted (the file's at its line and column).
        result = try await nixactions(["run", "wf.yml", "--keep-logs", "0"], in: temp.path)
        #expect(result.status == 2 && result.stderr.contains("--keep-logs must be a number of runs (at least 1) or all, not '0'"), "\(result.stderr)")
        // A negative number is its value, refused by name, not "Missing value" (audit 64 cli L2).
        result = try await nixactions(["run", "wf.yml", "--keep-logs", "-1"], in: temp.path)
        #expect(result.status == 2 && result.stderr.contains("--keep-logs must be a number of runs (at least 1) or all, not '-1'"), "\(result.stderr)")
        try temp.write(".nixactions/config.yml", "logs:\n  keep: some\n")
        result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 2 && result.stderr.contains(".nixactions/config.yml:2:9: error: logs.keep must be a number of runs (at least 1) or all, not 'some'"),
                "\(result.stderr)")
        try temp.write(".nixactions/config.yml", "logs:\n  kept: 3\n")
        result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 2 && result.stderr.contains("kept"), "\(result.stderr)")
    }

    @Test("running named jobs runs them and what they need, nothing else")
    func selectedJobs() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              a: { steps: [ { run: echo ran-a } ] }
              b: { needs: a, steps: [ { run: echo ran-b } ] }
              c: { steps: [ { run: echo ran-c } ] }
            """)
        let result = try await nixactions(["run", workflow, "b"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("ran-a") && result.stdout.contains("ran-b"))
        #expect(!result.stdout.contains("ran-c"))
        let unknown = try await nixactions(["run", workflow, "bb"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("error: workflow 'wf' has no job 'bb'"))
        #expect(unknown.stderr.contains("hint: did you mean 'b'?"))
    }

    @Test("a workflow is found by name in .nixactions/workflows, then .github/workflows")
    func lookupByName() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write(".github/workflows/ci.yml", "jobs: { x: { steps: [ { run: echo from-github } ] } }\n")
        try temp.write(".github/workflows/only.yml", "jobs: { x: { steps: [ { run: echo only-github } ] } }\n")
        try temp.write(".nixactions/workflows/ci.yaml", "jobs: { x: { steps: [ { run: echo from-nixactions } ] } }\n")
        let ci = try await nixactions(["run", "ci"], in: temp.path)
        #expect(ci.status == 0)
        #expect(ci.stdout.contains("[x] from-nixactions"))
        let only = try await nixactions(["run", "only"], in: temp.path)
        #expect(only.stdout.contains("[x] only-github"))
        let missing = try await nixactions(["run", "cj"], in: temp.path)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("error: no workflow 'cj' found\n  hint: did you mean 'ci'?"))
        // The name `list` shows first (`name:`) points at its file; a folder inside the project at
        // the project (audit 57 UX M8, M5).
        try temp.write(".github/workflows/named.yml", "name: \"Node.js CI\"\njobs: { x: { steps: [ { run: echo named } ] } }\n")
        let byName = try await nixactions(["run", "Node.js CI"], in: temp.path)
        #expect(byName.status == 2)
        #expect(byName.stderr.contains("hint: 'Node.js CI' is the name of .github/workflows/named.yml; run it as: nixactions run named"), "\(byName.stderr)")
        #expect(try await nixactions(["run", "named", "--log-format", "plain"], in: temp.path).stdout.contains("[x] named\n"))
        try FileManager.default.createDirectory(atPath: temp.path + "/src/deep", withIntermediateDirectories: true)
        let inside = try await nixactions(["run", "ci"], in: temp.path + "/src/deep")
        #expect(inside.status == 2)
        #expect(inside.stderr.contains("hint: this folder has no workflows, and \(temp.path) has: run nixactions from there"), "\(inside.stderr)")
    }

    @Test("a workflow file of another project's workflow folder runs on the current folder, with a note saying so and where to go (audit 57 UX M4); a file elsewhere gets none")
    func workflowOfAnotherProject() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("proj/.github/workflows/ci.yml", "on: push\njobs:\n  a:\n    steps:\n      - run: ls\n")
        try temp.write("proj/mine.txt", "x")
        try temp.write("other/theirs.txt", "y")
        try temp.write("other/loose.yml", "jobs:\n  a:\n    steps:\n      - run: echo loose\n")
        let result = try await nixactions(["run", "../proj/.github/workflows/ci.yml", "--log-format", "plain"], in: temp.path + "/other")
        #expect(result.status == 0, "\(result.stderr)")
        let real = URL(fileURLWithPath: temp.path).resolvingSymlinksInPath().path
        #expect(result.stderr.contains("nixactions: note: the project is the current folder (\(real)/other), not \(real)/proj, whose workflow this is: "
                                       + "jobs get the current folder's files; to run it on its own project: cd \(real)/proj\n"), "\(result.stderr)")
        #expect(result.stdout.contains("[a] theirs.txt\n"), "\(result.stdout)")
        let own = try await nixactions(["run", ".github/workflows/ci.yml", "--log-format", "plain"], in: temp.path + "/proj")
        #expect(own.status == 0 && !own.stderr.contains("note: the project is"), "\(own.stderr)")
        let loose = try await nixactions(["run", "loose.yml", "--log-format", "plain"], in: temp.path + "/other")
        #expect(loose.status == 0 && !loose.stderr.contains("note: the project is"), "\(loose.stderr)")
    }

    @Test("a file in .github/workflows without 'on:' gets a warning that GitHub never runs it; elsewhere (a NixActions workflow) none (audit 57 UX M12)")
    func noTriggersWarned() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write(".github/workflows/bare.yml", "jobs:\n  a:\n    steps:\n      - run: echo ran\n")
        try temp.write(".nixactions/workflows/native.yml", "jobs:\n  a:\n    steps:\n      - run: echo ran\n")
        let bare = try await nixactions(["validate", "bare"], in: temp.path)
        #expect(bare.status == 0, "\(bare.stderr)")
        #expect((bare.stdout + bare.stderr).contains(".github/workflows/bare.yml:1:1: warning: the workflow has no 'on:': GitHub reports a workflow without events as invalid and never runs it (it runs here)"),
                "\(bare.stdout)\(bare.stderr)")
        let native = try await nixactions(["validate", "native"], in: temp.path)
        #expect(native.status == 0 && !(native.stdout + native.stderr).contains("has no 'on:'"), "\(native.stdout)\(native.stderr)")
    }

    @Test("an invalid workflow exits 2 with file:line:column and runs nothing")
    func invalidWorkflow() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("bad.yml", """
            jobs:
              build:
                stepz:
                  - run: echo never
            """)
        let result = try await nixactions(["run", workflow])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(workflow):3:5: error: unknown key 'stepz' in job 'build'"))
        #expect(result.stderr.contains("hint: did you mean 'steps'?"))
        #expect(result.stdout.isEmpty)
    }

    @Test("usage errors exit 2 (-j -1, help of no command, a --log-dir that is a file); --help exits 0")
    func usage() async throws {
        #expect(try await nixactions(["run"]).status == 2)
        #expect(try await nixactions(["frobnicate"]).status == 2)
        #expect(try await nixactions(["run", "x.yml", "--jobs", "0"]).status == 2)
        // A single-value option given twice: the last one wins, as cli.md says (audit 64 cli L4).
        let twice = try TemporaryDirectory()
        defer { twice.remove() }
        try twice.write("x.yml", "jobs:\n  a:\n    steps:\n      - run: echo ran\n")
        for arguments in [["--log-format", "json", "--log-format", "plain"], ["-j", "5", "--log-format=json", "--log-format=plain", "-j", "2"]] {
            let last = try await nixactions(["run", "x.yml", "--dry-run"] + arguments, in: twice.path)
            #expect(last.status == 0 && last.stdout.hasPrefix("plan of workflow 'x': 1 job, 1 to run, at most "), "\(arguments): \(last.stdout)\(last.stderr)")
        }
        let lastJobs = try await nixactions(["run", "x.yml", "--dry-run", "-j", "5", "-j", "2"], in: twice.path)
        #expect(lastJobs.stdout.hasPrefix("plan of workflow 'x': 1 job, 1 to run, at most 2 at once"), "\(lastJobs.stdout)")
        let emptyLogs = try await nixactions(["run", "x.yml", "--log-dir", ""])
        #expect(emptyLogs.status == 2 && emptyLogs.stderr.contains("--log-dir must name a folder (default: .nixactions/runs)"), "\(emptyLogs.stderr)")
        // Worded as what they are, not "Missing value" or the top help with exit 0 (audit 51).
        let negative = try await nixactions(["run", "x.yml", "-j", "-1"])
        #expect(negative.status == 2 && negative.stderr.contains("--jobs must be at least 1 (got -1)"), "\(negative.stderr)")
        let bogus = try await nixactions(["help", "bogus"])
        #expect(bogus.status == 2 && bogus.stderr.contains("unknown command 'bogus'; the commands are run, validate, list, graph, plugins, cache"), "\(bogus.stderr)")
        #expect(try await nixactions(["help", "run"]).status == 0)
        // A subcommand's subcommand too (audit 64 cli L3: cache's help and exit 0).
        let nested = try await nixactions(["help", "cache", "nosuch"])
        #expect(nested.status == 2 && nested.stderr.contains("unknown command 'cache nosuch'; the subcommands of 'cache' are "), "\(nested.stderr)")
        let leaf = try await nixactions(["help", "run", "more"])
        #expect(leaf.status == 2 && leaf.stderr.contains("'run' has no subcommands (unexpected 'more')"), "\(leaf.stderr)")
        #expect(try await nixactions(["help", "cache", "prune"]).status == 0)
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("x.yml", "jobs:\n  a:\n    steps:\n      - run: echo ran\n")
        try temp.write("file", "")
        let fileLogs = try await nixactions(["run", "x.yml", "--log-dir", "file"], in: temp.path)
        #expect(fileLogs.status == 2 && fileLogs.stderr.contains("--log-dir 'file' is not a folder") && !fileLogs.stdout.contains("ran"), "\(fileLogs.stderr)")
        let help = try await nixactions(["--help"])
        #expect(help.status == 0)
        let flattened = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flattened.contains("Exit status: 0 success, 1 a job failed, 2 invalid workflow or usage, 130 cancelled."))
    }

    /// A project whose jobs run on the test executor: its plugin folder, and a workflow in which
    /// `JOURNAL` stands for the file the executor writes each lifecycle call to.
    struct TestDoubleProject {
        let temp: TemporaryDirectory
        let journal: String
        let workflow: String
        let environment: [String: String]

        init(_ yaml: String) throws {
            temp = try TemporaryDirectory()
            environment = ["NIXACTIONS_PLUGIN_PATH": try temp.pluginFolder(["double": "nixactions-testplugin-double"])]
            journal = temp.path + "/journal"
            workflow = try temp.write("wf.yml", yaml.replacingOccurrences(of: "JOURNAL", with: journal))
        }

        /// The journal's lines so far.
        var lines: [String] { ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
    }

    @Test("executor lifecycle: finishJob follows every startJob, also a failed one")
    func lifecycleThroughTestDouble() async throws {
        let project = try TestDoubleProject("""
            jobs:
              good:
                executor: { plugin: test-double, with: { journal: JOURNAL, fail-start: bad } }
                steps:
                  - run: echo one
                  - run: |
                      stderr two
                      file GITHUB_ENV FROM_DOUBLE=yes
                  - run: printenv FROM_DOUBLE
              bad:
                executor: { plugin: test-double, with: { journal: JOURNAL, fail-start: bad } }
                steps:
                  - run: echo never
            """)
        defer { project.temp.remove() }
        let result = try await nixactions(["run", project.workflow, "--jobs", "1"], environment: project.environment)
        #expect(result.status == 1)
        // Each step: its start, its output, its end on one line with its duration.
        let good = outputLines(result.stdout).filter { $0.hasPrefix("[good] ") }.map { $0.replacingOccurrences(of: #"\(\d+\.\d\ds\)$"#, with: "(TIME)", options: .regularExpression) }
        #expect(good == ["[good] > Run echo one", "[good] one", "[good] ✓ Run echo one (TIME)", "[good] > Run stderr two", "[good] two", "[good] ✓ Run stderr two (TIME)",
                         "[good] > Run printenv FROM_DOUBLE", "[good] yes", "[good] ✓ Run printenv FROM_DOUBLE (TIME)"], "\(good)")
        #expect(result.stdout.contains("cannot start job 'bad' on executor 'test-double': test double refused to start job 'bad'"))
        #expect(project.lines == ["start good", "step good 0", "step good 1", "step good 2", "finish good", "start bad", "finish bad"])
    }

    @Test("cleanup is never cancelled: a job cancelled by its time limit still finishes its finish_job")
    func cleanupNotCancelled() async throws {
        let project = try TestDoubleProject("""
            jobs:
              slow:
                timeout: 1s
                executor: { plugin: test-double, with: { journal: JOURNAL, slow-finish: 0.5 } }
                steps:
                  - run: sleep 30
            """)
        defer { project.temp.remove() }
        let result = try await nixactions(["run", project.workflow], environment: project.environment)
        #expect(result.status == 1)
        #expect(project.lines == ["start slow", "step slow 0", "finish slow", "finished slow"], "\(project.lines)")
    }

    @Test("op_deadline: a job's start has 10 minutes, its cleanup 60 s, a step none (its time limits cancel it)")
    func operationDeadlines() async throws {
        let project = try TestDoubleProject("""
            jobs:
              a:
                executor: { plugin: test-double, with: { journal: JOURNAL, deadlines: true } }
                steps:
                  - run: echo one
            """)
        defer { project.temp.remove() }
        let result = try await nixactions(["run", project.workflow], environment: project.environment)
        #expect(result.status == 0, "\(result.stdout)")
        let lines = project.lines
        #expect(lines.count == 6, "\(lines)")
        guard lines.count == 6 else { return }
        #expect(lines[0] == "start a" && lines[2] == "step a 0" && lines[3] == "deadline step none" && lines[4] == "finish a", "\(lines)")
        let left = { (line: String) in Int(line.split(separator: " ").last ?? "") ?? -1 }
        #expect(lines[1].hasPrefix("deadline start ") && (590...600).contains(left(lines[1])), "\(lines[1])")
        #expect(lines[5].hasPrefix("deadline finish ") && (50...60).contains(left(lines[5])), "\(lines[5])")
    }

    @Test("what an executor writes while it starts and cleans up a job (write_output on start_job and finish_job) is shown as the job's lines, redacted, in the console, the job's log and the events (audit 61 ABI H3: dropped)")
    func jobLevelOutput() async throws {
        let project = try TestDoubleProject("""
            jobs:
              a:
                executor: { plugin: test-double, with: { job-output: true } }
                steps:
                  - run: echo step ran
            """)
        defer { project.temp.remove() }
        let logs = project.temp.path + "/logs"
        let result = try await nixactions(["run", project.workflow, "--log-dir", logs, "--log-format", "plain"],
                                          environment: project.environment.merging(["PULL_TOKEN": "secret-pull-token"]) { _, new in new })
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = outputLines(result.stdout)
        #expect(lines.contains { $0.hasPrefix("[a] ") && $0.hasSuffix("test-double: setting up a") }, "\(result.stdout)")
        // PULL_TOKEN's value is masked (a variable named like a secret): through the redactor.
        #expect(lines.contains("[a] test-double: pulled image ***"), "\(result.stdout)")
        #expect(!(result.stdout + result.stderr).contains("secret-pull-token"))
        #expect(lines.contains { $0.hasPrefix("[a] ") && $0.contains("test-double: a last line without its newline") }, "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("[a] ") && $0.hasSuffix("test-double: removed the workspace of a") }, "\(result.stdout)")
        let folder = logs + "/" + (((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).first ?? "")
        let log = (try? String(contentsOfFile: folder + "/a.log", encoding: .utf8)) ?? ""
        #expect(log.contains("test-double: setting up a") && log.contains("test-double: removed the workspace of a"), "\(log)")
        let events = (try? String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)) ?? ""
        #expect(events.contains("test-double: setting up a"), "\(events.suffix(1000))")
        #expect(!log.contains("secret-pull-token") && !events.contains("secret-pull-token"))
    }

    @Test("NIXACTIONS_START_SECONDS bounds a job's start: a start that takes 30 s fails its job after 2 s, saying which job and why, and the job's cleanup still runs")
    func startDeadlineFromEnvironment() async throws {
        let project = try TestDoubleProject("""
            jobs:
              a:
                executor: { plugin: test-double, with: { journal: JOURNAL, slow-start: 30, deadlines: true } }
                steps:
                  - run: echo never
            """)
        defer { project.temp.remove() }
        var environment = project.environment
        environment["NIXACTIONS_START_SECONDS"] = "2"
        let result = try await nixactions(["run", project.workflow], environment: environment)
        #expect(result.status == 1, "\(result.stdout)")
        // The run's own time (not the wait for a command slot among the suite's tests).
        #expect(result.seconds < 20, "\(result.seconds) s")
        #expect(result.stdout.contains("did not finish starting job 'a' within 2"), "\(result.stdout)")
        #expect(!result.stdout.contains("never"), "\(result.stdout)")
        let lines = project.lines
        #expect(lines.first == "start a", "\(lines)")
        let left = { (line: String) in Int(line.split(separator: " ").last ?? "") ?? -1 }
        #expect(lines.count > 1 && lines[1].hasPrefix("deadline start ") && (0...2).contains(left(lines[1])), "\(lines)")
        #expect(lines.contains("finish a"), "the job's cleanup did not run: \(lines)")
    }

    @Test("a start answered \"no room now\" is asked again, the waits doubling from what the executor asks (0.05 s) to at most 1 s, with one message; the job then runs")
    func startRetryBackoff() async throws {
        let project = try TestDoubleProject("""
            jobs:
              a:
                executor: { plugin: test-double, with: { journal: JOURNAL, busy-starts: 8 } }
                steps:
                  - run: echo ran
            """)
        defer { project.temp.remove() }
        let result = try await nixactions(["run", project.workflow], environment: project.environment)
        #expect(result.status == 0, "\(result.stdout)")
        #expect(outputLines(result.stdout).contains("[a] ran"), "\(result.stdout)")
        #expect(result.stderr.components(separatedBy: "no room for job 'a' yet").count == 2, "said once: \(result.stderr)")
        let times = project.lines.filter { $0.hasPrefix("busy a ") }.compactMap { Double($0.split(separator: " ").last ?? "") }
        #expect(times.count == 8, "\(project.lines)")
        guard times.count == 8 else { return }
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        // 0.05, 0.1, 0.2, 0.4, 0.8, then 1 s (a loaded machine adds to each, never takes away).
        let least = [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
        for (gap, floor) in zip(gaps, least) {
            #expect(gap >= floor * 0.9, "gaps \(gaps)")
        }
        #expect(gaps[6] < 1.0 + 0.9, "the wait stops doubling at 1 s (2 s would be next): \(gaps)")
        #expect(gaps[0] < gaps[4], "the first wait is what the executor asks, far less than the fifth: \(gaps)")
    }

    @Test("cleanup is not cancelled by a whole-run cancel either: after SIGINT, finish_job runs to its end and does not see itself cancelled")
    func cleanupNotCancelledBySignal() async throws {
        let project = try TestDoubleProject("""
            jobs:
              slow:
                executor: { plugin: test-double, with: { journal: JOURNAL, slow-finish: 0.5 } }
                steps:
                  - run: sleep 30
            """)
        defer { project.temp.remove() }
        let output = project.temp.path + "/output.txt"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        let process = try launchNixactions(["run", project.workflow, "--log-dir", project.temp.path + "/logs"], in: project.temp.path,
                                           environment: project.environment, output: handle)
        try handle.close()
        // Watched and signalled from a thread of its own: a test task waits for a thread of Swift's
        // pool (two here), which other tests' long synchronous work can hold for longer than the
        // step's 30 s (seen in CI: the SIGINT then came after the run had ended).
        let path = project.journal
        let lines = { @Sendable in ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        let journal = Mutex<[String]>([])
        #expect(await signalWhen(process, SIGINT) {
            journal.withLock { $0 = lines() }
            return journal.withLock { $0.contains("step slow 0") }
        } != nil)
        #expect(journal.withLock { $0 } == ["start slow", "step slow 0"], "signalled when the journal was \(journal.withLock { $0 })")
        let said = { (try? String(contentsOfFile: output, encoding: .utf8))?.contains("nixactions: cancelling (signal 2)") == true }
        // A signal that is not acted on within seconds: how the process stood.
        if !(await eventually(timeout: .seconds(10)) { said() }) {
            Issue.record("no cancel 10 s after SIGINT:\n\(signalReport(process.processIdentifier))")
        }
        await waitForExit(process)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 130, "\(text)")
        #expect(text.contains("nixactions: cancelling (signal 2)"), "\(text)")
        #expect(project.lines == ["start slow", "step slow 0", "finish slow", "finished slow"], "\(project.lines)")
    }

    @Test("an executor that ignores a cancel is abandoned after a deadline, with a message, and the run ends")
    func abandonedAfterCancel() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let plugins = try temp.pluginFolder(["double": "nixactions-testplugin-double"])
        let workflow = try temp.write("wf.yml", """
            jobs:
              stuck:
                executor: { plugin: test-double }
                steps:
                  - run: hang 60
                    timeout: 1s
            """)
        let result = try await nixactions(["run", workflow], environment: ["NIXACTIONS_PLUGIN_PATH": plugins, "NIXACTIONS_ABANDON_AFTER": "1"])
        #expect(result.seconds < 20)
        #expect(result.status == 1)
        #expect(result.stderr.contains("executor 'test-double' did not finish step 'Run hang 60' within 1.0 seconds of being cancelled; nixactions stopped waiting for it"),
                "\(result.stderr)")
        // Nothing confirmed the step's processes ended: the step's error does not say they did (audit 50).
        let all = result.stdout + result.stderr
        #expect(all.contains("step 'Run hang 60': timed out after 1s; then executor 'test-double' did not finish"), "\(all)")
        #expect(!all.contains("its process tree was ended"), "\(all)")
    }

    @Test("a timed-out step whose executor ends the operation as cancelled, without a result saying the step ended, is not said to have ended")
    func timedOutUnconfirmed() async throws {
        // The test double's `sleep` ends with the cancel (a CancellationError), not with a step result.
        let project = try TestDoubleProject("""
            jobs:
              a:
                executor: { plugin: test-double }
                steps:
                  - run: sleep 30
                    timeout: 1s
            """)
        defer { project.temp.remove() }
        let result = try await nixactions(["run", project.workflow, "--log-format", "plain"], environment: project.environment)
        let all = result.stdout + result.stderr
        #expect(result.status == 1, "\(all)")
        #expect(all.contains("[a] error: step 'Run sleep 30' timed out after 1s; its executor did not confirm that its processes ended "
                             + "(what is left of them is ended with the job)"), "\(all)")
        #expect(!all.contains("its process tree was ended"), "\(all)")
    }

    @Test("an executor that ignores the run's cancel (SIGINT) is abandoned: its step is cancelled, not failed, with a warning saying so; exit 130")
    func abandonedAfterSignal() async throws {
        let project = try TestDoubleProject("""
            jobs:
              stuck:
                executor: { plugin: test-double }
                steps:
                  - run: hang 60
            """)
        defer { project.temp.remove() }
        let (process, text) = try launchNixactionsLogged(["run", project.workflow, "--log-format", "plain"], in: project.temp.path,
                                                         environment: project.environment.merging(["NIXACTIONS_ABANDON_AFTER": "1"]) { _, new in new },
                                                         output: project.temp.path + "/output.txt")
        #expect(await signalWhen(process, SIGINT) { text().contains("> Run hang 60") } != nil, "the step never started: \(text())")
        await waitForExit(process)
        let all = text()
        #expect(process.terminationStatus == 130, "\(all)")
        #expect(all.contains("[stuck] warning: step 'Run hang 60' was cancelled; then executor 'test-double' did not finish"), "\(all)")
        #expect(all.contains("stuck  cancelled"), "\(all)")
        #expect(!all.contains("[stuck] error:"), "\(all)")
    }

    @Test("the runner leaves no run directory behind")
    func nothingLeftBehind() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", "jobs: { a: { steps: [ { run: 'echo $RUNNER_TEMP' } ] } }\n")
        let result = try await nixactions(["run", workflow], environment: ["TMPDIR": temp.path])
        #expect(result.status == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: temp.path).filter { $0.hasPrefix("nixactions-") }
        #expect(leftovers.isEmpty)
        #expect(result.stdout.contains(temp.path + "/nixactions-"))
    }
}

@Suite("Project copy into job workspaces")
struct ProjectCopyTests {
    @Test("a project folder that contains the run directory is copied without recursing into it")
    func runDirectoryInsideProject() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("src/main.c", "int main(void) { return 0; }\n")
        try temp.write("node_modules/big/index.js", "x\n")
        try temp.write(".git/HEAD", "ref\n")
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: find . -type f | sort
            """)
        // TMPDIR inside the project: the run directory is created inside the folder being copied.
        let result = try await nixactions(["run", "wf.yml"], in: temp.path, environment: ["TMPDIR": temp.path + "/tmp"])
        try? FileManager.default.createDirectory(atPath: temp.path + "/tmp", withIntermediateDirectories: true)
        let again = try await nixactions(["run", "wf.yml"], in: temp.path, environment: ["TMPDIR": temp.path + "/tmp"])
        for run in [result, again] {
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("[a] ./src/main.c\n"))
            #expect(run.stdout.contains("[a] ./wf.yml\n"))
            #expect(!run.stdout.contains("node_modules"))
            #expect(!run.stdout.contains(".git/HEAD"))
            #expect(!run.stdout.contains("nixactions-"))
        }
    }
}

@Suite("Secrets a plugin registers through the host services")
struct PluginSecretTests {
    @Test("a value registered with register_secret is masked in every later line")
    func registerSecret() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let plugins = try temp.pluginFolder(["double": "nixactions-testplugin-double"])
        try temp.write("wf.yml", """
            jobs:
              a:
                executor: test-double
                steps:
                  - name: register and print
                    run: |
                      secret hunter2-token
                      echo the token is hunter2-token
                  - name: later step
                    run: echo again hunter2-token
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "json"], in: temp.path, environment: ["NIXACTIONS_PLUGIN_PATH": plugins])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"text\":\"the token is ***\""))
        #expect(result.stdout.contains("\"text\":\"again ***\""))
        #expect(!result.stdout.contains("hunter2-token"))
    }
}

@Suite("Concurrency beyond the number of cores")
struct WideConcurrencyTests {
    @Test("six jobs that fill their pipes and wait for each other all finish (every step's output is read at once)")
    func sixJobsRendezvous() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let jobs = (1...6).map { "j\($0)" }
        let body = jobs.map { id in
            """
              \(id):
                workspace: { copy-project: false }
                steps:
                  - run: |
                      head -c 200000 /dev/zero | tr '\\0' x | fold -w 100; echo
                      touch \(temp.path)/marks/\(id)
                      for i in $(seq 1 400); do [ "$(ls \(temp.path)/marks | wc -l)" -ge 6 ] && break; sleep 0.05; done
                      [ "$(ls \(temp.path)/marks | wc -l)" -ge 6 ] || exit 9
                      echo "\(id) met the others"
            """
        }.joined(separator: "\n")
        try FileManager.default.createDirectory(atPath: temp.path + "/marks", withIntermediateDirectories: true)
        try temp.write("wf.yml", "jobs:\n" + body + "\n")
        let result = try await nixactions(["run", "wf.yml", "--jobs", "6", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        for id in jobs { #expect(result.stdout.contains("[\(id)] \(id) met the others\n")) }
        #expect(result.stdout.components(separatedBy: "] " + String(repeating: "x", count: 100) + "\n").count - 1 == 6 * 2000)
    }
}
