import CNixActionsPlugin
import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages

/// The one symbol this library exports.
@_cdecl("nixactions_plugin_entry")
public func nixactionsPluginEntry(
    _ host: UnsafePointer<nxa_host_info>?,
    _ out: UnsafeMutablePointer<UnsafePointer<nxa_plugin>?>?,
    _ error: UnsafeMutablePointer<nxa_error>?
) -> nxa_status {
    PluginExport.entry(
        PluginDeclaration(
            id: "env", name: "Environment secrets", version: "0.1.0",
            description: "Secrets from the environment nixactions runs in (names: [A, B], or ref: NAME)",
            secrets: EnvSecrets.self),
        host: host, out: out, error: error)
}

/// `- provider: env` with `names: [TOKEN, …]` (or the short form `TOKEN: env:VARIABLE`, `ref`):
/// each variable of the process environment, masked and passed on under its name.
final class EnvSecrets: SecretsPlugin {
    /// An entry's options `resolve` accepts, published for `validate` (options.h).
    static let options: Set<String> = ["names", "ref"]
    static var optionNames: Set<String>? { options }

    init(configuration: SecretsConfiguration, host: HostServices) throws {}

    func resolve(_ entry: SecretsEntry, into values: SecretValues, context: OperationContext) async throws {
        try SecretDocuments.checkKnown(entry.options, Self.options, provider: "env")
        var names: [String] = []
        if let ref = try SecretDocuments.string(entry.options, "ref") { names.append(ref) }
        if let listed = entry.options["names"], let keys = try SecretDocuments.requestedKeys(["keys": listed]) {
            names += keys
        }
        guard !names.isEmpty else {
            throw OperationFailure(message: "the env provider needs 'names'", hint: "e.g. - { provider: env, names: [DEPLOY_TOKEN] }")
        }
        let environment = ProcessInfo.processInfo.environment
        for name in names {
            guard var value = environment[name].map({ Array($0.utf8) }) else {
                throw OperationFailure(message: "the variable \(name) is not set in the environment nixactions runs in",
                                       hint: "export it before running nixactions, or mark the entry 'required: false'")
            }
            try values.deliver(name, &value)
        }
    }
}
