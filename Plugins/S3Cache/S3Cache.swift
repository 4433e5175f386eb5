import AsyncHTTPClient
import CNixActionsPlugin
import Foundation
import NIOCore
import NIOHTTP1
import NixActionsCacheKit
import NixActionsPluginKit
import NixActionsPluginMessages
import Synchronization

/// The one symbol this library exports.
@_cdecl("nixactions_plugin_entry")
public func nixactionsPluginEntry(
    _ host: UnsafePointer<nxa_host_info>?,
    _ out: UnsafeMutablePointer<UnsafePointer<nxa_plugin>?>?,
    _ error: UnsafeMutablePointer<nxa_error>?
) -> nxa_status {
    PluginExport.entry(
        PluginDeclaration(
            id: "cache-s3", name: "S3 cache", version: "0.1.0",
            description: "Cache entries in an S3 bucket (AWS or any S3-compatible server), zstd-compressed, multipart, published create-if-absent",
            cache: S3Cache.self),
        host: host, out: out, error: error)
}

/// `backend: s3`: entries in a bucket (layout in S3Layout.swift).
///
/// Save streams the archive through zstd into parts (one PutObject when it fits in one part,
/// else a multipart upload with at most two parts in flight); commit publishes the entry by
/// writing its manifest with `If-None-Match: *`, so of two savers exactly one wins. Reserve
/// writes a lease object the same way; it only saves a second upload, correctness comes from
/// the conditional manifest write. Restore streams the data object through zstd into the host's
/// stream from a thread of its own.
final class S3Cache: CachePlugin {
    let client: S3Client
    let layout: S3Layout
    let partSize: Int
    let level: Int32
    /// zstd worker threads (0: compress on the thread reading the archive).
    let threads: Int32
    /// Send each body's CRC32 for the store to check (option `checksums`).
    let checksums: Bool
    /// Reservations this instance granted, by token.
    private let reservations = Mutex<[String: ReservationState]>([:])

    struct ReservationState: Sendable {
        var key: String
        var version: String
        /// The uploaded data object (relative to the prefix), once `save` finished.
        var data: String?
        var archiveBytes = 0
        var storedBytes = 0
        /// The first commit's outcome (commit is idempotent).
        var outcome: CacheCommitted?
        /// How long the lease lasts from each renewal (`leaseLength`).
        var leaseLength = Double(S3Cache.leaseSeconds)
    }

    static let known: Set<String> = [
        "bucket", "prefix", "region", "endpoint", "path-style", "part-size", "compression-level", "compression-threads", "timeout",
        "retries", "checksums",
    ]
    /// Published for `validate` (options.h): the set `init` checks.
    static var optionNames: Set<String>? { known }

    /// The options' values as `init` takes them, made without anything else (options.h `check`).
    struct Options {
        var bucket: String
        var prefix: String
        var region: String
        var endpoint: S3Endpoint
        var partSize: Int
        var level: Int32
        var threads: Int32
        var timeout: Int
        var retries: Int
        var checksums: Bool

