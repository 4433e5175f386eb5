import Foundation
import Synchronization

/// Threads for blocking waits on child processes, reused between steps.
///
/// Unlike a dispatch queue, the pool never makes work wait for a thread: a job goes to an idle
/// thread or to a new one. libdispatch on Linux cannot see that its threads are blocked, so a
/// queue holds a step's output reader back behind other blocked waits until it notices the stall
/// (seen here: six steps that wait for each other took 4.3 s instead of 0.7 s), and meanwhile the
/// step blocks on its full pipe. An idle thread exits after `idleTimeout`.
final class WaiterPool: Sendable {
    static let shared = WaiterPool()

    final class Worker: @unchecked Sendable {
        let wake = DispatchSemaphore(value: 0)
        var job: (@Sendable () -> Void)?  // set under the pool's lock before `wake` is signalled
    }

    private let idle = Mutex<[Worker]>([])
    let idleTimeout: DispatchTimeInterval = .seconds(60)

    func run(_ job: @escaping @Sendable () -> Void) {
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
        let thread = Thread { [self] in loop(fresh) }
        thread.stackSize = 512 * 1024  // a step that completes inline finishes on this thread
        thread.start()
    }

    private func loop(_ worker: Worker) {
        while true {
            let job = idle.withLock { _ in worker.job }
            job?()
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
