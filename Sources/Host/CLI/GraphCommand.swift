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

    @Argument(help: "A workflow file or name.")
    var workflow: String

    @Option(help: "ascii, dot (Graphviz) or mermaid.")
    var format: Format = .ascii

    func run() async throws {
        // Plugin functions in a matrix or a job's name, as `run` evaluates them (loaded only when called).
        let functions = LazyFunctions(PluginRegistry.discoverWarning())
        let workflow = try WorkflowInput.load(workflow, functions: FunctionArities(signatures: { functions.signatures }))
        var context = RunContext.minimal(workflow: workflow.name)
        context.functions = functions
        let plan = try WorkflowInput.plan(workflow, jobs: [], context: context)
        print(WorkflowInput.masker([workflow])(GraphRenderer(plan: plan).render(format)), terminator: "")
    }
}

/// Renders a plan's job instances and their edges.
struct GraphRenderer {
    let plan: Plan

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
        var text = "digraph \(Self.quoted(plan.workflow.name)) {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n"
        for instance in plan.allInstances { text += "  \(Self.quoted(instance.key)) [label=\(Self.quoted(instance.displayName))];\n" }
        for (from, to) in edges { text += "  \(Self.quoted(from.key)) -> \(Self.quoted(to.key));\n" }
        return text + "}\n"
    }

    func mermaid() -> String {
        // One id per job, never two: letters and digits as they are, `-` as `_h`, `_` as `_u`,
        // anything else as `_x<hex>_` (`a-b` and `a_b` were both `j_a_b`: audit 51).
        func id(_ key: String) -> String {
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
        func label(_ text: String) -> String { "\"" + DisplayText.escaped(text).replacingOccurrences(of: "\"", with: "#quot;") + "\"" }
        var text = "flowchart LR\n"
        for instance in plan.allInstances { text += "  \(id(instance.key))[\(label(instance.displayName))]\n" }
        for (from, to) in edges { text += "  \(id(from.key)) --> \(id(to.key))\n" }
        return text
    }
}
