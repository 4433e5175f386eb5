import Crypto
import Foundation
import NixActionsPluginMessages

/// Object names under the prefix:
///
///     <prefix>manifests/<V>/<K>      the entry's CacheEntryRecord (JSON): the publish point
///     <prefix>data/<V>/<uuid>.tar.zst the compressed archive the manifest names
///     <prefix>reservations/<V>/<K>   a save's lease: {"token", "expiresAt"} (JSON)
///     <prefix>used/<V>/<K>           empty; its LastModified is the entry's last restore
///
/// V is the first 32 hex digits of SHA-256(version). K is the key with every byte other than
/// A-Z a-z 0-9 '-' '_' written as %XX (upper-case): reversible, free of '/' and dot segments,
/// and prefix-preserving (the names of keys starting with "deps-" start with K("deps-")), so a
/// ListObjectsV2 with Prefix finds the candidates of a restore key directly.
struct S3Layout: Sendable {
    let prefix: String
    /// S3's limit on an object name.
    static let maxObjectName = 1024

    static func versionHash(_ version: String) -> String { String(SigV4.sha256Hex(Array(version.utf8)).prefix(32)) }

    static func encodeKey(_ key: String) -> String {
        var out = ""
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func decodeKey(_ encoded: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = encoded.utf8.startIndex
        let utf8 = encoded.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let high = utf8.index(after: index)
                guard high < utf8.endIndex, utf8.index(after: high) < utf8.endIndex else { return nil }
                let low = utf8.index(after: high)
                guard let value = UInt8(String(decoding: [utf8[high], utf8[low]], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
                index = utf8.index(after: low)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    var manifestsRoot: String { prefix + "manifests/" }
    var dataRoot: String { prefix + "data/" }
    var reservationsRoot: String { prefix + "reservations/" }
    var usedRoot: String { prefix + "used/" }

    func manifest(_ key: String, _ version: String) -> String { "\(manifestsRoot)\(Self.versionHash(version))/\(Self.encodeKey(key))" }
    func manifestPrefix(_ keyPrefix: String, _ version: String) -> String { manifest(keyPrefix, version) }
    func lease(_ key: String, _ version: String) -> String { "\(reservationsRoot)\(Self.versionHash(version))/\(Self.encodeKey(key))" }
    func used(_ key: String, _ version: String) -> String { "\(usedRoot)\(Self.versionHash(version))/\(Self.encodeKey(key))" }
    /// Whether `data` (a manifest's, relative to the prefix) is where this layout puts the data of
    /// `version`: `data/<V>/NAME.tar.zst`, NAME one plain segment. A manifest naming anything else
    /// (planted by someone who may write under the prefix) would have a restore read, and delete
    /// as corrupt, another object (audit 60 L3).
    static func isDataName(_ data: String, version: String) -> Bool {
        let folder = "data/" + versionHash(version) + "/"
        guard data.hasPrefix(folder), data.hasSuffix(".tar.zst") else { return false }
        let name = data.dropFirst(folder.count)
        return !name.contains("/") && !name.hasPrefix(".") && !name.contains("\\")
    }

    func newData(_ version: String) -> String { "\(dataRoot)\(Self.versionHash(version))/\(UUID().uuidString.lowercased()).tar.zst" }

    /// The key a manifest, lease or marker name stands for (nil: not one of ours).
    func key(ofObject name: String, under root: String) -> String? {
        guard name.hasPrefix(root) else { return nil }
        let rest = name.dropFirst(root.count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        return Self.decodeKey(rest[rest.index(after: slash)...])
    }

    /// The version hash part of such a name.
    func versionHash(ofObject name: String, under root: String) -> String? {
        guard name.hasPrefix(root) else { return nil }
        return name.dropFirst(root.count).split(separator: "/", maxSplits: 1).first.map(String.init)
    }

    /// Throws when the key's object names would be longer than S3 allows.
    func check(_ key: String, _ version: String) throws {
        let length = max(manifest(key, version).utf8.count, lease(key, version).utf8.count, used(key, version).utf8.count)
        if length > Self.maxObjectName {
            throw OperationFailure(
                message: "the cache key is too long for S3 once encoded (\(length) bytes of object name, at most \(Self.maxObjectName))",
                hint: "use a shorter key (characters other than A-Z, a-z, 0-9, '-' and '_' take 3 bytes each), or a shorter 'prefix'")
        }
    }
}

/// A save's lease object.
struct S3Lease: Codable, Sendable {
    var token: String
    /// Seconds since 1970, by the clock of the saver that wrote it.
    var expiresAt: Double
    /// How long the lease lasts from the time the store wrote it (its `Last-Modified`): judged by
    /// the store's clock alone, so savers whose clocks differ agree (absent in older leases).
    var seconds: Double?
}

/// Times as S3 listings carry them ("2025-01-01T12:00:00.000Z").
enum S3Time {
    static func parse(_ text: String) -> Double? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)?.timeIntervalSince1970
    }

    /// An HTTP date ("Mon, 07 Dec 2026 03:25:19 GMT", `Date` and `Last-Modified`).
    static func parseHTTP(_ text: String) -> Double? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)?.timeIntervalSince1970
    }
}
