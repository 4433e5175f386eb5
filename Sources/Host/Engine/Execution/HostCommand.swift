import Foundation
import NixActionsProcessKit
import Synchronization

/// A program the host runs itself (`git`, `tar`), started with ProcessKit's spawn: the child gets
/// its standard input, output and error and no other descriptor of this process.
///
/// Foundation's `Process` on Linux closes in the child only the descriptors that were open when
/// it listed them, and its `Pipe` is not close-on-exec: while one job starts `git`, a pipe that
/// another job makes in that moment is inherited by `git`, and that job's reader then waits for
/// the end of its output until the unrelated `git` exits. ProcessKit closes every descriptor
/// above 2 in the child (`close_range`, or its fallbacks where the kernel has none).
///
/// They are the run's processes like its steps: each carries the run's tracking id
/// (`trackingID`, `RUN/host`), so a second signal, the supervisor after a crash and the
/// supervisor's sweep after a normal end reach them; and each runs in a `Scope` that a cancel
/// ends (SIGTERM to its process group, SIGKILL two seconds later): the run's, which the first
/// signal cancels, and the one `ProjectCheckout.offThread` gives the work of one job, which that
/// job's cancel (a time limit) ends.
enum HostCommand {
    /// The run's tracking id, set once by the command that runs the workflow (nil: none).
    static let trackingID = Mutex<String?>(nil)

    /// Host commands that a cancel should end.
    final class Scope: Sendable {
        private let state = Mutex<(cancelled: Bool, children: [ObjectIdentifier: ChildProcess])>((false, [:]))

        /// Takes `child`, or ends it at once when the scope was cancelled already (false).
        func adopt(_ child: ChildProcess) -> Bool {
            let taken = state.withLock { state -> Bool in
                if state.cancelled { return false }
                state.children[ObjectIdentifier(child)] = child
                return true
            }
            if !taken { child.signalAll(SIGKILL) }
            return taken
        }

        /// Whether `cancel` was called: work done in this process (a copy) asks it between entries.
        var isCancelled: Bool { state.withLock { $0.cancelled } }

        func release(_ child: ChildProcess) {
            _ = state.withLock { $0.children.removeValue(forKey: ObjectIdentifier(child)) }
        }

        /// Ends every command running in it (SIGTERM, SIGKILL two seconds later) and any started
        /// later (SIGKILL).
        func cancel() {
            let children = state.withLock { state -> [ChildProcess] in
                state.cancelled = true
                return Array(state.children.values)
            }
            for child in children { child.terminate(grace: .seconds(2)) }
        }
    }

    /// Every host command of the run: the first signal cancels it.
    static let run = Scope()

    /// The scope of the calling thread's work (`ProjectCheckout.offThread`), if any.
    static let currentScope = ThreadScope()

    final class ThreadScope: Sendable {
        private let key: pthread_key_t = {
            var key = pthread_key_t()
            pthread_key_create(&key, nil)
            return key
        }()

        var value: Scope? {
            guard let raw = pthread_getspecific(key) else { return nil }
            return Unmanaged<Scope>.fromOpaque(raw).takeUnretainedValue()
        }

        /// Run `work` with `scope` as the calling thread's (kept alive meanwhile).
        func with<T>(_ scope: Scope, _ work: () throws -> T) rethrows -> T {
            let raw = Unmanaged.passRetained(scope).toOpaque()
            pthread_setspecific(key, raw)
            defer {
                pthread_setspecific(key, nil)
                Unmanaged<Scope>.fromOpaque(raw).release()
            }
            return try work()
        }
    }

    /// `environment` with the run's tracking id for host commands.
    static func tracked(_ environment: [String: String]) -> [String: String] {
        guard let id = trackingID.withLock({ $0 }) else { return environment }
        var environment = environment
        environment[JobContainment.trackingVariable] = id + "/host"
        return environment
    }

    /// Start `arguments` as a host command: tracked, and in the run's scope and the thread's.
    /// `diesWithCaller`: SIGKILL when the calling thread exits, for a command it waits for (see
    /// `stream`).
    static func start(_ arguments: [String], environment: [String: String], directory: String? = nil,
                      inputDescriptor: Int32? = nil, diesWithCaller: Bool = false) throws(SpawnError) -> ChildProcess {
        try ChildProcess(arguments: arguments, environment: tracked(environment), directory: directory, inputDescriptor: inputDescriptor,
                         diesWithCaller: diesWithCaller)
    }

    struct Outcome {
        /// The exit status; 128 + the signal's number when a signal ended it.
        var status: Int32
        var output: [UInt8]
        /// The last 4 KiB of its standard error.
        var errors: String
        /// False when its output did not end within `drainAfterExit` of its exit (a process it
        /// left holds the pipe): `output` may be cut short, and the caller fails.
        var outputEnded = true
        /// True when the command's time limit (`limit`) passed and ended it.
        var expired = false

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
    /// `limit`: the most it may take (SIGTERM to its process group, SIGKILL two seconds later;
    /// `Outcome.expired`).
    static func run(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                    directory: String? = nil, drainAfter: Duration = drainAfterExit, limit: Duration? = nil) throws(SpawnError) -> Outcome {
        var output: [UInt8] = []
        var outcome = try stream(arguments, environment: environment, directory: directory, drainAfter: drainAfter, limit: limit) { bytes in
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
                       directory: String? = nil, drainAfter: Duration = drainAfterExit, limit: Duration? = nil,
                       onOutput: (UnsafeRawBufferPointer) -> Bool) throws(SpawnError) -> Outcome {
        // It dies with this process, even of SIGKILL: remote actions are fetched before the run's
        // supervisor is up (and `validate` has none), and nothing else would end a `git` then.
        let child = try start(arguments, environment: environment, directory: directory, diesWithCaller: true)
        return wait(for: child, drainAfter: drainAfter, limit: limit, onOutput: onOutput)
    }

    /// Wait for a started child on the calling thread, its standard output to `onOutput`.
    static func wait(for child: ChildProcess, drainAfter: Duration = drainAfterExit, limit: Duration? = nil,
                     onOutput: (UnsafeRawBufferPointer) -> Bool = { _ in true }) -> Outcome {
        let timer = limit.map { ChildTimeLimit(child, limit: $0, grace: .seconds(2)) }
        // A cancel of the run, or of the work this thread does for a job, ends it.
        let scopes = [run] + (currentScope.value.map { [$0] } ?? [])
        var cancelled = false
        for scope in scopes where !scope.adopt(child) { cancelled = true }
        defer { for scope in scopes { scope.release(child) } }
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
        if cancelled { errors += Array("cancelled".utf8) }
        return Outcome(status: termination.exitStatus, output: [], errors: String(decoding: errors, as: UTF8.self), outputEnded: outputEnded,
                       expired: timer?.end() ?? false)
    }
}

/// What the command that runs a workflow tells the host's own commands (`HostCommand`).
public enum HostCommands {
    /// The run's tracking id: host commands carry it (as `ID/host`).
    public static func track(_ trackingID: String) { HostCommand.trackingID.withLock { $0 = trackingID } }

    /// The run is cancelled: end every host command, now and later.
    public static func cancelAll() { HostCommand.run.cancel() }
}
