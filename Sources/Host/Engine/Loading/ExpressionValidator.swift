import Foundation
import Synchronization

extension Diagnostic {
    /// How the warning for an `env.NAME` that no level defines ends.
    static let undefinedEnvSuffix = " is not defined at workflow, job or step level"

    /// The NAME of that warning (`env.NAME in 'run' is not defined…`); nil for any other diagnostic.
    public var undefinedEnvName: String? {
        guard severity == .warning, message.hasPrefix("env."), message.hasSuffix(Self.undefinedEnvSuffix) else { return nil }
        return String(message.dropFirst(4).prefix { $0 != " " })
    }
}

/// Static checks of every `${{ }}` in a workflow: that each context reference can resolve.
struct ExpressionValidator {
    static let contexts = ["github", "env", "secrets", "needs", "steps", "matrix", "strategy", "job", "runner", "inputs", "vars"]
    /// What `steps.<id>` holds.
    static let stepFields = ["outputs", "outcome", "conclusion"]

    let workflow: Workflow
    var diagnostics: DiagnosticBag
    /// Plugin functions known to the caller (name → arity), asked for at the first call of one;
    /// nil = not checked.
    var functions: FunctionArities? = nil
    /// Every `secrets.NAME` read, with where and in which job (nil: workflow level): `run` warns
    /// about names no source defines (they are empty, as on GitHub).
    var secretReferences: [SecretReference] = []
    /// The environment variables the job's declared secrets become (workflow and job `secrets:`
    /// with `env: true`, the default): `env.NAME` is defined, and is a secret (audit 58 L2, M1).
    var secretEnv: Set<String> = []
    /// Of those, the declared names (`- API_KEY`): in the env context only when the command line
    /// gives them (`--secret`, `--secret-file`); the process's environment is not in it.
    var declaredSecretEnv: Set<String> = []
    /// A provider entry exported without `as:` names its variables only when it runs: any
    /// `env.NAME` may be one.
    var secretEnvOpen = false

    /// The job a place belongs to, shared by reference: a `Place` is copied for every field
    /// checked, and copying a `Job` copies (retains) all its fields.
    final class JobRef: Sendable {
        let job: Job
        init(_ job: Job) { self.job = job }
    }

    /// Where an expression sits, which decides what it may use. The texts that only messages
    /// need (`what`, `context`) are put together when a message is made, not for every field.
    struct Place {
        /// The field ("env."), and the name that completes it ("N"), if any.
        var whatBase: String
        var whatName: String? = nil
        /// "workflow 'W'" or "workflow 'W' › job 'J'"; a step's place adds the step.
        var baseContext: String
        var step: (index: Int, name: String?)? = nil
        var jobRef: JobRef?
        /// Step ids visible (earlier steps; every step for job outputs), lowercased (they are matched
        /// without case, as GitHub's context lookup does): a set, so a job of many steps each reading
        /// the one before is not quadratic (audit 55 H5); nil = `steps` is not available.
        var stepIDs: Set<String>?
        /// Env names defined at the levels visible here.
        var envNames: Set<String>
        var allowsStatusFunctions = false
        /// When set, only these contexts may be used (a job's `if` sees github, needs, vars, inputs).
        var onlyContexts: [String]?
        /// Any env name may be defined here (a step of the job writes `$GITHUB_ENV`): `env.X` is not guessed at.
        var envOpen = false
        /// Why only those (for the hint).
        var why = "a job's 'if' is decided before the job starts"
        /// The inputs `inputs.X` may name, when not the workflow's (a composite action's own).
        var inputNames: [String]?
        /// Where a built-in action's input shows in the clear, whatever the masking (a command
        /// line, a file's name): a secret there is warned about, as in `shell`.
        var exposure: Exposure?

        init(what: String, context: String, job: JobRef?, stepIDs: Set<String>?, envNames: Set<String>, onlyContexts: [String]? = nil) {
            whatBase = what
            baseContext = context
            jobRef = job
            self.stepIDs = stepIDs
            self.envNames = envNames
            self.onlyContexts = onlyContexts
        }

        var what: String { whatName.map { whatBase + $0 } ?? whatBase }
        var context: String { step.map { ExpressionValidator.stepContext(baseContext, index: $0.index, name: $0.name) } ?? baseContext }
        var job: Job? { jobRef?.job }
    }

    /// How a built-in action's input is seen unmasked, if it is.
    enum Exposure {
        /// An argument of these programs: their command lines are readable by every user.
        case commandLine(String)
        /// The name of an artifact: it names folders (download-artifact makes one per artifact in
        /// the job's workspace) and the run's artifact list.
        case artifactName
    }

    /// How a built-in action's input is seen unmasked (an argument of git, mkdir or tar; an
    /// artifact's name), or nil.
    static func exposure(action: String?, input: String) -> Exposure? {
        switch (action, input) {
        case ("actions/checkout", "path"), ("actions/checkout", "ref"), ("actions/checkout", "repository"),
             ("actions/checkout", "sparse-checkout"):
            return .commandLine("the checkout's git and mkdir")
        case ("actions/cache", "path"), ("actions/cache/restore", "path"), ("actions/cache/save", "path"):
            return .commandLine("the cache's tar")
        case ("actions/upload-artifact", "name"), ("actions/download-artifact", "name"):
            return .artifactName
        default:
            return nil
        }
    }

