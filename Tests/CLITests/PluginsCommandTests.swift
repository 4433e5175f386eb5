import Foundation
import Testing
import TestSupport

@Suite("nixactions plugins list")
struct PluginsCommandTests {
    @Test("lists plugins with id, kind, version, ABI and path, and refused files with the reason")
    func text() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["wrongabi": "nixactions-testplugin-wrongabi", "noentry": "nixactions-testplugin-noentry"])
        let result = try await nixactions(["plugins", "list"], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["ID", "KIND", "VERSION", "ABI", "PATH"])
        #expect(lines.contains { $0.hasPrefix("local ") && $0.contains("executor") && $0.contains("0.1.0") && $0.contains(" 1.5 ") && $0.hasSuffix("libnixactions-plugin-local.so") })
        #expect(lines.contains("refused: \(folder)/libnixactions-plugin-wrongabi.so: built for plugin ABI 99.0; this host speaks ABI 1.5"))
        #expect(lines.contains("refused: \(folder)/libnixactions-plugin-noentry.so: not a NixActions plugin: it does not export 'nixactions_plugin_entry'"))
        #expect(lines.last?.hasPrefix("searched: \(folder):") == true)
    }

    @Test("--json gives the same facts as JSON")
    func json() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["double": "nixactions-testplugin-double", "wrongabi": "nixactions-testplugin-wrongabi"])
        let result = try await nixactions(["plugins", "list", "--json"], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let plugins = try #require(object["plugins"] as? [[String: Any]])
        #expect(plugins.compactMap { $0["id"] as? String } == ["test-double", "cache-local", "cache-s3", "env", "file", "local", "oci", "sops", "ssh", "text", "vault"])
        let file = try #require(plugins.first { $0["id"] as? String == "file" })
        #expect(file["kinds"] as? [String] == ["secrets"])
        #expect(file["interfaces"] as? [String] == ["nixactions.secrets/1", "nixactions.options/1"])
        let double = try #require(plugins.first)
        #expect(double["abi"] as? String == "1.5")
        #expect(double["kinds"] as? [String] == ["executor"])
        #expect(double["interfaces"] as? [String] == ["nixactions.executor/1"])
        #expect(double["path"] as? String == folder + "/libnixactions-plugin-double.so")
        let refused = try #require(object["refused"] as? [[String: Any]])
        #expect(refused.count == 1)
        #expect((refused.first?["reason"] as? String)?.contains("ABI 99") == true)
        let functions = try #require(object["functions"] as? [[String: Any]])
        #expect(functions.contains { $0["name"] as? String == "text.upper" && $0["signature"] as? String == "s(s)" })
    }
}

