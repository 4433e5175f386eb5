import CNixActionsPlugin
import Foundation
import NixActionsEngine
import NixActionsPluginMessages
import Synchronization

/// A cache backend plugin instance (`nixactions.cache/1`, nixactions/cache.h) seen through the
/// engine's `CacheBackend` protocol.
final class PluginCache: CacheBackend, @unchecked Sendable {
    let name: String
    let plugin: LoadedPlugin
    let table: UnsafePointer<nxa_cache_v1>
    let instance: UnsafeMutableRawPointer
    let calls: PluginCalls

    /// Finding an entry, listing: small requests.
    static let lookupDeadline: Duration = .seconds(120)
    /// Moving one entry in or out.
    static let transferDeadline: Duration = .seconds(3600)
    /// Publishing or discarding a reservation (never cancelled).
    static let commitDeadline: Duration = .seconds(60)
    /// `nixactions cache prune|clear`.
    static let pruneDeadline: Duration = .seconds(900)

    init(name: String, plugin: LoadedPlugin, configuration: CacheConfiguration) throws {
        guard let table = try plugin.table(cacheInterfaceV1, as: nxa_cache_v1.self, what: "a cache table",
                                           optional: [MemoryLayout<nxa_cache_v1>.offset(of: \.cancel)]) else {
            throw EngineError("plugin '\(plugin.id)' is not a cache backend", hint: "run 'nixactions plugins list' to see what it provides")
        }
        let json = try MessageCoding.encode(configuration)
        var made: UnsafeMutableRawPointer?
        let (status, message) = PluginCallWatch.during(plugin.id, "its create call") {
            PluginCalls.callWithError { error in
                json.withUnsafeBytes { table.pointee.create(plugin.descriptor, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count, &made, error) }
            }
        }
        guard status == NXA_STATUS_OK, let made else {
            let (text, hint) = PluginCalls.messageAndHint(message)
            throw EngineError("cache backend '\(name)' \(status == NXA_STATUS_OK ? "made no instance (create returned OK and NULL)" : "rejected its configuration: \(text.isEmpty ? "status \(status)" : text)")",
                              hint: hint ?? "check the backend's options in .nixactions/config.yml or the cache entry")
        }
        self.name = name
        self.plugin = plugin
        self.table = table
        instance = made
        calls = PluginCalls(plugin: plugin, instance: made, noun: "cache backend", cancel: table.pointee.cancel)
    }

    deinit {
        if !calls.abandoned.load(ordering: .relaxed) { PluginCallWatch.during(plugin.id, "its destroy call") { table.pointee.destroy(instance) } }
    }

    func lookup(_ request: CacheLookup) async throws -> CacheLookupResult {
        try await calls.perform(table.pointee.lookup, request, sink: nil, as: CacheLookupResult.self,
                                deadline: Self.lookupDeadline, what: "looking up '\(request.key)'")
    }

    func restore(_ request: CacheRestore, into sink: any TreeSink) async throws -> CacheRestored {
        let stream = HostStream(sink: sink)
        let table = self.table
        do {
            let result = try await calls.perform(
                { instance, op, json, length, error in
                    stream.op.store(op, ordering: .releasing)
                    let status = table.pointee.restore(instance, op, json, length, UnsafePointer(stream.stream), error)
                    // Not taken: the host is still the writer, and closes it (stream.h).
                    if status != NXA_STATUS_OK { stream.abandonUntaken("the cache backend refused the restore") }
                    return status
                }, request, sink: nil, as: CacheRestored.self, deadline: Self.transferDeadline,
                what: "restoring '\(request.key)'")
            if !stream.closed.load(ordering: .acquiring) {
                stream.end(NXA_STATUS_FAILED, "the cache backend completed its restore without closing the stream")
                throw EngineError("cache backend '\(name)' completed a restore without closing its stream")
            }
            return result
        } catch {
            stream.end(NXA_STATUS_FAILED, "\(error)")
            throw error
        }
    }

    func reserve(_ request: CacheReserve) async throws -> CacheReservation {
        try await calls.perform(table.pointee.reserve, request, sink: nil, as: CacheReservation.self,
                                deadline: Self.lookupDeadline, what: "reserving '\(request.key)'")
    }

