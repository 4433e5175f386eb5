import Foundation
import NixActionsPluginMessages
import Synchronization

/// Runs a compiled workflow: schedules job instances from the ready set and runs each through its executor.
public struct WorkflowRunner: Sendable {
    public let workflow: Workflow
    public let executors: any ExecutorProvider
    public let reporter: any RunReporter
    public let options: RunOptions
    public let redactor: Redactor

    /// - Parameter reporter: receives every event after redaction.
    public init(workflow: Workflow, executors: any ExecutorProvider, reporter: any RunReporter, options: RunOptions,
                redactor: Redactor = Redactor()) {
        self.workflow = workflow
        self.executors = executors
        self.redactor = redactor
        self.reporter = RedactingReporter(redactor: redactor, wrapping: reporter)
        var options = options
        if options.context == nil { options.context = .minimal(workflow: workflow.name, runID: options.runID) }
        self.options = options
    }

    /// Run the selected jobs. Returns when every started job has been cleaned up.
    /// - Parameter planned: the plan of `workflow` for `options.selectedJobs`, when the caller made
    ///   it already (it is made here otherwise).
    public func run(planned: Plan? = nil) async -> RunSummary {
        let clock = ContinuousClock()
        let started = clock.now
        reporter.report(.workflowStarted(workflow: workflow.name, runID: options.runID))
        let plan: Plan
        switch planned.map({ Result<Plan, Diagnostic>.success($0) }) ?? Planner.plan(workflow, selected: options.selectedJobs, context: options.context) {
        case .success(let made): plan = made
        case .failure(let diagnostic):
            reporter.report(.message(job: nil, level: .error, text: diagnostic.description))
            reporter.report(.workflowFinished(workflow: workflow.name, outcome: .failure, duration: clock.now - started))
            return RunSummary(outcome: .failure, jobs: [])
        }
        reporter.report(.planned(jobs: plan.allInstances.map(\.key)))
        let scheduler = Scheduler(runner: self, plan: plan, cache: ExecutorCache(provider: executors, options: options))
        // The scheduler, its jobs and their steps go on on the thread that completes an executor operation.
        let jobs = await withTaskExecutorPreference(HandOffExecutor.shared) { await scheduler.run() }
        let outcome: Outcome
        // A cancelled run (a signal) is cancelled; otherwise a failure wins over the cancellations
        // that fail-fast causes.
        if Task.isCancelled {
            outcome = .cancelled
        } else if jobs.contains(where: { $0.outcome == .failure }) {
            outcome = .failure
        } else if jobs.contains(where: { $0.outcome == .cancelled }) {
            outcome = .cancelled
        } else {
            outcome = .success
        }
        reporter.report(.workflowFinished(workflow: workflow.name, outcome: outcome, duration: clock.now - started))
        return RunSummary(outcome: outcome, jobs: jobs)
    }
}

/// The ready-set scheduler: a job instance starts the moment the jobs it needs have finished.
final class Scheduler: Sendable {
    let runner: WorkflowRunner
    let plan: Plan
    let cache: ExecutorCache
    /// Running instances by key, so fail-fast can cancel siblings; `forward`: started before the
    /// run was cancelled, so the run's cancellation reaches it (always() jobs started after it do not).
    let handles = Mutex<[String: (task: Task<Void, Never>, forward: Bool)]>([:])

    init(runner: WorkflowRunner, plan: Plan, cache: ExecutorCache) {
        self.runner = runner
        self.plan = plan
        self.cache = cache
    }

    var options: RunOptions { runner.options }
    var reporter: any RunReporter { runner.reporter }

