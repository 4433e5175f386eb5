import ArgumentParser
import Foundation
import Synchronization
import NixActionsEngine
import NixActionsProcessKit

/// Finds and loads a workflow for a command, printing diagnostics; exits 2 when it is invalid.
enum WorkflowInput {
    /// Why other users may change the workflow file at `path`: it, or its folder (a sticky one
    /// aside), belongs to another user than root and this one, or every user may write to it.
    /// (Writable by its group only is not said: many systems give each user a group of their own.)
    static func othersCanChange(_ path: String) -> String? {
        let real = ProjectCheckout.real(path)
        for (place, what) in [(real, "the workflow file \(path)"), (PathText.parent(real), "the folder of the workflow file \(path)")] {
            var info = stat()
            guard stat(place, &info) == 0, info.st_mode & S_ISVTX == 0 || FileOwnership.foreignOwner(info) != nil else { continue }
            if let problem = FileOwnership.problem(info, groupMay: true) { return "\(what) \(problem)" }
        }
        return nil
    }

    /// - Parameter printWarnings: also print warnings and notes (validate does; run prints warnings only).
    /// - Parameter selected: the jobs a `run` asked for: problems of jobs it would not run (not
    ///   selected, not needed by a selected one) are shown as warnings and do not stop it.
    /// - Parameter environment: what a `.nix` workflow's `envProviders.required` checks (the process's by default).
    /// - Parameter remoteActions: fetches the remote actions of the jobs the run would run (`run`;
    ///   nil for the commands that read the file only).
    /// - Parameter shown: what earlier loads of the same command printed (`validate` of a whole
    ///   project): a diagnostic at the same place with the same words is not printed again (a
    ///   called workflow's, once for itself and once for each caller: audit 63 fidelity L3).
    static func load(_ reference: String, notes: Bool = false, functions: FunctionArities? = nil, selected: [String] = [],
                     environment: [String: String] = ProcessInfo.processInfo.environment,
                     remoteActions: RemoteActionStore? = nil, nixFiles: NixFilesFolder? = nil,
                     shown printed: ShownDiagnostics? = nil, runtimeEnvNames: Set<String> = []) throws -> Workflow {
        let path: String
        switch WorkflowLocator.locate(reference) {
        case .success(let found): path = found
        case .failure(let diagnostic):
            standardError(diagnostic.description + "\n")
            throw ExitCode(ExitStatus.usage)
        }
        if let problem = othersCanChange(path) {
            // What the file says runs as this user: another user who may change it may run
            // anything as this one (audit 60 users L1: said of plugins, TMPDIR and caches, not of this).
            standardError("warning: \(problem): the commands it runs run as you\n"
                          + "  hint: make it yours alone: chmod o-w (and chown) the file and its folder\n")
        }
        if let owner = WorkflowLocator.projectHolding(file: path) {
            let here = ProjectCheckout.real(FileManager.default.currentDirectoryPath), there = ProjectCheckout.real(owner)
            if here != there {
            // The project is the current folder, whatever folder holds the file (cli.md); said,
            // as jobs then get this folder's files and its local actions (audit 57 UX M4).
            standardError("nixactions: note: the project is the current folder (\(here)), not \(there), whose workflow this is: "
                          + "jobs get the current folder's files; to run it on its own project: cd \(there)\n")
            }
        }
        var result = NixEvaluation.load(file: path, functionArities: functions, environment: environment, filesFolder: nixFiles)
        // The jobs a run of `selected` runs (nil: all of them, or a selection that does not resolve).
        let selectedRun = result.workflow.flatMap { runningJobs($0, selected: selected) }
        if var workflow = result.workflow, !workflow.actionUses.isEmpty || workflow.jobs.contains(where: { $0.call != nil }) {
            // Local actions (`uses: ./PATH`) are read from the project, the folder nixactions runs
            // in; remote ones are fetched for the jobs a run runs (none for a selection that does
            // not resolve), once the file is valid.
            let running: Set<String>? = selected.isEmpty ? nil : selectedRun ?? []
            // Not while the jobs it would run have errors (those of other jobs do not stop a run).
            let blocked = result.diagnostics.contains { $0.severity == .error && ($0.jobID.map { running?.contains($0) ?? true } ?? true) }
            let fetching = blocked ? nil : remoteActions
            // A signal while actions are fetched ends the git processes (their staging folders go
            // with the fetch), then the run exits 130; before, it would exit at once and leave them.
            if fetching != nil { SignalHub.handler.withLock { $0 = { _ in HostCommands.cancelAll() } } }
            let project = FileManager.default.currentDirectoryPath
            if !workflow.actionUses.isEmpty {
                result.diagnostics += ActionLoader.checkLocalActions(
                    &workflow, projectDirectory: project, functions: functions, remote: fetching, running: running)
            }
            // Reusable workflows this one calls (`jobs.<id>.uses: ./.github/workflows/FILE`), with their actions.
            result.diagnostics += WorkflowCalls.resolve(&workflow, projectDirectory: project, functions: functions, remote: fetching, running: running)
            if fetching != nil {
                SignalHub.handler.withLock { $0 = nil }
                if SignalHub.received.load(ordering: .relaxed) {
                    standardError("nixactions: cancelled while fetching actions\n")
                    throw ExitCode(ExitStatus.cancelled)
                }
            }
            result.workflow = workflow
        }
        if let running = selectedRun {
            for index in result.diagnostics.indices where result.diagnostics[index].severity == .error {
                guard let job = result.diagnostics[index].jobID, !running.contains(job) else { continue }
                result.diagnostics[index].severity = .warning
                result.diagnostics[index].message += " (in job '\(job)', which this run does not run)"
            }
        }
        // Masked as a dry run masks (audit 58 secrets L1: validate, list and graph showed a
        // declared secret's value that the environment holds, written into the workflow).
        // `env.X` that `--env`, `--env-file` or NIXACTIONS_ENV_FILES gives this run is defined
        // (audit 64 cli M6: the warning told the user to pass what they had just passed).
        if !runtimeEnvNames.isEmpty {
            result.diagnostics.removeAll { $0.undefinedEnvName.map(runtimeEnvNames.contains) ?? false }
        }
        let shown = result.diagnostics.filter { notes || $0.severity != .note }
        var repeatedErrors = 0
        if !shown.isEmpty {
            let mask = Self.masker(result.workflow.map { [$0] } ?? [], environments: [environment])
            for diagnostic in shown {
                if let printed, !printed.first(diagnostic) {
                    if diagnostic.severity == .error { repeatedErrors += 1 }
                    continue
                }
                standardError(mask(diagnostic.description) + "\n")
            }
        }
        guard let workflow = result.workflow, !result.hasErrors else {
            let count = result.diagnostics.filter { $0.severity == .error }.count
            sayErrors(count, in: path, shownAbove: repeatedErrors)
            throw ExitCode(ExitStatus.usage)
        }
        return workflow
    }

