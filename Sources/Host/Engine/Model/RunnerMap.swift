import NixActionsPluginMessages

/// Which executor runs a job that names runner labels (`runs-on`) and no executor of its own.
///
/// The rules, in order (docs/executors.md, "Runners chosen by label"):
/// 1. A job's own `executor:` or `container:` wins; `runs-on` is then only a label.
/// 2. Labels mapped by `--runner LABEL=EXECUTOR` or by `runners:` in `.nixactions/config.yml`
///    choose that executor. Every mapped label of a job must choose the same one.
/// 3. With no label mapped: a label naming Windows or macOS, or another architecture than this
///    machine's, skips the job with the reason (it would otherwise run Linux commands here);
///    labels naming Linux (`ubuntu-*`, `linux`, `self-hosted`, this machine's architecture) run it
///    on `local`; any other label is an error, since no runner here is known to carry it.
/// Labels compare without case, as GitHub's do.
public struct RunnerMap: Sendable {
    public struct Entry: Sendable {
        public var executor: ExecutorReference
        /// Where the mapping comes from, for messages: `FILE:LINE:COL` or `--runner`.
        public var origin: String

        public init(executor: ExecutorReference, origin: String) {
            self.executor = executor
            self.origin = origin
        }
    }

    /// By label, lower-cased.
    public private(set) var entries: [String: Entry] = [:]
    /// Labels in the order they were mapped (for listings).
    public private(set) var labels: [String] = []

    public init() {}

    /// Map `label` (a later mapping of the same label replaces the earlier one).
    public mutating func map(_ label: String, to entry: Entry) {
        let key = label.lowercased()
        if entries[key] == nil { labels.append(label) }
        entries[key] = entry
    }

    public func entry(for label: String) -> Entry? { entries[label.lowercased()] }

    /// What a job's labels choose.
    public enum Choice: Sendable, Equatable {
        /// Run on this executor; `label` is the label that chose it (nil: the job's own or the default).
        case executor(ExecutorReference, label: String?)
        /// Do not run it here, for this reason.
        case skip(String)
        /// The labels cannot be placed: an error with a hint, and the label at fault.
        case refuse(String, hint: String, label: String?)

        public static func == (lhs: Choice, rhs: Choice) -> Bool {
            switch (lhs, rhs) {
            case (.executor(let a, let la), .executor(let b, let lb)): return a.pluginID == b.pluginID && a.options == b.options && la == lb
            case (.skip(let a), .skip(let b)): return a == b
            case (.refuse(let a, let ha, let la), .refuse(let b, let hb, let lb)): return a == b && ha == hb && la == lb
            default: return false
            }
        }
    }

    /// This machine's architecture label (`X64`, `ARM64`).
    public static var hostArch: String { JobStarted.hostArch }

    /// The choice for `job` whose `runs-on` evaluated to `labels`.
    public func choose(for job: Job, labels: [String]) -> Choice {
        if job.explicitExecutor { return .executor(job.executor, label: nil) }
        let labels = labels.filter { !$0.isEmpty }
        guard !labels.isEmpty else { return .executor(job.executor, label: nil) }

        var chosen: (label: String, entry: Entry)?
        for label in labels {
            guard let entry = entry(for: label) else { continue }
            if let first = chosen, first.entry.executor.pluginID != entry.executor.pluginID || first.entry.executor.options != entry.executor.options {
                return .refuse(
                    "runs-on labels '\(first.label)' and '\(label)' of job '\(job.id)' choose different executors "
                        + "('\(first.entry.executor.pluginID)' from \(first.entry.origin), '\(entry.executor.pluginID)' from \(entry.origin))",
                    hint: "a runner must carry all of a job's labels: map one of them, or give the job an 'executor:'", label: label)
            }
            if chosen == nil { chosen = (label, entry) }
        }
        if let chosen { return .executor(chosen.entry.executor, label: chosen.label) }

        for label in labels {
            let lower = label.lowercased()
            if lower.hasPrefix("windows") || lower.hasPrefix("macos") {
                return .skip("skipped: it runs on '\(label)' and this machine runs Linux; map the label to an executor "
                    + "in .nixactions/config.yml (runners:) or with --runner \(label)=EXECUTOR to run it elsewhere")
            }
            if let arch = Self.architecture(lower) ?? Self.hostedArchitecture(lower), arch != Self.hostArch {
                return .skip("skipped: it runs on '\(label)' and this machine is \(Self.hostArch); map the label to an executor "
                    + "in .nixactions/config.yml (runners:) or with --runner \(label)=EXECUTOR to run it elsewhere")
            }
        }
        if let unknown = labels.first(where: { !Self.namesThisMachine($0.lowercased()) }) {
            // A typo of a label this machine knows, or of a mapped one, is far likelier than a
            // label to map (audit 57 UX M3: `ubunty-latest` got the hint to map it).
            let known = Array(self.labels) + Self.commonLabels
            let guess = didYouMean(unknown.lowercased(), in: known.map { $0.lowercased() }).flatMap { lower in known.first { $0.lowercased() == lower } }
            // A mapped label like it is the mapping's typo, not the workflow's (audit 58 examples L4:
            // `--runner build-fram=local` made the hint suggest 'build-fram' for the workflow).
            let mappedTypo = guess.map { self.labels.contains($0) } ?? false
            return .refuse(
                "runs-on label '\(unknown)' of job '\(job.id)' is not mapped to an executor",
                hint: mappedTypo
                    ? "'\(guess!)' is mapped (runners: or --runner): if that is a typo, map '\(unknown)' instead, e.g. --runner \(unknown)=local"
                    : (guess.map { "did you mean '\($0)'? Else " } ?? "")
                        + "map it under 'runners:' in .nixactions/config.yml, or run with --runner \(unknown)=local", label: unknown)
        }
        return .executor(job.executor, label: nil)
    }

