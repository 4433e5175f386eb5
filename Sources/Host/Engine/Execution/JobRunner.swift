import Foundation
import NixActionsPluginMessages

/// Runs one planned job: start it on its executor, run its steps, clean it up, compute its outputs.
struct JobRunner: Sendable {
    let planned: PlannedJob
    let job: Job
    /// What runs it: the job's own executor, or the one its `runs-on` labels chose.
    let executorReference: ExecutorReference
    /// Whether the job runs in its `container:` (GitHub's container job), not where `runs-on`
    /// chose because the image rendered empty: its steps without a shell run `sh -e`, as on GitHub.
    var inJobContainer: Bool {
        job.executorFromContainer && executorReference.pluginID == job.executor.pluginID && executorReference.location == job.executor.location
    }
    let workflow: Workflow
    let reporter: any RunReporter
    let options: RunOptions
    let redactor: Redactor
    let artifacts: ArtifactStore
    /// Results of the jobs this one needs, by workflow job id.
    let needs: [String: ExpressionValue]
    /// `hashFiles` on this job's workspace (set when the job has started).
    let hashing = JobHashing()
    /// `GITHUB_ACTION` of the job's steps.
    let stepNames = StepActionNames()
    /// The job's annotations, against GitHub's limits (10 of a kind per step, 50 per job).
    let annotations = AnnotationBudget()
    /// The job's key as executors get it (its folders, container and remote folder names, and so
    /// the command lines that name them, which every user can read): the key as reports show it,
    /// a masked part (a secret's value in a matrix value) as `MASKED`, which no matrix instance's
    /// key holds (they are lower-case). (A job id spelled `…-MASKED` or, on a file system that
    /// ignores case, `…-masked` could share its folder: not guarded against.)
    var executorKey: String {
        guard let redacting = reporter as? RedactingReporter else { return planned.key }
        let shown = redacting.key(planned.key)
        return shown == planned.key ? shown : shown.replacingOccurrences(of: Redactor.mask, with: "MASKED")
    }
    /// Called just before the job's `job_finished` is reported (the scheduler's fail-fast then
    /// tells only siblings that have not finished why it cancels them).
    var willFinish: (@Sendable () -> Void)?
    /// When the scheduler reported `job_started`: the job's duration counts from there, so a job
    /// whose task a busy machine started late still lasts from its `job_started` to its
    /// `job_finished` (audit 64 events L3: 71 ms against 605 ms between the two events).
    var reportedStart: ContinuousClock.Instant?

    static let captureFiles = ["GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"]
    /// A step's command files: GITHUB_STATE too, for every step, as GitHub's runner has it.
    static let stepCaptureFiles = captureFiles + ["GITHUB_STATE"]
    /// Each one's key in `github` and in its file's name (`GITHUB_STEP_SUMMARY` → `step_summary`).
    static let commandFileKeys = stepCaptureFiles.map { ($0, $0.dropFirst("GITHUB_".count).lowercased()) }
    /// The longest a cleanup step (`always()`/`cancelled()` after a cancellation) may run, unless
    /// the run says otherwise (`RunOptions.cleanupLimit`).
    public static let defaultCleanupLimit: Duration = .seconds(300)
    /// GitHub's default job timeout.
    static let defaultJobTimeout: Duration = .seconds(360 * 60)

