import Foundation
import NixActionsEngine
import NixActionsPluginHost
import NixActionsPluginMessages
import Synchronization
import Testing
import TestSupport

/// A cache backend under test: the plugin through the C ABI, and a way to damage what it stored.
final class BackendUnderTest: @unchecked Sendable {
    let name: String
    let temp: TemporaryDirectory
    let moto: MotoServer?
    let registry: PluginRegistry
    var options: [String: JSONValue]

    init(_ name: String, options extra: [String: JSONValue] = [:]) throws {
        self.name = name
        temp = try TemporaryDirectory()
        let folder = try temp.pluginFolder(["cache-local": "nixactions-plugin-cache-local", "cache-s3": "nixactions-plugin-cache-s3"])
        let (loaded, refused) = PluginLoader.discover(in: [folder])
        registry = PluginRegistry(loaded: loaded, refused: refused, searchPath: [folder])
        switch name {
        case "s3":
            for (key, value) in MotoServer.environment { setenv(key, value, 1) }
            let moto = try MotoServer()
            self.moto = moto
            options = ["bucket": .string(moto.bucket), "endpoint": .string(moto.endpoint), "prefix": .string("t/")]
        default:
            moto = nil
            options = ["directory": .string(temp.path + "/store")]
        }
        options.merge(extra) { _, new in new }
    }

    /// A fresh instance (as a second run would make), with the same store.
    func backend(_ extra: [String: JSONValue] = [:]) throws -> any CacheBackend {
        try registry.makeCacheBackend(
            name: name, configuration: CacheConfiguration(runID: "t", runDirectory: temp.path, options: options.merging(extra) { _, new in new }))
    }

    /// The stored data objects/files of entries (compressed archives).
    func dataNames() throws -> [String] {
        if let moto { return try moto.objectNames().filter { $0.hasSuffix(".tar.zst") } }
        let root = temp.path + "/store"
        let all = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
        return all.filter { $0.hasSuffix(".tar.zst") }.map { root + "/" + $0 }
    }

    func readData(_ name: String) throws -> Data {
        if let moto { return try moto.get(name) }
        return try Data(contentsOf: URL(fileURLWithPath: name))
    }

    func writeData(_ name: String, _ data: Data) throws {
        if let moto { return try moto.put(name, data) }
        try data.write(to: URL(fileURLWithPath: name))
    }

    func stop() {
        moto?.stop()
        temp.remove()
    }
}

/// Collects a restored archive and extracts it with tar.
final class ArchiveCollector: TreeSink {
    let state = Mutex<(bytes: [UInt8], closed: Int, complete: Bool, message: String)>(([], 0, false, ""))
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        state.withLock { $0.bytes += bytes }
        return true
    }
    func close(complete: Bool, message: String) {
        state.withLock {
            $0.closed += 1
            $0.complete = complete
            $0.message = message
        }
    }
    var bytes: [UInt8] { state.withLock { $0.bytes } }
    var complete: Bool { state.withLock { $0.closed == 1 && $0.complete } }
}

enum CacheTrees {
    /// A pax archive of `folder`'s contents, as an executor's files `get` makes it.
    static func archive(_ folder: String) throws -> [UInt8] {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let made = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/tar"),
                                  ["-c", "--format=pax", "-f", temp.path + "/a.tar", "-C", folder, "."])
        guard made.status == 0 else { throw TestComponentError("tar -c: \(made.stderr)") }
        return Array(try Data(contentsOf: URL(fileURLWithPath: temp.path + "/a.tar")))
    }

    static func extract(_ bytes: [UInt8], into folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = folder + ".tar"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let done = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/tar"), ["-x", "-f", file, "-C", folder])
        guard done.status == 0 else { throw TestComponentError("tar -x: \(done.stderr)") }
    }

    static func producer(_ bytes: [UInt8], chunk: Int = 256 * 1024) -> @Sendable (any TreeWriter) throws -> Void {
        { writer in
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + chunk)
                try bytes[offset..<end].withUnsafeBytes { try writer.write($0) }
                offset = end
            }
        }
    }

    /// Random bytes that do not compress.
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }
}

