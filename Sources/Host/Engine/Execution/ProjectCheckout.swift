import Foundation
import NixActionsProcessKit
import Synchronization

/// The project as jobs get it when it is a git repository: a clone made on this machine, once per
/// run and per set of checkout inputs, in the run's private folder (removed with the run), and
/// carried into each workspace by the executor's own project copy (`JobSpec.copySource`) or by
/// the `actions/checkout` step.
///
/// - `commit` (the default): a clone of the project's HEAD, as GitHub's checkout gives: one
///   commit deep, `git status` clean, uncommitted changes not included.
/// - `workingTree` (`--working-tree`, `checkout: working-tree` in `.nixactions/config.yml`): the
///   project folder as it is, with its `.git` and its uncommitted changes.
///
/// A project that is not the top folder of a git repository is copied as before, without `.git`.
public final class ProjectCheckout: Sendable {
    public enum Source: String, Sendable, CaseIterable {
        case commit
        case workingTree = "working-tree"
    }

    /// What a clone is made of (the inputs of `actions/checkout` that shape it).
    public struct Request: Hashable, Sendable {
        public enum Submodules: String, Sendable { case none = "false", top = "true", recursive }
        /// A branch, tag or commit of the project; nil: the project's HEAD.
        public var ref: String?
        /// Commits of history; 0: all history, every branch and tag.
        public var depth: Int = 1
        public var fetchTags = false
        public var submodules = Submodules.none
        /// Another repository (`OWNER/REPO`, actions/checkout's `repository`) and the server it is
        /// fetched from (a URL, or a folder of repositories); nil: the project's own.
        public var repository: String?
        public var server: String?
        /// actions/checkout's `sparse-checkout` patterns (empty: the whole tree) and
        /// `sparse-checkout-cone-mode` (folders, the default; else gitignore-like patterns).
        public var sparse: [String] = []
        public var sparseCone = true
        /// actions/checkout's `lfs`: Git LFS files checked out with their contents (else as the
        /// pointer files git holds).
        public var lfs = false

        public init(ref: String? = nil, depth: Int = 1, fetchTags: Bool = false, submodules: Submodules = .none) {
            self.ref = ref
            self.depth = depth
            self.fetchTags = fetchTags
            self.submodules = submodules
        }
    }

    /// The project folder (the top folder of its repository when `isRepository`).
    public let project: String
    public let source: Source
    /// Where clones go: a folder of the run's private folder.
    let folder: String
    /// Whether the project folder is the top folder of a git repository.
    public let isRepository: Bool
    private let clones = Mutex<[Request: Task<String, any Error>]>([:])
    private let serial = Atomic<Int>(0)

    /// A repository without any commit yet (`git init` and nothing committed): there is no commit
    /// to clone, so jobs get the working tree whatever was asked.
    public let hasNoCommit: Bool

    /// `repository`: what the run already read from `project`'s repository (its top folder and
    /// HEAD), which saves asking git again.
    public init(project: String, runDirectory: String, source: Source, repository: GitRepository? = nil) {
        self.project = project
        folder = runDirectory + "/checkout"
        if let repository, repository.directory == project {
            isRepository = repository.isRepository && !repository.topLevel.isEmpty && Self.real(repository.topLevel) == Self.real(project)
            hasNoCommit = isRepository && repository.sha.isEmpty
        } else if let top = try? Self.git(["rev-parse", "--show-toplevel"], in: project).trimmingCharacters(in: .whitespacesAndNewlines),
            !top.isEmpty, Self.real(top) == Self.real(project)
        {
            isRepository = true
            hasNoCommit = (try? Self.git(["rev-parse", "--verify", "--quiet", "HEAD"], in: project)) == nil
        } else {
            isRepository = false
            hasNoCommit = false
        }
        self.source = hasNoCommit ? .workingTree : source
    }