    /// What one command printed of its workflows' diagnostics, by place, severity and words.
    final class ShownDiagnostics {
        private var keys: Set<String> = []
        init() {}
        /// True the first time a diagnostic at this place with these words is seen.
        func first(_ diagnostic: Diagnostic) -> Bool {
            guard let location = diagnostic.location else { return true }
            return keys.insert("\(location)\u{0}\(diagnostic.severity)\u{0}\(diagnostic.message)\u{0}\(diagnostic.hint ?? "")").inserted
        }
    }

    /// The line that ends a file's errors: `nixactions: PATH: N errors`, and how many of them a
    /// workflow it calls already showed (`shownAbove`).
    static func sayErrors(_ count: Int, in path: String, shownAbove: Int = 0) {
        let earlier = shownAbove > 0 ? " (\(shownAbove) in a workflow it calls, shown above)" : ""
        standardError("nixactions: \(path): \(count) error\(count == 1 ? "" : "s")\(earlier)\n")
    }

    /// What a command that runs nothing masks in what it prints (`validate`, `list`, `graph`,
    /// `run --dry-run`, and every command's diagnostics): the values `environments` (first wins)
    /// hold for the secrets the workflows name (declared, referenced as `secrets.NAME`, listed
    /// for the env provider), and those of variables whose names look secret (`*_TOKEN`, …),
    /// as a run masks them. No provider is asked.
    static func environmentSecretValues(_ workflows: [Workflow], environments: [[String: String]]) -> [String] {
        var names: Set<String> = []
        for workflow in workflows {
            names.formUnion(workflow.secretReferences.map(\.name))
            for spec in workflow.secrets + workflow.jobs.flatMap(\.secrets) {
                switch spec.source {
                case .name(let name): names.insert(name)
                case .provider(let id, let options):
                    guard id == "env", case .array(let listed)? = options["names"] else { continue }
                    for case .string(let name) in listed { names.insert(name) }
                }
            }
        }
        let byName = environments.flatMap { $0.filter { SecretNamePolicy.looksSecret($0.key) }.map(\.value) }
        // Values written in the workflow's or a job's `env:` under such a name, as a run masks
        // them from its start (audit 66 output L4).
        let written = workflows.flatMap { $0.env + $0.jobs.flatMap(\.env) }.filter {
            $0.value.template.isLiteral && (names.contains($0.name) || SecretNamePolicy.looksSecret($0.name))
        }.map(\.value.source.value)
        return names.compactMap { name in environments.lazy.compactMap { $0[name] }.first } + byName + written.filter { !$0.isEmpty }
    }

