@testable import NixActionsEngine
import Testing

/// Workflow text with position markers `1️⃣`, `2️⃣`, … that are removed before parsing;
/// each marker stands where a diagnostic must point.
struct Marked {
    let text: String
    let positions: [String: (line: Int, column: Int)]

    init(_ marked: String) {
        let markers = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣"]
        var text = ""
        var positions: [String: (Int, Int)] = [:]
        var line = 1, column = 1
        var rest = Substring(marked)
        outer: while let character = rest.first {
            for marker in markers where rest.hasPrefix(marker) {
                positions[marker] = (line, column)
                rest = rest.dropFirst(marker.count)
                continue outer
            }
            text.append(character)
            if character == "\n" { line += 1; column = 1 } else { column += character.unicodeScalars.count }
            rest = rest.dropFirst()
        }
        self.text = text
        self.positions = positions
    }

    /// The diagnostics of loading the text, as "MARKER severity: message" where a marker stands at the position.
    func diagnostics(file: String = "wf.yml") -> [String] {
        WorkflowLoader.load(yaml: text, file: file).diagnostics.filter { $0.severity != .note }.map { diagnostic in
            let marker = positions.first { $0.value.line == diagnostic.location?.line && $0.value.column == diagnostic.location?.column }?.key
            return "\(marker ?? "\(diagnostic.location?.line ?? 0):\(diagnostic.location?.column ?? 0)") \(diagnostic.severity.rawValue): \(diagnostic.message)"
        }
    }

    func hints(file: String = "wf.yml") -> [String?] {
        WorkflowLoader.load(yaml: text, file: file).diagnostics.filter { $0.severity != .note }.map(\.hint)
    }
}

@Suite("Diagnostics point at the marked position with the expected message")
struct DiagnosticMarkerTests {
    @Test("a secret in shell, in a built-in action's input that goes on a command line (checkout's path, ref, repository, sparse-checkout; cache's path) or in an artifact's name is warned about (audit 55b F2, F3: the inputs were not)")
    func secretsOnCommandLines() {
        let diagnostics = Marked("""
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                    with: { path: "x-${{ secrets.TOKEN }}", ref: "${{ secrets.REF }}", fetch-depth: "${{ secrets.DEPTH }}" }
                  - uses: actions/cache@v4
                    with: { path: "${{ secrets.P }}", key: k }
                  - run: echo
                    shell: bash ${{ secrets.SH }} {0}
                  - uses: actions/upload-artifact@v4
                    with: { name: "build-${{ secrets.UP }}", path: x, retention-days: "${{ secrets.DAYS }}" }
                  - uses: actions/download-artifact@v4
                    with: { name: "${{ secrets.DOWN }}" }
            """).diagnostics()
        let warned = diagnostics.filter { $0.contains("warning: secrets.") && $0.contains("which no masking covers") }
        #expect(warned.count == 6, "\(diagnostics)")
        for name in ["TOKEN", "REF", "P", "SH", "UP", "DOWN"] {
            #expect(warned.contains { $0.contains("secrets.\(name) ") }, "\(name): \(diagnostics)")
        }
        #expect(warned.contains { $0.contains("secrets.TOKEN in 'with.path': the value is an argument of the checkout's git and mkdir") }, "\(warned)")
        #expect(warned.contains { $0.contains("secrets.UP in 'with.name': an artifact's name becomes the name of folders") }, "\(warned)")
        #expect(!warned.contains { $0.contains("secrets.DEPTH") || $0.contains("secrets.DAYS") }, "\(warned)")
    }

