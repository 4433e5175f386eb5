/// Where the messages a plugin writes about one of its operations go (`log_op` in the ABI: an
/// S3 retry, an eviction, files that changed while they were archived): the job whose task
/// started the operation sets the route, and the plugin host reads it when it starts the
/// operation. They then reach the job's log, its events and the console with the job's prefix.
/// Without a route (a `nixactions cache` command, an operation of no job) they go to standard error.
public final class OperationMessages: Sendable {
    private let deliver: @Sendable (MessageLevel, String) -> Void

    public init(_ deliver: @escaping @Sendable (MessageLevel, String) -> Void) {
        self.deliver = deliver
    }

    /// Pass one message on.
    public func send(_ level: MessageLevel, _ text: String) { deliver(level, text) }

    /// The route of the task that runs now. A class, not a closure, is the task-local's value: an
    /// optional closure there crashed `swift_task_localValuePush` in release builds (Swift 6.3.1).
    @TaskLocal public static var route: OperationMessages?
}