        init(_ values: [String: JSONValue], environment: [String: String]) throws {
            let options = CacheOptions(values)
            let unknown = options.unknown(S3Cache.known)
            if !unknown.isEmpty {
                throw OperationFailure(message: "the s3 cache backend has no option \(unknown.map { "'\($0)'" }.joined(separator: ", "))",
                                       hint: "known: \(S3Cache.known.sorted().joined(separator: ", "))")
            }
            guard let bucket = options.string("bucket"), !bucket.isEmpty else {
                throw OperationFailure(message: "the s3 cache backend needs 'bucket'", hint: "e.g. backend: s3 with bucket: my-ci-cache")
            }
            self.bucket = bucket
            var prefix = options.string("prefix") ?? "nixactions-cache/"
            while prefix.hasPrefix("/") { prefix.removeFirst() }
            if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
            self.prefix = prefix
            region = options.string("region") ?? [environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"]].compactMap { $0 }
                .first { !$0.isEmpty } ?? "us-east-1"
            let given = options.string("endpoint")
            let endpointText = given ?? "https://s3.\(region).amazonaws.com"
            guard let url = URLComponents(string: endpointText), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                  let hostName = url.host, !hostName.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil
            else {
                throw OperationFailure(message: "'endpoint' \(endpointText) is not an http(s) URL of a server", hint: "e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000")
            }
            if scheme == "http" && !["127.0.0.1", "localhost", "::1", "[::1]"].contains(hostName) {
                throw OperationFailure(message: "'endpoint' \(endpointText) is plain http to another machine",
                                       hint: "use https (signed requests and cache contents would travel unencrypted); http is allowed for 127.0.0.1")
            }
            var authority = hostName.contains(":") && !hostName.hasPrefix("[") ? "[\(hostName)]" : hostName
            if let port = url.port, !(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) { authority += ":\(port)" }
            let pathStyle = try options.bool("path-style") ?? (given != nil)
            partSize = try options.size("part-size") ?? 16 << 20
            guard partSize >= 5 << 20, partSize <= 5 << 30 else {
                throw OperationFailure(message: "'part-size' must be between 5M and 5G (S3's limits on a part)")
            }
            level = Int32(try options.integer("compression-level", in: 1...19) ?? 3)
            // One zstd worker by default: the archive is read while the previous block compresses
            // (as `tar --zstd` runs zstd beside tar).
            threads = Int32((try options.integer("compression-threads", in: 0...256) ?? 1))
            timeout = (try options.integer("timeout", in: 1...86400) ?? 60)
            retries = (try options.integer("retries", in: 0...10) ?? 3)
            checksums = try options.bool("checksums") ?? true
            var display = "\(scheme)://\(authority)"
            if !pathStyle { display = "\(scheme)://\(bucket).\(authority)" }
            endpoint = S3Endpoint(scheme: scheme, authority: authority, display: display, bucket: bucket, region: region, pathStyle: pathStyle)
        }
    }

    /// Published for `validate` (options.h `check`): the values `init` would refuse.
    static func checkOptions(_ options: [String: JSONValue]) throws {
        _ = try Options(options, environment: ProcessInfo.processInfo.environment)
    }

    init(configuration: CacheConfiguration, host: HostServices) throws {
        let environment = ProcessInfo.processInfo.environment
        let options = try Options(configuration.options, environment: environment)
        threads = options.threads
        checksums = options.checksums
        let credentials: Result<S3Credentials, OperationFailure>
        do {
            credentials = .success(try S3Credentials.load(environment: environment))
        } catch let failure as OperationFailure {
            credentials = .failure(failure)
        }
        client = S3Client(endpoint: options.endpoint, credentials: credentials, timeout: Double(options.timeout), retries: options.retries)
        layout = S3Layout(prefix: options.prefix)
        partSize = options.partSize
        level = options.level
    }

    deinit { client.shutdown() }

    // MARK: - Lookup and restore

    /// The most manifests one lookup reads to order entries committed in the same second.
    static let tieReads = 16

