import Foundation
import NixActionsPluginMessages
import NixActionsProcessKit
import Yams

/// A project's settings for every run: `.nixactions/config.yml` (or `--config FILE`).
///
/// ```yaml
/// runners:                      # runs-on label → executor
///   ubuntu-latest: { plugin: oci, with: { image: localhost/ubuntu:ci } }
///   self-hosted: local
///   build-farm: { plugin: ssh, with: { hosts: [a, b] } }
/// cache:
///   backend: s3                 # for caches that name none (default: local)
///   backends:                   # each backend's options (docs/caching.md)
///     local: { max-size: 5G }
///     s3: { bucket: ci-cache, endpoint: "http://127.0.0.1:9000" }
/// vars:                         # vars.NAME (--var-file and --var win over these)
///   DEPLOY_TARGET: staging
/// logs:
///   keep: 100                   # the newest runs' log folders kept (or all; --keep-logs wins)
/// ```
public struct ProjectConfig: Sendable {
    /// Where a project keeps it, relative to the project folder.
    public static let defaultPath = ".nixactions/config.yml"
    static let keys = ["runners", "cache", "vars", "logs"]

    public var file: String?
    /// `checkout: commit | working-tree`: what a job's workspace holds when the project is a git
    /// repository (default `commit`: a clone of HEAD; docs/workflow-syntax.md).
    public var checkout = ProjectCheckout.Source.commit
    /// Whether the file says `checkout:` (a `.nix` workflow's default is the working tree, as the original copied it).
    public var checkoutGiven = false
    public var runners = RunnerMap()
    public var cache = CacheSettings()
    /// `vars:`: the `vars` context's values.
    public var vars: [String: String] = [:]
    /// `logs: { keep: N | all }`: how many runs' log folders the log root keeps (nil: all).
    public var keepLogs: Int? = LogRetention.defaultKeep

    public init() {}

