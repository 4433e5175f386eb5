import ArgumentParser
import Foundation
import NixActionsEngine
import NixActionsPluginHost
import NixActionsPluginMessages
import Synchronization

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check workflows and report every problem with its file:line:column.",
        discussion: "Exit status: 0 when every workflow is valid (warnings do not fail), 2 otherwise."
    )

    @Argument(help: "Workflow files or names; none: every workflow of the project, as 'list' finds them.", completion: .file())
    var workflows: [String] = []

    @Option(name: .customLong("config"), help: "The project's configuration file, checked too (default: .nixactions/config.yml, if present).", completion: .file(extensions: ["yml", "yaml"]))
    var config: String?

    func run() async throws {
        var failed = false
        var workflows = self.workflows
        if workflows.isEmpty {
            // The whole project in one command (audit 57 UX M9), by name: a name in
            // .nixactions/workflows/ hides the same in .github/workflows/, as for run.
            workflows = WorkflowLocator.projectFiles(in: FileManager.default.currentDirectoryPath)
            if workflows.isEmpty {
                standardError("error: no workflows in .nixactions/workflows/ or .github/workflows/\n"
                              + "  hint: give workflow files or names, or run this in the project's folder\n")
                throw ExitCode(ExitStatus.usage)
            }
        }
        // Plugins are found once, when first needed; they load only if an expression calls a
        // function that is not built in, or a job names an executor or cache backend no plugin
        // file is named for.
        let plugins = OnFirstUse { PluginRegistry.discoverWarning() }
        let functions = FunctionArities(signatures: { plugins.value.functions.signatures })
        // The configuration as `run` reads it (its own errors are said and fail the command), then
        // the option names of the executors and cache backends it configures.
        let (projectConfig, configDiagnostics) = ProjectConfig.load(file: config ?? ProjectConfig.defaultPath, required: config != nil)
        let configProblems = configDiagnostics + (configDiagnostics.contains { $0.severity == .error } ? [] : Self.refusedOptions(projectConfig, plugins: plugins))
        for diagnostic in configProblems { standardError(diagnostic.description + "\n") }
        let configErrors = configProblems.filter { $0.severity == .error }.count
        if configErrors > 0 {
            WorkflowInput.sayErrors(configErrors, in: config ?? ProjectConfig.defaultPath)
            failed = true
        }
        let shown = WorkflowInput.ShownDiagnostics()
        for reference in workflows {
            do {
                // Unsupported constructs are warnings among the other diagnostics.
                let workflow = try WorkflowInput.load(reference, notes: true, functions: functions, shown: shown)
                for warning in Self.missingPlugins(workflow, plugins: plugins) + Self.unmappedLabels(workflow, runners: projectConfig.runners)
                where shown.first(warning) { standardError(warning.description + "\n") }
                let refused = Self.refusedOptions(workflow, plugins: plugins)
                for diagnostic in refused where shown.first(diagnostic) { standardError(diagnostic.description + "\n") }
                let errors = refused.filter { $0.severity == .error }.count
                if errors > 0 {
                    WorkflowInput.sayErrors(errors, in: workflow.file)
                    failed = true
                    continue
                }
                // Left for the exit to free when the executable runs this command (`FreeAtExit`).
                FreeAtExit.keep(workflow)
                print("\(workflow.file): valid")
            } catch {
                failed = true
            }
        }
        if failed { throw ExitCode(ExitStatus.usage) }
    }

    /// An error for each option of a job's executor (`executor: { with: … }`, `container:`) or of a
    /// secret provider entry that its plugin on this machine does not accept, at the option's
    /// place, with a did-you-mean: what `run` would refuse at the job's start or before the first
    /// job. Names only (options.h): values, and values made by `${{ }}`, are the plugin's to check
    /// when the run makes the instance. A plugin that publishes no names (an older one) is not
    /// checked; one whose description cannot be used gets a warning.
    static func refusedOptions(_ workflow: Workflow, plugins: OnFirstUse<PluginRegistry>) -> [Diagnostic] {
        var check = OptionNamesCheck(plugins: plugins)
        check.checkProviders(workflow.secrets, context: "workflow '\(workflow.name)'")
        for job in workflow.jobs {
            let context = "workflow '\(workflow.name)' › job '\(job.id)'"
            check.checkProviders(job.secrets, context: context)
            guard job.explicitExecutor else { continue }
            check.check(WorkflowRunner.writtenOptions(job, job.executor), locations: job.executor.optionLocations, of: "the executor", .executor, job.executor.pluginID,
                        at: job.executor.location ?? job.location, context: context, values: true)
        }
        return check.diagnostics
    }

    /// The same for `.nixactions/config.yml`: each runner label's executor and each cache
    /// backend's options (a backend no plugin here provides is the run's warning, not this one's).
    static func refusedOptions(_ config: ProjectConfig, plugins: OnFirstUse<PluginRegistry>) -> [Diagnostic] {
        var check = OptionNamesCheck(plugins: plugins)
        let file = config.file ?? ProjectConfig.defaultPath
        for label in config.runners.labels {
            guard let entry = config.runners.entry(for: label) else { continue }
            if let problem = plugins.value.missingExecutor(entry.executor.pluginID) {
                // A label mapped to an executor no plugin here provides: `run` refuses its jobs
                // (audit 64 cli M4: validate said valid).
                check.diagnostics.append(Diagnostic(.warning, "\(problem.message) on this machine; 'run' here refuses the jobs whose runs-on names '\(label)'",
                                                    at: entry.executor.location, context: "\(file) › runners › \(label)", hint: problem.hint))
                continue
            }
            check.check(entry.executor.options, locations: entry.executor.optionLocations, of: "the executor", .executor, entry.executor.pluginID,
                        at: entry.executor.location, context: "\(file) › runners › \(label)", values: true)
        }
        for backend in config.cache.backends.keys.sorted() {
            check.check(config.cache.backends[backend] ?? [:], locations: config.cache.optionLocations[backend] ?? [:], of: "the cache backend", .cache,
                        backend, at: config.cache.locations[backend], context: "\(file) › cache › backends › \(backend)", values: true)
        }
        // The default backend as written: one no plugin here provides is what a job's
        // `backend: NAME` gets (audit 64 cache M3: every job then ran without its cache, unsaid).
        if let location = config.cache.defaultBackendLocation, let problem = plugins.value.missingCacheBackend(config.cache.defaultBackend) {
            check.diagnostics.append(Diagnostic(.warning, "\(problem.message) on this machine; jobs here run without their caches",
                                                at: location, context: "\(file) › cache › backend", hint: problem.hint))
        }
        return check.diagnostics
    }
}