    func lookup(_ request: CacheLookup, context: OperationContext) async throws -> CacheLookupResult {
        if let record = try await manifest(request.key, request.version, context: context), record.version == request.version {
            return CacheLookupOrder.result(record, request: request)
        }
        for restoreKey in request.restoreKeys where !restoreKey.isEmpty {
            let listPrefix = layout.manifestPrefix(restoreKey, request.version)
            guard listPrefix.utf8.count <= S3Layout.maxObjectName else { continue }
            var candidates = try await listObjects(listPrefix, context: context).compactMap { object -> CacheEntryRecord? in
                guard let key = layout.key(ofObject: object.name, under: layout.manifestsRoot) else { return nil }
                return CacheEntryRecord(key: key, version: request.version, sizeBytes: object.size, archiveBytes: 0,
                                        createdAt: object.lastModified, data: object.name)
            }
            let single = CacheLookup(key: request.key, restoreKeys: [restoreKey], version: request.version)
            // The listing orders by the manifests' LastModified (the commit time); a manifest
            // pruned since is skipped for the next newest.
            while let chosen = CacheLookupOrder.match(single, in: candidates) {
                // LastModified has whole seconds: entries committed in the chosen one's second (a
                // matrix's jobs) are told apart by their manifests' own `createdAt`, read for at
                // most `tieReads` of them (audit 48: the key sorting last won the tie). Between
                // seconds, S3's own clock decides.
                let group = chosen.key == restoreKey ? [chosen]
                    : [chosen] + candidates.filter { $0.key != chosen.key && $0.createdAt == chosen.createdAt }
                        .sorted { ($0.createdAt, $0.key) > ($1.createdAt, $1.key) }.prefix(Self.tieReads - 1)
                var newest: CacheEntryRecord?
                for candidate in group {
                    // One unreadable manifest is skipped (with a warning), not a miss for the whole prefix.
                    do {
                        if let record = try await manifest(candidate.key, request.version, context: context), record.version == request.version,
                           newest.map({ ($0.createdAt, $0.key) < (record.createdAt, record.key) }) ?? true {
                            newest = record
                        }
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        context.log(.warning, "skipping the entry \(candidate.key): \(error)")
                    }
                }
                if let newest { return CacheLookupOrder.result(newest, request: request) }
                let tried = Set(group.map(\.key))
                candidates.removeAll { tried.contains($0.key) }
            }
        }
        return .miss
    }

    /// The manifest of (key, version), nil when there is none.
    func manifest(_ key: String, _ version: String, context: OperationContext) async throws -> CacheEntryRecord? {
        let name = layout.manifest(key, version)
        guard name.utf8.count <= S3Layout.maxObjectName else { return nil }
        let response = try await client.send(.GET, name, context: context)
        if response.status == 404 && response.errorCode != "NoSuchBucket" { return nil }
        guard response.status == 200 else { throw client.failure(response, doing: "reading the entry \(key)") }
        guard let record = try? JSONDecoder().decode(CacheEntryRecord.self, from: Data(response.body)) else {
            throw OperationFailure(message: "the manifest of the cache entry \(key) (\(name)) is not readable",
                                   hint: "remove it with nixactions cache clear, or delete the object")
        }
        guard S3Layout.isDataName(record.data, version: version) else {
            throw OperationFailure(message: "the manifest of the cache entry \(key) (\(name)) names a data object outside its place (data/…/NAME.tar.zst); not used",
                                   hint: "someone who may write under the prefix made it, or it is damaged: delete the object")
        }
        return record
    }

