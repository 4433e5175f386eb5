import Foundation
import NixActionsPluginMessages
import Synchronization

extension JobRunner {
    /// Run the steps in order. After a cancellation, steps whose condition still holds
    /// (`always()`, `cancelled()`) run on, unaffected by the cancellation, so cleanup happens.
    func runSteps(executor: any Executor, started: JobStarted, base: [String: ExpressionValue], env: [String: String], state: inout State) async {
        // Sent once when there is a second step to spare it; a one-step job sends its step's whole environment.
        let shared = started.keepsEnvironment == true && job.steps.count > 1 ? sharedEnvironment(env, started: started) : nil
        await runPreScripts(executor: executor, started: started, base: base, env: env, state: &state)
        await runStepList(job.steps, executor: executor, started: started, base: base, env: env, shared: shared, state: &state)
        await runPostScripts(executor: executor, started: started, base: base, state: &state)
    }

    /// Run `steps` in order: the job's, or a composite action's (then `state.frame` is set and
    /// `shared` is nil: its steps' environment is not the job's).
    func runStepList(_ steps: [Step], executor: any Executor, started: JobStarted, base: [String: ExpressionValue], env: [String: String],
                     shared: SharedEnvironment?, state: inout State) async {
        for step in steps {
            if AbruptStop.requested {
                // Stopped at once: no step starts. A run that could not go on fails the job whose
                // steps it cut short (review 62: it was `success` with steps left unrun).
                if let failure = AbruptStop.failure, state.succeeded {
                    state.succeeded = false
                    state.failure = state.failure ?? JobFailure(message: AbruptStop.ended(by: failure))
                }
                break
            }
            noteCancellation(&state)
            noteActionTimeout(step, state: &state)
            var contexts = base
            contexts["steps"] = .object(state.steps)
            if case .object(var github)? = contexts["github"] {
                github["action"] = .string(actionName(step, topLevel: state.frame == nil))
                contexts["github"] = .object(github)
            }
            // Inside a composite action, `job.status` is still the job's (as it was when the action
            // started, with the action's own failures); `success()` is about the action's steps, and
            // a cancellation before the action started does not skip them (a cleanup action).
            let jobSucceeded = state.succeeded && (state.frame?.jobSucceeded ?? true)
            contexts["job"] = Self.jobContext(contexts["job"], status: state.cancelled ? "cancelled" : jobSucceeded ? "success" : "failure")
            // The original's bash test on an action is all that decides whether it runs: it is
            // run after a failed action too (not after a cancellation).
            let keepsGoing = step.shellCondition != nil && step.condition == nil
            let cancelled = state.cancelled && state.frame?.cancelledBefore != true
            let status = ExpressionStatus(succeeded: state.succeeded || keepsGoing, cancelled: cancelled)
            if hashing.isRemote { await prefetchHashes(step, executor: executor) }

            // The environment the step sees, lowest to highest: workflow, job, GITHUB_ENV of
            // earlier steps, the steps using the composite actions it is in, step (GitHub's
            // runner: the step's env is set over the job's environment, which GITHUB_ENV updates),
            // then --env-file and --env over all of them.
            let stepEnv: [String: String]
            var assigned = Set<String>()
            if step.env.isEmpty, let cached = state.envCache, cached.version == state.addedEnvVersion {
                // The same as the last step's: no `env:` of its own, GITHUB_ENV unchanged since.
                stepEnv = cached.environment
                contexts["env"] = cached.context
            } else {
                switch stepEnvironment(step, env: env, over: state.envOver, contexts: contexts, status: status, assigned: &assigned, state: state) {
                case .success(let values): stepEnv = values
                case .failure(let problem):
                    let allowed = allowsFailure(step.continueOnError, step.continueOnErrorExpression, context(contexts, status), problem: &state.allowProblem)
                    failStep(step, message: problem.message, allowed: allowed, state: &state)
                    continue
                }
                let context = ExpressionValue.sortedObject(stepEnv.mapValues(ExpressionValue.string))
                contexts["env"] = context
                if step.env.isEmpty { state.envCache = StepEnvironmentCache(version: state.addedEnvVersion, environment: stepEnv, context: context) }
            }

            let evaluation = context(contexts, status)
            // With the step's env context, as its `if` (audit 52: `${{ fromJSON(env.X) }}` saw no env).
            state.allowProblem = nil
            let allowed = allowsFailure(step.continueOnError, step.continueOnErrorExpression, evaluation, problem: &state.allowProblem)
            switch shouldRun(step.condition, evaluation) {
            case .failure(let problem):
                failStep(step, message: problem.message, allowed: allowed, state: &state)
                continue
            case .success(false):
                recordSkipped(step, state: &state)
                continue
            case .success(true): break
            }
            if let condition = step.shellCondition {
                var environment = stepEnv
                defineRunnerVariables(&environment, step: step, started: started)
                switch await shellConditionHolds(condition, index: step.index, environment: environment, started: started,
                                                 pathPrepend: state.pathPrepend, executor: executor) {
                case .success(true): break
                case .success(false):
                    recordSkipped(step, state: &state)
                    continue
                case .failure(let problem):
                    failStep(step, message: problem.message, allowed: allowed, state: &state)
                    continue
                }
            }

            // A step that would also run after a cancellation (`always()`, `cancelled()`,
            // `!success()`) goes on when one comes while it runs, as on GitHub (its runner checks
            // the running step's condition again): outside the job's cancellable task, stopped
            // only once `cleanupLimit` has passed after the cancellation.
            if !state.cancelled, step.condition != nil, case .success(true) = shouldRun(step.condition, context(
                contexts.merging(["job": Self.jobContext(contexts["job"], status: "cancelled")]) { _, new in new },
                ExpressionStatus(succeeded: status.succeeded, cancelled: true, failed: status.failed))) {
                let runner = self
                await runSurvivingCancellation(&state, limit: options.cleanupLimit, name: step.displayName) { [contexts, assigned] inner in
                    await runner.runStep(step, executor: executor, started: started, contexts: contexts, env: stepEnv, shared: shared,
                                         allowed: allowed, jobEnv: env, assigned: assigned, state: &inner)
                }
            } else if state.cancelled {
                let runner = self
                await runAsCleanup(&state) { [contexts, assigned] inner in
                    await runner.runStep(step, executor: executor, started: started, contexts: contexts, env: stepEnv, shared: shared,
                                         allowed: allowed, jobEnv: env, assigned: assigned, state: &inner)
                }
            } else {
                await runStep(step, executor: executor, started: started, contexts: contexts, env: stepEnv, shared: shared, allowed: allowed,
                              jobEnv: env, assigned: assigned, state: &state)
            }
        }
    }

