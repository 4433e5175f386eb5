import CNixActionsPlugin
import Foundation
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
/// `GITHUB_WORKSPACE`) and `jobs/<jobKey>/tmp` (`RUNNER_TEMP`: scripts, env files).
/// Options (`executor.with`): `inherit-env` (default true) passes the host's environment to steps;
/// `grace-seconds` (default 5) is how long a cancelled step has between SIGTERM and SIGKILL.
final class LocalExecutor: ExecutorPlugin {
    let configuration: ExecutorConfiguration
    let host: HostServices
    let baseEnvironment: [String: String]
    let grace: Duration
    /// Where each job's processes live; `finishJob` ends whatever is left in it.
    let containments = Mutex<[String: JobContainment]>([:])
    let counter = Atomic<Int>(0)
    /// Script folder of each job that ran a step.
    let scriptFolders = Mutex<[String: String]>([:])
    /// A private folder of this instance on tmpfs, when there is one (see `makeScriptDirectory`).
    let scriptFolder: PrivateFolder? = try? PrivateFolder(base: "/dev/shm", prefix: "nixactions-")
    var scriptRoot: String? { scriptFolder?.path }

    init(configuration: ExecutorConfiguration, host: HostServices) throws {
        self.configuration = configuration
        self.host = host
        var inherit = true
        if case .bool(let value)? = configuration.options["inherit-env"] { inherit = value }
        baseEnvironment = inherit ? ProcessInfo.processInfo.environment : ["PATH": "/usr/local/bin:/usr/bin:/bin"]
        if case .number(let seconds)? = configuration.options["grace-seconds"], seconds >= 0 {
            grace = .milliseconds(Int(seconds * 1000))
        } else {
            grace = .seconds(5)
        }
    }

    func jobDirectory(_ jobKey: String) -> URL {
        URL(fileURLWithPath: configuration.runDirectory).appendingPathComponent("jobs").appendingPathComponent(jobKey)
    }

    /// Where a job's step scripts go: a private folder of this instance on tmpfs when there is one
    /// (creating and removing a file per step on a journaling file system costs more than the
    /// step's own spawn), else the job's temporary folder. Removed by `finishJob` and `deinit`.
    func makeScriptDirectory(_ jobKey: String, fallback: String) -> String {
        guard let scriptRoot else { return fallback }
        let path = scriptRoot + "/" + jobKey
        if mkdir(path, 0o700) == 0 || errno == EEXIST { return path }
        return fallback
    }

    deinit {
        scriptFolder?.remove()
    }

    func containment(for jobKey: String) -> JobContainment {
        containments.withLock { all in
            if let known = all[jobKey] { return known }
            let made = JobContainment(
                runCgroup: configuration.cgroup, runTrackingID: configuration.trackingID ?? configuration.runID, key: jobKey)
            all[jobKey] = made
            return made
        }
    }