    func restore(_ request: CacheRestore, into stream: StreamWriter, context: OperationContext) async throws -> CacheRestored {
        guard let record = try await manifest(request.key, request.version, context: context), record.version == request.version else {
            throw OperationFailure(message: "entry \(request.key) no longer exists")
        }
        let (response, failure) = try await client.stream(layout.prefix + record.data, context: context)
        guard let response else {
            if let failure, failure.status == 404, failure.errorCode != "NoSuchBucket" {
                // Its data is gone (a lifecycle rule, a cleanup): the manifest goes too, or it would
                // refuse every later save of the key ("exists") and fail every restore.
                let deleted = try? await client.send(.DELETE, layout.manifest(request.key, request.version), context: context)
                if let status = deleted?.status, (200..<300).contains(status) || status == 404 {  // 404: already gone
                    throw OperationFailure(message: "entry \(request.key) has lost its data object; its manifest was removed",
                                           hint: "the next save stores it again")
                }
                throw OperationFailure(
                    message: "entry \(request.key) has lost its data object, and its manifest could not be removed"
                        + (deleted.map { " (HTTP \($0.status))" } ?? ""),
                    hint: "the key cannot be saved again until its manifest goes: nixactions cache clear --backend s3 KEY (needs permission to delete)")
            }
            throw client.failure(failure!, doing: "downloading the entry \(request.key)")
        }
        let queue = ChunkQueue(limit: 4 << 20)
        let expected = record.archiveBytes
        async let consumed = Blocking.run { Self.decompress(queue, into: stream, expected: expected) }
        var downloadError: (any Error)?
        await withTaskCancellationHandler {
            do {
                for try await chunk in response.body {
                    if !(await queue.push(chunk)) { break }
                }
                if Task.isCancelled { throw CancellationError() }
                queue.finish()
            } catch {
                downloadError = error
                queue.stop()
            }
        } onCancel: {
            queue.stop()
        }
        let result = await consumed
        if Task.isCancelled { throw CancellationError() }
        switch result {
        case .failure(let failure):
            let message = failure.error.message
            if let downloadError, queue.wasStopped {
                // The download's own failure (a read timeout, a reset) is why the archive stopped.
                throw OperationFailure(message: "the download of entry \(request.key) broke off: \(client.describe(downloadError))")
            }
            if downloadError == nil, message.hasPrefix("the entry is corrupt") || message.hasPrefix("the entry is truncated") {
                // Damaged where it is stored: it goes, as the local backend's does, or it would
                // fail every restore and refuse every save of its key (audit 48).
                let deleted = try? await client.send(.DELETE, layout.manifest(request.key, request.version), context: context)
                if let status = deleted?.status, (200..<300).contains(status) || status == 404 {
                    _ = try? await client.send(.DELETE, layout.prefix + record.data, context: context)
                    // Its `used/` marker too, as clear and prune remove it: kept, it dated the entry
                    // saved again after it as used before it was made, and prune took that entry
                    // first (audit 64 cache L3).
                    _ = try? await client.send(.DELETE, layout.used(request.key, request.version), context: context)
                    throw OperationFailure(message: "entry \(request.key): \(message); it was removed", hint: "the next save stores it again")
                }
                throw OperationFailure(message: "entry \(request.key): \(message)",
                                       hint: "remove it with nixactions cache clear --backend s3 KEY (it could not be removed now)")
            }
            throw failure
        case .success(let bytes):
            if let downloadError {
                throw OperationFailure(message: "the download of entry \(request.key) broke off: \(client.describe(downloadError))")
            }
            await touch(record, context: context)
            return CacheRestored(bytes: bytes)
        }
    }

    /// The restore thread: decompress, verify, write (blocking) into the host's stream.
    static func decompress(_ queue: ChunkQueue, into stream: StreamWriter, expected: Int) -> Result<Int, OperationFailure> {
        struct Refused: Error { let status: nxa_status }
        do {
            let decompressor = try ZstdDecompressor(checkArchive: true)
            while let chunk = queue.pop() {
                try chunk.withUnsafeReadableBytes { raw in
                    try decompressor.decompress(raw) { bytes in
                        let status = stream.write(bytes)
                        if status != NXA_STATUS_OK { throw Refused(status: status) }
                    }
                }
            }
            if queue.wasStopped { return .failure(OperationFailure(message: "the download stopped")) }
            try decompressor.finish()
            guard decompressor.bytesOut == expected else {
                return .failure(OperationFailure(message: "the entry is corrupt: \(decompressor.bytesOut) archive bytes instead of \(expected)"))
            }
            return .success(decompressor.bytesOut)
        } catch let refused as Refused {
            queue.stop()
            return .failure(OperationFailure(message: "the consumer stopped taking the archive (status \(refused.status))"))
        } catch let failure as OperationFailure {
            queue.stop()
            return .failure(failure)
        } catch {
            queue.stop()
            return .failure(OperationFailure(message: "\(error)"))
        }
    }

    /// Mark the entry used (for least-recently-used eviction): best effort, one try.
    func touch(_ record: CacheEntryRecord, context: OperationContext) async {
        let name = layout.used(record.key, record.version)
        guard name.utf8.count <= S3Layout.maxObjectName else { return }
        if let response = try? await client.send(.PUT, name, body: .small([]), idempotent: false, context: context), response.status != 200 {
            context.log(.debug, "could not mark the cache entry \(record.key) used (S3 answered \(response.status))")
        }
    }

    // MARK: - Reserve, save, commit

