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
            id: "oci", name: "OCI container executor", version: "0.1.0",
            description: "Runs each job in a container (podman or docker), its steps inside it",
            executor: OCIExecutor.self),
        host: host, out: out, error: error)
}

/// Runs each job in one container of `image`, started when the job starts and removed when it
/// finishes; every step runs inside it with `ENGINE exec`.
///
/// The job's workspace and temporary folder are folders of the run on this machine, mounted into
/// the container at the same paths, so `GITHUB_WORKSPACE`, artifacts and the `$GITHUB_*` files
/// mean the same on both sides. A third, private folder (`/__nixactions` inside) holds each step's
/// script and a small wrapper that sets the step's environment: values never go on a command line.
///
/// Options (`executor.with`, or GitHub's `container:`): `image` (required), `engine`
/// (`podman` or `docker`; default: the first on PATH), `options` (more `ENGINE run` options, as one
/// string), `env` (the container's own variables), `volumes`, `ports`, `user`, `network`,
/// `grace-seconds` (a cancelled step's time between SIGTERM and SIGKILL, default 5), `home` (a
/// folder inside where the job gets a home of its own, `$HOME` of its steps: GitHub's container
/// jobs have `/github/home`, which the host gives a `container:` job).
final class OCIExecutor: ExecutorPlugin {
    let configuration: ExecutorConfiguration
    let host: HostServices
    let engine: String
    let image: String
    /// A registry login for pulling `image`.
    let credentials: RegistryLogin?
    let runOptions: [String]
    /// A `--name` of `options`, taken out (the executor names its containers): said when a job starts.
    let ignoredName: String?
    let containerEnv: [(String, String)]
    /// `home`: where the job's own home folder (`RUNNER_TEMP/_github_home`) is mounted, and the
    /// steps' `$HOME` unless they set one.
    let home: String?
    let grace: Duration
    /// GitHub's `services:` of the job (the host passes them as the `services` option).
    let services: [ContainerService]
    let containerEngine: ContainerEngine
    let serial = Atomic<Int>(0)
    /// The container of each running job.
    let containers = Mutex<[String: String]>([:])
    /// The service containers started for each running job.
    let servicesStarted = Mutex<[String: [String]]>([:])
    /// Jobs whose helper may still be running an abandoned step: their later steps fail at once.
    let stuck = Mutex<Set<String>>([])
    /// Jobs whose container stopped under a step (its helper is gone).
    let stopped = Mutex<Set<String>>([])
    /// The user given with `user` or `--user` in `options`, if any (else the image's `USER` applies).
    let explicitUser: String?
    /// The user each running job's container runs as, when not root: its folders and the step
    /// helper's files are theirs.
    let jobOwners = Mutex<[String: FileOwner]>([:])
    /// Whether the files interface's shell can run on this machine where links in the jobs'
    /// folders are not followed (`JobShell.followingNoLinks`), found at its first use.
    let hostSideFiles = Mutex<Bool?>(nil)
    /// Users named by name, resolved in their image once per run (image NUL user → owner).
    let resolvedUsers = Mutex<[String: FileOwner?]>([:])
    /// Where the container's private folder is mounted.
    static let controlMount = "/__nixactions"
    static var runLabel: String { ContainerEngine.runLabel }

    var engineName: String { containerEngine.name }

    /// The options `init` accepts, published for `validate` (options.h).
    static let options: Set<String> = ["image", "engine", "options", "env", "volumes", "ports", "user", "network", "grace-seconds",
                                       "credentials", "services", "home"]

    /// The `home` option: an absolute path inside the container, not the executor's own folder.
    static func homeOption(_ value: JSONValue?) throws -> String? {
        guard let home = try ContainerOptions.string(value, key: "home") else { return nil }
        guard home.hasPrefix("/"), home != "/", !home.contains(":"), !home.contains("\n"),
              home != controlMount, !home.hasPrefix(controlMount + "/") else {
            throw OperationFailure(message: "oci executor: 'home' '\(home)' is not an absolute folder path inside the container",
                                   hint: "home: /github/home")
        }
        return home
    }
    static var optionNames: Set<String>? { options }

    /// The words of `options`, without those the executor keeps for itself.
    static func optionWords(_ extra: String) throws -> (words: [String], name: String?) {
        guard let words = ShellWords.split(extra) else {
            throw OperationFailure(message: "oci executor: 'options' has an unclosed quote: \(extra)")
        }
        return try ContainerOptions.checkOwnOptions(words, what: "'options'")
    }

