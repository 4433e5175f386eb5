import Foundation
import Testing
import TestSupport

/// What docs/cli.md says about the command line itself (versions, usage errors, finding a
/// workflow, `list`, `validate`'s output, exit statuses), each checked through the binary.
@Suite("Documented command line")
struct DocumentedCLIScenarios {
    static let workflow = "jobs:\n  a:\n    steps:\n      - run: echo from-WHERE\n"

    @Test("--version prints 0.1.0 at the top and for every subcommand; a usage error prints Error: and the usage line, exit 2")
    func versionAndUsage() async throws {
        for arguments in [["--version"], ["run", "--version"], ["validate", "--version"], ["list", "--version"],
                          ["graph", "--version"], ["plugins", "--version"]] {
            let result = try await nixactions(arguments)
            #expect(result.status == 0, "\(arguments)")
            #expect(result.stdout == "0.1.0\n", "\(arguments): \(result.stdout)")
        }
        for arguments in [["run", "--jobs", "0", "wf.yml"], ["run"], ["run", "--no-such-option", "wf.yml"], ["run", "-j", "-1", "wf.yml"]] {
            let result = try await nixactions(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.hasPrefix("Error: "), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("\nUsage: nixactions run "), "\(arguments): \(result.stderr)")
        }
    }

    @Test("a folder gives its workflow.yml, else its workflow.yaml; a name ending in .yml is also tried as written; no match lists the names found")
    func findingAWorkflow() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("both/workflow.yml", Self.workflow.replacingOccurrences(of: "WHERE", with: "yml"))
        try temp.write("both/workflow.yaml", Self.workflow.replacingOccurrences(of: "WHERE", with: "yaml"))
        try temp.write("yaml-only/workflow.yaml", Self.workflow.replacingOccurrences(of: "WHERE", with: "yaml-only"))
        try temp.write("written.yml", Self.workflow.replacingOccurrences(of: "WHERE", with: "written"))
        try temp.write(".github/workflows/deploy.yml", Self.workflow.replacingOccurrences(of: "WHERE", with: "github"))
        for (argument, expected) in [("both", "[a] from-yml\n"), ("yaml-only", "[a] from-yaml-only\n"),
                                     ("written.yml", "[a] from-written\n"), ("deploy.yml", "[a] from-github\n"),
                                     ("deploy", "[a] from-github\n")] {
            let result = try await nixactions(["run", argument, "--log-format", "plain", "--log-dir", "logs"], in: temp.path)
            #expect(result.status == 0, "\(argument): \(result.stderr)")
            #expect(result.stdout.contains(expected), "\(argument): \(result.stdout)")
        }
        // Found by name: shown by its path relative to the current folder (docs audit 53: absolute).
        let byName = try await nixactions(["validate", "deploy"], in: temp.path)
        #expect(byName.stdout == ".github/workflows/deploy.yml: valid\n", "\(byName.stdout)")
        // Nothing close to the name: the names that are there.
        let missing = try await nixactions(["run", "zzzzzz"], in: temp.path)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("error: no workflow 'zzzzzz' found"), "\(missing.stderr)")
        #expect(missing.stderr.contains("hint: workflows here: deploy"), "\(missing.stderr)")
    }

    @Test("list: no workflows says where it looked; --json gives an invalid workflow's errors instead of its jobs")
    func list() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let empty = try await nixactions(["list"], in: temp.path)
        #expect(empty.status == 0)
        #expect(empty.stdout == "no workflows in .nixactions/workflows/ or .github/workflows/\n", "\(empty.stdout)")
        try temp.write(".github/workflows/broken.yml", "jobs:\n  a:\n    step: []\n")
        try temp.write(".github/workflows/ok.yml", Self.workflow)
        let json = try await nixactions(["list", "--json"], in: temp.path)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], "\(json.stdout)")
        let broken = try #require(entries.first { ($0["file"] as? String) == ".github/workflows/broken.yml" })
        let ok = try #require(entries.first { ($0["file"] as? String) == ".github/workflows/ok.yml" })
        #expect(broken["jobs"] == nil)
        #expect(((broken["errors"] as? [String]) ?? []).contains { $0.contains("unknown key 'step' in job 'a'") }, "\(broken)")
        #expect(ok["errors"] == nil)
        #expect((ok["jobs"] as? [[String: Any]])?.map { $0["id"] as? String } == ["a"])
    }

    @Test("validate ends an invalid workflow with 'nixactions: FILE: N errors'; notes come from validate only, never from run")
    func diagnosticsOutput() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("broken.yml", "jobs:\n  a:\n    step: []\n")
        try temp.write("notes.yml", "jobs:\n  a:\n    permissions: read-all\n    steps:\n      - run: echo hi\n")
        let broken = try await nixactions(["validate", "broken.yml"], in: temp.path)
        #expect(broken.status == 2)
        // One error for the misspelt key (not also "has no 'steps'": audit 64 cli M5).
        #expect(broken.stderr.hasSuffix("nixactions: broken.yml: 1 error\n"), "\(broken.stderr)")
        let validated = try await nixactions(["validate", "notes.yml"], in: temp.path)
        #expect(validated.status == 0)
        #expect(validated.stderr.contains("notes.yml:3:5: note: 'permissions' is a GitHub-only key"), "\(validated.stderr)")
        let run = try await nixactions(["run", "notes.yml", "--log-dir", "logs"], in: temp.path)
        #expect(run.status == 0)
        #expect(!(run.stdout + run.stderr).contains("note:"), "\(run.stdout)\(run.stderr)")
    }

    @Test("--dry-run takes no run number and shows -j (the number of cores by default); a log folder that cannot be made is a warning saying why, and the run goes on")
    func dryRunAndLogFolder() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow.replacingOccurrences(of: "WHERE", with: "run"))
        let dry = try await nixactions(["run", "wf.yml", "--dry-run"], in: temp.path)
        #expect(dry.status == 0)
        // -j defaults to the number of cores (this process's count: same machine, same affinity).
        #expect(dry.stdout.contains(", at most \(ProcessInfo.processInfo.activeProcessorCount) at once\n"), "\(dry.stdout)")
        let three = try await nixactions(["run", "wf.yml", "--dry-run", "-j", "3"], in: temp.path)
        #expect(three.stdout.contains(", at most 3 at once\n"), "\(three.stdout)")
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/.nixactions/run-number"), "--dry-run took a run number")
        try temp.write("file", "a file where the log folder would go\n")
        let run = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", "file/logs"], in: temp.path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("[a] from-run\n"))
        #expect(run.stderr.contains("warning: cannot keep logs in file/logs/"), "\(run.stderr)")
        #expect(run.stderr.contains(": Not a directory\n"), "\(run.stderr)")
        let number = try String(contentsOfFile: temp.path + "/.nixactions/run-number", encoding: .utf8)
        #expect(number.hasPrefix("1"), "\(number)")
    }

    @Test("job-level caches without an id are cache, cache-2; actions/cache accepts enableCrossOsArchive and upload-chunk-size; hashFiles follows a link to a file; github.run_attempt and friends")
    func cachingAndContexts() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                workspace: { copy-project: false }
                cache:
                  - { paths: [one], key: first-key }
                  - { paths: [two], key: second-key }
                steps:
                  - run: |
                      mkdir -p dir one two && echo content > dir/real.txt && ln -s dir/real.txt link.txt
                      echo "keys=${{ steps.cache.outputs.cache-primary-key }},${{ steps.cache-2.outputs.cache-primary-key }}"
                      echo "github=${{ github.run_attempt }}/${{ github.retention_days }}/${{ github.ref_protected }}/${{ github.secret_source }}"
                  - run: echo "link=${{ hashFiles('link.txt') }} real=${{ hashFiles('dir/real.txt') }}"
                  - uses: actions/cache@v4
                    with:
                      path: dir
                      key: k-1
                      enableCrossOsArchive: true
                      upload-chunk-size: 1000000
            """)
        let validated = try await nixactions(["validate", "wf.yml"], in: temp.path)
        #expect(validated.status == 0, "\(validated.stderr)")
        // Each cache action takes its own inputs: actions/cache/restore uploads nothing.
        try temp.write("restore.yml", "jobs:\n  a:\n    steps:\n      - uses: actions/cache/restore@v4\n        with:\n          path: x\n          key: k\n          upload-chunk-size: 5\n")
        let restore = try await nixactions(["validate", "restore.yml"], in: temp.path)
        // As GitHub's runner: a warning of the undeclared input, and the step runs.
        #expect(restore.status == 0)
        #expect(restore.stderr.contains("restore.yml:8:30: warning: actions/cache/restore declares no input 'upload-chunk-size'"), "\(restore.stderr)")
        #expect(restore.stderr.contains("hint: inputs: backend, enableCrossOsArchive, fail-on-cache-miss, key, lookup-only, path, restore-keys"),
                "\(restore.stderr)")
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", "logs"], in: temp.path,
                                          environment: ["XDG_CACHE_HOME": temp.path + "/cache-home"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] keys=first-key,second-key\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] github=1/90/false/None\n"), "\(result.stdout)")
        let hashes = result.stdout.split(separator: "\n").first { $0.hasPrefix("[a] link=") }.map(String.init) ?? ""
        let parts = hashes.dropFirst("[a] link=".count).split(separator: " ")
        #expect(parts.count == 2 && parts[0].count == 64 && "real=" + parts[0] == parts[1], "\(hashes)")
    }

    @Test("lookup-only: a miss still saves after the steps; an exact hit restores nothing and is not saved again")
    func lookupOnly() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                cache:
                  paths: [deps]
                  key: deps-v1
                  lookup-only: true
                steps:
                  - run: |
                      echo "hit=[${{ steps.cache.outputs.cache-hit }}] present=$([ -d deps ] && echo yes || echo no)"
                      mkdir -p deps && echo data > deps/file
            """)
        let environment = ["XDG_CACHE_HOME": temp.path + "/cache-home"]
        let miss = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", "logs"], in: temp.path, environment: environment)
        #expect(miss.status == 0, "\(miss.stdout)\(miss.stderr)")
        #expect(miss.stdout.contains("[a] hit=[false] present=no\n"), "\(miss.stdout)")
        #expect(miss.stdout.contains("cache 'cache': saved 'deps-v1'"), "\(miss.stdout)")
        let hit = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", "logs"], in: temp.path, environment: environment)
        #expect(hit.status == 0, "\(hit.stdout)\(hit.stderr)")
        #expect(hit.stdout.contains("cache 'cache': found 'deps-v1'; lookup only, nothing restored"), "\(hit.stdout)")
        #expect(hit.stdout.contains("[a] hit=[true] present=no\n"), "\(hit.stdout)")
        #expect(!hit.stdout.contains("saved 'deps-v1'"), "\(hit.stdout)")
    }

    @Test("exit 2: an unreadable --secret-file or --var-file, an --event-path that is not a JSON object, cache prune without a limit, an unknown cache backend")
    func usageExits() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow)
        try temp.write("array.json", "[1, 2]\n")
        let cases: [([String], String)] = [
            (["run", "wf.yml", "--secret-file", "missing.txt"], "cannot read --secret-file 'missing.txt'"),
            (["run", "wf.yml", "--var-file", "missing.txt"], "cannot read --var-file 'missing.txt'"),
            (["run", "wf.yml", "--event-path", "array.json"], "array.json:1:1: error: an event payload must be a JSON object"),
            (["cache", "prune"], "Error: say what to prune"),
            (["cache", "list", "--backend", "no-such-backend"], "error: no cache backend 'no-such-backend' was found"),
        ]
        for (arguments, message) in cases {
            let result = try await nixactions(arguments, in: temp.path)
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    @Test("graph: the workflow, the ascii and the mermaid output docs/cli.md shows are what the binary prints")
    func graphAsDocumented() async throws {
        let page = try String(contentsOfFile: packageDirectory.path + "/docs/cli.md", encoding: .utf8)
        // The fenced blocks after the example's heading: the workflow, then ascii, then mermaid.
        let section = try #require(page.range(of: "For example, for this workflow:")).upperBound
        var blocks: [String] = []
        var rest = page[section...]
        while blocks.count < 3, let open = rest.range(of: "```") {
            let body = rest[open.upperBound...].drop { $0 != "\n" }.dropFirst()
            let close = try #require(body.range(of: "```"))
            blocks.append(String(body[..<close.lowerBound]))
            rest = body[close.upperBound...]
        }
        #expect(blocks.count == 3)
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("ci.yml", blocks[0])
        let ascii = try await nixactions(["graph", "ci.yml"], in: temp.path)
        #expect(ascii.status == 0 && ascii.stdout == blocks[1], "\(ascii.stdout)\n---\n\(blocks[1])")
        let mermaid = try await nixactions(["graph", "ci.yml", "--format", "mermaid"], in: temp.path)
        #expect(mermaid.status == 0 && mermaid.stdout == blocks[2], "\(mermaid.stdout)\n---\n\(blocks[2])")
    }
}