    static func stepContext(_ jobContext: String, index: Int, name: String?) -> String {
        "\(jobContext) › step \(index + 1)" + (name.map { " '\($0)'" } ?? "")
    }

    mutating func run() {
        let workflowEnv = Set(workflow.env.map(\.name))
        let workflowPlace = Place(what: "env", context: "workflow '\(workflow.name)'", job: nil, stepIDs: nil, envNames: workflowEnv)
        // GitHub's table: a workflow's env sees github, secrets, inputs and vars (audit 53: `env.X`
        // there passed here and failed there, "Unrecognized named-value: 'env'").
        for entry in workflow.env {
            var place = named(workflowPlace, "env.", entry.name)
            place.onlyContexts = ["github", "secrets", "inputs", "vars"]
            place.why = "the workflow's env is set before any job"
            check(entry.value, place)
        }
        // GitHub's table lists no contexts for the workflow's defaults.run; those of run-name are
        // the ones known before any job: github, vars, inputs.
        checkDefaults(workflow.defaults, Place(what: "", context: workflowPlace.context, job: nil, stepIDs: nil, envNames: workflowEnv,
                                               onlyContexts: ["github", "vars", "inputs"]))
        // GitHub-only keys: not used, checked with GitHub's contexts (audit 56 M2).
        for unused in workflow.unusedFields {
            var place = Place(what: unused.what, context: workflowPlace.context, job: nil, stepIDs: nil, envNames: workflowEnv,
                              onlyContexts: unused.contexts)
            place.why = "GitHub evaluates '\(unused.what)' before any job"
            check(unused.field, place)
        }
        // A workflow_call input's default: github, inputs and vars (GitHub's table).
        for spec in workflow.triggers?.trigger("workflow_call")?.inputs ?? [] {
            guard let field = spec.defaultExpression else { continue }
            var place = Place(what: "on.workflow_call.inputs.\(spec.name).default", context: workflowPlace.context, job: nil, stepIDs: nil,
                              envNames: workflowEnv, onlyContexts: ["github", "inputs", "vars"])
            place.why = "an input's default is evaluated before any job"
            check(field, place)
        }
        // Jobs are checked independently, in slices (`Slices`), merged in order.
        let jobs = workflow.jobs
        let base = self
        let parts = Slices.map(count: jobs.count) { range in
            var local = base
            local.diagnostics = DiagnosticBag()
            local.secretReferences = []
            for job in jobs[range] { local.checkJob(job, workflowEnv: workflowEnv) }
            return (local.diagnostics.diagnostics, local.secretReferences)
        }
        for (found, references) in parts {
            for diagnostic in found { diagnostics.append(diagnostic) }
            secretReferences += references
        }
    }