/// Option names against what each plugin publishes (options.h), each plugin asked once.
struct OptionNamesCheck {
    let plugins: OnFirstUse<PluginRegistry>
    var diagnostics: [Diagnostic] = []
    private var described: [String: Set<String>?] = [:]
    private var unusable: Set<String> = []
    /// The plugins' answers by what they were asked: 20,000 jobs on one `container:` ask once
    /// (review 68 L4: a call each was a fifth of a dry run's time).
    private struct Asked: Hashable {
        var kind: String, id: String, options: [String: JSONValue], complete: Bool
    }
    private var answers: [Asked: PluginOptionsVerdict?] = [:]

    init(plugins: OnFirstUse<PluginRegistry>) { self.plugins = plugins }

    private mutating func names(_ kind: PluginOptionKind, _ id: String, at location: SourceLocation?, context: String) -> Set<String>? {
        let key = "\(kind):\(id)"
        if let known = described[key] { return known }
        var names: Set<String>?
        do {
            names = try plugins.value.optionNames(kind, of: id)
        } catch {
            // Once per plugin, where it is first used.
            if unusable.insert(id).inserted {
                let problem = error as? EngineError ?? EngineError("\(error)")
                diagnostics.append(Diagnostic(.warning, problem.message + "; its options are not checked here", at: location, context: context,
                                              hint: problem.hint))
            }
        }
        described[key] = names
        return names
    }