    /// The paths `git status` reports as changed or new (ignored files left out); empty when clean
    /// or not a repository. What the runner writes itself in `.nixactions/` (its logs, the run
    /// counter, files a Nix workflow wrote) is not a change of the project (audit 57 UX M1: the
    /// second run of a new project always said it had uncommitted changes).
    public func uncommittedChanges() -> [String] {
        guard isRepository, let text = try? Self.git(["status", "--porcelain", "--no-renames"], in: project) else { return [] }
        let own = Self.runnersOwn.map { ".nixactions/" + $0 }
        return text.split(separator: "\n").map { String($0.dropFirst(3)) }.filter { path in
            if own.contains(where: { path == $0 || path.hasPrefix($0 + "/") || path == $0 + "/" }) { return false }
            // `.nixactions/` untracked as a whole: a change only if it holds more than the runner's own.
            if path == ".nixactions/" {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: project + "/.nixactions")) ?? []
                return names.contains { !Self.runnersOwn.contains($0) }
            }
            return true
        }
    }

    /// What the runner itself writes in a project's `.nixactions/`.
    static let runnersOwn: Set<String> = ["runs", "run-number", "nix-files"]

    /// The project's HEAD commit, or nil.
    public func head() -> String? {
        guard isRepository else { return nil }
        return (try? Self.git(["rev-parse", "--verify", "--quiet", "HEAD"], in: project))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A clone for `request`, made on first use; the same folder for every job that asks the same.
    public func clone(_ request: Request) async throws -> String {
        let task = clones.withLock { all -> Task<String, any Error> in
            if let known = all[request] { return known }
            let number = serial.add(1, ordering: .relaxed).newValue
            let destination = folder + "/\(number)"
            let made = Task.detached { [self] in
                try await Self.offThread { try self.make(request, at: destination) }
            }
            all[request] = made
            return made
        }
        return try await Self.value(of: task)
    }

    // MARK: Making a clone

    /// What a ref of the project names.
    enum Target {
        /// `local`: a branch of the project (refs/heads); else one of its `origin` remote.
        case branch(String, sha: String, local: Bool = true)
        case tag(String, sha: String)
        case commit(String)
    }

    func resolve(_ ref: String?) throws -> Target {
        func sha(_ name: String) -> String? {
            let text = try? Self.git(["rev-parse", "--verify", "--quiet", name + "^{commit}"], in: project)
            return text.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        guard let ref else {
            guard let head = sha("HEAD") else {
                throw EngineError("the project's git repository has no commit yet", hint: "commit something, or run with --working-tree")
            }
            let branch = (try? Self.git(["symbolic-ref", "--quiet", "--short", "HEAD"], in: project))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if !branch.isEmpty { return .branch(branch, sha: head) }
            // A detached HEAD at a tag is a tag push (github.ref refs/tags/X, the same rule):
            // checkout's default ref is github.ref, so the tag is fetched and checked out, and
            // `git describe` finds it (audit 53: a bare commit, no tag).
            let tag = (try? Self.git(["describe", "--tags", "--exact-match", "HEAD"], in: project))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            return tag.isEmpty ? .commit(head) : .tag(tag, sha: head)
        }
        var name = ref
        if name.hasPrefix("refs/heads/") { name.removeFirst("refs/heads/".count) }
        if let found = sha("refs/heads/" + name) { return .branch(name, sha: found) }
        var tag = ref
        if tag.hasPrefix("refs/tags/") { tag.removeFirst("refs/tags/".count) }
        if let found = sha("refs/tags/" + tag) { return .tag(tag, sha: found) }
        if let found = sha("refs/remotes/origin/" + name) { return .branch(name, sha: found, local: false) }
        if ref.count >= 4, ref.allSatisfy(\.isHexDigit), let found = sha(ref) { return .commit(found) }
        // Any other full ref name of the project (refs/remotes/upstream/x, refs/pull/1/head): its commit.
        if ref.hasPrefix("refs/"), let found = sha(ref) { return .commit(found) }
        let branches = ((try? Self.git(["for-each-ref", "--format=%(refname:short)", "--count=8", "refs/heads"], in: project)) ?? "")
            .split(separator: "\n").joined(separator: ", ")
        throw EngineError("ref '\(ref)' is not a branch, tag or commit of the project's repository",
                          hint: "use a branch (\(branches.isEmpty ? "none yet" : branches)), a tag or a commit sha of \(project)")
    }

    /// `origin`'s push address in a clone of the project: a path that is no repository, whose name
    /// git's error quotes.
    static let refusedPushURL = "/dev/null/nixactions: a run does not push to the project's repository"

    func make(_ request: Request, at destination: String) throws -> String {
        if let repository = request.repository {
            return try makeOther(request, repository: repository, server: request.server ?? RemoteActionStore.defaultBaseURL, at: destination)
        }
        let target = try resolve(request.ref)
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        let url = "file://" + project
        try Self.git(["init", "--quiet", destination], in: folder)
        try Self.git(["remote", "add", "origin", url], in: destination)
        // A step's `git push` (a release job's tag, a bot's commit) must not write into the
        // user's own repository, which `origin` is here (audit 53: it made a branch and a tag
        // there). Every push to the project's address, through `origin` or written out (`git push
        // "$(git remote get-url origin)"`), is sent to a path that is no repository, whose name
        // git's error quotes; `git remote set-url origin URL` then pushing still reaches URL
        // (review 53: a pushurl did not let it, and missed the written-out address).
        for address in [url, project] {
            try Self.git(["config", "--add", "url.\(Self.refusedPushURL).pushInsteadOf", address], in: destination)
        }
        let (fetch, refspecs) = Self.fetchArguments(target, request) { name, sha in "+\(sha):refs/remotes/origin/\(name)" }
        try Self.git(fetch + ["origin"] + refspecs, in: destination)
        if request.lfs {
            try Self.fetchLFS(target, in: destination, sparse: !request.sparse.isEmpty, from: "the project's repository",
                              hint: "its LFS files come from the project's own .git/lfs: fetch them there first (git lfs fetch, in \(project))")
        }
        try sparseCheckout(request, in: destination)
        try Self.checkOut(target, in: destination, lfs: request.lfs)
        if request.submodules != .none {
            try updateSubmodules(in: destination, from: project, recursive: request.submodules == .recursive)
        }
        return destination
    }

    /// A clone of another repository, `SERVER/OWNER/REPO`, as actions/checkout makes it: `ref` (a
    /// branch, then a tag, a full ref name or a commit id; nil: the repository's default branch)
    /// asked of the server with `git ls-remote`, then fetched `depth` commits deep (0: every branch
    /// and tag) and checked out; submodules from their own URLs. A login in the server's address
    /// goes to git through its environment (`GitAddress`): never on a command line nor in the
    /// clone's `.git/config`, whose `origin` is the address without it.
    func makeOther(_ request: Request, repository: String, server: String, at destination: String) throws -> String {
        // The login of the server's address reaches git through its environment, never its command line.
        let address = GitAddress(server)
        let login = address.environment
        let url = address.url + "/" + repository
        let shownServer = RemoteActionStore.withoutCredentials(server)
        func failing(_ body: () throws -> String) throws -> String {
            do {
                return try body()
            } catch let error as EngineError {
                throw EngineError("cannot check out \(repository) from \(url): " + RemoteActionStore.hidingCredentials(error.message, of: server),
                                  hint: "check the repository's name and ref; repositories come from \(shownServer) "
                                      + "(the input github-server-url, else --actions-url or NIXACTIONS_ACTIONS_URL)")
            }
        }
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        let target: Target
        if let ref = request.ref, ref.utf8.count == 40, ref.allSatisfy(\.isHexDigit) {
            target = .commit(ref.lowercased())
        } else {
            let listed = try failing {
                try Self.git(["ls-remote", "--symref", "--", url] + (request.ref.map { [$0] } ?? ["HEAD"]), in: destination, login: login,
                             limitSeconds: Self.askLimitSeconds)
            }
            var refs: [String: String] = [:]
            var head: String?
            for line in listed.split(separator: "\n") {
                let fields = line.split(separator: "\t", maxSplits: 1).map(String.init)
                guard fields.count == 2 else { continue }
                if fields[0].hasPrefix("ref: "), fields[1] == "HEAD" { head = String(fields[0].dropFirst(5)) } else { refs[fields[1]] = fields[0] }
            }
            func found(_ name: String) -> String? { refs[name + "^{}"] ?? refs[name] }
            if let ref = request.ref {
                var branch = ref
                if branch.hasPrefix("refs/heads/") { branch.removeFirst("refs/heads/".count) }
                var tag = ref
                if tag.hasPrefix("refs/tags/") { tag.removeFirst("refs/tags/".count) }
                if let sha = found("refs/heads/" + branch) {
                    target = .branch(branch, sha: sha)
                } else if let sha = found("refs/tags/" + tag) {
                    target = .tag(tag, sha: sha)
                } else if ref.hasPrefix("refs/"), let sha = found(ref) {
                    target = .commit(sha)
                } else {
                    throw EngineError("ref '\(ref)' is not a branch or tag of \(repository) on \(shownServer)",
                                      hint: "use one of its branches or tags, or a full commit id (40 hex digits)")
                }
            } else if let head, head.hasPrefix("refs/heads/"), let sha = refs["HEAD"] {
                target = .branch(String(head.dropFirst("refs/heads/".count)), sha: sha)
            } else if let sha = refs["HEAD"] {
                target = .commit(sha)
            } else {
                throw EngineError("\(repository) on \(shownServer) has no default branch (an empty repository?)",
                                  hint: "give a ref")
            }
        }
        try Self.git(["init", "--quiet", destination], in: folder)
        try Self.git(["remote", "add", "origin", url], in: destination)
        let (fetch, refspecs) = Self.fetchArguments(target, request) { name, _ in "+refs/heads/\(name):refs/remotes/origin/\(name)" }
        _ = try failing { try Self.git(fetch + ["--", url] + refspecs, in: destination, login: login) }
        if request.lfs {
            if address.isFolder {
                // Git LFS reads a repository of a folder through a file:// URL of the repository
                // itself (OWNER/REPO.git or OWNER/REPO), which git finds from the path alone.
                var isFolder: ObjCBool = false
                let bare = FileManager.default.fileExists(atPath: url + ".git", isDirectory: &isFolder) && isFolder.boolValue
                try Self.git(["config", "lfs.url", "file://" + Self.real(bare ? url + ".git" : url)], in: destination)
            }
            try Self.fetchLFS(target, in: destination, sparse: !request.sparse.isEmpty, from: "\(repository) on \(shownServer)",
                              login: login, secret: server,
                              hint: "the server must keep the repository's LFS files (a folder of repositories: in each one's .git/lfs)")
        }
        try sparseCheckout(request, in: destination)
        try Self.checkOut(target, in: destination, lfs: request.lfs, login: login)
        if request.submodules != .none, FileManager.default.fileExists(atPath: destination + "/.gitmodules") {
            // Relative submodule URLs resolve against origin, so the login (scoped to that server)
            // works for them too; from a folder of repositories git needs the file protocol allowed.
            _ = try failing {
                try Self.git((address.isFolder ? ["-c", "protocol.file.allow=always"] : [])
                                 + ["submodule", "update", "--init", "--quiet", "--force", "--checkout"]
                                 + (request.submodules == .recursive ? ["--recursive"] : []), in: destination, login: login)
            }
        }
        return destination
    }

    /// `git fetch` and its options, and the refspecs, for `target` as `request` asks: `depth`
    /// commits (with the tags when `fetchTags`), or all history, every branch and every tag, as
    /// GitHub's `fetch-depth: 0` (a branch or tag is among these; a commit, or a branch not of the
    /// project's own, is fetched as well: it may be on none). `branch(name, sha)` is the refspec
    /// that fetches a branch.
    static func fetchArguments(_ target: Target, _ request: Request, branch: (String, String) -> String) -> (fetch: [String], refspecs: [String]) {
        var refspecs: [String]
        switch target {
        case .branch(let name, let sha, _): refspecs = [branch(name, sha)]
        case .tag(let name, _): refspecs = ["+refs/tags/\(name):refs/tags/\(name)"]
        case .commit(let sha): refspecs = [sha]
        }
        var fetch = ["fetch", "--quiet", "--no-recurse-submodules"]
        if request.depth > 0 {
            fetch.append("--depth=\(request.depth)")
            if request.fetchTags { refspecs.append("+refs/tags/*:refs/tags/*") } else { fetch.append("--no-tags") }
            return (fetch, refspecs)
        }
        let all = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        switch target {
        case .branch(_, _, local: false), .commit: return (fetch, all + refspecs)
        case .branch, .tag: return (fetch, all)
        }
    }

    /// Check out what was fetched: a branch as that branch (tracking `origin/NAME`), a tag or a
    /// commit detached, as GitHub does.
    /// With `lfs`, Git LFS files get their contents (fetched before by `fetchLFS`).
    static func checkOut(_ target: Target, in destination: String, lfs: Bool = false, login: [String: String] = [:]) throws {
        switch target {
        case .branch(let name, _, _):
            try git(["checkout", "--quiet", "--force", "-B", name, "refs/remotes/origin/\(name)"], in: destination, login: login, lfs: lfs)
        case .tag(let name, _):
            try git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--force", "refs/tags/\(name)"], in: destination, login: login, lfs: lfs)
        case .commit(let sha):
            try git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--force", "--detach", sha], in: destination, login: login, lfs: lfs)
        }
    }

    /// The fetched name of `target` in a clone: what `checkOut` checks out.
    static func fetchedName(_ target: Target) -> String {
        switch target {
        case .branch(let name, _, _): "refs/remotes/origin/\(name)"
        case .tag(let name, _): "refs/tags/\(name)"
        case .commit(let sha): sha
        }
    }

    /// Git LFS in a clone, as actions/checkout sets it up for `lfs: true`: `git lfs install
    /// --local` (its filter in the clone's `.git/config` and its hooks in `.git/hooks`, so that
    /// `git status` and `git push` in the workspace work as on GitHub), then the LFS files of the
    /// fetched commit fetched from `origin` into `.git/lfs` (from a folder or a `file://` origin,
    /// git lfs reads the other repository's `.git/lfs`; from a server, its LFS API). Git LFS must
    /// be installed on this machine. A sparse checkout fetches none beforehand: the checkout's
    /// filter fetches those of the files it writes (actions/checkout: "for sparse checkouts, let
    /// checkout fetch the needed objects lazily").
    static func fetchLFS(_ target: Target, in destination: String, sparse: Bool = false, from source: String, login: [String: String] = [:],
                         secret server: String? = nil, hint: String) throws {
        do {
            try git(["lfs", "version"], in: destination)
        } catch {
            throw EngineError("lfs: true needs Git LFS on this machine (git lfs is not installed)",
                              hint: "install it (apt-get install git-lfs), or remove lfs: true")
        }
        // `git lfs install` puts its hooks where core.hooksPath says: the clone's own, not nowhere.
        try git(["-c", "core.hooksPath=\(destination)/.git/hooks", "lfs", "install", "--local"], in: destination)
        if sparse { return }
        do {
            try git(["lfs", "fetch", "origin", fetchedName(target)], in: destination, login: login, lfs: true)
        } catch let error as EngineError {
            let said = server.map { RemoteActionStore.hidingCredentials(error.message, of: $0) } ?? error.message
            throw EngineError("cannot fetch the Git LFS files of the checkout from \(source): \(said)", hint: hint)
        }
    }

    /// A sparse checkout, as actions/checkout makes it: the patterns set before the commit is
    /// checked out, so only their files are in the folder (`git status` clean).
    func sparseCheckout(_ request: Request, in destination: String) throws {
        guard !request.sparse.isEmpty else { return }
        do {
            try Self.git(["sparse-checkout", "set", request.sparseCone ? "--cone" : "--no-cone", "--"] + request.sparse, in: destination)
        } catch let error as EngineError {
            throw EngineError("the sparse checkout of \(request.sparse.joined(separator: ", ")) failed: \(error.message)",
                              hint: request.sparseCone ? "in cone mode (the default) each pattern is a folder: src, docs/api"
                                  : "without cone mode the patterns are as in .gitignore: /*, !/docs/")
        }
    }

    /// Check out the submodules of the clone `clone` from the project's own copies of them
    /// (`project/PATH`, whose repository the project already holds), so that no network is needed
    /// and the commits the project records are there; a submodule the project has not initialised
    /// is fetched from the URL in `.gitmodules`.
    func updateSubmodules(in clone: String, from project: String, recursive: Bool) throws {
        guard FileManager.default.fileExists(atPath: clone + "/.gitmodules") else { return }
        let listed = (try? Self.git(["config", "--file", ".gitmodules", "--get-regexp", #"^submodule\..*\.path$"#], in: clone)) ?? ""
        try Self.git(["submodule", "init"], in: clone)
        var paths: [String] = []
        for line in listed.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = String(parts[0])
            let name = String(key.dropFirst("submodule.".count).dropLast(".path".count))
            let path = String(parts[1])
            paths.append(path)
            let local = project + "/" + path
            if let top = try? Self.git(["rev-parse", "--show-toplevel"], in: local).trimmingCharacters(in: .whitespacesAndNewlines),
                Self.real(top) == Self.real(local)
            {
                try Self.git(["config", "submodule.\(name).url", "file://" + local], in: clone)
            }
        }
        try Self.git(["-c", "protocol.file.allow=always", "submodule", "update", "--quiet", "--force", "--checkout"], in: clone)
        if recursive {
            for path in paths { try updateSubmodules(in: clone + "/" + path, from: project + "/" + path, recursive: true) }
        }
    }

    // MARK: Running git

    /// How long a question to a server (`ls-remote`: no bulk data) may take: one that takes the
    /// connection and never answers (a `git://` or `ssh://` server, where git has no time limit of
    /// its own) is given up (audit 60 hangs M1: it waited for the job's 6 hours).
    /// 120 s, or `NIXACTIONS_GIT_ASK_SECONDS` (1 to 3600).
    static let askLimitSeconds = Int(EnvironmentSeconds.read("NIXACTIONS_GIT_ASK_SECONDS", allowed: 1...3600)?.components.seconds ?? 120)

    /// `git ARGUMENTS` in `directory`; its standard output, or an error with its standard error.
    /// `limitSeconds`: the most it may take (`askLimitSeconds` for a question to a server).
    @discardableResult
    static func git(_ arguments: [String], in directory: String, login: [String: String] = [:], lfs: Bool = false,
                    limitSeconds: Int? = nil) throws -> String {
        var environment = ProcessInfo.processInfo.environment.merging(login) { _, given in given }
        // Git LFS's smudge filter, with `lfs`, gives contents whatever the caller's environment says.
        environment.removeValue(forKey: "GIT_LFS_SKIP_SMUDGE")
        // A variable of the caller's own git (a hook, a worktree) must not redirect this one.
        for name in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                     "GIT_NAMESPACE", "GIT_COMMON_DIR"]
        {
            environment.removeValue(forKey: name)
        }
        // Another repository's server: a private one fails instead of asking for a password.
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment["GIT_ASKPASS"] = "/bin/false"
        environment["SSH_ASKPASS"] = "/bin/false"
        environment["GCM_INTERACTIVE"] = "never"
        let git: HostCommand.Outcome
        do {
            // No hook of the user's configuration (core.hooksPath) runs in the clones; a server
            // that stops sending is given up after a minute (http); no LFS download unless `lfs`
            // (then the clone's own filter, from `fetchLFS`).
            let noLFS = lfs ? [] : ["-c", "filter.lfs.process=", "-c", "filter.lfs.smudge=", "-c", "filter.lfs.required=false"]
            git = try HostCommand.run(["git", "-c", "core.hooksPath=/dev/null", "-c", "http.lowSpeedLimit=1", "-c", "http.lowSpeedTime=60"]
                                          + noLFS + arguments,
                                      environment: environment, directory: directory, limit: limitSeconds.map { .seconds($0) })
        } catch {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue else {
                throw EngineError("cannot run git in \(directory): there is no such folder")
            }
            throw EngineError("cannot run git: \(error)", hint: "install git (apt-get install git)")
        }
        if git.expired, let limitSeconds {
            throw EngineError("git \(arguments.first ?? "") did not finish within \(limitSeconds) s: the server took the connection and did not answer")
        }
        if let failure = git.failure {
            throw EngineError("git \(arguments.joined(separator: " ")) (in \(directory)) \(failure)")
        }
        return String(decoding: git.output, as: UTF8.self)
    }

    /// What a run's cache entries belong to (`RunOptions.cacheScope`): the repository its `origin`
    /// names (host and path, lower-cased; never the URL as written, which may hold a login), so
    /// clones of one repository share their caches as on GitHub; else the project's folder.
    public static func cacheScope(project: String, origin: String) -> String {
        if let remote = RemoteLocation.parse(origin) { return "repository " + (remote.host + "/" + remote.fullName).lowercased() }
        return "folder " + real(project)
    }

    public static func real(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Run blocking work (git processes) on a thread of its own, not on the cooperative pool.
    /// The host commands it starts end when the calling task is cancelled (`HostCommand.Scope`):
    /// a job's time limit reaches a `git` that waits on the network.
    static func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let scope = HostCommand.Scope()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(with: Result { try HostCommand.currentScope.with(scope) { try work() } })
                }
            }
        } onCancel: {
            scope.cancel()
        }
    }

    /// `task`'s value, or CancellationError as soon as the calling task is cancelled: a job whose
    /// time limit comes while it waits for a clone other jobs share stops waiting (the clone goes
    /// on for them, and ends with the run).
    static func value<T: Sendable>(of task: Task<T, any Error>) async throws -> T {
        let waiting = Waiting<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiting.slot.withLock { $0 = continuation }
                Task {
                    let result: Result<T, any Error>
                    do { result = .success(try await task.value) } catch { result = .failure(error) }
                    waiting.resume(with: result)
                }
                if Task.isCancelled { waiting.resume(with: .failure(CancellationError())) }
            }
        } onCancel: {
            waiting.resume(with: .failure(CancellationError()))
        }
    }

    /// A continuation resumed once, by whichever comes first.
    final class Waiting<T: Sendable>: Sendable {
        let slot = Mutex<CheckedContinuation<T, any Error>?>(nil)
        func resume(with result: Result<T, any Error>) { slot.withLock { $0.take() }?.resume(with: result) }
    }
}