    func reserve(_ request: CacheReserve, context: OperationContext) async throws -> CacheReservation {
        try layout.check(request.key, request.version)
        let head = try await client.send(.HEAD, layout.manifest(request.key, request.version), context: context)
        if head.status == 200 { return .refused("exists") }
        guard head.status == 404 else { throw client.failure(head, doing: "checking the entry \(request.key)") }
        let token = UUID().uuidString.lowercased()
        let length = Self.leaseLength(request.leaseSeconds)
        let lease = S3Lease(token: token, expiresAt: CacheTime.now() + length, seconds: length)
        let leaseName = layout.lease(request.key, request.version)
        for attempt in 0..<2 {
            let put = try await client.send(.PUT, leaseName, headers: [("if-none-match", "*"), ("content-type", "application/json")],
                                            body: .small(try JSONEncoder().encode(lease).bytes), context: context)
            if put.status == 200 {
                var granted = ReservationState(key: request.key, version: request.version)
                granted.leaseLength = Self.leaseLength(request.leaseSeconds)
                reservations.withLock { [granted] in $0[token] = granted }
                return .granted(token)
            }
            guard put.status == 412 || put.status == 409 else { throw client.failure(put, doing: "reserving the entry \(request.key)") }
            guard attempt == 0 else { break }
            // Someone holds a lease: take it over only when it expired (a saver that died), and
            // only that lease: one renewed or taken over since it was read stays (If-Match).
            let current = try await client.send(.GET, leaseName, context: context)
            if current.status == 404 { continue }
            guard current.status == 200 else { throw client.failure(current, doing: "reading the lease of \(request.key)") }
            let held = HeldLease(current)
            if let held, !held.expired { return .refused("busy") }
            let removed = try await conditional(.DELETE, leaseName, etag: held?.etag, context: context)
            if removed.status == 412 { return .refused("busy") }
        }
        return .refused("busy")
    }

    /// A lease as read (GET), with what makes a conditional write of it possible.
    struct HeldLease {
        let lease: S3Lease
        /// The object's ETag: a write or delete `If-Match` it fails (412) once another saver
        /// renewed or took the lease over.
        let etag: String?
        /// Past its length: by the store's clock (its `Date` against the lease's `Last-Modified`)
        /// when both are known and the lease says its length, else by this machine's clock.
        let expired: Bool

        init?(_ response: S3Response) {
            guard let lease = try? JSONDecoder().decode(S3Lease.self, from: Data(response.body)) else { return nil }
            self.lease = lease
            etag = response.headers.first(name: "etag")
            if let seconds = lease.seconds,
               let now = response.headers.first(name: "date").flatMap(S3Time.parseHTTP),
               let written = response.headers.first(name: "last-modified").flatMap(S3Time.parseHTTP)
            {
                expired = now - written > seconds
            } else {
                expired = lease.expiresAt <= CacheTime.now()
            }
        }
    }

    /// `method` (PUT or DELETE) on `name` only if the object is still `etag` (`If-Match`); a
    /// store that does not take the condition (501) gets the request without it.
    func conditional(_ method: HTTPMethod, _ name: String, etag: String?, headers: [(String, String)] = [],
                     body: S3Client.Body = .none, cleanup: Bool = false, context: OperationContext) async throws -> S3Response {
        let condition = etag.map { [("if-match", $0)] } ?? []
        let answer = try await client.send(method, name, headers: condition + headers, body: body, cleanup: cleanup, context: context)
        guard answer.status == 501, !condition.isEmpty else { return answer }
        return try await client.send(method, name, headers: headers, body: body, cleanup: cleanup, context: context)
    }

    /// The lease `name` when it is still `token`'s (nil: gone, another saver's, or unreadable).
    func ownLease(_ name: String, token: String, cleanup: Bool = false, context: OperationContext) async -> HeldLease? {
        guard let current = try? await client.send(.GET, name, cleanup: cleanup, context: context), current.status == 200,
              let held = HeldLease(current), held.lease.token == token
        else { return nil }
        return held
    }

