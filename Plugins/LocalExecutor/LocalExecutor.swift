import CNixActionsPlugin
import Foundation
import NixActionsContainerKit
import NixActionsPluginKit
import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

/// The one symbol this library exports.
@_cdecl("nixactions_plugin_entry")
public func nixactionsPluginEntry(
    _ host: UnsafePointer<nxa_host_info>?,
    _ out: UnsafeMutablePointer<UnsafePointer<nxa_plugin>?>?,
    _ error: UnsafeMutablePointer<nxa_error>?
) -> nxa_status {
    PluginExport.entry(
        PluginDeclaration(
            id: "local", name: "Local executor", version: "0.1.0",
            description: "Runs steps as processes on this machine, each job in its own directory",
            executor: LocalExecutor.self),
        host: host, out: out, error: error)
}

/// Runs each step as a child process (a new process group) on this machine.
///
/// Layout under the run directory: `jobs/<jobKey>/workspace` (the job's working directory,
/// `GITHUB_WORKSPACE`) and `jobs/<jobKey>/tmp` (`RUNNER_TEMP`: env files; scripts when there is no tmpfs).
/// Options (`executor.with`): `inherit-env` (default true) passes the host's environment to steps;
/// `grace-seconds` (default 5) is how long a cancelled step has between SIGTERM and SIGKILL.
///
/// GitHub's `services:` of a job (the host passes them as the `services` option) are containers
/// of this machine's podman or docker (`engine`: which one; default the first on PATH), started
/// before the first step as GitHub's runner starts them for a job on the runner itself: their
/// `ports` published on this machine, on 127.0.0.1 unless an address is given, for the steps to
/// reach at `localhost:PORT`. They share one network namespace, the first service's (no network
/// to make and remove), and are removed when the job finishes.
final class LocalExecutor: ExecutorPlugin {
    let configuration: ExecutorConfiguration
    let host: HostServices
    let baseEnvironment: [String: String]
    /// Each job's own git global configuration (`GIT_CONFIG_GLOBAL`): it includes the user's, so
    /// steps see the user's settings, and what a step writes with `git config --global` stays in
    /// the job (audit 66 fidelity H2: a release workflow's `git config --global user.name` changed
    /// the user's ~/.gitconfig; on GitHub each job has a home of its own).
    let gitGlobalText: String
    let grace: Duration
    /// Where each job's processes live; `finishJob` ends whatever is left in it.
    let containments = Mutex<[String: JobContainment]>([:])
    /// Empty job cgroups kept for the next job.
    let cgroupPool = CgroupPool()
    /// Finished jobs' folders, emptied off the jobs' path and taken by the next jobs.
    let recycler: FolderRecycler
    let counter = Atomic<Int>(0)
    /// A private folder of this instance on tmpfs for step scripts, when there is one: creating
    /// and removing a file per step on a journaling file system costs more than the step's own
    /// spawn. Each script is removed after its step ends (on the recycler's thread, in batches), the
    /// folder when the instance goes; else scripts go to the job's temporary folder.
    let scriptFolder: PrivateFolder? = try? PrivateFolder(base: "/dev/shm", prefix: "nixactions-")
    var scriptRoot: String? { scriptFolder?.path }
    /// The job's services, and the engine that runs them (nil without services).
    let services: [ContainerService]
    let containerEngine: ContainerEngine?
    /// The service containers started for each running job, in the order they were started.
    let servicesStarted = Mutex<[String: [String]]>([:])
    /// The fixed ports of this machine each running job's services hold (`PortReservations`).
    let portsHeld = Mutex<[String: Set<String>]>([:])

    /// The options `init` accepts, published for `validate` (options.h).
    static let options: Set<String> = ["inherit-env", "grace-seconds", "services", "engine"]
    static var optionNames: Set<String>? { options }

