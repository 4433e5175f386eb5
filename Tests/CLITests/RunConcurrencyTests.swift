import Foundation
import Testing
import TestSupport

/// A workflow's `concurrency` between runs of one project: real `nixactions run` processes at once.
@Suite("Workflow concurrency between runs: one run of a group at a time, cancel-in-progress, one waiting run", .serialized)
struct RunConcurrencyTests {
    /// A step that marks its start and end in `$MARKS` (the project's `marks`), between them
    /// sleeping `$NAP` seconds, or (`$GATE` set) waiting until the file `$GATE` exists: the test
    /// opens it once the other runs are where it wants them, whatever the machine's load.
    static func workflow(_ concurrency: String) -> String {
        """
        on: push
        \(concurrency)
        jobs:
          a:
            steps:
              - run: |
                  echo "start-$RUN" >> "$MARKS"
                  if [ -n "${GATE:-}" ]; then n=0; while [ ! -e "$GATE" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; else sleep "$NAP"; fi
                  echo "end-$RUN" >> "$MARKS"
              - if: always()
                run: echo "cleanup-$RUN" >> "$MARKS"
        """
    }

    static func marks(_ temp: TemporaryDirectory) -> [String] {
        ((try? String(contentsOfFile: temp.path + "/marks", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Wait until `condition` holds (at most 60 s).
    static func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<1200 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("waited 60 s for \(what)")
    }

    /// Wait until `marks` holds `mark`.
    static func waitFor(_ mark: String, in temp: TemporaryDirectory) async throws {
        try await waitUntil("'\(mark)' in \(marks(temp))") { marks(temp).contains(mark) }
    }

    static func real(_ temp: TemporaryDirectory) -> String { URL(fileURLWithPath: temp.path).resolvingSymlinksInPath().path }

    /// The `nixactions run` hosts whose current folder is the project.
    static func hosts(in temp: TemporaryDirectory) -> [pid_t] {
        let folder = real(temp)
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name -> pid_t? in
            guard let pid = pid_t(name), (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(name)/cwd")) == folder,
                  let line = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(name)/cmdline")) else { return nil }
            let words = line.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return words.count > 1 && words[0].hasSuffix("/nixactions") && words[1] == "run" ? pid : nil
        }
    }

    /// The pid in the project's waiting place of its group (queue: single), if a run waits there.
    static func waiting(in temp: TemporaryDirectory) -> pid_t? {
        let folder = state(temp) + "/nixactions/concurrency", project = real(temp)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasSuffix(".waiting") {
            let text = (try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? ""
            if let pid = pid_t(text.split(separator: "\n").first ?? ""),
               (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) == project { return pid }
        }
        return nil
    }

    static func open(_ temp: TemporaryDirectory) { FileManager.default.createFile(atPath: temp.path + "/gate", contents: nil) }

    /// The runs' XDG_STATE_HOME, where their groups' lock files are: the test's own.
    static func state(_ temp: TemporaryDirectory) -> String { temp.path + "/state" }

    static func run(_ temp: TemporaryDirectory, _ name: String, nap: String = "0", gated: Bool = false,
                    state: TemporaryDirectory? = nil) async throws -> CommandResult {
        // Without the tests' command slots: these runs must be at once (a slot a run waits for
        // would serialize them itself).
        let path = temp.path, environment = ["XDG_STATE_HOME": Self.state(state ?? temp)]
        var arguments = ["run", "wf.yml", "--log-format", "plain", "--env", "RUN=\(name)", "--env", "NAP=\(nap)", "--env", "MARKS=\(path)/marks"]
        if gated { arguments += ["--env", "GATE=\(path)/gate"] }
        let given = arguments
        return try await offThePool { try runCommandBlocking(nixactionsBinary, given, in: path, environment: environment) }
    }

    @Test("a run of a group in progress is waited for: the second starts its jobs once the first has ended, and says it waits")
    func waits() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow("concurrency: deploy-${{ github.workflow }}"))
        async let first = Self.run(temp, "a", gated: true)
        try await Self.waitFor("start-a", in: temp)
        async let second = Self.run(temp, "b")
        try await Self.waitUntil("the second run waiting") { Self.waiting(in: temp) != nil }
        #expect(Self.marks(temp) == ["start-a"])
        Self.open(temp)
        let (a, b) = (try await first, try await second)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\(b.stderr)")
        #expect(Self.marks(temp) == ["start-a", "end-a", "cleanup-a", "start-b", "end-b", "cleanup-b"], "\(Self.marks(temp))")
        #expect(b.stderr.contains("nixactions: waiting: a run of concurrency group 'deploy-wf.yml' is in progress (pid "), "\(b.stderr)")
        #expect(!a.stderr.contains("waiting"), "\(a.stderr)")
    }

    @Test("cancel-in-progress: the run in progress is cancelled (its always() steps run, exit 130, it says by whom), then the new one runs")
    func cancelsInProgress() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow(#"concurrency: { group: "ci-${{ github.event_name }}", cancel-in-progress: true }"#))
        let started = ContinuousClock.now
        async let first = Self.run(temp, "a", nap: "30")
        try await Self.waitFor("start-a", in: temp)
        let second = try await Self.run(temp, "b")
        let a = try await first
        #expect(ContinuousClock.now - started < .seconds(20), "the first run was not cut short")
        #expect(a.status == 130, "\(a.stdout)\(a.stderr)")
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(Self.marks(temp) == ["start-a", "cleanup-a", "start-b", "end-b", "cleanup-b"], "\(Self.marks(temp))")
        #expect(a.stdout.contains("the run is cancelled by a newer run of concurrency group 'ci-push'"), "\(a.stdout)")
        #expect(second.stderr.contains("nixactions: cancelling the run of concurrency group 'ci-push'"), "\(second.stderr)")
    }

    @Test("cancel-in-progress asked twice (a third run comes while the first rolls back): the first is cancelled once, its roll-back step runs to its end (review 59 H2)")
    func cancelledOnce() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on: push
            concurrency: { group: once, cancel-in-progress: true }
            jobs:
              a:
                steps:
                  - run: echo "start-$RUN" >> "$MARKS"; sleep "$NAP"; echo "end-$RUN" >> "$MARKS"
                  - if: cancelled()
                    run: echo "rollback-$RUN" >> "$MARKS"; sleep 2; echo "rolled-back-$RUN" >> "$MARKS"
            """)
        async let first = Self.run(temp, "a", nap: "30")
        try await Self.waitFor("start-a", in: temp)
        async let second = Self.run(temp, "b")
        try await Self.waitFor("rollback-a", in: temp)
        let third = try await Self.run(temp, "c")
        let (a, b) = (try await first, try await second)
        #expect(a.status == 130 && !a.stderr.contains("second signal") && !a.stdout.contains("second signal"), "\(a.stdout)\(a.stderr)")
        #expect(Self.marks(temp).contains("rolled-back-a"), "\(Self.marks(temp))")
        // b waited in the group's one place, and gave it to c.
        #expect(b.status == 130 && b.stderr.contains("cancelled while waiting: a newer run of concurrency group 'once'"), "\(b.stderr)")
        #expect(third.status == 0 && Self.marks(temp).suffix(2) == ["start-c", "end-c"], "\(Self.marks(temp))")
    }

    @Test("queue: single (the default) keeps one waiting run: a newer one cancels it (exit 130, saying why) and runs after the one in progress")
    func oneWaiting() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow("concurrency: { group: release }"))
        async let first = Self.run(temp, "a", gated: true)
        try await Self.waitFor("start-a", in: temp)
        async let second = Self.run(temp, "b")
        try await Self.waitUntil("b waiting") { Self.waiting(in: temp) != nil }
        let b0 = Self.waiting(in: temp)
        async let third = Self.run(temp, "c")
        try await Self.waitUntil("c waiting in b's place") { Self.waiting(in: temp).map { $0 != b0 } ?? false }
        Self.open(temp)
        let (a, b, c) = (try await first, try await second, try await third)
        #expect(a.status == 0 && c.status == 0, "\(a.stderr)\(c.stderr)")
        #expect(b.status == 130, "\(b.stdout)\(b.stderr)")
        #expect(b.stderr.contains("nixactions: cancelled while waiting: a newer run of concurrency group 'release' (pid "), "\(b.stderr)")
        #expect(c.stderr.contains("nixactions: cancelling the run waiting in concurrency group 'release'"), "\(c.stderr)")
        #expect(Self.marks(temp) == ["start-a", "end-a", "cleanup-a", "start-c", "end-c", "cleanup-c"], "\(Self.marks(temp))")
    }

    /// The pids in the group's line (queue: max), first first: `KEY.q.TIME.PID` files.
    static func line(in temp: TemporaryDirectory) -> [pid_t] {
        let folder = state(temp) + "/nixactions/concurrency"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.contains(".q.") }.sorted()
            .compactMap { $0.split(separator: ".").last.flatMap { pid_t($0) } }
    }

    @Test("queue: max: every run waits, none is cancelled, and they take the group in the order they came; a waiting run killed outright does not hold up those after it")
    func queueMaxInOrder() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow("concurrency: { group: release, queue: max }"))
        async let x = Self.run(temp, "x", gated: true)
        try await Self.waitFor("start-x", in: temp)
        // Each run comes once the one before it is in the line: the order they came is known.
        async let y = Self.run(temp, "y")
        try await Self.waitUntil("y in the line") { Self.line(in: temp).count == 1 }
        // A killed run's ticket from before a reboot (a later time than any now) and a half-made
        // one: neither is anyone's, and the runs that look remove them (review 60 L3).
        let folder = Self.state(temp) + "/nixactions/concurrency"
        let key = try #require(Self.groupFiles(temp).first { $0.contains(".q.") }?.components(separatedBy: ".q.").first)
        FileManager.default.createFile(atPath: "\(folder)/\(key).q.99999999999999999999.1", contents: nil)
        FileManager.default.createFile(atPath: "\(folder)/\(key).making.1", contents: nil)
        try await Self.waitUntil("the stale files removed") { Self.groupFiles(temp).filter { $0.hasSuffix(".1") }.isEmpty }
        async let k = Self.run(temp, "k")
        try await Self.waitUntil("k in the line") { Self.line(in: temp).count == 2 }
        let killed = try #require(Self.line(in: temp).dropFirst().first, "k is not in the line: \(Self.groupFiles(temp))")
        async let z = Self.run(temp, "z")
        try await Self.waitUntil("z in the line") { Self.line(in: temp).count == 3 }
        // z counts the line just after it joins it: a kill in between made it count 1 under load.
        try await Task.sleep(for: .milliseconds(300))
        kill(killed, SIGKILL)
        try await Task.sleep(for: .milliseconds(200))
        Self.open(temp)
        let (xr, yr, kr, zr) = (try await x, try await y, try await k, try await z)
        #expect(xr.status == 0 && yr.status == 0 && zr.status == 0, "\(yr.stderr)\(zr.stderr)")
        #expect(kr.status != 0)
        #expect(yr.stderr.contains("nixactions: waiting: a run of concurrency group 'release' is in progress"), "\(yr.stderr)")
        #expect(!yr.stderr.contains("cancel") && !zr.stderr.contains("cancel"), "\(yr.stderr)\(zr.stderr)")
        #expect(zr.stderr.contains("nixactions: waiting: 2 earlier runs of concurrency group 'release' wait ahead of this one (queue: max)"),
                "\(zr.stderr)")
        #expect(Self.marks(temp) == ["start-x", "end-x", "cleanup-x", "start-y", "end-y", "cleanup-y", "start-z", "end-z", "cleanup-z"],
                "\(Self.marks(temp))")
        // The killed run's ticket was removed by a run after it; the others left theirs as they took the group.
        #expect(Self.line(in: temp).isEmpty)
    }

    @Test("a run killed outright (SIGKILL) leaves no lock file: its supervisor removes it, and the next run of the group does not wait")
    func killedHolder() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow("concurrency: killed"))
        async let first = Self.run(temp, "a", nap: "30")
        try await Self.waitFor("start-a", in: temp)
        // The holder is the lock file's pid whose current folder is this project.
        let folder = Self.state(temp) + "/nixactions/concurrency"
        let real = URL(fileURLWithPath: temp.path).resolvingSymlinksInPath().path
        var lock: String?
        var holder: pid_t = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasSuffix(".lock") {
            let text = (try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? ""
            guard let pid = pid_t(text.split(separator: "\n").first ?? ""),
                  (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) == real else { continue }
            (lock, holder) = (folder + "/" + name, pid)
        }
        let path = try #require(lock, "no lock file of this run in \(folder)")
        kill(holder, SIGKILL)
        _ = try await first
        var gone = false
        for _ in 0..<200 where !gone {
            gone = !FileManager.default.fileExists(atPath: path)
            if !gone { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(gone, "the killed run's lock file is left: \(path)")
        let next = try await Self.run(temp, "b")
        #expect(next.status == 0 && !next.stderr.contains("waiting"), "\(next.stderr)")
    }

    /// The files in the test's concurrency folder.
    static func groupFiles(_ temp: TemporaryDirectory) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: state(temp) + "/nixactions/concurrency")) ?? []).sorted()
    }

    @Test("a run killed outright while it waits leaves no file of its group: its watcher removes its waiting place (review 59 L7)")
    func killedWaiter() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow("concurrency: waited"))
        async let first = Self.run(temp, "a", gated: true)
        try await Self.waitFor("start-a", in: temp)
        async let second = Self.run(temp, "b")
        try await Self.waitUntil("b waiting") { Self.waiting(in: temp) != nil }
        let waiter = try #require(Self.waiting(in: temp))
        kill(waiter, SIGKILL)
        #expect(try await second.status != 0)
        try await Self.waitUntil("b's waiting place removed") { !Self.groupFiles(temp).contains { $0.hasSuffix(".waiting") } }
        #expect(Self.groupFiles(temp).count == 1, "\(Self.groupFiles(temp))")  // a's lock
        Self.open(temp)
        #expect(try await first.status == 0)
        #expect(Self.groupFiles(temp).isEmpty, "\(Self.groupFiles(temp))")
        #expect(Self.marks(temp) == ["start-a", "end-a", "cleanup-a"], "\(Self.marks(temp))")
    }

    @Test("a run stopped at once by a second signal leaves no lock file: it removes it, still holding it, before it exits (review 59 L7)")
    func secondSignal() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on: push
            concurrency: stopped
            jobs:
              a:
                steps:
                  - run: echo "start-$RUN" >> "$MARKS"; sleep 30
                  - if: always()
                    run: |
                      trap '' TERM INT
                      echo "always-$RUN" >> "$MARKS"
                      sleep 30
            """)
        let started = ContinuousClock.now
        async let first = Self.run(temp, "a")
        try await Self.waitFor("start-a", in: temp)
        let host = try #require(Self.hosts(in: temp).first)
        kill(host, SIGINT)
        try await Self.waitFor("always-a", in: temp)
        kill(host, SIGINT)
        let a = try await first
        #expect(a.status == 130, "\(a.stdout)\(a.stderr)")
        #expect(ContinuousClock.now - started < .seconds(25), "the second signal did not stop the run at once")
        #expect(Self.groupFiles(temp).isEmpty, "\(Self.groupFiles(temp))")
        // The next run of the group does not wait.
        try temp.write("wf.yml", Self.workflow("concurrency: stopped"))
        let next = try await Self.run(temp, "b")
        #expect(next.status == 0 && !next.stderr.contains("waiting"), "\(next.stderr)")
    }

