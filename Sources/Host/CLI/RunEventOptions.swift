import ArgumentParser
import Foundation
import NixActionsEngine
import NixActionsPluginMessages
import NixActionsProcessKit

/// `run`'s `--event`, `--event-path`, `--input`, `--var` and `--var-file`: what the run's `github`,
/// `inputs` and `vars` contexts hold, with what the project's git repository says.
struct RunEventOptions: ParsableArguments {
    @Option(name: .customLong("event"), help: ArgumentHelp(
        "The event of the run: push, pull_request, workflow_dispatch, …",
        discussion: "Default, as act: the workflow's only event when 'on:' lists one, else push."))
    var event: String?

    /// `--event`, else the workflow's only event (act's rule: `on: workflow_dispatch` alone runs as
    /// a dispatch, so `--input` reaches `github.event.inputs`; audit 57 UX H2), else `push`.
    func eventName(for workflow: Workflow) -> String {
        if let event { return event }
        if let only = workflow.triggers?.events, only.count == 1 { return only[0].name }
        return "push"
    }

    @Option(name: .customLong("event-path"), help: "A JSON file with the event's payload (github.event); default: one built from git.", completion: .file(extensions: ["json"]))
    var eventPath: String?

    @Option(name: .customLong("input"), help: "A workflow input (on.workflow_dispatch.inputs / on.workflow_call.inputs): NAME=VALUE; repeatable.")
    var inputs: [String] = []

    @Option(name: .customLong("var"), help: "A configuration variable (vars.NAME): NAME=VALUE; repeatable; wins over --var-file and config.yml's vars.")
    var vars: [String] = []

    @Option(name: .customLong("var-file"), help: "Read vars from a file of NAME=VALUE lines (dotenv syntax); repeatable; wins over config.yml's vars.", completion: .file())
    var varFiles: [String] = []

    func validate() throws {
        try Self.check(inputs: inputs, vars: vars)
        if let event, event.isEmpty || event.contains(where: { !($0.isLetter || $0.isNumber || $0 == "_") }) {
            throw ValidationError("--event '\(event)' is not an event name (e.g. push, pull_request, workflow_dispatch)")
        }
    }

    /// `--input` and `--var` entries as `run` and `graph` take them: NAME=VALUE, a var's NAME a variable name.
    static func check(inputs: [String], vars: [String]) throws {
        for entry in inputs where !entry.contains("=") || entry.hasPrefix("=") {
            throw ValidationError("--input '\(entry)' must be NAME=VALUE")
        }
        for entry in vars {
            let name = String(entry.prefix { $0 != "=" })
            guard entry.contains("="), Self.isVariableName(name) else {
                throw ValidationError("--var '\(entry)' must be NAME=VALUE with NAME letters, digits and '_', not starting with a digit")
            }
        }
    }

