import NixActionsPluginMessages
import Yams

extension Template {
    /// A template with no expressions.
    static func literal(_ text: String) -> Template { Template(text: text, segments: [.literal(text)]) }
}

extension NodeReader {
    /// Where the text of a scalar starts and how it is laid out.
    func origin(_ node: Node) -> TextOrigin? {
        guard case .scalar(let scalar) = node, let mark = node.mark else { return nil }
        switch scalar.style {
        case .literal, .folded:
            // The text starts on the first non-blank line after the `|`/`>` indicator.
            var index = mark.line  // 0-based index of the line after the indicator
            while index < lineCount, line(index).allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { index += 1 }
            let indent = index < lineCount ? line(index).prefix { $0 == 0x20 }.count : 0
            // A folded block's lines are joined: positions are found by their text.
            return TextOrigin(file: file, line: index + 1, column: indent + 1, block: scalar.style == .literal,
                              source: scalar.style == .folded ? sourceText : nil, layout: .folded)
        case .singleQuoted, .doubleQuoted:
            var origin = TextOrigin(file: file, line: mark.line, column: mark.column + 1, block: false,
                                    layout: scalar.style == .doubleQuoted ? .doubleQuoted : .singleQuoted)
            if !writtenAsIs(scalar.string, line: mark.line, column: mark.column + 1) { origin.source = sourceText }
            return origin
        default:
            var origin = TextOrigin(file: file, line: mark.line, column: mark.column, block: false)
            if !writtenAsIs(scalar.string, line: mark.line, column: mark.column) { origin.source = sourceText }
            return origin
        }
    }

    /// Whether `value` stands in the file as it is at 1-based `line` and `column` (no escape, no
    /// folding, on that one line).
    func writtenAsIs(_ value: String, line number: Int, column: Int) -> Bool {
        guard !value.utf8.contains(0x0A), let start = sourceText.offset(line: number, column: column) else { return false }
        return sourceText.bytes[start...].starts(with: value.utf8)
    }

    /// A string that may contain `${{ }}`; expression syntax errors are reported at their column.
    mutating func template(_ node: Node, what: String, context: String?) -> TemplateField? {
        guard let text = string(node, what: what, context: context) else { return nil }
        let origin = origin(node)
        do {
            let template = try Template.parse(text.value)
            let length = template.gitHubFormatLength
            if length > Expression.maxLength {
                diagnostics.error(
                    "'\(what)' with its ${{ }} is one expression of \(length) characters for GitHub's runner, over its limit of "
                        + "\(Expression.maxLength) (GitHub fails it: 'Exceeded max expression length')",
                    at: text.location, context: context,
                    hint: "pass the values through env: (env: { V: ${{ … }} }, then $V in the script), or keep the script in a file")
            }
            return TemplateField(source: text, template: template, origin: origin)
        } catch {
            report(error, in: text.value, origin: origin, fallback: text.location, what: what, context: context)
            return TemplateField(source: text, template: .literal(text.value), origin: origin)
        }
    }

    /// Check the syntax of every `${{ }}` in the text values under `node` (executor options,
    /// `container:`, `services:`, evaluated when the job starts).
    mutating func checkExpressions(_ node: Node, what: String, context: String?) {
        switch node {
        case .scalar(let scalar) where scalar.string.containsBytes("${{"):
            _ = template(node, what: what, context: context)
        case .sequence(let items):
            for item in items { checkExpressions(item, what: what, context: context) }
        case .mapping(let mapping):
            for (key, value) in mapping { checkExpressions(value, what: what + "." + (key.string ?? ""), context: context) }
        default: break
        }
    }

