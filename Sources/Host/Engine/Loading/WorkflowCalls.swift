import Foundation
import NixActionsPluginMessages
import NixActionsProcessKit

/// Reads the reusable workflows a workflow's jobs call (`jobs.<id>.uses: ./.github/workflows/FILE`)
/// and checks each call against the called file's `on.workflow_call`, as GitHub does before a run
/// starts: an input or secret the file does not declare, a required one not passed, a literal
/// value of the wrong type, a file that is not a reusable workflow, a loop, more than ten levels.
/// Problems of a called file are reported at its own lines, in the context of the calling job.
public enum WorkflowCalls {
    /// GitHub's limits: ten levels of workflows (the top one included), fifty called files.
    public static let maxDepth = 10
    public static let maxWorkflows = 50

    /// Fill in `job.call.workflow` of every calling job, recursively.
    /// - Parameter remote: fetches the remote actions of called jobs (nil: not read, as for the
    ///   workflow's own, see `ActionLoader.checkLocalActions`), for calls by jobs in `running` (all when nil).
    public static func resolve(_ workflow: inout Workflow, projectDirectory: String, functions: FunctionArities? = nil,
                               remote: RemoteActionStore? = nil, running: Set<String>? = nil) -> [Diagnostic] {
        guard workflow.jobs.contains(where: { $0.call != nil }) else { return [] }
        var resolver = Resolver(root: projectDirectory, functions: functions, remote: remote)
        let file = workflow.file.hasPrefix("/") ? workflow.file : projectDirectory + "/" + workflow.file
        let top = ArtifactStore.realPath(file) ?? file
        resolver.stack = [top]
        resolver.resolve(&workflow, base: projectDirectory, top: true, running: running)
        return resolver.diagnostics.sorted
    }

    struct Resolver {
        let root: String
        let functions: FunctionArities?
        let remote: RemoteActionStore?
        var diagnostics = DiagnosticBag()
        /// The real paths of the files being read, the top one first: a call of one of them is a loop.
        var stack: [String] = []
        /// A called file, read once (per whether its remote actions are fetched): the workflow
        /// with its own calls resolved, the problems found in it (their context starting at that
        /// file, the caller's put before them when reported), how many levels it makes with the
        /// files it calls, and the calling jobs it was reported for.
        struct Entry {
            var workflow: Workflow?
            var diagnostics: [Diagnostic]
            var levels: Int
            /// The calling contexts (workflow and job) its problems were reported in.
            var reportedFor: Set<String> = []
        }
        var loaded: [String: Entry] = [:]
        var files: Set<String> = []

        /// - Parameter base: the folder `./` calls of `workflow` are read from: the project's, or
        ///   the fetched tree of the repository a remote called file came from (as on GitHub, `./`
        ///   in a called file names its own repository at the same commit).
        /// - Returns: the most levels of workflows below `workflow` (0 when it calls none).
        @discardableResult
        mutating func resolve(_ workflow: inout Workflow, base: String, top: Bool, running: Set<String>?) -> Int {
            var levels = 0
            for index in workflow.jobs.indices {
                guard var call = workflow.jobs[index].call, !call.uses.value.contains("${{") else { continue }
                let job = workflow.jobs[index]
                let context = "workflow '\(workflow.name)' › job '\(job.id)'"
                let runs = running.map { $0.contains(job.id) } ?? true
                let loaded = load(call, base: base, context: context, fetch: runs)
                call.workflow = loaded?.workflow
                call.file = loaded?.path
                if let called = call.workflow {
                    levels = max(levels, loaded?.levels ?? 1)
                    // GitHub's limit counts the top workflow and every level below it.
                    if top, 1 + (loaded?.levels ?? 1) > maxDepth {
                        diagnostics.error(
                            "'\(call.uses.value)' and the workflows it calls make \(1 + (loaded?.levels ?? 1)) levels of workflows; at most \(maxDepth) are allowed",
                            at: call.uses.location, context: context, hint: "call fewer workflows from workflows")
                    }
                    check(call, of: job, against: called, context: context)
                    // What the called file cannot run yet is refused for the calling job.
                    for feature in called.unsupported {
                        workflow.unsupported.append(UnsupportedFeature(
                            "\(feature.description) (in '\(call.uses.value)', called by job '\(job.id)')", job: job.id,
                            at: feature.location))
                    }
                }
                workflow.jobs[index].call = call
            }
            return levels
        }

