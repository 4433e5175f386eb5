import Foundation
import NixActionsProcessKit
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
        for text in options.startWarnings { reporter.report(.message(job: nil, level: .warning, text: text)) }
        let plan: Plan
        switch planned.map({ Result<Plan, Diagnostic>.success($0) }) ?? Planner.plan(workflow, selected: options.selectedJobs, context: options.context) {
        case .success(let made): plan = made
        case .failure(let diagnostic):
            reporter.report(.message(job: nil, level: .error, text: diagnostic.description))
            let summary = RunSummary(outcome: .failure, jobs: [])
            reporter.report(.workflowFinished(workflow: workflow.name, outcome: .failure, duration: clock.now - started, exitStatus: summary.exitCode))
            return summary
        }
        reporter.report(.planned(jobs: plan.allInstances.map(\.key),
                                 details: plan.allInstances.map { JobDescription($0, needs: plan.graph.needs[$0.jobID] ?? []) }))
        let scheduler = Scheduler(runner: self, plan: plan, cache: ExecutorCache(provider: executors, options: options))
        // The scheduler, its jobs and their steps go on on the thread that completes an executor operation.
        let jobs = await withTaskExecutorPreference(HandOffExecutor.shared) { await scheduler.run() }
        let outcome: Outcome
        let interrupted = Task.isCancelled
        // A cancelled run (a signal) is cancelled; otherwise a failure wins over the cancellations
        // that fail-fast causes. Jobs a concurrency group cancelled leave the run cancelled, as on
        // GitHub, with exit status 1: the run went on (`RunSummary.exitCode`).
        if interrupted {
            outcome = .cancelled
        } else if jobs.contains(where: { $0.outcome == .failure }) {
            outcome = .failure
        } else if jobs.contains(where: { $0.outcome == .cancelled }) {
            outcome = .cancelled
        } else {
            outcome = .success
        }
        var summary = RunSummary(outcome: outcome, jobs: jobs)
        summary.interrupted = interrupted
        // The exit status in the record (audit 54 M3: a run a concurrency group cancelled, 1, and
        // one a signal cancelled, 130, both said only `cancelled`).
        reporter.report(.workflowFinished(workflow: workflow.name, outcome: outcome, duration: clock.now - started, exitStatus: summary.exitCode,
                                          message: AbruptStop.requested ? AbruptStop.message : nil))
        return summary
    }
}

/// The workflow a scheduled job belongs to: the run's own, or a reusable workflow that one instance
/// of a calling job (`jobs.<id>.uses`) runs, with that instance's `inputs` and `secrets`.
final class CallFrame: Sendable {
    let workflow: Workflow
    let options: RunOptions
    /// Prefix of its jobs' ids in the scheduler: "" for the run's own jobs, "KEY/" for those the
    /// calling instance KEY runs (`needs.*` and `jobs.*` in the file use the ids without it).
    let prefix: String
    /// The calling instance's key and name (nil for the run's own jobs).
    let caller: (key: String, name: String)?
    /// Scheduler ids of the calling jobs above, outermost first (fail-fast of theirs stops these jobs too).
    let callers: [String]

    init(workflow: Workflow, options: RunOptions, prefix: String = "", caller: (key: String, name: String)? = nil, callers: [String] = []) {
        self.workflow = workflow
        self.options = options
        self.prefix = prefix
        self.caller = caller
        self.callers = callers
    }
}

/// The ready-set scheduler: a job instance starts the moment the jobs it needs have finished.
final class Scheduler: Sendable {
    let runner: WorkflowRunner
    let plan: Plan
    let cache: ExecutorCache
    /// The run's own workflow and options.
    let top: CallFrame
    /// Running instances by key, so fail-fast can cancel siblings; `forward`: started before the
    /// run was cancelled, so the run's cancellation reaches it (always() jobs started after it do not).
    let handles = Mutex<[String: (task: Task<Void, Never>, forward: Bool)]>([:])
    /// Running jobs about to report their end (`JobRunner.willFinish`): fail-fast no longer tells
    /// them it cancels them. Held while fail-fast reports, so a job's end comes after those reports
    /// or it is left out of them.
    let finishing = Mutex<Set<String>>([])

