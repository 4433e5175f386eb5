import CNixActionsPlugin
import Foundation
import NixActionsCacheKit
import NixActionsPluginKit
import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

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
            description: "Cache entries in a folder of this machine (zstd, checksummed, least recently used evicted first)",
            cache: LocalCache.self),
        host: host, out: out, error: error)
}

/// `backend: local`: entries in a folder of this machine (`CacheDirectory` has the layout).
///
/// Two saves of one key, also from two processes, never corrupt it: `reserve` takes a
/// non-blocking flock (the second saver hears "busy"), and `commit` publishes with link(2),
/// which fails when the record exists (the loser hears "exists"). Every file operation runs on a
/// thread of its own (`Blocking.run`), never on Swift's cooperative pool.
final class LocalCache: CachePlugin {
    /// Published for `validate` (options.h): the set `LocalCacheOptions` checks.
    static var optionNames: Set<String>? { LocalCacheOptions.known }
    /// Published for `validate` (options.h `check`): the values `init` would refuse.
    static func checkOptions(_ options: [String: JSONValue]) throws { _ = try LocalCacheOptions(options) }
    let options: LocalCacheOptions
    let directory: CacheDirectory
    private let reservations = Mutex<[String: Reservation]>([:])
    /// Outcomes of commits done, so that a repeated commit reports the first one.
    private let finished = Mutex<[String: Result<CacheCommitted, any Error>]>([:])

    struct Reservation: Sendable {
        var hash: String
        var key: String
        var version: String
        var lock: Int32
        var staged: Staged?
    }

    struct Staged: Sendable {
        var name: String
        var archiveBytes: Int
        var storedBytes: Int
    }

    /// The run's folder for cleanup scripts, and the mark of this run's staging files' names.
    private let runDirectory: String
    private let runMark: String
    /// Whether `RUN/cleanup/` has this instance's script yet.
    private let scriptWritten = Atomic<Bool>(false)

    init(configuration: CacheConfiguration, host: HostServices) throws {
        // A failure's hint reaches the host on the error's last line (PluginExport.create).
        options = try LocalCacheOptions(configuration.options)
        directory = try CacheDirectory(path: options.directory)
        runDirectory = configuration.runDirectory
        runMark = "run" + String(configuration.runID.unicodeScalars.filter { $0.properties.isASCIIHexDigit || $0 == "-" })
    }

    /// Before the first save: `RUN/cleanup/cache-local-….sh`, which removes this run's staging
    /// files (named `HASH-MARK-RAND.tar.zst.part`). A host killed mid-save left hundreds of MB
    /// there for an hour (audit 56 F7); its supervisor runs the script, as it runs the oci
    /// executor's. At a normal end the host runs it too, and it finds nothing.
    func writeCleanupScript() {
        guard !scriptWritten.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let folder = runDirectory + "/cleanup"
        guard mkdir(folder, 0o700) == 0 || errno == EEXIST else { return }
        let staging = ShellWords.quote(directory.path + "/staging")
        let script = """
            # The local cache's staging files of run \(runMark), if it died mid-save.
            cd \(staging) 2>/dev/null || exit 0
            rm -f -- *\(ShellWords.quote("-" + runMark + "-"))*.tar.zst.part

            """
        _ = FastFiles.write(script, to: folder + "/cache-local-\(getpid())-\(ObjectIdentifier(self).hashValue & 0xffffff).sh")
    }

    /// The instance ends: drop what it staged and release its locks (the host commits every
    /// reservation first; this covers a host that could not).
    deinit {
        for reservation in reservations.withLock({ Array($0.values) }) {
            if let staged = reservation.staged { directory.removeStaging(staged.name) }
            directory.unlock(reservation.hash, reservation.lock)
        }
    }

    // MARK: Lookup and restore

    func lookup(_ request: CacheLookup, context: OperationContext) async throws -> CacheLookupResult {
        let directory = self.directory
        return try await blocking {
            // The exact key is one file; the prefixes need every record.
            if let exact = try? directory.record(CacheDirectory.hash(key: request.key, version: request.version)) {
                return CacheLookupOrder.result(exact, request: request)
            }
            guard request.restoreKeys.contains(where: { !$0.isEmpty }) else { return .miss }
            let records = try directory.records { context.log(.warning, "local cache: \($0)") }
            return CacheLookupOrder.result(CacheLookupOrder.match(request, in: records), request: request)
        }
    }

