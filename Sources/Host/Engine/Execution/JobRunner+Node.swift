import NixActionsPluginMessages
import NixActionsProcessKit

/// A JavaScript action's `post` script (or a docker action's `post-entrypoint`), registered when its `main` ran: run after the job's steps,
/// last registered first, when `post-if` holds (GitHub's default: `always()`), with the
/// environment and inputs `main` had and the state `pre` and `main` saved.
struct PostScript: Sendable {
    var step: Step
    var name: String
    var environment: [String: String]
    var condition: ConditionField?
    /// Main's `continue-on-error`, evaluated when main ran.
    var allowed: Bool
}

/// JavaScript actions (`runs.using: node20`, …), as GitHub's runner runs them: each script is a
/// step of its own that runs `node SCRIPT` in the job's executor, in the workspace, with every
/// input as `INPUT_<NAME>` and the files GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH,
/// GITHUB_STEP_SUMMARY and GITHUB_STATE. What a script writes to GITHUB_STATE (`core.saveState`)
/// reaches the action's later scripts as `STATE_<name>`. `pre` runs before the job's first step,
/// for an action a job step uses directly (not one inside a composite action, and not a local
/// one, which the workspace holds only once the steps run, as on GitHub); `post` after the last.
///
/// `node` is the executor's own, found on the step's PATH (GitHub's runner brings its own Node.js;
/// NixActions does not), so a container image or ssh host needs Node.js for such actions.
extension JobRunner {
    /// `core.getInput` reads `INPUT_<NAME>`: the name upper-cased, spaces as `_` (GitHub's runner).
    static func inputVariable(_ name: String) -> String {
        "INPUT_" + name.replacingOccurrences(of: " ", with: "_").uppercased()
    }

    /// The shell script that runs `script` (a path of the job's view) with the executor's `node`, or
    /// says why it cannot (exit 127, as a shell does for a missing command). With carried
    /// variables (`carried`), node first loads a few constant lines that put them back under their
    /// own names.
    static func nodeScript(_ script: String, using: String, uses: String) -> String {
        let quoted = ShellWords.quote
        let missing = "nixactions: the action '\(uses)' (runs.using: \(using)) needs Node.js: there is no 'node' on the PATH of the job's executor"
            + " (GitHub's runner brings its own; install Node.js where the job runs)"
        // Said to the host too (a state entry of its own, never passed on): the action's post
        // script is then not run, as it would fail the same way (audit 58 examples L11).
        return "command -v node >/dev/null 2>&1 || { printf '%s\\n' \(quoted(missing)) >&2; "
            + "[ -n \"${GITHUB_STATE:-}\" ] && printf '%s=1\\n' \(nodeMissingState) >> \"$GITHUB_STATE\"; exit 127; }\n"
            + "if [ -n \"${\(carriedPrefix)0+set}\" ]; then\n"
            // In the job's own temporary folder; `.cjs`: CommonJS also under a package.json of
            // "type": "module" (review 51).
            + "  _nxa_restore=\"$RUNNER_TEMP/.nixactions-carried-env.cjs\"\n"
            + "  printf '%s\\n' \(quoted(nodeRestore)) > \"$_nxa_restore\" || exit 1\n"
            + "  exec node -r \"$_nxa_restore\" \(quoted(script))\n"
            + "fi\n"
            + "exec node \(quoted(script))\n"
    }

    /// The state entry a script that found no `node` writes (`nodeScript`).
    static let nodeMissingState = "NIXACTIONS_NODE_MISSING"

    /// Where a variable whose name is not a shell name travels (`carried`): this and a number.
    static let carriedPrefix = "NIXACTIONS_CARRIED_ENV_"