    @Test("a lock folder others can write to is refused: the run exits 2 rather than run without its group")
    func folderNotPrivate() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow("concurrency: guarded"))
        let folder = Self.state(temp) + "/nixactions/concurrency"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        chmod(folder, 0o777)
        let result = try await Self.run(temp, "a")
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("error: concurrency group 'guarded' cannot be held: \(folder) is not a private folder of this user's"), "\(result.stderr)")
        #expect(Self.marks(temp).isEmpty)
        chmod(folder, 0o700)
        #expect(try await Self.run(temp, "b").status == 0)
    }

    @Test("groups are the project's: the same group in another project runs at once")
    func perProject() async throws {
        let one = try TemporaryDirectory(), two = try TemporaryDirectory()
        defer { one.remove(); two.remove() }
        for temp in [one, two] { try temp.write("wf.yml", Self.workflow("concurrency: shared")) }
        async let first = Self.run(one, "a", gated: true)
        try await Self.waitFor("start-a", in: one)
        let second = try await Self.run(two, "b", state: one)  // the same user's groups
        #expect(second.status == 0 && !second.stderr.contains("waiting"), "\(second.stderr)")
        #expect(Self.marks(one) == ["start-a"], "\(Self.marks(one))")  // a still running
        Self.open(one)
        #expect(try await first.status == 0)
    }
}
