import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Docker actions (`runs.using: docker`) and `uses: docker://IMAGE` steps, as GitHub's runner runs
/// them: the image (pulled when missing, or built from the action's Dockerfile with the action's
/// folder as context) runs once per script, with the workspace at `/github/workspace` (its working
/// folder), a home at `/github/home`, the event at `/github/workflow/event.json`, each of
/// GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY and GITHUB_STATE at
/// `/github/file_commands/NAME`, and the step's variables (its `env`, the action's `runs.env`,
/// `INPUT_<NAME>` for each input, GitHub's `GITHUB_*`/`RUNNER_*`) given by name: `-e NAME`, so no
/// value is on a command line. The host's network is the container's (the job's network, where
/// a local job runs).
///
/// Each runs as a `sh` step of its own in the job's executor, with its engine: `podman`, else
/// `docker`, on the step's PATH. A container and a built image carry the label
/// `io.nixactions.run=RUN_ID`; the step removes them when it ends, also when it is cancelled or
/// times out (SIGTERM), and a cleanup script in the run's folder removes what a killed step or a
/// killed host left (the run's end, or its supervisor). Pulled images stay, as a cache.
///
/// Only where the job's files are folders of this machine (`JobStarted.hostPaths`: the local
/// executor; in an oci job the image would need an engine of its own): the run's cleanup script
/// runs here, and could not reach an ssh host's engine.
extension JobRunner {
    /// What one container of a docker action runs.
    struct DockerInvocation {
        /// A pulled image (`IMAGE`), or a Dockerfile and the build's context (paths of the job's view).
        var pulled: String?
        var dockerfile: String?
        var context: String?
        var entrypoint: String?
        var args: [String]
        /// The variables passed by name (their values are in the step's environment).
        var names: [String]
        /// `uses:` as written, for messages.
        var uses: String
    }

    /// Numbers the containers of this process (their names: `nixactions-RUN-dN`).
    static let containerSerial = Atomic<Int>(0)

    /// The label every container and built image of a run's docker actions carries (the oci
    /// executor's containers carry it too; `.ci/leftovers` looks for it).
    static let runLabel = "io.nixactions.run"

    /// Variables the script itself points into the container (or that are the host's alone).
    static let dockerOwnVariables = Set(["PATH", "HOME", "GITHUB_WORKSPACE", "GITHUB_EVENT_PATH", "RUNNER_TEMP", "GITHUB_ACTION_PATH",
                                         "GITHUB_STATE"] + captureFiles)

    /// The `sh` script that runs `invocation` in a container named `container`, or says why it
    /// cannot (exit 127, as a shell does for a missing command).
    static func dockerScript(_ invocation: DockerInvocation, container: String, runID: String) -> String {
        let quote = ShellWords.quote
        let label = quote("\(runLabel)=\(runID)")
        let missing = "nixactions: the action '\(invocation.uses)' is a docker action: it needs podman or docker on the PATH of the job's executor"
        // `sh -e` runs it (GitHub's `sh` shell): off, so the status is the container's and the trap runs whole.
        var script = """
            set +e
            engine=$(command -v podman || command -v docker) || { printf '%s\\n' \(quote(missing)) >&2; exit 127; }
            name=\(quote(container))
            iid="$RUNNER_TEMP/.nixactions-image-$$"
            built=
            ended=
            cleanup() {
              if [ -z "$ended" ]; then "$engine" kill "$name" >/dev/null 2>&1; "$engine" rm -f "$name" >/dev/null 2>&1; fi
              if [ -n "$built" ]; then "$engine" rmi -f "$built" >/dev/null 2>&1; fi
              rm -f "$iid"
            }
            trap cleanup EXIT
            trap 'exit 143' TERM
            trap 'exit 130' INT
            trap 'exit 129' HUP

            """
        if let pulled = invocation.pulled {
            script += "image=\(quote(pulled))\n"
        } else if let dockerfile = invocation.dockerfile, let context = invocation.context {
            script += """
                "$engine" build --label \(label) --iidfile "$iid" -f \(quote(dockerfile)) \(quote(context)) || exit $?
                built=$(cat "$iid") && [ -n "$built" ] || exit 1
                image=$built

                """
        }
        script += """
            mkdir -p "$RUNNER_TEMP/_github_home"
            set -- run --rm --name "$name" --label \(label) --network host --workdir /github/workspace \\
              -v "$GITHUB_WORKSPACE:/github/workspace" -e GITHUB_WORKSPACE=/github/workspace \\
              -v "$RUNNER_TEMP/_github_home:/github/home" -e HOME=/github/home
            if [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ]; then
              set -- "$@" -v "$GITHUB_EVENT_PATH:/github/workflow/event.json:ro" -e GITHUB_EVENT_PATH=/github/workflow/event.json
            fi

            """
        for file in captureFiles + ["GITHUB_STATE"] {
            // Made if the executor has not (a bind mount needs the file).
            script += "if [ -n \"${\(file):-}\" ]; then : >> \"$\(file)\"; set -- \"$@\" -v \"$\(file):/github/file_commands/\(file)\" -e \(file)=/github/file_commands/\(file); fi\n"
        }
        // Names only (`-e NAME`): the engine takes each value from its own environment.
        for chunk in stride(from: 0, to: invocation.names.count, by: 16) {
            let names = invocation.names[chunk..<min(chunk + 16, invocation.names.count)]
            script += "set -- \"$@\"" + names.map { " -e " + quote($0) }.joined() + "\n"
        }
        if let entrypoint = invocation.entrypoint { script += "set -- \"$@\" --entrypoint \(quote(entrypoint))\n" }
        script += "set -- \"$@\" \"$image\"" + invocation.args.map { " " + quote($0) }.joined() + "\n"
        // In the background and waited for, so a SIGTERM runs the trap at once (not after the container).
        script += "\"$engine\" \"$@\" &\nwait $!\nstatus=$?\nended=1\nexit $status\n"
        return script
    }

