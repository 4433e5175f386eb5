import NixActionsPluginMessages
import Yams

extension NodeReader {
    /// A YAML value as an expression value (matrix entries), a mapping's keys in the file's
    /// order (`toJSON(matrix)` lists them so, as GitHub does).
    func expressionValue(_ node: Node) -> ExpressionValue {
        switch node {
        case .sequence(let sequence): return .array(sequence.map(expressionValue))
        case .mapping(let mapping):
            var members = ExpressionObject()
            for (key, value) in mapping { members[key.string ?? ""] = expressionValue(value) }
            return .object(members)
        default: return ExpressionValue(json: json(node))
        }
    }

    /// `strategy: { matrix, fail-fast, max-parallel }`; each may hold `${{ }}`, or the whole
    /// strategy may be one (GitHub evaluates the strategy with github, needs, vars and inputs).
    /// `include: [ {} ]` or `exclude: [ {} ]`: GitHub refuses both ("Matrix include mapping does
    /// not contain any values", "Matrix exclude filter must not be empty"); an empty exclude
    /// removed every combination here (audit 53).
    mutating func emptyDimension(_ keyNode: Node, key: String, context: String?) {
        diagnostics.error("matrix dimension '\(key)' is empty", at: location(keyNode), context: context,
                          hint: "give it at least one value, or remove it (an empty dimension leaves no job to run)")
    }

    mutating func emptyEntry(_ entry: Node, key: String, context: String?) {
        diagnostics.error(
            "an entry of matrix.\(key) is empty", at: location(entry), context: context,
            hint: key == "include" ? "give it the values to add, e.g. - { os: windows, node: 20 }"
                : "name the values of the combinations to remove, e.g. - { os: windows }")
    }

    mutating func strategy(_ node: Node, context: String?) -> Strategy? {
        // The whole strategy from one expression (GitHub's schema allows it): evaluated when the
        // job's instances are made, after its needs when it reads them.
        if case .scalar = node, Self.hasExpression(node) {
            guard let field = template(node, what: "strategy", context: context) else { return nil }
            var strategy = Strategy(matrix: .expression(field), failFast: true, maxParallel: nil, location: location(node))
            strategy.isWholeExpression = true
            return strategy
        }
        guard let pairs = mapping(node, what: "strategy", context: context, known: ["matrix", "fail-fast", "max-parallel"])
        else { return nil }
        var strategy = Strategy(matrix: nil, failFast: true, maxParallel: nil, location: location(node))
        for (key, _, value) in pairs {
            let expression = key != "matrix" && Self.hasExpression(value) ? template(value, what: "strategy.\(key)", context: context) : nil
            switch key {
            case "matrix":
                strategy.matrix = matrix(value, context: context)
                strategy.matrixInvalid = strategy.matrix == nil
            case "fail-fast":
                if let expression { strategy.failFastExpression = expression; continue }
                strategy.failFast = bool(value, what: "strategy.fail-fast", context: context) ?? true
            default:
                if let expression { strategy.maxParallelExpression = expression; continue }
                // A number, read as GitHub's runner reads it (Strategy.maxParallel(from:)).
                if case .scalar(let scalar) = value, scalar.style == .plain, let number = value.int.map(Double.init) ?? value.float, !number.isNaN {
                    strategy.maxParallel = Strategy.maxParallel(from: number)
                } else {
                    diagnostics.error(
                        "strategy.max-parallel must be a number, found \(describe(value))", at: location(value), context: context,
                        hint: "e.g. max-parallel: 2; 0 or less means no limit")
                }
            }
        }
        return strategy
    }

    /// Whether a scalar holds `${{`.
    static func hasExpression(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node { return scalar.string.containsBytes("${{") }
        return false
    }

    /// Whether any scalar under `node` holds `${{`.
    static func containsExpression(_ node: Node) -> Bool {
        switch node {
        case .scalar(let scalar): return scalar.string.containsBytes("${{")
        case .sequence(let items): return items.contains(where: containsExpression)
        case .mapping(let mapping): return mapping.contains { containsExpression($0.value) }
        default: return false
        }
    }

    /// The `${{ }}` fields under `node`, parsed (syntax errors reported at their place).
    mutating func expressionFields(_ node: Node, what: String, context: String?) -> [TemplateField] {
        switch node {
        case .scalar(let scalar) where scalar.string.containsBytes("${{"):
            return template(node, what: what, context: context).map { [$0] } ?? []
        case .sequence(let items):
            return items.flatMap { expressionFields($0, what: what, context: context) }
        case .mapping(let mapping):
            return mapping.flatMap { expressionFields($0.value, what: what + "." + ($0.key.string ?? ""), context: context) }
        default: return []
        }
    }

