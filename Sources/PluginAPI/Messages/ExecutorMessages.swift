/// Messages of the executor interface, "nixactions.executor/1" (see nixactions/executor.h).
///
/// They travel as UTF-8 JSON. Rules for evolving them: add optional fields only; never rename,
/// retype or remove one (that is a new interface id). Decoders ignore fields they do not know.

/// The interface id of executor interface version 1.
public let executorInterfaceV1 = "nixactions.executor/1"

/// `create`: how one executor instance is configured.
public struct ExecutorConfiguration: Codable, Sendable, Hashable {
    /// The run this instance serves; unique per run, safe for file names.
    public var runID: String
    /// A folder the host made for this run. Executors keep their per-job state under it.
    public var runDirectory: String
    /// The project folder the workflow came from (on the host's machine).
    public var projectDirectory: String
    /// The `executor.with` options from the workflow, free-form per executor.
    public var options: [String: JSONValue]
    /// A cgroup v2 folder the host made for this run (ABI 1.2), or nil when the machine has none
    /// usable. Executors that start local processes put each job's processes in a cgroup below it,
    /// so that nothing a step starts outlives the job; the host kills the whole run's tree through
    /// it if it dies or is stopped twice.
    public var cgroup: String?
    /// The run's tracking id (ABI 1.2): local processes carry `NIXACTIONS_TRACKING_ID` values that
    /// start with it, so that they can be found without a cgroup.
    public var trackingID: String?
    /// The soft open-files limit (RLIMIT_NOFILE) the host was started with, before it raised its
    /// own to the hard limit. Processes an executor starts on the host's machine get it back, as
    /// the user's shell would have given them; PluginKit sets that up for ProcessKit before the
    /// executor is made. nil: the host did not change its limit. An optional field added after
    /// 1.2: an executor that does not know it leaves its processes the host's raised limit.
    public var openFilesLimit: UInt64?
    /// True when the host asks again after a start_job that failed with `retryAfterSeconds` (no
    /// room now: every host of a pool busy). An optional field added after 1.2: without it (an
    /// older host) an executor waits for room inside start_job itself, within the start's deadline.
    public var startRetries: Bool?

    public init(runID: String, runDirectory: String, projectDirectory: String, options: [String: JSONValue] = [:]) {
        self.runID = runID
        self.runDirectory = runDirectory
        self.projectDirectory = projectDirectory
        self.options = options
    }
}

/// `start_job` / `finish_job`: one job of the run.
public struct JobSpec: Codable, Sendable, Hashable {
    /// Unique within the run and safe for a file name (e.g. "build", "test-node-20").
    public var jobKey: String
    /// What people read (e.g. "test (node: 20)").
    public var displayName: String
    /// Copy the project's files into the job's workspace before the first step.
    public var copyProject: Bool
    /// Names (globs on path components) left out of that copy.
    public var copyExcludes: [String]
    /// Absolute paths never copied (the run's log folder when it lies inside the project).
    public var copySkipPaths: [String]?
    /// The folder to copy instead of the configuration's `projectDirectory` (a folder of the
    /// host's machine): the run's git checkout of the project, copied whole, `.git` included
    /// (`copyExcludes` apply to the project folder only). nil: the project folder. An optional
    /// field added after 1.2: an executor that does not know it copies the project folder instead,
    /// with `copyExcludes`, as before.
    public var copySource: String?

    public init(jobKey: String, displayName: String, copyProject: Bool = false, copyExcludes: [String] = []) {
        self.jobKey = jobKey
        self.displayName = displayName
        self.copyProject = copyProject
        self.copyExcludes = copyExcludes
    }
}

/// A service container of a job (`JobStarted.services`): GitHub's `job.services.<id>`.
public struct JobService: Codable, Sendable, Hashable {
    /// The container's id.
    public var id: String
    /// Container port (`5432`) → the port of this machine it is published on (`41234`).
    public var ports: [String: String]
    /// The network it is on ("" when it shares another container's network namespace).
    public var network: String

    public init(id: String, ports: [String: String], network: String) {
        self.id = id
        self.ports = ports
        self.network = network
    }
}

