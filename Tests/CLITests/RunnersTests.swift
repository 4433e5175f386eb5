import Foundation
import Testing
import TestSupport

@Suite("nixactions run: runs-on labels choose the executor (.nixactions/config.yml, --runner)")
struct RunnersTests {
    static let workflow = """
        name: labels
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - run: echo "build on $RUNNER_OS"
          test:
            strategy: { matrix: { os: [ubuntu-latest, windows-latest, macos-14] } }
            runs-on: ${{ matrix.os }}
            steps:
              - run: echo "test on ${{ matrix.os }}"
          after:
            needs: [test]
            runs-on: self-hosted
            steps:
              - run: echo after ran
          farm:
            runs-on: [self-hosted, build-farm]
            steps:
              - run: printenv GITHUB_WORKSPACE
        """

    @Test("a Windows or macOS instance is skipped with the reason, Linux ones run here, and the run succeeds")
    func skipsOtherSystems() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--runner", "build-farm=local"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[build] build on Linux\n"))
        #expect(result.stdout.contains("[test-os-ubuntu-latest] test on ubuntu-latest\n"))
        #expect(result.stdout.contains("[test-os-windows-latest] skipped: it runs on 'windows-latest' and this machine runs Linux"))
        #expect(result.stdout.contains("[test-os-macos-14] skipped: it runs on 'macos-14' and this machine runs Linux"))
        #expect(!result.stdout.contains("test on windows-latest"))
        // A skipped instance is not a failure: the job that needs the matrix still runs.
        #expect(result.stdout.contains("[after] after ran\n"))
    }

    @Test("--runner with a label no job has warns (a typo ran the job here without a word); with an executor no plugin provides it is an error, used or not (audit 51)")
    func checkedOverrides() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow)
        let typo = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--runner", "build-farm=local", "--runner", "ubuntu-lates=local"],
                                        in: temp.path)
        #expect(typo.status == 0, "\(typo.stdout)\(typo.stderr)")
        #expect(typo.stderr.contains("warning: --runner ubuntu-lates=local: no job of this run has the label 'ubuntu-lates', so it changes nothing\n  hint: did you mean 'ubuntu-latest'?"),
                "\(typo.stderr)")
        // The matrix's labels count (windows-latest is one of them, from an expression).
        #expect(!typo.stderr.contains("build-farm=local: no job"), "\(typo.stderr)")
        let matrix = try await nixactions(["run", "wf.yml", "--dry-run", "--runner", "build-farm=local", "--runner", "windows-latest=local"], in: temp.path)
        #expect(!matrix.stderr.contains("no job of this run has"), "\(matrix.stderr)")
        let missing = try await nixactions(["run", "wf.yml", "--dry-run", "--runner", "build-farm=local", "--runner", "nowhere=nosuch"], in: temp.path)
        #expect(missing.status == 2, "\(missing.stdout)\(missing.stderr)")
        #expect(missing.stderr.contains("error: --runner nowhere=nosuch: "), "\(missing.stderr)")
    }

    @Test("a label no runner carries stops the run before any job starts, at its line")
    func unmappedLabel() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 2)
        #expect(result.stderr.contains("wf.yml:18:28: error: runs-on label 'build-farm' of job 'farm' is not mapped to an executor\n  hint: map it under 'runners:' in .nixactions/config.yml, or run with --runner build-farm=local"), "\(result.stderr)")
        #expect(result.stderr.contains("nixactions: no job was started"))
        #expect(!result.stdout.contains("==> job"))
        #expect(try await nixactions(["run", "wf.yml", "--runner", "build-farm"], in: temp.path).stderr.contains("--runner 'build-farm' must be LABEL=EXECUTOR"))
        // A mistyped --runner label: the hint names the mapping's typo, not the workflow's label (audit 58 examples L4).
        let mistyped = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--runner", "build-fram=local"], in: temp.path)
        #expect(mistyped.status == 2)
        #expect(mistyped.stderr.contains("is not mapped to an executor\n  hint: 'build-fram' is mapped (runners: or --runner): if that is a typo, map 'build-farm' instead, e.g. --runner build-farm=local"),
                "\(mistyped.stderr)")
    }

    @Test("the project's config maps a label to a plugin executor; list, plugins list and --dry-run show the choice")
    func configMapsLabel() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let plugins = try temp.pluginFolder(["double": "nixactions-testplugin-double"])
        try temp.write("wf.yml", Self.workflow)
        try temp.write(".nixactions/config.yml", """
            # runs-on label → executor
            runners:
              build-farm: { plugin: test-double, with: {} }
              gpu: missing-plugin
            """)
        let environment = ["NIXACTIONS_PLUGIN_PATH": plugins]
        let result = try await nixactions(["run", "wf.yml", "farm", "--log-format", "plain"], in: temp.path, environment: environment)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        // The test double's workspace: the step ran there, not on this machine.
        #expect(result.stdout.contains("[farm] /test-double/farm\n"), "\(result.stdout)")

        let list = try await nixactions(["list", "wf.yml"], in: temp.path)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("  farm  executor: test-double (runs-on build-farm)"), "\(list.stdout)")
        #expect(list.stdout.contains("  test (matrix)  executor: local; skipped here"), "\(list.stdout)")

        let dry = try await nixactions(["run", "wf.yml", "--dry-run"], in: temp.path, environment: environment)
        #expect(dry.stdout.contains("farm  [executor: test-double (runs-on build-farm)"), "\(dry.stdout)")
        // Where that plugin is not installed, the plan says so (run would refuse the job).
        let elsewhere = try await nixactions(["run", "wf.yml", "--dry-run"], in: temp.path)
        #expect(elsewhere.stdout.contains("farm  [error: no executor plugin 'test-double' was found"), "\(elsewhere.stdout)")
        // Refused as run would refuse it: exit 2 and the error (audit 66 remote L6: the dry run exited 0).
        #expect(elsewhere.status == 2 && elsewhere.stderr.contains("error: job 'farm': no executor plugin 'test-double' was found"), "\(elsewhere.stderr)")
        #expect(dry.stdout.contains("test (os: windows-latest)  [skipped: it runs on 'windows-latest'"), "\(dry.stdout)")

        let listed = try await nixactions(["plugins", "list"], in: temp.path, environment: environment)
        #expect(listed.stdout.contains("runners (runs-on label → executor):"), "\(listed.stdout)")
        #expect(listed.stdout.contains("  build-farm  test-double  from .nixactions/config.yml:3:3"), "\(listed.stdout)")
        #expect(listed.stdout.contains("  gpu         missing-plugin (not installed)  from .nixactions/config.yml:4:3"), "\(listed.stdout)")

        // --runner overrides the file for one run.
        let local = try await nixactions(["run", "wf.yml", "farm", "--log-format", "plain", "--runner", "build-farm=local"],
                                   in: temp.path, environment: environment)
        #expect(local.status == 0)
        #expect(!local.stdout.contains("/test-double/"))
    }

    @Test("a broken configuration file is an error at its line, for run, list and plugins list")
    func brokenConfig() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps: [ { run: 'true' } ]\n")
        try temp.write("bad.yml", "runners:\n  farm: { plugn: ssh }\n")
        for arguments in [["run", "wf.yml"], ["list", "wf.yml"], ["plugins", "list"]] {
            let result = try await nixactions(arguments + ["--config", "bad.yml"], in: temp.path)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains("bad.yml:2:11: error: unknown key 'plugn' in executor"), "\(arguments): \(result.stderr)")
        }
        let missing = try await nixactions(["run", "wf.yml", "--config", "nope.yml"], in: temp.path)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("error: cannot read the configuration file 'nope.yml'"))
    }

    @Test("a runs-on label made from a job's outputs that no runner carries fails that job at runs-on's line (audit 66 remote L6: no location)")
    func unmappedLabelFromNeeds() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                outputs: { label: "${{ steps.s.outputs.label }}" }
                steps: [ { id: s, run: echo "label=gpu2" >> "$GITHUB_OUTPUT" } ]
              c:
                needs: a
                runs-on: ${{ needs.a.outputs.label }}
                steps: [ { run: echo "c ran" } ]
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("wf.yml:7:14: runs-on label 'gpu2' of job 'c' is not mapped to an executor"), "\(result.stdout)")
        #expect(!result.stdout.contains("c ran"))
    }
}
