/// Where the messages a plugin writes about one of its operations go (`log_op` in the ABI: an
/// S3 retry, an eviction, files that changed while they were archived): the job whose task
/// started the operation sets the route, and the plugin host reads it when it starts the
/// operation. They then reach the job's log, its events and the console with the job's prefix.
/// Without a route (a `nixactions cache` command, an operation of no job) they go to standard error.
public enum OperationMessages {
    public typealias Route = @Sendable (MessageLevel, String) -> Void
    @TaskLocal public static var route: Route?
}