@Suite("nixactions with damaged or untrusted plugin files around")
struct PluginTrustCommandTests {
    @Test("truncated plugin files are refused with the reason: plugins list and validate still work, the intact plugin is used")
    func truncatedPlugins() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = temp.path + "/cut"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let bytes = try Data(contentsOf: library("nixactions-plugin-local"))
        // Same id as the intact plugin next to the executable, which comes later in the search path.
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: folder + "/libnixactions-plugin-local.so"))
        try bytes.prefix(4096).write(to: URL(fileURLWithPath: folder + "/libnixactions-plugin-small.so"))
        let list = try await nixactions(["plugins", "list", "--json"], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(list.status == 0, "\(list.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])
        let refused = try #require(object["refused"] as? [[String: String]])
        for name in ["local", "small"] {
            #expect(refused.contains {
                $0["path"] == folder + "/libnixactions-plugin-\(name).so"
                    && $0["reason"]!.hasPrefix("not a loadable library: truncated or damaged ELF file: ")
            }, "\(refused)")
        }
        let plugins = try #require(object["plugins"] as? [[String: Any]])
        let local = try #require(plugins.first { $0["id"] as? String == "local" })
        #expect(local["path"] as? String == productsDirectory.path + "/libnixactions-plugin-local.so")

        let workflow = try temp.write("wf.yml", "name: ok\njobs:\n  a:\n    steps:\n      - run: echo hi\n")
        let validate = try await nixactions(["validate", workflow], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
    }

    @Test("a plugin folder owned by another user is skipped and listed with the reason")
    func foreignFolder() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["double": "nixactions-testplugin-double"])
        #expect(chown(folder, 65534, 65534) == 0)
        let list = try await nixactions(["plugins", "list"], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(list.status == 0)
        let lines = list.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("refused: \(folder): folder skipped: '\(folder)' is owned by user 'nobody' (uid 65534), not by root or you"), "\(list.stdout)")
        #expect(!lines.contains { $0.hasPrefix("test-double ") })
        #expect(lines.contains { $0.hasPrefix("local ") })
        // run and validate say so on standard error, and go on with the trusted folders. validate
        // searches plugins only for a workflow that calls a plugin function.
        try temp.write("plain.yml", "jobs:\n  a:\n    steps:\n      - run: true\n")
        let plain = try await nixactions(["validate", temp.path + "/plain.yml"], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(plain.status == 0)
        #expect(!plain.stderr.contains("warning: plugin folder skipped"), "\(plain.stderr)")
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo ${{ text.upper('x') }}\n")
        let validate = try await nixactions(["validate", temp.path + "/wf.yml"], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stderr.contains("warning: plugin folder skipped: '\(folder)' is owned by user 'nobody'"), "\(validate.stderr)")
        let run = try await nixactions(["run", temp.path + "/plain.yml", "--log-dir", temp.path + "/logs"],
                                       environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("warning: plugin folder skipped: '\(folder)' is owned by user 'nobody'"), "\(run.stderr)")
    }

    @Test("a relative NIXACTIONS_PLUGIN_PATH entry is skipped and said: it would load the plugins of the folder a run starts in, a project's own (audit 64 users L1)")
    func relativeFolder() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        _ = try temp.pluginFolder(["double": "nixactions-testplugin-double"])
        for entry in ["plugins", "./plugins"] {
            let list = try await nixactions(["plugins", "list"], in: temp.path, environment: ["NIXACTIONS_PLUGIN_PATH": entry])
            #expect(list.status == 0)
            let lines = list.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains("refused: \(entry): folder skipped: '\(entry)' is a relative path (NIXACTIONS_PLUGIN_PATH), which would load "
                                   + "the plugins of whatever folder a run starts in; give it as an absolute path"), "\(list.stdout)")
            #expect(!lines.contains { $0.hasPrefix("test-double ") } && lines.contains { $0.hasPrefix("local ") }, "\(list.stdout)")
        }
        // The same folder given whole is used.
        let whole = try await nixactions(["plugins", "list"], in: temp.path, environment: ["NIXACTIONS_PLUGIN_PATH": temp.path + "/plugins"])
        #expect(whole.stdout.split(separator: "\n").contains { $0.hasPrefix("test-double ") }, "\(whole.stdout)")
    }
}

@Suite("nixactions plugins install: recorded hashes, changed files refused")
struct PluginInstallTests {
    @Test("install records the hash; a changed or unlisted plugin in that folder is refused")
    func installAndTamper() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = temp.path + "/installed"
        let install = try await nixactions(["plugins", "install", library("nixactions-testplugin-double").path, "--dir", folder])
        #expect(install.status == 0, "\(install.stderr)")
        let installed = folder + "/libnixactions-plugin-test-double.so"
        #expect(install.stdout.contains("installed test-double 0.1.0 (ABI 1.5) as \(installed)"))
        let manifest = try String(contentsOfFile: folder + "/nixactions-plugins.sha256", encoding: .utf8)
        #expect(manifest.contains("  libnixactions-plugin-test-double.so\n"))
        // The record is sha256sum's format: the real tool agrees with it.
        let check = try await runCommand(URL(fileURLWithPath: "/usr/bin/sha256sum"), ["-c", "nixactions-plugins.sha256"], in: folder)
        #expect(check.status == 0)
        #expect(check.stdout.contains("libnixactions-plugin-test-double.so: OK"))

