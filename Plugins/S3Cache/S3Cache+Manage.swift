import Foundation
import NIOHTTP1
import NixActionsCacheKit
import NixActionsPluginKit
import NixActionsPluginMessages

/// `list` and `prune` (the `nixactions cache` commands), and the listings they use.
extension S3Cache {
    struct ObjectInfo: Sendable {
        let name: String
        let size: Int
        /// Seconds since 1970.
        let lastModified: Double
    }

    /// Every object whose name starts with `prefix` (ListObjectsV2, page by page).
    func listObjects(_ prefix: String, context: OperationContext) async throws -> [ObjectInfo] {
        var objects: [ObjectInfo] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await client.send(.GET, nil, query: query, context: context)
            guard response.status == 200 else { throw client.failure(response, doing: "listing \(prefix)") }
            let text = response.text
            for contents in S3XML.all("Contents", in: text) {
                guard let name = S3XML.first("Key", in: contents) else { continue }
                objects.append(ObjectInfo(name: name, size: S3XML.first("Size", in: contents).flatMap { Int($0) } ?? 0,
                                          lastModified: S3XML.first("LastModified", in: contents).flatMap(S3Time.parse) ?? 0))
            }
            token = S3XML.first("IsTruncated", in: text) == "true" ? S3XML.first("NextContinuationToken", in: text) : nil
        } while token != nil
        return objects
    }

    /// Every entry's record, with the last restore from the `used/` markers. `complete` is false
    /// when a manifest could not be read (then nothing may be called an orphan).
    func allRecords(context: OperationContext) async throws -> (records: [CacheEntryRecord], complete: Bool) {
        let manifests = try await listObjects(layout.manifestsRoot, context: context)
        var used: [String: Double] = [:]
        for marker in try await listObjects(layout.usedRoot, context: context) {
            used[String(marker.name.dropFirst(layout.usedRoot.count))] = marker.lastModified
        }
        var records: [CacheEntryRecord] = []
        var complete = true
        // A few manifests at a time: each is one small GET.
        let lastUse = used
        let manifestsRoot = layout.manifestsRoot
        try await withThrowingTaskGroup(of: CacheEntryRecord?.self) { group in
            for (index, object) in manifests.enumerated() {
                if index >= 8, let result = try await group.next() {
                    if let record = result { if record.sizeBytes < 0 { complete = false } else { records.append(record) } }
                }
                let name = object.name
                group.addTask {
                    let response = try await self.client.send(.GET, name, context: context)
                    if response.status == 404 { return nil }
                    guard response.status == 200 else { throw self.client.failure(response, doing: "reading \(name)") }
                    guard var record = try? JSONDecoder().decode(CacheEntryRecord.self, from: Data(response.body)) else {
                        context.log(.warning, "the cache manifest \(name) is not readable; left alone")
                        return CacheEntryRecord(key: "", version: "", sizeBytes: -1, archiveBytes: 0, createdAt: 0, data: "")
                    }
                    if let last = lastUse[String(name.dropFirst(manifestsRoot.count))] {
                        record.lastUsedAt = max(record.lastUsedAt ?? 0, last)
                    }
                    return record
                }
            }
            while let result = try await group.next() {
                if let record = result { if record.sizeBytes < 0 { complete = false } else { records.append(record) } }
            }
        }
        return (records, complete)
    }

    func list(_ request: CacheList, context: OperationContext) async throws -> CacheListing {
        var records = try await allRecords(context: context).records
        if let prefix = request.keyPrefix { records = records.filter { $0.key.hasPrefix(prefix) } }
        records.sort { ($0.createdAt, $0.key) > ($1.createdAt, $1.key) }
        return CacheListing(entries: records.map(\.info))
    }

    /// Remove the victims (manifest first: that removes the entry atomically; then its data and
    /// marker), then sweep what saves left behind: expired leases, multipart uploads and data
    /// objects no manifest names, older than a day.
    func prune(_ request: CachePrune, context: OperationContext) async throws -> CachePruned {
        let now = CacheTime.now()
        let (records, complete) = try await allRecords(context: context)
        let victims = CacheLookupOrder.victims(request, in: records, now: now)
        var removed = 0
        var freed = 0
        for victim in victims {
            try Task.checkCancellation()
            let response = try await client.send(.DELETE, layout.manifest(victim.key, victim.version), context: context)
            guard response.status == 204 || response.status == 200 || response.status == 404 else {
                throw client.failure(response, doing: "removing the entry \(victim.key)")
            }
            _ = try? await client.send(.DELETE, layout.prefix + victim.data, context: context)
            _ = try? await client.send(.DELETE, layout.used(victim.key, victim.version), context: context)
            removed += 1
            freed += victim.sizeBytes
        }
        let dayAgo = now - 86400
        // Leases: the expired ones (an unreadable one after a day).
        for lease in try await listObjects(layout.reservationsRoot, context: context) {
            try Task.checkCancellation()
            let response = try await client.send(.GET, lease.name, context: context)
            guard response.status == 200 else { continue }
            // Judged as a take-over judges it, and removed only if no saver renewed it since.
            let held = HeldLease(response)
            guard held?.expired ?? (lease.lastModified < dayAgo) else { continue }
            _ = try? await conditional(.DELETE, lease.name, etag: held?.etag ?? response.headers.first(name: "etag"), context: context)
        }
        // Multipart uploads started more than a day ago were abandoned (a save lasts minutes).
        let uploads = try await client.send(.GET, nil, query: [("uploads", ""), ("prefix", layout.dataRoot)], context: context)
        if uploads.status == 200 {
            for upload in S3XML.all("Upload", in: uploads.text) {
                guard let name = S3XML.first("Key", in: upload), let id = S3XML.first("UploadId", in: upload),
                      let started = S3XML.first("Initiated", in: upload).flatMap(S3Time.parse), started < dayAgo
                else { continue }
                _ = try? await client.send(.DELETE, name, query: [("uploadId", id)], context: context)
            }
        }
        // Data objects no manifest names: a save whose commit never came, or a lost race.
        if complete {
            let named = Set(records.map { layout.prefix + $0.data })
            for object in try await listObjects(layout.dataRoot, context: context) where object.lastModified < dayAgo && !named.contains(object.name) {
                _ = try? await client.send(.DELETE, object.name, context: context)
            }
        }
        return CachePruned(removedEntries: removed, freedBytes: freed)
    }
}
