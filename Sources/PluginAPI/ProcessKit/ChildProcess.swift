import CProcessSupport
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How a child process ended.
public enum Termination: Sendable, Hashable {
    case exited(Int32)
    case signaled(Int32)

    /// The status a shell would report: the exit code, or 128 + the signal's number.
    public var exitStatus: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}

/// Why a process could not be started.
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public let command: String
    public let errno: Int32
    public var description: String {
        "cannot start '\(command)': \(String(cString: strerror(errno)))"
    }
}

/// A spawned child process that leads its own process group.
///
/// The whole tree started by the child shares the group (unless a descendant makes its own
/// session), so `signalAll` and `terminate` reach grandchildren too; with a `StepContainment`,
/// those that left the group are reached as well.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// The read end of the child's stdout (internal: tests look at its pipe's size).
    let stdoutFD: Int32
    private let stderrFD: Int32
    private let pidFD: Int32

    /// Where the child and everything it starts live (nil: its process group only).
    public let containment: StepContainment?

    /// Spawn `arguments[0]` (a path, or looked up in the PATH of `environment`) with exactly
    /// `environment`; with `containment`, inside the step's cgroup (entered before exec) and
    /// carrying its tracking id. Its standard input: `inputDescriptor` (the caller keeps and closes
    /// it), else /dev/null. `diesWithCaller`: the child gets SIGKILL when the calling thread
    /// exits, so also when this process dies of SIGKILL; only for a child that this thread waits
    /// for, started while nothing else would end it after this process (`nxa_spawn`).
    public init(arguments: [String], environment: [String: String], directory: String?,
                containment: StepContainment? = nil, inputDescriptor: Int32? = nil,
                diesWithCaller: Bool = false) throws(SpawnError) {
        var pid: pid_t = 0
        var out: Int32 = -1
        var err: Int32 = -1
        var pidFD: Int32 = -1
        let tracking = containment.map { (JobContainment.trackingVariable, $0.trackingID) }
        // The cgroup's folder: the child is made inside it (or moves itself in before it execs).
        var cgroupFD: Int32 = -1
        if let cgroup = containment?.cgroup {
            cgroupFD = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if cgroupFD < 0 { throw SpawnError(command: arguments.first ?? "", errno: errno) }
        }
        defer { if cgroupFD >= 0 { close(cgroupFD) } }
        let rc = withCStringArray(arguments) { argv in
            withEnvironmentBlock(environment, overriding: tracking) { envp in
                let input = inputDescriptor ?? -1
                let flags: Int32 = diesWithCaller ? NXA_SPAWN_DIES_WITH_CALLER : 0
                if let directory {
                    return directory.withCString { nxa_spawn(argv, envp, $0, cgroupFD, input, flags, &pid, &out, &err, &pidFD) }
                }
                return nxa_spawn(argv, envp, nil, cgroupFD, input, flags, &pid, &out, &err, &pidFD)
            }
        }
        guard rc == 0 else { throw SpawnError(command: arguments.first ?? "", errno: rc) }
        self.pid = pid
        self.stdoutFD = out
        self.stderrFD = err
        self.pidFD = pidFD
        self.containment = containment
    }

    /// Send `signal` to the child's process group, only while the leader is unreaped (so the
    /// group id is still ours), and to every other process of the step's containment.
    public func signalAll(_ signal: Int32) {
        let toGroup = reaping.withLock { reaped in
            !reaped && nxa_kill_group(pid, signal) == 0
        }
        // The group's members have it already: once is what a program expects (audit 61 M3).
        containment?.signalAll(signal, sparingGroup: toGroup && signal != SIGKILL ? pid : nil)
    }

    /// End the process tree: SIGTERM to all of it, then SIGKILL after `grace` to what is left.
    /// The step's cgroup is marked killed at once, not when the SIGKILL goes: a step that ends on
    /// SIGTERM would otherwise hand its cgroup to the job's next step (or, through the pool, to
    /// another job) before the timer writes `cgroup.kill` to it.
    ///
    /// Should this process exit before the SIGKILL is due (a run that gives up on a provider's
    /// `sops` and ends at once), it goes at the exit (`atexit`): a child that ignores SIGTERM
    /// does not outlive it (audit 60 hangs L1).
    public func terminate(grace: Duration) {
        graceEnds.withLock { $0 = $0 ?? ContinuousClock.now + grace }
        containment?.retire()
        signalAll(SIGTERM)
        // A stopped process (`kill -STOP $$`) gets the SIGTERM only once it runs again: SIGCONT
        // after it, as systemd sends, so it shuts down in its grace instead of waiting for the
        // SIGKILL (audit 66 hardening L7). A running one ignores it.
        signalAll(SIGCONT)
        let key = ObjectIdentifier(self)
        Self.pendingKills.withLock { $0[key] = self }
        Self.registerExitKill
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            signalAll(SIGKILL)
            _ = Self.pendingKills.withLock { $0.removeValue(forKey: key) }
        }
    }

    /// Children told to end whose SIGKILL is not yet due.
    private static let pendingKills = Mutex<[ObjectIdentifier: ChildProcess]>([:])
    private static let registerExitKill: Void = {
        atexit { ChildProcess.killPending() }
    }()

    /// SIGKILL now to every child whose `terminate` grace has not run out.
    public static func killPending() {
        let pending = pendingKills.withLock { pending in
            defer { pending.removeAll() }
            return Array(pending.values)
        }
        for child in pending { child.signalAll(SIGKILL) }
    }

    /// True once the child has been reaped; held while signalling the group so the two never race.
    private let reaping = Mutex<Bool>(false)
    /// When a `terminate` grace runs out: output is read until then, however soon the main
    /// process died of the SIGTERM (a child that shuts down cleanly is heard to its end: audit 61
    /// M3, its output was cut 200 ms after the shell died).
    private let graceEnds = Mutex<ContinuousClock.Instant?>(nil)

    /// When the reading after the main process's exit stops: `deadline`, or once a `terminate`
    /// grace has run out (and `drainAfterExit` more, for the bytes still in the pipes then).
    private func drainEnd(_ deadline: ContinuousClock.Instant, after drainAfterExit: Duration) -> ContinuousClock.Instant {
        guard let grace = graceEnds.withLock({ $0 }) else { return deadline }
        return max(deadline, grace + drainAfterExit)
    }

    /// Block until the child exits, passing output chunks (fd 1 or 2) to `onOutput` in order.
    ///
    /// The step ends when the child exits: output still in the pipes is read for at most
    /// `drainAfterExit` more (a background process that keeps printing does not hold the step),
    /// and the rest stays with the background process, which the job's cleanup ends.
    ///
    /// Reads are 64 KiB; a read that fills that grows its pipe and the reads to 1 MiB
    /// (`PipeGrowth`), so a step that prints a lot costs fewer reads and wake-ups.
    ///
    /// `onSecret` receives the values of `add-mask` lines read from one pipe before output of the
    /// other read earlier goes to `onOutput` (`TwoPipeOutput`); a step's reader registers them.
    public func wait(
        drainAfterExit: Duration = .milliseconds(200),
        onSecret: (([UInt8]) -> Void)? = nil,
        onOutput: (Int32, UnsafeRawBufferPointer) -> Void
    ) -> Termination {
        waitReportingEnd(drainAfterExit: drainAfterExit, onSecret: onSecret, onOutput: onOutput).termination
    }

    /// `wait`, also telling whether every byte of output was read: false when `drainAfterExit`
    /// ran out while a pipe was still open (a process the child left holds it), so what the
    /// caller got may be cut short.
    public func waitReportingEnd(
        drainAfterExit: Duration = .milliseconds(200),
        onSecret: (([UInt8]) -> Void)? = nil,
        onOutput: (Int32, UnsafeRawBufferPointer) -> Void
    ) -> (termination: Termination, outputEnded: Bool) {
        var open: [(fd: Int32, stream: Int32)] = [(stdoutFD, 1), (stderrFD, 2)]
        var buffer = ReadBuffers.shared.take()
        var growthTried: [Int32] = []
        /// Pipes this wait grew; with one or more, `buffer` is a large one.
        var grown = 0
        defer {
            (grown > 0 ? ReadBuffers.large : ReadBuffers.shared).give(buffer)
            for _ in 0..<grown { PipeGrowth.release() }
        }
        /// A read of 64 KiB or more: the pipe was full (a pipe not grown holds 64 KiB), the step
        /// prints faster than one 64 KiB read per wake-up. Its pipe grows to `PipeGrowth.size`
        /// and reads become that large (for the other stream too, whose pipe may grow later).
        func filled(_ fd: Int32) {
            guard !growthTried.contains(fd) else { return }
            growthTried.append(fd)
            guard PipeGrowth.acquire() else { return }
            guard nxa_set_pipe_size(fd, Int32(PipeGrowth.size)) == 0 else {
                PipeGrowth.release()
                return
            }
            if grown == 0 {
                ReadBuffers.shared.give(buffer)
                buffer = ReadBuffers.large.take()
            }
            grown += 1
        }
        var termination: Termination?
        var drainDeadline = ContinuousClock.now
        // Every writer of the pipes has closed them (the process and all it started ended): what
        // is still in them is read to the end, however long that takes, since nothing can add to
        // it (review 53: a slow last chunk was cut at the drain time and said to be left open).
        var writersGone = false
        var order = TwoPipeOutput(stdout: stdoutFD, stderr: stderrFD, onSecret: onSecret)
        var lastStream: Int32 = 2

        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let watchingExit = termination == nil && pidFD >= 0
            if watchingExit { fds.append(pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)) }
            var timeout: Int32 = pidFD >= 0 ? -1 : 50
            if termination != nil && !writersGone {
                let left = drainEnd(drainDeadline, after: drainAfterExit) - ContinuousClock.now
                if left <= .zero {
                    // Exited, and the drain time is up: stop, unless no writer is left.
                    writersGone = Self.allHungUp(open.map(\.fd))
                    if !writersGone { break }
                } else {
                    timeout = Int32(max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
                }
            }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if ready == 0 {
                if termination != nil && !writersGone { break }  // exited and the pipes went quiet
                if pidFD < 0, let status = reap(blocking: false) {
                    termination = status
                    drainDeadline = ContinuousClock.now + drainAfterExit
                }
                continue
            }
            var closed: [Int32] = []
            let readable = (0..<open.count).filter { fds[$0].revents != 0 }
            // One pipe per wake-up, taking turns when both are ready; `order` reads the other
            // pipe as often as it needs to deliver safely (see `TwoPipeOutput`).
            if let index = readable.first(where: { open[$0].stream != lastStream }) ?? readable.first {
                let fd = open[index].fd
                lastStream = open[index].stream
                let count = read(fd, buffer.baseAddress, buffer.count)
                if count > 0 {
                    // (`filled` may swap `buffer`: after the bytes read into it are handed on.)
                    defer { if count >= ReadBuffers.shared.size { filled(fd) } }
                    let ended = order.deliver(
                        UnsafeRawBufferPointer(rebasing: buffer[0..<count]), from: fd == stdoutFD ? 0 : 1, otherOpen: open.count == 2,
                        goOn: { termination == nil || writersGone || ContinuousClock.now < self.drainEnd(drainDeadline, after: drainAfterExit) },
                        onOutput: onOutput)
                    closed += ended.map { $0 == 0 ? stdoutFD : stderrFD }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    closed.append(fd)
                }
            }
            for fd in closed {
                close(fd)
                open.removeAll { $0.fd == fd }
            }
            if watchingExit, let last = fds.last, last.revents != 0, termination == nil {
                termination = reap(blocking: true)
                drainDeadline = ContinuousClock.now + drainAfterExit
            }
        }
        let outputEnded = open.isEmpty
        // A background process still holds them: read on (and drop) what it writes until it is
        // gone, so that it is not killed by a closed pipe at its next line (a server a step
        // started for the next steps); its job's cleanup ends it, and then the pipes end.
        LeftoverOutput.shared.drain(open.map(\.fd))
        let result = termination ?? reap(blocking: true) ?? .exited(-1)
        if pidFD >= 0 { close(pidFD) }
        return (result, outputEnded)
    }

    /// Whether every descriptor's pipe has no writer left (POLLHUP; what is in it can still be read).
    static func allHungUp(_ fds: [Int32]) -> Bool {
        guard !fds.isEmpty else { return true }
        var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard poll(&polled, nfds_t(polled.count), 0) >= 0 else { return false }
        return polled.allSatisfy { $0.revents & Int16(POLLHUP) != 0 }
    }

    /// Whether `bytes` may hold an `add-mask` command: `add-mask` in any case (GitHub's runner
    /// matches command names without case, in `::add-mask::` and the older `##[add-mask]`).
    static func registersSecret(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            guard raw.count >= 8, let base = raw.baseAddress else { return false }
            let rest: [UInt8] = [0x6D, 0x61, 0x73, 0x6B]  // "mask"
            var offset = 3
            while offset < raw.count - 4, let found = memchr(base + offset, 0x2D, raw.count - 4 - offset) {  // '-'
                let at = UnsafeRawPointer(found) - base
                if raw[at - 3] | 0x20 == 0x61, raw[at - 2] | 0x20 == 0x64, raw[at - 1] | 0x20 == 0x64,
                   (0..<4).allSatisfy({ raw[at + 1 + $0] | 0x20 == rest[$0] }) {
                    return true
                }
                offset = at + 1
            }
            return false
        }
    }

    private func reap(blocking: Bool) -> Termination? {
        var status: Int32 = 0
        // Learn of the exit without reaping, then reap under the lock that group signals take.
        while true {
            let rc = nxa_peek_exit(pid, &status)
            if rc == 1 { break }
            if rc == 0 {
                if !blocking { return nil }
                var info = siginfo_t()
                _ = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT)
                continue
            }
            if rc == -EINTR { continue }
            return .exited(-1)
        }
        reaping.withLock { reaped in
            var ignored: Int32 = 0
            while waitpid(pid, &ignored, 0) < 0 && errno == EINTR {}
            reaped = true
        }
        let signal = status & 0x7f
        if signal == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(signal)
    }
}