    /// The option names of each secret provider entry of `specs` (values are the provider's to
    /// check when it resolves them).
    mutating func checkProviders(_ specs: [SecretSpec], context: String) {
        for spec in specs {
            guard case .provider(let id, let options) = spec.source else { continue }
            check(options, locations: spec.optionLocations, of: "the secret provider", .secrets, id, at: spec.location, context: context)
        }
    }

    /// An error for each of `options` that plugin `id` does not accept for `kind`, at its key;
    /// with `values`, when every name is known, the plugin's refusal of their values (options.h
    /// `check`, ABI 1.5), at the option it names, else at `location`.
    mutating func check(_ options: [String: JSONValue], locations: [String: SourceLocation], of what: String, _ kind: PluginOptionKind, _ id: String,
                        at location: SourceLocation?, context: String, values: Bool = false) {
        // No options: no names to check, but their values may be (a required one missing).
        guard !options.isEmpty || values, let known = names(kind, id, at: location, context: context) else { return }
        var unknown = false
        for name in options.keys.sorted() where !known.contains(name) {
            unknown = true
            diagnostics.append(Diagnostic(
                .error, "\(what) '\(id)' has no option '\(name)'", at: locations[name] ?? location, context: context,
                hint: didYouMean(name, in: known.sorted()).map { "did you mean '\($0)'?" } ?? "its options: \(known.sorted().joined(separator: ", "))"))
        }
        guard values, !unknown else { return }
        // A value made by `${{ }}` is known only when the run makes the instance: an option with
        // one anywhere in it (an entry of a list, a field of a map) is the run's to check.
        func written(_ value: JSONValue) -> Bool {
            switch value {
            case .string(let text): !text.contains("${{")
            case .array(let items): items.allSatisfy(written)
            case .object(let fields): fields.values.allSatisfy(written)
            default: true
            }
        }
        let written = options.filter { written($0.value) }
        let verdict: PluginOptionsVerdict?
        let asked = Asked(kind: kind.rawValue, id: id, options: written, complete: written.count == options.count)
        do {
            if let known = answers[asked] {
                verdict = known
            } else {
                verdict = try plugins.value.checkOptions(kind, of: id, written, complete: asked.complete)
                answers[asked] = verdict
            }
        } catch {
            if unusable.insert(id).inserted {
                let problem = error as? EngineError ?? EngineError("\(error)")
                diagnostics.append(Diagnostic(.warning, problem.message + "; its option values are not checked here", at: location, context: context,
                                              hint: problem.hint))
            }
            return
        }
        guard case .refused(let message, let hint)? = verdict else { return }
        diagnostics.append(Diagnostic(.error, "\(what) '\(id)' refuses its options: \(message)",
                                      at: Self.namedOption(message, in: written).flatMap { locations[$0] } ?? location, context: context, hint: hint))
    }

    /// The option a plugin's refusal is about, when it starts by naming one of `options`
    /// (`option 'max-size' must be …`, `'endpoint' … is plain http`, `ssh executor: 'workdir' …`).
    static func namedOption(_ message: String, in options: [String: JSONValue]) -> String? {
        var rest = Substring(message)
        // After the plugin's name for itself (`ssh executor: 'workdir' …`).
        if let colon = rest.range(of: ": "), !rest[..<colon.lowerBound].contains("'") { rest = rest[colon.upperBound...] }
        if rest.hasPrefix("option ") { rest = rest.dropFirst(7) }
        guard rest.hasPrefix("'"), let end = rest.dropFirst().firstIndex(of: "'") else { return nil }
        let name = String(rest[rest.index(after: rest.startIndex)..<end])
        return options[name] == nil ? nil : name
    }
}

