import Foundation
import NixActionsPluginMessages

extension JobRunner {
    /// The `uses:` actions NixActions maps onto its own mechanisms; anything else is refused at load time.
    static let supportedActions = ["actions/checkout", "actions/upload-artifact", "actions/download-artifact"]

    /// `actions/checkout@v4` → "actions/checkout".
    static func actionName(_ uses: String) -> String {
        String(uses.split(separator: "@", maxSplits: 1).first ?? "").lowercased()
    }

    func runAction(_ step: Step, uses: String, name: String, started: JobStarted, evaluation: RuntimeContext, allowed: Bool, state: inout State) async {
        reporter.report(.stepStarted(job: planned.key, step: step.index, name: name))
        var inputs: [String: String] = [:]
        for (key, field) in step.with {
            switch render(field, what: "with.\(key)", evaluation) {
            case .success(let value): inputs[key] = value
            case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
            }
        }
        do {
            switch Self.actionName(uses) {
            case "actions/checkout":
                guard job.workspace.copyProject else {
                    throw EngineError("job '\(job.id)' opted out of the project copy (workspace.copy-project: false)",
                                      hint: "remove that setting, or this checkout step")
                }
                reporter.report(.output(job: planned.key, step: step.index, stream: 1, line: "the project is already in the workspace (\(started.workspace))"))
            case "actions/upload-artifact":
                let artifact = inputs["name"] ?? "artifact"
                guard let path = inputs["path"] else {
                    throw EngineError("upload-artifact needs 'with: path'", hint: "e.g. with: { name: dist, path: dist/ }")
                }
                let paths = path.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                try artifacts.keep(paths, from: started.workspace, as: artifact)
                reporter.report(.output(job: planned.key, step: step.index, stream: 1, line: "uploaded artifact '\(artifact)': \(paths.joined(separator: ", "))"))
            case "actions/download-artifact":
                let artifact = inputs["name"] ?? "artifact"
                try artifacts.restore(artifact, into: started.workspace, under: inputs["path"])
                reporter.report(.output(job: planned.key, step: step.index, stream: 1, line: "downloaded artifact '\(artifact)'"))
            default:
                throw EngineError("unsupported action '\(uses)'")
            }
            reporter.report(.stepFinished(job: planned.key, step: step.index, name: name, outcome: .success, exitCode: 0, duration: .zero))
        } catch {
            failStep(step, message: "step '\(name)': \(describe(error))", allowed: allowed, state: &state)
        }
    }

    /// The command line for a `shell:` value (GitHub's templates; `{0}` is the script file).
    static func shell(_ name: String?) -> [String] {
        switch name {
        case nil, "bash": return ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"]
        case "sh": return ["sh", "-e", "{0}"]
        case "python", "python3": return ["python3", "{0}"]
        case let custom?:
            let parts = custom.split(separator: " ").map(String.init)
            return parts.contains { $0.contains("{0}") } ? parts : parts + ["{0}"]
        }
    }

    static func scriptExtension(_ name: String?) -> String {
        switch name {
        case "python", "python3": return ".py"
        default: return ".sh"
        }
    }
}

/// Artifacts kept by jobs for the jobs after them, in the run directory.
///
/// Works with executors whose workspace is a folder on this machine (`local`); remote executors
/// will move files through an executor interface of their own.
public struct ArtifactStore: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    func folder(_ name: String) -> String { root + "/" + Planner.safeKey(name) }

    /// Copy `paths` (relative to `workspace`, keeping their relative layout) into artifact `name`.
    func keep(_ paths: [String], from workspace: String, as name: String) throws {
        let manager = FileManager.default
        guard manager.fileExists(atPath: workspace) else {
            throw EngineError("artifacts need a workspace on this machine; '\(workspace)' is not one",
                              hint: "artifacts work with the local executor")
        }
        let target = folder(name)
        for path in paths {
            let relative = path.hasSuffix("/") ? String(path.dropLast()) : path
            let source = workspace + "/" + relative
            guard manager.fileExists(atPath: source) else {
                throw EngineError("artifact '\(name)': '\(path)' does not exist in the workspace",
                                  hint: "check the path; it is relative to the job's workspace")
            }
            let destination = target + "/" + relative
            try manager.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try? manager.removeItem(atPath: destination)
            try manager.copyItem(atPath: source, toPath: destination)
        }
    }

    /// Copy everything in artifact `name` into `workspace` (or `workspace/under`).
    func restore(_ name: String, into workspace: String, under: String?) throws {
        let manager = FileManager.default
        let source = folder(name)
        guard manager.fileExists(atPath: source) else {
            throw EngineError("no artifact '\(name)' to restore", hint: "the job that keeps it must have succeeded, and be in 'needs'")
        }
        var target = workspace
        if let under, !under.isEmpty { target += "/" + (under.hasSuffix("/") ? String(under.dropLast()) : under) }
        try manager.createDirectory(atPath: target, withIntermediateDirectories: true)
        for entry in try manager.contentsOfDirectory(atPath: source) {
            let destination = target + "/" + entry
            try? manager.removeItem(atPath: destination)
            try manager.copyItem(atPath: source + "/" + entry, toPath: destination)
        }
    }
}
