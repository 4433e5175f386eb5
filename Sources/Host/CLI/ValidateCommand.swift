import ArgumentParser
import Foundation
import NixActionsEngine
import NixActionsPluginHost
import Synchronization

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check workflows and report every problem with its file:line:column.",
        discussion: "Exit status: 0 when every workflow is valid (warnings do not fail), 2 otherwise."
    )

    @Argument(help: "Workflow files or names; none: every workflow of the project, as 'list' finds them.")
    var workflows: [String] = []

    func run() async throws {
        var failed = false
        var workflows = self.workflows
        if workflows.isEmpty {
            // The whole project in one command (audit 57 UX M9), by name: a name in
            // .nixactions/workflows/ hides the same in .github/workflows/, as for run.
            workflows = WorkflowLocator.available(in: FileManager.default.currentDirectoryPath)
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
        for reference in workflows {
            do {
                // Unsupported constructs are warnings among the other diagnostics.
                let workflow = try WorkflowInput.load(reference, notes: true, functions: functions)
                for warning in Self.missingPlugins(workflow, plugins: plugins) { standardError(warning.description + "\n") }
                // Left for the exit to free when the executable runs this command (`FreeAtExit`).
                FreeAtExit.keep(workflow)
                print("\(workflow.file): valid")
            } catch {
                failed = true
            }
        }
        if failed { throw ExitCode(ExitStatus.usage) }
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