    /// Published for `validate` and the run's start (options.h `check`): the values `init` would
    /// refuse, short of finding the engine.
    static func checkOptions(_ options: [String: JSONValue]) throws {
        switch options["inherit-env"] {
        case nil, .null?, .bool?: break
        default: throw OperationFailure(message: "local executor: 'inherit-env' must be true or false")
        }
        _ = try PluginOptions.graceSeconds(options["grace-seconds"], who: "local executor")
        _ = try ContainerService.parse(options["services"], who: "local executor")
        try ContainerEngine.checkName(try ContainerOptions.string(options["engine"], key: "engine", who: "local executor"), who: "local executor")
    }

    init(configuration: ExecutorConfiguration, host: HostServices) throws {
        self.configuration = configuration
        self.host = host
        recycler = FolderRecycler(root: configuration.runDirectory + "/jobs")
        // An option it does not know is an error, as for oci and ssh (audit 61 input H4: a
        // misspelt `inherit-envv` was the default without a word).
        let known = Self.options
        if let unknown = configuration.options.keys.sorted().first(where: { !known.contains($0) }) {
            throw OperationFailure(message: "local executor: unknown option '\(unknown)'", hint: "options: \(known.sorted().joined(separator: ", "))")
        }
        var inherit = true
        switch configuration.options["inherit-env"] {
        case nil, .null?: break
        case .bool(let value)?: inherit = value
        default: throw OperationFailure(message: "local executor: 'inherit-env' must be true or false")
        }
        baseEnvironment = inherit ? ProcessInfo.processInfo.environment : ["PATH": "/usr/local/bin:/usr/bin:/bin"]
        gitGlobalText = Self.gitGlobalInclude(ProcessInfo.processInfo.environment)
        grace = try PluginOptions.graceSeconds(configuration.options["grace-seconds"], who: "local executor")
        services = try ContainerService.parse(configuration.options["services"], who: "local executor")
        if services.isEmpty {
            containerEngine = nil
        } else {
            let engine = try ContainerEngine.find(try ContainerOptions.string(configuration.options["engine"], key: "engine", who: "local executor"),
                                                  who: "local executor")
            containerEngine = engine
            // What removes the services if the host dies before it could.
            try engine.writeCleanupScript(runDirectory: configuration.runDirectory, runID: configuration.runID,
                                          name: "local-services-\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)-\(UInt32.random(in: 0...UInt32.max))",
                                          who: "local executor")
        }
    }

    /// After its process ends a step only reads its capture files and builds its result: it
    /// completes on the waiter thread that saw the process end (one thread hand-off fewer).
    var completesStepsInline: Bool { true }

    var jobsRoot: String { configuration.runDirectory + "/jobs" }

    func jobDirectory(_ jobKey: String) -> String { jobsRoot + "/" + jobKey }

    deinit {
        recycler.stop()
        scriptFolder?.remove()
    }

    static let gitGlobalName = "gitconfig"

