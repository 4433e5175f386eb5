import Synchronization

/// The run is being stopped at once (a second SIGINT/SIGTERM/SIGHUP): the CLI kills every process
/// of the run and exits, and meanwhile nothing new starts, no job (an `if: always()` one that a
/// killed job's end made ready) and no step.
public enum AbruptStop {
    private static let flag = Atomic<Bool>(false)

    public static var requested: Bool { flag.load(ordering: .acquiring) }

    public static func request() { flag.store(true, ordering: .releasing) }

    /// What the events say of a job, step or run it ended (the run's supervisor, closing a run
    /// whose host exited first, says the same).
    public static let reason = "stopped at once by a second signal; its processes were killed"
}