    /// An `if:` condition; a bare expression without `${{ }}` is an expression too.
    mutating func condition(_ node: Node, what: String = "if", context: String?) -> ConditionField? {
        guard let text = string(node, what: what, context: context) else { return nil }
        // A null (`if:`, `if: ~`, `if: null`) or blank condition is GitHub's default, success():
        // its runner reads null as an empty string and an empty condition as no condition.
        if Self.isBlank(node, text.value) { return nil }
        let origin = origin(node)
        switch Expression.stringCondition(text.value) {
        case .padded?:
            diagnostics.warning(
                "\(what): this condition is always true: the white space around its ${{ }} (a `|` or `>` block's final line break, spaces in quotes) makes it a string, as on GitHub",
                at: text.location, context: context,
                hint: "write the expression alone: `\(what): ${{ … }}` on one line, or a `|-` / `>-` block, or leave out ${{ }}")
        case .textBeside?:
            // `${{ a }} && ${{ b }}`: text with expressions in it, which GitHub's runner reads as
            // a string, never empty, so true (actionlint warns of it too; audit 56 U1).
            diagnostics.warning(
                "\(what): this condition is always true: the text beside its ${{ }} makes it a string, as on GitHub",
                at: text.location, context: context,
                hint: "write one expression: `\(what): ${{ a && b }}`, or leave out ${{ }} (`\(what): a && b`)")
        case nil: break
        }
        do {
            return ConditionField(source: text, expression: try Expression.parseCondition(text.value), origin: origin)
        } catch {
            report(error, in: text.value, origin: origin, fallback: text.location, what: what, context: context)
            return nil
        }
    }

    /// A plain null (``, `~`, `null`) or a text of white space only; cheap for every other text.
    static func isBlank(_ node: Node, _ text: String) -> Bool {
        guard let first = text.utf8.first else { return true }
        if case .scalar(let scalar) = node, scalar.style == .plain, GitHubScalars.isNull(text) { return true }
        // Only a text that starts with white space can be all white space (ASCII first: no Character made).
        guard first == 0x20 || first == 0x09 || first == 0x0A || first == 0x0D || first >= 0x80 else { return false }
        return text.allSatisfy(\.isWhitespace)
    }

    mutating func report(
        _ error: ExpressionError, in text: String, origin: TextOrigin?, fallback: SourceLocation?, what: String,
        context: String?
    ) {
        diagnostics.error(
            "invalid expression in '\(what)': \(error.message)",
            at: origin?.location(ofOffset: error.offset, in: text) ?? fallback, context: context, hint: error.hint)
    }

    /// A job's `concurrency`: a group (text or `${{ }}`), or `{ group, cancel-in-progress }`.
    /// A job's or (`workflow`) the workflow's `concurrency`: a group, or `{ group,
    /// cancel-in-progress }`, and for the workflow also `queue: single|max` (GitHub's
    /// `workflow-concurrency`).
    mutating func concurrency(_ node: Node, context: String?, workflow: Bool = false) -> JobConcurrency? {
        if case .scalar = node {
            return template(node, what: "concurrency", context: context).map { JobConcurrency(group: $0, location: location(node)) }
        }
        let known = ["group", "cancel-in-progress"] + (workflow ? ["queue"] : [])
        guard let pairs = mapping(node, what: "concurrency", context: context, known: known) else { return nil }
        var group: TemplateField?
        var cancel = false
        var cancelExpression: TemplateField?
        var queueMax = false
        for (key, _, value) in pairs {
            switch key {
            case "group": group = template(value, what: "concurrency.group", context: context)
            case "queue":
                if case .scalar(let scalar) = value, ["single", "max"].contains(scalar.string) {
                    queueMax = scalar.string == "max"
                } else {
                    diagnostics.error("concurrency.queue must be single or max", at: location(value), context: context)
                }
            default:  // cancel-in-progress
                if case .scalar(let scalar) = value, scalar.string.containsBytes("${{") {
                    cancelExpression = template(value, what: "concurrency.cancel-in-progress", context: context)
                } else {
                    cancel = bool(value, what: "concurrency.cancel-in-progress", context: context) ?? false
                }
            }
        }
        guard let group else {
            diagnostics.error("concurrency needs a 'group'", at: location(node), context: context,
                              hint: workflow ? "e.g. concurrency: { group: ${{ github.workflow }}-${{ github.ref }}, cancel-in-progress: true }"
                                  : "e.g. concurrency: { group: deploy-${{ github.ref }}, cancel-in-progress: true }")
            return nil
        }
        var made = JobConcurrency(group: group, location: location(node))
        made.cancelInProgress = cancel
        made.cancelExpression = cancelExpression
        made.queueMax = queueMax
        return made
    }

