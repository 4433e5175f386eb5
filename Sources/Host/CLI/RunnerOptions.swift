import ArgumentParser
import Foundation
import NixActionsEngine
import NixActionsPluginHost

/// `--config FILE` and `--runner LABEL=EXECUTOR`: which executor runs a job by its `runs-on` labels.
enum RunnerOptions {
    /// `LABEL=EXECUTOR`, both non-empty, or nil.
    static func parse(_ entry: String) -> (label: String, executor: String)? {
        let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let label = parts[0].trimmingCharacters(in: .whitespaces), executor = parts[1].trimmingCharacters(in: .whitespaces)
        guard !label.isEmpty, !executor.isEmpty, !label.contains("${{") else { return nil }
        return (label, executor)
    }

    /// The project's configuration (`config`, else `.nixactions/config.yml` when present), its
    /// problems printed (exit 2 on an error), then `overrides` on top.
    static func load(config: String?, overrides: [String]) throws -> RunnerMap {
        try load(loadConfig(config), overrides: overrides)
    }

    static func load(_ config: ProjectConfig, overrides: [String]) throws -> RunnerMap {
        var map = config.runners
        for entry in overrides {
            guard let (label, executor) = parse(entry) else { continue }  // refused by validate()
            map.map(label, to: RunnerMap.Entry(executor: ExecutorReference(pluginID: executor), origin: "--runner \(entry)"))
        }
        return map
    }

    static func loadConfig(_ path: String?) throws -> ProjectConfig {
        let (config, diagnostics) = ProjectConfig.load(file: path ?? ProjectConfig.defaultPath, required: path != nil)
        for diagnostic in diagnostics { standardError(diagnostic.description + "\n") }
        if diagnostics.contains(where: { $0.severity == .error }) {
            let count = diagnostics.filter { $0.severity == .error }.count
            WorkflowInput.sayErrors(count, in: path ?? ProjectConfig.defaultPath)
            throw ExitCode(ExitStatus.usage)
        }
        return config
    }

    /// `--runner LABEL=EXECUTOR` entries that cannot do what was asked: an executor no plugin
    /// provides is an error (exit 2), also when no job uses the label; a label no job of the run
    /// has is a warning, with the labels it has (a typo would otherwise run the job elsewhere,
    /// on this machine, without a word: audit 51). Labels from expressions are known only when
    /// the jobs start, and a remote called file's only once fetched: then nothing is said about labels.
    static func checkOverrides(_ overrides: [String], plan: Plan, context: RunContext, plugins: PluginRegistry) throws {
        let entries = overrides.compactMap(parse)
        guard !entries.isEmpty else { return }
        let missingExecutor = missingExecutors(plugins)
        var errors: [String] = []
        for (label, executor) in entries {
            if let problem = missingExecutor(executor) {
                errors.append("error: --runner \(label)=\(executor): \(problem.message)\n" + (problem.hint.map { "  hint: \($0)\n" } ?? ""))
            }
        }
        if !errors.isEmpty {
            for error in errors { standardError(error) }
            throw ExitCode(ExitStatus.usage)
        }
        var labels: [String] = []
        var fromExpressions = false
        func add(_ label: String) { if !labels.contains(label) { labels.append(label) } }
        var called: [Job] = []
        for instance in plan.allInstances {
            guard let job = plan.workflow.job(instance.jobID) else { continue }
            if let call = job.call {
                // A remote file a dry run does not fetch: its labels are not known (review 51).
                if let workflow = call.workflow { called += workflow.jobs } else { fromExpressions = true }
                continue
            }
            guard !job.explicitExecutor, !job.runsOn.isEmpty else { continue }
            if let planned = RunnerMap.plannedLabels(for: job, instance: instance, workflow: plan.workflow, context: context) {
                planned.forEach(add)
            } else {
                fromExpressions = true
            }
        }
        // The called workflows' jobs (each file once), whose labels may read the call's inputs.
        var visited: Set<String> = []
        while let job = called.popLast() {
            if let call = job.call {
                if let inner = call.workflow {
                    if visited.insert(call.file ?? inner.file).inserted { called += inner.jobs }
                } else {
                    fromExpressions = true
                }
                continue
            }
            for label in job.runsOn {
                if label.value.contains("${{") { fromExpressions = true } else { add(label.value) }
            }
        }
        guard !fromExpressions else { return }
        let known = Set(labels.map { $0.lowercased() })
        for (label, executor) in entries where !known.contains(label.lowercased()) {
            let hint = labels.isEmpty ? "no job of this run has runs-on labels"
                : didYouMean(label, in: labels).map { "did you mean '\($0)'? the run's labels: \(labels.joined(separator: ", "))" }
                    ?? "the run's labels: \(labels.joined(separator: ", "))"
            standardError("warning: --runner \(label)=\(executor): no job of this run has the label '\(label)', so it changes nothing\n  hint: \(hint)\n")
        }
    }

    /// `plugins.missingExecutor`, each id looked up once (a run asks for every job instance).
    static func missingExecutors(_ plugins: PluginRegistry) -> (String) -> EngineError? {
        var known: [String: EngineError?] = [:]
        return { id in
            if let problem = known[id] { return problem }  // looked up already (nil inside: found)
            let problem = plugins.missingExecutor(id)
            known[id] = problem
            return problem
        }
    }

