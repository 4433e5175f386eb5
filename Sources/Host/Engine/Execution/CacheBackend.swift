import NixActionsPluginMessages

/// A cache backend (local folder, S3) as the engine sees it: the plugin host implements it over
/// `nixactions.cache/1` (nixactions/cache.h). Entries are uncompressed tar archives here; the
/// backend compresses and verifies. A miss is a result (`CacheLookupResult.miss`); a failure
/// throws, and the engine turns it into a miss with a warning (the job goes on).
///
/// Every operation has a deadline and is cancelled by cancelling the awaiting task, except
/// `commit`, which follows every granted reservation exactly once and is never cancelled.
public protocol CacheBackend: Sendable {
    /// The backend's name as the workflow or configuration gave it (`local`, `s3`).
    var name: String { get }
    func lookup(_ request: CacheLookup) async throws -> CacheLookupResult
    /// Stream the entry into `sink`, which is closed before this returns (complete only when the
    /// whole entry arrived and verified).
    func restore(_ request: CacheRestore, into sink: any TreeSink) async throws -> CacheRestored
    func reserve(_ request: CacheReserve) async throws -> CacheReservation
    /// Stage an entry: `produce` writes the archive on a thread of its own (it may block) and
    /// returns, or throws to abort.
    func save(_ request: CacheSave, produce: @escaping @Sendable (any TreeWriter) throws -> Void) async throws -> CacheSaved
    /// Publish or discard a reservation. Never cancelled (runs to its own deadline).
    func commit(_ request: CacheCommit) async throws -> CacheCommitted
    func list(_ request: CacheList) async throws -> CacheListing
    func prune(_ request: CachePrune) async throws -> CachePruned
}

/// Makes cache backends; the plugin host implements it, tests may too.
public protocol CacheBackendProvider: Sendable {
    /// Names of the backends that can be made (`local`, `s3`, …).
    var cacheBackendNames: [String] { get }
    /// A backend instance for `name` with `configuration` (one per distinct configuration per run).
    /// - Throws: `EngineError` when the backend is unknown or refuses the configuration.
    func makeCacheBackend(name: String, configuration: CacheConfiguration) throws -> any CacheBackend
}
