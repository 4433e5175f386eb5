import Foundation
import Yams

/// A project's settings for every run: `.nixactions/config.yml` (or `--config FILE`).
///
/// ```yaml
/// runners:                      # runs-on label → executor
///   ubuntu-latest: { plugin: oci, with: { image: localhost/ubuntu:ci } }
///   self-hosted: local
///   build-farm: { plugin: ssh, with: { hosts: [a, b] } }
/// ```
public struct ProjectConfig: Sendable {
    /// Where a project keeps it, relative to the project folder.
    public static let defaultPath = ".nixactions/config.yml"
    static let keys = ["runners"]

    public var file: String?
    public var runners = RunnerMap()

    public init() {}

    /// Read `path`. A missing file at the default place is an empty configuration; problems are
    /// diagnostics with their line and column (an unknown key is an error, never ignored).
    public static func load(file path: String, required: Bool) -> (config: ProjectConfig, diagnostics: [Diagnostic]) {
        var config = ProjectConfig()
        guard let data = FileManager.default.contents(atPath: path) ?? FileHandle(forReadingAtPath: path)?.readDataToEndOfFile() else {
            if !required && !FileManager.default.fileExists(atPath: path) { return (config, []) }
            let hint = FileManager.default.fileExists(atPath: path) ? "check its permissions" : "no such file"
            return (config, [Diagnostic(.error, "cannot read the configuration file '\(path)'", hint: hint)])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return (config, [Diagnostic(.error, "'\(path)' is not UTF-8 text")])
        }
        config.file = path
        var reader = NodeReader(file: path, yaml: text)
        let context = "configuration '\(path)'"
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text, .basic) else { return (config, []) }
            root = node
        } catch {
            return (config, [WorkflowLoader.yamlDiagnostic(error, file: path, yaml: text)])
        }
        guard let pairs = reader.mapping(root, what: "the configuration", context: context, known: keys) else {
            return (config, reader.diagnostics.sorted)
        }
        for (key, _, value) in pairs where key == "runners" {
            guard let labels = reader.mapping(value, what: "runners", context: context) else { continue }
            for (label, labelNode, executorNode) in labels {
                if label.isEmpty || label.contains("${{") {
                    reader.diagnostics.error("'\(label)' is not a runner label", at: reader.location(labelNode), context: context,
                                             hint: "a label is plain text, as in a job's runs-on")
                    continue
                }
                guard let executor = reader.executor(executorNode, context: "\(context) › runners › \(label)") else { continue }
                let origin = reader.location(labelNode).map { "\($0)" } ?? path
                config.runners.map(label, to: RunnerMap.Entry(executor: executor, origin: origin))
            }
        }
        return (config, reader.diagnostics.sorted)
    }
}
