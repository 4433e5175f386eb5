import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs work that SIGINT or SIGTERM cancel (gracefully: the run's jobs get to clean up).
enum CancellationOnSignal {
    /// - Parameter onSignal: called (once per signal) before the work is cancelled.
    static func run<T: Sendable>(onSignal: @escaping @Sendable () -> Void = {}, _ work: @escaping @Sendable () async -> T) async -> T {
        let task = Task { await work() }
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("\nnixactions: cancelling (signal \(number)); cleaning up…\n".utf8))
                onSignal()
                task.cancel()
            }
            source.resume()
            return source
        }
        let result = await task.value
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        return result
    }
}
