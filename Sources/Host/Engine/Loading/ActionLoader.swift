import Foundation
import Yams

/// Reads an action's metadata file (`action.yml`) the way GitHub's runner reads it
/// (`action_yaml.json`): any top-level key may be there, `inputs` and `outputs` are mappings,
/// and a composite action's steps have the keys of GitHub's composite steps, `shell` required on
/// a `run` step. Expressions are checked against what a composite action can read: its `inputs`,
/// `github`, `env`, `steps` (its own), `job`, `runner`, `strategy`, `matrix`; never `secrets`
/// (pass a secret as an input, as on GitHub).
public enum ActionLoader {
    /// The names of an action's file in its folder, in the order GitHub looks for them.
    public static let fileNames = ["action.yml", "action.yaml"]
    /// How deep composite actions may use each other (GitHub's limit).
    public static let maxDepth = 10
    /// GitHub's composite-step keys: a run step's and a uses step's together (each is checked below).
    static let compositeStepKeys = ["id", "name", "run", "shell", "working-directory", "env", "if", "continue-on-error", "uses", "with"]
    static let stepContexts = ["github", "inputs", "strategy", "matrix", "steps", "job", "runner", "env"]
    static let defaultContexts = ["github", "strategy", "matrix", "job", "runner"]

    public struct Result: Sendable {
        public var action: ActionDefinition?
        public var diagnostics: [Diagnostic]
        public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    }

