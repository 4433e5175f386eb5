import NixActionsPluginMessages
import Synchronization

/// A value with the place in the workflow file it came from.
public struct Located<Value: Sendable>: Sendable {
    public var value: Value
    public var location: SourceLocation?

    public init(_ value: Value, at location: SourceLocation?) {
        self.value = value
        self.location = location
    }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}

/// A string field that may hold `${{ }}` (a `run:` script, an env value, a job output).
public struct TemplateField: Sendable {
    public var source: Located<String>
    public var template: Template
    /// Maps offsets in `source.value` back to file positions.
    public var origin: TextOrigin?

    /// The file position of a UTF-8 offset inside the field.
    public func location(ofOffset offset: Int) -> SourceLocation? {
        origin?.location(ofOffset: offset, in: source.value) ?? source.location
    }

    /// A field whose text is `text`, with no expression in it (made by the engine, not read from a file).
    static func literal(_ text: String, at location: SourceLocation?) -> TemplateField {
        TemplateField(source: Located(text, at: location), template: .literal(text), origin: nil)
    }

}

/// An `if:` condition (with or without `${{ }}`).
public struct ConditionField: Sendable {
    public var source: Located<String>
    public var expression: Expression
    public var origin: TextOrigin?
}

extension Optional where Wrapped == ConditionField {
    /// Whether a job or step with this `if` runs, GitHub's way: no `if` means `success()`; an `if`
    /// that calls no status function means `success() && (…)`.
    func holds(in context: some ExpressionContext) throws(ExpressionError) -> Bool {
        let succeeded = context.status.succeeded && !context.status.cancelled
        guard case .some(let condition) = self else { return succeeded }
        if condition.expression.statusFunctions.isEmpty && !succeeded { return false }
        return try condition.expression.evaluate(context).isTruthy
    }
}

/// One `NAME: value` of an `env:` map, in file order; an empty name is an `env: ${{ … }}` whose
/// object gives the variables.
public struct EnvEntry: Sendable {
    public var name: String
    public var value: TemplateField
}

/// A compiled workflow: typed, backend-neutral, with no YAML left in it.
public struct Workflow: Sendable {
    /// `name:`, or the file's base name.
    public var name: String
    /// Whether the file gives `name:` (without it, `github.workflow` is the file's path, as on GitHub).
    public var hasName = false
    /// The file it was loaded from.
    public var file: String
    public var env: [EnvEntry]
    /// Workflow-level `secrets:`, for every job.
    public var secrets: [SecretSpec] = []
    /// Every `${{ secrets.NAME }}` in the file (filled by validation).
    public var secretReferences: [SecretReference] = []
    public var defaults: RunDefaults
    /// The workflow's `timeout`/`timeout-minutes`: the limit of each job that gives none (6h otherwise).
    public var jobTimeout: Located<Duration>?
    /// Jobs in file order.
    public var jobs: [Job]
    /// Constructs that are valid but that this version cannot honour yet: `validate` warns,
    /// `run` refuses the ones in the jobs it would run.
    public var unsupported: [UnsupportedFeature]
    /// Steps that use a local action (`uses: ./PATH`) or a remote one (`OWNER/REPO@REF`), whose
    /// files `ActionLoader.checkLocalActions` reads.
    public var actionUses: [ActionUse] = []
    /// The remote actions `run` fetched (`RemoteActionReference.key` → the action), for the jobs it runs.
    public var remoteActions: [String: RemoteAction] = [:]
    /// `on:` (nil when the workflow has none).
    public var triggers: WorkflowTriggers?
    /// Expressions of GitHub-only keys (`run-name`) and of `concurrency`, whose contexts the
    /// validator checks.
    public var unusedFields: [UnusedField] = []
    /// `concurrency:` of the workflow: a group runs of this project hold one at a time.
    public var concurrency: JobConcurrency?
    /// Where each job is in `jobs`, built on the first lookup. Shared by copies, so every hit is
    /// checked against `jobs`; an index gone stale is rebuilt.
    let jobIndex = JobIndex()

