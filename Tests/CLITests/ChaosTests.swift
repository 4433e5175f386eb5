import Foundation
import NixActionsEngine
import Testing
import TestSupport

/// The runner as a real process against every way a run can end, with marker processes started
/// every way a step can try to leave its job behind. After each ending: no marker alive, no
/// temporary folder left, the logs complete up to the ending, and the right exit status.
extension RealExecutorSuites {
    @Suite("Chaos: every ending, every way to escape")
    struct ChaosTests {
        enum Ending: String, CaseIterable, Sendable {
            case normal, stepTimeout, jobTimeout, sigint, sigintTwice, sigterm, sighup, sigkill, fullDisk, runFolderDeleted
        }

        /// Markers: `nxachaos-<token>-<kind>` as their argv[0], so that the test finds them in /proc.
        static let markerKinds = ["amp", "nohup", "doublefork", "setsid", "setsidf", "termignore", "setsidtermignore"]

        static func markerScript(_ token: String) -> String {
            let name = { (kind: String) in "nxachaos-\(token)-\(kind)" }
            return """
                (exec -a \(name("amp")) sleep 1000) &
                nohup bash -c 'exec -a \(name("nohup")) sleep 1000' >/dev/null 2>&1 &
                ( (exec -a \(name("doublefork")) sleep 1000) & )
                setsid bash -c 'exec -a \(name("setsid")) sleep 1000' &
                setsid -f bash -c 'exec -a \(name("setsidf")) sleep 1000'
                (trap '' TERM; exec -a \(name("termignore")) sleep 1000) &
                setsid -f bash -c "trap '' TERM; exec -a \(name("setsidtermignore")) sleep 1000"
                """
        }