    mutating func checkJob(_ job: Job, workflowEnv: Set<String>) {
        let context = "workflow '\(workflow.name)' › job '\(job.id)'"
        let specs = (workflow.secrets + job.secrets).filter(\.exportsEnv)
        secretEnv = Set(specs.flatMap { spec -> [String] in
            if case .name(let name) = spec.source { return [spec.renameOnly ?? spec.rename[name] ?? name] }
            return Array(spec.rename.values) + (spec.renameOnly.map { [$0] } ?? [])
        })
        declaredSecretEnv = Set(specs.compactMap { spec in
            if case .name(let name) = spec.source { return spec.renameOnly ?? spec.rename[name] ?? name }
            return nil
        })
        secretEnvOpen = specs.contains { spec in
            if case .provider = spec.source { return spec.rename.isEmpty && spec.renameOnly == nil }
            return false
        }
        let jobEnv = workflowEnv.union(job.env.map(\.name)).union(secretEnv.subtracting(declaredSecretEnv))
        let jobRef = JobRef(job)
        let jobPlace = Place(what: "", context: context, job: jobRef, stepIDs: nil, envNames: workflowEnv)
        // From the first step that writes $GITHUB_ENV (or may), any name may be defined: `env.X`
        // is not guessed at in the steps after it, nor in the job's outputs (made after its
        // steps); the job's own fields come before any step.
        let firstWriter = Self.firstEnvWriter(job)
        if let name = job.name {
            // GitHub's contexts for jobs.<job_id>.name (a name reading `secrets` was left unrendered, whole: audit 51).
            var place = named(jobPlace, "name")
            place.onlyContexts = ["github", "needs", "strategy", "matrix", "vars", "inputs"]
            place.why = "a job's name is made before its steps and secrets"
            check(name, place)
        }
        if let condition = job.condition {
            var place = named(jobPlace, "if")
            place.onlyContexts = ["github", "needs", "vars", "inputs"]
            check(condition, place)
        }
        if let call = job.call {
            // GitHub's table: a call's `with` sees github, needs, strategy, matrix, inputs and vars; its `secrets` also secrets.
            let contexts = ["github", "needs", "strategy", "matrix", "inputs", "vars"]
            for (name, value) in call.with {
                var place = named(jobPlace, "with.", name)
                place.onlyContexts = contexts
                place.why = "a called workflow's inputs are given when the calling job starts"
                check(value, place)
            }
            if case .mapped(let entries) = call.secrets {
                for (name, value) in entries {
                    var place = named(jobPlace, "secrets.", name)
                    place.onlyContexts = contexts + ["secrets"]
                    place.why = "a called workflow's secrets are given when the calling job starts"
                    check(value, place)
                }
            }
        }
        // GitHub's table: a job's env sees github, needs, strategy, matrix, vars, secrets and inputs,
        // not env (audit 53: `env.W` there passed here and failed there).
        for entry in job.env {
            var place = named(jobPlace, "env.", entry.name)
            place.onlyContexts = ["github", "needs", "strategy", "matrix", "vars", "secrets", "inputs"]
            place.why = "a job's env is set before its steps, from the contexts GitHub gives it"
            check(entry.value, place)
        }
        // jobs.<job_id>.defaults.run: github, needs, strategy, matrix, env, vars, inputs (GitHub's table).
        var defaultsPlace = jobPlace
        defaultsPlace.envNames = jobEnv
        defaultsPlace.onlyContexts = ["github", "needs", "strategy", "matrix", "env", "vars", "inputs"]
        checkDefaults(job.defaults, defaultsPlace)
        if let flag = job.continueOnErrorExpression { check(flag, named(jobPlace, "continue-on-error")) }
        for field in job.strategy?.expressions ?? [] {
            // GitHub's context availability: the strategy sees github, needs, vars and inputs.
            var place = named(jobPlace, "strategy")
            place.onlyContexts = ["github", "needs", "vars", "inputs"]
            place.why = "the strategy is evaluated before the job's instances exist"
            check(field, place)
        }
        if let concurrency = job.concurrency {
            // GitHub's contexts for jobs.<job_id>.concurrency.
            for (field, key) in [(concurrency.group, "concurrency.group"), (concurrency.cancelExpression, "concurrency.cancel-in-progress")] {
                guard let field else { continue }
                var place = named(jobPlace, key)
                place.onlyContexts = ["github", "needs", "strategy", "matrix", "inputs", "vars"]
                place.why = "a job's concurrency group is decided before the job starts"
                check(field, place)
            }
        }
        for label in job.runsOn where label.value.containsBytes("${{") {
            // GitHub's contexts for jobs.<job_id>.runs-on (the run failed on `env.X` only when the job started).
            guard let template = try? Template.parse(label.value) else { continue }  // its syntax is reported where it was read
            var place = named(jobPlace, "runs-on")
            place.onlyContexts = ["github", "needs", "strategy", "matrix", "vars", "inputs"]
            place.why = "the runner is chosen before the job's steps exist"
            check(TemplateField(source: label, template: template, origin: nil), place)
        }
        if let field = job.servicesExpression {
            // GitHub's contexts for jobs.<job_id>.services.
            var place = named(jobPlace, "services")
            place.onlyContexts = ["github", "needs", "strategy", "matrix", "vars", "inputs"]
            place.why = "a job's services start before its steps"
            check(field, place)
        }
        if let timeout = job.timeoutExpression {
            var place = named(jobPlace, timeout.minutes ? "timeout-minutes" : "timeout")
            place.onlyContexts = ["github", "needs", "strategy", "matrix", "vars", "inputs"]
            place.why = "a job's time limit is set when it starts"
            check(timeout.field, place)
        }
        // A job-level cache's keys are rendered with the job's env (audit 60 L1: a job's env.X in
        // the key was said to be defined nowhere).
        var cachePlace = jobPlace
        cachePlace.envNames = jobEnv
        for cache in job.caches {
            check(cache.key, named(cachePlace, "cache.key"))
            for key in cache.restoreKeys { check(key, named(cachePlace, "cache.restore-keys")) }
        }
        // A job-level cache's results are `steps.<its id>` for every step (cache.id).
        let cacheIDs = job.caches.map(\.id)
        let allIDs = cacheIDs + job.steps.flatMap { ($0.id.map { [$0] } ?? []) + $0.parallelIDs }
        // GitHub-only keys (a job's environment): not used, checked with GitHub's contexts (audit
        // 56 M2); environment.url is made when the job ends, as its outputs are.
        for unused in job.unusedFields {
            var place = named(jobPlace, unused.what)
            place.onlyContexts = unused.contexts
            if unused.contexts.contains("steps") {
                place.stepIDs = Set(allIDs.map { $0.lowercased() })
                place.envNames = jobEnv
                place.envOpen = firstWriter != nil
            }
            place.why = "GitHub evaluates '\(unused.what)' with these contexts"
            check(unused.field, place)
        }
        for (name, value) in job.outputs ?? [] {
            var place = named(jobPlace, "outputs.", name)
            place.stepIDs = Set(allIDs.map { $0.lowercased() })
            place.envNames = jobEnv
            place.envOpen = firstWriter != nil
            check(value, place)
        }
        for restore in job.artifacts?.restore ?? [] where !job.needs.contains(where: { $0.value == restore.job.value }) {
            diagnostics.error(
                "job '\(job.id)' restores artifacts of '\(restore.job.value)', which it does not need",
                at: restore.job.location, context: context, hint: "add '\(restore.job.value)' to its needs")
        }
        var earlier = Set(cacheIDs.map { $0.lowercased() })
        for step in job.steps {
            var place = Place(what: "", context: context, job: jobRef, stepIDs: earlier, envNames: step.env.isEmpty ? jobEnv : jobEnv.union(step.env.map(\.name)))
            place.step = (step.index, step.name?.source.value)
            place.envOpen = firstWriter.map { step.index > $0 } ?? false
            if let name = step.name { check(name, named(place, "name")) }
            if let run = step.run { check(run, named(place, "run")) }
            if let directory = step.workingDirectory { check(directory, named(place, "working-directory")) }
            if let shell = step.shell { check(shell, named(place, "shell")) }
            for entry in step.env { check(entry.value, named(place, "env.", entry.name)) }
            let action = step.uses.map { JobRunner.actionName($0.value) }
            for (key, value) in step.with {
                var input = named(place, "with.", key)
                input.exposure = Self.exposure(action: action, input: JobRunner.canonicalInput(key, action: action ?? ""))
                check(value, input)
            }
            if let field = step.withExpression { check(field, named(place, "with")) }
            if let condition = step.condition {
                // GitHub's contexts for a step's `if`: all but secrets (it refuses the file).
                var conditionPlace = named(place, "if")
                conditionPlace.onlyContexts = Self.contexts.filter { $0 != "secrets" }
                conditionPlace.why = "GitHub keeps secrets out of a step's condition: give the secret to the job in 'env:' and test env.NAME"
                check(condition, conditionPlace)
            }
            if let flag = step.continueOnErrorExpression { check(flag, named(place, "continue-on-error")) }
            if let timeout = step.timeoutExpression { check(timeout.field, named(place, timeout.minutes ? "timeout-minutes" : "timeout")) }
            if let uses = step.uses,
               let known = JobRunner.cacheActionInputs[JobRunner.actionName(uses.value)] ?? JobRunner.artifactActionInputs[JobRunner.actionName(uses.value)] {
                for (key, value) in step.with where !known.contains(JobRunner.canonicalInput(key, action: JobRunner.actionName(uses.value))) {
                    // GitHub's runner warns of an input an action does not declare and runs the step.
                    diagnostics.warning(
                        "\(JobRunner.actionName(uses.value)) declares no input '\(key)' (it is ignored, as on GitHub, with this warning)",
                        at: value.source.location, context: place.context,
                        hint: didYouMean(key, in: known.sorted()).map { "did you mean '\($0)'?" } ?? "inputs: \(known.sorted().joined(separator: ", "))")
                }
            }
            if let uses = step.uses, JobRunner.actionName(uses.value) == "actions/checkout" {
                checkCheckoutInputs(step, context: place.context)
            }
            // The place lets go of the set first, so that it grows in place (not copied per step).
            place.stepIDs = nil
            if let id = step.id { earlier.insert(id.lowercased()) }
            for id in step.parallelIDs { earlier.insert(id.lowercased()) }
        }
    }

