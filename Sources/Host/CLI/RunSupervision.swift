import ArgumentParser
import CProcessSupport
import Foundation
import Synchronization
import NixActionsEngine
import NixActionsProcessKit
import NixActionsPluginHost

#if canImport(Glibc)
    import Glibc
#endif

/// What makes sure a run leaves nothing behind, however it ends.
///
/// - A private run folder (mkdtemp, mode 0700, never an existing one) marked in use by a lock
///   the kernel drops when this process dies; each start sweeps the folders of dead runs.
/// - A cgroup v2 for the run when the machine allows one (executors contain each job in it),
///   else the tracking id every local step process carries.
/// - A supervisor process (its own process group) that waits on a pipe from this process: when the
///   pipe closes without a "done" line, the host died (SIGKILL, a crash), and the supervisor kills
///   the run's processes and removes its folders. Either way it then sweeps the folders of dead
///   runs, this one's included. It starts as a small `/bin/sh` script (`watcherScript`) that only
///   waits, and becomes `nixactions __supervise` (exec) when there is something to do: a run that
///   ends normally with nothing left to sweep never starts a second Swift runtime (about 9 ms of
///   CPU). Without `/bin/sh`, `nixactions __supervise` is started at once.
final class RunSupervision: Sendable {
    let runID: String
    let folder: PrivateFolder
    let cgroup: String?
    let trackingID: String
    /// The soft open-files limit this process was started with, when it raised its own (steps get
    /// it back: `ExecutorConfiguration.openFilesLimit`); nil when it was already the hard limit.
    let openFilesLimit: UInt64?
    /// Write end of the supervisor's pipe (-1 when no supervisor could be started).
    private let supervisorPipe: Int32

    static let folderPrefix = "nixactions-"

    /// Temporary folders that runs make: the run folders and the local executor's tmpfs folders.
    static var temporaryBases: [String] {
        [FileManager.default.temporaryDirectory.path.trimmingSuffix("/"), "/dev/shm"]
    }

