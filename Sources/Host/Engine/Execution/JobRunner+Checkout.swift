import Foundation
import NixActionsProcessKit
import NixActionsPluginMessages
import Synchronization

/// `actions/checkout` and the project copy of a job whose project is a git repository
/// (`ProjectCheckout`; docs/workflow-syntax.md#actionscheckout).
extension JobRunner {
    /// The inputs of `actions/checkout` and what NixActions does with each.
    enum CheckoutInput: Equatable {
        /// Honoured.
        case honoured
        /// Accepted and not needed here (a warning says why).
        case unused(String)
    }

    static let checkoutInputs: [String: CheckoutInput] = {
        let credentials = CheckoutInput.unused(
            "not used: NixActions reads the project's repository from this machine, and another repository from its server with "
                + "the credentials of that server's address (--actions-url), and persists none")
        return [
            "ref": .honoured, "path": .honoured, "fetch-depth": .honoured, "clean": .honoured, "submodules": .honoured,
            "fetch-tags": .honoured, "lfs": .honoured, "show-progress": .honoured, "set-safe-directory": .honoured,
            // checkout v5.1's opt-in to a fork's code under pull_request_target: the project here
            // is this machine's own, so it has nothing to guard; accepted as the file says.
            "allow-unsafe-pr-checkout": .honoured,
            "token": credentials, "ssh-key": credentials, "ssh-known-hosts": credentials, "ssh-strict": credentials,
            "ssh-user": credentials, "persist-credentials": credentials,
            "repository": .honoured, "github-server-url": .honoured,
            "sparse-checkout": .honoured, "sparse-checkout-cone-mode": .honoured,
            // A partial clone saves the network; here the clone is made on this machine and the
            // job gets a copy, which must work where no lazy fetch can reach the origin.
            "filter": .unused("not used: the checkout holds every object of the fetched commits (no partial clone is made)"),
        ]
    }()

    /// Whether an input NixActions does not use asks for what it does anyway, so no warning is
    /// due: `persist-credentials: false` (no credential is persisted here; the hardening most
    /// workflows carry) and `token` as GitHub's default, the run's own token.
    static func checkoutAsDone(_ name: String, _ value: String) -> Bool {
        let text = String(value.lowercased().filter { !$0.isWhitespace })
        switch name {
        case "persist-credentials": return text == "false"
        case "token": return text == "${{github.token}}" || text == "${{secrets.github_token}}"
        default: return false
        }
    }

    /// A problem with the value of a checkout input, when its value is known (not an expression).
    static func checkoutValueProblem(_ name: String, _ value: String) -> (message: String, hint: String)? {
        let text = value.trimmingCharacters(in: .whitespaces)
        // Empty is the input's default, as actions/checkout reads it (`fetch-depth: ''` is 1).
        if text.isEmpty { return nil }
        switch name {
        case "repository":
            // actions/checkout's own check: OWNER/REPO, both named.
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count != 2 || parts.contains(where: \.isEmpty) {
                return ("repository '\(text)' is not OWNER/REPO", "name the repository as its owner and name: octo-org/tools")
            }
            // `.github` is a repository; `.` and `..` would climb in a URL, `-x` read as an option.
            if parts.contains(where: { $0 == "." || $0 == ".." || $0.hasPrefix("-") }) {
                return ("repository '\(text)' is not a repository name", "owners and repositories are named with letters, digits, '-', '_' and '.'")
            }
        default:
            break
        }
        return nil
    }

    /// A yes/no input as actions/checkout reads it (`getInput(x) || default`, then `=== 'TRUE'`
    /// without case): empty is the default, `true` in any case is true, anything else is false.
    static func checkoutFlag(_ text: String, default: Bool) -> Bool {
        text.isEmpty ? `default` : text.lowercased() == "true"
    }

    /// `fetch-depth` as actions/checkout reads it: `Math.floor(Number(x || '1'))`, and a result
    /// that is not a number or is negative is 0 (all history).
    static func checkoutDepth(_ text: String) -> Int {
        if text.isEmpty { return 1 }
        let number = ExpressionNumber.parse(text).rounded(.down)
        guard !number.isNaN, number >= 0 else { return 0 }
        return number >= Double(Int32.max) ? Int(Int32.max) : Int(number)
    }

    /// `submodules` as actions/checkout reads it: `recursive` or `true` (any case), else false.
    static func checkoutSubmodules(_ text: String) -> ProjectCheckout.Request.Submodules {
        ProjectCheckout.Request.Submodules(rawValue: text.lowercased()) ?? .none
    }

