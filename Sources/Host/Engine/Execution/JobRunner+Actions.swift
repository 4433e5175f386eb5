import Crypto
import Foundation
import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

extension JobRunner {
    /// The `uses:` actions NixActions maps onto its own mechanisms; anything else is refused at load time.
    static let supportedActions = [
        "actions/checkout", "actions/upload-artifact", "actions/download-artifact", "actions/cache", "actions/cache/restore", "actions/cache/save",
    ]

    /// The inputs of the cache actions NixActions reads (docs/caching.md). `enableCrossOsArchive`
    /// and `upload-chunk-size` are accepted and change nothing (archives are portable tar; the s3
    /// backend's `part-size` sets its parts); `backend` is NixActions' own.
    static let cacheActionInputs: [String: Set<String>] = [
        "actions/cache": ["path", "key", "restore-keys", "lookup-only", "fail-on-cache-miss", "save-always", "enableCrossOsArchive",
                          "upload-chunk-size", "backend"],
        "actions/cache/restore": ["path", "key", "restore-keys", "lookup-only", "fail-on-cache-miss", "enableCrossOsArchive", "backend"],
        "actions/cache/save": ["path", "key", "enableCrossOsArchive", "upload-chunk-size", "backend"],
    ]

    /// The inputs of the artifact actions (v4 to v8's): the others are a warning, ignored, as GitHub's
    /// runner warns of an input an action does not declare. `retention-days`, `compression-level`,
    /// `github-token`, `repository` and `run-id` are checked or accepted and change nothing.
    static let artifactActionInputs: [String: Set<String>] = [
        "actions/upload-artifact": ["name", "path", "if-no-files-found", "retention-days", "compression-level", "overwrite",
                                    "include-hidden-files", "archive"],
        "actions/download-artifact": ["name", "artifact-ids", "path", "pattern", "merge-multiple", "github-token", "repository", "run-id",
                                      "skip-decompress", "digest-mismatch"],
    ]

    /// An input's name as the action declares it: GitHub matches `with:` keys to an action's
    /// inputs without case (`Fetch-Depth`, `enablecrossosarchive`). Unknown names stay as written.
    static func canonicalInput(_ key: String, action: String) -> String {
        let known: [String]
        if action == "actions/checkout" {
            known = Array(checkoutInputs.keys)
        } else if let inputs = cacheActionInputs[action] {
            known = Array(inputs)
        } else {
            return key.lowercased()  // the artifact actions' inputs are all lower case
        }
        if known.contains(key) { return key }
        let folded = key.lowercased()
        return known.first { $0.lowercased() == folded } ?? key
    }

    /// The major version of `OWNER/REPO@vN[.…]`, nil for any other ref (a commit, a branch).
    static func majorVersion(_ uses: String) -> Int? {
        guard let at = uses.lastIndex(of: "@") else { return nil }
        let ref = uses[uses.index(after: at)...]
        guard ref.first == "v" || ref.first == "V" else { return nil }
        return Int(ref.dropFirst().prefix { $0.isASCII && $0.isNumber })
    }

    /// `actions/checkout@v4` → "actions/checkout" (lower case; `\\` and repeated `/` read as
    /// GitHub's parser reads them: `actions\\checkout`, `actions//checkout`).
    static func actionName(_ uses: String) -> String {
        let name = uses.split(separator: "@", maxSplits: 1).first ?? ""
        guard name.contains(where: { $0 == "\\" }) || name.contains("//") || name.hasPrefix("/") else { return name.lowercased() }
        return name.split { $0 == "/" || $0 == "\\" }.joined(separator: "/").lowercased()
    }

