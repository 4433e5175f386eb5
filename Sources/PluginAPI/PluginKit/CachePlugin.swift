import CNixActionsPlugin
import Foundation
import NixActionsPluginMessages

#if canImport(Glibc)
    import Glibc
#endif

/// What a plugin author implements to provide a cache backend (`nixactions.cache/1`,
/// nixactions/cache.h).
///
///     init ─► lookup / restore / reserve ─► save ─► commit (never cancelled) / list / prune ─► deinit
///
/// - Entries cross the boundary as uncompressed tar archives; the backend compresses, checks
///   and stores them as it likes. A miss is `CacheLookupResult.miss`, not an error.
/// - `restore` writes the archive into `stream` from a thread that may block (`Blocking.run`, a
///   thread of its own) and returns once it is all written; the kit closes the stream with OK
///   when `restore` returns and with FAILED when it throws (then the executor's put keeps
///   nothing). Throw when the entry turns out corrupt or truncated, even after the last byte.
/// - `save` reads the archive from `source` (`source.consume`) and stages it where no lookup can
///   see it; `commit` publishes it create-if-absent, or drops it.
/// - Throw an `OperationFailure` with a message a person can act on (never a credential).
public protocol CachePlugin: AnyObject, Sendable {
    init(configuration: CacheConfiguration, host: HostServices) throws
    /// Every option of the backend's configuration `init` accepts, when it refuses the others:
    /// published for `validate` (see ExecutorPlugin). Default nil.
    static var optionNames: Set<String>? { get }
    /// Refuse option values as `init` would (a type, a range), without making anything: for
    /// `validate` (options.h `check`, ABI 1.5). It may read the environment; nothing else. Default:
    /// values are checked when the instance is made.
    static func checkOptions(_ options: [String: JSONValue]) throws
    /// The same, told whether `options` are all the instance will get (none held `${{ }}`): a
    /// required option's absence may then be refused too. Default: `checkOptions(options)`.
    static func checkOptions(_ options: [String: JSONValue], complete: Bool) throws
    func lookup(_ request: CacheLookup, context: OperationContext) async throws -> CacheLookupResult
    func restore(_ request: CacheRestore, into stream: StreamWriter, context: OperationContext) async throws -> CacheRestored
    func reserve(_ request: CacheReserve, context: OperationContext) async throws -> CacheReservation
    func save(_ request: CacheSave, from source: PutSource, context: OperationContext) async throws -> CacheSaved
    func commit(_ request: CacheCommit, context: OperationContext) async throws -> CacheCommitted
    func list(_ request: CacheList, context: OperationContext) async throws -> CacheListing
    func prune(_ request: CachePrune, context: OperationContext) async throws -> CachePruned
}

extension CachePlugin {
    public static var optionNames: Set<String>? { nil }
    public static func checkOptions(_ options: [String: JSONValue]) throws {}
    public static func checkOptions(_ options: [String: JSONValue], complete: Bool) throws { try checkOptions(options) }
}

extension PutSource {
    /// Read the archive the host writes, chunk by chunk, until the host closes the stream;
    /// `body` returns false to stop early (the host's next write fails). A cache save's source is
    /// inline: `body` runs on the writer's thread, inside its `write` (no socket, no copy); any
    /// other source is read from its socket on a thread of its own.
    /// Returns how the host ended the stream (`failure` nil: complete and valid).
    public func consume(chunkSize: Int = 1 << 20, _ body: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Bool) async throws -> Outcome {
        if inline { return try await consumeInline(body) }
        let descriptor = readDescriptor
        let readError: (any Error)? = await Blocking.run { () -> SendableError? in
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let count = read(descriptor, buffer, chunkSize)
                if count < 0 && errno == EINTR { continue }
                if count < 0 { return SendableError(OperationFailure(message: "cannot read the archive: \(String(cString: strerror(errno)))")) }
                if count == 0 { return nil }
                do {
                    if try !body(UnsafeRawBufferPointer(start: buffer, count: count)) { return nil }
                } catch {
                    return SendableError(error)
                }
            }
        }?.error
        closeReader()
        let outcome = await self.outcome()
        if let readError { throw readError }
        return outcome
    }
}

struct SendableError: @unchecked Sendable {
    let error: any Error
    init(_ error: any Error) { self.error = error }
}

/// One cache instance and the tasks of its running operations.
final class CacheBox: Sendable {
    let backend: any CachePlugin
    let operations: Operations

    init(backend: any CachePlugin, host: HostServices) {
        self.backend = backend
        self.operations = Operations(host: host)
    }
}

extension PluginExport {
    nonisolated(unsafe) static var cacheTable: UnsafeMutablePointer<nxa_cache_v1>?

