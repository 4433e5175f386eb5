import Foundation
import Testing
import TestSupport
import NixActionsProcessKit
import NixActionsEngine

@testable import NixActionsCLI

/// Regression tests for the hardening findings that are not endings (those are in ChaosTests).
@Suite("Hardening: run folders, run ids, steps with chatty background processes")
struct HardeningTests {
    @Test("a workflow file, or its folder, that every user may write, or that another user owns, is a warning: its commands run as you (audit 60 users L1); a sticky folder, or a file only yours, is not")
    func workflowOthersCanChange() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("p/wf.yml", "jobs:\n  a:\n    steps: [ { run: echo hi } ]\n")
        let folder = temp.path + "/p"
        func warned() async throws -> String {
            let result = try await nixactions(["validate", "wf.yml"], in: folder)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stderr
        }
        #expect(!(try await warned()).contains("warning"))
        chmod(folder + "/wf.yml", 0o666)
        #expect(try await warned().contains("warning: the workflow file wf.yml is writable by every user: the commands it runs run as you"))
        chmod(folder + "/wf.yml", 0o644)
        chmod(folder, 0o777)
        #expect(try await warned().contains("warning: the folder of the workflow file wf.yml is writable by every user"))
        chmod(folder, 0o1777)
        #expect(!(try await warned()).contains("warning"))
        chmod(folder, 0o755)
        if geteuid() == 0 {
            chown(folder + "/wf.yml", 65534, 65534)
            let owned = try await warned()
            #expect(owned.contains("warning: the workflow file wf.yml belongs to ") && owned.contains("(uid 65534)"), "\(owned)")
        }
    }

    @Test("a step ends when its main process exits, even while a background process keeps printing")
    func chattyBackground() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      (while true; do echo tick; sleep 0.01; done) &
                      echo main done
                  - run: echo second step
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"],
                                    in: temp.path, environment: ["TMPDIR": temp.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[a] main done\n"))
        #expect(result.stdout.contains("[a] second step\n"))
        #expect(result.seconds < 10, "the step waited for its background process")
        // What is dropped is said, once for that step, not for the next (audit 53: silent).
        let said = result.stdout + result.stderr
        #expect(said.components(separatedBy: "still hold its output; what they write after it ended is not kept").count == 2, "\(said)")
        #expect(said.contains("step 'Run (while true; do echo tick; sleep 0.01; done) &"), "\(said)")
    }

    @Test("output still in the pipes when the step ends is read to its end when no process is left to write, however slow the host is with it; nothing is said to be left open (review 53)")
    func slowLastChunk() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        // A large mask makes the host slow with the chunk after it: the drain time passes before
        // the end of the output is read, with no writer left.
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - name: one mask
                    run: |
                      echo "::add-mask::$(head -c 300000 /dev/urandom | base64 -w0)"
                      seq 1 20000
                      echo done
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"],
                                          in: temp.path, environment: ["TMPDIR": temp.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[a] 20000\n[a] done\n"), "\(result.stdout.suffix(400))")
        #expect(!(result.stdout + result.stderr).contains("still hold its output"), "\(result.stdout.suffix(400))")
    }

    /// The hard open-files limit leaves room for a lower soft limit to start with.
    static let openFilesRoom: Bool = {
        var limit = rlimit()
        return getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_max > 300
    }()

    @Test("the host raises its soft open-files limit to the hard limit; its steps start with the limit it was given",
          .enabled(if: openFilesRoom, "the hard open-files limit is 300 or less"))
    func openFilesLimit() async throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        // $PPID of the step's shell is the host (it spawns steps itself).
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      echo "step soft=$(ulimit -Sn)"
                      echo "host $(grep 'Max open files' /proc/$PPID/limits | tr -s ' ')"
                      echo "host is $(cat /proc/$PPID/comm)"
            """)
        let result = try await runCommand(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "ulimit -Sn 256 && exec \"$0\" run wf.yml --log-format plain --log-dir logs", nixactionsBinary.path], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[a] host is nixactions\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] step soft=256\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] host Max open files \(limit.rlim_max) \(limit.rlim_max) files"), "\(result.stdout)")
    }

    @Test("started with standard input and output closed (>&-), a run is not cancelled by its own console output; its steps print to the job log")
    func closedStandardDescriptors() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: for i in $(seq 1 50); do echo "line $i"; done; sleep 0.3; echo done
            """)
        let process = try LaunchedProcess(
            ["/bin/sh", "-c", "exec \"$0\" run wf.yml --log-dir logs <&- >&- 2>err.txt", nixactionsBinary.path],
            in: temp.path, environment: ProcessInfo.processInfo.environment)
        await waitForExit(process)
        let errors = (try? String(contentsOfFile: temp.path + "/err.txt", encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "\(errors)")
        #expect(!errors.contains("cancelling"), "\(errors)")
        let folder = try FileManager.default.contentsOfDirectory(atPath: temp.path + "/logs").first ?? ""
        let log = (try? String(contentsOfFile: temp.path + "/logs/\(folder)/a.log", encoding: .utf8)) ?? ""
        #expect(log.contains("line 50") && log.contains("done"), "\(log)")
    }

    @Test("a descriptor the host was given without close-on-exec reaches neither its steps nor its supervisor")
    func inheritedDescriptorStaysWithTheHost() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        // The step finds its run's watcher (the supervisor's first half) by the host's pid in its
        // arguments, and lists the descriptors of the watcher, of itself and of the host.
        try temp.write("wf.yml", #"""
            jobs:
              a:
                steps:
                  - run: |
                      for d in /proc/[0-9]*; do
                        cmd=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue
                        case "$cmd" in
                          *"nixactions-watch $PPID "*) echo "watcher: $(ls "$d/fd" | sort -n | tr '\n' ' ')" ;;
                        esac
                      done
                      echo "step: $(ls /proc/$$/fd | sort -n | tr '\n' ' ')"
                      echo "host 7: $(readlink /proc/$PPID/fd/7)"
            """#)
        // The host gets descriptor 7 the way a careless parent would pass one: open across exec.
        let result = try await runCommand(
            URL(fileURLWithPath: "/bin/bash"),
            ["-c", #"exec 7</dev/null; exec "$0" run wf.yml --log-format plain --log-dir logs"#, nixactionsBinary.path],
            in: temp.path, environment: ["TMPDIR": temp.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] host 7: /dev/null\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] watcher: 0 1 2 \n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] step: 0 1 2 "), "\(result.stdout)")
        #expect(!result.stdout.contains("step: 0 1 2 7"), "\(result.stdout)")
    }

    @Test("the supervisor, started with its arguments read without ArgumentParser, cleans up after a host that died")
    func supervisorFastPath() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = temp.path + "/run-folder"
        try FileManager.default.createDirectory(atPath: folder + "/jobs", withIntermediateDirectories: true)
        // Standard input at its end: the host is gone without saying "done".
        let tracking = "supervise-test-\(getpid())"
        let result = try await nixactions(["__supervise", "--run-folder", folder, "--tracking-id", tracking],
                                    environment: ["TMPDIR": temp.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("parsable argument"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder), "the supervisor left the run folder")
        // Arguments in another shape still go through ArgumentParser, with its messages.
        let wrong = try await nixactions(["__supervise", "--tracking-id", tracking])
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("--run-folder"), "\(wrong.stderr)")
    }

    @Test("a cleanup script that fails (a container engine busy past its time) gets one more go from the supervisor's sweep, then the run folder goes (audit 56 F2)")
    func cleanupScriptRetried() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = temp.path + "/nixactions-20260101-000000-cafef00d-Xy1234"
        try FileManager.default.createDirectory(atPath: folder + "/cleanup", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/jobs/a", withIntermediateDirectories: true)
        // Fails the first time, succeeds the second.
        try """
            if [ -e '\(temp.path)/first' ]; then touch '\(temp.path)/second'; exit 0; fi
            touch '\(temp.path)/first'; exit 1
            """.write(toFile: folder + "/cleanup/engine.sh", atomically: true, encoding: .utf8)
        let result = try await nixactions(["__supervise", "--run-folder", folder, "--tracking-id", "retry-test-\(getpid())"],
                                          environment: ["TMPDIR": temp.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: temp.path + "/first") && FileManager.default.fileExists(atPath: temp.path + "/second"),
                "the script was not run again")
        #expect(!FileManager.default.fileExists(atPath: folder), "the run folder stayed")
    }

    @Test("after a normal end of a run with cleanup scripts (\"done sweep\"), the watcher's supervisor sweeps the run's tracking id even when no temporary folder is left, as after a normal end: the run folder is not its to remove (audit 56 F3)")
    func watcherSweepsAfterCleanupScripts() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = temp.path + "/run-folder"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let tracking = "sweep-test-\(getpid())"
        // A process of the run outside its cgroup (an ssh client of a remote executor).
        let stray = try LaunchedProcess(["/bin/sleep", "300"], environment: ["NIXACTIONS_TRACKING_ID": tracking + "-ssh"], output: "/dev/null")
        defer { stray.signal(SIGKILL); stray.wait() }
        let watched = try await runCommand(URL(fileURLWithPath: "/bin/sh"),
                                           ["-c", RunSupervision.watcherScript, "nixactions-watch", "0", nixactionsBinary.path, temp.path,
                                            "__supervise", "--run-folder", folder, "--tracking-id", tracking],
                                           input: Data("done sweep\n".utf8), environment: ["TMPDIR": temp.path])
        #expect(watched.status == 0, "\(watched.stderr)")
        for _ in 0..<30 where stray.isRunning { try? await Task.sleep(for: .milliseconds(100)) }
        #expect(!stray.isRunning, "the run's stray process survived its normal end")
        // Read as a normal end, not as a host that died (whose supervisor removes the run folder).
        #expect(FileManager.default.fileExists(atPath: folder))
    }

    @Test("--log-format json: a host killed with SIGKILL, or stopped by a second signal, still ends the stream with how the run ended (audit 64 events M3, L1)")
    func jsonStreamEndsAfterAbruptStop() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: echo stream-started; sleep 300
                  - if: always()
                    run: echo cleanup-started; sleep 300
              b:
                needs: a
                steps:
                  - run: echo never
            """)
        for second in [false, true] {
            let stream = temp.path + "/stream-\(second).jsonl"
            _ = FileManager.default.createFile(atPath: stream, contents: nil)
            _ = FileManager.default.createFile(atPath: stream + ".err", contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: stream))
            let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: stream + ".err"))
            var environment = ProcessInfo.processInfo.environment
            environment["TMPDIR"] = temp.path
            environment.removeValue(forKey: "NIXACTIONS_PLUGIN_PATH")
            let run = try LaunchedProcess([nixactionsBinary.path, "run", temp.path + "/wf.yml", "--log-format", "json", "--log-dir", temp.path + "/logs-\(second)"],
                                          in: temp.path, environment: environment, output: handle, errors: errors)
            try handle.close()
            try errors.close()
            let text = { (try? String(contentsOfFile: stream, encoding: .utf8)) ?? "" }
            #expect(await eventually(timeout: .seconds(30)) { text().contains("stream-started") }, "\(text())")
            if second {
                run.signal(SIGINT)
                #expect(await eventually(timeout: .seconds(30)) { text().contains("cleanup-started") }, "\(text())")
                run.signal(SIGINT)
            } else {
                try await Task.sleep(for: .milliseconds(150))  // the console is written every 50 ms
                run.signal(SIGKILL)
            }
            await waitForExit(run)
            #expect(await eventually(timeout: .seconds(30)) { text().contains("\"event\":\"workflow_finished\"") }, "\(second): \(text())")
            let lines = text().split(separator: "\n")
            #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }, "every line is JSON: \(text())")
            let state = try RunState.replay(text())
            #expect(state.status == (second ? "cancelled" : "failure") && state.message != nil, "\(second): \(text())")
            #expect(state.jobs.map { "\($0.key)=\($0.status ?? "open")" } == (second ? ["a=cancelled", "b=cancelled"] : ["a=failure", "b=cancelled"]),
                    "\(second): \(text())")
            #expect(lines.last?.contains("\"event\":\"workflow_finished\"") == true, "ends with the run's end: \(text())")
            if second {
                #expect(text().contains("second signal 2 (SIGINT): every process of the run is killed now"), "\(text())")
            }
        }
    }

    @Test("after a normal end the watcher starts the supervisor when a process still carries the run's tracking id (one that left the run's cgroup), and not otherwise (audit 65 cancel M3)",
          .enabled(if: getuid() == 0, "needs root for a private /dev/shm (CI is root)"))
    func watcherFindsEscapedProcess() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let tracking = "20261207-000000-0000abcd-\(getpid())"
        // A stand-in for nixactions: says that the watcher started the supervisor.
        let marker = temp.path + "/supervisor-started"
        try temp.write("fake-nixactions", "#!/bin/sh\ntouch \(marker)\n")
        chmod(temp.path + "/fake-nixactions", 0o755)
        try FileManager.default.createDirectory(atPath: temp.path + "/tmp", withIntermediateDirectories: true)
        func watch() async throws -> CommandResult {
            // In a mount namespace of its own with an empty /dev/shm: no other run's entry there decides.
            try await runCommand(URL(fileURLWithPath: "/usr/bin/unshare"), [
                "-m", "/bin/sh", "-c", "mount -t tmpfs none /dev/shm && exec /bin/sh -c \"$0\" \"$@\"", RunSupervision.watcherScript,
                "nixactions-watch", "0", temp.path + "/fake-nixactions", temp.path + "/tmp",
                "__supervise", "--run-folder", temp.path + "/run", "--tracking-id", tracking,
            ], input: Data("done\n".utf8))
        }
        let quiet = try await watch()
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker), "nothing carried the run's id: no supervisor")
        let escaped = try LaunchedProcess(["/bin/sleep", "300"], environment: ["\(JobContainment.trackingVariable)": "\(tracking)/j1/s1"])
        defer { escaped.signal(SIGKILL); escaped.wait() }
        let found = try await watch()
        #expect(found.status == 0, "\(found.stderr)")
        #expect(FileManager.default.fileExists(atPath: marker), "a process still carried the run's tracking id: the supervisor must start")
    }

    @Test("the run's watcher (a shell script) becomes the supervisor when the host died, sweeps dead runs after a normal end, and ends with the run")
    func watcher() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let shell = URL(fileURLWithPath: "/bin/sh")
        let folder = temp.path + "/run-folder"
        let tracking = "watch-test-\(getpid())"
        func arguments(_ folder: String) -> [String] {
            ["-c", RunSupervision.watcherScript, "nixactions-watch", "0", nixactionsBinary.path, temp.path,
             "__supervise", "--run-folder", folder, "--tracking-id", tracking]
        }
        // The host is gone without saying "done": the supervisor it becomes removes the run folder.
        try FileManager.default.createDirectory(atPath: folder + "/jobs", withIntermediateDirectories: true)
        let died = try await runCommand(shell, arguments(folder), input: Data(), environment: ["TMPDIR": temp.path])
        #expect(died.status == 0, "\(died.stderr)")
        #expect(died.stderr.isEmpty, "the watcher prints nothing: \(died.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder), "the host died: its run folder goes")
        // The host said "done": its folder is not the supervisor's to remove, but a dead run's is.
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let dead = temp.path + "/nixactions-20260101-000000-deadbeef-AbC123"
        try FileManager.default.createDirectory(atPath: dead + "/jobs", withIntermediateDirectories: true)
        let done = try await runCommand(shell, arguments(folder), input: Data("done\n".utf8), environment: ["TMPDIR": temp.path])
        #expect(done.status == 0 && done.stderr.isEmpty, "\(done.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder))
        #expect(!FileManager.default.fileExists(atPath: dead), "a dead run's folder is swept")
        #expect(SuperviseCommand.fastParse(["__supervise", "--run-folder", "f", "--tracking-id", "t", "--cgroup", "c", "--host-pid", "7", "--host-done"])
            .map { $0.cgroup == "c" && $0.hostPID == 7 && $0.hostDone } == true)
        #expect(SuperviseCommand.fastParse(["__supervise", "--run-folder", "f", "--tracking-id", "t", "--host-pid", "x"]) == nil)
        #expect(SuperviseCommand.fastParse(["__supervise", "--run-folder", "f", "--tracking-id", "t", "--host-pid", "7", "--events", "/a b", "--host-aborted"])
            .map { $0.events == "/a b" && $0.hostAborted && !$0.hostDone } == true)
        #expect(SuperviseCommand.fastParse(["__supervise", "--run-folder", "f", "--tracking-id", "t", "--events"]) == nil)

        // The host told where its events are, then died: the supervisor ends them (`failure`); after
        // "abort" (a second signal), `cancelled`. A path with spaces and quotes passes whole.
        for (said, status) in [("", "failure"), ("abort\n", "cancelled")] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let events = temp.path + "/logs 'x' \(status)/events.jsonl"
            try FileManager.default.createDirectory(atPath: (events as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try "{\"ts\":\"2026-12-05T03:00:00.000Z\",\"event\":\"workflow_started\",\"format\":\"nixactions.events/1\",\"workflow\":\"w\",\"run_id\":\"r\"}\n"
                .write(toFile: events, atomically: false, encoding: .utf8)
            let ended = try await runCommand(shell, arguments(folder), input: Data("events \(events)\n\(said)".utf8), environment: ["TMPDIR": temp.path])
            #expect(ended.status == 0 && ended.stderr.isEmpty, "\(ended.stderr)")
            let state = try RunState.replay(String(contentsOfFile: events, encoding: .utf8))
            #expect(state.status == status && state.message != nil, "\(said): \(state)")
            #expect(!FileManager.default.fileExists(atPath: folder))
            // Its standard output (the json events stream, when the run has one) gets them too.
            let streamed = try RunState.replay("{\"ts\":\"2026-12-05T03:00:00.000Z\",\"event\":\"workflow_started\",\"workflow\":\"w\"}\n" + ended.stdout)
            #expect(streamed.status == status && streamed.message == state.message, "\(said): \(ended.stdout)")
        }
        #expect(done.stdout.isEmpty, "the host said done: nothing for the stream")

        // A run starts it (its own process group), and it is gone soon after the run ends.
        let marker = temp.path + "/watch-run"
        try FileManager.default.createDirectory(atPath: marker, withIntermediateDirectories: true)
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo started; sleep 0.5\n")
        let run = try launchNixactions(["run", temp.path + "/wf.yml", "--log-dir", temp.path + "/logs"], in: marker, environment: ["TMPDIR": marker])
        var watchers: [String] = []
        for _ in 0..<100 where watchers.isEmpty {
            let found = try await runCommand(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-f", "__supervise --run-folder \(marker)/"])
            watchers = found.stdout.split(separator: "\n").map(String.init)
            if watchers.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(watchers.count == 1, "the run's watcher")
        await waitForExit(run)
        #expect(run.terminationStatus == 0)
        var left = watchers
        for _ in 0..<150 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
            left = watchers.filter { pid_t($0).map(isRunning) ?? false }
        }
        #expect(left.isEmpty, "the watcher outlived the run")
    }

    @Test("run folders are private (0700), made fresh under an unpredictable name, and logs are private too")
    func privateRunFolders() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      run="$(cd "$RUNNER_TEMP/../../.." && pwd)"
                      echo "run=$(basename "$run") mode=$(stat -c %a "$run")"
                      echo "env-file-mode=$(stat -c %a "$(dirname "$RUNNER_TEMP")")"
            """)
        var names: Set<String> = []
        for _ in 0..<2 {
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"],
                                        in: temp.path, environment: ["TMPDIR": temp.path + "/tmp"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("mode=700"), "\(result.stdout)")
            let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("[a] run=") } ?? ""
            let name = line.split(separator: " ").dropFirst().first.map { String($0.dropFirst(4)) } ?? ""
            // nixactions-<yyyyMMdd-HHmmss>-<8 hex>-<6 random>
            #expect(name.range(of: #"^nixactions-\d{8}-\d{6}-[0-9a-f]{8}-[A-Za-z0-9]{6}$"#, options: .regularExpression) != nil, "\(name)")
            names.insert(name)
        }
        #expect(names.count == 2, "two runs got the same folder: \(names)")
        for entry in try FileManager.default.contentsOfDirectory(atPath: temp.path + "/logs") {
            let folder = temp.path + "/logs/" + entry
            let attributes = try FileManager.default.attributesOfItem(atPath: folder)
            #expect((attributes[.posixPermissions] as? Int) == 0o700, "log folder \(entry) is not private")
            for file in try FileManager.default.contentsOfDirectory(atPath: folder) {
                let mode = try FileManager.default.attributesOfItem(atPath: folder + "/" + file)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(entry)/\(file) has mode \(String(mode ?? 0, radix: 8))")
            }
        }
    }

    @Test("a TMPDIR through a symbolic link is resolved when the run starts: a link repointed during the run moves nothing, and nothing is left in either folder (audit 64 users H1: another user's link, repointed, got the workspace and ran its cleanup scripts)")
    func temporaryFolderThroughLink() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let real = temp.path + "/real", other = temp.path + "/other", link = temp.path + "/link"
        for folder in [real, other] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        #expect(symlink(real, link) == 0)
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      echo "temp=$RUNNER_TEMP"
                      ln -sfn "$OTHER" "$LINK.new" && mv -T "$LINK.new" "$LINK"
                  - run: echo "after=$RUNNER_TEMP" && echo data > "$RUNNER_TEMP/t" && echo ws > "$GITHUB_WORKSPACE/w"
            """)
        // Not yet there either: the part that exists is resolved, the rest appended.
        for tmpdir in [link, link + "/sub"] {
            #expect(unlink(link) == 0 && symlink(real, link) == 0)
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path,
                                              environment: ["TMPDIR": tmpdir, "OTHER": other, "LINK": link])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            let expected = tmpdir == link ? real : real + "/sub"
            #expect(result.stdout.contains("[a] temp=\(expected)/nixactions-") && result.stdout.contains("[a] after=\(expected)/nixactions-")
                        && !result.stdout.contains(link), "\(result.stdout)")
            let inOther = try FileManager.default.contentsOfDirectory(atPath: other)
            #expect(inOther.isEmpty, "\(inOther)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: expected).filter { $0.hasPrefix("nixactions-") }.isEmpty)
        }
    }

    @Test("two runs started in the same second in the same pid namespace position get different ids and keep their logs apart",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs /usr/bin/unshare"))
    func sameSecondSamePid() async throws {
        let unshare = "/usr/bin/unshare"
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - name: print\n        run: echo \"pid-ns run $$\"; sleep 1\n")
        // Both hosts are pid 1 of a new pid namespace (the container-entrypoint case), started together.
        let script = """
            for i in 1 2; do
              \(unshare) --pid --fork --kill-child \(nixactionsBinary.path) run wf.yml --log-format plain --log-dir logs > out-$i.txt 2>&1 &
            done
            wait
            """
        let result = try await runCommand(URL(fileURLWithPath: "/bin/bash"), ["-c", script], in: temp.path,
                                    environment: ["TMPDIR": temp.path + "/tmp"])
        #expect(result.status == 0)
        let runs = try FileManager.default.contentsOfDirectory(atPath: temp.path + "/logs")
        #expect(runs.count == 2, "\(runs)")
        for run in runs {
            let log = try String(contentsOfFile: temp.path + "/logs/\(run)/a.log", encoding: .utf8)
            #expect(log.components(separatedBy: "pid-ns run").count == 2, "one run wrote into the other's log:\n\(log)")
        }
        for index in 1...2 {
            let output = try String(contentsOfFile: temp.path + "/out-\(index).txt", encoding: .utf8)
            #expect(output.contains("succeeded"), "\(output)")
        }
    }

    @Test("job cleanup never signals a reaped step's process-group id, even when the pid was reused by another process",
          .enabled(if: access("/proc/sys/kernel/ns_last_pid", W_OK) == 0, "needs root to choose the next pid (CI has it)"))
    func pidReuse() async throws {
        let lastPid = "/proc/sys/kernel/ns_last_pid"
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let marks = temp.path + "/marks"
        try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: echo $$ > \(marks)/leader
                  - run: |
                      touch \(marks)/first-done
                      for i in $(seq 1 500); do [ -e \(marks)/victim-started ] && break; sleep 0.02; done
            """)
        let host = try launchNixactions(
            ["run", temp.path + "/wf.yml", "--log-dir", temp.path + "/logs"], in: temp.path, environment: ["TMPDIR": temp.path])
        for _ in 0..<1500 where !FileManager.default.fileExists(atPath: marks + "/first-done") {
            try await Task.sleep(for: .milliseconds(20))
        }
        let leader = pid_t((try String(contentsOfFile: marks + "/leader", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(leader > 1)
        // An unrelated process (its own session and group) gets the reaped leader's pid.
        var victim: pid_t = 0
        for _ in 0..<50 {
            try "\(leader - 1)".write(toFile: lastPid, atomically: false, encoding: .utf8)
            let candidate = spawnSessionLeader(["/bin/sleep", "100"])
            if candidate == leader {
                #expect(getpgid(candidate) == leader, "the stand-in must lead a group with the reused id")
                victim = candidate
                break
            }
            reap(candidate)
        }
        _ = FileManager.default.createFile(atPath: marks + "/victim-started", contents: nil)
        await waitForExit(host)
        #expect(host.terminationStatus == 0)
        guard victim > 0 else {
            Issue.record("could not give a new process pid \(leader) (the machine is busy); nothing was checked")
            return
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(isRunning(victim), "job cleanup killed an unrelated process that reused a step's pid")
        reap(victim)
    }

    /// posix_spawn with POSIX_SPAWN_SETSID: the child leads a new session and process group.
    func spawnSessionLeader(_ arguments: [String]) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, 0x80)  // POSIX_SPAWN_SETSID
        var pid: pid_t = 0
        let pointers = arguments.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        guard posix_spawn(&pid, arguments[0], nil, &attributes, pointers, environ) == 0 else { return 0 }
        return pid
    }

    func reap(_ pid: pid_t) {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    @Test("the sweep of dead runs removes only run folders: other folders named nixactions-* are left alone")
    func sweepLeavesOthersAlone() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let tmp = temp.path + "/tmp"
        // A dead run's folder (the right name, no lock held), and folders that only look alike.
        let dead = tmp + "/nixactions-20260101-000000-0123abcd-AbC123"
        let others = ["nixactions-test-AbC123", "nixactions-mine", "nixactions-20260101-000000-0123abcd", "nixactions-AbC123"]
        for folder in [dead] + others.map({ tmp + "/" + $0 }) {
            try FileManager.default.createDirectory(atPath: folder + "/inside", withIntermediateDirectories: true)
        }
        // A link with a dead run's name (to a folder with a file), and, when running as root, a
        // dead run's folder of another user: neither is touched.
        let target = temp.path + "/target"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try temp.write("target/keep", "x")
        let link = tmp + "/nixactions-20260101-000000-0123abcd-LnK123"
        #expect(symlink(target, link) == 0)
        let foreign = tmp + "/nixactions-20260101-000000-0123abcd-OtH123"
        if geteuid() == 0 {
            try FileManager.default.createDirectory(atPath: foreign + "/inside", withIntermediateDirectories: true)
            #expect(chown(foreign, 65534, 65534) == 0)
        }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: true\n")
        let result = try await nixactions(["run", "wf.yml", "--log-dir", temp.path + "/logs"], in: temp.path, environment: ["TMPDIR": tmp])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dead), "the dead run's folder was not swept")
        for name in others {
            #expect(FileManager.default.fileExists(atPath: tmp + "/" + name + "/inside"), "\(name) was removed")
        }
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == target, "the link was removed")
        #expect(FileManager.default.fileExists(atPath: target + "/keep"), "the sweep went through the link")
        if geteuid() == 0 {
            #expect(FileManager.default.fileExists(atPath: foreign + "/inside"), "another user's folder was removed")
        }
    }

    @Test("a cleanup script that hangs is ended after 30 s with its whole process group and the next still runs; one that fails is reported with its last lines, masked")
    func cleanupScriptProblems() async throws {
        #expect(RunSupervision.cleanupScriptSeconds == 30)
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let marks = temp.path + "/marks"
        try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
        // Scripts of the kind an executor leaves in RUN/cleanup, run in name order at the run's end.
        try temp.write("project/wf.yml", #"""
            jobs:
              a:
                steps:
                  - run: |
                      echo "::add-mask::hunter2-cleanup"
                      run="$(cd "$RUNNER_TEMP/../../.." && pwd)"
                      mkdir -p "$run/cleanup"
                      printf 'sleep 1000 &\necho $! > MARKS/sleep.pid\nwait\n' > "$run/cleanup/a-hang.sh"
                      printf 'echo "removing container 1"\necho "could not remove hunter2-cleanup" >&2\nexit 3\n' > "$run/cleanup/b-fail.sh"
                      printf 'touch MARKS/c-ran\n' > "$run/cleanup/c-fine.sh"
            """#.replacingOccurrences(of: "MARKS", with: marks))
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"],
                                          in: temp.path + "/project", environment: ["TMPDIR": temp.path])
        // A cleanup problem is a warning: the jobs' outcome decides the exit status.
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.seconds >= 30 && result.seconds < 50, "\(result.seconds) s")
        #expect(result.stderr.contains("warning: cleanup script 'a-hang.sh' did not finish in 30 s and was ended; what it removes may be left behind\n"),
                "\(result.stderr)")
        #expect(result.stderr.contains(
            "warning: cleanup script 'b-fail.sh' exited with status 3; what it removes may be left behind: removing container 1 / could not remove ***\n"),
                "\(result.stderr)")
        #expect(!result.stderr.contains("hunter2"), "\(result.stderr)")
        #expect(!result.stderr.contains("c-fine"), "\(result.stderr)")
        // The run's record says so too, after its end, masked (audit 61 ABI M5: only stderr did).
        let logs = temp.path + "/logs"
        let eventsFile = (FileManager.default.enumerator(atPath: logs)?.compactMap { $0 as? String } ?? [])
            .first { $0.hasSuffix("events.jsonl") }.map { logs + "/" + $0 } ?? ""
        let recorded = (try? String(contentsOfFile: eventsFile, encoding: .utf8)) ?? ""
        let tail = recorded.components(separatedBy: "\"workflow_finished\"").last ?? ""
        #expect(tail.contains("\"level\":\"warning\",\"text\":\"cleanup script 'b-fail.sh' exited with status 3; what it removes may be left behind: removing container 1 / could not remove ***\""),
                "\(recorded.suffix(800))")
        #expect(tail.contains("cleanup script 'a-hang.sh' did not finish in 30 s"), "\(recorded.suffix(800))")
        #expect(!tail.contains("hunter2"))
        #expect(FileManager.default.fileExists(atPath: marks + "/c-ran"), "the script after the ended one did not run")
        // The hanging script's background process went with it.
        let text = try String(contentsOfFile: marks + "/sleep.pid", encoding: .utf8)
        let pid = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await eventually(timeout: .seconds(5)) { !isRunning(pid, startedAt: nil) }, "the cleanup script's sleep \(pid) survived")
    }

    /// `nixactions run wf.yml` under `ulimit -n LIMIT`, holding descriptors 3 to `firstFree - 1`
    /// open as a careless parent would pass them on.
    func runWithDescriptors(limit: Int, firstFree: Int, _ arguments: [String], in folder: String) async throws -> CommandResult {
        try await runCommand(
            URL(fileURLWithPath: "/bin/bash"),
            // Descriptors the test process had open without close-on-exec while it started bash
            // (another test's, in a parallel run) are closed first: they would take the free ones.
            ["-c", #"ulimit -n "$1" && for ((fd = $2; fd < $1; fd++)); do eval "exec $fd>&-"; done; for ((fd = 3; fd < $2; fd++)); do eval "exec $fd</dev/null"; done; shift 2; exec "$@""#,
             "bash", "\(limit)", "\(firstFree)", nixactionsBinary.path] + arguments,
            in: folder)
    }

    @Test("a run (or any command) without room for its descriptors stops at once with an error that says so, however few are free; never a crash")
    func tooFewDescriptors() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo ran\n")
        let limit = 128
        // From one free (with none, the dynamic linker cannot load the program) to just under the
        // minimum (the host itself opens a few before it counts).
        for free in [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 56, 60] {
            let result = try await runWithDescriptors(limit: limit, firstFree: limit - free, ["run", "wf.yml", "--log-dir", "logs"], in: temp.path)
            #expect(result.status == 2, "\(free) free: \(result.status)\n\(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("error: a run needs at least \(OpenFilesRoom.minimumFree) free file descriptors and this one has "),
                    "\(free) free: \(result.stderr)")
            #expect(result.stderr.contains("(limit \(limit), "), "\(free) free: \(result.stderr)")
            #expect(result.stderr.contains("hint: raise the limit ('ulimit -n')"), "\(free) free: \(result.stderr)")
            #expect(!result.stdout.contains("ran"), "\(free) free: a job ran")
        }
        // Every other command needs fewer, and says the same way when it has not got them.
        for free in [1, 3, 8, 12] {
            for command in ["validate", "list", "graph"] {
                let result = try await runWithDescriptors(limit: limit, firstFree: limit - free, [command, "wf.yml"], in: temp.path)
                #expect(result.status == 2, "\(command), \(free) free: \(result.status)\n\(result.stdout)\(result.stderr)")
                #expect(result.stderr.hasPrefix("error: nixactions needs at least \(OpenFilesRoom.minimumFreeOtherwise) free file descriptors"),
                        "\(command), \(free) free: \(result.stderr)")
            }
        }
        let validates = try await runWithDescriptors(limit: limit, firstFree: limit - 24, ["validate", "wf.yml"], in: temp.path)
        #expect(validates.status == 0 && validates.stdout == "wf.yml: valid\n", "\(validates.stdout)\(validates.stderr)")
        // With room, the same run goes.
        let fine = try await runWithDescriptors(limit: limit, firstFree: 3, ["run", "wf.yml", "--log-format", "plain", "--log-dir", "logs"], in: temp.path)
        #expect(fine.status == 0, "\(fine.stdout)\(fine.stderr)")
        #expect(fine.stdout.contains("[a] ran\n"), "\(fine.stdout)")
    }

    @Test("more jobs at once than the open-files limit leaves room for: fewer run at once, with a warning, and every job succeeds")
    func parallelismWithinTheLimit() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let jobs = (0..<60).map { "  j\($0):\n    steps:\n      - run: sleep 0.2; echo done-\($0)\n" }.joined()
        try temp.write("wf.yml", "jobs:\n" + jobs)
        let result = try await runWithDescriptors(limit: 160, firstFree: 3, ["run", "wf.yml", "-j", "60", "--log-format", "plain", "--log-dir", "logs"],
                                                  in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("60 jobs: 60 succeeded"), "\(result.stdout)")
        #expect(!result.stdout.contains("Too many open files"), "\(result.stdout)")
        let warning = try #require(result.stderr.split(separator: "\n").first { $0.hasPrefix("warning: running at most ") }, "\(result.stderr)")
        #expect(warning.hasSuffix(" jobs at once instead of 60: the open-files limit (160) leaves room for no more; raise 'ulimit -n' to run more"),
                "\(warning)")
        let allowed = try #require(Int(warning.split(separator: " ")[4]))
        #expect(allowed >= 10 && allowed < 60, "\(warning)")
        // The events say how many ran at once: never more than allowed.
        let events = try #require(FileManager.default.enumerator(atPath: temp.path + "/logs")?.compactMap { $0 as? String }
            .first { $0.hasSuffix("events.jsonl") })
        var running = 0, most = 0
        for line in try String(contentsOfFile: temp.path + "/logs/" + events, encoding: .utf8).split(separator: "\n") {
            if line.contains(#""event":"job_started""#) { running += 1; most = max(most, running) }
            if line.contains(#""event":"job_finished""#) { running -= 1 }
        }
        #expect(most >= 2 && most <= allowed, "at most \(most) jobs ran at once; allowed \(allowed)")
        // The dry run shows the number the run would use, without the warning (audit 64 cli L1).
        let plan = try await runWithDescriptors(limit: 160, firstFree: 3, ["run", "wf.yml", "-j", "60", "--dry-run"], in: temp.path)
        #expect(plan.status == 0 && plan.stderr.isEmpty, "\(plan.stderr)")
        let capped = try #require(plan.stdout.split(separator: "\n").first)
        #expect(capped.hasPrefix("plan of workflow 'wf': 60 jobs, 60 to run, at most ") && !capped.hasSuffix("at most 60 at once"), "\(capped)")
        // A run with fewer jobs than the cap is not warned about: the cap cannot matter.
        try temp.write("few.yml", "jobs:\n" + (0..<4).map { "  j\($0):\n    steps:\n      - run: echo done-\($0)\n" }.joined())
        let few = try await runWithDescriptors(limit: 160, firstFree: 3, ["run", "few.yml", "-j", "100000", "--log-format", "plain", "--log-dir", "logs"],
                                               in: temp.path)
        #expect(few.status == 0 && !few.stderr.contains("warning: running at most"), "\(few.stderr)")
        #expect(few.stdout.contains("4 jobs: 4 succeeded"), "\(few.stdout)")
    }

    @Test("out of descriptors reads as such: a copy's hint, a file that cannot be read")
    func descriptorShortageWording() throws {
        #expect(ProjectCopier.CopyFailure(path: "/x", errno: EMFILE).hint.hasPrefix("the process ran out of file descriptors ("))
        // The system's table full is not this process's limit, nor --jobs' doing (audit 61 lost L3).
        #expect(ProjectCopier.CopyFailure(path: "/x", errno: ENFILE).hint == DescriptorShortage.hint(ENFILE))
        #expect(DescriptorShortage.hint(ENFILE).hasPrefix("the system's table of open files is full (fs.file-max)"))
        #expect(!DescriptorShortage.hint(ENFILE).contains("--jobs") && !DescriptorShortage.hint(ENFILE).contains("ulimit"))
        #expect(ProjectCopier.CopyFailure(path: "/x", errno: ENOSPC).hint == "check that the run directory is writable and the disk has space")
        let emfile = DescriptorShortage.hint
        #expect(emfile.hasPrefix("the process ran out of file descriptors (") && emfile.contains(" open, limit \(DescriptorShortage.softLimit)): raise 'ulimit -n'"),
                "\(emfile)")
        let missing = FastFiles.ReadFailure(errno: ENOENT)
        #expect((missing.reason, missing.hint) == ("no such file", "check the path"))
        #expect(FastFiles.ReadFailure(errno: EMFILE).hint.hasPrefix("the process ran out of file descriptors ("))
        #expect(FastFiles.ReadFailure(errno: EIO).hint == "check that it is a readable file")
        // Other tests open and close descriptors in this process meanwhile: only bounds hold. The
        // 200 held here and the standard streams are open throughout the count.
        let held = (0..<200).map { _ in Glibc.open("/dev/null", O_RDONLY) }
        defer { held.forEach { close($0) } }
        #expect(!held.contains(-1))
        let count = try #require(DescriptorShortage.openCount())
        #expect(count >= 203 && UInt64(count) <= DescriptorShortage.softLimit, "\(count)")
    }

    @Test("a step whose environment is too large for Linux fails with a hint naming the largest variable and its size, never its value; the job's other steps are unaffected")
    func environmentTooLarge() async throws {
        let big = String(repeating: "v", count: 200_000)
        let result = try await runWorkflow("""
            jobs:
              a:
                steps:
                  - run: echo first ran
                  - env:
                      SMALL: small
                      BIG_VALUE: \(big)
                    run: echo second ran
                  - if: always()
                    run: echo third ran
            """, ["--log-format", "plain", "--log-dir", "logs"])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] first ran\n") && result.stdout.contains("[a] third ran\n"), "\(result.stdout)")
        #expect(!result.stdout.contains("[a] second ran\n"), "\(result.stdout)")
        #expect(result.stdout.contains("cannot start 'bash': Argument list too long"), "\(result.stdout)")
        #expect(result.stdout.contains("hint: the step's environment or arguments are too large (the largest variable: BIG_VALUE, 200010 bytes)"),
                "\(result.stdout)")
        #expect(!result.stdout.contains("vvvvvvvv"), "the value was printed")
    }

    @Test("a workflow, job or step name with control characters is printed with escapes by list, graph (every format), --dry-run and run")
    func controlCharactersInNames() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", #"""
            name: "bad\e[31mred\nline"
            jobs:
              a:
                name: "job \e[2J"
                steps:
                  - name: "step \u0007bell"
                    run: echo ok > f
                  - uses: actions/upload-artifact@v4
                    with: { name: "art\e[2Jx", path: f }
            """#)
        let commands = [["list", "wf.yml"], ["graph", "wf.yml"], ["graph", "wf.yml", "--format", "dot"], ["graph", "wf.yml", "--format", "mermaid"],
                        ["run", "wf.yml", "--dry-run"], ["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"]]
        for arguments in commands {
            let result = try await nixactions(arguments, in: temp.path, environment: ["TMPDIR": temp.path])
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            let printed = result.stdout + result.stderr
            #expect(!printed.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F }, "\(arguments): \(printed.debugDescription)")
            #expect(printed.contains(#"\x1B[2J"#) || arguments == ["list", "wf.yml"], "\(arguments): \(printed)")
        }
        // Diagnostics quote keys and values of the file: escaped there too, each still on its lines.
        try temp.write("bad.yml", #"""
            jobs:
              a:
                "\e[2Jbad": 1
                steps:
                  - run: echo ok
                    timeout: "\e]0;x\a"
            """#)
        let invalid = try await nixactions(["validate", "bad.yml"], in: temp.path)
        #expect(invalid.status == 2)
        #expect(!invalid.stderr.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F }, "\(invalid.stderr.debugDescription)")
        #expect(invalid.stderr.contains(#"bad.yml:3:5: error: unknown key '\x1B[2Jbad' in job 'a'"#), "\(invalid.stderr)")
        #expect(invalid.stderr.contains(#"found '\x1B]0;x\x07'"#), "\(invalid.stderr)")
    }

    @Test("a log root another user owns, or every user can write without the sticky bit, keeps no logs: the run says why and goes on (audit 66 hardening M1)",
          .enabled(if: getuid() == 0, "needs root to give a folder to another user (CI is root)"))
    func foreignLogRoot() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo ran\n")
        for folder in ["theirs", "open"] { try FileManager.default.createDirectory(atPath: temp.path + "/" + folder, withIntermediateDirectories: true) }
        #expect(chown(temp.path + "/theirs", 65534, 65534) == 0 && chmod(temp.path + "/open", 0o777) == 0)
        for (folder, said) in [("theirs", "'theirs' belongs to user"), ("open", "every user can write 'open' (chmod o-w, or +t as /tmp has)")] {
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", folder], in: temp.path)
            #expect(result.status == 0 && result.stdout.contains("[a] ran\n"), "\(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("warning: cannot keep logs in \(folder)/") && result.stderr.contains(said)
                        && result.stderr.contains("pass --log-dir to a folder of yours"), "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: temp.path + "/" + folder).isEmpty, "nothing written in \(folder)")
        }
        // Sticky, as /tmp: fine.
        #expect(chmod(temp.path + "/open", 0o1777) == 0)
        let sticky = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", "open"], in: temp.path)
        #expect(sticky.status == 0 && !sticky.stderr.contains("cannot keep logs"), "\(sticky.stderr)")
    }

    @Test("a listing, help or completion script that cannot be written (a full disk: /dev/full) exits 1 saying so; a reader that stops early (| head -1) is not an error (audit 51)")
    func unwritableOutput() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let jobs = (1...3000).map { "  j\($0): { steps: [ { run: echo } ] }" }.joined(separator: "\n")
        try temp.write("wf.yml", "jobs:\n" + jobs + "\n")
        let binary = nixactionsBinary.path
        // `cache list` reads the cache of this test's own XDG_CACHE_HOME (empty: "no entries").
        // --help, --version and a completion script too (audit 64 cli L5: exit 0 on a full disk).
        for command in ["graph wf.yml --format dot", "list wf.yml", "validate wf.yml", "run wf.yml --dry-run", "plugins list", "cache list",
                        "--help", "run --help", "--version", "--generate-completion-script bash"] {
            let full = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c", "XDG_CACHE_HOME='\(temp.path)/xdg' '\(binary)' \(command) > /dev/full"],
                                            in: temp.path)
            #expect(full.status == 1, "\(command): \(full.status) \(full.stderr)")
            #expect(full.stderr.contains("nixactions: error: cannot write the output: "), "\(command): \(full.stderr)")
            let head = try await runCommand(URL(fileURLWithPath: "/bin/bash"),
                                            ["-c", "XDG_CACHE_HOME='\(temp.path)/xdg' '\(binary)' \(command) | head -1 > /dev/null; echo \"status=${PIPESTATUS[0]}\""],
                                            in: temp.path)
            #expect(head.stdout == "status=0\n", "\(command): \(head.stdout) \(head.stderr)")
            #expect(!head.stderr.contains("cannot write"), "\(command): \(head.stderr)")
        }
        // A run goes on, its logs kept, and says once that its console output is lost (audit 57 M6).
        try temp.write("one.yml", "jobs:\n  a:\n    steps:\n      - run: seq 1 20000\n")
        let run = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c", "'\(binary)' run one.yml --log-format plain --log-dir logs > /dev/full"],
                                       in: temp.path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.components(separatedBy: "warning: cannot write to standard output: No space left on device; the run goes on, "
                                      + "its logs keep everything").count == 2, "\(run.stderr)")
        let logs = (try? FileManager.default.subpathsOfDirectory(atPath: temp.path + "/logs")) ?? []
        let log = try #require(logs.first { $0.hasSuffix("/a.log") })
        #expect(try String(contentsOfFile: temp.path + "/logs/" + log, encoding: .utf8).contains("20000\n"))
    }

    @Test("no thread to be had (a pids cgroup's limit reached): the wait for a step says so on stderr instead of hanging unsaid; SIGKILL and the supervisor end it (audit 57 H1)",
          .enabled(if: getuid() == 0 && access("/sys/fs/cgroup/pids/cgroup.procs", W_OK) == 0, "needs root and cgroup v1's pids controller (CI has both)"))
    func noThreadLeft() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try FileManager.default.createDirectory(atPath: temp.path + "/tmp", withIntermediateDirectories: true)
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo start\n      - run: echo after\n")
        let cgroup = "/sys/fs/cgroup/pids/nxa-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try #require(mkdir(cgroup, 0o755) == 0, "cannot make \(cgroup): \(String(cString: strerror(errno)))")
        defer { rmdir(cgroup) }
        try "8\n".write(toFile: cgroup + "/pids.max", atomically: false, encoding: .utf8)
        let log = temp.path + "/run.log"
        let process = try LaunchedProcess(["/bin/sh", "-c", "echo $$ > \(cgroup)/cgroup.procs && exec \"$0\" run wf.yml --log-format plain",
                                           nixactionsBinary.path], directory: temp.path,
                                          environment: ProcessInfo.processInfo.environment.merging(["TMPDIR": temp.path + "/tmp"]) { _, new in new },
                                          output: log)
        let text = { @Sendable in (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        let said = await eventually(timeout: .seconds(20)) { text().contains("nixactions: warning: cannot start a thread (") }
        process.signal(SIGKILL)
        _ = process.exitStatus
        // Let the supervisor (in the cgroup too) end the step and go, then the cgroup can go.
        let emptied = await eventually(timeout: .seconds(20)) {
            ((try? String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)) ?? "").isEmpty
        }
        #expect(emptied, "processes left in the cgroup: \((try? String(contentsOfFile: cgroup + "/cgroup.procs", encoding: .utf8)) ?? "")")
        // With 8 tasks the run either gets no waiter thread (the case), cannot start a step (and
        // says why), or finishes; never silent.
        #expect(said || text().contains("==> workflow 'wf' succeeded") || text().contains("hint: the limit of processes and threads is reached"),
                "\(text())")
        #expect(!text().contains("[a] after\n") || !said, "\(text())")
    }

    @Test("project files and folders whose names are not UTF-8 reach the workspace as they are, from a plain copy and from a git checkout (audit 57 H2: left out without a word)",
          arguments: [false, true])
    func nonUTF8ProjectNames(git: Bool) async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      test -f "$(printf 'bad\\377name')" && echo "file there"
                      test "$(cat "$(printf 'dir\\351x')/f")" = inner && echo "folder there"
                      test "$(readlink "$(printf 'link\\377')")" = "$(printf 'bad\\377name')" && echo "link there"
                      git status --short 2>/dev/null | grep . && echo "the checkout differs" || true
            """)
        let gitCommand = "git -c user.name=t -c user.email=t@example.com"
        let made = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c", """
            printf 'x\n' > "$(printf 'bad\\377name')" && mkdir "$(printf 'dir\\351x')" && printf 'inner' > "$(printf 'dir\\351x')/f" \
              && ln -s "$(printf 'bad\\377name')" "$(printf 'link\\377')" \
              \(git ? "&& git init -q && \(gitCommand) add -A && \(gitCommand) commit -qm one" : "")
            """], in: temp.path)
        #expect(made.status == 0, "\(made.stderr)")
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for line in ["[a] file there\n", "[a] folder there\n", "[a] link there\n"] {
            #expect(result.stdout.contains(line), "missing \(line) in \(result.stdout)")
        }
        #expect(!result.stdout.contains("the checkout differs"), "\(result.stdout)")
    }

    @Test("upload-artifact says which files it leaves out because their names are not UTF-8 (upload-artifact's glob leaves them out without a word), and uploads the rest")
    func nonUTF8ArtifactNames() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              make:
                steps:
                  - run: |
                      mkdir -p out/"$(printf 'dir\\351x')" && printf 'x\\n' > out/"$(printf 'bad\\377name')" && echo fine > out/ok
                      printf 'inner' > out/"$(printf 'dir\\351x')/f"
                  - uses: actions/upload-artifact@v4
                    with: { name: one, path: out }
              use:
                needs: make
                steps:
                  - uses: actions/download-artifact@v4
                    with: { name: one, path: got }
                  - run: cat got/ok
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[make] warning: upload-artifact 'one': 2 files or folders left out: their names are not UTF-8 text ('out/bad\u{FFFD}name', 'out/dir\u{FFFD}x'); "
                                       + "rename them, or keep them in a tar archive\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[make] uploaded artifact 'one': out (1 file)\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[use] fine\n"), "\(result.stdout)")
    }

    @Test("a sparse project file stays sparse in the workspace, with the same size and data (audit 57 M2: a 1 GiB disk image of a few blocks was written in full into each workspace)")
    func sparseProjectFile() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        // 1 GiB with data in the middle and at the end; 256 MiB with data only at the start (a
        // hole at the end: the size comes from ftruncate).
        let made = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c", """
            truncate -s 1G image && printf middle | dd of=image bs=1 seek=536870912 conv=notrunc status=none \
              && printf end | dd of=image bs=1 seek=1073741821 conv=notrunc status=none \
              && printf start > tail && truncate -s 256M tail
            """], in: temp.path)
        #expect(made.status == 0, "\(made.stderr)")
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      echo "sizes $(stat -c %s image) $(stat -c %s tail)"
                      echo "used $(( $(stat -c %b image) * $(stat -c %B image) / 1048576 )) $(( $(stat -c %b tail) * $(stat -c %B tail) / 1048576 ))"
                      echo "data $(dd if=image bs=1 skip=536870912 count=6 status=none) $(tail -c 3 image) $(head -c 5 tail)"
                      echo "zeros $(dd if=image bs=4096 skip=1000 count=1 status=none | tr -d '\\0' | wc -c)"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] sizes 1073741824 268435456\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] used 0 0\n"), "whole MiB written into the workspace: \(result.stdout)")
        #expect(result.stdout.contains("[a] data middle end start\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] zeros 0\n"), "\(result.stdout)")
    }

    @Test("the run's first signal stops a large workspace copy between two files: the run ends at once, cancelled (audit 57 L2: the copy ran to its end first)")
    func workspaceCopyCancelled() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: echo the step ran
            """)
        // 60,000 empty files: copying them takes about as long as making them did.
        let clock = ContinuousClock(), making = clock.now
        let made = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c", "for d in $(seq 1 60); do mkdir d$d && (cd d$d && seq -f 'f%04g' 1000 | xargs touch) || exit 1; done"],
                                        in: temp.path)
        let makingTook = clock.now - making
        #expect(made.status == 0, "\(made.stderr)")
        let (process, text) = try launchNixactionsLogged(["run", "wf.yml", "--log-format", "plain"], in: temp.path, output: temp.path + "/output.txt")
        let sent = await signalWhen(process, SIGINT, after: .milliseconds(200)) { text().contains("==> job 'a' started") }
        let exited = await exitTime(process)
        let all = text()
        #expect(sent != nil, "the job never started: \(all)")
        #expect(process.terminationStatus == 130, "\(all)")
        #expect(all.contains("==> job 'a' cancelled"), "\(all)")
        #expect(!all.contains("the step ran"), "\(all)")
        if let sent {
            // The copy stops within 64 files of the signal; what is left is removing what was copied.
            #expect(exited - sent < makingTook / 2, "the run ended \(exited - sent) after the signal; making the files took \(makingTook):\n\(all)")
        }
    }

    @Test("a workflow file whose name is not UTF-8: validate says so (not a did-you-mean of itself); list leaves it out with a warning and lists the rest, a name holding U+FFFD itself too (audit 51)")
    func nonUTF8FileName() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write(".github/workflows/good.yml", "jobs:\n  a:\n    steps: [ { run: echo } ]\n")
        let binary = nixactionsBinary.path
        let make = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c", """
            printf 'jobs:\\n  a:\\n    steps: [ { run: echo } ]\\n' > ".github/workflows/$(printf 'bad\\377name').yml"
            """], in: temp.path)
        #expect(make.status == 0, "\(make.stderr)")
        let validate = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c", "'\(binary)' validate \"$(printf 'bad\\377name')\""], in: temp.path)
        #expect(validate.status == 2, "\(validate.stderr)")
        #expect(validate.stderr.contains("the name is not UTF-8 text") && !validate.stderr.contains("did you mean"), "\(validate.stderr)")
        let list = try await nixactions(["list"], in: temp.path)
        #expect(list.status == 0, "\(list.stdout)\(list.stderr)")
        #expect(list.stderr.contains("is left out: its name is not UTF-8 text"), "\(list.stderr)")
        #expect(list.stdout.contains("good.yml"), "\(list.stdout)")
        // A name that really holds U+FFFD is UTF-8 and listed (review 51).
        try temp.write(".github/workflows/odd\u{FFFD}.yml", "jobs:\n  a:\n    steps: [ { run: echo } ]\n")
        let again = try await nixactions(["list"], in: temp.path)
        #expect(again.stdout.contains("odd\u{FFFD}.yml") && again.stderr.components(separatedBy: "is left out").count == 2, "\(again.stdout)\(again.stderr)")
    }

    @Test("run in a folder that was removed under the shell: exit 2 saying so, nothing started")
    func removedCurrentFolder() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: touch \(temp.path)/ran\n")
        let result = try await runCommand(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "mkdir gone && cd gone && rmdir ../gone && exec \"$0\" run \"$1\"", nixactionsBinary.path, workflow],
            in: temp.path, environment: ["TMPDIR": temp.path])
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("error: cannot run in the current folder: it was removed"), "\(result.stderr)")
        #expect(result.stderr.contains("hint: change into the project's folder again"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/ran"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: temp.path).filter { $0.hasPrefix("nixactions-") }.isEmpty)
    }

    @Test("a step that makes its run folder and its /dev/shm folder unreadable (chmod 000) leaves neither behind (audit 66 hardening L2)",
          .enabled(if: getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "needs root to run nixactions as nobody"))
    func unreadableRunFolders() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let scratch = temp.path + "/scratch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      dirname "$GITHUB_ENV" > "$RUNNER_WORKSPACE/../shm-folder"
                      cp "$RUNNER_WORKSPACE/../shm-folder" \(scratch)/shm-folder
                      chmod 000 "$(dirname "$GITHUB_ENV")" "$(dirname "$(dirname "$RUNNER_WORKSPACE")")"
            """)
        chmod(temp.path, 0o755)
        chmod(temp.path + "/wf.yml", 0o644)
        chown(scratch, 65534, 65534)
        let result = try await runCommand(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid=65534", "--regid=65534", "--clear-groups", nixactionsBinary.path, "run", "wf.yml", "--log-dir", scratch + "/logs", "--log-format", "plain"],
            in: temp.path, environment: ["TMPDIR": scratch, "HOME": scratch, "NIXACTIONS_NO_CGROUP": "1"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let shm = try String(contentsOfFile: scratch + "/shm-folder", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!shm.isEmpty && !FileManager.default.fileExists(atPath: shm), "\(shm) is left")
        // The run's supervisor may still be removing: give it a moment, then nothing of the run is left in TMPDIR.
        var left: [String] = []
        for _ in 0..<50 {
            left = try FileManager.default.contentsOfDirectory(atPath: scratch).filter { $0.hasPrefix("nixactions-") }
            if left.isEmpty { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        #expect(left.isEmpty, "\(left)")
    }

    @Test("a project file or folder the user cannot read is named, with what to do, not 'you don't have permission'",
          .enabled(if: getuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0, "needs root to run nixactions as nobody"))
    func unreadableProjectFiles() async throws {
        for unreadable in ["private-folder", "private.key"] {
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            // A project (not a git repository: its folder is copied whole) that nobody can read,
            // but for one folder or file of root's.
            let project = temp.path + "/project", scratch = temp.path + "/scratch"
            try FileManager.default.createDirectory(atPath: project + "/src", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            try "jobs:\n  a:\n    steps:\n      - run: echo ran\n".write(toFile: project + "/wf.yml", atomically: false, encoding: .utf8)
            if unreadable.hasSuffix(".key") {
                try "key".write(toFile: project + "/" + unreadable, atomically: false, encoding: .utf8)
                chmod(project + "/" + unreadable, 0o600)
            } else {
                try FileManager.default.createDirectory(atPath: project + "/" + unreadable, withIntermediateDirectories: true)
                chmod(project + "/" + unreadable, 0o700)
            }
            for path in [temp.path, project, project + "/src", project + "/wf.yml"] { chmod(path, 0o755) }
            chown(scratch, 65534, 65534)
            let result = try await runCommand(
                URL(fileURLWithPath: "/usr/bin/setpriv"),
                ["--reuid=65534", "--regid=65534", "--clear-groups", nixactionsBinary.path, "run", "wf.yml", "--log-dir", scratch + "/logs"],
                in: project, environment: ["TMPDIR": scratch, "HOME": scratch, "NIXACTIONS_NO_CGROUP": "1"])
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("cannot read \(project)/\(unreadable) in the project: Permission denied"), "\(result.stdout)")
            #expect(result.stdout.contains("hint: each job gets a copy of the project folder: make it readable by this user"), "\(result.stdout)")
            #expect(!result.stdout.contains("permission.") && !result.stdout.contains("run directory is writable"), "\(result.stdout)")
        }
    }

    @Test("a workflow from a pipe (<(command)) is read whole; a named pipe nobody writes to, a folder, /dev/zero and a missing file are errors that say so, never a hang")
    func workflowFromAnywhere() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("ok.yml", "jobs:\n  a:\n    steps:\n      - run: echo from-a-pipe\n")
        #expect(mkfifo(temp.path + "/fifo.yml", 0o600) == 0)
        try FileManager.default.createDirectory(atPath: temp.path + "/folder.yml/inside", withIntermediateDirectories: true)
        func bash(_ script: String) async throws -> CommandResult {
            try await runCommand(URL(fileURLWithPath: "/bin/bash"), ["-c", script, "bash", nixactionsBinary.path], in: temp.path)
        }
        let validated = try await bash(#""$1" validate <(cat ok.yml)"#)
        #expect(validated.status == 0, "\(validated.stdout)\(validated.stderr)")
        #expect(validated.stdout.hasSuffix(": valid\n"), "\(validated.stdout)")
        let ran = try await bash(#""$1" run <(cat ok.yml) --log-format plain --log-dir logs"#)
        #expect(ran.status == 0, "\(ran.stdout)\(ran.stderr)")
        #expect(ran.stdout.contains("[a] from-a-pipe\n"), "\(ran.stdout)")

        for (path, expected) in [
            ("fifo.yml", "fifo.yml:1:1: error: the workflow file is empty"),  // nobody writes to it
            ("/dev/zero", "cannot read workflow file '/dev/zero': it is larger than 16 MiB"),
            ("missing/wf.yml", "cannot read workflow file 'missing/wf.yml': no such file\n  hint: check the path"),
        ] {
            let result = try await nixactions(["validate", path], in: temp.path)
            #expect(result.status == 2, "\(path): \(result.status) \(result.stdout)\(result.stderr)")
            #expect(result.seconds < 20, "\(path): \(result.seconds) s")
            #expect(result.stderr.contains(expected), "\(path): \(result.stderr)")
        }
        let folder = try await nixactions(["validate", "folder.yml"], in: temp.path)
        #expect(folder.status == 2 && folder.stderr.contains("'folder.yml' is a folder with no workflow.yml in it"), "\(folder.stderr)")
        // Links that lead nowhere are said to be so, not "not found" (audit 55 M5).
        #expect(symlink("loop2.yml", temp.path + "/loop1.yml") == 0 && symlink("loop1.yml", temp.path + "/loop2.yml") == 0)
        #expect(symlink("/nonexistent/wf.yml", temp.path + "/dangling.yml") == 0)
        for (path, expected) in [
            ("loop1.yml", "error: cannot read workflow file 'loop1.yml': its symbolic links lead round in a loop"),
            ("dangling.yml", "error: cannot read workflow file 'dangling.yml': it is a symbolic link to '/nonexistent/wf.yml', which does not exist"),
        ] {
            let result = try await nixactions(["validate", path], in: temp.path)
            #expect(result.status == 2 && result.stderr.contains(expected), "\(path): \(result.stderr)")
        }
        // Over GitHub's 512,000 bytes: a warning (GitHub starts no run of it), and it is valid here.
        try temp.write("big.yml", "jobs:\n  a:\n    steps:\n      - run: |\n" + String(repeating: "          echo \(String(repeating: "x", count: 90))\n", count: 6_000))
        let big = try await nixactions(["validate", "big.yml"], in: temp.path)
        #expect(big.status == 0, "\(big.stderr.prefix(2000))")
        #expect(big.stderr.contains("big.yml:1:1: warning: the workflow file is ") && big.stderr.contains("bytes: GitHub starts no run of a workflow file larger than 512000 bytes (it runs here)"),
                "\(big.stderr.prefix(2000))")
        let small = try await nixactions(["validate", "ok.yml"], in: temp.path)
        #expect(!small.stderr.contains("512000"), "\(small.stderr)")
        // A folder of the project named as a workflow is does not hide it (audit 53).
        try temp.write("docs/readme.md", "x\n")
        try temp.write(".github/workflows/docs.yml", "jobs:\n  a:\n    steps: [ { run: echo docs } ]\n")
        let named = try await nixactions(["validate", "docs"], in: temp.path)
        #expect(named.status == 0 && named.stdout.contains(".github/workflows/docs.yml: valid"), "\(named.stdout)\(named.stderr)")
    }

    @Test("--secret-file, --env-file, --var-file and --event-path read pipes (<(command)) whole; /dev/zero is refused by its size, never read forever")
    func optionFilesFromPipes() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: echo "token=${{ secrets.PIPE_TOKEN }} env=$FROM_ENV_FILE var=${{ vars.FROM_VAR_FILE }} event=${{ github.event.custom }}"
            """)
        let script = #"""
            "$1" run wf.yml --log-format plain --log-dir logs \
              --secret-file <(printf 'PIPE_TOKEN=pipe-secret-93f1\n') --env-file <(printf 'FROM_ENV_FILE=env-ok\n') \
              --var-file <(printf 'FROM_VAR_FILE=var-ok\n') --event-path <(printf '{"custom": "event-ok"}')
            """#
        let result = try await runCommand(URL(fileURLWithPath: "/bin/bash"), ["-c", script, "bash", nixactionsBinary.path], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] token=*** env=env-ok var=var-ok event=event-ok\n"), "\(result.stdout)")
        #expect(!result.stdout.contains("pipe-secret-93f1"), "\(result.stdout)")
        for option in ["--secret-file", "--env-file", "--var-file", "--event-path"] {
            let refused = try await nixactions(["run", "wf.yml", option, "/dev/zero"], in: temp.path)
            #expect(refused.status == 2, "\(option): \(refused.stderr)")
            #expect(refused.stderr.contains("error: cannot read \(option) '/dev/zero': it is larger than 16 MiB\n  hint: "), "\(option): \(refused.stderr)")
            #expect(refused.seconds < 20, "\(option): \(refused.seconds) s")
        }
    }

    @Test("job ids too long for a file name run: their folder and log are named by the first 100 characters and a hash, distinct for ids that share those")
    func longJobIDs() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let common = String(repeating: "j", count: 150)
        let first = common + "_first", second = common + "_second"
        try temp.write("wf.yml", """
            jobs:
              \(first):
                steps:
                  - run: echo first-ran
              \(second):
                needs: \(first)
                steps:
                  - run: echo second-ran
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", "logs"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("] first-ran\n") && result.stdout.contains("] second-ran\n"), "\(result.stdout)")
        #expect(!result.stderr.contains("warning"), "\(result.stderr)")
        let run = try #require(try FileManager.default.contentsOfDirectory(atPath: temp.path + "/logs").first)
        let logs = try FileManager.default.contentsOfDirectory(atPath: temp.path + "/logs/" + run).filter { $0.hasSuffix(".log") }.sorted()
        #expect(logs.count == 2, "\(logs)")
        for log in logs {
            #expect(log.hasPrefix(String(repeating: "j", count: 100) + "-") && log.utf8.count == 100 + 1 + 16 + 4, "\(log)")
            let text = try String(contentsOfFile: temp.path + "/logs/" + run + "/" + log, encoding: .utf8)
            #expect(text.contains("first-ran") != text.contains("second-ran"), "\(log): \(text)")
        }
    }

    @Test("a FIFO, a socket link or a device in the workspace never hangs a job: artifacts leave them out, hashFiles skips them")
    func specialFilesInWorkspace() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              make:
                timeout: 60s
                artifacts: { keep: [big/] }
                steps:
                  - run: |
                      mkdir -p big/sub d
                      echo kept > big/sub/file.txt
                      ln -s sub/file.txt big/link
                      mkfifo big/pipe d/pipe
                      ln -s /dev/zero d/zero
                      echo data > d/real.txt
                      mkdir e && echo data > e/real.txt
                  - run: echo "same=${{ hashFiles('d/**') == hashFiles('e/**') && hashFiles('d/*') != '' }}"
                  - uses: actions/upload-artifact@v4
                    with: { name: d, path: d }
              use:
                needs: make
                timeout: 60s
                artifacts: { restore: [make] }
                steps:
                  - uses: actions/download-artifact@v4
                    with: { name: d, path: got }
                  - run: |
                      cat big/sub/file.txt big/link got/real.txt
                      [ -e big/pipe ] || echo "no pipe in big"
                      [ -e got/pipe ] || echo "no pipe in got"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.seconds < 30, "the run waited on a FIFO or a device: \(result.seconds) s")
        // Only d/real.txt is hashed: the same hash as a folder holding just that file.
        #expect(result.stdout.contains("[make] same=true\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[use] kept\n[use] kept\n[use] data\n[use] no pipe in big\n[use] no pipe in got\n"), "\(result.stdout)")
    }

    @Test("a background process that keeps printing to its step's output lives on into the next steps (it is not killed by a closed pipe)")
    func backgroundKeepsPrinting() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      (while :; do echo "server log line"; sleep 0.01; done) &
                      echo $! > \(temp.path)/server.pid
                  - run: |
                      sleep 0.6
                      state=$(sed 's/.*) //' /proc/$(cat \(temp.path)/server.pid)/stat | cut -d' ' -f1)
                      echo "server state in the next step: $state"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("server state in the next step: S") || result.stdout.contains("server state in the next step: R"),
                "\(result.stdout.suffix(400))")
    }

    @Test("fallback containment: the background processes a job's cleanup kills are reaped, not left as the host's zombies")
    func fallbackReapsWhatItKills() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: for i in $(seq 1 40); do sleep 300 & done
              b:
                needs: a
                steps:
                  - run: echo "zombies=$(ps -o stat= --ppid $PPID | grep -c Z)"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: ["NIXACTIONS_NO_CGROUP": "1"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[b] zombies=0\n"), "\(result.stdout)")
    }

    @Test("a sandbox without /dev/null: a step that cannot start says /dev/null is missing, not that bash may not be installed (audit 57 L4)",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root and unshare for an empty /dev"))
    func noDevNull() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo hi\n")
        let result = try await runCommand(URL(fileURLWithPath: "/usr/bin/unshare"), ["-m", "/bin/sh", "-c",
            "mount -t tmpfs tmpfs /dev && exec \"$0\" run wf.yml --log-format plain --log-dir logs", nixactionsBinary.path], in: temp.path)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("hint: /dev/null is missing or cannot be opened, and each step's standard input is /dev/null"), "\(result.stdout)")
        #expect(!result.stdout.contains("is 'bash' installed"), "\(result.stdout)")
    }

    @Test("a terminal gets colors, unless NO_COLOR is set (not empty) or TERM is dumb: then the plain format (audit 57 UX M10)",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a terminal"))
    func noColor() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo hi\n")
        func run(_ environment: [String: String]) async throws -> String {
            let command = "'\(nixactionsBinary.path)' run wf.yml --log-dir logs"
            let result = try await runCommand(URL(fileURLWithPath: "/usr/bin/script"), ["-qec", command, "/dev/null"], in: temp.path,
                                              environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new })
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            return result.stdout
        }
        #expect(try await run(["NO_COLOR": "", "TERM": "xterm"]).contains("\u{1B}["), "a terminal without NO_COLOR gets colors")
        for environment in [["NO_COLOR": "1", "TERM": "xterm"], ["TERM": "dumb"]] {
            let text = try await run(environment)
            #expect(!text.contains("\u{1B}["), "\(environment): \(text.debugDescription)")
            #expect(text.contains("[a] hi"), "\(environment): \(text)")
        }
    }

    @Test("a project removed while the run goes on: a later job fails to start, saying so, instead of running in an empty workspace (audit 57 M1)")
    func projectRemoved() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let project = temp.path + "/project"
        _ = try temp.write("project/wf.yml", """
            jobs:
              a:
                steps:
                  - run: rm -rf "\(project)"
              b:
                needs: a
                steps:
                  - run: echo "b ran in $(ls | wc -l) files"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"], in: project,
                                          environment: ["TMPDIR": temp.path])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("cannot read \(project) in the project: No such file or directory"), "\(result.stdout)")
        #expect(!result.stdout.contains("b ran in"), "\(result.stdout)")
    }

    @Test("a read-only project: the run number still comes from its counter, and the run says it is not kept (audit 57 M4: 1, silently)",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root and unshare for a read-only bind mount"))
    func readOnlyProjectRunNumber() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let project = temp.path + "/project"
        _ = try temp.write("project/wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo \"number=$GITHUB_RUN_NUMBER\"\n")
        _ = try temp.write("project/.nixactions/run-number", "41 1700000000000\n")
        let result = try await runCommand(URL(fileURLWithPath: "/usr/bin/unshare"), ["-m", "/bin/sh", "-c", """
            mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && cd "$0" && exec "$1" run wf.yml --log-format plain --log-dir "$2"
            """, project, nixactionsBinary.path, temp.path + "/logs"], environment: ["TMPDIR": temp.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] number=42\n"), "\(result.stdout)")
        #expect(result.stderr.contains("warning: cannot write \(project)/.nixactions/run-number (Read-only file system): this run's number is not kept"),
                "\(result.stderr)")
        #expect(try String(contentsOfFile: project + "/.nixactions/run-number", encoding: .utf8) == "41 1700000000000\n")
    }

    /// `nixactions run wf.yml` in `temp`'s `project` with its logs on a tmpfs of `size` made in a
    /// mount namespace of its own, the files `copying` of the run's log folder copied out to
    /// `copy` before the namespace goes; the run's output on the console unless `keepOutput` is false.
    static func runOnSmallLogDisk(_ temp: TemporaryDirectory, size: String, copying files: [String], keepOutput: Bool = true) async throws
        -> (result: CommandResult, logs: String, copy: String) {
        let logs = temp.path + "/logs", copy = temp.path + "/copy"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        let sources = files.map { "\"$2\"/*/\($0)" }.joined(separator: " ")
        let result = try await runCommand(URL(fileURLWithPath: "/usr/bin/unshare"), ["-m", "/bin/sh", "-c", """
            mount -t tmpfs -o size=\(size) tmpfs "$2" && cd "$0" || exit 99
            "$1" run wf.yml --log-format plain --log-dir "$2"\(keepOutput ? "" : " > /dev/null"); status=$?
            cp \(sources) "$3"/; exit $status
            """, temp.path + "/project", nixactionsBinary.path, logs, copy], environment: ["TMPDIR": temp.path])
        return (result, logs, copy)
    }

    @Test("a log folder that fills up: each file's first failed write is a warning, the run goes on and ends as its jobs did, and its end says the logs are incomplete (audit 57 L1: only the early warnings said so)",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root and unshare for a small tmpfs"))
    func fullLogDisk() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        // 4 MB of output into a 512 KiB file system.
        _ = try temp.write("project/wf.yml", "jobs:\n  a:\n    steps:\n      - run: seq 1 600000\n      - run: echo last step ran\n")
        let (result, logs, copy) = try await Self.runOnSmallLogDisk(temp, size: "512k", copying: ["events.jsonl", "a.log"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[a] last step ran\n") && result.stdout.contains("==> workflow 'wf' succeeded"), "\(result.stderr)")
        #expect(result.stderr.contains("No space left on device; the run goes on, and what cannot be written is lost"), "\(result.stderr)")
        let end = result.stdout.split(separator: "\n").suffix(2).joined(separator: "\n")
        #expect(end.hasPrefix("logs: \(logs)/") && end.contains("\nlogs incomplete: ") && end.hasSuffix("could not be written in full (see the warnings above)"), "\(end)")
        // events.jsonl keeps room for its end: whole lines, and the run's end in them (audit 61 M1:
        // cut mid-line, no workflow_finished).
        let events = (try? String(contentsOfFile: copy + "/events.jsonl", encoding: .utf8)) ?? ""
        #expect(events.hasSuffix("\n"), "\(events.suffix(300))")
        for line in events.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not JSON: \(line.prefix(200))")
        }
        let state = try RunState.replay(events)
        #expect(state.status == "success" && state.jobs.first?.steps.map(\.status) == ["success", "success"], "\(state.status ?? "none")")
        // Every range the events hold lies within the job's log (bytes lost read as zeros there).
        var info = stat()
        #expect(stat(copy + "/a.log", &info) == 0)
        let ends = state.jobs.flatMap(\.steps).flatMap(\.output).map { $0.offset + $0.length }
        #expect(!ends.isEmpty && ends.allSatisfy { $0 <= Int(info.st_size) }, "log \(info.st_size) bytes, ranges end at \(ends.max() ?? 0)")
    }

    @Test("a log disk filled by steps that print line by line: events.jsonl drops output events while the disk is full, says how many, and still ends the run with every job's end (audit 64 events H1: output events used the room kept, no job or run ended)",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root and unshare for a small tmpfs"))
    func fullLogDiskLineByLine() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        // Each echo is a write of its own, stdout and stderr in turn: an output event per line
        // (pieces of one stream merge only when they follow each other in the log), against 4 MiB.
        _ = try temp.write("project/wf.yml", """
            jobs:
              a:
                steps:
                  - run: for i in $(seq 1 150000); do echo "a line $i"; echo "a err $i" >&2; done
                  - run: echo a-last
              b:
                steps:
                  - run: for i in $(seq 1 150000); do echo "b line $i"; echo "b err $i" >&2; done
              c:
                needs: [a, b]
                steps:
                  - run: echo c-ran
            """)
        let (result, _, copy) = try await Self.runOnSmallLogDisk(temp, size: "4m", copying: ["events.jsonl"], keepOutput: false)
        #expect(result.status == 0, "\(result.stderr)")
        let events = (try? String(contentsOfFile: copy + "/events.jsonl", encoding: .utf8)) ?? ""
        #expect(events.hasSuffix("\n") && events.contains("\"event\":\"workflow_finished\""), "\(events.suffix(600))")
        let state = try RunState.replay(events)
        #expect(state.status == "success", "\(state.status ?? "none")")
        #expect(state.jobs.map(\.status) == ["success", "success", "success"], "\(state.jobs.map(\.status))")
        #expect(state.jobs.first { $0.key == "a" }?.steps.map(\.status) == ["success", "success"])
        // Nothing lost without a word: every line printed is in an output event, or the record
        // says how many events went (how many depends on how the reads batched the lines).
        let recordedLines = state.jobs.flatMap(\.steps).flatMap(\.output).reduce(0) { $0 + $1.lines }
        let said = events.range(of: #"output events? (was|were) not recorded in events.jsonl: the log folder's disk was full"#, options: .regularExpression) != nil
        #expect(said || recordedLines == 600_002, "\(recordedLines) lines recorded, no message: \(events.suffix(600))")
        #expect(said == (recordedLines < 600_002), "\(recordedLines) lines recorded")
    }

    @Test("a log disk full for a moment loses that moment's bytes, not the rest of the run: the job log and events.jsonl are written again once there is room, every event's range still at its bytes (audit 61 M1: both stayed empty)",
          .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare"), "needs root and unshare for a small tmpfs"))
    func logDiskFullForAMoment() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let project = temp.path + "/project"
        let logs = temp.path + "/logs", copy = temp.path + "/copy"
        // The step frees the disk (a filler file) after its first line, then prints on.
        _ = try temp.write("project/wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      echo before-room
                      sleep 0.3
                      rm -f "$FILLER"
                      sleep 3
                      echo after-room
                  - run: echo second step ran
            """)
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        let result = try await runCommand(URL(fileURLWithPath: "/usr/bin/unshare"), ["-m", "/bin/sh", "-c", """
            mount -t tmpfs -o size=256k tmpfs "$2" && cd "$0" || exit 99
            head -c 1048576 /dev/zero > "$2/filler" 2>/dev/null
            FILLER="$2/filler" "$1" run wf.yml --log-format plain --log-dir "$2"; status=$?
            cp -r "$2"/2* "$3"/; exit $status
            """, project, nixactionsBinary.path, logs, copy], environment: ["TMPDIR": temp.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let folder = copy + "/" + (((try? FileManager.default.contentsOfDirectory(atPath: copy)) ?? []).first ?? "")
        let events = (try? String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)) ?? ""
        let state = try RunState.replay(events)
        #expect(state.status == "success", "\(events.suffix(500))")
        // What the events reference is what the steps printed after there was room again (a range
        // the full disk lost reads as zeros, and is left out).
        let logged = String(decoding: try loggedOutput(folder: folder, job: "a", stream: "stdout", skippingHoles: true), as: UTF8.self)
        #expect(logged.contains("after-room\n") && logged.contains("second step ran\n"), "\(logged.debugDescription)")
    }

    @Test("the repository cannot choose where the runner writes: a .nixactions/run-number link is not followed, a .nixactions/runs link keeps no logs there")
    func projectLinksNotFollowed() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let victim = try temp.write("victim.txt", "precious line\n")
        let project = temp.path + "/project"
        _ = try temp.write("project/wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo hi\n")
        try FileManager.default.createDirectory(atPath: project + "/.nixactions", withIntermediateDirectories: true)
        #expect(symlink(victim, project + "/.nixactions/run-number") == 0)
        let environment = ["TMPDIR": temp.path, "NIXACTIONS_NO_CGROUP": "1"]
        let first = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: project, environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("[a] hi\n"))
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious line\n", "the link's target was written")
        // Said, not silent (audit 53).
        #expect(first.stderr.contains("run-number is a symbolic link, which is not followed; github.run_number is 1"), "\(first.stderr)")

        unlink(project + "/.nixactions/run-number")
        try FileManager.default.removeItem(atPath: project + "/.nixactions/runs")
        let elsewhere = temp.path + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        #expect(symlink(elsewhere, project + "/.nixactions/runs") == 0)
        let second = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: project, environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("warning: cannot keep logs in .nixactions/runs/"), "\(second.stderr)")
        #expect(second.stderr.contains(".nixactions/runs is a symbolic link"), "\(second.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
        // A log folder chosen with --log-dir is the user's: followed.
        let third = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", ".nixactions/runs/."], in: project, environment: environment)
        #expect(third.status == 0 && !third.stderr.contains("cannot keep logs"), "\(third.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).count == 1)
    }

    @Test("under umask 000 the folders a run makes in the project are 0755, never writable by others")
    func umaskZero() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        _ = try temp.write("project/wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo hi\n")
        let result = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c", "umask 000; exec \"$0\" run wf.yml --log-format plain", nixactionsBinary.path],
                                          in: temp.path + "/project", environment: ["TMPDIR": temp.path, "NIXACTIONS_NO_CGROUP": "1"])
        #expect(result.status == 0, "\(result.stderr)")
        for folder in [".nixactions", ".nixactions/runs"] {
            var info = stat()
            #expect(stat(temp.path + "/project/" + folder, &info) == 0)
            #expect(info.st_mode & 0o7777 == 0o755, "\(folder): \(String(info.st_mode & 0o7777, radix: 8))")
        }
    }

    @Test("a TMPDIR other users can write (not sticky) is refused with exit 2 before anything runs; a sticky one like /tmp is used")
    func tmpdirOthersCanWrite() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        _ = try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo ran > \(temp.path)/ran\n")
        let open = temp.path + "/open"
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true)
        chmod(open, 0o777)
        let refused = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: ["TMPDIR": open, "NIXACTIONS_NO_CGROUP": "1"])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("'\(open)' is writable by every user"), "\(refused.stderr)")
        #expect(refused.stderr.contains("set TMPDIR to a folder only you"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/ran"))
        chmod(open, 0o1777)
        let used = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: ["TMPDIR": open, "NIXACTIONS_NO_CGROUP": "1"])
        #expect(used.status == 0, "\(used.stderr)")
        #expect(FileManager.default.fileExists(atPath: temp.path + "/ran"))
        // A TMPDIR that is a file is a setting to fix, not other users' doing (audit 57 L3).
        let file = try temp.write("a-file", "x")
        let notFolder = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: ["TMPDIR": file, "NIXACTIONS_NO_CGROUP": "1"])
        #expect(notFolder.status == 2, "\(notFolder.stderr)")
        #expect(notFolder.stderr.contains("'\(file)' is not a folder\n  hint: set TMPDIR to a folder that exists and that you can write, or to /tmp"),
                "\(notFolder.stderr)")
        // A TMPDIR that does not exist, below a folder other users can write: nothing is made there
        // before the refusal (audit 66 hardening L1: the folders were made, then refused).
        chmod(open, 0o777)
        let missing = open + "/new/sub"
        let below = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: ["TMPDIR": missing, "NIXACTIONS_NO_CGROUP": "1"])
        #expect(below.status == 2 && below.stderr.contains("it does not exist, and '\(open)' is writable by every user"), "\(below.stderr)")
        #expect(!FileManager.default.fileExists(atPath: open + "/new"), "made before the refusal")
        // Below a folder of the user's, it is made.
        let made = temp.path + "/made/sub"
        let fine = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: ["TMPDIR": made, "NIXACTIONS_NO_CGROUP": "1"])
        #expect(fine.status == 0 && FileManager.default.fileExists(atPath: made), "\(fine.stderr)")
    }

    @Test("a mount a step leaves in its folders (a shared cache bind-mounted into $RUNNER_TEMP) is detached at the run's end, never emptied; nothing is left",
          .enabled(if: getuid() == 0, "mount needs root"))
    func mountLeftByStep() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        _ = try temp.write("precious/file.txt", "keep me\n")
        try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      mkdir "$RUNNER_TEMP/cache"
                      mount --bind \(temp.path)/precious "$RUNNER_TEMP/cache"
                      cat "$RUNNER_TEMP/cache/file.txt"
            """)
        let tmp = temp.path + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"], in: temp.path,
                                          environment: ["TMPDIR": tmp])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[a] keep me\n"))
        #expect(try String(contentsOfFile: temp.path + "/precious/file.txt", encoding: .utf8) == "keep me\n", "the mounted folder was emptied")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).isEmpty, "left in TMPDIR")
        #expect(!(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)).contains(tmp), "a mount is left")
    }

    static var canMakeRunCgroup: Bool {
        CgroupV2.makeRunCgroup(name: "nixactions-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").map { CgroupTree.remove($0); return true } ?? false
    }

    @Test("a run whose host and supervisor were both killed (SIGKILL) is ended by the next run, also one with another TMPDIR (found by its cgroup)",
          .enabled(if: canMakeRunCgroup, "this machine cannot make a cgroup v2 for a run"))
    func deadRunOtherTMPDIR() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let marker = "nxadeadrun\(getpid())"
        defer { for pid in livePids(where: { $0.contains(marker) }) { kill(pid, SIGKILL) } }
        for folder in ["first/tmp", "second/tmp"] {
            try FileManager.default.createDirectory(atPath: temp.path + "/" + folder, withIntermediateDirectories: true)
        }
        _ = try temp.write("first/wf.yml", """
            jobs:
              a:
                steps:
                  - run: |
                      setsid bash -c 'exec -a \(marker) sleep 300' > /dev/null 2>&1 < /dev/null &
                      touch \(temp.path)/started
                      sleep 300
            """)
        _ = try temp.write("second/wf.yml", "jobs:\n  b:\n    steps:\n      - run: echo second\n")
        let first = try launchNixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"],
                                         in: temp.path + "/first", environment: ["TMPDIR": temp.path + "/first/tmp"])
        #expect(await eventually { FileManager.default.fileExists(atPath: temp.path + "/started") })
        #expect(await eventually { !livePids(where: { $0.contains(marker) }).isEmpty }, "the step's background process never started")
        // The host and its watcher (the supervisor to be), as a CI agent killing the tree would.
        let watchers = livePids { $0.contains("nixactions-watch \(first.processIdentifier) ") }
        #expect(!watchers.isEmpty)
        for pid in watchers + [first.processIdentifier] { kill(pid, SIGKILL) }
        await waitForExit(first)
        // (Another test's run, started meanwhile from its own TMPDIR, may end it first: the same sweep.)
        let second = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", temp.path + "/logs"],
                                          in: temp.path + "/second", environment: ["TMPDIR": temp.path + "/second/tmp"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(await livePids(after: .seconds(5), where: { $0.contains(marker) }).isEmpty, "the dead run's process is still running")
    }

    @Test("a file-size limit (ulimit -f) below the job log's size: the run goes on and says its log is incomplete, as for a full disk, instead of dying of SIGXFSZ (audit 61 L1: exit 153 and no word)")
    func fileSizeLimit() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: head -c 400000 /dev/zero | tr '\\0' x; echo
                  - run: echo second step ran
            """)
        let result = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c", "ulimit -f 200; exec \"$0\" \"$@\"", nixactionsBinary.path,
                                                                        "run", workflow, "--log-dir", temp.path + "/logs", "--log-format", "plain"],
                                          in: temp.path)
        #expect(result.status == 0, "\(result.status): \(result.stderr.suffix(2000))")
        #expect(result.stdout.contains("[a] second step ran"), "\(result.stdout.suffix(2000))")
        #expect((result.stdout + result.stderr).contains("File too large"), "the failed write is said: \(result.stderr.suffix(2000))")
    }

    @Test("a console another program left non-blocking (a terminal in O_NONBLOCK) that stops reading for a while loses nothing: the run waits for room as for a pipe (audit 61 M4: silent from the first full buffer on, no summary)")
    func nonBlockingConsole() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: seq 1 3000
            """)
        // stdout on a pty set O_NONBLOCK, nothing read for 2 s, then everything.
        let script = try temp.write("slowreader.py", """
            import os, pty, sys, time, fcntl, subprocess
            m, s = pty.openpty()
            fcntl.fcntl(s, fcntl.F_SETFL, fcntl.fcntl(s, fcntl.F_GETFL) | os.O_NONBLOCK)
            p = subprocess.Popen(sys.argv[1:], stdout=s, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            os.close(s)
            time.sleep(2)
            out = b''
            while True:
                try:
                    b = os.read(m, 65536)
                except OSError:
                    break
                if not b:
                    break
                out += b
            p.wait()
            sys.stdout.buffer.write(out)
            sys.exit(p.returncode)
            """)
        let result = try await runCommand(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, nixactionsBinary.path, "run", workflow,
                                                                              "--log-dir", temp.path + "/logs", "--log-format", "plain"],
                                          in: temp.path)
        let text = result.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(result.status == 0, "\(result.status)")
        #expect(text.contains("[a] 3000\n"), "\(text.suffix(500))")
        #expect(text.contains("logs: "), "no summary: \(text.suffix(500))")
    }

    @Test("numbers too large for their option (grace-seconds 1e300, an ssh port 1e300, a cache max-size 1e300, NIXACTIONS_PLUGIN_ENTRY_TIMEOUT=inf) are errors that name the option, never a trap; the local executor refuses options it does not know (audit 61 input H1–H4)")
    func hugeNumbersAndUnknownOptions() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        func run(_ executor: String, _ arguments: [String] = [], environment: [String: String] = [:]) async throws -> CommandResult {
            let workflow = try temp.write("wf.yml", """
                jobs:
                  a:
                    executor: \(executor)
                    steps:
                      - run: echo ran
                """)
            return try await nixactions(arguments.isEmpty ? ["run", workflow, "--log-dir", temp.path + "/logs", "--log-format", "plain"] : arguments,
                                        in: temp.path, environment: environment)
        }
        let cases: [(String, String)] = [
            ("{ plugin: local, with: { grace-seconds: 1e300 } }", "local executor: 'grace-seconds' must be a number of seconds from 0 to 3600"),
            ("{ plugin: local, with: { grace-seconds: soon } }", "local executor: 'grace-seconds' must be a number of seconds from 0 to 3600"),
            ("{ plugin: local, with: { inherit-envv: false } }", "error: the executor 'local' has no option 'inherit-envv'"),
            ("{ plugin: local, with: { inherit-env: no-thanks } }", "local executor: 'inherit-env' must be true or false"),
            ("{ plugin: ssh, with: { host: h, port: 1e300 } }", "ssh executor: 'port' must be a number from 1 to 65535"),
            ("{ plugin: oci, with: { image: alpine, grace-seconds: 1e300 } }", "oci executor: 'grace-seconds' must be a number of seconds from 0 to 3600"),
        ]
        for (executor, message) in cases {
            let result = try await run(executor)
            let all = result.stdout + result.stderr
            #expect(result.status == 1 || result.status == 2, "\(executor): \(result.status)\n\(all)")
            #expect(all.contains(message), "\(executor): \(all)")
            #expect(!all.contains("Fatal error") && !all.contains("[a] ran"), "\(executor): \(all)")
        }
        // A cache option's number, read by `cache list` too.
        try temp.write(".nixactions/config.yml", "cache:\n  backends:\n    local: { max-size: 1e300 }\n")
        let listed = try await nixactions(["cache", "list"], in: temp.path, environment: ["XDG_CACHE_HOME": temp.path + "/xdg"])
        #expect(listed.status != 132 && !(listed.stdout + listed.stderr).contains("Fatal error"), "\(listed.status): \(listed.stdout)\(listed.stderr)")
        #expect((listed.stdout + listed.stderr).contains("max-size"), "the option is named: \(listed.stdout)\(listed.stderr)")
        // A backend name no plugin provides: its options apply to nothing, and that is said (audit 61 input H7).
        try temp.write(".nixactions/config.yml", "cache:\n  backends:\n    locall: { max-size: 5G }\n")
        let misspelt = try await run("local")
        #expect(misspelt.status == 0, "\(misspelt.stdout)\(misspelt.stderr)")
        #expect(misspelt.stderr.contains("warning: the configuration's cache.backends names 'locall', which no plugin provides"), "\(misspelt.stderr)")
        try FileManager.default.removeItem(atPath: temp.path + "/.nixactions")
        // Environment limits out of range are the default, never a trap.
        for value in ["inf", "1e300", "nan"] {
            let plugins = try await nixactions(["plugins", "list"], in: temp.path, environment: ["NIXACTIONS_PLUGIN_ENTRY_TIMEOUT": value, "NIXACTIONS_ABANDON_AFTER": value])
            #expect(plugins.status == 0, "\(value): \(plugins.status) \(plugins.stderr)")
        }
    }

    @Test("a step's time limit: a child that shuts down cleanly on SIGTERM is heard to its end (its output read until the grace runs out, not 200 ms after the shell died) and gets SIGTERM once (audit 61 M3: cut after 200 ms, and signalled twice)")
    func gracefulShutdownHeard() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let script = try temp.write("graceful.py", """
            import os, signal, sys, time
            def on_term(number, frame):
                os.write(1, b"got TERM\\n")
                for part in range(10):
                    os.write(1, b"shutdown: part %d\\n" % part)
                    time.sleep(0.1)
                os.write(1, b"shutdown: done\\n")
                sys.exit(3)
            signal.signal(signal.SIGTERM, on_term)
            os.write(1, b"working\\n")
            while True:
                time.sleep(1)
            """)
        let workflow = try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - run: python3 \(script); echo never
                    timeout: 5s
            """)
        let result = try await nixactions(["run", workflow, "--log-dir", temp.path + "/logs", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 1, "\(result.stdout)")
        #expect(result.stdout.contains("[a] shutdown: done\n"), "the clean shutdown was cut: \(result.stdout)")
        #expect(result.stdout.components(separatedBy: "got TERM").count == 2, "SIGTERM once: \(result.stdout)")
        #expect(!result.stdout.contains("[a] never"))
    }
}