    func restore(_ request: CacheRestore, into stream: StreamWriter, context: OperationContext) async throws -> CacheRestored {
        let directory = self.directory
        let bytes = try await blocking {
            let hash = CacheDirectory.hash(key: request.key, version: request.version)
            let gone = OperationFailure(message: "entry \(request.key) no longer exists", hint: "it was evicted or removed since the lookup")
            guard let record = try directory.record(hash) else { throw gone }
            guard record.format == "tar+zstd" else {
                throw OperationFailure(message: "the entry \(request.key) is stored as '\(record.format)', which this version cannot read",
                                       hint: "a newer NixActions wrote it; update, or remove the entry (nixactions cache clear)")
            }
            guard let fd = try directory.openData(record) else {
                // Its data is gone (a cleaner, a partial backup): the record goes too, or it would
                // refuse every later save of the key ("exists") and fail every restore.
                if directory.remove(record) {
                    throw OperationFailure(message: "the entry \(request.key) has lost its data; it was removed", hint: "the next save stores it again")
                }
                // Changed since it was read (saved again, or removed by another run), or not removable.
                throw OperationFailure(message: "the entry \(request.key) has lost its data", hint: "it changed or could not be removed since; try again")
            }
            defer { close(fd) }
            do {
                let bytes = try Self.copy(fd, record: record, into: stream, context: context)
                if stream.stopStatus == NXA_STATUS_OK {
                    do { try directory.touch(hash) } catch { context.log(.warning, "local cache: \(CacheDirectory.message(error))") }
                }
                return bytes
            } catch let corrupt as Corrupt {
                // Record first: a later save can replace the entry.
                directory.remove(record)
                throw OperationFailure(message: "the entry \(request.key) is corrupt: \(corrupt.reason)",
                                       hint: "it was removed from \(directory.path); the next successful save stores it again")
            }
        }
        return CacheRestored(bytes: bytes)
    }

    /// Why an entry cannot be trusted (then it is removed).
    struct Corrupt: Error {
        var reason: String
    }