/// Reserve, save and commit one entry; returns the commit's answer.
@discardableResult
func saveEntry(_ backend: any CacheBackend, key: String, version: String = "v1", archive: [UInt8]) async throws -> CacheCommitted {
    let reservation = try await backend.reserve(CacheReserve(key: key, version: version))
    guard reservation.reserved, let token = reservation.reservation else {
        return CacheCommitted(committed: false, reason: reservation.reason)
    }
    do {
        _ = try await backend.save(CacheSave(key: key, version: version, reservation: token), produce: CacheTrees.producer(archive))
    } catch {
        _ = try await backend.commit(CacheCommit(key: key, version: version, reservation: token, discard: true))
        throw error
    }
    return try await backend.commit(CacheCommit(key: key, version: version, reservation: token, discard: false))
}

func restoreEntry(_ backend: any CacheBackend, key: String, version: String = "v1") async throws -> ArchiveCollector {
    let sink = ArchiveCollector()
    _ = try await backend.restore(CacheRestore(key: key, version: version), into: sink)
    return sink
}

/// The contract of nixactions/cache.h, run against every shipped backend: `local` (a folder) and
/// `s3` (a real moto server on 127.0.0.1).
@Suite("Cache backends: local and s3 against one contract", .serialized)
struct CacheBackendSuiteTests {
    static let backends = ["local", "s3"]

    @Test("a tree round-trips: modes, symbolic links, empty folders, mtimes; 8 MiB of noise streams through", arguments: backends)
    func roundTrip(_ name: String) async throws {
        let under = try await offThePool { try BackendUnderTest(name) }
        defer { under.stop() }
        let source = under.temp.path + "/src"
        let manager = FileManager.default
        try manager.createDirectory(atPath: source + "/bin", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: source + "/empty/inner", withIntermediateDirectories: true)
        try "#!/bin/sh\necho hi\n".write(toFile: source + "/bin/tool", atomically: false, encoding: .utf8)
        try manager.setAttributes([.posixPermissions: 0o750], ofItemAtPath: source + "/bin/tool")
        try "secret-ish\n".write(toFile: source + "/private", atomically: false, encoding: .utf8)
        try manager.setAttributes([.posixPermissions: 0o600, .modificationDate: Date(timeIntervalSince1970: 1_600_000_000)],
                                  ofItemAtPath: source + "/private")
        try manager.createSymbolicLink(atPath: source + "/link", withDestinationPath: "bin/tool")
        try manager.createSymbolicLink(atPath: source + "/dangling", withDestinationPath: "/nonexistent/elsewhere")
        try Data(CacheTrees.noise(8 << 20, seed: 7)).write(to: URL(fileURLWithPath: source + "/blob"))
        let archive = try CacheTrees.archive(source)

        let backend = try under.backend()
        #expect(try await backend.lookup(CacheLookup(key: "k-1", version: "v1")) == .miss)
        let committed = try await saveEntry(backend, key: "k-1", archive: archive)
        #expect(committed.committed)

        let second = try under.backend()
        let found = try await second.lookup(CacheLookup(key: "k-1", version: "v1"))
        #expect(found.matchedKey == "k-1" && found.exact)
        let restored = try await restoreEntry(second, key: "k-1")
        #expect(restored.complete)
        #expect(restored.bytes == archive, "the archive comes back byte for byte")
        let target = under.temp.path + "/out"
        try CacheTrees.extract(restored.bytes, into: target)
        #expect(try manager.attributesOfItem(atPath: target + "/bin/tool")[.posixPermissions] as? Int == 0o750)
        #expect(try manager.attributesOfItem(atPath: target + "/private")[.posixPermissions] as? Int == 0o600)
        let mtime = try manager.attributesOfItem(atPath: target + "/private")[.modificationDate] as? Date
        #expect(mtime?.timeIntervalSince1970 == 1_600_000_000)
        #expect(try manager.destinationOfSymbolicLink(atPath: target + "/link") == "bin/tool")
        #expect(try manager.destinationOfSymbolicLink(atPath: target + "/dangling") == "/nonexistent/elsewhere")
        var isFolder: ObjCBool = false
        #expect(manager.fileExists(atPath: target + "/empty/inner", isDirectory: &isFolder) && isFolder.boolValue)

        let listing = try await second.list(CacheList())
        #expect(listing.entries.map(\.key) == ["k-1"])
        #expect((listing.entries.first?.sizeBytes ?? 0) > 8 << 20, "noise does not compress")
    }