    /// A lease lasts at most `leaseSeconds` (2 minutes, or less when the host asks less) and is
    /// renewed every `renewSeconds` while its save runs: a saver killed outright (SIGKILL, a lost
    /// machine) holds the key for minutes, not the hour a lease of the whole save's length would
    /// (audit 60 L4). The reservation comes just before the save, and the commit just after it.
    static let leaseSeconds = 120
    static let renewSeconds = 30

    static func leaseLength(_ asked: Int?) -> Double { Double(max(min(asked ?? leaseSeconds, leaseSeconds), 1)) }

    /// Push the lease's expiry on while it is still ours; false once it is not (expired and taken
    /// over, or gone): the renewal then stops, and the commit's create-if-absent decides.
    func renewLease(_ token: String, key: String, version: String, length: Double, context: OperationContext) async -> Bool {
        let name = layout.lease(key, version)
        guard let held = await ownLease(name, token: token, context: context),
              let body = try? JSONEncoder().encode(S3Lease(token: token, expiresAt: CacheTime.now() + length, seconds: length))
        else { return false }
        // Taken over between the read and this write (it had expired): the lease is the other
        // saver's now, and stays so.
        let renewed = try? await conditional(.PUT, name, etag: held.etag, headers: [("content-type", "application/json")],
                                             body: .small(body.bytes), context: context)
        return renewed?.status != 412
    }

    func save(_ request: CacheSave, from source: PutSource, context: OperationContext) async throws -> CacheSaved {
        guard let state = reservations.withLock({ $0[request.reservation] }), state.key == request.key, state.version == request.version else {
            throw OperationFailure(message: "the s3 cache has no reservation \(request.reservation.prefix(64)) for \(request.key)")
        }
        try layout.check(request.key, request.version)
        // The lease is renewed while the save runs, and the renewal ended before it returns.
        let renewal = Task { [self] in
            while true {
                try? await Task.sleep(for: .seconds(min(Double(Self.renewSeconds), max(1, state.leaseLength / 4))))
                if Task.isCancelled { return }
                guard await renewLease(request.reservation, key: request.key, version: request.version, length: state.leaseLength,
                                       context: context) else { return }
            }
        }
        let saved: Result<CacheSaved, any Error>
        do { saved = .success(try await saveData(request, from: source, context: context)) } catch { saved = .failure(error) }
        renewal.cancel()
        await renewal.value  // nothing of it uses the operation's context after the save returns
        return try saved.get()
    }

    private func saveData(_ request: CacheSave, from source: PutSource, context: OperationContext) async throws -> CacheSaved {
        let dataName = layout.newData(request.version)
        let pipe = PartPipe(inFlight: 2)
        let sink = try SaveSink(level: level, threads: threads, partSize: partSize, checksums: checksums, pipe: pipe)
        let upload = UploadState()
        async let uploaded: Void = self.upload(pipe, dataName, state: upload, context: context)
        var produceError: (any Error)?
        do {
            let outcome = try await withTaskCancellationHandler {
                try await source.consume { chunk in try sink.take(chunk) }
            } onCancel: {
                pipe.fail()
            }
            if Task.isCancelled { throw CancellationError() }
            if let failure = outcome.failure { throw OperationFailure(message: "the archive did not arrive whole: \(failure)") }
            if !pipe.failed {
                let finished: OperationFailure? = await Blocking.run {
                    do {
                        try sink.finish()
                        return nil
                    } catch is SaveSink.Stopped {
                        return nil
                    } catch {
                        return (error as? OperationFailure) ?? OperationFailure(message: OperationFailure.describe(error))
                    }
                }
                if let finished { throw finished }
            }
        } catch is SaveSink.Stopped {
            // The upload stopped (its error follows).
        } catch {
            produceError = error
            pipe.fail()
        }
        pipe.close()
        var uploadError: (any Error)?
        do { try await uploaded } catch { uploadError = error }
        if let error = produceError ?? uploadError ?? (Task.isCancelled ? CancellationError() : nil) {
            await uncancelled { await self.dropStaged(upload, dataName, context: context) }
            throw error
        }
        reservations.withLock { reservations in
            reservations[request.reservation]?.data = String(dataName.dropFirst(layout.prefix.count))
            reservations[request.reservation]?.archiveBytes = sink.archiveBytes
            reservations[request.reservation]?.storedBytes = sink.storedBytes
        }
        return CacheSaved(bytes: sink.archiveBytes, storedBytes: sink.storedBytes)
    }