    /// Mutable state while the steps run.
    struct State {
        /// The running step's `continue-on-error` that could not be read, said if it fails.
        var allowProblem: (level: MessageLevel, text: String)?
        var succeeded = true
        var cancelled = false
        var failure: JobFailure?
        /// What GITHUB_ENV set; each change bumps `addedEnvVersion` (see `StepEnvironmentCache`).
        var addedEnv: [String: String] = [:] { didSet { addedEnvVersion &+= 1 } }
        var addedEnvVersion = 0
        /// The environment of the last step without an `env:` of its own, for the next such step.
        var envCache: StepEnvironmentCache?
        /// The job's shared environment has reached the executor (`StepSpec.jobEnvironment`).
        var sharedEnvironmentSent = false
        var pathPrepend: [String] = []
        var steps: ExpressionObject = [:]
        var allOutputs: [String: String] = [:]
        /// Bytes of the outputs its steps set so far (`CaptureLimits.jobStepOutputBytes`).
        var stepOutputBytes = 0
        var summary = ""
        /// Step summaries kept so far (`CaptureLimits.summariesPerJob`).
        var summaries = 0
        /// Caches to save after the steps (actions/cache's post step), in the order restored.
        var pendingSaves: [ResolvedCache] = []
        /// Inside composite actions: the `env:` of the steps that use them (outermost first), set
        /// over GITHUB_ENV for their steps, as a step's own `env:` is over it for that step
        /// (GitHub's runner since actions/runner#1794).
        var envOver: [String: String] = [:]
        /// The composite action whose steps are running (nil: the job's own steps).
        var frame: ActionFrame?
        /// The folders of remote actions whose files are in the job already.
        var actionsPut: Set<String> = []
        /// What the JavaScript action script that ran last wrote to GITHUB_STATE.
        var savedState: [String: String] = [:]
        /// What each job step's JavaScript action saved in its `pre` script, by the step's index.
        var preStates: [Int: [String: String]] = [:]
        /// The `post` scripts of the JavaScript actions that ran, in order: run last first after the job's steps.
        var posts: [PostScript] = []
        /// How many pre and post scripts have run: they take the step indexes after the job's own.
        var scriptSteps = 0
    }

    func run(_ instances: ExecutorCache) async -> JobOutcome {
        // What plugins say about this job's operations is the job's (OperationMessages).
        let reporter = self.reporter, key = planned.key
        let route = OperationMessages { level, text in reporter.report(.message(job: key, level: level, text: text)) }
        return await OperationMessages.$route.withValue(route) {
            await runJob(instances)
        }
    }

