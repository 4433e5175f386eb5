import CNixActionsPlugin
import Foundation
import NixActionsEngine
import NixActionsPluginMessages
import Synchronization

/// Secret provider plugins (`nixactions.secrets/1`) behind the engine's `SecretProviderSource`:
/// one instance per provider per run, made on first use.
final class PluginSecrets: @unchecked Sendable {
    struct Instance: @unchecked Sendable {
        let plugin: LoadedPlugin
        let table: UnsafePointer<nxa_secrets_v1>
        let instance: UnsafeMutableRawPointer
    }

    let plugins: LazyPlugins
    private let instances = Mutex<[String: Instance]>([:])
    /// How long one entry may take (the provider's HTTP timeouts and retries must fit in it).
    static let resolveTimeout: Duration = .seconds(30)
    static let releaseTimeout: Duration = .seconds(10)

    /// Providers with an abandoned operation (by plugin id): their instance is never destroyed.
    private let abandoned = Mutex<Set<String>>([])

    init(plugins: LazyPlugins) { self.plugins = plugins }

    var providerIDs: [String] { plugins.all().loaded.filter { $0.interfaces.contains(secretsInterfaceV1) }.map(\.id) }

    /// The error for a provider id no plugin provides; nil when one does (loads only the file
    /// named for the id, and all of them only to say which exist).
    func missing(_ id: String) -> EngineError? {
        guard plugins.plugin(id, providing: secretsInterfaceV1) == nil else { return nil }
        let known = providerIDs
        return EngineError(
            "no secret provider '\(id)' was found",
            hint: didYouMean(id, in: known).map { "did you mean '\($0)'?" }
                ?? (known.isEmpty ? "no secret provider plugins are installed" : "available: \(known.joined(separator: ", "))"))
    }

    func instance(_ id: String, configuration: SecretsConfiguration) throws -> Instance {
        try instances.withLock { instances in
            if let known = instances[id] { return known }
            guard let plugin = plugins.plugin(id, providing: secretsInterfaceV1) else {
                throw missing(id) ?? EngineError("no secret provider '\(id)' was found")
            }
            guard let table = try plugin.table(secretsInterfaceV1, as: nxa_secrets_v1.self, what: "a secrets table",
                                               optional: [MemoryLayout<nxa_secrets_v1>.offset(of: \.cancel)]) else {
                throw EngineError("plugin '\(id)' does not provide \(secretsInterfaceV1)")
            }
            let json = try MessageCoding.encode(configuration)
            var made: UnsafeMutableRawPointer?
            let (status, message) = PluginCallWatch.during(plugin.id, "its create call") {
                PluginExecutor.callWithError { error in
                    json.withUnsafeBytes { table.pointee.create(plugin.descriptor, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count, &made, error) }
                }
            }
            guard status == NXA_STATUS_OK, let made else {
                let (text, hint) = PluginCalls.messageAndHint(message)
                throw EngineError("secret provider '\(id)' could not start: \(status == NXA_STATUS_OK ? "create returned OK and no instance (NULL)" : text.isEmpty ? "status \(status)" : text)", hint: hint)
            }
            let instance = Instance(plugin: plugin, table: table, instance: made)
            instances[id] = instance
            return instance
        }
    }

    /// `timeout`: the entry's own (`timeout:`), else `resolveTimeout`.
    func resolve(
        _ entry: SecretsEntry, configuration: SecretsConfiguration, timeout: Duration? = nil,
        deliver: @escaping @Sendable (String, UnsafeRawBufferPointer) -> Bool
    ) async throws -> [String] {
        let provider = try instance(entry.provider, configuration: configuration)
        let request = try MessageCoding.encode(entry)
        let handler: @Sendable (String, UnsafeRawBufferPointer) -> nxa_status = { name, value in
            deliver(name, value) ? NXA_STATUS_OK : NXA_STATUS_INVALID_ARGUMENT
        }
        let limit = timeout ?? Self.resolveTimeout
        var options = HostRuntime.OperationOptions(cancellable: true, deadline: HostRuntime.deadline(after: limit), secrets: handler)
        options.owner = provider.plugin.owner
        options.pluginID = provider.plugin.id
        let (status, bytes) = await HostRuntime.shared.call(
            options: options, what: "its call for resolving a secrets entry",
            timeout: limit,
            cancel: { op in provider.table.pointee.cancel?(provider.instance, op) }
        ) { op, error in
            request.withUnsafeBytes { provider.table.pointee.resolve(provider.instance, op, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count, error) }
        }
        switch status {
        case NXA_STATUS_OK:
            do {
                return try MessageCoding.decode(SecretsResolved.self, from: bytes).names
            } catch {
                throw EngineError("secret provider '\(entry.provider)' sent a malformed result: \(error)")
            }
        case NXA_STATUS_CANCELLED:
            guard HostRuntime.cancellationWasAsked() else {
                throw EngineError("reported its resolve cancelled, though nothing cancelled it",
                                  hint: "a plugin answers NXA_STATUS_CANCELLED only to the host's cancel; report it to the plugin's authors")
            }
            throw CancellationError()
        case NXA_STATUS_TIMED_OUT:
            // Abandoned: a thread of the plugin may still use the instance, which is then never
            // destroyed (secrets.h: "never called if an operation was abandoned"; audit 50).
            abandoned.withLock { _ = $0.insert(entry.provider) }
            // Said after "secret provider 'NAME': " by the caller.
            throw EngineError("did not answer within \(DurationParser.format(limit)) (it was cancelled)",
                              hint: "check that the secret store is reachable, or give the entry more time with 'timeout:'")
        default:
            if let failure = try? MessageCoding.decode(OperationFailure.self, from: bytes) {
                throw EngineError(failure.error.message, hint: failure.error.hint)
            }
            throw EngineError("secret provider '\(entry.provider)' failed with status \(status)")
        }
    }

