import Foundation
import NixActionsEngine

/// The record of installed plugins in a plugin folder: `nixactions-plugins.sha256`, one
/// `SHA256  FILE` line per plugin (the format of `sha256sum`, so `sha256sum -c` checks it too).
///
/// In a folder that has a manifest, a plugin file is loaded only if the manifest lists it with the
/// file's current hash: a plugin changed after it was installed, or dropped in without
/// `nixactions plugins install`, is refused. Folders without a manifest (a build folder, a
/// development path in NIXACTIONS_PLUGIN_PATH) are not checked.
public struct PluginManifest: Sendable {
    public static let fileName = "nixactions-plugins.sha256"

    /// File name → hex SHA-256.
    public var entries: [String: String]
    /// Why the folder's manifest could not be read (it is there, but not a readable file): then
    /// every plugin of the folder is refused, never loaded unchecked (audit 50: a manifest that
    /// was not UTF-8, or a folder in its place, turned the check off).
    public var unreadable: String?

    public init(entries: [String: String] = [:]) { self.entries = entries }

    /// The record of a folder whose record is there but cannot be read.
    static var refusing: PluginManifest {
        var manifest = PluginManifest()
        manifest.unreadable = "this folder's record (\(fileName)) is there but is not a readable file (a folder, a dangling link, no permission); every plugin here is refused until it is fixed"
        return manifest
    }

    /// The manifest of `folder`, or nil when it has none.
    public static func read(in folder: String) -> PluginManifest? {
        let path = folder + "/" + fileName
        var info = stat()
        // A link to the record is followed (symlinkJoin, stow); a missing one is no record.
        guard stat(path, &info) == 0 else { return lstat(path, &info) == 0 ? Self.refusing : nil }
        guard info.st_mode & S_IFMT == S_IFREG, let data = FileManager.default.contents(atPath: path) else { return Self.refusing }
        // Bytes that are not UTF-8 (a comment in Latin-1) cannot hide or change an entry: names and
        // hashes are compared as written.
        let text = String(decoding: data, as: UTF8.self)
        var entries: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2 else { continue }
            var name = parts[1].trimmingCharacters(in: .whitespaces)
            if name.hasPrefix("*") { name.removeFirst() }  // sha256sum's binary-mode marker
            entries[name] = String(parts[0]).lowercased()
        }
        return PluginManifest(entries: entries)
    }

    /// Write the manifest into `folder` atomically.
    public func write(in folder: String) throws {
        let text = "# plugins installed with 'nixactions plugins install'; check with: sha256sum -c \(Self.fileName)\n"
            + entries.keys.sorted().map { "\(entries[$0]!)  \($0)\n" }.joined()
        try text.write(toFile: folder + "/" + Self.fileName, atomically: true, encoding: .utf8)
    }

    /// nil if `path` may be loaded; otherwise why not.
    public func problem(with path: String) -> String? {
        problem(with: path, readingFrom: path)
    }

    /// nil if the file named `path` may be loaded, hashing the bytes at `source` (the loader passes
    /// `/proc/self/fd/N` of the descriptor it checked and loads).
    func problem(with path: String, readingFrom source: String) -> String? {
        if let unreadable { return unreadable }
        let name = (path as NSString).lastPathComponent
        guard let recorded = entries[name] else {
            return "not installed: this folder keeps a manifest (\(Self.fileName)) that does not list it; use 'nixactions plugins install'"
        }
        guard let actual = FileDigest.sha256Hex(of: source) else { return "cannot read it to check its hash" }
        guard actual == recorded else {
            return "changed since it was installed (sha256 \(actual.prefix(12))…, recorded \(recorded.prefix(12))…); reinstall it if the change is yours"
        }
        return nil
    }
}
