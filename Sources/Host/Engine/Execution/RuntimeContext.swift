import Crypto
import NixActionsProcessKit
import Foundation

/// The expression contexts of one place in a run (a job's `if`, a step's `run`, …).
struct RuntimeContext: ExpressionContext {
    var contexts: [String: ExpressionValue]
    var status: ExpressionStatus
    /// Where `hashFiles` looks (the project, which every job's workspace is a copy of).
    var hashRoot: String
    /// Functions plugins declare.
    var functions: (any PluginFunctionProvider)?
    /// The job's workspace for `hashFiles` once the job started (nil: `hashRoot`).
    var hashing: JobHashing?
    /// The run's redactor: strings computed from a secret are registered with it (`computed`).
    var redactor: Redactor?

    func value(ofContext name: String) -> ExpressionValue? { contexts[name] }

    func hashFiles(_ patterns: [String]) throws(ExpressionError) -> String {
        guard let hashing else { return HashFiles.hash(patterns, in: hashRoot) }
        return try hashing.hash(patterns)
    }

    /// When an argument holds a registered secret, every string in `result` (at any depth; not
    /// object keys, numbers or booleans) is registered as a secret too: `fromJSON(secrets.SA).password`,
    /// `text.lower(secrets.TOKEN)`. Strings shorter than the redactor's minimum are left, as ever.
    func computed(_ result: ExpressionValue, from arguments: [ExpressionValue]) {
        guard let redactor, !redactor.isEmpty else { return }
        guard arguments.contains(where: { Self.anyString($0) { redactor.contains($0) } }) else { return }
        _ = Self.anyString(result) { text in
            redactor.add(text)
            return false
        }
    }

    /// Calls `visit` on each string in `value` (array elements, object values) until it returns true.
    static func anyString(_ value: ExpressionValue, _ visit: (String) -> Bool) -> Bool {
        switch value {
        case .string(let text): return visit(text)
        case .array(let elements): return elements.contains { anyString($0, visit) }
        case .object(let members): return members.values.contains { anyString($0, visit) }
        default: return false
        }
    }

    func callPluginFunction(_ name: String, _ arguments: [ExpressionValue]) throws(PluginFunctionError) -> ExpressionValue {
        guard let functions else {
            throw PluginFunctionError("unknown function '\(name)'", hint: "no plugin provides functions in this run")
        }
        return try functions.call(name, arguments)
    }
}