    /// `x64`, `arm64` and their other spellings, as GitHub's architecture labels.
    static func architecture(_ lower: String) -> String? {
        switch lower {
        case "x64", "x86_64", "amd64": return "X64"
        case "arm64", "aarch64": return "ARM64"
        case "x86", "i386", "i686": return "X86"
        case "arm", "armv7", "armv7l": return "ARM"
        default: return nil
        }
    }

    /// Labels any Linux machine here answers to (lower-cased).
    /// GitHub's hosted runners' usual labels, for a did-you-mean.
    static let commonLabels = ["ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04", "self-hosted", "linux", "windows-latest", "macos-latest"]

    static func namesThisMachine(_ lower: String) -> Bool {
        lower == "self-hosted" || lower == "linux" || lower == "ubuntu"
            || (lower.hasPrefix("ubuntu-") && (hostedArchitecture(lower) ?? hostArch) == hostArch)
            || architecture(lower) == hostArch
    }

    /// The architecture a GitHub-hosted Linux label names in one of its parts: `ubuntu-24.04-arm`,
    /// `ubuntu-22.04-arm`, `ubuntu-24.04-arm64-8core-32gb` (ARM64), `…-x64-…` (audit 63 fidelity H1:
    /// they ran here, on x86-64, as X64). Nil for any other label, or one that names none.
    static func hostedArchitecture(_ lower: String) -> String? {
        guard lower.hasPrefix("ubuntu-") else { return nil }
        for part in lower.split(separator: "-").dropFirst() {
            switch part {
            case "arm", "arm64", "aarch64": return "ARM64"
            case "x64", "amd64": return "X64"
            default: continue
            }
        }
        return nil
    }
}

extension RunnerMap {
    /// A job's `runs-on` labels with their `${{ }}` evaluated in `contexts` (a label that evaluates
    /// to a list gives each of its items; an empty one is dropped).
    public static func labels(of job: Job, in contexts: some ExpressionContext) throws(ExpressionError) -> [String] {
        var labels: [String] = []
        for label in job.runsOn {
            guard label.value.contains("${{") else {
                labels.append(label.value)
                continue
            }
            switch try Template.parse(label.value).evaluateValue(contexts) {
            case .array(let items): labels += items.map(\.displayString)
            case .null: break
            case let value: labels.append(value.displayString)
            }
        }
        return labels.filter { !$0.isEmpty }
    }

    /// Whether `job`'s labels can be read before it starts (no `${{ }}` in them).
    public static func isStatic(_ job: Job) -> Bool {
        !job.runsOn.contains { $0.value.contains("${{") }
    }
}

extension RunnerMap {
    /// The choice for `instance` as far as it is known before the run starts: nil when its labels
    /// depend on what other jobs produce (`needs`), decided when it starts.
    public func plannedChoice(for job: Job, instance: PlannedJob, workflow: Workflow, context runContext: RunContext? = nil) -> Choice? {
        var job = job
        if job.executorFromContainer, Self.plannedNoContainer(job, instance: instance, workflow: workflow, context: runContext) {
            // As the run decides (`chooseExecutor`): an image that renders empty is no container
            // (audit 63 fidelity L4: the plan said oci for it).
            job.dropContainer()
        }
        if job.explicitExecutor || job.runsOn.isEmpty { return .executor(job.executor, label: nil) }
        guard let labels = Self.plannedLabels(for: job, instance: instance, workflow: workflow, context: runContext) else { return nil }
        return choose(for: job, labels: labels)
    }

    /// Whether a `container: ${{ … }}` image renders empty for an instance, with what is known
    /// before the run (false when it needs more).
    static func plannedNoContainer(_ job: Job, instance: PlannedJob, workflow: Workflow, context runContext: RunContext?) -> Bool {
        guard case .string(let image)? = job.executor.options["image"], image.contains("${{"),
              let template = try? Template.parse(image) else { return false }
        return (try? template.render(plannedContext(for: job, instance: instance, workflow: workflow, context: runContext))) == ""
    }

    static func plannedContext(for job: Job, instance: PlannedJob, workflow: Workflow, context runContext: RunContext?) -> DictionaryExpressionContext {
        let run = runContext ?? .minimal(workflow: workflow.name)
        return run.expressionContext(run.staticContexts(job: job.id).merging([
            "matrix": instance.matrixObject,
            "strategy": .object(["job-index": .number(Double(instance.matrixIndex)), "job-total": .number(Double(instance.matrixTotal))]),
        ]) { _, new in new })
    }

    /// An instance's `runs-on` labels as known before the run (matrix and static contexts), or nil
    /// when they need more (`needs`, a step's output).
    public static func plannedLabels(for job: Job, instance: PlannedJob, workflow: Workflow, context runContext: RunContext? = nil) -> [String]? {
        return try? labels(of: job, in: plannedContext(for: job, instance: instance, workflow: workflow, context: runContext))
    }

    /// A short description of a choice for listings: `local`, `oci (label ubuntu-latest)`, `skipped (…)`.
    public static func describe(_ choice: Choice?) -> String {
        switch choice {
        case .executor(let reference, let label)?: return reference.pluginID + (label.map { " (runs-on \($0))" } ?? "")
        case .skip?: return "skipped here"
        case .refuse?: return "no runner"
        case nil: return "chosen when it starts"
        }
    }
}
