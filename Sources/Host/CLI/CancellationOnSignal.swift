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
        let task = Task { await work() }
        for number in signals { signal(number, SIG_IGN) }
        let count = Atomic<Int>(0)
        let sources = signals.map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if count.add(1, ordering: .relaxed).newValue == 1 {
                    StandardStreams.writeError("\nnixactions: cancelling (signal \(number)); cleaning up… (signal again to stop at once)\n")
                    onSignal()
                    task.cancel()
                } else {
                    StandardStreams.writeError("\nnixactions: second signal (\(number)): killing every process of the run now\n")
                    onSecondSignal()
                    _exit(ExitStatus.cancelled)
                }
            }
            source.resume()
            return source
        }
        let result = await task.value
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
        return result
    }
}