    private func runJob(_ instances: ExecutorCache) async -> JobOutcome {
        let clock = ContinuousClock()
        let started = reportedStart ?? clock.now
        var spec = JobSpec(
            jobKey: executorKey, displayName: planned.displayName, copyProject: job.workspace.copyProject,
            copyExcludes: job.workspace.excludes)
        spec.copySkipPaths = options.copySkipPaths.isEmpty ? nil : options.copySkipPaths
        var checkoutFailure: (any Error)?
        do {
            try await prepareCheckout(&spec)
        } catch {
            checkoutFailure = error
        }

        var jobAllowsFailure = job.continueOnError
        func finish(_ outcome: Outcome, _ failure: JobFailure?, outputs: [String: String] = [:]) -> JobOutcome {
            var outcome = outcome
            var allowed = false
            if outcome == .failure && jobAllowsFailure {
                reporter.report(.message(job: planned.key, level: .warning, text: "job failed; allowed by continue-on-error"))
                outcome = .success
                allowed = true
            }
            let duration = clock.now - started
            willFinish?()
            // A job a second signal ended says so (its steps not started have no event; audit 54 L2),
            // and so does one a run that could not go on ended.
            let stopped = AbruptStop.requested && (AbruptStop.failure == nil ? outcome == .cancelled : outcome != .success)
            reporter.report(.jobFinished(job: planned.key, name: planned.displayName, outcome: outcome, duration: duration, failure: failure, outputs: outputs,
                                         reason: stopped ? AbruptStop.message : nil))
            return JobOutcome(key: planned.key, jobID: job.id, name: planned.displayName, outcome: outcome, failure: failure,
                              duration: duration, outputs: outputs, allowedFailure: allowed)
        }
        func fail(_ message: String) -> JobOutcome {
            reporter.report(.message(job: planned.key, level: .error, text: message))
            return finish(.failure, JobFailure(message: message))
        }

        let executor: any Executor
        switch instances.executor(for: executorReference) {
        case .success(let made): executor = made
        case .failure(let error):
            // At the executor's place in the file (audit 61 input: options a plugin refuses were
            // said with no location).
            return fail((executorReference.location.map { "\($0): " } ?? "") + error.description)
        }
        if let checkoutFailure {
            if checkoutFailure is CancellationError || Task.isCancelled { return finish(.cancelled, nil) }
            return fail("cannot check out the project for job '\(planned.displayName)': \(describe(checkoutFailure))")
        }

        let jobStarted: JobStarted
        do {
            jobStarted = try await executor.startJob(spec)
        } catch {
            await executor.finishJob(spec)
            if error is CancellationError || Task.isCancelled { return finish(.cancelled, nil) }
            return fail("cannot start job '\(planned.displayName)' on executor '\(executorReference.pluginID)': \(describe(error))")
        }

        hashing.started(jobStarted)
        var state = State()
        let base = baseContexts(jobStarted)
        jobAllowsFailure = allowsFailure(job.continueOnError, job.continueOnErrorExpression, context(base, .ok))
        do {
            try await restoreArtifacts(started: jobStarted, executor: executor)
        } catch {
            state.succeeded = false
            state.failure = JobFailure(message: "\(error)")
            reporter.report(.message(job: planned.key, level: .error, text: "\(error)"))
        }

        let env: [String: String]
        // Secrets exported as env are the lowest level: any `env:` that sets the same name wins.
        // --env and --env-file are over every env: level (the original NixActions' precedence: a
        // value given at run time overrides the workflow's); they are in the base too, so an env
        // entry's ${{ env.X }} sees them.
        var lowest = options.secrets.runEnv
        if let exported = options.secrets.jobEnv[job.id] { lowest.merge(exported) { _, secret in secret } }
        lowest.merge(options.environment) { _, given in given }
        switch evaluateEnv(workflow.env + job.env, base: lowest, contexts: base, status: .ok) {
        case .success(let values): env = values.merging(options.environment) { _, given in given }
        case .failure(let problem):
            await executor.finishJob(spec)
            return fail(problem.message)
        }
        // What the job's own hidden commands see (its condition, its Nix build): the job's env and the
        // runner's variables. Made only for a job that has such commands.
        func hiddenEnvironment() -> [String: String] {
            var environment = env
            defineRunnerVariables(&environment, step: nil, started: jobStarted)
            return environment
        }
        if state.succeeded, let condition = job.original?.shellCondition {
            // The original NixActions' job condition: a shell test in the job's environment.
            switch await shellConditionHolds(condition, index: 0, environment: hiddenEnvironment(), started: jobStarted, pathPrepend: [], executor: executor) {
            case .success(true): break
            case .success(false):
                await executor.finishJob(spec)
                let reason = "skipped: its condition '\(condition.value)' is false"
                reporter.report(.message(job: planned.key, level: .info, text: reason))
                return finish(.skipped, JobFailure(message: reason))
            case .failure(let problem):
                await executor.finishJob(spec)
                return fail(problem.message)
            }
        }
        if state.succeeded, let nix = job.nix {
            switch await buildNixPackages(nix, environment: hiddenEnvironment(), executor: executor) {
            case .success(let bins): state.pathPrepend = bins
            case .failure(let problem):
                state.succeeded = false
                state.failure = JobFailure(message: problem.message)
                reporter.report(.message(job: planned.key, level: .error, text: problem.message))
            }
        }
        // The job's time limit cancels the steps (cleanup steps still run, capped) but keeps what
        // they produced: outputs, env, the summary of the steps that finished.
        var evaluatedLimit = job.timeout?.value ?? workflow.jobTimeout?.value ?? Self.defaultJobTimeout
        if let expression = job.timeoutExpression {
            do {
                evaluatedLimit = try expression.evaluate(context(base, .ok)) ?? workflow.jobTimeout?.value ?? Self.defaultJobTimeout
            } catch {
                state.succeeded = false
                state.failure = JobFailure(message: "cannot evaluate \(expression.minutes ? "timeout-minutes" : "timeout"): \(error.message)")
                let at = expression.field.source.location.map { "\($0): " } ?? ""
                reporter.report(.message(job: planned.key, level: .error, text: "\(at)cannot evaluate \(expression.minutes ? "timeout-minutes" : "timeout") of job '\(job.id)': \(error.message)"))
            }
        }
        let limit = evaluatedLimit
        let runner = self
        let limitStarted = ContinuousClock.now
        // The job's limit covers its caches' restore (a backend that stops answering held a job
        // of 3 s for 2 minutes, audit 50) as it does the steps, and what is left of it the saves.
        // Whether the caches were being restored: a limit that passes then says so (audit 60 hangs
        // L2: "its steps were ended", with nothing pointing at a backend that had stalled).
        let restoring = TimeoutFlag(), restored = TimeoutFlag()
        let steps = Task(executorPreference: HandOffExecutor.shared) { [state] in
            var state = state
            if state.succeeded && !runner.job.caches.isEmpty {
                restoring.set()
                await runner.restoreJobCaches(executor: executor, started: jobStarted, base: base, env: env, state: &state)
                if !Task.isCancelled { restored.set() }  // a restore the limit cut short returns too
            }
            // Cancelled during the restore: runSteps runs only the cleanup steps, as after any cancellation.
            await runner.runSteps(executor: executor, started: jobStarted, base: base, env: env, state: &state)
            return state
        }
        let timedOut = TimeoutFlag()
        let timer = DeadlineTimer.shared.schedule(after: limit) {
            timedOut.set()
            steps.cancel()
        }
        state = await withTaskCancellationHandler { await steps.value } onCancel: { steps.cancel() }
        DeadlineTimer.shared.cancel(timer)
        if timedOut.isSet {
            state.succeeded = false
            state.cancelled = false
            state.failure = JobFailure(message: "job timed out after \(DurationParser.format(limit))", timeLimit: limit)
            let during = restoring.isSet && !restored.isSet
                ? " while its caches were restored (\(job.caches.map { "'\($0.id)'" }.joined(separator: ", "))): the cache backend did not finish"
                : "; its steps were ended"
            reporter.report(.message(job: planned.key, level: .error, text: "job '\(planned.displayName)' timed out after \(DurationParser.format(limit))\(during)"))
        }
        if !state.pendingSaves.isEmpty {
            // After the limit passed, the saves that still apply (`save-on: always`) get the
            // cleanup limit, as cleanup steps do.
            let left = timedOut.isSet ? options.cleanupLimit : max(limit - (ContinuousClock.now - limitStarted), .zero)
            let finalState = state
            let saved: Void? = await withTimeout(left) { await runner.savePendingCaches(executor: executor, state: finalState) }
            if saved == nil, !timedOut.isSet {
                reporter.report(.message(job: planned.key, level: .warning,
                                         text: "job '\(planned.displayName)': its time limit (\(DurationParser.format(limit))) passed while its caches were saved; what was not saved yet is not"))
            }
        }
        // `artifacts.keep` under the job's name, and a .nix job's named `outputs`.
        var kept = job.original?.keepArtifacts ?? []
        if let keep = job.artifacts?.keep, !keep.isEmpty { kept.insert((artifactName(ofJob: job.id), keep.map(\.value)), at: 0) }
        if state.succeeded, !kept.isEmpty {
            do {
                for (name, paths) in kept { try await keepArtifact(paths, as: name, started: jobStarted, executor: executor) }
            } catch where Task.isCancelled {
                // The run's cancel (Ctrl-C) while the files came back: the job is cancelled, not
                // failed, whatever the interrupted copy said (audit 67 remote L1).
                state.cancelled = true
                reporter.report(.message(job: planned.key, level: .warning,
                                         text: "job '\(planned.displayName)' was cancelled while its artifacts were being kept; they are incomplete"))
            } catch {
                state.succeeded = false
                state.failure = JobFailure(message: "\(error)")
                reporter.report(.message(job: planned.key, level: .error, text: "\(error)"))
            }
        }
        if let folder = options.keepWorkspacesIn { await keepWorkspace(in: folder, started: jobStarted, executor: executor) }
        await executor.finishJob(spec)
        if !state.summary.isEmpty { reporter.report(.jobSummary(job: planned.key, markdown: state.summary)) }

        var contexts = base
        contexts["steps"] = .object(state.steps)
        contexts["env"] = .sortedObject(env.merging(state.addedEnv) { _, added in added }.mapValues(ExpressionValue.string))
        // The outputs see the job's status as its steps left it, as GitHub's runner evaluates them
        // (`${{ job.status }}` of a failed job is `failure`: audit 66 fidelity M2).
        contexts["job"] = Self.jobContext(contexts["job"], status: state.cancelled ? "cancelled" : state.succeeded ? "success" : "failure")
        let (outputs, outputsFailure) = jobOutputs(state: state, contexts: contexts)
        if let outputsFailure, !state.cancelled, !(Task.isCancelled && state.succeeded) {
            // GitHub's runner fails the job ("Fail to evaluate job outputs") and sets none (audit 53).
            state.succeeded = false
            if state.failure == nil { state.failure = JobFailure(message: outputsFailure) }
        }
        if state.cancelled || (Task.isCancelled && state.succeeded) { return finish(.cancelled, state.failure, outputs: outputs) }
        return finish(state.succeeded ? .success : .failure, state.failure, outputs: outputs)
    }