    @Test("a declared secret read as env.NAME is warned about where secrets.NAME would be; its 'not defined' warning says where it has a value and points at secrets.NAME; a provider entry's variables are defined, one without as: defines any name (audit 58 L2, M1)")
    func declaredSecretsAsEnv() {
        let diagnostics = Marked("""
            secrets: [API_KEY, { provider: env, names: [RAW], as: OTHER }]
            jobs:
              a:
                secrets: [JOB_ONLY, { name: HIDDEN, env: false }]
                steps:
                  - uses: actions/checkout@v4
                    with: { ref: "${{ env.API_KEY }}", path: "${{ env.JOB_ONLY }}" }
                  - uses: actions/upload-artifact@v4
                    with: { name: "n-${{ env.OTHER }}", path: x }
                  - run: echo "${{ env.API_KEY }} ${{ env.HIDDEN }} ${{ env.TYPO }}"
              b:
                steps:
                  - run: echo "${{ env.JOB_ONLY }}"
            """).diagnostics()
        let warned = diagnostics.filter { $0.contains("is a declared secret)") && $0.contains("which no masking covers") }
        #expect(warned.count == 3, "\(diagnostics)")
        #expect(warned.contains { $0.contains("env.API_KEY in 'with.ref' (env.API_KEY is a declared secret): the value is an argument of the checkout's git and mkdir") }, "\(warned)")
        #expect(warned.contains { $0.contains("env.JOB_ONLY in 'with.path'") }, "\(warned)")
        #expect(warned.contains { $0.contains("env.OTHER in 'with.name' (env.OTHER is a declared secret): an artifact's name") }, "\(warned)")
        let undefined = diagnostics.filter { $0.contains("is not defined at workflow, job or step level") }
        // HIDDEN is not exported (env: false), TYPO is nobody's, JOB_ONLY is job a's only.
        #expect(undefined.count == 3 && ["env.HIDDEN", "env.TYPO", "env.JOB_ONLY"].allSatisfy { name in undefined.contains { $0.contains(name) } }, "\(diagnostics)")
        #expect(!undefined.contains { $0.contains("env.API_KEY") || $0.contains("env.OTHER") }, "\(diagnostics)")
        let declared = diagnostics.filter { $0.contains("is a declared secret, which the env context holds only when --secret or --secret-file gives it") }
        // API_KEY twice (with.ref, the run step), JOB_ONLY in job a once; OTHER is a provider's: always there.
        #expect(declared.count == 3 && !declared.contains { $0.contains("env.OTHER") }, "\(diagnostics)")
        let open = Marked("""
            secrets:
              - provider: file
                file: s.env
            jobs:
              a:
                steps:
                  - run: echo "${{ env.ANYTHING }}"
            """).diagnostics()
        #expect(!open.contains { $0.contains("is not defined") }, "\(open)")
    }

    @Test("YAML syntax error")
    func yamlSyntax() {
        let input = Marked("jobs:\n  a:\n    steps:\n      - run: echo\n     1️⃣bad: [\n")
        #expect(input.diagnostics().count == 1)
        #expect(input.diagnostics().first?.hasPrefix("5:6 error: invalid YAML:") == true || input.diagnostics().first?.contains("invalid YAML") == true)
    }

