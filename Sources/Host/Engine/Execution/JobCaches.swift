import Crypto
import Foundation
import NixActionsPluginMessages
import Synchronization

/// The cache backends of one run: one instance per backend name, made on first use, shared by
/// the run's jobs.
public final class CacheBackends: Sendable {
    let provider: (any CacheBackendProvider)?
    let settings: CacheSettings
    let runID: String
    let runDirectory: String
    private let instances = Mutex<[String: Result<any CacheBackend, EngineError>]>([:])

    public init(provider: (any CacheBackendProvider)?, settings: CacheSettings, runID: String, runDirectory: String) {
        self.provider = provider
        self.settings = settings
        self.runID = runID
        self.runDirectory = runDirectory
    }

    /// The backend `name` (nil: the configuration's default), or why it cannot be had.
    public func backend(_ name: String?) -> Result<any CacheBackend, EngineError> {
        let name = name ?? settings.defaultBackend
        return instances.withLock { instances in
            if let known = instances[name] { return known }
            let made: Result<any CacheBackend, EngineError>
            if let provider {
                do {
                    made = .success(try provider.makeCacheBackend(
                        name: name, configuration: CacheConfiguration(runID: runID, runDirectory: runDirectory, options: settings.options(for: name))))
                } catch let error as EngineError {
                    made = .failure(error)
                } catch {
                    made = .failure(EngineError("cache backend '\(name)': \(error)"))
                }
            } else {
                made = .failure(EngineError("no cache backends are available in this run"))
            }
            instances[name] = made
            return made
        }
    }
}

/// A cache as one job uses it, its fields evaluated.
struct ResolvedCache: Sendable {
    var id: String
    var paths: [String]
    var key: String
    var restoreKeys: [String]
    var backend: String?
    var policy: CacheSpec.Policy
    var saveOn: CacheSpec.SaveOn
    var lookupOnly: Bool
    var failOnCacheMiss: Bool
    /// The paths as the version reads them, when they differ from `paths`: the job's own folders
    /// written as placeholders (`versionPaths(_:started:)`).
    var versionPaths: [String]? = nil
    /// An `actions/cache` step's (its save is asked for with `save-always`, not `save-on`).
    var fromAction = false
    /// The project's (`RunOptions.cacheScope`): part of the version, so that a backend shared by
    /// several projects (the user's local folder, a team's bucket) never restores one project's
    /// entry in another (audit 57 H1: `restore-keys: deps-` restored another project's
    /// node_modules). GitHub scopes caches to the repository the same way.
    var scope = ""

