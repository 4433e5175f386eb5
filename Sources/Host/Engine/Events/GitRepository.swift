import Foundation
import NixActionsProcessKit
import Synchronization

/// What a run learns from the project's git repository, read once by running `git` (read-only:
/// `rev-parse`, `log`, `config --get`, `diff` between commits; `GIT_OPTIONAL_LOCKS=0`). Every field
/// is empty when the folder is not a repository, git is missing, or the repository has no commit.
public struct GitRepository: Sendable {
    public struct Person: Sendable, Equatable {
        public var name: String
        public var email: String
    }

    public struct Commit: Sendable, Equatable {
        public var sha: String
        public var message: String
        /// ISO 8601 with the offset, as GitHub's payloads write it.
        public var timestamp: String
        public var author: Person
        public var committer: Person
        /// The paths it added, removed and modified (a merge: against its first parent).
        public var changes = FileChanges()
    }

    /// The folder `git` ran in.
    public var directory: String
    /// Whether `directory` is in a work tree.
    public var isRepository = false
    /// The work tree's top folder ("" outside a repository).
    public var topLevel = ""
    /// HEAD's commit ("" before the first commit).
    public var sha = ""
    /// The current branch ("" when HEAD is detached).
    public var branch = ""
    /// A tag pointing at HEAD when HEAD is detached ("" otherwise).
    public var tag = ""
    /// `remote.origin.url` ("" without an origin).
    public var originURL = ""
    /// `user.name` and `user.email` from git's configuration.
    public var userName = ""
    public var userEmail = ""
    /// origin's HEAD (`refs/remotes/origin/HEAD`), else `main` or `master` when such a branch exists, else "".
    public var defaultBranch = ""
    /// The branch HEAD's branch tracks, as a commit ("" without one).
    public var upstreamSHA = ""

    public init(directory: String) { self.directory = directory }