    /// GitHub matches `needs:` entries to job ids without case (its parser compares them
    /// ordinal-ignore-case): an entry that names no job as written, but exactly one without case,
    /// becomes that job's id. Two jobs whose ids differ only in case leave the entry as it is (an
    /// error then names it).
    mutating func matchNeedsWithoutCase() {
        var ids: Set<String> = []
        ids.reserveCapacity(jobs.count)
        for job in jobs { ids.insert(job.id) }
        guard jobs.contains(where: { $0.needs.contains { !ids.contains($0.value) } }) else { return }
        var folded: [String: String] = [:]
        var shared: Set<String> = []
        for id in ids {
            let key = id.lowercased()
            if folded.updateValue(id, forKey: key) != nil { shared.insert(key) }
        }
        for index in jobs.indices {
            for need in jobs[index].needs.indices where !ids.contains(jobs[index].needs[need].value) {
                let key = jobs[index].needs[need].value.lowercased()
                if !shared.contains(key), let id = folded[key] { jobs[index].needs[need].value = id }
            }
        }
    }

    /// The job with this id, found in constant time (a job that does not exist costs a scan).
    public func job(_ id: String) -> Job? {
        if let position = jobIndex.position(of: id, in: jobs) { return jobs[position] }
        return nil
    }
}

/// A valid construct this version cannot honour yet (a reusable-workflow call, a job-level `retry`).
public struct UnsupportedFeature: Sendable {
    /// What it is, as the warning names it: `job 'deploy': 'retry' (retrying whole jobs)`.
    public var description: String
    /// The job it belongs to; nil at workflow level (then every run refuses it).
    public var job: String?
    public var location: SourceLocation?

    public init(_ description: String, job: String?, at location: SourceLocation?) {
        self.description = description
        self.job = job
        self.location = location
    }

    /// The warning `validate` (and `run`, for jobs it does not run) prints.
    public var message: String { "\(description) is not supported by this version of nixactions yet; 'run' will refuse it" }
}

/// Positions of a workflow's jobs by id.
final class JobIndex: Sendable {
    private let positions = Mutex<[String: Int]?>(nil)

    func position(of id: String, in jobs: [Job]) -> Int? {
        if let position = positions.withLock({ $0?[id] }), position < jobs.count, jobs[position].id == id { return position }
        // Not indexed yet, stale, or no such job: look, and index again when the job exists.
        guard let position = jobs.firstIndex(where: { $0.id == id }) else { return nil }
        var fresh: [String: Int] = [:]
        fresh.reserveCapacity(jobs.count)
        for (index, job) in jobs.enumerated() where fresh[job.id] == nil { fresh[job.id] = index }
        positions.withLock { $0 = fresh }
        return position
    }
}

/// `defaults.run` at workflow or job level; both may hold `${{ }}`, evaluated when a step starts.
public struct RunDefaults: Sendable {
    public var shell: TemplateField?
    public var workingDirectory: TemplateField?
    /// `defaults.run: ${{ … }}`: the whole `run` defaults from one expression, an object of
    /// `shell` and `working-directory` evaluated at each step's start (`JobRunner.runSetting`).
    public var runExpression: TemplateField?
    /// `defaults.retry` (or a job's or the workflow's own `retry:`): each step's retry unless the
    /// step (or a nearer level) gives one. The original NixActions' inheritance: step > job > workflow.
    public var retry: RetryPolicy?
    /// `defaults.timeout` / `defaults.timeout-minutes`: each step's limit unless the step gives one.
    public var stepTimeout: Located<Duration>?

    public init(shell: TemplateField? = nil, workingDirectory: TemplateField? = nil) {
        self.shell = shell
        self.workingDirectory = workingDirectory
    }
}

/// Which executor plugin runs a job, and its options.
public struct ExecutorReference: Sendable, Hashable {
    public var pluginID: String
    public var options: [String: JSONValue]
    public var location: SourceLocation?
    /// Where each option's key is written, for a diagnostic about that option (`validate`).
    public var optionLocations: [String: SourceLocation] = [:]

    public init(pluginID: String, options: [String: JSONValue] = [:], location: SourceLocation? = nil) {
        self.pluginID = pluginID
        self.options = options
        self.location = location
    }

