import CNixActionsPlugin
import Foundation
import NixActionsEngine
import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

/// An executor plugin instance seen through the engine's `Executor` protocol.
final class PluginExecutor: Executor, @unchecked Sendable {
    let plugin: LoadedPlugin
    let table: UnsafePointer<nxa_executor_v1>
    let instance: UnsafeMutableRawPointer
    /// The plugin's "nixactions.executor.files/1" table, when it answers it (ABI 1.2).
    let filesTable: UnsafePointer<nxa_executor_files_v1>?

    init(plugin: LoadedPlugin, configuration: ExecutorConfiguration) throws {
        guard let table = try plugin.table(executorInterfaceV1, as: nxa_executor_v1.self, what: "an executor table",
                                           optional: [MemoryLayout<nxa_executor_v1>.offset(of: \.cancel)]) else {
            throw EngineError("plugin '\(plugin.id)' is not an executor", hint: "run 'nixactions plugins list' to see what it provides")
        }
        self.plugin = plugin
        self.table = table
        filesTable = try plugin.table(executorFilesInterfaceV1, as: nxa_executor_files_v1.self, what: "a files table")
        var configuration = configuration
        configuration.startRetries = true  // `startJob` asks again after "no room now"
        let json = try JSONEncoder().encode(configuration)
        var instance: UnsafeMutableRawPointer?
        let (status, message) = PluginCallWatch.during(plugin.id, "its create call") {
            Self.callWithError { error in
                json.withUnsafeBytes { bytes in
                    table.pointee.create(
                        plugin.descriptor, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &instance, error)
                }
            }
        }
        guard status == NXA_STATUS_OK, let instance else {
            let (text, hint) = PluginCalls.messageAndHint(message)
            throw EngineError("executor '\(plugin.id)' \(status == NXA_STATUS_OK ? "made no instance (create returned OK and NULL)" : "rejected its configuration: \(text.isEmpty ? "status \(status)" : text)")",
                              hint: hint ?? "check the executor's options where they are given: the job's executor or container, or its runner in .nixactions/config.yml")
        }
        self.instance = instance
        calls = PluginCalls(plugin: plugin, instance: instance, noun: "executor", cancel: table.pointee.cancel)
    }

    /// Runs the plugin's asynchronous operations (and knows whether one was abandoned).
    let calls: PluginCalls

    deinit {
        if !calls.abandoned.load(ordering: .relaxed) { PluginCallWatch.during(plugin.id, "its destroy call") { table.pointee.destroy(instance) } }
    }

    /// Call a function that takes an `nxa_error *`, returning its status and message.
    static func callWithError(_ body: (UnsafeMutablePointer<nxa_error>) -> nxa_status) -> (nxa_status, String) {
        PluginCalls.callWithError(body)
    }

    typealias AsyncCall = PluginCalls.AsyncCall
    static var afterCancel: Duration { PluginCalls.afterCancel }
    /// How long a job's start (its workspace, a container, an image pull) may take: it runs before
    /// the job's own time limit starts. 600 s, or `NIXACTIONS_START_SECONDS` (1 to 86400). A
    /// job waiting for room (`retryAfterSeconds`: every host of a pool busy) is not starting:
    /// each try has this deadline, the wait none.
    static let startDeadline: Duration = EnvironmentSeconds.read("NIXACTIONS_START_SECONDS", allowed: 1...86_400) ?? .seconds(600)
    /// How long job cleanup (`finish_job`, never cancelled) may take.
    static let cleanupDeadline: Duration = .seconds(60)

    func perform<Request: Encodable, Response: Decodable>(
        _ call: AsyncCall, _ request: Request, sink: (any StepOutputSink)?, as type: Response.Type,
        cancellable: Bool = true, deadline: Duration? = nil, what: String = "an operation",
        inlineWork: Bool = false, onAccepted: ((UInt64) -> Void)? = nil
    ) async throws -> Response {
        // The plugin's thread that completes an executor operation goes on with the job (HandOffExecutor).
        try await calls.perform(call, request, sink: sink, as: type, cancellable: cancellable, deadline: deadline, what: what,
                                handOff: true, inlineWork: inlineWork, onAccepted: onAccepted)
    }

    /// How long moving one tree into or out of a job may take.
    static let filesDeadline: Duration = .seconds(3600)