    func save(_ request: CacheSave, produce: @escaping @Sendable (any TreeWriter) throws -> Void) async throws -> CacheSaved {
        let slot = StreamSlot()
        let writing = Completion()
        let table = self.table
        let plugin = self.plugin
        let result: Result<CacheSaved, any Error>
        do {
            result = .success(try await calls.perform(
                { instance, op, json, length, error in
                    var out: UnsafePointer<nxa_stream>?
                    let status = table.pointee.save(instance, op, json, length, &out, error)
                    if status == NXA_STATUS_OK { slot.stream = out }
                    return status
                }, request, sink: nil, as: CacheSaved.self, deadline: Self.transferDeadline,
                what: "saving '\(request.key)'",
                onAccepted: { op in
                    guard let raw = slot.stream, Int(raw.pointee.struct_size) >= MemoryLayout<nxa_stream>.size else {
                        // Nothing the host can write: the save fails now, not at its deadline (an
                        // hour, audit 50); what the plugin sends for it later is ignored.
                        slot.stream = nil
                        self.calls.refuseAccepted(op, "cache backend '\(plugin.id)' accepted the save without a usable stream (cache.h: it must give one)")
                        return
                    }
                    let stream = HostStreamWriter(raw)
                    // The host is the writer: a thread of its own writes and closes (stream.h rules 2 and 4).
                    Thread.detachNewThread {
                        defer { writing.signal() }
                        do {
                            try produce(stream)
                            stream.close(NXA_STATUS_OK)
                        } catch {
                            stream.close(after: error)
                        }
                    }
                }))
        } catch {
            result = .failure(error)
        }
        if slot.stream != nil {
            // The producer may be reading the job's files: do not return while it runs (bounded).
            let timer = Task.detached { try? await Task.sleep(for: PluginCalls.afterCancel); writing.signal() }
            await writing.wait()
            timer.cancel()
        }
        return try result.get()
    }

    func commit(_ request: CacheCommit) async throws -> CacheCommitted {
        try await calls.perform(table.pointee.commit, request, sink: nil, as: CacheCommitted.self, cancellable: false,
                                deadline: Self.commitDeadline, what: "committing '\(request.key)'")
    }

    func list(_ request: CacheList) async throws -> CacheListing {
        try await calls.perform(table.pointee.list, request, sink: nil, as: CacheListing.self,
                                deadline: Self.lookupDeadline, what: "listing entries")
    }

    func prune(_ request: CachePrune) async throws -> CachePruned {
        try await calls.perform(table.pointee.prune, request, sink: nil, as: CachePruned.self,
                                deadline: Self.pruneDeadline, what: "pruning entries")
    }
}

extension PluginRegistry: CacheBackendProvider {
    /// The cache plugins: `backend: NAME` is the plugin with id NAME or `cache-NAME`.
    var cachePlugins: [LoadedPlugin] { loaded.filter { $0.interfaces.contains(cacheInterfaceV1) } }

    /// The plugin of `backend: NAME`: id NAME, else `cache-NAME`, among cache plugins; the files
    /// named for those ids are tried first, without loading any other.
    func cachePlugin(_ name: String) -> LoadedPlugin? {
        for id in [name, "cache-" + name] {
            if let plugin = plugins.named(id), plugin.interfaces.contains(cacheInterfaceV1) { return plugin }
        }
        let cache = cachePlugins
        return cache.first { $0.id == name } ?? cache.first { $0.id == "cache-" + name }
    }

    public var cacheBackendNames: [String] {
        cachePlugins.map { $0.id.hasPrefix("cache-") ? String($0.id.dropFirst(6)) : $0.id }
    }

    public func makeCacheBackend(name: String, configuration: CacheConfiguration) throws -> any CacheBackend {
        guard let plugin = cachePlugin(name) else { throw cacheBackendNotFound(name) }
        return try PluginCache(name: name, plugin: plugin, configuration: configuration)
    }

    /// Why `makeCacheBackend(name:)` would find no plugin (nil: it would find one), known before
    /// the run starts: the files named for the backend are loaded and must be cache backends.
    public func missingCacheBackend(_ name: String) -> EngineError? {
        cachePlugin(name) == nil ? cacheBackendNotFound(name) : nil
    }

    private func cacheBackendNotFound(_ name: String) -> EngineError {
        let known = cacheBackendNames
        return EngineError(
            "no cache backend '\(name)' was found",
            hint: didYouMean(name, in: known).map { "did you mean '\($0)'?" }
                ?? (known.isEmpty ? "no cache backend plugins are installed; searched \(searchPath.joined(separator: ":"))"
                    : "available: \(known.joined(separator: ", "))"))
    }
}