    /// - Parameter eventsStream: the descriptor of `--log-format json`'s stream (standard output):
    ///   the supervisor gets it, to end the stream as it ends `events.jsonl` when the host cannot.
    init(environment: [String: String] = ProcessInfo.processInfo.environment, eventsStream: Int32? = nil) throws {
        Self.ensureStandardDescriptors()
        openFilesLimit = OpenFilesRoom.startingLimit  // raised, and room checked, in main.swift before anything opened
        ChildOpenFiles.set(openFilesLimit)  // what this process spawns (cleanup scripts, git) gets it back too
        // A TMPDIR that does not exist yet is made (private to this user), as the run's parent,
        // only below a folder that passes the checks: nothing is made in another user's folder
        // before the check refuses it (audit 66 hardening L1).
        var existing = Self.temporaryBases[0]
        while access(existing, F_OK) != 0, existing.count > 1 { existing = PathText.parent(existing).isEmpty ? "/" : PathText.parent(existing) }
        if existing != Self.temporaryBases[0], let problem = TrustedFolder.problem(existing) {
            throw EngineError("cannot make the run folder in \(Self.temporaryBases[0]): it does not exist, and \(problem)",
                              hint: "set TMPDIR to a folder only you (or root) can write, or to /tmp")
        }
        try? FileManager.default.createDirectory(
            atPath: Self.temporaryBases[0], withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // The run folder is used by path (its jobs' folders, its cleanup scripts, run as this
        // user): in a folder another user can change, they could swap it for their own.
        if let problem = TrustedFolder.problem(Self.temporaryBases[0]) {
            // A TMPDIR that is missing (and could not be made) or is not a folder is a setting
            // to fix, not another user's doing (audit 57 L3: both got the hint about other users).
            var info = stat()
            let usable = stat(Self.temporaryBases[0], &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
            throw EngineError("cannot make the run folder in \(Self.temporaryBases[0]): \(problem)",
                              hint: usable ? "other users could replace the run's folder there; set TMPDIR to a folder only you (or root) can write, or to /tmp"
                                  : "set TMPDIR to a folder that exists and that you can write, or to /tmp")
        }
        Self.sweepDeadRuns()
        runID = Self.makeRunID()
        do {
            folder = try PrivateFolder(base: Self.temporaryBases[0], prefix: "\(Self.folderPrefix)\(runID)-")
        } catch {
            throw EngineError("cannot create a run folder in \(Self.temporaryBases[0]): \(String(cString: strerror(error.errno)))",
                              hint: "set TMPDIR to a writable folder")
        }
        trackingID = "\(runID)-\(getpid())"
        cgroup = environment["NIXACTIONS_NO_CGROUP"] == "1" ? nil : CgroupV2.makeRunCgroup(name: "nixactions-\(runID)")
        supervisorPipe = Self.startSupervisor(runFolder: folder.path, cgroup: cgroup, trackingID: trackingID, temporary: Self.temporaryBases[0],
                                              eventsStream: eventsStream)
        // A plugin that crashes is named to the supervisor, which closes the events with it.
        nxa_crash_set_pipe(supervisorPipe)
    }

    /// Leave `script` in the run's cleanup folder as `name`: the supervisor runs it if this process
    /// dies, and `finish` at the run's end (`runCleanup`). The host's own scripts that only remove
    /// files (`onlyFiles`: its concurrency lock, its Nix files) are named `files-NAME`: they start
    /// no process the supervisor would have to look for after the run's end.
    func addCleanup(_ name: String, _ script: String, onlyFiles: Bool = false) {
        let cleanup = folder.path + "/cleanup"
        let named = onlyFiles ? Self.onlyFilesPrefix + name : name
        if mkdir(cleanup, 0o700) == 0 || errno == EEXIST { _ = FastFiles.write(script, to: cleanup + "/" + named) }
    }

    static let onlyFilesPrefix = "files-"
    /// The file of a run folder that names the run's `events.jsonl`.
    static let eventsPathName = "events-path"

    /// The normal end: everything the run started has been cleaned up by its jobs; remove what is
    /// left and let the supervisor go. Returns what the run's cleanup scripts reported (`runCleanup`).
    @discardableResult
    func finish() -> [String] {
        if let cgroup { Self.end(cgroup, timeout: .seconds(5)) }
        // An executor that wrote a cleanup script (ssh, oci) ran processes of this machine outside
        // the run's cgroup (ssh clients carrying the run's tracking id): the supervisor then scans
        // for them after this process exits, whatever the temporary folders hold (audit 56 F3:
        // clients stuck on a hung connection outlived a run that used only remote executors).
        let scripts = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path + "/cleanup")) ?? [])
            .filter { !$0.hasPrefix(Self.onlyFilesPrefix) }
        let problems = Self.runCleanup(in: folder.path)
        if problems.isEmpty {
            folder.remove()
        } else {
            // A script that failed or was ended (a container engine busy past its 30 s) gets one
            // more go: the folder stays, holding only its scripts, and the supervisor's sweep after
            // this process exits runs them again, then removes it (audit 56 F2).
            folder.remove(keeping: "cleanup")
        }
        // The pipe stays open until this process exits: then the supervisor sweeps what could
        // only go once this process let go of it (an executor's tmpfs folder it did not remove).
        let line = scripts.isEmpty ? "done\n" : "done sweep\n"
        if supervisorPipe >= 0 { _ = write(supervisorPipe, line, line.utf8.count) }
        return problems
    }

    /// `text` on one line of at most 2,000 bytes (the supervisor's argument).
    static func oneLine(_ text: String) -> String {
        var line = String(text.map { $0.isNewline || $0 == "\0" ? " " : $0 })
        while line.utf8.count > 2000 { line.removeLast() }
        return line
    }

    /// Where the run's `events.jsonl` is: if this process dies (or a second signal stops it)
    /// before the run's end is written there, the supervisor writes it (`UnfinishedRunEvents`).
    func tell(events path: String) {
        guard !path.contains("\n") else { return }
        // Also in the run folder: should the supervisor die with this process, the next run's
        // sweep closes the events (audit 65 cancel L2: left open for good).
        _ = FastFiles.write(path, to: folder.path + "/" + Self.eventsPathName)
        guard supervisorPipe >= 0 else { return }
        let line = Array("events \(path)\n".utf8)
        _ = line.withUnsafeBytes { write(supervisorPipe, $0.baseAddress, $0.count) }
    }

    /// A second signal: kill every process of the run now, without cleanup steps. The folders
    /// are removed by the supervisor once this process has exited.
    ///
    /// With `failure` (the run cannot go on: a plugin's call never returned), the same, but the
    /// supervisor closes the run's events as failed, with that message (one line, masked).
    @discardableResult
    func killEverything(failure: String? = nil) -> [String] {
        // The supervisor closes the run's events once this process is gone (`UnfinishedRunEvents`):
        // its jobs and steps, and the run, `cancelled` (or `failure`, with the message).
        if supervisorPipe >= 0 {
            let line: [UInt8]
            if let failure {
                line = Array("fail \(Self.oneLine(failure))\n".utf8)
            } else {
                line = Array("abort\n".utf8)
            }
            _ = line.withUnsafeBytes { write(supervisorPipe, $0.baseAddress, $0.count) }
        }
        Self.killRun(cgroup: cgroup, trackingID: trackingID)
        let problems = Self.runCleanup(in: folder.path)
        folder.remove()
        return problems
    }

    /// Run the scripts executors left in `RUN/cleanup/` (the oci executor's removes the run's
    /// containers, which are not processes of the run): at the end of every run, however it
    /// ended, and for a dead run before its folder goes. Each has `cleanupScriptSeconds`; one that
    /// takes longer is ended (its whole process group) and the next one runs.
    ///
    /// Returns what went wrong, one message per script that failed or was ended, with the last
    /// lines it printed: what it should have removed may be left behind, and the user is told so
    /// (the caller masks secrets in them).
    @discardableResult
    static func runCleanup(in runFolder: String) -> [String] {
        let folder = runFolder + "/cleanup"
        guard let names = FastFiles.names(in: folder, prefix: "") else { return [] }
        var problems: [String] = []
        for name in names.sorted() where name.hasSuffix(".sh") && !name.hasPrefix(".") {
            let child: ChildProcess
            do {
                child = try ChildProcess(arguments: ["/bin/sh", folder + "/" + name],
                                         environment: ProcessInfo.processInfo.environment, directory: "/")
            } catch {
                problems.append("cleanup script '\(name)' could not start: \(error); what it removes may be left behind")
                continue
            }
            let done = Atomic<Bool>(false)
            let ended = Atomic<Bool>(false)
            Thread.detachNewThread {
                let deadline = ContinuousClock.now + .seconds(cleanupScriptSeconds)
                while !done.load(ordering: .acquiring) && ContinuousClock.now < deadline { usleep(10_000) }
                if !done.load(ordering: .acquiring) {
                    ended.store(true, ordering: .releasing)
                    child.terminate(grace: .seconds(1))
                }
            }
            var tail = OutputTail(limit: 2048)
            let termination = child.wait(onOutput: { _, bytes in tail.append(bytes) })
            done.store(true, ordering: .releasing)
            let said = tail.lastLines(3).map { ": " + $0 } ?? ""
            if ended.load(ordering: .acquiring) {
                problems.append("cleanup script '\(name)' did not finish in \(cleanupScriptSeconds) s and was ended; "
                                + "what it removes may be left behind\(said)")
            } else if termination != .exited(0) {
                let how = switch termination {
                case .exited(let code): "exited with status \(code)"
                case .signaled(let signal): "was ended by signal \(signal)"
                }
                problems.append("cleanup script '\(name)' \(how); what it removes may be left behind\(said)")
            }
        }
        return problems
    }

    /// How long one cleanup script may take, in seconds.
    static let cleanupScriptSeconds = 30

    /// The last bytes a process printed (stdout and stderr as they came), kept within `limit`.
    struct OutputTail {
        let limit: Int
        private(set) var bytes: [UInt8] = []

        init(limit: Int) { self.limit = limit }

        mutating func append(_ chunk: UnsafeRawBufferPointer) {
            bytes.append(contentsOf: chunk.suffix(limit))
            if bytes.count > limit { bytes.removeFirst(bytes.count - limit) }
        }

        /// Its last `count` non-empty lines joined with " / ", nil when it printed nothing.
        func lastLines(_ count: Int) -> String? {
            let lines = bytes.split(separator: UInt8(ascii: "\n")).suffix(count)
                .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return lines.isEmpty ? nil : lines.joined(separator: " / ")
        }
    }

    static func killRun(cgroup: String?, trackingID: String) {
        if let cgroup { end(cgroup, timeout: .seconds(2)) }
        TrackedProcesses.kill(prefix: trackingID, signal: SIGKILL, wait: .seconds(2))
    }

    /// Kill what is left in a run's cgroup and remove it (with the job and step cgroups below).
    static func end(_ cgroup: String, timeout: Duration) {
        CgroupTree.kill(cgroup, timeout: timeout)
        CgroupTree.remove(cgroup)
    }

    /// Remove the folders of runs whose host died (their lock is free), after killing what is
    /// left of those runs: their cgroup and the processes carrying their tracking id.
    static func sweepDeadRuns() {
        let base = temporaryBases[0]
        PrivateFolder.sweepDead(base: base, prefix: folderPrefix, matching: isRunFolder) { name in
            // `nixactions-<run id>-XXXXXX`
            let runID = String(name.dropFirst(folderPrefix.count).dropLast(7))
            let cgroup = CgroupV2.ownFolder().map { $0 + "/nixactions-" + runID }
            killRun(cgroup: cgroup.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }, trackingID: runID)
            // Its host and its supervisor both died: its events are ended here, as the supervisor
            // would have (a reader would see it running for good). Not while its supervisor lives:
            // a host that just died leaves its lock free before its supervisor has closed the events
            // with why (a crash's message), and another run starting then sweeps it.
            if let events = try? String(contentsOfFile: base + "/" + name + "/" + eventsPathName, encoding: .utf8), !events.isEmpty,
               !supervisorRuns(for: base + "/" + name) {
                UnfinishedRunEvents.close(
                    file: events, status: .failure,
                    message: "the runner (nixactions) and its supervisor ended before the run did (killed, or crashed); a later run ended its processes")
            }
            runCleanup(in: base + "/" + name)
        }
        sweepDeadRunCgroups()
        // `nixactions cache`'s folders (`nixactions-cache-XXXXXX`) of commands that were killed.
        let cache = CacheCommand.BackendOptions.folderPrefix
        PrivateFolder.sweepDead(base: base, prefix: cache) { PrivateFolder.isMade($0, prefix: cache) }
        // The local executor's tmpfs folders: `nixactions-XXXXXX`.
        for base in temporaryBases.dropFirst() {
            PrivateFolder.sweepDead(base: base, prefix: folderPrefix) { PrivateFolder.isMade($0, prefix: folderPrefix) }
        }
    }

    /// A run whose host and supervisor both died is found by its folder in TMPDIR; one started
    /// with another TMPDIR by its cgroup, below this process's own: `nixactions-RUN_ID` holding
    /// processes whose tracking id names a host pid that no longer exists. Its processes (its
    /// cgroup, its tracking id) are killed and the cgroup removed. A cgroup with no process, or
    /// whose host pid exists (even if reused), is left alone: never a live run's.
    static func sweepDeadRunCgroups() {
        guard let own = CgroupV2.ownFolder(), let names = FastFiles.names(in: own, prefix: folderPrefix) else { return }
        for name in names where isRunCgroup(name) {
            let path = own + "/" + name
            guard let host = TrackedProcesses.hostPid(inCgroup: path), kill(host, 0) != 0, errno == ESRCH else { continue }
            killRun(cgroup: path, trackingID: String(name.dropFirst(folderPrefix.count)) + "-\(host)/")
        }
    }

    /// Whether a process of this user runs the supervisor (or its watcher) of `runFolder`: its
    /// command line holds `--run-folder RUN_FOLDER` (one scan of /proc, made only for a dead
    /// run's folder that names its events).
    static func supervisorRuns(for runFolder: String) -> Bool {
        let wanted = Data("--run-folder\0\(runFolder)\0".utf8)
        guard let pids = FastFiles.names(in: "/proc", prefix: "") else { return false }
        for pid in pids where pid.first?.isNumber == true && pid.allSatisfy(\.isNumber) {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), data.count >= wanted.count else { continue }
            if data.range(of: wanted) != nil { return true }
        }
        return false
    }

    /// `nixactions-yyyyMMdd-HHmmss-hhhhhhhh`: a run's cgroup.
    static func isRunCgroup(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        let digits = { (part: Substring, count: Int) in part.count == count && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) }
        return parts.count == 4 && parts[0] == "nixactions" && digits(parts[1], 8) && digits(parts[2], 6)
            && parts[3].count == 8 && parts[3].allSatisfy(\.isHexDigit)
    }

    /// `nixactions-yyyyMMdd-HHmmss-hhhhhhhh-XXXXXX`: a run folder, and nothing else.
    static func isRunFolder(_ name: String) -> Bool {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "nixactions" else { return false }
        let digits = { (part: Substring, count: Int) in part.count == count && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber) }
        return digits(parts[1], 8) && digits(parts[2], 6) && parts[3].count == 8 && parts[3].allSatisfy(\.isHexDigit)
            && PrivateFolder.isMade(String(parts[4]), prefix: "")
    }

    /// `yyyyMMdd-HHmmss-` and 8 random hex digits: sortable, and unique even for runs started in
    /// the same second with the same pid (containers, pid namespaces).
    static func makeRunID() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        // Digits by hand: String(format:) costs a run's start-up half a millisecond.
        func digits(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let stamp = digits(parts.tm_year + 1900, 4) + digits(parts.tm_mon + 1, 2) + digits(parts.tm_mday, 2) + "-"
            + digits(parts.tm_hour, 2) + digits(parts.tm_min, 2) + digits(parts.tm_sec, 2)
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() as UInt32, radix: 16)
        return stamp + "-" + String(repeating: "0", count: 8 - random.count) + random
    }

    /// Descriptors 0, 1 and 2 open (on /dev/null if closed), so that no pipe or file the run
    /// opens later lands on them.
    static func ensureStandardDescriptors() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) < 0 {
            let null = open("/dev/null", O_RDWR)
            if null >= 0 && null != fd { dup2(null, fd); close(null) }
        }
    }

    /// Shell lines that wait until the process `$host` is a zombie or gone (its descriptors all
    /// closed, its locks too), at most 10 s: a pipe from it closes while it exits, maybe before its
    /// other descriptors, and a process killed while it waits on a busy disk can take seconds to
    /// let go of them (a killed waiting run's place was left once under CI's load with 2 s).
    /// Shared by the supervisor's watcher and the queue's wait watcher.
    static let awaitHostGone = #"""
        waited=0
        while [ "$waited" -lt 1000 ] && read -r stat 2>/dev/null < "/proc/$host/stat"; do
            state=${stat##*) }
            [ "${state%% *}" = Z ] && break
            sleep 0.01
            waited=$((waited + 1))
        done
        """#

    /// The supervisor's first half, run by `/bin/sh` with the arguments HOST-PID NIXACTIONS TMPDIR
    /// `__supervise --run-folder F --tracking-id T [--cgroup C]` and the host's pipe as standard input.
    /// It waits until the pipe closes (the host exited), then until the host is gone (10 s at
    /// most). The host said "done", neither TMPDIR nor /dev/shm holds a `nixactions-*` entry and no
    /// process carries the run's tracking id (one `grep` of /proc, a few milliseconds after the
    /// host's exit): nothing to do ("done sweep": the run had cleanup scripts, so the supervisor
    /// sweeps anyway).
    /// Otherwise it becomes the supervisor, told whether the host finished, where the run's
    /// events are ("events PATH"), whether a second signal stopped it ("abort") or the host
    /// ended a run that could not go on ("fail MESSAGE").
    static let watcherScript = #"""
        trap '' INT TERM HUP PIPE
        host=$1 nixactions=$2 temporary=$3
        shift 3
        finished= aborted= events= sweep= failed=
        while IFS= read -r line; do
            case $line in
                done) finished=1 ;;
                "done sweep") finished=1 sweep=1 ;;
                abort) aborted=1 ;;
                "fail "*) failed=${line#fail } ;;
                "events "*) events=${line#events } ;;
            esac
        done
        # The host ended its own events stream: the stream's reader must not wait for this one.
        [ -n "$finished" ] && exec > /dev/null
        \#(awaitHostGone)
        set -- "$@" --host-pid "$host"
        if [ -n "$finished" ]; then
            [ -n "$sweep" ] && exec "$nixactions" "$@" --host-done < /dev/null
            for entry in "$temporary"/nixactions-* /dev/shm/nixactions-*; do
                [ -e "$entry" ] && exec "$nixactions" "$@" --host-done < /dev/null
            done
            # A process of the run that left its cgroup (systemd-run --scope) still carries the
            # run's tracking id ($5): the supervisor ends it (audit 65 cancel M3: it lived on).
            grep -qlzF -e "\#(JobContainment.trackingVariable)=$5/" /proc/[0-9]*/environ 2>/dev/null \
                && exec "$nixactions" "$@" --host-done < /dev/null
            exit 0
        fi
        [ -n "$events" ] && set -- "$@" --events "$events"
        [ -n "$aborted" ] && set -- "$@" --host-aborted
        [ -n "$failed" ] && set -- "$@" --host-failed "$failed"
        exec "$nixactions" "$@" < /dev/null
        """#

    /// Start the supervisor (`watcherScript`, else `nixactions __supervise` at once) with the read
    /// end of a pipe as its standard input. Returns the write end, or -1 (the run goes on,
    /// protected only while this process lives).
    static func startSupervisor(runFolder: String, cgroup: String?, trackingID: String, temporary: String, eventsStream: Int32? = nil) -> Int32 {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
        var supervise = [SuperviseCommand.name, "--run-folder", runFolder, "--tracking-id", trackingID]
        if let cgroup { supervise += ["--cgroup", cgroup] }
        let host = String(getpid())
        if access("/bin/sh", X_OK) == 0 {
            return spawnWatcher("/bin/sh", ["nixactions-watch", "-c", watcherScript, "nixactions-watch", host, executable, temporary] + supervise,
                                output: eventsStream)?.pipe ?? -1
        }
        return spawnWatcher(executable, ["nixactions"] + supervise + ["--host-pid", host], output: eventsStream)?.pipe ?? -1
    }

    /// Start `program` (`arguments`, the first its name) reading a pipe from this process as its
    /// standard input, its output to `output` (the json events stream) or /dev/null, in a process
    /// group of its own (a signal to the host's group spares it), nothing else inherited: its pid
    /// and the pipe's write end (close on exec), or nil. When this process dies, however, the
    /// pipe closes: a watcher reads EOF and cleans up after it.
    static func spawnWatcher(_ program: String, _ arguments: [String], output: Int32? = nil) -> (pid: pid_t, pipe: Int32)? {
        guard let pipe = closeOnExecPipe() else { return nil }
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_adddup2(&actions, pipe.read, 0)
        if let output, output >= 0, fcntl(output, F_GETFD) >= 0 {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        // Nothing above 2 (a descriptor this process was given without close-on-exec): the
        // supervisor outlives this process and would hold it open (not done with a C library
        // older than glibc 2.34).
        _ = nxa_spawn_actions_close_from(&actions, 3)
        // Its own process group: a signal to the host's group (Ctrl-C, kill -9 -PGID) spares it.
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)  // this process blocks SIGINT/TERM/HUP; it should not
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let pointers = arguments.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        let rc = posix_spawn(&pid, program, &actions, &attributes, pointers, environ)
        close(pipe.read)
        guard rc == 0 else {
            close(pipe.write)
            return nil
        }
        return (pid, pipe.write)
    }
}

/// `nixactions __supervise`: the other half of `RunSupervision` (not for people).
struct SuperviseCommand: ParsableCommand {
    static let name = "__supervise"
    static let configuration = CommandConfiguration(
        commandName: name, abstract: "Clean up after a run whose host died (internal).", shouldDisplay: false)

    @Option(name: .customLong("run-folder")) var runFolder: String
    @Option(name: .customLong("tracking-id")) var trackingID: String
    @Option(name: .customLong("cgroup")) var cgroup: String?
    @Option(name: .customLong("host-pid")) var hostPID: Int32?
    @Flag(name: .customLong("host-done")) var hostDone = false
    @Option(name: .customLong("events")) var events: String?
    @Flag(name: .customLong("host-aborted")) var hostAborted = false
    @Option(name: .customLong("host-failed")) var hostFailed: String?

    func run() throws {
        Supervisor(runFolder: runFolder, trackingID: trackingID, cgroup: cgroup, hostPID: hostPID, hostDone: hostDone,
                   events: events, hostAborted: hostAborted, hostFailed: hostFailed).run()
    }

    /// The arguments `RunSupervision.startSupervisor` passes, in its order, or nil for anything
    /// else (then ArgumentParser reads them and reports what is wrong).
    static func fastParse(_ arguments: [String]) -> Supervisor? {
        guard arguments.first == name, arguments.count >= 5,
              arguments[1] == "--run-folder", arguments[3] == "--tracking-id" else { return nil }
        var supervisor = Supervisor(runFolder: arguments[2], trackingID: arguments[4], cgroup: nil)
        var index = 5
        while index < arguments.count {
            switch arguments[index] {
            case "--host-done": supervisor.hostDone = true
            case "--host-aborted": supervisor.hostAborted = true
            case "--cgroup", "--host-pid", "--events", "--host-failed":
                guard index + 1 < arguments.count else { return nil }
                let value = arguments[index + 1]
                switch arguments[index] {
                case "--cgroup": supervisor.cgroup = value
                case "--events": supervisor.events = value
                case "--host-failed": supervisor.hostFailed = value
                default:
                    guard let pid = Int32(value) else { return nil }
                    supervisor.hostPID = pid
                }
                index += 1
            default: return nil
            }
            index += 1
        }
        return supervisor
    }
}

/// The supervisor's work, apart from reading its arguments.
struct Supervisor {
    var runFolder: String
    var trackingID: String
    var cgroup: String?
    /// The host's pid; nil: the parent (started by the host itself, not through the watcher).
    var hostPID: Int32?
    /// The watcher saw the host say "done": only sweep (standard input says nothing more).
    var hostDone = false
    /// The run's `events.jsonl`, closed here when the host could not (`UnfinishedRunEvents`).
    var events: String?
    /// A second signal stopped the host at once (it said "abort"): the run was cancelled.
    var hostAborted = false
    /// The host ended a run that could not go on (it said "fail MESSAGE"): the run failed, and why.
    var hostFailed: String?

    func run() {
        // SIGTTOU too: the json stream may be a terminal set to stop background writers (`stty tostop`).
        for number in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGTTOU] { signal(number, SIG_IGN) }
        SignalHub.handler.withLock { $0 = { _ in } }  // it outlives a Ctrl-C to finish its work
        let host = hostPID ?? getppid()
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        // The pipe closes while the host exits, maybe before its other descriptors (and locks) go.
        let deadline = ContinuousClock.now + .seconds(2)
        while SuperviseCommand.isAlive(host) && ContinuousClock.now < deadline { usleep(1000) }
        // Without the watcher (no /bin/sh), the host's lines come here.
        let said = String(decoding: received, as: UTF8.self).split(separator: "\n").map(String.init)
        var events = events
        if let line = said.last(where: { $0.hasPrefix("events ") }) { events = String(line.dropFirst("events ".count)) }
        // Standard output is the run's json events stream (or /dev/null): let go of it once it has
        // nothing more to say, so that its reader sees its end.
        func releaseStream() {
            let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
            if null >= 0 { dup2(null, 1); close(null) }
        }
        if !hostDone && !said.contains("done") && !said.contains("done sweep") {
            // The host died without finishing: its processes, cgroup and folders go now.
            RunSupervision.killRun(cgroup: cgroup, trackingID: trackingID)
            // The closing events also go to the json stream (audit 64 events M3: it ended without
            // saying how the run ended), but only once the cleanup is done: a reader that does not
            // read (`| sleep`) must not hold it (review 65 H1).
            var streamed = ""
            if let events {
                let aborted = hostAborted || said.contains("abort")
                let failed = hostFailed ?? said.last(where: { $0.hasPrefix("fail ") }).map { String($0.dropFirst("fail ".count)) }
                UnfinishedRunEvents.close(
                    file: events, status: aborted && failed == nil ? .cancelled : .failure,
                    message: failed.map(AbruptStop.ended(by:)) ?? (aborted
                        ? AbruptStop.reason
                        : "the runner (nixactions, pid \(host)) ended before the run did (killed, or crashed); its supervisor ended the run's processes"),
                    streamed: { streamed = $0 })
            }
            // A script that failed or was ended (a container engine busy past its 30 s, audit 56
            // F2: the job's container ran on for good) gets one more go: the folder keeps only its
            // scripts, and the sweep below, a dead run's to it, runs them again and removes it.
            if RunSupervision.runCleanup(in: runFolder).isEmpty {
                // Never into a mount a step left there (FileManager's removal would empty it).
                FastFiles.removeTree(runFolder)
            } else {
                PrivateFolder.empty(runFolder, keeping: "cleanup")
            }
            if !streamed.isEmpty { UnfinishedRunEvents.writeStream(streamed, to: 1, within: .seconds(2)) }
            releaseStream()
        } else {
            releaseStream()
            // A normal end: the run's cgroup is gone, but a process that moved itself out of it
            // (`systemd-run --scope`, a write to another cgroup's cgroup.procs) still carries the
            // run's tracking id. One scan of /proc here, after the host has exited, costs the
            // run nothing.
            TrackedProcesses.kill(prefix: trackingID, signal: SIGKILL, wait: .seconds(2))
        }
        RunSupervision.sweepDeadRuns()
    }
}

extension SuperviseCommand {
    /// Whether `pid` still runs (not a zombie: a zombie has released all it held).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 1, let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return false }
        return text[text.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) && count > suffix.count ? String(dropLast(suffix.count)) : self
    }
}

/// The run's open files: the soft limit raised to the hard one, once, and enough descriptors free
/// to start. Checked before anything else opens descriptors (SwiftNIO's event loops need three
/// each, and cannot fail gracefully), so that a run started with too few says so instead of
/// crashing or failing a job halfway.
public enum OpenFilesRoom {
    /// Descriptors a run needs free at its start: its own files, plugins, event loops and a first
    /// few steps (a one-job run needs about 20; each running step 4 or 5 more).
    public static let minimumFree = 64

    /// The soft limit this process was started with, when it was raised (steps get it back:
    /// `ExecutorConfiguration.openFilesLimit`); nil when it already was the hard limit.
    public static let startingLimit: UInt64? = {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return nil }
        let original = UInt64(limit.rlim_cur)
        limit.rlim_cur = limit.rlim_max
        return setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 ? original : nil
    }()

    /// Descriptors budgeted for each job running at once: its log file, its step's two pipes and
    /// process descriptor, the step's script while it is written, one to spare.
    public static let perJob = 6
    /// Descriptors kept for the run itself when jobs at once are counted.
    public static let reserve = 32

    /// How many jobs may run at once within the open-files limit; nil: no limit that matters.
    public static func jobsAllowed() -> Int? {
        let limit = DescriptorShortage.softLimit
        guard let open = DescriptorShortage.openCount(), limit < UInt64(Int.max) else { return nil }
        return max(1, (Int(limit) - open - reserve) / perJob)
    }

    /// `requested` jobs at once, lowered to what the open-files limit leaves room for: steps that
    /// could not start for want of a descriptor would fail their jobs. The warning says so only
    /// when the cap can matter: `planned` is how many jobs the run has at most (nil: not known
    /// before it runs, as when a job calls a reusable workflow); a 4-job run with `-j 100000` is
    /// not warned about (audit 64 cli L1).
    public static func parallelism(_ requested: Int, planned: Int? = nil, warn: (String) -> Void) -> Int {
        guard let allowed = jobsAllowed(), allowed < requested else { return requested }
        if planned.map({ $0 > allowed }) ?? true {
            warn("warning: running at most \(allowed) jobs at once instead of \(requested): the open-files limit "
                 + "(\(DescriptorShortage.softLimit)) leaves room for no more; raise 'ulimit -n' to run more\n")
        }
        return allowed
    }

    /// Descriptors any other command needs free (libdispatch's threads stop the process when they
    /// cannot make their eventfd).
    public static let minimumFreeOtherwise = 16

    /// Raise the soft limit (once), then nil when at least `minimumFree` descriptors are free (for
    /// `run`, else `minimumFreeOtherwise`), else the error to stop with.
    public static func check(run: Bool) -> EngineError? {
        _ = startingLimit
        let limit = DescriptorShortage.softLimit
        guard let open = DescriptorShortage.openCount(), limit < UInt64(Int.max) else { return nil }
        let free = Int(limit) - open
        let minimum = run ? minimumFree : minimumFreeOtherwise
        guard free < minimum else { return nil }
        return EngineError(
            "\(run ? "a run needs" : "nixactions needs") at least \(minimum) free file descriptors and "
                + "\(run ? "this one" : "this process") has \(max(0, free)) (limit \(limit), \(open) open)",
            hint: "raise the limit ('ulimit -n'), or close the descriptors the parent process left open")
    }
}