    func run() async -> [JobOutcome] {
        var results: [String: JobOutcome] = [:]  // by instance key
        var finishedJobs: [String: [JobOutcome]] = [:]  // by job id, once all its instances finished
        var running: [String: String] = [:]  // instance key → job id
        var runningPerJob: [String: Int] = [:]
        var failFastTripped: Set<String> = []
        // Instances by job: a job whose strategy reads `needs` is expanded when it is ready.
        var instancesOf = plan.instances
        var usedKeys = Set(plan.allInstances.map { $0.key.lowercased() })
        let store = ArtifactStore(root: options.runDirectory + "/artifacts")

        // Linear bookkeeping: jobs by id, how many needed jobs each still waits for, who needs
        // whom, whether anything upstream failed (final once a job's needs have all finished).
        var jobsByID: [String: Job] = [:]
        for job in plan.workflow.jobs where plan.instances[job.id] != nil { jobsByID[job.id] = job }
        var waitingFor: [String: Int] = [:]
        var dependents: [String: [String]] = [:]
        var upstreamFailed: [String: Bool] = [:]
        var unfinishedInstances: [String: Int] = [:]
        for id in plan.order {
            let needs = plan.graph.needs[id] ?? []
            waitingFor[id] = needs.count
            for need in needs { dependents[need, default: []].append(id) }
            unfinishedInstances[id] = plan.instances[id]?.count ?? 0
        }
        // Ready instances in plan order; a job's instances held back by its max-parallel.
        var ready: [PlannedJob] = []
        var readyHead = 0
        var heldBack: [String: [PlannedJob]] = [:]
        for id in plan.order where waitingFor[id] == 0 { ready += plan.instances[id] ?? [] }

        // Each job runs as its own task (fail-fast cancels one by its handle) and sends its outcome
        // here: the scheduler is the only task woken when a job ends.
        let completions = Mailbox<JobOutcome>()
        do {
            func launchReady() {
                while readyHead < ready.count {
                    let instance = ready[readyHead]
                    guard let job = jobsByID[instance.jobID] else { readyHead += 1; continue }
                    let needs = plan.graph.needs[instance.jobID] ?? []
                    let cancelled = Task.isCancelled
                    if failFastTripped.contains(instance.jobID) {
                        readyHead += 1
                        finishWithout(instance, .cancelled, "cancelled: another instance of its matrix failed (fail-fast)")
                        continue
                    }
                    let needsContext = self.needsContext(needs, finishedJobs)
                    switch shouldRun(job, needs: needs, needsContext: needsContext, finished: finishedJobs,
                                     upstreamFailed: upstreamFailed[instance.jobID] ?? false, cancelled: cancelled) {
                    case .failure(let problem):
                        readyHead += 1
                        finishWithout(instance, .failure, problem.message)
                        continue
                    case .success(let reason?):
                        readyHead += 1
                        finishWithout(instance, cancelled ? .cancelled : .skipped, reason)
                        continue
                    case .success(nil): break
                    }
                    if instance.awaitsExpansion {
                        // Its needs have finished: the matrix is made from their outputs now.
                        var contexts = options.runContext.staticContexts(job: job.id)
                        contexts["needs"] = .object(needsContext)
                        switch Planner.expand(job, workflow: plan.workflow, contexts: DictionaryExpressionContext(contexts)) {
                        case .success(var expanded):
                            usedKeys.remove(instance.key.lowercased())
                            for index in expanded.indices { expanded[index].key = Planner.uniqueKey(expanded[index].key, used: &usedKeys) }
                            instancesOf[job.id] = expanded
                            unfinishedInstances[job.id] = expanded.count
                            ready.replaceSubrange(readyHead...readyHead, with: expanded)
                            if expanded.count > 1 || expanded.first?.key != instance.key {
                                reporter.report(.message(job: nil, level: .info, text: "job '\(job.id)': matrix of \(expanded.count) from its needs"))
                            }
                            continue
                        case .failure(let diagnostic):
                            readyHead += 1
                            let at = diagnostic.location.map { "\($0): " } ?? ""
                            finishWithout(instance, .failure, at + diagnostic.message + (diagnostic.hint.map { "\n  hint: \($0)" } ?? ""))
                            continue
                        }
                    }
                    // The executor: the job's own, or what its runs-on labels choose.
                    var reference: ExecutorReference
                    switch chooseExecutor(job, instance, needsContext: needsContext) {
                    case .executor(let chosen, _): reference = chosen
                    case .skip(let reason):
                        readyHead += 1
                        finishWithout(instance, cancelled ? .cancelled : .skipped, reason)
                        continue
                    case .refuse(let message, let hint, _):
                        readyHead += 1
                        finishWithout(instance, .failure, message + "\n  hint: " + hint)
                        continue
                    }
                    if !job.services.isEmpty {
                        // Sidecars of the job's container (oci), or containers of this machine (local).
                        guard reference.pluginID == "oci" || reference.pluginID == "local" else {
                            readyHead += 1
                            finishWithout(instance, .failure, Self.servicesRefusal(job, on: reference.pluginID))
                            continue
                        }
                        reference.options["services"] = .object(Dictionary(
                            job.services.map { ($0.name, JSONValue.object($0.options)) }, uniquingKeysWith: { first, _ in first }))
                    }
                    do {
                        reference.options = try evaluateOptions(reference.options, job, instance, needsContext: needsContext)
                    } catch {
                        readyHead += 1
                        let at = reference.location.map { "\($0): " } ?? ""
                        finishWithout(instance, .failure, "\(at)cannot evaluate the executor options of job '\(job.id)': \(error.message)"
                                      + "\n  hint: they may use github, matrix, needs, strategy, vars, inputs and secrets")
                        continue
                    }
                    if running.count >= options.maxParallelJobs { return }
                    readyHead += 1
                    if let limit = instance.maxParallel, runningPerJob[job.id, default: 0] >= limit {
                        heldBack[job.id, default: []].append(instance)
                        continue
                    }
                    running[instance.key] = instance.jobID
                    runningPerJob[job.id, default: 0] += 1
                    let jobRunner = JobRunner(
                        planned: instance, job: job, executorReference: reference, workflow: plan.workflow,
                        reporter: reporter, options: options,
                        redactor: runner.redactor, artifacts: store, needs: needsContext)
                    let cache = self.cache
                    let forward = !cancelled  // after a cancellation, always() jobs run to the end
                    // The handle is registered before the scheduler reads the job's outcome, so
                    // fail-fast always finds its running siblings.
                    let task = Task(executorPreference: HandOffExecutor.shared) { completions.send(await jobRunner.run(cache)) }
                    handles.withLock { $0[instance.key] = (task, forward) }
                }
                if readyHead > 4096 && readyHead * 2 > ready.count {  // drop what was consumed
                    ready.removeFirst(readyHead)
                    readyHead = 0
                }
            }
            func record(_ result: JobOutcome) {
                results[result.key] = result
                let instances = instancesOf[result.jobID] ?? []
                if result.outcome == .failure, !result.allowedFailure, instances.count > 1,
                    instances.first?.failFast ?? true, !failFastTripped.contains(result.jobID)
                {
                    failFastTripped.insert(result.jobID)
                    let siblings = instances.map(\.key).filter { running[$0] != nil }
                    if !siblings.isEmpty {
                        reporter.report(.message(job: result.key, level: .warning, text: "fail-fast: cancelling \(siblings.joined(separator: ", "))"))
                    }
                    handles.withLock { handles in for key in siblings { handles[key]?.task.cancel() } }
                }
                unfinishedInstances[result.jobID, default: 1] -= 1
                guard unfinishedInstances[result.jobID] == 0 else { return }
                // The whole job finished: its dependents wait for one job fewer.
                let outcomes = instances.compactMap { results[$0.key] }
                finishedJobs[result.jobID] = outcomes
                let failed = (upstreamFailed[result.jobID] ?? false) || outcomes.contains { $0.outcome == .failure }
                for dependent in dependents[result.jobID] ?? [] {
                    if failed { upstreamFailed[dependent] = true }
                    waitingFor[dependent, default: 1] -= 1
                    if waitingFor[dependent] == 0 { ready += instancesOf[dependent] ?? [] }
                }
            }
            func finishWithout(_ instance: PlannedJob, _ outcome: Outcome, _ reason: String) {
                reporter.report(.message(job: instance.key, level: outcome == .failure ? .error : .info, text: reason))
                reporter.report(.jobFinished(job: instance.key, name: instance.displayName, outcome: outcome, duration: .zero, failure: nil))
                var result = JobOutcome.skipped(instance, reason: reason)
                result.outcome = outcome
                record(result)
            }
            func received(_ result: JobOutcome) {
                handles.withLock { _ = $0.removeValue(forKey: result.key) }
                running.removeValue(forKey: result.key)
                runningPerJob[result.jobID, default: 1] -= 1
                if var held = heldBack[result.jobID], !held.isEmpty {
                    // A slot of this job's max-parallel is free: its next instance goes first.
                    ready.insert(held.removeFirst(), at: readyHead)
                    heldBack[result.jobID] = held
                }
                record(result)
                launchReady()
            }
            launchReady()
            await withTaskCancellationHandler {
                while !running.isEmpty { received(await completions.receive()) }
            } onCancel: {
                handles.withLock { handles in for (_, handle) in handles where handle.forward { handle.task.cancel() } }
            }
        }
        return plan.order.flatMap { instancesOf[$0] ?? [] }.compactMap { results[$0.key] }
    }

