import ArgumentParser
import Crypto
import Foundation
import NixActionsEngine
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A workflow's `concurrency` between runs: the runs of one project on this machine, by this
/// user, whose groups are the same hold it one at a time, as GitHub holds a repository's groups.
///
/// The group is a lock file (`flock`) in a folder only this user can change,
/// `$XDG_STATE_HOME/nixactions/concurrency` (`~/.local/state/…`, mode 0700; not in a shared
/// `/tmp`, where another user could take the name first: review 59 M5), named by the SHA-256 of
/// the project's real path and the group. The run holding it keeps it until it ends, then removes
/// the file while it still holds the lock; a run killed outright has its supervisor do that
/// (`flock -n`: only while no other run holds it). A run that took a lock checks that the file is
/// still the one at the path (a run ending removed it meanwhile: it takes the new one).
///
/// No process is ever signalled by a pid read from a file (review 59 M4: a stale or reused pid).
/// A newer run asks by writing to the file, and the run asked watches its own file:
/// - with `cancel-in-progress`, the newer run writes a cancel request into the lock file; the
///   holder, watching it, cancels itself once, as Ctrl-C would (its `always()` steps run, it exits
///   130, saying which run cancelled it), unless its jobs have ended already; the newer run waits
///   for it to end;
/// - else the newer run waits, in the group's one waiting place (`queue: single`, the default):
///   a run already waiting there is asked to give way in the waiting file, and ends (exit 130,
///   saying why), as GitHub cancels a pending run when a newer one comes; with `queue: max`
///   every run waits, and they take the group in the order they came (`Ticket`).
/// A run waiting is cancelled by its own signal at once (exit 130). The files hold pids, never
/// the group.
final class RunConcurrency: Sendable {
    let group: String
    /// The lock file, held until `finish` or the process's end.
    let path: String
    private let fd: Int32
    /// A cancel request seen (its pid), whether it was acted on, and whether the run's jobs have
    /// ended (a request then waits for `finish`).
    private let state = Mutex<(requestedBy: String?, ended: Bool, finished: Bool)>((nil, false, false))

    private init(group: String, path: String, fd: Int32) {
        self.group = group
        self.path = path
        self.fd = fd
    }

    /// Watch the lock file for a newer run's cancel request (every 100 ms), and act on the first
    /// by `cancel` (raising SIGINT in this process: the run's own cancellation), once.
    private func watch(cancel: @escaping @Sendable () -> Void) {
        Thread.detachNewThread { [self] in
            while true {
                usleep(100_000)
                let request = Self.lines(path).dropFirst().first { $0.hasPrefix("cancel ") }.map { String($0.dropFirst("cancel ".count)) }
                let act = state.withLock { state -> Bool? in
                    if state.finished { return nil }
                    guard let request, state.requestedBy == nil, !state.ended else { return false }
                    state.requestedBy = request
                    return true
                }
                guard let act else { return }
                if act { cancel() }
            }
        }
    }

    /// Why the holder is being cancelled (a newer run asked), or nil.
    func cancelRequest() -> String? {
        state.withLock { $0.requestedBy }.map { "a newer run of concurrency group '\(group)' (pid \($0), cancel-in-progress)" }
    }

    /// The run's jobs have ended: a newer run's cancel request no longer cancels it (it only waits
    /// for `finish`): GitHub never cancels a run that has completed (review 59 M3).
    func runEnded() {
        state.withLock { $0.ended = true }
    }

    /// The run has ended: the lock file goes (the lock still held, so no run holds the file
    /// removed); the lock is released as the descriptor closes.
    func finish() {
        // Once: a second signal's stop calls it, and the run's end may still come (a descriptor
        // closed twice could be another file's by then).
        guard state.withLock({ state -> Bool in
            defer { state.finished = true }
            return !state.finished
        }) else { return }
        unlink(path)
        close(fd)
    }

    /// The supervisor's cleanup for a run killed outright: the file goes only if no run holds it.
    var cleanupScript: String {
        let quoted = ShellWords.quote(path)
        return "command -v flock >/dev/null && flock -n \(quoted) rm -f -- \(quoted) 2>/dev/null; true\n"
    }