    init(runner: WorkflowRunner, plan: Plan, cache: ExecutorCache) {
        self.runner = runner
        self.plan = plan
        self.cache = cache
        top = CallFrame(workflow: plan.workflow, options: runner.options)
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
        // Jobs of called workflows, added when their calling instance starts (`startCall`): their
        // frames by scheduler id, the needs of every job by scheduler id, the order results are listed in.
        var frames: [String: CallFrame] = [:]
        var needsOf = plan.graph.needs
        var calledJobs: [String: [String]] = [:]  // calling instance key → the called jobs' scheduler ids
        var calls: [String: PendingCall] = [:]  // by calling instance key

        // Linear bookkeeping: jobs by id, how many needed jobs each still waits for, who needs
        // whom, whether anything upstream failed (final once a job's needs have all finished).
        var jobsByID: [String: Job] = [:]
        for job in plan.workflow.jobs where plan.instances[job.id] != nil { jobsByID[job.id] = job }
        let clock = ContinuousClock()
        var waitingFor: [String: Int] = [:]
        var dependents: [String: [String]] = [:]
        var upstreamFailed: [String: Bool] = [:]
        /// A job before this one (through any chain of needs) did not succeed: GitHub's job-level
        /// `success()` looks at the whole chain ("a failure or skip applies to all jobs in the
        /// dependency chain from the point of failure or skip onwards").
        var upstreamUnsuccessful: [String: Bool] = [:]
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
        // Concurrency groups (a job's `concurrency`), as GitHub keeps them within a run: one job of a
        // group runs, one waits (a later one cancels the waiting one), `cancel-in-progress` cancels
        // the running one. By group: who runs, who waits; by running instance key: its group.
        var groupHolder: [String: (key: String, name: String)] = [:]
        var groupWaiting: [String: PlannedJob] = [:]
        var groupOf: [String: String] = [:]
        for id in plan.order where waitingFor[id] == 0 { ready += plan.instances[id] ?? [] }

        // Each job runs as its own task (fail-fast cancels one by its handle) and sends its outcome
        // here: the scheduler is the only task woken when a job ends.
        let completions = Mailbox<JobOutcome>()
        do {
            func launchReady() {
                while readyHead < ready.count {
                    var instance = ready[readyHead]
                    if AbruptStop.requested {
                        // The process is about to exit: start nothing, and say so of each job (the
                        // supervisor ends the events of those it does not get to, `UnfinishedRunEvents`).
                        readyHead += 1
                        finishWithout(instance, .cancelled, AbruptStop.failure.map { "not started: " + AbruptStop.ended(by: $0) }
                                          ?? "not started: the run was stopped at once (a second signal)")
                        continue
                    }
                    guard let job = jobsByID[instance.jobID] else { readyHead += 1; continue }
                    let frame = frames[instance.jobID] ?? top
                    let needs = needsOf[instance.jobID] ?? []
                    let cancelled = Task.isCancelled
                    if failFastTripped.contains(instance.jobID) || frame.callers.contains(where: failFastTripped.contains) {
                        readyHead += 1
                        finishWithout(instance, .cancelled, "cancelled: another instance of its matrix failed (fail-fast)")
                        continue
                    }
                    let needsContext = self.needsContext(needs, finishedJobs, prefix: frame.prefix)
                    switch shouldRun(job, frame, needs: needs, needsContext: needsContext, finished: finishedJobs,
                                     upstreamFailed: upstreamFailed[instance.jobID] ?? false,
                                     upstreamUnsuccessful: upstreamUnsuccessful[instance.jobID] ?? false, cancelled: cancelled) {
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
                    if !instance.awaitsExpansion && frame.prefix.isEmpty && Planner.nameUsesNeeds(job) {
                        // A name that reads `needs`: rendered now that they have finished.
                        instance.displayName = Planner.displayName(
                            job, instance: instance, contexts: frame.options.runContext.expressionContext(job: job.id),
                            needs: needsContext)
                        ready[readyHead] = instance
                    }
                    if instance.awaitsExpansion {
                        // Its needs have finished: the matrix is made from their outputs now.
                        var contexts = frame.options.runContext.staticContexts(job: job.id)
                        contexts["needs"] = .sortedObject(needsContext)
                        switch Planner.expand(job, workflow: frame.workflow, contexts: frame.options.runContext.expressionContext(contexts)) {
                        case .success(var expanded):
                            usedKeys.remove(instance.key.lowercased())
                            for index in expanded.indices { adopt(&expanded[index], id: instance.jobID, frame: frame, used: &usedKeys) }
                            instancesOf[instance.jobID] = expanded
                            unfinishedInstances[instance.jobID] = expanded.count
                            ready.replaceSubrange(readyHead...readyHead, with: expanded)
                            if expanded.count > 1 || expanded.first?.key != instance.key {
                                reporter.report(.matrixExpanded(job: instance.key, jobs: expanded.map(\.key),
                                                                details: expanded.map { JobDescription($0, needs: needs) }))
                                reporter.report(.message(job: nil, level: .info, text: "job '\(frame.prefix + job.id)': matrix of \(expanded.count) from its needs"))
                            }
                            continue
                        case .failure(let diagnostic):
                            readyHead += 1
                            let at = diagnostic.location.map { "\($0): " } ?? ""
                            finishWithout(instance, .failure, at + diagnostic.message + (diagnostic.hint.map { "\n  hint: \($0)" } ?? ""))
                            continue
                        }
                    }
                    if let call = job.call {
                        // A reusable workflow: its jobs join the run, under this instance. The
                        // instance takes no slot of -j (its jobs do), but one of its max-parallel.
                        readyHead += 1
                        if let limit = instance.maxParallel, runningPerJob[instance.jobID, default: 0] >= limit {
                            heldBack[instance.jobID, default: []].append(instance)
                            continue
                        }
                        runningPerJob[instance.jobID, default: 0] += 1
                        startCall(instance, job, call, frame, needsContext: needsContext)
                        continue
                    }
                    // The executor: the job's own, or what its runs-on labels choose.
                    var reference: ExecutorReference
                    switch chooseExecutor(job, instance, frame, needsContext: needsContext) {
                    case .executor(let chosen, _): reference = chosen
                    case .skip(let reason):
                        // Its `if` held (also after a cancellation: always()); its label decides.
                        readyHead += 1
                        finishWithout(instance, .skipped, reason)
                        continue
                    case .refuse(let message, let hint, _):
                        readyHead += 1
                        finishWithout(instance, .failure, message + "\n  hint: " + hint)
                        continue
                    }
                    // `services: ${{ … }}`: made before the options are rendered and put in after,
                    // so what the expression gave is data, never evaluated again.
                    var madeServices: [ServiceContainer] = []
                    if let field = job.servicesExpression {
                        switch servicesFromExpression(field, job, instance, frame, needsContext: needsContext) {
                        case .success(let made): madeServices = made
                        case .failure(let problem):
                            readyHead += 1
                            finishWithout(instance, .failure, problem.message)
                            continue
                        }
                    }
                    // Sidecars of the job's container (oci), or containers of this machine (local).
                    if !job.services.isEmpty || !madeServices.isEmpty, !WorkflowRunner.runsServices(reference.pluginID) {
                        readyHead += 1
                        finishWithout(instance, .failure, Self.servicesRefusal(job, on: reference.pluginID))
                        continue
                    }
                    if !job.services.isEmpty { reference.options["services"] = Self.servicesOption(job.services) }
                    do {
                        reference.options = try evaluateOptions(reference.options, job, instance, frame, needsContext: needsContext)
                    } catch {
                        readyHead += 1
                        let at = reference.location.map { "\($0): " } ?? ""
                        finishWithout(instance, .failure, "\(at)cannot evaluate the executor options of job '\(job.id)': \(error.message)"
                                      + "\n  hint: they may use github, matrix, needs, strategy, vars, inputs and secrets")
                        continue
                    }
                    if !madeServices.isEmpty { reference.options["services"] = Self.servicesOption(madeServices) }
                    // A GitHub container job's steps have a home of their own at /github/home.
                    if job.executorFromContainer, reference.pluginID == "oci", reference.location == job.executor.location, reference.options["home"] == nil {
                        reference.options["home"] = .string(Self.containerHome)
                    }
                    registerSecretValues(ofOptions: reference.options)
                    if running.count >= options.maxParallelJobs { return }
                    readyHead += 1
                    if let limit = instance.maxParallel, runningPerJob[instance.jobID, default: 0] >= limit {
                        heldBack[instance.jobID, default: []].append(instance)
                        continue
                    }
                    if let concurrency = job.concurrency {
                        let group: String
                        let cancelInProgress: Bool
                        switch concurrencyGroup(concurrency, job, instance, frame, needsContext: needsContext) {
                        case .success(let decided): (group, cancelInProgress) = decided
                        case .failure(let problem):
                            finishWithout(instance, .failure, problem.message)
                            continue
                        }
                        if !group.isEmpty, let holder = groupHolder[group] {
                            // It waits; a job already waiting in the group is cancelled (GitHub keeps
                            // one pending job per group, the newest).
                            if let older = groupWaiting[group] {
                                finishWithout(older, .cancelled, "cancelled: '\(instance.displayName)' of concurrency group '\(group)' waits after it "
                                    + "(one job of a group waits at a time, the newest, as on GitHub)")
                            }
                            groupWaiting[group] = instance
                            if cancelInProgress, let task = handles.withLock({ $0[holder.key]?.task }) {
                                reporter.report(.message(job: holder.key, level: .warning,
                                                         text: "cancelling: '\(instance.displayName)' of concurrency group '\(group)' is to run (cancel-in-progress)"))
                                task.cancel()
                            } else {
                                reporter.report(.message(job: instance.key, level: .info,
                                                         text: "waiting: '\(holder.name)' of concurrency group '\(group)' is running"))
                            }
                            continue
                        }
                        if !group.isEmpty {
                            groupHolder[group] = (instance.key, instance.displayName)
                            groupOf[instance.key] = group
                        }
                    }
                    running[instance.key] = instance.jobID
                    runningPerJob[instance.jobID, default: 0] += 1
                    var jobRunner = JobRunner(
                        planned: instance, job: job, executorReference: reference, workflow: frame.workflow,
                        reporter: reporter, options: frame.options,
                        redactor: runner.redactor, artifacts: store, needs: needsContext)
                    let key = instance.key
                    jobRunner.willFinish = { [self] in _ = finishing.withLock { $0.insert(key) } }
                    let cache = self.cache
                    let forward = !cancelled  // after a cancellation, always() jobs run to the end
                    // The handle is registered before the scheduler reads the job's outcome, so
                    // fail-fast always finds its running siblings.
                    let id = instance.jobID  // a called job's id in the scheduler, not in its file
                    // Reported here, in the scheduler's order (a job that became ready first is
                    // reported first), not when its task first runs, which a busy machine delays.
                    reporter.report(.jobStarted(job: instance.key, name: instance.displayName))
                    jobRunner.reportedStart = .now
                    let task = Task(executorPreference: HandOffExecutor.shared) {
                        var outcome = await jobRunner.run(cache)
                        outcome.jobID = id
                        completions.send(outcome)
                    }
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
                    // Running instances of this job, and the running jobs its other instances called.
                    let candidates = instances.map(\.key).filter { running[$0] != nil }
                        + running.filter { frames[$0.value]?.callers.contains(result.jobID) ?? false }.map(\.key).sorted()
                    // A sibling that has just succeeded (its end not yet received here) is not
                    // told it is being cancelled.
                    let siblings = finishing.withLock { finishing in
                        let siblings = candidates.filter { !finishing.contains($0) }
                        if !siblings.isEmpty {
                            // Keys as reports show them (a key cut inside a secret is masked there only).
                            let shown = siblings.map { (reporter as? RedactingReporter)?.key($0) ?? $0 }
                            // The run's message: the failed job's own record has ended (its job_finished
                            // came first; audit 51 found this after it, in its log too).
                            reporter.report(.message(job: nil, level: .warning,
                                                     text: "fail-fast: '\(result.name)' failed; cancelling \(shown.joined(separator: ", "))"))
                            // And under each: a report of one job says why it was cancelled.
                            for key in siblings {
                                reporter.report(.message(job: key, level: .warning, text: "cancelling: '\(result.name)' failed (fail-fast)"))
                            }
                        }
                        return siblings
                    }
                    handles.withLock { handles in for key in siblings { handles[key]?.task.cancel() } }
                }
                unfinishedInstances[result.jobID, default: 1] -= 1
                guard unfinishedInstances[result.jobID] == 0 else { return }
                // The whole job finished: its dependents wait for one job fewer.
                let outcomes = instances.compactMap { results[$0.key] }
                finishedJobs[result.jobID] = outcomes
                let failed = (upstreamFailed[result.jobID] ?? false) || outcomes.contains { $0.outcome == .failure }
                let unsuccessful = (upstreamUnsuccessful[result.jobID] ?? false) || Self.result(of: outcomes) != .success
                for dependent in dependents[result.jobID] ?? [] {
                    if failed { upstreamFailed[dependent] = true }
                    if unsuccessful { upstreamUnsuccessful[dependent] = true }
                    waitingFor[dependent, default: 1] -= 1
                    if waitingFor[dependent] == 0 { ready += instancesOf[dependent] ?? [] }
                }
                // The last job of a called workflow: its calling instance finishes.
                if let caller = frames[result.jobID]?.caller?.key, var call = calls[caller] {
                    call.remaining -= 1
                    calls[caller] = call
                    if call.remaining == 0 { finishCall(caller) }
                }
            }
            /// Start a calling instance: its `with` and `secrets` evaluated, the called workflow
            /// planned with them, its jobs added to the run under the instance (`KEY/JOB`).
            func startCall(_ instance: PlannedJob, _ job: Job, _ call: WorkflowCall, _ frame: CallFrame, needsContext: [String: ExpressionValue]) {
                let made: (frame: CallFrame, plan: Plan)
                switch makeCall(instance, job, call, frame, needsContext: needsContext) {
                case .success(let value): made = value
                case .failure(let problem):
                    releaseSlot(of: instance.jobID)
                    finishWithout(instance, .failure, problem.message)
                    return
                }
                let (called, subPlan) = made
                reporter.report(.jobStarted(job: instance.key, name: instance.displayName))
                var locals: [String] = []
                for local in subPlan.order {
                    guard let subJob = subPlan.workflow.job(local) else { continue }
                    let id = called.prefix + local
                    locals.append(local)
                    jobsByID[id] = subJob
                    frames[id] = called
                    let needs = (subPlan.graph.needs[local] ?? []).map { called.prefix + $0 }
                    needsOf[id] = needs
                    waitingFor[id] = needs.count
                    for need in needs { dependents[need, default: []].append(id) }
                    var instances = subPlan.instances[local] ?? []
                    for index in instances.indices { adopt(&instances[index], id: id, frame: called, used: &usedKeys) }
                    instancesOf[id] = instances
                    unfinishedInstances[id] = instances.count
                    calledJobs[instance.key, default: []].append(id)
                }
                // With each called job described as `planned` describes the run's (audit 54 M2: a
                // live view could not name them before they started, nor draw their needs).
                let calledDetails = locals.flatMap { local in
                    (instancesOf[called.prefix + local] ?? []).map { instance -> JobDescription in
                        var description = JobDescription(instance, needs: subPlan.graph.needs[local] ?? [])
                        description.id = local
                        return description
                    }
                }
                reporter.report(.callStarted(job: instance.key, uses: call.uses.value, jobs: calledDetails.map(\.key), details: calledDetails))
                calls[instance.key] = PendingCall(instance: instance, jobID: job.id, frame: called, locals: locals, remaining: locals.count,
                                                  started: clock.now)
                if locals.isEmpty { finishCall(instance.key); return }
                // Its first jobs go next, before jobs that were ready already: a call is one job's work.
                var first: [PlannedJob] = []
                for local in locals where waitingFor[called.prefix + local] == 0 { first += instancesOf[called.prefix + local] ?? [] }
                ready.insert(contentsOf: first, at: readyHead)
            }
            /// An instance of `id` has finished: the next one its max-parallel held back goes first.
            func releaseSlot(of id: String) {
                runningPerJob[id, default: 1] -= 1
                startNextHeld(of: id)
            }
            func startNextHeld(of id: String) {
                guard var held = heldBack[id], !held.isEmpty else { return }
                ready.insert(held.removeFirst(), at: readyHead)
                heldBack[id] = held
            }
            /// Every job of the call has finished: the calling instance's result and outputs.
            func finishCall(_ key: String) {
                guard let call = calls.removeValue(forKey: key) else { return }
                releaseSlot(of: call.instance.jobID)
                var jobsContext: [String: ExpressionValue] = [:]
                var outcomes: [JobOutcome] = []
                for local in call.locals {
                    let finished = finishedJobs[call.frame.prefix + local] ?? []
                    outcomes += finished
                    jobsContext[local] = needsContext([call.frame.prefix + local], finishedJobs, prefix: call.frame.prefix)[local]
                }
                var outcome = Self.result(of: outcomes)
                if outcome == .skipped { outcome = .success }  // nothing of it had to run
                let failed = outcomes.filter { $0.outcome == .failure }.map(\.name)
                var failure = outcome == .failure
                    ? JobFailure(message: "job\(failed.count == 1 ? "" : "s") of the called workflow failed: " + failed.joined(separator: ", ")) : nil
                var outputs: [String: String] = [:]
                if outcome == .success {
                    var contexts = call.frame.options.runContext.staticContexts(job: call.jobID)
                    contexts["jobs"] = .sortedObject(jobsContext)
                    let context = RuntimeContext(contexts: contexts, status: .ok, hashRoot: options.projectDirectory, functions: options.functions,
                                                 redactor: runner.redactor)
                    for (name, field) in call.frame.workflow.triggers?.trigger("workflow_call")?.outputs ?? [] {
                        do {
                            // Empty is no value: another instance's is kept (GitHub: the last instance
                            // "which actually sets a value").
                            let value = try field.template.render(context)
                            if !value.isEmpty { outputs[name] = value }
                        } catch {
                            let at = field.location(ofOffset: error.offset).map { "\($0): " } ?? ""
                            let message = "\(at)cannot evaluate output '\(name)' of the called workflow: \(error.message)"
                            reporter.report(.message(job: key, level: .error, text: message))
                            outcome = .failure
                            failure = JobFailure(message: message)
                            outputs = [:]
                            break
                        }
                    }
                }
                let duration = clock.now - call.started
                // With its outputs, as a job's (audit 54 M1: needs.CALLER.outputs had them, the event not).
                reporter.report(.jobFinished(job: key, name: call.instance.displayName, outcome: outcome, duration: duration, failure: failure,
                                             outputs: outputs))
                record(JobOutcome(key: key, jobID: call.instance.jobID, name: call.instance.displayName, outcome: outcome, failure: failure,
                                  duration: duration, outputs: outputs, allowedFailure: false))
            }
            func finishWithout(_ instance: PlannedJob, _ outcome: Outcome, _ reason: String) {
                reporter.report(.message(job: instance.key, level: outcome == .failure ? .error : .info, text: reason))
                reporter.report(.jobFinished(job: instance.key, name: instance.displayName, outcome: outcome, duration: .zero,
                                             failure: outcome == .failure ? JobFailure(message: reason) : nil,
                                             reason: outcome == .failure ? nil : reason))
                var result = JobOutcome.skipped(instance, reason: reason)
                result.outcome = outcome
                record(result)
                // An instance its max-parallel held back waited for a slot this one never took (it
                // was cancelled by fail-fast or the run, or skipped): the next one goes now, so that
                // each is decided and the job finishes.
                if let limit = instance.maxParallel, runningPerJob[instance.jobID, default: 0] < limit { startNextHeld(of: instance.jobID) }
            }
            func received(_ result: JobOutcome) {
                handles.withLock { _ = $0.removeValue(forKey: result.key) }
                finishing.withLock { _ = $0.remove(result.key) }
                running.removeValue(forKey: result.key)
                releaseSlot(of: result.jobID)
                // Its concurrency group's waiting job goes next (only a group's holder is in groupOf).
                if let group = groupOf.removeValue(forKey: result.key) {
                    groupHolder[group] = nil
                    if let next = groupWaiting.removeValue(forKey: group) { ready.insert(next, at: readyHead) }
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
        // Each calling instance's jobs listed after it.
        func listed(_ ids: [String]) -> [JobOutcome] {
            ids.flatMap { id in
                (instancesOf[id] ?? []).flatMap { instance in
                    [results[instance.key]].compactMap { $0 } + listed(calledJobs[instance.key] ?? [])
                }
            }
        }
        if let folder = options.keepArtifactsIn { keepArtifacts(store, in: folder) }
        return listed(plan.order)
    }

    /// `--keep-artifacts`: every artifact of the run copied to `folder/NAME` once the jobs have
    /// ended (not after a cancel: the run is to stop), said in one line (audit 57 UX M7: they
    /// went with the run's folder, without a word).
    func keepArtifacts(_ store: ArtifactStore, in folder: String) {
        let names = store.names()
        guard !names.isEmpty, !Task.isCancelled else { return }
        var kept = 0
        for name in names {
            // Names may not hold '/' (GitHub's rule); "", "." and ".." go by their safe key.
            let target = folder + "/" + (name.isEmpty || name == "." || name == ".." ? "artifact-" + Planner.safeKey(name) : name)
            do {
                if kept == 0 {
                    if let failure = FastFiles.makeFolders(folder) { throw EngineError("cannot make \(folder): \(String(cString: strerror(failure)))") }
                    // Private whatever the umask and the artifacts' own modes (audit 66 hardening M1: 0755/0644 copies).
                    chmod(folder, 0o700)
                }
                try ProjectCopier.copyItem(from: try store.folder(name), to: target)
                kept += 1
            } catch {
                reporter.report(.message(job: nil, level: .warning, text: "cannot keep the artifact '\(DisplayText.escaped(name))' in \(folder): \(error)"))
            }
        }
        if kept > 0 {
            reporter.report(.message(job: nil, level: .info, text: "\(kept) artifact\(kept == 1 ? "" : "s") kept in \(folder)"))
        }
    }

    /// A calling instance whose called jobs are running.
    struct PendingCall {
        var instance: PlannedJob
        /// The calling job's id in its file.
        var jobID: String
        var frame: CallFrame
        /// The called workflow's job ids (in its file), in plan order.
        var locals: [String]
        var remaining: Int
        var started: ContinuousClock.Instant
    }

    /// A planned instance made the scheduler's: its job's id in the scheduler, a key unique in the
    /// run, and (for a called job) the calling instance's name before its own (`call / build`).
    func adopt(_ planned: inout PlannedJob, id: String, frame: CallFrame, used: inout Set<String>) {
        planned.jobID = id
        if let caller = frame.caller {
            planned.key = Planner.fileKey(caller.key + "-" + planned.key)
            planned.displayName = caller.name + " / " + planned.displayName
        }
        planned.key = Planner.uniqueKey(planned.key, used: &used)
    }

    /// The frame and plan of the workflow one calling instance runs: `with` evaluated and typed as
    /// the called file's inputs declare, `secrets` passed (or inherited), the file planned with them.
    func makeCall(
        _ instance: PlannedJob, _ job: Job, _ call: WorkflowCall, _ frame: CallFrame, needsContext: [String: ExpressionValue]
    ) -> Result<(frame: CallFrame, plan: Plan), RunProblem> {
        guard let called = call.workflow else {
            return .failure(RunProblem("\(call.uses.location.map { "\($0): " } ?? "")the called workflow '\(call.uses.value)' could not be read"))
        }
        var contexts = executorContexts(job, instance, frame, needsContext: needsContext)
        let given = frame.options.secrets.run.merging(frame.options.secrets.jobs[job.id] ?? [:]) { _, job in job }
        if case .mapped = call.secrets { contexts["secrets"] = .sortedObject(given.mapValues(ExpressionValue.string)) }
        let context = RuntimeContext(contexts: contexts, status: .ok, hashRoot: frame.options.projectDirectory, functions: frame.options.functions,
                                     redactor: runner.redactor)
        func problem(_ field: TemplateField, _ what: String, _ message: String) -> RunProblem {
            let at = field.source.location.map { "\($0): " } ?? ""
            return RunProblem("\(at)cannot give \(what) of '\(call.uses.value)': \(message)")
        }
        var inputs: [String: ExpressionValue] = [:]
        var defaultsToEvaluate: [InputSpec] = []
        for spec in called.triggers?.trigger("workflow_call")?.inputs ?? [] {
            guard let (name, field) = call.with.first(where: { $0.name.lowercased() == spec.name.lowercased() }) else {
                if spec.defaultExpression != nil {
                    defaultsToEvaluate.append(spec)
                } else if let value = spec.defaultValue {
                    inputs[spec.name] = InputValues.typed(value, for: spec)
                } else {
                    inputs[spec.name] = spec.kind == .boolean ? .bool(false) : spec.kind == .number ? .number(0) : .string("")
                }
                continue
            }
            let value: ExpressionValue
            let literal = call.withLiterals[name]
            if let literal {
                value = literal
            } else {
                do {
                    value = try field.template.evaluateValue(context)
                } catch {
                    return .failure(problem(field, "input '\(name)'", error.message))
                }
            }
            let (typed, warning) = InputValues.forCall(value, for: spec, written: literal == nil ? nil : field.source.value)
            if let warning, !field.template.isLiteral {
                // A literal's warning was given when the file was read (`WorkflowCalls.check`).
                let at = field.source.location.map { "\($0): " } ?? ""
                reporter.report(.message(job: instance.key, level: .warning, text: runner.redactor.redact("\(at)\(warning)")))
            }
            switch typed {
            case .success(let typed): inputs[spec.name] = typed
            case .failure(let wrong): return .failure(problem(field, "input '\(name)'", wrong.message))
            }
        }
        // Defaults from expressions, once the other inputs are known.
        let problems = InputValues.evaluateDefaults(defaultsToEvaluate, github: contexts["github"] ?? .object([:]),
                                                    vars: contexts["vars"] ?? .object([:]), into: &inputs)
        if let first = problems.first {
            let at = first.location.map { "\($0): " } ?? ""
            return .failure(RunProblem("\(at)\(first.message) (in the call of '\(call.uses.value)')" + (first.hint.map { "\n  hint: \($0)" } ?? "")))
        }
        var secrets = ResolvedSecrets()
        secrets.declaredNames = frame.options.secrets.declaredNames
        switch call.secrets {
        case .none: break
        case .inherit:
            secrets.run = given
            secrets.runEnv = frame.options.secrets.runEnv.merging(frame.options.secrets.jobEnv[job.id] ?? [:]) { _, job in job }
        case .mapped(let entries):
            for (name, field) in entries {
                do {
                    let value = try field.template.render(context)
                    // Every value passed as a secret is masked, as on GitHub: one written out, one made from
                    // secrets (`format('{0}:{1}', secrets.A, secrets.B)`), one from another context.
                    if !value.isEmpty { _ = runner.redactor.add(value) }
                    secrets.run[name] = value
                } catch {
                    return .failure(problem(field, "secret '\(name)'", error.message))
                }
            }
        }
        var options = frame.options
        var runContext = options.runContext
        runContext.inputs = inputs
        options.context = runContext
        options.secrets = secrets
        let made = CallFrame(workflow: called, options: options, prefix: frame.prefix + instance.key + "/",
                             caller: (instance.key, instance.displayName), callers: frame.callers + [instance.jobID])
        switch Planner.plan(called, context: runContext) {
        case .success(let plan): return .success((made, plan))
        case .failure(let diagnostic):
            let at = diagnostic.location.map { "\($0): " } ?? ""
            return .failure(RunProblem(at + diagnostic.message + (diagnostic.hint.map { "\n  hint: \($0)" } ?? "")))
        }
    }

    /// An instance's concurrency group and whether it cancels the group's running job, evaluated
    /// with GitHub's contexts for `jobs.<job_id>.concurrency` (github, needs, strategy, matrix,
    /// inputs, vars).
    func concurrencyGroup(_ concurrency: JobConcurrency, _ job: Job, _ instance: PlannedJob, _ frame: CallFrame,
                          needsContext: [String: ExpressionValue]) -> Result<(group: String, cancelInProgress: Bool), RunProblem> {
        let context = frame.options.runContext.expressionContext(executorContexts(job, instance, frame, needsContext: needsContext))
        do {
            let group = try concurrency.group.template.render(context)
            var cancel = concurrency.cancelInProgress
            if let expression = concurrency.cancelExpression { cancel = try expression.template.evaluateValue(context).isTruthy }
            return .success((group, cancel))
        } catch {
            let at = concurrency.location.map { "\($0): " } ?? ""
            return .failure(RunProblem("\(at)cannot evaluate the concurrency of job '\(job.id)': \(error.message)"))
        }
    }

    /// The executor of one instance: its job's own, or what its `runs-on` labels choose (labels
    /// are evaluated with the instance's matrix and the results of the jobs it needs).
    /// What `runs-on` and the executor's options may use.
    func executorContexts(_ job: Job, _ instance: PlannedJob, _ frame: CallFrame, needsContext: [String: ExpressionValue]) -> [String: ExpressionValue] {
        frame.options.runContext.staticContexts(job: job.id).merging([
            "matrix": instance.matrixObject, "needs": .sortedObject(needsContext),
            "strategy": .object(["job-index": .number(Double(instance.matrixIndex)), "job-total": .number(Double(instance.matrixTotal))]),
        ]) { _, new in new }
    }

    /// `${{ }}` in the executor's options, services included (GitHub's `container: node:${{ matrix.node }}`,
    /// credentials from `secrets`), rendered as text when the job starts.
    func evaluateOptions(
        _ options: [String: JSONValue], _ job: Job, _ instance: PlannedJob, _ frame: CallFrame, needsContext: [String: ExpressionValue]
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
        let context = optionsContext(job, instance, frame, needsContext: needsContext, secrets: true)
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

    /// The values of variables named like secrets (or declared) that the job's executor options
    /// give its steps: the container's and the executor's `env`, each service's. Masked from the
    /// job's start, as an `env:` of the workflow, the job or a step is (audit 65 secrets M2: a
    /// container's DB_PASSWORD was printed as it was).
    func registerSecretValues(ofOptions options: [String: JSONValue]) {
        func register(_ env: JSONValue?) {
            guard case .object(let entries)? = env else { return }
            for (name, value) in entries where runner.options.secrets.isSecretName(name) {
                if case .string(let text) = value, !text.isEmpty { runner.redactor.add(text) }
            }
        }
        register(options["env"])
        if case .object(let services)? = options["services"] {
            for service in services.values { register(service["env"]) }
        }
    }

    /// The context a job's executor options are evaluated in when it starts: the executor's
    /// contexts, the run's and the job's secrets when `secrets` (credentials), and the run's
    /// redactor (`fromJSON(secrets.REGISTRY).password` is masked too).
    func optionsContext(_ job: Job, _ instance: PlannedJob, _ frame: CallFrame, needsContext: [String: ExpressionValue],
                        secrets: Bool) -> RuntimeContext {
        var contexts = executorContexts(job, instance, frame, needsContext: needsContext)
        if secrets {
            contexts["secrets"] = .sortedObject(frame.options.secrets.run.merging(frame.options.secrets.jobs[job.id] ?? [:]) { _, job in job }
                .mapValues(ExpressionValue.string))
        }
        return RuntimeContext(contexts: contexts, status: .ok, hashRoot: frame.options.projectDirectory, functions: frame.options.functions,
                              redactor: runner.redactor)
    }

    /// `$HOME` of a `container:` job's steps, as on GitHub (the oci executor's `home`).
    static let containerHome = "/github/home"

    /// The executor option `services` of `services`.
    static func servicesOption(_ services: [ServiceContainer]) -> JSONValue {
        .object(Dictionary(services.map { ($0.name, JSONValue.object($0.options)) }, uniquingKeysWith: { first, _ in first }))
    }

    /// `services: ${{ … }}` for one instance: evaluated with GitHub's contexts for services
    /// (github, needs, strategy, matrix, vars, inputs), then read as a written map is
    /// (`ServiceContainer.fromExpression`).
    func servicesFromExpression(
        _ field: TemplateField, _ job: Job, _ instance: PlannedJob, _ frame: CallFrame, needsContext: [String: ExpressionValue]
    ) -> Result<[ServiceContainer], RunProblem> {
        let context = optionsContext(job, instance, frame, needsContext: needsContext, secrets: false)
        let at = field.source.location.map { "\($0): " } ?? ""
        let value: ExpressionValue
        do {
            value = try field.template.evaluateValue(context)
        } catch {
            return .failure(RunProblem("\(at)cannot evaluate the services of job '\(job.id)': \(error.message)"
                                       + "\n  hint: they may use github, matrix, needs, strategy, vars and inputs"))
        }
        do {
            return .success(try ServiceContainer.fromExpression(value, at: field.source.location))
        } catch {
            let hint = error.hint.map { "\n  hint: \($0)" } ?? ""
            return .failure(RunProblem("\(at)job '\(job.id)': \(error.message)" + hint))
        }
    }

    /// Whether the job's `container: ${{ … }}` image renders empty for this instance.
    func rendersNoContainer(_ job: Job, _ instance: PlannedJob, _ frame: CallFrame, needsContext: [String: ExpressionValue]) -> Bool {
        guard case .string(let image)? = job.executor.options["image"], image.contains("${{"),
              let rendered = try? evaluateOptions(["image": .string(image)], job, instance, frame, needsContext: needsContext)
        else { return false }
        return rendered["image"] == .string("")
    }

    func chooseExecutor(_ job: Job, _ instance: PlannedJob, _ frame: CallFrame, needsContext: [String: ExpressionValue]) -> RunnerMap.Choice {
        var job = job
        if job.executorFromContainer, rendersNoContainer(job, instance, frame, needsContext: needsContext) {
            // `container: ${{ … }}` that renders empty: no container, what runs-on chooses (GitHub's rule).
            job.dropContainer()
        }
        if job.explicitExecutor || job.runsOn.isEmpty { return .executor(job.executor, label: nil) }
        let context = frame.options.runContext.expressionContext(executorContexts(job, instance, frame, needsContext: needsContext))
        do {
            let choice = frame.options.runners.choose(for: job, labels: try RunnerMap.labels(of: job, in: context))
            // A label made by an expression is refused at runs-on's place, as a written one is
            // (audit 66 remote L6: no location).
            if case .refuse(let message, let hint, let label) = choice, let place = job.runsOn.first?.location {
                return .refuse("\(place): " + message, hint: hint, label: label)
            }
            return choice
        } catch {
            let at = job.runsOn.first?.location.map { "\($0): " } ?? ""
            return .refuse("\(at)cannot evaluate runs-on of job '\(job.id)': \(error.message)",
                           hint: "runs-on may use matrix, needs, github, vars and inputs", label: nil)
        }
    }

    /// Why a job with `services:` cannot run on executor `pluginID`.
    static func servicesRefusal(_ job: Job, on pluginID: String) -> String {
        let at = (job.services.first?.location ?? job.servicesExpression?.source.location).map { "\($0): " } ?? ""
        let problem = WorkflowRunner.servicesProblem(job, on: pluginID)
        return at + problem.message + "\n  hint: " + problem.hint
    }

    /// nil = run it; a reason = skip it. Default condition: every needed job succeeded.
    func shouldRun(
        _ job: Job, _ frame: CallFrame, needs: [String], needsContext: [String: ExpressionValue], finished: [String: [JobOutcome]],
        upstreamFailed: Bool, upstreamUnsuccessful: Bool = false, cancelled: Bool
    ) -> Result<String?, RunProblem> {
        let result = { (id: String) in Self.result(of: finished[id] ?? []) }
        let succeeded = needs.allSatisfy { result($0) == .success } && !upstreamUnsuccessful
        let status = ExpressionStatus(succeeded: succeeded, cancelled: cancelled, failed: upstreamFailed)
        if job.condition == nil {
            if cancelled { return .success("cancelled before it started") }
            if let blocker = needs.first(where: { result($0) != .success }) {
                return .success("skipped: needed job '\(blocker.dropFirst(frame.prefix.count))' did not succeed")
            }
            if upstreamUnsuccessful {
                return .success("skipped: a job before its needs did not succeed (success() looks at the whole chain, as on GitHub)")
            }
            return .success(nil)
        }
        let context = RuntimeContext(
            contexts: frame.options.runContext.staticContexts(job: job.id).merging(["needs": .sortedObject(needsContext)]) { _, new in new },
            status: status, hashRoot: frame.options.projectDirectory, functions: frame.options.functions, redactor: runner.redactor)
        do {
            if try job.condition.holds(in: context) { return .success(nil) }
            return .success(cancelled ? "cancelled before it started" : "skipped: its 'if' is false")
        } catch {
            let at = job.condition?.source.location.map { "\($0): " } ?? ""
            return .failure(RunProblem("\(at)cannot evaluate 'if' of job '\(job.id)': \(error.message)"))
        }
    }

    /// `needs.<id>.result` and `needs.<id>.outputs` for the direct needs (scheduler ids; the
    /// context names them without their frame's `prefix`).
    func needsContext(_ needs: [String], _ finished: [String: [JobOutcome]], prefix: String = "") -> [String: ExpressionValue] {
        var context: [String: ExpressionValue] = [:]
        for id in needs {
            let outcomes = finished[id] ?? []
            var outputs: [String: ExpressionValue] = [:]
            for outcome in outcomes { for (name, value) in outcome.outputs { outputs[name] = .string(value) } }
            context[String(id.dropFirst(prefix.count))] = .object(["result": .string(Self.result(of: outcomes).rawValue), "outputs": .sortedObject(outputs)])
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
        key.optionLocations = [:]
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

extension WorkflowRunner {
    /// Whether executor `pluginID` runs a job's `services:` (next to its container, or on this machine).
    public static func runsServices(_ pluginID: String) -> Bool { pluginID == "oci" || pluginID == "local" }

    /// The options executor `reference` is made with for `job` as written (its written
    /// `services:` added, as the run adds them), for checking them before the run (`validate`,
    /// the run's start); nothing is evaluated.
    public static func writtenOptions(_ job: Job, _ reference: ExecutorReference) -> [String: JSONValue] {
        guard !job.services.isEmpty, runsServices(reference.pluginID) else { return reference.options }
        var options = reference.options
        options["services"] = Scheduler.servicesOption(job.services)
        return options
    }

    /// Why a job with `services:` cannot run on executor `pluginID`, without the place (`validate`
    /// says it as a diagnostic's; the run with the place of its `services:`).
    public static func servicesProblem(_ job: Job, on pluginID: String) -> (message: String, hint: String) {
        ("job '\(job.id)' has services, which run next to a job container or on this machine; it runs on executor '\(pluginID)'",
         "run the job on this machine (local) or give it a 'container:' (or map its runs-on label to a local or oci runner in .nixactions/config.yml)")
    }
}
