import Foundation
import NixActionsPluginMessages

/// A composite action whose steps are running: they are parts of the step that uses it, so they
/// report as messages of the job (`> ./path › name`), and their output is that step's output.
struct ActionFrame: Sendable {
    /// `./.github/actions/x`, as the step wrote it.
    let uses: String
    let depth: Int
    /// The using step's `timeout` (the nearest one when actions nest): when its steps must end, and the limit.
    let deadline: (at: ContinuousClock.Instant, limit: Duration)?
    /// The job's status when the action started (its `job.status` inside).
    let jobSucceeded: Bool
    /// The run was cancelled before the action started (it runs as cleanup: its steps are not skipped for it).
    let cancelledBefore: Bool
}

extension JobRunner {
    /// Once the using step's timeout has passed, the action has failed: its later steps run only if
    /// their `if` holds after a failure (said once, at the step where it is noticed).
    func noteActionTimeout(_ step: Step?, state: inout State) {
        guard let frame = state.frame, let deadline = frame.deadline, state.succeeded, ContinuousClock.now >= deadline.at else { return }
        let text = "'\(frame.uses)' timed out after \(DurationParser.format(deadline.limit))"
        reporter.report(.message(job: planned.key, level: .error, text: text))
        state.succeeded = false
        state.failure = state.failure ?? JobFailure(stepIndex: step?.index, stepName: step?.displayName, message: text)
    }

    /// A step started: a step event for the job's own steps, a line for a composite action's.
    func reportStepStarted(_ index: Int, name: String, state: State) {
        if let frame = state.frame {
            reporter.report(.message(job: planned.key, level: .info, text: "> \(frame.uses) › \(name)"))
        } else {
            reporter.report(.stepStarted(job: planned.key, step: index, name: name, id: stepID(index)))
        }
    }

    /// A step ended: a step event for the job's own steps; for a composite action's, a line when it
    /// did not succeed (its output and errors are already the using step's).
    func reportStepFinished(_ index: Int, name: String, outcome: Outcome, exitCode: Int32?, duration: Duration, state: State,
                            allowed: Bool = false, attempts: Int = 1, timeLimit: Duration? = nil, signal: Int32? = nil) {
        if let frame = state.frame {
            guard outcome != .success else { return }
            // In the form of the job's own steps' lines (audit 58 examples L12): `- NAME (skipped)`,
            // `✗ NAME (exit code 1)`, `✗ NAME (cancelled)`, the action's path before the name.
            let shown = "\(frame.uses) › \(name)"
            let text = switch outcome {
            case .skipped: "- \(shown) (skipped)"
            case .failure: "✗ \(shown) (\(exitCode.map { "exit code \($0)" } ?? "failure"))"
            default: "✗ \(shown) (\(outcome.rawValue)\(exitCode.map { ", exit code \($0)" } ?? ""))"
            }
            reporter.report(.message(job: planned.key, level: .info, text: text))
        } else {
            reporter.report(.stepFinished(job: planned.key, step: index, name: name, outcome: outcome, exitCode: exitCode, duration: duration,
                                          id: stepID(index), conclusion: outcome == .failure && allowed ? .success : nil, outputs: stepOutputs(index, state),
                                          attempts: attempts, timeLimit: timeLimit, signal: signal))
        }
    }

    /// What the job's step at `index` set as its outputs (`steps.ID.outputs`), as text.
    func stepOutputs(_ index: Int, _ state: State) -> [String: String] {
        guard let id = stepID(index), case .object(let values)? = state.steps[id]?.property("outputs") else { return [:] }
        return values.mapValues { value in
            if case .string(let text) = value { return text }
            return value.toJSON(pretty: false)
        }.unordered
    }

    /// The `id:` of the job's step at `index` (a pre or post script's index is past the steps).
    func stepID(_ index: Int) -> String? {
        job.steps.indices.contains(index) && job.steps[index].index == index ? job.steps[index].id : nil
    }