    /// The executor of one instance: its job's own, or what its `runs-on` labels choose (labels
    /// are evaluated with the instance's matrix and the results of the jobs it needs).
    /// What `runs-on` and the executor's options may use.
    func executorContexts(_ job: Job, _ instance: PlannedJob, needsContext: [String: ExpressionValue]) -> [String: ExpressionValue] {
        options.runContext.staticContexts(job: job.id).merging([
            "matrix": instance.matrixObject, "needs": .object(needsContext),
            "strategy": .object(["job-index": .number(Double(instance.matrixIndex)), "job-total": .number(Double(instance.matrixTotal))]),
        ]) { _, new in new }
    }

    /// `${{ }}` in the executor's options, services included (GitHub's `container: node:${{ matrix.node }}`,
    /// credentials from `secrets`), rendered as text when the job starts.
    func evaluateOptions(
        _ options: [String: JSONValue], _ job: Job, _ instance: PlannedJob, needsContext: [String: ExpressionValue]
    ) throws(ExpressionError) -> [String: JSONValue] {
        func hasExpression(_ value: JSONValue) -> Bool {
            switch value {
            case .string(let text): return text.contains("${{")
            case .array(let items): return items.contains(where: hasExpression)
            case .object(let entries): return entries.values.contains(where: hasExpression)
            default: return false
            }
        }
        guard options.values.contains(where: hasExpression) else { return options }
        var contexts = executorContexts(job, instance, needsContext: needsContext)
        contexts["secrets"] = .object(self.options.secrets.run.merging(self.options.secrets.jobs[job.id] ?? [:]) { _, job in job }
            .mapValues(ExpressionValue.string))
        // A RuntimeContext for its redactor: `fromJSON(secrets.REGISTRY).password` is masked too.
        let context = RuntimeContext(contexts: contexts, status: .ok, hashRoot: self.options.projectDirectory, functions: self.options.functions,
                                     redactor: runner.redactor)
        func render(_ value: JSONValue) throws(ExpressionError) -> JSONValue {
            switch value {
            case .string(let text) where text.contains("${{"): return .string(try Template.parse(text).render(context))
            case .array(let items):
                var rendered: [JSONValue] = []
                for item in items { rendered.append(try render(item)) }
                return .array(rendered)
            case .object(let entries):
                var rendered: [String: JSONValue] = [:]
                for (key, item) in entries { rendered[key] = try render(item) }
                return .object(rendered)
            default: return value
            }
        }
        var rendered: [String: JSONValue] = [:]
        for (key, value) in options { rendered[key] = try render(value) }
        return rendered
    }