/// `start_job` result.
public struct JobStarted: Codable, Sendable, Hashable {
    /// The job's workspace, as seen by its steps (`GITHUB_WORKSPACE`).
    public var workspace: String
    /// A temporary folder for the job (`RUNNER_TEMP`), removed by `finish_job`.
    public var temporaryDirectory: String
    /// Where the job runs, as GitHub names it (ABI 1.2): `runner.os` (`Linux`, `macOS`, `Windows`)
    /// and `runner.arch` (`X64`, `ARM64`, `X86`, `ARM`); nil: the host's own.
    public var os: String?
    public var arch: String?
    /// True when `workspace` and `temporaryDirectory` are folders of the host's machine at the
    /// same paths (the local executor; the oci executor mounts them): the host may then copy
    /// files there itself. Otherwise files move only through "nixactions.executor.files/1".
    public var hostPaths: Bool?
    /// True when files move into and out of the job's folders only through
    /// "nixactions.executor.files/1", though they are folders of this machine (`hostPaths`):
    /// they belong to another user than the host's, or processes in a sandbox share them (an oci
    /// job: a copy by path would follow the links they put or swap in, with the host's rights).
    /// The host still reads by path what it checks after opening (hashFiles). An optional field
    /// added after 1.2; nil: false.
    public var writesThroughFiles: Bool?
    /// True when the executor keeps a job's shared environment between its steps
    /// (`StepSpec.jobEnvironment`, an optional field added after 1.2; set by PluginKit for every
    /// executor built with it). Otherwise the host sends every step's whole environment.
    public var keepsEnvironment: Bool?
    /// Where the host puts the job's steps' command files (`StepSpec.capturePaths`; an optional
    /// field added after 1.2): a private folder the steps' processes can write, on fast storage
    /// (the local executor's on tmpfs: making five files a step on a journaling file system cost a
    /// no-op step 9%). nil: `temporaryDirectory`. The files' names are unique over the run.
    public var commandFilesFolder: String?
    /// The job's `services:` as its executor started them (an optional field added after 1.2),
    /// by name: what the `job.services` context shows. Nil: none, or not said.
    public var services: [String: JobService]?
    /// The job's own container, when it runs in one (an optional field added after 1.5): its id
    /// and network, what `job.container` shows (GitHub's `job.container.id` and `.network`;
    /// `ports` unused). Nil: no container, or not said.
    public var container: JobService?

    public init(workspace: String, temporaryDirectory: String) {
        self.workspace = workspace
        self.temporaryDirectory = temporaryDirectory
    }

    public init(workspace: String, temporaryDirectory: String, os: String?, arch: String?) {
        self.init(workspace: workspace, temporaryDirectory: temporaryDirectory)
        self.os = os
        self.arch = arch
    }

    /// GitHub's name for a machine architecture as `uname -m` prints it (`x86_64` → `X64`).
    public static func runnerArch(machine: String) -> String {
        switch machine {
        case "x86_64", "amd64": return "X64"
        case "aarch64", "arm64": return "ARM64"
        case "i386", "i686", "x86": return "X86"
        case let other where other.hasPrefix("arm"): return "ARM"
        default: return machine
        }
    }
}