/// `hashFiles(patterns…)`: SHA-256 over the SHA-256 of each matching file, in path order; "" if none.
/// Patterns are read as @actions/glob reads them (`HashPatterns`).
enum HashFiles {
    /// - Parameter contained: a container's workspace, where a link its process put
    ///   (`x -> /etc/shadow`) must not make the host read a file of its own into a hash: only
    ///   files reached without any link are hashed, looked at before they are opened.
    static func hash(_ patterns: [String], in root: String, contained: Bool = false) -> String {
        let files = ordered(matching(patterns, in: root), patterns: patterns, root: root)
        guard !files.isEmpty else { return "" }
        let within: String? = contained ? root : nil
        var outer = SHA256()
        var hashed = 0
        for file in files {
            // A container's: reached without any link, and looked at before it is opened (review
            // 52: opened by path first, a swapped folder made root open 193 files of the host).
            let digest = within != nil ? FastFiles.openRegular(file, beneath: root).flatMap(FileDigest.sha256(of:))
                : FileDigest.sha256(of: root + "/" + file)
            guard let digest else { continue }
            outer.update(data: digest)
            hashed += 1
        }
        // None read (all led out of a container's workspace): as if none matched.
        guard hashed > 0 else { return "" }
        return outer.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// `files` in the order GitHub's hashFiles reads them (audit 52: the same files in another
    /// order gave another hash): each include pattern's search path (its part before the first
    /// wildcard) in turn, one under another's not walked on its own, the files under it depth
    /// first with names in byte order (Node's sorted readdir): `a/x`, `a-b/y`, `a.lock`, where a
    /// sort of whole paths puts `a-b/y` first. A file two search paths reach counts once.
    static func ordered(_ files: [String], patterns: [String], root: String) -> [String] {
        var all: [String] = []
        for pattern in HashPatterns(patterns, root: root).includes {
            let path = searchPath(of: pattern)
            if !all.contains(path) { all.append(path) }
        }
        // A folder under another pattern's, earlier or later, is not walked on its own (@actions/
        // glob's getSearchPaths; review 52: only earlier ones were looked at).
        let searchPaths = all.filter { path in !all.contains { $0 != path && ($0.isEmpty || path.hasPrefix($0 + "/")) } }
        let keyed = files.map { ($0, $0.split(separator: "/").map { Array($0.utf8) }) }
            .sorted { $0.1.lexicographicallyPrecedes($1.1) { $0.lexicographicallyPrecedes($1) } }
            .map(\.0)
        var emitted = Set<String>()
        var result: [String] = []
        for path in searchPaths {
            for file in keyed where (path.isEmpty || file == path || file.hasPrefix(path + "/")) && emitted.insert(file).inserted {
                result.append(file)
            }
        }
        for file in keyed where emitted.insert(file).inserted { result.append(file) }
        return result
    }

    /// A glob's search path: its parts before the first one with a wildcard (`out/**/app*` → `out`).
    static func searchPath(of pattern: String) -> String {
        pattern.split(separator: "/").prefix { !CachePaths.isGlob($0) }.joined(separator: "/")
    }

    /// Relative paths of regular files under `root` that match, sorted.
    /// - Parameter followingLinks: a link to a folder inside `root` is walked too, under the
    ///   link's own path (as upload-artifact's glob follows links: `dist -> build/out` matches
    ///   `dist/**`; audit 51: an upload of `dist/` found nothing, a green step without an
    ///   artifact); a folder reached twice (a loop) once. A link to a folder outside `root` is not
    ///   walked. hashFiles does not follow them, as GitHub's does not by default.
    static func matching(_ patterns: [String], in root: String, followingLinks: Bool = false) -> [String] {
        var leftOut: [String] = []
        return matching(patterns, in: root, followingLinks: followingLinks, leftOut: &leftOut)
    }

    /// As `matching(_:in:followingLinks:)`; `leftOut` gets the paths (as text, U+FFFD for the
    /// bytes that are not UTF-8) of the entries whose names are not UTF-8: they cannot be named
    /// as text, so they are left out (as @actions/glob leaves them out without a word).
    static func matching(_ patterns: [String], in root: String, followingLinks: Bool, leftOut: inout [String]) -> [String] {
        let rules = HashPatterns(patterns, root: root)
        guard !rules.includes.isEmpty else { return [] }
        let realRoot = followingLinks ? ArtifactStore.realPath(root) : nil
        var seen = Set<String>()
        if let realRoot { seen.insert(realRoot) }
        var result: [String] = []
        var pending = [""]
        while let folder = pending.popLast() {
            let full = folder.isEmpty ? root : root + "/" + folder
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else { continue }
            for name in names {
                let path = folder.isEmpty ? name : folder + "/" + name
                if path == ".git" { continue }
                var own = stat()
                guard lstat(full + "/" + name, &own) == 0 else {
                    // Foundation repaired a name that is not UTF-8 into one that does not exist.
                    if errno == ENOENT, name.contains("\u{FFFD}") { leftOut.append(path) }
                    continue
                }
                if own.st_mode & S_IFMT == S_IFDIR {
                    pending.append(path)
                    continue
                }
                // Regular files only (a link is followed, as @actions/glob follows it): a FIFO, a
                // socket or a device (a link to /dev/zero) is no file to hash, and reading one would
                // block or never end.
                var info = stat()
                guard stat(full + "/" + name, &info) == 0 else { continue }
                if info.st_mode & S_IFMT == S_IFREG {
                    if rules.matches(path) { result.append(path) }
                } else if info.st_mode & S_IFMT == S_IFDIR, own.st_mode & S_IFMT == S_IFLNK, let realRoot,
                          let real = ArtifactStore.realPath(full + "/" + name), ArtifactStore.isInside(real, realRoot),
                          seen.insert(real).inserted {
                    pending.append(path)
                }
            }
        }
        return result.sorted()
    }

    static func normalize(_ pattern: String) -> String {
        var pattern = pattern
        while pattern.hasPrefix("./") { pattern.removeFirst(2) }
        return pattern
    }

    /// `pattern` matches `path` or one of the folders above it (a pattern that matches a folder
    /// matches everything under it: @actions/glob's implicit descendants).
    static func globOrAncestor(_ pattern: String, _ path: String) -> Bool {
        if glob(pattern, path) { return true }
        var parts = path.split(separator: "/")
        while parts.count > 1 {
            parts.removeLast()
            if glob(pattern, parts.joined(separator: "/")) { return true }
        }
        return false
    }

    /// Glob match on path components: `*`, `?`, `[…]` within a component, `**` across any number of them.
    static func glob(_ pattern: String, _ path: String) -> Bool {
        let patternParts = pattern.split(separator: "/").map(String.init)
        let pathParts = path.split(separator: "/").map(String.init)
        func match(_ p: Int, _ q: Int) -> Bool {
            if p == patternParts.count { return q == pathParts.count }
            if patternParts[p] == "**" {
                for next in q...pathParts.count where match(p + 1, next) { return true }
                return false
            }
            guard q < pathParts.count, fnmatch(patternParts[p], pathParts[q], 0) == 0 else { return false }
            return match(p + 1, q + 1)
        }
        return match(0, 0)
    }
}

/// SHA-256 of files (hashFiles, installed plugins).
public enum FileDigest {
    /// The digest of the file's bytes, or nil when it cannot be read.
    /// Only a regular file is read (nil for anything else): it is opened without blocking (a FIFO
    /// swapped in would wait for a writer) and checked on the opened descriptor.
    public static func sha256(of path: String) -> Data? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return nil
        }
        return sha256(of: fd)
    }

    /// The digest of what the open file `fd` holds from where it is (closed here).
    static func sha256(of fd: Int32) -> Data? {
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return nil }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return Data(hasher.finalize())
    }

    /// The digest as lowercase hex, or nil.
    public static func sha256Hex(of path: String) -> String? {
        sha256(of: path).map { $0.map { String(format: "%02x", $0) }.joined() }
    }
}

