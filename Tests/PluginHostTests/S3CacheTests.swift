import Foundation
import NixActionsEngine
import NixActionsPluginHost
import NixActionsPluginMessages
import Testing
import TestSupport

/// What only the s3 backend has: multipart uploads, S3's refusals, an unreachable endpoint,
/// object names for awkward keys (a real moto server on 127.0.0.1).
@Suite("Cache backend s3", .serialized)
struct S3CacheTests {
    /// The message of a backend failure.
    func failure(_ body: () async throws -> Void) async -> EngineError? {
        do {
            try await body()
            return nil
        } catch let failure as OperationFailure {
            return EngineError(failure.error.message, hint: failure.error.hint)
        } catch {
            return error as? EngineError ?? EngineError("\(error)")
        }
    }

    /// The archive of a folder holding one small file, made in `under`'s temporary folder.
    func oneFileArchive(_ under: BackendUnderTest) throws -> [UInt8] {
        let source = under.temp.path + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try "x".write(toFile: source + "/f", atomically: false, encoding: .utf8)
        return try CacheTrees.archive(source)
    }

    @Test("an entry larger than a part goes up in parts (part-size 5M) and comes back whole; no upload is left open")
    func multipart() async throws {
        let under = try await offThePool { try BackendUnderTest("s3", options: ["part-size": .string("5M")]) }
        defer { under.stop() }
        let source = under.temp.path + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data(CacheTrees.noise(12 << 20, seed: 11)).write(to: URL(fileURLWithPath: source + "/blob"))
        let archive = try CacheTrees.archive(source)
        #expect(try await saveEntry(try under.backend(), key: "big", archive: archive).committed)
        let restored = try await restoreEntry(try under.backend(), key: "big")
        #expect(restored.complete && restored.bytes == archive)
        #expect(try under.dataNames().count == 1)
        let moto = try #require(under.moto)
        let uploads = try await runCommand(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", "\(moto.endpoint)/\(moto.bucket)?uploads"])
        #expect(!uploads.stdout.contains("<UploadId>"), "every multipart upload was completed")
        // Each of the (at least three) parts carried its CRC32, signed, and the completion listed
        // them: the server refuses the upload otherwise (Tests/Fixtures/moto_checked.py).
        #expect(try moto.checkedBodies() >= 3)
    }

    @Test("a save renews its lease while it runs (a lease lasts minutes, so a saver killed outright does not hold its key for an hour: audit 60 L4)")
    func leaseRenewed() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        let moto = try #require(under.moto)
        let backend = try under.backend()
        let archive = try oneFileArchive(under)
        let started = Date().timeIntervalSince1970
        // A lease of 4 s, renewed every second; the save takes 3.5 s.
        let reservation = try await backend.reserve(CacheReserve(key: "slow", version: "v1", leaseSeconds: 4))
        let token = try #require(reservation.reservation)
        let slow: @Sendable (any TreeWriter) throws -> Void = { writer in
            usleep(3_500_000)
            try CacheTrees.producer(archive)(writer)
        }
        _ = try await backend.save(CacheSave(key: "slow", version: "v1", reservation: token), produce: slow)
        let lease = try #require(try moto.objectNames().first { $0.hasPrefix("t/reservations/") })
        let record = try #require(try JSONSerialization.jsonObject(with: moto.get(lease)) as? [String: Any])
        let expires = try #require(record["expiresAt"] as? Double)
        #expect(expires > started + 5.5, "not renewed: expires \(expires - started) s after the reservation")
        #expect(expires <= Date().timeIntervalSince1970 + 4.5)
        #expect(try await backend.commit(CacheCommit(key: "slow", version: "v1", reservation: token, discard: false)).committed)
        #expect(try !moto.objectNames().contains { $0.hasPrefix("t/reservations/") }, "the commit releases the lease")
    }

    /// The lease object of `key` (version v1) under the backend's prefix: learned from a probe's
    /// reservation, which is then released.
    func leaseName(_ key: String, _ backend: any CacheBackend, _ moto: MotoServer) async throws -> String {
        let probe = try #require(try await backend.reserve(CacheReserve(key: "probe", version: "v1")).reservation)
        let name = try #require(try moto.objectNames().first { $0.hasPrefix("t/reservations/") && $0.hasSuffix("/probe") })
        _ = try await backend.commit(CacheCommit(key: "probe", version: "v1", reservation: probe, discard: true))
        return String(name.dropLast("probe".count)) + key
    }

    func leaseJSON(_ token: String, expiresIn: Double, seconds: Double?) -> Data {
        let expires = Date().timeIntervalSince1970 + expiresIn
        return Data(("{\"token\":\"\(token)\",\"expiresAt\":\(expires)" + (seconds.map { ",\"seconds\":\($0)" } ?? "") + "}").utf8)
    }