    /// What an upload made, for cleaning up after a failure.
    final class UploadState: Sendable {
        let uploadID = Mutex<String?>(nil)
        let putSingle = Atomic<Bool>(false)
    }

    /// Run `body` in a task that is not cancelled with the caller (cleanup outlives cancellation).
    func uncancelled(_ body: @escaping @Sendable () async -> Void) async {
        await Task.detached { await body() }.value
    }

    /// Remove a failed save's data: abort its multipart upload or delete its object.
    func dropStaged(_ upload: UploadState, _ dataName: String, context: OperationContext) async {
        if let id = upload.uploadID.withLock({ $0 }) {
            _ = try? await client.send(.DELETE, dataName, query: [("uploadId", id)], cleanup: true, context: context)
        }
        if upload.putSingle.load(ordering: .relaxed) {
            _ = try? await client.send(.DELETE, dataName, cleanup: true, context: context)
        }
    }

    /// The uploading side of a save: one PutObject, or a multipart upload with the parts of
    /// `pipe` (at most two in flight: the pipe holds the reader back).
    func upload(_ pipe: PartPipe, _ dataName: String, state: UploadState, context: OperationContext) async throws {
        do {
            try await withThrowingTaskGroup(of: CompletedPart.self) { group in
                var uploadID: String?
                for await message in pipe.messages {
                    switch message {
                    case .single(let body):
                        defer { pipe.done() }
                        state.putSingle.store(true, ordering: .relaxed)
                        let response = try await client.send(.PUT, dataName, headers: [("content-type", "application/zstd")], body: .stream(body),
                                                             context: context)
                        guard response.status == 200 else { throw client.failure(response, doing: "uploading the entry") }
                    case .part(let number, let body):
                        if uploadID == nil {
                            let id: String
                            do { id = try await createUpload(dataName, context: context) } catch {
                                pipe.done()
                                throw error
                            }
                            uploadID = id
                            state.uploadID.withLock { $0 = id }
                        }
                        let id = uploadID!
                        group.addTask {
                            defer { pipe.done() }
                            do {
                                let response = try await self.client.send(.PUT, dataName, query: [("partNumber", String(number)), ("uploadId", id)],
                                                                          body: .stream(body), context: context)
                                guard response.status == 200, let etag = response.headers.first(name: "etag") else {
                                    throw self.client.failure(response, doing: "uploading part \(number) of the entry")
                                }
                                return CompletedPart(number: number, etag: etag, crc32: body.crc32Header)
                            } catch {
                                pipe.fail()
                                throw error
                            }
                        }
                    }
                }
                var parts: [CompletedPart] = []
                for try await part in group { parts.append(part) }
                if pipe.failed { throw SaveSink.Stopped() }
                if let id = uploadID { try await completeUpload(dataName, id, parts.sorted { $0.number < $1.number }, context: context) }
            }
        } catch {
            pipe.fail()
            throw error
        }
    }

    /// A part that arrived: what CompleteMultipartUpload lists.
    struct CompletedPart: Sendable {
        let number: Int
        let etag: String
        let crc32: String?
    }

    func createUpload(_ dataName: String, context: OperationContext) async throws -> String {
        // Every part then carries its CRC32, which the store checks; the completion lists them.
        let response = try await client.send(.POST, dataName, query: [("uploads", "")],
                                             headers: [("content-type", "application/zstd")] + (checksums ? [("x-amz-checksum-algorithm", "CRC32")] : []),
                                             idempotent: false, context: context)
        guard response.status == 200, let id = S3XML.first("UploadId", in: response.text) else {
            throw client.failure(response, doing: "starting a multipart upload")
        }
        return id
    }