    /// `actions/checkout`'s inputs: an unknown one is an error, one not needed here a warning,
    /// each saying so once; a value known before the run (not an expression) is checked now.
    mutating func checkCheckoutInputs(_ step: Step, context: String) {
        let known = JobRunner.checkoutInputs
        for (written, value) in step.with {
            let key = JobRunner.canonicalInput(written, action: "actions/checkout")
            let at = value.source.location
            guard let support = known[key] else {
                diagnostics.warning(
                    "actions/checkout declares no input '\(key)' (it is ignored, as on GitHub, with this warning)", at: at, context: context,
                    hint: didYouMean(key, in: known.keys.sorted()).map { "did you mean '\($0)'?" } ?? "inputs: \(known.keys.sorted().joined(separator: ", "))")
                continue
            }
            let text = value.source.value
            if case .unused(let why) = support {
                if !JobRunner.checkoutAsDone(key, text) {
                    diagnostics.warning("actions/checkout input '\(key)' is \(why)", at: at, context: context, hint: "remove it to silence this warning")
                }
                continue
            }
            guard !text.containsBytes("${{") else { continue }  // checked when the step runs
            if let note = JobRunner.checkoutValueNote(key, text) {
                diagnostics.warning("actions/checkout: \(note)", at: at, context: context,
                                    hint: key == "fetch-depth" ? "write a whole number: 1 (the default) is one commit, 0 all history and tags"
                                        : key == "submodules" ? "write false, true or recursive" : "write true or false")
            }
            if let problem = JobRunner.checkoutValueProblem(key, text) {
                if key == "repository" {
                    // A repository actions/checkout itself refuses when it runs (GitHub checks no
                    // input before): one warning; the step fails with the same message if it runs.
                    diagnostics.warning("actions/checkout: \(problem.message); the step fails if it runs", at: at, context: context, hint: problem.hint)
                } else {
                    diagnostics.error("actions/checkout: \(problem.message)", at: at, context: context, hint: problem.hint)
                }
            }
        }
    }