    /// Whether the job's `container: ${{ … }}` image renders empty for this instance.
    func rendersNoContainer(_ job: Job, _ instance: PlannedJob, needsContext: [String: ExpressionValue]) -> Bool {
        guard case .string(let image)? = job.executor.options["image"], image.contains("${{"),
              let rendered = try? evaluateOptions(["image": .string(image)], job, instance, needsContext: needsContext)
        else { return false }
        return rendered["image"] == .string("")
    }

    func chooseExecutor(_ job: Job, _ instance: PlannedJob, needsContext: [String: ExpressionValue]) -> RunnerMap.Choice {
        var job = job
        if job.executorFromContainer, rendersNoContainer(job, instance, needsContext: needsContext) {
            // `container: ${{ … }}` that renders empty: no container, what runs-on chooses (GitHub's rule).
            job.explicitExecutor = false
            job.executor = .local
        }
        if job.explicitExecutor || job.runsOn.isEmpty { return .executor(job.executor, label: nil) }
        let context = DictionaryExpressionContext(executorContexts(job, instance, needsContext: needsContext))
        do {
            return options.runners.choose(for: job, labels: try RunnerMap.labels(of: job, in: context))
        } catch {
            let at = job.runsOn.first?.location.map { "\($0): " } ?? ""
            return .refuse("\(at)cannot evaluate runs-on of job '\(job.id)': \(error.message)",
                           hint: "runs-on may use matrix, needs, github, vars and inputs", label: nil)
        }
    }

    /// Why a job with `services:` cannot run on executor `pluginID`.
    static func servicesRefusal(_ job: Job, on pluginID: String) -> String {
        let at = job.services.first?.location.map { "\($0): " } ?? ""
        return "\(at)job '\(job.id)' has services, which run next to a job container or on this machine; it runs on executor '\(pluginID)'"
            + "\n  hint: run the job on this machine (local) or give it a 'container:' (or map its runs-on label to a local or oci runner in .nixactions/config.yml)"
    }