    /// `uses: ./PATH`: the action's file is read from the job's workspace now (an earlier step may
    /// have made it, as on GitHub), and a composite action's steps run as parts of this step, with
    /// its inputs, in this job's executor. Its outputs are this step's; what its steps write to
    /// GITHUB_ENV and GITHUB_PATH is the job's.
    ///
    /// A JavaScript action runs its `main` script instead (`runNodeAction`), with `stepEnv` (the
    /// step's whole environment).
    func runLocalAction(_ step: Step, uses: Located<String>, name: String, executor: any Executor, started: JobStarted,
                        contexts: [String: ExpressionValue], env: [String: String], own: [String: String], stepEnv: [String: String],
                        evaluation: RuntimeContext, allowed: Bool, state: inout State) async {
        reportStepStarted(step.index, name: name, state: state)
        let began = ContinuousClock.now
        let depth = (state.frame?.depth ?? 0) + 1
        let at = uses.location.map { "\($0): " } ?? ""
        guard depth <= ActionLoader.maxDepth else {
            return failStep(step, message: "\(at)composite actions nest more than \(ActionLoader.maxDepth) deep at '\(uses.value)' (GitHub's limit)",
                            allowed: allowed, state: &state)
        }
        let action: ActionDefinition
        /// The action's folder as the job sees it.
        let folder: String
        let reference = RemoteActionReference(uses.value)
        let remote = reference.flatMap { workflow.remoteActions[$0.key] }
        if let remote {
            action = remote.action
            switch await putRemoteAction(remote, executor: executor, started: started, state: &state) {
            case .failure(let problem): return failStep(step, message: "\(at)\(problem.message)", allowed: allowed, state: &state)
            case .success(let path): folder = path
            }
        } else if let reference {
            // `run` fetched every remote action of the jobs it runs before the first started, and
            // those of the local actions it read from the project: this one is used by a local
            // action that is not the project's (made by an earlier step, or changed since the commit).
            return failStep(step, message: "\(at)the action '\(reference)' was not fetched: run fetches the remote actions that the "
                                + "project's own files use, before the jobs start, and this one is used by a local action the workspace "
                                + "holds in another form than the project folder", allowed: allowed, state: &state)
        } else if ActionLoader.isSelf(uses.value) {
            // `$/PATH`: the project's own files, whatever the workspace holds (no checkout needed).
            guard let path = ActionLoader.actionPath(uses.value) else {
                return failStep(step, message: "\(at)'uses: \(uses.value)' leaves the repository; $/PATH is a folder of the project",
                                allowed: allowed, state: &state)
            }
            let tree: (folder: String, excludes: [String])
            do {
                tree = try await selfRepositoryTree()
            } catch {
                return failStep(step, message: "\(at)cannot read the project for '\(uses.value)': \(describe(error))", allowed: allowed, state: &state)
            }
            switch await loadLocalAction(path, uses: uses.value, executor: executor, started: started, hostFolder: tree.folder) {
            case .failure(let problem): return failStep(step, message: "\(at)\(problem.message)", allowed: allowed, state: &state)
            case .success(let loaded): action = loaded
            }
            switch await putProjectActions(tree, executor: executor, started: started, state: &state) {
            case .failure(let problem): return failStep(step, message: "\(at)\(problem.message)", allowed: allowed, state: &state)
            case .success(let root): folder = path.isEmpty ? root : root + "/" + path
            }
        } else {
            guard let path = ActionLoader.localPath(uses.value) else {
                return failStep(step, message: "\(at)'uses: \(uses.value)' leaves the repository; a local action is a folder of the workspace",
                                allowed: allowed, state: &state)
            }
            switch await loadLocalAction(path, uses: uses.value, executor: executor, started: started) {
            case .failure(let problem): return failStep(step, message: "\(at)\(problem.message)", allowed: allowed, state: &state)
            case .success(let loaded): action = loaded
            }
            folder = path.isEmpty ? started.workspace : started.workspace + "/" + path
        }
        guard action.runs else {
            return failStep(step, message: "\(at)the action '\(uses.value)' is a '\(action.using.value)' action; composite, JavaScript and docker "
                                + "actions run in this version", allowed: allowed, state: &state)
        }

        // Inputs: `with:` (keys matched without case), then each declared input's default. A key it
        // does not declare was a warning of validate and run already (`LocalActionChecker`).
        if hashing.isRemote {
            await prefetchHashes(action.inputs.compactMap { $0.defaultValue?.template }, conditions: [], for: name, executor: executor)
        }
        let inputs: [String: ExpressionValue]
        switch actionInputs(step, of: action, uses: uses.value, evaluation) {
        case .success(let values): inputs = values
        case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
        }
        if let docker = action.docker {
            return await runDockerAction(step, docker: docker, uses: uses.value, name: name, folder: folder, remote: remote, inputs: inputs,
                                         stepEnv: stepEnv, executor: executor, started: started, contexts: contexts, allowed: allowed,
                                         state: &state)
        }
        if let node = action.node {
            return await runNodeAction(step, node: node, using: action.using.value, uses: uses.value, name: name, folder: folder, remote: remote,
                                       inputs: inputs, stepEnv: stepEnv, executor: executor, started: started, contexts: contexts,
                                       allowed: allowed, state: &state)
        }

        // What its steps see: its inputs, `github.action_path`, no secrets, needs or vars (GitHub's rule).
        var base = contexts
        for hidden in ["secrets", "needs", "vars", "steps", "env"] { base[hidden] = nil }
        base["inputs"] = .sortedObject(inputs)
        if case .object(var github)? = base["github"] {
            github["action_path"] = .string(folder)
            if let remote {
                github["action_repository"] = .string(remote.reference.repositoryName)
                github["action_ref"] = .string(remote.reference.ref)
            }
            base["github"] = .object(github)
        }
        // Its steps' environment: the job's, GITHUB_ENV as it is when each starts, then the `env:`
        // of the steps using it and this action's path (see `State.envOver`).
        var over = state.envOver.merging(own) { _, new in new }
        over["GITHUB_ACTION_PATH"] = folder
        if let remote {
            over["GITHUB_ACTION_REPOSITORY"] = remote.reference.repositoryName
            over["GITHUB_ACTION_REF"] = remote.reference.ref
        }
        let steps = action.steps.map { inner -> Step in
            var inner = inner
            inner.index = step.index  // its output is this step's
            return inner
        }

        // The using step's timeout (its own, else the job's or workflow's `defaults` one) bounds its
        // steps; an action nested in another is bounded by both.
        var deadline = state.frame?.deadline
        let limit: Duration?
        switch stepLimit(step, name: name, defaults: stepDefaults(state), evaluation) {
        case .success(let value): limit = value
        case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
        }
        if let limit, deadline.map({ began + limit < $0.at }) ?? true { deadline = (began + limit, limit) }

        let outer = (steps: state.steps, succeeded: state.succeeded, failure: state.failure, frame: state.frame, cancelled: state.cancelled,
                     envOver: state.envOver)
        state.envOver = over
        state.steps = [:]
        state.succeeded = true
        state.failure = nil
        state.frame = ActionFrame(uses: uses.value, depth: depth, deadline: deadline,
                                  jobSucceeded: outer.succeeded && (outer.frame?.jobSucceeded ?? true), cancelledBefore: outer.cancelled)
        state.envCache = nil
        await runStepList(steps, executor: executor, started: started, base: base, env: env, shared: nil, state: &state)
        noteActionTimeout(nil, state: &state)  // its last step may have passed it and been allowed to fail
        let innerSteps = state.steps, innerFailure = state.failure
        var outcome: Outcome = state.succeeded ? (state.cancelled && !outer.cancelled ? .cancelled : .success) : .failure
        (state.steps, state.succeeded, state.failure, state.frame, state.envOver) = (outer.steps, outer.succeeded, outer.failure, outer.frame, outer.envOver)
        state.envCache = nil

        // Its failing step said why already; only an output that cannot be evaluated is said here.
        // Outputs are evaluated whatever the outcome, as GitHub's runner does (a step that ran may have set them).
        var message = innerFailure.map { "step '\(name)' (\(uses.value)): \($0.message)" }
        var outputs: [String: ExpressionValue] = [:]
        var outputContexts = base
        outputContexts["steps"] = .object(innerSteps)
        outputContexts["env"] = .sortedObject(environmentBelowStep(env, over: over, state: state)
            .merging(options.environment) { _, given in given }.mapValues(ExpressionValue.string))
        let outputEvaluation = context(outputContexts, ExpressionStatus(succeeded: true, cancelled: state.cancelled))
        for output in action.outputs {
            switch render(output.value, what: "outputs.\(output.id).value", outputEvaluation) {
            case .success(let value):
                outputs[output.id] = .string(value)
                state.allOutputs[output.id] = value
            case .failure(let problem):
                outcome = .failure
                message = message ?? problem.message
                reporter.report(.message(job: planned.key, level: .error, text: problem.message))
            }
        }
        // Set before the step's end is reported: its `step_finished` carries these outputs.
        if let id = step.id {
            let conclusion = outcome == .failure && allowed ? "success" : outcome.rawValue
            state.steps[id] = .object(["outputs": .sortedObject(outputs), "outcome": .string(outcome.rawValue), "conclusion": .string(conclusion)])
        }
        reportStepFinished(step.index, name: name, outcome: outcome, exitCode: innerFailure?.exitCode, duration: ContinuousClock.now - began, state: state,
                           allowed: allowed)
        if outcome == .failure && !allowed {
            state.succeeded = false
            state.failure = state.failure
                ?? JobFailure(stepIndex: step.index, stepName: name, exitCode: innerFailure?.exitCode, message: message ?? "step '\(name)' failed")
        } else if outcome == .failure {
            reporter.report(.message(job: planned.key, level: .warning, text: "step '\(name)' failed; allowed by continue-on-error"))
        }
    }