/// Call `body` with a NULL-terminated C array of the strings.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    var array: [UnsafePointer<CChar>?] = pointers.map { UnsafePointer($0) }
    array.append(nil)
    return array.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Call `body` with `environment` as a C `envp`, `overriding` (if any) in place of its key: every
/// `KEY=VALUE` is laid out in one buffer. (A step's spawn built, copied and freed 80-odd strings.)
/// A NUL inside a key or value ends that entry there, as a C string would.
func withEnvironmentBlock<R>(
    _ environment: [String: String], overriding extra: (key: String, value: String)?,
    _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R
) -> R {
    var bytes: [UInt8] = []
    var offsets: [Int] = []
    offsets.reserveCapacity(environment.count + 1)
    bytes.reserveCapacity(environment.count * 48)
    func add(_ key: String, _ value: String) {
        offsets.append(bytes.count)
        bytes.append(contentsOf: key.utf8)
        bytes.append(UInt8(ascii: "="))
        bytes.append(contentsOf: value.utf8)
        bytes.append(0)
    }
    let replaced = extra.flatMap { environment[$0.key] == nil ? nil : $0.key }
    for (key, value) in environment where replaced == nil || key != replaced {
        add(key, value)
    }
    if let extra { add(extra.key, extra.value) }
    return bytes.withUnsafeBytes { block in
        let base = block.baseAddress!.assumingMemoryBound(to: CChar.self)
        return withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: offsets.count + 1) { pointers in
            for (index, offset) in offsets.enumerated() { pointers[index] = base + offset }
            pointers[offsets.count] = nil
            return body(UnsafePointer(pointers.baseAddress!))
        }
    }
}

