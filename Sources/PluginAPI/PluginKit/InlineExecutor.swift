/// A task executor that runs each job at once on the thread that enqueues it.
///
/// It is what makes a step *complete inline* (`ExecutorPlugin.completesStepsInline`): a step's
/// task prefers this executor, so when the thread that saw the step's process end resumes the
/// task, the rest of the step (its capture files, its result, `complete` to the host) runs right
/// there, instead of being handed to a thread of Swift's pool first. One thread hand-off fewer
/// per step; the host's own task is then the only one woken.
///
/// Only for work that never blocks and never runs long between suspensions: whatever thread
/// resumes the task (a process waiter, a timer, the canceller) runs it.
final class InlineTaskExecutor: TaskExecutor, Sendable {
    static let shared = InlineTaskExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        job.runSynchronously(on: asUnownedTaskExecutor())
    }
}
