import CProcessSupport
import Foundation
import NixActionsEngine
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT, SIGTERM and SIGHUP, whichever thread the kernel hands them to.
///
/// `start()` installs a handler that only writes the signal's number to a pipe (async-signal-safe);
/// a thread of ours reads the pipe and does the work. (A `DispatchSource` needs the signal ignored,
/// and then a signal the kernel hands to a thread that does not block it is dropped: seen as a
/// lost SIGTERM. Blocking the signals everywhere is not possible either: the main thread's mask is
/// reset when it starts serving the main queue.) Handlers are reset to the default in every child
/// by `execve`.
///
/// A SIGHUP ignored when the process starts stays ignored (`nohup nixactions run …`: the run goes
/// on when the terminal goes, as with make); SIGINT and SIGTERM are always taken, so that a run
/// started in the background by a script can still be stopped.
public enum SignalHub {
    static let signals = [SIGINT, SIGTERM, SIGHUP]
    /// What a signal does now; nil: what it does by default (the process ends by it).
    static let handler = Mutex<(@Sendable (Int32) -> Void)?>(nil)
    /// A signal came (handled or not): a run that then ends without a failure exits 130.
    static let received = Atomic<Bool>(false)
    /// Whether a signal still counts (`received`): no longer once the exit status is decided and
    /// the run's record says it, so that the two agree (audit 65 cancel L1).
    static let counting = Atomic<Bool>(true)
    /// The last signal that counted.
    static let lastSignal = Atomic<Int32>(0)
    /// Says in the run's record that a signal came after its end, if nothing did yet (`run`
    /// sets it): called once, when the exit status is decided.
    public static let lateRecord = Mutex<(@Sendable (Int32) -> Void)?>(nil)

    /// The exit status of a `run` that ended with `status`: 130 if a signal came (said in the
    /// record if it was not yet); a signal after this changes nothing.
    static func finalStatus(_ status: Int32) -> Int32 {
        counting.store(false, ordering: .relaxed)
        guard status == 0, received.load(ordering: .acquiring) else { return status }
        lateRecord.withLock { $0 }?(lastSignal.load(ordering: .relaxed))
        return ExitStatus.cancelled
    }
    /// The pipe's write end, for the handler: an atomic (a plain static var's accessor may do
    /// exclusivity bookkeeping, not async-signal-safe); made in `start` before any handler exists.
    static let pipeWrite = Atomic<Int32>(-1)