    /// The contexts every expression of this job sees (steps and env are added as they change).
    func baseContexts(_ started: JobStarted) -> [String: ExpressionValue] {
        let run = options.runContext
        var github = run.github
        github["job"] = .string(job.id)
        github["workspace"] = .string(started.workspace)
        // A GITHUB_TOKEN secret given to the run is github.token too, as on GitHub, where the two
        // are one token (audit 53: `token: ${{ github.token }}` stayed empty). Masked: a secret.
        let secrets = options.secrets.run.merging(options.secrets.jobs[job.id] ?? [:]) { _, job in job }
        if let token = secrets["GITHUB_TOKEN"] ?? secrets.first(where: { $0.key.uppercased() == "GITHUB_TOKEN" })?.value {
            github["token"] = .string(token)
        }
        return [
            "github": .sortedObject(github),
            "runner": .sortedObject(run.runner.merging([
                "os": .string(started.os ?? "Linux"), "arch": .string(started.arch ?? JobStarted.hostArch), "name": .string("nixactions"),
                "temp": .string(started.temporaryDirectory), "workspace": .string(started.runnerWorkspace),
            ]) { _, job in job }),
            "matrix": planned.matrixObject,
            "strategy": planned.strategyContext,
            "needs": .sortedObject(needs),
            "job": .sortedObject(Self.jobServices(started).merging(["status": .string("success")]) { _, status in status }),
            "steps": .object([:]),
            "secrets": .sortedObject(secrets.mapValues(ExpressionValue.string)),
            "inputs": .sortedObject(run.inputs),
            "vars": .sortedObject(run.vars),
            "env": .object([:]),
        ]
    }

