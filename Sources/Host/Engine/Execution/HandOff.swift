import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The task executor of the run's own tasks (the scheduler, each job, each job's steps): it lets
/// the thread that sees an operation end go on with the job, instead of waking another thread.
///
/// When a step's process exits, a thread of the executor plugin sees it and completes the
/// operation. Without this executor the job's task would then be queued for a thread of Swift's
/// pool (an event loop), which has to be woken, and wakes the scheduler's task in turn: two more
/// context switches per job, each waiting for a CPU while the other job's process holds it, on
/// the path from one step's end to the next step's start. With it, the completing thread runs the
/// rest of the job, the scheduler's reaction and the next job's start (up to the next process
/// spawned), and goes back to waiting; a short job costs one wake, as it does under `make`.
///
/// Only a thread that calls `continueHere` runs tasks here, and only tasks that prefer this
/// executor: the plugin host calls it for an executor operation completed by a plugin's thread
/// (`HostRuntime.complete`), never for a timer or a cancellation. While such a thread runs tasks,
/// what they wake is queued on the same thread (a trampoline: never recursive, in order), and run
/// when the current one suspends or ends; at most one waits so, the rest go to the pool. Every
/// other `enqueue` goes to the pool the run's other tasks use (`pool`), as if the preference were
/// not there.
///
/// What runs here must never wait synchronously for work that only this thread could do: the
/// host's job code awaits what a plugin's thread does, so the completing thread never waits for
/// itself. (Some work does hold the thread while it lasts, a project copy or a job's cleanup; see
/// docs/architecture.md, "Threads".)
public final class HandOffExecutor: TaskExecutor, Sendable {
    public static let shared = HandOffExecutor()

    /// Where a task goes that may not run here: nil, Swift's global executor (libdispatch's pool;
    /// `globalConcurrentExecutor` does not go through an installed global-executor hook), or what
    /// `main` sets once, before any task runs, when the run's tasks use SwiftNIO's event loops.
    /// It must run the job with `runSynchronously(on: HandOffExecutor.shared.asUnownedTaskExecutor())`.
    nonisolated(unsafe) public static var pool: (@Sendable (UnownedJob) -> Void)?

    /// Per thread: whether this thread is running tasks here, what they woke meanwhile, and
    /// whether the next `enqueue` may start running here.
    private final class ThreadState {
        var running = false
        var permitted = false
        var queue: [UnownedJob] = []
        var next = 0  // the first of `queue` not run yet
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<AnyObject>.fromOpaque(pointer).release() }
        }
        return key
    }()

    private static func state(creating: Bool) -> ThreadState? {
        if let pointer = pthread_getspecific(key) { return Unmanaged<ThreadState>.fromOpaque(pointer).takeUnretainedValue() }
        guard creating else { return nil }
        let made = ThreadState()
        pthread_setspecific(key, Unmanaged.passRetained(made).toOpaque())
        return made
    }

    /// Run `resume` (which resumes a continuation): a task it wakes that prefers this executor
    /// goes on here, on this thread, before this returns.
    public static func continueHere(_ resume: () -> Void) {
        guard let state = state(creating: true) else { return resume() }
        if state.running { return resume() }  // already running tasks: what it wakes is queued
        state.permitted = true
        resume()
        state.permitted = false
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        guard let state = Self.state(creating: false), state.running || state.permitted,
              // One task waits here at most: a job whose end readies many (a fan-out) starts the
              // first here and hands the rest to the pool, whose threads start them in parallel.
              state.queue.count - state.next == 0
        else {
            if let pool = Self.pool { pool(UnownedJob(job)) } else { globalConcurrentExecutor.enqueue(job) }
            return
        }
        state.queue.append(UnownedJob(job))
        guard !state.running else { return }
        state.permitted = false
        state.running = true
        while state.next < state.queue.count {
            let next = state.queue[state.next]
            state.next += 1
            next.runSynchronously(on: asUnownedTaskExecutor())
        }
        state.queue.removeAll(keepingCapacity: true)
        state.next = 0
        state.running = false
    }
}