    /// Once the job's task is cancelled, say so once: from then on only steps whose condition holds
    /// after a cancellation run.
    func noteCancellation(_ state: inout State) {
        guard Task.isCancelled && !state.cancelled else { return }
        state.cancelled = true
        reporter.report(.message(job: planned.key, level: .warning, text: "cancelled; running only steps with always() or cancelled()"))
    }

    /// A cleanup step after a cancellation: run outside the cancelled task, so the executor does not
    /// stop it at once.
    func runAsCleanup(_ state: inout State, _ body: @escaping @Sendable (inout State) async -> Void) async {
        let snapshot = state
        state = await Task(executorPreference: HandOffExecutor.shared) {
            var inner = snapshot
            await body(&inner)
            return inner
        }.value
    }

    /// A step that goes on through a cancellation: run outside the job's task; a cancellation of
    /// the job lets it run for `limit` more, then stops it.
    func runSurvivingCancellation(_ state: inout State, limit: Duration, name: String? = nil,
                                  _ body: @escaping @Sendable (inout State) async -> Void) async {
        let snapshot = state
        let task = Task(executorPreference: HandOffExecutor.shared) {
            var inner = snapshot
            await body(&inner)
            return inner
        }
        let finished = FinishedFlag()
        let reporter = self.reporter, job = planned.key
        state = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            Task {
                try? await Task.sleep(for: limit)
                // Said as a cleanup step after the cancellation is (audit 48: this one ended
                // `cancelled` without a word).
                if let name, !finished.value.load(ordering: .acquiring) {
                    reporter.report(.message(job: job, level: .warning, text: Self.cleanupLimitText(name, limit)))
                }
                task.cancel()
            }
        }
        finished.value.store(true, ordering: .releasing)
    }

    final class FinishedFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// What a step stopped by the cleanup limit says.
    static func cleanupLimitText(_ name: String, _ limit: Duration) -> String {
        "step '\(name)' was stopped: after a cancellation or the job's time limit a step has at most \(DurationParser.format(limit)) "
            + "(the cleanup limit, NIXACTIONS_CLEANUP_SECONDS)"
    }

    /// A step's environment: its own `env:` evaluated over `environmentBelowStep` (as a whole: an
    /// entry does not see the others, as on GitHub), then --env-file
    /// and --env over all of it; its secret values registered for masking.
    func stepEnvironment(_ step: Step, env: [String: String], over: [String: String], contexts: [String: ExpressionValue],
                         status: ExpressionStatus, assigned: inout Set<String>, state: State) -> Result<[String: String], RunProblem> {
        switch evaluateEnv(step.env, base: environmentBelowStep(env, over: over, state: state), contexts: contexts, status: status,
                           assigned: &assigned, inOrder: false) {
        case .success(let values):
            let environment = values.merging(options.environment) { _, given in given }
            registerSecretValues(environment)
            return .success(environment)
        case .failure(let problem): return .failure(problem)
        }
    }

    /// What a step's own `env:` is evaluated over: `env` (the job's), GITHUB_ENV, then `over`
    /// (the `env:` of the steps using the composite actions it is in).
    func environmentBelowStep(_ env: [String: String], over: [String: String], state: State) -> [String: String] {
        var values = env.merging(state.addedEnv) { _, new in new }
        if !over.isEmpty { values.merge(over) { _, over in over } }
        return values
    }

    /// `hashFiles` of a job whose workspace is not on this machine: computed through the files
    /// interface before the step's fields are evaluated (see `JobHashing`).
    func prefetchHashes(_ step: Step, executor: any Executor) async {
        var templates = [step.name, step.run, step.workingDirectory, step.continueOnErrorExpression, step.withExpression].compactMap { $0?.template }
        templates += step.with.map(\.value.template) + step.env.map(\.value.template)
        await prefetchHashes(templates, conditions: step.condition.map { [$0.expression] } ?? [], for: step.displayName, executor: executor)
    }

    func prefetchHashes(_ templates: [Template], conditions: [Expression], for name: String, executor: any Executor) async {
        let calls = JobHashing.calls(in: templates, conditions: conditions)
        do {
            try await hashing.prefetch(calls, jobKey: executorKey, files: executor.files)
        } catch {
            reporter.report(.message(job: planned.key, level: .warning, text: "cannot compute hashFiles for step '\(name)': \(describe(error))"))
        }
    }

    /// Whether a step runs (see `holds(in:)`), or why its `if` could not be evaluated.
    func shouldRun(_ condition: ConditionField?, _ evaluation: RuntimeContext) -> Result<Bool, RunProblem> {
        do {
            return .success(try condition.holds(in: evaluation))
        } catch {
            let at = condition?.source.location.map { "\($0): " } ?? ""
            return .failure(RunProblem("\(at)cannot evaluate 'if': \(error.message)"))
        }
    }

    func recordSkipped(_ step: Step, state: inout State) {
        reportStepFinished(step.index, name: step.displayName, outcome: .skipped, exitCode: nil, duration: .zero, state: state)
        if let id = step.id {
            state.steps[id] = .object(["outputs": .object([:]), "outcome": .string("skipped"), "conclusion": .string("skipped")])
        }
    }

    /// A field that is one expression for a whole map (`with: ${{ … }}`, `defaults.run: ${{ … }}`),
    /// evaluated now: the object's members, or nil for null; another value fails with the field's
    /// place, saying what the object holds (`holding`).
    static func wholeMap(_ field: TemplateField, what: String, holding: String, hint: String? = nil,
                         _ evaluation: RuntimeContext) -> Result<[String: ExpressionValue]?, RunProblem> {
        let at = field.source.location.map { "\($0): " } ?? ""
        let value: ExpressionValue
        do {
            value = try field.template.evaluateValue(evaluation)
        } catch {
            return .failure(RunProblem("\(at)cannot evaluate '\(what)': \(error.message)"))
        }
        switch value {
        case .null: return .success(nil)
        case .object(let members): return .success(members.unordered)
        default:
            return .failure(RunProblem("\(at)'\(what)' must be an object of \(holding), the expression gave \(value.kindName) '\(value.displayString)'"
                                       + (hint.map { "\n  hint: \($0)" } ?? "")))
        }
    }

    /// A step's `with: ${{ … }}`: an object whose entries are its inputs (a text as it is, another
    /// value as JSON, null as ''), in key order; null is none.
    static func inputs(of field: TemplateField, _ evaluation: RuntimeContext) -> Result<[(name: String, value: TemplateField)], RunProblem> {
        wholeMap(field, what: "with", holding: "inputs", hint: #"e.g. ${{ fromJSON('{"node-version": "20"}') }}"#, evaluation).map { members in
            (members ?? [:]).sorted { $0.key < $1.key }.map { name, member in
                (name, TemplateField.literal(member.displayString, at: field.source.location))
            }
        }
    }

    func failStep(_ step: Step, message: String, allowed: Bool, state: inout State) {
        reporter.report(.message(job: planned.key, level: .error, text: message))
        sayAllowProblem(&state)
        reportStepFinished(step.index, name: step.displayName, outcome: .failure, exitCode: nil, duration: .zero, state: state, allowed: allowed)
        if !allowed {
            state.succeeded = false
            state.failure = state.failure ?? JobFailure(stepIndex: step.index, stepName: step.displayName, message: message)
        } else {
            reporter.report(.message(job: planned.key, level: .warning, text: "step '\(step.displayName)' failed; allowed by continue-on-error"))
        }
        if let id = step.id {
            state.steps[id] = .object(["outputs": .object([:]), "outcome": .string("failure"),
                                       "conclusion": .string(allowed ? "success" : "failure")])
        }
    }

    /// Run one step with its retries and timeout, and fold its result into the job's state.
    /// - Parameters:
    ///   - shared: the job's environment as the executor keeps it, when it does.
    ///   - jobEnv: the environment under GITHUB_ENV (workflow and job `env:`, or a composite action's).
    ///   - assigned: the names the step's own `env:` set.
    ///   - announced: its start was reported already (a JavaScript action's `main`, see `runNodeAction`).
    ///   - capturesState: a JavaScript action's script: GITHUB_STATE is captured too, into `state.savedState`.
    func runStep(_ step: Step, executor: any Executor, started: JobStarted, contexts: [String: ExpressionValue],
                 env: [String: String], shared: SharedEnvironment? = nil, allowed: Bool, jobEnv: [String: String],
                 assigned: Set<String>, announced: Bool = false, capturesState: Bool = false, state: inout State) async {
        let evaluation = context(contexts, ExpressionStatus(succeeded: state.succeeded, cancelled: state.cancelled))
        let name: String
        if let field = step.name, case .success(let rendered) = render(field, what: "name", evaluation) { name = rendered } else { name = step.displayName }
        // Checked without sorting on every step; the names sorted only to say which (the first) holds one.
        if env.values.contains(where: { $0.utf8.contains(0) }), let held = env.keys.sorted().first(where: { env[$0]?.utf8.contains(0) ?? false }) {
            // An environment cannot hold a NUL: the value was cut there without a word (audit 66
            // hardening L6). Said, as for a script.
            return failStep(step, message: "the value of '\(held)' in the environment of step '\(step.displayName)' holds a NUL byte, which an environment "
                                + "variable cannot hold (it would be cut there)", allowed: allowed, state: &state)
        }
        var step = step
        if let field = step.withExpression {
            switch Self.inputs(of: field, evaluation) {
            case .success(let with): step.with = with
            case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
            }
        }

        if let uses = step.uses, ActionLoader.isReadFromFiles(uses.value) {
            // The using step's own `env:` stays over what the action's steps write to GITHUB_ENV.
            let own = env.filter { assigned.contains($0.key) }
            await runLocalAction(step, uses: uses, name: name, executor: executor, started: started, contexts: contexts, env: jobEnv,
                                 own: own, stepEnv: env, evaluation: evaluation, allowed: allowed, state: &state)
            return
        }
        if let uses = step.uses, uses.value.hasPrefix("docker://") {
            await runDockerImage(step, uses: uses.value, name: name, executor: executor, started: started, contexts: contexts, env: env,
                                 allowed: allowed, assigned: assigned, state: &state)
            return
        }
        if let uses = step.uses {
            await runAction(step, uses: uses.value, name: name, executor: executor, started: started, evaluation: evaluation, allowed: allowed, state: &state)
            return
        }
        let defaults = stepDefaults(state)
        guard let run = step.run else { return }
        // The command files' paths, chosen here so that `github.env`, `github.output`, … name
        // them in the step's templates (`echo X=1 >> ${{ github.env }}`), as on GitHub.
        let capturePaths = Self.capturePaths(in: started.commandFilesFolder ?? started.temporaryDirectory,
                                             serial: Self.captureSerial.add(1, ordering: .relaxed).newValue)
        let runEvaluation = context(Self.withCommandFiles(contexts, capturePaths), ExpressionStatus(succeeded: state.succeeded, cancelled: state.cancelled))
        let script: String
        switch render(run, what: "run", runEvaluation) {
        case .success(let text): script = text
        case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
        }
        if script.utf8.contains(0) {
            // Said, not left to the shell ("cannot execute binary file": audit 55 L5).
            return failStep(step, message: "the script of step '\(step.displayName)' holds a NUL byte (an expression's value put it there); no shell runs a script with one",
                            allowed: allowed, state: &state)
        }
        // The step's own shell and working-directory win over the job's defaults.run, which win
        // over the workflow's; each is evaluated now, at the step's start.
        var directory: String?
        switch runSetting(step.workingDirectory, key: "working-directory", defaults, runEvaluation) {
        case .success(let found): directory = found?.text
        case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
        }
        var shellName: String?
        var shellField: TemplateField?
        switch runSetting(step.shell, key: "shell", defaults, runEvaluation) {
        case .success(let found): (shellName, shellField) = (found?.text, found?.field)
        case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
        }
        // The shell's words are the command line of the step's process, which every user of this
        // machine can read (`ps`), whatever masking does for output: a secret's value there, however
        // it came (an env value, a step's output), fails the step before it starts (audit 63 secrets
        // M5: only `${{ secrets.X }}` written in it was said, by validate). Only what an expression
        // brought counts: words written in the workflow are no secret's, even when a masked value
        // matches them (`::add-mask::pipefail` must not fail `shell: bash -eo pipefail {0}`).
        if let shellName, shellBringsSecret(shellName, shellField, runEvaluation) {
            let at = shellField?.source.location.map { "\($0): " } ?? ""
            return failStep(step, message: "\(at)the step's shell holds a secret's value, which would be on its command line, readable by every user of this machine (ps)"
                                + "\n  hint: give the value to the script in env: and read it there", allowed: allowed, state: &state)
        }
        let shell: ShellCommand
        switch shellName == nil && inJobContainer ? .success(ShellCommand.containerDefault) : ShellCommand.resolve(shellName) {
        case .success(let command): shell = command
        case .failure(let problem):
            let at = shellField?.source.location.map { "\($0): " } ?? ""
            let from = shellField.map { $0.template.isLiteral ? "" : " (from '\($0.source.value)')" } ?? ""
            return failStep(step, message: "\(at)\(problem.message)\(from)\n  hint: \(problem.hint)", allowed: allowed, state: &state)
        }
        var spec = StepSpec(
            jobKey: executorKey, index: step.index, displayName: name, script: shell.fixUp(script), shell: shell.arguments,
            scriptExtension: shell.scriptExtension, workingDirectory: directory,
            // A run step's GITHUB_STATE goes nowhere, as on GitHub.
            captureFiles: Self.stepCaptureFiles, pathPrepend: state.pathPrepend)
        spec.capturePaths = capturePaths
        spec.filesWhenCancelled = true  // what a step ended by a time limit wrote is used (`attemptStep`)
        if let shared {
            // Only what differs from the job's environment, which the executor keeps.
            spec.environment = shared.delta(env, names: stepEnvNames(step, state: state), action: actionName(step, topLevel: state.frame == nil))
            if state.sharedEnvironmentSent { spec.usesJobEnvironment = true } else { spec.jobEnvironment = shared.base }
        } else {
            var environment = env
            defineRunnerVariables(&environment, step: step, topLevel: state.frame == nil, started: started)
            defineOriginalVariables(&environment, started: started)
            spec.environment = environment
        }
        if job.original != nil {
            // The original's $JOB_ENV: one file for the job, sourced before each step's script.
            spec.script = Self.jobEnvPrologue + script
        } else {
            spec.captureAliases = ["JOB_ENV": "GITHUB_ENV"]  // the original NixActions name, GitHub's format
        }

        let stepLimit: Duration?
        switch self.stepLimit(step, name: name, defaults: defaults, runEvaluation) {
        case .success(let limit): stepLimit = limit
        case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
        }

        if !announced { reportStepStarted(step.index, name: name, state: state) }
        let clock = ContinuousClock()
        let began = clock.now
        let policy = step.retry ?? defaults.job.retry ?? defaults.workflow.retry ?? RetryPolicy(maxAttempts: 1)
        var attempt = 1
        var ran = 0  // attempts that started (a wait that used up the deadline or was cancelled starts none)
        var result: StepAttempt
        var leftFiles: [String: String]?
        // The original NixActions timed an action as a whole, its retries and waits included.
        let deadline = job.original != nil ? stepLimit.map { began + $0 } : nil
        while true {
            // A cleanup step after a cancellation or timeout gets at most `cleanupLimit`.
            var limit = cleanupCapped(stepLimit, state: state)
            if let deadline { limit = max(.zero, deadline - clock.now) }
            if limit == .zero, let stepLimit {
                result = .timedOut(stepLimit, ended: true)  // no attempt started
                break
            }
            limit = withinFrame(limit, state: state)
            ran += 1
            (result, leftFiles) = await attemptStep(spec, executor: executor, timeout: limit, environment: env, workspace: started.workspace)
            if spec.jobEnvironment != nil, case .finished = result {
                // The executor keeps it now: the next steps (and this one's retries) send only their own.
                state.sharedEnvironmentSent = true
                spec.jobEnvironment = nil
                spec.usesJobEnvironment = true
            }
            if let deadline, let stepLimit, case .timedOut(_, let ended) = result, clock.now >= deadline { result = .timedOut(stepLimit, ended: ended) }
            guard attempt < policy.maxAttempts, case .finished(let stepResult, _) = result, !stepResult.succeeded,
                policy.onExitCodes.map({ codes in stepResult.exitCode.map(codes.contains) ?? false }) ?? true,
                !Task.isCancelled
            else { break }
            let wait = policy.wait(before: attempt + 1)
            // Only the job's own steps retry: a composite action's have no `retry` and no defaults.
            reporter.report(.stepRetrying(job: planned.key, step: step.index, name: name, attempt: attempt, of: policy.maxAttempts,
                                          exitCode: stepResult.exitCode, wait: wait, signal: stepResult.signal))
            try? await Task.sleep(for: deadline.map { min(wait, max(.zero, $0 - clock.now)) } ?? wait)
            if Task.isCancelled {
                result = .cancelled
                break
            }
            attempt += 1
        }

        var outcome = Outcome.success
        var exitCode: Int32?
        var message: String?
        var timedOutAfter: Duration?  // its own time limit ended it
        var killedBy: Int32?  // a signal from outside the run ended its (last) process
        /// What a step the host's cancel ended wrote to its command files is used, as GitHub's
        /// runner reads them in a `finally` (audit 50: a cleanup step saw none of it).
        func useLeftFiles() {
            guard let files = leftFiles else { return }
            for problem in apply(files, step: step, name: name, capturesState: capturesState, state: &state) {
                reporter.report(.message(job: planned.key, level: .error, text: problem))
            }
        }
        switch result {
        case .finished(let stepResult, let commands):
            exitCode = stepResult.exitCode
            let problems = apply(stepResult.files, commands: commands, step: step, name: name, capturesState: capturesState, state: &state)
            if stepResult.succeeded, !commands.failures.isEmpty {
                // Each was said where its command was (`StepOutputPipeline`).
                outcome = .failure
                let count = commands.failures.count
                message = "step '\(name)' failed: \(count == 1 ? "a workflow command" : "\(count) workflow commands") could not be processed"
                for problem in problems { reporter.report(.message(job: planned.key, level: .error, text: problem)) }
            } else if stepResult.succeeded, let problem = problems.first {
                outcome = .failure
                message = problem
                for other in problems.dropFirst() { reporter.report(.message(job: planned.key, level: .error, text: other)) }
            } else if !stepResult.succeeded {
                for problem in problems { reporter.report(.message(job: planned.key, level: .error, text: problem)) }
            }
            if !stepResult.succeeded && AbruptStop.requested {
                // Killed with every process of the run by a second signal: cancelled, not failed;
                // by a run that could not go on: failed, with why.
                (outcome, message) = AbruptStop.stepEnd
            } else if !stepResult.succeeded {
                outcome = .failure
                killedBy = stepResult.signal
                if let signal = stepResult.signal { message = "step '\(name)' was killed by signal \(signal)" }
                if policy.maxAttempts > 1 {
                    message = "step '\(name)' failed after \(ran) attempt\(ran == 1 ? "" : "s")"
                        + (stepResult.signal.map { " (the last killed by signal \($0))" } ?? "")
                }
            }
        case .timedOut(let limit, let ended):
            useLeftFiles()
            if state.cancelled, limit == options.cleanupLimit, (stepLimit ?? .seconds(Int64.max)) > limit {
                // Ended by the cleanup limit, not by a time limit of its own: cancelled, as the
                // step that was running when the cancellation came is (audit 48).
                outcome = .cancelled
                reporter.report(.message(job: planned.key, level: .warning, text: Self.cleanupLimitText(name, limit)))
            } else {
                outcome = .failure
                timedOutAfter = limit
                message = "step '\(name)' timed out after \(DurationParser.format(limit)); "
                    + (ended ? "its process tree was ended"
                       : "its executor did not confirm that its processes ended (what is left of them is ended with the job)")
            }
        case .cancelled:
            useLeftFiles()
            outcome = .cancelled
        case .error(let text):
            if AbruptStop.requested {
                // What the executor said once every process of the run was killed (a container's
                // helper among them: "the job's container stopped"): the kill's doing, as with a
                // step's own end above (audit 65 cancel M2: the oci step and job were `failure`).
                (outcome, message) = AbruptStop.stepEnd
            } else {
                outcome = .failure
                message = "step '\(name)': \(text)"
            }
        }
        if let message { reporter.report(.message(job: planned.key, level: .error, text: message)) }
        if outcome == .failure { sayAllowProblem(&state) } else { state.allowProblem = nil }
        reportStepFinished(step.index, name: name, outcome: outcome, exitCode: exitCode, duration: clock.now - began, state: state, allowed: allowed,
                           attempts: max(ran, 1), timeLimit: timedOutAfter, signal: killedBy)

        if outcome == .failure && !allowed {
            state.succeeded = false
            state.failure = state.failure ?? JobFailure(stepIndex: step.index, stepName: name, exitCode: exitCode, message: message ?? "step '\(name)' failed",
                                                        stepTimeLimit: timedOutAfter)
        } else if outcome == .failure {
            reporter.report(.message(job: planned.key, level: .warning, text: "step '\(name)' failed; allowed by continue-on-error"))
        } else if outcome == .cancelled {
            state.cancelled = true
        }
        if let id = step.id {
            var entry = state.steps[id]?.property("outputs") ?? .object([:])
            if case .object = entry {} else { entry = .object([:]) }
            let conclusion = outcome == .failure && allowed ? "success" : outcome.rawValue
            state.steps[id] = .object(["outputs": entry, "outcome": .string(outcome.rawValue), "conclusion": .string(conclusion)])
        }
    }

    /// The `defaults` a step takes: none inside a composite action (as on GitHub).
    func stepDefaults(_ state: State) -> (job: RunDefaults, workflow: RunDefaults) {
        state.frame == nil ? (job.defaults, workflow.defaults) : (RunDefaults(), RunDefaults())
    }

    /// A step's own limit, at most the cleanup limit after a cancellation or the job's timeout.
    func cleanupCapped(_ stepLimit: Duration?, state: State) -> Duration? {
        state.cancelled ? min(stepLimit ?? options.cleanupLimit, options.cleanupLimit) : stepLimit
    }

    /// Inside a composite action, the using step's timeout bounds its steps too. Once it has
    /// passed, the steps that still run (their `if` holds after a failure: always(), failure())
    /// are cleanup steps, with the cleanup limit each, as after a job's timeout.
    func withinFrame(_ limit: Duration?, state: State) -> Duration? {
        guard let outer = state.frame?.deadline else { return limit }
        let left = outer.at - ContinuousClock.now
        return left > .zero ? min(limit ?? left, left) : min(limit ?? options.cleanupLimit, options.cleanupLimit)
    }

    /// A step's time limit: the nearest level wins, the step's own (its expression evaluated now),
    /// then its job's defaults, then the workflow's.
    func stepLimit(_ step: Step, name: String, defaults: (job: RunDefaults, workflow: RunDefaults), _ evaluation: RuntimeContext)
        -> Result<Duration?, RunProblem> {
        guard let expression = step.timeoutExpression else {
            return .success(step.timeout?.value ?? defaults.job.stepTimeout?.value ?? defaults.workflow.stepTimeout?.value)
        }
        do {
            return .success(try expression.evaluate(evaluation) ?? defaults.job.stepTimeout?.value ?? defaults.workflow.stepTimeout?.value)
        } catch {
            // GitHub's runner says so and runs the step without a limit of its own (StepsRunner:
            // "An error occurred when attempting to determine the step timeout"); review 53: the
            // step failed here. The job's defaults still apply, and the job's limit.
            let at = expression.field.source.location.map { "\($0): " } ?? ""
            let key = expression.minutes ? "timeout-minutes" : "timeout"
            reporter.report(.message(job: planned.key, level: .error,
                                     text: "\(at)cannot evaluate \(key) of step '\(name)': \(error.message); it runs without a time limit of its own, as on GitHub"))
            return .success(defaults.job.stepTimeout?.value ?? defaults.workflow.stepTimeout?.value)
        }
    }

    /// Whether the rendered `shell:` holds a masked value that its expressions brought: a
    /// literal template is the workflow's own words; one with literal text is checked again with
    /// that text left out.
    func shellBringsSecret(_ rendered: String, _ field: TemplateField?, _ evaluation: RuntimeContext) -> Bool {
        guard redactor.contains(rendered) else { return false }
        guard let template = field?.template else { return true }
        if template.isLiteral { return false }
        guard template.singleExpression == nil,
              let brought = try? template.renderExpressions(evaluation, literalsAs: "\u{1}") else { return true }
        return redactor.contains(brought)
    }

    /// The first of a step's own field, its job's `defaults.run` and the workflow's, with the name
    /// an error quotes.
    /// A step's `shell` or `working-directory` (`key`), rendered now: its own, else its job's
    /// `defaults.run`, else the workflow's (GitHub's nearest level, setting by setting). A level
    /// whose `defaults.run` is one expression gives that key of the object it evaluates to; an
    /// object (or null) without it passes to the next level, as a level that does not set it.
    func runSetting(_ own: TemplateField?, key: String, _ defaults: (job: RunDefaults, workflow: RunDefaults),
                    _ evaluation: RuntimeContext) -> Result<(text: String, field: TemplateField)?, RunProblem> {
        if let own { return render(own, what: key, evaluation).map { ($0, own) } }
        for level in [defaults.job, defaults.workflow] {
            if let field = key == "shell" ? level.shell : level.workingDirectory {
                return render(field, what: "defaults.run.\(key)", evaluation).map { ($0, field) }
            }
            guard let whole = level.runExpression else { continue }
            let members: [String: ExpressionValue]
            switch Self.wholeMap(whole, what: "defaults.run", holding: "shell and working-directory", evaluation) {
            case .failure(let problem): return .failure(problem)
            case .success(nil): continue
            case .success(let found?): members = found
            }
            if let unknown = members.keys.sorted().first(where: { !["shell", "working-directory"].contains($0.lowercased()) }) {
                let at = whole.source.location.map { "\($0): " } ?? ""
                return .failure(RunProblem("\(at)'defaults.run' gave a key '\(unknown)'; it has shell and working-directory"))
            }
            guard let member = members.first(where: { $0.key.lowercased() == key })?.value, member != .null else { continue }
            return .success((member.displayString, whole))
        }
        return .success(nil)
    }

    enum StepAttempt: Sendable {
        case finished(StepResult, StepCommandResults)
        /// `ended`: the executor said the step's processes ended (a result marked `cancelled`).
        case timedOut(Duration, ended: Bool)
        case cancelled
        case error(String)
    }

    /// One run of a step; `environment` is its whole environment (what its workflow commands may do).
    /// With the command files of a step the host's cancel ended (`StepResult.cancelled`).
    func attemptStep(_ spec: StepSpec, executor: any Executor, timeout: Duration?, environment: [String: String],
                     workspace: String) async -> (StepAttempt, [String: String]?) {
        let pipeline = StepOutputPipeline(job: planned.key, step: spec.index, reporter: reporter, redactor: redactor, environment: environment,
                                          workspace: workspace, debug: options.runContext.runner["debug"] == .string("1"), annotations: annotations)
        // A cleanup step after the run's cancel starts cancelled: its own errors stay errors.
        let cancelledBefore = Task.isCancelled
        let (outcome, timedOut) = await withTimeoutKeeping(timeout) { () -> StepAttempt in
            do {
                let result = try await executor.runStep(spec, output: pipeline)
                return .finished(result, StepCommandResults())
            } catch is CancellationError {
                return .cancelled
            } catch {
                return .error(self.describe(error))
            }
        }
        pipeline.finish()
        if case .finished(let result, _) = outcome, result.cancelled == true, timedOut || Task.isCancelled {
            // Ended by the host's cancel: its command files, for what the job does next.
            return (timedOut ? .timedOut(timeout ?? .zero, ended: true) : .cancelled, result.files)
        }
        if timedOut {
            // The executor never answered the cancel (it was abandoned): nothing confirms the
            // step's processes ended, so the message must not say they did (audit 50).
            if case .error(let text) = outcome {
                return (.error("timed out after \(DurationParser.format(timeout ?? .zero)); then \(text)"), nil)
            }
            // A CancellationError, not a result marked cancelled: the executor gave up on the step
            // (ssh: a connection that no longer answers) without seeing it end.
            return (.timedOut(timeout ?? .zero, ended: false), nil)
        }
        if Task.isCancelled, !cancelledBefore, case .error(let text) = outcome {
            // The run's cancel came while it ran: the step is cancelled; what went wrong winding
            // it down is said.
            reporter.report(.message(job: planned.key, level: .warning, text: "step '\(spec.displayName)' was cancelled; then \(text)"))
            return (.cancelled, nil)
        }
        if case .finished(let result, _) = outcome {
            if result.outputLeftOpen == true {
                reporter.report(.message(job: planned.key, level: .info, text:
                    "step '\(spec.displayName)': processes it left running still hold its output; what they write after it ended is not kept "
                        + "(write to a file, or wait for them in the step)"))
            }
            return (.finished(result, pipeline.commandResults), nil)
        }
        return (outcome, nil)
    }

    /// Numbers the `run` steps' command files over the run (`capturePaths`; the executor's
    /// folder for them may be shared by its jobs).
    static let captureSerial = Atomic<Int>(0)

    /// The paths of a `run` step's command files in `folder` (`JobStarted.commandFilesFolder`, else
    /// the job's temporary folder, `RUNNER_TEMP`).
    static func capturePaths(in temporary: String, serial: Int) -> [String: String] {
        var paths: [String: String] = [:]
        for (name, key) in commandFileKeys { paths[name] = temporary + "/_github_\(serial)_" + key }
        return paths
    }

    /// `contexts` with the command files in `github` (`env`, `output`, `path`, `step_summary`,
    /// `state`: GitHub's runner sets them per step, as it makes the files).
    static func withCommandFiles(_ contexts: [String: ExpressionValue], _ paths: [String: String]) -> [String: ExpressionValue] {
        guard case .object(var github)? = contexts["github"] else { return contexts }
        for (name, key) in commandFileKeys { if let path = paths[name] { github[key] = .string(path) } }
        github.sort { $0.key < $1.key }
        var contexts = contexts
        contexts["github"] = .object(github)
        return contexts
    }

    /// Register the values of secret variables (declared, delivered or named like a secret)
    /// before the step can print them: a value set by `$GITHUB_ENV` or an `env:` is masked too.
    func registerSecretValues(_ environment: [String: String]) {
        for (name, value) in environment where !value.isEmpty && options.secrets.isSecretName(name) {
            redactor.add(value)
        }
    }

    /// Variables a GitHub-style step expects.
    func defineRunnerVariables(_ environment: inout [String: String], step: Step?, topLevel: Bool = true, started: JobStarted) {
        for (name, value) in options.runContext.environment { environment[name] = value }
        // As GitHub's runner (ProcessInvoker): CI only when no env sets it (`CI: false` is kept).
        if environment["CI"] == nil { environment["CI"] = "true" }
        environment["NIXACTIONS"] = "true"
        environment["GITHUB_ACTIONS"] = "true"
        environment["GITHUB_WORKSPACE"] = started.workspace
        environment["RUNNER_TEMP"] = started.temporaryDirectory
        environment["RUNNER_WORKSPACE"] = started.runnerWorkspace
        environment["RUNNER_OS"] = started.os ?? "Linux"
        environment["RUNNER_ARCH"] = started.arch ?? JobStarted.hostArch
        environment["GITHUB_JOB"] = job.id
        if let step { environment["GITHUB_ACTION"] = actionName(step, topLevel: topLevel) }
    }

    /// `GITHUB_ACTION`: the step's id, or GitHub's name for a job's step without one (`__run`,
    /// `__run_2`, `__actions_checkout`; `StepActionNames`); `__run_N` for a step of a composite
    /// action (by its place in the action).
    func actionName(_ step: Step, topLevel: Bool) -> String {
        if let id = step.id { return id }
        return topLevel ? stepNames.name(of: step.index, in: job.steps) : "__run_\(step.index + 1)"
    }

    /// The job's environment as an executor that keeps it gets it once (`StepSpec.jobEnvironment`):
    /// the job's env with the runner's variables (and the original's) over it.
    func sharedEnvironment(_ env: [String: String], started: JobStarted) -> SharedEnvironment {
        var runner: [String: String] = [:]
        defineRunnerVariables(&runner, step: nil, started: started)
        defineOriginalVariables(&runner, started: started)
        // CI is a default under the env, not a runner's variable over it.
        var job = env
        if job["CI"] == nil { job["CI"] = runner["CI"] }
        runner["CI"] = nil
        return SharedEnvironment(job: job, runner: runner)
    }

    /// The names whose value in the step's environment may differ from the job's env: what
    /// GITHUB_ENV set, the step's `env:` and `--env`. nil: any name (an `env: ${{ … }}` object).
    func stepEnvNames(_ step: Step, state: State) -> [String]? {
        var names = Array(state.addedEnv.keys)
        for entry in step.env {
            if entry.name.isEmpty { return nil }
            names.append(entry.name)
        }
        names += options.environment.keys
        return names
    }

    /// Names GITHUB_ENV may not set, compared without case (GitHub's runner's block list).
    static let blockedEnvNames = ["NODE_OPTIONS"]

    /// Fold GITHUB_ENV, GITHUB_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY (and a JavaScript action's
    /// GITHUB_STATE) into the job's state.
    /// Returns why the step fails: a GITHUB_ENV, GITHUB_OUTPUT or GITHUB_PATH file over
    /// `CaptureLimits.fileBytes` (nothing is used from it), a line that is not `NAME=VALUE` or
    /// `NAME<<DELIM`, a block that is never closed, an output without a name (the entries before
    /// it are used, as GitHub's runner applies each as it reads it). A summary over
    /// `CaptureLimits.summaryBytes` is left out with an error, as on GitHub.
    /// `commands` (`::set-output`, `::set-env`, …) come first: a file's value for the same name wins.
    func apply(_ files: [String: String], commands: StepCommandResults = StepCommandResults(), step: Step, name: String,
               capturesState: Bool = false, state: inout State) -> [String] {
        var problems: [String] = []
        /// The file's text, or nil (with a problem) when it is over the limit.
        func text(_ variable: String) -> String? {
            guard let text = files[variable], !text.isEmpty else { return nil }
            guard text.utf8.count <= CaptureLimits.fileBytes else {
                problems.append(
                    "\(variable) of step '\(name)' exceeded \(CaptureLimits.fileBytes) bytes (\(CaptureLimits.describe(CaptureLimits.fileBytes))); "
                        + "nothing from it was used (write large data to a file in the workspace instead)")
                return nil
            }
            return text
        }
        func entries(_ variable: String) -> [(String, String)]? {
            guard let text = text(variable) else { return nil }
            let read = EnvFileParser.parseUntilProblem(text)
            if let line = EnvFileParser.firstCRLFLine(text) {
                // Kept as GitHub keeps it; said, as a step that compares the value would differ
                // from what the file's author meant (audit 58 F4: dropped here, kept there).
                reporter.report(.message(job: planned.key, level: .warning, text:
                    "\(variable) of step '\(name)': line \(line) ends with CR LF; the CR is part of what it sets, as on GitHub's Linux runners "
                        + "(write LF line ends: tr -d '\\r')"))
            }
            if let problem = read.problem {
                // The secrets the entries before it set are masked before the bad line is quoted:
                // quoted first, a token written above it was cut at 80 characters and shown
                // (audit 53). The loop below registers them again; adding twice is harmless.
                if variable == "GITHUB_ENV" {
                    for (name, value) in read.entries where !value.isEmpty && options.secrets.isSecretName(name) { redactor.add(value) }
                }
                problems.append("\(variable) of step '\(name)': \(problem.redacted(by: redactor.redact))"
                    + (read.entries.isEmpty ? "" : "; the entries before it were used, as on GitHub"))
            }
            return read.entries
        }
        if let entries = entries("GITHUB_ENV") ?? (commands.env.isEmpty ? nil : []) {
            for (variable, value) in commands.env + entries {
                // GitHub's runner: "Name must not be empty", and the step fails, as for GITHUB_OUTPUT
                // (audit 55 M2: dropped without a word); a NUL cannot be in an environment's name.
                guard !variable.isEmpty, !variable.utf8.contains(0) else {
                    problems.append("GITHUB_ENV of step '\(name)': " + (variable.isEmpty ? "a variable without a name ('=VALUE')" : "a variable name with a NUL byte")
                        + "; the variables before it were used, as on GitHub")
                    break
                }
                // GitHub's runner refuses these from GITHUB_ENV (NODE_OPTIONS=--require=… would run
                // code in every later Node.js process of the job): the pair is left out, with an error.
                if Self.blockedEnvNames.contains(where: { $0.caseInsensitiveCompare(variable) == .orderedSame }) {
                    reporter.report(.message(
                        job: planned.key, level: .error,
                        text: "GITHUB_ENV of step '\(name)': \(variable) cannot be set through GITHUB_ENV (as on GitHub); it was left out"))
                    continue
                }
                state.addedEnv[variable] = value
                // A secret's value is masked from here on, not only when the next step's
                // environment is built: in the job's last step it would reach the job's outputs.
                if !value.isEmpty && options.secrets.isSecretName(variable) {
                    redactor.add(value)
                } else if redactor.contains(value) {
                    // A secret passed on under another name is still masked; say so, as GitHub does for outputs.
                    reporter.report(.message(
                        job: planned.key, level: .warning,
                        text: "GITHUB_ENV of step '\(name)' sets \(variable) to a value that contains a secret; it stays masked in the logs"))
                }
            }
        }
        // A JavaScript action's `core.saveState`: its later scripts get it as STATE_<name>.
        if capturesState {
            for (name, value) in commands.state { state.savedState[name] = value }
            if files["GITHUB_STATE"] != nil, let entries = entries("GITHUB_STATE") {
                for (name, value) in entries { state.savedState[name] = value }
            }
        }
        // GitHub's runner takes each non-empty line as it is (spaces kept) and moves an entry
        // written again to the front instead of listing it twice.
        func prepend(_ entry: String) {
            guard !entry.isEmpty else { return }
            state.pathPrepend.removeAll { $0 == entry }
            state.pathPrepend.insert(entry, at: 0)
        }
        for entry in commands.path { prepend(entry) }
        if let text = text("GITHUB_PATH") {
            for line in EnvFileParser.lines(text) { prepend(String(line)) }
        }
        if let entries = entries("GITHUB_OUTPUT") ?? (commands.outputs.isEmpty ? nil : []),
           outputsFit(commands.outputs + entries, step: name, state: &state, problems: &problems) {
            // In the order written; names are one name whatever their case, the first spelling
            // kept and the last value (GitHub's outputs are a case-insensitive dictionary).
            var outputs = ExpressionObject()
            var spelling: [String: String] = [:]
            for (output, value) in commands.outputs + entries {
                guard !output.isEmpty else {
                    // GitHub's runner: "Unable to process file command 'output' successfully".
                    problems.append("GITHUB_OUTPUT of step '\(name)': an output without a name ('=VALUE'); the outputs before it were used, as on GitHub")
                    break
                }
                let folded = output.lowercased()
                let key = spelling[folded] ?? output
                spelling[folded] = key
                outputs[key] = .string(value)
                state.allOutputs[key] = value
            }
            if let id = step.id { state.steps[id] = .object(["outputs": .object(outputs)]) }
        }
        if let text = files["GITHUB_STEP_SUMMARY"], !text.isEmpty {
            let size = text.utf8.count
            if size > CaptureLimits.summaryBytes {
                // GitHub reports this and goes on: the step does not fail, its summary is left out.
                let shown = size > CaptureLimits.fileBytes ? "more than \(CaptureLimits.fileBytes >> 10)k" : "\(size >> 10)k"
                reporter.report(.message(
                    job: planned.key, level: .error,
                    text: "the step summary of step '\(name)' was left out: a summary can be at most \(CaptureLimits.summaryBytes >> 10)k (1 MiB), got \(shown)"))
            } else if state.summaries >= CaptureLimits.summariesPerJob {
                reporter.report(.message(
                    job: planned.key, level: .warning,
                    text: "the step summary of step '\(name)' was left out: a job keeps at most \(CaptureLimits.summariesPerJob) step summaries (GitHub shows that many)"))
            } else {
                state.summaries += 1
                state.summary += text.hasSuffix("\n") ? text : text + "\n"
            }
        }
        return problems
    }

    /// Whether a step's outputs fit in what the job's steps may keep in all; if not, a problem
    /// (the step fails) and none of them is used.
    func outputsFit(_ entries: [(String, String)], step name: String, state: inout State, problems: inout [String]) -> Bool {
        let size = entries.reduce(0) { $0 + $1.0.utf8.count + $1.1.utf8.count }
        guard state.stepOutputBytes + size > CaptureLimits.jobStepOutputBytes else {
            state.stepOutputBytes += size
            return true
        }
        problems.append("GITHUB_OUTPUT of step '\(name)': its outputs (\(size) bytes) would pass the \(CaptureLimits.describe(CaptureLimits.jobStepOutputBytes)) "
                        + "a job's steps may set in all (\(state.stepOutputBytes) bytes before it); none of them was used")
        return false
    }
}

