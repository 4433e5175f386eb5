/// Messages of the executor files interface, "nixactions.executor.files/1" (nixactions/files.h,
/// ABI 1.2): moving a tree into a job (`put`) and out of it (`get`) as an uncompressed pax tar
/// stream (nixactions/stream.h). The same evolution rules as the executor messages apply.

/// The interface id of the executor files interface, version 1.
public let executorFilesInterfaceV1 = "nixactions.executor.files/1"

/// One folder of a `put`: the archive's entries whose first component is `name` go under `path`.
public struct FilesPutRoot: Codable, Sendable, Hashable {
    /// The first component of the entries that belong here; "" for the single root of a request
    /// whose names are relative to it.
    public var name: String
    /// A folder as the job sees it: relative to the workspace, absolute, or starting with "~/".
    public var path: String

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}

/// `put`'s request.
public struct FilesPut: Codable, Sendable, Hashable {
    public var jobKey: String
    public var roots: [FilesPutRoot]

    public init(jobKey: String, roots: [FilesPutRoot]) {
        self.jobKey = jobKey
        self.roots = roots
    }
}

/// `put`'s result: what was put in place.
public struct FilesPutResult: Codable, Sendable, Hashable {
    public var files: Int
    public var bytes: Int

    public init(files: Int, bytes: Int) {
        self.files = files
        self.bytes = bytes
    }
}

/// One folder of a `get`.
public struct FilesGetRoot: Codable, Sendable, Hashable {
    public var name: String
    public var path: String
    /// Globs on the path relative to the root ("*", "?", "**" across folders); nil: ["**"].
    public var include: [String]?
    public var exclude: [String]?

    public init(name: String, path: String, include: [String]? = nil, exclude: [String]? = nil) {
        self.name = name
        self.path = path
        self.include = include
        self.exclude = exclude
    }
}

/// `get`'s request.
public struct FilesGet: Codable, Sendable, Hashable {
    public var jobKey: String
    public var roots: [FilesGetRoot]
    /// Follow symbolic links that stay inside their root (never those that leave it).
    public var followSymlinks: Bool?

    public init(jobKey: String, roots: [FilesGetRoot], followSymlinks: Bool? = nil) {
        self.jobKey = jobKey
        self.roots = roots
        self.followSymlinks = followSymlinks
    }
}

/// `get`'s result.
public struct FilesGetResult: Codable, Sendable, Hashable {
    public var files: Int
    public var bytes: Int
    /// Entries of a type the archive does not carry (devices, fifos, sockets), left out.
    public var skipped: Int
    /// The paths of the roots that do not exist (as the request gave them).
    public var missing: [String]

    public init(files: Int, bytes: Int, skipped: Int = 0, missing: [String] = []) {
        self.files = files
        self.bytes = bytes
        self.skipped = skipped
        self.missing = missing
    }
}
