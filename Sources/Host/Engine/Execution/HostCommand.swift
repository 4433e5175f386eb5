import Foundation
import NixActionsProcessKit

/// A program the host runs itself (`git`, `tar`), started with ProcessKit's spawn: the child gets
/// its standard input, output and error and no other descriptor of this process.
///
/// Foundation's `Process` on Linux closes in the child only the descriptors that were open when
/// it listed them, and its `Pipe` is not close-on-exec: while one job starts `git`, a pipe that
/// another job makes in that moment is inherited by `git`, and that job's reader then waits for
/// the end of its output until the unrelated `git` exits. ProcessKit closes every descriptor
/// above 2 in the child (`close_range`, or its fallbacks where the kernel has none).
enum HostCommand {
    struct Outcome {
        /// The exit status; 128 + the signal's number when a signal ended it.
        var status: Int32
        var output: [UInt8]
        /// The last 4 KiB of its standard error.
        var errors: String
        /// False when its output did not end within `drainAfterExit` of its exit (a process it
        /// left holds the pipe): `output` may be cut short, and the caller fails.
        var outputEnded = true

        /// Why the program failed, for an error message; nil when it succeeded with all its output.
        var failure: String? {
            if status != 0 {
                let said = errors.trimmingCharacters(in: .whitespacesAndNewlines)
                return "exited \(status)" + (said.isEmpty ? "" : ": \(said)")
            }
            if !outputEnded {
                return "its output did not end within \(HostCommand.drainAfterExit.components.seconds) s of its exit "
                    + "(a process it started kept it open)"
            }
            return nil
        }
    }

    /// Output still read after the program exited: all of it (every byte of an archive counts);
    /// a background process holding the pipe open is cut off after this long.
    static let drainAfterExit: Duration = .seconds(600)

    /// Run `arguments` (the program found in the PATH of `environment`) to its end on the calling
    /// thread, keeping its output. `drainAfter`: `drainAfterExit`, shorter only in tests.
    static func run(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                    directory: String? = nil, drainAfter: Duration = drainAfterExit) throws(SpawnError) -> Outcome {
        var output: [UInt8] = []
        var outcome = try stream(arguments, environment: environment, directory: directory, drainAfter: drainAfter) { bytes in
            output += bytes
            return true
        }
        outcome.output = output
        return outcome
    }

    /// Run `arguments` to its end on the calling thread, passing its standard output to
    /// `onOutput` as it comes (which may block). When `onOutput` returns false the program is
    /// killed and the rest of its output is dropped.
    static func stream(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                       directory: String? = nil, drainAfter: Duration = drainAfterExit,
                       onOutput: (UnsafeRawBufferPointer) -> Bool) throws(SpawnError) -> Outcome {
        let child = try ChildProcess(arguments: arguments, environment: environment, directory: directory)
        return wait(for: child, drainAfter: drainAfter, onOutput: onOutput)
    }

    /// Wait for a started child on the calling thread, its standard output to `onOutput`.
    static func wait(for child: ChildProcess, drainAfter: Duration = drainAfterExit,
                     onOutput: (UnsafeRawBufferPointer) -> Bool = { _ in true }) -> Outcome {
        var errors: [UInt8] = []
        var accepting = true
        let (termination, outputEnded) = child.waitReportingEnd(drainAfterExit: drainAfter) { stream, bytes in
            if stream == 2 {
                errors += bytes
                if errors.count > 4096 { errors.removeFirst(errors.count - 4096) }
            } else if accepting, !onOutput(bytes) {
                accepting = false
                child.signalAll(SIGKILL)
            }
        }
        return Outcome(status: termination.exitStatus, output: [], errors: String(decoding: errors, as: UTF8.self), outputEnded: outputEnded)
    }
}
