import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A command whose standard input and output are streams (a `tar -x` fed from a socket, a
/// `tar -c` whose archive goes somewhere): what the executors' files interface runs.
public enum StreamingCommand {
    public struct Outcome: Sendable {
        public var status: Int32
        /// Standard error (at most the last 64 KiB).
        public var errors: String
    }

    /// Run `arguments` to its end. `input`: a descriptor it reads as standard input (nil:
    /// /dev/null); `started` is called once it runs (close your copy of `input` there).
    /// `output` gets standard output on the process's own thread (it may block: back-pressure);
    /// returning false ends the process. Every byte of standard output is read, however long
    /// after the exit it comes. Cancelling the task ends the process tree.
    public static func run(
        _ arguments: [String], environment: [String: String], input: Int32? = nil,
        started: @escaping @Sendable () -> Void = {},
        output: (@Sendable (UnsafeRawBufferPointer) -> Bool)? = nil
    ) async throws(SpawnError) -> Outcome {
        let child = Mutex<ChildProcess?>(nil)
        let stopped = Atomic<Bool>(false)
        let errors = Mutex<[UInt8]>([])
        let termination = try await runProcess(
            arguments: arguments, environment: environment, directory: nil, grace: .seconds(2), inputDescriptor: input,
            drainAfterExit: .seconds(24 * 3600),
            onStart: { process in
                child.withLock { $0 = process }
                started()
            }
        ) { stream, bytes in
            if stream == 1 {
                guard let output, !stopped.load(ordering: .relaxed) else { return }
                if !output(bytes) {
                    stopped.store(true, ordering: .relaxed)
                    child.withLock { $0 }?.terminate(grace: .milliseconds(500))
                }
            } else {
                errors.withLock { buffer in
                    buffer += bytes
                    if buffer.count > 65536 { buffer.removeFirst(buffer.count - 65536) }
                }
            }
        }
        return Outcome(status: termination.exitStatus, errors: String(decoding: errors.withLock { $0 }, as: UTF8.self))
    }
}