    /// Call first thing in `main`.
    public static func start() {
        // Not on 0, 1 or 2: started with those closed (`nixactions run … >&-`), the pipe would take
        // them, and the console's writes would be read as signals.
        RunSupervision.ensureStandardDescriptors()
        // Made now, not first in the handler (lazy initialization is not async-signal-safe).
        received.store(false, ordering: .relaxed)
        counting.store(true, ordering: .relaxed)
        lastSignal.store(0, ordering: .relaxed)
        guard let pipe = closeOnExecPipe() else {
            unblockSignals()  // no handler: the signals end the process, as by default
            return
        }
        _ = fcntl(pipe.write, F_SETFL, O_NONBLOCK)  // a full pipe drops a signal rather than block the handler
        pipeWrite.store(pipe.write, ordering: .relaxed)
        pipeRead = pipe.read
        // The handler first: a signal already pending (see below) must find it in place.
        for number in signals {
            if number == SIGHUP && startsIgnored(number) { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                // Said at once (a lock-free store): a signal just before the exit still makes it 130,
                // even if the reader has not run yet.
                if SignalHub.counting.load(ordering: .relaxed) {
                    SignalHub.lastSignal.store(number, ordering: .relaxed)
                    // Releasing: whoever sees `received` sees the number too.
                    SignalHub.received.store(true, ordering: .releasing)
                }
                var byte = UInt8(truncatingIfNeeded: number)
                let saved = errno
                _ = write(SignalHub.pipeWrite.load(ordering: .relaxed), &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            if sigaction(number, &action, nil) == 0 { handled.append(number) }
        }
        if !startReader() {
            // Nobody would read what the handler writes: every signal would be lost, and a run
            // nobody can stop is worse than one stopped hard. The signals keep their default
            // action (the process ends by it; the run's supervisor cleans up after it), and one
            // that came meanwhile ends the process now.
            for number in handled { signal(number, SIG_DFL) }
            var ready = pollfd(fd: pipe.read, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 0) == 1 { _exit(130) }
        }
        unblockSignals()
    }

    nonisolated(unsafe) static var pipeRead: Int32 = -1
    /// The signals whose handler `start` installed (set before the reader starts).
    nonisolated(unsafe) static var handled: [Int32] = []

    /// The thread that reads the pipe, made with `pthread_create` so that a failure is seen
    /// (Foundation's `Thread.start()` ignores one: the signals would then go nowhere). A failure
    /// for lack of resources (EAGAIN: a process or memory limit reached for a moment, when many
    /// runs start at once) is tried again for a while. False: there is no reader.
    static func startReader() -> Bool {
        for attempt in 0..<100 {
            // What a signal does runs here (cancelling the run's tasks runs their cancellation
            // handlers on this thread): room for that, in memory only used when touched.
            let made = DetachedThread.start(stackSize: 1 << 20) { SignalHub.readSignals() }
            if made == 0 { return true }
            guard made == EAGAIN, attempt < 99 else { return false }
            usleep(10_000)
        }
        return false
    }

    /// The reader's loop: one byte per signal, each handed to `handler`.
    static func readSignals() {
        // This thread can always take the signals, whatever mask it inherited: a process
        // started from a thread that blocks them (a libdispatch worker of another Swift
        // program, some CI agents) inherits that mask, the main thread may exit (dispatch_main),
        // and the threads libdispatch makes block them: without this, nobody would take them.
        unblockSignals()
        nxa_name_thread("nxa-signals")
        let reader = pipeRead
        var byte: UInt8 = 0
        while true {
            let count = read(reader, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else {
                // The pipe is gone (never expected): signals take their default action again
                // rather than vanish.
                for number in handled { signal(number, SIG_DFL) }
                return
            }
            let number = Int32(byte)
            received.store(true, ordering: .relaxed)
            if let handler = handler.withLock({ $0 }) {
                handler(number)
            } else {
                // Nobody handles it (a run starting, before there is anything to cancel, or
                // a command without cleanup): end with the status of a cancel, 130, not by
                // the signal (143, 129): what the supervisor would clean up, it still does.
                _exit(130)
            }
        }
    }

    /// Whether `number` was ignored (SIG_IGN) when this process started, as `nohup` leaves SIGHUP.
    static func startsIgnored(_ number: Int32) -> Bool {
        var current = sigaction()
        guard sigaction(number, nil, &current) == 0, let handler = current.__sigaction_handler.sa_handler else { return false }
        return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    static func unblockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

/// Runs work that SIGINT, SIGTERM or SIGHUP cancel.
///
/// The first signal cancels gracefully: the run's jobs end their steps (SIGTERM, then SIGKILL
/// after the grace time) and still run their `always()` steps and jobs. A second signal of any of
/// the three does not wait for any of that: `onSecondSignal` kills everything at once and the
/// process exits with 130.
enum CancellationOnSignal {
    /// - Parameters:
    ///   - onSignal: called with the first signal's number, before the work is cancelled.
    ///   - onSecondSignal: called with the second signal's number, before the process exits with 130.
    static func run<T: Sendable>(
        onSignal: @escaping @Sendable (Int32) -> Void = { _ in },
        onSecondSignal: @escaping @Sendable (Int32) -> Void = { _ in },
        _ work: @escaping @Sendable () async -> T
    ) async -> T {
        let count = Atomic<Int>(0)
        let started = Mutex<Task<T, Never>?>(nil)
        SignalHub.handler.withLock {
            $0 = { number in
                if count.add(1, ordering: .relaxed).newValue == 1 {
                    // From here on, a console nobody reads cannot hold the run (or this thread).
                    StandardStreams.abandonStalledOutput()
                    StandardStreams.writeError("\nnixactions: cancelling (signal \(number)); cleaning up… (signal again to stop at once)\n")
                    onSignal(number)
                    started.withLock { $0 }?.cancel()  // nil: cancelled as soon as it exists
                } else {
                    StandardStreams.writeError("\nnixactions: second signal (\(number)): killing every process of the run now\n")
                    AbruptStop.request()
                    onSecondSignal(number)
                    _exit(ExitStatus.cancelled)
                }
            }
        }
        let task = Task { await work() }
        started.withLock { $0 = task }
        if count.load(ordering: .relaxed) > 0 { task.cancel() }
        let result = await task.value
        // A signal from here to the exit (the summary, removing the run folder) lets that finish;
        // the run then exits 130 (`SignalHub.received`), as does one whose cancel came too late to
        // stop anything.
        SignalHub.handler.withLock { $0 = { _ in } }
        return result
    }
}
