/// Messages of the cache interface, "nixactions.cache/1" (nixactions/cache.h, ABI 1.2): find,
/// stream out, reserve, stream in, publish, list and evict immutable entries under a key. An
/// entry crosses the boundary as an uncompressed pax tar stream (nixactions/stream.h); how it is
/// stored (zstd, checksums, multipart) is the backend's business. The same evolution rules as
/// the executor messages apply: fields are only ever added, and new ones are optional.

/// The interface id of the cache interface, version 1.
public let cacheInterfaceV1 = "nixactions.cache/1"

/// `create`: one backend instance per backend configuration per run (or per `nixactions cache`
/// command).
public struct CacheConfiguration: Codable, Sendable, Hashable {
    public var runID: String
    /// A private folder of the run (or of the command) for temporary files.
    public var runDirectory: String
    /// The backend's settings from `.nixactions/config.yml` or the cache entry (strings,
    /// numbers, booleans). Credentials never travel here: backends read them from the usual
    /// environment variables and files.
    public var options: [String: JSONValue]

    public init(runID: String, runDirectory: String, options: [String: JSONValue] = [:]) {
        self.runID = runID
        self.runDirectory = runDirectory
        self.options = options
    }
}

/// `lookup`: the exact key first, then each restore key in order (an entry whose key equals it,
/// else the newest entry whose key starts with it); only entries of the same `version` match.
public struct CacheLookup: Codable, Sendable, Hashable {
    public var key: String
    public var restoreKeys: [String]
    public var version: String

    public init(key: String, restoreKeys: [String] = [], version: String) {
        self.key = key
        self.restoreKeys = restoreKeys
        self.version = version
    }
}

/// `lookup`'s result: `matchedKey` nil is a miss (a result, not an error).
public struct CacheLookupResult: Codable, Sendable, Hashable {
    public var matchedKey: String?
    /// Whether `matchedKey` is the requested key itself.
    public var exact: Bool
    /// The stored (compressed) size, if known.
    public var sizeBytes: Int?
    /// RFC 3339, UTC.
    public var createdAt: String?

    public init(matchedKey: String?, exact: Bool = false, sizeBytes: Int? = nil, createdAt: String? = nil) {
        self.matchedKey = matchedKey
        self.exact = exact
        self.sizeBytes = sizeBytes
        self.createdAt = createdAt
    }

    public static let miss = CacheLookupResult(matchedKey: nil)
}

/// `restore`: stream the entry `key` of `version` out as an uncompressed tar archive.
public struct CacheRestore: Codable, Sendable, Hashable {
    public var key: String
    public var version: String

    public init(key: String, version: String) {
        self.key = key
        self.version = version
    }
}

/// `restore`'s result: the archive bytes written into the stream.
public struct CacheRestored: Codable, Sendable, Hashable {
    public var bytes: Int
    public init(bytes: Int) { self.bytes = bytes }
}

/// `reserve`: ask to save `key`; a lease that keeps a second saver from uploading the same key.
public struct CacheReserve: Codable, Sendable, Hashable {
    public var key: String
    public var version: String
    public var leaseSeconds: Int?

    public init(key: String, version: String, leaseSeconds: Int? = nil) {
        self.key = key
        self.version = version
        self.leaseSeconds = leaseSeconds
    }
}

/// `reserve`'s result. Not reserved is a result: `reason` "exists" (keys are immutable) or
/// "busy" (another save of the key runs now).
public struct CacheReservation: Codable, Sendable, Hashable {
    public var reserved: Bool
    /// Opaque to the host, at most 256 bytes.
    public var reservation: String?
    public var reason: String?

    public init(reserved: Bool, reservation: String? = nil, reason: String? = nil) {
        self.reserved = reserved
        self.reservation = reservation
        self.reason = reason
    }

    public static func granted(_ reservation: String) -> CacheReservation { CacheReservation(reserved: true, reservation: reservation) }
    public static func refused(_ reason: String) -> CacheReservation { CacheReservation(reserved: false, reason: reason) }
}

/// `save`: the backend makes a stream the host writes the archive into; staged, never visible
/// before `commit`.
public struct CacheSave: Codable, Sendable, Hashable {
    public var key: String
    public var version: String
    public var reservation: String

    public init(key: String, version: String, reservation: String) {
        self.key = key
        self.version = version
        self.reservation = reservation
    }
}

/// `save`'s result: archive bytes received and bytes staged (after compression).
public struct CacheSaved: Codable, Sendable, Hashable {
    public var bytes: Int
    public var storedBytes: Int

    public init(bytes: Int, storedBytes: Int) {
        self.bytes = bytes
        self.storedBytes = storedBytes
    }
}

/// `commit`: publish what `save` staged (create-if-absent), or drop it (`discard`). Follows
/// every reservation exactly once; never cancelled.
public struct CacheCommit: Codable, Sendable, Hashable {
    public var key: String
    public var version: String
    public var reservation: String
    public var discard: Bool

