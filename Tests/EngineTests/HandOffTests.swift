import Foundation
@testable import NixActionsEngine
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The thread a piece of code runs on.
private func currentThread() -> UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(bitPattern: UInt(pthread_self())))) }

/// Lines appended from several threads.
private final class Log: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// A continuation that a task preferring `HandOffExecutor` (or not) waits on, and the thread the
/// task goes on on once it is resumed.
private final class Waiter: Sendable {
    private final class Slot: Sendable {
        let continuation = Mutex<CheckedContinuation<Void, Never>?>(nil)
    }
    private let slot = Slot()
    let task: Task<UInt, Never>

    init(prefersHandOff: Bool, log: Log? = nil, name: String = "") {
        let slot = self.slot
        task = Task(executorPreference: prefersHandOff ? HandOffExecutor.shared : nil) {
            await withCheckedContinuation { continuation in slot.continuation.withLock { $0 = continuation } }
            log?.append("\(name) runs")
            return currentThread()
        }
    }

    /// Waits until the task has handed over its continuation, and a little more for it to suspend.
    func suspended() async {
        while slot.continuation.withLock({ $0 == nil }) { try? await Task.sleep(for: .milliseconds(2)) }
        try? await Task.sleep(for: .milliseconds(30))
    }

    func resume() { slot.continuation.withLock { $0 }?.resume() }
}

/// Runs `body` on a new thread of its own and returns that thread, which stays alive until the
/// semaphore is signalled: a thread that has exited may see its `pthread_t` reused by a pool
/// thread, and the comparisons below would mean nothing.
private func onNewThread(_ body: @escaping @Sendable () -> Void) async -> (UInt, DispatchSemaphore) {
    let gate = DispatchSemaphore(value: 0)
    let thread = await withCheckedContinuation { (done: CheckedContinuation<UInt, Never>) in
        Thread {
            body()
            done.resume(returning: currentThread())
            gate.wait()
        }.start()
    }
    return (thread, gate)
}

@Suite("HandOffExecutor: the thread that completes an operation goes on with the job")
struct HandOffTests {
    /// Up to five tries: a task resumed before it has quite suspended goes on where it was, which
    /// says nothing about the executor; every try failing does.
    private func eventually(_ attempt: () async -> Bool) async -> Bool {
        for _ in 0..<5 where await attempt() { return true }
        return false
    }

    @Test("a task that prefers it goes on on the thread that resumes it through continueHere")
    func continuesOnTheResumingThread() async {
        let continued = await eventually {
            let waiter = Waiter(prefersHandOff: true)
            await waiter.suspended()
            let (resumer, gate) = await onNewThread { HandOffExecutor.continueHere { waiter.resume() } }
            defer { gate.signal() }
            return await waiter.task.value == resumer
        }
        #expect(continued)
    }

    @Test("without continueHere, or without the preference, the task goes to the pool, never onto the resuming thread")
    func otherwiseThePool() async {
        for (prefers, through) in [(true, false), (false, true)] {
            let waiter = Waiter(prefersHandOff: prefers)
            await waiter.suspended()
            let (resumer, gate) = await onNewThread {
                if through { HandOffExecutor.continueHere { waiter.resume() } } else { waiter.resume() }
            }
            #expect(await waiter.task.value != resumer, "prefers: \(prefers), continueHere: \(through)")
            gate.signal()
        }
    }

    @Test("what a task running there wakes runs after it on the same thread, never inside it; a second one goes to the pool")
    func trampoline() async {
        let worked = await eventually {
            let log = Log()
            let second = Waiter(prefersHandOff: true, log: log, name: "second")
            let third = Waiter(prefersHandOff: true, log: log, name: "third")
            await second.suspended()
            await third.suspended()
            let first = Waiter(prefersHandOff: true)
            await first.suspended()
            // `first` goes on on the new thread and wakes the other two from there.
            let woken = Task(executorPreference: HandOffExecutor.shared) {
                _ = await first.task.value
                log.append("first wakes second")
                second.resume()
                log.append("first wakes third")
                third.resume()
                log.append("first ends")
                return currentThread()
            }
            try? await Task.sleep(for: .milliseconds(30))  // `woken` waits for `first` meanwhile
            let (resumer, gate) = await onNewThread { HandOffExecutor.continueHere { first.resume() } }
            defer { gate.signal() }
            let wokenThread = await woken.value
            let firstThread = await first.task.value
            let secondThread = await second.task.value
            let thirdThread = await third.task.value
            let order = log.all
            guard firstThread == resumer, wokenThread == resumer, secondThread == resumer else { return false }
            #expect(thirdThread != resumer, "only one task waits on the thread; the next goes to the pool")
            // `second` ran after `woken` ended, not inside its `resume()`.
            let ends = order.firstIndex(of: "first ends"), runs = order.firstIndex(of: "second runs")
            #expect(ends != nil && runs != nil && ends! < runs!, "\(order)")
            return true
        }
        #expect(worked)
    }
}