    /// `release` on every instance made, never cancelled, each within its own time limit.
    func releaseAll(reason: String) async {
        let all = instances.withLock { instances in
            defer { instances.removeAll() }
            return Array(instances.values)
        }
        guard let request = try? MessageCoding.encode(SecretsRelease(reason: reason)) else { return }
        for provider in all {
            var options = HostRuntime.OperationOptions(cancellable: false, deadline: HostRuntime.deadline(after: Self.releaseTimeout))
            options.owner = provider.plugin.owner
            options.pluginID = provider.plugin.id
            let (status, _) = await HostRuntime.shared.call(
                options: options, what: "its call for releasing its secrets",
                timeout: Self.releaseTimeout, cancel: nil
            ) { op, error in
                request.withUnsafeBytes { provider.table.pointee.release(provider.instance, op, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count, error) }
            }
            // An instance whose release did not finish, or one of whose operations was abandoned,
            // is never destroyed (the plugin may still use it).
            if status == NXA_STATUS_OK, !abandoned.withLock({ $0.contains(provider.plugin.id) }) {
                PluginCallWatch.during(provider.plugin.id, "its destroy call") { provider.table.pointee.destroy(provider.instance) }
            }
        }
    }
}

extension HostRuntime {
    /// CLOCK_MONOTONIC nanoseconds `duration` from now.
    static func deadline(after duration: Duration) -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = duration.components
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec) + UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }

    /// Start an asynchronous plugin operation and await its completion. A cancellable one is
    /// cancelled with the calling task; at `timeout` it is abandoned: the host stops waiting and
    /// ignores whatever the plugin sends for it later, and a cancellable one is cancelled too, so
    /// that what the plugin started for it (a `sops` waiting for a key server) does not outlive
    /// the run (audit 48).
    func call(
        options: OperationOptions, what: StaticString, timeout: Duration, cancel: (@Sendable (UInt64) -> Void)?,
        start: @escaping @Sendable (UInt64, UnsafeMutablePointer<nxa_error>) -> nxa_status
    ) async -> (nxa_status, [UInt8]) {
        let op = makeOperation()
        let watchdog = Task.detached { [self] in
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled {
                complete(op, status: NXA_STATUS_TIMED_OUT, result: [])
                // Completed already (the host stops waiting): the plugin hears of it by its cancel callback.
                if options.cancellable, let cancel { HostRuntime.callingCancel(options.pluginID) { cancel(op) } }
            }
        }
        defer { watchdog.cancel() }
        let operation = { @Sendable in
            await withCheckedContinuation { (continuation: CheckedContinuation<(nxa_status, [UInt8]), Never>) in
                self.register(op, continuation, sink: nil, options: options)
                let (accepted, message) = PluginCallWatch.during(options.pluginID, what) {
                    PluginExecutor.callWithError { start(op, $0) }
                }
                if accepted != NXA_STATUS_OK {
                    let failure = (try? MessageCoding.encode(OperationFailure(message: message.isEmpty ? "status \(accepted)" : message))) ?? []
                    self.complete(op, status: accepted, result: failure)
                }
            }
        }
        guard options.cancellable, let cancel else { return await operation() }
        return await withTaskCancellationHandler {
            await operation()
        } onCancel: {
            self.markCancelled(op)
            HostRuntime.callingCancel(options.pluginID) { cancel(op) }
        }
    }
}