    static func cacheBox(_ instance: UnsafeMutableRawPointer?) -> CacheBox? {
        instance.map { Unmanaged<CacheBox>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Decode the request and start the operation; NXA_STATUS_INVALID_ARGUMENT if either fails.
    static func startCache<Request: Decodable & Sendable, Result: Encodable & Sendable>(
        _ instance: UnsafeMutableRawPointer?, _ op: UInt64, _ json: UnsafePointer<UInt8>?, _ length: Int,
        _ error: UnsafeMutablePointer<nxa_error>?, _ type: Request.Type, cancellable: Bool = true,
        _ body: @escaping @Sendable (any CachePlugin, Request, OperationContext) async throws -> Result
    ) -> nxa_status {
        guard let box = cacheBox(instance) else {
            fill(error, "not a cache instance")
            return NXA_STATUS_INVALID_ARGUMENT
        }
        guard let request = decode(type, json, length, error) else { return NXA_STATUS_INVALID_ARGUMENT }
        let backend = box.backend
        box.operations.start(op, cancellable: cancellable) { context in try await body(backend, request, context) }
        return NXA_STATUS_OK
    }

    /// The cache function table, made once.
    static func cacheInterface() -> UnsafeMutablePointer<nxa_cache_v1> {
        if let table = cacheTable { return table }
        let table = UnsafeMutablePointer<nxa_cache_v1>.allocate(capacity: 1)
        table.initialize(
            to: nxa_cache_v1(
                struct_size: UInt32(MemoryLayout<nxa_cache_v1>.size),
                create: { _, config, configLength, outInstance, error in
                    PluginExport.create(CacheConfiguration.self, config, configLength, outInstance, error, what: "cache") {
                        state, configuration in
                        guard let type = state.declaration.cache else { return nil }
                        return CacheBox(backend: try type.init(configuration: configuration, host: state.host), host: state.host)
                    }
                },
                lookup: { instance, op, json, length, error in
                    PluginExport.startCache(instance, op, json, length, error, CacheLookup.self) { backend, request, context in
                        try CacheKeysCheck.check(request.key)
                        return try await backend.lookup(request, context: context)
                    }
                },
                restore: { instance, op, json, length, stream, error in
                    guard let stream else {
                        PluginExport.fill(error, "cache restore: no stream")
                        return NXA_STATUS_INVALID_ARGUMENT
                    }
                    guard Int(stream.pointee.struct_size) >= MemoryLayout<nxa_stream>.size else {
                        PluginExport.fill(error, "cache restore: the stream struct is \(stream.pointee.struct_size) bytes, too small")
                        return NXA_STATUS_INVALID_ARGUMENT
                    }
                    let writer = StreamWriter(stream)
                    return PluginExport.startCache(instance, op, json, length, error, CacheRestore.self) { backend, request, context in
                        do {
                            let result = try await backend.restore(request, into: writer, context: context)
                            if !writer.isClosed {
                                let refused = writer.stopStatus
                                if refused != NXA_STATUS_OK {
                                    await Blocking.run { writer.close(refused, message: "the consumer stopped taking the archive") }
                                    throw StatusFailure(refused, OperationFailure(message: "the consumer stopped taking the archive"))
                                }
                                await Blocking.run { writer.close(NXA_STATUS_OK) }
                            }
                            return result
                        } catch {
                            if !writer.isClosed { await Blocking.run { writer.close(after: error) } }
                            throw error
                        }
                    }
                },
                reserve: { instance, op, json, length, error in
                    PluginExport.startCache(instance, op, json, length, error, CacheReserve.self) { backend, request, context in
                        try CacheKeysCheck.check(request.key)
                        return try await backend.reserve(request, context: context)
                    }
                },
                save: { instance, op, json, length, outStream, error in
                    guard let box = PluginExport.cacheBox(instance), let outStream else {
                        PluginExport.fill(error, "cache save: not a cache instance, or no out_stream")
                        return NXA_STATUS_INVALID_ARGUMENT
                    }
                    guard let request = PluginExport.decode(CacheSave.self, json, length, error) else { return NXA_STATUS_INVALID_ARGUMENT }
                    let source: PutSource
                    do {
                        source = try PutSource(rootNames: nil, context: OperationContext(id: op, host: box.operations.host), inline: true)
                    } catch let failure {
                        PluginExport.fill(error, OperationFailure.describe(failure))
                        return NXA_STATUS_FAILED
                    }
                    outStream.pointee = UnsafePointer(source.stream)
                    let backend = box.backend
                    box.operations.start(op) { context in
                        // Completes only after the host closed the stream (stream.h rule 9).
                        do {
                            let result = try await backend.save(request, from: source, context: context)
                            source.closeReader()
                            let outcome = await source.outcome()
                            if let failure = outcome.failure { throw OperationFailure(message: failure) }
                            return result
                        } catch {
                            source.closeReader()
                            _ = await source.outcome()
                            throw error
                        }
                    }
                    return NXA_STATUS_OK
                },
                commit: { instance, op, json, length, error in
                    PluginExport.startCache(instance, op, json, length, error, CacheCommit.self, cancellable: false) {
                        backend, request, context in try await backend.commit(request, context: context)
                    }
                },
                list: { instance, op, json, length, error in
                    PluginExport.startCache(instance, op, json, length, error, CacheList.self) { backend, request, context in
                        try await backend.list(request, context: context)
                    }
                },
                prune: { instance, op, json, length, error in
                    PluginExport.startCache(instance, op, json, length, error, CachePrune.self) { backend, request, context in
                        try await backend.prune(request, context: context)
                    }
                },
                cancel: { instance, op in PluginExport.cacheBox(instance)?.operations.cancel(op) },
                destroy: { instance in
                    guard let instance else { return }
                    Unmanaged<CacheBox>.fromOpaque(instance).release()
                }
            ))
        cacheTable = table
        return table
    }
}

enum CacheKeysCheck {
    static func check(_ key: String) throws {
        if let problem = CacheKeys.problem(key) { throw OperationFailure(message: "cache key '\(key)': \(problem)") }
    }
}
