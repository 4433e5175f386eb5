import Foundation
import NixActionsEngine
import NixActionsPluginHost
import NixActionsPluginMessages
import Testing
import TestSupport

/// What only the `local` backend promises beyond the shared contract (CacheBackendSuiteTests):
/// its options, its folder's modes and checks, eviction at commit time, the sweep of abandoned
/// files, and the record's mtime as the last use.
@Suite("Cache backend local: options, folder checks, eviction at commit, sweeping, last use", .serialized)
struct LocalCacheBackendTests {
    func refusal(_ under: BackendUnderTest, _ options: [String: JSONValue]) -> String {
        do {
            _ = try under.backend(options)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test("options: unknown names, bad sizes, durations, levels and relative folders are refused by name")
    func options() throws {
        let under = try BackendUnderTest("local")
        defer { under.stop() }
        #expect(refusal(under, ["colour": .string("red")]).contains("no option 'colour'"))
        #expect(refusal(under, ["colour": .string("red")]).contains("max-size"), "the refusal lists the options there are")
        #expect(refusal(under, ["max-size": .string("10Q")]).contains("'max-size': '10Q' is not a size"))
        #expect(refusal(under, ["max-size": .number(0)]).contains("max-size"))
        #expect(refusal(under, ["max-age": .string("7x")]).contains("'max-age': '7x' is not a duration"))
        #expect(refusal(under, ["compression-level": .number(25)]).contains("compression-level"))
        #expect(refusal(under, ["compression-threads": .number(-1)]).contains("compression-threads"))
        #expect(refusal(under, ["directory": .string("relative/cache")]).contains("not an absolute path"))
        for (option, value) in [("max-size", "500M"), ("max-age", "7d"), ("compression-level", "19"), ("compression-threads", "2")] {
            #expect(refusal(under, [option: .string(value)]).isEmpty, "\(option): \(value)")
        }
    }

    @Test("the folder: made 0700 with entries 0600; refused when group-writable, another user's, or a linked subfolder")
    func folder() async throws {
        let under = try await offThePool { try BackendUnderTest("local") }
        defer { under.stop() }
        let store = under.temp.path + "/store"
        let backend = try under.backend()
        #expect(try await saveEntry(backend, key: "k", archive: try CacheTrees.archive(try tree(under, "k"))).committed)
        let manager = FileManager.default
        #expect(try manager.attributesOfItem(atPath: store)[.posixPermissions] as? Int == 0o700)
        let files = try manager.contentsOfDirectory(atPath: store + "/entries")
        #expect(files.filter { $0.hasSuffix(".json") }.count == 1 && files.filter { $0.hasSuffix(".tar.zst") }.count == 1)
        for file in files {
            #expect(try manager.attributesOfItem(atPath: store + "/entries/" + file)[.posixPermissions] as? Int == 0o600, "\(file)")
        }

        let open = under.temp.path + "/open"
        try manager.createDirectory(atPath: open, withIntermediateDirectories: true)
        chmod(open, 0o777)
        let openRefusal = refusal(under, ["directory": .string(open)])
        #expect(openRefusal.contains("writable by its group or by others"))
        // The hint once, as the hint (it used to be repeated in the message too).
        #expect(openRefusal.components(separatedBy: "chmod go-w").count == 2, "\(openRefusal)")
        #expect(openRefusal.contains("\n  hint: run: chmod go-w \(open)"), "\(openRefusal)")
        if geteuid() == 0 {
            let foreign = under.temp.path + "/foreign"
            try manager.createDirectory(atPath: foreign, withIntermediateDirectories: true)
            chown(foreign, 65534, 65534)
            #expect(refusal(under, ["directory": .string(foreign)]).contains("belongs to another user"))
        }
        let linked = under.temp.path + "/linked"
        try manager.createDirectory(atPath: linked, withIntermediateDirectories: true)
        try manager.createSymbolicLink(atPath: linked + "/entries", withDestinationPath: store + "/entries")
        #expect(refusal(under, ["directory": .string(linked)]).contains("is not a folder (a symbolic link?)"))
    }

    @Test("max-size and max-age evict at commit time; an entry's mtime is its last use")
    func evictionAtCommit() async throws {
        let under = try await offThePool { try BackendUnderTest("local") }
        defer { under.stop() }
        // An age well above what a save takes on a loaded machine (the new entry must not count as old).
        let aged = try under.backend(["max-age": .string("4s")])
        #expect(try await saveEntry(aged, key: "old", archive: try CacheTrees.archive(try tree(under, "old"))).committed)
        try await Task.sleep(for: .milliseconds(4500))
        #expect(try await saveEntry(aged, key: "new", archive: try CacheTrees.archive(try tree(under, "new"))).committed)
        #expect(try await aged.list(CacheList()).entries.map(\.key) == ["new"])

        _ = try await aged.prune(CachePrune(all: true))
        var archives: [[UInt8]] = []
        for index in 0..<3 {
            let source = try tree(under, "n\(index)")
            try Data(CacheTrees.noise(200_000, seed: UInt64(index + 1))).write(to: URL(fileURLWithPath: source + "/blob"))
            archives.append(try CacheTrees.archive(source))
        }
        // Room for two entries of about 200 kB: the third commit evicts the least recently used.
        let sized = try under.backend(["max-size": .string("450K")])
        #expect(try await saveEntry(sized, key: "n0", archive: archives[0]).committed)
        #expect(try await saveEntry(sized, key: "n1", archive: archives[1]).committed)
        try await Task.sleep(for: .milliseconds(50))
        _ = try await restoreEntry(sized, key: "n0")  // n1 is now the least recently used
        #expect(try await saveEntry(sized, key: "n2", archive: archives[2]).committed)
        #expect(Set(try await sized.list(CacheList()).entries.map(\.key)) == ["n0", "n2"])
    }

    @Test("a restore marks the entry used (lastUsedAt from the record's mtime); a vanished data file fails the restore and its record goes")
    func lastUse() async throws {
        let under = try await offThePool { try BackendUnderTest("local") }
        defer { under.stop() }
        let backend = try under.backend()
        #expect(try await saveEntry(backend, key: "u", archive: try CacheTrees.archive(try tree(under, "u"))).committed)
        let before = try #require(try await backend.list(CacheList()).entries.first)
        #expect(before.lastUsedAt == before.createdAt)
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try await restoreEntry(backend, key: "u").complete)
        let after = try #require(try await backend.list(CacheList()).entries.first)
        #expect(after.createdAt == before.createdAt)
        #expect((after.lastUsedAt ?? "") > (before.lastUsedAt ?? ""), "\(after.lastUsedAt ?? "nil") after \(before.lastUsedAt ?? "nil")")

        for data in try under.dataNames() { try FileManager.default.removeItem(atPath: data) }
        let sink = ArchiveCollector()
        await #expect {
            _ = try await backend.restore(CacheRestore(key: "u", version: "v1"), into: sink)
        } throws: { "\($0)".contains("has lost its data") }
        #expect(!sink.complete)
        #expect(try await backend.lookup(CacheLookup(key: "u", version: "v1")).matchedKey == nil, "the record went with its data")
    }