extension ValidateCommand {
    /// A warning for each job whose `runs-on` (as known before the run) no runner of this machine
    /// takes: `run` refuses it before any job starts (audit 64 cli M4: validate said valid). Not an
    /// error: the workflow may be meant for a machine whose configuration maps the label.
    static func unmappedLabels(_ workflow: Workflow, runners: RunnerMap) -> [Diagnostic] {
        var warnings: [Diagnostic] = []
        let contexts = Planner.staticContexts(workflow)
        for job in workflow.jobs where job.call == nil && !job.explicitExecutor && !job.runsOn.isEmpty {
            let instances = (try? Planner.expand(job, workflow: workflow, contexts: contexts).get()) ?? []
            for instance in instances {
                let choice = runners.plannedChoice(for: job, instance: instance, workflow: workflow)
                if case .executor(let reference, _)? = choice, !job.services.isEmpty, !WorkflowRunner.runsServices(reference.pluginID) {
                    // Services where its label sends it: the run fails the job at its start (audit 66 remote L6).
                    let problem = WorkflowRunner.servicesProblem(job, on: reference.pluginID)
                    warnings.append(Diagnostic(.warning, problem.message + " here; 'run' here fails the job", at: job.services.first?.location ?? job.location,
                                               context: "workflow '\(workflow.name)' › job '\(job.id)'", hint: problem.hint))
                    break
                }
                guard case .refuse(let message, let hint, let label)? = choice else { continue }
                let at = job.runsOn.first { $0.value == label }?.location ?? job.runsOn.first?.location ?? job.location
                warnings.append(Diagnostic(.warning, message + "; 'run' here refuses it", at: at, context: "workflow '\(workflow.name)' › job '\(job.id)'",
                                           hint: hint))
                break
            }
        }
        return warnings
    }

    /// A warning for each executor and cache backend the workflow names (literally) that no plugin
    /// on this machine provides. Not an error: the workflow may be meant for a machine that has it;
    /// here `run` refuses such an executor before any job starts, and runs without such a cache.
    static func missingPlugins(_ workflow: Workflow, plugins: OnFirstUse<PluginRegistry>) -> [Diagnostic] {
        var warnings: [Diagnostic] = []
        // Secret providers, each id once (audit 53: validate passed what run refused).
        var providers: Set<String> = []
        func checkProviders(_ specs: [SecretSpec], context: String) {
            for spec in specs {
                guard case .provider(let id, _) = spec.source, providers.insert(id).inserted,
                      let problem = plugins.value.missingSecretProvider(id) else { continue }
                warnings.append(Diagnostic(.warning, "\(problem.message) on this machine; 'run' here refuses the workflow",
                                           at: spec.location, context: context, hint: problem.hint))
            }
        }
        checkProviders(workflow.secrets, context: "workflow '\(workflow.name)'")
        for job in workflow.jobs { checkProviders(job.secrets, context: "workflow '\(workflow.name)' › job '\(job.id)'") }
        for job in workflow.jobs {
            let context = "workflow '\(workflow.name)' › job '\(job.id)'"
            if job.explicitExecutor, let problem = plugins.value.missingExecutor(job.executor.pluginID) {
                warnings.append(Diagnostic(.warning, "\(problem.message) on this machine; 'run' here refuses job '\(job.id)'",
                                           at: job.executor.location ?? job.location, context: context, hint: problem.hint))
            }
            var backends: [(String, SourceLocation?)] = job.caches.compactMap { cache in cache.backend.map { ($0, cache.location) } }
            for step in job.steps where step.uses?.value.lowercased().hasPrefix("actions/cache") == true {
                if let field = step.with.first(where: { $0.name.lowercased() == "backend" })?.value, !field.source.value.contains("${{") {
                    backends.append((field.source.value, field.source.location))
                }
            }
            for (name, location) in backends where !name.isEmpty {
                guard let problem = plugins.value.missingCacheBackend(name) else { continue }
                warnings.append(Diagnostic(.warning, "\(problem.message) on this machine; job '\(job.id)' runs without that cache here",
                                           at: location ?? job.location, context: context, hint: problem.hint))
            }
        }
        return warnings
    }
}

/// A value made by `make` the first time it is asked for, then kept.
final class OnFirstUse<Value: Sendable>: Sendable {
    private let made = Mutex<Value?>(nil)
    private let make: @Sendable () -> Value

    init(_ make: @escaping @Sendable () -> Value) { self.make = make }

    var value: Value {
        made.withLock { made in
            if let made { return made }
            let value = make()
            made = value
            return value
        }
    }
}
