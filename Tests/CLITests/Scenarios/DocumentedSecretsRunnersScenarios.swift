import Foundation
import Testing
import TestSupport

/// What docs/secrets.md, docs/executors.md and docs/workflow-syntax.md say that no other test
/// checked, each through the binary.
@Suite("Documented secrets and runners")
struct DocumentedSecretsRunnersScenarios {
    @Test("a job output that holds a secret is not passed on, with a warning naming it (GitHub's rule)")
    func outputWithSecret() async throws {
        let result = try await runWorkflow("""
            jobs:
              a:
                outputs:
                  leaked: ${{ steps.s.outputs.value }}
                  plain: ${{ steps.s.outputs.other }}
                steps:
                  - id: s
                    run: |
                      echo "value=before-$SECRET_VALUE-after" >> "$GITHUB_OUTPUT"
                      echo "other=nothing-secret" >> "$GITHUB_OUTPUT"
              b:
                needs: a
                steps:
                  - run: echo "leaked=[${{ needs.a.outputs.leaked }}] plain=[${{ needs.a.outputs.plain }}]"
            """, ["--log-format", "plain", "--secret", "SECRET_VALUE"], environment: ["SECRET_VALUE": "hunter2-secret-value"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[b] leaked=[] plain=[nothing-secret]\n"), "\(result.stdout)")
        #expect((result.stdout + result.stderr).contains("output 'leaked' contains a secret and is not passed on"), "\(result.stdout)")
        #expect(!(result.stdout + result.stderr).contains("hunter2-secret-value"))
    }

    @Test("the secret-looking names (PASSWORD, TOKEN, API_KEY, … alone or after '_') are masked without being declared; a name that only ends in one is not")
    func secretLookingNames() async throws {
        let names = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "ACCESS_KEY", "SECRET_KEY", "PRIVATE_KEY",
                     "SSH_KEY", "CONNECTION_STRING", "CREDENTIALS"]
        var environment: [String: String] = ["MYTOKEN": "not-masked-value-0"]
        for (index, name) in names.enumerated() {
            environment[name] = "masked-alone-\(index)-x"
            environment["DB_" + name] = "masked-after-\(index)-y"
        }
        let printed = (names + names.map { "DB_" + $0 } + ["MYTOKEN"]).map { "echo \"$\($0)\"" }.joined(separator: "\n          ")
        let result = try await runWorkflow("jobs:\n  a:\n    steps:\n      - run: |\n          \(printed)\n", ["--log-format", "plain"],
                                           environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        for (index, _) in names.enumerated() {
            #expect(!result.stdout.contains("masked-alone-\(index)-x"), "\(names[index]) was not masked")
            #expect(!result.stdout.contains("masked-after-\(index)-y"), "DB_\(names[index]) was not masked")
        }
        #expect(result.stdout.components(separatedBy: "[a] ***\n").count - 1 == 2 * names.count, "\(result.stdout)")
        #expect(result.stdout.contains("[a] not-masked-value-0\n"), "MYTOKEN is not a secret's name: \(result.stdout)")
    }

    @Test("--env wins over an exported secret of the same name, and its value is masked too")
    func commandLineEnvOverSecret() async throws {
        let result = try await runWorkflow("""
            secrets: [SHARED_VALUE]
            jobs:
              a:
                steps:
                  - run: echo "[$SHARED_VALUE]" && echo "$SHARED_VALUE" | tr 'a-z' 'A-Z'
            """, ["--log-format", "plain", "--env", "SHARED_VALUE=from-the-command-line"], environment: ["SHARED_VALUE": "from-the-environment"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[a] [***]\n"), "\(result.stdout)")
        // The step saw --env's value (upper-cased it is not the secret itself, so it shows).
        #expect(result.stdout.contains("[a] FROM-THE-COMMAND-LINE\n"), "\(result.stdout)")
        #expect(!result.stdout.contains("from-the-environment") && !result.stdout.contains("FROM-THE-ENVIRONMENT"))
    }

    @Test("a declared name only the workflow's env: sets is masked in the steps but is not in secrets (empty, with a warning)")
    func declaredNameFromWorkflowEnv() async throws {
        let result = try await runWorkflow("""
            secrets: [FROM_ENV_KEY]
            env:
              FROM_ENV_KEY: written-in-the-file-9
            jobs:
              a:
                steps:
                  - run: echo "ctx=[${{ secrets.FROM_ENV_KEY }}] env=[$FROM_ENV_KEY]"
            """, ["--log-format", "plain"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[a] ctx=[] env=[***]\n"), "\(result.stdout)")
        #expect(result.stderr.contains("warning: secrets.FROM_ENV_KEY is not defined: it is the empty string"), "\(result.stderr)")
    }

    @Test("an unknown oci option stops the run before any job starts, naming it at its place with the executor's options; an ssh pool with no host reachable names each host")
    func executorErrors() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let first = Int.random(in: 40000...44000), second = Int.random(in: 44001...48000)
        try temp.write("wf.yml", """
            jobs:
              o:
                executor: { plugin: oci, with: { image: debian:stable, bogus: 1 } }
                steps: [ { run: 'true' } ]
              pool:
                executor: { plugin: ssh, with: { hosts: ["127.0.0.1:\(first)", "127.0.0.1:\(second)"] } }
                steps: [ { run: 'true' } ]
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", "logs"], in: temp.path)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        // At the option's place in the file (audit 61 input: no location), as validate says it
        // (audit 67 remote N6: the run failed the job at its start, after the others had run).
        #expect(result.stderr.contains("wf.yml:3:60: error: the executor 'oci' has no option 'bogus'\n  in workflow 'wf' › job 'o'\n  hint: its options: credentials, engine, env, grace-seconds, home, image,"),
                "\(result.stderr)")
        #expect(result.stderr.contains("nixactions: no job was started") && !result.stdout.contains("started"), "\(result.stdout)\(result.stderr)")
        let pool = try await nixactions(["run", "wf.yml", "pool", "--log-format", "plain", "--log-dir", "logs"], in: temp.path)
        #expect(pool.status == 1, "\(pool.stdout)\(pool.stderr)")
        #expect(pool.stdout.contains("[pool] error: cannot start job 'pool' on executor 'ssh': no host of the pool can be reached (127.0.0.1:\(first): "),
                "\(pool.stdout)")
        #expect(pool.stdout.contains("; 127.0.0.1:\(second): "), "\(pool.stdout)")
    }

    @Test("a job with both executor and container is refused; a label mapped to a plugin that is not installed stops the run before any job starts")
    func executorChoices() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("both.yml", """
            jobs:
              a:
                executor: { plugin: local }
                container: debian:stable
                steps:
                  - run: true
            """)
        let both = try await nixactions(["validate", "both.yml"], in: temp.path)
        #expect(both.status == 2)
        #expect(both.stderr.contains("both choose the executor of job 'a'"), "\(both.stderr)")
        try temp.write(".nixactions/config.yml", "runners:\n  gpu: missing-plugin\n")
        try temp.write("gpu.yml", """
            jobs:
              a:
                runs-on: gpu
                steps:
                  - run: echo never
              b:
                steps:
                  - run: echo ran-b
            """)
        let gpu = try await nixactions(["run", "gpu.yml", "--log-format", "plain", "--log-dir", "logs"], in: temp.path)
        // A label mapped to an executor no plugin provides: refused before any job starts, at the mapping.
        #expect(gpu.status == 2, "\(gpu.stdout)\(gpu.stderr)")
        #expect(gpu.stderr.contains(".nixactions/config.yml:2:8: error: job 'a': no executor plugin 'missing-plugin' was found"), "\(gpu.stdout)\(gpu.stderr)")
        #expect(gpu.stderr.contains("nixactions: no job was started"))
        #expect(!gpu.stdout.contains("ran-b"))
        #expect(!gpu.stdout.contains("[a] never"))
    }
}
