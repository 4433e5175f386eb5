import Foundation
import NixActionsPluginMessages
import Yams

/// The result of loading a workflow: the compiled workflow (nil when it could not be built at all)
/// and every problem found, all at once.
public struct LoadResult: Sendable {
    public var workflow: Workflow?
    public var diagnostics: [Diagnostic]

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Turns workflow YAML into a typed `Workflow`, reporting every problem with its position.
public enum WorkflowLoader {
    static let workflowKeys = ["name", "run-name", "on", "env", "defaults", "jobs", "permissions", "concurrency"]
    /// GitHub-only keys: accepted, with a note that they do not apply locally.
    static let githubOnlyWorkflowKeys: Set<String> = ["on", "run-name", "permissions", "concurrency"]
    static let jobKeys = [
        "name", "needs", "if", "runs-on", "executor", "container", "env", "defaults", "steps", "outputs",
        "timeout-minutes", "timeout", "continue-on-error", "strategy", "retry", "cache", "secrets",
        "permissions", "environment", "concurrency", "services",
    ]
    static let githubOnlyJobKeys: Set<String> = ["permissions", "environment", "concurrency"]
    /// Keys a later version implements: parsed now, refused by `run` rather than silently ignored.
    static let notYetJobKeys: Set<String> = [
        "container", "outputs", "timeout-minutes", "timeout", "strategy", "retry", "cache", "secrets", "services",
    ]
    static let stepKeys = [
        "id", "name", "run", "shell", "working-directory", "env", "if", "timeout-minutes", "timeout",
        "continue-on-error", "retry", "uses", "with",
    ]
    static let notYetStepKeys: Set<String> = ["timeout-minutes", "timeout", "retry", "uses", "with"]

    /// Load a workflow file.
    public static func load(file path: String) -> LoadResult {
        guard let data = FileManager.default.contents(atPath: path) else {
            let diagnostic = Diagnostic(
                .error, "cannot read workflow file '\(path)'",
                hint: FileManager.default.fileExists(atPath: path) ? "check its permissions" : "no such file")
            return LoadResult(workflow: nil, diagnostics: [diagnostic])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return LoadResult(workflow: nil, diagnostics: [Diagnostic(.error, "'\(path)' is not UTF-8 text")])
        }
        return load(yaml: text, file: path)
    }