    /// Entries match only for the same paths and archive format (cache.h: `version`), so the same
    /// key with other paths is never restored.
    var version: String {
        var text = "nixactions-cache/1\ntar+zstd\n" + (versionPaths ?? paths).joined(separator: "\n")
        // Paths inside another cached path are archived under it (`CachePaths.roots`): an entry
        // saved before, with a root of their own, must not be restored by this layout.
        if CachePaths.nests(paths) { text += "\nnested-in-one-root" }
        if !scope.isEmpty { text += "\nscope " + scope }
        return "v1-" + SHA256.hash(data: Data(text.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// `paths` with the job's workspace and temporary folder written as `$GITHUB_WORKSPACE` and
    /// `$RUNNER_TEMP`: those folders are new in every run, so `${{ github.workspace }}/.cache`
    /// (GitHub's usual way to write a path, evaluated before the cache sees it) must give the same
    /// version in every run (audit 48: it never hit, and every run stored the key again).
    static func versionPaths(_ paths: [String], started: JobStarted) -> [String] {
        paths.map { path in
            for (folder, name) in [(started.workspace, "$GITHUB_WORKSPACE"), (started.temporaryDirectory, "$RUNNER_TEMP")] where !folder.isEmpty {
                for prefix in ["", "!"] {
                    let full = prefix + folder
                    if path == full { return prefix + name }
                    if path.hasPrefix(full + "/") { return prefix + name + path.dropFirst(full.count) }
                }
            }
            return path
        }
    }
}

/// What a restore found, for the `cache-hit` / `cache-matched-key` outputs.
struct CacheRestoreOutcome: Sendable {
    var matchedKey: String?
    var exact: Bool
    var failed: String?
}

/// How cache paths become the roots of the files interface: each path (a folder or file, `~/`
/// for the job user's home, absolute, or relative to the workspace; a glob keeps its fixed
/// leading folders as the root and the rest as the include pattern), exclusions (`!path`) as
/// excludes of the roots they fall under. Root names are "0", "1", … in order of first use.
enum CachePaths {
    struct Root: Sendable, Equatable {
        var name: String
        var path: String
        var includes: [String]?
        var excludes: [String]
    }

    static func isGlob(_ part: Substring) -> Bool { part.contains { "*?[".contains($0) } }

    /// The path without `.` parts, repeated or trailing `/` (`./a/./b/.` is `a/b`; `a/.` would
    /// otherwise name a root inside `a`).
    static func normalize(_ path: String) -> String {
        let path = path.trimmingCharacters(in: .whitespaces)
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    /// Whether a path lies inside another one (`roots` then archives it under that one).
    static func nests(_ paths: [String]) -> Bool {
        guard let folded = try? roots(paths), let apart = try? roots(paths, fold: false) else { return false }
        return folded.count != apart.count
    }

    /// The archive's roots: one per folder named before its first glob. A path inside another
    /// root is archived under that root (as an include of it, or not at all when the root takes
    /// everything): two roots of one tree would let the first root's merge put a link where the
    /// second one is written (review 49).
    static func roots(_ paths: [String], fold: Bool = true) throws -> [Root] {
        var roots: [Root] = []
        var exclusions: [String] = []
        for raw in paths {
            if raw.hasPrefix("!") {
                exclusions.append(normalize(String(raw.dropFirst())))
                continue
            }
            let path = normalize(raw)
            if path.split(separator: "/").contains("..") {
                throw EngineError("cache path '\(raw)' contains '..'", hint: "name the folder itself: a relative path is relative to the workspace")
            }
            let absolute = path.hasPrefix("/")
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            let fixed = parts.prefix { !isGlob($0) }
            let rest = parts.dropFirst(fixed.count)
            var rootPath = fixed.joined(separator: "/")
            if absolute { rootPath = "/" + rootPath }
            if absolute && fixed.isEmpty {
                throw EngineError("cache path '\(raw)' would archive the whole file system", hint: "name a folder")
            }
            let include = rest.isEmpty ? nil : rest.joined(separator: "/")
            if let index = roots.firstIndex(where: { $0.path == rootPath }) {
                if let include, roots[index].includes != nil { roots[index].includes!.append(include) } else { roots[index].includes = nil }
            } else {
                roots.append(Root(name: String(roots.count), path: rootPath, includes: include.map { [$0] }, excludes: []))
            }
        }
        for exclusion in exclusions {
            for index in roots.indices {
                let root = roots[index].path
                if root.isEmpty && !exclusion.hasPrefix("/") && !exclusion.hasPrefix("~") {
                    roots[index].excludes.append(exclusion)
                } else if exclusion.hasPrefix(root + "/") {
                    roots[index].excludes.append(String(exclusion.dropFirst(root.count + 1)))
                }
            }
        }
        guard fold else { return roots }
        // Where `inner` lies under `outer`, relative to it; nil when it does not.
        func relative(_ inner: String, under outer: String) -> String? {
            if outer.isEmpty { return inner.isEmpty || inner.hasPrefix("/") || inner.hasPrefix("~") ? nil : inner }
            return inner.hasPrefix(outer + "/") ? String(inner.dropFirst(outer.count + 1)) : nil
        }
        var kept: [Root] = []
        for index in roots.indices {
            let root = roots[index]
            // The outermost root that holds it (an earlier or later one).
            guard let outer = roots.indices.filter({ relative(root.path, under: roots[$0].path) != nil })
                .min(by: { roots[$0].path.count < roots[$1].path.count }) else {
                kept.append(root)
                continue
            }
            let rest = relative(root.path, under: roots[outer].path)!
            if let at = kept.firstIndex(where: { $0.path == roots[outer].path }) {
                if kept[at].includes != nil { kept[at].includes! += root.includes.map { $0.map { rest + "/" + $0 } } ?? [rest + "/**"] }
            } else {
                // The outer root comes later in the list: remember what it must also take.
                if roots[outer].includes != nil { roots[outer].includes! += root.includes.map { $0.map { rest + "/" + $0 } } ?? [rest + "/**"] }
            }
        }
        return kept.enumerated().map { index, root in
            var root = root
            root.name = String(index)
            return root
        }
    }
}

/// Passes a stream from one side to a `TreeWriter` (a cache restore into an executor's put, an
/// executor's get into a cache save) and remembers how it ended.
final class TreeForwarder: TreeSink, @unchecked Sendable {
    private let writer: any TreeWriter
    private let lock = NSLock()
    private var ended: (complete: Bool, message: String)?
    private var writeError: String?

    init(_ writer: any TreeWriter) { self.writer = writer }

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        do {
            try writer.write(bytes)
            return true
        } catch {
            lock.withLock { writeError = writeError ?? "\(error)" }
            return false
        }
    }

    func close(complete: Bool, message: String) { lock.withLock { ended = (complete, message) } }

    /// Throws unless the whole stream arrived and was passed on.
    func check() throws {
        let (ended, writeError) = lock.withLock { (self.ended, self.writeError) }
        if let writeError { throw EngineError(writeError) }
        guard let ended, ended.complete else { throw EngineError(ended?.message.isEmpty == false ? ended!.message : "the stream was cut short") }
    }
}

/// The inner operation a blocked producer thread waits for, so that cancelling the job reaches it
/// (a cache restore inside an executor's put, an executor's get inside a cache save).
final class InnerOperation: @unchecked Sendable {
    private let lock = NSLock()
    private var task: Task<Void, Never>?
    private var cancelled = false
    /// The job's route for plugin messages, taken where the operation is made (the detached
    /// task that runs `body` inherits no task-locals).
    private let messages = OperationMessages.route

    func started(_ task: Task<Void, Never>) {
        let cancelNow = lock.withLock { () -> Bool in
            self.task = task
            return cancelled
        }
        if cancelNow { task.cancel() }
    }

    func cancel() {
        let task = lock.withLock { () -> Task<Void, Never>? in
            cancelled = true
            return self.task
        }
        task?.cancel()
    }

    /// Run `body` from a thread that may block (a producer of `putTree`/`save`) and wait for it.
    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = Mutex<Result<T, any Error>?>(nil)
        let messages = self.messages
        started(Task.detached {
            let result: Result<T, any Error>
            do { result = .success(try await OperationMessages.$route.withValue(messages) { try await body() }) } catch { result = .failure(error) }
            box.withLock { $0 = result }
            done.signal()
        })
        done.wait()
        return try box.withLock { $0! }.get()
    }
}

extension JobRunner {
    /// Evaluate a cache's fields.
    func resolve(_ spec: CacheSpec, _ evaluation: RuntimeContext) -> Result<ResolvedCache, RunProblem> {
        let key: String
        switch render(spec.key, what: "cache.key", evaluation) {
        case .success(let text): key = text
        case .failure(let problem): return .failure(problem)
        }
        var restoreKeys: [String] = []
        for field in spec.restoreKeys {
            switch render(field, what: "cache.restore-keys", evaluation) {
            case .success(let text):
                restoreKeys += text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            case .failure(let problem): return .failure(problem)
            }
        }
        return .success(ResolvedCache(
            id: spec.id, paths: spec.paths.map(\.value), key: key, restoreKeys: restoreKeys, backend: spec.backend,
            policy: spec.policy, saveOn: spec.saveOn, lookupOnly: spec.lookupOnly, failOnCacheMiss: spec.failOnCacheMiss, scope: options.cacheScope))
    }

    /// A key as messages show it: control characters and line breaks escaped (a key made from a
    /// branch name must not start a line of its own in the log), at most 80 characters.
    /// A key as messages show it: escaped and cut at 80 characters, masked first (a cut through
    /// a long secret would show its beginning).
    func shownKey(_ key: String) -> String {
        let escaped = DisplayText.escaped(redactor.redact(key))
        return escaped.count > 80 ? String(escaped.prefix(79)) + "…" : escaped
    }

    func cacheMessage(_ level: MessageLevel, _ text: String, step: Int? = nil) {
        reporter.report(.message(job: planned.key, level: level, text: text))
    }

    /// Find and restore a cache into the job. A failure is a miss with a warning.
    func restoreCache(_ cache: ResolvedCache, started: JobStarted, executor: any Executor) async -> CacheRestoreOutcome {
        let label = "cache '\(cache.id)'"
        if let problem = CacheKeys.problem(cache.key) {
            cacheMessage(.warning, "\(label): key '\(shownKey(cache.key))': \(problem); not restored")
            return CacheRestoreOutcome(matchedKey: nil, exact: false, failed: problem)
        }
        if redactor.contains(cache.key) {
            cacheMessage(.warning, "\(label): key '\(shownKey(cache.key))' holds a secret; not restored (\(Self.secretKeyReason))")
            return CacheRestoreOutcome(matchedKey: nil, exact: false, failed: "its key holds a secret")
        }
        let secretRestoreKeys = cache.restoreKeys.filter { redactor.contains($0) }
        if !secretRestoreKeys.isEmpty {
            cacheMessage(.warning, "\(label): restore keys holding a secret are not used: \(secretRestoreKeys.joined(separator: ", ")) (\(Self.secretKeyReason))")
        }
        let backend: any CacheBackend
        switch options.caches.backend(cache.backend) {
        case .success(let made): backend = made
        case .failure(let error):
            cacheMessage(.warning, "\(label): \(error.description); continuing without the cache")
            return CacheRestoreOutcome(matchedKey: nil, exact: false, failed: error.message)
        }
        let clock = ContinuousClock()
        let began = clock.now
        let found: CacheLookupResult
        do {
            // GitHub's order: the key, then the newest entry whose key starts with it, then the
            // restore keys (a prefix match of the key is not a hit: `cache-hit` stays false).
            found = try await backend.lookup(CacheLookup(
                key: cache.key, restoreKeys: [cache.key] + cache.restoreKeys.filter { CacheKeys.problem($0) == nil && !secretRestoreKeys.contains($0) },
                version: cache.version))
        } catch {
            if Task.isCancelled { return CacheRestoreOutcome(matchedKey: nil, exact: false, failed: "cancelled") }
            cacheMessage(.warning, "\(label): cannot look up '\(shownKey(cache.key))' in backend '\(backend.name)': \(describe(error)); continuing without the cache")
            return CacheRestoreOutcome(matchedKey: nil, exact: false, failed: describe(error))
        }
        guard let matched = found.matchedKey else {
            cacheMessage(.info, "\(label): no entry for key '\(shownKey(cache.key))'\(cache.restoreKeys.isEmpty ? "" : " or restore keys \(cache.restoreKeys.joined(separator: ", "))")")
            return CacheRestoreOutcome(matchedKey: nil, exact: false)
        }
        if cache.lookupOnly {
            cacheMessage(.info, "\(label): found '\(shownKey(matched))'\(found.exact ? "" : " (restore key)"); lookup only, nothing restored")
            return CacheRestoreOutcome(matchedKey: matched, exact: found.exact)
        }
        guard let files = executor.files else {
            cacheMessage(.warning, "\(label): executor '\(executorReference.pluginID)' cannot move files into its jobs; not restored")
            return CacheRestoreOutcome(matchedKey: nil, exact: false, failed: "no files interface")
        }
        do {
            let roots = try CachePaths.roots(cache.paths)
            let put = FilesPut(jobKey: executorKey, roots: roots.map { FilesPutRoot(name: $0.name, path: $0.path) })
            let request = CacheRestore(key: matched, version: cache.version)
            let inner = InnerOperation()
            let result = try await withTaskCancellationHandler {
                try await files.putTree(put) { writer in
                    let forward = TreeForwarder(writer)
                    _ = try inner.run { try await backend.restore(request, into: forward) }
                    try forward.check()
                }
            } onCancel: { inner.cancel() }
            let seconds = Double((clock.now - began).components.attoseconds) / 1e18 + Double((clock.now - began).components.seconds)
            cacheMessage(.info, "\(label): restored '\(shownKey(matched))'\(found.exact ? "" : " (restore key)"): \(result.files) files, \(CacheSizes.format(result.bytes)) in \(String(format: "%.2f", seconds)) s")
            return CacheRestoreOutcome(matchedKey: matched, exact: found.exact)
        } catch {
            if Task.isCancelled { return CacheRestoreOutcome(matchedKey: nil, exact: false, failed: "cancelled") }
            cacheMessage(.warning, "\(label): cannot restore '\(shownKey(matched))'; continuing without the cache: \(describe(error))")
            return CacheRestoreOutcome(matchedKey: nil, exact: false, failed: describe(error))
        }
    }

    /// Why a key (or restore key) that holds a secret is not used: keys are kept in the clear.
    static let secretKeyReason = "a cache key is stored in the clear, in the local index or as an S3 object name; keep secrets out of keys"

    /// Save a cache out of the job, unless its key exists. A failure is a warning.
    func saveCache(_ cache: ResolvedCache, executor: any Executor) async {
        let label = "cache '\(cache.id)'"
        if let problem = CacheKeys.problem(cache.key) {
            return cacheMessage(.warning, "\(label): key '\(shownKey(cache.key))': \(problem); not saved")
        }
        if redactor.contains(cache.key) {
            return cacheMessage(.warning, "\(label): key '\(shownKey(cache.key))' holds a secret; not saved (\(Self.secretKeyReason))")
        }
        let backend: any CacheBackend
        switch options.caches.backend(cache.backend) {
        case .success(let made): backend = made
        case .failure(let error): return cacheMessage(.warning, "\(label): \(error.description); not saved")
        }
        guard let files = executor.files else {
            return cacheMessage(.warning, "\(label): executor '\(executorReference.pluginID)' cannot move files out of its jobs; not saved")
        }
        let roots: [CachePaths.Root]
        do { roots = try CachePaths.roots(cache.paths) } catch { return cacheMessage(.warning, "\(label): \(describe(error)); not saved") }
        let reservation: CacheReservation
        do {
            reservation = try await backend.reserve(CacheReserve(key: cache.key, version: cache.version))
        } catch {
            return cacheMessage(.warning, "\(label): cannot reserve '\(shownKey(cache.key))' in backend '\(backend.name)': \(describe(error)); not saved")
        }
        guard reservation.reserved, let token = reservation.reservation else {
            let why = reservation.reason == "exists" ? "an entry with this key exists (keys are immutable)"
                : reservation.reason == "busy" ? "another job or run is saving it now" : (reservation.reason ?? "refused")
            return cacheMessage(.info, "\(label): not saving '\(shownKey(cache.key))': \(why)")
        }
        let clock = ContinuousClock()
        let began = clock.now
        let get = FilesGet(jobKey: executorKey, roots: roots.map {
            FilesGetRoot(name: $0.name, path: $0.path, include: $0.includes, exclude: $0.excludes.isEmpty ? nil : $0.excludes)
        })
        let gotten = Mutex<FilesGetResult?>(nil)
        var discard = true
        var note = ""
        do {
            let inner = InnerOperation()
            let saved = try await withTaskCancellationHandler {
                try await backend.save(CacheSave(key: cache.key, version: cache.version, reservation: token)) { writer in
                    let forward = TreeForwarder(writer)
                    let result = try inner.run { try await files.getTree(get, into: forward) }
                    try forward.check()
                    gotten.withLock { $0 = result }
                }
            } onCancel: { inner.cancel() }
            let result = gotten.withLock { $0 }
            if let result, result.missing.count == roots.count {
                note = "none of its paths exist (\(cache.paths.joined(separator: ", "))); not saved"
            } else if let result, result.files == 0 {
                // An entry without a file would be a hit with nothing in it for every later run
                // (keys are immutable); GitHub saves nothing either.
                note = "no file matches its paths (\(cache.paths.joined(separator: ", "))); not saved"
            } else {
                discard = false
                let seconds = Double((clock.now - began).components.seconds) + Double((clock.now - began).components.attoseconds) / 1e18
                note = "saved '\(shownKey(cache.key))': \(result?.files ?? 0) files, \(CacheSizes.format(result?.bytes ?? saved.bytes)) (\(CacheSizes.format(saved.storedBytes)) stored) in \(String(format: "%.2f", seconds)) s"
            }
        } catch {
            // A cancelled job's save ends however the plugins word it: said as what it is.
            note = Task.isCancelled || error is CancellationError
                ? "saving '\(shownKey(cache.key))' was cancelled; not saved"
                : "cannot save '\(shownKey(cache.key))': \(describe(error)); not saved"
        }
        // Always follows a reservation, never cancelled (cache.h).
        let commit = CacheCommit(key: cache.key, version: cache.version, reservation: token, discard: discard)
        // Detached (a cancelled job still commits), with the job's route for what the plugin says (an eviction).
        let route = OperationMessages.route
        let committed = await Task.detached { try? await OperationMessages.$route.withValue(route) { try await backend.commit(commit) } }.value
        if discard {
            cacheMessage(note.hasPrefix("cannot") ? .warning : .info, "\(label): \(note)")
        } else if let committed, committed.committed {
            cacheMessage(.info, "\(label): \(note)")
        } else if committed?.reason == "exists" {
            cacheMessage(.info, "\(label): another job or run saved '\(shownKey(cache.key))' first; kept theirs")
        } else {
            cacheMessage(.warning, "\(label): could not publish '\(shownKey(cache.key))' (\(committed?.reason ?? "the commit failed")); not saved")
        }
    }

    /// The outputs actions/cache gives (`cache-hit`: "true" only for the exact key).
    static func cacheOutputs(_ cache: ResolvedCache, _ outcome: CacheRestoreOutcome) -> [String: ExpressionValue] {
        [
            "cache-hit": .string(outcome.exact && outcome.matchedKey != nil ? "true" : "false"),
            "cache-primary-key": .string(cache.key),
            "cache-matched-key": .string(outcome.matchedKey ?? ""),
        ]
    }
}

extension JobRunner {
    /// Job-level `cache:` entries: restored before the first step (policy pull or pull-push),
    /// their results in `steps.<id>.outputs`, queued for saving after the steps (push, pull-push).
    func restoreJobCaches(executor: any Executor, started: JobStarted, base: [String: ExpressionValue], env: [String: String],
                          state: inout State) async {
        var contexts = base
        contexts["env"] = .sortedObject(env.mapValues(ExpressionValue.string))
        let fields = job.caches.flatMap { [$0.key] + $0.restoreKeys }
        do {
            try await hashing.prefetch(JobHashing.calls(in: fields.map(\.template), conditions: []), jobKey: executorKey, files: executor.files)
        } catch {
            cacheMessage(.warning, "cannot compute hashFiles for the caches: \(describe(error))")
        }
        let evaluation = context(contexts, .ok)
        for spec in job.caches {
            let cache: ResolvedCache
            switch resolve(spec, evaluation) {
            case .success(let resolved): cache = resolved
            case .failure(let problem):
                cacheMessage(.error, problem.message)
                state.succeeded = false
                state.failure = state.failure ?? JobFailure(message: problem.message)
                return
            }
            var outcome = CacheRestoreOutcome(matchedKey: nil, exact: false)
            if cache.policy.restores {
                outcome = await restoreCache(cache, started: started, executor: executor)
                if cache.failOnCacheMiss && outcome.matchedKey == nil {
                    let message = "cache '\(cache.id)': no entry for key '\(shownKey(cache.key))' and fail-on-cache-miss is set"
                    cacheMessage(.error, message)
                    state.succeeded = false
                    state.failure = state.failure ?? JobFailure(message: message)
                }
            }
            state.steps[cache.id] = .object([
                "outputs": .sortedObject(Self.cacheOutputs(cache, outcome)), "outcome": .string("success"), "conclusion": .string("success"),
            ])
            if cache.policy.saves && !(outcome.exact && outcome.matchedKey != nil) { state.pendingSaves.append(cache) }
        }
    }

    /// Save what the job's caches and actions/cache steps queued, last queued first (GitHub runs
    /// post steps in reverse): only when the job succeeded, unless `save-on: always` (then also
    /// after a failure or a timeout); never when the run was cancelled.
    func savePendingCaches(executor: any Executor, state: State) async {
        guard !state.pendingSaves.isEmpty, !state.cancelled, !Task.isCancelled else { return }
        for cache in state.pendingSaves.reversed() {
            guard state.succeeded || cache.saveOn == .always else {
                cacheMessage(.info, "cache '\(cache.id)': not saved, the job did not succeed (\(cache.fromAction ? "save-always: true" : "save-on: always") saves anyway)")
                continue
            }
            await saveCache(cache, executor: executor)
        }
    }

    /// `uses: actions/cache`, `actions/cache/restore`, `actions/cache/save` with GitHub's inputs,
    /// on the same mechanism as `cache:`. Returns the step's outputs.
    /// The action's outputs, and the cache its post step saves (actions/cache after a miss).
    func runCacheAction(_ action: String, step: Step, inputs: [String: String], executor: any Executor, started: JobStarted) async throws
        -> ([String: ExpressionValue], ResolvedCache?) {
        guard let key = inputs["key"], !key.isEmpty else {
            throw EngineError("\(action) needs 'with: key'", hint: "e.g. key: deps-${{ hashFiles('package-lock.json') }}")
        }
        guard let pathText = inputs["path"] else {
            throw EngineError("\(action) needs 'with: path'", hint: "e.g. path: node_modules")
        }
        // actions/cache's `getInputAsBool`: "true" in any case is true, anything else false; a
        // value that is neither is said, as for actions/checkout (audit 64 cache L4: read as false
        // without a word; "yes" and "1" were true here, false there).
        func flag(_ name: String) -> Bool {
            let value = (inputs[name] ?? "").trimmingCharacters(in: .whitespaces)
            let reading = Self.bool(value)  // actions/checkout's reading, the same rule
            if !value.isEmpty, reading == nil {
                cacheMessage(.warning, "\(action): \(name) '\(value)' is neither true nor false: it is read as false, as actions/cache reads it")
            }
            return reading ?? false
        }
        let paths = pathText.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let restoreKeys = (inputs["restore-keys"] ?? "").split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        let cache = ResolvedCache(
            id: step.id ?? "step \(step.index + 1)", paths: paths, key: key, restoreKeys: restoreKeys, backend: inputs["backend"],
            policy: .pullPush, saveOn: flag("save-always") ? .always : .success, lookupOnly: flag("lookup-only"),
            failOnCacheMiss: flag("fail-on-cache-miss"), versionPaths: ResolvedCache.versionPaths(paths, started: started), fromAction: true,
            scope: options.cacheScope)
        if let problem = CacheKeys.problem(key) { throw EngineError("\(action): key '\(key)': \(problem)") }
        if action == "actions/cache/save" {
            await saveCache(cache, executor: executor)
            return ([:], nil)
        }
        let outcome = await restoreCache(cache, started: started, executor: executor)
        if cache.failOnCacheMiss && outcome.matchedKey == nil {
            throw EngineError("no cache entry for key '\(key)'\(restoreKeys.isEmpty ? "" : " or its restore keys") (fail-on-cache-miss)")
        }
        // GitHub's post step saves whatever lookup-only said, unless the exact key was found.
        let pending = action == "actions/cache" && !(outcome.exact && outcome.matchedKey != nil) ? cache : nil
        var outputs = Self.cacheOutputs(cache, outcome)
        if action == "actions/cache" { outputs["cache-primary-key"] = nil }
        // actions/cache leaves `cache-hit` unset on a miss, so it reads '' (its restoreImpl, "to
        // preserve existing behavior", actions/cache#1466; audit 55 F2: it was 'false').
        if outcome.matchedKey == nil { outputs["cache-hit"] = nil }
        return (outputs, pending)
    }
}
