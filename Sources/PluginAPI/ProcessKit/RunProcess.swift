import Foundation

/// Run a process to completion on a thread of its own, streaming its output.
///
/// Cancelling the calling task ends the process tree: SIGTERM to all of it (the group and the
/// step's containment), SIGKILL after `grace`. The function returns once the process has been
/// reaped; background processes it left stay in `containment` until the job's cleanup.
/// - Parameters:
///   - inputDescriptor: a descriptor the process reads as its standard input (nil: /dev/null).
///   - drainAfterExit: how long output is still read after the process exited (see
///     `ChildProcess.wait`); a stream whose every byte counts (an archive) passes a long time.
///   - onSecret: called on the process's thread with the values of `add-mask` lines read from
///     one pipe before output of the other read earlier is delivered (`TwoPipeOutput`); a step
///     registers them.
///   - onOutput: called on the process's thread with (1 or 2, bytes), in order.
/// - Returns: how the process ended.
/// - Throws: `SpawnError` when it could not start.
public func runProcess(
    arguments: [String],
    environment: [String: String],
    directory: String?,
    grace: Duration = .seconds(5),
    containment: StepContainment? = nil,
    inputDescriptor: Int32? = nil,
    drainAfterExit: Duration = .milliseconds(200),
    onStart: @Sendable (ChildProcess) -> Void = { _ in },
    onSecret: (@Sendable ([UInt8]) -> Void)? = nil,
    onOutput: @escaping @Sendable (Int32, UnsafeRawBufferPointer) -> Void
) async throws(SpawnError) -> Termination {
    try await runProcessReportingEnd(
        arguments: arguments, environment: environment, directory: directory, grace: grace, containment: containment,
        inputDescriptor: inputDescriptor, drainAfterExit: drainAfterExit, onStart: onStart, onSecret: onSecret, onOutput: onOutput
    ).termination
}

/// `runProcess`, also saying whether its output ended (both pipes closed) before the reading
/// stopped: false when processes it left running still hold them (what they write later is not
/// read).
public func runProcessReportingEnd(
    arguments: [String],
    environment: [String: String],
    directory: String?,
    grace: Duration = .seconds(5),
    containment: StepContainment? = nil,
    inputDescriptor: Int32? = nil,
    drainAfterExit: Duration = .milliseconds(200),
    onStart: @Sendable (ChildProcess) -> Void = { _ in },
    onSecret: (@Sendable ([UInt8]) -> Void)? = nil,
    onOutput: @escaping @Sendable (Int32, UnsafeRawBufferPointer) -> Void
) async throws(SpawnError) -> (termination: Termination, outputEnded: Bool) {
    let child = try ChildProcess(arguments: arguments, environment: environment, directory: directory, containment: containment,
                                 inputDescriptor: inputDescriptor)
    onStart(child)
    return await withTaskCancellationHandler {
        await withCheckedContinuation { (continuation: CheckedContinuation<(termination: Termination, outputEnded: Bool), Never>) in
            // A blocking wait: on a reused thread of its own, never on Swift's cooperative pool.
            WaiterPool.shared.run {
                let ended = child.waitReportingEnd(drainAfterExit: drainAfterExit, onSecret: onSecret, onOutput: onOutput)
                WaiterPool.handingBack { continuation.resume(returning: ended) }
            }
        }
    } onCancel: {
        child.terminate(grace: grace)
    }
}