    public static let local = ExecutorReference(pluginID: "local")
}

/// `retry:` on a job or step.
public struct RetryPolicy: Sendable, Hashable {
    public enum Backoff: String, Sendable, Hashable, CaseIterable { case constant, linear, exponential }
    /// Attempts in all, the first included (1 = no retry).
    public var maxAttempts: Int
    public var backoff: Backoff
    /// Wait before the second attempt.
    public var delay: Duration
    /// Longest wait between attempts.
    public var maxDelay: Duration
    /// Retry only on these exit codes (nil: any failure).
    public var onExitCodes: [Int32]?

    public init(maxAttempts: Int, backoff: Backoff = .exponential, delay: Duration = .seconds(1),
                maxDelay: Duration = .seconds(60), onExitCodes: [Int32]? = nil) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.delay = delay
        self.maxDelay = maxDelay
        self.onExitCodes = onExitCodes
    }

    /// The wait before attempt `attempt` (2 = the first retry).
    public func wait(before attempt: Int) -> Duration {
        let n = max(0, attempt - 2)
        let wait: Duration
        switch backoff {
        case .constant: wait = delay
        case .linear: wait = delay * (n + 1)
        case .exponential: wait = delay * (1 << min(n, 30))
        }
        return min(wait, maxDelay)
    }
}

/// `timeout-minutes: ${{ … }}` or `timeout: ${{ … }}` of a job or step, evaluated when it starts.
public struct TimeoutExpression: Sendable {
    public var field: TemplateField
    /// `timeout-minutes` (a number of minutes), else `timeout` (a duration such as 90s or 10m).
    public var minutes: Bool

    /// The limit the expression gives in `context`: a positive number of minutes, or a duration;
    /// nil for a number of minutes of 0 or less, which GitHub takes as no limit of its own (the
    /// default applies; audit 55 F4).
    func evaluate(_ context: some ExpressionContext) throws(ExpressionError) -> Duration? {
        let key = minutes ? "timeout-minutes" : "timeout"
        let value = try field.template.evaluateValue(context)
        if minutes {
            let number: Double?
            switch value {
            case .number(let minutes): number = minutes
            case .string(let text) where Double(text.trimmingCharacters(in: .whitespaces)) != nil:
                // GitHub asserts a number: text, even '5' (an output, an env value), fails there
                // (audit 53: taken here).
                throw ExpressionError(
                    message: "\(key) must be a number, the expression gave the text '\(text)' (GitHub refuses text; fromJSON(…) makes it a number)",
                    offset: 0, source: field.source.value)
            default: number = nil
            }
            if let number, number <= 0 { return nil }
            guard let number, number * 60_000 >= 1, number * 60 < DurationParser.maximumSeconds else {
                throw ExpressionError(
                    message: "\(key) must be a positive number of minutes, the expression gave '\(value.displayString)'",
                    offset: 0, source: field.source.value)
            }
            return .milliseconds(Int64(number * 60_000))
        }
        if case .number = value {
            // As a bare number written in the file is (audit 55 M1: read as seconds, where a reader
            // of timeout-minutes would mean minutes).
            throw ExpressionError(
                message: "\(key) must be a duration such as 90s, 10m or 1h30m, the expression gave the number \(value.displayString): add a unit ('\(value.displayString)s' or '\(value.displayString)m'), or use timeout-minutes",
                offset: 0, source: field.source.value)
        }
        guard let duration = DurationParser.parse(value.displayString), duration > .zero else {
            throw ExpressionError(
                message: "\(key) must be a duration such as 90s, 10m or 1h30m, the expression gave '\(value.displayString)'",
                offset: 0, source: field.source.value)
        }
        return duration
    }
}

/// `strategy:` of a job.
public struct Strategy: Sendable {
    public var matrix: MatrixSpec?
    public var failFast: Bool
    public var maxParallel: Int?
    /// `fail-fast: ${{ … }}` and `max-parallel: ${{ … }}`, evaluated when the matrix is expanded.
    public var failFastExpression: TemplateField?
    public var maxParallelExpression: TemplateField?
    /// `strategy: ${{ … }}`: the whole strategy from one expression (held in `matrix` as
    /// `.expression`, whose keys are unknown until it is evaluated); its value is an object of
    /// `matrix`, `fail-fast` and `max-parallel` (docker-library's workflows make it in a job).
    public var isWholeExpression = false
    /// A `matrix:` was written but could not be read (its error is reported once; `matrix.*`
    /// references are then not checked, so one mistake is one error).
    public var matrixInvalid = false
    public var location: SourceLocation?