    mutating func matrix(_ node: Node, context: String?) -> MatrixSpec? {
        if case .scalar = node {
            guard let field = template(node, what: "strategy.matrix", context: context) else { return nil }
            if field.template.isLiteral {
                diagnostics.error(
                    "strategy.matrix must be a mapping or one ${{ }} expression", at: field.source.location,
                    context: context, hint: "e.g. matrix: { node: [18, 20] }")
                return nil
            }
            return .expression(field)
        }
        if Self.containsExpression(node) { return deferredMatrix(node, context: context) }
        guard let pairs = mapping(node, what: "strategy.matrix", context: context) else { return nil }
        let errorsBefore = diagnostics.diagnostics.count
        var literal = MatrixLiteral(dimensions: [], include: [], exclude: [])
        var excludeKeys: [(key: String, node: Node)] = []
        for (key, keyNode, value) in pairs {
            switch key {
            case "include", "exclude":
                guard case .sequence(let entries) = value else {
                    diagnostics.error("matrix.\(key) must be a list of mappings", at: location(value), context: context,
                                      hint: "e.g. \(key): [ { os: linux, arch: arm64 } ]")
                    continue
                }
                var combos: [[(key: String, value: ExpressionValue)]] = []
                for entry in entries {
                    guard let entryPairs = mapping(entry, what: "each entry of matrix.\(key)", context: context) else { continue }
                    if entryPairs.isEmpty {
                        emptyEntry(entry, key: key, context: context)
                        continue
                    }
                    combos.append(entryPairs.map { ($0.key, expressionValue($0.value)) })
                    if key == "exclude" { excludeKeys += entryPairs.map { ($0.key, $0.keyNode) } }
                }
                if key == "include" { literal.include = combos } else { literal.exclude = combos }
            default:
                guard case .sequence(let values) = value else {
                    diagnostics.error(
                        "matrix dimension '\(key)' must be a list of values, found a \(Self.kind(value))",
                        at: location(value), context: context, hint: "e.g. \(key): [a, b]")
                    continue
                }
                if values.isEmpty {
                    emptyDimension(keyNode, key: key, context: context)
                    continue
                }
                literal.dimensions.append((key, values.map(expressionValue)))
            }
        }
        literal.matchKeysWithoutCase()
        let dimensionKeys = literal.dimensions.map(\.key)
        let foldedKeys = Set(dimensionKeys.map { $0.lowercased() })
        var named: Set<String> = []
        // Each key once, where it is first written.
        for (key, keyNode) in excludeKeys where !foldedKeys.contains(key.lowercased()) && named.insert(key).inserted {
            diagnostics.error(
                "matrix.exclude names '\(key)', which is not a matrix dimension", at: location(keyNode), context: context,
                hint: didYouMean(key, in: dimensionKeys).map { "did you mean '\($0)'?" } ?? (dimensionKeys.isEmpty ? "the matrix has no dimension of its own (a list of values) for exclude to remove from"
                    : "dimensions here: \(dimensionKeys.joined(separator: ", "))"))
        }
        // One root cause, one error: a dimension that was refused is not also "no dimensions".
        if diagnostics.diagnostics.count > errorsBefore { return nil }
        if literal.dimensions.isEmpty && literal.include.isEmpty {
            diagnostics.error("the matrix has no dimensions", at: location(node), context: context)
            return nil
        }
        return .literal(literal)
    }

