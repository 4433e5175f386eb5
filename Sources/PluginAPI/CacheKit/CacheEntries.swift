import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages

/// What a backend knows of one stored entry, in the form both shipped backends keep next to the
/// data (local: a `.json` file beside the `.tar.zst`; s3: a small manifest object).
public struct CacheEntryRecord: Codable, Sendable, Hashable {
    public var key: String
    public var version: String
    /// Compressed bytes stored.
    public var sizeBytes: Int
    /// Uncompressed archive bytes.
    public var archiveBytes: Int
    /// Seconds since 1970, UTC.
    public var createdAt: Double
    public var lastUsedAt: Double?
    /// Where the data is, relative to the backend's root (an object name or file name).
    public var data: String
    /// "tar+zstd": the only format so far.
    public var format: String

    public init(key: String, version: String, sizeBytes: Int, archiveBytes: Int, createdAt: Double,
                lastUsedAt: Double? = nil, data: String, format: String = "tar+zstd") {
        self.key = key
        self.version = version
        self.sizeBytes = sizeBytes
        self.archiveBytes = archiveBytes
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.data = data
        self.format = format
    }

    public var info: CacheEntryInfo {
        CacheEntryInfo(key: key, version: version, sizeBytes: sizeBytes, createdAt: CacheTime.format(createdAt),
                       lastUsedAt: lastUsedAt.map(CacheTime.format))
    }
}

/// The lookup order of nixactions/cache.h, shared by the backends: the exact key; then for each
/// restore key in order, an entry whose key equals it, else the newest entry (by creation) whose
/// key starts with it. Only entries of the request's version match.
public enum CacheLookupOrder {
    public static func match(_ request: CacheLookup, in records: [CacheEntryRecord]) -> CacheEntryRecord? {
        let candidates = records.filter { $0.version == request.version }
        if let exact = candidates.first(where: { $0.key == request.key }) { return exact }
        for prefix in request.restoreKeys where !prefix.isEmpty {
            if let equal = candidates.first(where: { $0.key == prefix }) { return equal }
            let newest = candidates.filter { $0.key.hasPrefix(prefix) }.max { a, b in
                a.createdAt != b.createdAt ? a.createdAt < b.createdAt : a.key < b.key
            }
            if let newest { return newest }
        }
        return nil
    }

    public static func result(_ record: CacheEntryRecord?, request: CacheLookup) -> CacheLookupResult {
        guard let record else { return .miss }
        return CacheLookupResult(matchedKey: record.key, exact: record.key == request.key, sizeBytes: record.sizeBytes,
                                 createdAt: CacheTime.format(record.createdAt))
    }

    /// Which entries a prune removes: everything under the prefix when `all`; else those older
    /// than the age, then the least recently used until the rest fits the size.
    public static func victims(_ request: CachePrune, in records: [CacheEntryRecord], now: Double) -> [CacheEntryRecord] {
        var pool = records
        if let prefix = request.keyPrefix { pool = pool.filter { $0.key.hasPrefix(prefix) } }
        if request.all == true { return pool }
        var removed: [CacheEntryRecord] = []
        if let age = request.olderThanSeconds {
            removed = pool.filter { now - $0.createdAt > Double(age) }
            pool.removeAll { now - $0.createdAt > Double(age) }
        }
        if let limit = request.maxSizeBytes {
            var total = pool.reduce(0) { $0 + $1.sizeBytes }
            let byUse = pool.sorted { ($0.lastUsedAt ?? $0.createdAt, $0.key) < ($1.lastUsedAt ?? $1.createdAt, $1.key) }
            for record in byUse where total > limit {
                removed.append(record)
                total -= record.sizeBytes
            }
        }
        return removed
    }
}

/// RFC 3339 times in UTC, as the messages carry them.
public enum CacheTime {
    public static func now() -> Double { Date().timeIntervalSince1970 }

    public static func format(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }
}

/// Backend options as the configuration carries them (strings, numbers, booleans).
public struct CacheOptions: Sendable {
    public let values: [String: JSONValue]
    public init(_ values: [String: JSONValue]) { self.values = values }

    public func string(_ name: String) -> String? {
        switch values[name] {
        case .string(let text): return text
        // `1e300` stays as written (the option's own check refuses it), never a trap (audit 61 input H2).
        case .number(let number): return PluginOptions.numberText(number)
        case .bool(let flag): return flag ? "true" : "false"
        default: return nil
        }
    }

    public func bool(_ name: String) throws -> Bool? {
        switch values[name] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        case .string(let text)? where ["true", "yes", "1"].contains(text.lowercased()): return true
        case .string(let text)? where ["false", "no", "0"].contains(text.lowercased()): return false
        default: throw OperationFailure(message: "option '\(name)' must be true or false")
        }
    }

    /// A size such as 10G, 500M, 1024 (bytes; K/M/G/T are powers of 1024).
    public func size(_ name: String) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let bytes = CacheSizes.parse(text) else {
            throw OperationFailure(message: "option '\(name)': '\(text)' is not a size", hint: "e.g. 10G, 500M, 1048576")
        }
        return bytes
    }

    /// Keys that are not in `known`, for an error that names them.
    public func unknown(_ known: Set<String>) -> [String] { values.keys.filter { !known.contains($0) }.sorted() }
}