    func runAction(_ step: Step, uses: String, name: String, executor: any Executor, started: JobStarted, evaluation: RuntimeContext, allowed: Bool, state: inout State) async {
        reportStepStarted(step.index, name: name, state: state)
        let began = ContinuousClock.now
        var inputs: [String: String] = [:]
        let action = Self.actionName(uses)
        for (key, field) in step.with {
            switch render(field, what: "with.\(key)", evaluation) {
            case .success(let value): inputs[Self.canonicalInput(key, action: action)] = value
            case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
            }
        }
        // An input the host hands git, mkdir or tar as an argument, or that names folders, holding
        // a secret's value however it came (`env.X`, a step output, ::add-mask::): refused before
        // anything runs. `validate` warns only of `secrets.X` written there (audit 58 M1).
        for key in inputs.keys.sorted() {
            guard let value = inputs[key], !value.isEmpty, let exposure = ExpressionValidator.exposure(action: action, input: key),
                redactor.contains(value) else { continue }
            let reach: String
            switch exposure {
            case .commandLine(let programs): reach = "it would go on the command line of \(programs), which every user of this machine can read (ps)"
            case .artifactName: reach = "it would name the run's artifact folders, and go on mkdir's and tar's command lines on the oci and ssh executors"
            }
            return failStep(step, message: "with.\(key) of '\(uses)' holds a secret's value: \(reach), and masking covers output only; "
                            + "keep secrets out of with.\(key)", allowed: allowed, state: &state)
        }
        // The step's time limit (`timeout-minutes`, the defaults), as a `run:` step's: the action is
        // cancelled when it passes (audit 60 hangs H1: a checkout from a server that never
        // answered ran to the job's limit). After a cancellation, at most the cleanup limit.
        let stepLimit: Duration?
        switch self.stepLimit(step, name: name, defaults: stepDefaults(state), evaluation) {
        case .success(let found): stepLimit = found
        case .failure(let problem): return failStep(step, message: problem.message, allowed: allowed, state: &state)
        }
        let cleanupLimit = options.cleanupLimit
        let limit = withinFrame(cleanupCapped(stepLimit, state: state), state: state)
        let (result, timedOut) = await withTimeoutKeeping(limit) { [self, inputs] () -> ActionResult in
            do {
                var outputs: [String: ExpressionValue] = [:]
                var pending: ResolvedCache?
                switch Self.actionName(uses) {
                case "actions/checkout":
                    outputs = try await runCheckout(step, inputs: inputs, started: started, executor: executor)
                case "actions/upload-artifact":
                    let (line, made) = try await uploadArtifact(inputs, uses: uses, step: step, started: started, executor: executor)
                    if !line.isEmpty { reporter.report(.output(job: planned.key, step: step.index, stream: 1, line: line)) }
                    outputs = made
                case "actions/download-artifact":
                    let (lines, made) = try await downloadArtifacts(inputs, started: started, executor: executor,
                                                                     singleIntoPath: Self.majorVersion(uses).map { $0 >= 5 } ?? false)
                    for line in lines {
                        reporter.report(.output(job: planned.key, step: step.index, stream: 1, line: line))
                    }
                    outputs = made
                case let cacheAction where cacheAction.hasPrefix("actions/cache"):
                    (outputs, pending) = try await runCacheAction(cacheAction, step: step, inputs: inputs, executor: executor, started: started)
                default:
                    throw EngineError("unsupported action '\(uses)'")
                }
                if Task.isCancelled { throw CancellationError() }
                return .done(outputs, pending)
            } catch {
                return .failed(error)
            }
        }
        switch result {
        case .done(let outputs, let pending):
            if let pending { state.pendingSaves.append(pending) }
            // Set before the step's end is reported: its `step_finished` carries these outputs.
            if let id = step.id {
                state.steps[id] = .object(["outputs": .sortedObject(outputs), "outcome": .string("success"), "conclusion": .string("success")])
            }
            reportStepFinished(step.index, name: name, outcome: .success, exitCode: 0, duration: ContinuousClock.now - began, state: state)
        case .failed(let error):
            if timedOut, let limit {
                if state.cancelled, limit == cleanupLimit, (stepLimit ?? .seconds(Int64.max)) > limit {
                    // Ended by the cleanup limit, not a limit of its own: cancelled, as a `run:` step.
                    reporter.report(.message(job: planned.key, level: .warning, text: Self.cleanupLimitText(name, limit)))
                    return cancelled(step, name: name, began: began, allowed: allowed, state: &state)
                }
                let message = "step '\(name)' timed out after \(DurationParser.format(limit)); what it was doing was stopped"
                reporter.report(.message(job: planned.key, level: .error, text: message))
                reportStepFinished(step.index, name: name, outcome: .failure, exitCode: nil, duration: ContinuousClock.now - began, state: state,
                                   allowed: allowed, timeLimit: limit)
                if !allowed {
                    state.succeeded = false
                    state.failure = state.failure ?? JobFailure(stepIndex: step.index, stepName: name, exitCode: nil, message: message, stepTimeLimit: limit)
                } else {
                    reporter.report(.message(job: planned.key, level: .warning, text: "step '\(name)' failed; allowed by continue-on-error"))
                }
                if let id = step.id {
                    state.steps[id] = .object(["outputs": .object([:]), "outcome": .string("failure"),
                                               "conclusion": .string(allowed ? "success" : "failure")])
                }
                return
            }
            // Cancelled (a signal, the job's time limit, fail-fast) while it copied: the step is
            // `cancelled`, as a `run:` step's would be (audit 48: an upload went on to its end).
            if error is CancellationError || Task.isCancelled {
                return cancelled(step, name: name, began: began, allowed: allowed, state: &state)
            }
            failStep(step, message: "step '\(name)': \(describe(error))", allowed: allowed, state: &state)
        }
    }

