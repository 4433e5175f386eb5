import Foundation
@testable import NixActionsProcessKit
import Synchronization
import Testing

@Suite("WaiterPool: the threads that wait for processes")
struct WaiterPoolTests {
    /// Runs `outer` on a thread of a new pool; `outer` gets the pool and a log, and the call waits
    /// until `expected` lines are logged (or 5 s pass).
    final class Log: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    private func run(expected: Int, _ outer: @escaping @Sendable (WaiterPool, Log) -> Void) async -> [String] {
        let pool = WaiterPool()
        let log = Log()
        pool.run { outer(pool, log) }
        let deadline = ContinuousClock.now + .seconds(5)
        while log.all.count < expected && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return log.all
    }

    private static func thread() -> String { "\(pthread_self())" }

    @Test("a wait asked for while a thread hands a process's end on runs next on that thread, after what it is doing")
    func handingBackKeepsTheNextWait() async {
        let log = await run(expected: 3) { pool, log in
            let outer = Self.thread()
            WaiterPool.handingBack {
                pool.run { log.append(Self.thread() == outer ? "next, same thread" : "next, another thread") }
                pool.run { log.append(Self.thread() == outer ? "second, same thread" : "second, another thread") }
                Thread.sleep(forTimeInterval: 0.05)  // neither starts meanwhile on this thread
                log.append("handed back")
            }
        }
        #expect(log.count == 3)
        #expect(log.first == "handed back" || log.first == "second, another thread")
        #expect(log.contains("next, same thread"))
        #expect(log.contains("second, another thread"), "only the first wait is kept; the next wakes another thread")
        if let handed = log.firstIndex(of: "handed back"), let next = log.firstIndex(of: "next, same thread") {
            #expect(handed < next)
        }
    }

    @Test("outside handingBack a wait always goes to another thread, at once")
    func otherwiseAnotherThread() async {
        let log = await run(expected: 2) { pool, log in
            let outer = Self.thread()
            let started = DispatchSemaphore(value: 0)
            pool.run {
                log.append(Self.thread() == outer ? "same thread" : "another thread")
                started.signal()
            }
            // The inner wait runs while this one still runs.
            let ran = started.wait(timeout: .now() + 5) == .success
            log.append(ran ? "ran meanwhile" : "did not run meanwhile")
        }
        #expect(log == ["another thread", "ran meanwhile"])
    }

    @Test("its threads are named for ps and perf, and have 8 MiB stacks (the host's code runs on them)")
    func named() async {
        let log = await run(expected: 1) { _, log in
            log.append(currentThreadName() + " " + String(Thread.current.stackSize))
        }
        #expect(log == [WaiterPool.threadName + " " + String(8 << 20)])
    }
}
