import NixActionsPluginMessages
import Yams

extension WorkflowLoader {
    static func compileJob(
        _ id: String, _ node: Node, keyNode: Node, reader: inout NodeReader, workflow: inout Workflow
    ) -> Job? {
        let context = "workflow '\(workflow.name)' › job '\(id)'"
        guard let pairs = reader.mapping(node, what: "job '\(id)'", context: context, known: jobKeys) else {
            return nil
        }
        var job = Job(id: id, location: reader.location(keyNode))
        var sawSteps = false
        var ownRetry: (policy: RetryPolicy?, keyNode: Node)?
        // `uses:` calls a reusable workflow: one of this project (`./.github/workflows/FILE.yml`)
        // or of another repository (`OWNER/REPO/.github/workflows/FILE.yml@REF`, fetched as remote
        // actions are). The file is read and checked with the call by `WorkflowCalls.resolve`.
        if let (_, _, usesValue) = pairs.first(where: { $0.key == "uses" }) {
            let target = reader.string(usesValue, what: "uses", context: context) ?? Located("", at: reader.location(usesValue))
            var call = WorkflowCall(uses: target)
            let remote = RemoteActionReference(target.value)
            if target.value.contains("${{") {
                reader.diagnostics.error("the 'uses' of a job cannot hold an expression", at: target.location, context: context,
                                         hint: "name the called workflow as it is (GitHub reads it before the run)")
            } else if !target.value.hasPrefix("./"), !ActionLoader.isSelf(target.value),
                      remote == nil || remote?.path.split(separator: "/").first != ".github" || remote?.ref.hasPrefix("refs/") == true {
                reader.diagnostics.error(
                    "'\(target.value)' is not a reusable workflow", at: target.location, context: context,
                    hint: "call ./.github/workflows/FILE.yml (or $/.github/workflows/FILE.yml) of this project, or OWNER/REPO/.github/workflows/FILE.yml@REF (a branch, tag or commit, without refs/)")
            } else if let remote, let problem = Self.refProblem(remote.ref) {
                // As a step's reference is checked (audit 51: '@v1:refs/heads/x' and '@+v1' ran).
                reader.diagnostics.error("'uses: \(DisplayText.escaped(target.value))': \(DisplayText.escaped(problem))", at: target.location, context: context,
                                         hint: "name a branch, tag or commit")
            }
            for (key, keyNode, value) in pairs {
                switch key {
                case "name": job.name = reader.template(value, what: "name", context: context)
                case "needs": job.needs = reader.stringList(value, what: "needs", context: context)
                case "if": job.condition = reader.condition(value, context: context)
                case "strategy": job.strategy = reader.strategy(value, context: context)
                case "with":
                    guard let entries = reader.mapping(value, what: "with", context: context) else { continue }
                    call.with = entries.compactMap { name, _, item in
                        reader.template(item, what: "with.\(name)", context: context).map { (name, $0) }
                    }
                    for (name, _, item) in entries {
                        if let literal = Self.yamlLiteral(item) { call.withLiterals[name] = literal }
                        call.withNames.insert(name.lowercased())
                    }
                case "secrets":
                    if case .scalar(let scalar) = value, scalar.string == "inherit" {
                        call.secrets = .inherit
                    } else if case .mapping = value {
                        guard let entries = reader.mapping(value, what: "secrets", context: context) else { continue }
                        call.secrets = .mapped(entries.compactMap { name, _, item in
                            reader.template(item, what: "secrets.\(name)", context: context).map { (name, $0) }
                        })
                    } else {
                        reader.diagnostics.error(
                            "secrets of a job that calls a reusable workflow must be 'inherit' or a mapping", at: reader.location(value),
                            context: context, hint: "secrets: inherit, or secrets: { NAME: ${{ secrets.NAME }} }")
                    }
                case "uses": break
                case "permissions":
                    reader.diagnostics.note("'permissions' is a GitHub-only key; NixActions accepts it and does not use it",
                                            at: reader.location(keyNode), context: context)
                    reader.checkPermissions(value, context: context)
                case "concurrency":
                    // Said, not silently ignored: the calling job holds no group here (its called
                    // jobs follow their own `concurrency`).
                    reader.diagnostics.warning(
                        "'concurrency' of a job that calls a reusable workflow is not used here", at: reader.location(keyNode), context: context,
                        hint: "give the called workflow's jobs their own 'concurrency'; they hold their groups within the run")
                default:
                    reader.diagnostics.error(
                        "'\(key)' cannot be used in a job that calls a reusable workflow", at: reader.location(keyNode), context: context,
                        hint: "such a job takes: name, uses, with, secrets, needs, if, permissions, concurrency, strategy")
                }
            }
            job.call = call
            return job
        }
        var executorKey: (String, SourceLocation?)?
        for (key, keyNode, value) in pairs {
            switch key {
            case "name": job.name = reader.template(value, what: "name", context: context)
            case "concurrency": job.concurrency = reader.concurrency(value, context: context)
            case "needs": job.needs = reader.stringList(value, what: "needs", context: context)
            case "if": job.condition = reader.condition(value, context: context)
            case "runs-on":
                // Labels choose an executor when the run starts (`RunnerMap`: .nixactions/config.yml, --runner).
                if case .mapping = value {
                    // GitHub's `runs-on: { group: NAME, labels: [...] }`: the group counts as one more label.
                    guard let parts = reader.mapping(value, what: "runs-on", context: context, known: ["group", "labels"]) else { continue }
                    for (part, _, item) in parts {
                        job.runsOn += part == "group"
                            ? [reader.string(item, what: "runs-on.group", context: context)].compactMap { $0 }
                            : reader.stringList(item, what: "runs-on.labels", context: context)
                    }
                } else {
                    job.runsOn = reader.stringList(value, what: "runs-on", context: context)
                }
            case "executor", "container":
                // `container:` written empty or null is no container (as on GitHub): it chooses
                // nothing, so it does not clash with an `executor:` beside it (review 63).
                if key == "container", NodeReader.isNoContainer(value) { continue }
                if let previous = executorKey {
                    reader.diagnostics.error(
                        "'\(key)' and '\(previous.0)' both choose the executor of job '\(id)'",
                        at: reader.location(keyNode), context: context, hint: "keep one of them")
                }
                executorKey = (key, reader.location(keyNode))
                let reference = key == "executor"
                    ? reader.executor(value, context: context) : reader.container(value, context: context)
                if let reference {
                    job.executor = reference
                    job.explicitExecutor = true
                    job.executorFromContainer = key == "container"
                }
            case "env": job.env = reader.env(value, context: context)
            case "defaults": job.defaults = compileDefaults(value, reader: &reader, context: context)
            case "outputs":
                guard let outputs = reader.mapping(value, what: "outputs", context: context) else { continue }
                job.outputs = outputs.compactMap { name, _, item in
                    reader.template(item, what: "outputs.\(name)", context: context).map { (name, $0) }
                }
            case "timeout-minutes", "timeout":
                (job.timeout, job.timeoutExpression) = reader.timeout(
                    value, key: key, keyNode: keyNode, replacing: (job.timeout, job.timeoutExpression), what: "job '\(id)'", context: context)
            case "continue-on-error":
                (job.continueOnError, job.continueOnErrorExpression) = reader.continueOnError(value, context: context)
            case "strategy": job.strategy = reader.strategy(value, context: context)
            case "retry":
                // The original NixActions' job retry: the retry of each of its steps that gives none.
                ownRetry = (reader.retry(value, context: context), keyNode)
            case "cache":
                job.caches = reader.caches(value, context: context)
            case "secrets": job.secrets = reader.secrets(value, context: context)
            case "artifacts": job.artifacts = reader.artifacts(value, job: id, context: context)
            case "workspace":
                guard let entries = reader.mapping(value, what: "workspace", context: context, known: ["copy-project", "exclude"])
                else { continue }
                for (name, _, item) in entries {
                    if name == "copy-project" {
                        job.workspace.copyProject = reader.bool(item, what: "workspace.copy-project", context: context) ?? true
                    } else {
                        job.workspace.excludes = reader.stringList(item, what: "workspace.exclude", context: context).map(\.value)
                    }
                }
            case "services":
                // The whole map from one expression (GitHub's schema allows it): made when the job starts.
                if case .scalar = value, NodeReader.hasExpression(value) {
                    job.servicesExpression = reader.template(value, what: "services", context: context)
                } else {
                    job.services = reader.services(value, context: context)
                }
            case "nix": job.nix = reader.nixPackages(value, context: context)
            case "with":
                // Only a calling job's (GitHub refuses it beside `steps:`): not dropped without a
                // word (audit 64 cli M2).
                reader.diagnostics.error(
                    "'with' gives inputs to a reusable workflow a job calls ('uses:'); job '\(id)' runs steps", at: reader.location(keyNode),
                    context: context, hint: "give the values to the steps as env:, or call a workflow: uses: ./.github/workflows/FILE.yml")
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
                    if let step = compileStep(index, stepNode, reader: &reader, jobContext: context) {
                        if let uses = step.uses { checkAction(uses, step: step, job: id, reader: &reader, workflow: &workflow, jobContext: context) }
                        job.steps.append(step)
                    }
                }
                if let key = job.steps.lazy.compactMap(\.parallelStepKey).first {
                    let feature = UnsupportedFeature(
                        "job '\(id)': parallel steps ('\(key.value)' of step \(1 + (job.steps.firstIndex { $0.parallelStepKey != nil } ?? 0)))",
                        job: id, at: key.location)
                    workflow.unsupported.append(feature)
                    reader.diagnostics.warning(feature.message, at: feature.location, context: context,
                                               hint: "run the steps one after another, or start the process in the background in a 'run' script")
                }
            default:
                if githubOnlyJobKeys.contains(key) {
                    reader.diagnostics.note(
                        "'\(key)' is a GitHub-only key; NixActions accepts it and does not use it",
                        at: reader.location(keyNode), context: context)
                    // Not used, but checked as GitHub checks it (audit 56 M1, M2).
                    if key == "permissions" { reader.checkPermissions(value, context: context) }
                    if key == "environment" { reader.checkEnvironment(value, context: context, into: &job.unusedFields) }
                }
            }
        }
        applyOwnRetry(ownRetry, to: &job.defaults, reader: &reader, context: context)
        if let at = job.services.first?.location ?? job.servicesExpression?.source.location, job.explicitExecutor,
           !["oci", "local"].contains(job.executor.pluginID)
        {
            reader.diagnostics.error(
                "job '\(id)' has services, which run next to a job container or on this machine; its executor is '\(job.executor.pluginID)'",
                at: at, context: context,
                hint: "run the job on this machine (executor: local) or in a container (container: IMAGE) to use services")
        }
        if !sawSteps && !NodeReader.misspells("steps", in: node, known: jobKeys) {
            reader.diagnostics.error(
                "job '\(id)' has no 'steps'", at: reader.location(keyNode), context: context,
                hint: "add 'steps:' with at least one '- run: COMMAND'")
        }
        return job
    }

    /// - Parameter keys: the keys a step may have (a workflow's, or a composite action's).
    static func compileStep(_ index: Int, _ node: Node, reader: inout NodeReader, jobContext: String, keys: [String] = stepKeys) -> Step? {
        var context = "\(jobContext) › step \(index + 1)"
        if case .scalar(let scalar) = node, scalar.style == .plain, GitHubScalars.isNull(scalar.string) {
            // `-` alone: a list entry, which "leave the key out" does not fit (audit 64 cli L13).
            reader.diagnostics.error("step \(index + 1) is empty", at: reader.location(node), context: context,
                                     hint: "write its keys after '- ' (e.g. '- run: make'), or remove the line")
            return nil
        }
        guard let pairs = reader.mapping(node, what: "step \(index + 1)", context: context, known: keys) else {
            return nil
        }
        if let name = pairs.first(where: { $0.key == "name" })?.value.string { context += " '\(name)'" }
        var step = Step(index: index, location: reader.location(node))
        var withNode: Node?
        var runOnlyNodes: [(String, Node)] = []
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
            case "name": step.name = reader.template(value, what: "name", context: context)
            case "run":
                step.run = reader.template(value, what: "run", context: context)
                if let run = step.run, run.source.value.allSatisfy(\.isWhitespace) {
                    // A forgotten command (`- run:` with nothing) ran as an empty step (audit 64 cli L10).
                    reader.diagnostics.warning("step \(index + 1)'s 'run' is empty: it runs nothing", at: reader.location(keyNode), context: context,
                                               hint: "write the command after 'run:', or remove the step")
                }
            case "uses": step.uses = reader.string(value, what: "uses", context: context)
            case "with":
                withNode = keyNode
                // The whole map from one expression (GitHub's schema allows it): read when the step starts.
                if case .scalar = value, NodeReader.hasExpression(value) {
                    step.withExpression = reader.template(value, what: "with", context: context)
                    continue
                }
                guard let entries = reader.mapping(value, what: "with", context: context) else { continue }
                step.with = entries.compactMap { name, _, item in
                    reader.template(reader.gitHubText(item, what: "with.\(name)", context: context), what: "with.\(name)", context: context).map { (name, $0) }
                }
            case "shell":
                runOnlyNodes.append((key, keyNode))
                step.shell = reader.template(value, what: "shell", context: context)
                checkShell(step.shell, reader: &reader, context: context)
            case "working-directory":
                runOnlyNodes.append((key, keyNode))
                step.workingDirectory = reader.template(value, what: "working-directory", context: context)
            case "env": step.env = reader.env(value, context: context)
            case "if": step.condition = reader.condition(value, context: context)
            case "timeout-minutes", "timeout":
                (step.timeout, step.timeoutExpression) = reader.timeout(
                    value, key: key, keyNode: keyNode, replacing: (step.timeout, step.timeoutExpression), what: "step \(index + 1)",
                    context: context)
            case "continue-on-error":
                (step.continueOnError, step.continueOnErrorExpression) = reader.continueOnError(value, context: context)
            case "background", "wait", "wait-all", "cancel", "parallel":
                if step.parallelStepKey == nil { step.parallelStepKey = Located(key, at: reader.location(keyNode)) }
                if key == "parallel", case .sequence(let inner) = value {
                    step.parallelIDs = inner.compactMap { $0.mapping?["id"]?.string }
                }
            default:  // retry
                runOnlyNodes.append((key, keyNode))
                step.retry = reader.retry(value, context: context)
            }
        }
        if step.parallelStepKey != nil {
            // A `wait:`, `cancel:` or `parallel:` step has neither run nor uses: that is its form, not a mistake.
        } else if step.run == nil && step.uses == nil && !reader.file.hasSuffix(".nix")
            // A `run:`/`uses:` of the wrong type, or a misspelt one, has its own error already.
            && !pairs.contains(where: { $0.key == "run" || $0.key == "uses" })
            && !NodeReader.misspells("run", in: node, known: keys) && !NodeReader.misspells("uses", in: node, known: keys)
        {
            // (A `.nix` workflow's action says it in its own words, "has no 'bash'", at the same
            // place: Nix audit 58 L4, this YAML-worded duplicate followed it.)
            reader.diagnostics.error(
                "step \(index + 1) has neither 'run' nor 'uses'", at: reader.location(node), context: context,
                hint: "add 'run: COMMAND'")
        } else if step.run != nil && step.uses != nil {
            reader.diagnostics.error(
                "step \(index + 1) has both 'run' and 'uses'", at: step.uses?.location, context: context,
                hint: "split it into two steps")
        }
        if let withNode, step.uses == nil {
            reader.diagnostics.error(
                "'with' only applies to a step with 'uses'", at: reader.location(withNode), context: context,
                hint: "pass values to a 'run' step through 'env'")
        }
        // GitHub refuses these on an action's step ("Unexpected value"); it would ignore them here.
        for (key, keyNode) in runOnlyNodes where step.uses != nil && step.run == nil {
            guard key != "retry" else {
                // Only `run` steps are attempted again (a `uses` step may have done half its
                // work): a warning, as `retry` was taken there before (audit 61 input H5).
                reader.diagnostics.warning(
                    "'retry' applies to 'run' steps only: this 'uses' step runs once", at: reader.location(keyNode), context: context,
                    hint: "put the retry on the action's own steps, or remove it")
                continue
            }
            reader.diagnostics.error(
                "'\(key)' only applies to a step with 'run'", at: reader.location(keyNode), context: context,
                hint: key == "shell" ? "an action chooses how it runs; remove 'shell'"
                    : "an action that works in a folder takes it as an input ('with:'); remove 'working-directory'")
        }
        return step
    }

    /// A step's `uses:`. A reference GitHub would not accept either (no `@ref`, an empty owner) is an
    /// error. A local action (`./PATH`) and a remote one (`OWNER/REPO@REF`) are read from their
    /// files (`ActionLoader.checkLocalActions`); `docker://IMAGE` runs that image. One NixActions does
    /// not run (`$/PATH`) is valid GitHub this version cannot honour: one warning, recorded with its job, and
    /// `run` refuses a run that would run that job (as it does a reusable-workflow call).
    static func checkAction(_ uses: Located<String>, step: Step, job: String, reader: inout NodeReader, workflow: inout Workflow, jobContext: String) {
        let context = "\(jobContext) › step \(step.index + 1)" + (step.name.map { " '\($0.source.value)'" } ?? "")
        if let problem = actionReferenceProblem(uses.value) {
            reader.diagnostics.error(problem, at: uses.location, context: context,
                                     hint: "write OWNER/REPO@REF (or OWNER/REPO/PATH@REF), ./PATH, $/PATH or docker://IMAGE, e.g. 'actions/checkout@v4'")
            return
        }
        guard !JobRunner.supportedActions.contains(JobRunner.actionName(uses.value)) else { return }
        if uses.value.hasPrefix("docker://") { return }  // an image the step runs (JobRunner+Docker)
        if ActionLoader.isReadFromFiles(uses.value) {
            // Read from the project by validate and run, and fetched by run when remote
            // (ActionLoader.checkLocalActions): a composite action runs.
            workflow.actionUses.append(ActionUse(job: job, stepIndex: step.index, uses: uses, with: step.with, context: context))
            return
        }
        let feature = UnsupportedFeature("job '\(job)', step \(step.index + 1): the action '\(uses.value)'", job: job, at: uses.location)
        workflow.unsupported.append(feature)
        reader.diagnostics.warning(feature.message, at: feature.location, context: context,
                                   hint: "actions run here: \(JobRunner.supportedActions.joined(separator: ", ")); do the same work in a 'run' step")
    }

    /// What GitHub's parser says of a malformed `uses:` (nil: well formed). Local (`./`),
    /// self-repository (`$/PATH`: the workflow's own repository at the running commit, GitHub's
    /// 2026 syntax) and `docker://` references are taken as they are; every other one is
    /// `OWNER/REPO[/PATH]@REF`, its path split on `/` and `\\` with empty parts dropped, as
    /// GitHub's parser splits it (`a//b@v1` is `a/b`).
    static func actionReferenceProblem(_ uses: String) -> String? {
        if uses.isEmpty { return "'uses' is empty" }
        if uses.hasPrefix("docker://") {
            return uses.count > "docker://".count ? nil : "'uses: docker://' names no image"
        }
        if uses.hasPrefix("./") || uses.hasPrefix(".\\") { return nil }
        if uses.hasPrefix("$/") { return uses.count > 2 ? nil : "'uses: $/' names no path in this repository" }
        let parts = uses.split(separator: "@", omittingEmptySubsequences: false)
        let path = parts[0].split { $0 == "/" || $0 == "\\" }
        if parts.count != 2 || parts[1].isEmpty || path.count < 2 {
            return "'uses: \(uses)' is not an action reference: expected OWNER/REPO[/PATH]@REF"
        }
        if let part = path.first(where: { $0 == "." || $0 == ".." }) {
            return "'uses: \(uses)' is not an action reference: '\(part)' cannot be a part of OWNER/REPO[/PATH]"
        }
        if let problem = refProblem(String(parts[1])) { return "'uses: \(uses)': \(problem)" }
        return nil
    }

    /// What makes `ref` unusable as a branch, tag or commit name (git's `check-ref-format` rules, and
    /// no leading `-`, which git would read as an option); nil when it is fine.
    static func refProblem(_ ref: String) -> String? {
        if ref.hasPrefix("-") { return "the ref '\(ref)' starts with '-'" }
        // git fetch reads a leading '+' as a forced refspec, not as part of the name.
        if ref.hasPrefix("+") { return "the ref '\(ref)' starts with '+'" }
        if ref.contains("..") || ref.contains("@{") || ref.hasPrefix("/") || ref.hasSuffix("/") || ref.hasSuffix(".") || ref.hasSuffix(".lock") || ref.contains("//") {
            return "'\(ref)' is not a valid ref name (git check-ref-format)"
        }
        if let bad = ref.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7f || " ~^:?*[\\".unicodeScalars.contains($0) }) {
            return "'\(ref)' is not a valid ref name: it holds \(bad.value < 0x20 || bad.value == 0x7f ? "a control character" : "'\(bad)'")"
        }
        return nil
    }

    /// A `shell:` without `${{ }}` is checked now (one with an expression when its step starts).
    static func checkShell(_ shell: TemplateField?, reader: inout NodeReader, context: String) {
        guard let shell, shell.template.isLiteral, case .failure(let problem) = ShellCommand.resolve(shell.source.value) else { return }
        reader.diagnostics.error(problem.message, at: shell.source.location, context: context, hint: problem.hint)
    }
}

