import ArgumentParser
import Foundation
import NixActionsEngine
import NixActionsPluginHost

struct GraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Draw a workflow's jobs and their needs (matrix jobs expanded)."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case ascii, dot, mermaid
    }

    @Argument(help: "A workflow file or name.", completion: .file())
    var workflow: String

    @Option(name: .customLong("input"), help: "NAME=VALUE: an input's value (default: its declared default).")
    var inputs: [String] = []

    @Option(name: .customLong("var"), help: "NAME=VALUE: a value of the vars context (over .nixactions/config.yml's).")
    var vars: [String] = []

    func validate() throws { try RunEventOptions.check(inputs: inputs, vars: vars) }

    @Option(help: "ascii, dot (Graphviz) or mermaid.")
    var format: Format = .ascii

    // As list and validate take it (audit 64 cli L22: its vars were read from the default file only).
    @Option(name: .customLong("config"), help: "The project's configuration file, for its vars (default: .nixactions/config.yml, if present).",
            completion: .file(extensions: ["yml", "yaml"]))
    var config: String?

    func run() async throws {
        // Plugin functions in a matrix or a job's name, as `run` evaluates them (loaded only when called).
        let functions = LazyFunctions(PluginRegistry.discoverWarning())
        let workflow = try WorkflowInput.load(workflow, functions: FunctionArities(signatures: { functions.signatures }))
        // Inputs (the declared defaults, --input over them) and vars (the configuration's, --var over
        // them), so that a matrix from `fromJSON(inputs.x)` is drawn (audit 63 fidelity M3: exit 2).
        // Leniently: a required input not given, or a configuration that does not load, draws what
        // it can (a matrix that then cannot be made is one entry, with a warning) instead of failing.
        var context = RunContext.minimal(workflow: workflow.name)
        context.functions = functions
        // As `run` reads them (an unknown input or a value not of its type is an error), but a
        // required one not given is its empty value.
        switch InputValues.resolve(RunEventOptions.pairs(inputs), triggers: workflow.triggers, requireGiven: false) {
        case .success(let resolved): context.inputs = resolved.typed
        case .failure(let problems):
            for problem in problems.diagnostics { standardError(problem.description + "\n") }
            throw ExitCode(ExitStatus.usage)
        }
        // A file given that does not load is an error, as for list; the default one, lenient.
        let configured = config == nil ? ProjectConfig.load(file: ProjectConfig.defaultPath, required: false)
            : (config: try RunnerOptions.loadConfig(config), diagnostics: [Diagnostic]())
        var vars = configured.diagnostics.contains { $0.severity == .error } ? [:] : configured.config.vars
        for (name, value) in RunEventOptions.pairs(self.vars) { vars[name] = value }
        context.vars = vars.mapValues(ExpressionValue.string)
        let plan = try WorkflowInput.plan(workflow, jobs: [], context: context)
        let mask = WorkflowInput.masker([workflow])
        print(mask(GraphRenderer(plan: plan, mask: mask).render(format)), terminator: "")
    }
}

/// Renders a plan's job instances and their edges.
struct GraphRenderer {
    let plan: Plan
    /// Masks a secret in a job's key before an id is made of it: the whole text is masked
    /// afterwards, but an id spells the key in another form (mermaid's `_h` for `-`), which that
    /// does not find (audit 63 secrets M3).
    var mask: (String) -> String = { $0 }

    /// Each instance's key as ids are made of it: masked, and unique (a key that masks to another
    /// instance's gets `#2`, `#3`…, so two jobs never share a node).
    func idKeys() -> [String: String] {
        var keys: [String: String] = [:]
        var taken: [String: Int] = [:]
        for instance in plan.allInstances {
            let masked = mask(instance.key)
            let seen = taken[masked, default: 0] + 1
            taken[masked] = seen
            keys[instance.key] = seen == 1 ? masked : masked + "#\(seen)"
        }
        return keys
    }

    /// (from, to) instance keys: every instance of a needed job to every instance of the job.
    var edges: [(PlannedJob, PlannedJob)] {
        plan.allInstances.flatMap { instance in
            (plan.graph.needs[instance.jobID] ?? []).flatMap { need in (plan.instances[need] ?? []).map { ($0, instance) } }
        }
    }

    func render(_ format: GraphCommand.Format) -> String {
        switch format {
        case .ascii: return ascii()
        case .dot: return dot()
        case .mermaid: return mermaid()
        }
    }

    /// Stages by longest path from a root; each job with what it needs.
    func ascii() -> String {
        var depth: [String: Int] = [:]
        for id in plan.order {
            depth[id] = (plan.graph.needs[id] ?? []).map { (depth[$0] ?? 0) + 1 }.max() ?? 1
        }
        var text = "workflow '\(DisplayText.escaped(plan.workflow.name))'\n"
        for instance in plan.allInstances {
            let needs = (plan.graph.needs[instance.jobID] ?? []).flatMap { plan.instances[$0] ?? [] }.map { DisplayText.escaped($0.displayName) }
            let stage = depth[instance.jobID] ?? 1
            text += "[\(stage)] \(DisplayText.escaped(instance.displayName))" + (needs.isEmpty ? "" : "  <- \(needs.joined(separator: ", "))") + "\n"
        }
        return text
    }

    static func quoted(_ text: String) -> String {
        "\"" + DisplayText.escaped(text).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    func dot() -> String {
        let keys = idKeys()
        func key(_ instance: PlannedJob) -> String { Self.quoted(keys[instance.key] ?? instance.key) }
        var text = "digraph \(Self.quoted(plan.workflow.name)) {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n"
        for instance in plan.allInstances { text += "  \(key(instance)) [label=\(Self.quoted(instance.displayName))];\n" }
        for (from, to) in edges { text += "  \(key(from)) -> \(key(to));\n" }
        return text + "}\n"
    }

    func mermaid() -> String {
        // One id per job, never two: letters and digits as they are, `-` as `_h`, `_` as `_u`,
        // anything else as `_x<hex>_` (`a-b` and `a_b` were both `j_a_b`: audit 51).
        let keys = idKeys()
        func id(_ instance: PlannedJob) -> String {
            let key = keys[instance.key] ?? instance.key
            var id = "j_"
            for scalar in key.unicodeScalars {
                switch scalar {
                case "a"..."z", "A"..."Z", "0"..."9": id.unicodeScalars.append(scalar)
                case "-": id += "_h"
                case "_": id += "_u"
                default: id += "_x" + String(scalar.value, radix: 16) + "_"
                }
            }
            return id
        }
        // Mermaid reads `#NAME;` and `#NUMBER;` in a label as an entity and `<b>` as HTML: each of
        // `#`, `"`, `<`, `>` and `&` is written as its entity code, so a name shows as it is (audit 64 cli L17).
        func label(_ text: String) -> String {
            var out = "\""
            for character in DisplayText.escaped(text) {
                switch character {
                case "#": out += "#35;"
                case "\"": out += "#quot;"
                case "<": out += "#lt;"
                case ">": out += "#gt;"
                case "&": out += "#amp;"
                default: out.append(character)
                }
            }
            return out + "\""
        }
        var text = "flowchart LR\n"
        for instance in plan.allInstances { text += "  \(id(instance))[\(label(instance.displayName))]\n" }
        for (from, to) in edges { text += "  \(id(from)) --> \(id(to))\n" }
        return text
    }
}