        /// The run's cgroup folder (under the cgroup2 mount) from a step's `/proc/self/cgroup` path
        /// (`…/nixactions-RUNID/j-…/s…`); nil when the step was not in one (no cgroup v2 here, or
        /// the fallback).
        static func runCgroup(stepCgroup: String) -> String? {
            let components = stepCgroup.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "/")
            // `nixactions-yyyyMMdd-HHmmss-hhhhhhhh`: a run's cgroup, not some other unit named nixactions-….
            let isRun = { (name: Substring) -> Bool in
                let parts = name.split(separator: "-", omittingEmptySubsequences: false)
                return parts.count == 4 && parts[0] == "nixactions" && parts[1].count == 8 && parts[2].count == 6 && parts[3].count == 8
                    && parts[1].allSatisfy(\.isNumber) && parts[2].allSatisfy(\.isNumber) && parts[3].allSatisfy(\.isHexDigit)
            }
            guard let index = components.lastIndex(where: isRun),
                  let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8),
                  let mount = mounts.split(separator: "\n").map({ $0.split(separator: " ") }).first(where: { $0.count > 2 && $0[2] == "cgroup2" })?[1]
            else { return nil }
            return String(mount) + "/" + components[...index].joined(separator: "/")
        }

        /// Pids of running (not zombie) processes whose command line starts with the run's markers.
        static func liveMarkers(_ token: String) -> [String] {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
            var found: [String] = []
            for name in names {
                guard let pid = pid_t(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { continue }
                let command = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                if command.hasPrefix("nxachaos-\(token)-") && isRunning(pid) { found.append(command) }
            }
            return found.sorted()
        }

        func workflow(_ ending: Ending, token: String, marks: String) -> String {
            let markers = Self.markerScript(token).split(separator: "\n").map { "          " + $0 }.joined(separator: "\n")
            let lines = "          for i in $(seq 1 200); do echo \"line $i\"; done"
            // Ready once every marker runs (checked by the step itself, so that timing does not matter).
            let ready = """
                          for i in $(seq 1 500); do [ "$(pgrep -c -f '^nxachaos-\(token)-')" -ge \(Self.markerKinds.count) ] && touch \(marks)/all-started && break; sleep 0.02; done
                          dirname "$(dirname "$0")" > \(marks)/scripts; sed -n 's/^0:://p' /proc/self/cgroup > \(marks)/cgroup; touch \(marks)/ready
                """
            switch ending {
            case .normal:
                // 3 s: the test looks at the run's cgroup after 'ready'; on a loaded machine its
                // poll can come a second late (the cgroup was gone once, the run already over).
                return "jobs:\n  a:\n    steps:\n      - run: |\n\(lines)\n\(markers)\n\(ready)\n          sleep 3\n"
            case .stepTimeout:
                return "jobs:\n  a:\n    steps:\n      - timeout: 4s\n        run: |\n\(lines)\n\(markers)\n\(ready)\n          sleep 1000\n"
            case .jobTimeout:
                return "jobs:\n  a:\n    timeout: 4s\n    steps:\n      - run: |\n\(lines)\n\(markers)\n\(ready)\n          sleep 1000\n"
            case .sigint, .sigterm, .sighup, .sigkill:
                return "jobs:\n  a:\n    steps:\n      - run: |\n\(lines)\n\(markers)\n\(ready)\n          sleep 1000\n"
            case .sigintTwice:
                // The always() step hangs and ignores SIGTERM: only the second signal ends it.
                return """
                    jobs:
                      a:
                        steps:
                          - run: |
                    \(lines)
                    \(markers)
                    \(ready)
                              sleep 1000
                          - if: always()
                            run: |
                              touch \(marks)/cleanup-started
                              trap '' TERM INT
                              sleep 1000
                      z:
                        needs: a
                        if: always()
                        steps:
                          - run: "true"

                    """
            case .fullDisk:
                // 1 MiB of output into a log folder on a 256 KiB file system.
                return "jobs:\n  a:\n    steps:\n      - run: |\n\(markers)\n\(ready)\n          sleep 1\n          head -c 1048576 /dev/zero | tr '\\0' 'x' | fold -w 100\n      - run: echo second step ran\n"
            case .runFolderDeleted:
                return """
                    jobs:
                      a:
                        steps:
                          - run: |
                    \(lines)
                    \(markers)
                    \(ready)
                              sleep 1
                              rm -rf "$RUNNER_TEMP/../../.."
                          - run: echo after the deletion

                    """
            }
        }

        func expectedStatus(_ ending: Ending) -> Int32 {
            switch ending {
            case .normal: 0
            case .stepTimeout, .jobTimeout, .runFolderDeleted: 1
            case .sigint, .sigintTwice, .sigterm, .sighup: 130
            case .sigkill: -1  // killed: not an exit status
            case .fullDisk: 0
            }
        }

        @Test("every ending leaves no marker process and no temporary folder; logs and exit status are right",
              arguments: Ending.allCases, [false, true])
        func ending(_ ending: Ending, fallback: Bool) async throws {
            // Without a cgroup only the endings that depend on the mechanism are repeated.
            if fallback && ![.normal, .stepTimeout, .sigint, .sigkill].contains(ending) { return }
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let marks = temp.path + "/marks", tmp = temp.path + "/tmp", project = temp.path + "/project"
            var logs = temp.path + "/logs"
            for folder in [marks, tmp, project, logs] {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            if ending == .fullDisk {
                logs = temp.path + "/small"
                try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
                let mounted = try await runCommand(URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=256k", "tmpfs", logs])
                guard mounted.status == 0 else {
                    Issue.record("cannot mount a small tmpfs for the full-disk case (needs root): \(mounted.stderr)")
                    return
                }
            }
            defer { if ending == .fullDisk { _ = try? runCommandBlocking(URL(fileURLWithPath: "/bin/umount"), ["-l", logs]) } }
            let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            try temp.write("wf.yml", workflow(ending, token: token, marks: marks))

            let output = temp.path + "/output.txt"
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            var environment = ["TMPDIR": tmp]
            if fallback { environment["NIXACTIONS_NO_CGROUP"] = "1" }
            let process = try launchNixactions(
                ["run", temp.path + "/wf.yml", "--log-format", "plain", "--log-dir", logs], in: project,
                environment: environment, output: handle)
            try handle.close()

            let clock = ContinuousClock()
            for _ in 0..<1500 where !FileManager.default.fileExists(atPath: marks + "/ready") {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(FileManager.default.fileExists(atPath: marks + "/ready"), "the step never got ready")
            #expect(FileManager.default.fileExists(atPath: marks + "/all-started"), "not every marker started")
            // The run's cgroup, seen by its step: it must exist now, for its absence at the end to mean something.
            let runCgroup = Self.runCgroup(stepCgroup: (try? String(contentsOfFile: marks + "/cgroup", encoding: .utf8)) ?? "")
            if let runCgroup {
                #expect(!fallback, "NIXACTIONS_NO_CGROUP=1, yet the step ran in the run's cgroup \(runCgroup)")
                #expect(FileManager.default.fileExists(atPath: runCgroup), "the step's run cgroup \(runCgroup) is not where it should be")
            }
            var signalled = clock.now
            // Process starts the host as the leader of its own process group: SIGINT and SIGKILL go
            // to that whole group, as Ctrl-C in a terminal and `kill -9 -PGID` would (the supervisor,
            // in a group of its own, must not be hit).
            let group = getpgid(process.processIdentifier) == process.processIdentifier ? -process.processIdentifier : process.processIdentifier
            switch ending {
            case .sigint: kill(group, SIGINT)
            case .sigterm: kill(process.processIdentifier, SIGTERM)
            case .sighup: kill(process.processIdentifier, SIGHUP)
            case .sigkill:
                // Logs are flushed every 50 ms: what was printed longer ago than that is on disk.
                try await Task.sleep(for: .milliseconds(150))
                kill(group, SIGKILL)
            case .sigintTwice:
                kill(process.processIdentifier, SIGINT)
                for _ in 0..<1500 where !FileManager.default.fileExists(atPath: marks + "/cleanup-started") {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(FileManager.default.fileExists(atPath: marks + "/cleanup-started"), "the always() step never started")
                signalled = clock.now
                kill(process.processIdentifier, SIGINT)
            default: break
            }
            // Watched off Swift's cooperative threads, and timed there: a task's next turn can come
            // late while the whole suite runs, which would time the test instead of the host.
            let pid = process.processIdentifier
            let from = signalled
            let (exitedAfter, ended) = try await offThePool { () -> (Duration, Bool) in
                while isRunning(pid) && clock.now - from < .seconds(60) { usleep(2_000) }
                return (clock.now - from, !isRunning(pid))
            }
            #expect(ended, "the host is still running after 60 s")
            if !ended { kill(pid, SIGKILL) }
            await waitForExit(process)
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""

            if ending == .sigkill {
                #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL)
            } else {
                #expect(process.terminationStatus == expectedStatus(ending), "\(ending): \(text)")
            }
            if ending == .sigintTwice {
                #expect(exitedAfter < .seconds(2), "a second SIGINT must end the run at once, took \(exitedAfter)")
                #expect(text.contains("second signal"))
            }

            // No marker survives (the supervisor finishes the job after SIGKILL: give it a moment).
            var alive = Self.liveMarkers(token)
            for _ in 0..<250 where !alive.isEmpty {
                try await Task.sleep(for: .milliseconds(20))
                alive = Self.liveMarkers(token)
            }
            #expect(alive.isEmpty, "\(ending) (fallback: \(fallback)): still running: \(alive)\n\(text)")

            // No temporary folder left: the run folder under TMPDIR, the scripts folder on tmpfs.
            let scripts = (try? String(contentsOfFile: marks + "/scripts", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            var leftovers: [String] = []
            for _ in 0..<250 {
                leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []).filter { $0.hasPrefix("nixactions-") }
                if !scripts.isEmpty && scripts.hasPrefix("/dev/shm/") && FileManager.default.fileExists(atPath: scripts) {
                    leftovers.append(scripts)
                }
                if leftovers.isEmpty { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(leftovers.isEmpty, "\(ending) (fallback: \(fallback)): left behind: \(leftovers)")
            // No cgroup left: the run's own (`…/nixactions-RUNID`, above the step's), where the run had one.
            if let runCgroup {
                #expect(await eventually(timeout: .seconds(5)) { !FileManager.default.fileExists(atPath: runCgroup) },
                        "\(ending): the run's cgroup is left: \(runCgroup)")
            }

            // The logs hold everything up to the ending.
            let runLogs = ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).filter { !$0.hasPrefix(".") }
            if ending == .fullDisk {
                #expect(text.contains("No space left on device"), "a full disk must be reported:\n\(text)")
                #expect(text.contains("second step ran"), "the run must go on past a full disk:\n\(text)")
            } else {
                #expect(runLogs.count == 1, "\(runLogs)")
                let folder = logs + "/" + (runLogs.first ?? "")
                let jobLog = (try? String(contentsOfFile: folder + "/a.log", encoding: .utf8)) ?? ""
                var logged: [UInt8] = []
                do { logged = try loggedOutput(folder: folder, job: "a", stream: "stdout") } catch { Issue.record(error, "\(ending)") }
                let stdout = String(decoding: logged, as: UTF8.self)
                #expect(jobLog.contains("line 200\n"), "\(ending): the job log lost lines:\n\(jobLog.suffix(500))")
                #expect(stdout.hasPrefix((1...200).map { "line \($0)\n" }.joined()), "\(ending): events.jsonl does not reference every line")

                // However the run ended, its events end it: every step and job started is finished,
                // then the run (after SIGKILL or a second signal, by the supervisor, after the host's
                // exit: give it a moment).
                var state = RunState()
                for _ in 0..<250 {
                    state = (try? RunState.replay(String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8))) ?? RunState()
                    if state.status != nil { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let expected = switch ending {
                case .normal, .fullDisk: "success"
                case .stepTimeout, .jobTimeout, .runFolderDeleted, .sigkill: "failure"
                case .sigint, .sigintTwice, .sigterm, .sighup: "cancelled"
                }
                #expect(state.status == expected, "\(ending) (fallback: \(fallback)): the run's last event: \(state.status ?? "none")")
                let open = state.jobs.flatMap { job in [job.status == nil ? job.key : nil] + job.steps.map { $0.status == nil ? "\(job.key) step \($0.index)" : nil } }
                #expect(open.compactMap { $0 }.isEmpty, "\(ending): left open in events.jsonl: \(open.compactMap { $0 })")
                #expect(!state.order.isEmpty && Set(state.order) == Set(state.jobs.map(\.key)),
                        "\(ending): every job of the plan ends in the events: \(state.order) against \(state.jobs.map(\.key))")
                if [.sigint, .sigterm, .sighup, .sigintTwice].contains(ending) {
                    let events = (try? String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)) ?? ""
                    #expect(events.contains("cancelling: the run received signal"), "\(ending): the signal is not in the events")
                }
                if ending == .sigkill {
                    #expect(state.message?.contains("ended before the run did") == true, "\(state.message ?? "no message")")
                    #expect(state.jobs.first?.status == "failure" && state.jobs.first?.message != nil)
                }
                if ending == .sigintTwice {
                    // The cleanup step the second signal killed was cancelled, not failed.
                    #expect(state.jobs.first?.steps.map(\.status) == ["cancelled", "cancelled"], "\(state.jobs.first?.steps ?? [])")
                    #expect(state.jobs.first?.status == "cancelled")
                    // The job waiting for it never starts, and says so.
                    #expect(state.jobs.first { $0.key == "z" }?.status == "cancelled")
                }
            }
        }

        @Test("after the host and its supervisor are both killed, the next start removes the dead run's folders")
        func nextStartSweeps() async throws {
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let marks = temp.path + "/marks", tmp = temp.path + "/tmp"
            for folder in [marks, tmp, temp.path + "/project"] {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: |\n          dirname \"$0\" > \(marks)/scripts; touch \(marks)/ready; exec -a nxachaos-\(token)-step sleep 1000\n")
            try temp.write("quick.yml", "jobs:\n  a:\n    steps:\n      - run: true\n")
            let process = try launchNixactions(
                ["run", temp.path + "/wf.yml", "--log-dir", temp.path + "/logs"], in: temp.path + "/project", environment: ["TMPDIR": tmp])
            for _ in 0..<1500 where !FileManager.default.fileExists(atPath: marks + "/ready") {
                try await Task.sleep(for: .milliseconds(20))
            }
            // The supervisor first (it is in its own process group), then the host.
            let supervisors = try await runCommand(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-f", "__supervise --run-folder \(tmp)/"])
            let supervisor = pid_t(supervisors.stdout.split(separator: "\n").first ?? "") ?? 0
            #expect(supervisor > 0, "no supervisor found")
            if supervisor > 0 { kill(supervisor, SIGKILL) }
            kill(process.processIdentifier, SIGKILL)
            await waitForExit(process)
            let before = try FileManager.default.contentsOfDirectory(atPath: tmp).filter { $0.hasPrefix("nixactions-") }
            #expect(before.count == 1, "the dead run's folder should still be there: \(before)")
            let scripts = (try String(contentsOfFile: marks + "/scripts", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
            // The next start sweeps it (and the dead run's tmpfs folder), and keeps its own run clean.
            let next = try await nixactions(["run", temp.path + "/quick.yml", "--log-dir", temp.path + "/logs"],
                                      in: temp.path + "/project", environment: ["TMPDIR": tmp])
            #expect(next.status == 0, "\(next.stderr)")
            let after = try FileManager.default.contentsOfDirectory(atPath: tmp).filter { $0.hasPrefix("nixactions-") }
            #expect(after.isEmpty, "\(after)")
            #expect(!FileManager.default.fileExists(atPath: scripts), "\(scripts) was not swept")
            // ... and kills what was left of that run (through its cgroup or its tracking id).
            #expect(Self.liveMarkers(token).isEmpty, "the dead run's step is still running")
            // ... and ends its events, as its supervisor would have (audit 65 cancel L2: open for good).
            let runs = ((try? FileManager.default.contentsOfDirectory(atPath: temp.path + "/logs")) ?? []).filter { !$0.hasPrefix(".") }
            let dead = runs.map { (try? String(contentsOfFile: temp.path + "/logs/" + $0 + "/events.jsonl", encoding: .utf8)) ?? "" }
                .first { !$0.contains("\"exit_status\":0") } ?? ""
            let state = try RunState.replay(dead)
            #expect(runs.count == 2 && state.status == "failure" && state.message?.contains("and its supervisor ended before the run did") == true,
                    "\(runs): \(dead.suffix(500))")
            _ = try await runCommand(URL(fileURLWithPath: "/usr/bin/pkill"), ["-f", "nxachaos-\(token)-"])
        }
    }
}
