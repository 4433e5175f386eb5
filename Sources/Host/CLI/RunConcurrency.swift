import ArgumentParser
import Crypto
import Foundation
import NixActionsEngine
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A workflow's `concurrency` between runs: the runs of one project on this machine whose groups
/// are the same hold it one at a time, as GitHub holds a repository's groups.
///
/// The group is a lock file (`flock`) in a private folder of this user's (`TMPDIR`'s
/// `nixactions-concurrency-UID`, mode 0700), named by the SHA-256 of the project's real path and
/// the group: the run holding it keeps it until it ends, then removes the file (and the folder,
/// when it is empty) while it still holds the lock; a run killed outright has its supervisor do
/// that (`flock -n`: only while no other run holds it). A run that took a lock checks that the
/// file is still the one at the path (a run ending removed it meanwhile: it takes the new one).
/// A run that finds it held
/// - with `cancel-in-progress`, sends the holder SIGINT (a graceful cancel: its `always()` steps
///   run, it exits 130, saying which run of the group cancelled it), then waits for it to end;
/// - else waits, in the group's one waiting place (`queue: single`, the default): a run already
///   waiting there is cancelled (SIGINT, exit 130, saying so), as GitHub cancels a pending run
///   when a newer one comes; with `queue: max` every run waits its turn.
/// A run waiting is cancelled by its own signal at once (exit 130). Each file holds the pid of
/// its holder and, when asked, who cancelled it; no secret is in it (the group is hashed).
final class RunConcurrency: Sendable {
    let group: String
    /// The lock file, held until `finish` or the process's end.
    let path: String
    private let fd: Int32

    private init(group: String, path: String, fd: Int32) {
        self.group = group
        self.path = path
        self.fd = fd
    }

    /// The run has ended: the lock file goes (the lock still held, so no run holds the file
    /// removed), then the folder if it is empty; the lock is released as the descriptor closes.
    func finish() {
        unlink(path)
        rmdir(PathText.parent(path))
        close(fd)
    }

    /// The supervisor's cleanup for a run killed outright: the file goes only if no run holds it.
    var cleanupScript: String {
        let quoted = ShellWords.quote(path)
        return "flock -n \(quoted) rm -f -- \(quoted) 2>/dev/null; rmdir -- \(ShellWords.quote(PathText.parent(path))) 2>/dev/null; true\n"
    }

    /// Why the holder was asked to stop (the line a newer run wrote), or nil.
    func cancelRequest() -> String? {
        Self.lines(path).first { $0.hasPrefix("cancelled by ") }.map { String($0.dropFirst("cancelled by ".count)) }
    }