    /// `job.services` from what the executor said it started (GitHub's `id`, `network`, and
    /// `ports`: container port → the port of this machine it is published on).
    static func jobServices(_ started: JobStarted) -> [String: ExpressionValue] {
        var fields: [String: ExpressionValue] = [:]
        // The job's container: its id and network (`docker run --network ${{ job.container.network }}`).
        if let container = started.container {
            fields["container"] = .object(["id": .string(container.id), "network": .string(container.network)])
        }
        guard let services = started.services, !services.isEmpty else { return fields }
        fields["services"] = .sortedObject(services.mapValues { service -> ExpressionValue in
            .object(["id": .string(service.id), "network": .string(service.network), "ports": .sortedObject(service.ports.mapValues(ExpressionValue.string))])
        })
        return fields
    }

    /// The `job` context with `status` set and its other fields (`services`) kept.
    static func jobContext(_ current: ExpressionValue?, status: String) -> ExpressionValue {
        var fields: ExpressionObject = [:]
        if case .object(let known)? = current { fields = known }
        fields["status"] = .string(status)
        return .object(fields)
    }

    func context(_ contexts: [String: ExpressionValue], _ status: ExpressionStatus) -> RuntimeContext {
        RuntimeContext(contexts: contexts, status: status, hashRoot: options.projectDirectory, functions: options.functions, hashing: hashing,
                       redactor: redactor)
    }