    mutating func checkDefaults(_ defaults: RunDefaults, _ place: Place) {
        if let shell = defaults.shell { check(shell, named(place, "defaults.run.shell")) }
        if let directory = defaults.workingDirectory { check(directory, named(place, "defaults.run.working-directory")) }
        if let whole = defaults.runExpression { check(whole, named(place, "defaults.run")) }
    }

    /// The index of the first step of `job` that writes `$GITHUB_ENV` (or the original's
    /// `$JOB_ENV`), or may: an action's steps are not in the workflow, and any action but the
    /// built-in ones may export variables (setup-python's `pythonLocation`, github-script's
    /// `core.exportVariable`). nil: none does.
    static func firstEnvWriter(_ job: Job) -> Int? {
        // By index: iterating the steps would copy each `Step` (retaining every field) to read one.
        for index in job.steps.indices {
            if let uses = job.steps[index].uses?.value, !JobRunner.supportedActions.contains(JobRunner.actionName(uses)) { return index }
            guard let script = job.steps[index].run?.source.value else { continue }
            if mayWriteEnv(script) { return index }
        }
        return nil
    }

    /// Whether a `run:` script may write `$GITHUB_ENV`: it names it (or the original's
    /// `$JOB_ENV`), or it runs code the workflow does not show: a file (a path with `/`, a name
    /// with a script's extension, `source`) or a task runner's task (make, npm run, just, …).
    /// (uv's workflows set `UV_WORKSPACE` from a `.ps1` file; a warning for it was wrong.)
    static func mayWriteEnv(_ script: String) -> Bool {
        if script.containsBytes("GITHUB_ENV") || script.containsBytes("JOB_ENV") { return true }
        let runners: Set<Substring> = ["source", ".", "make", "just", "task", "npm", "pnpm", "yarn", "npx", "bun", "deno", "nox", "tox",
                                       "rake", "invoke", "gradle", "mvn", "sh", "bash", "zsh", "pwsh", "python", "python3", "node", "ruby", "perl"]
        let extensions = [".sh", ".bash", ".zsh", ".ps1", ".py", ".js", ".mjs", ".cjs", ".ts", ".rb", ".pl", ".cmd", ".bat"]
        // Any word will do (a runner's name in an `echo` too): a warning missed is better than a wrong one.
        for word in script.split(whereSeparator: { $0.isWhitespace || $0 == ";" || $0 == "&" || $0 == "|" || $0 == "(" || $0 == ")" || $0 == "\"" || $0 == "'" }) {
            if runners.contains(word) || extensions.contains(where: { word.hasSuffix($0) }) { return true }
            // A path (a file it may run), not a URL or a redirection (`2>/dev/null`).
            if word.contains("/"), !word.contains("://"), !word.contains(">"), !word.contains("<"), !word.hasPrefix("/dev/") { return true }
        }
        return false
    }

    func named(_ place: Place, _ what: String, _ name: String? = nil) -> Place {
        var place = place
        place.whatBase = what
        place.whatName = name
        place.allowsStatusFunctions = name == nil && what == "if"
        return place
    }

    mutating func check(_ field: TemplateField, _ place: Place) {
        for segment in field.template.segments {
            guard case .expression(let expression, let offset) = segment else { continue }
            // The expression's source is the text right after `${{` (its reference offsets count from there).
            let inner = offset + 3
            check(expression, place) { field.location(ofOffset: inner + $0) }
        }
    }

    mutating func check(_ condition: ConditionField, _ place: Place) {
        let base = condition.source.value.utf8.count >= condition.expression.source.utf8.count
            ? Self.byteOffset(of: condition.expression.source, in: condition.source.value) : 0
        check(condition.expression, place) { condition.origin?.location(ofOffset: base + $0, in: condition.source.value) ?? condition.source.location }
    }

    /// The UTF-8 offset of the first `needle` in `haystack` (0 when absent), on bytes: Foundation's
    /// `range(of:)` bridged to NSString for every condition.
    static func byteOffset(of needle: String, in haystack: String) -> Int {
        guard !needle.isEmpty else { return 0 }
        let bytes = Array(haystack.utf8), pattern = Array(needle.utf8)
        return bytes.firstRange(of: pattern)?.lowerBound ?? 0
    }

