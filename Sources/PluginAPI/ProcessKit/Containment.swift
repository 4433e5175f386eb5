import CProcessSupport
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps every process a job starts where it can be found and ended, however it tries to leave.
///
/// Two mechanisms, chosen once per job:
/// - **cgroup v2** (when the host made a run cgroup): each step is spawned straight into a cgroup
///   of its own under the job's (`<run>/<job>/s<N>`), before it can fork. `setsid`, double forks
///   and daemons stay inside; `cgroup.kill` ends them all at once.
/// - **Fallback** (no writable cgroup v2): every step carries `NIXACTIONS_TRACKING_ID` in its
///   environment (GitHub's runner does the same with `RUNNER_TRACKING_ID`), the host process is a
///   child subreaper so orphans are re-parented to it, and cleanup scans `/proc` for processes
///   carrying the id, signalling each through a pidfd it opened first. A process that clears its
///   environment (`env -i`) escapes this mode; it does not escape a cgroup.
///
/// Nothing here ever signals a process-group id or a pid that is not known to be alive and ours:
/// group signals go only while the group's leader is unreaped (`ChildProcess`), and everything
/// else goes through a pidfd checked after it was opened.
public final class JobContainment: Sendable {
    /// The job's cgroup folder, or nil in the fallback mode.
    public let cgroup: String?
    /// `NIXACTIONS_TRACKING_ID` prefix of this job's steps: `<run tracking id>/<job token>/`.
    public let trackingPrefix: String
    private let steps = Atomic<Int>(0)
    /// Step cgroups made so far, those known to be free (empty), and those whose step ended but
    /// that were not looked at yet: a job reuses one cgroup for step after step instead of making
    /// and removing one per step. An ended step's cgroup is read (`cgroup.events`) only when the
    /// next step of the job needs one; a job of one step never reads it (`endAll` reads the job's).
    private let cgroups = Mutex<(made: [String], spare: [String], ended: [String])>(([], [], []))
    /// Set when `cgroup.kill` was written to this job's cgroup or one of its step cgroups. Such a
    /// cgroup is never used again: on the kernels that count kills (`kill_seq`, 6.14 and later),
    /// a process made straight into it with clone3's CLONE_INTO_CGROUP is compared with the
    /// parent's cgroup's count and killed at birth (seen: an `always()` job's step killed by
    /// signal 9 in a job cgroup reused after a cancelled job's cleanup killed it).
    private let killed: KillMark

    public static let trackingVariable = "NIXACTIONS_TRACKING_ID"

    /// - Parameters:
    ///   - runCgroup: the run's cgroup folder made by the host, or nil.
    ///   - runTrackingID: the run's tracking id (unique per run).
    ///   - key: the job's key (safe for a file name).
    ///   - pool: empty job cgroups to reuse, and where `endAll` leaves this one when it is empty.
    public init(runCgroup: String?, runTrackingID: String, key: String, pool: CgroupPool? = nil) {
        let token = Self.randomToken()
        trackingPrefix = "\(runTrackingID)/\(token)/"
        self.pool = pool
        killed = KillMark()
        if let reused = pool?.take() {
            cgroup = reused.path
            cgroups.withLock { $0 = (reused.steps, reused.steps, []) }
        } else if let runCgroup {
            let path = "\(runCgroup)/j-\(token)"
            cgroup = mkdir(path, 0o755) == 0 ? path : nil
        } else {
            cgroup = nil
        }
        if cgroup == nil { _ = Self.enableFallback }
    }

    private let pool: CgroupPool?

    /// The fallback needs orphans re-parented to this process (done once, process-wide).
    static let enableFallback: Bool = nxa_set_child_subreaper() == 0

    /// A place for one step: a cgroup of its own (a free one of the job's, or a new one) and its
    /// tracking id.
    public func makeStep() -> StepContainment {
        let serial = steps.add(1, ordering: .relaxed).newValue
        let id = trackingPrefix + "s\(serial)"
        guard let cgroup else { return StepContainment(cgroup: nil, trackingID: id, killed: killed) }
        if let spare = cgroups.withLock({ $0.spare.popLast() }) { return StepContainment(cgroup: spare, trackingID: id, killed: killed) }
        // An ended step's cgroup, if nothing of that step is left in it (what is stays until `endAll`).
        while !killed.isSet, let ended = cgroups.withLock({ $0.ended.popLast() }) {
            if !CgroupTree.isPopulated(ended) { return StepContainment(cgroup: ended, trackingID: id, killed: killed) }
        }
        let path = "\(cgroup)/s\(serial)"
        guard mkdir(path, 0o755) == 0 else { return StepContainment(cgroup: nil, trackingID: id, killed: killed) }
        cgroups.withLock { $0.made.append(path) }
        return StepContainment(cgroup: path, trackingID: id, killed: killed)
    }

