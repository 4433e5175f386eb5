import Foundation
import NixActionsCacheKit
import NixActionsPluginMessages

/// The `local` backend's options (`cache: { backend: local, … }` or `.nixactions/config.yml`).
struct LocalCacheOptions: Sendable {
    static let known: Set<String> = ["directory", "max-size", "max-age", "compression-level", "compression-threads"]
    static let defaultMaxSize = 10 << 30

    /// Absolute, `~/` expanded.
    var directory: String
    /// Stored (compressed) bytes kept; least recently used entries go first.
    var maxSize: Int
    /// Entries created longer ago than this are evicted at commit time (nil: no age limit).
    var maxAge: Int?
    var compressionLevel: Int32
    /// zstd worker threads; 0 compresses on the thread that reads the archive.
    var compressionThreads: Int32

    init(_ values: [String: JSONValue], environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let options = CacheOptions(values)
        let unknown = options.unknown(Self.known)
        if !unknown.isEmpty {
            throw OperationFailure(
                message: "the local cache backend has no option\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", "))",
                hint: "its options are \(Self.known.sorted().joined(separator: ", "))")
        }
        directory = try Self.directory(options.string("directory"), environment: environment)
        maxSize = try options.size("max-size") ?? Self.defaultMaxSize
        if maxSize <= 0 { throw OperationFailure(message: "option 'max-size' must be more than 0 bytes", hint: "e.g. 10G, 500M") }
        maxAge = try options.duration("max-age")
        if maxAge == 0 { throw OperationFailure(message: "option 'max-age' must be longer than 0 seconds", hint: "e.g. 7d, 12h") }
        compressionLevel = Int32(try options.integer("compression-level", in: 1...19) ?? 3)
        // One zstd worker by default: the archive is read while the previous block compresses
        // (as `tar --zstd` runs zstd beside tar); bench `cache`.
        compressionThreads = Int32(try options.integer("compression-threads", in: 0...256) ?? 1)
    }

    /// The configured folder, else `$XDG_CACHE_HOME/nixactions/cache`, else
    /// `~/.cache/nixactions/cache`. Relative paths are refused: the host's working folder is not
    /// something a configuration can rely on.
    static func directory(_ configured: String?, environment: [String: String]) throws -> String {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        var path: String
        if let configured, !configured.isEmpty {
            path = configured
            if path == "~" {
                path = home
            } else if path.hasPrefix("~/") {
                path = home + path.dropFirst(1)
            }
        } else if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            path = xdg + "/nixactions/cache"
        } else {
            path = home + "/.cache/nixactions/cache"
        }
        guard path.hasPrefix("/") else {
            throw OperationFailure(message: "option 'directory': '\(configured ?? path)' is not an absolute path",
                                   hint: "write an absolute path or one starting with ~/")
        }
        return path
    }
}
