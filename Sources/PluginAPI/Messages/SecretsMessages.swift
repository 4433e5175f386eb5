/// Messages of the secrets interface, "nixactions.secrets/1" (see nixactions/secrets.h, ABI 1.2).
///
/// Secret values never travel in these messages: a provider delivers each value through the
/// host service `secret_value` (`SecretValues.deliver` in PluginKit). These types carry names,
/// options and places only, so they may be logged.

/// The interface id of the secrets interface version 1.
public let secretsInterfaceV1 = "nixactions.secrets/1"

/// `create`: one provider instance for a run.
public struct SecretsConfiguration: Codable, Sendable, Hashable {
    public var runID: String
    public var runDirectory: String
    /// Relative paths in entries are relative to this folder.
    public var projectDirectory: String
    /// A private (0700) folder for temporary secret files, removed by the host when the run ends.
    public var secretsDirectory: String
    /// Provider-wide settings (none are read from anywhere yet: `{}`).
    public var options: [String: JSONValue]
    /// The run's tracking id (an optional field added after 1.2): a process a provider starts
    /// carries `NIXACTIONS_TRACKING_ID=<id>/…` in its environment, so that the run's supervisor
    /// ends it if the host dies before it could.
    public var trackingID: String?

    public init(runID: String, runDirectory: String, projectDirectory: String, secretsDirectory: String,
                options: [String: JSONValue] = [:], trackingID: String? = nil) {
        self.runID = runID
        self.runDirectory = runDirectory
        self.projectDirectory = projectDirectory
        self.secretsDirectory = secretsDirectory
        self.options = options
        self.trackingID = trackingID
    }
}

/// Where a provider entry is written, for messages.
public struct SecretsSource: Codable, Sendable, Hashable {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
}

/// `resolve`: one provider entry of a workflow's `secrets:` list.
public struct SecretsEntry: Codable, Sendable, Hashable {
    /// The provider id (`env`, `file`, `sops`, `vault`).
    public var provider: String
    /// The entry's own keys, without the host's (`provider`, `required`, `as`, `env`, `timeout`).
    public var options: [String: JSONValue]
    public var source: SecretsSource?

    public init(provider: String, options: [String: JSONValue], source: SecretsSource? = nil) {
        self.provider = provider
        self.options = options
        self.source = source
    }
}

/// `resolve`'s result: the names delivered with `secret_value`, nothing else.
public struct SecretsResolved: Codable, Sendable, Hashable {
    public var names: [String]
    public init(names: [String]) { self.names = names }
}

/// `release`: the run is over.
public struct SecretsRelease: Codable, Sendable, Hashable {
    /// "finished", "failed" or "cancelled".
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// Secret names: environment variable names of at most 256 bytes.
public enum SecretNames {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 256 else { return false }
        func letter(_ byte: UInt8) -> Bool { (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z") || byte == UInt8(ascii: "_") }
        return letter(first) && name.utf8.allSatisfy { letter($0) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) }
    }

    /// A nested key as an environment name: path components joined with `_`, upper-cased, every
    /// character other than a letter, digit or `_` replaced by `_`, and `_` put in front of a
    /// leading digit (`db.password` → `DB_PASSWORD`, `api-key` → `API_KEY`).
    public static func flatten(_ path: [String]) -> String {
        var name = String(path.joined(separator: "_").uppercased().map { character -> Character in
            guard let ascii = character.asciiValue else { return "_" }
            let byte = ascii
            let ok = (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
            return ok ? character : "_"
        })
        if let first = name.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") { name = "_" + name }
        return name
    }
}