    /// An action's inputs for a step: `with:` (keys matched without case; a key the action does not
    /// declare is passed on too, as GitHub's runner does), then each declared input's default.
    func actionInputs(_ step: Step, of action: ActionDefinition, uses: String, _ evaluation: RuntimeContext)
        -> Result<[String: ExpressionValue], RunProblem>
    {
        var given: [String: String] = [:]
        var inputs: [String: ExpressionValue] = [:]
        for (key, field) in step.with {
            switch render(field, what: "with.\(key)", evaluation) {
            case .failure(let problem): return .failure(problem)
            case .success(let value):
                if let input = action.input(key) {
                    given[input.id] = value
                    if let deprecation = input.deprecationMessage {
                        reporter.report(.message(job: planned.key, level: .warning, text: "input '\(input.id)' of '\(uses)' is deprecated: \(deprecation)"))
                    }
                } else {
                    inputs[key] = .string(value)
                }
            }
        }
        for input in action.inputs {
            if let value = given[input.id] {
                inputs[input.id] = .string(value)
            } else if let field = input.defaultValue {
                switch render(field, what: "inputs.\(input.id).default", evaluation) {
                case .success(let value): inputs[input.id] = .string(value)
                case .failure(let problem): return .failure(problem)
                }
            } else {
                if input.required {
                    reporter.report(.message(job: planned.key, level: .warning, text: "input '\(input.id)' of '\(uses)' is required and was not given; it is empty"))
                }
                inputs[input.id] = .string("")
            }
        }
        return .success(inputs)
    }