    mutating func check(_ expression: Expression, _ place: Place, at location: (Int) -> SourceLocation?) {
        if !place.allowsStatusFunctions, let function = expression.statusFunctions.first {
            diagnostics.error(
                "\(function.rawValue)() can only be used in 'if'", at: location(0), context: place.context,
                hint: "use needs.<job>.result or steps.<id>.outcome here")
        }
        // GitHub's parser knows hashFiles only where a job's files are (a step's fields): in the
        // workflow's env and a job's env, if and outputs it is "Unrecognized function" (audit 52:
        // accepted here, a job-level `if: hashFiles(…)` a common mistake).
        if place.step == nil, ["env.", "if", "outputs."].contains(place.whatBase), let offset = expression.hashFilesCalls.first {
            diagnostics.error(
                "hashFiles() cannot be used in '\(place.what)': GitHub's parser does not know it there (Unrecognized function)",
                at: location(offset), context: place.context,
                hint: "hashFiles reads the job's files: use it in a step's fields (run, with, env, if), e.g. a cache key")
        }
        for reference in expression.references {
            checkReference(reference, place, location(reference.offset))
        }
        guard !expression.pluginCalls.isEmpty, let known = functions?.signatures else { return }
        let functions = known.mapValues { FunctionArities.argumentTypes($0).count }
        for call in expression.pluginCalls {
            guard let arity = functions[call.name] else {
                diagnostics.error(
                    "unknown function '\(call.name)' in '\(place.what)'", at: location(call.offset), context: place.context,
                    hint: didYouMean(call.name, in: functions.keys).map { "did you mean '\($0)'?" }
                        ?? (functions.isEmpty ? "no plugin found provides functions ('nixactions plugins list')"
                            : "functions from plugins: \(functions.keys.sorted().joined(separator: ", "))"))
                continue
            }
            if arity != call.arguments {
                diagnostics.error(
                    "'\(call.name)' takes \(arity) argument\(arity == 1 ? "" : "s"), not \(call.arguments)",
                    at: location(call.offset), context: place.context)
                continue
            }
            // A literal the call would refuse when it runs (audit 58 examples L6: `text.round('abc', 1)` was "valid").
            let signature = known[call.name] ?? ""
            for (index, (type, literal)) in zip(FunctionArities.argumentTypes(signature), call.literals).enumerated() {
                guard let literal, let wanted = FunctionArities.refusal(literal, type: type) else { continue }
                diagnostics.error(
                    "argument \(index + 1) of '\(call.name)' must be \(wanted), not \(literal.kindName)",
                    at: location(call.offset), context: place.context, hint: "signature \(signature)")
            }
        }
    }

    /// The github context's fields (GitHub's table, lower-cased; `repositoryurl` is its
    /// `repositoryUrl`), what a runner sets or leaves empty.
    /// The fields of the `runner`, `job` and `strategy` contexts (GitHub's, and NixActions'
    /// `runner.workspace`).
    static let contextFields: [String: Set<String>] = [
        "runner": ["name", "os", "arch", "temp", "tool_cache", "debug", "environment", "workspace"],
        "job": ["status", "container", "services", "check_run_id", "workflow_ref", "workflow_sha", "workflow_repository", "workflow_file_path"],
        "strategy": ["fail-fast", "job-index", "job-total", "max-parallel"],
    ]

    static let githubFields: Set<String> = [
        "action", "action_path", "action_ref", "action_repository", "action_status", "actor", "actor_id", "api_url", "base_ref",
        "env", "event", "event_name", "event_path", "graphql_url", "head_ref", "job", "path", "ref", "ref_name", "ref_protected",
        "ref_type", "repository", "repository_id", "repository_owner", "repository_owner_id", "repositoryurl", "retention_days",
        "run_id", "run_number", "run_attempt", "secret_source", "server_url", "sha", "token", "triggering_actor", "workflow",
        "workflow_ref", "workflow_sha", "workspace",
    ]