        let listed = try await nixactions(["plugins", "list"], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(listed.stdout.split(separator: "\n").contains { $0.hasPrefix("test-double ") })

        // Tamper with the installed file: it is refused, not loaded.
        let handle = try #require(FileHandle(forWritingAtPath: installed))
        handle.seekToEndOfFile()
        handle.write(Data([0]))
        try handle.close()
        // And drop in a file that was never installed.
        try FileManager.default.copyItem(atPath: library("nixactions-plugin-local").path, toPath: folder + "/libnixactions-plugin-dropped.so")
        let after = try await nixactions(["plugins", "list", "--json"], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
        let refused = try #require(object["refused"] as? [[String: String]])
        #expect(refused.contains { $0["path"] == installed && $0["reason"]!.hasPrefix("changed since it was installed (sha256 ") })
        #expect(refused.contains { $0["path"]!.hasSuffix("libnixactions-plugin-dropped.so") && $0["reason"]!.hasPrefix("not installed:") })
        let plugins = try #require(object["plugins"] as? [[String: Any]])
        #expect(!plugins.contains { ($0["path"] as? String)?.hasPrefix(folder) == true })

        // The check never turns itself off (audit 50): not through a record with bytes that are
        // not UTF-8, nor through a link from a folder without a record, nor a record that is a folder.
        func refusedHere(_ search: String) async throws -> [[String: String]] {
            let result = try await nixactions(["plugins", "list", "--json"], environment: ["NIXACTIONS_PLUGIN_PATH": search])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let loaded = try #require(object["plugins"] as? [[String: Any]])
            #expect(!loaded.contains { ($0["path"] as? String)?.hasPrefix(search) == true }, "\(search): \(loaded)")
            return try #require(object["refused"] as? [[String: String]])
        }
        let record = folder + "/nixactions-plugins.sha256"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: record))
        bytes = Data("# installed by ".utf8) + Data([0xE9]) + Data("quipe\n".utf8) + bytes  // Latin-1: not UTF-8
        try bytes.write(to: URL(fileURLWithPath: record))
        #expect(try await refusedHere(folder).contains { $0["path"] == installed && $0["reason"]!.hasPrefix("changed since it was installed") })
        let links = temp.path + "/links"
        try FileManager.default.createDirectory(atPath: links, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: links + "/libnixactions-plugin-test-double.so", withDestinationPath: installed)
        #expect(try await refusedHere(links).contains { $0["reason"]!.hasPrefix("changed since it was installed") }, "through a link")
        // A record reached through a link is read (stow, symlinkJoin): it still refuses the changed file.
        try FileManager.default.moveItem(atPath: record, toPath: temp.path + "/record.sha256")
        try FileManager.default.createSymbolicLink(atPath: record, withDestinationPath: temp.path + "/record.sha256")
        #expect(try await refusedHere(folder).contains { $0["path"] == installed && $0["reason"]!.hasPrefix("changed since it was installed") })
        try FileManager.default.removeItem(atPath: record)
        try FileManager.default.createDirectory(atPath: record, withIntermediateDirectories: true)
        #expect(try await refusedHere(folder).contains { $0["path"] == installed && $0["reason"]!.contains("is not a readable file") })
        // install does not write a new record over one it cannot read (it would drop every entry).
        let again = try await nixactions(["plugins", "install", library("nixactions-testplugin-double").path, "--dir", folder])
        #expect(again.status == 2, "\(again.stdout)\(again.stderr)")
        #expect(again.stderr.contains("is there but is not a readable file"), "\(again.stderr)")
    }

    @Test("a file that is not a compatible plugin is not installed")
    func refusesNonPlugins() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["wrongabi": "nixactions-testplugin-wrongabi"])
        let result = try await nixactions(["plugins", "install", folder + "/libnixactions-plugin-wrongabi.so", "--dir", temp.path + "/dest"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("is not installed: built for plugin ABI 99.0; this host speaks ABI 1.5"))
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/dest/libnixactions-plugin-wrong-abi.so"))
    }

    @Test("install into a folder the loader would refuse (every user can write it, sticky or not) installs nothing and says why (audit 66 hardening L4)")
    func refusesUntrustedFolders() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["text": "nixactions-plugin-text"])
        for (name, mode) in [("open", 0o777), ("sticky", 0o1777)] as [(String, mode_t)] {
            let destination = temp.path + "/" + name
            try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
            #expect(chmod(destination, mode) == 0)
            let result = try await nixactions(["plugins", "install", folder + "/libnixactions-plugin-text.so", "--dir", destination])
            #expect(result.status == 2 && result.stderr.contains("error: \(destination) is not a trusted plugin folder: ") && result.stderr.contains("nothing installed"),
                    "\(name): \(result.stdout)\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: destination).isEmpty, "\(name)")
        }
    }
}