    /// Compile an action's file from its text. `file` names it in diagnostics; `context` says where
    /// it is used ("workflow 'W' › job 'J' › step 2").
    public static func load(yaml text: String, file: String, context: String? = nil, functions: FunctionArities? = nil) -> Result {
        let yaml = text.utf8.starts(with: [0xEF, 0xBB, 0xBF]) ? String(text.unicodeScalars.dropFirst()) : text
        var reader = NodeReader(file: file, yaml: yaml)
        let base = (context.map { $0 + " › " } ?? "") + "action file '\(file)'"
        if let overrun = AliasBudget.overrun(in: yaml) {
            reader.diagnostics.append(WorkflowLoader.aliasDiagnostic(overrun, file: file, workflow: file))
            return Result(action: nil, diagnostics: reader.diagnostics.sorted)
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml, .basic) else {
                reader.diagnostics.error("the action file is empty", at: SourceLocation(file: file, line: 1, column: 1), context: base,
                                         hint: "an action needs 'runs:' (for a composite action: 'using: composite' and 'steps:')")
                return Result(action: nil, diagnostics: reader.diagnostics.sorted)
            }
            root = node
        } catch {
            // In the step's context as the action file's other errors (audit 51: a YAML error
            // did not say which job's step used the file).
            var diagnostic = WorkflowLoader.yamlDiagnostic(error, file: file, yaml: yaml)
            if diagnostic.context == nil { diagnostic.context = base }
            reader.diagnostics.append(diagnostic)
            return Result(action: nil, diagnostics: reader.diagnostics.sorted)
        }
        let action = compile(root, reader: &reader, context: base, functions: functions)
        return Result(action: action, diagnostics: reader.diagnostics.sorted)
    }

    static func compile(_ root: Node, reader: inout NodeReader, context: String, functions: FunctionArities?) -> ActionDefinition? {
        // GitHub's schema lets any other top-level key be there (author, branding, …): one it does
        // not name is a warning that says it is ignored (audit 55 M3: `descripton` went unsaid).
        guard let pairs = reader.mapping(root, what: "the action file", context: context,
                                         known: ["name", "description", "author", "inputs", "outputs", "runs", "branding", "jobs"], unknownIgnored: true)
        else { return nil }
        var name: String?
        var inputs: [ActionDefinition.Input] = []
        var outputs: [ActionDefinition.Output] = []
        var runs: (keyNode: Node, value: Node)?
        for (key, keyNode, value) in pairs {
            switch key {
            case "name": name = reader.string(value, what: "name", context: context)?.value
            case "inputs": inputs = compileInputs(value, reader: &reader, context: context)
            case "outputs": outputs = compileOutputs(value, reader: &reader, context: context)
            case "runs": runs = (keyNode, value)
            case "jobs":
                reader.diagnostics.error("an action file has no 'jobs'", at: reader.location(keyNode), context: context,
                                         hint: "this looks like a workflow; a workflow belongs in .github/workflows and is not used with a step's 'uses:'")
                return nil
            default: break
            }
        }
        guard let runs else {
            reader.diagnostics.error("the action file has no 'runs'", at: reader.location(root), context: context,
                                     hint: "add 'runs:' with 'using: composite' and 'steps:'")
            return nil
        }
        guard case .mapping(let mapping) = runs.value else {
            reader.diagnostics.error("runs must be a mapping, found a \(NodeReader.kind(runs.value))", at: reader.location(runs.value), context: context)
            return nil
        }
        guard let usingNode = mapping.first(where: { $0.key.string == "using" }),
              let using = reader.string(usingNode.value, what: "runs.using", context: context), !using.value.isEmpty
        else {
            reader.diagnostics.error("'runs' has no 'using'", at: reader.location(runs.keyNode), context: context,
                                     hint: "write 'using: composite' for an action made of steps")
            return nil
        }
        var action = ActionDefinition(name: name, file: reader.file, inputs: inputs, outputs: outputs, using: using, steps: [])
        if ActionDefinition.isNode(using.value) {
            action.node = compileNodeRuns(runs.value, keyNode: runs.keyNode, using: using.value, reader: &reader, context: context)
            return action
        }
        if ActionDefinition.isDocker(using.value) {
            action.docker = compileDockerRuns(runs.value, keyNode: runs.keyNode, reader: &reader, context: context)
            return action
        }
        guard action.isComposite else { return action }  // another `using`: what it is is enough (refused where used)

        let stepsContext = context + " › runs"
        guard let runPairs = reader.mapping(runs.value, what: "runs", context: context, known: ["using", "steps"]) else { return action }
        guard let stepsNode = runPairs.first(where: { $0.key == "steps" })?.value else {
            reader.diagnostics.error("a composite action's 'runs' has no 'steps'", at: reader.location(runs.keyNode), context: context,
                                     hint: "add 'steps:' with at least one '- run: COMMAND' and 'shell: bash'")
            return action
        }
        guard case .sequence(let items) = stepsNode else {
            reader.diagnostics.error("runs.steps must be a sequence, found a \(NodeReader.kind(stepsNode))", at: reader.location(stepsNode),
                                     context: context)
            return action
        }
        for (index, item) in items.enumerated() {
            guard var step = WorkflowLoader.compileStep(index, item, reader: &reader, jobContext: stepsContext, keys: compositeStepKeys) else { continue }
            let stepContext = ExpressionValidator.stepContext(stepsContext, index: index, name: step.name?.source.value)
            if step.run != nil && step.shell == nil {
                // GitHub's schema requires it: a composite action does not take the workflow's defaults.
                reader.diagnostics.error(
                    "step \(index + 1) of a composite action runs a command without 'shell'", at: step.location, context: stepContext,
                    hint: "add 'shell: bash' (a composite action's steps do not take the workflow's defaults)")
            }
            // `shell` or `working-directory` on a `uses` step: an error of `compileStep`'s, as in a workflow.
            if let uses = step.uses, let problem = WorkflowLoader.actionReferenceProblem(uses.value) {
                reader.diagnostics.error(problem, at: uses.location, context: stepContext,
                                         hint: "write ./PATH for another action of this repository, or OWNER/REPO@REF")
                step.uses = nil
            }
            action.steps.append(step)
        }
        checkExpressions(action, reader: &reader, context: context, functions: functions)
        return action
    }

    /// The first of an action's `runs` paths (`main`, `pre`, `post`, a Dockerfile `image`) that
    /// climbs out of the repository (or workspace) it is read from, the action being in `folder`
    /// of it ("" for its top): GitHub's runner has the whole repository, so `../dist/index.js` of
    /// a sub-action is fine, `../../x` of a top-level one is outside anything copied.
    static func pathLeavingRoot(_ action: ActionDefinition, folder: String) -> (key: String, value: Located<String>)? {
        var paths: [(String, Located<String>)] = action.node?.scripts.map { ($0.key, $0.path) } ?? []
        if let docker = action.docker, DockerRuns.pulledImage(docker.image.value) == nil { paths.append(("image", docker.image)) }
        for (key, value) in paths {
            var depth = 0
            for part in (folder + "/" + value.value).split(separator: "/") where part != "." {
                depth += part == ".." ? -1 : 1
                if depth < 0 { return (key, value) }
            }
        }
        return nil
    }

    /// A JavaScript action's `runs`: `main` (required), `pre`, `post`, each a file of the action's
    /// repository (usually of its folder), and the conditions `pre-if` and `post-if`.
    static func compileNodeRuns(_ node: Node, keyNode: Node, using: String, reader: inout NodeReader, context: String) -> NodeRuns? {
        let keys = ["using", "main", "pre", "pre-if", "post", "post-if"]
        guard let pairs = reader.mapping(node, what: "runs", context: context, known: keys) else { return nil }
        func script(_ key: String) -> Located<String>? {
            guard let value = pairs.first(where: { $0.key == key })?.value,
                  let text = reader.string(value, what: "runs.\(key)", context: context) else { return nil }
            // `../dist/index.js` is a file of the repository (a sub-action's code in a sibling
            // folder: actions/cache/restore); one that climbs out of it is refused where the
            // action is read, which knows its folder (`pathLeavingRoot`).
            let problem = text.value.isEmpty ? "is empty" : text.value.hasPrefix("/") ? "is an absolute path" : nil
            if let problem {
                reader.diagnostics.error("runs.\(key) '\(text.value)' \(problem)", at: text.location, context: context,
                                         hint: "name a file of the action's repository, as 'dist/index.js' or '../dist/index.js'")
                return nil
            }
            return text
        }
        let main = script("main"), pre = script("pre"), post = script("post")
        let preCondition = pairs.first(where: { $0.key == "pre-if" }).flatMap { reader.condition($0.value, what: "runs.pre-if", context: context) }
        let postCondition = pairs.first(where: { $0.key == "post-if" }).flatMap { reader.condition($0.value, what: "runs.post-if", context: context) }
        guard let main else {
            if !pairs.contains(where: { $0.key == "main" }) {
                reader.diagnostics.error("a \(using) action's 'runs' has no 'main'", at: reader.location(keyNode), context: context,
                                         hint: "name the script that runs the action: 'main: dist/index.js'")
            }
            return nil
        }
        var runs = NodeRuns(main: main, pre: pre, post: post)
        runs.preCondition = preCondition
        runs.postCondition = postCondition
        return runs
    }

    /// A docker action's `runs`: `image` (required: `Dockerfile`, a file of the action's folder,
    /// or `docker://IMAGE`), `entrypoint`, `pre-entrypoint`, `post-entrypoint`, `pre-if`,
    /// `post-if`, `args` (a list; each item may use `${{ inputs.* }}`) and `env`.
    static func compileDockerRuns(_ node: Node, keyNode: Node, reader: inout NodeReader, context: String) -> DockerRuns? {
        let keys = ["using", "image", "entrypoint", "pre-entrypoint", "post-entrypoint", "pre-if", "post-if", "args", "env"]
        guard let pairs = reader.mapping(node, what: "runs", context: context, known: keys) else { return nil }
        func value(_ key: String) -> Node? { pairs.first(where: { $0.key == key })?.value }
        func text(_ key: String) -> Located<String>? {
            guard let node = value(key), let text = reader.string(node, what: "runs.\(key)", context: context) else { return nil }
            if text.value.trimmingCharacters(in: .whitespaces).isEmpty {
                reader.diagnostics.error("runs.\(key) is empty", at: text.location, context: context)
                return nil
            }
            return text
        }
        // Every field is read (and its mistakes said) before a missing or wrong image stops it.
        let entrypoint = text("entrypoint"), preEntrypoint = text("pre-entrypoint"), postEntrypoint = text("post-entrypoint")
        let preCondition = value("pre-if").flatMap { reader.condition($0, what: "runs.pre-if", context: context) }
        let postCondition = value("post-if").flatMap { reader.condition($0, what: "runs.post-if", context: context) }
        var args: [TemplateField]?
        if let node = value("args") {
            args = []
            if case .sequence(let items) = node {
                for (index, item) in items.enumerated() {
                    if let field = reader.template(item, what: "runs.args[\(index)]", context: context) { args?.append(field) }
                }
            } else {
                reader.diagnostics.error("runs.args must be a sequence, found a \(NodeReader.kind(node))", at: reader.location(node), context: context,
                                         hint: "write one argument per item: 'args: [\"${{ inputs.who }}\", --verbose]'")
            }
        }
        let env = value("env").map { reader.env($0, context: context) } ?? []
        guard var image = text("image") else {
            if value("image") == nil {
                reader.diagnostics.error("a docker action's 'runs' has no 'image'", at: reader.location(keyNode), context: context,
                                         hint: "write 'image: Dockerfile' (built from the action's folder) or 'image: docker://IMAGE'")
            }
            return nil
        }
        // GitHub's runner (ActionManager) pulls `docker://` in any case, builds a path ending in
        // `Dockerfile` or `dockerfile`, and refuses anything else.
        if image.value.lowercased().hasPrefix("docker://") { image.value = "docker://" + image.value.dropFirst("docker://".count) }
        if let pulled = DockerRuns.pulledImage(image.value) {
            if pulled.isEmpty {
                reader.diagnostics.error("runs.image 'docker://' names no image", at: image.location, context: context,
                                         hint: "write 'docker://alpine:3.20', or 'Dockerfile' to build one")
                return nil
            }
        } else if image.value.hasPrefix("/") {
            reader.diagnostics.error("runs.image '\(image.value)' is an absolute path", at: image.location, context: context,
                                     hint: "name a Dockerfile of the action's repository, as 'Dockerfile', or an image as 'docker://IMAGE'")
            return nil
        } else if !image.value.hasSuffix("Dockerfile"), !image.value.hasSuffix("dockerfile") {
            reader.diagnostics.error("runs.image '\(image.value)' is neither a Dockerfile nor 'docker://IMAGE'", at: image.location, context: context,
                                     hint: "write 'docker://\(image.value)' to pull an image, or name a file ending in 'Dockerfile' "
                                         + "('Dockerfile', 'build/app.Dockerfile') to build one, as GitHub requires")
            return nil
        }
        var runs = DockerRuns(image: image)
        runs.entrypoint = entrypoint
        runs.preEntrypoint = preEntrypoint
        runs.postEntrypoint = postEntrypoint
        runs.preCondition = preCondition
        runs.postCondition = postCondition
        runs.args = args
        runs.env = env
        return runs
    }

    static func compileInputs(_ node: Node, reader: inout NodeReader, context: String) -> [ActionDefinition.Input] {
        guard let entries = reader.mapping(node, what: "inputs", context: context) else { return [] }
        var inputs: [ActionDefinition.Input] = []
        for (id, _, value) in entries {
            var input = ActionDefinition.Input(id: id, defaultValue: nil, required: false, deprecationMessage: nil)
            // Other keys are free, as GitHub's schema has it; one the docs do not name is a warning
            // (`requird: true` made nothing required, unsaid: audit 55 M3).
            if case .mapping = value, let pairs = reader.mapping(value, what: "inputs.\(id)", context: context,
                                                                  known: ["description", "default", "required", "deprecationMessage"], unknownNoted: true) {
                for (key, _, item) in pairs {
                    switch key {
                    case "default": input.defaultValue = reader.template(item, what: "inputs.\(id).default", context: context)
                    case "required": input.required = item.bool ?? (item.string?.lowercased() == "true")
                    case "deprecationMessage": input.deprecationMessage = item.string
                    default: break
                    }
                }
            } else {
                // GitHub's runner fails an action whose input is not a mapping, an empty one too
                // (ActionManifestManager: `AssertMapping("input metadata")`).
                reader.diagnostics.error("inputs.\(id) must be a mapping, found \(NodeReader.kind(value) == "null" ? "nothing" : "a " + NodeReader.kind(value))",
                                         at: reader.location(value), context: context,
                                         hint: "write '\(id):' with 'description:' and 'default:' under it, or '\(id): {}'")
            }
            inputs.append(input)
        }
        return inputs
    }

    static func compileOutputs(_ node: Node, reader: inout NodeReader, context: String) -> [ActionDefinition.Output] {
        guard let entries = reader.mapping(node, what: "outputs", context: context) else { return [] }
        var outputs: [ActionDefinition.Output] = []
        for (id, keyNode, value) in entries {
            guard let pairs = reader.mapping(value, what: "outputs.\(id)", context: context, known: ["description", "value"]) else { continue }
            if let valueNode = pairs.first(where: { $0.key == "value" })?.value {
                if let field = reader.template(valueNode, what: "outputs.\(id).value", context: context) { outputs.append(.init(id: id, value: field)) }
            } else {
                // A node or docker action's outputs have no value: their code sets them. Not a composite's.
                outputs.append(.init(id: id, value: .literal("", at: reader.location(keyNode))))
            }
        }
        return outputs
    }

    /// The contexts each field may read (GitHub's `string-steps-context`, `input-default-context`,
    /// `output-value`), step ids as GitHub sees them, and the inputs the action declares.
    static func checkExpressions(_ action: ActionDefinition, reader: inout NodeReader, context: String, functions: FunctionArities?) {
        let placeholder = Workflow(name: action.file, file: action.file, env: [], defaults: RunDefaults(), jobs: [], unsupported: [])
        var validator = ExpressionValidator(workflow: placeholder, diagnostics: reader.diagnostics, functions: functions)
        let why = "a composite action sees its inputs, not the workflow's secrets, needs or vars (pass them as inputs)"
        func place(_ what: String, _ contexts: [String], stepIDs: [String]?, step: (Int, String?)? = nil) -> ExpressionValidator.Place {
            var place = ExpressionValidator.Place(what: what, context: context + (step == nil ? "" : " › runs"), job: nil, stepIDs: stepIDs.map { Set($0.map { $0.lowercased() }) },
                                                  envNames: [], onlyContexts: contexts)
            place.envOpen = true
            place.why = why
            place.inputNames = action.inputs.map(\.id)
            place.step = step
            return place
        }
        for input in action.inputs {
            if let field = input.defaultValue {
                validator.check(field, place("inputs.\(input.id).default", defaultContexts, stepIDs: nil))
            }
        }
        var seen: [String] = []
        for step in action.steps {
            let at = (step.index, step.name?.source.value)
            var fields: [(String, TemplateField)] = [("name", step.name), ("run", step.run), ("working-directory", step.workingDirectory),
                                                     ("shell", step.shell), ("continue-on-error", step.continueOnErrorExpression),
                                                     ("with", step.withExpression)]
                .compactMap { name, field in field.map { (name, $0) } }
            fields += step.with.map { ("with.\($0.name)", $0.value) } + step.env.map { ("env.\($0.name)", $0.value) }
            for (what, field) in fields { validator.check(field, place(what, stepContexts, stepIDs: seen, step: at)) }
            if let condition = step.condition {
                var conditionPlace = place("if", stepContexts, stepIDs: seen, step: at)
                conditionPlace.allowsStatusFunctions = true
                validator.check(condition, conditionPlace)
            }
            if let id = step.id {
                // Compared without case, as GitHub's parser does.
                if seen.contains(where: { $0.lowercased() == id.lowercased() }) {
                    validator.diagnostics.error("duplicate step id '\(id)' in the action", at: step.location,
                                                context: ExpressionValidator.stepContext(context + " › runs", index: step.index, name: nil),
                                                hint: "step ids must be unique within an action")
                }
                seen.append(id)
            }
        }
        let allIDs = action.steps.compactMap(\.id)
        for output in action.outputs {
            validator.check(output.value, place("outputs.\(output.id).value", stepContexts, stepIDs: allIDs))
        }
        reader.diagnostics = validator.diagnostics
    }
}
