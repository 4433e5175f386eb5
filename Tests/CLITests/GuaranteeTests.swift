import Foundation
import Testing
import TestSupport

/// Promises the docs make that need the whole binary to check.
@Suite("Documented guarantees, end to end")
struct GuaranteeTests {
    @Test("a reader that closes the pipe early does not stop the run from finishing and cleaning up")
    func closedPipe() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: for i in $(seq 1 20000); do echo line-$i; done\n      - run: echo after\n")
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = temp.path
        let pipe = try ChildPipe()
        let process = try LaunchedProcess([nixactionsBinary.path, "run", "wf.yml", "--log-format", "plain"], in: temp.path,
                                          environment: environment, output: pipe.writing, errors: FileHandle.nullDevice)
        pipe.closeChildEnd()
        _ = pipe.reading.readData(ofLength: 100)
        try pipe.reading.close()  // like `| head`
        await waitForExit(process)
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: temp.path).filter { $0.hasPrefix("nixactions-") }
        #expect(leftovers.isEmpty)
        let runs = try FileManager.default.contentsOfDirectory(atPath: temp.path + "/.nixactions/runs")
        let summary = try String(contentsOfFile: temp.path + "/.nixactions/runs/\(runs[0])/summary.md", encoding: .utf8)
        #expect(summary.contains("a    success"))
    }

    @Test("a job that times out keeps what its finished steps produced; cleanup steps still run")
    func jobTimeoutKeepsOutputs() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                timeout: 1s
                steps:
                  - run: |
                      echo "first=1" >> "$GITHUB_OUTPUT"
                      echo "done before the timeout" >> "$GITHUB_STEP_SUMMARY"
                  - run: sleep 30
                  - if: always()
                    run: echo cleanup ran
              b:
                needs: a
                if: always()
                steps:
                  - run: echo "a=${{ needs.a.result }} first=${{ needs.a.outputs.first }}"
            """)
        let result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("job 'a' timed out after 1s; its steps were ended"))
        #expect(result.stdout.contains("[a] cleanup ran\n"))
        #expect(result.stdout.contains("[b] a=failure first=1\n"))
        #expect(result.stdout.contains("Summary of 'a':\n  done before the timeout"))
    }

    @Test("keys not supported yet: validate warns, run refuses naming each, dry-run plans")
    func unsupportedKeys() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                steps: [ { run: echo never, background: true } ]
            """)
        let validate = try await nixactions(["validate", "wf.yml"], in: temp.path)
        #expect(validate.status == 0)
        #expect(validate.stderr.contains("warning: job 'a': parallel steps ('background' of step 1) is not supported by this version of nixactions yet; 'run' will refuse it"))
        let run = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(run.status == 2)
        for key in ["parallel steps ('background' of step 1)"] {
            #expect(run.stderr.contains("error: job 'a': \(key) is not supported by this version of nixactions yet"))
        }
        #expect(run.stderr.contains("nixactions: refusing to run rather than skip what it cannot do"))
        #expect(!run.stdout.contains("==> job"))
        #expect(try await nixactions(["run", "wf.yml", "--dry-run"], in: temp.path).status == 0)
    }

    @Test("a matrix of 256 combinations plans, 257 is refused, one exclude empties runs once without a matrix (as on GitHub)")
    func matrixLimits() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        func matrix(_ count: Int) -> String {
            "jobs:\n  t:\n    strategy: { matrix: { n: [\((1...count).map(String.init).joined(separator: ", "))] } }\n    steps: [ { run: x } ]\n"
        }
        try temp.write("ok.yml", matrix(256))
        try temp.write("big.yml", matrix(257))
        try temp.write("empty.yml", "jobs:\n  t:\n    strategy: { matrix: { n: [1], exclude: [ { n: 1 } ] } }\n    steps: [ { run: 'echo \"total=${{ strategy.job-total }} n=${{ matrix.n }}.\"' } ]\n")
        let ok = try await nixactions(["run", "ok.yml", "--dry-run"], in: temp.path)
        #expect(ok.status == 0)
        #expect(ok.stdout.hasPrefix("plan of workflow 'ok': 1 job, 256 to run"))
        let big = try await nixactions(["run", "big.yml", "--dry-run"], in: temp.path)
        #expect(big.status == 2)
        #expect(big.stderr.contains("error: the matrix of job 't' has 257 combinations; at most 256 are allowed"))
        // A matrix that exclude empties runs once, without a matrix, as GitHub's parser has it;
        // validate says so.
        let empty = try await nixactions(["validate", "empty.yml"], in: temp.path)
        #expect(empty.status == 0, "\(empty.stderr)")
        #expect(empty.stderr.contains("warning: the matrix of job 't' has no combinations left after 'exclude': the job runs once, without a matrix"), "\(empty.stderr)")
        let once = try await nixactions(["run", "empty.yml", "--log-format", "plain"], in: temp.path)
        #expect(once.status == 0, "\(once.stdout)\(once.stderr)")
        #expect(once.stdout.contains("[t] total=1 n=.\n"), "\(once.stdout)")
        // The same from an expression.
        try temp.write("empty2.yml", "jobs:\n  t:\n    strategy: { matrix: \"${{ fromJSON('{\\\"n\\\": [1], \\\"exclude\\\": [{\\\"n\\\": 1}]}') }}\" }\n    steps: [ { run: echo ran } ]\n")
        let expression = try await nixactions(["run", "empty2.yml", "--log-format", "plain"], in: temp.path)
        #expect(expression.status == 0 && expression.stdout.contains("[t] ran\n"), "\(expression.stdout)\(expression.stderr)")
    }

    @Test("SIGTERM: exit 130 even after a failure; jobs not started are cancelled unless always()/cancelled()")
    func sigterm() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              fails: { steps: [ { run: exit 1 } ] }
              long: { steps: [ { run: "touch \(temp.path)/started; kill -TERM $PPID; sleep 30" } ] }
              plain: { needs: long, steps: [ { run: echo plain-ran } ] }
              keep: { needs: long, if: always(), steps: [ { run: echo always-ran } ] }
              onCancel: { needs: long, if: cancelled(), steps: [ { run: echo cancelled-ran } ] }
            """)
        let pipe = try ChildPipe()
        let process = try LaunchedProcess([nixactionsBinary.path, "run", "wf.yml", "--log-format", "plain", "--jobs", "2"], in: temp.path,
                                          environment: ProcessInfo.processInfo.environment, output: pipe.writing)
        pipe.closeChildEnd()
        // The step sends SIGTERM to its parent, the host, while the run is under way.
        let text = String(decoding: pipe.reading.readDataToEndOfFile(), as: UTF8.self)
        await waitForExit(process)
        #expect(process.terminationStatus == 130, "\(text)")
        #expect(text.contains("cancelling (signal 15)"))
        #expect(text.contains("[plain] cancelled before it started"))
        #expect(!text.contains("plain-ran"))
        #expect(text.contains("[keep] always-ran"))
        #expect(text.contains("[onCancel] cancelled-ran"))
    }

    @Test("a secret provider no plugin provides: validate warns (once per id) with a did-you-mean, run refuses it with exit 2")
    func unknownSecretProvider() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            secrets:
              - { provider: fiel, file: x.env }
            jobs:
              a:
                secrets:
                  - { provider: fiel, file: y.env }
                  - { provider: nowhere, file: z.env }
                steps: [ { run: echo a-ran } ]
            """)
        let validate = try await nixactions(["validate", "wf.yml"], in: temp.path)
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stderr.contains("wf.yml:2:5: warning: no secret provider 'fiel' was found on this machine; 'run' here refuses the workflow\n  in workflow 'wf'\n  hint: did you mean 'file'?"), "\(validate.stderr)")
        #expect(validate.stderr.components(separatedBy: "no secret provider 'fiel'").count == 2, "once: \(validate.stderr)")
        #expect(validate.stderr.contains("warning: no secret provider 'nowhere' was found on this machine"), "\(validate.stderr)")
        let run = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.contains("no secret provider 'fiel' was found"), "\(run.stderr)")
        #expect(!run.stdout.contains("a-ran"))
    }

    @Test("an executor no plugin provides: validate warns, run refuses before any job starts, with a did-you-mean")
    func unknownExecutor() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              b: { steps: [ { run: echo b-ran } ] }
              a: { needs: b, executor: locl, steps: [ { run: echo a } ] }
              c:
                cache: { path: deps, key: k, backend: s4 }
                steps:
                  - uses: actions/cache@v4
                    with: { path: more, key: k2, backend: nada }
            """)
        let result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 2)
        #expect(result.stderr.contains("wf.yml:3:28: error: job 'a': no executor plugin 'locl' was found\n  hint: did you mean 'local'?"), "\(result.stderr)")
        #expect(result.stderr.contains("nixactions: no job was started"))
        #expect(!result.stdout.contains("b-ran"), "the job before it did not run")
        // The workflow is valid: the plugin may exist where it is meant to run.
        let validate = try await nixactions(["validate", "wf.yml"], in: temp.path)
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stderr.contains("wf.yml:3:28: warning: no executor plugin 'locl' was found on this machine; 'run' here refuses job 'a'"), "\(validate.stderr)")
        #expect(validate.stderr.contains("warning: no cache backend 's4' was found on this machine; job 'c' runs without that cache here\n  in workflow 'wf' › job 'c'\n  hint: did you mean 's3'?"), "\(validate.stderr)")
        #expect(validate.stderr.contains("wf.yml:8:47: warning: no cache backend 'nada' was found on this machine"), "\(validate.stderr)")
        // Without the executor job, the caches are only warned about: the job runs without them.
        let run = try await nixactions(["run", "wf.yml", "c"], in: temp.path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("no cache backend 'nada' was found"), "\(run.stdout)")
        // --dry-run marks the job, as it marks an unmapped label, and exits as run would (audit 66 remote L6).
        let dry = try await nixactions(["run", "wf.yml", "--dry-run"], in: temp.path)
        #expect(dry.status == 2 && dry.stderr.contains("wf.yml:3:28: error: job 'a': no executor plugin 'locl' was found"), "\(dry.stderr)")
        #expect(dry.stdout.contains("a  [error: no executor plugin 'locl' was found;"), "\(dry.stdout)")

        // A plugin file named for the id that is not an executor counts as none; an id with ${{ }} is an error.
        try temp.write("kind.yml", "jobs:\n  first: { steps: [ { run: echo first-ran } ] }\n  a: { executor: sops, steps: [ { run: echo a } ] }\n")
        let kind = try await nixactions(["run", "kind.yml"], in: temp.path)
        #expect(kind.status == 2, "\(kind.stdout)\(kind.stderr)")
        #expect(kind.stderr.contains("error: job 'a': no executor plugin 'sops' was found"), "\(kind.stderr)")
        #expect(!kind.stdout.contains("first-ran"))
        try temp.write("expr.yml", "jobs:\n  a: { executor: \"${{ 'local' }}\", cache: { path: d, key: k, backend: \"${{ 'local' }}\" }, steps: [ { run: echo a } ] }\n")
        let expression = try await nixactions(["validate", "expr.yml"], in: temp.path)
        #expect(expression.status == 2)
        #expect(expression.stderr.contains("error: the executor's plugin id cannot use ${{ }}"), "\(expression.stderr)")
        #expect(expression.stderr.contains("error: cache.backend cannot use ${{ }}"), "\(expression.stderr)")
    }

    @Test("a step failure allowed by continue-on-error is said so, also when its expression fails")
    func toleratedEvaluationFailure() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo ${{ fromJSON('not json') }}\n        continue-on-error: true\n      - run: echo went-on\n")
        let result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 0)
        #expect(result.stdout.contains("cannot evaluate 'run'"))
        #expect(result.stdout.contains("failed; allowed by continue-on-error"))
        #expect(result.stdout.contains("[a] went-on"))
    }
}