    /// Decompress the data file into the stream, 1 MiB at a time, and check it whole: zstd's
    /// frame checksums as it goes, a frame ending early, the tar archive inside (`TarGuard`) and
    /// the archive size the record states.
    /// Returns the archive bytes written; stops early (returning) when the consumer stops taking
    /// them (the kit reports its status).
    static func copy(_ fd: Int32, record: CacheEntryRecord, into stream: StreamWriter, context: OperationContext) throws -> Int {
        struct Stop: Error {}
        var info = stat()
        if fstat(fd, &info) == 0, Int(info.st_size) != record.sizeBytes {
            throw Corrupt(reason: "its data file has \(info.st_size) bytes, its record says \(record.sizeBytes)")
        }
        let decompressor = try ZstdDecompressor(checkArchive: true)
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            if context.isCancelled { throw CancellationError() }
            let count = read(fd, buffer, size)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw CacheDirectory.failure("cannot read the entry \(record.key) (\(record.data))") }
            if count == 0 { break }
            do {
                try decompressor.decompress(UnsafeRawBufferPointer(start: buffer, count: count)) { bytes in
                    if stream.write(bytes) != NXA_STATUS_OK { throw Stop() }
                }
            } catch is Stop {
                return decompressor.bytesOut
            } catch {
                throw Corrupt(reason: Self.reason(error))
            }
        }
        do { try decompressor.finish() } catch { throw Corrupt(reason: Self.reason(error)) }
        guard decompressor.bytesOut == record.archiveBytes else {
            throw Corrupt(reason: "it holds \(decompressor.bytesOut) archive bytes, its record says \(record.archiveBytes)")
        }
        return decompressor.bytesOut
    }

    /// The decompressor's words without their "the entry is (corrupt)" (the caller says that).
    static func reason(_ error: any Error) -> String {
        var message = Substring(CacheDirectory.message(error))
        if message.hasPrefix("the entry is corrupt (") && message.hasSuffix(")") {
            message = message.dropFirst("the entry is corrupt (".count).dropLast()
        } else if message.hasPrefix("the entry is ") {
            message = message.dropFirst("the entry is ".count)
        }
        return String(message)
    }

    // MARK: Reserve, save, commit

    func reserve(_ request: CacheReserve, context: OperationContext) async throws -> CacheReservation {
        let directory = self.directory
        let hash = CacheDirectory.hash(key: request.key, version: request.version)
        let taken: Int32? = try await blocking {
            if try Self.exists(hash, in: directory, context: context) { return nil }
            guard let lock = try directory.lock(hash) else { return -1 }
            // A save may have published between the check and the lock.
            if try Self.exists(hash, in: directory, context: context) {
                directory.unlock(hash, lock)
                return nil
            }
            return lock
        }
        guard let lock = taken else { return .refused("exists") }
        guard lock >= 0 else { return .refused("busy") }
        let token = "\(getpid())-\(CacheDirectory.random())"
        reservations.withLock { $0[token] = Reservation(hash: hash, key: request.key, version: request.version, lock: lock) }
        return .granted(token)
    }

    /// Whether the entry exists. A record that cannot be decoded was never published whole
    /// (records are linked complete): it is removed so the key can be saved again.
    static func exists(_ hash: String, in directory: CacheDirectory, context: OperationContext) throws -> Bool {
        do {
            return try directory.record(hash) != nil
        } catch let problem as NotARecord {
            context.log(.warning, "local cache: removing \(problem.message)")
            directory.removeRecordFile(hash)
            return false
        }
    }

    func save(_ request: CacheSave, from source: PutSource, context: OperationContext) async throws -> CacheSaved {
        guard let reservation = reservations.withLock({ $0[request.reservation] }),
            reservation.key == request.key, reservation.version == request.version
        else {
            throw OperationFailure(message: "no reservation \(request.reservation) for the key \(request.key) in this cache instance")
        }
        if let earlier = reservation.staged { directory.removeStaging(earlier.name) }
        let directory = self.directory
        let compressor = try ZstdCompressor(level: options.compressionLevel, workers: options.compressionThreads)
        writeCleanupScript()
        let stagingName = reservation.hash + "-" + runMark + "-" + CacheDirectory.random() + ".tar.zst.part"
        let (name, fd) = try await blocking { try directory.createStaging(stagingName) }
        let writer = StagingWriter(fd: fd, what: "staging/\(name)", path: directory.path, compressor: compressor)
        do {
            let outcome = try await source.consume { chunk in
                if context.isCancelled { throw CancellationError() }
                try writer.compress(chunk)
                return true
            }
            if let failure = outcome.failure { throw OperationFailure(message: "the archive did not arrive whole: \(failure)") }
            try await blocking { try writer.finish() }
        } catch {
            writer.close()
            directory.removeStaging(name)
            throw error
        }
        let staged = Staged(name: name, archiveBytes: writer.archiveBytes, storedBytes: writer.storedBytes)
        let kept = reservations.withLock { reservations -> Bool in
            guard reservations[request.reservation] != nil else { return false }
            reservations[request.reservation]?.staged = staged
            return true
        }
        if !kept { directory.removeStaging(name) }
        return CacheSaved(bytes: staged.archiveBytes, storedBytes: staged.storedBytes)
    }

    func commit(_ request: CacheCommit, context: OperationContext) async throws -> CacheCommitted {
        if let done = finished.withLock({ $0[request.reservation] }) { return try done.get() }
        guard let reservation = reservations.withLock({ $0.removeValue(forKey: request.reservation) }) else {
            return CacheCommitted(committed: false, reason: "expired")
        }
        let directory = self.directory
        let maxSize = options.maxSize
        let outcome: Result<CacheCommitted, any Error> = await Blocking.run {
            defer { directory.unlock(reservation.hash, reservation.lock) }
            if request.discard {
                if let staged = reservation.staged { directory.removeStaging(staged.name) }
                return .success(CacheCommitted(committed: false, reason: "discarded"))
            }
            guard let staged = reservation.staged else { return .success(CacheCommitted(committed: false, reason: "expired")) }
            // Larger than the whole cache may be: never published (publishing it first, then
            // evicting to fit, removed it and every other entry too, and the job was told "saved").
            if staged.storedBytes > maxSize {
                directory.removeStaging(staged.name)
                return .success(CacheCommitted(
                    committed: false, reason: "the entry (\(staged.storedBytes) bytes compressed) is larger than max-size (\(maxSize) bytes)"))
            }
            return Result { try Self.publish(reservation, staged, in: directory) }
        }
        finished.withLock { $0[request.reservation] = outcome }
        let committed = try outcome.get()
        if committed.committed {
            await evict(sparing: (request.key, request.version), context: context)
        }
        return committed
    }

    /// Move the data into place under a name of its own, then link its record create-if-absent.
    static func publish(_ reservation: Reservation, _ staged: Staged, in directory: CacheDirectory) throws -> CacheCommitted {
        let data = reservation.hash + "-" + CacheDirectory.random() + ".tar.zst"
        do {
            try directory.moveIntoEntries(staged: staged.name, as: data)
        } catch {
            directory.removeStaging(staged.name)
            throw error
        }
        let record = CacheEntryRecord(key: reservation.key, version: reservation.version, sizeBytes: staged.storedBytes,
                                      archiveBytes: staged.archiveBytes, createdAt: CacheTime.now(), data: "entries/" + data)
        let published: Bool
        do {
            published = try directory.publish(record, hash: reservation.hash)
        } catch {
            directory.removeData(data)
            throw error
        }
        if !published {
            directory.removeData(data)
            return CacheCommitted(committed: false, reason: "exists")
        }
        return CacheCommitted(committed: true)
    }

    /// After a commit: entries older than `max-age`, then the least recently used until the
    /// total fits `max-size`; and what saves that died left (staging files and data without a
    /// record, untouched for an hour), so a store that runs are killed into does not grow past
    /// `max-size` unseen until someone prunes it. A failure here is a warning; the commit stands.
    /// `sparing`: the entry just committed, never its own commit's victim by age (a commit slower
    /// than a short max-age would otherwise remove what it published).
    func evict(sparing: (key: String, version: String)? = nil, context: OperationContext) async {
        let request = CachePrune(maxSizeBytes: options.maxSize, olderThanSeconds: options.maxAge)
        do {
            let pruned = try await remove(request, quick: true, sparing: sparing, context: context)
            if pruned.removedEntries > 0 {
                context.log(.info, "local cache: evicted \(pruned.removedEntries) \(pruned.removedEntries == 1 ? "entry" : "entries") (\(pruned.freedBytes) bytes) to stay within max-size/max-age")
            }
        } catch {
            context.log(.warning, "local cache: eviction failed: \(CacheDirectory.message(error))")
        }
    }

    // MARK: List and prune

    func list(_ request: CacheList, context: OperationContext) async throws -> CacheListing {
        let directory = self.directory
        let records = try await blocking { try directory.records { context.log(.warning, "local cache: \($0)") } }
        let listed = records.filter { request.keyPrefix.map($0.key.hasPrefix) ?? true }
            .sorted { ($0.createdAt, $0.key) > ($1.createdAt, $1.key) }
        return CacheListing(entries: listed.map(\.info))
    }

    func prune(_ request: CachePrune, context: OperationContext) async throws -> CachePruned {
        try await remove(request, context: context)
    }

    /// Remove the entries `CacheLookupOrder.victims` picks, then abandoned staging files, orphan
    /// data and unheld locks older than an hour (`quick`, after a commit: not the files among the
    /// records that are not records, which takes reading every record again).
    func remove(_ request: CachePrune, quick: Bool = false, sparing: (key: String, version: String)? = nil,
                context: OperationContext) async throws -> CachePruned {
        let directory = self.directory
        let keep = Set(reservations.withLock { $0.values.compactMap { $0.staged?.name } })
        return try await blocking {
            let now = CacheTime.now()
            var unreadable = false
            let records = try directory.records {
                unreadable = true
                context.log(.warning, "local cache: \($0)")
            }
            var removed = 0, freed = 0
            let spared = { (record: CacheEntryRecord) in
                guard let sparing, record.key == sparing.key, record.version == sparing.version else { return false }
                // Spared from max-age only: an entry larger than max-size still goes (with a warning).
                return request.maxSizeBytes.map { record.sizeBytes <= $0 } ?? true
            }
            for victim in CacheLookupOrder.victims(request, in: records, now: now) where !spared(victim) && directory.remove(victim) {
                removed += 1
                freed += victim.sizeBytes
            }
            // Quick (after a commit): not when a record could not be read just now (its data would
            // look abandoned), and a failure is a warning, not the eviction's.
            if !(quick && unreadable) {
                do {
                    // Quick: the records read above (a data file removed with its entry since is
                    // gone anyway; one a save published since is younger than an hour).
                    let referenced = Set(try (quick ? records : directory.records { _ in }).map(\.data))
                    let swept = try directory.sweep(referenced: referenced, keep: keep, now: now, records: !quick)
                    if swept.files > 0 {
                        context.log(.info, "local cache: removed \(swept.files) abandoned files (\(swept.bytes) bytes)")
                    }
                    if !quick { freed += swept.bytes }  // after a commit, said on its own line above
                } catch where quick {
                    context.log(.warning, "local cache: cannot sweep abandoned files: \(CacheDirectory.message(error))")
                }
            }
            return CachePruned(removedEntries: removed, freedBytes: freed)
        }
    }
}

/// Compresses the archive into a staging file as it arrives (on the reading thread, or with
/// zstd's workers), then syncs it. Used by one thread at a time.
final class StagingWriter: @unchecked Sendable {
    private var fd: Int32
    private let what: String
    private let path: String
    private let compressor: ZstdCompressor

    init(fd: Int32, what: String, path: String, compressor: ZstdCompressor) {
        self.fd = fd
        self.what = what
        self.path = path
        self.compressor = compressor
    }

    var archiveBytes: Int { compressor.bytesIn }
    var storedBytes: Int { compressor.bytesOut }

    func compress(_ chunk: UnsafeRawBufferPointer) throws {
        try compressor.compress(chunk) { try CacheDirectory.writeAll(fd, $0, what: what, in: path) }
    }

    func finish() throws {
        try compressor.finish { try CacheDirectory.writeAll(fd, $0, what: what, in: path) }
        guard fsync(fd) == 0 else { throw CacheDirectory.failure("cannot sync \(path)/\(what)") }
        close()
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// Run file work on a thread of its own (`Blocking.run`) and pass its error on.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await Blocking.run { Result { try body() } }.get()
}
