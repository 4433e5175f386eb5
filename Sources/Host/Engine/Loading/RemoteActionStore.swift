import Dispatch
import Foundation
import NixActionsProcessKit
import Synchronization

/// Where `run` gets remote actions (`uses: OWNER/REPO[/PATH]@REF`) from, and where it keeps them.
///
/// Each repository is fetched with `git` from `baseURL/OWNER/REPO` (GitHub's server by default;
/// `--actions-url` names another: a GitHub Enterprise server, a mirror, a `git://` daemon or a
/// folder of bare repositories). A ref is resolved again by every run, as GitHub's runner does
/// (a tag such as `v4` moves): `git ls-remote` says which commit it names, and only a commit not
/// kept yet is fetched (one shallow fetch of that ref alone); a full commit id already kept is
/// not asked for at all. The files of each commit are kept in a private folder of this user
/// (`~/.cache/nixactions/actions/HOST/OWNER/REPO/COMMIT`) and shared by runs; each job that uses
/// an action gets a copy of its own (`JobRunner.putRemoteAction`), so what a job writes into its
/// action's folder is gone with the job.
///
/// Fetched into a staging folder and renamed into place, so a run that stops half-way, or two
/// runs fetching the same commit at once, never leave a partial tree where it would be used.
///
/// Kept trees not used for `keepDays` are removed: each run marks the trees it uses (their
/// modification time), and holds a shared lock on `ROOT/.lock` from its first fetch to its end;
/// a run that gets the lock alone first removes what no run used for that long (`prune`), so a
/// tree is never removed under a run that uses it.
public final class RemoteActionStore: Sendable {
    /// Where actions come from: `https://github.com` unless `--actions-url` says otherwise.
    public let baseURL: String
    /// The folder that keeps fetched trees (created private, 0700).
    public let cacheRoot: String
    /// The longest one fetch may take (git has no limit of its own on a server that stops answering).
    public let fetchLimit: Duration
    /// What this run resolved, by `RemoteActionReference.treeKey`: every use of one ref in a run is the same commit.
    private let resolved = Mutex<[String: Result<Fetched, EngineError>]>([:])
    /// Whether each ref asked for is within `maxReferences`, by `treeKey`.
    private let admitted = Mutex<(decided: [String: Bool], count: Int)>(([:], 0))
    /// References whose fetch failed, for `removeEmptyFolders`.
    private let failed = Mutex<[RemoteActionReference]>([])
    /// How long a kept tree that no run used stays: `NIXACTIONS_ACTIONS_KEEP_DAYS`, else 30 days.
    public let keepDays: Double
    /// Whether this run took `ROOT/.lock` already (`holdCache`).
    private let lockTaken = Mutex(false)
    /// The base URL for git: its login never on git's command line.
    let address: GitAddress

    public static let defaultBaseURL = "https://github.com"

    public struct Fetched: Sendable {
        public var commit: String
        public var tree: String
    }