    func startJob(_ job: JobSpec) async throws -> JobStarted {
        var said = false
        var delay = 0.0
        // What the executor writes while it sets the job up (an image pull's words): the job's lines.
        let output = JobLevelOutput(pluginID: plugin.id, route: OperationMessages.route)
        defer { output.finish() }
        while true {
            do {
                // The shipped executors prepare the workspace (the project's copy) inside the call.
                return try await perform(table.pointee.start_job, job, sink: output, as: JobStarted.self, deadline: Self.startDeadline,
                                         what: "starting job '\(job.displayName)'", inlineWork: true)
            } catch let failure as OperationFailure {
                // No room for the job now (every host of a pool busy): it waits, as a queued job,
                // for as long as it takes (cancellable), each try with the start's own deadline.
                guard let after = failure.error.retryAfterSeconds else { throw failure }
                if !said {
                    said = true
                    HostRuntime.shared.logHandler.withLock { $0 }(plugin.id, 1, "job '\(job.displayName)' waits: \(failure.error.message)")
                }
                // From what the executor asks, doubling to at most a second between tries.
                delay = min(max(delay * 2, after, 0.01), 1)
                try await Task.sleep(for: .seconds(delay))
            }
        }
    }

    func runStep(_ step: StepSpec, output: any StepOutputSink) async throws -> StepResult {
        try await perform(table.pointee.run_step, step, sink: output, as: StepResult.self, what: "step '\(step.displayName)'")
    }

    func finishJob(_ job: JobSpec) async {
        struct Empty: FastJSONMessage {
            init(json: JSONValue) throws {}
            func writeJSON(_ writer: inout JSONWriter) {}
        }
        // Cleanup is never cancelled (ABI 1.2): it runs outside the job's task, so a cancelled or
        // timed-out job still removes its containers and folders, within its own deadline.
        let output = JobLevelOutput(pluginID: plugin.id, route: OperationMessages.route)
        defer { output.finish() }
        let cleanup = Task.immediate(executorPreference: HandOffExecutor.shared) { [self] in
            do {
                _ = try await perform(table.pointee.finish_job, job, sink: output, as: Empty.self, cancellable: false,
                                      deadline: Self.cleanupDeadline, what: "the cleanup of job '\(job.displayName)'", inlineWork: true)
            } catch {
                HostRuntime.shared.logHandler.withLock { $0 }(plugin.id, 2, "cleanup of job '\(job.jobKey)' failed: \(error)")
            }
        }
        await cleanup.value
    }
}

extension PluginExecutor: ExecutorFileTransfer {
    var files: (any ExecutorFileTransfer)? { filesTable == nil ? nil : self }

    func putTree(_ request: FilesPut, produce: @escaping @Sendable (any TreeWriter) throws -> Void) async throws -> FilesPutResult {
        let slot = StreamSlot()
        let writing = Completion()
        let result: Result<FilesPutResult, any Error>
        do {
            result = .success(try await putOperation(request, slot: slot, plugin: plugin, writing: writing, produce: produce))
        } catch {
            result = .failure(error)
        }
        if slot.stream != nil {
            // The producer reads engine files (an artifact's folder): do not return while it runs.
            // The plugin fails its writes once the put ended, so this is short; a plugin that does
            // not is waited for no longer than a cancelled operation is.
            let timer = Task.detached { try? await Task.sleep(for: Self.afterCancel); writing.signal() }
            await writing.wait()
            timer.cancel()
        }
        return try result.get()
    }

    private func putOperation(
        _ request: FilesPut, slot: StreamSlot, plugin: LoadedPlugin, writing: Completion,
        produce: @escaping @Sendable (any TreeWriter) throws -> Void
    ) async throws -> FilesPutResult {
        guard let filesTable else { throw EngineError("executor '\(plugin.id)' cannot move files into its jobs") }
        return try await perform(
            { instance, op, json, length, error in
                var out: UnsafePointer<nxa_stream>?
                let status = filesTable.pointee.put(instance, op, json, length, &out, error)
                if status == NXA_STATUS_OK { slot.stream = out }
                return status
            }, request, sink: nil, as: FilesPutResult.self, deadline: Self.filesDeadline,
            what: "putting files into job '\(request.jobKey)'",
            onAccepted: { op in
                guard let raw = slot.stream, Int(raw.pointee.struct_size) >= MemoryLayout<nxa_stream>.size else {
                    // Nothing the host can write: the put fails now, not at its deadline.
                    slot.stream = nil
                    self.calls.refuseAccepted(op, "executor '\(plugin.id)' accepted a files put without a usable stream (files.h: it must give one)")
                    return
                }
                let stream = HostStreamWriter(raw)
                // The host is the writer: a thread of its own writes and closes (stream.h rules 2 and 4).
                Thread.detachNewThread {
                    let writer = stream
                    defer { writing.signal() }
                    do {
                        try produce(writer)
                        writer.close(NXA_STATUS_OK)
                    } catch {
                        writer.close(after: error)
                    }
                }
            })
    }