    /// Evaluate env entries in order; each may use `env.X` of the ones before it.
    func evaluateEnv(
        _ entries: [EnvEntry], base: [String: String], contexts: [String: ExpressionValue], status: ExpressionStatus
    ) -> Result<[String: String], RunProblem> {
        var assigned = Set<String>()
        return evaluateEnv(entries, base: base, contexts: contexts, status: status, assigned: &assigned)
    }

    /// `evaluateEnv`, also saying in `assigned` which names the entries set.
    /// - Parameter inOrder: each entry sees the ones before it (workflow and job `env`, a
    ///   NixActions extra: GitHub has no `env` context there); false: every entry sees `base`
    ///   only, as GitHub's runner evaluates a step's `env` mapping as a whole (`StepsRunner`).
    func evaluateEnv(
        _ entries: [EnvEntry], base: [String: String], contexts: [String: ExpressionValue], status: ExpressionStatus,
        assigned: inout Set<String>, inOrder: Bool = true
    ) -> Result<[String: String], RunProblem> {
        var values = base
        var contexts = contexts
        if !inOrder { contexts["env"] = .sortedObject(base.mapValues(ExpressionValue.string)) }
        for entry in entries {
            if inOrder { contexts["env"] = .sortedObject(values.mapValues(ExpressionValue.string)) }
            if entry.name.isEmpty {
                // `env: ${{ … }}`: an object whose members are the variables.
                let at = entry.value.source.location.map { "\($0): " } ?? ""
                do {
                    guard case .object(let members) = try entry.value.template.evaluateValue(context(contexts, status)) else {
                        return .failure(RunProblem("\(at)env: the expression must give an object of NAME: value"))
                    }
                    for (name, value) in members.sorted(by: { $0.key < $1.key }) {
                        guard isValidEnvironmentKey(name) else {
                            return .failure(RunProblem("\(at)env: '\(name)' cannot be an environment variable name"))
                        }
                        values[name] = value.displayString
                        assigned.insert(name)
                    }
                } catch {
                    return .failure(RunProblem("\(at)cannot evaluate 'env': \(error.message)"))
                }
                continue
            }
            switch render(entry.value, what: "env.\(entry.name)", context(contexts, status)) {
            case .success(let text):
                values[entry.name] = text
                assigned.insert(entry.name)
            case .failure(let problem): return .failure(problem)
            }
        }
        return .success(values)
    }

    /// Render a template, or a message that says which expression failed, where and why.
    func render(_ field: TemplateField, what: String, _ context: RuntimeContext) -> Result<String, RunProblem> {
        do {
            return .success(try field.template.render(context))
        } catch {
            let at = field.location(ofOffset: error.offset).map { "\($0): " } ?? ""
            return .failure(RunProblem("\(at)cannot evaluate '\(what)': \(error.message)\(error.hint.map { " (hint: \($0))" } ?? "")"))
        }
    }

    /// The job's outputs; an output that cannot be evaluated fails the job and none are passed on
    /// (the failure's message), as GitHub's runner does. An empty value is not an output: it never
    /// hides the value another instance of a matrix set (GitHub's runner skips it, audit 53).
    func jobOutputs(state: State, contexts: [String: ExpressionValue]) -> (outputs: [String: String], failure: String?) {
        var outputs: [String: String] = [:]
        // GitHub's limit: a job's outputs, 1 MB in all (their values); one that would pass it is
        // dropped, with a warning.
        var total = 0
        func keep(_ name: String, _ value: String) {
            guard !value.isEmpty, passesSecretCheck(name, value) else { return }
            let size = value.utf8.count
            guard total + size <= CaptureLimits.jobOutputBytes else {
                reporter.report(.message(job: planned.key, level: .warning, text:
                    "output '\(name)' (\(size) bytes) is not passed on: a job's outputs can be at most 1 MiB in all (GitHub's limit per job)"))
                return
            }
            total += size
            outputs[name] = value
        }
        guard let declared = job.outputs else {
            for (name, value) in state.allOutputs.sorted(by: { $0.key < $1.key }) { keep(name, value) }
            return (outputs, nil)
        }
        var failure: String?
        let evaluation = context(contexts, ExpressionStatus(succeeded: state.succeeded, cancelled: state.cancelled))
        for (name, field) in declared {
            switch render(field, what: "outputs.\(name)", evaluation) {
            case .success(let value): keep(name, value)
            case .failure(let problem):
                reporter.report(.message(job: planned.key, level: .error, text: problem.message))
                if failure == nil { failure = problem.message }
            }
        }
        return failure == nil ? (outputs, nil) : ([:], failure)
    }

