import Synchronization

/// The run is being stopped at once (a second SIGINT/SIGTERM/SIGHUP, or a run that cannot go on:
/// a plugin's call that never returned): the CLI kills every process of the run and exits, and
/// meanwhile nothing new starts, no job (an `if: always()` one that a killed job's end made
/// ready) and no step.
public enum AbruptStop {
    private static let flag = Atomic<Bool>(false)
    private static let failureText = Mutex<String?>(nil)

    public static var requested: Bool { flag.load(ordering: .acquiring) }

    /// A second signal: what it ends is `cancelled`.
    public static func request() { flag.store(true, ordering: .releasing) }

    /// A run that cannot go on, and why (one line, masked): what it ends is a `failure`, with
    /// `ended` as the message.
    public static func request(failure: String) {
        failureText.withLock { $0 = failure }
        flag.store(true, ordering: .releasing)
    }

    /// Why the run was stopped, when it was not a second signal.
    public static var failure: String? { requested ? failureText.withLock { $0 } : nil }

    /// What the events say of a job, step or run it ended (the run's supervisor, closing a run
    /// whose host exited first, says the same).
    public static let reason = "stopped at once by a second signal; its processes were killed"

    /// What the events say of what a stop for `failure` ended (the supervisor says the same).
    public static func ended(by failure: String) -> String { "the run was ended: \(failure)" }

    /// The message for what this stop ended.
    public static var message: String { failure.map(ended(by:)) ?? reason }

    /// What a step this stop killed ended as: `cancelled` (a second signal), or `failure` with why
    /// (a run that could not go on); the step's own message is then not said.
    public static var stepEnd: (outcome: Outcome, message: String?) {
        let failure = self.failure
        return (failure == nil ? .cancelled : .failure, failure.map(ended(by:)))
    }
}