    /// `continue-on-error`: true/false, or one `${{ }}` expression evaluated at run time.
    mutating func continueOnError(_ node: Node, context: String?) -> (Bool, TemplateField?) {
        if case .scalar(let scalar) = node, scalar.string.containsBytes("${{") {
            guard let field = template(node, what: "continue-on-error", context: context) else { return (false, nil) }
            return (false, field)
        }
        return (bool(node, what: "continue-on-error", context: context) ?? false, nil)
    }

    /// A duration (`90s`, `10m`, `1h30m`), or minutes as a number for `timeout-minutes`.
    /// - Parameter allowsZero: `0s` is a value (a retry's delay: at once), not an error.
    mutating func duration(_ node: Node, key: String, context: String?, allowsZero: Bool = false) -> Located<Duration>? {
        let at = location(node)
        if key == "timeout-minutes" {
            let number = node.scalar != nil ? node.float ?? node.int.map(Double.init) : nil
            if let minutes = number, minutes * 60_000 >= 1, minutes * 60 < DurationParser.maximumSeconds {
                return Located(.milliseconds(Int64(minutes * 60_000)), at: at)
            }
            if let minutes = number, minutes > 0, minutes * 60_000 < 1 {
                // Less than a millisecond: no time at all (audit 61 input H8: "timed out after 0s").
                diagnostics.error(
                    "timeout-minutes is too short, found \(describe(node)): less than a millisecond",
                    at: at, context: context, hint: "give minutes (0.5 is 30 seconds), or use 'timeout' with a duration such as 90s")
            } else if let minutes = number, minutes > 0 {
                diagnostics.error(
                    "timeout-minutes is too long, found \(describe(node))", at: at, context: context,
                    hint: "at most \(Int((DurationParser.maximumSeconds / 60).rounded(.up)) - 1) minutes (about 31 years); leave the key out for the default")
            } else if let minutes = number, !minutes.isNaN {
                // GitHub takes it (its runner sets a step's limit only above 0; audit 55 F4): no
                // limit of its own, the default applies. Said, as it is likely a mistake.
                diagnostics.warning(
                    "timeout-minutes \(describe(node)) sets no time limit of its own: GitHub ignores 0 or less, and the default applies",
                    at: at, context: context, hint: "leave the key out, or give a positive number of minutes")
            } else {
                diagnostics.error(
                    "timeout-minutes must be a positive number, found \(describe(node))", at: at, context: context,
                    hint: "or use 'timeout' with a duration such as 90s, 10m or 1h30m")
            }
            return nil
        }
        let reading = node.scalar.map { DurationParser.read($0.string) } ?? .malformed
        switch reading {
        case .duration(let value) where value > .zero || (allowsZero && value == .zero):
            return Located(value, at: at)
        case .duration:
            diagnostics.error("\(key) must be more than 0, found \(describe(node))", at: at, context: context,
                              hint: "leave the key out for the default")
        case .tooLong:
            diagnostics.error("\(key) is too long, found \(describe(node))", at: at, context: context,
                              hint: "at most \(DurationParser.format(.seconds(Int64(DurationParser.maximumSeconds) - 1))) (about 31 years)")
        case .malformed:
            let numeric = node.int != nil || node.float != nil
            diagnostics.error(
                "\(key) must be a duration such as 90s, 10m or 1h30m, found \(describe(node))", at: at,
                context: context,
                hint: numeric ? "add a unit: '\(node.string ?? "")s' for seconds, '\(node.string ?? "")m' for minutes"
                    : "units: ms, s, m, h, d, each at most once; combine them as in 1h30m")
        }
        return nil
    }

