import NixActionsPluginMessages
import Yams

/// `on:`: a string (`on: push`), a list of events, or a map of events to their filters.
extension WorkflowLoader {
    /// The filter keys each event accepts (GitHub's "Workflow syntax", `on.<event>.*`).
    static let triggerKeys: [String: [String]] = [
        "push": ["branches", "branches-ignore", "tags", "tags-ignore", "paths", "paths-ignore"],
        "pull_request": ["branches", "branches-ignore", "paths", "paths-ignore", "types"],
        "pull_request_target": ["branches", "branches-ignore", "paths", "paths-ignore", "types"],
        "workflow_dispatch": ["inputs"],
        "workflow_call": ["inputs", "outputs", "secrets"],
        "workflow_run": ["workflows", "types", "branches", "branches-ignore"],
        "merge_group": ["types", "branches", "branches-ignore"],
        "image_version": ["names", "types", "versions"],
    ]
    static let dispatchInputKeys = ["description", "required", "default", "type", "options"]

    static func compileTriggers(_ node: Node, keyNode: Node, reader: inout NodeReader, context: String) -> WorkflowTriggers {
        var triggers = WorkflowTriggers(location: reader.location(keyNode))
        switch node {
        case .scalar:
            if let name = reader.string(node, what: "on", context: context) {
                triggers.events.append(event(name, reader: &reader, context: context))
            }
        case .sequence(let sequence):
            for item in sequence {
                guard let name = reader.string(item, what: "each event of 'on'", context: context) else { continue }
                if triggers.trigger(name.value) != nil {
                    reader.diagnostics.error("event '\(name.value)' is listed twice in 'on'", at: name.location, context: context,
                                             hint: "remove one of them")
                    continue
                }
                triggers.events.append(event(name, reader: &reader, context: context))
            }
        case .mapping:
            guard let pairs = reader.mapping(node, what: "on", context: context) else { return triggers }
            for (name, nameNode, value) in pairs {
                var trigger = event(Located(name, at: reader.location(nameNode)), reader: &reader, context: context)
                compileFilters(value, into: &trigger, reader: &reader, context: context)
                triggers.events.append(trigger)
            }
        default:
            reader.diagnostics.error("'on' must be an event, a list of events or a mapping, found a \(NodeReader.kind(node))",
                                     at: reader.location(node), context: context, hint: "e.g. on: [push, workflow_dispatch]")
        }
        return triggers
    }

    /// An event by name; a name GitHub does not know is an error with the known names, as GitHub
    /// refuses the file ("Unexpected value"; audit 56 M3: a warning here).
    static func event(_ name: Located<String>, reader: inout NodeReader, context: String) -> EventTrigger {
        if !WorkflowTriggers.knownEvents.contains(name.value) {
            reader.diagnostics.error(
                "'\(name.value)' is not an event GitHub knows", at: name.location, context: context,
                hint: didYouMean(name.value, in: WorkflowTriggers.knownEvents).map { "did you mean '\($0)'?" }
                    ?? "events: \(WorkflowTriggers.knownEvents.joined(separator: ", "))")
        }
        return EventTrigger(name: name.value, location: name.location)
    }