    /// What a written value of a checkout input means when actions/checkout reads it otherwise
    /// than it looks (nil: as it looks): GitHub never checks an action's inputs, so such a value is
    /// a warning, not an error (`show-progress: false\` is false; `fetch-depth: -1` is all history).
    static func checkoutValueNote(_ name: String, _ value: String) -> String? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return nil }
        switch name {
        case "clean", "fetch-tags", "show-progress", "set-safe-directory", "allow-unsafe-pr-checkout", "lfs", "sparse-checkout-cone-mode":
            guard bool(text) == nil else { return nil }
            return "\(name) '\(value)' is neither true nor false: it is read as false"
        case "submodules":
            guard ProjectCheckout.Request.Submodules(rawValue: text.lowercased()) == nil else { return nil }
            return "submodules '\(value)' is none of false, true and recursive: it is read as false"
        case "fetch-depth":
            if let depth = Int(text), depth >= 0 { return nil }
            let depth = checkoutDepth(text)
            return "fetch-depth '\(value)' is read as \(depth)" + (depth == 0 ? " (all history and tags)" : "")
        default:
            return nil
        }
    }

    static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: return nil
        }
    }

    /// Set the job's project copy: a checkout of the project when it is a git repository. A job with
    /// an `actions/checkout` step gets none at the start (as on GitHub): the step puts it in.
    func prepareCheckout(_ spec: inout JobSpec) async throws {
        guard spec.copyProject, let checkout = options.checkout, checkout.isRepository else { return }
        if job.steps.contains(where: { $0.uses.map { Self.actionName($0.value) } == "actions/checkout" }) {
            spec.copyProject = false
            return
        }
        switch checkout.source {
        case .commit:
            // Copied whole (the executor applies `copyExcludes` to the project folder only): what
            // is committed, `.git` included, so `git status` is clean.
            spec.copySource = try await checkout.clone(ProjectCheckout.Request())
        case .workingTree:
            // The folder as it is: its .git, and .nixactions (its workflows and config, tracked
            // files: left out, git saw them deleted, and `git diff --exit-code` failed; audit 58
            // examples M3). The runner's own files there (the logs, the run counter) are not copied.
            spec.copyExcludes = spec.copyExcludes.filter { $0 != ".git" && $0 != ".nixactions" }
            let own = ProjectCheckout.runnersOwn.sorted().map { options.projectDirectory + "/.nixactions/" + $0 }
            spec.copySkipPaths = (spec.copySkipPaths ?? []) + own
        }
    }

    /// `uses: actions/checkout`: the project's repository at `ref` (default HEAD) into `path`; or,
    /// with `repository: OWNER/REPO` naming another repository than the run's (GitHub's default,
    /// `${{ github.repository }}`, is the project), that repository, cloned on this machine from
    /// `github-server-url`, else the server actions come from (`--actions-url`), once per run for
    /// each set of inputs, and put into `path` as the project's checkout is.
    func runCheckout(_ step: Step, inputs: [String: String], started: JobStarted, executor: any Executor) async throws -> [String: ExpressionValue] {
        for (name, value) in inputs.sorted(by: { $0.key < $1.key }) {
            if let problem = Self.checkoutValueProblem(name, value) { throw EngineError("actions/checkout: \(problem.message)", hint: problem.hint) }
        }
        let text = { (name: String) in inputs[name]?.trimmingCharacters(in: .whitespaces) ?? "" }
        var request = Self.checkoutRequest(inputs)
        var own = ""
        if case .string(let name)? = options.runContext.github["repository"] { own = name.lowercased() }
        if !text("repository").isEmpty && text("repository").lowercased() != own {
            request.repository = text("repository")
            var server = text("github-server-url").isEmpty ? options.gitServerURL : text("github-server-url")
            while server.count > 1, server.hasSuffix("/") { server.removeLast() }
            request.server = server
        } else if !job.workspace.copyProject {
            throw EngineError("job '\(job.id)' opted out of the project copy (workspace.copy-project: false)",
                              hint: "remove that setting, or this checkout step")
        }
        guard let checkout = options.checkout, checkout.isRepository || request.repository != nil else {
            reporter.report(.output(job: planned.key, step: step.index, stream: 1,
                                    line: "the project is not a git repository: its files are already in the workspace (\(started.workspace)), without .git"))
            return [:]
        }
        let clean = Self.checkoutFlag(text("clean"), default: true)
        let path = try Self.checkoutPath(text("path"))

        let source: String
        var excludes: [String] = []
        var what: String
        if request.repository == nil && checkout.source == .workingTree && request.ref == nil && request.sparse.isEmpty {
            source = checkout.project
            excludes = projectCopyExcludes(source)
            what = "the project's working tree (--working-tree)"
        } else {
            source = try await checkout.clone(request)
            let named = request.repository.map { $0 + (request.ref.map { " '\($0)'" } ?? " (its default branch)") }
            what = Self.checkoutDescription(named ?? request.ref.map { "'\($0)'" } ?? "HEAD", request)
        }
        let (commit, branch) = try await ProjectCheckout.offThread {
            (try ProjectCheckout.git(["rev-parse", "HEAD"], in: source).trimmingCharacters(in: .whitespacesAndNewlines),
             (try? ProjectCheckout.git(["symbolic-ref", "--quiet", "HEAD"], in: source))?.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        try await prepareCheckoutFolder(path, clean: clean, step: step, executor: executor)
        try await deliver(source, excludes: excludes, into: path, started: started, executor: executor)
        let place = path.isEmpty ? "the workspace" : "'\(path)'"
        reporter.report(.output(job: planned.key, step: step.index, stream: 1, line: "checked out \(what) into \(place): \(commit)"))
        // A branch checked out as itself; a tag's ref name; a commit id (of another repository:
        // only a full one) has none.
        var ref = ""
        if let branch {
            ref = branch
        } else if let name = request.ref, name.hasPrefix("refs/")
                    || !(request.repository == nil ? name.allSatisfy(\.isHexDigit) : name.utf8.count == 40 && name.allSatisfy(\.isHexDigit))
        {
            ref = name.hasPrefix("refs/") ? name : "refs/tags/" + name
        }
        return ["commit": .string(commit), "ref": .string(ref)]
    }

    /// The inputs every checkout reads the same way, into `request`: `ref`, `fetch-depth`,
    /// `fetch-tags`, `submodules`, and `sparse-checkout` (one pattern a line, as actions/checkout's
    /// multi-line input: trimmed, empty lines left out) with `sparse-checkout-cone-mode`.
    static func checkoutRequest(_ inputs: [String: String]) -> ProjectCheckout.Request {
        let text = { (name: String) in inputs[name]?.trimmingCharacters(in: .whitespaces) ?? "" }
        var request = ProjectCheckout.Request()
        request.ref = text("ref").isEmpty ? nil : text("ref")
        request.depth = checkoutDepth(text("fetch-depth"))
        request.fetchTags = checkoutFlag(text("fetch-tags"), default: false)
        request.submodules = checkoutSubmodules(text("submodules"))
        request.sparse = (inputs["sparse-checkout"] ?? "").split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        request.sparseCone = checkoutFlag(text("sparse-checkout-cone-mode"), default: true)
        request.lfs = checkoutFlag(text("lfs"), default: false)
        return request
    }

    /// How a checkout is described in its step's log: what, how deep, which sparse patterns.
    static func checkoutDescription(_ what: String, _ request: ProjectCheckout.Request) -> String {
        var text = what + (request.depth == 0 ? " with all history" : " (\(request.depth) commit\(request.depth == 1 ? "" : "s") deep)")
        if !request.sparse.isEmpty { text += ", sparse: " + request.sparse.joined(separator: " ") + (request.sparseCone ? "" : " (not cone mode)") }
        if request.lfs { text += ", with Git LFS files" }
        return text
    }

    /// `path` as a relative path without `.` or `..` ("" for the workspace), or an error when it is
    /// absolute or climbs out of the workspace.
    static func checkoutPath(_ path: String) throws -> String {
        if path.hasPrefix("/") {
            throw EngineError("actions/checkout: path '\(path)' is absolute", hint: "use a path relative to the workspace, e.g. path: src")
        }
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." {
                guard !parts.isEmpty else {
                    throw EngineError("actions/checkout: path '\(path)' leads outside the workspace", hint: "use a folder inside the workspace")
                }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }

    /// Empty the checkout's folder (`clean: true`), or remove only its `.git` (`clean: false`: files
    /// the folder holds stay), and make it; run by the job's executor, wherever the workspace is.
    func prepareCheckoutFolder(_ path: String, clean: Bool, step: Step, executor: any Executor) async throws {
        let folder = path.isEmpty ? "." : ShellWords.quote(path)
        var lines = ["set -e"]
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + part
            let quoted = ShellWords.quote(prefix)
            lines.append("if [ -L \(quoted) ]; then printf '%s is a symbolic link\\n' \(quoted) >&2; exit 3; fi")
        }
        lines.append("mkdir -p \(folder)")
        lines.append(clean ? "cd \(folder) && rm -rf -- * .[!.]* ..?*" : "rm -rf -- \(folder)/.git")
        let spec = StepSpec(jobKey: executorKey, index: step.index, displayName: "checkout: prepare \(path.isEmpty ? "the workspace" : path)",
                            script: lines.joined(separator: "\n") + "\n", shell: ["sh", "-e", "{0}"])
        let sink = CollectedOutput()
        let result = try await executor.runStep(spec, output: sink)
        guard result.succeeded else {
            let said = sink.text.trimmingCharacters(in: .whitespacesAndNewlines)
            throw EngineError("actions/checkout: cannot prepare \(path.isEmpty ? "the workspace" : "'\(path)'")" + (said.isEmpty ? "" : ": \(said)"),
                              hint: "path must be a folder inside the workspace, not through a symbolic link")
        }
    }

    /// Copy the folder `source` (of this machine) into `path` of the workspace: with the
    /// executor's files interface when the workspace is elsewhere, else copied on this machine.
    /// `path` may also be absolute (a folder of the job's machine outside the workspace).
    func deliver(_ source: String, excludes: [String], into path: String, started: JobStarted, executor: any Executor,
                 what: String = "actions/checkout") async throws {
        if let files = Self.fileTransfer(started, executor) {
            let entries = try FileManager.default.contentsOfDirectory(atPath: source)
                .filter { name in !excludes.contains { fnmatch($0, name, 0) == 0 } }.sorted()
            let request = FilesPut(jobKey: executorKey, roots: [FilesPutRoot(name: "", path: path)])
            do {
                _ = try await files.putTree(request) { writer in
                    try TarProducer.write(folder: source, entries: entries, excludes: excludes, listFolder: options.runDirectory, into: writer)
                }
            } catch {
                throw EngineError("\(what): cannot put the files into the job: \(OperationFailure.describe(error))")
            }
            return
        }
        let target = path.hasPrefix("/") ? path : path.isEmpty ? started.workspace : started.workspace + "/" + path
        // In this process rather than through `tar -c | tar -x`: no two processes per checkout,
        // and a clone's Git LFS objects (hard links other clones link too) copied without tar's
        // "file changed as we read it".
        let scope = HostCommand.Scope()
        // Names to leave out at any depth; the run's folder and the log root (paths, which tar
        // matched as member paths) are skipped as paths, as the workspace copy skips them
        // (review 59 M6: a --working-tree checkout copied the logs, and a run folder inside the
        // project into itself).
        let names = excludes.filter { !$0.contains("/") }
        let skipping = [options.runDirectory] + options.copySkipPaths
        try await withTaskCancellationHandler {
            try await ProjectCheckout.offThread {
                do {
                    try ProjectCopier(excludes: names, skipping: skipping).merge(from: source, into: target, cancelled: { scope.isCancelled })
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    throw EngineError("\(what): cannot copy \(source) into \(target): \(error.localizedDescription)",
                                      hint: (error as? ProjectCopier.CopyFailure)?.hint)
                }
            }
        } onCancel: {
            scope.cancel()
        }
    }
}