    /// A remote action's files in the job, copied there once per job: into
    /// `RUNNER_TEMP/_actions/OWNER/REPO/REF` (GitHub's runner keeps them in `_work/_actions`), the
    /// whole repository, so the action may use any of its files. Gone with the job's temporary folder.
    func putRemoteAction(_ remote: RemoteAction, executor: any Executor, started: JobStarted, state: inout State) async -> Result<String, RunProblem> {
        let reference = remote.reference
        // A ref's parts as folders; anything else a file name cannot hold, and `..`, as `_` (then
        // with the commit, so two refs made alike never share a folder).
        let clean = reference.ref.split(separator: "/").map { part -> String in
            let clean = String(part.map { $0.isLetter || $0.isNumber || "._-+".contains($0) ? $0 : "_" })
            return clean == "." || clean == ".." ? "_" : clean
        }.joined(separator: "/")
        let ref = clean == reference.ref ? clean : clean + "-" + remote.commit.prefix(12)
        let relative = "_actions/" + reference.owner + "/" + reference.repository + "/" + ref
        let root: String, put: Bool
        do {
            (root, put) = try await putActionTree(remote.tree, excludes: [], as: relative, executor: executor, started: started,
                                                  what: "the action '\(reference)'", state: &state)
        } catch {
            return .failure(RunProblem("cannot put the action '\(reference)' into the job: \(describe(error))"))
        }
        if put { reporter.report(.message(job: planned.key, level: .info, text: "the action '\(reference)' is commit \(remote.commit)")) }
        return .success(reference.path.isEmpty ? root : root + "/" + reference.path)
    }