    /// `timeout` or `timeout-minutes` of a job or step: a value, or one `${{ }}` evaluated when it
    /// starts (GitHub evaluates it: `timeout-minutes: ${{ inputs.minutes }}`); both keys at once is an error.
    mutating func timeout(
        _ node: Node, key: String, keyNode: Node, replacing existing: (Located<Duration>?, TimeoutExpression?), what: String,
        context: String?
    ) -> (Located<Duration>?, TimeoutExpression?) {
        refuseSecondTimeout(existing.0 != nil || existing.1 != nil, keyNode: keyNode, what: what, context: context)
        if case .scalar(let scalar) = node, scalar.string.containsBytes("${{") {
            guard let field = template(node, what: key, context: context) else { return (nil, nil) }
            return (nil, TimeoutExpression(field: field, minutes: key == "timeout-minutes"))
        }
        return (duration(node, key: key, context: context), nil)
    }

    /// `timeout` or `timeout-minutes` given as a value (the workflow's, `defaults`'); both keys at
    /// once is an error.
    mutating func valueTimeout(
        _ node: Node, key: String, keyNode: Node, replacing existing: Located<Duration>?, what: String, context: String?
    ) -> Located<Duration>? {
        refuseSecondTimeout(existing != nil, keyNode: keyNode, what: what, context: context)
        return duration(node, key: key, context: context)
    }

    mutating func refuseSecondTimeout(_ second: Bool, keyNode: Node, what: String, context: String?) {
        guard second else { return }
        diagnostics.error(
            "\(what) has both 'timeout' and 'timeout-minutes'", at: location(keyNode), context: context,
            hint: "keep one of them")
    }

    func describe(_ node: Node) -> String {
        if case .scalar(let scalar) = node {
            if let quoted = Self.quotedPlainValue(scalar) { return quoted }
            return "'\(scalar.string)'"
        }
        return "a \(Self.kind(node))"
    }

    /// For a quoted scalar that would be a number or a boolean without its quotes (`"10"`,
    /// `'true'`): how to say so, since the message would otherwise read "must be a number, found
    /// '10'". GitHub, too, takes the quoted form for a string.
    static func quotedPlainValue(_ scalar: Node.Scalar) -> String? {
        guard scalar.style == .singleQuoted || scalar.style == .doubleQuoted else { return nil }
        let plain = Node.scalar(.init(scalar.string))
        guard plain.int != nil || plain.float != nil || plain.bool != nil else { return nil }
        return "the string '\(scalar.string)' (in quotes; write it without them)"
    }

    /// A positive whole number within `range`.
    mutating func integer(_ node: Node, what: String, in range: ClosedRange<Int>, context: String?) -> Int? {
        if case .scalar = node, let value = node.int, range.contains(value) { return value }
        // A whole number out of range (or past Int's) needs no word on quotes (audit 64 cli L13).
        let wholeNumber: Bool
        if case .scalar(let scalar) = node, scalar.style == .plain {
            let digits = scalar.string.hasPrefix("-") || scalar.string.hasPrefix("+") ? scalar.string.dropFirst() : Substring(scalar.string)
            wholeNumber = !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
        } else {
            wholeNumber = false
        }
        diagnostics.error(
            "\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound), found \(describe(node))",
            at: location(node), context: context,
            hint: wholeNumber ? "use a number from \(range.lowerBound) to \(range.upperBound)" : "write the number without quotes or a fraction")
        return nil
    }