    /// Read `directory`'s repository (never fails: a folder that is not a repository gives empty fields).
    public static func read(at directory: String) -> GitRepository {
        var repository = GitRepository(directory: directory)
        guard mayBeInWorkTree(directory) else { return repository }
        // One process per question git cannot answer together (each costs a few milliseconds).
        let location = run(["rev-parse", "--is-inside-work-tree", "--show-toplevel"], in: directory)?.split(separator: "\n") ?? []
        guard location.first == "true" else { return repository }
        repository.isRepository = true
        repository.topLevel = location.count > 1 ? String(location[1]) : ""
        // The next four questions do not depend on each other: asked concurrently, as many at
        // once as there are cores (each git is a process of a few milliseconds, and a run waits
        // for all of them before it starts).
        let questions: [(arguments: [String], trim: Bool)] = [
            (["rev-parse", "--verify", "-q", "HEAD"], true),
            (["symbolic-ref", "--short", "-q", "HEAD"], true),
            (["config", "--null", "--get-regexp", "^(remote\\.origin\\.url|user\\.name|user\\.email)$"], false),
            (["for-each-ref", "--format=%(refname) %(symref)", "refs/remotes/origin/HEAD", "refs/heads/main", "refs/heads/master"], true),
        ]
        let answers = Mutex<[String?]>(Array(repeating: nil, count: questions.count))
        DispatchQueue.concurrentPerform(iterations: questions.count) { index in
            let answer = run(questions[index].arguments, in: directory, trim: questions[index].trim)
            answers.withLock { $0[index] = answer }
        }
        let answered = answers.withLock { $0 }
        repository.sha = answered[0] ?? ""
        repository.branch = answered[1] ?? ""
        if repository.branch.isEmpty, !repository.sha.isEmpty {
            repository.tag = run(["describe", "--tags", "--exact-match", "HEAD"], in: directory) ?? ""
        }
        for line in (answered[2] ?? "").split(separator: "\0") {
            let parts = line.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "remote.origin.url": repository.originURL = String(parts[1])
            case "user.name": repository.userName = String(parts[1])
            case "user.email": repository.userEmail = String(parts[1])
            default: break
            }
        }
        // origin's HEAD (a symbolic ref to its default branch), else a main or master branch.
        var refs: [String: String] = [:]
        for line in (answered[3] ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            refs[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        if let target = refs["refs/remotes/origin/HEAD"], target.hasPrefix("refs/remotes/origin/") {
            repository.defaultBranch = String(target.dropFirst("refs/remotes/origin/".count))
        } else {
            repository.defaultBranch = refs["refs/heads/main"] != nil ? "main" : refs["refs/heads/master"] != nil ? "master" : ""
        }
        if !repository.branch.isEmpty {
            repository.upstreamSHA = run(["rev-parse", "--verify", "-q", "\(repository.branch)@{upstream}"], in: directory) ?? ""
        }
        return repository
    }

    /// False when `directory` cannot be in a git work tree: no `.git` in it or any folder above,
    /// and no `GIT_DIR` or `GIT_WORK_TREE` telling git otherwise (how git itself finds a work tree).
    /// Saves starting git outside repositories.
    static func mayBeInWorkTree(_ directory: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if environment["GIT_DIR"] != nil || environment["GIT_WORK_TREE"] != nil { return true }
        // From the real path, as git walks up from the real current folder.
        guard let real = realpath(directory, nil) else { return true }
        var folder = String(cString: real)
        free(real)
        while true {
            if access(folder + (folder.hasSuffix("/") ? "" : "/") + ".git", F_OK) == 0 { return true }
            if folder == "/" { return false }
            folder = PathText.parent(folder)
        }
    }

    /// `git rev-parse --verify REF^{commit}`, or nil.
    public func resolve(_ reference: String) -> String? {
        guard isRepository, !reference.isEmpty else { return nil }
        return Self.run(["rev-parse", "--verify", "-q", "\(reference)^{commit}"], in: directory)
    }

    /// The parent of `sha`, or nil (a first commit).
    public func parent(of sha: String) -> String? { resolve("\(sha)~1") }

    /// `git merge-base a b`, or nil.
    public func mergeBase(_ a: String, _ b: String) -> String? {
        guard isRepository, !a.isEmpty, !b.isEmpty else { return nil }
        return Self.run(["merge-base", a, b], in: directory)
    }

    /// GitHub's push webhook holds at most 2,048 commits (the 20 of its docs apply to timeline
    /// events only, not to the payload a workflow gets).
    public static let pushCommitsLimit = 2048

    /// The commits in `from..to` (newest last; the newest `limit` of them), or just `to` when
    /// `from` is empty, with the paths each changed (renames as a removal and an addition, as
    /// GitHub's push payload lists them): one `git log`.
    public func commits(from: String, to: String, limit: Int = pushCommitsLimit) -> [Commit] {
        guard isRepository, !to.isEmpty else { return [] }
        let range = from.isEmpty ? ["-1", to] : ["\(from)..\(to)"]
        // Each commit: RS, its fields each ended by US, then NUL and its `--name-status -z` pairs.
        let format = "--format=%x1e%H%x1f%an%x1f%ae%x1f%cn%x1f%ce%x1f%aI%x1f%B%x1f"
        let arguments = ["log", "--reverse", "--max-count=\(limit)", format, "--name-status", "--no-renames", "-z", "--root", "--diff-merges=first-parent"]
        guard let text = Self.run(arguments + range, in: directory, trim: false) else { return [] }
        return text.split(separator: "\u{1e}").compactMap { record in
            guard let end = record.lastIndex(of: "\u{1f}") else { return nil }
            let fields = record[..<end].split(separator: "\u{1f}", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 7 else { return nil }
            var commit = Commit(sha: fields[0], message: fields[6].trimmingCharacters(in: .newlines), timestamp: fields[5],
                                author: Person(name: fields[1], email: fields[2]), committer: Person(name: fields[3], email: fields[4]))
            let pairs = record[record.index(after: end)...].split(separator: "\0").map { $0.trimmingCharacters(in: .newlines) }.filter { !$0.isEmpty }
            var index = 0
            while index + 1 < pairs.count {
                switch pairs[index].first {
                case "A": commit.changes.added.append(pairs[index + 1])
                case "D": commit.changes.removed.append(pairs[index + 1])
                default: commit.changes.modified.append(pairs[index + 1])  // M, T (a type change)
                }
                index += 2
            }
            return commit
        }
    }

    /// How many commits `to` has that `from` has not (`git rev-list --count from..to`), or nil.
    public func commitCount(from: String, to: String) -> Int? {
        guard isRepository, !from.isEmpty, !to.isEmpty else { return nil }
        return Self.run(["rev-list", "--count", "\(from)..\(to)"], in: directory).flatMap { Int($0) }
    }

    /// The commit `sha` (nil when it cannot be read).
    public func commit(_ sha: String) -> Commit? { commits(from: "", to: sha).first }

    /// What one commit did to which paths.
    public struct FileChanges: Sendable, Equatable {
        public var added: [String] = []
        public var removed: [String] = []
        public var modified: [String] = []
    }

    /// Files changed from `from` to `to` (since their merge base; `from` empty: the files of `to`'s own change).
    public func changedFiles(from: String, to: String) -> [String]? {
        guard isRepository, !to.isEmpty else { return nil }
        let arguments = from.isEmpty ? ["diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--root", to]
            : ["diff", "--name-only", "-z", "\(from)...\(to)"]  // from the merge base, as GitHub's compare
        guard let text = Self.run(arguments, in: directory, trim: false) else { return nil }
        return text.split(separator: "\0").map(String.init).filter { !$0.isEmpty }
    }

    /// Run `git ARGUMENTS` in `directory`: its output (trimmed), or nil when it failed or git is missing.
    static func run(_ arguments: [String], in directory: String, trim: Bool = true) -> String? {
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_OPTIONAL_LOCKS"] = "0"
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment["LC_ALL"] = "C"
        guard let git = try? HostCommand.run(["git", "-C", directory] + arguments, environment: environment), git.failure == nil,
              let text = String(validating: git.output, as: UTF8.self) else { return nil }
        let result = trim ? text.trimmingCharacters(in: .whitespacesAndNewlines) : text
        return trim && result.isEmpty ? nil : result
    }
}

/// Where a repository lives, from its `origin` URL: `https://host/owner/name(.git)`,
/// `ssh://git@host[:port]/owner/name.git`, `git@host:owner/name.git`, `git://host/owner/name`.
public struct RemoteLocation: Sendable, Equatable {
    public var host: String
    public var owner: String
    public var name: String
    /// `https` or `http` when the remote says so (an ssh remote's web server is https).
    public var scheme: String = "https"
    /// The port of an http(s) remote ("" for the default).
    public var port: String = ""

    public init(host: String, owner: String, name: String, scheme: String = "https", port: String = "") {
        self.host = host
        self.owner = owner
        self.name = name
        self.scheme = scheme
        self.port = port
    }

    public var fullName: String { "\(owner)/\(name)" }
    public var isGitHubDotCom: Bool { host.lowercased() == "github.com" || host.lowercased() == "www.github.com" }
    public var serverURL: String { isGitHubDotCom ? "https://github.com" : "\(scheme)://\(host)\(port.isEmpty ? "" : ":\(port)")" }
    /// GitHub's API, or GitHub Enterprise Server's (`/api/v3`) on another host.
    public var apiURL: String { isGitHubDotCom ? "https://api.github.com" : serverURL + "/api/v3" }
    public var graphqlURL: String { isGitHubDotCom ? "https://api.github.com/graphql" : serverURL + "/api/graphql" }

    /// Parse a remote URL; nil for a local path or anything without a host and an owner/name path.
    public static func parse(_ url: String) -> RemoteLocation? {
        var text = url.trimmingCharacters(in: .whitespaces)
        var scheme = "https", host = "", port = "", path = ""
        if let range = text.range(of: "://") {
            let given = text[..<range.lowerBound].lowercased()
            text = String(text[range.upperBound...])
            guard let slash = text.firstIndex(of: "/") else { return nil }
            var authority = String(text[..<slash])
            path = String(text[slash...])
            if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
            if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
                port = String(authority[authority.index(after: colon)...])
                authority = String(authority[..<colon])
            }
            host = authority
            if given == "http" { scheme = "http" }
            // An ssh or git port is not the web server's.
            if given != "http" && given != "https" { port = "" }
            if given == "file" { return nil }
        } else if let colon = text.firstIndex(of: ":"), !text[..<colon].contains("/") {
            // scp-like: [user@]host:owner/name.git
            var authority = String(text[..<colon])
            if let at = authority.lastIndex(of: "@") { authority = String(authority[authority.index(after: at)...]) }
            host = authority
            path = String(text[text.index(after: colon)...])
        } else {
            return nil
        }
        let parts = path.split(separator: "/").map(String.init)
        guard !host.isEmpty, parts.count >= 2 else { return nil }
        var name = parts[parts.count - 1]
        if name.hasSuffix(".git") { name = String(name.dropLast(4)) }
        let owner = parts[parts.count - 2]
        guard !name.isEmpty, !owner.isEmpty else { return nil }
        return RemoteLocation(host: host, owner: owner, name: name, scheme: scheme, port: port)
    }
}