    /// The folder `source` of this machine copied into the job's `RUNNER_TEMP/relative`, once per
    /// job (`put` tells whether this call did it): an action's repository, where the action may
    /// use any of its files. Gone with the job's temporary folder.
    func putActionTree(_ source: String, excludes: [String], as relative: String, executor: any Executor, started: JobStarted,
                       what: String, state: inout State) async throws -> (root: String, put: Bool) {
        let root = started.temporaryDirectory + "/" + relative
        if state.actionsPut.contains(root) { return (root, false) }
        if Self.fileTransfer(started, executor) == nil {
            try Self.makeFreshFolder(relative, in: started.temporaryDirectory)
        }
        try await deliver(source, excludes: excludes, into: root, started: started, executor: executor, what: what)
        state.actionsPut.insert(root)
        return (root, true)
    }

    /// Where `$/PATH` actions come from, "the workflow's repository at the commit that runs": the
    /// project's HEAD (the clone jobs get, shared, without `.git`), as the jobs' workspaces are;
    /// the project folder as it is with --working-tree, or when it is not a git repository or has
    /// no commit (without `.git`, the run's folder and the workspace's excludes). Never what git
    /// ignores or what is not committed, unless the run takes the working tree.
    func selfRepositoryTree() async throws -> (folder: String, excludes: [String]) {
        if let checkout = options.checkout, checkout.isRepository, checkout.source == .commit, !checkout.hasNoCommit {
            return (try await checkout.clone(ProjectCheckout.Request()), [".git"])
        }
        let project = options.projectDirectory
        return (project, [".git"] + projectCopyExcludes(project))
    }

    /// The project's files for `$/PATH` actions (`selfRepositoryTree`), copied into the job once:
    /// into `RUNNER_TEMP/_actions/_self`, as a remote action's repository is.
    func putProjectActions(_ tree: (folder: String, excludes: [String]), executor: any Executor, started: JobStarted,
                           state: inout State) async -> Result<String, RunProblem> {
        do {
            return .success(try await putActionTree(tree.folder, excludes: tree.excludes, as: "_actions/_self", executor: executor,
                                                    started: started, what: "the project's actions ($/)", state: &state).root)
        } catch {
            return .failure(RunProblem("cannot put the project's files for its $/ actions into the job: \(describe(error))"))
        }
    }

    /// What a copy of the project folder `source` leaves out: the job's workspace excludes (but
    /// not `.git`), and the run's own folder and the paths the run skips when they are inside it.
    func projectCopyExcludes(_ source: String) -> [String] {
        var excludes = job.workspace.excludes.filter { $0 != ".git" }
        for skipped in [options.runDirectory] + options.copySkipPaths where skipped.hasPrefix(source + "/") {
            excludes.append(String(skipped.dropFirst(source.count + 1)))
        }
        return excludes
    }