    @Test("a corrupt entry is removed at its failed restore, so the next save stores it again")
    func corruptIsRemoved() async throws {
        let under = try await offThePool { try BackendUnderTest("local") }
        defer { under.stop() }
        let backend = try under.backend()
        let archive = try CacheTrees.archive(try tree(under, "c"))
        #expect(try await saveEntry(backend, key: "c", archive: archive).committed)
        let data = try #require(try under.dataNames().first)
        var bytes = try under.readData(data)
        bytes[bytes.count / 2] ^= 0x5a
        try under.writeData(data, bytes)
        await #expect {
            _ = try await restoreEntry(backend, key: "c")
        } throws: { "\($0)".contains("the entry c is corrupt") }
        #expect(try await backend.lookup(CacheLookup(key: "c", version: "v1")) == .miss)
        #expect(try under.dataNames().isEmpty)
        #expect(try await saveEntry(backend, key: "c", archive: archive).committed)
        #expect(try await restoreEntry(backend, key: "c").bytes == archive)
    }

    @Test("prune sweeps staging files, orphan data, unheld locks and non-records untouched for an hour; fresh ones stay")
    func sweep() async throws {
        let under = try await offThePool { try BackendUnderTest("local") }
        defer { under.stop() }
        let store = under.temp.path + "/store"
        let backend = try under.backend()
        #expect(try await saveEntry(backend, key: "kept", archive: try CacheTrees.archive(try tree(under, "kept"))).committed)
        let manager = FileManager.default
        let old = ["staging/old.tar.zst.part", "entries/orphan-0000000000000000.tar.zst", "locks/abandoned.lock",
                   "entries/" + String(repeating: "b", count: 64) + ".json"]
        try plant(in: store, old: old, fresh: ["staging/new.tar.zst.part", "entries/fresh-0000000000000000.tar.zst"])
        let pruned = try await backend.prune(CachePrune())
        #expect(pruned.removedEntries == 0)
        #expect(pruned.freedBytes == 2000, "the old staging file and the orphan")
        let left = Set(try manager.subpathsOfDirectory(atPath: store).filter { !["entries", "staging", "locks"].contains($0) })
        #expect(left.contains("staging/new.tar.zst.part") && left.contains("entries/fresh-0000000000000000.tar.zst"))
        for name in old { #expect(!left.contains(name), "\(name)") }
        #expect(try await restoreEntry(backend, key: "kept").complete, "the live entry stays")
    }

    @Test("a save sweeps too: what killed saves left (staging files, data without a record) an hour ago goes at the next commit")
    func sweepAtCommit() async throws {
        let under = try await offThePool { try BackendUnderTest("local") }
        defer { under.stop() }
        let store = under.temp.path + "/store"
        let backend = try under.backend()
        #expect(try await saveEntry(backend, key: "first", archive: try CacheTrees.archive(try tree(under, "first"))).committed)
        try plant(in: store, old: ["staging/killed.tar.zst.part", "entries/orphan-0000000000000000.tar.zst"],
                  fresh: ["staging/running.tar.zst.part", "entries/fresh-0000000000000000.tar.zst"])
        #expect(try await saveEntry(backend, key: "second", archive: try CacheTrees.archive(try tree(under, "second"))).committed)
        let left = Set(try FileManager.default.subpathsOfDirectory(atPath: store))
        #expect(!left.contains("staging/killed.tar.zst.part") && !left.contains("entries/orphan-0000000000000000.tar.zst"), "\(left)")
        #expect(left.contains("staging/running.tar.zst.part") && left.contains("entries/fresh-0000000000000000.tar.zst"), "\(left)")
        #expect(try await restoreEntry(backend, key: "first").complete)
        #expect(try await restoreEntry(backend, key: "second").complete)
    }

    /// Files of 1,000 bytes in the store: `old` last changed two hours ago, `fresh` now.
    func plant(in store: String, old: [String], fresh: [String]) throws {
        for (names, date) in [(old, Date(timeIntervalSinceNow: -7200)), (fresh, Date())] {
            for name in names {
                #expect(FileManager.default.createFile(atPath: store + "/" + name, contents: Data(repeating: 7, count: 1000)))
                try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: store + "/" + name)
            }
        }
    }

    func tree(_ under: BackendUnderTest, _ name: String) throws -> String {
        let path = under.temp.path + "/trees/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try name.write(toFile: path + "/file.txt", atomically: false, encoding: .utf8)
        return path
    }
}