    /// Published for `validate` (options.h `check`): the values `init` would refuse, short of
    /// finding the engine (values made by `${{ }}` are not here: an image may be one).
    static func checkOptions(_ options: [String: JSONValue]) throws {
        func string(_ key: String) throws -> String? { try ContainerOptions.string(options[key], key: key) }
        if let image = try string("image") {
            guard !image.isEmpty else { throw OperationFailure(message: "oci executor: 'image' is empty", hint: "image: node:20") }
            try ContainerOptions.checkImage(image, what: "the image")
        }
        _ = try RegistryLogin(options["credentials"], what: "the container's")
        if let extra = try string("options") { _ = try optionWords(extra) }
        _ = try ContainerService.parse(options["services"])
        _ = try PluginOptions.graceSeconds(options["grace-seconds"], who: "oci executor")
        try ContainerEngine.checkName(try string("engine"), who: "oci executor")
        _ = try homeOption(options["home"])
    }

    /// With every option known (none made by `${{ }}`), a missing image is refused too.
    static func checkOptions(_ options: [String: JSONValue], complete: Bool) throws {
        try checkOptions(options)
        if complete, try ContainerOptions.string(options["image"], key: "image") == nil {
            throw OperationFailure(message: "the oci executor needs an 'image'", hint: "container: IMAGE, or executor: { plugin: oci, with: { image: IMAGE } }")
        }
    }

    init(configuration: ExecutorConfiguration, host: HostServices) throws {
        self.configuration = configuration
        self.host = host
        let options = configuration.options
        func string(_ key: String) throws -> String? { try ContainerOptions.string(options[key], key: key) }
        func list(_ key: String) throws -> [String] { try ContainerOptions.list(options[key], key: key) }
        let known = Self.options
        if let unknown = options.keys.sorted().first(where: { !known.contains($0) }) {
            throw OperationFailure(message: "oci executor: unknown option '\(unknown)'",
                                   hint: "options: \(known.sorted().joined(separator: ", "))")
        }
        guard let image = try string("image"), !image.isEmpty else {
            throw OperationFailure(message: "the oci executor needs an 'image'", hint: "container: IMAGE, or executor: { plugin: oci, with: { image: IMAGE } }")
        }
        try ContainerOptions.checkImage(image, what: "the image")
        credentials = try RegistryLogin(options["credentials"], what: "the container's")
        self.image = image
        containerEngine = try ContainerEngine.find(try string("engine"), who: "oci executor")
        engine = containerEngine.path

        var run: [String] = []
        if let network = try string("network") { run += ["--network", network] }
        let user = try string("user")
        if let user {
            guard !user.isEmpty, !user.hasPrefix("-"), !user.contains(where: { $0.isWhitespace }) else {
                throw OperationFailure(message: "oci executor: user '\(user)' is not a user", hint: "a name or a number, with ':GROUP' if needed")
            }
            run += ["--user", user]
        }
        for volume in try list("volumes") { run += ["-v", volume] }
        for port in try list("ports") { run += ["-p", port] }
        var givenName: String?
        if let extra = try string("options") {
            let own = try Self.optionWords(extra)
            run += own.words
            givenName = own.name
        }
        ignoredName = givenName
        runOptions = run
        explicitUser = Self.userOption(in: run)
        containerEnv = try ContainerOptions.env(options["env"], key: "env")
        home = try Self.homeOption(options["home"])
        services = try ContainerService.parse(options["services"])
        grace = try PluginOptions.graceSeconds(options["grace-seconds"], who: "oci executor")
        try writeCleanupScript()
    }

    var jobsRoot: String { configuration.runDirectory + "/oci" }

    func jobDirectory(_ jobKey: String) -> String { jobsRoot + "/" + jobKey }

    /// `RUN/cleanup/oci-….sh`: what removes this run's containers if the host dies before it
    /// could (its supervisor, or the next run's sweep, runs every script there).
    func writeCleanupScript() throws {
        try containerEngine.writeCleanupScript(runDirectory: configuration.runDirectory, runID: configuration.runID,
                                               name: "oci-\(getpid())-\(ObjectIdentifier(self).hashValue & 0xffffff)", who: "oci executor")
    }