    /// The names a container gets: the step's variables and GitHub's, less those the script sets.
    func dockerNames(_ environment: [String: String], started: JobStarted) -> [String] {
        var runner: [String: String] = [:]
        defineRunnerVariables(&runner, step: nil, started: started)
        let names = Set(environment.keys).union(runner.keys).union(["GITHUB_ACTION"])
        return names.filter { !$0.isEmpty && !$0.contains("=") && !Self.dockerOwnVariables.contains($0) }.sorted()
    }

    /// Docker actions run only where the run's cleanup can reach their engine; nil when this job's can.
    func dockerRefusal(_ uses: String, started: JobStarted) -> String? {
        guard started.hostPaths != true else { return nil }
        return "the docker action '\(uses)' cannot run on this job's executor: docker actions run where the job's files are on this "
            + "machine (the local executor), so that what a killed run leaves is removed; run the job on the local executor"
    }

    /// The run's cleanup script for docker actions (`RUN/cleanup/docker-actions.sh`), written once:
    /// it removes the containers and built images a killed step or host left.
    func writeDockerCleanup() -> RunProblem? {
        let folder = options.runDirectory + "/cleanup"
        let path = folder + "/docker-actions.sh"
        if access(path, F_OK) == 0 { return nil }
        if mkdir(folder, 0o700) != 0 && errno != EEXIST {
            return RunProblem("cannot create \(folder): \(String(cString: strerror(errno)))")
        }
        let label = ShellWords.quote("label=\(Self.runLabel)=\(options.runID)")
        let script = """
            # Written by nixactions: remove the containers and built images of run \(options.runID)'s docker actions.
            for engine in podman docker; do
              command -v "$engine" >/dev/null 2>&1 || continue
              ids=$("$engine" ps -aq --filter \(label) 2>/dev/null)
              [ -z "$ids" ] || { "$engine" kill $ids >/dev/null 2>&1; "$engine" rm -f $ids >/dev/null 2>&1; }
              ids=$("$engine" images -q --filter \(label) 2>/dev/null)
              [ -z "$ids" ] || "$engine" rmi -f $ids >/dev/null 2>&1
            done
            true

            """
        if let error = FastFiles.write(script, to: path) {
            return RunProblem("cannot write the docker actions' cleanup script: \(String(cString: strerror(error)))")
        }
        return nil
    }

    /// A `sh` step that runs one container for `step` (see `scriptStep`), and its environment:
    /// `runs.args` and `runs.env` evaluated with the action's inputs, `INPUT_<NAME>` for each input,
    /// the state its earlier scripts saved.
    func dockerStep(_ step: Step, docker: DockerRuns, entrypoint: String?, index: Int, name: String, folder: String, remote: RemoteAction?,
                    uses: String, inputs: [String: ExpressionValue], stepEnv: [String: String], saved: [String: String],
                    contexts: [String: ExpressionValue], status: ExpressionStatus, started: JobStarted, keepsID: Bool)
        -> Result<(step: Step, environment: [String: String]), RunProblem>
    {
        var environment = nodeEnvironment(stepEnv, inputs: inputs, folder: folder, remote: remote, saved: saved)
        // `runs.args` and `runs.env` see the action's inputs (and github, matrix, …; not secrets).
        var base = contexts
        for hidden in ["secrets", "steps"] { base[hidden] = nil }
        base["inputs"] = .object(inputs)
        let evaluation = context(base, status)
        var args: [String] = []
        for (number, field) in docker.args.enumerated() {
            switch render(field, what: "runs.args[\(number)]", evaluation) {
            case .success(let value): args.append(value)
            case .failure(let problem): return .failure(problem)
            }
        }
        for entry in docker.env where !entry.name.isEmpty {
            switch render(entry.value, what: "runs.env.\(entry.name)", evaluation) {
            case .success(let value): environment[entry.name] = value
            case .failure(let problem): return .failure(problem)
            }
        }
        var invocation = DockerInvocation(args: args, names: dockerNames(environment, started: started), uses: uses)
        invocation.entrypoint = entrypoint
        if let pulled = docker.pulled {
            invocation.pulled = pulled
        } else {
            invocation.dockerfile = folder + "/" + docker.image.value
            invocation.context = folder
        }
        let container = "nixactions-\(options.runID)-d\(Self.containerSerial.add(1, ordering: .relaxed).newValue)"
        let script = Self.dockerScript(invocation, container: container, runID: options.runID)
        return .success((scriptStep(step, index: index, script: script, name: name, started: started, keepsID: keepsID), environment))
    }

