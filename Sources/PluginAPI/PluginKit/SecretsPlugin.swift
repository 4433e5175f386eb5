import CNixActionsPlugin
import NixActionsPluginMessages
import Synchronization

/// What a plugin author implements to provide secrets (`nixactions.secrets/1`, nixactions/secrets.h).
///
///     init ─► resolve(E1), resolve(E2) … (concurrently, cancellable) ─► release (never cancelled) ─► deinit
///
/// - `resolve` reads one provider entry and hands each value to `values.deliver(name, &bytes)`,
///   which copies it into the host and registers it with the redactor before it returns, then
///   zeroes the plugin's bytes. Values are never returned, logged, or put in an error message.
/// - Throw an `OperationFailure` whose message names the entry's key or file and what failed
///   (never a value); the host adds the entry's FILE:LINE.
/// - `release` removes what the instance left (temporary files, tokens) whatever happened.
public protocol SecretsPlugin: AnyObject, Sendable {
    init(configuration: SecretsConfiguration, host: HostServices) throws
    /// Every option of a provider entry `resolve` accepts, when it refuses the others
    /// (`SecretDocuments.checkKnown`): published for `validate` (see ExecutorPlugin). Default nil.
    static var optionNames: Set<String>? { get }
    /// Refuse option values as `init` would (a type, a range), without making anything: for
    /// `validate` (options.h `check`, ABI 1.5). It may read the environment; nothing else. Default:
    /// values are checked when the instance is made.
    static func checkOptions(_ options: [String: JSONValue]) throws
    /// The same, told whether `options` are all the instance will get (none held `${{ }}`): a
    /// required option's absence may then be refused too. Default: `checkOptions(options)`.
    static func checkOptions(_ options: [String: JSONValue], complete: Bool) throws
    func resolve(_ entry: SecretsEntry, into values: SecretValues, context: OperationContext) async throws
    func release(_ request: SecretsRelease, context: OperationContext) async
}

extension SecretsPlugin {
    public static var optionNames: Set<String>? { nil }
    public static func checkOptions(_ options: [String: JSONValue]) throws {}
    public static func checkOptions(_ options: [String: JSONValue], complete: Bool) throws { try checkOptions(options) }
    public func release(_ request: SecretsRelease, context: OperationContext) async {}
}

/// Where a provider delivers values during one `resolve`.
public final class SecretValues: Sendable {
    let context: OperationContext
    private let delivered = Mutex<[String]>([])

    init(context: OperationContext) { self.context = context }

    /// Hand one value to the host, then overwrite `value` with zeros. Throws when the host
    /// refuses it (a bad name, a NUL byte, too long, or the operation was cancelled).
    public func deliver(_ name: String, _ value: inout [UInt8]) throws {
        defer { for index in value.indices { value[index] = 0 } }
        guard SecretNames.isValid(name) else {
            throw OperationFailure(message: "'\(name)' is not a valid secret name (letters, digits and '_', not starting with a digit)")
        }
        guard !value.contains(0) else { throw OperationFailure(message: "the value of \(name) contains a NUL byte") }
        let status = context.host.secretValue(context.id, name: name, value)
        switch status {
        case NXA_STATUS_OK: delivered.withLock { if !$0.contains(name) { $0.append(name) } }
        case NXA_STATUS_CANCELLED, NXA_STATUS_TIMED_OUT: throw CancellationError()
        default: throw OperationFailure(message: "the host refused the value of \(name) (status \(status))")
        }
    }

    public func deliver(_ name: String, _ value: String) throws {
        var bytes = Array(value.utf8)
        try deliver(name, &bytes)
    }

    var names: [String] { delivered.withLock { $0 } }
}

/// One secrets instance and the tasks of its running resolves.
final class SecretsBox: Sendable {
    let provider: any SecretsPlugin
    let operations: Operations

    init(provider: any SecretsPlugin, host: HostServices) {
        self.provider = provider
        self.operations = Operations(host: host)
    }

    func resolve(_ op: UInt64, _ entry: SecretsEntry) {
        let provider = self.provider
        operations.start(op) { context in
            let values = SecretValues(context: context)
            try await provider.resolve(entry, into: values, context: context)
            return SecretsResolved(names: values.names)
        }
    }

    func release(_ op: UInt64, _ request: SecretsRelease) {
        let provider = self.provider
        operations.start(op, cancellable: false) { context in
            await provider.release(request, context: context)
            return Empty()
        }
    }

    func cancel(_ op: UInt64) { operations.cancel(op) }
}

extension PluginExport {
    nonisolated(unsafe) static var secretsTable: UnsafeMutablePointer<nxa_secrets_v1>?

    static func secretsBox(_ instance: UnsafeMutableRawPointer?) -> SecretsBox? {
        instance.map { Unmanaged<SecretsBox>.fromOpaque($0).takeUnretainedValue() }
    }

    /// The secrets function table, made once.
    static func secretsInterface() -> UnsafeMutablePointer<nxa_secrets_v1> {
        if let table = secretsTable { return table }
        let table = UnsafeMutablePointer<nxa_secrets_v1>.allocate(capacity: 1)
        table.initialize(
            to: nxa_secrets_v1(
                struct_size: UInt32(MemoryLayout<nxa_secrets_v1>.size),
                create: { _, config, configLength, outInstance, error in
                    PluginExport.create(SecretsConfiguration.self, config, configLength, outInstance, error, what: "secrets") {
                        state, configuration in
                        guard let type = state.declaration.secrets else { return nil }
                        return SecretsBox(provider: try type.init(configuration: configuration, host: state.host), host: state.host)
                    }
                },
                resolve: { instance, op, json, length, error in
                    guard let box = PluginExport.secretsBox(instance),
                        let entry = PluginExport.decode(SecretsEntry.self, json, length, error)
                    else { return NXA_STATUS_INVALID_ARGUMENT }
                    box.resolve(op, entry)
                    return NXA_STATUS_OK
                },
                cancel: { instance, op in PluginExport.secretsBox(instance)?.cancel(op) },
                release: { instance, op, json, length, error in
                    guard let box = PluginExport.secretsBox(instance),
                        let request = PluginExport.decode(SecretsRelease.self, json, length, error)
                    else { return NXA_STATUS_INVALID_ARGUMENT }
                    box.release(op, request)
                    return NXA_STATUS_OK
                },
                destroy: { instance in
                    guard let instance else { return }
                    Unmanaged<SecretsBox>.fromOpaque(instance).release()
                }
            ))
        secretsTable = table
        return table
    }
}