    @Test("keys are immutable: a second save of a key is refused ('exists') and the first content stays", arguments: backends)
    func immutable(_ name: String) async throws {
        let under = try await offThePool { try BackendUnderTest(name) }
        defer { under.stop() }
        let first = [UInt8](try CacheTrees.archive(try folder(under, "a", contents: "first")))
        let second = [UInt8](try CacheTrees.archive(try folder(under, "b", contents: "second")))
        let backend = try under.backend()
        #expect(try await saveEntry(backend, key: "deps-x", archive: first).committed)
        let again = try await under.backend().reserve(CacheReserve(key: "deps-x", version: "v1"))
        #expect(!again.reserved && again.reason == "exists")

        // Two savers that both reserved before either committed (two runs at once): one wins.
        let one = try under.backend(), two = try under.backend()
        let r1 = try await one.reserve(CacheReserve(key: "race", version: "v1"))
        let r2 = try await two.reserve(CacheReserve(key: "race", version: "v1"))
        #expect(r1.reserved)
        if r2.reserved, let t1 = r1.reservation, let t2 = r2.reservation {
            // A backend without a lease: both stage, the first commit publishes, the second finds it there.
            _ = try await one.save(CacheSave(key: "race", version: "v1", reservation: t1), produce: CacheTrees.producer(first))
            _ = try await two.save(CacheSave(key: "race", version: "v1", reservation: t2), produce: CacheTrees.producer(second))
            #expect(try await one.commit(CacheCommit(key: "race", version: "v1", reservation: t1, discard: false)).committed)
            let lost = try await two.commit(CacheCommit(key: "race", version: "v1", reservation: t2, discard: false))
            #expect(!lost.committed && lost.reason == "exists")
        } else {
            #expect(r2.reason == "busy", "a held lease makes a second saver wait its turn")
            let t1 = try #require(r1.reservation)
            _ = try await one.save(CacheSave(key: "race", version: "v1", reservation: t1), produce: CacheTrees.producer(first))
            #expect(try await one.commit(CacheCommit(key: "race", version: "v1", reservation: t1, discard: false)).committed)
        }
        #expect(try await restoreEntry(under.backend(), key: "race").bytes == first)
        #expect(try await restoreEntry(under.backend(), key: "deps-x").bytes == first)
        // A discarded reservation leaves nothing behind and frees the key.
        let r3 = try await one.reserve(CacheReserve(key: "dropped", version: "v1"))
        let t3 = try #require(r3.reservation)
        _ = try await one.save(CacheSave(key: "dropped", version: "v1", reservation: t3), produce: CacheTrees.producer(second))
        let dropped = try await one.commit(CacheCommit(key: "dropped", version: "v1", reservation: t3, discard: true))
        #expect(!dropped.committed)
        #expect(try await under.backend().lookup(CacheLookup(key: "dropped", version: "v1")) == .miss)
        #expect(try await under.backend().reserve(CacheReserve(key: "dropped", version: "v1")).reserved)
    }