    /// A git configuration that includes the files git reads as the user's global one:
    /// `GIT_CONFIG_GLOBAL` when set, else `$XDG_CONFIG_HOME/git/config` (or `~/.config/git/config`)
    /// and `~/.gitconfig`, in git's order (one that does not exist is skipped by git).
    static func gitGlobalInclude(_ environment: [String: String]) -> String {
        var files: [String] = []
        if let given = environment["GIT_CONFIG_GLOBAL"], !given.isEmpty {
            files = [given]
        } else {
            let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? getpwuid(geteuid()).flatMap { $0.pointee.pw_dir.map { String(cString: $0) } } ?? "/"
            let xdg = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
            files = [xdg + "/git/config", home + "/.gitconfig"]
        }
        func quoted(_ path: String) -> String {
            "\"" + path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return "# The job's own git global configuration (nixactions): it includes yours; `git config --global` writes here.\n"
            + files.filter { !$0.contains("\n") }.map { "[include]\n\tpath = \(quoted($0))\n" }.joined()
    }

    func containment(for jobKey: String) -> JobContainment {
        containments.withLock { all in
            if let known = all[jobKey] { return known }
            let made = JobContainment(
                runCgroup: configuration.cgroup, runTrackingID: configuration.trackingID ?? configuration.runID, key: jobKey,
                pool: cgroupPool)
            all[jobKey] = made
            return made
        }
    }

    func startJob(_ job: JobSpec, context: OperationContext) async throws -> JobStarted {
        let directory = jobDirectory(job.jobKey)
        let workspace = directory + "/workspace"
        let temporary = directory + "/tmp"
        do {
            // Plain mkdir calls: this runs once per job, and a job of one short step spends more
            // on its folders than on anything else when they go through FileManager.
            // A finished job's folder, else a new one (which also makes `jobs`), else the folders in
            // place: a folder already at the job's path is used as it is.
            if !recycler.take(as: directory), !recycler.makeFresh(as: directory) {
                for path in [directory, workspace, temporary] where mkdir(path, 0o777) != 0 && errno != EEXIST {
                    throw ProjectCopier.CopyFailure(path: path, errno: errno)
                }
            }
            if job.copyProject {
                try ProjectCopier(excludes: job.copySource == nil ? job.copyExcludes : [], skipping: [configuration.runDirectory] + (job.copySkipPaths ?? [])).copy(
                    from: URL(fileURLWithPath: job.copySource ?? configuration.projectDirectory), to: URL(fileURLWithPath: workspace),
                    cancelled: { context.isCancelled })
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw OperationFailure(
                message: "cannot prepare the workspace of job '\(job.displayName)' in \(directory): \(error.localizedDescription)",
                hint: (error as? ProjectCopier.CopyFailure)?.hint ?? "check that the run directory is writable and the disk has space")
        }
        // Made anew for each job (a recycled folder's old file, or a link in its place, goes first).
        unlink(temporary + "/" + Self.gitGlobalName)
        _ = FastFiles.write(gitGlobalText, to: temporary + "/" + Self.gitGlobalName)
        var started = JobStarted(workspace: workspace, temporaryDirectory: temporary, os: "Linux", arch: JobStarted.hostArch)
        started.commandFilesFolder = scriptRoot
        if let engine = containerEngine { started.services = try await startServices(job, directory: directory, engine: engine, context: context) }
        return started
    }

    /// Start the job's services, the first owning the network namespace they share (with every
    /// service's published ports and a host name per service), and say which port of this
    /// machine each of their ports is published on.
    func startServices(_ job: JobSpec, directory: String, engine: ContainerEngine, context: OperationContext) async throws -> [String: JobService] {
        let ports = PortReservations.fixedPorts(services)
        if !ports.isEmpty {
            if !PortReservations.shared.tryReserve(ports) {
                context.log(.info, "job '\(job.displayName)' waits for port \(ports.sorted().joined(separator: ", ")) of this machine, "
                             + "which another job's services publish")
                try await PortReservations.shared.reserve(ports)
            }
            portsHeld.withLock { $0[job.jobKey] = ports }
        }
        let prefix = "nixactions-\(configuration.runID)-\(job.jobKey)"
        let owner = ServiceStarter.containerName(prefix: prefix, service: services[0].name)
        let ownerOptions = services.flatMap { ["--add-host", "\($0.name):127.0.0.1"] }
            + services.flatMap { $0.ports.flatMap { ["-p", ServiceStarter.localPublished($0)] } }
        // Env files and registry logins in the job's folder, removed as soon as each is used.
        let starter = ServiceStarter(engine: engine, runID: configuration.runID, who: "local executor")
        let ids = try await starter.start(
            services, jobKey: job.jobKey, jobName: job.displayName, prefix: prefix, scratch: directory,
            network: { $0 == 0 ? ownerOptions : ["--network", "container:" + owner] },
            started: { name in servicesStarted.withLock { $0[job.jobKey, default: []].append(name) } })
        return try await starter.describe(services, ids: ids, owner: owner)
    }

    func runStep(_ step: StepSpec, context: OperationContext) async throws -> StepResult {
        let directory = jobDirectory(step.jobKey)
        let workspace = directory + "/workspace"
        let temporary = directory + "/tmp"
        let serial = counter.add(1, ordering: .relaxed).newValue
        let stem = temporary + "/step-\(step.index)-\(serial)"
        let script = (scriptRoot ?? temporary) + "/step-\(step.index)-\(serial)" + step.scriptExtension
        if let error = FastFiles.write(step.script, to: script) {
            throw OperationFailure(
                message: "cannot write the script of step '\(step.displayName)' to \(script): \(String(cString: strerror(error)))")
        }
        defer { recycler.discard(script) }

        // The step's environment over this process's: start from the step's (the larger, and a
        // copy of it costs no hashing) and add what it lacks.
        var environment = step.environment
        for (name, value) in baseEnvironment where environment[name] == nil { environment[name] = value }
        // The capture files exist, empty, when the step starts, as GitHub's runner makes them:
        // `@actions/core` refuses to append to a missing one ("Missing file at path", audit 50),
        // and a script's `[ -f "$GITHUB_OUTPUT" ]` guard must hold.
        var captures: [String: String] = [:]
        for name in step.captureFiles {
            let path = step.capturePaths?[name] ?? stem + "-" + name.lowercased()
            captures[name] = path
            environment[name] = path
        }
        for (alias, name) in step.captureAliases ?? [:] { environment[alias] = captures[name] }
        // The job's git global configuration, unless the workflow names one itself.
        if step.environment["GIT_CONFIG_GLOBAL"] == nil { environment["GIT_CONFIG_GLOBAL"] = temporary + "/" + Self.gitGlobalName }
        if !step.pathPrepend.isEmpty {
            environment["PATH"] = (step.pathPrepend + [environment["PATH"] ?? ""]).joined(separator: ":")
        }
        // `{0}` is the script's path, `{{`/`}}` one brace (GitHub's format; usually `{0}` is a whole argument).
        var arguments = ShellWords.fillScript(step.shell, script: script)
        if let command = arguments.first {
            let searchPath = environment["PATH"] ?? "/usr/bin:/bin"
            arguments[0] = FastFiles.resolve(command, searchPath: searchPath)
            // Where there is no bash, a step without a shell (`bash -e {0}`) runs with `sh -e`, as
            // GitHub's runner does; one that asks for bash fails to start it, as on GitHub.
            if command == "bash", arguments[0] == "bash", step.shell == ["bash", "-e", "{0}"] {
                arguments = [FastFiles.resolve("sh", searchPath: searchPath), "-e", script]
            }
        }
        let workingDirectory: String
        if let relative = step.workingDirectory, !relative.isEmpty {
            workingDirectory = relative.hasPrefix("/") ? relative : workspace + "/" + relative
            guard FileManager.default.fileExists(atPath: workingDirectory) else {
                throw OperationFailure(
                    message: "working directory '\(relative)' of step '\(step.displayName)' does not exist",
                    hint: "create it in an earlier step, or fix the path (it is relative to the job's workspace)")
            }
        } else {
            workingDirectory = workspace
        }

        for path in captures.values {
            if let error = FastFiles.createEmpty(path) {
                for made in captures.values { unlink(made) }
                throw OperationFailure(message: "cannot create \(path) for step '\(step.displayName)': \(String(cString: strerror(error)))",
                                       hint: error == EMFILE || error == ENFILE ? DescriptorShortage.hint : nil)
            }
        }
        let jobContainment = containment(for: step.jobKey)
        let containment = jobContainment.makeStep()
        defer { jobContainment.release(containment) }
        let termination: Termination
        let outputEnded: Bool
        do {
            (termination, outputEnded) = try await runProcessReportingEnd(
                arguments: arguments, environment: environment, directory: workingDirectory, grace: grace,
                containment: containment,
                onSecret: { context.host.registerSecret(bytes: $0) },
                onOutput: { stream, bytes in
                    context.write(bytes, to: stream == 2 ? .stderr : .stdout)
                })
        } catch {
            let shell = step.shell.first ?? ""
            throw OperationFailure(
                message: "cannot start '\(shell)': \(String(cString: strerror(error.errno)))",
                hint: Self.spawnHint(error.errno, shell: shell, environment: environment))
        }
        var files: [String: String] = [:]
        for (name, path) in captures { files[name] = FastFiles.take(path) ?? "" }
        // Ended by the host's cancel (a time limit, the run's): what the step wrote still goes
        // back, marked, as GitHub's runner reads the files whatever ended the step.
        let cancelled: Bool? = Task.isCancelled ? true : nil
        if cancelled == true && step.filesWhenCancelled != true { throw CancellationError() }
        var result: StepResult
        switch termination {
        case .exited(let code): result = StepResult(exitCode: code, files: files, cancelled: cancelled)
        case .signaled(let signal): result = StepResult(exitCode: nil, signal: signal, files: files, cancelled: cancelled)
        }
        if !outputEnded { result.outputLeftOpen = true }
        return result
    }

    static func spawnHint(_ error: Int32, shell: String, environment: [String: String]) -> String {
        switch error {
        case E2BIG:
            // The variable most likely at fault, by name and size (never its value).
            let largest = environment.max { $0.key.utf8.count + $0.value.utf8.count < $1.key.utf8.count + $1.value.utf8.count }
            let named = largest.map { " (the largest variable: \($0.key), \($0.key.utf8.count + $0.value.utf8.count + 1) bytes)" } ?? ""
            return "the step's environment or arguments are too large\(named); Linux limits one variable to 128 KiB and all of them with the "
                + "arguments to a quarter of the stack limit; pass big values through files"
        case EMFILE, ENFILE: return DescriptorShortage.hint
        case EAGAIN:
            return "the limit of processes and threads is reached (ulimit -u, or the pids.max of the cgroup this runs in); "
                + "lower --jobs, or raise the limit"
        case ENOENT where access("/dev/null", W_OK) != 0:
            // The step's standard input is /dev/null: a sandbox with an empty /dev has none
            // (audit 57 L4: the hint asked whether bash was installed).
            return "/dev/null is missing or cannot be opened, and each step's standard input is /dev/null; "
                + "give the sandbox a /dev/null (mknod /dev/null c 1 3)"
        case ENOENT, EACCES:
            // A shell named without a slash is looked up on the step's PATH (an unset one means
            // the default path): say so when an empty PATH left it nowhere to be found, as
            // `PATH=` written to GITHUB_ENV does.
            if !shell.contains("/"), let path = environment["PATH"],
               path.split(separator: ":", omittingEmptySubsequences: true).isEmpty {
                return "the step's PATH is empty, so '\(shell)' is looked up nowhere; was PATH cleared (for example "
                    + "`PATH=` written to GITHUB_ENV)? Give PATH a value or name the shell by its full path"
            }
            return "is '\(shell)' installed and on PATH?"
        default: return "the system refused to start the step's process"
        }
    }

    func finishJob(_ job: JobSpec, context: OperationContext) async throws {
        // End what the job's steps left running (background processes, daemons), then remove its files.
        if let containment = containments.withLock({ $0.removeValue(forKey: job.jobKey) }) {
            containment.endAll()
        }
        // Its services, the namespace's owner last.
        if let names = servicesStarted.withLock({ $0.removeValue(forKey: job.jobKey) }), let engine = containerEngine,
            let error = await engine.remove(names.reversed())
        {
            context.log(.warning, "could not remove the services of job '\(job.jobKey)': \(error)")
        }
        if let ports = portsHeld.withLock({ $0.removeValue(forKey: job.jobKey) }) { PortReservations.shared.release(ports) }
        // Its files go on the recycler's thread: emptied, the folder serves the next job.
        recycler.finished(jobDirectory(job.jobKey))
    }
}