    /// A matrix mapping with `${{ }}` in it: its shape is checked now, its values when it is expanded.
    mutating func deferredMatrix(_ node: Node, context: String?) -> MatrixSpec? {
        guard let pairs = mapping(node, what: "strategy.matrix", context: context) else { return nil }
        var deferred = DeferredMatrix(dimensions: [], include: nil, exclude: nil, fields: [], knownKeys: [])
        var valid = true
        for (key, keyNode, value) in pairs {
            let isExpression = Self.hasExpression(value)
            deferred.fields += expressionFields(value, what: "strategy.matrix.\(key)", context: context)
            switch key {
            case "include", "exclude":
                if !isExpression {
                    guard case .sequence(let entries) = value else {
                        diagnostics.error("matrix.\(key) must be a list of mappings", at: location(value), context: context,
                                          hint: "or one ${{ }} expression that gives such a list")
                        valid = false
                        continue
                    }
                    for entry in entries where !Self.hasExpression(entry) {
                        guard let entryPairs = mapping(entry, what: "each entry of matrix.\(key)", context: context) else {
                            valid = false
                            continue
                        }
                        if entryPairs.isEmpty {
                            emptyEntry(entry, key: key, context: context)
                            valid = false
                            continue
                        }
                        if key == "include" { for pair in entryPairs where !(deferred.knownKeys?.contains(pair.key) ?? true) { deferred.knownKeys?.append(pair.key) } }
                    }
                    if key == "include", entries.contains(where: Self.hasExpression) { deferred.knownKeys = nil }
                } else if key == "include" {
                    deferred.knownKeys = nil
                }
                if key == "include" { deferred.include = json(value) } else { deferred.exclude = json(value) }
            default:
                if !isExpression {
                    guard case .sequence(let values) = value else {
                        diagnostics.error(
                            "matrix dimension '\(key)' must be a list of values, found a \(Self.kind(value))",
                            at: location(value), context: context, hint: "e.g. \(key): [a, b], or one ${{ }} expression that gives a list")
                        valid = false
                        continue
                    }
                    if values.isEmpty {
                        emptyDimension(keyNode, key: key, context: context)
                        valid = false
                        continue
                    }
                }
                deferred.dimensions.append((key, json(value)))
                if !(deferred.knownKeys?.contains(key) ?? true) { deferred.knownKeys?.append(key) }
            }
        }
        return valid ? .deferred(deferred) : nil
    }

    static let cacheKeys = ["id", "key", "paths", "path", "restore-keys", "backend", "policy", "save-on", "lookup-only", "fail-on-cache-miss"]

    /// A key without `${{ }}` that no backend would take (empty, over 512 bytes, with ',' or a
    /// control character): an error at its line, not a warning at run time.
    /// `lines`: restore keys, one per line (as the run splits them: each trimmed, empty ones dropped).
    mutating func checkLiteralKey(_ field: TemplateField?, what: String, context: String?, lines: Bool = false) {
        guard let field, field.template.isLiteral else { return }
        let keys = lines
            ? field.source.value.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            : [field.source.value]
        for key in keys {
            guard let problem = CacheKeys.problem(key) else { continue }
            diagnostics.error("\(what) '\(DisplayText.escaped(String(key.prefix(60))))': \(problem)", at: field.source.location, context: context,
                              hint: "keys name what is cached, e.g. deps-${{ runner.os }}-${{ hashFiles('package-lock.json') }}")
            return
        }
    }