    /// Exit 2 before anything starts when a job's labels (known before the run) cannot be placed.
    /// And when a job names (with `executor:`, or through a label's mapping) an executor no
    /// plugin provides: it would fail when it starts, after the jobs before it ran. And when an
    /// executor's plugin refuses the options written for it, or a secret provider entry names an
    /// option its plugin does not have (as `validate` does).
    static func refuseUnplaced(_ plan: Plan, runners: RunnerMap, context: RunContext? = nil, plugins: PluginRegistry? = nil) throws {
        var problems: [String] = []
        let missingExecutor = plugins.map(missingExecutors)
        // The executors' options as `validate` checks them (names, and the values written out):
        // what its plugin refuses fails the run before any job starts, with validate's error and
        // exit status, not the job at its start (audit 67 remote N6: exit 1 after other jobs ran).
        var options = plugins.map { registry in OptionNamesCheck(plugins: OnFirstUse { registry }) }
        var optionsChecked: Set<String> = []
        func check(_ job: Job, _ choice: RunnerMap.Choice?, in workflow: Workflow) {
            let line: String
            switch choice {
            case .refuse(let message, let hint, let label)?:
                // At the label itself when it is written out, else at runs-on's first entry.
                let place = job.runsOn.first { $0.value.lowercased() == label?.lowercased() } ?? job.runsOn.first
                line = (place?.location.map { "\($0): " } ?? "") + "error: \(message)\n  hint: \(hint)\n"
            case .executor(let reference, let label)?:
                let place = reference.location ?? job.runsOn.first { $0.value.lowercased() == label?.lowercased() }?.location ?? job.location
                guard let problem = missingExecutor?(reference.pluginID) else {
                    // Each job's own executor once, and each label's once (per job when the job
                    // adds its services: to the label's options; review 68 M1).
                    let ownServices = !job.services.isEmpty && WorkflowRunner.runsServices(reference.pluginID)
                    let key = label.map { "label \($0.lowercased())" + (ownServices ? " job \(workflow.file) \(job.id)" : "") }
                        ?? "job \(workflow.file) \(job.id)"
                    guard options != nil, label != nil || job.explicitExecutor, optionsChecked.insert(key).inserted else { return }
                    let context = label.map { "runs-on label '\($0)' (job '\(job.id)')" } ?? "workflow '\(workflow.name)' › job '\(job.id)'"
                    let before = options?.diagnostics.count ?? 0
                    options?.check(WorkflowRunner.writtenOptions(job, reference), locations: reference.optionLocations, of: "the executor", .executor, reference.pluginID,
                                   at: place, context: context, values: true)
                    // A label given by --runner LABEL=EXECUTOR has no options of its own to mend
                    // there (review 68 L3: the plugin's hint showed `executor: { … }`).
                    if let label, reference.location == nil, !ownServices, var made = options?.diagnostics.dropFirst(before), !made.isEmpty {
                        for index in made.indices {
                            made[index].hint = "--runner \(label)=\(reference.pluginID) gives the executor no options: map the label in .nixactions/config.yml "
                                + "with them (runners: { \(label): { plugin: \(reference.pluginID), with: { … } } })"
                        }
                        options?.diagnostics.replaceSubrange(before..., with: made)
                    }
                    return
                }
                line = (place.map { "\($0): " } ?? "") + "error: job '\(job.id)': \(problem.message)\n" + (problem.hint.map { "  hint: \($0)\n" } ?? "")
            default: return
            }
            if !problems.contains(line) { problems.append(line) }
        }
        // Secret provider entries' option names too, as validate checks them: the workflow's and
        // each planned job's.
        options?.checkProviders(plan.workflow.secrets, context: "workflow '\(plan.workflow.name)'")
        for instance in plan.allInstances {
            guard let job = plan.workflow.job(instance.jobID) else { continue }
            if !job.secrets.isEmpty, optionsChecked.insert("secrets \(job.id)").inserted {
                options?.checkProviders(job.secrets, context: "workflow '\(plan.workflow.name)' › job '\(job.id)'")
            }
            check(job, runners.plannedChoice(for: job, instance: instance, workflow: plan.workflow, context: context), in: plan.workflow)
        }
        // Jobs of the workflows the run calls (each file once), unless what chooses their executor
        // is an expression (it may read the call's inputs; `container: ${{ … }}` may render empty).
        var calls = plan.order.compactMap { plan.workflow.job($0)?.call }
        var visited: Set<String> = []
        while let call = calls.popLast() {
            guard let called = call.workflow, visited.insert(call.file ?? called.file).inserted else { continue }
            for job in called.jobs {
                if let inner = job.call { calls.append(inner); continue }
                var decidedLater = job.runsOn.contains { $0.value.contains("${{") }
                if job.explicitExecutor {
                    decidedLater = false
                    if job.executorFromContainer, case .string(let image)? = job.executor.options["image"] { decidedLater = image.contains("${{") }
                }
                if !decidedLater { check(job, runners.choose(for: job, labels: job.runsOn.map(\.value)), in: called) }
            }
        }
        // Errors only: a plugin whose options cannot be checked here fails its job at the start,
        // as it says then.
        for diagnostic in options?.diagnostics ?? [] where diagnostic.severity == .error {
            let line = diagnostic.description + "\n"
            if !problems.contains(line) { problems.append(line) }
        }
        guard !problems.isEmpty else { return }
        for problem in problems { standardError(problem) }
        standardError("nixactions: no job was started\n")
        throw ExitCode(ExitStatus.usage)
    }
}