    @Test("a control character is shown where it is and named, after CRLF and wide characters too (audit 53: always 1:1)")
    func controlCharacter() {
        for (text, place, name) in [("jobs:\n  a:\n    steps:\n      - run: echo é \u{07}bell\n", "4:21", "U+0007"),
                                    ("jobs:\r\n  a:\r\n    steps:\r\n      - run: 'ü\u{301} \u{01}'\r\n", "4:18", "U+0001"),
                                    ("jobs:\r  a:\r    x: \u{1F}\r", "3:8", "U+001F"),
                                    ("name: 😀 \u{0}\njobs: {}\n", "1:9", "U+0000")] {
            let diagnostics = WorkflowLoader.load(yaml: text, file: "wf.yml").diagnostics
            #expect(diagnostics.map { "\($0.location.map { "\($0.line):\($0.column)" } ?? "") \($0.message)" }
                == ["\(place) invalid YAML: control characters are not allowed (\(name))"], "\(diagnostics)")
            #expect(diagnostics.first?.hint?.hasPrefix("remove it, or write it as an escape") == true)
        }
    }

    @Test("an empty entry of matrix.include or matrix.exclude is an error, as on GitHub (audit 53: an empty exclude removed every combination)")
    func emptyMatrixEntries() {
        let input = Marked("""
            jobs:
              a:
                strategy:
                  matrix:
                    os: [linux]
                    include: [ 1️⃣{} ]
                    exclude:
                      - 2️⃣{}
                steps: [ { run: x } ]
              b:
                strategy:
                  matrix:
                    os: ${{ fromJSON('["x"]') }}
                    exclude: [ 3️⃣{} ]
                steps: [ { run: x } ]
            """)
        #expect(input.diagnostics() == ["1️⃣ error: an entry of matrix.include is empty", "2️⃣ error: an entry of matrix.exclude is empty",
                                        "3️⃣ error: an entry of matrix.exclude is empty"], "\(input.diagnostics())")
    }

    @Test("wrong types")
    func wrongTypes() {
        let input = Marked("""
            jobs:
              a:
                needs: 1️⃣{ x: 1 }
                continue-on-error: 2️⃣sometimes
                env: 3️⃣[A, B]
                steps: 4️⃣run-this
            """)
        #expect(input.diagnostics() == [
            "1️⃣ error: needs must be a string or a list of strings, found a mapping",
            "2️⃣ error: continue-on-error must be true or false, found 'sometimes'",
            "3️⃣ error: env must be a mapping, found a sequence",
            "4️⃣ error: steps must be a list, found a string",
        ])
    }

    @Test("unknown keys get a did-you-mean")
    func unknownKeys() {
        let input = Marked("""
            1️⃣nmae: ci
            jobs:
              a:
                2️⃣neds: [b]
                steps:
                  - 3️⃣rnu: echo
              b:
                steps:
                  - run: echo
                    4️⃣timeout-minuts: 3
            """)
        #expect(input.diagnostics().sorted() == [
            "1️⃣ error: unknown key 'nmae' in the workflow",
            "2️⃣ error: unknown key 'neds' in job 'a'",
            "3️⃣ error: unknown key 'rnu' in step 1",
            "4️⃣ error: unknown key 'timeout-minuts' in step 1",
        ].sorted())
        #expect(input.hints().compactMap { $0 }.contains("did you mean 'name'?"))
        #expect(input.hints().compactMap { $0 }.contains("did you mean 'needs'?"))
        #expect(input.hints().compactMap { $0 }.contains("did you mean 'run'?"))
        #expect(input.hints().compactMap { $0 }.contains("did you mean 'timeout-minutes'?"))
    }

    @Test("unknown needs get a did-you-mean; a cycle prints the cycle")
    func needsAndCycles() {
        let unknown = Marked("""
            jobs:
              build: { steps: [ { run: x } ] }
              test: { needs: [1️⃣biuld], steps: [ { run: x } ] }
            """)
        #expect(unknown.diagnostics() == ["1️⃣ error: job 'test' needs 'biuld', which is not a job of this workflow"])
        #expect(unknown.hints() == ["did you mean 'build'?"])
        let cycle = Marked("""
            jobs:
              a: { needs: 1️⃣c, steps: [ { run: x } ] }
              b: { needs: a, steps: [ { run: x } ] }
              c: { needs: b, steps: [ { run: x } ] }
            """)
        #expect(cycle.diagnostics() == ["1️⃣ error: dependency cycle: a → c → b → a"])
    }

    @Test("duplicate step ids and bad durations")
    func duplicatesAndDurations() {
        let input = Marked("""
            jobs:
              a:
                timeout: 1️⃣10 minutes
                steps:
                  - id: s
                    run: x
                    timeout: 2️⃣90
                  - id: s
                    run: y
                    timeout-minutes: 3️⃣soon
                  - id: S
                    run: z
                  - run: w
                    timeout: 4️⃣1h1h
            """)
        let diagnostics = input.diagnostics()
        // A unit twice is a slip, not a sum (audit 55 L4: `1h1h` was 2h).
        #expect(diagnostics.contains("4️⃣ error: timeout must be a duration such as 90s, 10m or 1h30m, found '1h1h'"), "\(diagnostics)")
        #expect(input.hints().contains("units: ms, s, m, h, d, each at most once; combine them as in 1h30m"), "\(input.hints())")
        #expect(diagnostics.contains("1️⃣ error: timeout must be a duration such as 90s, 10m or 1h30m, found '10 minutes'"))
        #expect(diagnostics.contains("2️⃣ error: timeout must be a duration such as 90s, 10m or 1h30m, found '90'"))
        #expect(diagnostics.contains("3️⃣ error: timeout-minutes must be a positive number, found 'soon'"))
        #expect(diagnostics.contains("8:9 error: duplicate step id 's' in job 'a'"))
        #expect(diagnostics.contains("11:9 error: duplicate step id 'S' in job 'a' (as 's': ids are compared without case)"), "\(diagnostics)")
        #expect(input.hints().contains("add a unit: '90s' for seconds, '90m' for minutes"))
    }

    @Test("a time limit of zero, a negative or too long one, each says which")
    func durationsOutOfRange() {
        let input = Marked("""
            jobs:
              a:
                timeout-minutes: 1️⃣1e20
                steps:
                  - run: x
                    timeout: 2️⃣100000000h
                  - run: y
                    timeout: 3️⃣0s
                  - run: z
                    timeout-minutes: 4️⃣-5
                  - run: w
                    timeout-minutes: 5️⃣.nan
                  - run: v
                    timeout-minutes: 6️⃣16666666
                  - run: t
                    timeout-minutes: 8️⃣16666667
                  - run: u
                    timeout: 7️⃣11574d
                  - run: s
                    timeout-minutes: 9️⃣0.00000001
            """)
        let diagnostics = input.diagnostics()
        #expect(diagnostics.contains("1️⃣ error: timeout-minutes is too long, found '1e20'"), "\(diagnostics)")
        #expect(diagnostics.contains("2️⃣ error: timeout is too long, found '100000000h'"), "\(diagnostics)")
        #expect(diagnostics.contains("3️⃣ error: timeout must be more than 0, found '0s'"), "\(diagnostics)")
        // GitHub takes any number of minutes and sets no limit for 0 or less (audit 55 F4): a warning.
        #expect(diagnostics.contains("4️⃣ warning: timeout-minutes '-5' sets no time limit of its own: GitHub ignores 0 or less, and the default applies"), "\(diagnostics)")
        #expect(diagnostics.contains("5️⃣ error: timeout-minutes must be a positive number, found '.nan'"), "\(diagnostics)")
        #expect(diagnostics.contains("8️⃣ error: timeout-minutes is too long, found '16666667'"), "\(diagnostics)")
        // Less than a millisecond timed the job out at once (audit 61 input H8).
        #expect(diagnostics.contains("9️⃣ error: timeout-minutes is too short, found '0.00000001': less than a millisecond"), "\(diagnostics)")
        // The longest accepted: just under 1e9 seconds.
        #expect(!diagnostics.contains { $0.hasPrefix("6️⃣") || $0.hasPrefix("7️⃣") }, "\(diagnostics)")
        #expect(input.hints().contains("at most 11574d1h46m39s (about 31 years)"), "\(input.hints())")
        #expect(input.hints().contains("at most 16666666 minutes (about 31 years); leave the key out for the default"), "\(input.hints())")
    }

    @Test("retry on a uses step is a warning at the key: only run steps are attempted again (audit 61 input H5)")
    func retryOnUsesStep() {
        let input = Marked("""
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                    1️⃣retry: { max-attempts: 3 }
                  - run: echo x
                    retry: 3
            """)
        let diagnostics = input.diagnostics()
        #expect(diagnostics == ["1️⃣ warning: 'retry' applies to 'run' steps only: this 'uses' step runs once"], "\(diagnostics)")
    }

    @Test("expression syntax errors point inside the expression")
    func expressionSyntax() {
        let input = Marked("""
            jobs:
              a:
                if: github.ref == 1️⃣)
                steps:
                  - run: echo ${{ contains('a' 2️⃣'b') }}
                  - run: |
                      echo one
                      echo ${{ 3️⃣frobnicate(1) }}
            """)
        let diagnostics = input.diagnostics()
        #expect(diagnostics.count == 3)
        #expect(diagnostics.allSatisfy { $0.hasPrefix("1️⃣ error: invalid expression in 'if'") || $0.hasPrefix("2️⃣ error: invalid expression in 'run'") || $0.hasPrefix("3️⃣ error: invalid expression in 'run'") })
        #expect(Set(diagnostics.map { String($0.prefix(3)) }).count == 3)
    }

    @Test("references: needs not needed, undeclared outputs, undefined matrix keys, unknown contexts, later steps")
    func references() {
        let input = Marked("""
            jobs:
              version:
                outputs:
                  value: ${{ steps.v.outputs.version }}
                steps:
                  - id: v
                    run: echo "version=1" >> "$GITHUB_OUTPUT"
              other:
                steps: [ { run: x } ]
              test:
                needs: version
                strategy:
                  matrix:
                    node: [18, 20]
                steps:
                  - run: echo ${{ 1️⃣needs.other.outputs.x }} ${{ 2️⃣needs.version.outputs.valeu }}
                  - run: echo ${{ 3️⃣matrix.nodes }} ${{ 4️⃣steps.later.outputs.x }} ${{ 5️⃣gihub.ref }}
                  - id: later
                    run: echo ${{ matrix.node }} ${{ needs.version.outputs.value }}
            """)
        #expect(input.diagnostics() == [
            "1️⃣ warning: needs.other in 'run': job 'test' does not need 'other'; it is empty",
            "2️⃣ warning: job 'version' has no output 'valeu'; it is empty",
            "3️⃣ warning: matrix.nodes in 'run': the matrix of 'test' has no key 'nodes'; it is empty",
            "4️⃣ warning: steps.later in 'run': no earlier step has id 'later'; it is empty",
            "5️⃣ error: unknown context 'gihub' in 'run'",
        ])
        #expect(input.hints() == [
            "add 'other' to the needs of 'test'", "did you mean 'value'?", "did you mean 'node'?",
            "step 'later' runs later; a step can only read steps before it", "did you mean 'github'?",
        ])
    }

    @Test("reading an output of a job without outputs: is a warning (GitHub passes none; NixActions every GITHUB_OUTPUT value)")
    func outputsOfJobWithoutMap() {
        let input = Marked("""
            jobs:
              plain:
                steps:
                  - id: v
                    run: echo "v=1" >> "$GITHUB_OUTPUT"
              mapped:
                outputs: { v: "${{ steps.v.outputs.v }}" }
                steps:
                  - id: v
                    run: echo "v=1" >> "$GITHUB_OUTPUT"
              test:
                needs: [plain, mapped]
                steps:
                  - run: echo ${{ 1️⃣needs.plain.outputs.v }} ${{ needs.mapped.outputs.v }} ${{ needs.plain.result }}
            """)
        #expect(input.diagnostics() == [
            "1️⃣ warning: needs.plain.outputs.v in 'run': job 'plain' declares no outputs; here it passes on what its steps write to "
                + "GITHUB_OUTPUT, on GitHub it passes on nothing",
        ])
        #expect(input.hints() == ["declare it in 'plain': outputs: { v: ${{ steps.ID.outputs.v }} }"])
    }

    @Test("an env reference nothing defines is a warning with the seed's hint")
    func undefinedEnv() {
        let input = Marked("""
            env:
              DEFINED: yes
            jobs:
              deploy:
                steps:
                  - run: echo ${{ env.DEFINED }} ${{ 1️⃣env.BRANCH }}
            """)
        #expect(input.diagnostics() == ["1️⃣ warning: env.BRANCH in 'run' is not defined at workflow, job or step level"])
        let hint = input.hints().first ?? nil
        #expect(hint?.contains("set BRANCH at workflow/job/step level") == true)
        #expect(hint?.contains("nixactions run WORKFLOW --env BRANCH=value") == true)
    }

    @Test("a job-level cache's key may use the job's env (audit 60 L1: a false 'not defined' warning); a name nothing defines is still one")
    func cacheKeyJobEnv() {
        let input = Marked("""
            env:
              WV: w
            jobs:
              j:
                env:
                  JV: j
                cache: { paths: [dep], key: "k-${{ env.JV }}-${{ env.WV }}-${{ 1️⃣env.NONE }}", restore-keys: ["k-${{ env.JV }}-"] }
                steps:
                  - run: echo
            """)
        #expect(input.diagnostics() == ["1️⃣ warning: env.NONE in 'cache.key' is not defined at workflow, job or step level"])
    }

    @Test("cron schedules: five fields in range, names, ranges, lists and steps pass; others are errors at their line")
    func cron() {
        for good in ["30 5 * * 1", "*/15 0-23/2 1,15 JAN-MAR mon-fri", "0 0 * * 7", "0 12 31 dec sun", "59 23 1-31/3 */2 0,6"] {
            #expect(WorkflowLoader.cronProblem(good) == nil, "\(good)")
        }
        for (bad, why) in [("61 * * * *", "'61' is not a valid minute"), ("* * * *", "it has 4 fields"), ("0 24 * * *", "'24' is not a valid hour"),
                           ("0 0 0 * *", "'0' is not a valid day of month"), ("0 0 * 13 *", "'13' is not a valid month"), ("*/0 * * * *", "a step that is not"),
                           ("5-1 * * * *", "the range '5-1' in the minute field ends before it starts"), ("0 0 * * FRX", "'FRX' is not a valid day of week"), ("@daily", "it has 1 field")] {
            #expect(WorkflowLoader.cronProblem(bad)?.contains(why) == true, "\(bad): \(WorkflowLoader.cronProblem(bad) ?? "passed")")
        }
        let input = Marked("""
            on:
              schedule:
                - cron: 1️⃣'61 * * * *'
            jobs:
              a: { steps: [ { run: x } ] }
            """)
        #expect(input.diagnostics() == ["1️⃣ error: cron '61 * * * *' is not valid: '61' is not a valid minute (0-59)"])
    }

    @Test("what GitHub refuses: working-directory or shell on an action's step, secrets in a step's if, env in runs-on, secrets or env in a job's name")
    func refusedAsOnGitHub() {
        let input = Marked("""
            env: { OS: ubuntu-latest }
            jobs:
              named:
                name: "job ${{ 5️⃣secrets.TOK }} / ${{ 6️⃣env.OS }} / ${{ github.event_name }} ${{ matrix.x }}"
                strategy: { matrix: { x: [1] } }
                steps: [ { run: echo } ]
              a:
                runs-on: 1️⃣${{ env.OS }}
                steps:
                  - uses: actions/checkout@v4
                    2️⃣working-directory: sub
                    3️⃣shell: bash
                  - run: echo deploy
                    if: ${{ 4️⃣secrets.TOKEN != '' }}
                  - run: echo fine
                    if: env.OS != '' && job.status == 'success'
                    working-directory: .
            """)
        #expect(input.diagnostics() == [
            "5️⃣ error: 'secrets' is not available in 'name'",
            "6️⃣ error: 'env' is not available in 'name'",
            "1️⃣ error: 'env' is not available in 'runs-on'",
            "2️⃣ error: 'working-directory' only applies to a step with 'run'",
            "3️⃣ error: 'shell' only applies to a step with 'run'",
            "4️⃣ error: 'secrets' is not available in 'if'",
        ])
    }

    @Test("env in a workflow's or a job's env, runner or steps at workflow level: errors, as GitHub's table has them (audit 53: passed here)")
    func envContextsTable() {
        let input = Marked("""
            env:
              W: wf
              X: ${{ 1️⃣env.W }}-${{ github.sha }}-${{ vars.V }}
            jobs:
              a:
                strategy: { matrix: { x: [1] } }
                env:
                  J: ${{ 2️⃣env.W }}-${{ matrix.x }}-${{ needs }}-${{ secrets.S }}
                  R: ${{ 3️⃣runner.os }}
                steps: [ { run: echo } ]
            """)
        #expect(input.diagnostics() == [
            "1️⃣ error: 'env' is not available in 'env.X'",
            "2️⃣ error: 'env' is not available in 'env.J'",
            "3️⃣ error: 'runner' is not available in 'env.R'",
        ], "\(input.diagnostics())")
    }

    @Test("a run step that may write GITHUB_ENV through code the workflow does not show (a script file, a task runner) opens env after it; plain commands do not")
    func envWrittenByScripts() {
        let input = Marked("""
            jobs:
              uv:
                steps:
                  - run: cargo build --release
                  - run: echo ${{ 1️⃣env.BEFORE }}
                  - run: ${{ github.workspace }}/.github/workflows/setup-dev-drive.ps1
                  - run: cargo test
                    working-directory: ${{ env.UV_WORKSPACE }}
              sourced:
                steps:
                  - run: source env.sh
                  - run: echo ${{ env.FROM_SOURCE }}
              made:
                steps:
                  - run: make ci-env
                  - run: echo ${{ env.FROM_MAKE }}
            """)
        #expect(input.diagnostics() == ["1️⃣ warning: env.BEFORE in 'run' is not defined at workflow, job or step level"])
        #expect(ExpressionValidator.mayWriteEnv("./scripts/set-env.sh") && ExpressionValidator.mayWriteEnv("npm run env")
                && ExpressionValidator.mayWriteEnv("echo X=1 >> $GITHUB_ENV"))
        #expect(!ExpressionValidator.mayWriteEnv("cargo build --release") && !ExpressionValidator.mayWriteEnv("echo hello && ls -la")
                && !ExpressionValidator.mayWriteEnv("curl -fsS https://example.com/x 2>/dev/null"))
        #expect(ExpressionValidator.mayWriteEnv("scripts/ci/setup") && ExpressionValidator.mayWriteEnv("$GITHUB_WORKSPACE/bin/env-setup"))
    }

    @Test("an env name an action of the job may export is no warning after it (setup-python's pythonLocation); before it, in the job's own fields and after built-in actions only it is")
    func envExportedByAction() {
        let input = Marked("""
            jobs:
              python:
                env: { FROM_JOB: "${{ 1️⃣env.TYPO_JOB }}" }
                outputs: { where: "${{ env.pythonLocation }}" }
                steps:
                  - run: echo ${{ 2️⃣env.TYPO_BEFORE }}
                  - uses: actions/setup-python@v5
                  - uses: actions/cache@v4
                    with: { path: "${{ env.pythonLocation }}", key: py }
              builtin:
                steps:
                  - uses: actions/checkout@v4
                  - uses: actions/cache@v4
                    with: { path: "${{ 3️⃣env.pythonLocation }}", key: py }
            """)
        // (A job's env cannot read env at all, as on GitHub: audit 53.)
        #expect(input.diagnostics() == ["1️⃣ error: 'env' is not available in 'env.FROM_JOB'",
                                        "2️⃣ warning: env.TYPO_BEFORE in 'run' is not defined at workflow, job or step level",
                                        "3️⃣ warning: env.pythonLocation in 'with.path' is not defined at workflow, job or step level"])
    }

    @Test("several errors in one file are all reported, in file order")
    func several() {
        let input = Marked("""
            jobs:
              a:
                1️⃣stpes: []
              b:
                needs: [2️⃣zz]
                steps:
                  - run: echo ${{ 3️⃣matrix.x }}
                    shell: 4️⃣bsh
            """)
        #expect(input.diagnostics() == [
            "1️⃣ error: unknown key 'stpes' in job 'a'",
            "2️⃣ error: job 'b' needs 'zz', which is not a job of this workflow",
            "3️⃣ warning: matrix.x in 'run': job 'b' has no strategy.matrix; it is empty",
            "4️⃣ error: unknown shell 'bsh'",
        ])
    }
}
