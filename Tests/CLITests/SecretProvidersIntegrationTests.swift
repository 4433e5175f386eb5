import Foundation
import Testing
import TestSupport

/// The sops and vault secret providers against the real things: sops 3.11 with age keys, and an
/// OpenBao dev server (Vault's HTTP API). Every test runs the built `nixactions run` and checks
/// what the step saw (by SHA-256, never the value itself), and that no secret value reached its
/// output, the log folder, a temporary file left behind, or (for one test) any process's command line.
///
/// The tools come from `.ci/setup`; a missing one fails the test (it does not skip it).
@Suite("Secret providers against real sops and OpenBao")
struct SecretProvidersIntegrationTests {

    // MARK: sops + age

    @Test("sops + age: YAML with nested keys, JSON, dotenv and extract with as:, key file from the entry")
    func sopsFormats() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        let key = try project.ageKey("keys/age.txt")
        let dbPassword = unique("db pw with spaces \"quotes\" $HOME"), dbUser = unique("dbuser"), apiKey = unique("api")
        let awsID = unique("AKIA"), awsSecret = unique("aws/secret+key=")
        let envToken = unique("envtok"), envOther = unique("other")
        try project.encrypt(
            "secrets.enc.yaml", plain: "db:\n  password: '\(dbPassword.replacingOccurrences(of: "'", with: "''"))'\n  user: \(dbUser)\napi_key: \(apiKey)\n",
            ext: "yaml", recipient: key.recipient)
        try project.encrypt(
            "aws.enc.json", plain: #"{"aws": {"access_key_id": "\#(awsID)", "secret_access_key": "\#(awsSecret)"}}"#, ext: "json",
            recipient: key.recipient)
        try project.encrypt("deploy.enc.env", plain: "DEPLOY_TOKEN=\(envToken)\nOTHER_VALUE=\(envOther)\n", ext: "env", recipient: key.recipient)
        try project.workflow(
            workflowSecrets: [
                "{ provider: sops, file: secrets.enc.yaml, age-key-file: keys/age.txt }"
            ],
            jobSecrets: [
                "{ provider: sops, file: aws.enc.json, format: json, age-key-file: keys/age.txt }",
                "{ provider: sops, file: deploy.enc.env, format: dotenv, keys: [DEPLOY_TOKEN], age-key-file: keys/age.txt }",
                #"{ provider: sops, file: secrets.enc.yaml, extract: '["db"]["password"]', as: DB_PASS, age-key-file: keys/age.txt }"#,
            ],
            stepEnv: ["VIA_EXPRESSION": "${{ secrets.API_KEY }}"],
            report: ["DB_PASSWORD", "DB_USER", "API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DEPLOY_TOKEN", "OTHER_VALUE",
                     "DB_PASS", "VIA_EXPRESSION"])
        let result = try await project.run(
            environment: ["PATH": folder(of: sops) + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")],
            secrets: [dbPassword, dbUser, apiKey, awsID, awsSecret, envToken, envOther])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        try expectReported(result, [
            "DB_PASSWORD": dbPassword, "DB_USER": dbUser, "API_KEY": apiKey, "AWS_ACCESS_KEY_ID": awsID,
            "AWS_SECRET_ACCESS_KEY": awsSecret, "DEPLOY_TOKEN": envToken, "DB_PASS": dbPassword, "VIA_EXPRESSION": apiKey,
        ], unset: ["OTHER_VALUE"])
        #expect(project.started)
    }