    /// Take the workflow's group (nil: it has none, or it is empty), waiting or cancelling as its
    /// settings say. Exits 2 for a group that cannot be evaluated, 130 when cancelled while waiting.
    static func enter(_ concurrency: JobConcurrency?, workflow: String, context: RunContext, project: String,
                      say: (String) -> Void) throws -> RunConcurrency? {
        guard let concurrency else { return nil }
        let expressions = DictionaryExpressionContext(context.staticContexts())
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
        guard let folder = privateFolder() else {
            say("warning: concurrency group '\(group)' is not held: no private folder for its lock in \(RunSupervision.temporaryBases[0])\n")
            return nil
        }
        let real = ProjectCheckout.real(project)
        let key = SHA256.hash(data: Data((real + "\n" + group).utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
        let path = folder + "/" + key + ".lock", waiting = folder + "/" + key + ".waiting"
        let me = String(getpid())
        var fd: Int32
        switch take(path) {
        case .taken(let taken):
            record(taken, "\(me)\n")
            return RunConcurrency(group: group, path: path, fd: taken)
        case .busy(let opened): fd = opened
        case .failed(let error):
            say("warning: concurrency group '\(group)' is not held: cannot open \(path): \(String(cString: strerror(error)))\n")
            return nil
        }
        let holder = lines(path).first ?? "?"
        if cancel {
            append(path, "cancelled by a newer run of concurrency group '\(group)' (pid \(me), cancel-in-progress)\n")
            if let pid = pid_t(holder), pid > 1 { kill(pid, SIGINT) }
            say("nixactions: cancelling the run of concurrency group '\(group)' in progress (pid \(holder)): cancel-in-progress\n")
        }
        // The group's one waiting place (queue: single): a run waiting there gives way.
        var place: Int32 = -1
        if !concurrency.queueMax {
            switch take(waiting) {
            case .taken(let taken): place = taken
            case .busy(var opened):
                let older = lines(waiting).first ?? "?"
                append(waiting, "cancelled by a newer run of concurrency group '\(group)' (pid \(me)), which waits in its place\n")
                if let pid = pid_t(older), pid > 1 { kill(pid, SIGINT) }
                say("nixactions: cancelling the run waiting in concurrency group '\(group)' (pid \(older)): this one waits in its place\n")
                guard wait(for: waiting, fd: &opened, cancelled: { "nixactions: cancelled while waiting for concurrency group '\(group)'\n" }, say: say) else {
                    throw ExitCode(ExitStatus.cancelled)
                }
                place = opened
            case .failed: break  // no waiting place: this run waits all the same
            }
            if place >= 0 { record(place, "\(me)\n") }
        }
        if !cancel { say("nixactions: waiting: a run of concurrency group '\(group)' is in progress (pid \(holder))\n") }
        let took = wait(for: path, fd: &fd, cancelled: {
            // Told by a newer run that it waits in this one's place, or stopped by the user.
            if place >= 0, let why = lines(waiting).first(where: { $0.hasPrefix("cancelled by ") }) {
                return "nixactions: cancelled while waiting: " + why.dropFirst("cancelled by ".count) + "\n"
            }
            return "nixactions: cancelled while waiting for concurrency group '\(group)'\n"
        }, say: say)
        if place >= 0 {
            // The waiting place is free for the next run: its file goes while this run holds it.
            unlink(waiting)
            close(place)
        }
        guard took else {
            if fd >= 0 { close(fd) }
            throw ExitCode(ExitStatus.cancelled)
        }
        record(fd, "\(me)\n")
        return RunConcurrency(group: group, path: path, fd: fd)
    }

    enum Taking {
        /// Locked, and still the file at the path.
        case taken(Int32)
        /// Another run holds it (the descriptor is open, not locked).
        case busy(Int32)
        case failed(Int32)
    }

    /// Lock the file at `path`, made if need be (its folder too); a file a run removed while this
    /// one took it is let go and the new one taken.
    static func take(_ path: String) -> Taking {
        for _ in 0..<100 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else {
                let error = errno
                // The folder went with the last run that used it: made again.
                if error == ENOENT, privateFolder() != nil { continue }
                return .failed(error)
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return .busy(fd) }
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
    /// opened again (`fd` is then the new one). False (after saying why) when a signal came first.
    private static func wait(for path: String, fd: inout Int32, cancelled: () -> String?, say: (String) -> Void = { _ in }) -> Bool {
        // A signal now ends the wait, not the process.
        SignalHub.handler.withLock { $0 = { _ in } }
        defer { SignalHub.handler.withLock { $0 = nil } }
        while true {
            if SignalHub.received.load(ordering: .relaxed) {
                if let why = cancelled() { say(why) }
                return false
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
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

    /// `TMPDIR`'s `nixactions-concurrency-UID`: made 0700, and used only when it is this user's
    /// own real folder that no one else can write to.
    private static func privateFolder() -> String? {
        let folder = RunSupervision.temporaryBases[0] + "/nixactions-concurrency-" + String(getuid())
        _ = mkdir(folder, 0o700)
        var info = stat()
        guard lstat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(), info.st_mode & 0o077 == 0 else { return nil }
        return folder
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
        guard case .success(let bytes) = FastFiles.readWhole(path, limit: 4096) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