/// `run_step`: one step of a job.
public struct StepSpec: Codable, Sendable, Hashable {
    public var jobKey: String
    /// 0-based position of the step in the job (with retries, the same step may run again).
    public var index: Int
    public var displayName: String
    /// The script, with every `${{ }}` already evaluated by the host.
    public var script: String
    /// The command line, in GitHub's format: `{0}` in an element is the path of the script file,
    /// `{{` and `}}` one brace each; with no `{0}`, the path is appended (`ShellWords.fillScript`
    /// does this for an executor).
    public var shell: [String]
    /// The script file's extension (".sh", ".py"); some interpreters care.
    public var scriptExtension: String
    /// Environment set for the step, on top of the executor's base environment.
    public var environment: [String: String]
    /// Folder to run in, relative to the workspace (or absolute); nil = the workspace.
    public var workingDirectory: String?
    /// Names of environment variables the executor points at fresh empty files before the
    /// step and whose contents it returns in `StepResult.files` (GITHUB_OUTPUT, GITHUB_ENV, …).
    public var captureFiles: [String]
    /// Put in front of PATH, in PATH order (the latest GITHUB_PATH entry first).
    public var pathPrepend: [String]
    /// Other names for capture files: alias → capture name (e.g. JOB_ENV → GITHUB_ENV).
    public var captureAliases: [String: String]?
    /// Where the capture files go, by name (optional, added after 1.2): paths the host chose in
    /// the job's `JobStarted.commandFilesFolder` (else its `temporaryDirectory`), so that the step's templates can name them
    /// before it runs (`github.env`, `github.output`, … as on GitHub). An executor that knows the
    /// field makes exactly these files (empty) and points the variables at them; one that does
    /// not picks its own, and those context values then name files the step does not get. A
    /// name missing here gets the executor's own path.
    public var capturePaths: [String: String]?
    /// True (optional, added after 1.2): when the host cancels this step, the executor that knows
    /// the field ends it and answers with its result, `StepResult.cancelled` set and the capture
    /// files read, instead of NXA_STATUS_CANCELLED. nil or false: NXA_STATUS_CANCELLED.
    public var filesWhenCancelled: Bool?
    /// The job's shared environment (optional fields added after 1.2, sent only to an executor whose
    /// `JobStarted.keepsEnvironment` is true). When set, the executor keeps it for the job,
    /// replacing what it kept, and the step's environment is this with `environment` over it.
    /// The host sends it once, at the job's first step, and then only what differs per step, so
    /// that a step's message does not carry the same 100 variables again.
    public var jobEnvironment: [String: String]?
    /// True: the step's environment is the kept `jobEnvironment` with `environment` over it; the
    /// operation fails if none was kept for the job. nil or false: `environment` is all of it
    /// (hidden commands, the checkout's preparation). `finishJob` forgets the kept environment.
    public var usesJobEnvironment: Bool?

    public init(
        jobKey: String, index: Int, displayName: String, script: String,
        shell: [String] = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
        scriptExtension: String = ".sh", environment: [String: String] = [:],
        workingDirectory: String? = nil, captureFiles: [String] = [], pathPrepend: [String] = []
    ) {
        self.jobKey = jobKey
        self.index = index
        self.displayName = displayName
        self.script = script
        self.shell = shell
        self.scriptExtension = scriptExtension
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.captureFiles = captureFiles
        self.pathPrepend = pathPrepend
    }
}

/// `run_step` result. A step that ran and exited non-zero is a result, not an error.
public struct StepResult: Codable, Sendable, Hashable {
    /// The exit status, when the process exited.
    public var exitCode: Int32?
    /// The signal that ended the process, when one did.
    public var signal: Int32?
    /// Contents of the `captureFiles`, by variable name.
    public var files: [String: String]
    /// True (optional, added after 1.2): the host cancelled the step (its time limit, the run's
    /// cancellation) and the executor ended it, answering a `StepSpec.filesWhenCancelled` step;
    /// `files` hold what it wrote before, which the host
    /// uses as GitHub's runner does (it reads the files in a `finally`: a cleanup step sees the
    /// ids a hung step recorded). An executor may instead answer NXA_STATUS_CANCELLED, as before.
    public var cancelled: Bool?
    /// True (optional, added after 1.2): processes the step left running still held its output
    /// when the executor stopped reading it (after its short drain), so what they write later is
    /// not delivered; the host says so (audit 53: it was silent).
    public var outputLeftOpen: Bool?

    public init(exitCode: Int32?, signal: Int32? = nil, files: [String: String] = [:]) {
        self.exitCode = exitCode
        self.signal = signal
        self.files = files
    }

    public init(exitCode: Int32?, signal: Int32? = nil, files: [String: String] = [:], cancelled: Bool?) {
        self.init(exitCode: exitCode, signal: signal, files: files)
        self.cancelled = cancelled
    }

    /// True when the step exited 0.
    public var succeeded: Bool { exitCode == 0 && signal == nil }
}

/// The body of a failed operation's result (status not OK).
public struct OperationFailure: Codable, Sendable, Hashable, Error {
    public struct Detail: Codable, Sendable, Hashable {
        public var message: String
        public var hint: String?
        /// start_job only (an optional field added after 1.2): the executor has no room for the
        /// job now (every host of its pool is busy): nothing was made, and the host asks again
        /// after this many seconds, waiting without the start's deadline, as a queued job waits.
        public var retryAfterSeconds: Double?
    }
    public var error: Detail

