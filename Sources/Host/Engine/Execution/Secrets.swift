import Foundation
import NixActionsPluginMessages
import Synchronization

/// The secrets of one run, resolved before any job starts. Every value in here was registered
/// with the run's redactor before it was stored.
public struct ResolvedSecrets: Sendable {
    /// `${{ secrets.* }}` of every job: `--secret`/`--secret-file` values, declared names that
    /// have a value, and workflow-level provider entries.
    public var run: [String: String] = [:]
    /// Job-level entries, by job id (added to `run` for that job).
    public var jobs: [String: [String: String]] = [:]
    /// Environment variables every job's steps get (workflow-level entries with `env: true`).
    public var runEnv: [String: String] = [:]
    /// The same for one job's entries, by job id.
    public var jobEnv: [String: [String: String]] = [:]
    /// Names whose values are secret wherever they come from (declared names, and every name an
    /// entry delivered): a step that sets one through `$GITHUB_ENV` gets its value masked too.
    public var declaredNames: Set<String> = []

    public init() {}

    /// Whether a variable's value is treated as a secret: declared, or named like one.
    public func isSecretName(_ name: String) -> Bool {
        declaredNames.contains(name) || SecretNamePolicy.looksSecret(name)
    }
}

/// Names that are masked without being declared, as Buildkite does: `PASSWORD`, `SECRET`, `TOKEN`,
/// `API_KEY`, … alone or at the end after `_` (`GITHUB_TOKEN`, `DB_PASSWORD`, `STRIPE_API_KEY`), and
/// the credentials the built-in providers' tools read from the environment (`VAULT_SECRET_ID`,
/// `SOPS_AGE_KEY`; `GPG_PASSPHRASE` and the like): the local executor hands the host's
/// environment to every step.
public enum SecretNamePolicy {
    public static let suffixes = [
        "PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "ACCESS_KEY", "SECRET_KEY", "PRIVATE_KEY",
        "SSH_KEY", "CONNECTION_STRING", "CREDENTIALS", "PASSPHRASE", "SECRET_ID", "AGE_KEY",
    ]

    public static func looksSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        return suffixes.contains { upper == $0 || upper.hasSuffix("_" + $0) }
    }

    /// The password of a URL's login (`scheme://user:PASSWORD@host…`), and the login whole: a
    /// value of any name that holds one (`NIXACTIONS_ACTIONS_URL`, `DATABASE_URL`) reaches the
    /// steps with the environment, so its password is masked (audit 51).
    public static func urlCredentials(_ value: String) -> [String] {
        guard let scheme = value.range(of: "://") else { return [] }
        let authority = value[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return [] }
        let login = authority[..<at]
        guard let colon = login.firstIndex(of: ":") else { return [] }
        let password = String(login[login.index(after: colon)...])
        return password.isEmpty ? [] : [password, String(login)]
    }
}

/// Resolves a run's secrets: the command line's, declared names, and provider entries (through
/// plugins), registering every value with the redactor before it goes anywhere.
public struct SecretResolver: Sendable {
    public var workflow: Workflow
    /// The jobs that will run (job-level entries of other jobs are not resolved).
    public var jobIDs: [String]
    /// `--secret` and `--secret-file` values.
    public var commandLine: [String: String]
    /// `--env` and `--env-file` values.
    public var environment: [String: String]
    /// The host process's environment.
    public var hostEnvironment: [String: String]
    public var providers: (any SecretProviderSource)?
    public var configuration: SecretsConfiguration
    /// Provider entries resolved at once.
    public var parallelism = 4

    public init(workflow: Workflow, jobIDs: [String], commandLine: [String: String], environment: [String: String],
                hostEnvironment: [String: String], providers: (any SecretProviderSource)?, configuration: SecretsConfiguration) {
        self.workflow = workflow
        self.jobIDs = jobIDs
        self.commandLine = commandLine
        self.environment = environment
        self.hostEnvironment = hostEnvironment
        self.providers = providers
        self.configuration = configuration
    }

    /// What went wrong (errors stop the run) and what to mention (warnings).
    public struct Problems: Sendable {
        public var errors: [Diagnostic] = []
        public var warnings: [Diagnostic] = []
    }

    /// One entry and where its values go (nil job: the workflow's).
    struct Scoped: Sendable {
        var spec: SecretSpec
        var job: String?
    }

