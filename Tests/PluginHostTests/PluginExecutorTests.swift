import Foundation
import NixActionsEngine
import NixActionsPluginHost
import NixActionsPluginMessages
import Synchronization
import Testing
import TestSupport

/// Collects a step's output bytes.
final class Collector: StepOutputSink {
    let bytes = Mutex<[Int32: [UInt8]]>([:])
    func write(stream: Int32, _ data: UnsafeRawBufferPointer) {
        bytes.withLock { $0[stream, default: []].append(contentsOf: data) }
    }
    func text(_ stream: Int32) -> String { String(decoding: bytes.withLock { $0[stream] ?? [] }, as: UTF8.self) }
}

@Suite("Executors driven through the C ABI")
struct PluginExecutorTests {
    func registry(_ temp: TemporaryDirectory) throws -> PluginRegistry {
        let folder = try temp.pluginFolder(["local": "nixactions-plugin-local", "double": "nixactions-testplugin-double"])
        let (loaded, refused) = PluginLoader.discover(in: [folder])
        return PluginRegistry(loaded: loaded, refused: refused, searchPath: [folder])
    }

    func configuration(_ temp: TemporaryDirectory, _ options: [String: JSONValue] = [:]) -> ExecutorConfiguration {
        ExecutorConfiguration(runID: "t", runDirectory: temp.path + "/run", projectDirectory: temp.path, options: options)
    }

    /// The local executor with job `key` started on it.
    func localJob(_ temp: TemporaryDirectory, _ key: String) async throws -> (executor: any Executor, job: JobSpec, started: JobStarted) {
        let executor = try registry(temp).makeExecutor(pluginID: "local", configuration: configuration(temp))
        let job = JobSpec(jobKey: key, displayName: key)
        return (executor, job, try await executor.startJob(job))
    }