    /// The step ended: its cgroup serves the next step if nothing of this one is left in it
    /// (what a step leaves running stays in its own cgroup until `endAll`). Looked at when the
    /// next step needs a cgroup, not now.
    public func release(_ step: StepContainment) {
        guard let path = step.cgroup, !killed.isSet else { return }
        cgroups.withLock { $0.ended.append(path) }
    }

    /// End every process the job's steps left, then remove the job's cgroups. Blocks until they
    /// are gone (at most `timeout`).
    public func endAll(timeout: Duration = .seconds(5)) {
        if let cgroup {
            // One read of `cgroup.events`: empty (the usual case), populated, or gone.
            let populated = nxa_cgroup_populated(cgroup, 0)
            if populated == 1, CgroupTree.kill(cgroup, timeout: timeout) { killed.set() }
            let made = cgroups.withLock { $0.made }
            // An empty job cgroup, with its step cgroups, serves the next job: making and removing
            // cgroups is one of the larger fixed costs of a short job. Never one that was killed.
            if let pool, populated == 0, !killed.isSet, pool.put(.init(path: cgroup, steps: made)) { return }
            for path in made.reversed() { rmdir(path) }
            CgroupTree.remove(cgroup)
        } else {
            TrackedProcesses.kill(prefix: trackingPrefix, signal: SIGKILL, wait: timeout)
        }
    }

    /// A token no other job of this process has: a random base drawn once, plus a counter (one
    /// `getrandom` per process, not per job), scrambled so tokens do not look sequential.
    static func randomToken() -> String {
        let serial = tokenSerial.add(1, ordering: .relaxed).newValue
        var mixed = tokenBase &+ UInt64(serial) &* 0x9E37_79B9_7F4A_7C15
        mixed = (mixed ^ (mixed >> 31)) &* 0xBF58_476D_1CE4_E5B9  // a bijection: distinct in, distinct out
        return String(mixed ^ (mixed >> 29), radix: 36)
    }

    private static let tokenBase: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()
    private static let tokenSerial = Atomic<Int>(0)
}

/// Empty job cgroups of one executor instance, kept for the next job instead of being removed
/// and made again. What is left in the pool goes with the run's cgroup, which the host removes.
public final class CgroupPool: Sendable {
    public struct Entry: Sendable {
        public let path: String
        public let steps: [String]
    }

    private let entries = Mutex<[Entry]>([])
    private let capacity: Int

    public init(capacity: Int = 64) { self.capacity = capacity }

    func take() -> Entry? {
        while let entry = entries.withLock({ $0.popLast() }) {
            // Still empty (nothing can join a cgroup no step runs in, but be sure). One that is not
            // is killed and dropped, never handed out (see `JobContainment.killed`).
            if CgroupTree.isEmpty(entry.path) { return entry }
            CgroupTree.kill(entry.path, timeout: .seconds(1))
        }
        return nil
    }

    func put(_ entry: Entry) -> Bool {
        entries.withLock { all in
            guard all.count < capacity else { return false }
            all.append(entry)
            return true
        }
    }
}

/// Whether a job's cgroups were killed (`JobContainment.killed`); shared by the job's steps.
final class KillMark: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}

/// Where one step's processes live.
public struct StepContainment: Sendable {
    /// The step's cgroup folder, or nil (fallback: the tracking id only).
    public let cgroup: String?
    /// The value of `NIXACTIONS_TRACKING_ID` for the step.
    public let trackingID: String
    /// The job's mark: a step cgroup killed once is not reused.
    let killed: KillMark

    /// The step is being ended: none of the job's cgroups is used again (see `KillMark`).
    public func retire() {
        if cgroup != nil { killed.set() }
    }

    /// Send `signal` to every process of the step: through the cgroup, or the tracking id.
    /// `sparingGroup`: a process group that was just sent `signal` as a whole; its members are not
    /// sent it twice (a second SIGTERM reads as "force quit" to many programs: audit 61 M3).
    public func signalAll(_ signal: Int32, sparingGroup: pid_t? = nil) {
        if let cgroup {
            if signal == SIGKILL {
                killed.set()
                CgroupTree.killNow(cgroup)
            } else {
                CgroupTree.signal(cgroup, signal, sparingGroup: sparingGroup)
            }
        } else {
            TrackedProcesses.kill(prefix: trackingID, signal: signal, wait: nil, sparingGroup: sparingGroup)
        }
    }
}

