import CNixActionsPlugin
import NixActionsEngine
import NixActionsPluginMessages

/// The kinds whose options a plugin may publish ("nixactions.options/1", options.h).
public enum PluginOptionKind: Sendable {
    case executor, secrets, cache
}

extension LoadedPlugin {
    /// The plugin's OptionsSchema: nil when it does not provide "nixactions.options/1"; an error
    /// naming the plugin when its table or its answer cannot be used.
    func optionsSchema() throws -> OptionsSchema? {
        guard let table = try table(optionsInterfaceV1, as: nxa_options_v1.self, what: "an options table"),
              let describe = table.pointee.describe else { return nil }
        var json: UnsafePointer<UInt8>?
        var length = 0
        let (status, message) = PluginCalls.callWithError { error in
            PluginCallWatch.during(id, "its options describe call") { describe(descriptor, &json, &length, error) }
        }
        guard status == NXA_STATUS_OK, let json, length >= 0, length <= 1 << 20 else {
            throw EngineError("plugin '\(id)' did not describe its options" + (message.isEmpty ? "" : ": \(message)"))
        }
        do {
            return try MessageCoding.decode(OptionsSchema.self, from: UnsafeRawBufferPointer(start: json, count: length))
        } catch {
            throw EngineError("plugin '\(id)' described its options in a message that is not an OptionsSchema: \(error)")
        }
    }
}

extension PluginRegistry {
    /// The option names plugin `id` accepts for `kind` (the same plugin `run` would use: the
    /// executor, provider or backend of that id). Nil when no such plugin is on this machine or it
    /// publishes none for `kind`; an error when its answer cannot be used.
    public func optionNames(_ kind: PluginOptionKind, of id: String) throws -> Set<String>? {
        let plugin: LoadedPlugin?
        switch kind {
        case .executor: plugin = plugins.plugin(id, providing: executorInterfaceV1)
        case .secrets: plugin = plugins.plugin(id, providing: secretsInterfaceV1)
        case .cache: plugin = cachePlugin(id)
        }
        guard let schema = try plugin?.optionsSchema() else { return nil }
        let names: OptionsSchema.Names?
        switch kind {
        case .executor: names = schema.executor
        case .secrets: names = schema.secrets
        case .cache: names = schema.cache
        }
        return names.map { Set($0.names) }
    }
}