    @Test("lookup order: the exact key, then each restore key (equal, else the newest with that prefix); another version never matches",
          arguments: backends)
    func lookupOrder(_ name: String) async throws {
        let under = try await offThePool { try BackendUnderTest(name) }
        defer { under.stop() }
        let backend = try under.backend()
        let tree = try CacheTrees.archive(try folder(under, "t", contents: "x"))
        for key in ["deps-linux-aaa", "deps-linux-bbb", "deps-mac-ccc", "deps-"] {
            #expect(try await saveEntry(backend, key: key, archive: tree).committed)
            try await Task.sleep(for: .milliseconds(1100))  // creation times one second apart (S3's resolution)
        }
        #expect(try await saveEntry(backend, key: "deps-linux-zzz", version: "v2", archive: tree).committed)
        func match(_ key: String, _ restoreKeys: [String], version: String = "v1") async throws -> String? {
            try await under.backend().lookup(CacheLookup(key: key, restoreKeys: restoreKeys, version: version)).matchedKey
        }
        #expect(try await match("deps-linux-aaa", ["deps-"]) == "deps-linux-aaa")
        #expect(try await match("deps-linux-new", ["deps-linux-"]) == "deps-linux-bbb", "the newest with the prefix")
        #expect(try await match("deps-linux-new", ["nothing-", "deps-mac-", "deps-linux-"]) == "deps-mac-ccc", "restore keys in order")
        #expect(try await match("deps-linux-new", ["deps-"]) == "deps-", "a key equal to the restore key wins over newer prefixed ones")
        #expect(try await match("other", ["zzz-"]) == nil)
        #expect(try await match("deps-linux-aaa", [], version: "v2") == nil, "another version never matches")
        #expect(try await match("x", ["deps-linux-"], version: "v2") == "deps-linux-zzz")
        let found = try await under.backend().lookup(CacheLookup(key: "deps-linux-new", restoreKeys: ["deps-linux-"], version: "v1"))
        #expect(!found.exact)
    }

