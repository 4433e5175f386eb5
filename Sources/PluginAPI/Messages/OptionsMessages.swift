/// Messages of the options interface, "nixactions.options/1" (see nixactions/options.h, ABI 1.4).

/// The interface id of the options interface version 1.
public let optionsInterfaceV1 = "nixactions.options/1"

/// What `describe` returns: for each kind the plugin provides and checks, the option names it
/// accepts (any other is refused when the run makes the instance or resolves the entry).
public struct OptionsSchema: Codable, Sendable, Hashable {
    public struct Names: Codable, Sendable, Hashable {
        public var names: [String]
        public init(_ names: some Sequence<String>) { self.names = names.sorted() }
    }

    /// An executor configuration's options (`executor: { plugin: ID, with: {…} }`, `container:`).
    public var executor: Names?
    /// One provider entry's options (`secrets: [{ provider: ID, … }]`), besides the host's own
    /// keys (`provider`, `as`, `required`, `env`, `timeout`).
    public var secrets: Names?
    /// A cache backend's options (`.nixactions/config.yml`'s `cache.backends.ID`).
    public var cache: Names?

    public init(executor: Names? = nil, secrets: Names? = nil, cache: Names? = nil) {
        self.executor = executor
        self.secrets = secrets
        self.cache = cache
    }

    public var isEmpty: Bool { executor == nil && secrets == nil && cache == nil }
}

/// What the options interface's `check` is given (ABI 1.5): one instance's options of `kind`
/// (`executor`, `secrets`, `cache`), those whose value holds `${{ }}` left out.
public struct OptionsCheck: Codable, Sendable, Hashable {
    public var kind: String
    public var options: [String: JSONValue]
    /// True when none was left out: `options` are all the instance will get, so a required
    /// option's absence may be refused too (options.h). Absent (nil) from an older host: false.
    public var complete: Bool?

    public init(kind: String, options: [String: JSONValue], complete: Bool? = nil) {
        self.kind = kind
        self.options = options
        self.complete = complete
    }
}