    func getTree(_ request: FilesGet, into sink: any TreeSink) async throws -> FilesGetResult {
        guard let filesTable else { throw EngineError("executor '\(plugin.id)' cannot move files out of its jobs") }
        let stream = HostStream(sink: sink)
        do {
            let result = try await perform(
                { instance, op, json, length, error in
                    stream.op.store(op, ordering: .releasing)
                    let status = filesTable.pointee.get(instance, op, json, length, UnsafePointer(stream.stream), error)
                    // Not taken: the host is still the writer, and closes it (stream.h).
                    if status != NXA_STATUS_OK { stream.abandonUntaken("the executor refused the get") }
                    return status
                }, request, sink: nil, as: FilesGetResult.self, deadline: Self.filesDeadline,
                what: "getting files out of job '\(request.jobKey)'")
            if !stream.closed.load(ordering: .acquiring) {
                stream.end(NXA_STATUS_FAILED, "the executor completed its get without closing the stream")
                throw EngineError("executor '\(plugin.id)' completed a get without closing its stream")
            }
            return result
        } catch {
            // Whatever the plugin does later, the engine's sink is told once.
            stream.end(NXA_STATUS_FAILED, "\(error)")
            throw error
        }
    }
}

/// The plugins found on this machine, as an `ExecutorProvider` for the engine.
///
/// Made by `discover`, it loads a plugin only when it is first asked for: an executor, a secret
/// provider or a cache backend by its id (the file named `libnixactions-plugin-ID.so`, or
/// `…-cache-NAME.so` for a backend, in search order), everything when anything asks for the whole
/// set (`loaded`, `functions`, the lists in error hints). A run of the `local` executor loads that
/// one library, not every one installed (about 1 ms each, more for those linking SwiftNIO).
public struct PluginRegistry: ExecutorProvider {
    let plugins: LazyPlugins
    public let searchPath: [String]
    /// Folders skipped whole by the trust rules (known without loading anything).
    public let skippedFolders: [RefusedPlugin]
    /// Secret provider instances of this run, made on first use.
    let secrets: PluginSecrets

    /// Every plugin that loads (loads them all).
    public var loaded: [LoadedPlugin] { plugins.all().loaded }
    /// Files and folders not accepted (loads every plugin).
    public var refused: [RefusedPlugin] { skippedFolders + plugins.all().refused }
    /// The functions the loaded plugins declare, read and prepared (libffi) once, on first use.
    public var functions: PluginFunctionTable { plugins.functions() }

    /// A registry of plugins already loaded.
    public init(loaded: [LoadedPlugin], refused: [RefusedPlugin], searchPath: [String]) {
        self.init(plugins: LazyPlugins(loaded: loaded, refused: refused.filter { !$0.reason.hasPrefix("folder skipped:") }),
                  searchPath: searchPath, skippedFolders: refused.filter { $0.reason.hasPrefix("folder skipped:") })
    }

    init(plugins: LazyPlugins, searchPath: [String], skippedFolders: [RefusedPlugin]) {
        self.plugins = plugins
        self.searchPath = searchPath
        self.skippedFolders = skippedFolders
        secrets = PluginSecrets(plugins: plugins)
    }

    /// Find plugins in the standard search path (see `PluginLoader`); each loads on first use.
    public static func discover(environment: [String: String] = ProcessInfo.processInfo.environment) -> PluginRegistry {
        let folders = PluginLoader.searchPath(environment: environment)
        let (candidates, skipped) = PluginLoader.scan(folders)
        return PluginRegistry(plugins: LazyPlugins(candidates: candidates), searchPath: folders, skippedFolders: skipped)
    }

    public var executorIDs: [String] {
        loaded.filter { $0.interfaces.contains(executorInterfaceV1) }.map(\.id)
    }

    /// Why `makeExecutor(pluginID:)` would find no plugin (nil: it would find one), known before
    /// the run starts: the file named for the id is loaded (it is needed for the run anyway) and
    /// must be an executor (`executor: sops` is not); only an id no file is named for makes every
    /// plugin load.
    public func missingExecutor(_ pluginID: String) -> EngineError? {
        plugins.plugin(pluginID, providing: executorInterfaceV1) == nil ? executorNotFound(pluginID) : nil
    }

