import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Writes to file descriptors that never crash the host (Foundation's `FileHandle.write` traps on
/// any error, e.g. a full disk or a closed pipe), and that a reader who stopped reading cannot
/// hold forever once the run is cancelled.
///
/// Standard output and standard error are often pipes (`nixactions run … | tee`). A pipe whose
/// reader stopped reading (a paused pager, a stuck CI agent) would keep a blocking `write` in the
/// kernel for good, with the console writer's lock held, so that neither a cancel nor a second
/// signal could end the run. Writes to a pipe or socket on descriptors 1 and 2 therefore never
/// ask for more than the pipe has room for (`F_GETPIPE_SZ` less what `FIONREAD` says is queued,
/// less two pages for partly filled ones; a socket is sent to with `MSG_DONTWAIT`), and wait for
/// room in `poll` slices of 100 ms. Until `abandonStalledOutput()`, they wait as long as it takes
/// (the reader's pace is the run's pace, as for make); after it, a write that finds no room gives
/// up with EAGAIN and its bytes are dropped (the job logs still have them). Regular files and
/// terminals are written as before.
public enum StandardStreams {
    /// Set by `abandonStalledOutput()`.
    private static let giveUp = Atomic<Bool>(false)

    /// The run is being cancelled or the process is exiting: console writes stop waiting for a
    /// reader that does not read (within 100 ms, also a write already waiting).
    public static func abandonStalledOutput() { giveUp.store(true, ordering: .relaxed) }

    /// How descriptor 1 or 2 is written, found on its first write.
    private final class Console: Sendable {
        let fd: Int32
        /// 0 plain, 1 a pipe, 2 a socket; -1 not looked at yet.
        let kind = Atomic<Int>(-1)
        /// A pipe's capacity (`F_GETPIPE_SZ`).
        let capacity = Atomic<Int>(0)
        init(_ fd: Int32) { self.fd = fd }

        func look() -> Int {
            let known = kind.load(ordering: .relaxed)
            if known >= 0 { return known }
            var info = stat()
            var found = 0
            if fstat(fd, &info) == 0 {
                switch info.st_mode & S_IFMT {
                case S_IFIFO:
                    let size = fcntl(fd, 1032)  // F_GETPIPE_SZ (F_LINUX_SPECIFIC_BASE + 8), not in Glibc's module
                    if size > 0 {
                        capacity.store(Int(size), ordering: .relaxed)
                        found = 1
                    }
                case S_IFSOCK: found = 2
                default: break
                }
            }
            kind.store(found, ordering: .relaxed)
            return found
        }
    }

    private static let consoles = [Console(STDOUT_FILENO), Console(STDERR_FILENO)]

    /// The descriptor the host's standard output goes to: 1, or the private copy of it that
    /// `keepOutputFromPlugins()` made.
    private static let output = Atomic<Int32>(STDOUT_FILENO)
    /// How that copy is written (set once, before `output` names it).
    nonisolated(unsafe) private static var keptConsole: Console?

    /// Where the host writes its standard output (the console, `--log-format json`'s stream).
    public static var outputDescriptor: Int32 { output.load(ordering: .acquiring) }

    /// Plugins run in this process and share its descriptors: one that writes to descriptor 1 (a
    /// debug `printf`, a library's warning) put its bytes inside the run's console output, or in
    /// the middle of a `--log-format json` stream's line, which its reader then could not parse
    /// (audit 61 ABI M7). From here on the host writes its standard output to a private copy of
    /// descriptor 1 (close-on-exec), and descriptor 1 is standard error: what anything else writes
    /// there is kept, on standard error. Call it before the first plugin loads and before any
    /// other thread writes standard output. Returns false, changing nothing, when descriptor 1
    /// or 2 is not open or no descriptor is left.
    @discardableResult
    public static func keepOutputFromPlugins() -> Bool {
        guard output.load(ordering: .acquiring) == STDOUT_FILENO,
            fcntl(STDOUT_FILENO, F_GETFD) >= 0, fcntl(STDERR_FILENO, F_GETFD) >= 0
        else { return false }
        let copy = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)
        guard copy >= 0 else { return false }
        fflush(nil)  // all of stdio's buffers (stdout among them) before descriptor 1 changes
        guard dup2(STDERR_FILENO, STDOUT_FILENO) >= 0 else {
            close(copy)
            return false
        }
        keptConsole = Console(copy)
        output.store(copy, ordering: .releasing)
        return true
    }

    /// Write all of `text` to `fd`. Returns nil, or the errno that stopped it (EPIPE, ENOSPC, …).
    @discardableResult
    public static func write(_ text: String, to fd: Int32) -> Int32? {
        var text = text
        return text.withUTF8 { write(UnsafeRawBufferPointer($0), to: fd) }
    }

    /// Write all of `bytes` to `fd`. Returns nil, or the errno that stopped it (EAGAIN: a stalled
    /// console pipe after `abandonStalledOutput()`).
    @discardableResult
    public static func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32) -> Int32? {
        guard let base = bytes.baseAddress else { return nil }
        let kept = output.load(ordering: .acquiring)
        let console = fd == STDERR_FILENO ? consoles[1]
            : fd == kept && kept != STDOUT_FILENO ? keptConsole
            : fd == STDOUT_FILENO ? consoles[0] : nil
        let kind = console?.look() ?? 0
        var offset = 0
        while offset < bytes.count {
            var size = bytes.count - offset
            if kind == 1 {
                // Never more than the pipe has room for: a write that has to wait would wait in
                // the kernel, where nothing can call it off.
                var queued: Int32 = 0
                let asked = withUnsafeMutablePointer(to: &queued) { ioctl(fd, UInt(FIONREAD), $0) }
                let room = asked == 0 ? (console?.capacity.load(ordering: .relaxed) ?? 0) - Int(queued) - 8192 : 0
                if room < 4096 {
                    guard waitForRoom(fd) else { return EAGAIN }
                    size = min(size, 4096)  // POLLOUT: a free page, which a page's worth always fits
                } else {
                    size = min(size, room)
                }
            }
            let written = kind == 2 ? send(fd, base + offset, size, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) : Glibc.write(fd, base + offset, size)
            if written < 0 {
                if errno == EINTR { continue }
                // A socket, or a terminal or pipe another program left non-blocking (audit 61 M4:
                // the console went silent for the rest of the run at its first full buffer).
                if (kind == 2 || console != nil) && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    guard waitForRoom(fd) else { return EAGAIN }
                    continue
                }
                if kind == 2 && errno == ENOTSOCK {
                    console?.kind.store(0, ordering: .relaxed)
                    continue
                }
                return errno
            }
            offset += written
        }
        return nil
    }

    /// Wait until `fd` can be written to; false once the output is abandoned and it still cannot.
    private static func waitForRoom(_ fd: Int32) -> Bool {
        while true {
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&entry, 1, 100)
            if ready > 0 { return true }  // room, or an error the write will report
            if ready < 0 && errno != EINTR { return true }
            if giveUp.load(ordering: .relaxed) { return false }
        }
    }

    /// Standard output; a reader that went away (`nixactions run … | head`) is ignored: the run
    /// goes on and cleans up, and its logs are still kept.
    public static func writeOutput(_ text: String) { write(text, to: outputDescriptor) }

    /// Standard error, ignoring errors likewise; kept too while `captureErrors` is on. Masked
    /// with `maskErrors`'s function once one is set.
    public static func writeError(_ text: String) {
        let text = errorMask.withLock { $0 }.map { $0(text) } ?? text
        captured.withLock { kept in
            if kept != nil, kept!.utf8.count < 65_536 { kept!.append(text) }
        }
        write(text, to: STDERR_FILENO)
    }

    /// What masks everything `writeError` writes, from the moment a command knows the secrets
    /// at hand (`run`, right after loading its workflow: an error before the run starts, such as
    /// an unknown job or a runs-on label no executor takes, may quote a value; audit 63 secrets M1).
    private static let errorMask = Mutex<(@Sendable (String) -> String)?>(nil)

    /// Mask what standard error is given from now on with `mask` (nil: no more masking).
    public static func maskErrors(_ mask: (@Sendable (String) -> String)?) { errorMask.withLock { $0 = mask } }

    /// What standard error was given since `captureErrors()` (its first 64 KiB or so), or nil.
    private static let captured = Mutex<String?>(nil)

    /// Keep what standard error is given from now on (`run --log-format json` until its stream
    /// starts: a run that stops before says why in the stream too).
    public static func captureErrors() { captured.withLock { $0 = "" } }

    /// What was kept since `captureErrors()`, which ends.
    @discardableResult
    public static func endCapture() -> String { captured.withLock { kept in defer { kept = nil }; return kept ?? "" } }
}