    @Test("the local executor runs a step, streams stdout and stderr, returns the exit code and env files")
    func localStep() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let executor = try registry(temp).makeExecutor(pluginID: "local", configuration: configuration(temp))
        let job = JobSpec(jobKey: "build", displayName: "build")
        let started = try await executor.startJob(job)
        #expect(started.workspace == temp.path + "/run/jobs/build/workspace")
        let output = Collector()
        let result = try await executor.runStep(
            StepSpec(jobKey: "build", index: 0, displayName: "s",
                     script: "echo out; echo err >&2; echo \"X=$FOO\" >> \"$GITHUB_OUTPUT\"; pwd; exit 3",
                     environment: ["FOO": "bar"], captureFiles: ["GITHUB_OUTPUT"]),
            output: output)
        #expect(result.exitCode == 3)
        #expect(result.files["GITHUB_OUTPUT"] == "X=bar\n")
        #expect(output.text(1) == "out\n\(started.workspace)\n")
        #expect(output.text(2) == "err\n")
        await executor.finishJob(job)
        // The folder goes on the executor's recycling thread, soon after the job.
        #expect(await Self.eventuallyGone(temp.path + "/run/jobs/build"))
        await executor.finishJob(job)  // idempotent
    }

    /// Whether `path` is gone within a few seconds (a finished job's folder is recycled off the job's path).
    static func eventuallyGone(_ path: String) async -> Bool {
        for _ in 0..<500 {
            var info = stat()
            if lstat(path, &info) != 0 { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test("a finished job's folder is emptied and reused: the next job starts empty, links are removed not followed, read-only folders go too")
    func reusedJobFolders() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let outside = temp.path + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try temp.write("outside/keep", "precious")
        let executor = try registry(temp).makeExecutor(pluginID: "local", configuration: configuration(temp))
        // Job 1 leaves files, a read-only folder, a link out of its workspace and a file in RUNNER_TEMP.
        let first = JobSpec(jobKey: "first", displayName: "first")
        _ = try await executor.startJob(first)
        let dirty = try await executor.runStep(
            StepSpec(jobKey: "first", index: 0, displayName: "s", script: """
                mkdir -p deep/ro && echo x > deep/ro/f && chmod 0500 deep/ro deep
                ln -s \(outside) out; echo y > "$RUNNER_TEMP/t"
                """),
            output: Collector())
        #expect(dirty.exitCode == 0)
        await executor.finishJob(first)
        #expect(await Self.eventuallyGone(temp.path + "/run/jobs/first"))
        let kept = try Self.jobFolders(temp)
        #expect(kept.count == 1 && kept[0].hasPrefix(".free-"), "the emptied folder is kept for the next job: \(kept)")
        var keptInfo = stat()
        #expect(lstat(temp.path + "/run/jobs/" + (kept.first ?? ""), &keptInfo) == 0)
        // Job 2 replaces its workspace by a link to the outside folder: finishing must not empty that.
        let second = JobSpec(jobKey: "second", displayName: "second")
        let started = try await executor.startJob(second)
        // It got the kept folder (renamed, the same inode), not a new one.
        var secondInfo = stat()
        #expect(lstat(temp.path + "/run/jobs/second", &secondInfo) == 0 && secondInfo.st_ino == keptInfo.st_ino, "the kept folder is reused")
        #expect(try Self.jobFolders(temp) == ["second"])
        let output = Collector()
        _ = try await executor.runStep(
            StepSpec(jobKey: "second", index: 0, displayName: "s",
                     script: "find . \"$RUNNER_TEMP\" -mindepth 1 | wc -l; cd /; rm -rf \"$GITHUB_WORKSPACE\"; ln -s \(outside) \"$GITHUB_WORKSPACE\""),
            output: output)
        #expect(started.workspace == temp.path + "/run/jobs/second/workspace")
        #expect(output.text(1).trimmingCharacters(in: .whitespacesAndNewlines) == "0", "a reused workspace must start empty: \(output.text(1))")
        await executor.finishJob(second)
        #expect(await Self.eventuallyGone(temp.path + "/run/jobs/second"))
        #expect((try? String(contentsOfFile: outside + "/keep", encoding: .utf8)) == "precious")
        // Job 3 still gets a real, empty workspace.
        let third = JobSpec(jobKey: "third", displayName: "third")
        let thirdStarted = try await executor.startJob(third)
        var info = stat()
        #expect(lstat(thirdStarted.workspace, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR)
        #expect(try FileManager.default.contentsOfDirectory(atPath: thirdStarted.workspace).isEmpty)
        await executor.finishJob(third)
    }

    @Test("a finished job's files go soon even when no other job finishes after it (the recycler looks every 50 ms)")
    func recycledWithoutABatch() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let executor = try registry(temp).makeExecutor(pluginID: "local", configuration: configuration(temp))
        let jobs = ["a", "b", "c"].map { JobSpec(jobKey: $0, displayName: $0) }
        for job in jobs { _ = try await executor.startJob(job) }
        // Two finished folders fill the free list (each wakes the thread: fewer than two are free).
        for job in jobs.prefix(2) {
            await executor.finishJob(job)
            #expect(await Self.eventuallyGone(temp.path + "/run/jobs/" + job.jobKey))
        }
        // The third is one of a batch of four that never fills: it still goes, within a few looks.
        _ = try await executor.runStep(
            StepSpec(jobKey: "c", index: 0, displayName: "s", script: "head -c 1000000 /dev/zero > big"), output: Collector())
        await executor.finishJob(jobs[2])
        // Watched from a thread of its own: a test task waiting for one of Swift's two pool threads
        // (held by other tests' synchronous work) woke 13 s late once, in a CI run.
        let path = temp.path + "/run/jobs/c"
        let waited = try await offThePool { () -> Duration? in
            let start = ContinuousClock.now
            while ContinuousClock.now - start < .seconds(30) {
                var info = stat()
                if lstat(path, &info) != 0 { return ContinuousClock.now - start }
                usleep(5_000)
            }
            return nil
        }
        // Without the periodic look it would never go; the bound leaves room for a loaded machine
        // (2.09 s was seen once while the whole suite ran in parallel).
        #expect(waited != nil && waited! < .seconds(4), "gone after \(waited.map { "\($0)" } ?? "more than 30 s")")
        let left = try Self.jobFolders(temp)
        #expect(left.count == 3 && left.allSatisfy { $0.hasPrefix(".free-") }, "\(left)")
    }

    /// What `RUN/jobs` holds besides the batch folders new job folders are made in (`.new-*`).
    static func jobFolders(_ temp: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: temp.path + "/run/jobs").filter { !$0.hasPrefix(".new-") }.sorted()
    }

    @Test("new job folders are made in a batch folder (one per 32) and renamed into place; a job folder that already exists is used as it is")
    func freshFoldersInBatches() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let executor = try registry(temp).makeExecutor(pluginID: "local", configuration: configuration(temp))
        // A folder left at a job's path (its own files in it) is used in place, not replaced.
        try temp.write("run/jobs/j0/workspace/mine", "kept")
        let jobs = (0..<40).map { JobSpec(jobKey: "j\($0)", displayName: "j\($0)") }
        var started: [JobStarted] = []
        for job in jobs { started.append(try await executor.startJob(job)) }
        let root = temp.path + "/run/jobs"
        let batches = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasPrefix(".new-") }
        // 39 folders made new: two batch folders, emptied by the renames.
        #expect(batches.count == 2, "\(batches)")
        for batch in batches { #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/" + batch).isEmpty) }
        #expect(try Self.jobFolders(temp) == jobs.map(\.jobKey).sorted())
        #expect((try? String(contentsOfFile: root + "/j0/workspace/mine", encoding: .utf8)) == "kept")
        for (job, start) in zip(jobs, started) {
            #expect(start.workspace == root + "/\(job.jobKey)/workspace")
            #expect(start.temporaryDirectory == root + "/\(job.jobKey)/tmp")
            var info = stat()
            #expect(lstat(start.workspace, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR)
            #expect(lstat(start.temporaryDirectory, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR)
        }
        // A step runs in a folder made that way, with its temporary folder beside it.
        let output = Collector()
        let result = try await executor.runStep(
            StepSpec(jobKey: "j39", index: 0, displayName: "s", script: "pwd; touch ../tmp/t && echo tmp-ok"), output: output)
        #expect(result.exitCode == 0)
        #expect(output.text(1) == "\(root)/j39/workspace\ntmp-ok\n")
        for job in jobs { await executor.finishJob(job) }
    }

    @Test("cancelling a step ends its whole process tree")
    func cancelEndsTree() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let executor = try registry(temp).makeExecutor(
            pluginID: "local", configuration: configuration(temp, ["grace-seconds": .number(0.2)]))
        let job = JobSpec(jobKey: "j", displayName: "j")
        _ = try await executor.startJob(job)
        let pidFile = temp.path + "/grandchild.pid"
        let task = Task {
            try await executor.runStep(
                StepSpec(jobKey: "j", index: 0, displayName: "s",
                         script: "sleep 300 & echo $! > \(pidFile); wait"),
                output: Collector())
        }
        var grandchild: pid_t = 0
        for _ in 0..<200 where grandchild == 0 {
            try await Task.sleep(for: .milliseconds(20))
            grandchild = pid_t((try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        }
        #expect(grandchild > 0)
        let clock = ContinuousClock()
        let cancelledAt = clock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        // Not a tighter bound: the awaiting task's next turn can come late while the whole suite runs.
        #expect(clock.now - cancelledAt < .seconds(120), "long before the 300 s sleep ends")
        // The grandchild (sleep) is gone too, not just bash.
        var alive = true
        for _ in 0..<100 where alive {
            alive = isRunning(grandchild)
            if alive { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(!alive)
        await executor.finishJob(job)
    }

    @Test("a missing interpreter is a clear machinery error, not a crash")
    func missingShell() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let (executor, job, _) = try await localJob(temp, "j")
        do {
            _ = try await executor.runStep(
                StepSpec(jobKey: "j", index: 0, displayName: "s", script: "x", shell: ["no-such-shell-xyz", "{0}"]),
                output: Collector())
            Issue.record("expected an error")
        } catch let failure as OperationFailure {
            #expect(failure.error.message.contains("cannot start 'no-such-shell-xyz'"))
            #expect(failure.error.hint == "is 'no-such-shell-xyz' installed and on PATH?")
        }
        await executor.finishJob(job)
    }

    @Test("an unknown executor id gets a did-you-mean hint")
    func unknownExecutor() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        #expect {
            _ = try registry(temp).makeExecutor(pluginID: "locl", configuration: configuration(temp))
        } throws: { error in
            let error = error as? EngineError
            return error?.message == "no executor plugin 'locl' was found" && error?.hint == "did you mean 'local'?"
        }
    }

    @Test("a refused plugin explains a missing executor: the file named for the id, not one whose name contains it; a shortage of descriptors says so")
    func refusedPluginHint() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let emfile = String(cString: strerror(EMFILE))
        let refused = [
            RefusedPlugin(path: "/p/libnixactions-plugin-cache-local.so", reason: "cannot read it: \(emfile)", errno: EMFILE),
            RefusedPlugin(path: "/p/libnixactions-plugin-local.so", reason: "cannot read it: \(emfile)", errno: EMFILE),
            RefusedPlugin(path: "/p/libnixactions-plugin-oci.so", reason: "not a loadable library: bad ELF"),
        ]
        // The loader keeps the system's error number of a failed call (here: a file that is not there).
        if case .failure(let missing) = PluginLoader.load(temp.path + "/libnixactions-plugin-gone.so") {
            #expect(missing.errno == ENOENT, "\(missing)")
        } else {
            Issue.record("a missing file loaded")
        }
        let registry = PluginRegistry(loaded: [], refused: refused, searchPath: ["/p"])
        for (id, hint) in [
            ("local", "/p/libnixactions-plugin-local.so was refused: cannot read it: \(emfile); the process ran out of file descriptors"),
            ("oci", "/p/libnixactions-plugin-oci.so was refused: not a loadable library: bad ELF"),
        ] {
            #expect {
                _ = try registry.makeExecutor(pluginID: id, configuration: configuration(temp))
            } throws: { error in
                let error = error as? EngineError
                return error?.message == "no executor plugin '\(id)' was found" && error?.hint?.hasPrefix(hint) == true
                    && (id == "local") == (error?.hint?.hasSuffix("raise 'ulimit -n', or run fewer jobs at once (--jobs) if they are what holds them") == true)
            }
        }
    }

    @Test("a plugin that rejects its configuration reports why")
    func createFails() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        #expect {
            _ = try registry(temp).makeExecutor(
                pluginID: "test-double", configuration: configuration(temp, ["fail-create": .bool(true)]))
        } throws: { error in
            (error as? EngineError)?.message == "executor 'test-double' rejected its configuration: test double configured to fail on create"
        }
    }

    @Test("a job's environment is kept between its steps: sent once, each step's own over it, forgotten at finishJob")
    func keptEnvironment() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let (executor, job, started) = try await localJob(temp, "k")
        #expect(started.keepsEnvironment == true, "PluginKit keeps it for every executor")
        let show = "echo \"A=$A B=$B C=${C-unset}\""
        func step(_ index: Int, _ environment: [String: String], shared: [String: String]? = nil, uses: Bool? = nil) -> StepSpec {
            var spec = StepSpec(jobKey: "k", index: index, displayName: "s\(index)", script: show, environment: environment)
            spec.jobEnvironment = shared
            spec.usesJobEnvironment = uses
            return spec
        }
        func output(_ spec: StepSpec) async throws -> String {
            let collector = Collector()
            let result = try await executor.runStep(spec, output: collector)
            #expect(result.exitCode == 0)
            return collector.text(1)
        }
        #expect(try await output(step(0, ["B": "own"], shared: ["A": "1", "B": "job"])) == "A=1 B=own C=unset\n")
        #expect(try await output(step(1, ["C": "3"], uses: true)) == "A=1 B=job C=3\n", "the kept one, not the last step's own")
        #expect(try await output(step(2, ["C": "x"])) == "A= B= C=x\n", "without usesJobEnvironment: only its own")
        #expect(try await output(step(3, [:], shared: ["A": "2"])) == "A=2 B= C=unset\n", "a new one replaces the kept one")
        await executor.finishJob(job)

        // After finishJob the job's key has nothing kept: a step that uses it fails, naming why.
        _ = try await executor.startJob(job)
        do {
            _ = try await executor.runStep(step(0, [:], uses: true), output: Collector())
            Issue.record("a step using an environment never sent must fail")
        } catch {
            #expect("\(error)".contains("uses the job's environment, but none was sent"), "\(error)")
        }
        await executor.finishJob(job)
    }

    @Test("{0} in a shell argument becomes the script's path, inside other text too; other arguments stay as they are")
    func scriptPlaceholder() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let (executor, job, _) = try await localJob(temp, "p")
        let output = Collector()
        let result = try await executor.runStep(
            StepSpec(jobKey: "p", index: 0, displayName: "s", script: "echo ran",
                     shell: ["bash", "-c", "case \"$0\" in *{0*) echo \"kept: $0\";; esac; echo \"[{0}]\" | grep -q '/step-0-' && . {0}", "{0", "{}0}"]),
            output: output)
        #expect(result.exitCode == 0, "\(output.text(2))")
        #expect(output.text(1) == "kept: {0\nran\n", "\(output.text(1))")
        await executor.finishJob(job)
    }
}

/// The name of the calling thread (Linux keeps 15 bytes of it).
func currentThreadName() -> String {
    // Linux keeps it in /proc (pthread_getname_np is not in Swift's Glibc module).
    ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .newlines)
}

@Suite("A step's end handed off to the thread that saw it (HandOffExecutor)")
struct StepHandOffTests {
    @Test("a job task that prefers HandOffExecutor goes on on the local executor's waiter thread after a step; one that does not, on the pool")
    func jobGoesOnOnTheWaiterThread() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let tests = PluginExecutorTests()
        let (executor, job, _) = try await tests.localJob(temp, "handoff")
        let step = StepSpec(jobKey: "handoff", index: 0, displayName: "s", script: "sleep 0.05", environment: [:])
        for prefers in [true, false] {
            let thread = await Task(executorPreference: prefers ? HandOffExecutor.shared : nil) { () -> String in
                _ = try? await executor.runStep(step, output: Collector())
                return currentThreadName()
            }.value
            #expect((thread == "nxa-wait") == prefers, "prefers: \(prefers), went on on '\(thread)'")
        }
        await executor.finishJob(job)
    }
}