    /// `main` of a docker action: the step itself (its start is reported already); its
    /// `post-entrypoint`, if any, is registered.
    func runDockerAction(_ step: Step, docker: DockerRuns, uses: String, name: String, folder: String, remote: RemoteAction?,
                         inputs: [String: ExpressionValue], stepEnv: [String: String], executor: any Executor, started: JobStarted,
                         contexts: [String: ExpressionValue], allowed: Bool, state: inout State) async {
        if let refusal = dockerRefusal(uses, started: started) { return failStep(step, message: refusal, allowed: allowed, state: &state) }
        if let problem = writeDockerCleanup() { return failStep(step, message: problem.message, allowed: allowed, state: &state) }
        let fromPre = state.frame == nil ? state.preStates[step.index] ?? [:] : [:]
        let status = ExpressionStatus(succeeded: state.succeeded, cancelled: state.cancelled)
        let main: (step: Step, environment: [String: String])
        switch dockerStep(step, docker: docker, entrypoint: docker.entrypoint?.value, index: step.index, name: name, folder: folder, remote: remote,
                          uses: uses, inputs: inputs, stepEnv: stepEnv, saved: fromPre, contexts: contexts, status: status, started: started,
                          keepsID: true) {
        case .success(let made): main = made
        case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
        }
        state.savedState = [:]
        await runStep(main.step, executor: executor, started: started, contexts: contexts, env: main.environment, allowed: allowed,
                      jobEnv: stepEnv, assigned: [], announced: true, capturesState: true, state: &state)
        let saved = fromPre.merging(state.savedState) { _, new in new }
        state.savedState = [:]
        guard let entrypoint = docker.postEntrypoint else { return }
        // Registered once main has run, whatever its outcome (GitHub's runner), with main's time limit.
        switch dockerStep(step, docker: docker, entrypoint: entrypoint.value, index: step.index, name: "Post " + name, folder: folder,
                          remote: remote, uses: uses, inputs: inputs, stepEnv: stepEnv, saved: saved, contexts: contexts, status: status,
                          started: started, keepsID: false) {
        case .success(var post):
            let evaluation = context(contexts, status)
            if case .success(let limit) = stepLimit(step, name: name, defaults: stepDefaults(state), evaluation) {
                post.step.timeout = limit.map { Located($0, at: step.location) }
            }
            post.step.timeoutExpression = nil
            state.posts.append(PostScript(step: post.step, name: "Post " + name, environment: post.environment,
                                          condition: docker.postCondition, allowed: allowed))
        case .failure(let problem):
            failScript(step, index: nextScriptIndex(&state), name: "Post " + name, message: problem.message, allowed: allowed, state: &state)
        }
    }

    /// `uses: docker://IMAGE`: the image runs with `with.entrypoint` as its entry point, `with.args`
    /// split as a shell splits words (quotes kept together, no expansions) as its arguments, and
    /// every other `with:` key as `INPUT_<NAME>`.
    func runDockerImage(_ step: Step, uses: String, name: String, executor: any Executor, started: JobStarted,
                        contexts: [String: ExpressionValue], env: [String: String], allowed: Bool, assigned: Set<String>,
                        state: inout State) async {
        if let refusal = dockerRefusal(uses, started: started) { return failStep(step, message: refusal, allowed: allowed, state: &state) }
        if let problem = writeDockerCleanup() { return failStep(step, message: problem.message, allowed: allowed, state: &state) }
        let evaluation = context(contexts, ExpressionStatus(succeeded: state.succeeded, cancelled: state.cancelled))
        var environment = env
        var entrypoint: String?
        var args: [String] = []
        for (key, field) in step.with {
            let value: String
            switch render(field, what: "with.\(key)", evaluation) {
            case .success(let rendered): value = rendered
            case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
            }
            switch key.lowercased() {
            case "entrypoint": entrypoint = value.isEmpty ? nil : value
            case "args":
                guard let words = ShellWords.split(value) else {
                    return failStep(step, message: "with.args of '\(uses)' has a quote that is not closed: \(value)", allowed: allowed, state: &state)
                }
                args = words
            default: environment[Self.inputVariable(key)] = value
            }
        }
        var invocation = DockerInvocation(args: args, names: dockerNames(environment, started: started), uses: uses)
        invocation.pulled = String(uses.dropFirst("docker://".count))
        invocation.entrypoint = entrypoint
        let container = "nixactions-\(options.runID)-d\(Self.containerSerial.add(1, ordering: .relaxed).newValue)"
        let script = Self.dockerScript(invocation, container: container, runID: options.runID)
        let run = scriptStep(step, index: step.index, script: script, name: name, started: started, keepsID: true)
        await runStep(run, executor: executor, started: started, contexts: contexts, env: environment, allowed: allowed, jobEnv: env,
                      assigned: assigned, state: &state)
    }
}
