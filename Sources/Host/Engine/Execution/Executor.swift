import NixActionsPluginMessages

/// Where a step's output bytes go (thread-safe: executors write from their own threads).
public protocol StepOutputSink: Sendable {
    /// Output of the step on stream 1 (stdout) or 2 (stderr). Bytes are borrowed for the call.
    func write(stream: Int32, _ bytes: UnsafeRawBufferPointer)
}

/// An executor as the engine sees it: runs a job's steps somewhere.
///
/// Lifecycle (the same contract as the C interface `nxa_executor_v1`):
///
///     startJob(J) ─► runStep(J, s1) ─► runStep(J, s2) … ─► finishJob(J)
///
/// - Calls for different jobs may run concurrently; steps of one job never overlap.
/// - Cancelling the task that awaits `runStep` ends the step's whole process tree and makes
///   `runStep` throw `CancellationError` (or return once the process is gone).
/// - A step that exits non-zero is a `StepResult`; an error means the machinery failed.
/// - `finishJob` is called for every job `startJob` was called for, whatever the outcome;
///   it is idempotent and safe after a failed start.
public protocol Executor: Sendable {
    func startJob(_ job: JobSpec) async throws -> JobStarted
    func runStep(_ step: StepSpec, output: any StepOutputSink) async throws -> StepResult
    func finishJob(_ job: JobSpec) async
    /// How trees move into and out of this executor's jobs, when it can (nil: only a workspace
    /// on this machine can be used directly).
    var files: (any ExecutorFileTransfer)? { get }
}

extension Executor {
    public var files: (any ExecutorFileTransfer)? { nil }
}

/// Moving a tree into a job (`putTree`) and out of it (`getTree`) as an uncompressed pax tar
/// archive (the plugin interface "nixactions.executor.files/1"). Like steps, both are cancelled
/// by cancelling the awaiting task, and have a deadline. Only between the job's start and its
/// finish, never overlapping another operation of the job.
public protocol ExecutorFileTransfer: Sendable {
    /// Put a tree into the job: `produce` writes the archive (on a thread of its own, where it may
    /// block) and returns, or throws to abort; nothing is changed in the job unless the whole
    /// archive arrived and is valid.
    func putTree(_ request: FilesPut, produce: @escaping @Sendable (any TreeWriter) throws -> Void) async throws -> FilesPutResult
    /// Get a tree out of the job into `sink`, which is closed before this returns.
    func getTree(_ request: FilesGet, into sink: any TreeSink) async throws -> FilesGetResult
}

/// What `putTree`'s producer writes the archive with. `write` blocks while the receiver has no
/// room, and throws when it gave up (then stop).
public protocol TreeWriter {
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// Where `getTree` sends the archive: called from the executor's thread, one call at a time;
/// `write` may block (back-pressure) and returns false to stop the sender; `close` comes exactly
/// once (complete: the whole archive was sent) and returns promptly.
public protocol TreeSink: Sendable {
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool
    func close(complete: Bool, message: String)
}

/// Makes executors from plugin ids; the plugin host implements it, tests may too.
public protocol ExecutorProvider: Sendable {
    /// Ids of the executors that can be made.
    var executorIDs: [String] { get }
    /// An executor instance for `pluginID` with `configuration`.
    /// - Throws: `EngineError` when the plugin is unknown or refuses the configuration.
    func makeExecutor(pluginID: String, configuration: ExecutorConfiguration) throws -> any Executor
}

/// A failure of the machinery (not an outcome), with a hint for the user.
public struct EngineError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String {
        hint.map { "\(message)\n  hint: \($0)" } ?? message
    }
}

/// Where secret providers come from (the plugin host); the engine knows nothing of plugins.
public protocol SecretProviderSource: Sendable {
    /// Ids of the secret providers that can be used.
    var secretProviderIDs: [String] { get }
    /// Resolve one provider entry. Each value is handed to `deliver(name, bytes)` as it arrives,
    /// before this returns (so it is masked before anything could print it); `deliver` returns
    /// false to refuse it. Returns the names delivered.
    /// - Throws: `EngineError` (unknown provider, a failure with the provider's message).
    func resolveSecrets(
        _ entry: SecretsEntry, configuration: SecretsConfiguration, timeout: Duration?,
        deliver: @escaping @Sendable (String, UnsafeRawBufferPointer) -> Bool
    ) async throws -> [String]
    /// The run is over: every provider used removes what it left (never cancelled).
    func releaseSecretProviders(reason: String) async
}

extension JobStarted {
    /// `runner.workspace` (`RUNNER_WORKSPACE`): the folder that holds the job's workspace, as
    /// GitHub's `_work/REPO` holds `_work/REPO/REPO`. A job may make folders there beside its
    /// workspace (`${{ runner.workspace }}/build`, CMake's old starter workflow); the executor
    /// removes them with the job's folder.
    var runnerWorkspace: String {
        guard let slash = workspace.utf8.lastIndex(of: UInt8(ascii: "/")) else { return workspace }
        let parent = String(workspace[..<slash])
        return parent.isEmpty ? "/" : parent
    }
}