    /// `max-parallel` as GitHub's runner reads a number: cut to a whole number (1.5 is 1), and 0 or
    /// less means no limit (nil), as a large one does in effect.
    public static func maxParallel(from number: Double) -> Int? {
        let whole = number.rounded(.towardZero)
        guard whole >= 1 else { return nil }
        return whole >= Double(Int32.max) ? Int(Int32.max) : Int(whole)
    }

    init(matrix: MatrixSpec?, failFast: Bool, maxParallel: Int?, location: SourceLocation?) {
        self.matrix = matrix
        self.failFast = failFast
        self.maxParallel = maxParallel
        self.location = location
    }

    /// Every `${{ }}` of the strategy (matrix values, include/exclude, fail-fast, max-parallel).
    public var expressions: [TemplateField] {
        var fields = [failFastExpression, maxParallelExpression].compactMap { $0 }
        switch matrix {
        case .expression(let field)?: fields.append(field)
        case .deferred(let deferred)?: fields += deferred.fields
        default: break
        }
        return fields
    }

    /// Whether the strategy reads `needs` (then it is expanded when the job starts, not when the run is planned).
    public var usesNeeds: Bool {
        expressions.contains { field in
            field.template.segments.contains { segment in
                guard case .expression(let expression, _) = segment else { return false }
                return expression.references.contains { $0.root == "needs" }
            }
        }
    }
}

/// `strategy.matrix`: literal dimensions with include/exclude, one expression (`${{ fromJSON(…) }}`),
/// or a mapping with expressions in it (`python: ${{ fromJSON(needs.plan.outputs.versions) }}`,
/// `include: ${{ … }}`), evaluated when it is expanded.
public enum MatrixSpec: Sendable {
    case literal(MatrixLiteral)
    case expression(TemplateField)
    case deferred(DeferredMatrix)
}

/// A matrix mapping with `${{ }}` in it, as written (strings with `${{` are evaluated when expanded).
public struct DeferredMatrix: Sendable {
    /// Dimensions in file order: a list (whose items may hold expressions) or one expression.
    public var dimensions: [(key: String, value: JSONValue)]
    public var include: JSONValue?
    public var exclude: JSONValue?
    /// The parsed `${{ }}` fields, for validation.
    public var fields: [TemplateField]
    /// Keys known from the file (dimensions and literal include keys); nil when an include is an expression.
    public var knownKeys: [String]?
}

public struct MatrixLiteral: Sendable {
    /// Dimensions in file order: key and its values.
    public var dimensions: [(key: String, values: [ExpressionValue])]
    public var include: [[(key: String, value: ExpressionValue)]]
    public var exclude: [[(key: String, value: ExpressionValue)]]
    /// GitHub matches matrix keys without case (its matrix builder's dictionaries compare them
    /// ordinal-ignore-case): an `include` or `exclude` key that is no dimension as written but is
    /// one without case is renamed to the dimension's spelling (`exclude: [{ os: … }]` against a
    /// dimension `OS`). Include keys that are no dimension at all are left as written.
    mutating func matchKeysWithoutCase() {
        let names = dimensions.map(\.key)
        func rename(_ entries: inout [[(key: String, value: ExpressionValue)]]) {
            for entry in entries.indices {
                for field in entries[entry].indices where !names.contains(entries[entry][field].key) {
                    let folded = entries[entry][field].key.lowercased()
                    let matches = names.filter { $0.lowercased() == folded }
                    if matches.count == 1 { entries[entry][field].key = matches[0] }
                }
            }
        }
        rename(&include)
        rename(&exclude)
    }

    /// Every key a combination can have (dimensions and include keys).
    public var keys: [String] {
        var keys = dimensions.map(\.key)
        for entry in include { for (key, _) in entry where !keys.contains(key) { keys.append(key) } }
        return keys
    }
}