    /// `retry: 3` or `retry: { max-attempts, backoff, delay, max-delay, on-exit-codes }`.
    mutating func retry(_ node: Node, context: String?) -> RetryPolicy? {
        if case .scalar = node {
            guard let attempts = integer(node, what: "retry (attempts)", in: 1...100, context: context) else { return nil }
            return RetryPolicy(maxAttempts: attempts)
        }
        let keys = ["max-attempts", "backoff", "delay", "max-delay", "on-exit-codes"]
        guard let pairs = mapping(node, what: "retry", context: context, known: keys) else { return nil }
        var policy = RetryPolicy(maxAttempts: 1)
        var sawAttempts = false
        for (key, _, value) in pairs {
            switch key {
            case "max-attempts":
                sawAttempts = true
                policy.maxAttempts = integer(value, what: "retry.max-attempts", in: 1...100, context: context) ?? 1
            case "backoff":
                let text = string(value, what: "retry.backoff", context: context)
                if let text {
                    if let backoff = RetryPolicy.Backoff(rawValue: text.value) {
                        policy.backoff = backoff
                    } else {
                        let names = RetryPolicy.Backoff.allCases.map(\.rawValue)
                        diagnostics.error(
                            "unknown backoff '\(text.value)'", at: text.location, context: context,
                            hint: didYouMean(text.value, in: names).map { "did you mean '\($0)'?" }
                                ?? "use one of: \(names.joined(separator: ", "))")
                    }
                }
            case "delay": policy.delay = duration(value, key: "retry.delay", context: context, allowsZero: true)?.value ?? policy.delay
            case "max-delay":
                policy.maxDelay = duration(value, key: "retry.max-delay", context: context, allowsZero: true)?.value ?? policy.maxDelay
            default:
                let codes = stringList(value, what: "retry.on-exit-codes", context: context)
                var parsed: [Int32] = []
                for code in codes {
                    if let number = Int32(code.value), (1...255).contains(number) {
                        parsed.append(number)
                    } else {
                        diagnostics.error("exit code '\(code.value)' must be a number from 1 to 255", at: code.location, context: context,
                                          hint: "a process exits with 0 to 255, 0 being success; e.g. on-exit-codes: [1, 75]")
                    }
                }
                policy.onExitCodes = parsed
            }
        }
        if !sawAttempts {
            diagnostics.error(
                "retry needs 'max-attempts'", at: location(node), context: context,
                hint: "e.g. retry: { max-attempts: 3, backoff: exponential, delay: 1s }")
        }
        return policy
    }

    /// Whether an executor's plugin id is free of `${{ }}` (it is read before any expression could
    /// be evaluated); an error otherwise.
    mutating func pluginIDHasNoExpression(_ reference: ExecutorReference, context: String?) -> Bool {
        guard reference.pluginID.containsBytes("${{") else { return true }
        diagnostics.error("the executor's plugin id cannot use ${{ }}", at: reference.location, context: context,
                          hint: "name the plugin (executor: local); to choose an executor per run, use runs-on labels mapped in .nixactions/config.yml")
        return false
    }

    /// An `executor:` or `container:` value.
    mutating func executor(_ node: Node, context: String?) -> ExecutorReference? {
        if case .scalar = node {
            guard let id = string(node, what: "executor", context: context) else { return nil }
            let reference = ExecutorReference(pluginID: id.value, location: id.location)
            return pluginIDHasNoExpression(reference, context: context) ? reference : nil
        }
        guard let pairs = mapping(node, what: "executor", context: context, known: ["plugin", "with"]) else { return nil }
        var reference = ExecutorReference(pluginID: "", location: location(node))
        for (key, _, value) in pairs {
            if key == "plugin" {
                reference.pluginID = string(value, what: "executor.plugin", context: context)?.value ?? ""
            } else if case .object(let options) = pluginOptions(value, what: "executor.with", context: context) {
                checkExpressions(value, what: "executor.with", context: context)
                if let entries = mapping(value, what: "executor.with", context: context) {
                    warnSecretsOnCommandLine(entries, what: "executor.with", context: context)
                    for (name, keyNode, _) in entries { reference.optionLocations[name] = location(keyNode) }
                }
                reference.options = options
            } else {
                diagnostics.error("executor.with must be a mapping", at: location(value), context: context,
                                  hint: "the plugin's options as 'name: value' lines indented below 'with:'")
            }
        }
        if reference.pluginID.isEmpty {
            diagnostics.error("executor needs a 'plugin'", at: location(node), context: context,
                              hint: "e.g. executor: { plugin: local }")
            return nil
        }
        return pluginIDHasNoExpression(reference, context: context) ? reference : nil
    }

