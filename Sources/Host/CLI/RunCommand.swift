import ArgumentParser
import Foundation
import Synchronization
import NixActionsEngine
import NixActionsPluginHost
import NixActionsPluginMessages
import NixActionsProcessKit

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a workflow, or some of its jobs and what they need.",
        discussion: "Exit status: 0 success, 1 a job failed, 2 invalid workflow or usage, 130 cancelled."
    )

    enum LogFormat: String, ExpressibleByArgument, CaseIterable {
        case human, plain, json
    }

    /// A signal as the run's events name it (`SIGINT`).
    static func signalName(_ number: Int32) -> String {
        switch number {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "signal \(number)"
        }
    }

    /// `NIXACTIONS_LOG_FORMAT` when `--log-format` is not given: ours (`human`, `plain`, `json`)
    /// or the original's (`structured`: one prefixed line per event, as `plain`; `simple`: as `human`).
    /// `NO_COLOR` (no-color.org: set and not empty) or `TERM=dumb`: a terminal gets `plain`, which
    /// has no colors (audit 57 UX M10); `--log-format human` still gives them.
    static func colorRefused(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        !(environment["NO_COLOR"] ?? "").isEmpty || environment["TERM"] == "dumb"
    }

    static func environmentLogFormat(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LogFormat? {
        guard let value = environment["NIXACTIONS_LOG_FORMAT"]?.lowercased(), !value.isEmpty else { return nil }
        switch value {
        case "structured": return .plain
        case "simple": return .human
        default:
            guard let format = LogFormat(rawValue: value) else {
                standardError("error: NIXACTIONS_LOG_FORMAT='\(value)' is not a log format\n  hint: human, plain, json (or the original's structured, simple)\n")
                throw ExitCode(ExitStatus.usage)
            }
            return format
        }
    }

    /// The original let the environment it ran in win over a workflow's `env` (`BRANCH=main nix run
    /// .#ci`); here it is the lowest level. Say so for each variable a `.nix` workflow hides that way.
    static func warnShadowedVariables(_ workflow: Workflow, given: [String: String],
                                      environment: [String: String] = ProcessInfo.processInfo.environment) {
        var seen: Set<String> = []
        // The workflow's env (and its envFrom values) only: the original gave way to the
        // environment there (`if [ -z "${k+x}" ]`), while it exported a job's and an action's env
        // over it, as here (audit 58 L1: those were warned of too, falsely).
        let levels = workflow.env.map { ($0, "the workflow's env or envFrom") }  // (which one: Nix audit 65 L3)
        for (entry, level) in levels where !entry.name.isEmpty && given[entry.name] == nil {
            guard let value = environment[entry.name], value != entry.value.source.value, seen.insert(entry.name).inserted else { continue }
            let at = entry.value.source.location.map { "\($0): " } ?? ""
            standardError("\(at)warning: \(entry.name) is set in the environment nixactions runs in and in \(level); that value is used"
                          + " (the original NixActions let the environment win)\n  hint: to give it at run time, pass --env \(entry.name)=…\n")
        }
    }

    /// `NIXACTIONS_KEEP_WORKSPACE=1` (or `true`).
    static func keepsWorkspaces(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        ["1", "true", "yes"].contains(environment["NIXACTIONS_KEEP_WORKSPACE"]?.lowercased() ?? "")
    }

    @Argument(help: "A workflow file, or a name in .nixactions/workflows/ or .github/workflows/.", completion: .file())
    var workflow: String

    @Argument(help: "Jobs to run (with the jobs they need). Default: all.")
    var jobs: [String] = []

    @Option(name: [.customShort("j", allowingJoined: true), .customLong("jobs")], help: "At most this many jobs at once (default: the number of cores); `-j2` works as in make.")
    var maxJobs: Int?

    @Option(name: .customLong("env"), help: "Set an environment variable for every step (NAME=VALUE), over the workflow's, job's and step's env and --env-file; repeatable.")
    var env: [String] = []

    @Option(name: .customLong("env-file"), help: "Read variables for every step from a dotenv file (NAME=VALUE, export, quotes, # comments); over the workflow's env; repeatable. NIXACTIONS_ENV_FILES lists more (':'-separated), read first.", completion: .file())
    var envFiles: [String] = []

    @Option(name: .customLong("secret"), help: ArgumentHelp(
        "A secret: NAME (the value of the variable NAME in this environment) or NAME=VALUE; repeatable.",
        discussion: "Values are masked in every log. NAME=VALUE puts the value on the command line, where other users of the machine can see it (ps): prefer NAME or --secret-file."))
    var secrets: [String] = []

    @Option(name: .customLong("secret-file"), help: "Read secrets from a dotenv file (NAME=VALUE, export, quotes, \\n escapes); repeatable.", completion: .file())
    var secretFiles: [String] = []

    @Option(name: .customLong("log-format"), help: "human (default on a terminal), plain, or json (one object per line); default: $NIXACTIONS_LOG_FORMAT when set.")
    var logFormat: LogFormat?

    @Option(name: .customLong("log-dir"), help: "Where each run keeps its logs.", completion: .directory)
    var logDirectory: String = Self.defaultLogRoot

    // `.unconditional`: `--keep-logs -1` is its value, refused by name, not "Missing value" (audit 64 cli L2).
    @Option(name: .customLong("keep-logs"), parsing: .unconditional, help: ArgumentHelp(
        "How many runs' logs the log folder keeps, this one included: N or all (default: logs.keep of .nixactions/config.yml, else 100).",
        discussion: "Older runs' folders are removed when a run ends; a run still going is never touched."))
    var keepLogs: String?

    @Flag(name: .customLong("dry-run"), help: "Print the plan (order, executors, timeouts, retries) and run nothing.")
    var dryRun = false

    @Flag(name: .customLong("keep-artifacts"), help: ArgumentHelp(
        "Keep the run's artifacts next to its logs (<log folder>/artifacts/NAME/) when its jobs have ended.",
        discussion: "Without it they go with the run's folder, as GitHub's go with the run's retention."))
    var keepArtifacts = false

    @Flag(name: .customLong("working-tree"), help: ArgumentHelp(
        "Give jobs the project folder as it is (uncommitted changes, its .git), not its last commit.",
        discussion: "Default for a git project: a clone of HEAD, as GitHub's checkout (or 'checkout: working-tree' in .nixactions/config.yml)."))
    var workingTree = false

    @Option(name: .customLong("config"), help: "The project's configuration file (default: .nixactions/config.yml, if present).", completion: .file(extensions: ["yml", "yaml"]))
    var config: String?

    @Option(name: .customLong("runner"), help: "Run jobs whose runs-on names LABEL on EXECUTOR (a plugin id) in this run; repeatable.")
    var runners: [String] = []

    @Option(name: .customLong("actions-url"), help: ArgumentHelp(
        "Where remote actions (uses: OWNER/REPO@REF) are fetched from (default: https://github.com, or NIXACTIONS_ACTIONS_URL). A login in it is on this process's command line, which other users can read: give one in NIXACTIONS_ACTIONS_URL.",
        discussion: "A server (https://, ssh://, git://) or a folder holding OWNER/REPO repositories; fetched with git."))
    var actionsURL: String?

    @OptionGroup(title: "Event, inputs and vars")
    var events: RunEventOptions

    func validate() throws {
        if let maxJobs, maxJobs < 1 { throw ValidationError("--jobs must be at least 1") }
        // Empty would put each run's logs in a folder named after the run, in the current folder.
        if let keepLogs, !LogRetention.parse(keepLogs).valid {
            throw ValidationError("--keep-logs must be a number of runs (at least 1) or all, not '\(keepLogs)'")
        }
        if logDirectory.isEmpty { throw ValidationError("--log-dir must name a folder (default: .nixactions/runs)") }
        // A folder given that is something else (a file) would run without logs, after a warning
        // (audit 51); an explicit choice that cannot be used is a usage error.
        var info = stat()
        if logDirectory != Self.defaultLogRoot, stat(logDirectory, &info) == 0, info.st_mode & S_IFMT != S_IFDIR {
            throw ValidationError("--log-dir '\(logDirectory)' is not a folder")
        }
        for entry in env where !entry.contains("=") || entry.hasPrefix("=") {
            // Not shown: what was typed without its name may be the value (audit 55b F5; --secret shows none either).
            throw ValidationError("--env must be NAME=VALUE (an entry \(entry.hasPrefix("=") ? "starts with '='" : "has no '='"); it is not shown, as it may be a value)")
        }
        // A name no step's shell can read (`é`, `1X`, `A-B`, a control character) is a mistake, as
        // for --secret and --var (audit 64 cli L18; audit 55 L7); the value is not shown.
        for entry in env where !SecretNames.isValid(String(entry.prefix(while: { $0 != "=" }))) {
            throw ValidationError("--env: '\(DisplayText.escaped(String(entry.prefix(while: { $0 != "=" }))))' is not a variable name "
                                  + "(letters, digits and '_', not starting with a digit)")
        }
        if let actionsURL, actionsURL.isEmpty || actionsURL.contains(where: { $0.isWhitespace || $0.isNewline }) {
            throw ValidationError("--actions-url must be a URL or a folder (e.g. https://github.com)")
        }
        // A scheme git does not fetch from, or a folder that is not there, is said now, not at the
        // first remote action (audit 64 cli L14). NIXACTIONS_ACTIONS_URL, set once for every run,
        // only for its scheme: a folder it names may be made later.
        let environmentURL = ProcessInfo.processInfo.environment["NIXACTIONS_ACTIONS_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let actionsURL, let problem = RemoteActionStore.problem(with: actionsURL) {
            throw ValidationError("--actions-url: " + problem)
        }
        if actionsURL == nil, let url = environmentURL, url.contains("://"), let problem = RemoteActionStore.problem(with: url) {
            throw ValidationError("NIXACTIONS_ACTIONS_URL: " + problem)
        }
        for entry in runners where RunnerOptions.parse(entry) == nil {
            throw ValidationError("--runner '\(entry)' must be LABEL=EXECUTOR (e.g. --runner ubuntu-latest=local)")
        }
        for entry in secrets {
            let name = String(entry.prefix { $0 != "=" })
            guard SecretNames.isValid(name) else {
                // Not repeated: without '=', what was typed may be the value itself (`--secret sk-live-…`).
                throw ValidationError("--secret: the name (the text before '=', or all of it without one) is not a variable name (letters, digits, '_'; not starting with a digit); "
                                      + "it is not shown, as it may be a value. Write --secret NAME=VALUE, or --secret NAME to take NAME's value from this environment")
            }
        }
    }

    func run() async throws {
        // The format asked for, read once: a bad NIXACTIONS_LOG_FORMAT is said before the workflow
        // is read (Nix audit 65 L4: said twice, after a Nix evaluation).
        let asked = try logFormat ?? Self.environmentLogFormat()
        // `--log-format json`: a run that stops before its stream starts still gives the stream
        // its start, why it stopped and its end, with the exit status (audit 58 examples L7).
        guard !dryRun, asked == .json else { return try await runWorkflow(nil, asked: asked) }
        let stream = StreamStart(workflow: workflow)
        StandardStreams.captureErrors()
        do {
            try await runWorkflow(stream, asked: asked)
        } catch {
            let said = StandardStreams.endCapture()
            let status = (error as? ExitCode)?.rawValue ?? ExitStatus.usage
            if !stream.started.load(ordering: .relaxed), status != 0 {
                // An error thrown (a diagnostic) is printed by the caller after this: its text too.
                let message = error is ExitCode ? said : said + NixActions.fullMessage(for: error)
                StandardStreams.writeOutput(JSONLinesReporter.runNotStarted(
                    workflow: stream.workflow.withLock { $0 }, message: message.trimmingCharacters(in: .whitespacesAndNewlines), exitStatus: status))
            }
            throw error
        }
        StandardStreams.endCapture()
    }

    /// Whether `--log-format json`'s stream has started, and the workflow's name once known.
    final class StreamStart: Sendable {
        let started = Atomic<Bool>(false)
        let workflow: Mutex<String>
        init(workflow: String) { self.workflow = Mutex(workflow) }
    }

    /// - Parameter asked: the log format `--log-format` or NIXACTIONS_LOG_FORMAT asked for (nil: chosen by the console).
    func runWorkflow(_ stream: StreamStart?, asked: LogFormat?) async throws {
        // The project is the current folder: one that was removed (or cannot be read) under the
        // shell leaves nothing to copy into the jobs' workspaces and nowhere to keep the logs.
        guard let current = getcwd(nil, 0) else {
            let reason = errno == ENOENT ? "it was removed" : String(cString: strerror(errno))
            standardError("error: cannot run in the current folder: \(reason)\n  hint: change into the project's folder again (cd \"$PWD\")\n")
            throw ExitCode(ExitStatus.usage)
        }
        free(current)
        // What a plugin writes to descriptor 1 goes to standard error, not into the run's console
        // output or json stream (audit 61 ABI M7). A dry run loads plugins only for functions,
        // and prints its plan with `print`.
        if !dryRun { StandardStreams.keepOutputFromPlugins() }
        let registry = PluginRegistry.discoverWarning()
        // Plugins that declare functions load only when the workflow calls one.
        let functions = LazyFunctions(registry)
        // A .nix workflow's envProviders.required sees what --env and the env files give too.
        let environment = try runtimeEnvironment()  // --env, --env-file and NIXACTIONS_ENV_FILES, read once
        // Remote actions are fetched for the jobs the run runs (not for a dry run, which runs nothing).
        let remoteActions = dryRun ? nil : RemoteActionStore(baseURL: actionsURL)
        // A Nix workflow's written files (pkgs.writeText): a private folder of the run's, made only
        // by a run that runs; removed with the run, by its cleanup if this process dies.
        let nixFiles = dryRun ? nil : NixFilesFolder(root: RunSupervision.temporaryBases[0])
        defer { nixFiles?.remove() }
        let workflow = try WorkflowInput.load(workflow, functions: FunctionArities(signatures: { functions.signatures }), selected: jobs,
                                              environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
                                              remoteActions: remoteActions, nixFiles: nixFiles, runtimeEnvNames: Set(environment.keys))
        // From here every message is masked with the values at hand, as a dry run masks them (given
        // on the command line, the environment's values of declared names and of names that look
        // secret): an error before the run starts may quote one (audit 63 secrets M1: an unknown
        // job, a runs-on label, the workflow's name in the json stream were not masked).
        // (`--secret-file` read once: a pipe reads empty the second time; review 51.)
        let commandLineSecrets = try self.commandLineSecrets()
        let early = Redactor()
        for value in dryRunSecretValues(workflow, environment: environment, commandLine: commandLineSecrets) { _ = early.add(value) }
        // Kept to the process's end: an error thrown out of the run is printed after this returns
        // (review 63 L3).
        if !early.isEmpty { StandardStreams.maskErrors { early.redact($0) } }
        stream?.workflow.withLock { $0 = early.redact(workflow.name) }
        if NixEvaluation.isNixFile(workflow.file) { Self.warnShadowedVariables(workflow, given: environment) }
        let projectConfig = try RunnerOptions.loadConfig(config)
        // Options for a backend no plugin provides never apply: a misspelt name (`locall`) is said
        // (audit 61 input H7: ignored without a word). Looked up by name (the plugin files that
        // match first), so a run loads no plugin it does not use.
        for name in projectConfig.cache.backends.keys.sorted() {
            guard let missing = registry.missingCacheBackend(name) else { continue }
            standardError("warning: the configuration's cache.backends names '\(DisplayText.escaped(name))', which no plugin provides; its options apply to nothing\n"
                + (missing.hint.map { "  hint: \($0)\n" } ?? ""))
        }
        // github, inputs and vars are known before planning: a matrix or runs-on may use them.
        var (context, payload, git) = try events.makeContext(workflow, configVars: projectConfig.vars)
        // Plugin functions where the plan and the jobs' starts evaluate too (a matrix, runs-on, concurrency).
        context.functions = functions
        let plan = try WorkflowInput.plan(workflow, jobs: jobs, context: context)
        let runnerMap = try RunnerOptions.load(projectConfig, overrides: runners)
        try RunnerOptions.checkOverrides(runners, plan: plan, context: context, plugins: registry)
        let requested = maxJobs ?? ProcessInfo.processInfo.activeProcessorCount
        // The jobs the run has at most, when the plan knows them all (a called workflow's or a
        // strategy read from `needs` are known only as the run goes).
        let instances = plan.allInstances
        let knownCount = instances.contains { $0.awaitsExpansion || plan.workflow.job($0.jobID)?.call != nil } ? nil : instances.count
        // What the run would use: the dry run shows the cap, without the warning (audit 64 cli L1).
        let parallel = OpenFilesRoom.parallelism(requested, planned: knownCount, warn: dryRun ? { _ in } : standardError)
        if dryRun {
            let missingExecutor = RunnerOptions.missingExecutors(registry)
            // No provider is asked (a dry run reads no secret store), but what is at hand is
            // masked: a matrix value or a name that holds one must not show in the plan.
            let json = asked == .json
            let rendered = json
                ? PlanPrinter.renderJSON(plan, maxJobs: parallel, runners: runnerMap, context: context) { missingExecutor($0)?.message }
                : PlanPrinter.render(plan, maxJobs: parallel, runners: runnerMap, context: context) { missingExecutor($0)?.message }
            print(early.isEmpty ? rendered : early.redact(rendered), terminator: "")
            // The plan shows what run would refuse; the exit status says it too, as run's would
            // (audit 66 remote L6: 0, where run exits 2).
            try RunnerOptions.refuseUnplaced(plan, runners: runnerMap, context: context, plugins: registry)
            return
        }
        try RunnerOptions.refuseUnplaced(plan, runners: runnerMap, context: context, plugins: registry)
        // The first job's executor loads while the run's folders, logs and secrets are made.
        if let first = plan.order.first, let job = plan.workflow.job(first), let instance = plan.instances[first]?.first,
           case .executor(let reference, _)? = runnerMap.plannedChoice(for: job, instance: instance, workflow: plan.workflow, context: context) {
            registry.preload(reference.pluginID)
        }
        // Only what this run would run is refused (the loader printed the others as warnings).
        let planned = Set(plan.order)
        let refused = workflow.unsupported.filter { $0.job.map(planned.contains) ?? true }
        if !refused.isEmpty {
            for item in refused {
                let at = item.location.map { "\($0): " } ?? ""
                standardError("\(at)error: \(item.description) is not supported by this version of nixactions yet\n")
            }
            standardError("nixactions: refusing to run rather than skip what it cannot do\n")
            throw ExitCode(ExitStatus.usage)
        }
        // The workflow's concurrency group, held from here to the process's end: a run of the
        // group in progress is waited for, or cancelled (cancel-in-progress).
        let concurrency = try RunConcurrency.enter(plan.workflow.concurrency, workflow: workflow.name, context: context,
                                                   project: FileManager.default.currentDirectoryPath, say: standardError)
        // Let go last, once the run's folder and processes are gone: the next run of the group
        // starts on a clean machine.
        defer { concurrency?.finish() }

        let supervision: RunSupervision
        // A signal while the run folder and its supervisor are made is noted, not acted on at once:
        // exiting between the two would leave the folder with nobody to remove it. It is acted on
        // below, once the folder's removal is in place.
        SignalHub.handler.withLock { $0 = { _ in } }
        do {
            defer { SignalHub.handler.withLock { $0 = nil } }
            // The json stream's reader learns how the run ended even if this process cannot say it.
            supervision = try RunSupervision(eventsStream: asked == .json ? StandardStreams.outputDescriptor : nil)
        } catch {
            standardError("error: \(error)\n")
            throw ExitCode(ExitStatus.usage)
        }
        let runID = supervision.runID
        let redactor = Redactor()
        // Messages masked with every value the run learns (providers' too), and the early ones.
        // The run's first: a shorter value at hand inside a longer one a provider gives must not
        // cut the longer one before it is matched (review 63 L2).
        StandardStreams.maskErrors { early.redact(redactor.redact($0)) }
        // The run's record, once it has one: what the cleanup said goes there too (audit 61 ABI M5:
        // only standard error said a container may have been left behind).
        let recordWarning = Mutex<(@Sendable (String) -> Void)?>(nil)
        // A cleanup script that failed may have left something behind: the user is told, masked.
        defer {
            HostCommands.cancelAll()  // a clone no job waits for any more (its jobs timed out) ends with the run
            for problem in supervision.finish() {
                let text = redactor.redact(problem)
                standardError("warning: " + text + "\n")
                recordWarning.withLock { $0 }?(text)
            }
        }
        // The concurrency lock file and the Nix files folder go at the run's end (the defers
        // above), and by the supervisor's cleanup at once if this process is killed (a later
        // run's sweep would find the folder only then).
        if let concurrency { supervision.addCleanup("concurrency.sh", concurrency.cleanupScript, onlyFiles: true) }
        if let folder = nixFiles?.createdPath { supervision.addCleanup("nix-files.sh", "rm -rf -- \(ShellWords.quote(folder))\n", onlyFiles: true) }
        if SignalHub.received.load(ordering: .relaxed) {
            standardError("\nnixactions: cancelled before the run started\n")
            throw ExitCode(ExitStatus.cancelled)
        }

        var options = RunOptions(
            selectedJobs: jobs, maxParallelJobs: parallel, runDirectory: supervision.folder.path,
            projectDirectory: FileManager.default.currentDirectoryPath, runID: runID, environment: environment)
        options.copySkipPaths = [URL(fileURLWithPath: logDirectory).standardizedFileURL.path]
        context.takeRunNumber(project: options.projectDirectory)
        context.writeEvent(payload, in: supervision.folder.path)
        options.context = context
        options.cgroup = supervision.cgroup
        options.trackingID = supervision.trackingID
        HostCommands.track(supervision.trackingID)
        options.openFilesLimit = supervision.openFilesLimit
        if let limit = EnvironmentSeconds.read("NIXACTIONS_CLEANUP_SECONDS", allowed: 0.001...999_999_999) { options.cleanupLimit = limit }
        options.functions = functions
        options.runners = runnerMap
        options.cacheSettings = projectConfig.cache
        options.cacheScope = ProjectCheckout.cacheScope(project: options.projectDirectory, origin: git.originURL)
        options.cacheBackends = registry
        if let remoteActions { options.gitServerURL = remoteActions.baseURL }
        options.checkout = Self.projectCheckout(
            project: options.projectDirectory, runDirectory: supervision.folder.path,
            source: workingTree || (NixEvaluation.isNixFile(workflow.file) && !projectConfig.checkoutGiven) ? .workingTree : projectConfig.checkout,
            plan: plan, repository: git)
        let format = asked ?? (isatty(StandardStreams.outputDescriptor) == 1 && !Self.colorRefused() ? .human : .plain)
        // A reader that went away (`| head`) is ignored; any other failure (a full disk, EIO) is
        // said once on stderr, as for a log file (audit 57 M6: dropped without a word).
        let console = BufferedWriter(fd: StandardStreams.outputDescriptor, ownsDescriptor: false) { error in
            guard error != EPIPE, error != EAGAIN else { return }
            standardError("warning: cannot write to standard output: \(String(cString: strerror(error))); the run goes on, its logs keep everything\n")
        }
        defer { console.close() }
        let write: @Sendable (String) -> Void = { console.write($0) }
        let writeBytes: @Sendable (UnsafeRawBufferPointer) -> Void = { console.write($0) }
        var reporters: [any RunReporter] = [
            format == .json
                ? JSONLinesReporter(write: write, writeBytes: writeBytes)
                : ConsoleReporter(style: format == .human ? .human : .plain, write: write, writeBytes: writeBytes,
                                  discardsOutput: Self.isNullDevice(StandardStreams.outputDescriptor))
        ]
        if let stream {
            // From here the stream's own events say how the run ends (the secrets' failure too).
            stream.started.store(true, ordering: .relaxed)
            StandardStreams.endCapture()
        }
        let logs = (logDirectory as NSString).appendingPathComponent(runID)
        var logReporter: LogDirectoryReporter?
        do {
            if let link = Self.linkInDefaultLogRoot(logDirectory) {
                throw LogRootLink(reason: "\(link) is a symbolic link, and the repository chose it; pass --log-dir to keep logs elsewhere")
            }
            if let problem = Self.foreignLogRoot(logDirectory) { throw LogRootLink(reason: problem) }
            let reporter = try LogDirectoryReporter(directory: logs)
            // In use until this process ends: another run's pruning of old logs leaves it.
            LogRetention.hold(logs)
            reporters.append(reporter)
            logReporter = reporter
            recordWarning.withLock { $0 = { reporter.report(.message(job: nil, level: .warning, text: $0)) } }
            // The file's first line at once: what a signal or a failure while the secrets are read
            // writes follows it, and a supervisor closing a dead run's events knows the workflow.
            // Written before the providers are asked: masked with the values at hand, as a dry
            // run masks them (given on the command line, the environment's values of declared
            // names and of names that look secret); the runner's own, masked with all, goes to
            // the console.
            reporter.report(.workflowStarted(workflow: early.redact(workflow.name), runID: runID))
            reporter.flushEvents()
            let events = logs + "/events.jsonl"
            supervision.tell(events: events.hasPrefix("/") ? events : FileManager.default.currentDirectoryPath + "/" + events)
        } catch {
            let reason = (error as? POSIXError).map { String(cString: strerror($0.code.rawValue)) } ?? (error as? LogRootLink)?.reason ?? "\(error)"
            standardError("warning: cannot keep logs in \(logs): \(reason)\n")
        }
        if keepArtifacts {
            if logReporter != nil {
                options.keepArtifactsIn = (logs as NSString).appendingPathComponent("artifacts")
            } else {
                standardError("warning: --keep-artifacts: the run keeps no logs folder, so its artifacts are not kept\n")
            }
        }
        if logReporter != nil, Self.keepsWorkspaces() {
            // The original's NIXACTIONS_KEEP_WORKSPACE=1: each job's workspace is copied next to
            // its logs when the job ends (the job's own folder still goes, on every executor).
            options.keepWorkspacesIn = (logs as NSString).appendingPathComponent("workspaces")
        }
        registry.onSecret { redactor.add(bytes: $0) }
        // The actions server's login, however it was given, is masked like a secret.
        for credential in actionsURL.map(SecretNamePolicy.urlCredentials) ?? [] { _ = redactor.add(credential) }
        registry.onLog { redactor.redact($0) }
        let secretsFolder = supervision.folder.path + "/secrets"
        mkdir(secretsFolder, 0o700)
        let resolver = SecretResolver(
            workflow: workflow, jobIDs: plan.order, commandLine: commandLineSecrets, environment: environment,
            hostEnvironment: ProcessInfo.processInfo.environment, providers: registry,
            configuration: SecretsConfiguration(
                runID: runID, runDirectory: supervision.folder.path, projectDirectory: options.projectDirectory,
                secretsDirectory: secretsFolder, trackingID: supervision.trackingID))
        // The run's exit status as its record says it (`workflow_finished`), for a plugin call
        // stuck after that (an executor's or a provider's `destroy`; review 62b: only providers').
        let endedWith = ExitStatusRecorder()
        reporters.append(endedWith)
        let reporter = StartGate(FanOutReporter(reporters), console: reporters[0])
        let consoleReporter = reporters[0] as? ConsoleReporter
        let baseOptions = options
        let eventsLog = logReporter
        let jsonStream: (any RunReporter)? = format == .json ? reporters[0] : nil
        // A signal that came once no handler of the run's took it (its folder was being removed):
        // the record says so when the exit status is decided, as the handler would have (audit 65
        // cancel L1: exit 130 with a record of 0).
        let lateNoted = Atomic<Bool>(false)
        SignalHub.lateRecord.withLock { record in
            record = { number in
                guard !lateNoted.load(ordering: .relaxed) else { return }
                eventsLog?.report(.message(job: nil, level: .warning, text: Self.lateSignalText(number)))
            }
        }
        // A plugin's call that never returned holds a thread of the run for good (audit 61 ABI
        // H1: the run hung past every deadline and a first Ctrl-C): the record and standard error
        // say which call of which plugin, every process of the run is killed, its cleanup scripts
        // run, and the process exits with 1; the supervisor closes the events as failed.
        // A call stuck after the run's end ends the process with the run's own status, as the
        // record says (review 62 L4).
        PluginCallWatch.setHandler { message, hint in
            // A console nobody reads cannot hold the end either (review 62: it waited for the reader).
            StandardStreams.abandonStalledOutput()
            let text = redactor.redact(message)
            // In the json stream too, when it has started (review 62: only events.jsonl said it);
            // not on the console, where standard error says it (review 62b: said twice).
            let said = RunEvent.message(job: nil, level: .error, text: text)
            if format != .json || !reporter.report(startedOnly: said) { eventsLog?.report(said) }
            standardError("nixactions: error: \(text)\n  hint: \(hint)\n")
            AbruptStop.request(failure: text)
            for problem in supervision.killEverything(failure: text) {
                let said = redactor.redact(problem)
                standardError("warning: " + said + "\n")
                eventsLog?.report(.message(job: nil, level: .warning, text: said))
            }
            concurrency?.finish()
            OutputFlusher.shared.flushAll()
            return endedWith.status ?? ExitStatus.jobFailed
        }
        // A plugin that calls exit(): the record says why the run stopped and what the logs hold
        // is written out; the process then exits with 1, and the supervisor, seeing it gone
        // unfinished, ends the run's processes and closes its events (as after a crash).
        PluginExitGuard.setCleanup { message in
            eventsLog?.report(.message(job: nil, level: .error, text: message))
            OutputFlusher.shared.flushAll()
        }
        let outcome = await CancellationOnSignal.run(
            onSignal: { number in
                // Why the run was cancelled is part of its record (a report shows it): in the events
                // file at once, and in the console's events right after their start.
                // After the run's end (its summary being printed) the signal still makes the exit
                // status 130: the record says so after `workflow_finished` (audit 48).
                let late = eventsLog?.isFinished == true
                let message = RunEvent.message(job: nil, level: .warning, text: late
                    ? Self.lateSignalText(number)
                    : ConsoleReporter.cancelRecordPrefix + "\(number) (\(Self.signalName(number)))")
                if !reporter.report(startedOnly: message) { eventsLog?.report(message) }
                lateNoted.store(true, ordering: .relaxed)
                // A newer run of the workflow's concurrency group asked for it: the record says so.
                if !late, let why = concurrency?.cancelRequest() {
                    let told = RunEvent.message(job: nil, level: .warning, text: "the run is cancelled by \(why)")
                    if !reporter.report(startedOnly: told) { eventsLog?.report(told) }
                }
                registry.cancelRun()
                HostCommands.cancelAll()  // git and tar the host runs itself
            },
            onSecondSignal: { number in
                // In the record before the kill, whose ends follow it (audit 54 L2: only stderr said so).
                // In the json stream too, when it has started (audit 64 events L1): standard error
                // says it on the console.
                let said = RunEvent.message(job: nil, level: .warning, text:
                    "second signal \(number) (\(Self.signalName(number))): every process of the run is killed now, without cleanup steps")
                if format != .json || !reporter.report(startedOnly: said) { eventsLog?.report(said) }
                for problem in supervision.killEverything() {
                    let said = redactor.redact(problem)
                    standardError("warning: " + said + "\n")
                    eventsLog?.report(.message(job: nil, level: .warning, text: said))
                }
                // The group's lock file goes while this process still holds it (the supervisor's
                // `flock -n` cannot take it before this process exits: review 59 L7).
                concurrency?.finish()
                OutputFlusher.shared.flushAll()
            }
        ) { () -> Int32 in
            // Secrets first: every value is masked before any job starts, and a secret that cannot
            // be had stops the run before anything ran.
            let (secrets, problems) = await resolver.resolve(redactor: redactor)
            for warning in problems.warnings { standardError(redactor.redact(warning.description) + "\n") }
            if !problems.errors.isEmpty || Task.isCancelled {
                for error in problems.errors { standardError(redactor.redact(error.description) + "\n") }
                // The run's events say it ended, and why, though no job started: in its events file,
                // and in `--log-format json`'s stream, which is the same events (audit 57 UX H3: it
                // printed nothing).
                var ended: [RunEvent] = problems.errors.map { .message(job: nil, level: .error, text: redactor.redact($0.description)) }
                if Task.isCancelled { ended.append(.message(job: nil, level: .warning, text: "cancelled while the secrets were read")) }
                ended.append(.workflowFinished(workflow: redactor.redact(workflow.name), outcome: Task.isCancelled ? .cancelled : .failure,
                                               duration: .zero, exitStatus: Task.isCancelled ? ExitStatus.cancelled : ExitStatus.usage))
                for event in ended { eventsLog?.report(event) }
                if let stream = jsonStream {
                    stream.report(.workflowStarted(workflow: redactor.redact(workflow.name), runID: runID))
                    for event in ended { stream.report(event) }
                }
                await registry.releaseSecretProviders(reason: Task.isCancelled ? "cancelled" : "failed")
                if Task.isCancelled { return ExitStatus.cancelled }
                standardError("nixactions: no job was started\n")
                return ExitStatus.usage
            }
            var options = baseOptions
            options.secrets = secrets
            options.startWarnings = problems.warnings.map { redactor.redact($0.description) }
            consoleReporter?.saidElsewhere(options.startWarnings)
            let runner = WorkflowRunner(workflow: workflow, executors: registry, reporter: reporter, options: options, redactor: redactor)
            let summary = await runner.run(planned: plan)
            await registry.releaseSecretProviders(reason: summary.exitCode == 0 ? "finished" : summary.exitCode == 130 ? "cancelled" : "failed")
            return summary.exitCode
        }
        // The jobs have ended: a newer run of the group no longer cancels this one, it waits.
        concurrency?.runEnded()
        if format != .json, let logReporter {
            console.write("logs: \(logs)\n")
            let failed = logReporter.failedFiles
            if failed > 0 {
                console.write("logs incomplete: \(failed) file\(failed == 1 ? "" : "s") of them could not be written in full (see the warnings above)\n")
            }
        }
        // The log root keeps the newest runs' folders (this one included), not every run's for good.
        if logReporter != nil, let keep = keepLogs.map({ LogRetention.parse($0).keep }) ?? projectConfig.keepLogs {
            for problem in LogRetention.prune(root: logDirectory, keep: keep, current: runID).problems { standardError("warning: \(problem)\n") }
        }
        if outcome != 0 { throw ExitCode(outcome) }
    }

    /// What the record says of a signal after the run's end.
    static func lateSignalText(_ number: Int32) -> String {
        "the run received signal \(number) (\(signalName(number))) after it finished: if it succeeded, its exit status is 130"
    }

    /// The project's checkout for this run; says once when the project has uncommitted changes
    /// that the default (its last commit) leaves out of the jobs' workspaces.
    static func projectCheckout(
        project: String, runDirectory: String, source: ProjectCheckout.Source, plan: Plan, repository: GitRepository? = nil
    ) -> ProjectCheckout {
        let checkout = ProjectCheckout(project: project, runDirectory: runDirectory, source: source, repository: repository)
        let copies = plan.order.contains { plan.workflow.job($0)?.workspace.copyProject ?? false }
        if copies && checkout.hasNoCommit && source == .commit {
            standardError("nixactions: note: the project's git repository has no commit yet; jobs get its working tree (as with --working-tree)\n")
        }
        guard copies, checkout.isRepository, checkout.source == .commit else { return checkout }
        let changes = checkout.uncommittedChanges()
        guard !changes.isEmpty else { return checkout }
        let shown = changes.prefix(3).joined(separator: ", ") + (changes.count > 3 ? ", …" : "")
        let head = checkout.head().map { " (\($0.prefix(12)))" } ?? ""
        standardError("nixactions: note: the project has uncommitted changes (\(changes.count) file\(changes.count == 1 ? "" : "s"): \(shown)); "
                      + "jobs get its last commit\(head) without them; run with --working-tree, or set 'checkout: working-tree' in "
                      + "\(ProjectConfig.defaultPath), to give them the working tree\n")
        return checkout
    }

    /// The secret values a dry run can know without asking a provider: `commandLine` (`--secret`
    /// and `--secret-file`), and the variables (of this environment, `--env` and the env files)
    /// named by a declared secret name, an `env` provider entry's `names`, or a `${{ secrets.NAME }}`,
    /// or whose names look secret.
    func dryRunSecretValues(_ workflow: Workflow, environment: [String: String], commandLine: [String: String]) -> [String] {
        Array(commandLine.values) + WorkflowInput.environmentSecretValues([workflow], environments: [environment, ProcessInfo.processInfo.environment])
    }

    /// `--secret-file` values, then `--secret` values (later ones win).
    func commandLineSecrets() throws -> [String: String] {
        var values: [String: String] = [:]
        for file in secretFiles {
            let text = try Self.readOptionFile(file, option: "--secret-file")
            switch Dotenv.parse(text) {
            case .success(let entries):
                for entry in entries {
                    guard SecretNames.isValid(entry.name) else {
                        // Not quoted: an unquoted multi-line value's later line can look like NAME=….
                        standardError("\(file):\(entry.line): error: the text before '=' is not a valid secret name (letters, digits, '_'); "
                                      + "it is not shown, as it may be part of a value (--secret-file)\n"
                                      + "  hint: a value over several lines goes in double quotes\n")
                        throw ExitCode(ExitStatus.usage)
                    }
                    values[entry.name] = entry.value
                }
            case .failure(let error):
                // The message names the line, never the value.
                standardError("\(file):\(error.line): error: \(error.message) (--secret-file)\n")
                throw ExitCode(ExitStatus.usage)
            }
        }
        for entry in secrets {
            if let equals = entry.firstIndex(of: "=") {
                values[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
            } else if let value = ProcessInfo.processInfo.environment[entry] {
                values[entry] = value
            } else {
                // A value typed where a name goes (`--secret sk_live_…`) is not repeated: only a
                // name written as variables usually are (capitals, digits, '_') is shown.
                // (An all-capitals token such as an AWS access key id has no '_' and is longer.)
                let shown = entry.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
                    && (entry.contains("_") || entry.count <= 12)
                standardError((shown ? "error: --secret \(entry): the variable \(entry) is not set in this environment\n"
                    : "error: --secret: the variable it names is not set in this environment (the name is not shown: it may be a value)\n")
                    + "  hint: --secret NAME=VALUE, or --secret NAME to take NAME's value from this environment\n")
                throw ExitCode(ExitStatus.usage)
            }
        }
        return values
    }

    /// The default log root is in the project, which the repository controls: a symbolic link
    /// there (a committed `.nixactions` or `.nixactions/runs`) must not choose where the runner
    /// writes. The component that is a link, if any; a root given with `--log-dir` is followed.
    static func linkInDefaultLogRoot(_ root: String) -> String? {
        guard root == defaultLogRoot else { return nil }
        for part in [".nixactions", ".nixactions/runs"] {
            var info = stat()
            if lstat(part, &info) == 0, info.st_mode & S_IFMT == S_IFLNK { return part }
        }
        return nil
    }

    static let defaultLogRoot = ".nixactions/runs"

    /// Why the log root, when it exists, is no place for this run's logs, or nil: another user
    /// than root or this one owns it, or every user can write it without the sticky bit. Then that
    /// user could swap the run's folder for a link to theirs, and read what the run writes there,
    /// the kept artifacts too (audit 66 hardening M1).
    static func foreignLogRoot(_ root: String) -> String? {
        var info = stat()
        guard stat(root, &info) == 0 else { return nil }  // made by the run's log reporter, private
        if let owner = FileOwnership.foreignOwner(info) {
            return "'\(root)' belongs to \(owner), who could read or replace the run's logs; pass --log-dir to a folder of yours"
        }
        if info.st_mode & S_IWOTH != 0, info.st_mode & S_ISVTX == 0 {
            return "every user can write '\(root)' (chmod o-w, or +t as /tmp has); pass --log-dir to a folder of yours"
        }
        return nil
    }

    struct LogRootLink: Error {
        let reason: String
    }

    /// Whether `fd` is /dev/null (then output lines are not even formatted for it).
    static func isNullDevice(_ fd: Int32) -> Bool {
        var info = stat(), null = stat()
        return fstat(fd, &info) == 0 && stat("/dev/null", &null) == 0
            && info.st_mode & S_IFMT == S_IFCHR && info.st_rdev == null.st_rdev
    }

    /// The text of a file an option names (`--env-file`, `--secret-file`, `--var-file`,
    /// `--event-path`): a file, or a pipe such as `<(pass show ci)` read until its writer closes it,
    /// at most 64 MiB of UTF-8. Otherwise exit 2, saying why.
    static func readOptionFile(_ file: String, option: String) throws -> String {
        switch FastFiles.readWhole(file, limit: WorkflowLoader.fileLimit) {
        case .success(let bytes):
            guard let text = String(validating: bytes, as: UTF8.self) else {
                // Where, as for a workflow file (audit 55 L10: no line, no hint).
                standardError(WorkflowLoader.notUTF8(bytes, file: file, what: "the \(option) file").description + "\n")
                throw ExitCode(ExitStatus.usage)
            }
            return text
        case .failure(let failure):
            standardError("error: cannot read \(option) '\(file)': \(failure.reason)\n  hint: \(failure.hint)\n")
            throw ExitCode(ExitStatus.usage)
        }
    }

    /// The files of `NIXACTIONS_ENV_FILES` (separated by ':', like PATH), read before `--env-file`.
    static let envFilesVariable = "NIXACTIONS_ENV_FILES"

    /// `NIXACTIONS_ENV_FILES`, then `--env-file`s in order, then `--env`s (later ones win); every
    /// one of them is set over the workflow's, job's and step's `env`. Files are read as the common
    /// dotenv tools read them (`export NAME=value`, quotes, `#` comments, escapes); a bad line or
    /// a name that is not a variable name exits 2 with the file and line.
    func runtimeEnvironment() throws -> [String: String] {
        var environment: [String: String] = [:]
        let listed = (ProcessInfo.processInfo.environment[Self.envFilesVariable] ?? "")
            .split(separator: ":").map(String.init).filter { !$0.isEmpty }
        for (file, origin) in listed.map({ ($0, Self.envFilesVariable) }) + envFiles.map({ ($0, "--env-file") }) {
            let text = try Self.readOptionFile(file, option: origin)
            switch Dotenv.parse(text) {
            case .success(let entries):
                for entry in entries {
                    guard SecretNames.isValid(entry.name) else {
                        // Not quoted: env files hold tokens, and a multi-line value's later line can look like NAME=….
                        standardError("\(file):\(entry.line): error: the text before '=' is not a valid variable name (\(origin)); "
                                      + "it is not shown, as it may be part of a value\n"
                                      + "  hint: letters, digits and '_', not starting with a digit; a value over several lines goes in double quotes\n")
                        throw ExitCode(ExitStatus.usage)
                    }
                    environment[entry.name] = entry.value
                }
            case .failure(let error):
                standardError("\(file):\(error.line): error: \(error.message) (\(origin))\n")
                throw ExitCode(ExitStatus.usage)
            }
        }
        for entry in env {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return environment
    }
}

/// `run --dry-run`: the order, executors, timeouts and retries, without running anything.
enum PlanPrinter {
    /// One instance of the plan: what `--dry-run` says about it.
    struct Entry {
        var name: String
        /// The workflow's job id and the instance's key, as the run's events name it (`job`):
        /// a tool maps the plan to a run's events by it (audit 64 cli L20).
        var job: String
        var key: String
        /// `calls FILE`, `executor: …`, `timeout: …`, `needs: …`, `if: …`, …
        var facts: [String]
        /// Whether it calls a reusable workflow; its called jobs, each as one line.
        var calls = false
        var called: [String] = []
        var steps: [(name: String, details: [String])] = []
    }

    /// `missingExecutor`: why no plugin provides an executor id (nil: one does); such a job is
    /// marked as an unmapped label is, since `run` would refuse it.
    static func entries(_ plan: Plan, runners: RunnerMap = RunnerMap(), context: RunContext? = nil,
                        missingExecutor: (String) -> String? = { _ in nil }) -> [Entry] {
        var entries: [Entry] = []
        for instance in plan.allInstances {
            guard let job = plan.workflow.job(instance.jobID) else { continue }
            if let call = job.call {
                // A calling job runs the called workflow's jobs, each instance with its own inputs.
                var facts = ["calls \(call.uses.value)" + (call.workflow == nil ? " (fetched when a run starts)" : "")]
                if !job.needs.isEmpty { facts.append("needs: \(job.needs.map(\.value).joined(separator: ", "))") }
                if let condition = job.condition { facts.append("if: \(condition.source.value)") }
                var entry = Entry(name: instance.displayName, job: instance.jobID, key: instance.key, facts: facts, calls: true)
                for called in call.workflow?.jobs ?? [] {
                    let needs = called.needs.isEmpty ? "" : "  (needs: \(called.needs.map(\.value).joined(separator: ", ")))"
                    entry.called.append("job \(called.displayName)" + (called.call.map { " calls \($0.uses.value)" } ?? "") + needs)
                }
                entries.append(entry)
                continue
            }
            var facts: [String] = []
            if let failure = plan.strategyFailures.first(where: { $0.job == instance.jobID }) {
                // The stand-in of a strategy that cannot be evaluated: the job fails when it is due
                // (review 63: the json plan showed it without the reason).
                facts.append("error: \(failure.diagnostic.message)")
            }
            switch runners.plannedChoice(for: job, instance: instance, workflow: plan.workflow, context: context) {
            case .skip(let reason)?: facts.append(reason)
            case .refuse(let message, _, _)?: facts.append("error: \(message)")
            case let choice:
                if case .executor(let reference, _)? = choice, let problem = missingExecutor(reference.pluginID) {
                    facts.append("error: \(problem)")
                } else {
                    facts.append("executor: " + RunnerMap.describe(choice))
                }
            }
            if let expression = job.timeoutExpression {
                facts.append("\(expression.minutes ? "timeout-minutes" : "timeout"): \(expression.field.source.value)")
            } else {
                facts.append("timeout: \(DurationParser.format(job.timeout?.value ?? plan.workflow.jobTimeout?.value ?? .seconds(360 * 60)))")
            }
            if !job.needs.isEmpty { facts.append("needs: \(job.needs.map(\.value).joined(separator: ", "))") }
            if let condition = job.condition { facts.append("if: \(condition.source.value)") }
            if let condition = job.original?.shellCondition { facts.append("condition (bash): \(condition.value)") }
            if let nix = job.nix {
                let names = nix.packages + nix.flakes + nix.derivations.map { ($0 as NSString).lastPathComponent }
                facts.append("nix: \(names.joined(separator: ", "))")
            }
            if job.continueOnError { facts.append("continue-on-error") }
            if let flag = job.continueOnErrorExpression { facts.append("continue-on-error: \(flag.source.value)") }
            var entry = Entry(name: instance.displayName, job: instance.jobID, key: instance.key, facts: facts)
            for step in job.steps {
                var details: [String] = []
                // What the step gets: its own, else its job's defaults, else the workflow's.
                if step.timeoutExpression == nil,
                   let timeout = step.timeout ?? job.defaults.stepTimeout ?? plan.workflow.defaults.stepTimeout {
                    details.append("timeout \(DurationParser.format(timeout.value))")
                }
                if let expression = step.timeoutExpression {
                    details.append("\(expression.minutes ? "timeout-minutes" : "timeout") \(expression.field.source.value)")
                }
                // Only `run` steps are attempted again (a `uses` step's plan line claimed it: audit 61 input H5).
                if step.run != nil, let retry = step.retry ?? job.defaults.retry ?? plan.workflow.defaults.retry {
                    details.append("retry \(retry.maxAttempts) attempts, \(retry.backoff.rawValue) from \(DurationParser.format(retry.delay)) up to \(DurationParser.format(retry.maxDelay))")
                }
                if let condition = step.condition { details.append("if: \(condition.source.value)") }
                if let condition = step.shellCondition { details.append("condition (bash): \(condition.value)") }
                if step.continueOnError { details.append("continue-on-error") }
                if let flag = step.continueOnErrorExpression { details.append("continue-on-error: \(flag.source.value)") }
                entry.steps.append((step.displayName, details))
            }
            entries.append(entry)
        }
        return entries
    }

    static func render(_ plan: Plan, maxJobs: Int, runners: RunnerMap = RunnerMap(), context: RunContext? = nil,
                       missingExecutor: (String) -> String? = { _ in nil }) -> String {
        let entries = entries(plan, runners: runners, context: context, missingExecutor: missingExecutor)
        // A calling job is one entry here, while the run's summary has a row for each job it
        // calls too (audit 58 examples L14: "4 jobs, 5 to run", then "10 jobs" in the summary).
        let callers = entries.filter(\.calls).count
        let calling = callers == 0 ? "" : " (\(callers) call\(callers == 1 ? "s a workflow" : " workflows"): the run's summary lists the called jobs too)"
        var text = "plan of workflow '\(DisplayText.escaped(plan.workflow.name))': \(plan.order.count) job\(plan.order.count == 1 ? "" : "s"), "
            + "\(entries.count) to run\(calling), at most \(maxJobs) at once\n"
        for (index, entry) in entries.enumerated() {
            text += "\(index + 1). \(DisplayText.escaped(entry.name))  [\(entry.facts.joined(separator: "; "))]\n"
            for line in entry.called { text += "   - \(DisplayText.escaped(line))\n" }
            for step in entry.steps {
                text += "   - \(DisplayText.escaped(step.name))" + (step.details.isEmpty ? "" : "  (\(step.details.joined(separator: "; ")))") + "\n"
            }
        }
        return text
    }

    /// `--dry-run` with `--log-format json`: the same plan as one JSON object (audit 51: it printed
    /// the text), `{"workflow", "jobs", "instances", "maxJobs", "plan": [{"name", "facts": [],
    /// "called": [], "steps": [{"name", "details": []}]}]}`, and a newline.
    static func renderJSON(_ plan: Plan, maxJobs: Int, runners: RunnerMap = RunnerMap(), context: RunContext? = nil,
                           missingExecutor: (String) -> String? = { _ in nil }) -> String {
        let entries = entries(plan, runners: runners, context: context, missingExecutor: missingExecutor)
        var json = JSONWriter()
        func strings(_ values: [String]) {
            json.beginArray()
            for value in values { json.string(value) }
            json.endArray()
        }
        json.beginObject()
        json.key("workflow"); json.string(plan.workflow.name)
        json.key("jobs"); json.int(plan.order.count)
        json.key("instances"); json.int(entries.count)
        json.key("maxJobs"); json.int(maxJobs)
        json.key("plan")
        json.beginArray()
        for entry in entries {
            json.beginObject()
            json.key("name"); json.string(entry.name)
            json.key("facts"); strings(entry.facts)
            json.key("called"); strings(entry.called)  // always, as cli.md shows it (audit 53)
            json.key("steps")
            json.beginArray()
            for step in entry.steps {
                json.beginObject()
                json.key("name"); json.string(step.name)
                json.key("details"); strings(step.details)
                json.endObject()
            }
            json.endArray()
            json.key("job"); json.string(entry.job)
            json.key("key"); json.string(entry.key)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return String(decoding: json.bytes, as: UTF8.self) + "\n"
    }
}

extension PluginRegistry {
    /// Discover plugins, warning on standard error about search folders skipped as untrusted
    /// (other users could have put a library there).
    static func discoverWarning() -> PluginRegistry {
        let registry = discover()
        for refusal in registry.skippedFolders {
            standardError("warning: plugin \(refusal.reason) (\(refusal.path))\n")
        }
        return registry
    }
}

/// The exit status the run's `workflow_finished` gives, once it went by (nil before).
final class ExitStatusRecorder: RunReporter {
    private let value = Atomic<Int32>(-1)

    var status: Int32? {
        let status = value.load(ordering: .acquiring)
        return status >= 0 ? status : nil
    }

    func report(_ event: RunEvent) {
        if case .workflowFinished(_, _, _, let exitStatus?, _) = event { value.store(exitStatus, ordering: .releasing) }
    }

    /// Output is not its business (the default would split each chunk into events).
    func output(_ chunk: OutputChunk) {}
}

/// The run's reporters, and whether the runner has started them (`workflow_started` went through):
/// an event of the run's own (a signal's message) goes to all of them only then, never ahead of
/// the console's first event. One that comes before is kept for the console, which gets it right
/// after `workflow_started` (the events file, already open, is written by the caller at once).
final class StartGate: RunReporter {
    private let wrapped: FanOutReporter
    private let console: any RunReporter
    /// Whether the runner has started the reporters, and what the console has still to get then.
    private let state = Mutex((started: false, pending: [RunEvent]()))

    init(_ wrapped: FanOutReporter, console: any RunReporter) {
        self.wrapped = wrapped
        self.console = console
    }

    func report(_ event: RunEvent) {
        if case .workflowStarted = event {
            // Under the lock: `report(startedOnly:)` either comes before and waits, or after.
            state.withLock { state in
                wrapped.report(event)
                state.started = true
                for pending in state.pending { console.report(pending) }
                state.pending = []
            }
            return
        }
        wrapped.report(event)
    }

    func output(_ chunk: OutputChunk) { wrapped.output(chunk) }

    /// Report `event` if the runner has started the reporters; false otherwise (kept for the
    /// console until they start; the caller writes it where it can at once).
    func report(startedOnly event: RunEvent) -> Bool {
        state.withLock { state in
            if state.started {
                wrapped.report(event)
            } else {
                state.pending.append(event)
            }
            return state.started
        }
    }
}