    /// Take the workflow's group (nil: it has none, or it is empty), waiting or asking for a cancel
    /// as its settings say. Exits 2 for a group that cannot be evaluated or held, 130 when
    /// cancelled while waiting.
    static func enter(_ concurrency: JobConcurrency?, workflow: String, context: RunContext, project: String,
                      say: (String) -> Void) throws -> RunConcurrency? {
        guard let concurrency else { return nil }
        let expressions = context.expressionContext()
        let group: String, cancel: Bool
        do {
            group = try concurrency.group.template.render(expressions)
            cancel = try concurrency.cancelExpression.map { try $0.template.evaluateValue(expressions).isTruthy } ?? concurrency.cancelInProgress
        } catch let error as ExpressionError {
            let at = concurrency.location.map { "\($0): " } ?? ""
            say("\(at)error: cannot evaluate the workflow's concurrency: \(error.message)\n")
            throw ExitCode(ExitStatus.usage)
        } catch {
            say("error: cannot evaluate the workflow's concurrency: \(error)\n")
            throw ExitCode(ExitStatus.usage)
        }
        guard !group.isEmpty else { return nil }
        let folder: String
        switch privateFolder() {
        case .success(let found): folder = found
        case .failure(let problem):
            // Held or not at all: two deploys at once is what the group is there to prevent.
            say("error: concurrency group '\(group)' cannot be held: \(problem.text)\n"
                + "  hint: the folder must be this user's own, mode 0700 (remove it and run again), or set XDG_STATE_HOME\n")
            throw ExitCode(ExitStatus.usage)
        }
        // A signal while this run waits ends the wait, not the process (said, exit 130).
        SignalHub.handler.withLock { $0 = { _ in } }
        defer { SignalHub.handler.withLock { $0 = nil } }
        let real = ProjectCheckout.real(project)
        let key = SHA256.hash(data: Data((real + "\n" + group).utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
        let path = folder + "/" + key + ".lock", waiting = folder + "/" + key + ".waiting"
        let me = String(getpid())
        func held(_ fd: Int32) -> RunConcurrency {
            record(fd, "\(me)\n")
            let made = RunConcurrency(group: group, path: path, fd: fd)
            made.watch { kill(getpid(), SIGINT) }  // the process's own signal: the run's cancellation
            return made
        }
        // queue: max: a ticket in the group's line first; the lock is tried only while no earlier
        // ticket is alive, so the runs take the group in the order they came.
        let ticket = concurrency.queueMax ? Ticket.join(folder: folder, key: key, pid: me) : nil
        defer { ticket?.leave() }
        var fd: Int32
        switch take(path, lock: ticket?.isFirst() ?? true) {
        case .taken(let taken): return held(taken)
        case .busy(let opened): fd = opened
        case .failed(let error):
            say("error: concurrency group '\(group)' cannot be held: cannot open \(path): \(String(cString: strerror(error)))\n")
            throw ExitCode(ExitStatus.usage)
        }
        // This run waits: should it be killed outright meanwhile, a watcher removes the group's
        // files it may hold (its waiting place, its ticket, a lock file it made: `flock -n`, only
        // while no run holds them). Told "done" once the wait is over, however it ended.
        let watcher = watchWhileWaiting([path, waiting] + (ticket.map { [$0.folder + "/" + $0.name] } ?? []))
        defer { watcher?.done() }
        let holder = lines(path).first.flatMap { pid_t($0) }.map { " (pid \($0))" } ?? ""
        // A request is written again while it is not in the file: the run asked may have cleared
        // its file as it took the lock (a file of an earlier run holds stale requests).
        func ask(_ file: String) {
            if !lines(file).dropFirst().contains("cancel \(me)") { append(file, "cancel \(me)\n") }
        }
        func stopped() -> String? {
            SignalHub.received.load(ordering: .relaxed) ? "nixactions: cancelled while waiting for concurrency group '\(group)'\n" : nil
        }
        if cancel {
            ask(path)
            say("nixactions: cancelling the run of concurrency group '\(group)' in progress\(holder): cancel-in-progress\n")
        }
        // The group's one waiting place (queue: single): a run waiting there is asked to give way.
        var place: Int32 = -1
        if !concurrency.queueMax {
            switch take(waiting) {
            case .taken(let taken): place = taken
            case .busy(var opened):
                let older = lines(waiting).first.flatMap { pid_t($0) }.map { " (pid \($0))" } ?? ""
                append(waiting, "cancel \(me)\n")
                say("nixactions: cancelling the run waiting in concurrency group '\(group)'\(older): this one waits in its place\n")
                guard wait(for: waiting, fd: &opened, cancelled: { stopped() }, ask: { ask(waiting) }, say: say) else {
                    throw ExitCode(ExitStatus.cancelled)
                }
                place = opened
            case .failed: break  // no waiting place: this run waits all the same
            }
            if place >= 0 { record(place, "\(me)\n") }
        }
        if !cancel {
            let ahead = ticket?.ahead() ?? 0
            say(ahead > 0 ? "nixactions: waiting: \(ahead) earlier run\(ahead == 1 ? "" : "s") of concurrency group '\(group)' "
                    + "\(ahead == 1 ? "waits" : "wait") ahead of this one (queue: max)\n"
                : "nixactions: waiting: a run of concurrency group '\(group)' is in progress\(holder)\n")
        }
        let took = wait(for: path, fd: &fd, turn: { ticket?.isFirst() ?? true }, cancelled: {
            // Asked by a newer run to give way (it waits in this one's place), or stopped by the user.
            if place >= 0, let newer = lines(waiting).dropFirst().first(where: { $0.hasPrefix("cancel ") }) {
                return "nixactions: cancelled while waiting: a newer run of concurrency group '\(group)' (pid \(newer.dropFirst("cancel ".count))) "
                    + "waits in its place\n"
            }
            return stopped()
        }, ask: cancel ? { ask(path) } : nil, say: say)
        if place >= 0 {
            // The place is free for the next run: its file goes while this run holds it. (One
            // that gave way leaves it to the newer run, which waits for its lock.)
            if took { unlink(waiting) }
            close(place)
        }
        guard took else {
            if fd >= 0 { close(fd) }
            throw ExitCode(ExitStatus.cancelled)
        }
        return held(fd)
    }

    /// A place in a group's line (`queue: max`): the file `KEY.q.TIME.PID` (TIME: the monotonic
    /// clock in nanoseconds, fixed width, so names sort as the runs came), locked by its run while
    /// it waits. It is made under another name, locked, then renamed into place, so no run sees
    /// it unlocked while its run lives. A ticket whose lock no one holds is a killed run's, and
    /// the run that finds it removes it (holding its lock). GitHub takes a group's pending runs
    /// in order too; it keeps at most 100, this line has no limit.
    struct Ticket {
        let folder: String, key: String, name: String, fd: Int32
        /// The group's tickets are `KEY.q.…`.
        var prefix: String { key + ".q." }

        /// A waiting run that looks at the line between this run's `open` and `flock` of its
        /// half-made ticket finds it unlocked, takes it for a killed run's and removes it (or
        /// holds its lock a moment): then this run tries again, with a new ticket. Once its lock
        /// is taken, no other run touches it. (A CI run under load lost that race: the run never
        /// joined the line, and waited for the lock out of turn.)
        static func join(folder: String, key: String, pid: String) -> Ticket? {
            for attempt in 0..<20 {
                if attempt > 0 { usleep(UInt32(1_000 * attempt)) }
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                let time = String(UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec))
                let padded = String(repeating: "0", count: max(0, 20 - time.count)) + time
                let name = key + ".q." + padded + "." + pid
                let making = folder + "/" + key + ".making." + pid
                let fd = open(making, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
                guard fd >= 0 else { return nil }  // no line: this run waits for the lock all the same
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                    close(fd)  // another run holds it a moment (and may remove it): again
                    continue
                }
                // Removed by another run before the lock was taken: the file renamed would not
                // be this descriptor's (or there is none).
                guard RunConcurrency.isCurrent(fd, making), rename(making, folder + "/" + name) == 0 else {
                    close(fd)
                    continue
                }
                return Ticket(folder: folder, key: key, name: name, fd: fd)
            }
            return nil
        }

        /// Whether no earlier ticket is alive.
        func isFirst() -> Bool { ahead() == 0 }

        /// How many earlier tickets are alive. Every ticket and half-made one (`KEY.making.PID`)
        /// whose lock no one holds is a killed run's, earlier or later (the clock starts again
        /// at a reboot), and is removed on the way (review 60 L3).
        func ahead() -> Int {
            var count = 0
            for other in FastFiles.names(in: folder, prefix: key + ".") ?? [] where other != name {
                guard other.hasPrefix(prefix) || other.hasPrefix(key + ".making.") else { continue }
                let path = folder + "/" + other
                let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
                guard fd >= 0 else { continue }  // gone meanwhile
                defer { close(fd) }
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                    if other.hasPrefix(prefix), other < name { count += 1 }  // its run waits
                    continue
                }
                if RunConcurrency.isCurrent(fd, path) { unlink(path) }
            }
            return count
        }

        /// Out of the line: the run took the group, or stopped waiting.
        func leave() {
            unlink(folder + "/" + name)
            close(fd)
        }
    }