    /// - Parameter fetchLimit: nil: `NIXACTIONS_ACTIONS_FETCH_SECONDS`, else 300 s.
    /// - Parameter keepDays: nil: `NIXACTIONS_ACTIONS_KEEP_DAYS`, else 30.
    public init(baseURL: String? = nil, cacheRoot: String? = nil, fetchLimit: Duration? = nil, keepDays: Double? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        var url = baseURL ?? environment["NIXACTIONS_ACTIONS_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultBaseURL
        while url.count > 1, url.hasSuffix("/") { url.removeLast() }
        // A folder given relative to where nixactions runs (git runs elsewhere).
        if !url.contains("://"), !url.hasPrefix("/"), !(url.split(separator: "/").first?.contains(":") ?? false) {
            url = FileManager.default.currentDirectoryPath + "/" + url
        }
        self.baseURL = url
        address = GitAddress(url)
        self.cacheRoot = cacheRoot ?? Self.defaultCacheRoot(environment)
        self.fetchLimit = fetchLimit ?? EnvironmentSeconds.read("NIXACTIONS_ACTIONS_FETCH_SECONDS", allowed: 0.001...86_400, environment: environment)
            ?? .seconds(300)
        let days = environment["NIXACTIONS_ACTIONS_KEEP_DAYS"].flatMap(Double.init).flatMap { $0 >= 0 && $0 <= 36_500 ? $0 : nil }
        self.keepDays = keepDays ?? days ?? 30
        let most = environment["NIXACTIONS_ACTIONS_MAX_REFS"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
        self.maxReferences = most ?? 256
    }

    /// Why `url` (`--actions-url`, `NIXACTIONS_ACTIONS_URL`) cannot be where actions come from, or
    /// nil: a URL git fetches from (https, http, ssh, git, file; `user@host:path`), or a folder
    /// that exists. Said before the run, not at the first fetch (audit 64 cli L14).
    public static func problem(with url: String) -> String? {
        if let range = url.range(of: "://") {
            let scheme = url[..<range.lowerBound].lowercased()
            guard ["https", "http", "ssh", "git", "file"].contains(scheme) else {
                return "'\(withoutCredentials(url))' is not a URL git fetches actions from (https, http, ssh, git or file), nor a folder"
            }
            return nil
        }
        if url.split(separator: "/").first?.contains(":") ?? false { return nil }  // user@host:path
        var info = stat()
        guard stat(url, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            return "'\(url)' is not a folder (a URL names its scheme: https://, ssh://, …)"
        }
        return nil
    }

    /// How many different refs (`OWNER/REPO@REF`) one run may resolve: `NIXACTIONS_ACTIONS_MAX_REFS`,
    /// else 256. Each costs a round trip to the server, one after another while the workflow
    /// loads, where no job's time limit applies (audit 51 L5: an action file of 1 MiB can name
    /// 30,000, and each action it names as many again).
    public let maxReferences: Int

    /// `$XDG_CACHE_HOME/nixactions/actions`, else `~/.cache/nixactions/actions`.
    public static func defaultCacheRoot(_ environment: [String: String]) -> String {
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return cache + "/nixactions/actions" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/nixactions/actions"
    }

    /// The repository's address: `BASE/OWNER/REPO` (git finds `REPO.git` on a daemon or in a
    /// folder), without the base URL's login, which git gets from its environment (`GitAddress`).
    public func repositoryURL(_ reference: RemoteActionReference) -> String {
        address.url + "/" + reference.owner + "/" + reference.repository
    }


    /// The base URL as messages show it: without a user name or password (`https://user:TOKEN@host`).
    public var shownURL: String { Self.withoutCredentials(baseURL) }

    /// `text` without the base URL's user name and password (git may quote the URL in an error).
    func hidingCredentials(_ text: String) -> String { Self.hidingCredentials(text, of: baseURL) }

    /// `text` without the user name and password of `url`.
    static func hidingCredentials(_ text: String, of url: String) -> String {
        guard let scheme = url.range(of: "://") else { return text }
        let host = url[scheme.upperBound...].prefix { $0 != "/" }
        guard let at = host.lastIndex(of: "@") else { return text }
        let credentials = String(host[..<at])
        return credentials.isEmpty ? text : text.replacingOccurrences(of: credentials + "@", with: "")
    }

    static func withoutCredentials(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let host = rest.prefix { $0 != "/" }
        guard let at = host.lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
    }

    /// The folder for one server's repositories: its host (and port) from the base URL, or a
    /// digest-free name of a local folder's path.
    var serverFolder: String {
        var rest = Substring(shownURL)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        let name = rest.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }
        return String(String(name).drop { $0 == "_" || $0 == "." }.prefix(200))
    }

    /// Fetch several references at once (at most four git processes), so a workflow's actions
    /// cost about its longest fetch, not the sum. Results are kept for `fetch`; the actions that
    /// fetched actions use are fetched after, as they are found.
    public func prefetch(_ references: [RemoteActionReference]) {
        var seen = Set<String>()
        let distinct = references.filter { seen.insert($0.treeKey).inserted }
        guard distinct.count > 1 else { return }
        // Threads of their own (waiting on the network, not computing: not limited to the cores).
        let next = Atomic<Int>(0)
        let group = DispatchGroup()
        for _ in 0..<min(4, distinct.count) {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    guard index < distinct.count else { return }
                    _ = try? self.fetch(distinct[index])
                }
            }
        }
        group.wait()
    }

    /// The commit `reference` names and the folder with its files; fetched on the first call of a
    /// run for each ref, the same answer after.
    public func fetch(_ reference: RemoteActionReference) throws(EngineError) -> Fetched {
        if let known = resolved.withLock({ $0[reference.treeKey] }) { return try known.get() }
        // Decided once per ref, under one lock: `prefetch` asks from several threads at once.
        let allowed = admitted.withLock { admitted in
            if let decided = admitted.decided[reference.treeKey] { return decided }
            let room = admitted.count < maxReferences
            admitted.decided[reference.treeKey] = room
            if room { admitted.count += 1 }
            return room
        }
        if !allowed {
            throw EngineError("cannot fetch the action '\(reference)': the run already uses \(maxReferences) different remote action refs, the most one run may",
                              hint: "each ref is asked of the server while the workflow loads; NIXACTIONS_ACTIONS_MAX_REFS raises the limit")
        }
        let result: Result<Fetched, EngineError>
        do {
            result = .success(try fetchNow(reference))
        } catch {
            result = .failure(error)
            failed.withLock { $0.append(reference) }
        }
        // Two threads fetching one ref at once keep the first answer (both are the same commit or error).
        return try resolved.withLock { all in
            if let first = all[reference.treeKey] { return first }
            all[reference.treeKey] = result
            return result
        }.get()
    }

    private func fetchNow(_ reference: RemoteActionReference) throws(EngineError) -> Fetched {
        // One limit for the whole fetch, whatever the number of git commands.
        let deadline = ContinuousClock.now + fetchLimit
        holdCache()
        let folder = try repositoryFolder(reference)
        if reference.isCommit, isDirectory(folder + "/" + reference.ref) {
            return used(Fetched(commit: reference.ref, tree: folder + "/" + reference.ref))
        }
        let url = repositoryURL(reference)
        // A branch or tag whose commit is kept: asking the server what it names (one short
        // exchange) is enough; the fetch below is for a commit not kept yet.
        // (Not when no commit of the repository is kept: the fetch alone is one exchange less.)
        let keepsAny = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).contains { $0.utf8.count == 40 }
        if !reference.isCommit, keepsAny {
            do {
                if let commit = try keptCommit(reference, url: url, in: folder, deadline: deadline) {
                    return used(Fetched(commit: commit, tree: folder + "/" + commit))
                }
            } catch where ContinuousClock.now >= deadline {
                throw fetchFailure(reference, url: url, error)
            } catch {
                // Said again, in the fetch's words, by the fetch below.
            }
        }
        let staging = try makeStaging(in: folder)
        defer { _ = try? FileManager.default.removeItem(atPath: staging) }
        let repository = staging + "/git"
        try git(["init", "--quiet", "--bare", repository], in: staging, reference: reference, deadline: deadline)
        do {
            try git(["--git-dir=" + repository, "fetch", "--quiet", "--no-tags", "--depth=1", "--", url, reference.ref], in: staging, reference: reference, deadline: deadline)
        } catch {
            throw fetchFailure(reference, url: url, error)
        }
        let commit = try git(["--git-dir=" + repository, "rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}"], in: staging, reference: reference, deadline: deadline)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard RemoteActionReference.isCommitID(commit) else {
            throw EngineError("cannot fetch the action '\(reference)': '\(reference.ref)' does not name a commit")
        }
        let tree = folder + "/" + commit
        if isDirectory(tree) { return used(Fetched(commit: commit, tree: tree)) }
        try checkSize(of: commit, in: repository, staging: staging, reference: reference, deadline: deadline)
        // The commit's files, without .git: read-tree and checkout-index into the staging folder.
        let files = staging + "/files"
        try git(["--git-dir=" + repository, "--work-tree=" + files, "-c", "core.symlinks=true", "checkout", "--quiet", "--force", commit, "--", "."],
                in: staging, reference: reference, deadline: deadline, create: files)
        if rename(files, tree) != 0, !isDirectory(tree) {
            throw EngineError("cannot keep the action '\(reference)' in \(tree): \(String(cString: strerror(errno)))",
                              hint: "check that \(cacheRoot) is writable (or set XDG_CACHE_HOME to one that is)")
        }
        return Fetched(commit: commit, tree: tree)
    }

    /// The most files, and bytes in all, an action's commit may hold: a "git bomb" (a few hundred
    /// KB whose trees name each other) made checkout grow by 250 MB a second (audit 51). GitHub's
    /// largest actions with their node_modules hold some 30,000 files.
    static let treeLimits = (entries: 200_000, bytes: Int64(2) << 30)

    /// Refuse a commit whose tree is over `treeLimits`: the sizes of the objects fetched (one
    /// commit's, `--depth=1`) from `git cat-file`, then its paths from `git ls-tree -r` as it
    /// streams, each counted with its object's size, stopped at the limit (it never holds the list).
    private func checkSize(of commit: String, in repository: String, staging: String, reference: RemoteActionReference,
                           deadline: ContinuousClock.Instant) throws(EngineError) {
        var sizes: [Substring: Int64] = [:]
        let objects = (try? git(["--git-dir=" + repository, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objectsize)"],
                                in: staging, reference: reference, deadline: deadline)) ?? ""
        for line in objects.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let size = Int64(fields[1]) { sizes[fields[0]] = size }
        }
        var entries = 0, bytes: Int64 = 0, over: String?
        var record: [UInt8] = []  // the start of a record a chunk cut
        _ = try? git(["--git-dir=" + repository, "ls-tree", "-r", "-z", commit], in: staging, reference: reference, deadline: deadline) { chunk in
            var start = 0
            while start < chunk.count {
                guard let found = memchr(chunk.baseAddress! + start, 0, chunk.count - start) else {
                    record += chunk[start...]
                    break
                }
                let end = UnsafeRawPointer(found) - chunk.baseAddress!
                // "MODE TYPE OBJECT\tPATH": the object is the word before the tab.
                func add(_ entry: UnsafeRawBufferPointer) {
                    guard let base = entry.baseAddress, let found = memchr(base, 0x09, entry.count) else { return }
                    let tab = UnsafeRawPointer(found) - base
                    var space = tab
                    while space > 0 && entry[space - 1] != 0x20 { space -= 1 }
                    bytes += sizes[Substring(decoding: UnsafeRawBufferPointer(rebasing: entry[space..<tab]), as: UTF8.self)] ?? 0
                }
                if record.isEmpty {
                    add(UnsafeRawBufferPointer(rebasing: chunk[start..<end]))
                } else {
                    record += chunk[start..<end]
                    record.withUnsafeBytes { add($0) }
                    record.removeAll(keepingCapacity: true)
                }
                start = end + 1
                entries += 1
                if entries > Self.treeLimits.entries {
                    over = "more than \(Self.treeLimits.entries) files"
                } else if bytes > Self.treeLimits.bytes {
                    over = "more than \(Self.treeLimits.bytes >> 30) GiB"
                }
                if over != nil { return false }
            }
            return true
        }
        if let over {
            throw EngineError("the action '\(reference)' is too large: its commit holds \(over)",
                              hint: "an action's repository this large is refused before it is checked out (at most \(Self.treeLimits.entries) files, \(Self.treeLimits.bytes >> 30) GiB)")
        }
    }

    /// `fetched`, its tree marked as used now (its modification time: what `prune` goes by; a
    /// kept tree's contents never change, so nothing else moves it).
    private func used(_ fetched: Fetched) -> Fetched {
        _ = utimensat(AT_FDCWD, fetched.tree, nil, AT_SYMLINK_NOFOLLOW)
        return fetched
    }

    /// Once per run, before the first tree is looked at: `ROOT/.lock` taken shared until the run
    /// ends (its descriptor is never closed, and not inherited: close-on-exec). First tried
    /// alone, without waiting: a run that gets it so prunes, then holds it shared. Taking a lock
    /// fails only on a file system without locks; the trees are then used without one, and never
    /// pruned.
    private func holdCache() {
        lockTaken.withLock { taken in
            guard !taken else { return }
            taken = true
            // Only in a root that is this user's alone (`repositoryFolder` says what is wrong with another).
            try? FileManager.default.createDirectory(atPath: cacheRoot, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            var info = stat()
            guard lstat(cacheRoot, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid(), info.st_mode & 0o022 == 0 else { return }
            let descriptor = open(cacheRoot + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard descriptor >= 0 else { return }
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { prune() }
            // From exclusive to shared (or taken now, waiting for a run that prunes); the
            // descriptor stays open until the process ends.
            while flock(descriptor, LOCK_SH) != 0 {
                guard errno == EINTR else {
                    close(descriptor)
                    return
                }
            }
        }
    }

    /// With the cache's lock held alone: every kept tree not used for `keepDays`, and staging
    /// folders older than a day (a run that stopped half-way), are removed, then folders left
    /// empty. Nothing is followed through a symbolic link.
    func prune() {
        let now = time(nil)
        let limit = now - time_t(keepDays * 86_400)
        // ROOT/SERVER/OWNER/REPO/ENTRY: an entry is a kept tree or a staging folder; the folders
        // above it go when left empty (`rmdir` fails on one that is not). The root's own files
        // (`.lock`) are not servers.
        func visit(_ path: String, depth: Int) {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where depth > 0 || !name.hasPrefix(".") {
                let child = path + "/" + name
                var info = stat()
                guard lstat(child, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { continue }
                if depth < 3 {
                    visit(child, depth: depth + 1)
                    rmdir(child)
                } else if RemoteActionReference.isCommitID(name) ? info.st_mtim.tv_sec < limit
                    : name.hasPrefix(".staging-") && info.st_mtim.tv_sec < now - 86_400
                {
                    try? FileManager.default.removeItem(atPath: child)
                }
            }
        }
        visit(cacheRoot, depth: 0)
    }

    /// git's reason in one line: its first `fatal:` or `error:` line (with what came before it on
    /// the message's first line, `exited 128: `), else the first line. The lines after it are
    /// advice ("Please make sure you have the correct access rights…") that broke the
    /// diagnostic's shape (audit 64 cli L14).
    static func firstLine(of message: String) -> String {
        let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = lines.first else { return message }
        if first.contains("fatal:") || first.contains("error:") { return first }
        if let reason = lines.first(where: { $0.hasPrefix("fatal:") || $0.hasPrefix("error:") }) {
            let lead = first.range(of: ": ").map { String(first[..<$0.upperBound]) } ?? ""
            return lead.hasPrefix("exited ") ? lead + reason : reason
        }
        return first
    }

    private func fetchFailure(_ reference: RemoteActionReference, url: String, _ error: EngineError) -> EngineError {
        EngineError(
            "cannot fetch the action '\(reference)' from \(Self.withoutCredentials(url)): \(hidingCredentials(Self.firstLine(of: error.message)))",
            hint: "check the repository's name and that '\(reference.ref)' is one of its branches, tags or commits; "
                + "actions come from \(shownURL) (--actions-url or NIXACTIONS_ACTIONS_URL names another server or a folder of repositories)")
    }

    /// The commit the server says `reference.ref` names, when its files are kept in `folder`; nil
    /// otherwise (not kept, or no such ref: the fetch says so). The ref is read as `git fetch`
    /// reads it (`refs/REF`, a tag, then a branch, …), an annotated tag as its commit.
    private func keptCommit(_ reference: RemoteActionReference, url: String, in folder: String,
                            deadline: ContinuousClock.Instant) throws(EngineError) -> String? {
        let listed = try git(["ls-remote", "--", url, reference.ref], in: folder, reference: reference, deadline: deadline)
        var refs: [Substring: Substring] = [:]
        for line in listed.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1)
            if fields.count == 2 { refs[fields[1]] = fields[0] }
        }
        let ref = reference.ref
        for name in [ref, "refs/" + ref, "refs/tags/" + ref, "refs/heads/" + ref, "refs/remotes/" + ref, "refs/remotes/" + ref + "/HEAD"] {
            guard let id = refs[Substring(name + "^{}")] ?? refs[Substring(name)] else { continue }
            let commit = String(id)
            return isDirectory(folder + "/" + commit) && commit.utf8.count == 40 ? commit : nil
        }
        return nil
    }

    /// `ROOT/SERVER/owner/repo`, made private; the root must be this user's and writable by no one
    /// else (another user could put files in an action that this one's jobs then run).
    private func repositoryFolder(_ reference: RemoteActionReference) throws(EngineError) -> String {
        // GitHub's names: letters, digits, '-', '_' and '.' (`.github` is a repository); here they
        // also name folders of the cache and of the job, and are part of a URL: never `.` or `..`.
        for part in [reference.owner, reference.repository]
        where part == "." || part == ".." || !part.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }) {
            throw EngineError("'\(reference)' is not an action on a git server: '\(part)' is not a repository or owner name",
                              hint: "owners and repositories are named with letters, digits, '-', '_' and '.'")
        }
        let folder = cacheRoot + "/" + serverFolder + "/" + reference.owner.lowercased() + "/" + reference.repository.lowercased()
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw EngineError("cannot make the actions' cache folder \(folder): \(error.localizedDescription)",
                              hint: "set XDG_CACHE_HOME to a folder you can write")
        }
        // Every folder from the root down is checked: one of them made by someone else, or open to
        // others, could be replaced under this user.
        var path = cacheRoot
        for part in [""] + [serverFolder, reference.owner.lowercased(), reference.repository.lowercased()] {
            if !part.isEmpty { path += "/" + part }
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw EngineError("the actions' cache folder \(path) is not a folder", hint: "remove it; nixactions makes it again")
            }
            if info.st_uid != geteuid() || info.st_mode & 0o022 != 0 {
                throw EngineError("the actions' cache folder \(path) belongs to another user or is writable by others",
                                  hint: "use a folder only you can write (chmod go-w, or set XDG_CACHE_HOME)")
            }
        }
        return folder
    }

    /// A private staging folder beside the kept trees (same file system, so `rename` moves it).
    /// Staging folders a stopped run left behind are removed first: older than an hour and than
    /// this run's fetch limit (so never one a fetch in progress still uses).
    private func makeStaging(in folder: String) throws(EngineError) -> String {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: folder) {
            for name in names where name.hasPrefix(".staging-") {
                var info = stat()
                if lstat(folder + "/" + name, &info) == 0, time(nil) - info.st_mtim.tv_sec > max(3600, fetchLimit.components.seconds + 600) {
                    try? FileManager.default.removeItem(atPath: folder + "/" + name)
                }
            }
        }
        var template = Array((folder + "/.staging-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw EngineError("cannot make a folder in \(folder): \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    @discardableResult
    private func git(_ arguments: [String], in directory: String, reference: RemoteActionReference, deadline: ContinuousClock.Instant,
                     create: String? = nil, onOutput: ((UnsafeRawBufferPointer) -> Bool)? = nil) throws(EngineError) -> String {
        if let create, mkdir(create, 0o700) != 0 {
            throw EngineError("cannot make \(create): \(String(cString: strerror(errno)))")
        }
        var environment = ProcessInfo.processInfo.environment
        for name in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                     "GIT_NAMESPACE", "GIT_COMMON_DIR", "GIT_CONFIG_PARAMETERS"]
        {
            environment.removeValue(forKey: name)
        }
        environment["GIT_TERMINAL_PROMPT"] = "0"  // a private repository fails instead of asking
        environment["GIT_ASKPASS"] = "/bin/false"
        environment["SSH_ASKPASS"] = "/bin/false"
        environment["GCM_INTERACTIVE"] = "never"
        environment["LC_ALL"] = "C"
        environment.merge(address.environment) { _, login in login }
        // A server that stops sending: git's own low-speed limit for http(s), and a deadline for every protocol.
        // No LFS download (GitHub's runner takes an action's files as its archive, pointers and all).
        let options = ["-c", "core.hooksPath=/dev/null", "-c", "http.lowSpeedLimit=1", "-c", "http.lowSpeedTime=60", "-c", "advice.detachedHead=false",
                       "-c", "filter.lfs.process=", "-c", "filter.lfs.smudge=", "-c", "filter.lfs.required=false"]
        let left = deadline - ContinuousClock.now
        guard left > .zero else {
            throw EngineError("git did not finish within \(DurationParser.format(fetchLimit)) (fetching '\(reference)')")
        }
        let outcome: HostCommand.Outcome
        do {
            if let onOutput {
                outcome = try HostCommand.stream(["git"] + options + arguments, environment: environment, directory: directory, limit: left,
                                                 onOutput: onOutput)
            } else {
                outcome = try HostCommand.run(["git"] + options + arguments, environment: environment, directory: directory, limit: left)
            }
        } catch {
            throw EngineError("cannot run git: \(error)", hint: "install git (apt-get install git)")
        }
        if outcome.expired {
            throw EngineError("git did not finish within \(DurationParser.format(fetchLimit)) (fetching '\(reference)')")
        }
        if let failure = outcome.failure { throw EngineError(failure) }
        return String(decoding: outcome.output, as: UTF8.self)
    }

    /// Once every fetch has ended: the folders of the failed ones (repository, owner, server) that
    /// are empty, so a repository that does not exist leaves no trace in the cache.
    public func removeEmptyFolders() {
        let server = cacheRoot + "/" + serverFolder
        for reference in failed.withLock({ $0 }) {
            let owner = server + "/" + reference.owner.lowercased()
            for path in [owner + "/" + reference.repository.lowercased(), owner, server] where rmdir(path) != 0 { break }
        }
    }

    private func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}