    func containerName(_ jobKey: String) -> String {
        "nixactions-\(configuration.runID)-\(jobKey)"
    }

    /// The last `--user`/`-u` of the engine's options (the one the engine applies), if any.
    static func userOption(in options: [String]) -> String? {
        var found: String?
        var index = 0
        while index < options.count {
            let word = options[index]
            if (word == "--user" || word == "-u"), index + 1 < options.count {
                found = options[index + 1]
                index += 1
            } else if word.hasPrefix("--user=") {
                found = String(word.dropFirst("--user=".count))
            } else if word.hasPrefix("-u="), word.count > 3 {
                found = String(word.dropFirst(3))
            }
            index += 1
        }
        return found
    }

    /// Who the job's container runs as, when not root: `explicitUser`, else the image's own
    /// `USER`. A name (or a group name) is looked up in the image, once per run.
    func owner(imageUser: String, job: JobSpec) async throws -> FileOwner? {
        let spec = explicitUser ?? imageUser
        if FileOwner.isRoot(spec) { return nil }
        if let numeric = FileOwner(numeric: spec) { return numeric }
        let key = image + "\u{0}" + spec
        if let known = resolvedUsers.withLock({ $0[key] }) { return known }
        // The engine looks the name up in the image's /etc/passwd and /etc/group, as it will for
        // the job's container. Labelled with the run, so the run's cleanup removes it if need be.
        let probe = try await capture([engine, "run", "--rm", "--label", "\(Self.runLabel)=\(configuration.runID)", "--network", "none",
                                       "--user", spec, "--entrypoint", "/bin/sh", image, "-c", "id -u; id -g"])
        let numbers = probe.outputText.split(separator: "\n").compactMap { UInt32($0.trimmingCharacters(in: .whitespaces)) }
        guard probe.status == 0, numbers.count == 2 else {
            throw OperationFailure(
                message: "cannot find which user '\(spec)' is in image '\(image)' for job '\(job.displayName)': "
                    + (probe.status == 0 ? "'id' printed no numbers" : probe.errorText),
                hint: "the image needs /bin/sh and id, and the user in its /etc/passwd; or give a number: user: \"1000\" (or '--user 1000' in options)")
        }
        let owner: FileOwner? = numbers[0] == 0 ? nil : FileOwner(uid: numbers[0], gid: numbers[1])
        resolvedUsers.withLock { $0[key] = owner }
        return owner
    }

