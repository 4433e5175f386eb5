import Foundation
import NixActionsEngine
import Testing
import TestSupport

/// Declared secrets, the command line's secrets, `${{ secrets.* }}` and the `env`/`file`
/// providers, as real runs.
@Suite("Scenarios: declaring secrets")
struct SecretsScenarios {
    @Test("the seed's test: a key given with --env and declared is masked in every format and file")
    func seed() async throws {
        let runs = try await runAllFormats("""
            secrets: [API_KEY]
            jobs:
              deploy:
                steps:
                  - name: Deploy
                    run: |
                      echo "Deploying with key: $API_KEY"
                      echo "and again: ${{ secrets.API_KEY }}"
            """, arguments: ["--env", "API_KEY=sk_live_123abc456def"])
        expectNoLeak(runs, ["sk_live"])
        for run in runs where run.format != "json" {
            #expect(run.result.stdout.contains("Deploying with key: ***"))
            #expect(run.result.stdout.contains("and again: ***"))
        }
    }

    @Test("names that look secret (*_TOKEN, *_PASSWORD, API_KEY, VAULT_SECRET_ID, SOPS_AGE_KEY, *_PASSPHRASE …) are masked without being declared")
    func maskedByName() async throws {
        let runs = try await runAllFormats("""
            jobs:
              a:
                steps:
                  - name: s
                    run: echo "$DEPLOY_TOKEN $DB_PASSWORD $API_KEY $PLAIN $VAULT_SECRET_ID $SOPS_AGE_KEY $GPG_PASSPHRASE"
            """, arguments: ["--env", "DEPLOY_TOKEN=tok-by-name-1", "--env", "DB_PASSWORD=pw-by-name-2", "--env", "PLAIN=visible-3"],
            environment: ["API_KEY": "key-from-host-4", "VAULT_SECRET_ID": "vault-sid-5", "SOPS_AGE_KEY": "AGE-SECRET-KEY-1QQ6",
                          "GPG_PASSPHRASE": "gpg-pass-7"])
        expectNoLeak(runs, ["tok-by-name-1", "pw-by-name-2", "key-from-host-4", "vault-sid-5", "AGE-SECRET-KEY-1QQ6", "gpg-pass-7"])
        for run in runs where run.format != "json" { #expect(run.result.stdout.contains("*** *** *** visible-3 *** *** ***")) }
    }

    @Test("--secret NAME=VALUE, --secret NAME (from the environment) and --secret-file (dotenv) give ${{ secrets.* }}")
    func commandLine() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("s.env", """
            # comment
            export FROM_FILE="two\\nlines-secret"
            SINGLE='literal $HOME \\n kept'
            SPACED = spaced-secret-value   # trailing comment
            """)
        let runs = try await runAllFormats("""
            jobs:
              a:
                steps:
                  - name: s
                    env:
                      ALL: ${{ secrets.FROM_FILE }}|${{ secrets.SINGLE }}|${{ secrets.spaced }}|${{ secrets.GIVEN }}|${{ secrets.FROM_ENV }}
                    run: |
                      [ "$ALL" = "$(printf 'two\\nlines-secret|literal $HOME \\\\n kept|spaced-secret-value|given-secret-1|env-secret-2')" ] && echo same
                      echo "$ALL"
                      echo "exported=[${GIVEN:-}]"
            """, arguments: ["--secret-file", temp.path + "/s.env", "--secret", "GIVEN=given-secret-1", "--secret", "FROM_ENV"],
            environment: ["FROM_ENV": "env-secret-2"])
        expectNoLeak(runs, ["lines-secret", "literal $HOME", "spaced-secret-value", "given-secret-1", "env-secret-2"])
        for run in runs where run.format != "json" {
            #expect(run.result.stdout.contains("] same\n"), "\(run.result.stdout)")
            #expect(run.result.stdout.contains("] exported=[]\n"), "an undeclared --secret is not an env variable")
        }
    }