    /// Whether a `container:` value is written empty or null: no container.
    static func isNoContainer(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return scalar.string.isEmpty || (scalar.style == .plain && GitHubScalars.isNull(scalar.string))
    }

    /// `container: IMAGE` or `container: { image, options, env, volumes }`: the OCI executor.
    /// An empty one as written (`container:`, `container: ''`, `image: ''`) is no container, as on
    /// GitHub (actions/runner's parser; audit 63 fidelity M1: it failed the job at its start): nil,
    /// and the job runs where its `runs-on` says.
    mutating func container(_ node: Node, context: String?) -> ExecutorReference? {
        if Self.isNoContainer(node) { return nil }
        if case .scalar = node {
            guard let image = string(node, what: "container", context: context) else { return nil }
            checkExpressions(node, what: "container", context: context)
            // The short form's image goes on the engine's command line too (audit 65 secrets M1).
            warnSecretsOnCommandLine([("image", node, node)], what: "container", context: context)
            return ExecutorReference(pluginID: "oci", options: ["image": .string(image.value)], location: image.location)
        }
        let keys = ["image", "options", "env", "volumes", "credentials", "ports"]
        guard let pairs = mapping(node, what: "container", context: context, known: keys) else { return nil }
        checkExpressions(node, what: "container", context: context)
        var options: [String: JSONValue] = [:]
        for (key, _, value) in pairs { options[key] = pluginOptions(value, what: "container.\(key)", context: context) }
        warnSecretsOnCommandLine(pairs, what: "container", context: context)
        if options["image"] == nil && !Self.misspells("image", in: node, known: keys) {
            diagnostics.error("container needs an 'image'", at: location(node), context: context)
        }
        if case .string("")? = options["image"] { return nil }
        var reference = ExecutorReference(pluginID: "oci", options: options, location: location(node))
        for (name, keyNode, _) in pairs { reference.optionLocations[name] = location(keyNode) }
        return reference
    }

    /// Options of an executor, a container or a service become arguments of commands (`podman
    /// run -v …`, ssh's remote `mkdir` of its `workdir`): a secret in them is masked in output, but
    /// every user of the machine can read a command line ('ps'). `env` and `credentials` travel in
    /// files (an env file, an auth file) and are left out.
    mutating func warnSecretsOnCommandLine(_ pairs: [(String, Node, Node)], what: String, context: String?) {
        func readsSecrets(_ node: Node) -> Bool {
            switch node {
            case .scalar(let scalar):
                return scalar.string.containsBytes("${{") && scalar.string.range(of: "secrets.", options: .caseInsensitive) != nil
            case .sequence(let items): return items.contains(where: readsSecrets)
            case .mapping(let mapping): return mapping.contains { readsSecrets($0.value) }
            default: return false
            }
        }
        for (key, _, value) in pairs where !["env", "credentials"].contains(key) && readsSecrets(value) {
            diagnostics.warning(
                "'\(what).\(key)' reads secrets: it goes on a command line (the container engine's, ssh's), which every user "
                    + "of this machine can read ('ps') and no masking covers", at: location(value), context: context,
                hint: "give the value as an environment variable ('env:') or 'credentials:' instead")
        }
    }