    public func resolve(redactor: Redactor) async -> (ResolvedSecrets, Problems) {
        var resolved = ResolvedSecrets()
        var problems = Problems()
        let tooShort = NameSet()
        func register(_ name: String, _ value: String) {
            guard !value.isEmpty else { return }
            if !redactor.add(value) { tooShort.insert(name) }
        }

        // Everything given on the command line or in the environment that is secret by name.
        for (name, value) in commandLine { register(name, value) }
        for (name, value) in environment where SecretNamePolicy.looksSecret(name) { register(name, value) }
        for (name, value) in hostEnvironment where SecretNamePolicy.looksSecret(name) { register(name, value) }
        for (name, value) in environment.merging(hostEnvironment, uniquingKeysWith: { given, _ in given }) {
            for credential in SecretNamePolicy.urlCredentials(value) { register(name, credential) }
        }
        resolved.run = commandLine

        let selected = Set(jobIDs)
        var scoped = workflow.secrets.map { Scoped(spec: $0, job: nil) }
        for job in workflow.jobs where selected.contains(job.id) {
            scoped += job.secrets.map { Scoped(spec: $0, job: job.id) }
        }

        // Names an `env:` of the workflow, a job that runs or one of its steps sets: their values
        // are known (and masked) when the step's environment is made.
        var setByWorkflow = Set(workflow.env.map(\.name))
        for job in workflow.jobs where selected.contains(job.id) {
            setByWorkflow.formUnion(job.env.map(\.name))
            for step in job.steps { setByWorkflow.formUnion(step.env.map(\.name)) }
        }
        // A value written in the workflow's or a job's `env:` under a name that looks secret (or
        // is declared) is masked from the run's start, not from the job's: the plan, the job's
        // name and key show it otherwise (audit 66 output L4).
        let declared = Set(scoped.compactMap { entry -> String? in
            if case .name(let name) = entry.spec.source { return name } else { return nil }
        })
        let written = workflow.env + workflow.jobs.filter { selected.contains($0.id) }.flatMap(\.env)
        for entry in written where entry.value.template.isLiteral && (declared.contains(entry.name) || SecretNamePolicy.looksSecret(entry.name)) {
            register(entry.name, entry.value.source.value)
        }

        // Declared names: the value of that variable, wherever it is set.
        for entry in scoped {
            guard case .name(let name) = entry.spec.source else { continue }
            resolved.declaredNames.insert(name)
            let value = commandLine[name] ?? environment[name] ?? hostEnvironment[name]
            guard let value else {
                if setByWorkflow.contains(name) { continue }
                let where_ = context(entry)
                if entry.spec.required {
                    problems.errors.append(Diagnostic(
                        .error, "the secret '\(name)' is required, and no source provides it", at: entry.spec.location, context: where_,
                        hint: "pass it with --secret \(name) (reading the variable \(name)), --secret-file FILE, --env-file FILE, or set it in the environment"))
                } else {
                    problems.warnings.append(Diagnostic(
                        .warning, "the secret '\(name)' is declared and nothing sets it when the run starts", at: entry.spec.location,
                        context: where_, hint: "it is empty unless a step sets it through $GITHUB_ENV (masked from then on); pass it with --secret \(name) or --secret-file"))
                }
                continue
            }
            register(name, value)
            // Exported unless `--env` or an env file gave it (those reach the steps anyway): a value
            // from this process's environment reaches only the steps of an executor that inherits
            // it (`local`), so an ssh or oci step had it empty (audit 63 secrets L6).
            store(name, value, entry, export: entry.spec.exportsEnv && (commandLine[name] != nil || environment[name] == nil), into: &resolved)
        }

        // Provider entries, a few at a time.
        let entries = scoped.filter { if case .provider = $0.spec.source { return true } else { return false } }
        let results = await withTaskGroup(of: (Int, Result<[String: String], EngineError>).self) { group in
            var outcomes: [(Int, Result<[String: String], EngineError>)] = []
            var next = 0
            func launch(_ index: Int) {
                let entry = entries[index]
                group.addTask { (index, await self.resolveEntry(entry, redactor: redactor, tooShort: tooShort)) }
            }
            while next < min(parallelism, entries.count) {
                launch(next)
                next += 1
            }
            while let outcome = await group.next() {
                outcomes.append(outcome)
                if next < entries.count {
                    launch(next)
                    next += 1
                }
            }
            return outcomes.sorted { $0.0 < $1.0 }
        }
        for (index, result) in results {
            let entry = entries[index]
            switch result {
            case .success(let values):
                for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                    resolved.declaredNames.insert(name)
                    store(name, value, entry, export: entry.spec.exportsEnv, into: &resolved)
                }
            case .failure(let error):
                let diagnostic = Diagnostic(entry.spec.required ? .error : .warning,
                                            error.message + (entry.spec.required ? "" : " (not required: going on without it)"),
                                            at: entry.spec.location, context: context(entry), hint: error.hint)
                if entry.spec.required { problems.errors.append(diagnostic) } else { problems.warnings.append(diagnostic) }
            }
        }
        // `${{ secrets.X }}` that nothing defines: empty, as on GitHub, with a warning naming it.
        // Not when an entry failed: the name is likelier one it would have given, and the hint to
        // declare it pointed the wrong way, before the provider's own error (audit 58 examples L1).
        let entryFailed = results.contains { if case .failure = $0.1 { return true } else { return false } }
        var warned: Set<String> = []
        let runNames = Set(resolved.run.keys.map { $0.lowercased() })
        for reference in workflow.secretReferences where reference.job == nil || selected.contains(reference.job!) {
            let name = reference.name.lowercased()
            let known = runNames.contains(name)
                || (reference.job.flatMap { resolved.jobs[$0] }?.keys.contains { $0.lowercased() == name } ?? false)
            guard !known, !entryFailed, warned.insert(name).inserted else { continue }
            problems.warnings.append(Diagnostic(
                .warning, "secrets.\(reference.name) is not defined: it is the empty string", at: reference.location, context: reference.context,
                hint: "declare it under 'secrets:', or pass --secret \(reference.name) / --secret-file FILE"))
        }
        for name in tooShort.sorted() {
            problems.warnings.append(Diagnostic(
                .warning, "the secret '\(name)' is shorter than \(Redactor.minimumLength) bytes (white space around it not counted) and cannot be masked in the logs",
                hint: "a value that short would mask ordinary words; use a longer secret"))
        }
        return (resolved, problems)
    }

    func context(_ entry: Scoped) -> String {
        "workflow '\(workflow.name)'" + (entry.job.map { " › job '\($0)'" } ?? "")
    }

    func store(_ name: String, _ value: String, _ entry: Scoped, export: Bool, into resolved: inout ResolvedSecrets) {
        if let job = entry.job {
            resolved.jobs[job, default: [:]][name] = value
            if export { resolved.jobEnv[job, default: [:]][name] = value }
        } else {
            resolved.run[name] = value
            if export { resolved.runEnv[name] = value }
        }
    }

    /// Resolve one provider entry through its plugin; values are masked as they arrive.
    func resolveEntry(_ entry: Scoped, redactor: Redactor, tooShort: NameSet) async -> Result<[String: String], EngineError> {
        guard case .provider(let provider, let options) = entry.spec.source else { return .success([:]) }
        guard let providers else { return .failure(EngineError("no secret providers are available")) }
        let source = entry.spec.location.map { SecretsSource(file: $0.file, line: $0.line, column: $0.column) }
        let delivered = Mutex<[String: String]>([:])
        let label = "secret provider '\(provider)'"
        do {
            let names = try await providers.resolveSecrets(
                SecretsEntry(provider: provider, options: options, source: source), configuration: configuration,
                timeout: entry.spec.timeout?.value
            ) { name, bytes in
                // Text only: a value that is not UTF-8 could not be matched reliably in the logs.
                guard let value = String(validating: bytes, as: UTF8.self) else { return false }
                if !value.isEmpty, !redactor.add(value) { tooShort.insert(name) }
                delivered.withLock { $0[name] = value }
                return true
            }
            let values = delivered.withLock { $0 }
            let missing = names.filter { values[$0] == nil }
            if !missing.isEmpty {
                return .failure(EngineError("\(label) named values it did not deliver: \(missing.joined(separator: ", "))"))
            }
            // secrets.h: the result names exactly what was delivered (the host checks); values
            // it does not name are not used (they stay masked).
            let named = Set(names)
            let unnamed = values.keys.filter { !named.contains($0) }.sorted()
            if !unnamed.isEmpty {
                return .failure(EngineError("\(label) delivered values its result does not name: \(unnamed.prefix(10).joined(separator: ", "))",
                                            hint: "a provider's result lists exactly the names it delivered (secrets.h); fix the plugin"))
            }
            // Renaming (`as:`).
            if entry.spec.renameOnly != nil, values.count != 1 {
                return .failure(EngineError(
                    "\(label): 'as: \(entry.spec.renameOnly!)' renames exactly one key, and the entry gave \(values.count)"
                        + (values.isEmpty ? "" : " (\(values.keys.sorted().prefix(5).joined(separator: ", "))\(values.count > 5 ? ", …" : ""))"),
                    hint: "select one key (keys: [KEY]), or rename each: as: { KEY: NAME }"))
            }
            for key in entry.spec.rename.keys.sorted() where values[key] == nil {
                return .failure(EngineError("\(label): 'as' renames '\(key)', which the entry did not give",
                                            hint: "the entry gave: \(values.keys.sorted().prefix(10).joined(separator: ", "))"))
            }
            var renamed: [String: String] = [:]
            for (key, value) in values { renamed[entry.spec.name(for: key, only: values.count == 1)] = value }
            return .success(renamed)
        } catch let error as EngineError {
            return .failure(EngineError("\(label): \(error.message)", hint: error.hint))
        } catch is CancellationError {
            return .failure(EngineError("\(label): cancelled"))
        } catch {
            return .failure(EngineError("\(label): \(error)"))
        }
    }
}

/// Names collected from several tasks.
final class NameSet: Sendable {
    private let names = Mutex<Set<String>>([])
    func insert(_ name: String) { names.withLock { _ = $0.insert(name) } }
    func sorted() -> [String] { names.withLock { $0.sorted() } }
}