    mutating func checkReference(_ reference: ContextReference, _ place: Place, _ at: SourceLocation?) {
        let root = reference.root
        var what: String { "in '\(place.what)'" }
        guard Self.contexts.contains(root) else {
            // `if: success` for `success()`: a status function without its parentheses (audit 64 cli L8).
            let function = StatusFunction(rawValue: root) != nil && reference.path.isEmpty
            diagnostics.error(
                "unknown context '\(root)' \(what)", at: at, context: place.context,
                hint: function ? "did you mean \(root)()? a status function is called with ()"
                    // `True`, `NULL`: a literal written with capitals (audit 65 expressions L4).
                    : ["true", "false", "null"].contains(root) ? "literals are lower case: true, false, null"
                    : didYouMean(root, in: Self.contexts).map { "did you mean '\($0)'?" } ?? "contexts: \(Self.contexts.joined(separator: ", "))")
            return
        }
        if let only = place.onlyContexts, !only.contains(root) {
            diagnostics.error(
                "'\(root)' is not available in '\(place.what)'", at: at, context: place.context,
                hint: "\(place.why); it can use: \(only.joined(separator: ", "))")
            return
        }
        guard let first = reference.path.first else { return }
        if root == "secrets" {
            secretReferences.append(SecretReference(name: first, job: place.job?.id, location: at, context: place.context))
        }
        // A declared secret read as `env.NAME` is the same value (audit 58 M1: only `secrets.` was seen).
        if root == "secrets" || (root == "env" && place.job != nil && secretEnv.contains(first)) {
            let shown = root == "secrets" ? what : "\(what) (env.\(first) is a declared secret)"
            let named = root + "." + first
            if place.whatBase == "shell" {
                // Masked in output, but a command line is readable by every user of the machine.
                diagnostics.warning(
                    "\(named) \(shown): the shell's command line shows it to every user of this machine ('ps'), "
                        + "which no masking covers", at: at, context: place.context,
                    hint: "give the value to the step in 'env:' and read the variable in the script")
            } else if case .commandLine(let programs) = place.exposure {
                // The same for a built-in action's input the host passes as an argument (audit 55b F2).
                diagnostics.warning(
                    "\(named) \(shown): the value is an argument of \(programs), whose command line every user of this machine sees ('ps'), "
                        + "which no masking covers", at: at, context: place.context,
                    hint: "a secret is not a path, a ref or a repository name; keep it out of this input")
            } else if case .artifactName = place.exposure {
                // An artifact's name names folders, here and in the workspace of a download of
                // every artifact, which no masking covers (audit 55b F3).
                diagnostics.warning(
                    "\(named) \(shown): an artifact's name becomes the name of folders (the run's store, and one per artifact "
                        + "when download-artifact takes them all) and of the run's artifact list, which no masking covers",
                    at: at, context: place.context,
                    hint: "name the artifact without the secret; a secret is not a name")
            }
        }
        switch root {
        case "needs":
            guard let job = place.job else {
                diagnostics.error("'needs' is not available \(what) at workflow level", at: at, context: place.context)
                return
            }
            // GitHub checks context names, not the properties under them: a job that is not
            // needed, an output not declared, a step id not seen are empty there. A warning here.
            guard job.needs.contains(where: { $0.value.lowercased() == first.lowercased() }) else {
                let exists = workflow.job(first) != nil
                diagnostics.warning(
                    "needs.\(first) \(what): job '\(job.id)' does not need '\(first)'; it is empty", at: at, context: place.context,
                    hint: exists ? "add '\(first)' to the needs of '\(job.id)'"
                        : didYouMean(first, in: job.needs.map(\.value)).map { "did you mean '\($0)'?" } ?? (job.needs.isEmpty ? "it needs no job; a job reads only the outputs of jobs it needs"
                            : "it needs: \(job.needs.map(\.value).joined(separator: ", "))"))
                return
            }
            guard reference.path.count > 1 else { return }
            let field = reference.path[1].lowercased()
            if field != "outputs" && field != "result" {
                diagnostics.warning(
                    "needs.\(first).\(reference.path[1]) \(what): a needed job has only 'outputs' and 'result'; it is empty", at: at,
                    context: place.context, hint: didYouMean(reference.path[1], in: ["outputs", "result"]).map { "did you mean '\($0)'?" })
            } else if field == "outputs", reference.path.count > 2, let needed = workflow.job(first), needed.outputs == nil,
                      needed.call == nil, needed.original == nil {
                // NixActions passes every GITHUB_OUTPUT value of a job without `outputs:`; GitHub none.
                diagnostics.warning(
                    "needs.\(first).outputs.\(reference.path[2]) \(what): job '\(first)' declares no outputs; here it passes on what its "
                        + "steps write to GITHUB_OUTPUT, on GitHub it passes on nothing",
                    at: at, context: place.context,
                    hint: "declare it in '\(first)': outputs: { \(reference.path[2]): ${{ steps.ID.outputs.\(reference.path[2]) }} }")
            } else if field == "outputs", reference.path.count > 2, let declared = workflow.job(first)?.outputs {
                let name = reference.path[2]
                if !declared.contains(where: { $0.name.lowercased() == name.lowercased() }) {
                    diagnostics.warning(
                        "job '\(first)' has no output '\(name)'; it is empty", at: at, context: place.context,
                        hint: didYouMean(name, in: declared.map(\.name)).map { "did you mean '\($0)'?" }
                            ?? "its outputs: \(declared.map(\.name).joined(separator: ", "))")
                }
            }
        case "github":
            // GitHub's fields (its context table); another is empty there too. A warning, as for
            // matrix and needs (audit 57 UX M13: `github.shaa` said nothing).
            if !Self.githubFields.contains(first.lowercased()) {
                diagnostics.warning(
                    "github.\(first) \(what): the github context has no field '\(first)'; it is empty", at: at, context: place.context,
                    hint: didYouMean(first.lowercased(), in: Self.githubFields).map { "did you mean '\($0)'?" }
                        ?? "its fields are listed in GitHub's docs (contexts, github context) and in docs/expressions.md")
            }
        case "runner", "job", "strategy":
            // Their fields (GitHub's context tables); another is empty, on GitHub too (audit 66
            // fidelity L1: `runner.foo` said nothing, where `github.foo` is warned about).
            let fields = Self.contextFields[root] ?? []
            if !fields.contains(first.lowercased()) {
                diagnostics.warning(
                    "\(root).\(first) \(what): the \(root) context has no field '\(first)'; it is empty", at: at, context: place.context,
                    hint: didYouMean(first.lowercased(), in: fields).map { "did you mean '\($0)'?" }
                        ?? "its fields: \(fields.sorted().joined(separator: ", "))")
            }
        case "steps":
            guard let ids = place.stepIDs else {
                diagnostics.error(
                    "'steps' is not available \(what)", at: at, context: place.context,
                    hint: "steps.<id> can be used in a step (for earlier steps) and in job outputs")
                return
            }
            // Step ids are matched without case, as GitHub's context lookup does.
            if !ids.contains(first.lowercased()) {
                let all = place.job?.steps.compactMap(\.id) ?? []
                diagnostics.warning(
                    "steps.\(first) \(what): no earlier step has id '\(first)'; it is empty", at: at, context: place.context,
                    hint: all.contains(first) ? "step '\(first)' runs later; a step can only read steps before it"
                        : didYouMean(first, in: all).map { "did you mean '\($0)'?" } ?? "give the step 'id: \(first)'")
            } else if reference.path.count > 1, !Self.stepFields.contains(reference.path[1].lowercased()) {
                // `steps.s.output.v` for `outputs` (audit 64 cli L11): GitHub gives it empty.
                let field = reference.path[1]
                diagnostics.warning(
                    "steps.\(first).\(field) \(what): a step has outputs, outcome and conclusion; it is empty", at: at, context: place.context,
                    hint: didYouMean(field, in: Self.stepFields).map { "did you mean '\($0)'?" })
            }
        case "matrix":
            // GitHub gives an empty value for a key the matrix does not have: a warning, not an
            // error. A matrix that could not be read was reported once already.
            guard let job = place.job, job.strategy?.matrixInvalid != true else { return }
            guard let matrix = job.strategy?.matrix else {
                diagnostics.warning("matrix.\(first) \(what): job '\(job.id)' has no strategy.matrix; it is empty", at: at, context: place.context)
                return
            }
            let keys: [String]?
            switch matrix {
            case .literal(let literal): keys = literal.keys
            case .deferred(let deferred): keys = deferred.knownKeys
            case .expression: keys = nil
            }
            // Property names are matched without case (`matrix.os` reads a dimension `OS`).
            if let keys, !keys.contains(where: { $0.lowercased() == first.lowercased() }) {
                diagnostics.warning(
                    "matrix.\(first) \(what): the matrix of '\(job.id)' has no key '\(first)'; it is empty", at: at, context: place.context,
                    hint: didYouMean(first, in: keys).map { "did you mean '\($0)'?" } ?? "its keys: \(keys.joined(separator: ", "))")
            }
        case "inputs":
            // Inputs a workflow declares (workflow_dispatch, workflow_call): another name is empty.
            let declared = place.inputNames ?? workflow.triggers?.inputs.map(\.name) ?? []
            if !declared.isEmpty || place.inputNames != nil, !declared.contains(where: { $0.lowercased() == first.lowercased() }) {
                let owner = place.inputNames == nil ? "the workflow" : "the action"
                // A step using the action may still pass it (`with:` is passed on, with a warning
                // there): empty only when none does (audit 57 UX H4).
                let value = place.inputNames == nil ? "it is empty" : "it is empty unless the step using the action passes it in 'with:'"
                diagnostics.warning(
                    "inputs.\(first) \(what): \(owner) declares no input '\(first)'; \(value)", at: at, context: place.context,
                    hint: declared.isEmpty ? "\(owner) declares no inputs"
                        : didYouMean(first, in: declared).map { "did you mean '\($0)'?" } ?? "its inputs: \(declared.joined(separator: ", "))")
            }
        case "env":
            // A job whose steps write GITHUB_ENV (or JOB_ENV) may define any name: no guess then.
            // `env: ${{ … }}` (an entry without a name) may define any name too.
            if place.job != nil, declaredSecretEnv.contains(first), !place.envNames.contains(first) {
                // Masked wherever it comes from, but `env.X` has it only from the command line
                // (audit 58 L2: "not defined", with a hint to put the value on the command line).
                diagnostics.warning(
                    "env.\(first) \(what): \(first) is a declared secret, which the env context holds only when --secret or --secret-file "
                        + "gives it (the environment nixactions runs in is not in the env context)", at: at, context: place.context,
                    hint: "read ${{ secrets.\(first) }}, which has it from every source")
            } else if !place.envNames.contains(first), !place.envNames.contains(""), !place.envOpen, !(secretEnvOpen && place.job != nil) {
                // A `.nix` workflow's hint in its own terms (Nix audit 58 L4: it showed YAML).
                let nix = workflow.file.hasSuffix(".nix")
                diagnostics.warning(
                    "env.\(first) \(what)" + Diagnostic.undefinedEnvSuffix, at: at, context: place.context,
                    hint: nix
                        ? "set \(first) in the workflow's, job's or action's env:\n    env = { \(first) = \"value\"; };\n  or provide it at run time:\n    nixactions run WORKFLOW --env \(first)=value"
                        : "set \(first) at workflow/job/step level:\n    env:\n      \(first): value\n  or provide it at run time:\n    nixactions run WORKFLOW --env \(first)=value")
            }
        default:
            break
        }
    }
}