extension WorkflowLoader {
    /// A scalar written without `${{ }}` as GitHub's parser types it (YAML 1.2's core schema): a
    /// plain `true`/`false` a boolean, a plain number a number, a plain `null`/`~`/nothing null,
    /// anything else (a quoted scalar too) a string. nil for an expression or a collection.
    static func yamlLiteral(_ node: Node) -> ExpressionValue? {
        guard case .scalar(let scalar) = node, !scalar.string.contains("${{") else { return nil }
        let text = scalar.string
        guard scalar.style == .plain else { return .string(text) }
        switch text {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case "", "~", "null", "Null", "NULL": return .null
        default: break
        }
        // Digits with an optional sign, point and exponent, or 0x / 0o (YAML 1.2's numbers).
        if text.hasPrefix("0x"), let value = Int(text.dropFirst(2), radix: 16) { return .number(Double(value)) }
        if text.hasPrefix("0o"), let value = Int(text.dropFirst(2), radix: 8) { return .number(Double(value)) }
        let numeric = text.unicodeScalars.allSatisfy { "0123456789+-.eE".unicodeScalars.contains($0) }
        if numeric, text.unicodeScalars.contains(where: { ("0"..."9").contains($0) }), let value = Double(text) { return .number(value) }
        return .string(text)
    }
}
