import CProcessSupport
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A process a test starts, signals and waits for: `posix_spawn`, reaped by its own `waitpid`.
///
/// Not Foundation's `Process`: on Linux it learns of a child's end through a socket the child
/// inherits and a `waitpid` on a thread of its own, reports an exit status of 0 when that
/// `waitpid` fails, and lost the ends of other children while a long-running one of its own was
/// alive (two `waitUntilExit` calls hung on zombies). Also for servers tests start. A test that asserts a run exits 130 after SIGINT must be told what
/// the process really did: here a status that cannot be had says so (`terminationStatus` -1).
///
/// The child gets every signal at its default and none blocked (a test process's threads block
/// them all, and a shell may have left SIGINT ignored), its own process group (as `Process`
/// gave it: the group can be signalled as a terminal's Ctrl-C would), standard input from
/// /dev/null unless given, and no descriptor of this process above 2.
public final class LaunchedProcess: Sendable {
    public let processIdentifier: pid_t
    /// The raw wait status once reaped; -1 if it could not be had.
    private let status = Mutex<Int32?>(nil)

    /// `output` takes standard output and, unless `errors` is given, standard error (nil: /dev/null);
    /// `input` standard input (nil: /dev/null).
    public init(_ arguments: [String], in directory: String? = nil, environment: [String: String], input: FileHandle? = nil,
                output: FileHandle? = nil, errors: FileHandle? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        if let input {
            posix_spawn_file_actions_adddup2(&actions, input.fileDescriptor, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        for (fd, handle) in [(Int32(1), output), (Int32(2), errors ?? output)] {
            if let handle {
                posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, fd)
            } else {
                posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0)
            }
        }
        _ = nxa_spawn_actions_close_from(&actions, 3)
        var everything = sigset_t(), none = sigset_t()
        sigfillset(&everything)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &everything)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        // The folder through a shell (posix_spawn's chdir action is not in Swift's Glibc module).
        let command = directory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0] + arguments } ?? arguments
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, command[0], &actions, &attributes, argv, envp)
        guard rc == 0 else { throw TestComponentError("cannot start \(command[0]): \(String(cString: strerror(rc)))") }
        processIdentifier = pid
    }

    /// `arguments` in `directory` with `environment` (nil: this process's), both output streams
    /// appended to the file at `output` (made if missing); for servers a test starts and kills.
    public convenience init(_ arguments: [String], directory: String? = nil, environment: [String: String]? = nil,
                            output: String = "/dev/null") throws {
        let fd = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TestComponentError("cannot open \(output): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        defer { try? handle.close() }
        try self.init(arguments, in: directory, environment: environment ?? ProcessInfo.processInfo.environment, output: handle)
    }

    /// Send `signal`, unless it has been reaped (its pid may then be another process's).
    public func signal(_ signal: Int32) {
        if status.withLock({ $0 }) == nil { kill(processIdentifier, signal) }
    }

    /// Its exit status as a shell gives it: the exit code, or 128 + the signal that ended it (waits).
    public var exitStatus: Int32 {
        let raw = wait()
        if raw == -1 { return -1 }
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    }

    /// Whether it has not ended yet (an ended one is reaped here).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Wait for it to end (blocking the calling thread); its raw wait status, or -1.
    @discardableResult
    public func wait() -> Int32 {
        reap(blocking: true) ?? -1
    }

    /// Its exit code, or the signal that ended it (as Foundation's `Process`); -1 if unknown.
    public var terminationStatus: Int32 {
        let raw = wait()
        if raw == -1 { return -1 }
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
    }

    public var terminationReason: Process.TerminationReason {
        let raw = wait()
        return raw != -1 && raw & 0x7f != 0 ? .uncaughtSignal : .exit
    }

    /// Learn of the end without reaping (so two callers cannot both wait for it), then reap it
    /// under the lock, once.
    private func reap(blocking: Bool) -> Int32? {
        if let known = status.withLock({ $0 }) { return known }
        if blocking {
            var info = siginfo_t()
            while waitid(P_PID, id_t(processIdentifier), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        }
        return status.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            var rc: pid_t
            repeat { rc = waitpid(processIdentifier, &raw, WNOHANG) } while rc < 0 && errno == EINTR
            if rc == processIdentifier {
                status = raw
            } else if rc < 0 {
                status = -1  // ECHILD: something else in this process reaped it
            }
            return status
        }
    }
}

/// Wait for a launched process to end, off Swift's cooperative threads.
public func waitForExit(_ process: LaunchedProcess) async {
    _ = try? await offThePool { process.wait() }
}

/// Send `signal` to `process` once `condition` holds (checked every 10 ms for up to `timeout`),
/// `after` a pause, all on a thread of its own: a test's task waits for one of Swift's pool threads
/// (two here), which other tests' long synchronous work can hold for many seconds, long enough for
/// the run to have moved on (or ended) before a signal sent from the task. The result: when the
/// signal was sent; nil when `condition` never held, and nothing was sent.
@discardableResult
public func signalWhen(_ process: LaunchedProcess, _ signal: Int32, after: Duration = .zero, timeout: Duration = .seconds(30),
                       _ condition: @escaping @Sendable () -> Bool) async -> ContinuousClock.Instant? {
    (try? await offThePool { () -> ContinuousClock.Instant? in
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { return nil }
            usleep(10_000)
        }
        if after > .zero { usleep(UInt32(after / .microseconds(1))) }
        let sent = ContinuousClock.now
        process.signal(signal)
        return sent
    }) ?? nil
}

/// Wait for `process` to exit on a thread of its own and say when it did (not when a pool thread
/// got round to the test again; see `signalWhen`).
public func exitTime(_ process: LaunchedProcess) async -> ContinuousClock.Instant {
    (try? await offThePool { () -> ContinuousClock.Instant in
        _ = process.wait()
        return ContinuousClock.now
    }) ?? ContinuousClock.now
}