/// `cache:` entry of a job.
public struct CacheSpec: Sendable {
    /// Whether the cache is restored before the steps (pull) and saved after them (push).
    public enum Policy: String, Sendable, CaseIterable {
        case pull, push, pullPush = "pull-push"
        var restores: Bool { self != .push }
        var saves: Bool { self != .pull }
    }
    /// When a job-level cache is saved: only when the job succeeded (GitHub's rule), or always.
    public enum SaveOn: String, Sendable, CaseIterable {
        case success, always
    }

    /// Where the results go: `steps.<id>.outputs.cache-hit` (default "cache", "cache-2", … in order).
    public var id: String
    /// Whether `id` was written (not a default).
    public var idWritten = false
    public var key: TemplateField
    public var paths: [Located<String>]
    public var restoreKeys: [TemplateField]
    /// The backend's name (`local`, `s3`); nil: the configuration's default.
    public var backend: String?
    public var policy: Policy = .pullPush
    public var saveOn: SaveOn = .success
    public var lookupOnly = false
    public var failOnCacheMiss = false
    public var location: SourceLocation?
}

/// A job's `concurrency`: `group` (a string or `${{ }}`), and `cancel-in-progress` (a boolean or
/// `${{ }}`; false when not given).
public struct JobConcurrency: Sendable {
    public var group: TemplateField
    /// `cancel-in-progress` as a boolean; `cancelExpression` when it is `${{ }}`.
    public var cancelInProgress = false
    public var cancelExpression: TemplateField?
    /// A workflow's `queue: max`: every run waits its turn (default `single`: one waits, a newer
    /// one cancels it).
    public var queueMax = false
    public var location: SourceLocation?

    public init(group: TemplateField, location: SourceLocation?) {
        self.group = group
        self.location = location
    }
}

/// One entry of a workflow's or a job's `secrets:` list.
public struct SecretSpec: Sendable {
    public enum Source: Sendable {
        /// A declared name: the environment variable's value is secret wherever it comes from
        /// (the host's environment, `--env`, `--env-file`, `--secret`, `$GITHUB_ENV`).
        case name(String)
        /// A provider entry: the provider plugin's id and the entry's own options.
        case provider(String, options: [String: JSONValue])
    }

    public var source: Source
    /// A declared name that no source provides, or a provider entry that fails, stops the run
    /// before any job starts. Default: false for names, true for provider entries.
    public var required: Bool
    /// `as:`: the one key of the entry renamed (`as: NAME`), or keys renamed (`as: { KEY: NAME }`).
    public var rename: [String: String]
    public var renameOnly: String?
    /// Whether the values become environment variables of the steps (default true); they are
    /// in `${{ secrets.* }}` either way.
    public var exportsEnv: Bool
    public var location: SourceLocation?
    /// Where each provider option's key is written, for a diagnostic about that option (`validate`).
    public var optionLocations: [String: SourceLocation] = [:]
    /// `timeout:` of a provider entry: how long its resolve may take (default 30 s, secrets.h).
    public var timeout: Located<Duration>?

    public init(source: Source, required: Bool, rename: [String: String] = [:], renameOnly: String? = nil,
                exportsEnv: Bool = true, location: SourceLocation?) {
        self.source = source
        self.required = required
        self.rename = rename
        self.renameOnly = renameOnly
        self.exportsEnv = exportsEnv
        self.location = location
    }

    /// The name a delivered key gets.
    public func name(for key: String, only: Bool) -> String {
        if let renamed = rename[key] { return renamed }
        if only, let renameOnly { return renameOnly }
        return key
    }
}

/// `artifacts:` a job keeps for the jobs that need it, and what it restores from them.
public struct ArtifactSpec: Sendable {
    /// Paths (relative to the workspace) this job keeps.
    public var keep: [Located<String>]
    /// Artifacts restored before the first step.
    public var restore: [ArtifactRestore]
}

public struct ArtifactRestore: Sendable {
    /// The job whose artifacts are restored (must be in `needs`).
    public var job: Located<String>
    /// Folder (relative to the workspace) to restore into; nil = the workspace itself.
    public var path: String?
}