    /// `cache: { paths, key, restore-keys, backend, policy, save-on, … }` or a list of them.
    mutating func caches(_ node: Node, context: String?) -> [CacheSpec] {
        let entries: [Node]
        if case .sequence(let sequence) = node { entries = Array(sequence) } else { entries = [node] }
        var caches: [CacheSpec] = []
        var usedIDs: Set<String> = []
        for entry in entries {
            guard let pairs = mapping(entry, what: "cache", context: context, known: Self.cacheKeys) else { continue }
            var id: Located<String>?
            var key: TemplateField?
            var paths: [Located<String>] = []
            var restoreKeys: [TemplateField] = []
            var backend: String?
            var policy = CacheSpec.Policy.pullPush
            var saveOn = CacheSpec.SaveOn.success
            var lookupOnly = false, failOnMiss = false
            for (name, _, value) in pairs {
                switch name {
                case "id":
                    id = string(value, what: "cache.id", context: context)
                    if let id, !isValidIdentifier(id.value) {
                        diagnostics.error("cache id '\(id.value)' is not valid", at: id.location, context: context,
                                          hint: "start with a letter or '_', then letters, digits, '-' or '_' (steps.ID.outputs reads it)")
                    }
                case "key":
                    key = template(value, what: "cache.key", context: context)
                    checkLiteralKey(key, what: "cache key", context: context)
                case "paths", "path":
                    // A list, or GitHub's multi-line string.
                    paths = stringList(value, what: "cache.paths", context: context).flatMap { item in
                        item.value.split(separator: "\n").map { Located(String($0).trimmingCharacters(in: .whitespaces), at: item.location) }
                    }.filter { !$0.value.isEmpty }
                    // Paths are read as written (the version is made of them): an expression would
                    // be a path of that name, never found (audit 48: validate said valid).
                    for path in paths where path.value.containsBytes("${{") {
                        diagnostics.error("cache paths cannot use ${{ }}: '\(path.value)'", at: path.location, context: context,
                                          hint: "write the path as it is: relative to the job's workspace, ~/… for the home folder, or absolute")
                    }
                case "restore-keys":
                    let list: [Node]
                    if case .sequence(let sequence) = value { list = Array(sequence) } else { list = [value] }
                    restoreKeys = list.compactMap { template($0, what: "cache.restore-keys", context: context) }
                    for restoreKey in restoreKeys { checkLiteralKey(restoreKey, what: "cache restore key", context: context, lines: true) }
                case "backend":
                    backend = string(value, what: "cache.backend", context: context)?.value
                    if backend?.containsBytes("${{") == true {
                        diagnostics.error("cache.backend cannot use ${{ }}", at: location(value), context: context,
                                          hint: "name the backend (local, s3), or set the default one in .nixactions/config.yml")
                        backend = nil
                    }
                case "policy":
                    guard let text = string(value, what: "cache.policy", context: context) else { continue }
                    guard let parsed = CacheSpec.Policy(rawValue: text.value) else {
                        diagnostics.error("cache policy '\(text.value)' is not one of pull, push, pull-push", at: location(value), context: context,
                                          hint: didYouMean(text.value, in: CacheSpec.Policy.allCases.map(\.rawValue)).map { "did you mean '\($0)'?" })
                        continue
                    }
                    policy = parsed
                case "save-on":
                    guard let text = string(value, what: "cache.save-on", context: context) else { continue }
                    guard let parsed = CacheSpec.SaveOn(rawValue: text.value) else {
                        diagnostics.error("cache save-on '\(text.value)' is not one of success, always", at: location(value), context: context)
                        continue
                    }
                    saveOn = parsed
                case "lookup-only": lookupOnly = bool(value, what: "cache.lookup-only", context: context) ?? false
                default: failOnMiss = bool(value, what: "cache.fail-on-cache-miss", context: context) ?? false
                }
            }
            guard let key else {
                diagnostics.error("cache needs a 'key'", at: location(entry), context: context,
                                  hint: "e.g. key: deps-${{ hashFiles('package-lock.json') }}")
                continue
            }
            if paths.isEmpty {
                diagnostics.error("cache needs 'paths'", at: location(entry), context: context, hint: "e.g. paths: [node_modules]")
            } else if !paths.contains(where: { !$0.value.hasPrefix("!") }) {
                diagnostics.error("cache paths only exclude ('!…'): nothing would be cached", at: paths[0].location, context: context,
                                  hint: "name what to cache, then what to leave out: paths: [build, '!build/tmp']")
            } else {
                // What the run would refuse ('..', the whole file system), said here at its line.
                for path in paths where !path.value.hasPrefix("!") {
                    do { _ = try CachePaths.roots([path.value]) } catch let error as EngineError {
                        diagnostics.error(error.message, at: path.location, context: context, hint: error.hint)
                    } catch {}
                }
            }
            var chosen = id?.value ?? (usedIDs.contains("cache") ? "cache-\(caches.count + 1)" : "cache")
            if let id, usedIDs.contains(id.value) {
                diagnostics.error("two caches of this job have the id '\(id.value)'", at: id.location, context: context,
                                  hint: "give each cache its own id")
            }
            while id == nil && usedIDs.contains(chosen) { chosen += "-1" }
            usedIDs.insert(chosen)
            var spec = CacheSpec(id: chosen, key: key, paths: paths, restoreKeys: restoreKeys, backend: backend, location: location(entry))
            spec.idWritten = id != nil
            spec.policy = policy
            spec.saveOn = saveOn
            spec.lookupOnly = lookupOnly
            spec.failOnCacheMiss = failOnMiss
            caches.append(spec)
        }
        return caches
    }

    /// Keys of a provider entry that the host reads itself; the rest go to the provider.
    static let secretEntryKeys: Set<String> = ["provider", "required", "as", "env", "timeout"]