    func startJob(_ job: JobSpec, context: OperationContext) async throws -> JobStarted {
        let directory = jobDirectory(job.jobKey)
        let workspace = directory + "/workspace", temporary = directory + "/tmp", control = directory + "/control"
        do {
            try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
            for path in [temporary, control] where mkdir(path, path == control ? 0o700 : 0o777) != 0 && errno != EEXIST {
                throw ProjectCopier.CopyFailure(path: path, errno: errno)
            }
            // The job's home (GitHub's `RUNNER_TEMP/_github_home`, where its docker actions find it too).
            if home != nil, mkdir(temporary + "/_github_home", 0o777) != 0 && errno != EEXIST {
                throw ProjectCopier.CopyFailure(path: temporary + "/_github_home", errno: errno)
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
        // A container that does not run as root gets its folders: the workspace, the temporary
        // folder and the private one (still mode 0700, so theirs alone in the container).
        let imageUser = try await ensureImage(image, login: credentials, of: job, role: "image '\(image)'")
        let owner = try await owner(imageUser: imageUser, job: job)
        if let owner {
            for path in [workspace, temporary, control] + (home == nil ? [] : [temporary + "/_github_home"]) {
                if let error = path == workspace ? owner.applyTree(to: path, below: path) : owner.apply(to: path) {
                    throw OperationFailure(
                        message: "oci executor: cannot give \(path) to uid \(owner.uid), the user the container runs as: \(String(cString: strerror(error)))",
                        hint: error == EPERM
                            ? "a container that runs as another user needs nixactions to run as root (with rootless podman or docker's userns-remap, users inside and outside differ); or run the job as root: options: --user 0"
                            : nil)
                }
            }
            jobOwners.withLock { $0[job.jobKey] = owner }
        }
        let name = containerName(job.jobKey)
        if let ignoredName {
            context.log(.warning, "the container's '--name \(ignoredName)' is not used: the executor names its containers (\(name)) "
                        + "to remove them whatever happens; its services reach it as localhost")
        }
        var arguments = [engine, "run", "-d", "--name", name,
                         "--label", "\(Self.runLabel)=\(configuration.runID)", "--label", "io.nixactions.job=\(job.jobKey)",
                         "-v", "\(workspace):\(workspace)", "-v", "\(temporary):\(temporary)",
                         "-v", "\(control):\(Self.controlMount):ro", "-w", workspace]
        if let home { arguments += ["-v", "\(temporary)/_github_home:\(home)"] }
        // The container's own `env:` is not given to the engine: it reaches each step through
        // the step's wrapper, under the step's variables, as `ENGINE exec -e` would have them over
        // the container's. Given to the engine, the values (secrets too) were part of the
        // container's configuration: `ENGINE inspect` showed them, and podman's state database
        // kept them after the container was removed (audit 56 M1).
        arguments += runOptions + serviceHostOptions
        // The container's main process is the step helper: it runs each step the host asks for.
        let channel = HelperChannel(folder: control, owner: owner)
        if let error = channel.prepare() ?? FastFiles.write(Self.helperScript, to: control + "/helper.sh")
            ?? owner?.apply(to: control + "/helper.sh") {
            throw OperationFailure(message: "oci executor: cannot prepare the step helper in \(control): \(String(cString: strerror(error)))")
        }
        arguments += ["--entrypoint", "/bin/sh", image, Self.controlMount + "/helper.sh"]
        // Cancelled before the start (a pull the cancel ended may even say it succeeded): no
        // container is started (the start below would pull the image itself, and a cancel no
        // longer stops it at once).
        if context.isCancelled || Task.isCancelled { throw CancellationError() }
        containers.withLock { $0[job.jobKey] = name }
        // A cancel (the run's, a fail-fast) lets the engine finish starting the container, within
        // 30 s: stopped midway, `run -d` left it made and never started, and the job's always()
        // steps then waited 10 s for a helper that never ran and failed (audit 65 cancel M1).
        let started = try await containerEngine.capture(arguments, finishAfterCancel: .seconds(30))
        guard started.status == 0 else {
            throw OperationFailure(
                message: "cannot start a container of image '\(image)' for job '\(job.displayName)': \(started.errorText)",
                hint: "run '\(engineName) run --rm \(image) true' to see the engine's own error")
        }
        var result = JobStarted(workspace: workspace, temporaryDirectory: temporary, os: "Linux", arch: JobStarted.hostArch)
        // Artifacts and checkouts go through the files interface, whatever user the container
        // runs as: there no link in the job's folders is followed (audit 51 H1: a process of the
        // job swapped a folder for a link while the host copied by path, as root).
        result.writesThroughFiles = true
        // What `job.container` shows (audit 66 fidelity L1: empty): the id the engine printed, and
        // the network the options name, else the engine's default one.
        let id = started.outputText.split(whereSeparator: \.isNewline).last.map(String.init) ?? name
        result.container = JobService(id: id, ports: [:], network: Self.networkName(runOptions, engine: engineName))
        if !services.isEmpty { result.services = try await startServices(job, container: name) }
        return result
    }

    func runStep(_ step: StepSpec, context: OperationContext) async throws -> StepResult {
        guard let name = containers.withLock({ $0[step.jobKey] }) else {
            throw OperationFailure(message: "oci executor: job '\(step.jobKey)' has no container")
        }
        if stopped.withLock({ $0.contains(step.jobKey) }) {
            // Known gone: said at once, not after the helper's 10 s wait for a reader (audit 56 F5).
            throw OperationFailure(message: "the job's container has stopped; no more steps run in it",
                                   hint: "the engine, the machine or a step stopped it ('\(engineName) ps -a' shows containers)")
        }
        if stuck.withLock({ $0.contains(step.jobKey) }) {
            throw OperationFailure(message: "the job's container is still running a cancelled step that did not end",
                                   hint: "the container is removed when the job finishes")
        }
        let directory = jobDirectory(step.jobKey)
        let workspace = directory + "/workspace", temporary = directory + "/tmp", control = directory + "/control"
        let number = serial.add(1, ordering: .relaxed).newValue
        let scriptName = "step-\(number)" + step.scriptExtension
        let inside = Self.controlMount + "/" + scriptName
        let owner = jobOwners.withLock { $0[step.jobKey] }
        if let error = FastFiles.write(step.script, to: control + "/" + scriptName) ?? owner?.apply(to: control + "/" + scriptName) {
            throw OperationFailure(message: "cannot write the script of step '\(step.displayName)': \(String(cString: strerror(error)))")
        }
        var environment = step.environment
        for (name, value) in containerEnv where environment[name] == nil { environment[name] = value }
        if let home, environment["HOME"] == nil { environment["HOME"] = home }
        var captures: [String: String] = [:]
        for file in step.captureFiles {
            let path = step.capturePaths?[file] ?? temporary + "/step-\(number)-" + file.lowercased()
            captures[file] = path
            environment[file] = path
        }
        for (alias, file) in step.captureAliases ?? [:] { environment[alias] = captures[file] }
        var workingDirectory = workspace
        if let relative = step.workingDirectory, !relative.isEmpty {
            workingDirectory = relative.hasPrefix("/") ? relative : workspace + "/" + relative
            // Looked at without following a link out of the workspace (review 52: a link a step
            // put there told the job whether any path of this machine exists); a link that leads
            // out is left to the step's own `cd`, in the container.
            if !relative.hasPrefix("/") && FastFiles.isFolder(relative, beneath: workspace) == false {
                throw OperationFailure(
                    message: "working directory '\(relative)' of step '\(step.displayName)' does not exist",
                    hint: "create it in an earlier step, or fix the path (it is relative to the job's workspace)")
            }
        }
        let wrapperName = "run-\(number).sh"
        // The step's pid goes to the temporary folder: the private folder is read-only inside.
        let pidFile = temporary + "/.nixactions-step-\(number).pid"
        // The capture files exist, empty, when the step starts (as on GitHub), made by the job's user.
        let wrapper = StepWrapper.render(shell: step.shell, script: inside, environment: environment, pathPrepend: step.pathPrepend,
                                         pidFile: pidFile, directory: workingDirectory,
                                         preamble: StepWrapper.createEmpty(captures.values.sorted()))
        if let error = FastFiles.write(wrapper, to: control + "/" + wrapperName) ?? owner?.apply(to: control + "/" + wrapperName) {
            throw OperationFailure(message: "cannot write the wrapper of step '\(step.displayName)': \(String(cString: strerror(error)))")
        }
        defer {
            for file in [scriptName, wrapperName] { unlink(control + "/" + file) }
            unlink(pidFile)
        }
        let killer = GroupSignaller(prefix: [engine, "exec", name, "/bin/sh", "-c"], pidFile: pidFile, grace: grace,
                                    environment: ProcessInfo.processInfo.environment)
        let outcome: HelperChannel.Outcome
        do {
            outcome = try await HelperChannel(folder: control, owner: owner).run(number, abandonAfter: grace + .seconds(5), onCancel: { killer.start() },
                                                                stepEnded: { [grace] in killer.hasEnded(limit: grace + .seconds(5)) },
                                                                onSecret: { context.host.registerSecret(bytes: $0) }) {
                stream, bytes in context.write(bytes, to: stream == 2 ? .stderr : .stdout)
            }
        } catch {
            throw OperationFailure(message: "oci executor: cannot start step '\(step.displayName)': \(error)")
        }
        let exitCode: Int32
        switch outcome {
        case .exited(let code):
            exitCode = code
            // A cancelled step is over once its whole group is (or was killed after the grace).
            await killer.waitEnded(limit: grace + .seconds(5))
        case .helperGone:
            stopped.withLock { _ = $0.insert(step.jobKey) }
            try Task.checkCancellation()
            throw OperationFailure(message: "the job's container stopped while the step ran",
                                   hint: "the engine, the machine or a step stopped it ('\(engineName) ps -a' shows containers)")
        case .abandoned:
            stuck.withLock { _ = $0.insert(step.jobKey) }
            throw OperationFailure(message: "the step did not end within \((grace + .seconds(5)).components.seconds)s of its cancel; "
                                   + "its container is removed with the job")
        }
        var files: [String: String] = [:]
        for (file, path) in captures { files[file] = FastFiles.take(path) ?? "" }
        // Ended by the host's cancel (a time limit, the run's): what the step wrote still goes
        // back, marked, when the host asks for it, as GitHub's runner reads the files whatever
        // ended the step.
        guard Task.isCancelled else { return StepResult(exitCode: exitCode, files: files) }
        guard step.filesWhenCancelled == true else { throw CancellationError() }
        return StepResult(exitCode: exitCode, files: files, cancelled: true)
    }

    func finishJob(_ job: JobSpec, context: OperationContext) async throws {
        stuck.withLock { _ = $0.remove(job.jobKey) }
        stopped.withLock { _ = $0.remove(job.jobKey) }
        jobOwners.withLock { _ = $0.removeValue(forKey: job.jobKey) }
        // Services first: they use the job container's network namespace.
        if let names = servicesStarted.withLock({ $0.removeValue(forKey: job.jobKey) }), let error = await containerEngine.remove(names) {
            context.log(.warning, "could not remove the services of job '\(job.jobKey)': \(error)")
        }
        if let name = containers.withLock({ $0.removeValue(forKey: job.jobKey) }), let error = await containerEngine.remove([name]) {
            context.log(.warning, "could not remove container \(name): \(error)")
        }
        FastFiles.removeTree(jobDirectory(job.jobKey))
    }

    /// The container's main process: runs the steps the host asks for through `HelperChannel`'s
    /// pipes in the private folder. Each step becomes a session leader (`setsid`, where the image
    /// has it), so a cancel reaches its whole process group. Needs only a POSIX `/bin/sh`.
    static let helperScript = """
        # nixactions step helper (the oci executor): one step per line read from the requests pipe.
        exec 5<> \(controlMount)/requests
        leader=
        command -v setsid >/dev/null 2>&1 && leader=setsid
        while read -r n <&5; do
            case "$n" in ''|*[!0-9]*) continue ;; esac
            $leader /bin/sh \(controlMount)/run-$n.sh </dev/null >\(controlMount)/out-$n 2>\(controlMount)/err-$n 5<&-
            echo $? >\(controlMount)/status-$n
        done

        """

    /// Pull `image` when it is not on this machine (`ContainerEngine.ensureImage`), a login in the
    /// job's folder, not its private folder: that one is mounted into the job's container.
    func ensureImage(_ image: String, login: RegistryLogin?, of job: JobSpec, role: String) async throws -> String {
        try await containerEngine.ensureImage(image, login: login, authFolder: jobDirectory(job.jobKey) + "/auth-\(serial.add(1, ordering: .relaxed).newValue)",
                                              jobName: job.displayName, role: role)
    }

    /// The network `--network NAME` (or `--net`, `--network=NAME`) names, else the engine's
    /// default network (podman's `podman`, docker's `bridge`).
    static func networkName(_ options: [String], engine: String) -> String {
        var found: String?
        var index = 0
        while index < options.count {
            let option = options[index]
            if option == "--network" || option == "--net", index + 1 < options.count {
                found = options[index + 1]
                index += 2
                continue
            }
            for prefix in ["--network=", "--net="] where option.hasPrefix(prefix) { found = String(option.dropFirst(prefix.count)) }
            index += 1
        }
        return found ?? (engine.hasSuffix("docker") ? "bridge" : "podman")
    }

    /// The job container's options for its services: the host names and the published ports.
    var serviceHostOptions: [String] {
        services.flatMap { service in
            ([service.name] + (service.alias.map { [$0] } ?? [])).flatMap { ["--add-host", "\($0):127.0.0.1"] } + service.ports.flatMap { ["-p", $0] }
        }
    }

    /// Start the job's services in its container's network namespace and wait until each is
    /// healthy; what `job.services` shows of them (their ports as published by the job's
    /// container). Their env files go into the job's folder, not its private folder: that one is
    /// mounted into the job's container, whose steps must not read a service's values.
    func startServices(_ job: JobSpec, container: String) async throws -> [String: JobService] {
        let starter = ServiceStarter(engine: containerEngine, runID: configuration.runID, who: "oci executor")
        let ids = try await starter.start(
            services, jobKey: job.jobKey, jobName: job.displayName, prefix: containerName(job.jobKey), scratch: jobDirectory(job.jobKey),
            network: { _ in ["--network", "container:" + container] },
            started: { name in servicesStarted.withLock { $0[job.jobKey, default: []].append(name) } })
        return try await starter.describe(services, ids: ids, owner: container)
    }

    /// Run an engine command to its end, keeping what it printed.
    func capture(_ arguments: [String]) async throws -> CapturedCommand {
        try await containerEngine.capture(arguments)
    }
}