    @Test("a corrupt or truncated entry fails its restore (the stream is aborted, never complete): a miss for the job",
          arguments: backends)
    func corrupt(_ name: String) async throws {
        let under = try await offThePool { try BackendUnderTest(name) }
        defer { under.stop() }
        let source = try folder(under, "c", contents: "important")
        try Data(CacheTrees.noise(1 << 20, seed: 3)).write(to: URL(fileURLWithPath: source + "/blob"))
        let tree = try CacheTrees.archive(source)
        let backend = try under.backend()
        var damaged: Set<String> = []
        for (key, damage) in [("flipped", "flip"), ("cut", "truncate")] {
            #expect(try await saveEntry(backend, key: key, archive: tree).committed)
            let stored = try under.dataNames()
            let newest = try #require(stored.first { !damaged.contains($0) })
            var data = try under.readData(newest)
            if damage == "flip" { data[data.count / 2] ^= 0x5a } else { data = data.prefix(data.count * 2 / 3) }
            try under.writeData(newest, data)
            damaged.insert(newest)
            let sink = ArchiveCollector()
            await #expect(throws: (any Error).self, "\(damage)") {
                _ = try await under.backend().restore(CacheRestore(key: key, version: "v1"), into: sink)
            }
            #expect(!sink.complete, "\(damage): the consumer is told the archive is incomplete")
        }
    }

    @Test("an entry whose zstd is sound but whose archive is malformed fails its restore and is removed, so the next save stores it again (audit 48 L2)",
          arguments: backends)
    func damagedArchive(_ name: String) async throws {
        let under = try await offThePool { try BackendUnderTest(name) }
        defer { under.stop() }
        let archive = try CacheTrees.archive(try folder(under, "d", contents: "important"))
        let backend = try under.backend()
        #expect(try await saveEntry(backend, key: "d", archive: archive).committed)
        // The same archive with one bit of its first header's mode changed, compressed again:
        // same length, sound zstd, a header checksum that no longer matches.
        var damaged = archive
        damaged[100] ^= 0x01
        let plain = under.temp.path + "/damaged.tar"
        try Data(damaged).write(to: URL(fileURLWithPath: plain))
        let packed = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/zstd"), ["-q", "-f", "--check", plain, "-o", plain + ".zst"])
        #expect(packed.status == 0, "\(packed.stderr)")
        let data = try #require(try under.dataNames().first)
        let packedData = try Data(contentsOf: URL(fileURLWithPath: plain + ".zst"))
        try under.writeData(data, packedData)
        if under.moto == nil {
            // The local record states the stored size (a mismatch is corruption of its own): keep it true.
            let record = data.replacingOccurrences(of: ".tar.zst", with: "").components(separatedBy: "-").dropLast().joined(separator: "-") + ".json"
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: record))) as? [String: Any] ?? [:]
            json["sizeBytes"] = packedData.count
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: record))
        }

        let sink = ArchiveCollector()
        await #expect {
            _ = try await backend.restore(CacheRestore(key: "d", version: "v1"), into: sink)
        } throws: { "\($0)".contains("corrupt") && "\($0)".contains("the archive is malformed") && "\($0)".contains("removed") }
        #expect(!sink.complete)
        #expect(try await backend.lookup(CacheLookup(key: "d", version: "v1")) == .miss, "the entry went")
        #expect(try under.dataNames().isEmpty, "its data too")
        #expect(try await saveEntry(backend, key: "d", archive: archive).committed)
        #expect(try await restoreEntry(backend, key: "d").bytes == archive)
    }

    @Test("prune: the least recently used go first until the rest fits; clear by prefix", arguments: backends)
    func eviction(_ name: String) async throws {
        let under = try await offThePool { try BackendUnderTest(name) }
        defer { under.stop() }
        let backend = try under.backend()
        var sizes: [String: Int] = [:]
        for (index, key) in ["e-1", "e-2", "e-3", "e-4"].enumerated() {
            let source = try folder(under, key, contents: key)
            try Data(CacheTrees.noise(300_000, seed: UInt64(index + 10))).write(to: URL(fileURLWithPath: source + "/blob"))
            #expect(try await saveEntry(backend, key: key, archive: try CacheTrees.archive(source)).committed)
            try await Task.sleep(for: .milliseconds(1100))
        }
        for entry in try await backend.list(CacheList()).entries { sizes[entry.key] = entry.sizeBytes }
        #expect(sizes.count == 4)
        // Use e-1 (the oldest) so that e-2 is now the least recently used.
        _ = try await restoreEntry(backend, key: "e-1")
        let limit = sizes.values.reduce(0, +) - 1
        let pruned = try await backend.prune(CachePrune(maxSizeBytes: limit))
        #expect(pruned.removedEntries == 1)
        let left = try await backend.list(CacheList()).entries
        let total = left.reduce(0) { $0 + $1.sizeBytes }
        #expect(total <= limit)
        #expect(Set(left.map(\.key)) == ["e-1", "e-3", "e-4"], "e-2 was the least recently used")
        let cleared = try await backend.prune(CachePrune(keyPrefix: "e-", all: true))
        #expect(cleared.removedEntries == 3)
        #expect(try await backend.list(CacheList()).entries.isEmpty)
        #expect(try under.dataNames().isEmpty, "no data left behind")
    }

    @Test("an archive that would write outside its root is refused at save; nothing is published", arguments: backends)
    func escaping(_ name: String) async throws {
        let under = try await offThePool { try BackendUnderTest(name) }
        defer { under.stop() }
        let backend = try under.backend()
        for hostile in ["../outside.txt", "/etc/evil"] {
            var tar = TarBuilder()
            tar.add("fine.txt", .file("ok"))
            tar.add(hostile, .file("x"))
            tar.end()
            await #expect(throws: (any Error).self, "\(hostile)") {
                try await saveEntry(backend, key: "evil", archive: tar.bytes)
            }
            #expect(try await backend.lookup(CacheLookup(key: "evil", version: "v1")) == .miss)
        }
    }

    // MARK: helpers

    func folder(_ under: BackendUnderTest, _ name: String, contents: String) throws -> String {
        let path = under.temp.path + "/trees/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try contents.write(toFile: path + "/file.txt", atomically: false, encoding: .utf8)
        return path
    }
}