    public func makeExecutor(pluginID: String, configuration: ExecutorConfiguration) throws -> any Executor {
        guard let plugin = plugins.plugin(pluginID, providing: executorInterfaceV1) else { throw executorNotFound(pluginID) }
        return try PluginExecutor(plugin: plugin, configuration: configuration)
    }

    private func executorNotFound(_ pluginID: String) -> EngineError {
        let suggestion = didYouMean(pluginID, in: executorIDs)
        // The file named for the id first (`cache-local` must not answer for `local`).
        let names = refused.map { ($0, ($0.path as NSString).lastPathComponent) }
        let refusedHere = (names.first { $0.1 == "libnixactions-plugin-\(pluginID).so" } ?? names.first { $0.1.contains(pluginID) })?.0
        let skippedFolder = skippedFolders.first
        return EngineError(
            "no executor plugin '\(pluginID)' was found",
            hint: suggestion.map { "did you mean '\($0)'?" }
                ?? refusedHere.map { "\($0.path) was refused: \($0.reason)" + ($0.errno.flatMap { DescriptorShortage.matches($0) ? "; " + DescriptorShortage.hint($0) : nil } ?? "") }
                ?? skippedFolder.map { "the plugin folder \($0.path) was not searched: \($0.reason)" }
                ?? "available: \(executorIDs.joined(separator: ", ")); searched \(searchPath.joined(separator: ":"))")
    }

    /// Load the plugin named for `id` on a thread of its own, now, while this thread goes on
    /// (a run loads its first job's executor while it makes its folders; whoever asks for the
    /// plugin meanwhile waits for that load instead of making its own).
    public func preload(_ id: String) {
        let plugins = self.plugins
        let thread = Thread { _ = plugins.named(id) }
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// Tell plugins polling `is_cancelled(0)` that the run is being cancelled.
    public func cancelRun() {
        HostRuntime.shared.cancelRun()
    }

    /// Mask secrets in plugin log messages with `redact`.
    public func onLog(redact: @escaping @Sendable (String) -> String) {
        HostRuntime.shared.redact.withLock { $0 = redact }
    }

    /// Send values plugins register as secrets to `handler`.
    public func onSecret(_ handler: @escaping @Sendable ([UInt8]) -> Void) {
        HostRuntime.shared.secretHandler.withLock { $0 = handler }
    }
}

extension PluginRegistry: SecretProviderSource {
    public var secretProviderIDs: [String] { secrets.providerIDs }

    /// The error `run` gives for a provider id no plugin provides; nil when one does.
    public func missingSecretProvider(_ id: String) -> EngineError? { secrets.missing(id) }

    public func resolveSecrets(
        _ entry: SecretsEntry, configuration: SecretsConfiguration, timeout: Duration?,
        deliver: @escaping @Sendable (String, UnsafeRawBufferPointer) -> Bool
    ) async throws -> [String] {
        try await secrets.resolve(entry, configuration: configuration, timeout: timeout, deliver: deliver)
    }

    public func releaseSecretProviders(reason: String) async {
        await secrets.releaseAll(reason: reason)
    }
}

/// Timers that abandon an operation, stopped once it completes.
final class WatchdogSet: Sendable {
    private let tokens = Mutex<[DeadlineTimer.Token]>([])
    func add(_ token: DeadlineTimer.Token) { tokens.withLock { $0.append(token) } }
    func cancelAll() { for token in tokens.withLock({ $0 }) { DeadlineTimer.shared.cancel(token) } }
}

/// The plugin files of a registry, each loaded (once) when first asked for.
final class LazyPlugins: Sendable {
    private struct State {
        /// What loading each file gave, by path (a file is never loaded twice: a second dlopen
        /// would be a second copy of the library).
        var outcomes: [String: Result<LoadedPlugin, RefusedPlugin>] = [:]
        var all: (loaded: [LoadedPlugin], refused: [RefusedPlugin])?
        var functions: PluginFunctionTable?
    }

    private let candidates: [PluginLoader.Candidate]
    private let state: Mutex<State>

    init(candidates: [PluginLoader.Candidate]) {
        self.candidates = candidates
        state = Mutex(State())
    }