/// A step's environment and its `env` context, kept for the next step that has no `env:` of its own.
struct StepEnvironmentCache: Sendable {
    var version: Int
    var environment: [String: String]
    var context: ExpressionValue
}

/// A job's environment as an executor that keeps it between steps gets it (`StepSpec.jobEnvironment`),
/// and what each step adds to it.
struct SharedEnvironment: Sendable {
    /// The job's env (workflow, job, exported secrets, `--env`), what the steps' own start from.
    let job: [String: String]
    /// The runner's variables: they win over any env (CI, GITHUB_WORKSPACE, RUNNER_TEMP, …).
    let runner: [String: String]
    /// What every step of the job starts from: `job` with `runner` over it.
    let base: [String: String]

    init(job: [String: String], runner: [String: String]) {
        self.job = job
        self.runner = runner
        base = job.merging(runner) { _, runner in runner }
    }

    /// What a step's environment (`stepEnv`, the runner's variables not yet applied) sets over
    /// `base`, so that `base` with it over it is exactly `stepEnv` with the runner's variables over
    /// it and `GITHUB_ACTION = action`.
    /// - Parameter names: the names whose value may differ from `job`; nil: compare them all.
    func delta(_ stepEnv: [String: String], names: [String]?, action: String) -> [String: String] {
        var delta: [String: String] = [:]
        if let names {
            for name in names { if let value = stepEnv[name] { delta[name] = runner[name] ?? value } }
        } else {
            for (name, value) in stepEnv where job[name] != value { delta[name] = runner[name] ?? value }
        }
        delta["GITHUB_ACTION"] = action
        return delta
    }
}