    func leaseToken(_ name: String, _ moto: MotoServer) throws -> String? {
        (try JSONSerialization.jsonObject(with: moto.get(name)) as? [String: Any])?["token"] as? String
    }

    @Test("a lease taken over between a renewal's read and its write stays the other saver's (the renewal's PUT is If-Match), and the renewals stop (review 60 L5)")
    func renewalIsConditional() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        let moto = try #require(under.moto)
        let backend = try under.backend()
        let archive = try oneFileArchive(under)
        let name = try await leaseName("slow", backend, moto)
        let reservation = try await backend.reserve(CacheReserve(key: "slow", version: "v1", leaseSeconds: 4))
        let token = try #require(reservation.reservation)
        // The renewal's read (after 1 s) sees its own lease; another saver then writes its own.
        try moto.replaceAfterGet(name, with: leaseJSON("intruder", expiresIn: 3600, seconds: 3600))
        let slow: @Sendable (any TreeWriter) throws -> Void = { writer in
            usleep(2_500_000)
            try CacheTrees.producer(archive)(writer)
        }
        _ = try await backend.save(CacheSave(key: "slow", version: "v1", reservation: token), produce: slow)
        #expect(try leaseToken(name, moto) == "intruder", "the renewal overwrote the other saver's lease")
        // The commit's release leaves another saver's lease alone too.
        _ = try await backend.commit(CacheCommit(key: "slow", version: "v1", reservation: token, discard: false))
        #expect(try leaseToken(name, moto) == "intruder", "the commit removed the other saver's lease")
    }

    @Test("an expired lease renewed between the take-over's read and its delete stays (the DELETE is If-Match): the key is busy; a lease is judged expired by the store's clock, so a saver whose clock runs an hour ahead holds it no longer (review 60 L5)")
    func takeOverIsConditional() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        let moto = try #require(under.moto)
        let backend = try under.backend()
        // A lease that expired by its writer's clock (no length of its own: an older saver's) is
        // renewed by its saver just after this reserve read it.
        let dead = try await leaseName("dead", backend, moto)
        try moto.put(dead, leaseJSON("late", expiresIn: -60, seconds: nil))
        try moto.replaceAfterGet(dead, with: leaseJSON("renewed", expiresIn: 3600, seconds: 3600))
        let busy = try await backend.reserve(CacheReserve(key: "dead", version: "v1"))
        #expect(busy.reservation == nil, "the take-over removed a lease renewed since it was read")
        #expect(try leaseToken(dead, moto) == "renewed")

        // Written 3 s ago for 1 s, though its writer's clock says it lasts another hour: expired.
        let skewed = try await leaseName("skewed", backend, moto)
        try moto.put(skewed, leaseJSON("ahead", expiresIn: 3600, seconds: 1))
        let stale = try await leaseName("stale", backend, moto)
        try moto.put(stale, leaseJSON("ahead too", expiresIn: 3600, seconds: 1))
        try await Task.sleep(for: .milliseconds(2500))
        let taken = try await backend.reserve(CacheReserve(key: "skewed", version: "v1"))
        let token = try #require(taken.reservation, "a lease past its length by the store's clock was not taken over")
        #expect(try leaseToken(skewed, moto) != "ahead")
        _ = try await backend.commit(CacheCommit(key: "skewed", version: "v1", reservation: token, discard: true))
        // A lease within its length by the store's clock is not, whatever its writer's clock said.
        try moto.put(skewed, leaseJSON("behind", expiresIn: -3600, seconds: 600))
        #expect(try await backend.reserve(CacheReserve(key: "skewed", version: "v1")).reservation == nil)

        // `cache prune` sweeps leases by the same rule: the stale one goes, the two held stay.
        _ = try await backend.prune(CachePrune())
        let names = try moto.objectNames()
        #expect(!names.contains(stale), "\(names)")
        #expect(names.contains(skewed) && names.contains(dead), "\(names)")
    }

    @Test("bodies go up with a CRC32 the store checks: bytes that differ are refused (BadDigest) and sent again, an unsigned x-amz-* header is refused")
    func checksums() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        let moto = try #require(under.moto)
        // The server's checks can fail: a wrong CRC32 ("123456789" has CBF43926, y/Q5Jg== in base64).
        let body = Data("123456789".utf8)
        #expect(try moto.rawPut("right", body, headers: ["x-amz-checksum-crc32: y/Q5Jg=="]).status == "200")
        let wrong = try moto.rawPut("wrong", body, headers: ["x-amz-checksum-crc32: AAAAAA=="])
        #expect(wrong.status == "400" && wrong.body.contains("BadDigest"), "\(wrong)")
        let unsigned = try moto.rawPut("unsigned", body, headers: [
            "x-amz-checksum-crc32: y/Q5Jg==",
            "Authorization: AWS4-HMAC-SHA256 Credential=\(MotoServer.accessKey)/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
        ])
        #expect(unsigned.status == "403" && unsigned.body.contains("not signed"), "\(unsigned)")
        let before = try moto.checkedBodies()
        // A small entry goes up as one object with its CRC32, and comes back whole.
        let source = under.temp.path + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data(CacheTrees.noise(100_000, seed: 5)).write(to: URL(fileURLWithPath: source + "/blob"))
        let archive = try CacheTrees.archive(source)
        #expect(try await saveEntry(try under.backend(), key: "small", archive: archive).committed)
        #expect(try moto.checkedBodies() == before + 1)
        #expect(try await restoreEntry(try under.backend(), key: "small").bytes == archive)
        // A body refused as damaged on the way (400 BadDigest) is sent again; past the retries,
        // the save fails and says why.
        try moto.damageNextBodies(1)
        #expect(try await saveEntry(try under.backend(), key: "damaged once", archive: archive).committed)
        #expect(try moto.checkedBodies() == before + 2)
        #expect(try await restoreEntry(try under.backend(), key: "damaged once").bytes == archive)
        try moto.damageNextBodies(100)
        let refused = await failure { _ = try await saveEntry(try under.backend(["retries": .number(1)]), key: "damaged", archive: archive) }
        #expect(refused?.message.contains("400 BadDigest") == true, "\(refused?.message ?? "")")
        try moto.damageNextBodies(0)
        // `checksums: false` (for stores that refuse the headers): the body goes up without one.
        let plain = try under.backend(["checksums": .bool(false)])
        #expect(try await saveEntry(plain, key: "plain", archive: archive).committed)
        #expect(try moto.checkedBodies() == before + 2)
        #expect(try await restoreEntry(plain, key: "plain").bytes == archive)
    }

    @Test("data removed behind the cache's back (a bucket lifecycle rule): the restore fails, nothing half-restored, and the manifest goes so the key can be saved again")
    func vanishedData() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        let moto = try #require(under.moto)
        let source = under.temp.path + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try "x".write(toFile: source + "/f", atomically: false, encoding: .utf8)
        let backend = try under.backend()
        #expect(try await saveEntry(backend, key: "gone", archive: try CacheTrees.archive(source)).committed)
        for name in try under.dataNames() { try moto.delete(name) }
        #expect(try await backend.lookup(CacheLookup(key: "gone", version: "v1")).matchedKey == "gone", "the manifest is still there")
        let sink = ArchiveCollector()
        await #expect {
            _ = try await backend.restore(CacheRestore(key: "gone", version: "v1"), into: sink)
        } throws: { "\($0)".contains("has lost its data object") }
        #expect(!sink.complete)
        #expect(try await backend.lookup(CacheLookup(key: "gone", version: "v1")).matchedKey == nil, "the manifest went with its data")
        #expect(try await saveEntry(backend, key: "gone", archive: try CacheTrees.archive(source)).committed, "the key is saved again")
    }

    @Test("a damaged entry removed at restore takes its used/ marker with it: the entry saved again is not dated as used before it was made (audit 64 cache L3: prune then took it first)")
    func damagedEntryMarker() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        let moto = try #require(under.moto)
        let source = under.temp.path + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try String(repeating: "payload ", count: 4096).write(toFile: source + "/f", atomically: false, encoding: .utf8)
        let backend = try under.backend()
        #expect(try await saveEntry(backend, key: "dmg", archive: try CacheTrees.archive(source)).committed)
        let first = ArchiveCollector()
        _ = try await backend.restore(CacheRestore(key: "dmg", version: "v1"), into: first)
        #expect(first.complete)
        #expect(try moto.objectNames().contains { $0.contains("used/") }, "a restore marks the entry used")
        // The data object cut to its first half: truncated where it is stored.
        for name in try under.dataNames() {
            let data = try moto.get(name)
            try moto.put(name, data.prefix(data.count / 2))
        }
        let second = ArchiveCollector()
        await #expect {
            _ = try await backend.restore(CacheRestore(key: "dmg", version: "v1"), into: second)
        } throws: { "\($0)".contains("it was removed") }
        let left = try moto.objectNames()
        #expect(!left.contains { $0.contains("used/") }, "\(left)")
        #expect(try await backend.lookup(CacheLookup(key: "dmg", version: "v1")).matchedKey == nil)
    }

    @Test("keys with spaces, '+', '/', '%', '~', unicode and a version with '/' are stored, listed by prefix and restored")
    func awkwardKeys() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        let archive = try oneFileArchive(under)
        let backend = try under.backend()
        let keys = ["we ird+key/é~ü*%20(1)&=?#", "we ird+other ✓", "..", "a/../b"]
        for key in keys {
            #expect(try await saveEntry(backend, key: key, version: "v 1+/é", archive: archive).committed, "\(key)")
        }
        for key in keys {
            let found = try await backend.lookup(CacheLookup(key: key, version: "v 1+/é"))
            #expect(found.matchedKey == key && found.exact)
            #expect(try await restoreEntry(backend, key: key, version: "v 1+/é").bytes == archive)
        }
        let prefixed = try await backend.lookup(CacheLookup(key: "none", restoreKeys: ["we ird+"], version: "v 1+/é"))
        #expect(prefixed.matchedKey?.hasPrefix("we ird+") == true)
        #expect(Set(try await backend.list(CacheList(keyPrefix: "we ird+")).entries.map(\.key)) == [keys[0], keys[1]])
        // A key whose encoded object name exceeds S3's 1024 bytes is refused with a reason.
        let long = String(repeating: "é", count: 250)
        let refused = await failure { _ = try await backend.reserve(CacheReserve(key: long, version: "v1")) }
        #expect(refused?.message.contains("too long for S3") == true, "\(refused?.message ?? "")")
        #expect(try await backend.lookup(CacheLookup(key: long, restoreKeys: [long], version: "v1")) == .miss)
    }

    @Test("a restore key picks the newest entry also among entries committed in the same second (S3's LastModified has whole seconds; audit 48)")
    func newestWithinASecond() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        let archive = try oneFileArchive(under)
        let backend = try under.backend()
        // Saved in this order, quickly: the last one is the newest whatever its name sorts as.
        for key in ["r-q1", "r-q9", "r-q2", "r-q8", "r-q3"] {
            #expect(try await saveEntry(backend, key: key, archive: archive).committed, "\(key)")
        }
        let found = try await backend.lookup(CacheLookup(key: "r-none", restoreKeys: ["r-q"], version: "v1"))
        #expect(found.matchedKey == "r-q3" && !found.exact, "\(found)")
        // The listing still decides between seconds: a later save wins.
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try await saveEntry(backend, key: "r-q0", archive: archive).committed)
        #expect(try await backend.lookup(CacheLookup(key: "r-none", restoreKeys: ["r-q"], version: "v1")).matchedKey == "r-q0")
    }

    @Test("S3 refusing the credentials (403) fails the operation with a message about access and credentials, never a crash")
    func forbidden() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        let strict = try await offThePool { try MotoServer(enforceAuth: true) }
        defer { strict.stop() }
        let backend = try under.backend(["endpoint": .string(strict.endpoint)])
        let looked = await failure { _ = try await backend.lookup(CacheLookup(key: "k", restoreKeys: ["k"], version: "v1")) }
        let message = looked?.message ?? ""
        #expect(message.contains("S3 refused access (403") && message.contains("bucket \(under.moto!.bucket)"), "\(message)")
        #expect(looked?.hint?.contains("AWS_ACCESS_KEY_ID") == true)
        #expect(!message.contains(MotoServer.secretKey), "no credential in the message")
        let reserved = await failure { _ = try await backend.reserve(CacheReserve(key: "k", version: "v1")) }
        #expect(reserved?.message.contains("403") == true)
    }

    @Test("an endpoint nobody listens on: 'cannot reach the S3 endpoint … (connection refused)', then at once for later operations")
    func serverDown() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        var port: UInt16 = 0
        repeat { port = UInt16.random(in: 20000...60000) } while !isFreeLocalPort(port)
        let backend = try under.backend(["endpoint": .string("http://127.0.0.1:\(port)")])
        let first = await failure { _ = try await backend.lookup(CacheLookup(key: "k", version: "v1")) }
        #expect(first?.message == "cannot reach the S3 endpoint http://127.0.0.1:\(port) (connection refused)", "\(first?.message ?? "")")
        let started = Date()
        let second = await failure { _ = try await backend.reserve(CacheReserve(key: "k", version: "v1")) }
        #expect(second?.message == first?.message)
        #expect(Date().timeIntervalSince(started) < 1, "no new wait for a server known to be down")
    }

    @Test("options are checked at create, without contacting a server")
    func options() async throws {
        let under = try await offThePool { try BackendUnderTest("s3") }
        defer { under.stop() }
        for (options, expected) in [
            (["bogus": JSONValue.string("1")], "no option 'bogus'"),
            (["part-size": .string("1M")], "'part-size' must be between 5M and 5G"),
            (["endpoint": .string("http://10.1.2.3:9000")], "plain http"),
            (["compression-level": .number(42)], "compression-level"),
            (["checksums": .string("maybe")], "checksums"),
        ] {
            #expect(throws: (any Error).self) { _ = try under.backend(options) }
            do { _ = try under.backend(options) } catch { #expect("\(error)".contains(expected), "\(error)") }
        }
    }
}