/// The soft open-files limit the processes this image spawns start with (`nxa_set_child_open_files`).
public enum ChildOpenFiles {
    /// From now on, spawned processes get `soft` as their soft RLIMIT_NOFILE when it is lower than
    /// this process's own; nil: they get this process's own (the default).
    public static func set(_ soft: UInt64?) {
        nxa_set_child_open_files(soft.map { Int64(clamping: $0) } ?? -1)
    }
}

/// Pipes grown for steps that print a lot (`ChildProcess.wait`): at most `limit` at once in the
/// process, so that a wide run does not take the user's pipe pages (past
/// `/proc/sys/fs/pipe-user-pages-soft`, 64 MiB by default, the kernel gives every new pipe of the
/// user, in any program, two pages) nor much memory (a grown pipe and its read buffer hold up to
/// 1 MiB each). The count is of waits: a background process that outlives its step keeps the
/// pipe it writes to, grown or not, until the job's cleanup ends it.
public enum PipeGrowth {
    /// The default `/proc/sys/fs/pipe-max-size`: allowed without privileges.
    public static let size = 1 << 20
    public static let limit = 8
    private static let grown = Atomic<Int>(0)

    /// Pipes grown now (tests).
    public static var current: Int { grown.load(ordering: .relaxed) }

    static func acquire() -> Bool {
        var now = grown.load(ordering: .relaxed)
        while now < limit {
            let (exchanged, original) = grown.compareExchange(expected: now, desired: now + 1, ordering: .relaxed)
            if exchanged { return true }
            now = original
        }
        return false
    }

