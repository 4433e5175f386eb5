import CProcessSupport
import Foundation
import Synchronization

/// Threads for blocking waits on child processes, reused between steps.
///
/// Unlike a dispatch queue, the pool never makes work wait for a thread: a job goes to an idle
/// thread or to a new one. libdispatch on Linux cannot see that its threads are blocked, so a
/// queue holds a step's output reader back behind other blocked waits until it notices the stall
/// (seen here: six steps that wait for each other took 4.3 s instead of 0.7 s), and meanwhile the
/// step blocks on its full pipe. An idle thread exits after `idleTimeout`.
///
/// A thread that hands a process's end on (`handingBack`) may start the next process itself: the
/// host goes on with the job on this thread (see the host's `HandOffExecutor`) up to the next
/// step's spawn. The first wait asked for meanwhile is kept for this thread, to run as soon as it
/// is done, instead of waking another thread for it. So code running inside `handingBack` must
/// never block waiting for a wait it asked for (that wait has not started): it awaits instead.
public final class WaiterPool: Sendable {
    static let shared = WaiterPool()

    final class Worker: @unchecked Sendable {
        let wake = DispatchSemaphore(value: 0)
        var job: (@Sendable () -> Void)?  // set under the pool's lock before `wake` is signalled
        /// Only this worker's own thread reads and writes these two.
        var handingBack = false
        var next: (@Sendable () -> Void)?
    }

    /// The name of its threads (in `ps -L`, `perf`, `gdb`).
    static let threadName = "nxa-wait"

    /// The worker whose thread this is (nil on any other thread).
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Whether this thread is a worker handing a process's end back: a thread that may be kept,
    /// holding no lock, the one place a plugin completes with `complete_here` (ABI 1.3).
    public static var isHandingBack: Bool { currentWorker?.handingBack ?? false }

    fileprivate static var currentWorker: Worker? {
        pthread_getspecific(key).map { Unmanaged<Worker>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Run `body` (the end of a job: what resumes the task that waited) so that the first `run`
    /// it causes on this thread waits here next, once `body` returns.
    static func handingBack(_ body: () -> Void) {
        guard let worker = currentWorker, !worker.handingBack else { return body() }
        worker.handingBack = true
        body()
        worker.handingBack = false
    }

    private let idle = Mutex<[Worker]>([])
    let idleTimeout: DispatchTimeInterval = .seconds(60)

    func run(_ job: @escaping @Sendable () -> Void) {
        if let current = Self.currentWorker, current.handingBack, current.next == nil {
            current.next = job
            return
        }
        let worker: Worker? = idle.withLock { idle in
            guard let worker = idle.popLast() else { return nil }
            worker.job = job
            return worker
        }
        if let worker {
            worker.wake.signal()
            return
        }
        let fresh = Worker()
        fresh.job = job
        // With no thread to be had (a cgroup's pids.max, ulimit -u, ulimit -v) the wait must still
        // run (audit 57 H1): while the system says EAGAIN, the job goes to a worker that becomes
        // idle, or to a thread made once one can be; the shortage is said once. A step that
        // completes inline finishes on the thread, and the host may go on with its job there
        // (HandOffExecutor): the stack of the threads the host's tasks otherwise run on.
        var said = false
        while true {
            let error = DetachedThread.start(stackSize: 8 << 20) { [self] in
                nxa_name_thread(Self.threadName)
                loop(fresh)
            }
            if error == 0 { return }
            if !said {
                said = true
                let text = "nixactions: warning: cannot start a thread (\(String(cString: strerror(error)))): the limit of processes and "
                    + "threads (ulimit -u, a cgroup's pids.max) or of memory (ulimit -v) is reached; waiting for one\n"
                _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
            }
            guard error == EAGAIN else {
                // Not a shortage that can pass: the wait runs here (this thread blocks, but the step ends).
                fresh.job = nil
                job()
                return
            }
            let handed: Bool = idle.withLock { idle in
                guard let worker = idle.popLast() else { return false }
                worker.job = job
                worker.wake.signal()
                return true
            }
            if handed { return }
            usleep(50_000)
        }
    }

    private func loop(_ worker: Worker) {
        pthread_setspecific(Self.key, Unmanaged.passUnretained(worker).toOpaque())
        while true {
            var job = idle.withLock { _ in worker.job }
            while let current = job {
                current()
                job = worker.next
                worker.next = nil
            }
            idle.withLock { idle in
                worker.job = nil
                idle.append(worker)
            }
            if worker.wake.wait(timeout: .now() + idleTimeout) == .success { continue }
            // Timed out: leave, unless a job was handed over just now (then its signal is coming).
            let handedOver = idle.withLock { idle -> Bool in
                if let index = idle.firstIndex(where: { $0 === worker }) {
                    idle.remove(at: index)
                    return false
                }
                return true
            }
            guard handedOver else { return }
            worker.wake.wait()
        }
    }
}