    public init(key: String, version: String, reservation: String, discard: Bool) {
        self.key = key
        self.version = version
        self.reservation = reservation
        self.discard = discard
    }
}

/// `commit`'s result: `reason` "exists" (another saver published first), "discarded", or
/// "expired" (nothing was staged under the reservation).
public struct CacheCommitted: Codable, Sendable, Hashable {
    public var committed: Bool
    public var reason: String?

    public init(committed: Bool, reason: String? = nil) {
        self.committed = committed
        self.reason = reason
    }
}

/// `list`: entries whose key starts with `keyPrefix` (all when nil).
public struct CacheList: Codable, Sendable, Hashable {
    public var keyPrefix: String?
    public init(keyPrefix: String? = nil) { self.keyPrefix = keyPrefix }
}

/// One entry of a listing.
public struct CacheEntryInfo: Codable, Sendable, Hashable {
    public var key: String
    public var version: String
    /// Stored (compressed) bytes.
    public var sizeBytes: Int
    /// RFC 3339, UTC.
    public var createdAt: String
    public var lastUsedAt: String?

    public init(key: String, version: String, sizeBytes: Int, createdAt: String, lastUsedAt: String? = nil) {
        self.key = key
        self.version = version
        self.sizeBytes = sizeBytes
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }
}

/// `list`'s result, newest first.
public struct CacheListing: Codable, Sendable, Hashable {
    public var entries: [CacheEntryInfo]
    public init(entries: [CacheEntryInfo]) { self.entries = entries }
}

/// `prune`: remove entries older than `olderThanSeconds`, then the least recently used until the
/// total fits `maxSizeBytes`; `all` removes every entry (under `keyPrefix` if given). Also sweeps
/// expired reservations and abandoned staging.
public struct CachePrune: Codable, Sendable, Hashable {
    public var maxSizeBytes: Int?
    public var olderThanSeconds: Int?
    public var keyPrefix: String?
    public var all: Bool?

    public init(maxSizeBytes: Int? = nil, olderThanSeconds: Int? = nil, keyPrefix: String? = nil, all: Bool? = nil) {
        self.maxSizeBytes = maxSizeBytes
        self.olderThanSeconds = olderThanSeconds
        self.keyPrefix = keyPrefix
        self.all = all
    }
}

/// `prune`'s result.
public struct CachePruned: Codable, Sendable, Hashable {
    public var removedEntries: Int
    public var freedBytes: Int

    public init(removedEntries: Int, freedBytes: Int) {
        self.removedEntries = removedEntries
        self.freedBytes = freedBytes
    }
}

/// Cache keys as the host checks them (nixactions/cache.h): UTF-8, 1 to 512 bytes, no ',' and
/// no control characters.
public enum CacheKeys {
    public static let maxBytes = 512

    /// Why `key` is not a valid key, or nil.
    public static func problem(_ key: String) -> String? {
        if key.isEmpty { return "the key is empty" }
        if key.utf8.count > maxBytes { return "the key is \(key.utf8.count) bytes long, at most \(maxBytes) are allowed" }
        if key.contains(",") { return "the key contains ',', which is not allowed" }
        if key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            return "the key contains a control character (a line break?)"
        }
        return nil
    }
}

/// Sizes as people write them in options and on the command line, and as messages show them.
public enum CacheSizes {
    /// "512 B", "1.5 MiB", "2.0 GiB" (powers of 1024).
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        guard unit > 0 else { return "\(bytes) B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }

    /// "10G", "500M", "64K", "1T", "123" (bytes), "1.5G"; case-insensitive, an optional "B"/"iB";
    /// K/M/G/T are powers of 1024.
    public static func parse(_ text: String) -> Int? {
        var body = text.uppercased().filter { $0 != " " }
        for suffix in ["IB", "B"] where body.hasSuffix(suffix) && body.count > suffix.count {
            body.removeLast(suffix.count)
            break
        }
        var multiplier = 1.0
        if let last = body.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last)] {
            for _ in 0..<power { multiplier *= 1024 }
            body.removeLast()
        }
        guard let number = Double(body), number >= 0, number.isFinite else { return nil }
        let bytes = number * multiplier
        return bytes < 9.0e18 ? Int(bytes) : nil
    }
}

/// Durations as people write them in options (`max-age: 7d`) and on the command line
/// (`--older-than 12h`).
public enum CacheDurations {
    /// "7d", "12h", "30m", "3600s", "2w", "3600" (seconds), "1.5h"; case-insensitive. Nil when
    /// the text is not a duration or is negative.
    public static func parse(_ text: String) -> Int? {
        var body = text.lowercased().filter { $0 != " " }
        var unit = 1.0
        if let last = body.last, let seconds = ["s": 1.0, "m": 60, "h": 3600, "d": 86400, "w": 604800][String(last)] {
            unit = seconds
            body.removeLast()
        }
        guard let number = Double(body), number >= 0, number.isFinite else { return nil }
        let seconds = number * unit
        return seconds < 9.0e18 ? Int(seconds.rounded()) : nil
    }
}