    static func release() { grown.subtract(1, ordering: .relaxed) }
}

/// Read buffers for `ChildProcess.wait`, kept for the next wait: a fresh 64 KiB buffer per step
/// was zeroed, and freeing it made malloc consolidate its free lists every time. `large` ones go
/// with a grown pipe (`PipeGrowth`).
final class ReadBuffers: Sendable {
    static let shared = ReadBuffers(size: 65536, keep: 64)
    static let large = ReadBuffers(size: PipeGrowth.size, keep: PipeGrowth.limit)
    let size: Int
    /// At most this many are kept (4 MiB of small ones, 8 MiB of large ones); more are freed.
    private let keep: Int
    /// A buffer's memory, owned by whoever took it until it is given back.
    private struct Owned: @unchecked Sendable { let bytes: UnsafeMutableRawBufferPointer }
    private let spare = Mutex<[Owned]>([])

    init(size: Int, keep: Int) {
        self.size = size
        self.keep = keep
    }

    func take() -> UnsafeMutableRawBufferPointer {
        spare.withLock { $0.popLast() }?.bytes
            ?? UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    }

    func give(_ buffer: UnsafeMutableRawBufferPointer) {
        let owned = Owned(bytes: buffer)
        let kept = spare.withLock { spare -> Bool in
            guard spare.count < keep else { return false }
            spare.append(owned)
            return true
        }
        if !kept { buffer.deallocate() }
    }
}