    /// Read `path`. A missing file at the default place is an empty configuration; problems are
    /// diagnostics with their line and column (an unknown key is an error, never ignored).
    public static func load(file path: String, required: Bool) -> (config: ProjectConfig, diagnostics: [Diagnostic]) {
        var config = ProjectConfig()
        if !required && !FileManager.default.fileExists(atPath: path) { return (config, []) }
        let data: [UInt8]
        switch FastFiles.readWhole(path, limit: WorkflowLoader.fileLimit) {
        case .success(let bytes): data = bytes
        case .failure(let failure):
            return (config, [Diagnostic(.error, "cannot read the configuration file '\(path)': \(failure.reason)", hint: failure.hint)])
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            return (config, [WorkflowLoader.notUTF8(data, file: path, what: "the configuration file")])
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
        guard let pairs = reader.mapping(root, what: "the configuration", context: context, known: keys + ["checkout"]) else {
            return (config, reader.diagnostics.sorted)
        }
        for (key, _, value) in pairs where key == "cache" {
            guard let entries = reader.mapping(value, what: "cache", context: context, known: ["backend", "backends"]) else { continue }
            for (name, _, item) in entries {
                if name == "backend" {
                    if let text = reader.string(item, what: "cache.backend", context: context) {
                        config.cache.defaultBackend = text.value
                        config.cache.defaultBackendLocation = text.location
                    }
                    continue
                }
                guard let backends = reader.mapping(item, what: "cache.backends", context: context) else { continue }
                for (backend, backendNode, optionsNode) in backends {
                    guard case .mapping(let optionPairs) = optionsNode else {
                        reader.diagnostics.error("the options of cache backend '\(backend)' must be a mapping", at: reader.location(optionsNode),
                                                 context: context, hint: "e.g. \(backend): { max-size: 5G }")
                        continue
                    }
                    if case .object(let options) = reader.pluginOptions(optionsNode, what: "cache.backends.\(backend)", context: context) {
                        config.cache.backends[backend] = options
                        config.cache.locations[backend] = reader.location(backendNode)
                        for pair in optionPairs {
                            if case .scalar(let key) = pair.key { config.cache.optionLocations[backend, default: [:]][key.string] = reader.location(pair.key) }
                        }
                    }
                }
            }
        }
        for (key, _, value) in pairs where key == "vars" {
            guard let entries = reader.mapping(value, what: "vars", context: context) else { continue }
            for (name, nameNode, item) in entries {
                guard isValidEnvName(name) else {
                    reader.diagnostics.error("'\(name)' is not a valid variable name", at: reader.location(nameNode), context: context,
                                             hint: "use letters, digits and '_', not starting with a digit")
                    continue
                }
                guard case .scalar = item, let text = reader.string(item, what: "vars.\(name)", context: context) else {
                    reader.diagnostics.error("vars.\(name) must be a string, number or boolean, found a \(NodeReader.kind(item))",
                                             at: reader.location(item), context: context)
                    continue
                }
                config.vars[name] = text.value
            }
        }
        for (key, _, value) in pairs where key == "logs" {
            guard let entries = reader.mapping(value, what: "logs", context: context, known: ["keep"]) else { continue }
            for (_, _, item) in entries {
                guard let text = reader.string(item, what: "logs.keep", context: context) else { continue }
                let (keep, valid) = LogRetention.parse(text.value)
                if valid {
                    config.keepLogs = keep
                } else {
                    reader.diagnostics.error("logs.keep must be a number of runs (at least 1) or all, not '\(text.value)'", at: reader.location(item),
                                             context: context, hint: "e.g. keep: 100 (the newest 100 runs' logs), or keep: all")
                }
            }
        }
        for (key, _, value) in pairs where key == "runners" {
            guard let labels = reader.mapping(value, what: "runners", context: context) else { continue }
            for (label, labelNode, executorNode) in labels {
                if label.isEmpty || label.contains("${{") {
                    reader.diagnostics.error("'\(label)' is not a runner label", at: reader.location(labelNode), context: context,
                                             hint: "a label is plain text, as in a job's runs-on")
                    continue
                }
                // Labels are compared without case, as GitHub does: `GPU` after `gpu` would replace
                // it without a word (audit 61 input H7).
                if let earlier = config.runners.labels.first(where: { $0.lowercased() == label.lowercased() }) {
                    reader.diagnostics.error("runner label '\(label)' is '\(earlier)' again (labels are compared without case)",
                                             at: reader.location(labelNode), context: context, hint: "keep one of them")
                    continue
                }
                guard let executor = reader.executor(executorNode, context: "\(context) › runners › \(label)") else { continue }
                let origin = reader.location(labelNode).map { "\($0)" } ?? path
                config.runners.map(label, to: RunnerMap.Entry(executor: executor, origin: origin))
            }
        }
        for (key, _, value) in pairs where key == "checkout" {
            guard let text = reader.string(value, what: "checkout", context: context) else { continue }
            if let source = ProjectCheckout.Source(rawValue: text.value) {
                config.checkout = source
                config.checkoutGiven = true
            } else {
                let names = ProjectCheckout.Source.allCases.map(\.rawValue)
                reader.diagnostics.error(
                    "checkout must be \(names.joined(separator: " or ")), not '\(text.value)'", at: reader.location(value), context: context,
                    hint: didYouMean(text.value, in: names).map { "did you mean '\($0)'?" }
                        ?? "commit: the project's last commit (HEAD); working-tree: the project folder as it is, with its .git")
            }
        }
        return (config, reader.diagnostics.sorted)
    }
}

/// `.nixactions/config.yml`'s `cache:`: which backend caches use and each backend's options.
public struct CacheSettings: Sendable {
    public var defaultBackend = "local"
    /// Where `cache.backend` is written, when it is.
    public var defaultBackendLocation: SourceLocation?
    public var backends: [String: [String: JSONValue]] = [:]
    /// Where each backend's name, and each of its options' keys, is written (for `validate`).
    public var locations: [String: SourceLocation] = [:]
    public var optionLocations: [String: [String: SourceLocation]] = [:]

    public init() {}

    public func options(for backend: String) -> [String: JSONValue] { backends[backend] ?? [:] }
}