    /// `services: { NAME: IMAGE | { image, env, ports, volumes, options, credentials } }`.
    mutating func services(_ node: Node, context: String?) -> [ServiceContainer] {
        guard let pairs = mapping(node, what: "services", context: context) else { return [] }
        var services: [ServiceContainer] = []
        for (name, keyNode, value) in pairs {
            guard ServiceContainer.isValidName(name) else {
                diagnostics.error("service name '\(name)' is not valid", at: location(keyNode), context: context, hint: ServiceContainer.nameHint)
                continue
            }
            if case .scalar = value {
                guard let image = string(value, what: "services.\(name)", context: context) else { continue }
                warnSecretsOnCommandLine([("image", value, value)], what: "services.\(name)", context: context)
                guard !image.value.isEmpty else {
                    // Said as for `{ image: '' }` (audit 63 fidelity L6: it was dropped without a
                    // word; GitHub refuses it, "Container image cannot be empty").
                    diagnostics.error("service '\(name)' needs an 'image'", at: location(keyNode), context: context,
                                      hint: "e.g. services: { \(name): postgres:16 }; remove the service to run without it")
                    continue
                }
                checkExpressions(value, what: "services.\(name)", context: context)
                services.append(ServiceContainer(name: name, options: ["image": .string(image.value)], location: location(keyNode)))
                continue
            }
            guard let entries = mapping(value, what: "services.\(name)", context: context, known: ServiceContainer.keys) else { continue }
            checkExpressions(value, what: "services.\(name)", context: context)
            var options: [String: JSONValue] = [:]
            for (key, _, item) in entries { options[key] = pluginOptions(item, what: "services.\(name).\(key)", context: context) }
            warnSecretsOnCommandLine(entries, what: "services.\(name)", context: context)
            guard case .string(let image)? = options["image"], !image.isEmpty else {
                diagnostics.error("service '\(name)' needs an 'image'", at: location(keyNode), context: context,
                                  hint: "e.g. services: { \(name): { image: postgres:16 } }")
                continue
            }
            services.append(ServiceContainer(name: name, options: options, location: location(keyNode)))
        }
        return services
    }
}

extension NodeReader {
    /// `nix: { packages: [...], file: tools.nix, flake: "path#attr" }` (packages alone: from `<nixpkgs>`).
    mutating func nixPackages(_ node: Node, context: String?) -> NixPackages? {
        guard let pairs = mapping(node, what: "nix", context: context, known: ["packages", "file", "flake"]) else { return nil }
        var nix = NixPackages(location: location(node))
        for (key, _, value) in pairs {
            switch key {
            case "packages":
                for name in stringList(value, what: "nix.packages", context: context) {
                    let valid = !name.value.isEmpty && name.value.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
                        !part.isEmpty && part.allSatisfy { $0.isLetter || $0.isNumber || "_-'".contains($0) }
                    }
                    if valid {
                        nix.packages.append(name.value)
                    } else {
                        diagnostics.error("'\(name.value)' is not a Nix attribute path", at: name.location, context: context,
                                          hint: "name a package of the file (or of <nixpkgs>), e.g. hello or python3Packages.requests")
                    }
                }
            case "file": nix.file = string(value, what: "nix.file", context: context)?.value
            default:
                for flake in stringList(value, what: "nix.flake", context: context) {
                    if flake.value.hasPrefix("-") || flake.value.isEmpty {
                        diagnostics.error("'\(flake.value)' is not a flake reference", at: flake.location, context: context,
                                          hint: "e.g. flake: \"./tools#hello\" or \"github:owner/repo#package\"")
                    } else {
                        nix.flakes.append(flake.value)
                    }
                }
            }
        }
        if nix.packages.isEmpty && nix.flakes.isEmpty {
            diagnostics.error("'nix' names no package", at: location(node), context: context,
                              hint: "e.g. nix: { packages: [hello], file: tools.nix } or nix: { flake: \"./tools#hello\" }")
            return nil
        }
        if nix.file != nil && nix.packages.isEmpty {
            diagnostics.error("'nix.file' is given without 'nix.packages'", at: location(node), context: context,
                              hint: "list the attributes of the file to build under 'packages'")
        }
        return nix
    }
}