    /// A literal `continue-on-error`, or its expression's boolean (an expression that fails, or
    /// gives anything but a boolean, is false, with an error). GitHub takes only a boolean there:
    /// `${{ vars.ALLOW }}` holding 'false' is "Unexpected value 'false'" and the failure is not
    /// allowed (audit 52: a non-empty string was truthy, and a failing step passed).
    func allowsFailure(_ literal: Bool, _ expression: TemplateField?, _ context: RuntimeContext) -> Bool {
        var problem: (level: MessageLevel, text: String)?
        let allowed = allowsFailure(literal, expression, context, problem: &problem)
        if let problem { reporter.report(.message(job: planned.key, level: problem.level, text: problem.text)) }
        return allowed
    }

    /// The same, with what is wrong with the expression in `problem` instead of said: a step's
    /// is said only if the step fails, as GitHub's runner reads the key only then (audit 66
    /// fidelity L2: a warning for a skipped step, and for one that succeeded).
    func allowsFailure(_ literal: Bool, _ expression: TemplateField?, _ context: RuntimeContext,
                       problem: inout (level: MessageLevel, text: String)?) -> Bool {
        guard let expression else { return literal }
        do {
            let value = try expression.template.evaluateValue(context)
            if case .bool(let flag) = value { return flag }
            let at = expression.location(ofOffset: 0).map { "\($0): " } ?? ""
            let shown = redactor.redact(value.gitHubText)
            problem = (.warning, "\(at)'continue-on-error': Unexpected value '\(DisplayText.escaped(shown))': it must be a boolean "
                          + "(true or false, not text); a failure is not allowed. Hint: fromJSON(…) reads 'true' or 'false' as a boolean")
            return false
        } catch {
            let at = expression.location(ofOffset: error.offset).map { "\($0): " } ?? ""
            problem = (.error, "\(at)cannot evaluate 'continue-on-error': \(error.message)")
            return false
        }
    }

    /// What was wrong with the failed step's `continue-on-error`, said now that it failed.
    func sayAllowProblem(_ state: inout State) {
        guard let problem = state.allowProblem else { return }
        state.allowProblem = nil
        reporter.report(.message(job: planned.key, level: problem.level, text: problem.text))
    }

    /// An output that contains a secret is not passed on (GitHub's rule).
    func passesSecretCheck(_ name: String, _ value: String) -> Bool {
        guard redactor.redact(value) != value else { return true }
        reporter.report(.message(job: planned.key, level: .warning, text: "output '\(name)' contains a secret and is not passed on"))
        return false
    }

    /// The name `artifacts:` keeps a job's files under: its id, after the calling instance's key
    /// for a job of a called workflow (whose id in the scheduler is `KEY/ID`), so that each call
    /// of a reusable workflow keeps its own.
    func artifactName(ofJob id: String) -> String {
        guard planned.jobID != job.id, planned.jobID.hasSuffix("/" + job.id) else { return id }
        return planned.jobID.dropLast(job.id.count).replacingOccurrences(of: "/", with: "--") + id
    }