    /// `environmentSecretValues` of `workflows` (and the process's environment) as a function that
    /// masks a text; the identity when there is nothing to mask.
    static func masker(_ workflows: [Workflow], environments: [[String: String]] = []) -> (String) -> String {
        let values = environmentSecretValues(workflows, environments: environments + [ProcessInfo.processInfo.environment])
        guard !values.isEmpty else { return { $0 } }
        let redactor = Redactor()
        for value in values { _ = redactor.add(value) }
        return redactor.isEmpty ? { $0 } : { redactor.redact($0) }
    }

    /// The jobs a run of `selected` runs, with those they need; nil when `selected` is empty, names
    /// a job the workflow does not have, or the graph has a cycle (those are errors said elsewhere).
    static func runningJobs(_ workflow: Workflow, selected: [String]) -> Set<String>? {
        guard !selected.isEmpty, selected.allSatisfy({ workflow.job($0) != nil }) else { return nil }
        let graph = JobGraph(workflow)
        return graph.cycle() == nil ? Set(graph.closure(of: selected)) : nil
    }

    /// The plan of `jobs` (all when empty), or exit 2 naming an unknown job.
    static func plan(_ workflow: Workflow, jobs: [String], context: RunContext? = nil) throws -> Plan {
        for name in jobs where workflow.job(name) == nil {
            let hint = didYouMean(name, in: workflow.jobs.map(\.id)).map { "did you mean '\($0)'?" }
                ?? "jobs: \(workflow.jobs.map(\.id).joined(separator: ", "))"
            standardError(Diagnostic(.error, "workflow '\(workflow.name)' has no job '\(name)'", hint: hint).description + "\n")
            throw ExitCode(ExitStatus.usage)
        }
        switch Planner.plan(workflow, selected: jobs, context: context) {
        case .success(let plan):
            for (job, diagnostic) in plan.strategyFailures {
                var warning = diagnostic
                warning.severity = .warning
                warning.message += "; job '\(job)' fails when it is due, the jobs that do not need it run"
                standardError(warning.description + "\n")
            }
            return plan
        case .failure(let diagnostic):
            standardError(diagnostic.description + "\n")
            throw ExitCode(ExitStatus.usage)
        }
    }
}