    /// What a built-in action's work came to.
    enum ActionResult: Sendable {
        case done([String: ExpressionValue], ResolvedCache?)
        case failed(any Error)
    }

    /// A built-in action's step ended by a cancellation.
    private func cancelled(_ step: Step, name: String, began: ContinuousClock.Instant, allowed: Bool, state: inout State) {
        reportStepFinished(step.index, name: name, outcome: .cancelled, exitCode: nil, duration: ContinuousClock.now - began, state: state,
                           allowed: allowed)
        state.cancelled = true
        if let id = step.id {
            state.steps[id] = .object(["outputs": .object([:]), "outcome": .string("cancelled"), "conclusion": .string("cancelled")])
        }
    }
}

/// Artifacts kept by jobs for the jobs after them, in the run directory.
///
/// The store is a folder of this machine. This part copies files itself, for executors whose
/// workspace is a folder of this machine (`local`, `oci`); for the others the files move through
/// the executor's files interface (ArtifactTransfer.swift), into and out of the same folders.
///
/// Every path given to `keep` (the files to upload) and to `restore` (the folder to download into)
/// is relative to the job's workspace and must stay inside it: an absolute path is refused, `.` and
/// `..` are resolved and a path that climbs out is refused, and so is a path that leaves the
/// workspace through a symbolic link inside it. Artifact names become folder names made of
/// `a-z 0-9 _ -` only (with a digest of the name when that is not the name itself), so they cannot
/// leave the artifact folder and two names never share one. Nothing outside the workspace
/// and the artifact folder is ever written or removed, and a source is never removed.
public struct ArtifactStore: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    /// Characters an artifact name may not hold (GitHub's rule, `@actions/artifact`): two names
    /// that differ only in them would also share a folder here (`a/b` and `a-b`).
    static let forbiddenNameCharacters: [(Character, String)] = [
        ("\"", "double quote \""), (":", "colon :"), ("<", "less than <"), (">", "greater than >"), ("|", "vertical bar |"),
        ("*", "asterisk *"), ("?", "question mark ?"), ("\r", "carriage return \\r"), ("\n", "line feed \\n"),
        ("\\", "backslash \\"), ("/", "forward slash /"),
    ]

    /// The folder of artifact `name`: always a direct child of `root`.
    func folder(_ name: String) throws -> String {
        let forbidden = Self.forbiddenNameCharacters.filter { name.contains($0.0) }.map(\.1)
        guard forbidden.isEmpty else {
            throw EngineError("artifact name '\(DisplayText.escaped(name))' is not valid: it contains \(forbidden.joined(separator: ", "))",
                              hint: "as on GitHub, an artifact name may not contain \" : < > | * ? \\r \\n \\ /")
        }
        let key = Planner.safeKey(name)
        if key == name { return root + "/" + key }
        // A name the key does not keep whole (capitals, '.', ' ', letters beyond a-z) gets its
        // digest too: 'my.dist' and 'my dist', 'Report' and 'report' were one artifact, and a
        // name of other letters ('ビルド') was refused (audit 51).
        let digest = SHA256.hash(data: Data(name.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
        return root + "/" + (key.isEmpty ? "a" : key) + "-" + digest
    }

    /// Copy `paths` (relative to `workspace`, keeping their relative layout) into artifact `name`;
    /// with `root`, each is stored relative to that folder of the workspace (upload-artifact's
    /// root: every path is inside it).
    func keep(_ paths: [String], from workspace: String, as name: String, root: String = "") throws {
        let manager = FileManager.default
        guard manager.fileExists(atPath: workspace), let realWorkspace = Self.realPath(workspace) else {
            throw EngineError("artifacts need a workspace on this machine; '\(workspace)' is not one",
                              hint: "artifacts work with the local executor")
        }
        let target = try folder(name)
        // A copy cut short by a cancel leaves no half artifact a later job could take for whole
        // (review 48): one this call made goes.
        let madeHere = !manager.fileExists(atPath: target)
        do {
            try keep(paths, from: workspace, realWorkspace: realWorkspace, into: target, as: name, root: root)
        } catch is CancellationError {
            if madeHere {
                try? manager.removeItem(atPath: target)
                unlink(self.root + "/.name-" + String(target.dropFirst(self.root.count + 1)))
            }
            throw CancellationError()
        }
    }

    private func keep(_ paths: [String], from workspace: String, realWorkspace: String, into target: String, as name: String, root: String) throws {
        let manager = FileManager.default
        var recorded = false
        var realTarget: String?
        var madeFolders = Set<String>()  // parents made for earlier paths: not asked again
        for path in paths {
            let relative = try Self.relative(path, artifact: name, role: "path")
            let source = Self.join(workspace, relative)
            guard manager.fileExists(atPath: source) else {
                throw EngineError("artifact '\(name)': '\(path)' does not exist in the workspace",
                                  hint: "check the path; it is relative to the job's workspace")
            }
            guard let realSource = Self.resolved(source), Self.isInside(realSource, realWorkspace) else {
                throw Self.escapes(path, artifact: name, role: "path", through: Self.resolved(source))
            }
            if !recorded {
                // Once per artifact, not per path (an upload of 20,000 matched files wrote the
                // name file 20,000 times: 12.5 s).
                try manager.createDirectory(atPath: target, withIntermediateDirectories: true)
                try record(name)
                recorded = true
                realTarget = Self.realPath(target)
            }
            let destination = Self.join(target, Self.strip(root, from: relative))
            guard let realTarget, let realDestination = Self.resolved(destination),
                Self.isInside(realDestination, realTarget)
            else {
                throw EngineError("artifact '\(name)': '\(path)' would be stored outside the artifact's folder",
                                  hint: "a symbolic link kept earlier in this artifact points elsewhere; keep the folder that holds it instead")
            }
            guard !Self.isInside(realDestination, realSource), !Self.isInside(realSource, realDestination) else {
                throw EngineError("artifact '\(name)': '\(path)' is the artifact's own storage",
                                  hint: "keep files of the job's workspace")
            }
            let parent = PathText.parent(destination)
            if madeFolders.insert(parent).inserted {
                try manager.createDirectory(atPath: parent, withIntermediateDirectories: true)
            }
            // What is there is replaced; names that are not UTF-8 are kept (bytes throughout).
            try ProjectCopier.copyItem(from: source, to: destination)
        }
    }

    /// The artifact's id (upload-artifact's `artifact-id` output, download-artifact's
    /// `artifact-ids`): a number from the digest of its name, the same in every job of a run.
    static func id(of name: String) -> Int {
        let bytes = SHA256.hash(data: Data(name.utf8)).prefix(4)
        return Int(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7fff_ffff) | 1
    }

    /// The SHA-256 (hex) of the tree `folder`: each entry's path (sorted, relative), then a
    /// regular file's SHA-256 or a link's target, so the same files give the same digest.
    static func digest(of folder: String) throws -> String {
        var outer = SHA256()
        for path in try FileManager.default.subpathsOfDirectory(atPath: folder).sorted() {
            let full = folder + "/" + path
            var info = stat()
            guard lstat(full, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                guard let file = FileDigest.sha256(of: full) else { throw EngineError("cannot read '\(full)' for the artifact's digest") }
                outer.update(data: Data(("f " + path).utf8) + [0] + file)
            case S_IFLNK:
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? ""
                outer.update(data: Data(("l " + path + "\u{0}" + target).utf8) + [0])
            case S_IFDIR:
                outer.update(data: Data(("d " + path).utf8) + [0])
            default:
                continue
            }
        }
        return outer.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// How `publish` makes a staged artifact the artifact.
    enum Publication {
        /// Whatever the artifact held goes (a job's `artifacts.keep`: the last instance to finish wins).
        case replace
        /// The staged files are added to what the artifact holds, each replacing its namesake
        /// (upload-artifact v3 and earlier to a name again).
        case add
        /// An artifact of the name already there fails the publication (upload-artifact v4 and
        /// later without `overwrite: true`: GitHub answers 409 Conflict; audit 55 F1).
        case refuse
    }

    /// GitHub's 409 for an upload (v4 and later) of a name the run has: checked before the files are
    /// copied, and again under `publishing` when they are published (another job may have been first).
    func refuseExisting(_ name: String) throws {
        guard FileManager.default.fileExists(atPath: try folder(name)) else { return }
        throw EngineError(
            "upload-artifact: Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: "
                + "an artifact with this name already exists on the workflow run ('\(DisplayText.escaped(name))')",
            hint: "upload-artifact v4 and later upload a name once per run: give each upload its own name (in a matrix, with ${{ matrix.* }}), or set overwrite: true to replace it")
    }

    /// A store beside this one for one job's copy of an artifact, published with `publish` once
    /// whole: jobs that keep the same artifact at once each fill their own (audit 51: two matrix
    /// instances' copies collided, "File exists", or mixed). Hidden from `names()`.
    func staging() throws -> ArtifactStore {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let folder = root + "/.staging-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        return ArtifactStore(root: folder)
    }

    /// One publication at a time in this process: a few renames each.
    static let publishing = Mutex(())

    /// Make artifact `name` as `staging` holds it the artifact (nothing when it holds none), by
    /// renames under `publishing`, then remove `staging`.
    func publish(_ name: String, from staging: ArtifactStore, _ how: Publication) throws {
        let manager = FileManager.default
        defer { try? manager.removeItem(atPath: staging.root) }
        let target = try folder(name), staged = try staging.folder(name)
        guard manager.fileExists(atPath: staged) else { return }
        let aside = root + "/.replaced-" + UUID().uuidString
        var replaced = false
        try Self.publishing.withLock { _ in
            if how == .refuse { try refuseExisting(name) }
            if how == .add, manager.fileExists(atPath: target) {
                try Self.move(staged, into: target)
            } else {
                if manager.fileExists(atPath: target) {
                    guard rename(target, aside) == 0 else { throw EngineError("cannot replace artifact '\(name)': \(String(cString: strerror(errno)))") }
                    replaced = true
                }
                guard rename(staged, target) == 0 else { throw EngineError("cannot store artifact '\(name)': \(String(cString: strerror(errno)))") }
            }
            try record(name)
        }
        if replaced { try? manager.removeItem(atPath: aside) }
    }

    /// Move what `source` holds into the folder `destination`: folders merged, anything else
    /// replacing its namesake. Renames within one file system.
    static func move(_ source: String, into destination: String) throws {
        let manager = FileManager.default
        for entry in try manager.contentsOfDirectory(atPath: source) {
            let from = source + "/" + entry, to = destination + "/" + entry
            var here = stat(), there = stat()
            if lstat(from, &here) == 0, here.st_mode & S_IFMT == S_IFDIR, lstat(to, &there) == 0, there.st_mode & S_IFMT == S_IFDIR {
                try move(from, into: to)
                continue
            }
            if lstat(to, &there) == 0 { try manager.removeItem(atPath: to) }
            guard rename(from, to) == 0 else { throw EngineError("cannot store '\(to)': \(String(cString: strerror(errno)))") }
        }
    }

    /// Copy everything in artifact `name` into `workspace` (or `workspace/under`). Each top entry
    /// replaces what is there; with `merge` (download-artifact's merge-multiple), folders are merged
    /// and only files are replaced.
    func restore(_ name: String, into workspace: String, under: String?, merge: Bool = false) throws {
        let manager = FileManager.default
        let source = try folder(name)
        guard manager.fileExists(atPath: source) else {
            throw EngineError("no artifact '\(name)' to restore", hint: "the job that keeps it must have succeeded, and be in 'needs'")
        }
        guard let realWorkspace = Self.realPath(workspace) else {
            throw EngineError("artifacts need a workspace on this machine; '\(workspace)' is not one",
                              hint: "artifacts work with the local executor")
        }
        var target = workspace
        if let under, !under.isEmpty {
            target = Self.join(workspace, try Self.relative(under, artifact: name, role: "path"))
        }
        guard let realTarget = Self.resolved(target), Self.isInside(realTarget, realWorkspace) else {
            throw Self.escapes(under ?? "", artifact: name, role: "path", through: Self.resolved(target))
        }
        let shownPath = (under?.isEmpty ?? true) ? "the workspace" : "'\(under ?? "")'"
        do {
            try manager.createDirectory(atPath: target, withIntermediateDirectories: true)
        } catch {
            // Foundation's words name its error domain and code (audit 64 cache L1): what is in the way, said.
            throw EngineError("artifact '\(name)': cannot make \(shownPath) a folder to put it in: \(Self.inTheWay(target, workspace: workspace))",
                              hint: "remove or rename what is there, or give download-artifact another path")
        }
        guard let created = Self.realPath(target), Self.isInside(created, realWorkspace) else {
            throw Self.escapes(under ?? "", artifact: name, role: "path", through: Self.realPath(target))
        }
        // Each entry is one name, so what it replaces is directly inside the checked target; a
        // symbolic link there is removed, never what it points to. Names are bytes throughout.
        do {
            try ProjectCopier.copyEntries(of: source, into: created, merging: merge)
        } catch let failure as ProjectCopier.CopyFailure {
            let relative = failure.path.hasPrefix(created + "/") ? String(failure.path.dropFirst(created.count + 1)) : failure.path
            let inside = (under?.isEmpty ?? true) ? relative : Self.join(under ?? "", relative)
            throw EngineError("artifact '\(name)': cannot put '\(inside)' into the workspace: \(failure.reason)",
                              hint: "remove or rename what is there, or give the download another path")
        }
    }

    /// What makes `path` unusable as a folder: the first part of it under `workspace` that is
    /// there and is not a folder.
    static func inTheWay(_ path: String, workspace: String) -> String {
        var current = workspace
        for part in path.dropFirst(workspace.count).split(separator: "/") {
            current += "/" + part
            var info = stat()
            guard lstat(current, &info) == 0 else { break }
            if info.st_mode & S_IFMT != S_IFDIR {
                return "'\(current.dropFirst(workspace.count + 1))' is there and is not a folder"
            }
        }
        return "it cannot be made (\(String(cString: strerror(errno))))"
    }

    /// The artifacts kept so far, by their names as given (a folder made before names were
    /// recorded goes by its folder's name), sorted.
    func names() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.filter { !$0.hasPrefix(".") }.map { key in
            (try? String(contentsOfFile: root + "/.name-" + key, encoding: .utf8)) ?? key
        }.sorted()
    }

    /// Remember the name an artifact was given (its folder's name is `Planner.safeKey` of it).
    func record(_ name: String) throws {
        let key = try folder(name).dropFirst(root.count + 1)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try name.write(toFile: root + "/.name-" + key, atomically: true, encoding: .utf8)
    }

    // MARK: Paths

    /// `relative` without the folder `root` in front ("" root: unchanged).
    static func strip(_ root: String, from relative: String) -> String {
        guard !root.isEmpty else { return relative }
        if relative == root { return (relative as NSString).lastPathComponent }
        return relative.hasPrefix(root + "/") ? String(relative.dropFirst(root.count + 1)) : relative
    }

    /// `path` as a relative path without `.` or `..` ("" for the workspace itself), or an error
    /// when it is absolute or climbs above the workspace.
    static func relative(_ path: String, artifact: String, role: String) throws -> String {
        // GitHub's actions expand a leading `~` to the home folder, outside the workspace here:
        // said so, not "no files were found" or a folder named `~` (audit 51 L1).
        if path == "~" || path.hasPrefix("~/") {
            throw EngineError("artifact '\(artifact)': \(role) '\(path)' is in the home folder, outside the job's workspace",
                              hint: "artifact paths are relative to the job's workspace; copy the files into it first")
        }
        if path.hasPrefix("/") {
            throw EngineError("artifact '\(artifact)': \(role) '\(path)' is absolute",
                              hint: "use a path relative to the job's workspace (e.g. dist/ or reports/junit.xml)")
        }
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." {
                guard !parts.isEmpty else { throw escapes(path, artifact: artifact, role: role, through: nil) }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }

    static func escapes(_ path: String, artifact: String, role: String, through real: String?) -> EngineError {
        let how = real.map { " (it resolves to '\($0)' through a symbolic link)" } ?? ""
        return EngineError("artifact '\(artifact)': \(role) '\(path)' leads outside the job's workspace\(how)",
                           hint: "artifact paths are relative to the job's workspace and must stay inside it")
    }

    static func join(_ base: String, _ relative: String) -> String {
        relative.isEmpty ? base : base + "/" + relative
    }

    /// Whether the real path `path` is `folder` or inside it.
    static func isInside(_ path: String, _ folder: String) -> Bool {
        path == folder || path.hasPrefix(folder == "/" ? "/" : folder + "/")
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Where `path` (absolute, without `.` or `..`) really leads: the real path of its longest
    /// existing part plus the parts that do not exist yet. nil when an existing part cannot be
    /// resolved (a dangling or looping symbolic link).
    static func resolved(_ path: String) -> String? {
        var existing = path
        var missing: [String] = []
        while true {
            if let real = realPath(existing) {
                return missing.isEmpty ? real : ([real == "/" ? "" : real] + missing.reversed()).joined(separator: "/")
            }
            var info = stat()
            if lstat(existing, &info) == 0 { return nil }  // there, but not resolvable
            let parent = PathText.parent(existing)
            guard !parent.isEmpty, parent != existing else { return nil }
            missing.append((existing as NSString).lastPathComponent)
            existing = parent
        }
    }
}