    @Test("a required secret no source provides stops the run before any job; an undefined secrets.X warns and is empty")
    func requiredAndUndefined() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            secrets:
              - name: DEPLOY_KEY
                required: true
            jobs:
              a:
                steps:
                  - run: touch ran
            """)
        let missing = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("wf.yml:2:5: error: the secret 'DEPLOY_KEY' is required, and no source provides it"), "\(missing.stderr)")
        #expect(missing.stderr.contains("hint: pass it with --secret DEPLOY_KEY"))
        #expect(missing.stderr.contains("nixactions: no job was started"))
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/ran"))
        // The run's events say so too: started, the error, finished (failure), in a replayable file.
        let runs = try FileManager.default.contentsOfDirectory(atPath: temp.path + "/.nixactions/runs").filter { !$0.hasPrefix(".") }
        #expect(runs.count == 1)
        let events = try String(contentsOfFile: temp.path + "/.nixactions/runs/" + (runs.first ?? "") + "/events.jsonl", encoding: .utf8)
        let state = try RunState.replay(events)
        #expect(state.format == "nixactions.events/1" && state.status == "failure" && state.jobs.isEmpty, "\(events)")
        #expect(events.contains("the secret 'DEPLOY_KEY' is required"), "\(events)")
        // `--log-format json` prints the same events (audit 57 UX H3: nothing), and its state is the file's.
        let json = try await nixactions(["run", "wf.yml", "--log-format", "json"], in: temp.path)
        #expect(json.status == 2)
        let streamed = try RunState.replay(json.stdout)
        #expect(streamed.status == "failure" && streamed.exitStatus == 2 && streamed.jobs.isEmpty, "\(json.stdout)")
        #expect(json.stdout.split(separator: "\n").map { String($0) }.filter { $0.contains("\"event\":\"message\"") && $0.contains("is required") }.count == 1,
                "\(json.stdout)")
        // Written as soon as the log folder is there, before the secrets are read: the first line.
        #expect(events.hasPrefix("{\"ts\":") && events.split(separator: "\n").first?.contains("\"event\":\"workflow_started\"") == true, "\(events)")

        try temp.write("undefined.yml", """
            jobs:
              a:
                steps:
                  - run: echo "token=[${{ secrets.GITHUB_TOKEN }}]"
            """)
        let undefined = try await nixactions(["run", "undefined.yml"], in: temp.path)
        #expect(undefined.status == 0)
        #expect(undefined.stdout.contains("[a] token=[]\n"))
        #expect(undefined.stderr.contains("undefined.yml:4:31: warning: secrets.GITHUB_TOKEN is not defined: it is the empty string"), "\(undefined.stderr)")

        // A provider entry that failed: no "not defined, declare it" for the name it would have
        // given, only the entry's own message (audit 58 examples L1: that came first and pointed the wrong way).
        try temp.write("failed.yml", """
            secrets:
              - provider: file
                file: missing.env
                required: false
            jobs:
              a:
                steps:
                  - run: echo "key=[${{ secrets.FROM_FILE }}]"
            """)
        let failed = try await nixactions(["run", "failed.yml", "--log-format", "plain"], in: temp.path)
        #expect(failed.status == 0, "\(failed.stdout)\(failed.stderr)")
        #expect(failed.stderr.contains("(not required: going on without it)"), "\(failed.stderr)")
        #expect(!failed.stderr.contains("is not defined"), "\(failed.stderr)")

        // A named pipe is not a secrets file: said so, not "check its permissions", and nothing
        // waits for a writer (audit 60 hangs L3).
        #expect(mkfifo(temp.path + "/pipe.env", 0o600) == 0)
        try temp.write("fifo.yml", """
            secrets: [ { provider: file, file: pipe.env } ]
            jobs:
              a:
                steps: [ { run: echo never } ]
            """)
        let fifo = try await nixactions(["run", "fifo.yml", "--log-format", "plain"], in: temp.path)
        #expect(fifo.status == 2, "\(fifo.stdout)\(fifo.stderr)")
        #expect(fifo.stderr.contains("pipe.env is a named pipe (FIFO), not a file of secrets"), "\(fifo.stderr)")
        #expect(!fifo.stderr.contains("check its permissions"), "\(fifo.stderr)")
    }

    @Test("declared names: set by env: (masked, no warning), set by nothing (a warning, empty), too short (a warning)")
    func declaredNames() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            secrets: [FROM_ENV_KEY, NEVER_SET]
            env:
              FROM_ENV_KEY: from-env-secret-77
            jobs:
              a:
                steps:
                  - name: s
                    run: echo "[$FROM_ENV_KEY] [${NEVER_SET:-}] [${{ secrets.SHORT }}]"
            """)
        let result = try await nixactions(["run", "wf.yml", "--secret", "SHORT=abc", "--log-format", "plain", "--log-dir", "logs"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[a] [***] [] [abc]\n"), "\(result.stdout)")
        #expect(!result.stderr.contains("FROM_ENV_KEY"), "set by env:, so no warning: \(result.stderr)")
        #expect(result.stderr.contains("wf.yml:1:25: warning: the secret 'NEVER_SET' is declared and nothing sets it when the run starts"))
        #expect(result.stderr.contains("warning: the secret 'SHORT' is shorter than 4 bytes (white space around it not counted) and cannot be masked in the logs"))
        // Said once on the console (stderr), and recorded in the run's events and the json
        // stream, where a reader learns that a value shows in the clear (audit 66 output L3).
        #expect(!result.stdout.contains("shorter than 4 bytes"), "\(result.stdout)")
        let folders = try FileManager.default.contentsOfDirectory(atPath: temp.path + "/logs").filter { !$0.hasPrefix(".") }
        let events = try String(contentsOfFile: temp.path + "/logs/\(try #require(folders.first))/events.jsonl", encoding: .utf8)
        #expect(events.contains("\"event\":\"message\"") && events.contains("cannot be masked in the logs") && events.contains("is declared and nothing sets it"), "\(events)")
        let json = try await nixactions(["run", "wf.yml", "--secret", "SHORT=abc", "--log-format", "json"], in: temp.path)
        #expect(json.stdout.contains("cannot be masked in the logs"), "\(json.stdout)")
    }

    @Test("the env provider and the older mapping form; precedence: later entry, then job entry, then env: wins")
    func envProviderAndPrecedence() async throws {
        let runs = try await runAllFormats("""
            secrets:
              - provider: env
                names: [HOST_SIDE_TOKEN]
              - provider: env
                names: [FIRST_VALUE]
                as: SHARED
              - provider: env
                names: [SECOND_VALUE]
                as: SHARED
            jobs:
              a:
                secrets:
                  OLD_FORM: env:HOST_SIDE_TOKEN
                steps:
                  - name: s
                    run: |
                      echo "[$HOST_SIDE_TOKEN] [$OLD_FORM] [${{ secrets.OLD_FORM }}] [$SHARED]"
                      [ "$SHARED" = "$SECOND_VALUE" ] && [ "${{ secrets.SHARED }}" = "$SECOND_VALUE" ] && echo a-later-entry-wins
              b:
                secrets:
                  - provider: env
                    names: [JOB_VALUE]
                    as: SHARED
                steps:
                  - name: s
                    run: |
                      [ "$SHARED" = "$JOB_VALUE" ] && [ "${{ secrets.SHARED }}" = "$JOB_VALUE" ] && echo b-job-entry-wins
              c:
                env:
                  SHARED: plain-env-wins
                steps:
                  - name: s
                    run: |
                      [ "$SHARED" = plain-env-wins ] && echo c-env-wins
                      echo "c [$SHARED] [${{ secrets.SHARED }}]"
            """, environment: ["HOST_SIDE_TOKEN": "host-token-881", "FIRST_VALUE": "first-883", "SECOND_VALUE": "second-882",
                               "JOB_VALUE": "job-884"])
        expectNoLeak(runs, ["host-token-881", "second-882", "first-883", "job-884"])
        for run in runs where run.format != "json" {
            #expect(run.result.stdout.contains("[a] [***] [***] [***] [***]\n"), "\(run.result.stdout)")
            #expect(run.result.stdout.contains("[a] a-later-entry-wins\n"))
            #expect(run.result.stdout.contains("[b] b-job-entry-wins\n"))
            // The env: value wins, and is masked: SHARED is a secret's name wherever its value comes from.
            #expect(run.result.stdout.contains("[c] c-env-wins\n"), "\(run.result.stdout)")
            #expect(run.result.stdout.contains("[c] c [***] [***]\n"), "\(run.result.stdout)")
        }
    }

    @Test("file provider: dotenv, JSON and YAML with nested keys, keys:, as:, env: false, job scope")
    func fileProvider() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("project/secrets/app.json", #"{"db": {"password": "json-pass-111", "port": 5432}, "api-key": "json-key-222"}"#)
        try temp.write("project/secrets/app.yaml", "registry:\n  token: yaml-token-333\nhosts: [alpha, beta]\n")
        try temp.write("project/.env.secrets", "SMTP_PASSWORD=dotenv-pass-444\n")
        try temp.write("project/wf.yml", """
            secrets:
              - provider: file
                file: secrets/app.json
              - provider: file
                file: .env.secrets
                as: MAIL_PASS
                env: false
            jobs:
              a:
                secrets:
                  - provider: file
                    file: secrets/app.yaml
                    keys: [registry.token]
                    as: { REGISTRY_TOKEN: PUSH }
                steps:
                  - name: s
                    run: |
                      echo "$DB_PASSWORD $DB_PORT $API_KEY $PUSH [${MAIL_PASS:-}] ${{ secrets.MAIL_PASS }} [${HOSTS_0:-}]"
              b:
                needs: a
                steps:
                  - name: s
                    run: echo "b sees [${PUSH:-}] [${{ secrets.PUSH }}] $DB_PORT"
            """)
        // Paths in entries are relative to the project folder (where nixactions runs).
        let runs = try await runAllFormats(nil, file: "wf.yml", in: temp.path + "/project")
        expectNoLeak(runs, ["json-pass-111", "json-key-222", "yaml-token-333", "dotenv-pass-444"])
        for run in runs where run.format != "json" {
            // Every value of a secrets file is a secret, the port too.
            #expect(run.result.stdout.contains("[a] *** *** *** *** [] *** []\n"), "\(run.result.stdout)")
            #expect(run.result.stdout.contains("[b] b sees [] [] ***\n"))
        }
    }

    @Test("numbers in a secrets document keep their text: every digit of a 20-digit id, 1.50 as written, in JSON and YAML files (they went through a double)")
    func numbersKeepTheirText() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("project/ids.json", #"{"account": {"id": 12345678901234567890}, "ratio": 1.50, "tiny": -0.0, "huge": 1e400}"#)
        try temp.write("project/ids.yaml", "other_id: 98765432109876543210\nversion: 1.10\n")
        try temp.write("project/wf.yml", """
            secrets:
              - { provider: file, file: ids.json }
              - { provider: file, file: ids.yaml }
            jobs:
              a:
                steps:
                  - run: |
                      [ "$ACCOUNT_ID" = 12345678901234567890 ] && echo id-exact
                      [ "$RATIO" = 1.50 ] && echo ratio-exact
                      [ "$TINY" = -0.0 ] && echo tiny-exact
                      [ "$HUGE" = 1e400 ] && echo huge-exact
                      [ "${{ secrets.OTHER_ID }}" = 98765432109876543210 ] && echo other-exact
                      [ "$VERSION" = 1.10 ] && echo version-exact
                      echo "shown: $ACCOUNT_ID $RATIO"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"], in: temp.path + "/project")
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        for marker in ["id", "ratio", "tiny", "huge", "other", "version"] {
            #expect(result.stdout.contains("[a] \(marker)-exact\n"), "\(marker): \(result.stdout)")
        }
        #expect(result.stdout.contains("[a] shown: *** ***\n"), "numbers from a secrets file are secrets: \(result.stdout)")
    }

    @Test("provider failures stop the run before any job, naming the entry, what failed and what to do")
    func providerFailures() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("bad.json", #"{"a": "x-secret-value", }"#)
        try temp.write("bad.yml", "a: [x-secret-value\nb: x\n")
        try temp.write("ok.env", "TOKEN=ok-secret-value\n")
        try temp.write("two.env", "A=x-secret-value\nB=x-secret-value\n")
        try temp.write("collide.json", #"{"a": {"b": "x-secret-value"}, "a_b": "x-secret-value"}"#)
        try temp.write("dup.yml", "a: x-secret-value\nb: 1\na: x-secret-value\n")
        try temp.write("list.yml", "- x-secret-value\n- x-secret-value\n")
        let cases: [(String, String, String)] = [
            ("provider: file\n    file: missing.env", "error: secret provider 'file': missing.env does not exist", "hint: create it, or fix the path"),
            ("provider: file\n    file: bad.json", "error: secret provider 'file': bad.json is not valid JSON (at byte 24)", ""),
            ("provider: file\n    file: bad.yml", "error: secret provider 'file': bad.yml is not valid YAML (line 2, column 2: ", ""),
            ("provider: file\n    file: ok.env\n    format: toml", "error: secret provider 'file': unknown format 'toml'", "hint: dotenv, json or yaml"),
            ("provider: file\n    file: two.env\n    as: ONE", "error: secret provider 'file': 'as: ONE' renames exactly one key, and the entry gave 2 (A, B)",
             "hint: select one key (keys: [KEY]), or rename each: as: { KEY: NAME }"),
            ("provider: file\n    file: collide.json", "error: secret provider 'file': collide.json: the keys 'a.b' and 'a_b' both become A_B",
             "hint: rename one of them, or select keys with 'keys:'"),
            ("provider: file\n    file: ok.env\n    keys: [NOPE]", "error: secret provider 'file': ok.env has no key 'NOPE'", "hint: it has: TOKEN"),
            ("provider: file\n    file: dup.yml", "error: secret provider 'file': dup.yml is not valid YAML (line 1, column 1: a mapping has the key 'a' more than once)", ""),
            ("provider: file\n    file: list.yml", "error: secret provider 'file': list.yml is a list, not a set of keys", "hint: use a mapping of NAME: value"),
            ("provider: file\n    file: ok.env\n    keys: []", "error: secret provider 'file': 'keys' is an empty list", "hint: leave 'keys' out to take every key"),
            // An option name the provider does not have: at its key, as validate says it.
            ("provider: file\n    file: ok.env\n    fiel: x", "wf.yml:4:5: error: the secret provider 'file' has no option 'fiel'", "hint: did you mean 'file'?"),
            ("provider: fiel\n    file: ok.env", "error: secret provider 'fiel': no secret provider 'fiel' was found", "did you mean 'file'?"),
            ("provider: env\n    names: [NXA_UNSET_VARIABLE]", "the variable NXA_UNSET_VARIABLE is not set", ""),
        ]
        for (entry, message, hint) in cases {
            try temp.write("wf.yml", "secrets:\n  - \(entry)\njobs:\n  a:\n    steps:\n      - run: touch ran\n")
            let result = try await nixactions(["run", "wf.yml"], in: temp.path)
            #expect(result.status == 2, "\(entry)")
            #expect(result.stderr.contains("wf.yml:2:5: " + message) || ((message.hasPrefix("the variable") || message.hasPrefix("wf.yml:")) && result.stderr.contains(message)),
                    "\(entry): \(result.stderr)")
            #expect(hint.isEmpty || result.stderr.contains(hint), "\(entry): \(result.stderr)")
            #expect(result.stderr.contains("nixactions: no job was started"))
            #expect(!result.stderr.contains("x-secret-value") && !result.stderr.contains("ok-secret-value"))
            #expect(!FileManager.default.fileExists(atPath: temp.path + "/ran"))
        }
        // Not required: a warning, and the run goes on.
        try temp.write("wf.yml", "secrets:\n  - provider: file\n    file: missing.env\n    required: false\njobs:\n  a:\n    steps:\n      - run: touch ran\n")
        let optional = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(optional.status == 0)
        #expect(optional.stderr.contains("warning: secret provider 'file': missing.env does not exist (not required: going on without it)"))
        // format: overrides what the file's name says.
        try temp.write("values.txt", #"{"FROM_TXT": "json-in-a-txt-file"}"#)
        try temp.write("wf.yml", "secrets:\n  - provider: file\n    file: values.txt\n    format: json\njobs:\n  a:\n    steps:\n      - run: echo \"[$FROM_TXT]\" | tr 'a-z' 'A-Z'\n")
        let overridden = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(overridden.status == 0, "\(overridden.stderr)")
        #expect(overridden.stdout.contains("[a] [JSON-IN-A-TXT-FILE]\n"), "\(overridden.stdout)")
    }

    @Test("a declared name set by $GITHUB_ENV is masked in later steps; another variable holding a secret is flagged")
    func githubEnv() async throws {
        let runs = try await runAllFormats("""
            secrets: [SESSION_KEY]
            jobs:
              a:
                steps:
                  - name: make
                    run: |
                      echo "SESSION_KEY=minted-in-step-555" >> "$GITHUB_ENV"
                  - name: use
                    run: |
                      echo "using $SESSION_KEY"
                      echo "COPY=$SESSION_KEY" >> "$GITHUB_ENV"
                  - name: copy
                    run: echo "copy $COPY"
            """)
        expectNoLeak(runs, ["minted-in-step-555"])
        for run in runs where run.format != "json" {
            #expect(run.result.stdout.contains("[a] using ***\n"))
            #expect(run.result.stdout.contains("[a] copy ***\n"))
            #expect(run.result.stdout.contains("sets COPY to a value that contains a secret"))
        }
    }

    @Test("values computed from a secret (fromJSON's parts, a plugin function's result) are masked, in steps, job outputs and executor options")
    func derivedValues() async throws {
        let runs = try await runAllFormats("""
            jobs:
              a:
                outputs:
                  pw: ${{ fromJSON(secrets.SA_JSON).password }}
                  plain: ${{ fromJSON('{"x":"not-secret-value"}').x }}
                steps:
                  - name: parts
                    run: |
                      echo "pw=${{ fromJSON(secrets.SA_JSON).password }} nested=${{ fromJSON(secrets.SA_JSON).hosts[1] }}"
                      echo "lower=${{ text.lower(secrets.MIXED) }} plain=${{ text.lower('Not-A-Secret') }}"
                      echo "again=$(printf '%s' 'Pw-Zq7Derived-4242') host=db-replica-zq7.internal"
              b:
                needs: a
                steps:
                  - name: downstream
                    run: echo "got=[${{ needs.a.outputs.pw }}] plain=[${{ needs.a.outputs.plain }}]"
            """, arguments: ["--secret", #"SA_JSON={"user":"svc","password":"Pw-\u005aq7Derived-4242","hosts":["db-main-zq7.internal","db-replica-zq7.internal"]}"#,
                             "--secret", "MIXED=MiXeD-Case-Secret-77"])
        expectNoLeak(runs, ["Pw-Zq7Derived-4242", "db-replica-zq7", "mixed-case-secret-77"])
        for run in runs where run.format != "json" {
            let out = run.result.stdout
            #expect(out.contains("pw=*** nested=***\n"), "\(run.format): \(out)")
            #expect(out.contains("lower=*** plain=not-a-secret\n"), "\(run.format): \(out)")
            // Once known, the value is masked wherever it comes from; a string shorter than 4
            // bytes ("svc") is not, as for any secret.
            #expect(out.contains("again=*** host=***\n"), "\(run.format): \(out)")
            // A job output that holds a secret is left out (GitHub's rule), now also a derived one.
            #expect(out.contains("got=[] plain=[not-secret-value]"), "\(run.format): \(out)")
        }
    }

    @Test("examples/08-secrets: --secret-file, the file provider and sops; nothing leaks in any format or file")
    func example() async throws {
        let sopsFolder = try #require(testTool("sops").map { ($0 as NSString).deletingLastPathComponent },
                                      "sops is not installed: run .ci/setup")
        let runs = try await runAllFormats(
            nil, file: "examples/08-secrets/workflow.yml",
            arguments: ["--secret-file", "examples/08-secrets/example.secrets.env"],
            environment: ["PATH": sopsFolder + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")],
            in: packageDirectory.path)
        let secrets = ["sk_live_123abc456def", "db-demo-pass-91b2c3", "sig-demo-4f9a8c7e2b1d", "reg-demo-77aa55cc33ee"]
        // The base64 of the key, whole and in its stable middle part.
        let base64 = Data("sk_live_123abc456def".utf8).base64EncodedString()
        expectNoLeak(runs, secrets + ["sk_live", base64, String(base64.dropFirst(4).dropLast(4))])
        for run in runs where run.format != "json" {
            #expect(run.result.stdout.contains("[deploy] Deploying with key: ***\n"), "\(run.result.stdout)")
            #expect(run.result.stdout.contains("[deploy] signing with ***, pushing with ***\n"))
        }
    }
}