    func restoreArtifacts(started: JobStarted, executor: any Executor) async throws {
        for restore in job.artifacts?.restore ?? [] {
            try await restoreArtifact(artifactName(ofJob: restore.job.value), under: restore.path, started: started, executor: executor)
        }
        for (name, path) in job.original?.restoreArtifacts ?? [] {
            // Merged into what is there, as the original's `cp -r` did (two artifacts under dist/ both stay).
            try await restoreArtifact(name, under: path, started: started, executor: executor, merge: true)
        }
    }

    /// The executor's files interface when artifacts must go through it: its workspace is not a
    /// folder of this machine (`JobStarted.hostPaths`), or its files belong to the user its steps
    /// run as (`writesThroughFiles`); nil: the store copies files itself.
    static func fileTransfer(_ started: JobStarted, _ executor: any Executor) -> (any ExecutorFileTransfer)? {
        started.hostPaths == true && started.writesThroughFiles != true ? nil : executor.files
    }

    func keepArtifact(_ paths: [String], as name: String, started: JobStarted, executor: any Executor) async throws {
        // A kept folder holds its files, not the repository the checkout put in the workspace
        // (every `.git` in it goes); a path that names `.git` or something in it is kept after.
        let namesGit = { (path: String) in (try? ArtifactStore.relative(path, artifact: name, role: "path")).map(ArtifactStore.namesGit) ?? false }
        let plain = paths.filter { !namesGit($0) }, git = paths.filter(namesGit)
        // Kept whole into a copy of its own, then made the artifact: the last instance of a
        // matrix job to finish wins, whole (audit 51: two at once failed "File exists").
        let staging = try artifacts.staging()
        do {
            for (group, dropsGit) in [(plain, true), (git, false)] where !group.isEmpty {
                if let files = Self.fileTransfer(started, executor) {
                    try await staging.keep(group, as: name, jobKey: executorKey, through: files)
                } else {
                    try staging.keep(group, from: started.workspace, as: name)
                }
                guard dropsGit else { continue }
                for path in group {
                    let relative = try ArtifactStore.relative(path, artifact: name, role: "path")
                    ArtifactStore.dropGitRepositories(in: ArtifactStore.join(try staging.folder(name), relative))
                }
            }
            try artifacts.publish(name, from: staging, .replace)
        } catch {
            try? FileManager.default.removeItem(atPath: staging.root)
            throw error
        }
    }

    /// Copy the job's workspace into `folder/<job key>` (NIXACTIONS_KEEP_WORKSPACE), through the
    /// executor's files interface when the workspace is not on this machine. A failure is a warning.
    func keepWorkspace(in folder: String, started: JobStarted, executor: any Executor) async {
        let store = ArtifactStore(root: folder)
        // Named as the job's folders are (`executorKey`, lower-cased: an artifact folder's name,
        // with no digest, which a name other than its folder's name gets).
        let name = executorKey.lowercased()
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            if let files = Self.fileTransfer(started, executor) {
                try await store.keep(["."], as: name, jobKey: executorKey, through: files)
            } else {
                try store.keep(["."], from: started.workspace, as: name)
            }
            reporter.report(.message(job: planned.key, level: .info, text: "workspace kept in \(try store.folder(name))"))
        } catch {
            reporter.report(.message(job: planned.key, level: .warning, text: "cannot keep the workspace: \(describe(error))"))
        }
    }

    /// - Parameter merge: merge folders into what is there (download-artifact's merge-multiple); an
    ///   executor's files interface merges as it extracts.
    func restoreArtifact(_ name: String, under: String?, started: JobStarted, executor: any Executor, merge: Bool = false) async throws {
        if let files = Self.fileTransfer(started, executor) {
            try await artifacts.restore(name, under: under, jobKey: executorKey, through: files)
        } else {
            try artifacts.restore(name, into: started.workspace, under: under, merge: merge)
        }
    }

    func describe(_ error: any Error) -> String {
        if let failure = error as? OperationFailure {
            return failure.error.hint.map { "\(failure.error.message)\n  hint: \($0)" } ?? failure.error.message
        }
        if let error = error as? EngineError { return error.description }
        return OperationFailure.describe(error)
    }
}
