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
///
/// One task runs `body`, and the `DeadlineTimer` cancels it at the limit: no timer task, no task
/// group (a step with `timeout-minutes` cost 0.15 ms of the host's CPU and 3.3 context switches
/// more than one without, with a group of a body task and a sleeping timer task).
func withTimeout<T: Sendable>(_ limit: Duration?, _ body: @escaping @Sendable () async -> T) async -> T? {
    let (value, timedOut) = await withTimeoutKeeping(limit, body)
    return timedOut ? nil : value
}

/// `withTimeout`, keeping what the body returned after it was cancelled at the limit.
func withTimeoutKeeping<T: Sendable>(_ limit: Duration?, _ body: @escaping @Sendable () async -> T) async -> (value: T, timedOut: Bool) {
    guard let limit else { return (await body(), false) }
    // 0 running, 1 finished first, 2 timed out first: whichever comes first wins.
    let state = Atomic<Int>(0)
    let work = Task(executorPreference: HandOffExecutor.shared) {
        let value = await body()
        _ = state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing)
        return value
    }
    let timer = DeadlineTimer.shared.schedule(after: limit) {
        if state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged { work.cancel() }
    }
    let value = await withTaskCancellationHandler { await work.value } onCancel: { work.cancel() }
    DeadlineTimer.shared.cancel(timer)
    // Timed out: the body was cancelled and wound down.
    return (value, state.load(ordering: .acquiring) == 2)
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
