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
        _ entry: SecretsEntry, configuration: SecretsConfiguration,
        deliver: @escaping @Sendable (String, UnsafeRawBufferPointer) -> Bool
    ) async throws -> [String]
    /// The run is over: every provider used removes what it left (never cancelled).
    func releaseSecretProviders(reason: String) async
}