/// `hashFiles`' patterns as @actions/glob reads them (actions/runner's hashFiles.ts): each
/// argument may hold several lines, each trimmed, empty ones and `#` comments skipped; a leading
/// `!` excludes; they apply in order, so the last pattern that matches a path decides (an include
/// after an exclude takes a file back). A relative pattern is under the workspace; an absolute one
/// inside it is the same as its relative form (`format('{0}/build.sh', github.workspace)`, audit
/// 50: it matched nothing), and one outside it matches nothing (GitHub hashes workspace files only).
struct HashPatterns: Sendable {
    let rules: [(exclude: Bool, pattern: String)]

    init(_ patterns: [String], root: String) {
        var rules: [(Bool, String)] = []
        for argument in patterns {
            for line in argument.split(separator: "\n", omittingEmptySubsequences: true) {
                var text = line.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !text.isEmpty, !text.hasPrefix("#") else { continue }
                var exclude = false
                while text.hasPrefix("!") {
                    exclude.toggle()
                    text = text.dropFirst().trimmingCharacters(in: .whitespaces)
                }
                if text.hasPrefix("/") {
                    var base = root
                    while base.count > 1, base.hasSuffix("/") { base.removeLast() }
                    if text == base || text == base + "/" {
                        text = "**"
                    } else if text.hasPrefix(base + "/") {
                        text = String(text.dropFirst(base.count + 1))
                    } else {
                        continue
                    }
                }
                rules.append((exclude, HashFiles.normalize(text)))
            }
        }
        self.rules = rules
    }

    /// The include patterns (what a files `get` is asked for; `matches` then decides).
    var includes: [String] { rules.filter { !$0.exclude }.map(\.pattern) }

    /// The excludes no later include can undo: a files `get` may leave their files out.
    var finalExcludes: [String] {
        guard let lastInclude = rules.lastIndex(where: { !$0.exclude }) else { return rules.map(\.pattern) }
        return rules[(lastInclude + 1)...].map(\.pattern)
    }

    func matches(_ path: String) -> Bool {
        var matched = false
        for rule in rules where rule.exclude == matched && HashFiles.globOrAncestor(rule.pattern, path) { matched = !rule.exclude }
        return matched
    }
}