    public init(message: String, hint: String? = nil, retryAfterSeconds: Double? = nil) {
        self.error = Detail(message: message, hint: hint, retryAfterSeconds: retryAfterSeconds)
    }

    /// An error as people read it (an aborted stream's reason, a warning): an `OperationFailure`'s
    /// message, "cancelled" for a cancellation (not `CancellationError()`), else its description.
    public static func describe(_ error: any Error) -> String {
        if let failure = error as? OperationFailure { return failure.error.message }
        if error is CancellationError { return "cancelled" }
        return String(describing: error)
    }
}

// MARK: - Fast JSON (MessageJSON.swift): the same text as Codable's, without its generic containers.

extension JobSpec: FastJSONMessage {
    public func writeJSON(_ writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("jobKey"); writer.string(jobKey)
        writer.key("displayName"); writer.string(displayName)
        writer.key("copyProject"); writer.bool(copyProject)
        writer.key("copyExcludes"); writer.strings(copyExcludes)
        if let copySkipPaths { writer.key("copySkipPaths"); writer.strings(copySkipPaths) }
        if let copySource { writer.key("copySource"); writer.string(copySource) }
        writer.endObject()
    }

    public init(json: JSONValue) throws {
        let type = "JobSpec"
        self.init(jobKey: try json.string("jobKey", of: type), displayName: try json.string("displayName", of: type),
                  copyProject: try json.bool("copyProject", of: type), copyExcludes: try json.strings("copyExcludes", of: type))
        copySkipPaths = try json.optionalStrings("copySkipPaths", of: type)
        copySource = try json.optionalString("copySource", of: type)
    }
}

extension JobStarted: FastJSONMessage {
    public func writeJSON(_ writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("workspace"); writer.string(workspace)
        writer.key("temporaryDirectory"); writer.string(temporaryDirectory)
        if let os { writer.key("os"); writer.string(os) }
        if let arch { writer.key("arch"); writer.string(arch) }
        if let hostPaths { writer.key("hostPaths"); writer.bool(hostPaths) }
        if let writesThroughFiles { writer.key("writesThroughFiles"); writer.bool(writesThroughFiles) }
        if let keepsEnvironment { writer.key("keepsEnvironment"); writer.bool(keepsEnvironment) }
        if let commandFilesFolder { writer.key("commandFilesFolder"); writer.string(commandFilesFolder) }
        if let services {
            writer.key("services")
            writer.beginObject()
            for (name, service) in services.sorted(by: { $0.key < $1.key }) {
                writer.key(name)
                writer.beginObject()
                writer.key("id"); writer.string(service.id)
                writer.key("ports"); writer.stringMap(service.ports)
                writer.key("network"); writer.string(service.network)
                writer.endObject()
            }
            writer.endObject()
        }
        if let container {
            writer.key("container")
            writer.beginObject()
            writer.key("id"); writer.string(container.id)
            writer.key("network"); writer.string(container.network)
            writer.endObject()
        }
        writer.endObject()
    }

    public init(json: JSONValue) throws {
        self.init(workspace: try json.string("workspace", of: "JobStarted"),
                  temporaryDirectory: try json.string("temporaryDirectory", of: "JobStarted"),
                  os: try json.optionalString("os", of: "JobStarted"), arch: try json.optionalString("arch", of: "JobStarted"))
        hostPaths = try json.optionalBool("hostPaths", of: "JobStarted")
        writesThroughFiles = try json.optionalBool("writesThroughFiles", of: "JobStarted")
        keepsEnvironment = try json.optionalBool("keepsEnvironment", of: "JobStarted")
        commandFilesFolder = try json.optionalString("commandFilesFolder", of: "JobStarted")
        if let value = json.optionalMember("services") {
            guard case .object(let members) = value else { throw MessageDecodingError("JobStarted: 'services' is not an object") }
            var services: [String: JobService] = [:]
            for (name, item) in members {
                let type = "JobStarted.services.\(name)"
                services[name] = JobService(id: try item.string("id", of: type), ports: try item.stringMap("ports", of: type),
                                            network: try item.optionalString("network", of: type) ?? "")
            }
            self.services = services
        }
        if let value = json.optionalMember("container") {
            let type = "JobStarted.container"
            container = JobService(id: try value.string("id", of: type), ports: [:], network: try value.optionalString("network", of: type) ?? "")
        }
    }
}

