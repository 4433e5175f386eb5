import Crypto
import Foundation
import NixActionsCacheKit
import NixActionsPluginMessages
import NixActionsProcessKit

#if canImport(Glibc)
    import Glibc
#endif

/// The cache folder on disk, opened once per instance:
///
///     DIRECTORY/                          0700, the user's own, not group/world-writable
///       entries/HASH.json                 the record: the publish point (visible = exists, whole)
///       entries/HASH-RANDOM.tar.zst       the data the record names (zstd frames with checksums)
///       staging/…                         saves in progress and records about to be linked
///       locks/HASH.lock                   reserve's flock(2), held until commit
///
/// HASH is the SHA-256 of the version and the key, so a key of any length or character is one
/// safe file name. Every name is opened relative to a folder descriptor with O_NOFOLLOW, so a
/// symbolic link planted in the folder is never followed.
final class CacheDirectory: Sendable {
    let path: String
    private let entries: Int32
    private let staging: Int32
    private let locks: Int32

    /// Staging files and orphan data younger than this are left to the save that may own them.
    static let abandonedAfter: Double = 3600
    /// A record is a few hundred bytes; anything much larger is not one.
    static let maxRecordBytes = 64 << 10

    init(path: String) throws {
        self.path = path
        try Self.makeFolders(path)
        let root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw Self.failure("cannot open the cache folder \(path)") }
        defer { close(root) }
        try Self.checkOwned(root, path)
        var opened: [Int32] = []
        do {
            for name in ["entries", "staging", "locks"] { opened.append(try Self.subfolder(root, name, path)) }
        } catch {
            for fd in opened { close(fd) }
            throw error
        }
        (entries, staging, locks) = (opened[0], opened[1], opened[2])
    }

    deinit {
        close(entries)
        close(staging)
        close(locks)
    }

    // MARK: Names

    static func hash(key: String, version: String) -> String {
        let digest = SHA256.hash(data: Array("nixactions-cache-local/1\0\(version)\0\(key)".utf8))
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    static func random() -> String {
        let value = UInt64.random(in: .min ... .max)
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }

    /// The data file a record names, or nil when the name could leave the entries folder.
    static func dataName(_ record: CacheEntryRecord) -> String? {
        guard record.data.hasPrefix("entries/") else { return nil }
        let name = String(record.data.dropFirst("entries/".count))
        guard !name.contains("/"), name.hasSuffix(".tar.zst"), !name.hasPrefix(".") else { return nil }
        return name
    }

    // MARK: Records

    /// The record of `hash`, nil when there is none. Throws when it exists but cannot be read or
    /// is not a record of this name. `lastUsedAt` comes from the file's modification time.
    func record(_ hash: String) throws -> CacheEntryRecord? {
        try readRecord(named: hash + ".json")
    }

    func readRecord(named name: String) throws -> CacheEntryRecord? {
        let fd = openat(entries, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 && errno == ENOENT { return nil }
        if fd < 0 && errno == ELOOP { throw NotARecord(message: "\(place(name)) is a symbolic link, not a cache record") }
        guard fd >= 0 else { throw Self.failure("cannot open the record \(place(name))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Self.failure("cannot inspect the record \(place(name))") }
        guard info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) <= Self.maxRecordBytes else {
            throw NotARecord(message: "\(place(name)) is not a cache record (not a small regular file)")
        }
        // Entries are this user's, 0600: one another user made, or could still change, was not
        // put there by a save of this user's (audit 60 L2: restored as any other).
        if let whose = Self.notOwn(info) { throw NotARecord(message: "\(place(name)) \(whose); not used") }
        let bytes = try Self.readAll(fd, limit: Self.maxRecordBytes, what: place(name))
        var record: CacheEntryRecord
        do {
            record = try JSONDecoder().decode(CacheEntryRecord.self, from: Data(bytes))
        } catch {
            throw NotARecord(message: "\(place(name)) is not a valid cache record")
        }
        guard name == Self.hash(key: record.key, version: record.version) + ".json", Self.dataName(record) != nil else {
            throw NotARecord(message: "\(place(name)) does not belong under this name (copied or edited by hand?)")
        }
        record.lastUsedAt = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        return record
    }

    /// Every readable record; `warn` hears about the others, which are skipped.
    func records(warn: (String) -> Void) throws -> [CacheEntryRecord] {
        try names(entries, "entries").filter { $0.hasSuffix(".json") }.compactMap { name in
            do {
                return try readRecord(named: name)
            } catch {
                warn("skipping \(name): \(Self.message(error))")
                return nil
            }
        }
    }

    /// Link `record` into place unless one exists (create-if-absent, atomic): false when another
    /// save got there first. The record is written whole to a staging file and synced first, so
    /// a reader sees all of it or nothing.
    func publish(_ record: CacheEntryRecord, hash: String) throws -> Bool {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(record)
        let (temporary, fd) = try createStaging(hash + "-" + Self.random() + ".json.tmp")
        defer { unlinkat(staging, temporary, 0) }
        do {
            try json.withUnsafeBytes { try Self.writeAll(fd, $0, what: "staging/\(temporary)", in: path) }
            // Dated at its creation exactly: its mtime is the last use (none yet).
            let seconds = record.createdAt.rounded(.down)
            let created = timespec(tv_sec: Int(seconds), tv_nsec: Int((record.createdAt - seconds) * 1e9))
            _ = [created, created].withUnsafeBufferPointer { futimens(fd, $0.baseAddress) }
            guard fsync(fd) == 0 else { throw Self.failure("cannot sync \(path)/staging/\(temporary)") }
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        if linkat(staging, temporary, entries, hash + ".json", 0) != 0 {
            if errno == EEXIST { return false }
            throw Self.failure("cannot publish the record \(place(hash + ".json"))")
        }
        _ = fsync(entries)
        return true
    }

    /// Mark an entry used now (least-recently-used eviction reads the record's mtime).
    func touch(_ hash: String) throws {
        guard utimensat(entries, hash + ".json", nil, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw Self.failure("cannot mark \(place(hash + ".json")) used")
        }
    }

    /// Remove an entry, record first (from then on no lookup finds it), then its data (a restore
    /// that opened it already reads on). Nothing happens when the record at that name is no
    /// longer this entry. Returns whether this call removed it.
    @discardableResult
    func remove(_ record: CacheEntryRecord) -> Bool {
        let hash = Self.hash(key: record.key, version: record.version)
        guard let current = try? self.record(hash), current.data == record.data else { return false }
        guard unlinkat(entries, hash + ".json", 0) == 0 else { return false }
        if let data = Self.dataName(record) { unlinkat(entries, data, 0) }
        return true
    }

    /// Remove a record file that is not a whole record (see `LocalCache.exists`).
    func removeRecordFile(_ hash: String) { unlinkat(entries, hash + ".json", 0) }

    // MARK: Data

    /// Open the data of `record` for reading; nil when the file is gone.
    func openData(_ record: CacheEntryRecord) throws -> Int32? {
        guard let name = Self.dataName(record) else { throw OperationFailure(message: "the record of '\(record.key)' names no valid data file") }
        let fd = openat(entries, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 && errno == ENOENT { return nil }
        guard fd >= 0 else { throw Self.failure("cannot open \(place(name))") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw Self.failure("cannot inspect \(place(name))")
        }
        if info.st_mode & S_IFMT != S_IFREG || Self.notOwn(info) != nil {
            close(fd)
            throw OperationFailure(message: "the data of '\(record.key)', \(place(name)), \(Self.notOwn(info) ?? "is not a regular file"); not used",
                                   hint: "remove the entry: nixactions cache clear")
        }
        return fd
    }

    /// Why a file of the cache is not this user's own (another owner, or group or others may
    /// write it), or nil.
    static func notOwn(_ info: stat) -> String? { FileOwnership.problem(info) }

    /// A new file in the staging folder (O_EXCL, 0600) and its name.
    func createStaging(_ name: String) throws -> (String, Int32) {
        let fd = openat(staging, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Self.failure("cannot create \(path)/staging/\(name)", hint: "is the disk full or the folder read-only?")
        }
        return (name, fd)
    }

    func removeStaging(_ name: String) { unlinkat(staging, name, 0) }

    /// Move a staged data file into the entries folder (same file system: a rename), dated now
    /// so that a prune does not take it for an old orphan before its record is linked.
    func moveIntoEntries(staged: String, as name: String) throws {
        guard renameat(staging, staged, entries, name) == 0 else {
            throw Self.failure("cannot move \(path)/staging/\(staged) to \(place(name))")
        }
        _ = utimensat(entries, name, nil, AT_SYMLINK_NOFOLLOW)
    }

    func removeData(_ name: String) { unlinkat(entries, name, 0) }

    // MARK: Locks

    /// Take the save lock of `hash` (flock, exclusive, non-blocking): its descriptor, or nil
    /// when another save holds it. The kernel releases it if the process dies.
    func lock(_ hash: String) throws -> Int32? {
        let name = hash + ".lock"
        for _ in 0..<8 {
            let fd = openat(locks, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw Self.failure("cannot open the lock \(path)/locks/\(name)") }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                close(fd)
                if code == EWOULDBLOCK { return nil }
                throw Self.failure("cannot lock \(path)/locks/\(name)", code: code)
            }
            // An unlock removes the file while holding it: make sure this is still the file
            // under the name, else a second saver could lock a new file of the same name.
            var held = stat(), named = stat()
            if fstat(fd, &held) == 0, fstatat(locks, name, &named, AT_SYMLINK_NOFOLLOW) == 0,
                held.st_ino == named.st_ino, held.st_dev == named.st_dev {
                return fd
            }
            close(fd)
        }
        return nil
    }

    /// Release a lock taken by `lock`, removing its file first (while still holding it).
    func unlock(_ hash: String, _ fd: Int32) {
        unlinkat(locks, hash + ".lock", 0)
        close(fd)
    }

    // MARK: Sweeping

    /// Remove what crashed or abandoned saves left: staging files and unreferenced data files
    /// untouched for an hour, and lock files nobody holds. `keep`: staging names of this
    /// instance's live reservations; files among the records that are not records go too.
    /// Returns the files and bytes removed.
    func sweep(referenced: Set<String>, keep: Set<String>, now: Double, records: Bool = true) throws -> (files: Int, bytes: Int) {
        var files = 0, bytes = 0
        func old(_ folder: Int32, _ name: String) -> Int? {
            var info = stat()
            guard fstatat(folder, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
            let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
            return now - modified > Self.abandonedAfter ? Int(info.st_size) : nil
        }
        for name in try names(staging, "staging") where !keep.contains(name) {
            if let size = old(staging, name), unlinkat(staging, name, 0) == 0 { files += 1; bytes += size }
        }
        for name in try names(entries, "entries") where name.hasSuffix(".tar.zst") && !referenced.contains("entries/" + name) {
            if let size = old(entries, name), unlinkat(entries, name, 0) == 0 { files += 1; bytes += size }
        }
        // Records are linked whole, so one that is not a record never was one.
        for name in try names(entries, "entries") where records && name.hasSuffix(".json") {
            do { _ = try readRecord(named: name) } catch is NotARecord {
                var info = stat()
                guard fstatat(entries, name, &info, AT_SYMLINK_NOFOLLOW) == 0,
                    now - Double(info.st_mtim.tv_sec) > Self.abandonedAfter, unlinkat(entries, name, 0) == 0
                else { continue }
                files += 1
            } catch {}
        }
        for name in try names(locks, "locks") where name.hasSuffix(".lock") {
            guard old(locks, name) != nil, let fd = try? lock(String(name.dropLast(".lock".count))) else { continue }
            unlock(String(name.dropLast(".lock".count)), fd)
        }
        return (files, bytes)
    }

    // MARK: Helpers

    func place(_ name: String) -> String { "\(path)/entries/\(name)" }

    /// The names in a folder (a descriptor of its own, so that concurrent listings never share a
    /// read position).
    private func names(_ folder: Int32, _ what: String) throws -> [String] {
        let fd = openat(folder, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            throw Self.failure("cannot read the folder \(path)/\(what)")
        }
        defer { closedir(stream) }
        var result: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { result.append(name) }
        }
        return result
    }

    static func makeFolders(_ path: String) throws {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw failure("cannot create the cache folder \(prefix)", hint: "set the local backend's 'directory' to a folder you can write")
            }
        }
    }

    static func checkOwned(_ fd: Int32, _ path: String) throws {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("cannot inspect \(path)") }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw OperationFailure(message: "\(path) is not a folder", hint: "set the local backend's 'directory' to a folder")
        }
        guard info.st_uid == geteuid() else {
            throw OperationFailure(message: "the cache folder \(path) belongs to another user (uid \(info.st_uid))",
                                   hint: "use a folder of your own: another user could plant entries your jobs would restore")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw OperationFailure(message: "the cache folder \(path) is writable by its group or by others",
                                   hint: "run: chmod go-w \(path)   (others could plant entries your jobs would restore; "
                                       + "entries that are not yours, or that others may write, are not used)")
        }
    }

    static func subfolder(_ root: Int32, _ name: String, _ path: String) throws -> Int32 {
        if mkdirat(root, name, 0o700) != 0 && errno != EEXIST { throw failure("cannot create \(path)/\(name)") }
        let fd = openat(root, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP || code == ENOTDIR {
                throw OperationFailure(message: "\(path)/\(name) is not a folder (a symbolic link?)", hint: "remove it; the cache makes it anew")
            }
            throw failure("cannot open \(path)/\(name)", code: code)
        }
        do {
            try checkOwned(fd, "\(path)/\(name)")
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    static func readAll(_ fd: Int32, limit: Int, what: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while bytes.count <= limit {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw failure("cannot read \(what)") }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
        throw OperationFailure(message: "\(what) is larger than \(limit) bytes")
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, what: String, in path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let count = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw failure("cannot write \(path)/\(what)", hint: "is the disk full?") }
            offset += count
        }
    }

    static func failure(_ message: String, code: Int32 = errno, hint: String? = nil) -> OperationFailure {
        OperationFailure(message: "\(message): \(String(cString: strerror(code)))", hint: hint)
    }

    static func message(_ error: any Error) -> String {
        (error as? NotARecord)?.message ?? OperationFailure.describe(error)
    }
}

/// A file among the records that is not a whole record of its name (never published by a
/// save: records are linked complete).
struct NotARecord: Error {
    var message: String
}
