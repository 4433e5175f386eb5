import Synchronization
import NixActionsProcessKit

#if canImport(Glibc)
    import Glibc
#endif

/// Runs actions at deadlines, on one thread of its own.
///
/// A job's time limit and the watchdog of each plugin operation that has a deadline (starting a
/// job, its cleanup) were each a task sleeping on a timer: a task made, a timer armed, then both
/// cancelled a few milliseconds later, which woke two threads per deadline (`perf sched`) for
/// deadlines that almost never pass. Here a deadline is an entry in a table: scheduling one wakes
/// the timer's thread only when it is earlier than every pending one, cancelling one never does.
///
/// An action runs on the timer's thread, after its entry left the table: it must be short and must
/// not block (cancel a task, complete an operation). One that is cancelled while it is being taken
/// out may still run, as a sleeping task woken at that moment would have; actions check their own
/// state.
public final class DeadlineTimer: @unchecked Sendable {
    public static let shared = DeadlineTimer()

    public struct Token: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        let at: UInt64  // CLOCK_MONOTONIC, nanoseconds
        let action: @Sendable () -> Void
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 0
        /// What the thread sleeps until (UInt64.max: no deadline). Never later than the earliest
        /// entry; it may be earlier, when that entry was cancelled (the thread then wakes for
        /// nothing and looks again).
        var wakeAt = UInt64.max
        var threadStarted = false
        /// The thread could not be made: deadlines are sleeping tasks (`fireLater`).
        var threadless = false
    }

    // pthread objects: the condition waits on CLOCK_MONOTONIC, so a change of the wall clock moves
    // no deadline. Allocated once, never freed (the timer lives as long as the process).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var state = State()  // guarded by `mutex`

    /// `threadAvailable: false` (tests) behaves as if the thread could not be made.
    private let threadAvailable: Bool

    public convenience init() { self.init(threadAvailable: true) }

    init(threadAvailable: Bool) {
        self.threadAvailable = threadAvailable
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let whole = UInt64(clamping: seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return whole.overflow ? UInt64.max / 2 : whole.partialValue &+ UInt64(attoseconds / 1_000_000_000)
    }

    /// Run `action` once `delay` has passed, unless `cancel` comes first.
    @discardableResult
    public func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> Token {
        let now = Self.now()
        let wait = Self.nanoseconds(delay)
        let at = wait > UInt64.max - now ? UInt64.max - 1 : now + wait
        pthread_mutex_lock(mutex)
        state.nextID += 1
        let id = state.nextID
        state.entries[id] = Entry(at: at, action: action)
        let startThread = !state.threadStarted
        state.threadStarted = true
        let threadless = state.threadless
        let wake = at < state.wakeAt
        if wake { state.wakeAt = at }
        pthread_mutex_unlock(mutex)
        if startThread && !startThreadNow() {
            pthread_mutex_lock(mutex)
            state.threadless = true
            let pending = state.entries
            pthread_mutex_unlock(mutex)
            for (id, entry) in pending { fireLater(id, at: entry.at) }
        } else if threadless {
            fireLater(id, at: at)
        } else if wake {
            pthread_cond_signal(condition)
        }
        return Token(id: id)
    }

    /// Without the thread (it could not be started: the system is out of threads), a deadline is
    /// a sleeping task again, as before this timer; cancelling still only removes the entry.
    private func fireLater(_ id: UInt64, at: UInt64) {
        let now = Self.now()
        let wait = at > now ? at - now : 0
        Task.detached { [self] in
            try? await Task.sleep(for: .nanoseconds(Int64(clamping: wait)))
            pthread_mutex_lock(mutex)
            let entry = state.entries.removeValue(forKey: id)
            pthread_mutex_unlock(mutex)
            entry?.action()
        }
    }

    /// The action will not run (unless it was being taken out at this moment).
    public func cancel(_ token: Token) {
        pthread_mutex_lock(mutex)
        state.entries.removeValue(forKey: token.id)
        pthread_mutex_unlock(mutex)
    }

    /// How many deadlines are pending (for tests).
    var pending: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return state.entries.count
    }

    /// False when the thread could not be made.
    private func startThreadNow() -> Bool {
        guard threadAvailable else { return false }
        return DetachedThread.start(stackSize: 256 * 1024) { self.loop() } == 0
    }

    private func loop() {
        pthread_mutex_lock(mutex)
        while true {
            let now = Self.now()
            var due: [@Sendable () -> Void] = []
            var earliest = UInt64.max
            if state.wakeAt <= now {
                for (id, entry) in state.entries {
                    if entry.at <= now {
                        due.append(entry.action)
                        state.entries.removeValue(forKey: id)
                    } else if entry.at < earliest {
                        earliest = entry.at
                    }
                }
                state.wakeAt = earliest
            }
            if !due.isEmpty {
                pthread_mutex_unlock(mutex)
                for action in due { action() }
                pthread_mutex_lock(mutex)
                continue
            }
            if state.wakeAt == UInt64.max {
                pthread_cond_wait(condition, mutex)
            } else {
                var until = timespec(tv_sec: Int(state.wakeAt / 1_000_000_000), tv_nsec: Int(state.wakeAt % 1_000_000_000))
                pthread_cond_timedwait(condition, mutex, &until)
            }
        }
    }
}
