import Foundation
import Testing
import TestSupport

/// A workflow's `concurrency` between runs of one project: real `nixactions run` processes at once.
@Suite("Workflow concurrency between runs: one run of a group at a time, cancel-in-progress, one waiting run", .serialized)
struct RunConcurrencyTests {
    /// A step that marks its start and end in `$MARKS` (the project's `marks`), sleeping `$NAP` between.
    static func workflow(_ concurrency: String) -> String {
        """
        on: push
        \(concurrency)
        jobs:
          a:
            steps:
              - run: echo "start-$RUN" >> "$MARKS"; sleep "$NAP"; echo "end-$RUN" >> "$MARKS"
              - if: always()
                run: echo "cleanup-$RUN" >> "$MARKS"
        """
    }

    static func marks(_ temp: TemporaryDirectory) -> [String] {
        ((try? String(contentsOfFile: temp.path + "/marks", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Wait until `marks` holds `mark` (at most 30 s).
    static func waitFor(_ mark: String, in temp: TemporaryDirectory) async throws {
        for _ in 0..<600 {
            if marks(temp).contains(mark) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("no '\(mark)' in \(marks(temp))")
    }

    static func run(_ temp: TemporaryDirectory, _ name: String, nap: String) async throws -> CommandResult {
        // Without the tests' command slots: these runs must be at once (a slot a run waits for
        // would serialize them itself).
        let path = temp.path
        return try await offThePool {
            try runCommandBlocking(nixactionsBinary, ["run", "wf.yml", "--log-format", "plain", "--env", "RUN=\(name)", "--env", "NAP=\(nap)",
                                                      "--env", "MARKS=\(path)/marks"], in: path)
        }
    }

    @Test("a run of a group in progress is waited for: the second starts its jobs once the first has ended, and says it waits")
    func waits() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow("concurrency: deploy-${{ github.workflow }}"))
        async let first = Self.run(temp, "a", nap: "2")
        try await Self.waitFor("start-a", in: temp)
        let second = try await Self.run(temp, "b", nap: "0")
        let a = try await first
        #expect(a.status == 0 && second.status == 0, "\(a.stderr)\(second.stderr)")
        #expect(Self.marks(temp) == ["start-a", "end-a", "cleanup-a", "start-b", "end-b", "cleanup-b"], "\(Self.marks(temp))")
        #expect(second.stderr.contains("nixactions: waiting: a run of concurrency group 'deploy-wf.yml' is in progress (pid "), "\(second.stderr)")
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
        let second = try await Self.run(temp, "b", nap: "0")
        let a = try await first
        #expect(ContinuousClock.now - started < .seconds(20), "the first run was not cut short")
        #expect(a.status == 130, "\(a.stdout)\(a.stderr)")
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(Self.marks(temp) == ["start-a", "cleanup-a", "start-b", "end-b", "cleanup-b"], "\(Self.marks(temp))")
        #expect(a.stdout.contains("the run is cancelled by a newer run of concurrency group 'ci-push'"), "\(a.stdout)")
        #expect(second.stderr.contains("nixactions: cancelling the run of concurrency group 'ci-push'"), "\(second.stderr)")
    }

    @Test("queue: single (the default) keeps one waiting run: a newer one cancels it (exit 130, saying why) and runs after the one in progress; queue: max keeps them all")
    func oneWaiting() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow("concurrency: { group: release }"))
        async let first = Self.run(temp, "a", nap: "3")
        try await Self.waitFor("start-a", in: temp)
        async let second = Self.run(temp, "b", nap: "0")
        try await Task.sleep(for: .milliseconds(800))  // b is waiting by then
        let third = try await Self.run(temp, "c", nap: "0")
        let (a, b) = (try await first, try await second)
        #expect(a.status == 0 && third.status == 0, "\(a.stderr)\(third.stderr)")
        #expect(b.status == 130, "\(b.stdout)\(b.stderr)")
        #expect(b.stderr.contains("nixactions: cancelled while waiting: a newer run of concurrency group 'release' (pid "), "\(b.stderr)")
        #expect(third.stderr.contains("nixactions: cancelling the run waiting in concurrency group 'release'"), "\(third.stderr)")
        #expect(Self.marks(temp) == ["start-a", "end-a", "cleanup-a", "start-c", "end-c", "cleanup-c"], "\(Self.marks(temp))")

        // queue: max: every run waits its turn, none is cancelled, none overlaps another.
        try temp.write("wf.yml", Self.workflow("concurrency: { group: release, queue: max }"))
        try? FileManager.default.removeItem(atPath: temp.path + "/marks")
        async let x = Self.run(temp, "x", nap: "2")
        try await Self.waitFor("start-x", in: temp)
        async let y = Self.run(temp, "y", nap: "0")
        let z = try await Self.run(temp, "z", nap: "0")
        let (xr, yr) = (try await x, try await y)
        #expect(xr.status == 0 && yr.status == 0 && z.status == 0, "\(yr.stderr)\(z.stderr)")
        let marks = Self.marks(temp)
        #expect(marks.count == 9 && Array(marks.prefix(3)) == ["start-x", "end-x", "cleanup-x"], "\(marks)")
        for name in ["y", "z"] {
            let start = marks.firstIndex(of: "start-\(name)") ?? -1
            #expect(start >= 3 && marks.count > start + 2 && marks[start + 1] == "end-\(name)" && marks[start + 2] == "cleanup-\(name)", "\(marks)")
        }
    }

    @Test("a run killed outright (SIGKILL) leaves no lock file: its supervisor removes it, and the next run of the group does not wait")
    func killedHolder() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", Self.workflow("concurrency: killed"))
        async let first = Self.run(temp, "a", nap: "30")
        try await Self.waitFor("start-a", in: temp)
        // The holder is the lock file's pid whose current folder is this project.
        let folder = "/tmp/nixactions-concurrency-\(getuid())"
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
        let next = try await Self.run(temp, "b", nap: "0")
        #expect(next.status == 0 && !next.stderr.contains("waiting"), "\(next.stderr)")
    }

    @Test("groups are the project's: the same group in another project runs at once")
    func perProject() async throws {
        let one = try TemporaryDirectory(), two = try TemporaryDirectory()
        defer { one.remove(); two.remove() }
        for temp in [one, two] { try temp.write("wf.yml", Self.workflow("concurrency: shared")) }
        async let first = Self.run(one, "a", nap: "3")
        try await Self.waitFor("start-a", in: one)
        let started = ContinuousClock.now
        let second = try await Self.run(two, "b", nap: "0")
        #expect(ContinuousClock.now - started < .seconds(2), "the other project's run waited")
        #expect(second.status == 0 && !second.stderr.contains("waiting"), "\(second.stderr)")
        #expect(Self.marks(one).count == 1, "\(Self.marks(one))")  // a still running
        #expect(try await first.status == 0)
    }
}