    /// Why `text` is not a POSIX cron schedule as GitHub reads it, or nil.
    static func cronProblem(_ text: String) -> String? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count == 5 else { return "it has \(fields.count) field\(fields.count == 1 ? "" : "s"), a schedule has 5" }
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        let days = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
        let specs: [(name: String, range: ClosedRange<Int>, names: [String], first: Int)] = [
            ("minute", 0...59, [], 0), ("hour", 0...23, [], 0), ("day of month", 1...31, [], 1), ("month", 1...12, months, 1),
            ("day of week", 0...7, days, 0),  // 7 is Sunday too in most crons: not refused
        ]
        for (field, spec) in zip(fields, specs) {
            func value(_ text: Substring) -> Int? {
                if let index = spec.names.firstIndex(of: text.uppercased()) { return index + spec.first }
                guard !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber), let number = Int(text), spec.range.contains(number)
                else { return nil }
                return number
            }
            for item in field.split(separator: ",", omittingEmptySubsequences: false) {
                let parts = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
                if parts.count == 2 {
                    guard let step = Int(parts[1]), step > 0, parts[1].allSatisfy(\.isNumber) else {
                        return "'\(item)' in the \(spec.name) field has a step that is not a positive number"
                    }
                }
                let base = parts[0]
                if base == "*" { continue }
                let bounds = base.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
                guard let low = value(bounds[0]), bounds.count == 1 || value(bounds[1]) != nil else {
                    return "'\(item)' is not a valid \(spec.name) (\(spec.range.lowerBound)-\(spec.range.upperBound)\(spec.names.isEmpty ? "" : " or \(spec.names.first!)-\(spec.names.last!)"))"
                }
                if bounds.count == 2, let high = value(bounds[1]), high < low {
                    return "the range '\(item)' in the \(spec.name) field ends before it starts"
                }
            }
        }
        return nil
    }

    static func compileFilters(_ node: Node, into trigger: inout EventTrigger, reader: inout NodeReader, context: String) {
        let what = "on.\(trigger.name)"
        if case .scalar(let scalar) = node, scalar.style == .plain, GitHubScalars.isNull(scalar.string) { return }
        if trigger.name == "schedule" {
            guard case .sequence(let entries) = node else {
                reader.diagnostics.error("\(what) must be a list of '- cron: ...' entries", at: reader.location(node), context: context,
                                         hint: "e.g. schedule:\n      - cron: '30 5 * * 1'")
                return
            }
            for entry in entries {
                guard let pairs = reader.mapping(entry, what: "each entry of \(what)", context: context, known: ["cron", "timezone"], unknownIgnored: true)
                else { continue }
                for (key, _, value) in pairs where key == "cron" {
                    guard let cron = reader.string(value, what: "\(what).cron", context: context) else { continue }
                    trigger.crons.append(cron.value)
                    if let problem = cronProblem(cron.value) {
                        reader.diagnostics.error("cron '\(cron.value)' is not valid: \(problem)", at: cron.location, context: context,
                                                 hint: "five fields: minute (0-59) hour (0-23) day of month (1-31) month (1-12 or JAN-DEC) day of week (0-6 or SUN-SAT), each *, a value, a range a-b, a list a,b or a step */n")
                    }
                }
            }
            return
        }
        // `reuse-previous-outcome` is a key of GitHub's schema for every event (audit 63 fidelity L7:
        // it was said to be ignored by GitHub).
        let known = (triggerKeys[trigger.name] ?? ["types"]) + (trigger.name == "workflow_call" ? [] : ["reuse-previous-outcome"])
        // GitHub checks only workflow_call's keys; under other events a key it does not know is
        // ignored (real workflows have `paths` under merge_group): a warning, not an error.
        guard let pairs = reader.mapping(node, what: what, context: context, known: known, unknownIgnored: trigger.name != "workflow_call")
        else { return }
        for (key, _, value) in pairs {
            let list = { (reader: inout NodeReader) in reader.stringList(value, what: "\(what).\(key)", context: context) }
            switch key {
            case "branches": trigger.branches = list(&reader)
            case "branches-ignore": trigger.branchesIgnore = list(&reader)
            case "tags": trigger.tags = list(&reader)
            case "tags-ignore": trigger.tagsIgnore = list(&reader)
            case "paths": trigger.paths = list(&reader)
            case "paths-ignore": trigger.pathsIgnore = list(&reader)
            case "types": trigger.types = list(&reader)
            case "workflows", "names", "versions": _ = list(&reader)
            case "reuse-previous-outcome":
                if reader.bool(value, what: "\(what).\(key)", context: context) == true {
                    reader.diagnostics.note("\(what).reuse-previous-outcome: GitHub may reuse an earlier run's outcome; a local run always runs its jobs",
                                            at: reader.location(value), context: context)
                }
            case "inputs": trigger.inputs = compileInputs(value, event: trigger.name, reader: &reader, context: context)
            case "outputs": trigger.outputs = compileCallOutputs(value, reader: &reader, context: context)
            case "secrets": trigger.secrets = compileCallSecrets(value, reader: &reader, context: context)
            default: _ = reader.mapping(value, what: "\(what).\(key)", context: context)
            }
        }
        // GitHub refuses a filter and its -ignore form on the same event.
        for (filter, given, ignored) in [("branches", trigger.branches, trigger.branchesIgnore), ("tags", trigger.tags, trigger.tagsIgnore),
                                         ("paths", trigger.paths, trigger.pathsIgnore)] where given != nil && ignored != nil {
            reader.diagnostics.error(
                "\(what) has both '\(filter)' and '\(filter)-ignore'", at: ignored?.first?.location ?? trigger.location, context: context,
                hint: "use one of them; a pattern starting with '!' in '\(filter)' excludes, as '\(filter)-ignore' would")
        }
    }

    /// `on.workflow_call.outputs`: `NAME: { value: ${{ jobs.ID.outputs.X }}, description }`.
    static func compileCallOutputs(_ node: Node, reader: inout NodeReader, context: String) -> [(name: String, value: TemplateField)] {
        if case .scalar(let scalar) = node, scalar.style == .plain, GitHubScalars.isNull(scalar.string) { return [] }
        guard let pairs = reader.mapping(node, what: "on.workflow_call.outputs", context: context) else { return [] }
        var outputs: [(name: String, value: TemplateField)] = []
        for (name, nameNode, value) in pairs {
            let what = "on.workflow_call.outputs.\(name)"
            guard let fields = reader.mapping(value, what: what, context: context, known: ["value", "description"]) else { continue }
            guard let valueNode = fields.first(where: { $0.key == "value" })?.value else {
                reader.diagnostics.error("\(what) has no 'value'", at: reader.location(nameNode), context: context,
                                         hint: "value: ${{ jobs.JOB.outputs.NAME }}")
                continue
            }
            if let field = reader.template(valueNode, what: "\(what).value", context: context) { outputs.append((name, field)) }
        }
        return outputs
    }

    /// `on.workflow_call.secrets`: `NAME: { required, description }` (or `NAME:` alone).
    static func compileCallSecrets(_ node: Node, reader: inout NodeReader, context: String) -> [(name: String, required: Bool, location: SourceLocation?)] {
        if case .scalar(let scalar) = node, scalar.style == .plain, GitHubScalars.isNull(scalar.string) { return [] }
        guard let pairs = reader.mapping(node, what: "on.workflow_call.secrets", context: context) else { return [] }
        var secrets: [(name: String, required: Bool, location: SourceLocation?)] = []
        for (name, nameNode, value) in pairs {
            var required = false
            if case .scalar(let scalar) = value, scalar.style == .plain, GitHubScalars.isNull(scalar.string) {
            } else if let fields = reader.mapping(value, what: "on.workflow_call.secrets.\(name)", context: context,
                                                  known: ["required", "description"]) {
                if let flag = fields.first(where: { $0.key == "required" })?.value {
                    required = reader.bool(flag, what: "on.workflow_call.secrets.\(name).required", context: context) ?? false
                }
            }
            secrets.append((name, required, reader.location(nameNode)))
        }
        return secrets
    }

    static func compileInputs(_ node: Node, event: String, reader: inout NodeReader, context: String) -> [InputSpec] {
        guard let pairs = reader.mapping(node, what: "on.\(event).inputs", context: context) else { return [] }
        var inputs: [InputSpec] = []
        let kinds = event == "workflow_call" ? ["string", "boolean", "number"] : InputSpec.Kind.allCases.map(\.rawValue)
        for (name, nameNode, value) in pairs {
            let what = "on.\(event).inputs.\(name)"
            var spec = InputSpec(name: name, location: reader.location(nameNode))
            if !isValidIdentifier(name) {
                reader.diagnostics.error("input name '\(name)' is not valid", at: reader.location(nameNode), context: context,
                                         hint: "start with a letter or '_', then letters, digits, '-' or '_'")
            }
            if case .scalar(let scalar) = value, scalar.style == .plain, GitHubScalars.isNull(scalar.string) {
                inputs.append(spec)
                continue
            }
            guard let fields = reader.mapping(value, what: what, context: context, known: dispatchInputKeys, unknownIgnored: event != "workflow_call")
            else { continue }
            var defaultNode: Node?
            var hasOptionsKey = false
            for (key, _, field) in fields {
                switch key {
                case "description": spec.description = reader.string(field, what: "\(what).description", context: context)?.value
                case "required": spec.required = reader.bool(field, what: "\(what).required", context: context) ?? false
                case "default":
                    defaultNode = field
                    if event == "workflow_call", NodeReader.hasExpression(field) {
                        spec.defaultExpression = reader.template(field, what: "\(what).default", context: context)
                    } else {
                        spec.defaultValue = reader.string(field, what: "\(what).default", context: context)?.value
                    }
                case "type":
                    guard let text = reader.string(field, what: "\(what).type", context: context) else { break }
                    if kinds.contains(text.value), let kind = InputSpec.Kind(rawValue: text.value) {
                        spec.kind = kind
                    } else if event != "workflow_call" {
                        // GitHub accepts the file and treats the input as a string.
                        reader.diagnostics.warning(
                            "unknown input type '\(text.value)' for input '\(name)': it is read as a string", at: text.location, context: context,
                            hint: didYouMean(text.value, in: kinds).map { "did you mean '\($0)'?" } ?? "types: \(kinds.joined(separator: ", "))")
                    } else {
                        reader.diagnostics.error(
                            "unknown input type '\(text.value)' for input '\(name)'", at: text.location, context: context,
                            hint: didYouMean(text.value, in: kinds).map { "did you mean '\($0)'?" } ?? "types: \(kinds.joined(separator: ", "))")
                    }
                case "options":
                    hasOptionsKey = true
                    if event == "workflow_call" {
                        reader.diagnostics.error("'options' is for workflow_dispatch inputs of type choice", at: reader.location(field), context: context)
                    }
                    spec.options = reader.stringList(field, what: "\(what).options", context: context).map(\.value)
                default: break
                }
            }
            let noOptions = spec.kind == .choice && spec.options.isEmpty
            if noOptions {
                // One error: not also its default's "not one of the options ()" (audit 64 cli L12).
                reader.diagnostics.error("choice input '\(name)' has \(hasOptionsKey ? "an empty 'options' list" : "no 'options'")",
                                         at: spec.location, context: context, hint: "list the choices, e.g. options: [staging, production]")
            }
            if event == "workflow_call", spec.kind == .string, spec.defaultExpression == nil, let node = defaultNode {
                // A plain `3.10` is the number 3.1 to GitHub, passed on as '3.1' (audit 63 fidelity H2).
                spec.defaultValue = reader.string(reader.gitHubText(node, what: "\(what).default", context: context), what: "\(what).default", context: context)?.value
            }
            if !noOptions, let value = spec.defaultValue, let problem = InputValues.problem(value, for: spec) {
                reader.diagnostics.error("default of input '\(name)': \(problem)", at: reader.location(defaultNode), context: context)
            }
            inputs.append(spec)
        }
        return inputs
    }
}