    /// A shell that reads a pipe from this process: "done" ends it; EOF (this process died while
    /// it waited) makes it remove each of `files` no run holds.
    struct WaitWatcher {
        let pid: pid_t, pipe: Int32

        func done() {
            _ = write(pipe, "done\n", 5)
            close(pipe)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)  // it ends at once
        }
    }

    /// `$1` is the waiting run's pid: the pipe closes while that process exits, maybe before its
    /// other descriptors (its locks) are closed, so the files are looked at once it is a zombie
    /// or gone (`RunSupervision.awaitHostGone`), as the supervisor's watcher does.
    static let waitWatcherScript = """
        IFS= read -r line && [ "$line" = done ] && exit 0
        host=$1; shift
        \(RunSupervision.awaitHostGone)
        command -v flock >/dev/null 2>&1 || exit 0
        for f; do flock -n "$f" rm -f -- "$f" 2>/dev/null; done
        exit 0
        """

    private static func watchWhileWaiting(_ files: [String]) -> WaitWatcher? {
        guard access("/bin/sh", X_OK) == 0,
              let (pid, pipe) = RunSupervision.spawnWatcher("/bin/sh", ["nixactions-wait", "-c", waitWatcherScript, "nixactions-wait", String(getpid())] + files)
        else { return nil }
        return WaitWatcher(pid: pid, pipe: pipe)
    }

    enum Taking {
        /// Locked, and still the file at the path.
        case taken(Int32)
        /// Another run holds it (the descriptor is open, not locked).
        case busy(Int32)
        case failed(Int32)
    }

    /// Lock the file at `path`, made if need be; a file a run removed while this one took it is
    /// let go and the new one taken.
    /// (`lock` false: only opened, as `.busy`: the run's turn has not come.)
    static func take(_ path: String, lock: Bool = true) -> Taking {
        for _ in 0..<100 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { return .failed(errno) }
            guard lock, flock(fd, LOCK_EX | LOCK_NB) == 0 else { return .busy(fd) }
            if isCurrent(fd, path) { return .taken(fd) }
            close(fd)
        }
        return .failed(EAGAIN)
    }

    /// Whether the locked descriptor is still the file at `path` (not one a run removed).
    private static func isCurrent(_ fd: Int32, _ path: String) -> Bool {
        var held = stat(), there = stat()
        return fstat(fd, &held) == 0 && lstat(path, &there) == 0 && held.st_dev == there.st_dev && held.st_ino == there.st_ino
    }

    /// Take `path`'s lock (`fd`: its file, open), looking every 50 ms; a file removed meanwhile is
    /// opened again (`fd` is then the new one). False (after saying why) when `cancelled` gives a
    /// reason first (a newer run's request) or a signal came. `ask` is called every second.
    private static func wait(for path: String, fd: inout Int32, turn: () -> Bool = { true }, cancelled: () -> String?,
                             ask: (() -> Void)?, say: (String) -> Void) -> Bool {
        var round = 0
        while true {
            if let why = cancelled() ?? (SignalHub.received.load(ordering: .relaxed) ? "nixactions: cancelled while waiting\n" : nil) {
                say(why)
                return false
            }
            round += 1
            if round % 20 == 0 { ask?() }
            if turn(), flock(fd, LOCK_EX | LOCK_NB) == 0 {
                if isCurrent(fd, path) { return true }
                // Removed by the run that ended: the path's new file is the one to take.
                close(fd)
                switch take(path) {
                case .taken(let taken):
                    fd = taken
                    return true
                case .busy(let opened): fd = opened
                case .failed:
                    fd = -1
                    return false
                }
            }
            usleep(50_000)
        }
    }

    /// `$XDG_STATE_HOME/nixactions/concurrency` (else `~/.local/state/…`): made 0700, and used
    /// only when it is this user's own real folder that no one else can write to.
    struct Refusal: Error { let text: String }

    static func privateFolder(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Result<String, Refusal> {
        let state = environment["XDG_STATE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            ?? environment["HOME"].flatMap { $0.hasPrefix("/") ? $0 + "/.local/state" : nil }
        guard let state else { return .failure(Refusal(text: "neither XDG_STATE_HOME nor HOME names a folder")) }
        let folder = state + "/nixactions/concurrency"
        _ = FastFiles.makeFolders(state)
        for path in [state + "/nixactions", folder] { _ = mkdir(path, 0o700) }
        var info = stat()
        guard lstat(folder, &info) == 0 else { return .failure(Refusal(text: "cannot make \(folder): \(String(cString: strerror(errno)))")) }
        guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(), info.st_mode & 0o077 == 0 else {
            return .failure(Refusal(text: "\(folder) is not a private folder of this user's"))
        }
        return .success(folder)
    }

    private static func record(_ fd: Int32, _ text: String) {
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    private static func append(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    private static func lines(_ path: String) -> [String] {
        guard case .success(let bytes) = FastFiles.readWhole(path, limit: 65_536) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}
