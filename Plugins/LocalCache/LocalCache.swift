import CNixActionsPlugin
import Foundation
import NixActionsCacheKit
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
            id: "cache-local", name: "Local cache", version: "0.1.0",
            description: "TODO",
            cache: LocalCache.self),
        host: host, out: out, error: error)
}

final class LocalCache: CachePlugin {
    init(configuration: CacheConfiguration, host: HostServices) throws {}
    func lookup(_ request: CacheLookup, context: OperationContext) async throws -> CacheLookupResult { .miss }
    func restore(_ request: CacheRestore, into stream: StreamWriter, context: OperationContext) async throws -> CacheRestored {
        throw OperationFailure(message: "not yet")
    }
    func reserve(_ request: CacheReserve, context: OperationContext) async throws -> CacheReservation { .refused("busy") }
    func save(_ request: CacheSave, from source: PutSource, context: OperationContext) async throws -> CacheSaved {
        throw OperationFailure(message: "not yet")
    }
    func commit(_ request: CacheCommit, context: OperationContext) async throws -> CacheCommitted { CacheCommitted(committed: false, reason: "expired") }
    func list(_ request: CacheList, context: OperationContext) async throws -> CacheListing { CacheListing(entries: []) }
    func prune(_ request: CachePrune, context: OperationContext) async throws -> CachePruned { CachePruned(removedEntries: 0, freedBytes: 0) }
}