/// cgroup v2 folders: kill, signal, remove.
public enum CgroupTree {
    /// Write `1` to `cgroup.kill` (SIGKILL to every process in the subtree, atomically).
    public static func killNow(_ path: String) {
        let fd = open(path + "/cgroup.kill", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = write(fd, "1", 1)
        close(fd)
    }

    /// Kill the subtree and wait (up to `timeout`) until it holds no process.
    /// An empty subtree (the usual case at job end) costs one read of `cgroup.events`; otherwise
    /// the wait sleeps in `poll` until the kernel reports the subtree empty.
    /// Returns whether it had to kill (the subtree was populated).
    @discardableResult
    public static func kill(_ path: String, timeout: Duration) -> Bool {
        guard isPopulated(path) else { return false }
        killNow(path)
        let (seconds, attoseconds) = timeout.components
        let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        _ = nxa_cgroup_populated(path, max(milliseconds, 1))
        return true
    }

    /// Whether any process is in the subtree (`populated 1` in `cgroup.events`).
    public static func isPopulated(_ path: String) -> Bool {
        nxa_cgroup_populated(path, 0) == 1
    }

    /// Whether the cgroup exists and holds no process.
    public static func isEmpty(_ path: String) -> Bool {
        nxa_cgroup_populated(path, 0) == 0
    }

    /// Send `signal` to each process in the subtree, through a pidfd opened and then checked to
    /// still be in the subtree (a pid read from `cgroup.procs` may have exited and been reused).
    public static func signal(_ path: String, _ signal: Int32, sparingGroup: pid_t? = nil) {
        for folder in subtree(path) {
            guard let text = try? String(contentsOfFile: folder + "/cgroup.procs", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                guard let pid = pid_t(line) else { continue }
                if let sparingGroup, getpgid(pid) == sparingGroup { continue }
                let fd = nxa_pidfd_open(pid)
                guard fd >= 0 else { continue }
                if let membership = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8),
                   membership.contains(relativePath(folder)) {
                    _ = nxa_pidfd_signal(fd, signal)
                }
                close(fd)
            }
        }
    }

    /// `path` and every cgroup below it, deepest last (folders found by `d_type`, no stat per file).
    static func subtree(_ path: String) -> [String] {
        var result = [path]
        var index = 0
        while index < result.count {
            if let folder = opendir(result[index]) {
                while let entry = readdir(folder) {
                    guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
                    let name = withUnsafePointer(to: entry.pointee.d_name) {
                        $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                    }
                    if name != "." && name != ".." { result.append(result[index] + "/" + name) }
                }
                closedir(folder)
            }
            index += 1
        }
        return result
    }

    /// Remove the (empty) cgroup subtree, deepest folders first.
    public static func remove(_ path: String) {
        for folder in subtree(path).reversed() { rmdir(folder) }
    }

    /// The cgroup path as `/proc/<pid>/cgroup` shows it (relative to the v2 mount).
    static func relativePath(_ folder: String) -> String {
        guard let mount = CgroupV2.mountPoint, folder.hasPrefix(mount) else { return folder }
        return String(folder.dropFirst(mount.count)) + "\n"
    }
}

/// The cgroup v2 hierarchy of this machine, as this process sees it.
public enum CgroupV2 {
    /// Where cgroup2 is mounted (`/sys/fs/cgroup` or, in hybrid setups, `/sys/fs/cgroup/unified`).
    public static let mountPoint: String? = {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        return mountPoint(inMountInfo: text)
    }()

    /// The mount point of the first cgroup2 line of a `mountinfo` text (`proc(5)`): `ID PARENT
    /// MAJOR:MINOR ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER-OPTIONS`. Spaces in
    /// paths are written `\040`, so fields split on spaces. (Plain Swift: Foundation's
    /// `components(separatedBy:)` made this a visible part of every run's start.)
    static func mountPoint(inMountInfo text: String) -> String? {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 4, let dash = fields.firstIndex(of: "-"), dash > 4, dash + 1 < fields.count,
                  fields[dash + 1] == "cgroup2"
            else { continue }
            return String(fields[4])
        }
        return nil
    }

    /// This process's own cgroup folder (from `/proc/self/cgroup`'s `0::` line), or nil.
    public static func ownFolder() -> String? {
        guard let mount = mountPoint,
              let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("0::") })
        else { return nil }
        let relative = String(line.dropFirst(3))
        return relative == "/" ? mount : mount + relative
    }

    /// Make a cgroup for a run below this process's own, usable for `cgroup.kill` and for moving
    /// processes into it. Nil when cgroup v2 is missing, read-only, too old (no `cgroup.kill`,
    /// Linux < 5.14) or not delegated to this user.
    public static func makeRunCgroup(name: String) -> String? {
        guard let own = ownFolder() else { return nil }
        let path = own + "/" + name
        guard mkdir(path, 0o755) == 0 else { return nil }
        guard access(path + "/cgroup.kill", W_OK) == 0, access(path + "/cgroup.procs", W_OK) == 0 else {
            rmdir(path)
            return nil
        }
        return path
    }
}