    /// Load a workflow from YAML text; `file` names it in diagnostics.
    public static func load(yaml: String, file: String) -> LoadResult {
        var reader = NodeReader(file: file)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                reader.diagnostics.error(
                    "the workflow file is empty", at: SourceLocation(file: file, line: 1, column: 1),
                    hint: "a workflow needs at least 'jobs:' with one job that has 'steps:'")
                return LoadResult(workflow: nil, diagnostics: reader.diagnostics.sorted)
            }
            root = node
        } catch {
            reader.diagnostics.append(yamlDiagnostic(error, file: file, yaml: yaml))
            return LoadResult(workflow: nil, diagnostics: reader.diagnostics.sorted)
        }
        let baseName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let workflow = compileWorkflow(root, reader: &reader, defaultName: baseName)
        if let workflow { Validator.validate(workflow, into: &reader.diagnostics) }
        return LoadResult(workflow: workflow, diagnostics: reader.diagnostics.sorted)
    }

    static func yamlDiagnostic(_ error: any Error, file: String, yaml: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        if let error = error as? YamlError {
            switch error {
            case .duplicatedKeysInMapping(let duplicates, let context):
                let key = duplicates.first ?? ""
                return Diagnostic(
                    .error, "duplicate key '\(key)'",
                    at: secondOccurrence(of: key, in: yaml, from: context.mark)
                        .map { SourceLocation(file: file, line: $0.line, column: $0.column) } ?? at(context.mark),
                    hint: "YAML keeps only one of them; remove or merge the other")
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                var message = "invalid YAML: \(problem)"
                if let context { message += " (\(context.text) at \(context.mark.line):\(context.mark.column))" }
                return Diagnostic(.error, message, at: at(mark), hint: "check indentation and quoting on this line")
            case .reader(let problem, _, _, _):
                return Diagnostic(.error, "invalid YAML: \(problem)", at: SourceLocation(file: file, line: 1, column: 1))
            default:
                return Diagnostic(.error, "invalid YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
            }
        }
        return Diagnostic(.error, "invalid YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
    }

    /// Where `key:` appears for the second time at the indentation of the mapping that starts at `mark`.
    static func secondOccurrence(of key: String, in yaml: String, from mark: Mark) -> (line: Int, column: Int)? {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        var seen = 0
        for index in max(0, mark.line - 1)..<lines.count {
            let line = lines[index]
            let indent = line.prefix { $0 == " " }.count
            guard indent + 1 == mark.column || (index == mark.line - 1) else { continue }
            let rest = line.dropFirst(indent)
            for candidate in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(candidate + ":") {
                seen += 1
                if seen == 2 { return (index + 1, indent + 1) }
            }
        }
        return nil
    }

    static func compileWorkflow(_ root: Node, reader: inout NodeReader, defaultName: String) -> Workflow? {
        var workflow = Workflow(
            name: defaultName, file: reader.file, env: [], defaults: RunDefaults(), jobs: [], unsupported: [])
        let context = "workflow '\(defaultName)'"
        guard let pairs = reader.mapping(root, what: "the workflow", context: nil, known: workflowKeys) else {
            return nil
        }
        var jobsNode: Node?
        for (key, keyNode, value) in pairs {
            switch key {
            case "name":
                if let name = reader.string(value, what: "name", context: context) { workflow.name = name.value }
            case "env": workflow.env = reader.env(value, context: context)
            case "defaults": workflow.defaults = compileDefaults(value, reader: &reader, context: context)
            case "jobs": jobsNode = value
            default:
                if githubOnlyWorkflowKeys.contains(key) {
                    reader.diagnostics.note(
                        "'\(key)' is a GitHub-only key; NixActions accepts it and does not use it",
                        at: reader.location(keyNode), context: context)
                }
            }
        }
        let workflowContext = "workflow '\(workflow.name)'"
        guard let jobsNode else {
            reader.diagnostics.error(
                "the workflow has no 'jobs'", at: reader.location(root), context: workflowContext,
                hint: "add 'jobs:' with at least one job, e.g.\n    jobs:\n      build:\n        steps:\n          - run: make")
            return workflow
        }
        guard let jobPairs = reader.mapping(jobsNode, what: "jobs", context: workflowContext) else { return workflow }
        if jobPairs.isEmpty {
            reader.diagnostics.error("'jobs' is empty", at: reader.location(jobsNode), context: workflowContext,
                                     hint: "add at least one job with 'steps:'")
        }
        for (id, idNode, value) in jobPairs {
            if !isValidIdentifier(id) {
                reader.diagnostics.error(
                    "job id '\(id)' is not valid", at: reader.location(idNode), context: workflowContext,
                    hint: "start with a letter or '_', then letters, digits, '-' or '_'")
                continue
            }
            if let job = compileJob(id, value, keyNode: idNode, reader: &reader, workflow: &workflow) {
                workflow.jobs.append(job)
            }
        }
        return workflow
    }

    static func compileDefaults(_ node: Node, reader: inout NodeReader, context: String) -> RunDefaults {
        var defaults = RunDefaults()
        guard let pairs = reader.mapping(node, what: "defaults", context: context, known: ["run"]) else { return defaults }
        for (_, _, runNode) in pairs {
            guard let runPairs = reader.mapping(
                runNode, what: "defaults.run", context: context, known: ["shell", "working-directory"])
            else { continue }
            for (key, _, value) in runPairs {
                let text = reader.string(value, what: "defaults.run.\(key)", context: context)
                if key == "shell" { defaults.shell = text } else { defaults.workingDirectory = text }
            }
        }
        return defaults
    }

    static func compileJob(
        _ id: String, _ node: Node, keyNode: Node, reader: inout NodeReader, workflow: inout Workflow
    ) -> Job? {
        let context = "workflow '\(workflow.name)' › job '\(id)'"
        guard let pairs = reader.mapping(node, what: "job '\(id)'", context: context, known: jobKeys) else {
            return nil
        }
        var job = Job(
            id: id, name: nil, needs: [], condition: nil, executor: .local, env: [], defaults: RunDefaults(),
            steps: [], continueOnError: false, location: reader.location(keyNode))
        var sawSteps = false
        for (key, keyNode, value) in pairs {
            switch key {
            case "name": job.name = reader.string(value, what: "name", context: context)?.value
            case "needs": job.needs = reader.stringList(value, what: "needs", context: context)
            case "if": job.condition = reader.string(value, what: "if", context: context)
            case "runs-on":
                // Labels map to executors through configuration; every label means `local` for now.
                _ = reader.stringList(value, what: "runs-on", context: context)
            case "executor":
                if let executor = compileExecutor(value, reader: &reader, context: context) { job.executor = executor }
            case "env": job.env = reader.env(value, context: context)
            case "defaults": job.defaults = compileDefaults(value, reader: &reader, context: context)
            case "continue-on-error":
                job.continueOnError = reader.bool(value, what: "continue-on-error", context: context) ?? false
            case "steps":
                sawSteps = true
                guard case .sequence(let steps) = value else {
                    reader.diagnostics.error(
                        "steps must be a list, found a \(NodeReader.kind(value))", at: reader.location(value),
                        context: context, hint: "write each step as '- run: COMMAND'")
                    continue
                }
                if steps.isEmpty {
                    reader.diagnostics.error("job '\(id)' has no steps", at: reader.location(value), context: context)
                }
                for (index, stepNode) in steps.enumerated() {
                    if let step = compileStep(index, stepNode, reader: &reader, jobContext: context, workflow: &workflow) {
                        job.steps.append(step)
                    }
                }
            default:
                if githubOnlyJobKeys.contains(key) {
                    reader.diagnostics.note(
                        "'\(key)' is a GitHub-only key; NixActions accepts it and does not use it",
                        at: reader.location(keyNode), context: context)
                } else if notYetJobKeys.contains(key) {
                    workflow.unsupported.append(Located("job '\(id)': '\(key)'", at: reader.location(keyNode)))
                }
            }
        }
        if !sawSteps {
            reader.diagnostics.error(
                "job '\(id)' has no 'steps'", at: reader.location(keyNode), context: context,
                hint: "add 'steps:' with at least one '- run: COMMAND'")
        }
        return job
    }

    static func compileExecutor(_ node: Node, reader: inout NodeReader, context: String) -> ExecutorReference? {
        if case .scalar = node {
            guard let id = reader.string(node, what: "executor", context: context) else { return nil }
            return ExecutorReference(pluginID: id.value, location: id.location)
        }
        guard let pairs = reader.mapping(node, what: "executor", context: context, known: ["plugin", "with"]) else {
            return nil
        }
        var reference = ExecutorReference(pluginID: "", location: reader.location(node))
        for (key, _, value) in pairs {
            if key == "plugin" {
                reference.pluginID = reader.string(value, what: "executor.plugin", context: context)?.value ?? ""
            } else if case .object(let options) = reader.json(value).value {
                reference.options = options
            } else {
                reader.diagnostics.error("executor.with must be a mapping", at: reader.location(value), context: context)
            }
        }
        if reference.pluginID.isEmpty {
            reader.diagnostics.error(
                "executor needs a 'plugin'", at: reader.location(node), context: context,
                hint: "e.g. executor: { plugin: local }")
            return nil
        }
        return reference
    }

    static func compileStep(
        _ index: Int, _ node: Node, reader: inout NodeReader, jobContext: String, workflow: inout Workflow
    ) -> Step? {
        var context = "\(jobContext) › step \(index + 1)"
        guard let pairs = reader.mapping(node, what: "step \(index + 1)", context: context, known: stepKeys) else {
            return nil
        }
        if let name = pairs.first(where: { $0.key == "name" })?.value.string { context += " '\(name)'" }
        var step = Step(
            index: index, id: nil, name: nil, run: nil, shell: nil, workingDirectory: nil, env: [], condition: nil,
            continueOnError: false, location: reader.location(node))
        var usesNode: Node?
        for (key, keyNode, value) in pairs {
            switch key {
            case "id":
                if let id = reader.string(value, what: "id", context: context) {
                    if !isValidIdentifier(id.value) {
                        reader.diagnostics.error(
                            "step id '\(id.value)' is not valid", at: id.location, context: context,
                            hint: "start with a letter or '_', then letters, digits, '-' or '_'")
                    }
                    step.id = id.value
                }
            case "name": step.name = reader.string(value, what: "name", context: context)?.value
            case "run": step.run = reader.string(value, what: "run", context: context)
            case "shell": step.shell = reader.string(value, what: "shell", context: context)
            case "working-directory":
                step.workingDirectory = reader.string(value, what: "working-directory", context: context)
            case "env": step.env = reader.env(value, context: context)
            case "if": step.condition = reader.string(value, what: "if", context: context)
            case "continue-on-error":
                step.continueOnError = reader.bool(value, what: "continue-on-error", context: context) ?? false
            case "uses":
                usesNode = value
                workflow.unsupported.append(Located("\(context): 'uses'", at: reader.location(keyNode)))
            default:
                if notYetStepKeys.contains(key) {
                    workflow.unsupported.append(Located("\(context): '\(key)'", at: reader.location(keyNode)))
                }
            }
        }
        if step.run == nil && usesNode == nil {
            reader.diagnostics.error(
                "step \(index + 1) has neither 'run' nor 'uses'", at: reader.location(node), context: context,
                hint: "add 'run: COMMAND'")
        } else if step.run != nil && usesNode != nil {
            reader.diagnostics.error(
                "step \(index + 1) has both 'run' and 'uses'", at: reader.location(usesNode), context: context,
                hint: "split it into two steps")
        }
        return step
    }
}