public struct Job: Sendable {
    public var id: String
    public var name: TemplateField?
    public var needs: [Located<String>]
    public var condition: ConditionField?
    public var runsOn: [Located<String>]
    /// The job's own `executor:` or `container:`, else `local` (labels may choose another: `RunnerMap`).
    public var executor: ExecutorReference
    /// Whether `executor:` or `container:` chose it (then `runs-on` chooses nothing).
    public var explicitExecutor = false
    /// `container:` chose it: an image that renders empty (`container: ${{ matrix.image }}` with
    /// `image: ''`) runs the job without a container, on what `runs-on` chooses (GitHub's rule).
    public var executorFromContainer = false
    /// Expressions of GitHub-only keys (`environment`), checked and not used.
    public var unusedFields: [UnusedField] = []
    public var env: [EnvEntry]
    public var defaults: RunDefaults
    public var steps: [Step]
    /// `outputs:` name → expression over `steps`; nil = export every name written to GITHUB_OUTPUT.
    public var outputs: [(name: String, value: TemplateField)]?
    public var timeout: Located<Duration>?
    /// `timeout-minutes: ${{ … }}`, evaluated when each instance starts.
    public var timeoutExpression: TimeoutExpression?
    public var continueOnError: Bool
    /// `continue-on-error: ${{ … }}` (e.g. `${{ matrix.experimental }}`), evaluated per instance.
    public var continueOnErrorExpression: TemplateField?
    public var strategy: Strategy?
    public var caches: [CacheSpec]
    public var secrets: [SecretSpec]
    public var artifacts: ArtifactSpec?
    public var workspace: WorkspaceSpec
    /// `services:` sidecar containers, started next to the job's container (oci executor only).
    public var services: [ServiceContainer] = []
    /// `services: ${{ … }}`: the whole map from one expression, made when each instance starts
    /// (`ServiceContainer.fromExpression`).
    public var servicesExpression: TemplateField?
    /// `concurrency:` of the job: its group (evaluated per instance when it is to start) and
    /// `cancel-in-progress`; within a run, one job of a group runs at a time (`WorkflowRunner`).
    public var concurrency: JobConcurrency?
    /// `nix:` packages whose `bin` folders come first on the steps' PATH (the job's own, else the workflow's).
    public var nix: NixPackages?
    /// The original NixActions' semantics, for jobs from a `.nix` workflow (see `OriginalSemantics`).
    public var original: OriginalSemantics?
    /// `uses:` a reusable workflow: the job runs that workflow's jobs instead of steps of its own.
    public var call: WorkflowCall?
    public var location: SourceLocation?

    /// The name people read.
    public var displayName: String { name?.source.value ?? id }

    init(id: String, location: SourceLocation?) {
        self.id = id
        self.location = location
        needs = []
        runsOn = []
        executor = .local
        env = []
        defaults = RunDefaults()
        steps = []
        continueOnError = false
        caches = []
        secrets = []
        workspace = WorkspaceSpec()
    }
}

/// `jobs.<id>.uses: ./.github/workflows/FILE.yml`: a call of a reusable workflow (a file with
/// `on: workflow_call`). Each instance of the calling job (one per matrix combination) runs the
/// called workflow's jobs with its own `inputs` and `secrets`; its outputs are the called
/// workflow's `on.workflow_call.outputs` (docs/workflow-syntax.md, "Reusable workflows").
public struct WorkflowCall: Sendable {
    public enum Secrets: Sendable {
        /// None passed: the called jobs see no secrets.
        case none
        /// `secrets: inherit`: the calling job's secrets, with those exported as variables.
        case inherit
        /// `secrets: { NAME: ${{ secrets.X }} }`: these names only, as `${{ secrets.NAME }}`.
        case mapped([(name: String, value: TemplateField)])
    }

