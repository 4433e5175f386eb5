import Foundation
import NixActionsEngine
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs work that SIGINT, SIGTERM or SIGHUP cancel.
///
/// The first signal cancels gracefully: the run's jobs end their steps (SIGTERM, then SIGKILL
/// after the grace time) and still run their `always()` steps and jobs. A second signal of any of
/// the three does not wait for any of that: `onSecondSignal` kills everything at once and the
/// process exits with 130.
enum CancellationOnSignal {
    static let signals = [SIGINT, SIGTERM, SIGHUP]

    /// - Parameters:
    ///   - onSignal: called on the first signal, before the work is cancelled.
    ///   - onSecondSignal: called on the second signal, before the process exits with 130.
    static func run<T: Sendable>(
        onSignal: @escaping @Sendable () -> Void = {},
        onSecondSignal: @escaping @Sendable () -> Void = {},
        _ work: @escaping @Sendable () async -> T
    ) async -> T {
        // The handlers are in place before the work starts: a signal that came between the two
        // would otherwise be ignored (SIG_IGN) and the run would go on.
        for number in signals { signal(number, SIG_IGN) }
        let count = Atomic<Int>(0)
        let started = Mutex<Task<T, Never>?>(nil)
        let sources = signals.map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if count.add(1, ordering: .relaxed).newValue == 1 {
                    StandardStreams.writeError("\nnixactions: cancelling (signal \(number)); cleaning up… (signal again to stop at once)\n")
                    onSignal()
                    started.withLock { $0 }?.cancel()  // nil: cancelled as soon as it exists
                } else {
                    StandardStreams.writeError("\nnixactions: second signal (\(number)): killing every process of the run now\n")
                    onSecondSignal()
                    _exit(ExitStatus.cancelled)
                }
            }
            source.resume()
            return source
        }
        let task = Task { await work() }
        started.withLock { $0 = task }
        if count.load(ordering: .relaxed) > 0 { task.cancel() }
        let result = await task.value
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
        return result
    }
}