/// The fallback: processes found by `NIXACTIONS_TRACKING_ID` in their environment.
public enum TrackedProcesses {
    /// Signal every process whose tracking id starts with `prefix` (never this process), each
    /// through a pidfd opened before its environment is read. With `wait`, repeat until none is
    /// left or the time is up, reaping the ones re-parented to this process.
    ///
    /// With `wait`, it stops after three scans in a row found nothing: a process that forks and
    /// exits in a loop can be missed by one scan (its child born after /proc was listed, itself
    /// gone before it was looked at), rarely by three.
    public static func kill(prefix: String, signal: Int32, wait: Duration?, sparingGroup: pid_t? = nil) {
        let marker = Array("\(JobContainment.trackingVariable)=\(prefix)".utf8)
        let deadline = ContinuousClock.now + (wait ?? .zero)
        var emptyScans = 0
        var signalled: Set<pid_t> = []
        // Those re-parented to this process (its subreaper role) are its children once orphaned:
        // reaped here when they are gone, not left as zombies until the host exits. (The steps'
        // own processes were reaped by their owners before their job's sweep.)
        defer { reapGone(signalled) }
        repeat {
            var found = false
            for pid in allPids() where pid != getpid() {
                let fd = nxa_pidfd_open(pid)
                guard fd >= 0 else { continue }
                defer { close(fd) }
                guard environmentContains(pid, marker) else { continue }
                if let sparingGroup, getpgid(pid) == sparingGroup { continue }
                if nxa_pidfd_signal(fd, signal) == 0 {
                    found = true
                    signalled.insert(pid)
                }
            }
            guard wait != nil else { return }
            emptyScans = found ? 0 : emptyScans + 1
            if emptyScans >= 3 { return }
            usleep(found ? 5000 : 1000)
        } while ContinuousClock.now < deadline
    }

    /// Reap those of `pids` that are this process's children and have exited (no waiting).
    static func reapGone(_ pids: Set<pid_t>) {
        for pid in pids {
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }
    }

    static func allPids() -> [pid_t] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { pid_t($0) }
    }

    /// The host pid named by the tracking id (`RUN_ID-PID/…`) of a process in the cgroup subtree
    /// `path`: the host that ran it. Nil when the subtree holds no process with one.
    public static func hostPid(inCgroup path: String) -> pid_t? {
        let marker = Array("\(JobContainment.trackingVariable)=".utf8)
        for folder in CgroupTree.subtree(path) {
            guard let text = try? String(contentsOfFile: folder + "/cgroup.procs", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                guard let pid = pid_t(line), let value = environmentValue(pid, marker) else { continue }
                let run = value.split(separator: "/", maxSplits: 1).first ?? ""
                if let dash = run.lastIndex(of: "-"), let host = pid_t(run[run.index(after: dash)...]) { return host }
            }
        }
        return nil
    }

    /// Whether `/proc/<pid>/environ` has an entry starting with `marker` (zombies have none).
    static func environmentContains(_ pid: pid_t, _ marker: [UInt8]) -> Bool {
        environmentValue(pid, marker) != nil
    }

    /// The rest of `/proc/<pid>/environ`'s first entry starting with `marker`.
    static func environmentValue(_ pid: pid_t, _ marker: [UInt8]) -> String? {
        let fd = open("/proc/\(pid)/environ", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 16384)
        while data.count < 4 << 20 {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            data.append(contentsOf: buffer[0..<count])
        }
        var start = 0
        while start < data.count {
            let end = data[start...].firstIndex(of: 0) ?? data.count
            if end - start >= marker.count && data[start..<(start + marker.count)].elementsEqual(marker) {
                return String(decoding: data[(start + marker.count)..<end], as: UTF8.self)
            }
            start = end + 1
        }
        return nil
    }
}