    /// NAME=VALUE entries (checked by `check`) as pairs, in order.
    static func pairs(_ entries: [String]) -> [(name: String, value: String)] {
        entries.map { entry in
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || CharacterSet.alphanumerics.contains($0)) }
    }

    /// `.nixactions/config.yml`'s vars, then `--var-file`s, then `--var`s (later ones win).
    func variables(config: [String: String]) throws -> [String: String] {
        var values = config
        for file in varFiles {
            let text = try RunCommand.readOptionFile(file, option: "--var-file")
            switch Dotenv.parse(text) {
            case .success(let entries):
                for entry in entries {
                    guard Self.isVariableName(entry.name) else {
                        standardError("\(file):\(entry.line): error: '\(entry.name)' is not a valid variable name (letters, digits, '_'; not starting with a digit)\n")
                        throw ExitCode(ExitStatus.usage)
                    }
                    values[entry.name] = entry.value
                }
            case .failure(let error):
                standardError("\(file):\(error.line): error: \(error.message) (--var-file)\n")
                throw ExitCode(ExitStatus.usage)
            }
        }
        for (name, value) in Self.pairs(vars) { values[name] = value }
        return values
    }

    /// The payload of `--event-path`: a JSON object, or exit 2 naming the file and the position.
    func givenPayload() throws -> ExpressionObject? {
        guard let eventPath else { return nil }
        let text = try RunCommand.readOptionFile(eventPath, option: "--event-path")
        let value: ExpressionValue
        do {
            value = try ExpressionValue.fromJSON(text)
        } catch {
            let before = Array(text.utf8.prefix(error.offset))
            let line = before.filter { $0 == 0x0A }.count + 1
            let column = before.count - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
            standardError("\(eventPath):\(line):\(column): error: \(error.message) (--event-path)\n")
            throw ExitCode(ExitStatus.usage)
        }
        guard case .object(let members) = value else {
            standardError("\(eventPath):1:1: error: an event payload must be a JSON object (--event-path)\n")
            throw ExitCode(ExitStatus.usage)
        }
        return members
    }

    /// `--input` values: a given payload's `inputs` first, the command line's over them.
    func inputPairs(payload: ExpressionObject?) -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        if case .object(let given)? = payload?["inputs"] {
            for (name, value) in given.sorted(by: { $0.key < $1.key }) {
                switch value {
                case .string(let text): pairs.append((name, text))
                case .bool(let flag): pairs.append((name, flag ? "true" : "false"))
                case .number: pairs.append((name, value.toJSON(pretty: false)))
                default: continue
                }
            }
        }
        return pairs + Self.pairs(inputs)
    }

    /// The run's context and its payload, with a warning when the event would not trigger the
    /// workflow on GitHub. The run number is the one the run will take (`RunContext.take` takes it).
    func makeContext(_ workflow: Workflow, configVars: [String: String]) throws -> (context: RunContext, payload: ExpressionValue, git: GitRepository) {
        let host = ProcessInfo.processInfo.environment
        let project = FileManager.default.currentDirectoryPath
        let event = eventName(for: workflow)
        if !WorkflowTriggers.knownEvents.contains(event) {
            let hint = didYouMean(event, in: WorkflowTriggers.knownEvents).map { "did you mean '\($0)'?" }
                ?? "events: \(WorkflowTriggers.knownEvents.joined(separator: ", "))"
            standardError("warning: --event '\(event)' is not an event GitHub knows (hint: \(hint))\n")
        }
        let payload = try givenPayload()
        // GitHub gives inputs to a workflow_dispatch or workflow_call run only: a push, a schedule
        // (any event the file listens to) has none, so nothing is required and no default is set
        // (tailscale's `inputs.tag != null`). An event the file does not listen to is a run forced
        // by hand, which takes them.
        let declared = ["workflow_dispatch", "workflow_call"].contains(event) || workflow.triggers?.trigger(event) == nil
        let inputs: InputValues.Resolved
        switch InputValues.resolve(inputPairs(payload: payload), triggers: workflow.triggers, applyDeclarations: declared) {
        case .success(let resolved): inputs = resolved
        case .failure(let problems):
            for problem in problems.diagnostics { standardError(problem.description + "\n") }
            throw ExitCode(ExitStatus.usage)
        }
        let variables = try variables(config: configVars)
        let counter = RunCounter.peek(in: project + "/.nixactions")
        let git = GitRepository.read(at: project)
        let run = ProjectRun(
            workflow: workflow, git: git, eventName: event, givenPayload: payload, inputs: inputs,
            vars: variables, runNumber: counter.number, runID: counter.id, eventPath: "", hostEnvironment: host)
        let facts = run.facts
        let built = run.payload(facts)
        var trigger = run.triggerEvent(facts)
        if workflow.triggers?.trigger(event) != nil {
            // `[skip ci]` in the head commit's message (audit 55 F5: a run GitHub would skip went on unsaid).
            if event == "push", case .string(let message)? = built.property("head_commit")?.property("message") {
                trigger.headMessage = message
            } else if event == "pull_request" {
                trigger.headMessage = git.commit(facts.sha)?.message
            }
        }
        if let reason = TriggerCheck.reason(workflow.triggers, trigger) {
            standardError("warning: on GitHub, this \(event) would not run workflow '\(workflow.name)': \(reason); running it anyway\n")
        }
        var context = run.context(facts, payload: built)
        let problems = InputValues.evaluateDefaults(declared ? workflow.triggers?.inputs ?? [] : [], github: .sortedObject(context.github),
                                                    vars: .sortedObject(context.vars), into: &context.inputs)
        if !problems.isEmpty {
            for problem in problems { standardError(problem.description + "\n") }
            throw ExitCode(ExitStatus.usage)
        }
        return (context, built, git)
    }
}

extension RunContext {
    /// Take the project's next run number and id (`.nixactions/run-number`, under a lock).
    mutating func takeRunNumber(project: String) {
        let counter = RunCounter.next(in: project + "/.nixactions")
        if let refused = counter.refused { standardError("warning: \(refused)\n") }
        github["run_number"] = .string(String(counter.number))
        github["run_id"] = .string(String(counter.id))
        environment["GITHUB_RUN_NUMBER"] = String(counter.number)
        environment["GITHUB_RUN_ID"] = String(counter.id)
    }

    /// Write the payload to `folder/event.json` and point `github.event_path` and `GITHUB_EVENT_PATH` at it.
    mutating func writeEvent(_ payload: ExpressionValue, in folder: String) {
        let path = folder + "/event.json"
        // A plain write (mode 0600) into the private run folder: Foundation's createFile writes a
        // temporary file, fsyncs it (1.3 ms at every run's start here) and renames it, for a file
        // that is removed when the run ends.
        if let error = FastFiles.write(payload.toJSON(pretty: true), to: path) {
            // Said, not silently unset (audit 57 M3): steps that read it will see why.
            standardError("warning: cannot write the event's payload to \(path): \(String(cString: strerror(error))); "
                          + "GITHUB_EVENT_PATH and github.event_path are not set in this run\n")
            return
        }
        github["event_path"] = .string(path)
        environment["GITHUB_EVENT_PATH"] = path
    }
}