        /// The called workflow (compiled, its own calls resolved) and the levels it makes; nil
        /// (with an error, or a note for a remote one that is not fetched) when it cannot be read.
        mutating func load(_ call: WorkflowCall, base: String, context: String, fetch: Bool) -> (workflow: Workflow?, levels: Int, path: String)? {
            let written = call.uses.value
            func fail(_ message: String, hint: String? = nil) -> (workflow: Workflow?, levels: Int, path: String)? {
                diagnostics.error(message, at: call.uses.location, context: context, hint: hint)
                return nil
            }
            // The folder the file is in (the project, or a fetched repository), its path there, the name diagnostics give it.
            let folder: String, relative: String, shown: String
            // `./` and `$/` (GitHub's self-repository reference): the calling file's own repository.
            let own = written.hasPrefix("./") || ActionLoader.isSelf(written)
            if own {
                relative = String(written.dropFirst(2))
                folder = base
                shown = base == root ? relative : written
            } else {
                // OWNER/REPO/.github/workflows/FILE.yml@REF: the loader checked its form.
                guard let reference = RemoteActionReference(written) else { return nil }
                guard fetch, let remote else {
                    diagnostics.note("the reusable workflow '\(written)' is fetched when a run starts", at: call.uses.location, context: context,
                                     hint: "validate and run --dry-run do not fetch it; run checks it before any job starts")
                    return nil
                }
                do {
                    folder = try remote.fetch(reference).tree
                } catch {
                    return fail("cannot fetch the reusable workflow '\(written)': \(error.message)", hint: error.hint)
                }
                relative = reference.path
                shown = written
            }
            let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == ".github", parts[1] == "workflows", !parts[2].isEmpty,
                  parts[2].hasSuffix(".yml") || parts[2].hasSuffix(".yaml")
            else {
                return fail("'\(written)' is not a workflow file of a .github/workflows folder",
                            hint: "a reusable workflow is called as ./.github/workflows/FILE.yml, or OWNER/REPO/.github/workflows/FILE.yml@REF (GitHub allows no subfolders)")
            }
            guard let resolved = ArtifactStore.realPath(folder + "/" + relative) else {
                let others = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/.github/workflows"))?
                    .filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }.sorted() ?? []
                let prefix = own ? String(written.prefix(2)) + ".github/workflows/" : ""
                return fail("cannot read the called workflow '\(written)': no such file",
                            hint: didYouMean(String(parts[2]), in: others).map { "did you mean '\(prefix)\($0)'?" }
                                ?? (own ? "paths are from the project's folder (\(folder))" : "its repository has no such file at that ref"))
            }
            guard ArtifactStore.isInside(resolved, ArtifactStore.realPath(folder) ?? folder) else {
                return fail("the called workflow '\(written)' is a link to a file outside its repository", hint: "copy the file into the repository")
            }
            if stack.contains(resolved) {
                // The files of the loop itself (the same whichever way it is reached).
                let loop = (stack[(stack.firstIndex(of: resolved) ?? 0)...] + [resolved]).map { ($0 as NSString).lastPathComponent }
                    .joined(separator: " → ")
                return fail("'\(written)' is called again (\(loop)): a workflow cannot call itself, directly or through others",
                            hint: "remove the loop")
            }
            let key = resolved + (fetch ? "\u{0}fetched" : "")
            if loaded[key] == nil {
                if !files.contains(resolved) && files.count >= maxWorkflows {
                    return fail("more than \(maxWorkflows) reusable workflows are called", hint: "GitHub's limit; merge some of them")
                }
                files.insert(resolved)
                // Its problems are gathered apart, with contexts from this file on, and reported
                // for each calling job with that job's context before them.
                let outer = diagnostics
                diagnostics = DiagnosticBag()
                stack.append(resolved)
                let (workflow, levels) = compile(resolved, shown: shown, folder: folder, fetch: fetch)
                stack.removeLast()
                loaded[key] = Entry(workflow: workflow, diagnostics: diagnostics.diagnostics, levels: levels)
                diagnostics = outer
                if workflow == nil && !loaded[key]!.diagnostics.contains(where: { $0.severity == .error }) {
                    // Not a reusable workflow, or not readable: said at each call.
                    loaded[key]!.diagnostics = []
                }
            }
            guard var entry = loaded[key] else { return nil }
            // Once per calling job (a job of the top workflow, or of a file that is itself cached and
            // reported for each job calling it), so that every job of the run that reaches this file has them.
            if !entry.reportedFor.contains(context) {
                entry.reportedFor.insert(context)
                for var diagnostic in entry.diagnostics {
                    diagnostic.context = context + (diagnostic.context.map { " › " + $0 } ?? "")
                    diagnostics.append(diagnostic)
                }
                loaded[key] = entry
            }
            if entry.workflow == nil, let reason = unreadable[resolved] {
                switch reason {
                case .notText: return fail("the called workflow '\(written)' is not UTF-8 text")
                case .unreadable(let why, let hint): return fail("cannot read the called workflow '\(written)': \(why)", hint: hint)
                case .notReusable:
                    return fail("'\(written)' is not a reusable workflow: its 'on' has no workflow_call",
                                hint: "add 'on: workflow_call' (with its inputs, secrets and outputs) to that file")
                }
            }
            return (entry.workflow, entry.levels, resolved)
        }

