import Foundation
import Testing
import TestSupport

@Suite("nixactions validate, list and graph")
struct ValidateCommandTests {
    static var examples: [String] {
        let folder = packageDirectory.appendingPathComponent("examples").path
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return entries.sorted().compactMap { entry in
            let path = "examples/\(entry)/workflow.yml"
            return FileManager.default.fileExists(atPath: packageDirectory.path + "/" + path) ? path : nil
        }
    }

    static var invalidFixtures: [String] {
        let folder = packageDirectory.appendingPathComponent("Tests/Fixtures/invalid").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".yml") }.sorted()
    }

    @Test("validate without an argument checks every workflow of the project, a .nixactions/workflows/ name hiding the same in .github/workflows/; none there is exit 2 (audit 57 UX M9)")
    func validateAll() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write(".github/workflows/ci.yml", "jobs: { a: { steps: [ { run: echo } ] } }\n")
        try temp.write(".github/workflows/shadowed.yml", "jobs: { a: { stepz: [] } }\n")
        try temp.write(".nixactions/workflows/shadowed.yml", "jobs: { a: { steps: [ { run: echo } ] } }\n")
        try temp.write(".github/workflows/broken.yaml", "jobs: { a: { needs: [nope], steps: [ { run: echo } ] } }\n")
        let result = try await nixactions(["validate"], in: temp.path)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(".github/workflows/ci.yml: valid\n") && result.stdout.contains(".nixactions/workflows/shadowed.yml: valid\n"),
                "\(result.stdout)")
        #expect(result.stderr.contains("broken.yaml:1:22: error: job 'a' needs 'nope'") && !result.stderr.contains("stepz"), "\(result.stderr)")
        // Two files of one folder that share a name are two workflows (GitHub runs both): each is
        // checked, and a run by the name says which it takes (audit 64 cli M3: ci.yaml was skipped).
        try temp.write(".github/workflows/ci.yaml", "jobs: { a: { stepz: [] } }\n")
        let both = try await nixactions(["validate"], in: temp.path)
        #expect(both.status == 2 && both.stderr.contains(".github/workflows/ci.yaml:1:") && both.stdout.contains(".github/workflows/ci.yml: valid\n"),
                "\(both.stdout)\(both.stderr)")
        let named = try await nixactions(["validate", "ci"], in: temp.path)
        #expect(named.status == 0 && named.stderr.contains("warning: 'ci' names .github/workflows/ci.yml and .github/workflows/ci.yaml; using .github/workflows/ci.yml"),
                "\(named.stderr)")
        let empty = try TemporaryDirectory()
        defer { empty.remove() }
        let none = try await nixactions(["validate"], in: empty.path)
        #expect(none.status == 2 && none.stderr.contains("error: no workflows in .nixactions/workflows/ or .github/workflows/"), "\(none.stderr)")
    }

    @Test("validate of a whole project says a called workflow's problems once, not again for each file that calls it; the caller still fails and says why (audit 63 fidelity L3)")
    func calledWorkflowOnce() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write(".github/workflows/main.yml", "on: push\njobs:\n  call: { uses: ./.github/workflows/called.yml }\n")
        try temp.write(".github/workflows/other.yml", "on: push\njobs:\n  call: { uses: ./.github/workflows/called.yml }\n")
        try temp.write(".github/workflows/called.yml", """
            on: workflow_call
            jobs:
              a:
                runs-on: ubuntu-latest
                steps:
                  - uses: actions/checkout@v4
                    with: { bogus: 1 }
                  - run: echo hi
                    foo: 1
            """)
        let result = try await nixactions(["validate"], in: temp.path)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "called.yml:7:24: warning: actions/checkout declares no input 'bogus'").count == 2, "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "called.yml:9:9: error: unknown key 'foo' in step 2").count == 2, "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "(1 in a workflow it calls, shown above)").count == 3, "\(result.stderr)")
        // One file on its own still says everything.
        let one = try await nixactions(["validate", ".github/workflows/other.yml"], in: temp.path)
        #expect(one.status == 2 && one.stderr.contains("called.yml:9:9: error: unknown key 'foo' in step 2")
                && one.stderr.contains("nixactions: .github/workflows/other.yml: 1 error\n"), "\(one.stderr)")
    }

    @Test("validate warns of what run refuses before it starts: a runs-on label no runner takes, a runner label mapped to an executor no plugin provides (audit 64 cli M4: valid, then run exited 2)")
    func runnerWarnings() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "on: push\njobs:\n  t:\n    runs-on: [self-hosted, gpu]\n    steps: [{run: echo}]\n  u:\n    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n")
        try temp.write("c2.yml", "runners:\n  gpu: lcoal\n")
        let bare = try await nixactions(["validate", "wf.yml"], in: temp.path)
        #expect(bare.status == 0 && bare.stderr.contains("wf.yml:4:28: warning: runs-on label 'gpu' of job 't' is not mapped to an executor; 'run' here refuses it")
                    && !bare.stderr.contains("job 'u'"), "\(bare.stderr)")
        let mapped = try await nixactions(["validate", "wf.yml", "--config", "c2.yml"], in: temp.path)
        #expect(mapped.status == 0 && mapped.stderr.contains("c2.yml:2:8: warning: no executor plugin 'lcoal' was found on this machine; 'run' here refuses the jobs whose runs-on names 'gpu'")
                    && mapped.stderr.contains("hint: did you mean 'local'?"), "\(mapped.stderr)")
        // A job with services whose label goes to an executor that cannot run them (audit 66 remote L6).
        try temp.write("svc.yml", "on: push\njobs:\n  s:\n    runs-on: farm\n    services:\n      db: postgres\n    steps: [{run: echo}]\n")
        try temp.write("c3.yml", "runners:\n  farm: { plugin: ssh, with: { host: build1 } }\n")
        let services = try await nixactions(["validate", "svc.yml", "--config", "c3.yml"], in: temp.path)
        #expect(services.status == 0 && services.stderr.contains("svc.yml:6:7: warning: job 's' has services, which run next to a job container or on this machine; it runs on executor 'ssh' here; 'run' here fails the job")
                    && services.stderr.contains("hint: run the job on this machine (local) or give it a 'container:'"), "\(services.stderr)")
    }

    @Test("every example validates")
    func examplesAreValid() async throws {
        let examples = Self.examples
        #expect(examples.count >= 1)
        let result = try await nixactions(["validate"] + examples, in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stderr)")
        for example in examples { #expect(result.stdout.contains("\(example): valid")) }
    }

    @Test("each invalid fixture fails with its expected messages", arguments: invalidFixtures)
    func invalidFixture(_ name: String) async throws {
        let folder = packageDirectory.path + "/Tests/Fixtures/invalid/"
        let expected = try String(contentsOfFile: folder + name.replacingOccurrences(of: ".yml", with: ".expected"), encoding: .utf8)
        let result = try await nixactions(["validate", name], in: folder)
        #expect(result.status == 2)
        for line in expected.split(separator: "\n") {
            #expect(result.stderr.contains(line), "missing '\(line)' in:\n\(result.stderr)")
        }
        #expect(!result.stderr.contains("Fatal error"))
    }

    @Test("every error in 74 malformed workflows (Tests/Fixtures/hinted) is placed FILE:LINE:COLUMN and has a hint; no hint is empty")
    func everyErrorHasAHint() async throws {
        let folder = packageDirectory.path + "/Tests/Fixtures/hinted"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yml") }.sorted()
        #expect(files.count == 74)
        let result = try await nixactions(["validate"] + files, in: folder)
        #expect(result.status == 2)
        #expect(!result.stderr.contains("Fatal error"))
        // Diagnostics: a `FILE:LINE:COLUMN: error: …` line, then its indented lines (`  in …`, `  hint: …`).
        var blocks: [[Substring]] = []
        for line in result.stderr.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(" ") { if !blocks.isEmpty { blocks[blocks.count - 1].append(line) } } else { blocks.append([line]) }
        }
        let diagnostics = blocks.filter { $0[0].contains(": error: ") || $0[0].contains(": warning: ") }
        let errors = diagnostics.filter { $0[0].contains(": error: ") }
        #expect(errors.count >= 90, "\(errors.count)")
        for block in diagnostics {
            let head = block[0].split(separator: ":", maxSplits: 3)
            #expect(head.count == 4 && files.contains(String(head[0])) && (Int(head[1]) ?? 0) >= 1 && (Int(head[2]) ?? 0) >= 1, "\(block[0])")
            let hints = block.filter { $0.hasPrefix("  hint: ") }
            #expect(hints.allSatisfy { !$0.dropFirst(8).trimmingCharacters(in: .whitespaces).isEmpty }, "an empty hint: \(block.joined(separator: "\n"))")
            if block[0].contains(": error: ") { #expect(hints.count == 1, "no hint: \(block.joined(separator: "\n"))") }
        }
    }

    static var githubValidFixtures: [String] {
        let folder = packageDirectory.appendingPathComponent("Tests/Fixtures/github-valid").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".yml") }.sorted()
    }

    @Test("constructs of real workflows that GitHub accepts validate (Tests/Fixtures/github-valid)", arguments: githubValidFixtures)
    func githubValidFixture(_ name: String) async throws {
        #expect(Self.githubValidFixtures.count >= 5, "the fixtures folder was not found")
        let result = try await nixactions(["validate", name], in: packageDirectory.path + "/Tests/Fixtures/github-valid")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("error:"), "\(result.stderr)")
    }

    @Test("warnings do not fail validate")
    func warningsPass() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo ${{ env.UNSET }}\n")
        let result = try await nixactions(["validate", "wf.yml"], in: temp.path)
        #expect(result.status == 0)
        #expect(result.stderr.contains("wf.yml:4:23: warning: env.UNSET in 'run' is not defined at workflow, job or step level"))
    }

    static let matrixWorkflow = """
        name: g
        jobs:
          build: { steps: [ { run: echo b } ] }
          test:
            needs: build
            strategy: { matrix: { node: [18, 20] } }
            steps: [ { run: echo t } ]
          deploy: { needs: test, steps: [ { run: echo d } ] }
        """

    @Test("graph --format dot is accepted by Graphviz's dot, with matrix jobs expanded")
    func dot() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("g.yml", Self.matrixWorkflow)
        let graph = try await nixactions(["graph", "g.yml", "--format", "dot"], in: temp.path)
        #expect(graph.status == 0)
        #expect(graph.stdout.contains("\"build\" -> \"test-node-18\";"))
        #expect(graph.stdout.contains("\"test-node-20\" -> \"deploy\";"))
        try temp.write("g.dot", graph.stdout)
        let dot = try await runCommand(URL(fileURLWithPath: "/usr/bin/dot"), ["-Tplain", temp.path + "/g.dot"])
        #expect(dot.status == 0, "\(dot.stderr)")
        // dot laid out all four nodes and four edges.
        #expect(dot.stdout.split(separator: "\n").filter { $0.hasPrefix("node ") }.count == 4)
        #expect(dot.stdout.split(separator: "\n").filter { $0.hasPrefix("edge ") }.count == 4)
    }

    @Test("graph ascii and mermaid")
    func asciiAndMermaid() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("g.yml", Self.matrixWorkflow)
        let ascii = try await nixactions(["graph", "g.yml"], in: temp.path)
        #expect(ascii.stdout == """
            workflow 'g'
            [1] build
            [2] test (node: 18)  <- build
            [2] test (node: 20)  <- build
            [3] deploy  <- test (node: 18), test (node: 20)

            """)
        let mermaid = try await nixactions(["graph", "g.yml", "--format", "mermaid"], in: temp.path)
        #expect(mermaid.stdout.hasPrefix("flowchart LR\n  j_build[\"build\"]\n"))
        #expect(mermaid.stdout.contains("  j_test_hnode_h20 --> j_deploy\n"), "\(mermaid.stdout)")
        // Ids that differ only in '-' and '_' stay two nodes (they were one: audit 51).
        try temp.write("ids.yml", """
            jobs:
              a-b: { steps: [ { run: echo 1 } ] }
              a_b: { steps: [ { run: echo 2 } ] }
              end: { needs: [a_b], steps: [ { run: echo e } ] }
            """)
        let ids = try await nixactions(["graph", "ids.yml", "--format", "mermaid"], in: temp.path)
        #expect(ids.stdout == "flowchart LR\n  j_a_hb[\"a-b\"]\n  j_a_ub[\"a_b\"]\n  j_end[\"end\"]\n  j_a_ub --> j_end\n", "\(ids.stdout)")
        // A name Mermaid would read as an entity code or as HTML is written in entity codes (audit 64 cli L17).
        try temp.write("names.yml", """
            jobs:
              a: { name: 'fix #1; <b>bold</b> & "q"', steps: [ { run: echo 1 } ] }
            """)
        let names = try await nixactions(["graph", "names.yml", "--format", "mermaid"], in: temp.path)
        #expect(names.stdout == "flowchart LR\n  j_a[\"fix #35;1; #lt;b#gt;bold#lt;/b#gt; #amp; #quot;q#quot;\"]\n", "\(names.stdout)")
    }

    @Test("graph makes matrices with the inputs: a matrix from fromJSON(inputs.x) uses the input's default, or --input (audit 63 fidelity M3: exit 2); a required input not given, or a broken configuration, still draws (review 63 H1)")
    func graphWithInputs() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("gi.yml", """
            on:
              workflow_dispatch:
                inputs: { targets: { default: '["a","b"]' } }
            jobs:
              build:
                runs-on: ubuntu-latest
                strategy: { matrix: { t: '${{ fromJSON(inputs.targets) }}' } }
                steps: [ { run: 'echo ${{ matrix.t }}' } ]
            """)
        let drawn = try await nixactions(["graph", "gi.yml"], in: temp.path)
        #expect(drawn.status == 0 && drawn.stdout.contains("build (t: a)") && drawn.stdout.contains("build (t: b)"), "\(drawn.stdout)\(drawn.stderr)")
        let given = try await nixactions(["graph", "gi.yml", "--input", #"targets=["x"]"#, "--format", "mermaid"], in: temp.path)
        #expect(given.status == 0 && given.stdout.contains("build (t: x)") && !given.stdout.contains("(t: a)"), "\(given.stdout)\(given.stderr)")
        try temp.write("required.yml", """
            on:
              workflow_call:
                inputs: { version: { type: string, required: true }, targets: { type: string, required: true } }
            jobs:
              show: { runs-on: ubuntu-latest, steps: [ { run: 'echo ${{ inputs.version }}' } ] }
              each:
                needs: show
                strategy: { matrix: { t: '${{ fromJSON(inputs.targets) }}' } }
                steps: [ { run: echo } ]
            """)
        try temp.write(".nixactions/config.yml", "bogus: 1\n")
        let required = try await nixactions(["graph", "required.yml"], in: temp.path)
        #expect(required.status == 0 && required.stdout.contains("[1] show") && required.stdout.contains("[2] each (strategy: error)  <- show"),
                "\(required.stdout)\(required.stderr)")
        #expect(required.stderr.contains("warning: cannot evaluate strategy.matrix"), "\(required.stderr)")
        // --config names the configuration whose vars a matrix reads, as for list (audit 64 cli L22).
        try temp.write("vars.yml", """
            jobs:
              build:
                strategy: { matrix: { t: '${{ fromJSON(vars.TARGETS) }}' } }
                steps: [ { run: echo } ]
            """)
        try temp.write("other.yml", "vars:\n  TARGETS: '[\"p\",\"q\"]'\n")
        let configured = try await nixactions(["graph", "vars.yml", "--config", "other.yml"], in: temp.path)
        #expect(configured.status == 0 && configured.stdout.contains("build (t: p)") && configured.stdout.contains("build (t: q)"),
                "\(configured.stdout)\(configured.stderr)")
        let missing = try await nixactions(["graph", "vars.yml", "--config", "nosuch.yml"], in: temp.path)
        #expect(missing.status == 2, "\(missing.stdout)\(missing.stderr)")
    }

    @Test("list shows workflows and jobs with needs and executor; --json too")
    func list() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write(".nixactions/workflows/g.yml", Self.matrixWorkflow)
        try temp.write(".github/workflows/broken.yml", "jobs: [\n")
        let text = try await nixactions(["list"], in: temp.path)
        #expect(text.status == 2)
        #expect(text.stdout.contains("g (.nixactions/workflows/g.yml)\n  build  executor: local\n  test (matrix)  executor: local  needs: build\n  deploy  executor: local  needs: test\n"))
        // Named as validate names it, not by its file name (audit 64 cli L16).
        #expect(text.stdout.contains("broken (.github/workflows/broken.yml)\n  invalid: "), "\(text.stdout)")
        let json = try await nixactions(["list", "g", "--json"], in: temp.path)
        #expect(json.status == 0)
        let listing = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let jobs = try #require(listing.first?["jobs"] as? [[String: Any]])
        #expect(jobs.compactMap { $0["id"] as? String } == ["build", "test", "deploy"])
        #expect(jobs[2]["needs"] as? [String] == ["test"])
    }

    @Test("run --dry-run prints the plan and runs nothing")
    func dryRun() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                timeout: 20m
                steps:
                  - run: touch ran
                    timeout: 90s
                    retry: { max-attempts: 3, backoff: linear, delay: 2s, max-delay: 10s }
              b:
                needs: a
                strategy: { matrix: { v: [1, 2] } }
                steps: [ { run: touch ran } ]
            """)
        let result = try await nixactions(["run", "wf.yml", "--dry-run", "-j", "3"], in: temp.path)
        #expect(result.status == 0)
        #expect(result.stdout == """
            plan of workflow 'wf': 2 jobs, 3 to run, at most 3 at once
            1. a  [executor: local; timeout: 20m]
               - Run touch ran  (timeout 1m30s; retry 3 attempts, linear from 2s up to 10s)
            2. b (v: 1)  [executor: local; timeout: 6h; needs: a]
               - Run touch ran
            3. b (v: 2)  [executor: local; timeout: 6h; needs: a]
               - Run touch ran

            """)
        // `-j5` as make takes it, and `--jobs=5`.
        for form in [["-j5"], ["--jobs=5"]] {
            let joined = try await nixactions(["run", "wf.yml", "--dry-run"] + form, in: temp.path)
            #expect(joined.status == 0, "\(form): \(joined.stderr)")
            #expect(joined.stdout.hasPrefix("plan of workflow 'wf': 2 jobs, 3 to run, at most 5 at once"), "\(form)")
        }
        // JSON when the log format is (it printed the text: audit 51), from the option or NIXACTIONS_LOG_FORMAT.
        for (arguments, environment) in [(["--log-format", "json"], [String: String]()), ([], ["NIXACTIONS_LOG_FORMAT": "json"])] {
            let json = try await nixactions(["run", "wf.yml", "--dry-run", "-j", "3"] + arguments, in: temp.path, environment: environment)
            #expect(json.status == 0, "\(json.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
            #expect(object["workflow"] as? String == "wf" && object["jobs"] as? Int == 2 && object["instances"] as? Int == 3 && object["maxJobs"] as? Int == 3)
            let plan = try #require(object["plan"] as? [[String: Any]])
            #expect(plan.map { $0["name"] as? String } == ["a", "b (v: 1)", "b (v: 2)"])
            // The job id and the key the run's events use (audit 64 cli L20).
            #expect(plan.map { $0["job"] as? String } == ["a", "b", "b"])
            #expect(plan.map { $0["key"] as? String } == ["a", "b-v-1", "b-v-2"], "\(json.stdout)")
            #expect(plan.first?["facts"] as? [String] == ["executor: local", "timeout: 20m"])
            #expect(plan.allSatisfy { ($0["called"] as? [String]) == [] }, "present, empty, as cli.md shows it")
            let steps = try #require(plan.first?["steps"] as? [[String: Any]])
            #expect(steps.first?["details"] as? [String] == ["timeout 1m30s", "retry 3 attempts, linear from 2s up to 10s"])
        }
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/ran"))
    }

    @Test("validate names an option that a job's executor or a secret provider entry does not accept, at its key with a did-you-mean (options.h); options made by ${{ }} and every accepted name pass")
    func pluginOptions() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("bad.yml", """
            secrets:
              - { provider: env, nmes: [A] }
            jobs:
              s:
                executor: { plugin: ssh, with: { host: x, identityfile: /k } }
                steps: [ { run: "true" } ]
              l:
                executor:
                  plugin: local
                  with:
                    inherit-env: false
                    grace: 3
                secrets:
                  - { provider: vault, path: ci/x, adress: http://127.0.0.1:1 }
                steps: [ { run: "true" } ]
            """)
        let bad = try await nixactions(["validate", "bad.yml"], in: temp.path)
        #expect(bad.status == 2, "\(bad.stdout)\(bad.stderr)")
        #expect(bad.stderr.contains("""
            bad.yml:2:22: error: the secret provider 'env' has no option 'nmes'
              in workflow 'bad'
              hint: did you mean 'names'?
            """), "\(bad.stderr)")
        #expect(bad.stderr.contains("bad.yml:5:47: error: the executor 'ssh' has no option 'identityfile'\n  in workflow 'bad' › job 's'\n  hint: did you mean 'identity-file'?"),
                "\(bad.stderr)")
        #expect(bad.stderr.contains("bad.yml:12:9: error: the executor 'local' has no option 'grace'\n  in workflow 'bad' › job 'l'\n  hint: its options: engine, grace-seconds, inherit-env, services"),
                "\(bad.stderr)")
        #expect(bad.stderr.contains("bad.yml:14:40: error: the secret provider 'vault' has no option 'adress'\n  in workflow 'bad' › job 'l'\n  hint: did you mean 'address'?"),
                "\(bad.stderr)")
        #expect(bad.stderr.contains("nixactions: bad.yml: 4 errors") && !bad.stdout.contains("valid"), "\(bad.stdout)\(bad.stderr)")

        // The same names `run` refuses, before any job starts: validate and run agree.
        let run = try await nixactions(["run", "bad.yml", "s"], in: temp.path)
        #expect(run.status == 2 && run.stderr.contains("bad.yml:2:22: error: the secret provider 'env' has no option 'nmes'")
                    && run.stderr.contains("bad.yml:5:47: error: the executor 'ssh' has no option 'identityfile'") && run.stderr.contains("nixactions: no job was started"),
                "\(run.stdout)\(run.stderr)")

        try temp.write("good.yml", """
            secrets:
              - { provider: env, names: [A], ref: B }
            jobs:
              o:
                strategy: { matrix: { image: [alpine, debian] } }
                executor:
                  plugin: oci
                  with: { image: "${{ matrix.image }}", user: "1000", grace-seconds: 3, engine: podman, network: none, volumes: [], ports: [],
                          options: "", env: {}, credentials: { username: u, password: p }, services: {} }
                steps: [ { run: "true" } ]
              s:
                executor: { plugin: ssh, with: { hosts: [a, b], user: u, port: 22, identity-file: /k, known-hosts: /h, workdir: /w, ssh-options: [], grace-seconds: 1 } }
                steps: [ { run: "true" } ]
              c:
                container: { image: alpine, options: --init, env: {}, volumes: [], ports: [], credentials: { username: u, password: p } }
                steps: [ { run: "true" } ]
            """)
        let good = try await nixactions(["validate", "good.yml"], in: temp.path)
        #expect(good.status == 0 && good.stdout.contains("good.yml: valid") && !good.stderr.contains("has no option"), "\(good.stdout)\(good.stderr)")
    }

    @Test("validate checks .nixactions/config.yml as run reads it: its own errors, and the option names of each runner label's executor and each cache backend (or --config FILE)")
    func configOptions() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs: { a: { runs-on: farm, steps: [ { run: \"true\" } ] } }\n")
        try temp.write(".nixactions/config.yml", """
            runners:
              farm: { plugin: ssh, with: { hosts: [a], identityfile: /k } }
              here: local
            cache:
              backends:
                local: { max_size: 5G }
                s3: { bucket: b, endpoint: "http://127.0.0.1:9", path-style: true }
            """)
        let result = try await nixactions(["validate", "wf.yml"], in: temp.path)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("""
            .nixactions/config.yml:2:44: error: the executor 'ssh' has no option 'identityfile'
              in .nixactions/config.yml › runners › farm
              hint: did you mean 'identity-file'?
            """), "\(result.stderr)")
        #expect(result.stderr.contains("""
            .nixactions/config.yml:6:14: error: the cache backend 'local' has no option 'max_size'
              in .nixactions/config.yml › cache › backends › local
              hint: did you mean 'max-size'?
            """), "\(result.stderr)")
        #expect(result.stderr.contains("nixactions: .nixactions/config.yml: 2 errors") && !result.stderr.contains("'s3' has no option"), "\(result.stderr)")
        #expect(result.stdout.contains("wf.yml: valid"), "the workflow itself is valid: \(result.stdout)")

        // The configuration's own errors, as run says them; and another file with --config.
        try temp.write("other.yml", "runners: { farm: { plugin: local, with: { inherit-env: false } } }\nlogs: { keep: never }\n")
        let other = try await nixactions(["validate", "--config", "other.yml", "wf.yml"], in: temp.path)
        #expect(other.status == 2 && other.stderr.contains("other.yml:2:15: error: logs.keep must be a number of runs") && !other.stderr.contains("identityfile"),
                "\(other.stderr)")
        try temp.write("good.yml", "runners: { farm: { plugin: local, with: { inherit-env: false } } }\ncache: { backends: { local: { max-size: 1G } } }\n")
        let good = try await nixactions(["validate", "--config", "good.yml", "wf.yml"], in: temp.path)
        #expect(good.status == 0 && good.stderr.isEmpty, "\(good.stderr)")
        let missing = try await nixactions(["validate", "--config", "nope.yml", "wf.yml"], in: temp.path)
        #expect(missing.status == 2 && missing.stderr.contains("nope.yml"), "\(missing.stderr)")

        // Values the backend's own check refuses (options.h `check`, ABI 1.5), at the option it
        // names; a default backend no plugin provides is a warning (audit 64 cache M3: both said
        // valid, then every job ran without its cache).
        try temp.write("values.yml", """
            cache:
              backend: locall
              backends:
                local: { compression-level: 25 }
                s3: { bucket: b, endpoint: "http://example.com" }
            """)
        let values = try await nixactions(["validate", "--config", "values.yml", "wf.yml"], in: temp.path)
        #expect(values.status == 2, "\(values.stdout)\(values.stderr)")
        #expect(values.stderr.contains("values.yml:4:14: error: the cache backend 'local' refuses its options: option 'compression-level': "), "\(values.stderr)")
        #expect(values.stderr.contains("values.yml:5:22: error: the cache backend 's3' refuses its options: 'endpoint' http://example.com is plain http to another machine")
                    && values.stderr.contains("hint: use https"), "\(values.stderr)")
        #expect(values.stderr.contains("values.yml:2:12: warning: no cache backend 'locall' was found on this machine; jobs here run without their caches"),
                "\(values.stderr)")
        #expect(values.stderr.contains("nixactions: values.yml: 2 errors"), "\(values.stderr)")
    }

    @Test("validate checks the values of an executor's options as written, as its plugin would at the job's start (a relative ssh workdir, an ssh option that runs a command here, a container name the executor needs); values made by ${{ }} are the run's (audit 66 remote L2, M2, M3, M4)")
    func executorOptionValues() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              rel:
                executor: { plugin: ssh, with: { host: h, workdir: relative/dir } }
                steps: [ { run: "true" } ]
              cmd:
                executor: { plugin: ssh, with: { host: h, ssh-options: ["ServerAliveInterval=5", "proxycommand=nc %h %p"] } }
                steps: [ { run: "true" } ]
              both:
                executor: { plugin: ssh, with: { host: h, hosts: [a] } }
                steps: [ { run: "true" } ]
              grace:
                executor: { plugin: oci, with: { image: alpine, grace-seconds: -1 } }
                steps: [ { run: "true" } ]
              named:
                container: { image: alpine, options: "--name fixed -l=io.nixactions.run=x" }
                steps: [ { run: "true" } ]
              late:
                strategy: { matrix: { o: ["ServerAliveInterval=5"] } }
                executor: { plugin: ssh, with: { host: h, ssh-options: ["${{ matrix.o }}", "Compression=yes"], workdir: "${{ matrix.o }}" } }
                steps: [ { run: "true" } ]
            """)
        let result = try await nixactions(["validate", "wf.yml"], in: temp.path)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("wf.yml:3:47: error: the executor 'ssh' refuses its options: ssh executor: 'workdir' 'relative/dir' is not an absolute path\n  in workflow 'wf' › job 'rel'"),
                "\(result.stderr)")
        #expect(result.stderr.contains("wf.yml:6:47: error: the executor 'ssh' refuses its options: ssh executor: 'ssh-options' entry 'proxycommand' runs a command on this machine\n  in workflow 'wf' › job 'cmd'\n  hint: for a jump host use ProxyJump=HOST;"),
                "\(result.stderr)")
        #expect(result.stderr.contains("wf.yml:9:38: error: the executor 'ssh' refuses its options: ssh executor: 'host' and 'hosts' are both given"), "\(result.stderr)")
        #expect(result.stderr.contains("wf.yml:12:53: error: the executor 'oci' refuses its options: oci executor: 'grace-seconds' must be a number of seconds from 0 to 3600"),
                "\(result.stderr)")
        #expect(result.stderr.contains("wf.yml:15:33: error: the executor 'oci' refuses its options: oci executor: 'options': '-l=io.nixactions.run=x' would set a label of the executor's own"),
                "\(result.stderr)")
        #expect(result.stderr.contains("nixactions: wf.yml: 5 errors") && !result.stderr.contains("'late'"), "\(result.stderr)")
    }

    @Test("run refuses before any job starts, with exit 2, what validate refuses of an executor's options: a name, a value written out, a required option missing when none is made by ${{ }} (a job's own executor, a label's from --runner or the configuration); an option made by ${{ }} is the run's (audit 67 remote N6, L2)")
    func runRefusesExecutorOptions() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              first:
                steps: [ { run: "touch ran" } ]
              rel:
                needs: first
                executor: { plugin: ssh, with: { host: h, workdir: relative/dir } }
                steps: [ { run: "true" } ]
              typo:
                executor: { plugin: ssh, with: { hostt: h } }
                steps: [ { run: "true" } ]
              nohost:
                executor: { plugin: ssh }
                steps: [ { run: "true" } ]
              noimage:
                executor: { plugin: oci, with: { engine: podman } }
                steps: [ { run: "true" } ]
              gpu:
                runs-on: gpu
                steps: [ { run: "true" } ]
              engine:
                executor: { plugin: oci, with: { image: alpine, engine: "" } }
                steps: [ { run: "true" } ]
              rkt:
                executor: { plugin: local, with: { engine: rkt } }
                steps: [ { run: "true" } ]
              late:
                strategy: { matrix: { h: [a, b] } }
                executor: { plugin: ssh, with: { host: "${{ matrix.h }}" } }
                steps: [ { run: "true" } ]
            """)
        for arguments in [["run", "wf.yml", "--runner", "gpu=ssh"], ["run", "--dry-run", "wf.yml", "--runner", "gpu=ssh"]] {
            let result = try await nixactions(arguments, in: temp.path)
            #expect(result.status == 2, "\(arguments): \(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("wf.yml:6:47: error: the executor 'ssh' refuses its options: ssh executor: 'workdir' 'relative/dir' is not an absolute path\n  in workflow 'wf' › job 'rel'"),
                    "\(result.stderr)")
            #expect(result.stderr.contains("wf.yml:9:38: error: the executor 'ssh' has no option 'hostt'\n  in workflow 'wf' › job 'typo'\n  hint: did you mean 'host'?"), "\(result.stderr)")
            #expect(result.stderr.contains("wf.yml:12:15: error: the executor 'ssh' refuses its options: the ssh executor needs a 'host' (or 'hosts')\n  in workflow 'wf' › job 'nohost'"),
                    "\(result.stderr)")
            #expect(result.stderr.contains("error: the executor 'oci' refuses its options: the oci executor needs an 'image'\n  in workflow 'wf' › job 'noimage'"), "\(result.stderr)")
            #expect(result.stderr.contains("wf.yml:18:14: error: the executor 'ssh' refuses its options: the ssh executor needs a 'host' (or 'hosts')\n  in runs-on label 'gpu' (job 'gpu')"),
                    "\(result.stderr)")
            #expect(result.stderr.contains("error: the executor 'oci' refuses its options: oci executor: engine '' is not podman or docker\n  in workflow 'wf' › job 'engine'"),
                    "\(result.stderr)")
            #expect(result.stderr.contains("error: the executor 'local' refuses its options: local executor: engine 'rkt' is not podman or docker\n  in workflow 'wf' › job 'rkt'"),
                    "\(result.stderr)")
            #expect(result.stderr.contains("nixactions: no job was started") && !result.stderr.contains("'late'"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: temp.path + "/ran"), "a job ran before the refusal")
        }
        let validate = try await nixactions(["validate", "wf.yml"], in: temp.path)
        #expect(validate.status == 2 && validate.stderr.contains("nixactions: wf.yml: 6 errors") && !validate.stderr.contains("'late'"), "\(validate.stderr)")
        // The same label mapped in the configuration, with no host and with one.
        try temp.write("nohost.yml", "runners: { gpu: { plugin: ssh } }\n")
        let config = try await nixactions(["validate", "--config", "nohost.yml", "wf.yml"], in: temp.path)
        #expect(config.status == 2 && config.stderr.contains("nohost.yml:1:17: error: the executor 'ssh' refuses its options: the ssh executor needs a 'host' (or 'hosts')"),
                "\(config.stderr)")
        try temp.write("late.yml", """
            jobs:
              late:
                strategy: { matrix: { h: [a, b] } }
                executor: { plugin: ssh, with: { host: "${{ matrix.h }}" } }
                steps: [ { run: "true" } ]
            """)
        let late = try await nixactions(["validate", "late.yml"], in: temp.path)
        #expect(late.status == 0 && late.stderr.isEmpty, "\(late.stderr)")
    }

    @Test("a runs-on label's executor is checked with each job's own services, whatever the jobs' order; a label from --runner has no options of its own, and its hint says where they go (review 68 M1, L3)")
    func labelOptionsPerJob() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                runs-on: gpu
                steps: [ { run: "touch ran" } ]
              b:
                runs-on: gpu
                services: { db: { image: alpine, options: "--network host" } }
                steps: [ { run: "true" } ]
            """)
        let local = try await nixactions(["run", "wf.yml", "--runner", "gpu=local"], in: temp.path)
        #expect(local.status == 2, "\(local.stdout)\(local.stderr)")
        #expect(local.stderr.contains("error: the executor 'local' refuses its options: local executor: service 'db' sets '--network'\n  in runs-on label 'gpu' (job 'b')"),
                "\(local.stderr)")
        #expect(!local.stderr.contains("gives the executor no options") && !FileManager.default.fileExists(atPath: temp.path + "/ran"), "\(local.stderr)")
        let ssh = try await nixactions(["run", "wf.yml", "--runner", "gpu=ssh"], in: temp.path)
        #expect(ssh.status == 2, "\(ssh.stdout)\(ssh.stderr)")
        #expect(ssh.stderr.components(separatedBy: "the ssh executor needs a 'host'").count == 2, "said once for the label: \(ssh.stderr)")
        #expect(ssh.stderr.contains("hint: --runner gpu=ssh gives the executor no options: map the label in .nixactions/config.yml with them"), "\(ssh.stderr)")
    }

    @Test("a plugin's description of its options: names it gives are checked; one it cannot give, or gives as something other than an OptionsSchema, is a warning and checks nothing; a plugin without the interface is not checked",
          arguments: ["names", "garbage", "fail", "none"])
    func pluginOptionsDescription(_ mode: String) async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"])
        try temp.write("wf.yml", """
            secrets:
              - { provider: misbehaving, path: x, mode: ok }
            jobs:
              a:
                executor: { plugin: misbehaving, with: { size: 1, colour: red } }
                steps: [ { run: "true" } ]
            """)
        let environment = ["NIXACTIONS_PLUGIN_PATH": folder].merging(mode == "none" ? [:] : ["MISBEHAVING_OPTIONS": mode]) { _, given in given }
        let result = try await nixactions(["validate", "wf.yml"], in: temp.path, environment: environment)
        switch mode {
        case "names":
            #expect(result.status == 2, "\(result.stderr)")
            #expect(result.stderr.contains("wf.yml:2:39: error: the secret provider 'misbehaving' has no option 'mode'\n  in workflow 'wf'\n  hint: its options: path"),
                    "\(result.stderr)")
            #expect(result.stderr.contains("wf.yml:5:55: error: the executor 'misbehaving' has no option 'colour'\n  in workflow 'wf' › job 'a'\n  hint: its options: size"),
                    "\(result.stderr)")
        case "garbage":
            #expect(result.status == 0 && result.stdout.contains("wf.yml: valid"), "\(result.stderr)")
            #expect(result.stderr.contains("warning: plugin 'misbehaving' described its options in a message that is not an OptionsSchema"), "\(result.stderr)")
            #expect(result.stderr.components(separatedBy: "described its options").count == 2, "one warning per plugin: \(result.stderr)")
        case "fail":
            #expect(result.status == 0 && result.stdout.contains("wf.yml: valid"), "\(result.stderr)")
            #expect(result.stderr.contains("warning: plugin 'misbehaving' did not describe its options: the options are in another castle; its options are not checked here"),
                    "\(result.stderr)")
        default:
            #expect(result.status == 0 && result.stdout.contains("wf.yml: valid") && !result.stderr.contains("option"), "\(result.stderr)")
        }
    }
}