    /// `secrets:` of a workflow or a job: a list of names and provider entries
    /// (`- API_KEY`, `- { provider: file, file: .env.secrets }`), or the mapping form
    /// `{ NAME: PROVIDER:REFERENCE }` / `{ NAME: { provider: …, … } }` (one key, renamed to NAME).
    mutating func secrets(_ node: Node, context: String?) -> [SecretSpec] {
        if case .sequence(let items) = node {
            return items.compactMap { secretItem($0, context: context) }
        }
        if case .scalar(let scalar) = node, scalar.string == "inherit" {
            // GitHub's form for a job that calls a reusable workflow (audit 64 cli L9: "must be a mapping").
            diagnostics.error("'secrets: inherit' applies to a job that calls a reusable workflow (uses:)", at: location(node), context: context,
                              hint: "this job's steps see the workflow's secrets already; to declare some, list them: secrets: [API_KEY]")
            return []
        }
        guard let pairs = mapping(node, what: "secrets", context: context) else { return [] }
        var secrets: [SecretSpec] = []
        for (name, keyNode, value) in pairs {
            guard isValidEnvName(name) else {
                diagnostics.error("secret name '\(name)' is not a valid environment variable name", at: location(keyNode), context: context)
                continue
            }
            if case .scalar(let scalar) = value {
                let parts = scalar.string.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    diagnostics.error(
                        "secret '\(name)' must be PROVIDER:REFERENCE or a mapping with 'provider'", at: location(value),
                        context: context, hint: "e.g. \(name): env:\(name), or write the list form: - { provider: file, file: .env.secrets }")
                    continue
                }
                secrets.append(SecretSpec(source: .provider(parts[0], options: ["ref": .string(parts[1])]), required: true,
                                          renameOnly: name, location: location(value)))
                continue
            }
            guard var entry = secretItem(value, context: context) else { continue }
            guard case .provider = entry.source else {
                diagnostics.error("secret '\(name)' needs a 'provider'", at: location(value), context: context)
                continue
            }
            entry.renameOnly = name
            secrets.append(entry)
        }
        return secrets
    }

    /// The first scalar under `node` that holds `${{`, with where it is.
    func firstExpression(in node: Node) -> Located<String>? {
        switch node {
        case .scalar(let scalar): return scalar.string.containsBytes("${{") ? Located(scalar.string, at: location(node)) : nil
        case .sequence(let items): return items.lazy.compactMap { self.firstExpression(in: $0) }.first
        case .mapping(let pairs): return pairs.lazy.compactMap { self.firstExpression(in: $0.value) }.first
        case .alias: return nil
        }
    }

    /// One item of the list form: a name, or a mapping with `provider`.
    mutating func secretItem(_ node: Node, context: String?) -> SecretSpec? {
        if case .scalar(let scalar) = node {
            let name = scalar.string
            guard isValidEnvName(name) else {
                diagnostics.error("secret name '\(name)' is not a valid environment variable name", at: location(node), context: context,
                                  hint: "a declared secret is an environment variable name; a provider entry is a mapping with 'provider'")
                return nil
            }
            return SecretSpec(source: .name(name), required: false, location: location(node))
        }
        guard let pairs = mapping(node, what: "a secrets entry", context: context) else { return nil }
        var options: [String: JSONValue] = [:]
        var optionLocations: [String: SourceLocation] = [:]
        var provider: String?, name: String?
        var required: Bool?, exportsEnv = true
        var timeout: Located<Duration>?
        var rename: [String: String] = [:], renameOnly: String?
        for (key, keyNode, value) in pairs {
            switch key {
            case "provider": provider = string(value, what: "provider", context: context)?.value
            case "name":
                if let text = string(value, what: "name", context: context)?.value {
                    guard isValidEnvName(text) else {
                        diagnostics.error("secret name '\(text)' is not a valid environment variable name", at: location(value), context: context)
                        continue
                    }
                    name = text
                }
            case "required": required = bool(value, what: "required", context: context)
            case "env": exportsEnv = bool(value, what: "env", context: context) ?? true
            // How long the provider may take for this entry (secrets.h: 30 s by default).
            case "timeout": timeout = duration(value, key: "timeout", context: context)
            case "as":
                if case .scalar = value, let text = string(value, what: "as", context: context)?.value {
                    guard isValidEnvName(text) else {
                        diagnostics.error("'as: \(text)' is not a valid environment variable name", at: location(value), context: context)
                        continue
                    }
                    renameOnly = text
                } else if let pairs = mapping(value, what: "as", context: context) {
                    for (from, _, to) in pairs {
                        guard let target = string(to, what: "as.\(from)", context: context)?.value else { continue }
                        guard isValidEnvName(target) else {
                            diagnostics.error("'as: { \(from): \(target) }': '\(target)' is not a valid environment variable name",
                                              at: location(to), context: context)
                            continue
                        }
                        rename[from] = target
                    }
                }
            default:
                optionLocations[key] = location(keyNode)
                // Secrets are read before any job starts, from the options as written: an
                // expression would be looked up as its own text (audit 48: validate said valid).
                if let expression = firstExpression(in: value) {
                    diagnostics.error("a secret provider's '\(key)' cannot use ${{ }}: '\(expression.value)'", at: expression.location, context: context,
                                      hint: "secrets are read before any job starts, from the entry as written: write the value itself")
                }
                options[key] = pluginOptions(value, what: "secrets.\(key)", context: context)
            }
        }
        if let provider {
            guard name == nil else {
                diagnostics.error("a secrets entry has either 'name' or 'provider', not both", at: location(node), context: context)
                return nil
            }
            var spec = SecretSpec(source: .provider(provider, options: options), required: required ?? true, rename: rename,
                                  renameOnly: renameOnly, exportsEnv: exportsEnv, location: location(node))
            spec.optionLocations = optionLocations
            spec.timeout = timeout
            return spec
        }
        guard let name else {
            diagnostics.error("a secrets entry needs 'provider' (or is a variable name)", at: location(node), context: context,
                              hint: "e.g. - API_KEY, or - { provider: file, file: .env.secrets }")
            return nil
        }
        if timeout != nil {
            diagnostics.error("'timeout' in the declared secret '\(name)' has nothing to wait for", at: timeout?.location ?? location(node), context: context,
                              hint: "a declared name is read from the environment; 'timeout' is for provider entries")
        }
        if let unknown = options.keys.sorted().first {
            diagnostics.error("unknown key '\(unknown)' in the declared secret '\(name)'", at: location(node), context: context,
                              hint: "a declared name takes 'required' and 'env'; provider options need 'provider'")
        }
        return SecretSpec(source: .name(name), required: required ?? false, exportsEnv: exportsEnv, location: location(node))
    }

    /// `artifacts: { keep: [paths], restore: [ { job, path } ] }` or `artifacts: [paths]`. Paths
    /// the run would refuse (absolute, `~`, climbing out of the workspace) are errors at their
    /// place here (audit 64 cache M4: a `keep` mistake was found after the whole job had run).
    mutating func artifacts(_ node: Node, job id: String, context: String?) -> ArtifactSpec? {
        func checked(_ paths: [Located<String>], artifact: String) -> [Located<String>] {
            for path in paths {
                do { _ = try ArtifactStore.relative(path.value, artifact: artifact, role: "path") } catch let error as EngineError {
                    diagnostics.error(error.message, at: path.location, context: context, hint: error.hint)
                } catch {}
            }
            return paths
        }
        if case .sequence = node { return ArtifactSpec(keep: checked(stringList(node, what: "artifacts", context: context), artifact: id), restore: []) }
        guard let pairs = mapping(node, what: "artifacts", context: context, known: ["keep", "restore"]) else { return nil }
        var spec = ArtifactSpec(keep: [], restore: [])
        for (key, _, value) in pairs {
            if key == "keep" {
                spec.keep = checked(stringList(value, what: "artifacts.keep", context: context), artifact: id)
                continue
            }
            let entries: [Node]
            if case .sequence(let sequence) = value { entries = Array(sequence) } else { entries = [value] }
            for entry in entries {
                if case .scalar = entry, let job = string(entry, what: "artifacts.restore", context: context) {
                    spec.restore.append(ArtifactRestore(job: job, path: nil))
                    continue
                }
                guard let entryPairs = mapping(entry, what: "artifacts.restore entry", context: context, known: ["job", "path"]) else { continue }
                var job: Located<String>?
                var path: Located<String>?
                for (name, _, item) in entryPairs {
                    if name == "job" { job = string(item, what: "artifacts.restore.job", context: context) }
                    else { path = string(item, what: "artifacts.restore.path", context: context) }
                }
                if let job, let path { _ = checked([path], artifact: job.value) }
                if let job { spec.restore.append(ArtifactRestore(job: job, path: path?.value)) }
                else { diagnostics.error("artifacts.restore entry needs a 'job'", at: location(entry), context: context) }
            }
        }
        return spec
    }
}

extension ExpressionValue {
    init(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .number(let value): self = .number(value)
        case .string(let value): self = .string(value)
        case .array(let values): self = .array(values.map(ExpressionValue.init(json:)))
        case .object(let members): self = .sortedObject(members.mapValues(ExpressionValue.init(json:)))
        }
    }
}