@Suite("plugin functions where the plan is made")
struct PlanningFunctionsTests {
    @Test("plugin functions in a workflow's concurrency, a matrix, max-parallel and a job's name work in run and graph as validate takes them (audit 61 input H6: 'unknown function')")
    func functionsWhereThePlanIsMade() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            concurrency: "${{ text.lower('GROUP-A') }}"
            jobs:
              a:
                name: "${{ text.upper('job') }} ${{ matrix.x }}"
                strategy:
                  max-parallel: ${{ text.round(1.6, 0) }}
                  matrix: { x: ["${{ text.upper('q') }}", plain] }
                steps:
                  - run: echo "x=${{ matrix.x }}"
            """)
        let validated = try await nixactions(["validate", workflow], in: temp.path)
        #expect(validated.status == 0, "\(validated.stdout)\(validated.stderr)")
        let result = try await nixactions(["run", workflow, "--log-dir", temp.path + "/logs", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("x=Q\n") && result.stdout.contains("x=plain\n"), "\(result.stdout)")
        #expect(result.stdout.contains("==> job 'JOB Q' succeeded"), "\(result.stdout)")
        let graph = try await nixactions(["graph", workflow], in: temp.path)
        #expect(graph.status == 0 && graph.stdout.contains("JOB Q"), "\(graph.stdout)\(graph.stderr)")
    }
}

@Suite("plugin functions that never return")
struct HangingFunctionTests {
    @Test("a plugin function that never returns, called where the plan is made: graph ends after NIXACTIONS_PLUGIN_CALL_TIMEOUT with status 2, naming the function")
    func hangingFunction() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["cfns": "nixactions-testplugin-cfunctions"])
        let workflow = try temp.write("wf.yml", """
            jobs:
              a:
                strategy:
                  matrix: { x: ["${{ cfns.hang() }}"] }
                steps:
                  - run: echo "x=${{ matrix.x }}"
            """)
        let result = try await nixactions(["graph", workflow], in: temp.path,
                                          environment: ["NIXACTIONS_PLUGIN_PATH": folder, "NIXACTIONS_PLUGIN_CALL_TIMEOUT": "0.5"])
        #expect(result.status == 2, "\(result.status): \(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("nixactions: error: plugin 'cfns' has not returned from its function cfns.hang for"), "\(result.stderr)")
        #expect(result.seconds < 20, "took \(result.seconds) s")
    }
}

@Suite("plugins that break the host's rules (audit 50)")
struct MisbehavingPluginTests {
    /// A job whose step runs, and leaves running, a process shown as `marker` (YAML lines of `jobs:`).
    static func slowJob(_ marker: String) -> String {
        "  slow:\n    steps:\n      - run: |\n          (exec -a \(marker) sleep 300) &\n          sleep 300\n"
    }

    /// Whether the processes shown as `marker` are gone within 5 s (ended by the host, else by
    /// its supervisor once the host is gone).
    static func gone(_ marker: String) async -> Bool {
        await eventually(timeout: .seconds(5), every: .milliseconds(50)) { SSHServer.processes(matching: marker).isEmpty }
    }

    /// The run's `events.jsonl` under `logs` ("" when there is none).
    static func eventsFile(in logs: String) -> String {
        let files = FileManager.default.enumerator(atPath: logs)?.compactMap { $0 as? String } ?? []
        return files.first { $0.hasSuffix("events.jsonl") }.map { logs + "/" + $0 } ?? ""
    }

    func run(_ workflow: String, environment: [String: String] = [:]) async throws -> CommandResult {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"])
        try temp.write("wf.yml", workflow)
        return try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"], in: temp.path,
                                    environment: ["NIXACTIONS_PLUGIN_PATH": folder].merging(environment) { _, given in given })
    }

    @Test("a secret value with a NUL, or a name that is not a variable name, is refused, and the value is masked all the same (the part before the NUL reached the step in clear)",
          arguments: ["nul", "badname"])
    func refusedValues(_ mode: String) async throws {
        let result = try await run("""
            secrets:
              - { provider: misbehaving, mode: \(mode) }
            jobs:
              a:
                steps:
                  - run: 'echo "token=[${NUL_TOKEN:-unset}] preload=[${LD_PRELOAD:-unset}]"'
            """)
        let all = result.stdout + result.stderr
        #expect(result.status == 0, "\(all)")
        #expect(all.contains(mode == "nul" ? "nul delivery: status 2, value ***" : "bad name delivery: status 2, value ***"), "\(all)")
        #expect(!all.contains("nulsecret-ABCDEF") && !all.contains("badname-secret-1234"), "\(all)")
        #expect(result.stdout.contains("[a] token=[unset] preload=[unset]\n"), "\(all)")
    }

    @Test("lengths above SIZE_MAX / 2 from a plugin (a log line, a completion's result, a refusal's message) fail its operation, naming the plugin; the host does not trap (audit 61 ABI H2: exit 132)",
          arguments: ["lenlie", "errlie"])
    func impossibleLengths(_ mode: String) async throws {
        let result = try await run("""
            secrets:
              - { provider: misbehaving, mode: \(mode) }
            jobs:
              a:
                steps:
                  - run: echo never
            """)
        let all = result.stdout + result.stderr
        #expect(result.status == 2, "\(result.status): \(all)")
        #expect(!all.contains("Fatal error"), "\(all)")
        #expect(all.contains("misbehaving"), "the plugin is named: \(all)")
        if mode == "lenlie" {
            #expect(all.contains("a message of impossible length"), "\(all)")
            #expect(all.contains("completed an operation with a result of impossible length"), "\(all)")
        }
    }

    @Test("values delivered that the provider's result does not name are refused: exit 2, naming them")
    func unnamedValues() async throws {
        let result = try await run("""
            secrets:
              - { provider: misbehaving, mode: extra }
            jobs:
              a:
                steps:
                  - run: echo never
            """)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("delivered values its result does not name: EXTRA_B"), "\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains("extra-secret-"), "values are never shown")
    }

    @Test("a plugin that answers 'cancelled' when nothing cancelled it fails, naming itself; the run is not cancelled (exit 2, not 130)")
    func spontaneousCancel() async throws {
        let result = try await run("""
            secrets:
              - { provider: misbehaving, mode: cancelled }
            jobs:
              a:
                steps:
                  - run: echo never
            """)
        #expect(result.status == 2, "\(result.status): \(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("reported its resolve cancelled, though nothing cancelled it"), "\(result.stderr)")
    }

    @Test("a job's time limit covers its caches' lookup: a backend that never answers ends with the job's limit (it held a 3 s job for 2 minutes)")
    func hangingCacheLookup() async throws {
        let result = try await run("""
            jobs:
              a:
                timeout: 3s
                cache: { paths: [deps], key: deps-1, backend: misbehaving }
                steps:
                  - run: echo "step ran"
                  - if: always()
                    run: echo "cleanup step ran"
            """)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.seconds < 30, "took \(result.seconds) s")
        // It says what it was doing (audit 60 hangs L2: "its steps were ended").
        #expect(result.stdout.contains("job 'a' timed out after 3s while its caches were restored ('cache'): the cache backend did not finish"),
                "\(result.stdout)")
        #expect(!result.stdout.contains("[a] step ran"))
        #expect(result.stdout.contains("[a] cleanup step ran"), "cleanup steps still run (review 50): \(result.stdout)")
    }

    @Test("a restore stream the backend closes twice is released once: the restore fails as a miss, the job goes on, the host does not crash (audit 61 ABI M4: a use after free)")
    func streamClosedTwice() async throws {
        let result = try await run("""
            jobs:
              a:
                cache: { paths: [deps], key: deps-1, backend: misbehaving }
                steps:
                  - run: echo "step ran"
            """, environment: ["MISBEHAVING_CACHE": "doubleclose"])
        #expect(result.status == 0, "\(result.status): \(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] step ran"), "\(result.stdout)\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains("Fatal error"))
    }

    @Test("a save the backend accepts without a stream to write into fails at once, not at its one-hour deadline; the job goes on")
    func saveWithoutStream() async throws {
        let result = try await run("""
            jobs:
              a:
                cache: { paths: [deps], key: deps-1, backend: misbehaving }
                steps:
                  - run: mkdir -p deps && echo x > deps/x && echo "step ran"
            """, environment: ["MISBEHAVING_CACHE": "nullstream"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.seconds < 30, "took \(result.seconds) s")
        #expect(result.stdout.contains("[a] step ran"))
        #expect((result.stdout + result.stderr).contains("accepted the save without a usable stream"), "\(result.stdout)\(result.stderr)")
    }

    @Test("a plugin that calls exit() mid-run: status 1 (not its 3), the plugin named, the logs and events written out, nothing left running")
    func pluginExit() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"])
        try temp.write("wf.yml", """
            jobs:
            \(Self.slowJob("nxaexitguard"))
              early:
                steps:
                  - run: for i in $(seq 1 3000); do echo "early line $i"; done
              late:
                needs: early
                cache: { paths: [deps], key: deps-1, backend: misbehaving }
                steps:
                  - run: echo never
            """)
        let logs = temp.path + "/logs"
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", logs], in: temp.path,
                                          environment: ["NIXACTIONS_PLUGIN_PATH": folder, "MISBEHAVING_CACHE": "exit"])
        #expect(result.status == 1, "\(result.status): \(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("plugin 'misbehaving' (\(folder)/libnixactions-plugin-misbehaving.so) ended the process with exit() during the run"),
                "\(result.stderr)")
        #expect(result.stdout.contains("[early] early line 3000\n"), "the console's buffered lines were written out")
        #expect(!result.stdout.contains("never"))
        var jobLog = "", events = ""
        let files = FileManager.default.enumerator(atPath: logs)?.compactMap { $0 as? String } ?? []
        for file in files {
            let text = (try? String(contentsOfFile: logs + "/" + file, encoding: .utf8)) ?? ""
            if file.hasSuffix("early.log") { jobLog = text }
            if file.hasSuffix("events.jsonl") { events = text }
        }
        #expect(jobLog.contains("early line 3000"), "the job log holds every line: \(files)")
        #expect(events.contains("ended the process with exit()"), "the events say why the run stopped")
        // Ended at once by the host, else by the supervisor once the host is gone.
        #expect(await Self.gone("nxaexitguard"), "a step's background process was left running")
        #expect(result.seconds < 60, "took \(result.seconds) s")
    }

    @Test("a plugin call that never returns ends the run after NIXACTIONS_PLUGIN_CALL_TIMEOUT: status 1, the plugin and its call named, every process killed, the events closed as failed (audit 61 ABI H1: the run hung for good)")
    func stuckCall() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"])
        try temp.write("wf.yml", """
            jobs:
            \(Self.slowJob("nxastuckcall"))
              many:
                steps:
            \(String(repeating: "      - run: sleep 0.05\n", count: 100))  late:
                cache: { paths: [deps], key: deps-1, backend: misbehaving }
                steps:
                  - run: echo never
            """)
        let logs = temp.path + "/logs"
        let result = try await nixactions(["run", "wf.yml", "--jobs", "3", "--log-format", "plain", "--log-dir", logs], in: temp.path,
                                          environment: ["NIXACTIONS_PLUGIN_PATH": folder, "MISBEHAVING_CACHE": "stuck",
                                                        "NIXACTIONS_PLUGIN_CALL_TIMEOUT": "1"])
        #expect(result.status == 1, "\(result.status): \(result.stdout)\(result.stderr)")
        let said = "plugin 'misbehaving' has not returned from its call for looking up 'deps-1' for"
        #expect(result.stderr.contains("nixactions: error: " + said), "\(result.stderr)")
        #expect(result.stderr.contains("hint: report it to the plugin's authors; NIXACTIONS_PLUGIN_CALL_TIMEOUT"), "\(result.stderr)")
        #expect(!result.stdout.contains("never"))
        #expect(result.seconds < 30, "took \(result.seconds) s")
        // The step's background process: killed by the host, at the latest by the supervisor.
        #expect(await Self.gone("nxastuckcall"), "a step's background process was left running")
        // The record: the host's error, then the supervisor's ends (failure, with why).
        let path = Self.eventsFile(in: logs)
        var lines: [String] = []
        await eventually(timeout: .seconds(10)) {
            lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            return lines.last?.contains("\"workflow_finished\"") == true
        }
        #expect(lines.contains { $0.contains("\"message\"") && $0.contains(said) }, "\(lines)")
        let end = lines.last ?? ""
        #expect(end.contains("\"workflow_finished\"") && end.contains("\"failure\"") && end.contains("the run was ended: " + said), "\(end)")
        #expect(lines.contains { $0.contains("\"job_finished\"") && $0.contains("\"slow\"") && $0.contains("\"failure\"") }, "\(lines)")
        // A job of short steps, stopped in a step or between two: failed, not `success` with steps
        // left unrun (review 62).
        let many = lines.filter { $0.contains("\"job_finished\"") && $0.contains("\"job\":\"many\"") }
        #expect(many.count == 1 && many[0].contains("\"failure\"") && many[0].contains("the run was ended: "), "\(many)")
    }

    @Test("a plugin whose cancel never returns, called by a job's time limit: the watch still ends the run (review 62b: it looked on the timer's thread, which the cancel held)")
    func stuckCancelFromATimeLimit() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"])
        try temp.write("wf.yml", """
            jobs:
              late:
                timeout-minutes: 0.02
                cache: { paths: [deps], key: deps-1, backend: misbehaving }
                steps:
                  - run: echo never
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"], in: temp.path,
                                          environment: ["NIXACTIONS_PLUGIN_PATH": folder, "MISBEHAVING_CANCEL": "stuck",
                                                        "NIXACTIONS_PLUGIN_CALL_TIMEOUT": "1"])
        #expect(result.status == 1, "\(result.status): \(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("nixactions: error: plugin 'misbehaving' has not returned from its cancel call for"), "\(result.stderr)")
        #expect(result.seconds < 20, "took \(result.seconds) s")
    }

    @Test("a plugin call stuck after the run's end (a provider's destroy): the run's own exit status, the error recorded after workflow_finished (review 62 L4: exit 1 after a recorded success)")
    func stuckAfterTheEnd() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"])
        try temp.write("wf.yml", """
            secrets:
              - { provider: misbehaving, mode: plain }
            jobs:
              a:
                steps:
                  - run: echo ran
            """)
        let logs = temp.path + "/logs"
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", logs], in: temp.path,
                                          environment: ["NIXACTIONS_PLUGIN_PATH": folder, "MISBEHAVING_DESTROY": "stuck",
                                                        "NIXACTIONS_PLUGIN_CALL_TIMEOUT": "1"])
        #expect(result.status == 0, "\(result.status): \(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] ran\n"), "\(result.stdout)")
        #expect(result.stderr.contains("nixactions: error: plugin 'misbehaving' has not returned from its destroy call for"), "\(result.stderr)")
        #expect(result.seconds < 20, "took \(result.seconds) s")
        let lines = ((try? String(contentsOfFile: Self.eventsFile(in: logs), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        let end = lines.firstIndex { $0.contains("\"workflow_finished\"") }
        #expect(end.map { lines[$0].contains("\"success\"") } == true, "\(lines)")
        #expect(end.map { lines[($0 + 1)...].contains { $0.contains("has not returned from its destroy call") } } == true, "\(lines)")
    }

    @Test("a plugin that crashes in its own code (SIGSEGV) is named on standard error and in the run's closed events; nothing is left running (audit 61 ABI M3: only the signal); without SWIFT_BACKTRACE the host writes return addresses, no memory (audit 63 secrets M2)",
          arguments: [true, false])
    func pluginCrash(swiftBacktraceOff: Bool) async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"])
        try temp.write("wf.yml", """
            jobs:
            \(Self.slowJob("nxacrashguard"))
              late:
                cache: { paths: [deps], key: deps-1, backend: misbehaving }
                steps:
                  - run: echo never
            """)
        let logs = temp.path + "/logs"
        let result = try await runCommand(
            nixactionsBinary, ["run", "wf.yml", "--log-format", "plain", "--log-dir", logs], in: temp.path,
            environment: ["NIXACTIONS_PLUGIN_PATH": folder, "MISBEHAVING_CACHE": "segv"].merging(swiftBacktraceOff ? ["SWIFT_BACKTRACE": "enable=no"] : [:]) { $1 },
            removing: swiftBacktraceOff ? [] : ["SWIFT_BACKTRACE"])
        #expect(result.status == SIGSEGV, "\(result.status): \(result.stdout)\(result.stderr)")
        let named = "plugin 'misbehaving' (\(folder)/libnixactions-plugin-misbehaving.so) crashed in its own code (signal 11 (SIGSEGV))"
        #expect(result.stderr.contains("nixactions: error: " + named), "\(result.stderr)")
        if !swiftBacktraceOff {
            // The host's own report: the signal, then one line per return address (IMAGE(+OFFSET)[ADDRESS]; the plugin's image is
            // /proc/self/fd/N, as it was loaded), never register contents.
            #expect(result.stderr.contains("nixactions: crashed with signal 11 (SIGSEGV); return addresses"), "\(result.stderr)")
            let frames = result.stderr.split(separator: "\n").filter { $0.contains("(+0x") && $0.contains(")[0x") }
            #expect(frames.count >= 3 && !result.stderr.contains("Registers") && !result.stderr.contains("Thread 0"), "\(result.stderr)")
        }
        #expect(await Self.gone("nxacrashguard"), "a step's background process was left running")
        let path = Self.eventsFile(in: logs)
        var end = ""
        await eventually(timeout: .seconds(10)) {
            end = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").last.map(String.init) ?? ""
            return end.contains("\"workflow_finished\"")
        }
        #expect(end.contains("\"failure\"") && end.contains("the run was ended: " + named), "\(end)")
        // The file's first line was written at once: a crash within the run's first 50 ms leaves
        // the run's start, and the supervisor names the workflow (review 62: it was alone, unnamed).
        let first = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.contains("\"event\":\"workflow_started\"") && first.contains("\"workflow\":\"wf\""), "\(first)")
        #expect(end.contains("\"workflow\":\"wf\""), "\(end)")
    }

    @Test("what a plugin writes to descriptor 1 goes to standard error: --log-format json's stream stays whole JSON, the console's lines whole (audit 61 ABI M7)")
    func pluginWritesStandardOutput() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"])
        try temp.write("wf.yml", """
            jobs:
              a:
                cache: { paths: [deps], key: deps-1, backend: misbehaving }
                steps:
                  - run: for i in $(seq 1 2000); do echo "step line $i"; done
            """)
        for format in ["json", "plain"] {
            let result = try await nixactions(["run", "wf.yml", "--log-format", format, "--log-dir", temp.path + "/logs-" + format], in: temp.path,
                                              environment: ["NIXACTIONS_PLUGIN_PATH": folder, "MISBEHAVING_CACHE": "print"])
            #expect(result.status == 0, "\(format): \(result.status): \(result.stdout)\(result.stderr)")
            #expect(!result.stdout.contains("on descriptor 1"), "\(format): \(result.stdout)")
            #expect(result.stderr.contains("misbehaving printf on descriptor 1\n"), "\(format): \(result.stderr)")
            #expect(result.stderr.contains("misbehaving write on descriptor 1\n"), "\(format): \(result.stderr)")
            if format == "json" {
                let lines = result.stdout.split(separator: "\n")
                let broken = lines.filter { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) == nil }
                #expect(broken.isEmpty && lines.count > 10, "lines that are not JSON: \(broken.prefix(3))")
            } else {
                #expect(result.stdout.contains("[a] step line 2000\n"), "\(result.stdout.suffix(300))")
            }
        }
    }

    @Test("a plugin acting on other plugins' operations (a running step's): its completions, output and log lines are ignored; the step runs on (audit 50: the owner check had no test)")
    func forgedOperations() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"])
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: sleep 3; echo "a finished"
              c:
                steps:
                  - run: sleep 1
              b:
                needs: c
                cache: { paths: [deps], key: deps-1, backend: misbehaving }
                steps:
                  - run: echo "b ran"
            """)
        let logs = temp.path + "/logs"
        let result = try await nixactions(["run", "wf.yml", "-j", "3", "--log-format", "plain", "--log-dir", logs], in: temp.path,
                                          environment: ["NIXACTIONS_PLUGIN_PATH": folder, "MISBEHAVING_CACHE": "forge"])
        let all = result.stdout + result.stderr
        #expect(all.contains("[a] a finished\n") && all.contains("[b] b ran\n"), "\(all)")
        #expect(all.contains("==> job 'a' succeeded"), "a forged completion ended another plugin's step: \(all)")
        // Its lines about operations not its own stay with its own messages, under its name.
        let forged = all.split(separator: "\n").filter { $0.contains("forged") }
        #expect(!forged.isEmpty && forged.allSatisfy { $0.hasPrefix("nixactions: plugin 'libnixactions-plugin-misbehaving.so' warning: forged line") },
                "\(forged)")
        for case let file as String in FileManager.default.enumerator(atPath: logs)! where file.hasSuffix(".log") || file.hasSuffix(".jsonl") {
            let text = (try? String(contentsOfFile: logs + "/" + file, encoding: .utf8)) ?? ""
            #expect(!text.contains("forged"), "\(file): \(text)")
        }
    }

    @Test("a plugin whose entry function never returns is refused after the entry's time limit, naming it; the command goes on (audit 50: it hung for ever)")
    func hangingEntry() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"])
        let environment = ["NIXACTIONS_PLUGIN_PATH": folder, "MISBEHAVING_ENTRY": "hang", "NIXACTIONS_PLUGIN_ENTRY_TIMEOUT": "1"]
        let list = try await nixactions(["plugins", "list"], in: temp.path, environment: environment)
        #expect(list.seconds < 20, "took \(list.seconds) s")
        #expect((list.stdout + list.stderr).contains("its entry function did not return within 1.0 seconds"), "\(list.stdout)\(list.stderr)")
        // A run that needs it fails at once with why; one that does not, runs.
        try temp.write("wf.yml", "jobs:\n  a:\n    steps: [ { run: echo ran } ]\n")
        let run = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: environment)
        #expect(run.status == 0 && run.stdout.contains("[a] ran\n"), "\(run.stdout)\(run.stderr)")
        #expect(run.seconds < 20, "took \(run.seconds) s")
    }

    @Test("an executor table with a NULL function is refused with the plugin's name, never a crash")
    func nullFunction() async throws {
        let result = try await run("""
            jobs:
              a:
                executor: misbehaving
                steps:
                  - run: echo never
            """)
        #expect(result.status == 1 || result.status == 2, "\(result.status): \(result.stdout)\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("plugin 'misbehaving' has an executor table with a function missing"),
                "\(result.stdout)\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains("Fatal error"))
    }
}