    @Test("sops + age: SOPS_AGE_KEY_FILE from the environment instead of age-key-file, sops given by path")
    func sopsKeyFromEnvironment() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        // The key lives outside the project: only the environment names it.
        let key = try project.ageKey("../age-outside.txt")
        let password = unique("pw"), apiKey = unique("key")
        try project.encrypt("secrets.enc.yaml", plain: "db:\n  password: \(password)\napi_key: \(apiKey)\n", ext: "yaml", recipient: key.recipient)
        try project.workflow(
            jobSecrets: ["{ provider: sops, file: secrets.enc.yaml, sops: '\(sops)', keys: [DB_PASSWORD, api_key] }"],
            report: ["DB_PASSWORD", "API_KEY"])
        let result = try await project.run(environment: ["SOPS_AGE_KEY_FILE": key.path], secrets: [password, apiKey])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        try expectReported(result, ["DB_PASSWORD": password, "API_KEY": apiKey])
    }

    @Test("sops + age: a binary file is one value named after the file, bytes exact (lines, trailing newline); format: binary and as: for any name")
    func sopsBinary() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        let key = try project.ageKey("keys/age.txt")
        // A key file of several lines, ending with a newline, as PEM files do.
        let pem = "-----BEGIN TEST KEY-----\n\(unique("line1"))\n\(unique("line2"))\n-----END TEST KEY-----\n"
        let token = unique("raw token without newline")
        try project.encrypt("deploy.key", plain: pem, ext: "key", recipient: key.recipient)
        try project.encrypt("token.enc", plain: token, ext: "bin", recipient: key.recipient)
        try project.workflow(
            jobSecrets: [
                "{ provider: sops, file: deploy.key, age-key-file: keys/age.txt }",
                "{ provider: sops, file: token.enc, format: binary, as: API_TOKEN, age-key-file: keys/age.txt }",
            ],
            report: ["DEPLOY", "API_TOKEN", "TOKEN"])
        let lines = pem.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("-----") }
        let result = try await project.run(
            environment: ["PATH": folder(of: sops) + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")],
            secrets: [token] + lines)
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        try expectReported(result, ["DEPLOY": pem, "API_TOKEN": token], unset: ["TOKEN"])
    }

    // MARK: sops failures

    @Test("sops failure: a file that does not exist stops the run before any job (exit 2)")
    func sopsMissingFile() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        _ = try project.ageKey("keys/age.txt")
        try project.workflow(jobSecrets: ["{ provider: sops, file: nowhere.enc.yaml, age-key-file: keys/age.txt, sops: '\(sops)' }"], report: [])
        let result = try await project.run(secrets: [])
        expectProviderFailure(result, project, provider: "sops", contains: "nowhere.enc.yaml does not exist or cannot be read")
    }

    @Test("sops failure: the wrong age key says it could not decrypt, exit 2, no job started")
    func sopsWrongKey() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        let right = try project.ageKey("../right.txt")
        _ = try project.ageKey("keys/wrong.txt")
        let password = unique("pw")
        try project.encrypt("secrets.enc.yaml", plain: "password: \(password)\n", ext: "yaml", recipient: right.recipient)
        try project.workflow(jobSecrets: ["{ provider: sops, file: secrets.enc.yaml, age-key-file: keys/wrong.txt, sops: '\(sops)' }"], report: [])
        let result = try await project.run(secrets: [password])
        expectProviderFailure(result, project, provider: "sops", contains: "could not decrypt secrets.enc.yaml")
        #expect(result.stderr.contains("hint: set SOPS_AGE_KEY_FILE or the entry's age-key-file"), "\(result.stderr)")
    }

    @Test("sops: a key whose name starts with SOPS_ (sops_value:) is delivered when asked for")
    func sopsKeyNamedLikeMetadata() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        let key = try project.ageKey("keys/age.txt")
        let value = unique("sops-prefixed"), other = unique("plain")
        try project.encrypt("secrets.enc.yaml", plain: "sops_value: \(value)\nother_value: \(other)\n", ext: "yaml", recipient: key.recipient)
        try project.workflow(
            jobSecrets: ["{ provider: sops, file: secrets.enc.yaml, keys: [SOPS_VALUE, OTHER_VALUE], age-key-file: keys/age.txt, sops: '\(sops)' }"],
            report: ["SOPS_VALUE", "OTHER_VALUE"])
        let result = try await project.run(secrets: [value, other])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        try expectReported(result, ["OTHER_VALUE": other])
        // A key of the user's named like sops's own metadata is delivered like any other.
        try expectReported(result, ["SOPS_VALUE": value])
    }

    @Test("sops failure: a plain (not sops-encrypted) file and a malformed file, exit 2, no job started")
    func sopsNotEncrypted() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        _ = try project.ageKey("keys/age.txt")
        let password = unique("plainpw")
        try project.write("plain.yaml", "password: \(password)\n")
        try project.workflow(jobSecrets: ["{ provider: sops, file: plain.yaml, age-key-file: keys/age.txt, sops: '\(sops)' }"], report: [])
        let plain = try await project.run(secrets: [password])
        expectProviderFailure(plain, project, provider: "sops", contains: "could not decrypt plain.yaml: sops metadata not found")

        try project.write("broken.yaml", "password: [\(password)\n  - : {\n")
        try project.workflow(jobSecrets: ["{ provider: sops, file: broken.yaml, age-key-file: keys/age.txt, sops: '\(sops)' }"], report: [])
        let broken = try await project.run(secrets: [password])
        expectProviderFailure(broken, project, provider: "sops", contains: "could not decrypt broken.yaml")

        try project.write("broken.json", "{\"password\": \"\(password)\", ")
        try project.workflow(jobSecrets: ["{ provider: sops, file: broken.json, age-key-file: keys/age.txt, sops: '\(sops)' }"], report: [])
        let brokenJSON = try await project.run(secrets: [password])
        expectProviderFailure(brokenJSON, project, provider: "sops", contains: "could not decrypt broken.json")

        // A dotenv file not encrypted yet: sops quotes the line it cannot read (audit 48: a line
        // of a private key was shown); only that it was a line is said.
        let keyLine = unique("b3BlbnNzaC1rZXktdjEAAAAABG5vbmU")
        try project.write("deploy.env", "DEPLOY_USER=ci\nSSH_KEY=-----BEGIN OPENSSH PRIVATE KEY-----\n\(keyLine)\n-----END OPENSSH PRIVATE KEY-----\n")
        try project.workflow(jobSecrets: ["{ provider: sops, file: deploy.env, age-key-file: keys/age.txt, sops: '\(sops)' }"], report: [])
        let dotenv = try await project.run(secrets: [keyLine])
        expectProviderFailure(dotenv, project, provider: "sops", contains: "invalid dotenv input line (the line is not shown: it may hold part of a secret)")
    }

    /// A workflow whose one sops entry runs a fake sops that writes its pid to the returned file
    /// and sleeps for 600 s.
    /// `stubborn`: one that ignores SIGTERM (and SIGINT), so only the SIGKILL after the grace ends it.
    private func hangingSops(_ project: SecretsProject, stubborn: Bool = false, timeout: String? = nil) throws -> String {
        let pidFile = project.temp.path + "/sops.pid"
        let fake = try project.write("fake-sops", stubborn
            ? "#!/bin/sh\ntrap '' TERM INT\necho $$ > '\(pidFile)'\nwhile :; do sleep 1; done\n"
            : "#!/bin/sh\necho $$ > '\(pidFile)'\nexec sleep 600\n")
        chmod(fake, 0o755)
        try project.write("secrets.enc.yaml", "a: b\n")
        try project.workflow(jobSecrets: ["{ provider: sops, file: secrets.enc.yaml, sops: '\(fake)'\(timeout.map { ", timeout: \($0)" } ?? "") }"], report: [])
        return pidFile
    }

    /// Whether process `pid` (started at `started`) is gone within `tenths` tenths of a second:
    /// not running, not a zombie left to a reaper that does not wait, nor a new process with its pid.
    func ends(_ pid: pid_t, startedAt started: UInt64?, within tenths: Int) async throws -> Bool {
        for _ in 0..<tenths {
            if !isRunning(pid, startedAt: started) { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        if isRunning(pid, startedAt: started) { kill(pid, SIGKILL); return false }
        return true
    }

    @Test("a sops that never ends is stopped at the entry's deadline, 30 s or its own `timeout:` (2s here): the run exits 2 and sops does not outlive it (audit 48), also one that ignores SIGTERM (audit 60 hangs L1: it outlived the run)",
          arguments: [false, true])
    func sopsHangs(stubborn: Bool) async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        // The stubborn one with the entry's own limit (secrets.h: "the entry's `timeout:` overrides"; audit 61 ABI M6: it was refused as an option).
        let pidFile = try hangingSops(project, stubborn: stubborn, timeout: stubborn ? "2s" : nil)
        let result = try await project.run(secrets: [])
        // The limit the message names is the one the deadline was set from (no wall clock here: the
        // suite's command slots make a command wait for its turn).
        expectProviderFailure(result, project, provider: "sops", contains: stubborn ? "did not answer within 2s (it was cancelled)" : "did not answer within 30s")
        let pid = try #require(Int32((try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        #expect(try await ends(pid, startedAt: processStartTime(pid), within: 50), "sops (pid \(pid)) was left running after the run")
    }

    @Test("a host killed with SIGKILL while sops runs: the run's supervisor ends sops too (audit 48: it stayed under init)")
    func sopsEndedWithKilledHost() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let pidFile = try hangingSops(project)
        try FileManager.default.createDirectory(atPath: project.runTemp, withIntermediateDirectories: true)
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = project.runTemp
        let host = try LaunchedProcess([nixactionsBinary.path, "run", project.workflowPath, "--log-dir", project.logs], in: project.project,
                                       environment: environment)
        var pid: Int32?
        for _ in 0..<100 where pid == nil {
            pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if pid == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let sopsStarted = pid.flatMap(processStartTime)
        host.signal(SIGKILL)
        await waitForExit(host)
        let sops = try #require(pid, "the fake sops never started")
        #expect(try await ends(sops, startedAt: sopsStarted, within: 300), "sops (pid \(sops)) outlived the killed host")
    }

    @Test("sops failure: a key in keys: that the file does not have, exit 2, no job started")
    func sopsUnknownKey() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        let key = try project.ageKey("keys/age.txt")
        let password = unique("pw")
        try project.encrypt("secrets.enc.yaml", plain: "db:\n  password: \(password)\n", ext: "yaml", recipient: key.recipient)
        try project.workflow(
            jobSecrets: ["{ provider: sops, file: secrets.enc.yaml, keys: [DB_PASSWORD, NO_SUCH_KEY], age-key-file: keys/age.txt, sops: '\(sops)' }"],
            report: [])
        let result = try await project.run(secrets: [password])
        expectProviderFailure(result, project, provider: "sops", contains: "secrets.enc.yaml has no key 'NO_SUCH_KEY'")
        #expect(result.stderr.contains("DB_PASSWORD"), "the hint lists the keys the file has: \(result.stderr)")
    }

    @Test("sops extract: a mapping is flattened under its path, each leaf its own masked secret; a list item by index; keys: applies (audit 48: one YAML text, leaves shown by sed)")
    func sopsExtractMapping() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        let key = try project.ageKey("keys/age.txt")
        let password = unique("S3cr3tPassw0rd"), user = unique("dbuser"), port = "5432"
        let first = unique("host-a"), second = unique("host-b"), other = unique("other")
        try project.encrypt(
            "secrets.enc.yaml",
            plain: "db:\n  password: \(password)\n  user: \(user)\n  port: \(port)\nhosts: [\(first), \(second)]\nother: \(other)\nid: 12345678901234567\n",
            ext: "yaml", recipient: key.recipient)
        try project.workflow(
            jobSecrets: [
                #"{ provider: sops, file: secrets.enc.yaml, extract: '["db"]', keys: [DB_PASSWORD, db.user], age-key-file: keys/age.txt }"#,
                #"{ provider: sops, file: secrets.enc.yaml, extract: "[ 'hosts' ] [1]", as: SECOND_HOST, age-key-file: keys/age.txt }"#,
                // A number keeps every digit (review 49: it went through a double).
                #"{ provider: sops, file: secrets.enc.yaml, extract: '["id"]', as: BIG_ID, age-key-file: keys/age.txt }"#,
                // The whole document too: its numbers are sops's text, not a double's.
                #"{ provider: sops, file: secrets.enc.yaml, keys: [id], as: WHOLE_ID, age-key-file: keys/age.txt }"#,
            ],
            report: ["DB_PASSWORD", "DB_USER", "DB_PORT", "DB", "SECOND_HOST", "HOSTS_0", "OTHER", "BIG_ID", "WHOLE_ID"],
            // Each leaf is masked on its own, however the step takes it apart.
            extraScript: #"printf 'leaf %s|%s|%s\n' "$DB_PASSWORD" "$DB_USER" "$SECOND_HOST""#)
        let result = try await project.run(
            environment: ["PATH": folder(of: sops) + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")],
            secrets: [password, user, second])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        try expectReported(result, ["DB_PASSWORD": password, "DB_USER": user, "SECOND_HOST": second, "BIG_ID": "12345678901234567",
                                   "WHOLE_ID": "12345678901234567"],
                           unset: ["DB_PORT", "DB", "HOSTS_0", "OTHER"])
        #expect(result.stdout.contains("] leaf ***|***|***\n"), "each leaf masked:\n\(result.stdout)")
    }

    @Test("sops extract: a path the file does not have names the path and the keys there (never a value); an empty mapping is said; a path that is not sops's syntax is refused")
    func sopsExtractMissing() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        let key = try project.ageKey("keys/age.txt")
        let password = unique("pw")
        try project.encrypt("secrets.enc.yaml", plain: "db:\n  password: \(password)\n  user: u\nnone: {}\n", ext: "yaml", recipient: key.recipient)
        try project.workflow(
            jobSecrets: [#"{ provider: sops, file: secrets.enc.yaml, extract: '["none"]', age-key-file: keys/age.txt, sops: '\#(sops)' }"#],
            report: [])
        let empty = try await project.run(secrets: [password])
        expectProviderFailure(empty, project, provider: "sops", contains: #"secrets.enc.yaml has an empty mapping at ["none"]: it gives no secret"#)

        try project.workflow(
            jobSecrets: [#"{ provider: sops, file: secrets.enc.yaml, extract: '["db"]["pasword"]', age-key-file: keys/age.txt, sops: '\#(sops)' }"#],
            report: [])
        var result = try await project.run(secrets: [password])
        expectProviderFailure(result, project, provider: "sops", contains: #"secrets.enc.yaml has nothing at ["db"]["pasword"]"#)
        #expect(result.stderr.contains(#"hint: ["db"] has the keys password, user"#), "\(result.stderr)")

        try project.workflow(
            jobSecrets: [#"{ provider: sops, file: secrets.enc.yaml, extract: 'db.password', age-key-file: keys/age.txt, sops: '\#(sops)' }"#],
            report: [])
        result = try await project.run(secrets: [password])
        expectProviderFailure(result, project, provider: "sops", contains: "'extract' is not a key path: db.password")
    }

    // MARK: OpenBao

    @Test("OpenBao: KV v2 read with VAULT_TOKEN, nested values flattened, as: map, expression")
    func vaultEnvironmentToken() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let server = try await offThePool { try OpenBaoServer() }
        defer { server.stop() }
        let apiKey = unique("api"), dbPassword = unique("db pw"), host0 = unique("host-a"), host1 = unique("host-b")
        // Every delivered value is masked, the port too: a 4-digit port would be masked inside the
        // hex digests this test prints now and then, so it has 8 digits.
        try server.writeSecret("ci/app", ["api_key": apiKey, "db": ["password": dbPassword, "port": 98765432], "hosts": [host0, host1]])
        try server.writeReadPolicy("ci-app", paths: ["ci/app"])
        let token = try server.createToken(policies: ["ci-app"])
        try project.workflow(
            jobSecrets: ["{ provider: vault, path: ci/app, as: { API_KEY: RENAMED_KEY } }"],
            stepEnv: ["FROM_EXPRESSION": "${{ secrets.DB_PASSWORD }}"],
            report: ["RENAMED_KEY", "API_KEY", "DB_PASSWORD", "DB_PORT", "HOSTS_0", "HOSTS_1", "FROM_EXPRESSION"])
        let result = try await project.run(environment: ["VAULT_ADDR": server.address, "VAULT_TOKEN": token],
                                     secrets: [apiKey, dbPassword, host0, host1, token])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        try expectReported(result, [
            "RENAMED_KEY": apiKey, "DB_PASSWORD": dbPassword, "DB_PORT": "98765432", "HOSTS_0": host0, "HOSTS_1": host1,
            "FROM_EXPRESSION": dbPassword,
        ], unset: ["API_KEY"])
    }

    @Test("OpenBao: BAO_ADDR and BAO_TOKEN, keys: selection by name and by dotted path")
    func vaultBaoTokenAndKeys() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let server = try await offThePool { try OpenBaoServer() }
        defer { server.stop() }
        let apiKey = unique("api"), dbPassword = unique("pw"), dbUser = unique("user")
        try server.writeSecret("ci/app", ["api_key": apiKey, "db": ["password": dbPassword, "user": dbUser]])
        try server.writeReadPolicy("ci-app", paths: ["ci/app"])
        let token = try server.createToken(policies: ["ci-app"])
        try project.workflow(
            jobSecrets: ["{ provider: vault, path: ci/app, keys: [API_KEY, db.password] }"],
            report: ["API_KEY", "DB_PASSWORD", "DB_USER"])
        let result = try await project.run(environment: ["BAO_ADDR": server.address, "BAO_TOKEN": token],
                                     secrets: [apiKey, dbPassword, dbUser, token])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        try expectReported(result, ["API_KEY": apiKey, "DB_PASSWORD": dbPassword], unset: ["DB_USER"])
    }

    @Test("OpenBao over HTTPS with its own CA: ca-file trusts it; without it the TLS failure is said, exit 2")
    func vaultTLS() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let server = try await offThePool { try OpenBaoServer(tls: true) }
        defer { server.stop() }
        let caFile = try #require(server.caFile)
        let value = unique("tls")
        try server.writeSecret("ci/tls", ["tls_key": value])
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/tls, ca-file: '\(caFile)' }"], report: ["TLS_KEY"])
        let result = try await project.run(environment: ["VAULT_ADDR": server.address, "VAULT_TOKEN": server.rootToken], secrets: [value])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        try expectReported(result, ["TLS_KEY": value])

        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/tls }"], report: ["TLS_KEY"])
        let refused = try await project.run(environment: ["VAULT_ADDR": server.address, "VAULT_TOKEN": server.rootToken], secrets: [value])
        expectProviderFailure(refused, project, provider: "vault", contains: "TLS failed")
        #expect(refused.stderr.contains("for https with a private CA, set 'ca-file'"))
    }

    @Test("OpenBao: token-file, address: option, and version: reads an older version")
    func vaultTokenFileAndVersion() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let server = try await offThePool { try OpenBaoServer() }
        defer { server.stop() }
        let old = unique("old-key"), new = unique("new-key")
        #expect(try server.writeSecret("ci/rotated", ["api_key": old]) == 1)
        #expect(try server.writeSecret("ci/rotated", ["api_key": new]) == 2)
        try server.writeReadPolicy("rotated", paths: ["ci/rotated"])
        let token = try server.createToken(policies: ["rotated"])
        try project.write("vault-token", token + "\n")
        try project.workflow(
            jobSecrets: [
                "{ provider: vault, address: '\(server.address)', path: ci/rotated, token-file: vault-token, version: 1, as: OLD_KEY }",
                "{ provider: vault, address: '\(server.address)', path: /ci/rotated/, token-file: vault-token, as: NEW_KEY }",
            ],
            report: ["OLD_KEY", "NEW_KEY", "API_KEY"], extraScript: "echo \"token=$(cat vault-token)\"")
        let result = try await project.run(secrets: [old, new, token])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        // The token read from the file is masked like the values it reads.
        #expect(result.stdout.contains("token=***\n"), "\(result.stdout)")
        try expectReported(result, ["OLD_KEY": old, "NEW_KEY": new], unset: ["API_KEY"])
    }

    @Test("Vault: the runner's VAULT_TOKEN goes only to VAULT_ADDR, never to another address the workflow names, which may use plain http only to this machine; VAULT_ADDR may be any http(s) URL")
    func vaultWorkflowAddress() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let server = try await offThePool { try OpenBaoServer() }
        defer { server.stop() }
        let apiKey = unique("api")
        try server.writeSecret("ci/app", ["api_key": apiKey])
        // The same server under another name: the workflow chose it, so the runner's token is not sent.
        let other = server.address.replacingOccurrences(of: "127.0.0.1", with: "localhost")
        try project.workflow(jobSecrets: ["{ provider: vault, address: '\(other)', path: ci/app }"], report: ["API_KEY"])
        let refused = try await project.run(environment: ["VAULT_ADDR": server.address, "VAULT_TOKEN": server.rootToken], secrets: [apiKey])
        expectProviderFailure(refused, project, provider: "vault",
                              contains: "the workflow's address \(other) is not the runner's Vault server (VAULT_ADDR or BAO_ADDR), and VAULT_TOKEN goes only there")
        // Its own address, given again: the token goes.
        try project.workflow(jobSecrets: ["{ provider: vault, address: '\(server.address)/', path: ci/app }"], report: ["API_KEY"])
        let same = try await project.run(environment: ["VAULT_ADDR": server.address, "VAULT_TOKEN": server.rootToken], secrets: [apiKey])
        #expect(same.status == 0, "\(same.stderr)\n\(same.stdout)")
        try expectReported(same, ["API_KEY": apiKey])
        // Plain http to another machine: refused before any request.
        try project.workflow(jobSecrets: ["{ provider: vault, address: 'http://192.0.2.1:8200', path: ci/app, token-file: vault-token }"], report: ["API_KEY"])
        try project.write("vault-token", "unused\n")
        let plain = try await project.run(environment: [:], secrets: [apiKey])
        expectProviderFailure(plain, project, provider: "vault", contains: "the Vault address http://192.0.2.1:8200 is plain http to another machine")
        #expect(plain.seconds < 5, "a request was tried")
        // The runner's own address is its operator's choice: plain http to another host is tried.
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/app }"], report: ["API_KEY"])
        let operatorHTTP = try await project.run(environment: ["VAULT_ADDR": "http://127.0.0.2:9", "VAULT_TOKEN": "unused-token-1"], secrets: [apiKey])
        expectProviderFailure(operatorHTTP, project, provider: "vault", contains: "cannot reach Vault at http://127.0.0.2:9")
    }

    @Test("OpenBao: AppRole with role id and secret id from the environment, then from files; the login token is revoked")
    func vaultAppRole() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let server = try await offThePool { try OpenBaoServer() }
        defer { server.stop() }
        let apiKey = unique("api")
        try server.writeSecret("ci/app", ["api_key": apiKey])
        try server.writeReadPolicy("ci-app", paths: ["ci/app"])
        let (roleID, secretID) = try server.enableAppRole(role: "ci", policies: ["ci-app"])
        let tokensBefore = try tokenAccessors(server)

        // The local executor hands the host's environment to steps: the secret id in it is
        // masked there too, like the values it unlocks.
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/app, auth: approle }"], report: ["API_KEY"],
                             extraScript: "echo \"secret-id=$VAULT_SECRET_ID\"")
        let fromEnvironment = try await project.run(
            environment: ["VAULT_ADDR": server.address, "VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": secretID],
            secrets: [apiKey, secretID])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)\n\(fromEnvironment.stdout)")
        try expectReported(fromEnvironment, ["API_KEY": apiKey])
        #expect(fromEnvironment.stdout.contains("secret-id=***\n"), "\(fromEnvironment.stdout)")
        #expect(try tokenAccessors(server) == tokensBefore, "the AppRole login's token must be revoked when the run ends")

        let secondSecretID = try server.newSecretID(role: "ci")
        try project.write("approle/role-id", roleID + "\n")
        try project.write("approle/secret-id", secondSecretID + "\n")
        try project.workflow(
            jobSecrets: ["{ provider: vault, path: ci/app, auth: approle, role-id-file: approle/role-id, secret-id-file: approle/secret-id }"],
            report: ["API_KEY"])
        let fromFiles = try await project.run(environment: ["VAULT_ADDR": server.address], secrets: [apiKey, secondSecretID])
        #expect(fromFiles.status == 0, "\(fromFiles.stderr)\n\(fromFiles.stdout)")
        try expectReported(fromFiles, ["API_KEY": apiKey])
        #expect(try tokenAccessors(server) == tokensBefore, "the AppRole login's token must be revoked when the run ends")
        // A login of our own does add a token to that count (so the check above means something).
        try server.request("POST", "/v1/auth/approle/login", body: ["role_id": roleID, "secret_id": secondSecretID], token: "")
        #expect(try tokenAccessors(server) == tokensBefore + 1)
    }

    // MARK: OpenBao failures

    @Test("OpenBao namespaces: namespace:, mount: and approle-mount: log in and read inside the namespace; the login token is revoked there")
    func vaultNamespace() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let server = try await offThePool { try OpenBaoServer() }
        defer { server.stop() }
        // A namespace `team` with its own KV version 2 engine at `kv` and AppRole at `ci-approle`,
        // set up through path prefixes (`/v1/team/...`); nothing of it exists at the root.
        try server.request("POST", "/v1/sys/namespaces/team")
        try server.request("POST", "/v1/team/sys/mounts/kv", body: ["type": "kv", "options": ["version": "2"]])
        let apiKey = unique("ns-api")
        try server.writeSecret("ci/app", ["api_key": apiKey], mount: "team/kv")
        try server.request("PUT", "/v1/team/sys/policies/acl/ci-app", body: ["policy": "path \"kv/data/ci/app\" {\n  capabilities = [\"read\"]\n}\n"])
        try server.request("POST", "/v1/team/sys/auth/ci-approle", body: ["type": "approle"])
        try server.request("POST", "/v1/team/auth/ci-approle/role/ci", body: ["token_policies": ["ci-app"], "token_ttl": "10m"])
        let roleID = try #require((try server.request("GET", "/v1/team/auth/ci-approle/role/ci/role-id")?["data"] as? [String: Any])?["role_id"] as? String)
        let secretID = try #require((try server.request("POST", "/v1/team/auth/ci-approle/role/ci/secret-id")?["data"] as? [String: Any])?["secret_id"] as? String)
        // Tokens of the namespace (an empty list is a 404).
        let namespaceTokens = { (((try? server.request("LIST", "/v1/team/auth/token/accessors"))??["data"] as? [String: Any])?["keys"] as? [Any])?.count ?? 0 }
        let before = namespaceTokens()

        try project.workflow(
            jobSecrets: ["{ provider: vault, namespace: team, mount: kv, path: ci/app, auth: approle, approle-mount: ci-approle }"],
            report: ["API_KEY"])
        let result = try await project.run(
            environment: ["VAULT_ADDR": server.address, "VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": secretID], secrets: [apiKey, secretID])
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        try expectReported(result, ["API_KEY": apiKey])
        #expect(namespaceTokens() == before, "the AppRole login's token must be revoked in its namespace when the run ends")

        // VAULT_NAMESPACE does the same for entries without `namespace:`; without either, the
        // root has no such AppRole mount and the login is refused.
        let secondSecretID = try #require((try server.request("POST", "/v1/team/auth/ci-approle/role/ci/secret-id")?["data"] as? [String: Any])?["secret_id"] as? String)
        try project.workflow(jobSecrets: ["{ provider: vault, mount: kv, path: ci/app, auth: approle, approle-mount: ci-approle }"], report: ["API_KEY"])
        let fromEnvironment = try await project.run(
            environment: ["VAULT_ADDR": server.address, "VAULT_NAMESPACE": "team", "VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": secondSecretID],
            secrets: [apiKey, secondSecretID])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)\n\(fromEnvironment.stdout)")
        try expectReported(fromEnvironment, ["API_KEY": apiKey])
        #expect(namespaceTokens() == before, "the AppRole login's token must be revoked in its namespace when the run ends")
        let outside = try await project.run(
            environment: ["VAULT_ADDR": server.address, "VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": secondSecretID], secrets: [apiKey, secondSecretID])
        expectProviderFailure(outside, project, provider: "vault", contains: "the AppRole login at auth/ci-approle on \(server.address) was refused")
    }

    @Test("a Vault answer whose body trickles in (a byte a second) ends at the request's 10 s limit and is retried, not held to the entry's 30 s deadline (audit 48 L2)")
    func vaultTricklingBody() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let script = #"""
            import http.server, sys, time
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    print("asked", self.path, flush=True)
                    try:
                        self.send_response(200); self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", "100000"); self.end_headers(); self.wfile.flush()
                        for _ in range(100000):
                            self.wfile.write(b" "); self.wfile.flush(); time.sleep(1)
                    except OSError:
                        pass
                def log_message(self, *arguments): pass
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
            server.daemon_threads = True
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """#
        let asked = project.temp.path + "/asked.txt"
        let server = try await ScriptServer(script, log: asked)
        defer { server.stop() }
        let port = server.port
        let token = unique("tok")
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/app }"], report: [])
        let result = try await project.run(environment: ["VAULT_ADDR": "http://127.0.0.1:\(port)", "VAULT_TOKEN": token], secrets: [token])
        // The third attempt ends at the entry's deadline, by the plugin's limit or the host's:
        // either message may close the run; the first two attempts show the 10 s limit.
        expectProviderFailure(result, project, provider: "vault", contains: nil)
        #expect(result.stderr.contains("warning: Vault at http://127.0.0.1:\(port)/v1/secret/data/ci/app: timed out; retrying (1/2)"),
                "\(result.stderr)")
        let requests = try String(contentsOfFile: asked, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("asked ") }
        #expect(requests.count >= 2, "one request held for the whole deadline: \(requests)")
        #expect(result.seconds < 45, "\(result.seconds) s")
    }

    @Test("a Vault address that redirects: the redirect is not followed, so the token never goes where it points; exit 2")
    func vaultRedirectNotFollowed() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        // A server on 127.0.0.1 that answers every request with 307 to its own /stolen/..., and
        // prints each path it is asked for (with whether a token came along).
        let script = #"""
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def answer(self):
                    print(self.path, "token" if self.headers.get("X-Vault-Token") else "none", flush=True)
                    if self.path.startswith("/stolen"):
                        self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers()
                        self.wfile.write(b'{"data": {"data": {"stolen": "yes"}}}')
                    else:
                        self.send_response(307); self.send_header("Location", "/stolen" + self.path); self.end_headers()
                do_GET = do_POST = answer
                def log_message(self, *arguments): pass
            server = http.server.HTTPServer(("127.0.0.1", 0), H)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """#
        let asked = project.temp.path + "/asked.txt"
        let server = try await ScriptServer(script, log: asked)
        defer { server.stop() }
        let port = server.port
        let token = unique("redirected-token")
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/app }"], report: ["STOLEN"])
        let result = try await project.run(environment: ["VAULT_ADDR": "http://127.0.0.1:\(port)", "VAULT_TOKEN": token], secrets: [token])
        expectProviderFailure(result, project, provider: "vault", contains:
            "Vault at http://127.0.0.1:\(port)/v1/secret/data/ci/app answered 307, a redirect to /stolen/v1/secret/data/ci/app, which is not followed")
        #expect(result.stderr.contains("hint: set VAULT_ADDR (or 'address') to the server itself"), "\(result.stderr)")
        let requests = try String(contentsOfFile: asked, encoding: .utf8)
        #expect(requests.contains("/v1/secret/data/ci/app token\n"), "\(requests)")
        #expect(!requests.contains("/stolen"), "the redirect was followed: \(requests)")
    }

    @Test("OpenBao failure: server down (a closed port) says it cannot reach Vault, exit 2, no job started; a login inside VAULT_ADDR is never shown (audit 48 L5)")
    func vaultServerDown() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        var port: UInt16 = 0
        repeat { port = UInt16.random(in: 20000...60000) } while !isFreeLocalPort(port)
        let token = unique("tok"), proxyPassword = unique("proxy-pass")
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/app }"], report: [])
        // The password is one of the values that must reach no output: every message shows the
        // address without its login.
        let result = try await project.run(
            environment: ["VAULT_ADDR": "http://proxyuser:\(proxyPassword)@127.0.0.1:\(port)", "VAULT_TOKEN": token],
            secrets: [token, proxyPassword, "proxyuser"])
        expectProviderFailure(result, project, provider: "vault", contains: "cannot reach Vault at http://127.0.0.1:\(port)/v1/secret/data/ci/app")
        // A password written without percent-encoding, with '/' and '?' in it: no message shows
        // any of it (review 49: everything after the '/' was shown).
        let odd = unique("pw")
        let oddResult = try await project.run(
            environment: ["VAULT_ADDR": "http://proxyuser:x/\(odd)?y@127.0.0.1:\(port)", "VAULT_TOKEN": token], secrets: [token, odd])
        #expect(oddResult.status == 2, "\(oddResult.stderr)")
        // Retried twice first, each retry noted.
        for attempt in ["(1/2)", "(2/2)"] {
            #expect(result.stderr.contains("warning: Vault at http://127.0.0.1:\(port)/v1/secret/data/ci/app: connection refused; retrying \(attempt)"),
                    "\(result.stderr)")
        }
    }

    @Test("a Vault token with a control character (a CR, a line break inside a token file) is refused by name and place before any request, never quoted or retried (audit 56 H2)")
    func vaultTokenWithControlCharacter() async throws {
        var port: UInt16 = 0
        repeat { port = UInt16.random(in: 20000...60000) } while !isFreeLocalPort(port)
        let token = "hvs." + String((0..<260).map { _ in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".randomElement()! })
        let pieces = [String(token.prefix(20)), String(token.dropFirst(120).prefix(20)), String(token.suffix(20))]
        for (entry, environment, message) in [
            ("{ provider: vault, path: ci/app }", ["VAULT_TOKEN": token + "\r"], "VAULT_TOKEN holds a carriage return at byte \(token.utf8.count + 1) of \(token.utf8.count + 1)"),
            ("{ provider: vault, path: ci/app }", ["BAO_TOKEN": "TokA-\u{1}-" + token], "BAO_TOKEN holds a control character (0x01) at byte 6 of \(token.utf8.count + 7)"),
            ("{ provider: vault, path: ci/app, token-file: token.txt }", [:], "the token file token.txt holds a line break at byte 131 of \(token.utf8.count + 1)"),
        ] {
            let project = try SecretsProject()
            defer { project.remove() }
            try (String(token.prefix(130)) + "\n" + token.dropFirst(130) + "\r\n").write(toFile: project.project + "/token.txt", atomically: true, encoding: .utf8)
            try project.workflow(jobSecrets: [entry], report: [])
            let result = try await project.run(environment: environment.merging(["VAULT_ADDR": "http://127.0.0.1:\(port)"]) { a, _ in a }, secrets: pieces)
            expectProviderFailure(result, project, provider: "vault", contains: message + ", which an HTTP header cannot carry")
            #expect(!result.stderr.contains("retrying") && !result.stderr.contains("cannot reach"), "no request was made: \(result.stderr)")
        }
    }

    @Test("vault: a path or mount with '..' or '.' parts is refused before the token is read; '?', '#' and spaces are sent percent-encoded")
    func vaultPathParts() async throws {
        var port: UInt16 = 0
        repeat { port = UInt16.random(in: 20000...60000) } while !isFreeLocalPort(port)
        let token = unique("tok")
        for (entry, message) in [
            ("{ provider: vault, path: ../../sys/health }", "the vault provider's 'path' '../../sys/health' has an empty, '.' or '..' part"),
            ("{ provider: vault, path: ci/./app }", "the vault provider's 'path' 'ci/./app' has an empty, '.' or '..' part"),
            ("{ provider: vault, path: ci/app, mount: secret/../sys }", "the vault provider's 'mount' 'secret/../sys' has an empty, '.' or '..' part"),
            ("{ provider: vault, path: \"ci/a b?x=1#y\" }", "cannot reach Vault at http://127.0.0.1:\(port)/v1/secret/data/ci/a%20b%3Fx=1%23y"),
        ] {
            let project = try SecretsProject()
            defer { project.remove() }
            try project.workflow(jobSecrets: [entry], report: [])
            let result = try await project.run(environment: ["VAULT_ADDR": "http://127.0.0.1:\(port)", "VAULT_TOKEN": token], secrets: [token])
            expectProviderFailure(result, project, provider: "vault", contains: message)
            if !message.hasPrefix("cannot reach") {
                #expect(!result.stderr.contains("cannot reach") && !result.stderr.contains("retrying"), "no request was made: \(result.stderr)")
            }
        }
    }

    @Test("OpenBao failures: 403 for another path's policy, wrong path, unknown key, bad token, wrong AppRole secret id")
    func vaultFailures() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let server = try await offThePool { try OpenBaoServer() }
        defer { server.stop() }
        let apiKey = unique("api"), otherValue = unique("other")
        try server.writeSecret("ci/app", ["api_key": apiKey])
        try server.writeSecret("ci/other", ["value": otherValue])
        try server.writeReadPolicy("only-other", paths: ["ci/other"])
        try server.writeReadPolicy("ci-app", paths: ["ci/app"])
        let otherToken = try server.createToken(policies: ["only-other"])
        let appToken = try server.createToken(policies: ["ci-app"])
        let all = [apiKey, otherValue, otherToken, appToken]

        // A token whose policy covers another path.
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/app }"], report: [])
        let denied = try await project.run(environment: ["VAULT_ADDR": server.address, "VAULT_TOKEN": otherToken], secrets: all)
        expectProviderFailure(denied, project, provider: "vault", contains: "permission denied (403) reading secret/data/ci/app")

        // A path with no secret.
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/nothing-here }"], report: [])
        let missing = try await project.run(environment: ["VAULT_ADDR": server.address, "VAULT_TOKEN": server.rootToken], secrets: all)
        expectProviderFailure(missing, project, provider: "vault", contains: "no secret at secret/ci/nothing-here on \(server.address)")

        // A key the secret does not have.
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/app, keys: [API_KEY, NOPE] }"], report: [])
        let unknownKey = try await project.run(environment: ["VAULT_ADDR": server.address, "VAULT_TOKEN": appToken], secrets: all)
        expectProviderFailure(unknownKey, project, provider: "vault", contains: "secret/ci/app has no key 'NOPE'")

        // A token the server does not know (OpenBao answers 403 there, Vault 403 or 401).
        let badToken = "s." + unique("bogus").replacingOccurrences(of: "-", with: "")
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/app }"], report: [])
        let bad = try await project.run(environment: ["VAULT_ADDR": server.address, "VAULT_TOKEN": badToken], secrets: all + [badToken])
        expectProviderFailure(bad, project, provider: "vault", contains: nil)
        #expect(bad.stderr.contains("permission denied (403)") || bad.stderr.contains("token was refused (401)"), "\(bad.stderr)")

        // AppRole with a secret id that is not the role's.
        let (roleID, _) = try server.enableAppRole(role: "ci", policies: ["ci-app"])
        let wrongSecretID = UUID().uuidString.lowercased()
        try project.workflow(jobSecrets: ["{ provider: vault, path: ci/app, auth: approle }"], report: [])
        let login = try await project.run(
            environment: ["VAULT_ADDR": server.address, "VAULT_ROLE_ID": roleID, "VAULT_SECRET_ID": wrongSecretID],
            secrets: all + [wrongSecretID])
        expectProviderFailure(login, project, provider: "vault", contains: "the AppRole login at auth/approle on \(server.address) was refused")
    }

    // MARK: Command lines and temporary files

    @Test("ps: no process's command line holds a secret while sops, vault and --secret-file secrets are in use")
    func commandLines() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        let server = try await offThePool { try OpenBaoServer() }
        defer { server.stop() }
        let key = try project.ageKey("keys/age.txt")
        let sopsValue = unique("sops-val"), vaultValue = unique("vault-val"), fileValue = unique("file-val")
        try project.encrypt("secrets.enc.yaml", plain: "from_sops: \(sopsValue)\n", ext: "yaml", recipient: key.recipient)
        try server.writeSecret("ci/app", ["vault_value": vaultValue])
        try server.writeReadPolicy("ci-app", paths: ["ci/app"])
        let token = try server.createToken(policies: ["ci-app"])
        let secretFile = try project.temp.write("outside/ci.env", "FILE_VALUE=\(fileValue)\n")
        try project.workflow(
            workflowSecrets: ["FILE_VALUE"],
            jobSecrets: [
                "{ provider: sops, file: secrets.enc.yaml, age-key-file: keys/age.txt, sops: '\(sops)' }",
                "{ provider: vault, path: ci/app }",
            ],
            stepEnv: ["IN_EXPRESSION": "${{ secrets.FROM_SOPS }}"],
            report: ["FROM_SOPS", "VAULT_VALUE", "FILE_VALUE", "IN_EXPRESSION"],
            // Secrets in a script (through an expression) and in a child's environment, while it sleeps.
            extraScript: "echo \"${{ secrets.VAULT_VALUE }}\" | wc -c > /dev/null; SLEEPER=\"$FILE_VALUE\" sleep 1.5")
        let secrets = [sopsValue, vaultValue, fileValue, token]
        // A canary on a command line of our own shows that the sampler does see command lines.
        let canary = unique("canary")
        let sampler = CommandLineSampler(secrets: secrets + [canary])
        sampler.start()
        let canaryProcess = try LaunchedProcess(["/bin/sh", "-c", "sleep 0.5; : \(canary)"], environment: ProcessInfo.processInfo.environment)
        let result = try await project.run(["--secret-file", secretFile],
                                     environment: ["VAULT_ADDR": server.address, "VAULT_TOKEN": token], secrets: secrets)
        await waitForExit(canaryProcess)
        let (samples, hits) = sampler.stop()
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        try expectReported(result, ["FROM_SOPS": sopsValue, "VAULT_VALUE": vaultValue, "FILE_VALUE": fileValue, "IN_EXPRESSION": sopsValue])
        #expect(samples >= 10, "only \(samples) samples of the process table were taken")
        #expect(hits.contains { $0.contains(canary) }, "the sampler never saw the canary's command line")
        let leaks = hits.filter { !$0.contains(canary) }
        #expect(leaks.isEmpty, "secrets on command lines: \(leaks.prefix(5).joined(separator: " | "))")
    }

    @Test("temporary files: no file with a secret is left under TMPDIR or in /dev/shm after a run, a failed run too")
    func temporaryFiles() async throws {
        let project = try SecretsProject()
        defer { project.remove() }
        let sops = try requiredTool("sops")
        let key = try project.ageKey("keys/age.txt")
        let value = unique("tmp-val"), cliValue = unique("cli-val")
        try project.encrypt("secrets.enc.yaml", plain: "tmp_value: \(value)\n", ext: "yaml", recipient: key.recipient)
        // The step copies a secret to $RUNNER_TEMP and a script holds one through an expression.
        try project.workflow(
            workflowSecrets: ["CLI_VALUE"],
            jobSecrets: ["{ provider: sops, file: secrets.enc.yaml, age-key-file: keys/age.txt, sops: '\(sops)' }"],
            report: ["TMP_VALUE", "CLI_VALUE"],
            extraScript: "printf %s \"${{ secrets.TMP_VALUE }}\" > \"$RUNNER_TEMP/copy\"; printf %s \"$CLI_VALUE\" > copy-in-workspace; echo \"runner-temp=$RUNNER_TEMP\"")
        let ok = try await project.run(["--secret", "CLI_VALUE"], environment: ["CLI_VALUE": cliValue], secrets: [value, cliValue])
        #expect(ok.status == 0, "\(ok.stderr)\n\(ok.stdout)")
        try expectReported(ok, ["TMP_VALUE": value, "CLI_VALUE": cliValue])
        // The run's folder was under the TMPDIR given (so checking that folder means something).
        #expect(ok.stdout.contains("] runner-temp=\(project.runTemp)/nixactions-"), "\(ok.stdout)")

        // A failing provider after a good one: the good one's value was resolved, and nothing of it stays.
        try project.workflow(
            workflowSecrets: ["CLI_VALUE"],
            jobSecrets: [
                "{ provider: sops, file: secrets.enc.yaml, age-key-file: keys/age.txt, sops: '\(sops)' }",
                "{ provider: sops, file: secrets.enc.yaml, keys: [MISSING], age-key-file: keys/age.txt, sops: '\(sops)' }",
            ],
            report: [])
        let failed = try await project.run(["--secret", "CLI_VALUE"], environment: ["CLI_VALUE": cliValue], secrets: [value, cliValue])
        expectProviderFailure(failed, project, provider: "sops", contains: "has no key 'MISSING'")
    }
}

// MARK: - Helpers

/// A tool the suite needs; a missing one fails the test with what to do.
private func requiredTool(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    try #require(testTool(name), "\(name) is missing: run .ci/setup (it installs age, sops and OpenBao)", sourceLocation: sourceLocation)
}

/// A value no other test uses (tests run in parallel; the ps sampler must not see another test's values).
private func unique(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.lowercased().prefix(18))"
}

private func folder(of path: String) -> String { (path as NSString).deletingLastPathComponent }

/// The SHA-256 of `value`, as `sha256sum` prints it.
private func sha256(_ value: String) throws -> String {
    let result = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/sha256sum"), [], input: Data(value.utf8))
    return String(result.stdout.prefix(64))
}

/// The step printed NAME=<sha256 of the value> for each of `expected`, and NAME=unset for `unset`.
private func expectReported(
    _ result: CommandResult, _ expected: [String: String], unset: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
) throws {
    for (name, value) in expected.sorted(by: { $0.key < $1.key }) {
        let line = "] \(name)=\(try sha256(value))\n"
        #expect(result.stdout.contains(line), "the step did not see the right \(name):\n\(result.stdout)\n\(result.stderr)",
                sourceLocation: sourceLocation)
    }
    for name in unset {
        #expect(result.stdout.contains("] \(name)=unset\n"), "\(name) should not be set:\n\(result.stdout)", sourceLocation: sourceLocation)
    }
}

/// A provider failure: exit 2, `FILE:LINE:COL: error: secret provider 'ID': …` with the job's
/// context and a hint, `nixactions: no job was started`, and the step never ran.
private func expectProviderFailure(
    _ result: CommandResult, _ project: SecretsProject, provider: String, contains text: String?,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.status == 2, "exit status \(result.status)\n\(result.stderr)\n\(result.stdout)", sourceLocation: sourceLocation)
    let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let errorLines = lines.indices.filter { lines[$0].contains(": error: secret provider '\(provider)': ") }
    #expect(errorLines.count == 1, "one error for the provider:\n\(result.stderr)", sourceLocation: sourceLocation)
    if let index = errorLines.first {
        let line = lines[index]
        #expect(line.hasPrefix(project.workflowPath + ":") && line.range(of: #"^[^:]+:\d+:\d+: error: "#, options: .regularExpression) != nil,
                "the error names FILE:LINE:COL of the entry: \(line)", sourceLocation: sourceLocation)
        if let text { #expect(line.contains(text), "expected '\(text)' in: \(line)", sourceLocation: sourceLocation) }
        #expect(index + 2 < lines.count && lines[index + 1] == "  in workflow 'secrets' › job 'use'",
                "the job's context follows:\n\(result.stderr)", sourceLocation: sourceLocation)
        #expect(index + 2 < lines.count && lines[index + 2].hasPrefix("  hint: "), "a hint follows:\n\(result.stderr)", sourceLocation: sourceLocation)
    }
    #expect(result.stderr.contains("nixactions: no job was started\n"), "\(result.stderr)", sourceLocation: sourceLocation)
    #expect(!project.started, "the step ran", sourceLocation: sourceLocation)
    #expect(!result.stdout.contains("job 'use' started"), "\(result.stdout)", sourceLocation: sourceLocation)
}

/// A tracked token count (every token has an accessor), to see that login tokens are revoked.
private func tokenAccessors(_ server: OpenBaoServer) throws -> Int {
    let answer = try server.request("LIST", "/v1/auth/token/accessors")
    return ((answer?["data"] as? [String: Any])?["keys"] as? [Any])?.count ?? 0
}

/// A Python script serving HTTP on 127.0.0.1 that prints its port as its first line, then what
/// it is asked, into `log`; ended by `stop()`.
private struct ScriptServer {
    let process: LaunchedProcess
    let port: Int

    init(_ script: String, log: String) async throws {
        let python = try requiredTool("python3")
        let process = try LaunchedProcess([python, "-c", script], output: log)
        let portLine = { (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").first.flatMap { Int($0) } }
        guard await eventually(timeout: .seconds(20), { portLine() != nil }), let port = portLine() else {
            process.signal(SIGKILL)
            process.wait()
            throw TestComponentError("the test server did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        self.process = process
        self.port = port
    }

    func stop() {
        process.signal(SIGKILL)
        process.wait()
    }
}

/// A project folder, a log folder and a TMPDIR for nixactions, all in one temporary folder.
private struct SecretsProject {
    let temp: TemporaryDirectory
    var project: String { temp.path + "/project" }
    var logs: String { temp.path + "/logs" }
    var runTemp: String { temp.path + "/tmp" }
    var marker: String { temp.path + "/started" }
    var workflowPath: String { project + "/wf.yml" }
    var started: Bool { FileManager.default.fileExists(atPath: marker) }

    init() throws {
        temp = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
    }

    func remove() { temp.remove() }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try temp.write("project/" + name, text)
    }

    /// A new age key at `name` (relative to the project; `../x` puts it outside).
    func ageKey(_ name: String) throws -> (path: String, recipient: String) {
        let keygen = try requiredTool("age-keygen")
        let path = URL(fileURLWithPath: project + "/" + name).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: folder(of: path), withIntermediateDirectories: true)
        let made = try runCommandBlocking(URL(fileURLWithPath: keygen), ["-o", path])
        try #require(made.status == 0, "age-keygen failed: \(made.stderr)")
        let recipient = try runCommandBlocking(URL(fileURLWithPath: keygen), ["-y", path])
        try #require(recipient.status == 0, "age-keygen -y failed: \(recipient.stderr)")
        return (path, recipient.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Encrypt `plain` (written outside the project) with sops for `recipient` into `name` in the project.
    func encrypt(_ name: String, plain: String, ext: String, recipient: String) throws {
        let sops = try requiredTool("sops")
        let input = try temp.write("plain/\(UUID().uuidString).\(ext)", plain)
        let output = project + "/" + name
        let result = try runCommandBlocking(
            URL(fileURLWithPath: sops), ["--disable-version-check", "--encrypt", "--age", recipient, "--output", output, input])
        try #require(result.status == 0, "sops --encrypt failed: \(result.stderr)")
        let encrypted = try String(contentsOfFile: output, encoding: .utf8)
        try #require(encrypted.contains("ENC[AES256_GCM"), "not encrypted: \(encrypted)")
        try? FileManager.default.removeItem(atPath: input)
    }

    /// A workflow `secrets` (name) with one job `use` whose step touches the marker and prints,
    /// for each of `report`, NAME=<sha256 of its value> or NAME=unset.
    func workflow(
        workflowSecrets: [String] = [], jobSecrets: [String], stepEnv: [String: String] = [:], report: [String], extraScript: String = ""
    ) throws {
        var yaml = "name: secrets\n"
        if !workflowSecrets.isEmpty { yaml += "secrets:\n" + workflowSecrets.map { "  - \($0)\n" }.joined() }
        yaml += "jobs:\n  use:\n"
        if !jobSecrets.isEmpty { yaml += "    secrets:\n" + jobSecrets.map { "      - \($0)\n" }.joined() }
        yaml += "    steps:\n      - name: report\n"
        if !stepEnv.isEmpty {
            yaml += "        env:\n" + stepEnv.sorted(by: { $0.key < $1.key }).map { "          \($0.key): \"\($0.value)\"\n" }.joined()
        }
        yaml += "        run: |\n          touch '\(marker)'\n"
        for name in report {
            yaml += "          if [ -n \"${\(name)+x}\" ]; then echo \"\(name)=$(printf %s \"$\(name)\" | sha256sum | cut -c1-64)\"; else echo \(name)=unset; fi\n"
        }
        if !extraScript.isEmpty { yaml += "          \(extraScript)\n" }
        try write("wf.yml", yaml)
    }

    /// Run the workflow with a fresh TMPDIR and log folder, then check that none of `secrets`
    /// is in its output, its log folder, or a file left under its TMPDIR or in /dev/shm, and that
    /// its run folder is gone.
    func run(
        _ arguments: [String] = [], environment: [String: String] = [:], secrets: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CommandResult {
        try? FileManager.default.removeItem(atPath: marker)
        try? FileManager.default.removeItem(atPath: logs)
        try? FileManager.default.removeItem(atPath: runTemp)
        try FileManager.default.createDirectory(atPath: runTemp, withIntermediateDirectories: true)
        var env = environment
        env["TMPDIR"] = runTemp
        let result = try await runCommand(
            nixactionsBinary, ["run", workflowPath, "--log-dir", logs, "--log-format", "plain"] + arguments, in: project,
            environment: env,
            removing: ["VAULT_ADDR", "VAULT_TOKEN", "BAO_ADDR", "BAO_TOKEN", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_NAMESPACE",
                       "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD"])
        for secret in secrets {
            #expect(!result.stdout.contains(secret), "a secret is in stdout:\n\(result.stdout)", sourceLocation: sourceLocation)
            #expect(!result.stderr.contains(secret), "a secret is in stderr:\n\(result.stderr)", sourceLocation: sourceLocation)
        }
        let logFiles = files(under: logs)
        if result.status != 2 {
            #expect(logFiles.contains { $0.hasSuffix("/events.jsonl") }, "no log folder in \(logs)", sourceLocation: sourceLocation)
        }
        for file in logFiles {
            let leaked = leakedSecrets(in: file, secrets)
            #expect(leaked.isEmpty, "the log file \(file) holds a secret", sourceLocation: sourceLocation)
        }
        let left = files(under: runTemp, includingFolders: true)
        #expect(!left.contains { ($0 as NSString).lastPathComponent.hasPrefix("nixactions-") },
                "the run folder is left under TMPDIR: \(left.prefix(10))", sourceLocation: sourceLocation)
        for file in left where !leakedSecrets(in: file, secrets).isEmpty {
            Issue.record("a file with a secret is left under TMPDIR: \(file)", sourceLocation: sourceLocation)
        }
        let shm = (try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? []
        for entry in shm where entry.hasPrefix("nixactions-") {
            for file in files(under: "/dev/shm/" + entry) where !leakedSecrets(in: file, secrets).isEmpty {
                Issue.record("a file with a secret is left in /dev/shm: \(file)", sourceLocation: sourceLocation)
            }
        }
        return result
    }
}

/// Regular files (and folders, when asked) under `root`, not following symbolic links.
private func files(under root: String, includingFolders: Bool = false) -> [String] {
    var found: [String] = []
    func visit(_ path: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return }
        for name in names {
            let child = path + "/" + name
            var info = stat()
            guard lstat(child, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                if includingFolders { found.append(child) }
                visit(child)
            case S_IFREG: found.append(child)
            default: continue
            }
        }
    }
    visit(root)
    return found
}

/// Which of `secrets` the file at `path` holds.
private func leakedSecrets(in path: String, _ secrets: [String]) -> [String] {
    guard let data = FileManager.default.contents(atPath: path) else { return [] }
    return secrets.filter { !$0.isEmpty && data.range(of: Data($0.utf8)) != nil }
}

/// Reads every process's command line (/proc/PID/cmdline) every 50 ms on a thread of its own,
/// noting any that holds one of `secrets`.
private final class CommandLineSampler: @unchecked Sendable {
    let secrets: [Data]
    private let lock = NSLock()
    private var running = false
    private var samples = 0
    private var hits: [String] = []
    private let finished = DispatchSemaphore(value: 0)

    init(secrets: [String]) { self.secrets = secrets.map { Data($0.utf8) } }

    func start() {
        lock.withLock { running = true }
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                sampleOnce()
                usleep(50_000)
            }
            sampleOnce()
            finished.signal()
        }
    }

    func stop() -> (samples: Int, hits: [String]) {
        lock.withLock { running = false }
        finished.wait()
        return lock.withLock { (samples, hits) }
    }

    private func sampleOnce() {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { $0.allSatisfy(\.isNumber) }
        var found: [String] = []
        for pid in pids {
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !cmdline.isEmpty else { continue }
            if secrets.contains(where: { cmdline.range(of: $0) != nil }) {
                found.append("pid \(pid): " + String(decoding: cmdline.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).prefix(300))
            }
        }
        lock.withLock {
            samples += 1
            hits += found
        }
    }
}
