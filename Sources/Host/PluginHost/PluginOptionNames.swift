import CNixActionsPlugin
import NixActionsEngine
import NixActionsPluginMessages

/// The kinds whose options a plugin may publish ("nixactions.options/1", options.h).
public enum PluginOptionKind: String, Sendable {
    /// The raw value is the kind's name in an OptionsSchema and an OptionsCheck.
    case executor, secrets, cache
}

/// What the options interface's `check` said of one instance's options (ABI 1.5).
public enum PluginOptionsVerdict: Sendable, Equatable {
    /// The plugin would take them.
    case accepted
    /// It would refuse them: its message (and hint), as `create` words them.
    case refused(message: String, hint: String?)
    /// It checks values only when the instance is made (no `check`: an older plugin, or NULL).
    case unchecked
}

extension LoadedPlugin {
    /// The options table as far as the plugin's `struct_size` reaches, the rest zero: a 1.4
    /// table ends after `describe` (reading a table as a whole would read past its end).
    func optionsTable() throws -> nxa_options_v1? {
        guard let raw = interface(optionsInterfaceV1) else { return nil }
        let size = Int(raw.load(as: UInt32.self))
        let describeEnd = (MemoryLayout<nxa_options_v1>.offset(of: \nxa_options_v1.describe) ?? 8) + MemoryLayout<UnsafeRawPointer>.size
        guard size >= describeEnd else {
            throw EngineError("plugin '\(id)' has an options table of \(size) bytes, too small for \(optionsInterfaceV1)")
        }
        var table = nxa_options_v1()
        withUnsafeMutableBytes(of: &table) { copy in
            copy.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: min(size, copy.count)))
        }
        // Only whole functions: a table that ends inside `check` has none (review 64 L4).
        let checkEnd = (MemoryLayout<nxa_options_v1>.offset(of: \nxa_options_v1.check) ?? 16) + MemoryLayout<UnsafeRawPointer>.size
        if size < checkEnd { table.check = nil }
        return table
    }

    /// The plugin's OptionsSchema: nil when it does not provide "nixactions.options/1"; an error
    /// naming the plugin when its table or its answer cannot be used.
    func optionsSchema() throws -> OptionsSchema? {
        guard let table = try optionsTable(), let describe = table.describe else { return nil }
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

    /// What the plugin's `check` says of `options` for `kind`; an error naming the plugin when
    /// its answer cannot be used.
    func checkOptions(_ kind: PluginOptionKind, _ options: [String: JSONValue], complete: Bool) throws -> PluginOptionsVerdict {
        guard let table = try optionsTable(), let check = table.check else { return .unchecked }
        let request = try MessageCoding.encode(OptionsCheck(kind: kind.rawValue, options: options, complete: complete))
        let (status, text) = request.withUnsafeBufferPointer { bytes in
            PluginCalls.callWithError { error in
                PluginCallWatch.during(id, "its options check call") { check(descriptor, bytes.baseAddress, bytes.count, error) }
            }
        }
        switch status {
        case NXA_STATUS_OK: return .accepted
        case NXA_STATUS_FAILED:
            let (message, hint) = PluginCalls.messageAndHint(text)
            return .refused(message: message, hint: hint)
        default:
            throw EngineError("plugin '\(id)' could not check its options (status \(status))" + (text.isEmpty ? "" : ": \(text)"))
        }
    }
}

extension PluginRegistry {
    /// What plugin `id` (the one `run` would use for `kind`) says of `options`' values; nil when
    /// no such plugin is on this machine.
    public func checkOptions(_ kind: PluginOptionKind, of id: String, _ options: [String: JSONValue], complete: Bool = false) throws -> PluginOptionsVerdict? {
        try plugin(kind, id)?.checkOptions(kind, options, complete: complete)
    }

    func plugin(_ kind: PluginOptionKind, _ id: String) -> LoadedPlugin? {
        switch kind {
        case .executor: plugins.plugin(id, providing: executorInterfaceV1)
        case .secrets: plugins.plugin(id, providing: secretsInterfaceV1)
        case .cache: cachePlugin(id)
        }
    }

    /// The option names plugin `id` accepts for `kind` (the same plugin `run` would use: the
    /// executor, provider or backend of that id). Nil when no such plugin is on this machine or it
    /// publishes none for `kind`; an error when its answer cannot be used.
    public func optionNames(_ kind: PluginOptionKind, of id: String) throws -> Set<String>? {
        guard let schema = try plugin(kind, id)?.optionsSchema() else { return nil }
        let names: OptionsSchema.Names?
        switch kind {
        case .executor: names = schema.executor
        case .secrets: names = schema.secrets
        case .cache: names = schema.cache
        }
        return names.map { Set($0.names) }
    }
}
