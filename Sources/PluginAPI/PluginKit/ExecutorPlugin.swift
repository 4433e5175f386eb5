import NixActionsPluginMessages

/// What a plugin author implements to provide an executor.
///
/// Lifecycle (the same contract as `nxa_executor_v1` in nixactions/executor.h):
///
///     init ─► startJob(J) ─► runStep(J, s1) ─► runStep(J, s2) … ─► finishJob(J) ─► deinit
///
/// - One instance serves many jobs at once: calls for different jobs run concurrently.
///   Steps of one job never overlap.
/// - Cancellation is Swift task cancellation: when the host cancels an operation (a step timed
///   out, the user pressed Ctrl-C) the task running `runStep` is cancelled. The executor must
///   then end the step's whole process tree (gracefully, then forcibly) and return or throw
///   `CancellationError` promptly.
/// - A non-zero exit is a `StepResult`, not an error. Throw only when the machinery failed
///   (could not spawn, lost the connection), with an `OperationFailure` for a clear message.
/// - `finishJob` is idempotent and safe after a failed `startJob`: it removes whatever the job
///   left behind, and is called for every job `startJob` was called for.
public protocol ExecutorPlugin: AnyObject, Sendable {
    /// Make an instance. Throw `OperationFailure` for a bad configuration.
    init(configuration: ExecutorConfiguration, host: HostServices) throws

    /// Every option `init` accepts, when it refuses the others (the same set): published through
    /// "nixactions.options/1" so that `validate` names a misspelt one at its place. Default nil:
    /// not published, nothing checked early.
    static var optionNames: Set<String>? { get }
    /// Refuse option values as `init` would (a type, a range), without making anything: for
    /// `validate` (options.h `check`, ABI 1.5). It may read the environment; nothing else. Default:
    /// values are checked when the instance is made.
    static func checkOptions(_ options: [String: JSONValue]) throws
    /// The same, told whether `options` are all the instance will get (none held `${{ }}`): a
    /// required option's absence may then be refused too. Default: `checkOptions(options)`.
    static func checkOptions(_ options: [String: JSONValue], complete: Bool) throws

    /// Prepare a job's workspace (and container, connection, …).
    func startJob(_ job: JobSpec, context: OperationContext) async throws -> JobStarted

    /// Run one step, streaming its output through `context.write`.
    func runStep(_ step: StepSpec, context: OperationContext) async throws -> StepResult

    /// Remove everything the job left behind. Idempotent.
    func finishJob(_ job: JobSpec, context: OperationContext) async throws

    /// True when a job's workspace and temporary folder are folders of the host's machine at the
    /// same paths (`JobStarted.hostPaths`, set by the kit): the host may copy files there itself.
    var sharesHostPaths: Bool { get }

    /// True when `runStep`, once its process has ended, only does quick work that never blocks
    /// (reading small files, building the result). The kit then finishes the step on the thread
    /// that saw the process end and completes the operation from there (`InlineTaskExecutor`),
    /// instead of handing it to a thread of Swift's pool first: one thread hand-off fewer per
    /// step. Default false: every resumption goes through Swift's pool.
    var completesStepsInline: Bool { get }
}

extension ExecutorPlugin {
    public static var optionNames: Set<String>? { nil }
    public static func checkOptions(_ options: [String: JSONValue]) throws {}
    public static func checkOptions(_ options: [String: JSONValue], complete: Bool) throws { try checkOptions(options) }
    public var sharesHostPaths: Bool { false }
    public var completesStepsInline: Bool { false }
}

/// What a plugin library declares about itself.
public struct PluginDeclaration: Sendable {
    public var id: String
    public var name: String
    public var version: String
    public var description: String
    public var executor: (any ExecutorPlugin.Type)?
    /// Functions for workflow expressions (`${{ ID.NAME(…) }}`), see `FunctionDeclaration`.
    public var functions: [FunctionDeclaration]
    /// A secret provider (`provider: ID` in a workflow's `secrets:`), since ABI 1.2.
    public var secrets: (any SecretsPlugin.Type)?
    /// A cache backend (`backend: ID` of a cache, `.nixactions/config.yml`'s `cache:`), since ABI 1.2.
    public var cache: (any CachePlugin.Type)?

    public init(
        id: String, name: String, version: String, description: String,
        executor: (any ExecutorPlugin.Type)? = nil, functions: [FunctionDeclaration] = [],
        secrets: (any SecretsPlugin.Type)? = nil, cache: (any CachePlugin.Type)? = nil
    ) {
        self.secrets = secrets
        self.cache = cache
        self.id = id
        self.name = name
        self.version = version
        self.description = description
        self.executor = executor
        self.functions = functions
    }
}