    /// Plugins loaded already (a registry made from `PluginLoader.discover`).
    init(loaded: [LoadedPlugin], refused: [RefusedPlugin]) {
        candidates = []
        state = Mutex(State(all: (loaded, refused)))
    }

    private func outcome(_ candidate: PluginLoader.Candidate, _ state: inout State) -> Result<LoadedPlugin, RefusedPlugin> {
        if let known = state.outcomes[candidate.path] { return known }
        let result = PluginLoader.load(candidate.path, manifest: candidate.manifest)
        state.outcomes[candidate.path] = result
        return result
    }

    /// The files loaded (or tried) so far.
    var loadedPaths: Set<String> { state.withLock { Set($0.outcomes.keys) } }

    /// Every plugin, in search order, and the files refused.
    func all() -> (loaded: [LoadedPlugin], refused: [RefusedPlugin]) {
        state.withLock { all(&$0) }
    }

    private func all(_ state: inout State) -> (loaded: [LoadedPlugin], refused: [RefusedPlugin]) {
        if let all = state.all { return all }
        let all = PluginLoader.resolve(candidates) { outcome($0, &state) }
        state.all = all
        return all
    }

    /// The plugin with `id`, from the first file in search order named for it, when that file
    /// declares that id; nil otherwise, and nothing else is loaded. Once every plugin is loaded,
    /// the one that has that id.
    func named(_ id: String) -> LoadedPlugin? {
        state.withLock { state in
            if let all = state.all { return all.loaded.first { $0.id == id } }
            guard let candidate = candidates.first(where: { PluginLoader.isNamed($0.name, for: id) }),
                  case .success(let plugin) = outcome(candidate, &state), plugin.id == id else { return nil }
            return plugin
        }
    }

    /// The plugin with `id` that provides `interface`: the file named for it (`named`), else
    /// found among all (a file named otherwise). The same file as loading all would pick
    /// (`PluginLoader.resolve` prefers files named for their id).
    func plugin(_ id: String, providing interface: String) -> LoadedPlugin? {
        if let named = named(id) { return named.interfaces.contains(interface) ? named : nil }
        return all().loaded.first { $0.id == id && $0.interfaces.contains(interface) }
    }

    func functions() -> PluginFunctionTable {
        state.withLock { state in
            if let known = state.functions { return known }
            let table = PluginFunctionTable(all(&state).loaded)
            state.functions = table
            return table
        }
    }
}

/// Output an executor writes during a job's start or cleanup (`write_output` on `start_job` and
/// `finish_job`, executor.h "Job-level output"): shown as the job's lines, `PLUGIN: LINE`,
/// redacted, where the job's messages go (its log, the console in its prefix, `message` events);
/// stderr's lines as warnings. A line is cut at 64 KiB; a last line without its newline goes at
/// `finish()`. Audit 61 ABI H3: these bytes were dropped.
final class JobLevelOutput: StepOutputSink, Sendable {
    private let pluginID: String
    private let route: OperationMessages?
    private let pending = Mutex<[Int32: [UInt8]]>([:])
    static let maxLine = 64 << 10

    init(pluginID: String, route: OperationMessages?) {
        self.pluginID = pluginID
        self.route = route
    }

    func write(stream: Int32, _ bytes: UnsafeRawBufferPointer) {
        let lines = pending.withLock { pending -> [[UInt8]] in
            var buffer = pending[stream, default: []]
            buffer += bytes
            var lines: [[UInt8]] = []
            while let newline = buffer.firstIndex(of: 0x0A) ?? (buffer.count >= Self.maxLine ? Self.maxLine : nil) {
                lines.append(Array(buffer[..<newline]))
                buffer.removeFirst(min(buffer.count, newline + (newline < buffer.count && buffer[newline] == 0x0A ? 1 : 0)))
            }
            pending[stream] = buffer
            return lines
        }
        for line in lines { say(stream, line) }
    }

    /// The last lines without their newline.
    func finish() {
        let rest = pending.withLock { pending in
            defer { pending.removeAll() }
            return pending.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
        }
        for (stream, line) in rest { say(stream, line) }
    }

    private func say(_ stream: Int32, _ line: [UInt8]) {
        var text = String(decoding: line, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        let shown = HostRuntime.shared.redacted(text)
        if let route {
            route.send(stream == 2 ? .warning : .info, "\(pluginID): \(shown)")
        } else {
            HostRuntime.shared.logHandler.withLock { $0 }(pluginID, stream == 2 ? 2 : 1, shown)
        }
    }
}
