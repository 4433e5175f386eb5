import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Docker actions (`runs.using: docker`) and `uses: docker://IMAGE` steps, as GitHub's runner runs
/// them: the image (pulled when missing, or built from the action's Dockerfile with the
/// Dockerfile's folder as context) runs once per script, with the workspace at `/github/workspace` (its working
/// folder), a home at `/github/home`, the event at `/github/workflow/event.json`, each of
/// GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY and GITHUB_STATE at
/// `/github/file_commands/NAME`, and the step's variables (its `env`, the action's `runs.env`,
/// `INPUT_<NAME>` for each input, GitHub's `GITHUB_*`/`RUNNER_*`) given by name: `-e NAME`, so no
/// value is on a command line. The host's network is the container's (the job's network, where
/// a local job runs).
///
/// Each runs as a `sh` step of its own in the job's executor, with its engine: `podman`, else
/// `docker`, on the step's PATH. A container carries the label `io.nixactions.run=RUN_ID`, a built
/// image a tag of its own (`localhost/nixactions-RUN_ID-dN`); the step removes them when it ends,
/// also when it is cancelled or times out (SIGTERM), and a cleanup script in the run's folder
/// removes what a killed step or a killed host left (the run's end, or its supervisor). Pulled
/// images stay, as a cache.
///
/// Only where the job's files are folders of this machine (`JobStarted.hostPaths`: the local
/// executor, and the oci one, whose image would need an engine of its own): the run's cleanup
/// script runs here, and could not reach an ssh host's engine.
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
        /// The `NIXACTIONS_CARRIED_ENV_<n>` variables (`carried`): each `NAME=VALUE` line goes to the
        /// engine's `--env-file` through a pipe (never a file or a command line).
        var carried: [String] = []
        /// `uses:` as written, for messages.
        var uses: String
    }

    /// Numbers the containers and built images of this process (`nixactions-RUN-dN`).
    static let containerSerial = Atomic<Int>(0)

    /// The label every container of a run's docker actions carries (the oci executor's containers
    /// carry it too; `.ci/leftovers` looks for it).
    static let runLabel = "io.nixactions.run"

    /// Variables the script itself points into the container (or that are the host's alone).
    static let dockerOwnVariables = Set(["PATH", "HOME", "GITHUB_WORKSPACE", "GITHUB_EVENT_PATH", "RUNNER_TEMP", "GITHUB_ACTION_PATH",
                                         "GITHUB_STATE"] + captureFiles)

    /// The `sh` script that runs `invocation` in a container named `container` (a built image is
    /// tagged `localhost/CONTAINER`), or says why it cannot (exit 127, as a shell does for a
    /// missing command). Its own variables start with `_nxa_`, so that no workflow variable of
    /// the same name is overwritten (each variable passed to the container is taken from the
    /// script's environment).
    static func dockerScript(_ invocation: DockerInvocation, container: String, runID: String) -> String {
        let quote = ShellWords.quote
        let label = quote("\(runLabel)=\(runID)")
        let missing = "nixactions: the action '\(invocation.uses)' is a docker action: it needs podman or docker on the PATH of the job's executor"
        // `sh -e` runs it (GitHub's `sh` shell): off, so the status is the container's and the trap runs whole.
        var script = """
            set +e
            _nxa_engine=$(command -v podman || command -v docker) || { printf '%s\\n' \(quote(missing)) >&2; exit 127; }
            _nxa_name=\(quote(container))
            _nxa_tag=\(quote("localhost/" + container))
            _nxa_built=
            _nxa_builder=
            _nxa_client=
            _nxa_ended=
            # podman stages pulls and builds in a folder of TMPDIR that a cancelled one leaves
            # there (audit 56 F4): the job's own temporary folder, which goes with the job.
            _nxa_tmp=${TMPDIR:-/tmp}
            [ -d "${RUNNER_TEMP:-}" ] && _nxa_tmp=$RUNNER_TEMP
            _nxa_cleanup() {
              # The step's end signals the shell and the rest of its tree, a second SIGTERM may come
              # late (each process of the cgroup is signalled in turn): it must not cut this short.
              trap '' TERM INT HUP
              if [ -z "$_nxa_ended" ]; then
                # Its SIGTERM came with the step's end (the client passes it on); the rest of the
                # step's grace goes to removing it: SIGKILL, then rm, each one call of the engine.
                "$_nxa_engine" kill "$_nxa_name" >/dev/null 2>&1
                "$_nxa_engine" rm -f "$_nxa_name" >/dev/null 2>&1
                # A client stopped before it made the container: once it has ended, nothing it made is left.
                if [ -n "$_nxa_client" ]; then wait "$_nxa_client" 2>/dev/null; "$_nxa_engine" rm -f "$_nxa_name" >/dev/null 2>&1; fi
                # One the engine was still removing (its own --rm, racing ours) is waited for, within
                # the step's grace: the step ends without its container.
                _nxa_wait=0
                while [ "$_nxa_wait" -lt 30 ] && "$_nxa_engine" container inspect "$_nxa_name" >/dev/null 2>&1; do
                  sleep 0.1; "$_nxa_engine" rm -f "$_nxa_name" >/dev/null 2>&1; _nxa_wait=$((_nxa_wait + 1))
                done
              fi
              if [ -n "$_nxa_builder" ]; then
                # Ended while its image was built (audit 58 H1: the build's RUN went on and its
                # working container stayed in the engine's storage for good). Its RUN processes
                # are in the step's process tree (chroot isolation) and end with it; the build's
                # working containers, which no name or label of ours marks, are those of the
                # engine's storage that were not there before it began.
                # Looked for again until a look finds none (at most 6 looks, 0.5 s apart): under
                # load a working container the build was making showed up after the first look
                # (seen once in a full test run).
                kill -KILL "$_nxa_builder" 2>/dev/null; wait "$_nxa_builder" 2>/dev/null
                _nxa_look=0
                while [ "$_nxa_look" -lt 6 ]; do
                  _nxa_found=$("$_nxa_engine" ps -a --external --format '{{.ID}} {{.Names}}' 2>/dev/null | while read -r _nxa_id _nxa_cname; do
                    case " $_nxa_before " in *" $_nxa_id "*) continue ;; esac
                    case $_nxa_cname in *-working-container|*-working-container-[0-9]*) "$_nxa_engine" rm -f "$_nxa_id" >/dev/null 2>&1; echo "$_nxa_id" ;; esac
                  done)
                  _nxa_look=$((_nxa_look + 1))
                  if [ -z "$_nxa_found" ] && [ "$_nxa_look" -gt 1 ]; then break; fi
                  sleep 0.5
                done
              fi
              if [ -n "$_nxa_built" ]; then "$_nxa_engine" rmi "$_nxa_tag" >/dev/null 2>&1; fi
            }
            trap _nxa_cleanup EXIT
            trap 'exit 143' TERM
            trap 'exit 130' INT
            trap 'exit 129' HUP

            """
        if let pulled = invocation.pulled {
            script += "_nxa_image=\(quote(pulled))\n"
        } else if let dockerfile = invocation.dockerfile, let context = invocation.context {
            // Tagged for this step alone: another job's step may have built the same image (one id).
            // No label: a LABEL is one more layer to commit, which costs a build more than its steps.
            // podman builds with chroot isolation: a RUN is then a process of the step's tree,
            // which the step's end reaches (with its own runtime a RUN lives in a cgroup of its
            // own and outlived a cancel). In the background and waited for, so that a SIGTERM
            // runs the trap at once.
            script += """
                _nxa_built=1
                _nxa_before=$("$_nxa_engine" ps -aq --external 2>/dev/null | tr '\\n' ' ')
                _nxa_isolation=
                case ${_nxa_engine##*/} in podman) _nxa_isolation="--isolation=chroot" ;; esac
                TMPDIR="$_nxa_tmp" "$_nxa_engine" build $_nxa_isolation -t "$_nxa_tag" -f \(quote(dockerfile)) \(quote(context)) &
                _nxa_builder=$!
                wait $_nxa_builder
                _nxa_status=$?
                _nxa_builder=
                [ "$_nxa_status" -eq 0 ] || exit "$_nxa_status"
                _nxa_image=$_nxa_tag

                """
        }
        script += """
            mkdir -p "$RUNNER_TEMP/_github_home"
            set -- run --rm --name "$_nxa_name" --label \(label) --network host --workdir /github/workspace \\
              -v "$GITHUB_WORKSPACE:/github/workspace" -e GITHUB_WORKSPACE=/github/workspace \\
              -v "$RUNNER_TEMP/_github_home:/github/home" -e HOME=/github/home
            if [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ]; then
              set -- "$@" -v "$GITHUB_EVENT_PATH:/github/workflow/event.json:ro" -e GITHUB_EVENT_PATH=/github/workflow/event.json
            fi

            """
        // The command files: their folder mounted once when they share one (each mount costs the
        // container's start), else each file. Made if the executor has not (a mount needs the file).
        let files = stepCaptureFiles
        script += "_nxa_dir=\nfor _nxa_file in" + files.map { " \"${\($0):-}\"" }.joined() + "; do\n"
            + "  [ -n \"$_nxa_file\" ] || continue\n  : >> \"$_nxa_file\"\n"
            + "  if [ -z \"$_nxa_dir\" ]; then _nxa_dir=${_nxa_file%/*}; elif [ \"$_nxa_dir\" != \"${_nxa_file%/*}\" ]; then _nxa_dir=/; fi\n"
            + "done\n"
            + "[ \"$_nxa_dir\" = / ] || [ -z \"$_nxa_dir\" ] || set -- \"$@\" -v \"$_nxa_dir:/github/file_commands\"\n"
        for file in files {
            script += "if [ -n \"${\(file):-}\" ]; then if [ \"$_nxa_dir\" = / ]; then set -- \"$@\" -v \"$\(file):/github/file_commands/\(file)\" "
                + "-e \(file)=/github/file_commands/\(file); else set -- \"$@\" -e \"\(file)=/github/file_commands/${\(file)##*/}\"; fi; fi\n"
        }
        // Names only (`-e NAME`): the engine takes each value from its own environment.
        for chunk in stride(from: 0, to: invocation.names.count, by: 16) {
            let names = invocation.names[chunk..<min(chunk + 16, invocation.names.count)]
            script += "set -- \"$@\"" + names.map { " -e " + quote($0) }.joined() + "\n"
        }
        if !invocation.carried.isEmpty { script += "set -- \"$@\" --env-file /dev/stdin\n" }
        if let entrypoint = invocation.entrypoint { script += "set -- \"$@\" --entrypoint \(quote(entrypoint))\n" }
        script += "set -- \"$@\" \"$_nxa_image\"" + invocation.args.map { " " + quote($0) }.joined() + "\n"
        // In the background and waited for, so a SIGTERM runs the trap at once (not after the container).
        // Variables whose names a shell cannot pass on reach the engine as an env file on its
        // standard input (printf is the shell's own: no process, no command line holds them).
        let feed = invocation.carried.isEmpty ? "" : "printf '%s\\n'" + invocation.carried.map { " \"$\($0)\"" }.joined() + " | "
        // The engine's TMPDIR for an image it pulls, unless the step passes its own TMPDIR by name.
        let staging = invocation.names.contains("TMPDIR") ? "" : "TMPDIR=\"$_nxa_tmp\" "
        script += feed + staging + "\"$_nxa_engine\" \"$@\" &\n_nxa_client=$!\nwait $_nxa_client\n_nxa_status=$?\n_nxa_ended=1\nexit $_nxa_status\n"
        return script
    }

    /// Words of a `with.args` string as GitHub's runner hands them to docker: split as a Windows
    /// command line is (.NET's rule): blanks separate words, double quotes group, a backslash is
    /// literal except before a double quote (`\"` is a quote; `2n` backslashes before one are `n`,
    /// and the quote groups), single quotes are plain characters.
    static func dockerArguments(_ text: String) -> [String] {
        var words: [String] = [], current = "", inWord = false, quoted = false
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character == "\\" {
                var count = 0
                while index < characters.count && characters[index] == "\\" { count += 1; index += 1 }
                inWord = true
                if index < characters.count && characters[index] == "\"" {
                    current += String(repeating: "\\", count: count / 2)
                    if count % 2 == 1 { current.append("\""); index += 1 }
                } else {
                    current += String(repeating: "\\", count: count)
                }
                continue
            }
            if character == "\"" {
                inWord = true
                // `""` inside quotes is a literal quote (as .NET reads it).
                if quoted && index + 1 < characters.count && characters[index + 1] == "\"" {
                    current.append("\"")
                    index += 2
                    continue
                }
                quoted.toggle()
            } else if !quoted && (character == " " || character == "\t" || character == "\n" || character == "\r") {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                inWord = true
                current.append(character)
            }
            index += 1
        }
        if inWord { words.append(current) }
        return words
    }

    /// The input `name` (matched without case, as `with:` keys are), when given and not empty.
    static func givenInput(_ name: String, in inputs: [String: ExpressionValue]) -> String? {
        guard case .string(let text)? = inputs.first(where: { $0.key.lowercased() == name })?.value, !text.isEmpty else { return nil }
        return text
    }

    /// The names a container gets: the step's variables and GitHub's, less those the script sets.
    func dockerNames(_ environment: [String: String], started: JobStarted) -> [String] {
        var runner: [String: String] = [:]
        defineRunnerVariables(&runner, step: nil, started: started)
        let names = Set(environment.keys).union(runner.keys).union(["GITHUB_ACTION"])
        return names.filter { !$0.isEmpty && !$0.contains("=") && !Self.dockerOwnVariables.contains($0) && !Self.isCarried($0) }.sorted()
    }

    /// `carried`, for a container: an env file holds one variable per line, so a carried value
    /// with a line break is an error (a second line would be read as another variable), and so is
    /// a line the engines' readers refuse (docker's and podman's read at most 64 KiB a line).
    static func carriedForContainer(_ environment: [String: String]) -> Result<[String: String], RunProblem> {
        for name in environment.keys.sorted() where !ShellWords.isName(name) {
            let value = environment[name]!
            let why: String
            if value.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) {
                why = "holds a line break"
            } else if name.utf8.count + value.utf8.count + 2 > envFileLineLimit {
                why = "is longer than an env file's line may be (\(envFileLineLimit >> 10) KiB)"
            } else {
                continue
            }
            return .failure(RunProblem(
                "the variable '\(name)' \(why): a name that is not a shell name ('-' in an input's name) reaches a "
                    + "container through an env file, one line per variable; pass the value with a name of letters, digits and '_'"))
        }
        return .success(carried(environment))
    }

    /// The longest line docker's and podman's env-file readers take (bufio's default, 64 KiB).
    static let envFileLineLimit = 64 << 10

    /// The carried variables of `environment`, in order.
    static func carriedNames(_ environment: [String: String]) -> [String] {
        environment.keys.filter(isCarried).sorted { $0.count != $1.count ? $0.count < $1.count : $0 < $1 }
    }

    /// Values that name the workspace or the home as the job sees them, as the container sees
    /// them (GitHub's runner translates them too): `${{ github.workspace }}/out` works in both.
    func translatedForContainer(_ environment: [String: String], started: JobStarted) -> [String: String] {
        let roots = [(started.workspace, "/github/workspace"), (started.temporaryDirectory + "/_github_home", "/github/home")]
        return environment.mapValues { value in
            for (root, inside) in roots where value == root || value.hasPrefix(root + "/") {
                return inside + value.dropFirst(root.count)
            }
            return value
        }
    }

    /// Nil when a docker action can run in this job (its files are on this machine, so the run's
    /// cleanup script can reach its engine; written now, once per run), else why not.
    func dockerReady(_ uses: String, started: JobStarted) -> String? {
        guard started.hostPaths == true else {
            return "the docker action '\(uses)' cannot run on this job's executor: docker actions run where the job's files are on this "
                + "machine (the local executor), so that what a killed run leaves is removed; run the job on the local executor"
        }
        return writeDockerCleanup()?.message
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
        let tags = ShellWords.quote("reference=localhost/nixactions-\(options.runID)-*")
        // Built images by their tags (`rmi` of a tag only untags an image that has others). The usual folders after the host's PATH: a step may have found its engine through its own.
        let script = """
            # Written by nixactions: remove the containers and built images of run \(options.runID)'s docker actions.
            PATH="$PATH:/usr/local/bin:/usr/bin:/bin"
            for engine in podman docker; do
              command -v "$engine" >/dev/null 2>&1 || continue
              ids=$("$engine" ps -aq --filter \(label) 2>/dev/null)
              [ -z "$ids" ] || { "$engine" kill $ids >/dev/null 2>&1; "$engine" rm -f $ids >/dev/null 2>&1; }
              tags=$("$engine" images --filter \(tags) --format '{{.Repository}}:{{.Tag}}' 2>/dev/null)
              [ -z "$tags" ] || "$engine" rmi $tags >/dev/null 2>&1
            done
            true

            """
        if let error = FastFiles.write(script, to: path) {
            return RunProblem("cannot write the docker actions' cleanup script: \(String(cString: strerror(error)))")
        }
        return nil
    }

    /// The `sh` step of one container (see `scriptStep`).
    /// An argument (or entry point) holding a secret's value is said before the container runs:
    /// the arguments are the engine's command line and the container's own, which every user of
    /// the machine can read (`ps`), whatever masking does for output. It is the action's way of
    /// taking its input (`runs.args: ["${{ inputs.token }}"]`, as on GitHub), so it is a warning,
    /// not a refusal (audit 58 H1: no word of it, and the docs advised passing a secret as an input).
    func containerStep(_ step: Step, invocation: DockerInvocation, index: Int, name: String, started: JobStarted, keepsID: Bool) -> Step {
        let held = invocation.args.indices.filter { redactor.contains(invocation.args[$0]) }.map { "argument \($0 + 1)" }
            + (invocation.entrypoint.map { redactor.contains($0) } == true ? ["the entry point"] : [])
        if !held.isEmpty {
            reporter.report(.message(job: planned.key, level: .warning, text:
                "step '\(name)': \(held.joined(separator: ", ")) of the container hold\(held.count == 1 ? "s" : "") a secret's value: "
                + "\(invocation.args.isEmpty ? "it is" : "the arguments are") the container engine's command line and the container's own, "
                + "which every user of this machine can read (ps); masking covers output only. An action that reads the value from its "
                + "INPUT_ variable or from env keeps it off (runs.args or with.args passes it on the command line)"))
        }
        let container = "nixactions-\(options.runID)-d\(Self.containerSerial.add(1, ordering: .relaxed).newValue)"
        return scriptStep(step, index: index, script: Self.dockerScript(invocation, container: container, runID: options.runID), name: name,
                          started: started, keepsID: keepsID)
    }

    /// A `sh` step that runs one container for `step`, and its environment: `runs.args` and
    /// `runs.env` evaluated with the action's inputs, `INPUT_<NAME>` for each input, the state its
    /// earlier scripts saved. As GitHub's runner: without `runs.args` the `args` input is split
    /// into the arguments, and without `runs.entrypoint` main takes the `entrypoint` input; a
    /// `runs.env` name the step's environment has already keeps the step's value.
    func dockerStep(_ step: Step, docker: DockerRuns, entrypoint: String?, index: Int, name: String, folder: String, remote: RemoteAction?,
                    uses: String, inputs: [String: ExpressionValue], stepEnv: [String: String], saved: [String: String],
                    contexts: [String: ExpressionValue], status: ExpressionStatus, started: JobStarted, keepsID: Bool)
        -> Result<(step: Step, environment: [String: String]), RunProblem>
    {
        var environment = nodeEnvironment(stepEnv, inputs: inputs, folder: folder, remote: remote, saved: saved)
        // `runs.args` and `runs.env` see the action's inputs (and github, matrix, …; not secrets).
        var base = contexts
        for hidden in ["secrets", "steps"] { base[hidden] = nil }
        base["inputs"] = .sortedObject(inputs)
        let evaluation = context(base, status)
        var args: [String] = []
        if let fields = docker.args {
            for (number, field) in fields.enumerated() {
                switch render(field, what: "runs.args[\(number)]", evaluation) {
                case .success(let value): args.append(value)
                case .failure(let problem): return .failure(problem)
                }
            }
        } else if let given = Self.givenInput("args", in: inputs) {
            args = Self.dockerArguments(given)
        }
        for entry in docker.env where !entry.name.isEmpty && environment[entry.name] == nil {
            switch render(entry.value, what: "runs.env.\(entry.name)", evaluation) {
            case .success(let value): environment[entry.name] = value
            case .failure(let problem): return .failure(problem)
            }
        }
        environment = translatedForContainer(environment, started: started)
        switch Self.carriedForContainer(environment) {
        case .success(let carried): environment = carried
        case .failure(let problem): return .failure(problem)
        }
        var invocation = DockerInvocation(args: args, names: dockerNames(environment, started: started), uses: uses)
        invocation.carried = Self.carriedNames(environment)
        invocation.entrypoint = entrypoint
        if let pulled = docker.pulled {
            invocation.pulled = pulled
        } else {
            // Built in the Dockerfile's own folder (GitHub's runner: the folder that holds it).
            let dockerfile = folder + "/" + docker.image.value
            invocation.dockerfile = dockerfile
            invocation.context = String(dockerfile[..<(dockerfile.lastIndex(of: "/") ?? dockerfile.endIndex)])
        }
        return .success((containerStep(step, invocation: invocation, index: index, name: name, started: started, keepsID: keepsID), environment))
    }

    /// `main` of a docker action: the step itself (its start is reported already); its
    /// `post-entrypoint`, if any, is registered.
    func runDockerAction(_ step: Step, docker: DockerRuns, uses: String, name: String, folder: String, remote: RemoteAction?,
                         inputs: [String: ExpressionValue], stepEnv: [String: String], executor: any Executor, started: JobStarted,
                         contexts: [String: ExpressionValue], allowed: Bool, state: inout State) async {
        if let refusal = dockerReady(uses, started: started) { return failStep(step, message: refusal, allowed: allowed, state: &state) }
        let fromPre = state.frame == nil ? state.preStates[step.index] ?? [:] : [:]
        let entrypoint = docker.entrypoint?.value ?? Self.givenInput("entrypoint", in: inputs)
        let main: (step: Step, environment: [String: String])
        switch dockerStep(step, docker: docker, entrypoint: entrypoint, index: step.index, name: name, folder: folder, remote: remote,
                          uses: uses, inputs: inputs, stepEnv: stepEnv, saved: fromPre, contexts: contexts,
                          status: ExpressionStatus(succeeded: state.succeeded, cancelled: state.cancelled), started: started, keepsID: true) {
        case .success(let made): main = made
        case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
        }
        state.savedState = [:]
        await runStep(main.step, executor: executor, started: started, contexts: contexts, env: main.environment, allowed: allowed,
                      jobEnv: stepEnv, assigned: [], announced: true, capturesState: true, state: &state)
        let saved = fromPre.merging(state.savedState) { _, new in new }
        state.savedState = [:]
        guard let entrypoint = docker.postEntrypoint else { return }
        // Registered once main has run, whatever its outcome (GitHub's runner).
        switch dockerStep(step, docker: docker, entrypoint: entrypoint.value, index: step.index, name: "Post " + name, folder: folder,
                          remote: remote, uses: uses, inputs: inputs, stepEnv: stepEnv, saved: saved, contexts: contexts,
                          status: ExpressionStatus(succeeded: state.succeeded, cancelled: state.cancelled), started: started, keepsID: false) {
        case .success(let post):
            registerPost(step, script: post.step, name: name, environment: post.environment, condition: docker.postCondition, allowed: allowed,
                         contexts: contexts, state: &state)
        case .failure(let problem):
            failScript(step, index: nextScriptIndex(&state), name: "Post " + name, message: problem.message, allowed: allowed, state: &state)
        }
    }

    /// `uses: docker://IMAGE`: the image runs with `with.entrypoint` as its entry point, `with.args`
    /// as its arguments (`dockerArguments`), and every `with:` key as `INPUT_<NAME>` (as GitHub's
    /// runner sets them: `args` and `entrypoint` too).
    func runDockerImage(_ step: Step, uses: String, name: String, executor: any Executor, started: JobStarted,
                        contexts: [String: ExpressionValue], env: [String: String], allowed: Bool, assigned: Set<String>,
                        state: inout State) async {
        if let refusal = dockerReady(uses, started: started) { return failStep(step, message: refusal, allowed: allowed, state: &state) }
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
            case "args": args = Self.dockerArguments(value)
            default: break
            }
            environment[Self.inputVariable(key)] = value
        }
        environment = translatedForContainer(environment, started: started)
        switch Self.carriedForContainer(environment) {
        case .success(let carried): environment = carried
        case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
        }
        var invocation = DockerInvocation(args: args, names: dockerNames(environment, started: started), uses: uses)
        invocation.carried = Self.carriedNames(environment)
        invocation.pulled = DockerRuns.pulledImage(uses)
        invocation.entrypoint = entrypoint
        let run = containerStep(step, invocation: invocation, index: step.index, name: name, started: started, keepsID: true)
        await runStep(run, executor: executor, started: started, contexts: contexts, env: environment, allowed: allowed, jobEnv: env,
                      assigned: assigned, state: &state)
    }
}