/// Reads and drops what processes write to output pipes whose step is over, until each pipe
/// ends (every process holding it exited), then closes it. One thread for all, started on first use.
final class LeftoverOutput: @unchecked Sendable {
    static let shared = LeftoverOutput()
    private let pending = Mutex<[Int32]>([])
    private let started = Atomic<Bool>(false)
    /// Signalled when descriptors are handed over: the thread sleeps on it while it has none.
    private let handedOver = DispatchSemaphore(value: 0)

    func drain(_ descriptors: [Int32]) {
        guard !descriptors.isEmpty else { return }
        pending.withLock { $0 += descriptors }
        handedOver.signal()
        // Not made (no thread to be had): the next drain tries again.
        if !started.exchange(true, ordering: .acquiringAndReleasing), DetachedThread.start(stackSize: 128 << 10, { [self] in loop() }) != 0 {
            started.store(false, ordering: .releasing)
        }
    }

    private func loop() {
        var watched: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            watched += pending.withLock { taken in
                defer { taken.removeAll() }
                return taken
            }
            if watched.isEmpty {
                handedOver.wait()
                continue
            }
            var fds = watched.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 100)
            guard ready > 0 else { continue }
            var ended: Set<Int32> = []
            for entry in fds where entry.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count == 0 || (count < 0 && errno != EINTR && errno != EAGAIN) { ended.insert(entry.fd) }
            }
            if !ended.isEmpty {
                for fd in ended { close(fd) }
                watched.removeAll { ended.contains($0) }
            }
        }
    }
}

/// A limit on how long a started child may run: past it, the child's process tree is ended as by
/// `ChildProcess.terminate(grace:)` (SIGTERM, SIGKILL after `grace`). Kept in this process, so a
/// command is bounded whether or not coreutils' `timeout` is installed, and the command stays the
/// caller's own child (its death signal and process group are the command's, not a wrapper's).
///
/// Call `end()` once the wait for the child is over: it disarms the limit and says whether the
/// limit ended the child. Keep the limit until then: the timer holds it and the child weakly, so
/// neither is kept until the limit would have passed.
public final class ChildTimeLimit: Sendable {
    private let state = Mutex<(expired: Bool, ended: Bool)>((false, false))

    public init(_ child: ChildProcess, limit: Duration, grace: Duration) {
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [weak self, weak child] in
            guard let self, let child else { return }
            let fire = self.state.withLock { state -> Bool in
                guard !state.ended else { return false }
                state.expired = true
                return true
            }
            if fire { child.terminate(grace: grace) }
        }
    }

    /// Disarm the limit; true when it had passed and ended the child.
    @discardableResult
    public func end() -> Bool {
        state.withLock { state in
            state.ended = true
            return state.expired
        }
    }
}