    /// nil = run it; a reason = skip it. Default condition: every needed job succeeded.
    func shouldRun(
        _ job: Job, needs: [String], needsContext: [String: ExpressionValue], finished: [String: [JobOutcome]],
        upstreamFailed: Bool, cancelled: Bool
    ) -> Result<String?, RunProblem> {
        let result = { (id: String) in Self.result(of: finished[id] ?? []) }
        let succeeded = needs.allSatisfy { result($0) == .success }
        let status = ExpressionStatus(succeeded: succeeded, cancelled: cancelled, failed: upstreamFailed)
        if job.condition == nil {
            if cancelled { return .success("cancelled before it started") }
            if let blocker = needs.first(where: { result($0) != .success }) {
                return .success("skipped: needed job '\(blocker)' did not succeed")
            }
            return .success(nil)
        }
        let context = RuntimeContext(
            contexts: options.runContext.staticContexts(job: job.id).merging(["needs": .object(needsContext)]) { _, new in new },
            status: status, hashRoot: options.projectDirectory, functions: options.functions, redactor: runner.redactor)
        do {
            if try job.condition.holds(in: context) { return .success(nil) }
            return .success(cancelled ? "cancelled before it started" : succeeded ? "skipped: its 'if' is false" : "skipped: a needed job did not succeed")
        } catch {
            let at = job.condition?.source.location.map { "\($0): " } ?? ""
            return .failure(RunProblem("\(at)cannot evaluate 'if' of job '\(job.id)': \(error.message)"))
        }
    }

    /// `needs.<id>.result` and `needs.<id>.outputs` for the direct needs.
    func needsContext(_ needs: [String], _ finished: [String: [JobOutcome]]) -> [String: ExpressionValue] {
        var context: [String: ExpressionValue] = [:]
        for id in needs {
            let outcomes = finished[id] ?? []
            var outputs: [String: ExpressionValue] = [:]
            for outcome in outcomes { for (name, value) in outcome.outputs { outputs[name] = .string(value) } }
            context[id] = .object(["result": .string(Self.result(of: outcomes).rawValue), "outputs": .object(outputs)])
        }
        return context
    }

    /// The result of a job from its instances: failure if one failed, cancelled, skipped if all skipped.
    static func result(of outcomes: [JobOutcome]) -> Outcome {
        if outcomes.contains(where: { $0.outcome == .failure }) { return .failure }
        if outcomes.contains(where: { $0.outcome == .cancelled }) { return .cancelled }
        if !outcomes.isEmpty && outcomes.allSatisfy({ $0.outcome == .skipped }) { return .skipped }
        return .success
    }
}

/// Values sent by many tasks, received one at a time by one task. Unlike `AsyncStream`, whose
/// iteration ends when the receiving task is cancelled, receiving waits for the next value
/// whatever happens: a cancelled run still waits for every job it started.
final class Mailbox<Value: Sendable>: Sendable {
    private struct State {
        var values: [Value] = []  // a few at most: the scheduler takes each as it comes
        var receiver: CheckedContinuation<Value, Never>?
    }
    private let state = Mutex(State())

    func send(_ value: Value) {
        let receiver = state.withLock { state -> CheckedContinuation<Value, Never>? in
            if let receiver = state.receiver {
                state.receiver = nil
                return receiver
            }
            state.values.append(value)
            return nil
        }
        receiver?.resume(returning: value)
    }

    /// The next value sent (in the order sent); one receiver at a time.
    func receive() async -> Value {
        await withCheckedContinuation { continuation in
            let value = state.withLock { state -> Value? in
                guard !state.values.isEmpty else {
                    state.receiver = continuation
                    return nil
                }
                return state.values.removeFirst()
            }
            if let value { continuation.resume(returning: value) }
        }
    }
}

/// One executor instance per distinct executor reference in the run, made on first use.
final class ExecutorCache: Sendable {
    let provider: any ExecutorProvider
    let options: RunOptions
    private let instances = Mutex<[ExecutorReference: Result<any Executor, EngineError>]>([:])

    init(provider: any ExecutorProvider, options: RunOptions) {
        self.provider = provider
        self.options = options
    }

    func executor(for reference: ExecutorReference) -> Result<any Executor, EngineError> {
        var key = reference
        key.location = nil
        return instances.withLock { instances in
            if let existing = instances[key] { return existing }
            var configuration = ExecutorConfiguration(
                runID: options.runID, runDirectory: options.runDirectory,
                projectDirectory: options.projectDirectory, options: reference.options)
            configuration.cgroup = options.cgroup
            configuration.trackingID = options.trackingID
            configuration.openFilesLimit = options.openFilesLimit
            let made: Result<any Executor, EngineError>
            do {
                made = .success(try provider.makeExecutor(pluginID: reference.pluginID, configuration: configuration))
            } catch let error as EngineError {
                made = .failure(error)
            } catch {
                made = .failure(EngineError("\(error)"))
            }
            instances[key] = made
            return made
        }
    }
}