    /// Make `relative` under `base` (a folder of this machine that the job's steps can write): each
    /// folder on the way must be a folder, not a symbolic link a step put there (which would send
    /// the files elsewhere, outside a container's view), and the last one must be new.
    static func makeFreshFolder(_ relative: String, in base: String) throws {
        var path = base
        let parts = relative.split(separator: "/")
        for (index, part) in parts.enumerated() {
            path += "/" + part
            if mkdir(path, 0o755) == 0 { continue }
            let error = errno
            var info = stat()
            guard error == EEXIST, index < parts.count - 1, lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw EngineError(error == EEXIST ? "\(path) exists already (a step made it) or is not a folder"
                                      : "cannot make \(path): \(String(cString: strerror(error)))",
                                  hint: "steps must leave $RUNNER_TEMP/_actions to the runner")
            }
        }
    }

    /// The action in `path` of the job's workspace: read where the workspace is a folder of this
    /// machine (never through a symbolic link that leaves it), else through the executor's files
    /// interface; then compiled, its problems as one message.
    func loadLocalAction(_ path: String, uses: String, executor: any Executor, started: JobStarted,
                         hostFolder: String? = nil) async -> Result<ActionDefinition, RunProblem> {
        let found: (name: String, bytes: [UInt8])?
        var dockerfile: ActionDefinition? = nil
        do {
            if let hostFolder {
                // `$/PATH`: the project as `selfRepositoryTree` gives it, on this machine.
                found = try ActionLoader.readActionFile(in: hostFolder, path: path)
                if found == nil { dockerfile = try ActionLoader.dockerfileAction(in: hostFolder, path: path, label: "", at: nil) }
            } else if started.hostPaths == true && started.writesThroughFiles != true {
                // (A container's workspace is read with `get`: no link its processes swap in is followed.)
                found = try ActionLoader.readActionFile(in: started.workspace, path: path)
                if found == nil { dockerfile = try ActionLoader.dockerfileAction(in: started.workspace, path: path, label: "", at: nil) }
            } else if let files = executor.files {
                (found, dockerfile) = try await fetchActionFile(path, files: files)
            } else {
                return .failure(RunProblem("cannot read the action '\(uses)': the job's executor cannot send files from its workspace"))
            }
        } catch {
            return .failure(RunProblem("cannot read the action '\(uses)': \(describe(error))"))
        }
        if let dockerfile { return .success(dockerfile) }
        guard let found else {
            if hostFolder != nil {
                return .failure(RunProblem("no action.yml, action.yaml or Dockerfile in '\(uses)' of the project's commit\n  hint: commit it "
                                           + "($/ actions come from the project's HEAD, as the jobs' workspaces do, unless --working-tree)"))
            }
            return .failure(RunProblem(
                "no action.yml, action.yaml or Dockerfile in '\(uses)' of the job's workspace\n  hint: commit it (a job's workspace is a clone of the "
                    + "project's HEAD unless --working-tree), or make it in an earlier step (actions/checkout with 'path:')"))
        }
        let file = (path.isEmpty ? "" : path + "/") + found.name
        guard let text = String(validating: found.bytes, as: UTF8.self) else {
            return .failure(RunProblem("the action file '\(file)' is not UTF-8 text"))
        }
        let result = ActionLoader.load(yaml: text, file: file)
        let errors = result.diagnostics.filter { $0.severity == .error }
        guard let action = result.action, errors.isEmpty else {
            let shown = errors.isEmpty ? ["the action file '\(file)' could not be read"] : errors.map(\.description)
            return .failure(RunProblem("the action '\(uses)' is not valid:\n" + shown.joined(separator: "\n")))
        }
        if let (key, value) = ActionLoader.pathLeavingRoot(action, folder: path) {
            return .failure(RunProblem("the action '\(uses)' is not valid: runs.\(key) '\(value.value)' leads out of the "
                                       + (hostFolder != nil ? "project" : "job's workspace")))
        }
        return .success(action)
    }

    /// The action's file out of a workspace on another machine, through a private staging folder;
    /// without one, the docker action its Dockerfile makes (`ActionLoader.dockerfileAction`).
    func fetchActionFile(_ path: String, files: any ExecutorFileTransfer) async throws
        -> (file: (name: String, bytes: [UInt8])?, dockerfile: ActionDefinition?)
    {
        let staging = options.runDirectory + "/action-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let names = (ActionLoader.fileNames + ActionLoader.dockerfileNames).map { path.isEmpty ? $0 : path + "/" + $0 }
        let sink = try TarExtractor(into: staging)
        do {
            _ = try await files.getTree(FilesGet(jobKey: executorKey, roots: [FilesGetRoot(name: "", path: "", include: names)]), into: sink)
        } catch {
            _ = await sink.finish()
            throw error
        }
        if let problem = await sink.finish() { throw EngineError(problem) }
        if let found = try ActionLoader.readActionFile(in: staging, path: path) { return (found, nil) }
        return (nil, try ActionLoader.dockerfileAction(in: staging, path: path, label: "", at: nil))
    }
}