extension ArtifactStore {
    /// Whether a path names a `.git` itself (or something in one): then it is kept as asked.
    static func namesGit(_ relative: String) -> Bool {
        relative.split(separator: "/").contains(".git")
    }

    /// Remove every `.git` (a checkout's repository, or a submodule's `.git` file) at or below
    /// `path` (links are not followed): an artifact of a folder holds its files, not the
    /// repository the checkout put there (as GitHub's upload-artifact leaves out hidden files).
    static func dropGitRepositories(in path: String) {
        let manager = FileManager.default
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return }
        var pending = [path]
        while let folder = pending.popLast() {
            for name in (try? manager.contentsOfDirectory(atPath: folder)) ?? [] {
                let child = folder + "/" + name
                if name == ".git" {
                    try? manager.removeItem(atPath: child)
                } else if lstat(child, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                    pending.append(child)
                }
            }
        }
    }
}

/// A hidden command's output kept in memory instead of shown as a step's (the checkout's own
/// commands, a shell-test condition, a Nix build): at most `limit` bytes of each stream, the end,
/// where errors are.
final class CollectedOutput: StepOutputSink {
    let limit: Int
    private let streams = Mutex<[Int32: [UInt8]]>([:])

    init(limit: Int = 256 * 1024) { self.limit = limit }

    func write(stream: Int32, _ bytes: UnsafeRawBufferPointer) {
        streams.withLock { streams in
            var kept = streams[stream] ?? []
            kept.append(contentsOf: bytes)
            if kept.count > limit { kept.removeFirst(kept.count - limit) }
            streams[stream] = kept
        }
    }

    /// What the command wrote on `stream` (1: standard output, 2: standard error).
    func text(_ stream: Int32) -> String {
        String(decoding: streams.withLock { $0[stream] ?? [] }, as: UTF8.self)
    }

    /// Both streams, standard output first.
    var text: String { text(1) + text(2) }
}