    func completeUpload(_ dataName: String, _ id: String, _ parts: [CompletedPart], context: OperationContext) async throws {
        var xml = "<CompleteMultipartUpload>"
        for part in parts {
            xml += "<Part>" + (part.crc32.map { "<ChecksumCRC32>\($0)</ChecksumCRC32>" } ?? "") + "<ETag>\(S3XML.escape(part.etag))</ETag><PartNumber>\(part.number)</PartNumber></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let response = try await client.send(.POST, dataName, query: [("uploadId", id)], headers: [("content-type", "application/xml")],
                                             body: .small(Array(xml.utf8)), context: context)
        // S3 may answer 200 and report the failure in the body.
        if response.status == 200 && !response.text.contains("<Error>") { return }
        if response.errorCode == "NoSuchUpload" {
            // A retry of a completion that went through: the object is there.
            let head = try await client.send(.HEAD, dataName, context: context)
            if head.status == 200 { return }
        }
        throw client.failure(response, doing: "completing the multipart upload")
    }

    func commit(_ request: CacheCommit, context: OperationContext) async throws -> CacheCommitted {
        guard let state = reservations.withLock({ $0[request.reservation] }), state.key == request.key, state.version == request.version else {
            return CacheCommitted(committed: false, reason: "expired")
        }
        if let outcome = state.outcome { return outcome }
        let outcome: CacheCommitted
        if request.discard || state.data == nil {
            if let data = state.data { _ = try? await client.send(.DELETE, layout.prefix + data, cleanup: true, context: context) }
            outcome = CacheCommitted(committed: false, reason: request.discard ? "discarded" : "expired")
        } else {
            let data = state.data!
            let record = CacheEntryRecord(key: state.key, version: state.version, sizeBytes: state.storedBytes, archiveBytes: state.archiveBytes,
                                          createdAt: CacheTime.now(), data: data)
            let name = layout.manifest(state.key, state.version)
            let put: S3Response
            do {
                put = try await client.send(.PUT, name, headers: [("if-none-match", "*"), ("content-type", "application/json")],
                                            body: .small(try JSONEncoder().encode(record).bytes), context: context)
            } catch let failure as OperationFailure where (context.remainingSeconds ?? 1) <= 0.1 {
                // At the deadline: published or not, the data stays for the next prune.
                throw StatusFailure(NXA_STATUS_TIMED_OUT, OperationFailure(
                    message: "publishing the entry \(state.key) did not finish before the deadline (\(failure.error.message)); "
                        + "its data is left for the next prune"))
            }
            if put.status == 200 {
                outcome = CacheCommitted(committed: true)
            } else if put.status == 412 || put.status == 409 {
                // Another saver published first, or this is a retry of our own write that went through.
                // Our data goes only when the manifest was read and names other data: a retried
                // write of ours whose answer was lost must not lose the entry it published.
                let existing: CacheEntryRecord??
                do { existing = .some(try await manifest(state.key, state.version, context: context)) } catch { existing = nil }
                if let read = existing, read?.data == data {
                    outcome = CacheCommitted(committed: true)
                } else if let read = existing, let other = read, other.data != data {
                    _ = try? await client.send(.DELETE, layout.prefix + data, context: context)
                    outcome = CacheCommitted(committed: false, reason: "exists")
                } else {
                    // Not readable now: whether ours or another's was published is unknown; the
                    // data stays (an orphan goes at the next prune).
                    outcome = CacheCommitted(committed: false, reason: "exists")
                }
            } else {
                // Unknown whether it was published: the data stays (an orphan goes at the next prune).
                throw client.failure(put, doing: "publishing the entry \(state.key)")
            }
        }
        await releaseLease(request.reservation, state, context: context)
        reservations.withLock { $0[request.reservation]?.outcome = outcome }
        return outcome
    }

    /// Delete the lease if it is still ours.
    func releaseLease(_ token: String, _ state: ReservationState, context: OperationContext) async {
        let name = layout.lease(state.key, state.version)
        guard let held = await ownLease(name, token: token, cleanup: true, context: context) else { return }
        _ = try? await conditional(.DELETE, name, etag: held.etag, cleanup: true, context: context)
    }
}

extension Data {
    var bytes: [UInt8] { [UInt8](self) }
}
