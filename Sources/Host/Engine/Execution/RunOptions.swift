/// How to run a workflow.
public struct RunOptions: Sendable {
    /// Warnings said on standard error before the run started (its secrets'): recorded as the
    /// run's first messages, so that its events and the json stream have them too (audit 66
    /// output L3); the console does not say them again (`ConsoleReporter.saidElsewhere`).
    public var startWarnings: [String] = []
    /// Jobs to run (with everything they need); empty = all.
    public var selectedJobs: [String]
    /// At most this many jobs at once.
    public var maxParallelJobs: Int
    /// A fresh folder for this run's working files (workspaces, scripts); the caller removes it.
    public var runDirectory: String
    /// The project the workflow belongs to.
    public var projectDirectory: String
    /// A unique id of this run.
    public var runID: String
    /// Values from `--env NAME=VALUE`, `--env-file` and `NIXACTIONS_ENV_FILES`: over every `env:`
    /// level and `$GITHUB_ENV` (the original NixActions' precedence); only the runner's variables win.
    public var environment: [String: String]
    /// The run's `github`, `vars` and `inputs` (nil: `RunContext.minimal`, filled in by `WorkflowRunner`).
    public var context: RunContext?
    /// Absolute paths never copied into workspaces (the run's log folder).
    public var copySkipPaths: [String] = []
    /// Where each job's workspace is copied when the job ends (`NIXACTIONS_KEEP_WORKSPACE=1`), one folder per job; nil: not kept.
    public var keepWorkspacesIn: String?
    /// Where the run's artifacts are copied when its jobs have ended (`--keep-artifacts`), one
    /// folder per artifact; nil: they go with the run's folder.
    public var keepArtifactsIn: String?
    /// The project's git checkout for workspaces (docs/workflow-syntax.md, actions/checkout); nil:
    /// workspaces are copies of the project folder without `.git`.
    public var checkout: ProjectCheckout?
    /// The server other repositories come from (actions/checkout's `repository`, unless its
    /// `github-server-url` names another): the remote actions' (`--actions-url`).
    public var gitServerURL = RemoteActionStore.defaultBaseURL
    /// The run's cgroup v2 folder, when the host could make one (executors contain jobs in it).
    public var cgroup: String?
    /// The run's tracking id (`NIXACTIONS_TRACKING_ID` prefix of every local step process).
    public var trackingID: String?
    /// The soft open-files limit the host was started with, when it raised its own: what
    /// executors give the processes they start (`ExecutorConfiguration.openFilesLimit`).
    public var openFilesLimit: UInt64?
    /// The longest a cleanup step (`always()`/`cancelled()` after a cancellation or a timeout) may
    /// run; its own shorter `timeout` wins (`NIXACTIONS_CLEANUP_SECONDS` sets it for a run).
    public var cleanupLimit: Duration = JobRunner.defaultCleanupLimit
    /// What this run's cache entries belong to (`ResolvedCache.scope`): the repository (its
    /// origin's host and path, as GitHub scopes caches), else the project's folder; "" for none.
    public var cacheScope = ""
    /// Functions plugins declare for expressions.
    public var functions: (any PluginFunctionProvider)?
    /// The run's secrets, resolved (and registered with the redactor) before any job starts.
    public var secrets = ResolvedSecrets()
    /// `runs-on` labels mapped to executors (.nixactions/config.yml, --runner).
    public var runners = RunnerMap()
    /// Cache backends (plugins) and the configuration's choice of backend and options.
    public var cacheBackends: (any CacheBackendProvider)? {
        didSet { caches = CacheBackends(provider: cacheBackends, settings: cacheSettings, runID: runID, runDirectory: runDirectory) }
    }
    public var cacheSettings = CacheSettings() {
        didSet { caches = CacheBackends(provider: cacheBackends, settings: cacheSettings, runID: runID, runDirectory: runDirectory) }
    }
    /// The run's backend instances (made on first use).
    public private(set) var caches = CacheBackends(provider: nil, settings: CacheSettings(), runID: "", runDirectory: "")

    public init(
        selectedJobs: [String] = [], maxParallelJobs: Int, runDirectory: String, projectDirectory: String,
        runID: String, environment: [String: String] = [:]
    ) {
        self.selectedJobs = selectedJobs
        self.maxParallelJobs = max(1, maxParallelJobs)
        self.runDirectory = runDirectory
        self.projectDirectory = projectDirectory
        self.runID = runID
        self.environment = environment
    }
}

extension RunOptions {
    /// The run's context (the minimal one when none was given).
    var runContext: RunContext { context ?? .minimal(workflow: "", runID: runID) }
}

/// What a run produced.
public struct RunSummary: Sendable {
    public var outcome: Outcome
    public var jobs: [JobOutcome]
    /// The run itself was cancelled (a signal), not only some of its jobs (a concurrency group's).
    public var interrupted = false

    /// 0 success, 1 a job failed (or was cancelled while the run went on), 130 the run was cancelled.
    public var exitCode: Int32 {
        switch outcome {
        case .success, .skipped: return 0
        case .failure: return 1
        case .cancelled: return interrupted ? 130 : 1
        }
    }
}