extension StepSpec: FastJSONMessage {
    public func writeJSON(_ writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("jobKey"); writer.string(jobKey)
        writer.key("index"); writer.int(index)
        writer.key("displayName"); writer.string(displayName)
        writer.key("script"); writer.string(script)
        writer.key("shell"); writer.strings(shell)
        writer.key("scriptExtension"); writer.string(scriptExtension)
        writer.key("environment"); writer.stringMap(environment)
        if let workingDirectory { writer.key("workingDirectory"); writer.string(workingDirectory) }
        writer.key("captureFiles"); writer.strings(captureFiles)
        writer.key("pathPrepend"); writer.strings(pathPrepend)
        if let captureAliases { writer.key("captureAliases"); writer.stringMap(captureAliases) }
        if let capturePaths { writer.key("capturePaths"); writer.stringMap(capturePaths) }
        if let filesWhenCancelled { writer.key("filesWhenCancelled"); writer.bool(filesWhenCancelled) }
        if let jobEnvironment { writer.key("jobEnvironment"); writer.stringMap(jobEnvironment) }
        if let usesJobEnvironment { writer.key("usesJobEnvironment"); writer.bool(usesJobEnvironment) }
        writer.endObject()
    }

    public init(json: JSONValue) throws {
        let type = "StepSpec"
        self.init(
            jobKey: try json.string("jobKey", of: type), index: try json.int("index", of: type),
            displayName: try json.string("displayName", of: type), script: try json.string("script", of: type),
            shell: try json.strings("shell", of: type), scriptExtension: try json.string("scriptExtension", of: type),
            environment: try json.stringMap("environment", of: type),
            workingDirectory: try json.optionalString("workingDirectory", of: type),
            captureFiles: try json.strings("captureFiles", of: type), pathPrepend: try json.strings("pathPrepend", of: type))
        captureAliases = try json.optionalStringMap("captureAliases", of: type)
        capturePaths = try json.optionalStringMap("capturePaths", of: type)
        filesWhenCancelled = try json.optionalBool("filesWhenCancelled", of: type)
        jobEnvironment = try json.optionalStringMap("jobEnvironment", of: type)
        usesJobEnvironment = try json.optionalBool("usesJobEnvironment", of: type)
    }
}

extension StepResult: FastJSONMessage {
    public func writeJSON(_ writer: inout JSONWriter) {
        writer.beginObject()
        if let exitCode { writer.key("exitCode"); writer.int(Int(exitCode)) }
        if let signal { writer.key("signal"); writer.int(Int(signal)) }
        writer.key("files"); writer.stringMap(files)
        if let cancelled { writer.key("cancelled"); writer.bool(cancelled) }
        if let outputLeftOpen { writer.key("outputLeftOpen"); writer.bool(outputLeftOpen) }
        writer.endObject()
    }

    public init(json: JSONValue) throws {
        let type = "StepResult"
        self.init(exitCode: try json.optionalInt32("exitCode", of: type), signal: try json.optionalInt32("signal", of: type),
                  files: try json.stringMap("files", of: type), cancelled: try json.optionalBool("cancelled", of: type))
        outputLeftOpen = try json.optionalBool("outputLeftOpen", of: type)
    }
}

extension OperationFailure: FastJSONMessage {
    public func writeJSON(_ writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("error")
        writer.beginObject()
        writer.key("message"); writer.string(error.message)
        if let hint = error.hint { writer.key("hint"); writer.string(hint) }
        if let retry = error.retryAfterSeconds { writer.key("retryAfterSeconds"); writer.number(retry) }
        writer.endObject()
        writer.endObject()
    }

    public init(json: JSONValue) throws {
        let detail = try json.member("error", of: "OperationFailure")
        self.init(message: try detail.string("message", of: "OperationFailure.error"),
                  hint: try detail.optionalString("hint", of: "OperationFailure.error"),
                  // Not a number: no retry, the message kept (review 60 L1).
                  retryAfterSeconds: try? detail.optionalDouble("retryAfterSeconds", of: "OperationFailure.error"))
    }
}

extension OperationFailure: CustomStringConvertible {
    /// The message (and hint) as people read it, wherever a failure is printed with "\(error)".
    public var description: String { error.hint.map { "\(error.message) (hint: \($0))" } ?? error.message }
}