    /// Whether `name` is one of `carried`'s (the prefix and digits only).
    static func isCarried(_ name: String) -> Bool {
        name.hasPrefix(carriedPrefix) && name.count > carriedPrefix.count
            && name.utf8.dropFirst(carriedPrefix.utf8.count).allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// Node's side of `carried` (loaded with `node -r`, before the action's script): each
    /// `NIXACTIONS_CARRIED_ENV_<n>` becomes the variable it carries.
    static let nodeRestore = """
        for (const k of Object.keys(process.env)) { if (/^\(carriedPrefix)[0-9]+$/.test(k)) { const v = process.env[k]; \
        delete process.env[k]; const i = v.indexOf('='); if (i > 0) process.env[v.slice(0, i)] = v.slice(i + 1); } }
        """

    /// `environment` with each variable whose name is not a shell name (`INPUT_NODE-VERSION`,
    /// `STATE_my-key`: GitHub keeps the `-` of an input's name) moved to `NIXACTIONS_CARRIED_ENV_<n>`,
    /// valued `NAME=VALUE`. A POSIX shell cannot pass such a name on (dash, Debian's `sh`, drops
    /// it when it execs; an executor's wrapper cannot export it), and the action's scripts start
    /// from one; node (`nodeRestore`) and the container engine (`dockerScript`) put them back.
    static func carried(_ environment: [String: String]) -> [String: String] {
        let unusual = environment.keys.filter { !ShellWords.isName($0) }.sorted()
        guard !unusual.isEmpty else { return environment }
        // A variable of the step's that looks like one of these would be taken for one: left out.
        var result = environment.filter { !isCarried($0.key) }
        for (number, name) in unusual.enumerated() {
            result[carriedPrefix + String(number)] = name + "=" + (result.removeValue(forKey: name) ?? "")
        }
        return result
    }

    /// A JavaScript action's script's environment (`nodeEnvironment`, `carried`).
    func nodeScriptEnvironment(_ stepEnv: [String: String], inputs: [String: ExpressionValue], folder: String, remote: RemoteAction?,
                               saved: [String: String]) -> [String: String] {
        Self.carried(nodeEnvironment(stepEnv, inputs: inputs, folder: folder, remote: remote, saved: saved))
    }

    /// A run step that stands for one of the action's scripts: the using step's timeout, retries and
    /// continue-on-error, its id only for `main` (pre and post scripts set no outputs).
    func nodeStep(_ step: Step, index: Int, script: String, folder: String, name: String, using: String, uses: String,
                  started: JobStarted, keepsID: Bool) -> Step {
        scriptStep(step, index: index, script: Self.nodeScript(folder + "/" + script, using: using, uses: uses), name: name, started: started,
                   keepsID: keepsID)
    }

    /// A `sh` step running `script` in the workspace, standing for `step` (a JavaScript or docker
    /// action's script): the using step's timeout, retries and continue-on-error; its id only
    /// when `keepsID` (pre and post scripts set no outputs).
    func scriptStep(_ step: Step, index: Int, script: String, name: String, started: JobStarted, keepsID: Bool) -> Step {
        func literal(_ text: String) -> TemplateField { .literal(text, at: step.location) }
        var run = step
        run.index = index
        if !keepsID { run.id = nil }
        run.uses = nil
        run.with = []
        run.withExpression = nil  // evaluated once, for the action's inputs; not again for each script
        run.env = []
        run.condition = nil
        run.shellCondition = nil
        run.name = literal(name)
        run.run = literal(script)
        run.shell = literal("sh")
        run.workingDirectory = literal(started.workspace)  // GitHub runs it in the workspace, whatever defaults.run says
        return run
    }

    /// The environment of the action's scripts: the step's, its inputs, where the action is, and
    /// the state its earlier scripts saved.
    func nodeEnvironment(_ stepEnv: [String: String], inputs: [String: ExpressionValue], folder: String, remote: RemoteAction?,
                         saved: [String: String]) -> [String: String] {
        var environment = stepEnv
        for (name, value) in inputs {
            if case .string(let text) = value { environment[Self.inputVariable(name)] = text }
        }
        environment["GITHUB_ACTION_PATH"] = folder
        if let remote {
            environment["GITHUB_ACTION_REPOSITORY"] = remote.reference.repositoryName
            environment["GITHUB_ACTION_REF"] = remote.reference.ref
        }
        for (name, value) in saved { environment["STATE_" + name] = value }
        return environment
    }

    /// The step index a pre or post script reports under: after the job's own steps, in the order they run.
    func nextScriptIndex(_ state: inout State) -> Int {
        defer { state.scriptSteps += 1 }
        return job.steps.count + state.scriptSteps
    }

    /// `main`: the step itself (its start is reported already); its `post`, if any, is registered.
    func runNodeAction(_ step: Step, node: NodeRuns, using: String, uses: String, name: String, folder: String, remote: RemoteAction?,
                       inputs: [String: ExpressionValue], stepEnv: [String: String], executor: any Executor, started: JobStarted,
                       contexts: [String: ExpressionValue], allowed: Bool, state: inout State) async {
        let fromPre = (state.frame == nil ? state.preStates[step.index] ?? [:] : [:]).filter { $0.key != Self.nodeMissingState }
        let environment = nodeScriptEnvironment(stepEnv, inputs: inputs, folder: folder, remote: remote, saved: fromPre)
        let main = nodeStep(step, index: step.index, script: node.main.value, folder: folder, name: name, using: using, uses: uses,
                            started: started, keepsID: true)
        state.savedState = [:]
        await runStep(main, executor: executor, started: started, contexts: contexts, env: environment, allowed: allowed,
                      jobEnv: stepEnv, assigned: [], announced: true, capturesState: true, state: &state)
        let noNode = state.savedState.removeValue(forKey: Self.nodeMissingState) != nil
        let saved = fromPre.merging(state.savedState) { _, new in new }
        state.savedState = [:]
        if node.post != nil, noNode {
            // It would fail as main did, saying the same (GitHub's runner always has Node.js).
            reporter.report(.message(job: planned.key, level: .info,
                                     text: "the post script of '\(uses)' is not run: its main step found no Node.js"))
        } else if let post = node.post {
            // Registered once main has run, whatever its outcome (GitHub's runner).
            let script = nodeStep(step, index: step.index, script: post.value, folder: folder, name: "Post " + name, using: using,
                                  uses: uses, started: started, keepsID: false)
            registerPost(step, script: script, name: name,
                         environment: nodeScriptEnvironment(stepEnv, inputs: inputs, folder: folder, remote: remote, saved: saved),
                         condition: node.postCondition, allowed: allowed, contexts: contexts, state: &state)
        }
    }

    /// Register an action's post script (`script`, standing for `step`, whose name is `name`),
    /// to run after the job's steps. Its time limit is main's: evaluated now, where main's contexts
    /// (a composite action's inputs) and defaults are, not after the job's steps.
    func registerPost(_ step: Step, script: Step, name: String, environment: [String: String], condition: ConditionField?, allowed: Bool,
                      contexts: [String: ExpressionValue], state: inout State) {
        var script = script
        let evaluation = context(contexts, ExpressionStatus(succeeded: state.succeeded, cancelled: state.cancelled))
        if case .success(let limit) = stepLimit(step, name: name, defaults: stepDefaults(state), evaluation) {
            script.timeout = limit.map { Located($0, at: step.location) }
        }
        script.timeoutExpression = nil
        state.posts.append(PostScript(step: script, name: "Post " + name, environment: environment, condition: condition, allowed: allowed))
    }

    /// The `pre` scripts of the remote JavaScript actions (and `pre-entrypoint`s of the docker ones)
    /// the job's steps use, in step order, before the first step: each when its `pre-if` holds
    /// (default `always()`), whatever the step's `if`.
    func runPreScripts(executor: any Executor, started: JobStarted, base: [String: ExpressionValue], env: [String: String],
                       state: inout State) async {
        for step in job.steps {
            guard let uses = step.uses, ActionLoader.isReadFromFiles(uses.value), let reference = RemoteActionReference(uses.value),
                  let remote = workflow.remoteActions[reference.key], remote.action.node?.pre != nil || remote.action.docker?.preEntrypoint != nil
            else { continue }
            let preCondition = remote.action.node?.preCondition ?? remote.action.docker?.preCondition
            if Task.isCancelled { return }
            if hashing.isRemote {
                await prefetchHashes(step, executor: executor)
                await prefetchHashes(remote.action.inputs.compactMap { $0.defaultValue?.template },
                                     conditions: preCondition.map { [$0.expression] } ?? [], for: step.displayName, executor: executor)
            }
            var contexts = base
            contexts["steps"] = .object(state.steps)
            contexts["job"] = Self.jobContext(contexts["job"], status: state.succeeded ? "success" : "failure")
            let status = ExpressionStatus(succeeded: state.succeeded, cancelled: state.cancelled)
            var assigned = Set<String>()
            let stepEnv: [String: String]
            switch stepEnvironment(step, env: env, over: [:], contexts: contexts, status: status, assigned: &assigned, state: state) {
            case .success(let values): stepEnv = values
            case .failure(let problem):
                failScript(step, index: nextScriptIndex(&state), name: "Pre " + step.displayName, message: problem.message,
                           allowed: step.continueOnError, state: &state)
                continue
            }
            contexts["env"] = .sortedObject(stepEnv.mapValues(ExpressionValue.string))
            let evaluation = context(contexts, status)
            let allowed = allowsFailure(step.continueOnError, step.continueOnErrorExpression, evaluation)
            var name = step.displayName
            if let field = step.name, case .success(let rendered) = render(field, what: "name", evaluation) { name = rendered }
            if let condition = preCondition {
                switch shouldRun(condition, evaluation) {
                case .success(true): break
                case .success(false): continue
                case .failure(let problem):
                    failScript(step, index: nextScriptIndex(&state), name: "Pre " + name, message: problem.message, allowed: allowed, state: &state)
                    continue
                }
            }
            let index = nextScriptIndex(&state)
            let folder: String
            switch await putRemoteAction(remote, executor: executor, started: started, state: &state) {
            case .success(let path): folder = path
            case .failure(let problem):
                failScript(step, index: index, name: "Pre " + name, message: problem.message, allowed: allowed, state: &state)
                continue
            }
            let inputs: [String: ExpressionValue]
            switch actionInputs(step, of: remote.action, uses: uses.value, evaluation) {
            case .success(let values): inputs = values
            case .failure(let problem):
                failScript(step, index: index, name: "Pre " + name, message: problem.message, allowed: allowed, state: &state)
                continue
            }
            let script: Step
            let scriptEnv: [String: String]
            if let node = remote.action.node, let pre = node.pre {
                script = nodeStep(step, index: index, script: pre.value, folder: folder, name: "Pre " + name, using: remote.action.using.value,
                                  uses: uses.value, started: started, keepsID: false)
                scriptEnv = nodeScriptEnvironment(stepEnv, inputs: inputs, folder: folder, remote: remote, saved: [:])
            } else if let docker = remote.action.docker, let entrypoint = docker.preEntrypoint {
                if let refusal = dockerReady(uses.value, started: started) {
                    failScript(step, index: index, name: "Pre " + name, message: refusal, allowed: allowed, state: &state)
                    continue
                }
                switch dockerStep(step, docker: docker, entrypoint: entrypoint.value, index: index, name: "Pre " + name, folder: folder,
                                  remote: remote, uses: uses.value, inputs: inputs, stepEnv: stepEnv, saved: [:], contexts: contexts,
                                  status: status, started: started, keepsID: false) {
                case .success(let made): (script, scriptEnv) = made
                case .failure(let problem):
                    failScript(step, index: index, name: "Pre " + name, message: problem.message, allowed: allowed, state: &state)
                    continue
                }
            } else {
                continue
            }
            state.savedState = [:]
            await runStep(script, executor: executor, started: started, contexts: contexts, env: scriptEnv,
                          allowed: allowed, jobEnv: stepEnv, assigned: [], capturesState: true, state: &state)
            state.preStates[step.index] = state.savedState
            state.savedState = [:]
        }
    }

    /// The `post` scripts, last registered first, after the job's steps: each when its `post-if`
    /// holds (default `always()`); after a cancellation or timeout they run as cleanup steps do.
    func runPostScripts(executor: any Executor, started: JobStarted, base: [String: ExpressionValue], state: inout State) async {
        while let post = state.posts.popLast() {
            noteCancellation(&state)
            var contexts = base
            contexts["steps"] = .object(state.steps)
            contexts["job"] = Self.jobContext(contexts["job"], status: state.cancelled ? "cancelled" : state.succeeded ? "success" : "failure")
            contexts["env"] = .sortedObject(post.environment.mapValues(ExpressionValue.string))
            if let condition = post.condition {
                let evaluation = context(contexts, ExpressionStatus(succeeded: state.succeeded, cancelled: state.cancelled))
                switch shouldRun(condition, evaluation) {
                case .success(true): break
                case .success(false): continue
                case .failure(let problem):
                    failScript(post.step, index: nextScriptIndex(&state), name: post.name, message: problem.message, allowed: post.allowed,
                               state: &state)
                    continue
                }
            }
            var step = post.step
            step.index = nextScriptIndex(&state)
            let allowed = post.allowed
            // GITHUB_STATE is there as for any script of the action (what a post script saves goes nowhere):
            // without it, the toolkit's saveState would print the value as a `::save-state::` command.
            if state.cancelled {
                let runner = self
                let environment = post.environment
                await runAsCleanup(&state) { [step, contexts] inner in
                    await runner.runStep(step, executor: executor, started: started, contexts: contexts, env: environment, allowed: allowed,
                                         jobEnv: environment, assigned: [], capturesState: true, state: &inner)
                }
            } else {
                await runStep(step, executor: executor, started: started, contexts: contexts, env: post.environment, allowed: allowed,
                              jobEnv: post.environment, assigned: [], capturesState: true, state: &state)
            }
            state.savedState = [:]
        }
    }

    /// A pre or post script that could not start: reported under its own index and name.
    func failScript(_ step: Step, index: Int, name: String, message: String, allowed: Bool, state: inout State) {
        var script = step
        script.index = index
        script.id = nil
        script.name = .literal(name, at: step.location)
        failStep(script, message: message, allowed: allowed, state: &state)
    }
}
