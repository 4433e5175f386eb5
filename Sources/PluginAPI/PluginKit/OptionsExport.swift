import CNixActionsPlugin
import NixActionsPluginMessages

/// "nixactions.options/1" (options.h): the option names the declaration's executor, secret
/// provider and cache backend accept, from their `optionNames`, the same sets their own checks use;
/// and (ABI 1.5) their values checked by `checkOptions`.
extension PluginExport {
    nonisolated(unsafe) static var optionsTable: UnsafeMutablePointer<nxa_options_v1>?
    /// The declaration the table answers for (set with the table, read by `check`).
    nonisolated(unsafe) static var optionsDeclaration: PluginDeclaration?

    /// `check`: the values of one instance's options, by the type of its kind.
    static func checkOptions(_ request: OptionsCheck, _ declaration: PluginDeclaration) throws {
        let complete = request.complete ?? false
        switch request.kind {
        case "executor": try declaration.executor?.checkOptions(request.options, complete: complete)
        case "secrets": try declaration.secrets?.checkOptions(request.options, complete: complete)
        case "cache": try declaration.cache?.checkOptions(request.options, complete: complete)
        default: break
        }
    }
    /// The encoded schema, made once and kept for the life of the process (options.h).
    nonisolated(unsafe) static var optionsJSON: UnsafeMutableBufferPointer<UInt8>?

    /// What the declaration publishes; nil when no kind of it has option names.
    static func optionsSchema(_ declaration: PluginDeclaration) -> OptionsSchema? {
        let schema = OptionsSchema(
            executor: declaration.executor?.optionNames.map(OptionsSchema.Names.init),
            secrets: declaration.secrets?.optionNames.map(OptionsSchema.Names.init),
            cache: declaration.cache?.optionNames.map(OptionsSchema.Names.init))
        return schema.isEmpty ? nil : schema
    }

    /// The options function table, made with the descriptor (`makeDescriptor`, at the entry: the
    /// host's loading of the plugin, one thread), so that get_interface only reads it.
    static func optionsInterface(_ declaration: PluginDeclaration) -> UnsafeMutablePointer<nxa_options_v1>? {
        if let table = optionsTable { return table }
        guard let schema = optionsSchema(declaration), let bytes = try? MessageCoding.encode(schema) else { return nil }
        let json = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = json.initialize(from: bytes)
        optionsJSON = json
        let table = UnsafeMutablePointer<nxa_options_v1>.allocate(capacity: 1)
        table.initialize(
            to: nxa_options_v1(
                struct_size: UInt32(MemoryLayout<nxa_options_v1>.size),
                describe: { _, outJSON, outLength, error in
                    guard let outJSON, let outLength, let json = PluginExport.optionsJSON else {
                        PluginExport.fill(error, "describe called with a null argument")
                        return NXA_STATUS_INVALID_ARGUMENT
                    }
                    outJSON.pointee = UnsafePointer(json.baseAddress)
                    outLength.pointee = json.count
                    return NXA_STATUS_OK
                },
                check: { _, json, length, out in
                    guard let declaration = PluginExport.optionsDeclaration, let json, length <= 16 << 20 else {
                        PluginExport.fill(out, "check called with a null argument")
                        return NXA_STATUS_INVALID_ARGUMENT
                    }
                    guard let request = PluginExport.decode(OptionsCheck.self, json, length, out) else { return NXA_STATUS_INVALID_ARGUMENT }
                    do {
                        try PluginExport.checkOptions(request, declaration)
                        return NXA_STATUS_OK
                    } catch {
                        return PluginExport.failed(out, by: error)
                    }
                }))
        optionsDeclaration = declaration
        optionsTable = table
        return table
    }
}