        /// Why a called file cannot be called at all (unreadable, not UTF-8, not a reusable workflow), by real path.
        var unreadable: [String: Unreadable] = [:]
        enum Unreadable { case notText, unreadable(String, hint: String?), notReusable }

        /// Read and check one called file; problems go to `diagnostics`, with contexts from this file on.
        mutating func compile(_ resolved: String, shown: String, folder: String, fetch: Bool) -> (Workflow?, Int) {
            let result: LoadResult
            switch FastFiles.readWhole(resolved, limit: WorkflowLoader.fileLimit) {
            case .success(let bytes):
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    unreadable[resolved] = .notText
                    return (nil, 0)
                }
                result = WorkflowLoader.load(yaml: text, file: shown, functionArities: functions)
            case .failure(let failure):
                unreadable[resolved] = .unreadable(failure.reason, hint: failure.hint)
                return (nil, 0)
            }
            if let read = result.workflow, read.triggers?.trigger("workflow_call") == nil {
                // Not meant to be called: its own problems are not the caller's.
                unreadable[resolved] = .notReusable
                return (nil, 0)
            }
            for var diagnostic in result.diagnostics {
                if diagnostic.context == nil { diagnostic.context = "workflow '\(shown)'" }
                diagnostics.append(diagnostic)
            }
            guard var called = result.workflow, let trigger = called.triggers?.trigger("workflow_call"), !result.hasErrors else { return (nil, 0) }
            let context = "workflow '\(called.name)'"
            // Its own `secrets:` (providers, declared names) would be resolved before the run by the
            // top workflow only: a called file gets its secrets from the caller.
            let ownSecrets = called.secrets.first?.location ?? called.jobs.first(where: { !$0.secrets.isEmpty })?.secrets.first?.location
            if let ownSecrets {
                diagnostics.error(
                    "a called workflow cannot declare 'secrets:' of its own", at: ownSecrets, context: context,
                    hint: "declare them in the calling workflow and pass them (secrets: inherit, or on.workflow_call.secrets)")
                return (nil, 0)
            }
            checkOutputs(trigger, of: called, context: context)
            // Only the top workflow's group is held between runs (workflow-syntax.md, "Concurrency
            // between runs"); a called file's is checked and said not to be used.
            if let concurrency = called.concurrency {
                diagnostics.note("the 'concurrency' of a called workflow is not used here: the calling workflow's group is held",
                                 at: concurrency.location, context: context)
            }
            // Its `./` calls are of its own repository; its nested remote calls are fetched only when this one is.
            let below = resolve(&called, base: folder, top: false, running: fetch ? nil : [])
            if !called.actionUses.isEmpty {
                // Its steps' local actions come from the project (the job's workspace), as on GitHub.
                for diagnostic in ActionLoader.checkLocalActions(&called, projectDirectory: root, functions: functions,
                                                                 remote: fetch ? remote : nil, ownRepository: folder == root) {
                    diagnostics.append(diagnostic)
                }
            }
            return (called, 1 + below)
        }

        /// The call's `with` and `secrets` against the called file's declarations.
        mutating func check(_ call: WorkflowCall, of job: Job, against called: Workflow, context: String) {
            let trigger = called.triggers?.trigger("workflow_call")
            let inputs = trigger?.inputs ?? []
            let names = inputs.map(\.name)
            var given: Set<String> = []
            for (name, value) in call.with {
                guard let spec = inputs.first(where: { $0.name.lowercased() == name.lowercased() }) else {
                    diagnostics.error(
                        "'\(call.uses.value)' has no input '\(name)'", at: value.source.location, context: context,
                        hint: names.isEmpty ? "it declares no inputs (on.workflow_call.inputs)"
                            : didYouMean(name, in: names).map { "did you mean '\($0)'?" } ?? "its inputs: \(names.joined(separator: ", "))")
                    continue
                }
                given.insert(spec.name)
                if value.template.isLiteral, let literal = call.withLiterals[name] {
                    let (typed, warning) = InputValues.forCall(literal, for: spec, written: value.source.value)
                    if case .failure(let problem) = typed {
                        diagnostics.error("with.\(name): \(problem.message)", at: value.source.location, context: context)
                    } else if let warning {
                        diagnostics.warning("with.\(name): \(warning)", at: value.source.location, context: context)
                    }
                } else if value.template.isLiteral, let problem = InputValues.problem(value.source.value, for: spec) {
                    diagnostics.error("with.\(name): \(problem) (input '\(spec.name)' is a \(spec.kind.rawValue))",
                                      at: value.source.location, context: context)
                }
            }
            for spec in inputs where spec.required && !spec.hasDefault && !given.contains(spec.name) && !call.withNames.contains(spec.name.lowercased()) {
                diagnostics.error(
                    "input '\(spec.name)' of '\(call.uses.value)' is required, but the call does not give it", at: call.uses.location,
                    context: context, hint: "with:\n      \(spec.name): VALUE")
            }
            let secrets = trigger?.secrets ?? []
            switch call.secrets {
            case .inherit: break
            case .none, .mapped:
                var passed: [(name: String, value: TemplateField)] = []
                if case .mapped(let entries) = call.secrets { passed = entries }
                for (name, value) in passed where !secrets.contains(where: { $0.name.lowercased() == name.lowercased() }) {
                    diagnostics.error(
                        "'\(call.uses.value)' has no secret '\(name)'", at: value.source.location, context: context,
                        hint: secrets.isEmpty ? "it declares no secrets (on.workflow_call.secrets); or pass all with secrets: inherit"
                            : didYouMean(name, in: secrets.map(\.name)).map { "did you mean '\($0)'?" }
                                ?? "its secrets: \(secrets.map(\.name).joined(separator: ", "))")
                }
                for secret in secrets where secret.required && !passed.contains(where: { $0.name.lowercased() == secret.name.lowercased() }) {
                    diagnostics.error(
                        "secret '\(secret.name)' of '\(call.uses.value)' is required, but the call does not pass it", at: call.uses.location,
                        context: context, hint: "secrets:\n      \(secret.name): ${{ secrets.\(secret.name) }}\n  or secrets: inherit")
                }
            }
        }

        /// `on.workflow_call.outputs.*.value` may read `jobs.<id>` of the called file's own jobs, `github`, `vars` and `inputs`.
        mutating func checkOutputs(_ trigger: EventTrigger, of called: Workflow, context: String) {
            let allowed = ["jobs", "github", "vars", "inputs"]
            for (name, field) in trigger.outputs {
                for segment in field.template.segments {
                    guard case .expression(let expression, let offset) = segment else { continue }
                    for reference in expression.references {
                        let at = field.location(ofOffset: offset + 3 + reference.offset)
                        if !allowed.contains(reference.root) {
                            diagnostics.error(
                                "'\(reference.root)' is not available in on.workflow_call.outputs.\(name)", at: at, context: context,
                                hint: "it can use: \(allowed.joined(separator: ", ")) (jobs.JOB.outputs.NAME)")
                        } else if reference.root == "jobs", let id = reference.path.first, called.job(id) == nil,
                                  !called.jobs.contains(where: { $0.id.lowercased() == id.lowercased() }) {
                            diagnostics.error(
                                "on.workflow_call.outputs.\(name) reads jobs.\(id), but the workflow has no job '\(id)'", at: at, context: context,
                                hint: didYouMean(id, in: called.jobs.map(\.id)).map { "did you mean '\($0)'?" }
                                    ?? "its jobs: \(called.jobs.map(\.id).joined(separator: ", "))")
                        }
                    }
                }
            }
        }
    }
}
