import Synchronization

/// What a finished job (one matrix instance) leaves for the jobs that need it and for the report.
public struct JobOutcome: Sendable {
    public var key: String
    public var jobID: String
    public var name: String
    public var outcome: Outcome
    public var failure: JobFailure?
    public var duration: Duration
    /// `needs.<job>.outputs`.
    public var outputs: [String: String]
    /// Failed, but allowed by `continue-on-error`.
    public var allowedFailure: Bool

    static func skipped(_ planned: PlannedJob, reason: String? = nil) -> JobOutcome {
        JobOutcome(key: planned.key, jobID: planned.jobID, name: planned.displayName, outcome: .skipped,
                   failure: reason.map { JobFailure(message: $0) }, duration: .zero, outputs: [:], allowedFailure: false)
    }
}

/// Thrown into a step or job when its time is up.
struct TimedOut: Error {}

/// Run `body`, cancelling it after `limit`. Returns nil when it timed out.
/// An outside cancellation is not a timeout: it reaches `body`, whose result is returned.
func withTimeout<T: Sendable>(_ limit: Duration?, _ body: @escaping @Sendable () async -> T) async -> T? {
    guard let limit else { return await body() }
    return await withTaskGroup(of: Race<T>.self) { group in
        group.addTask { .value(await body()) }
        group.addTask {
            do {
                try await Task.sleep(for: limit)
                return .timeout
            } catch {
                return .timerStopped
            }
        }
        var result: T?
        var timedOut = false
        while let next = await group.next() {
            switch next {
            case .value(let value):
                result = value
                group.cancelAll()
            case .timeout:
                timedOut = true
                group.cancelAll()  // the body winds down (its process tree ended); its value is dropped
            case .timerStopped:
                break
            }
        }
        return timedOut ? nil : result
    }
}

enum Race<T: Sendable>: Sendable {
    case value(T)
    case timeout
    case timerStopped
}

/// Set once when a job's time limit passes.
final class TimeoutFlag: Sendable {
    private let flag = Mutex<Bool>(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}

/// A problem found while running (an expression that cannot be evaluated), with its message.
struct RunProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