    func startJob(_ job: JobSpec, context: OperationContext) async throws -> JobStarted {
        let directory = jobDirectory(job.jobKey)
        let workspace = directory.appendingPathComponent("workspace")
        let temporary = directory.appendingPathComponent("tmp")
        do {
            try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: temporary, withIntermediateDirectories: true)
            if job.copyProject {
                try ProjectCopier(excludes: job.copyExcludes, skipping: [configuration.runDirectory] + (job.copySkipPaths ?? [])).copy(
                    from: URL(fileURLWithPath: configuration.projectDirectory), to: workspace)
            }
        } catch {
            throw OperationFailure(
                message: "cannot prepare the workspace of job '\(job.displayName)' in \(directory.path): \(error.localizedDescription)",
                hint: "check that the run directory is writable and the disk has space")
        }
        return JobStarted(workspace: workspace.path, temporaryDirectory: temporary.path)
    }

    func runStep(_ step: StepSpec, context: OperationContext) async throws -> StepResult {
        let directory = jobDirectory(step.jobKey)
        let workspace = directory.appendingPathComponent("workspace").path
        let temporary = directory.appendingPathComponent("tmp")
        let serial = counter.add(1, ordering: .relaxed).newValue
        let stem = temporary.path + "/step-\(step.index)-\(serial)"
        let scripts = scriptFolders.withLock { folders in
            if let known = folders[step.jobKey] { return known }
            let made = makeScriptDirectory(step.jobKey, fallback: temporary.path)
            folders[step.jobKey] = made
            return made
        }
        let script = scripts + "/step-\(step.index)-\(serial)" + step.scriptExtension
        if let error = FastFiles.write(step.script, to: script) {
            throw OperationFailure(
                message: "cannot write the script of step '\(step.displayName)' to \(script): \(String(cString: strerror(error)))")
        }

        var environment = baseEnvironment
        environment.merge(step.environment) { _, new in new }
        // Capture files are not created: a step that writes none costs nothing; missing means empty.
        var captures: [String: String] = [:]
        for name in step.captureFiles {
            let path = stem + "-" + name.lowercased()
            captures[name] = path
            environment[name] = path
        }
        for (alias, name) in step.captureAliases ?? [:] { environment[alias] = captures[name] }
        if !step.pathPrepend.isEmpty {
            environment["PATH"] = (step.pathPrepend + [environment["PATH"] ?? ""]).joined(separator: ":")
        }
        var arguments = step.shell.map { $0.replacingOccurrences(of: "{0}", with: script) }
        if !step.shell.contains(where: { $0.contains("{0}") }) { arguments.append(script) }
        if let command = arguments.first {
            arguments[0] = FastFiles.resolve(command, searchPath: environment["PATH"] ?? "/usr/bin:/bin")
        }
        let workingDirectory: String
        if let relative = step.workingDirectory, !relative.isEmpty {
            workingDirectory = relative.hasPrefix("/") ? relative : workspace + "/" + relative
            guard FileManager.default.fileExists(atPath: workingDirectory) else {
                unlink(script)
                throw OperationFailure(
                    message: "working directory '\(relative)' of step '\(step.displayName)' does not exist",
                    hint: "create it in an earlier step, or fix the path (it is relative to the job's workspace)")
            }
        } else {
            workingDirectory = workspace
        }

        let jobContainment = containment(for: step.jobKey)
        let containment = jobContainment.makeStep()
        defer { jobContainment.release(containment) }
        let termination: Termination
        do {
            termination = try await runProcess(
                arguments: arguments, environment: environment, directory: workingDirectory, grace: grace,
                containment: containment,
                onOutput: { stream, bytes in
                    context.write(bytes, to: stream == 2 ? .stderr : .stdout)
                })
        } catch {
            let shell = step.shell.first ?? ""
            throw OperationFailure(
                message: "cannot start '\(shell)': \(String(cString: strerror(error.errno)))",
                hint: Self.spawnHint(error.errno, shell: shell))
        }
        unlink(script)
        var files: [String: String] = [:]
        for (name, path) in captures { files[name] = FastFiles.take(path) ?? "" }
        try Task.checkCancellation()
        switch termination {
        case .exited(let code): return StepResult(exitCode: code, files: files)
        case .signaled(let signal): return StepResult(exitCode: nil, signal: signal, files: files)
        }
    }

    static func spawnHint(_ error: Int32, shell: String) -> String {
        switch error {
        case E2BIG: return "the step's environment or arguments are too large (Linux limits one variable to 128 KiB); pass big values through files"
        case EMFILE, ENFILE:
            var limit = rlimit()
            getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            return "the process ran out of file descriptors (limit \(limit.rlim_cur)); run fewer jobs at once (--jobs) or raise 'ulimit -n'"
        case ENOENT, EACCES: return "is '\(shell)' installed and on PATH?"
        default: return "the system refused to start the step's process"
        }
    }

    func finishJob(_ job: JobSpec, context: OperationContext) async throws {
        // End what the job's steps left running (background processes, daemons), then remove its files.
        if let containment = containments.withLock({ $0.removeValue(forKey: job.jobKey) }) {
            containment.endAll()
        }
        if let scripts = scriptFolders.withLock({ $0.removeValue(forKey: job.jobKey) }), let scriptRoot, scripts.hasPrefix(scriptRoot + "/") {
            try? FileManager.default.removeItem(atPath: scripts)
        }
        let directory = jobDirectory(job.jobKey)
        if FileManager.default.fileExists(atPath: directory.path) {
            try? FileManager.default.removeItem(at: directory)
        }
    }
}