    /// The file as written (`./.github/workflows/build.yml`).
    public var uses: Located<String>
    /// `with:`: the called workflow's inputs, evaluated when the calling instance starts.
    public var with: [(name: String, value: TemplateField)] = []
    /// The YAML value of each `with:` entry written without `${{ }}`, by name: a plain `3` is a
    /// number and a plain `true` a boolean, a quoted one a string (GitHub checks an input's type
    /// on these, `InputValues.forCall`).
    public var withLiterals: [String: ExpressionValue] = [:]
    /// Every name `with:` gives, also one whose value was refused (it is not then "not given" too:
    /// audit 55 M4).
    public var withNames: Set<String> = []
    public var secrets: Secrets = .none
    /// The called workflow, read and checked by `WorkflowCalls.resolve` (nil until then).
    public var workflow: Workflow?
    /// The real path of its file (in the project, or in a fetched repository), set with `workflow`.
    public var file: String?

    public init(uses: Located<String>) { self.uses = uses }
}

/// One entry of a job's `services:` (GitHub's form): a container started before the job's first
/// step, sharing the job container's network, reachable by `name` and removed with the job.
public struct ServiceContainer: Sendable, Hashable {
    /// What GitHub's runner can use as a service's network alias and container name prefix
    /// (Docker's rule; GitHub's schema has no pattern): `mysql.8`, `8redis`, `my_db-2`.
    public static func isValidName(_ name: String) -> Bool {
        func allowed(_ scalar: Unicode.Scalar) -> Bool { ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) }
        guard let first = name.unicodeScalars.first, allowed(first) else { return false }
        return name.unicodeScalars.allSatisfy { allowed($0) || "_.-".unicodeScalars.contains($0) }
    }
    public static let nameHint = "the name is the service's host name and names its container: start with a letter or digit, then letters, digits, '.', '-' or '_'"

    /// The service's id, also its host name inside the job.
    public var name: String
    /// `image`, `env`, `ports`, `volumes`, `options`, `credentials`, as written.
    public var options: [String: JSONValue]
    public var location: SourceLocation?

    /// The keys a service may have.
    public static let keys = ["image", "env", "ports", "volumes", "options", "credentials", "entrypoint", "command"]

    /// The services of `value` (what `services: ${{ … }}` gave): an object of names to an image
    /// or to an object with `image` and the other keys; null or `{}` is none, and a service whose
    /// image is empty is not started (GitHub's rule for an image from an expression). A problem is
    /// thrown as a message, as the loader says it of a written map.
    public static func fromExpression(_ value: ExpressionValue, at location: SourceLocation?) throws(EngineError) -> [ServiceContainer] {
        let entries: [String: ExpressionValue]
        switch value {
        case .null: return []
        case .object(let object): entries = object.unordered
        default: throw EngineError("services must be an object of names to images or service settings, the expression gave \(value.kindName)",
                                   hint: #"e.g. {"db": {"image": "postgres:16"}}"#)
        }
        var services: [ServiceContainer] = []
        for (name, entry) in entries.sorted(by: { $0.key < $1.key }) {
            guard ServiceContainer.isValidName(name) else {
                throw EngineError("service name '\(name)' is not valid", hint: ServiceContainer.nameHint)
            }
            switch entry {
            case .string(let image):
                if !image.isEmpty { services.append(ServiceContainer(name: name, options: ["image": .string(image)], location: location)) }
            case .object(let options):
                if let unknown = options.keys.sorted().first(where: { !keys.contains($0) }) {
                    throw EngineError("service '\(name)' has an unknown key '\(unknown)'", hint: "keys: \(keys.joined(separator: ", "))")
                }
                guard case .string(let image)? = options["image"] else {
                    throw EngineError("service '\(name)' needs an 'image'", hint: #"e.g. {"\#(name)": {"image": "postgres:16"}}"#)
                }
                if !image.isEmpty { services.append(ServiceContainer(name: name, options: options.mapValues(\.jsonValue).unordered, location: location)) }
            default:
                throw EngineError("service '\(name)' must be an image or an object of service settings, the expression gave \(entry.kindName)")
            }
        }
        return services
    }
}

/// `nix:` of a job or workflow: packages built with Nix whose `bin` folders the steps get first on
/// PATH. `packages` are attribute paths of `file` (a Nix file of the workspace evaluating to an
/// attribute set, or a function of `{}` returning one), else of `<nixpkgs>`; `flake` installables
/// (`path#attr`) are built as they are.
public struct NixPackages: Sendable {
    public var packages: [String] = []
    public var file: String?
    public var flakes: [String] = []
    /// Store derivations (`.drv` paths) to realise: the real nixpkgs packages a `.nix` workflow's
    /// job uses (`deps`, `${pkgs.jq}` in its strings).
    public var derivations: [String] = []
    public var location: SourceLocation?
}

/// What a job of a `.nix` workflow does as the original NixActions did, where GitHub's meaning
/// differs. Every such job has it, so it also means: `$JOB_ENV` is one file per job, sourced (with
/// `set -a`) before each step, instead of GitHub's `$GITHUB_ENV` lines read after each step; the
/// original's variables are set; an action's timeout covers its retries.
public struct OriginalSemantics: Sendable {
    /// A `condition` that is a shell test, run with bash in the job's environment before its first step.
    public var shellCondition: Located<String>?
    /// `outputs = { NAME = PATH; }`: artifacts kept with their layout when the job succeeds.
    public var keepArtifacts: [(name: String, paths: [String])] = []
    /// `inputs = [ NAME { name; path; } ]`: artifacts restored before the first step.
    public var restoreArtifacts: [(name: String, path: String?)] = []
}

/// `workspace:` of a job: whether the project is copied in, and what is left out.
public struct WorkspaceSpec: Sendable {
    public static let defaultExcludes = [".git", ".build", "node_modules", ".nixactions"]
    public var copyProject = true
    public var excludes = WorkspaceSpec.defaultExcludes
}

public struct Step: Sendable {
    /// 0-based position in the job.
    public var index: Int
    public var id: String?
    public var name: TemplateField?
    public var run: TemplateField?
    public var uses: Located<String>?
    public var with: [(name: String, value: TemplateField)]
    /// `with: ${{ … }}`: the whole map of inputs from one expression, evaluated when the step
    /// starts (its entries then take the place of `with`).
    public var withExpression: TemplateField?
    /// `shell:` (may hold `${{ }}`); see `ShellCommand`.
    public var shell: TemplateField?
    public var workingDirectory: TemplateField?
    public var env: [EnvEntry]
    public var condition: ConditionField?
    public var timeout: Located<Duration>?
    /// `timeout-minutes: ${{ … }}`, evaluated when the step starts.
    public var timeoutExpression: TimeoutExpression?
    /// The first of GitHub's parallel-step keys (`background`, `wait`, `wait-all`, `cancel`) the
    /// step has: valid GitHub that this version does not run yet.
    public var parallelStepKey: Located<String>?
    /// The `id`s of the steps of a `parallel:` group: their outputs are `steps.<id>` for the steps
    /// after it (the group itself does not run in this version).
    public var parallelIDs: [String] = []
    public var continueOnError: Bool
    /// `continue-on-error: ${{ … }}`, evaluated when the step runs.
    public var continueOnErrorExpression: TemplateField?
    public var retry: RetryPolicy?
    /// A `condition` of a `.nix` workflow that is a shell test (`[ "$BRANCH" = main ]`): run with
    /// bash in the step's environment when it starts; a non-zero status skips the step.
    public var shellCondition: Located<String>?
    public var location: SourceLocation?

    init(index: Int, location: SourceLocation?) {
        self.index = index
        self.location = location
        with = []
        env = []
        continueOnError = false
    }

    /// The name people read: `name`, else `id`, else `uses`, else the first line of `run`.
    public var displayName: String {
        if let name { return name.source.value }
        if let id { return id }
        if let uses { return uses.value }
        if let run = run?.source.value {
            // The first line that is not blank, without the spaces around it (audit 48: an indented
            // script showed as `Run     cat …`).
            let first = run.split(separator: "\n").lazy.map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty } ?? ""
            return "Run " + (first.count > 60 ? String(first.prefix(57)) + "..." : first)
        }
        return "step \(index + 1)"
    }
}

extension Job {
    /// Run without the container `container:` chose (its image rendered empty): where `runs-on`
    /// says, as on GitHub.
    mutating func dropContainer() {
        explicitExecutor = false
        executor = .local
    }
}
