import Foundation
import NixActionsProcessKit

extension ActionLoader {
    /// `uses: ./PATH` (or `.\PATH`): an action in the workflow's own repository.
    public static func isLocal(_ uses: String) -> Bool { uses.hasPrefix("./") || uses.hasPrefix(".\\") }

    /// An action read from its files: local (`./PATH`), or remote (`OWNER/REPO@REF`) and not one of
    /// the actions NixActions builds in (`JobRunner.supportedActions`).
    public static func isReadFromFiles(_ uses: String) -> Bool {
        isLocal(uses) || isSelf(uses) || (RemoteActionReference(uses) != nil && !JobRunner.supportedActions.contains(JobRunner.actionName(uses)))
    }

    /// `$/PATH`, GitHub's self-repository reference (2026): the workflow's own repository at the
    /// commit that runs, without a checkout. Here that is the project's HEAD, as the jobs'
    /// workspaces are (`JobRunner.selfRepositoryTree`); `validate` reads it from the project folder.
    public static func isSelf(_ uses: String) -> Bool { uses.hasPrefix("$/") }

    /// The folder of a `./PATH` or `$/PATH` action relative to the workspace or the project.
    public static func actionPath(_ uses: String) -> String? {
        localPath(isSelf(uses) ? String(uses.dropFirst(2)) : uses)
    }

    /// The folder of a local action relative to the workspace (`./a//b/` → `a/b`, `./` → ``),
    /// split on `/` and `\` as GitHub splits it; nil when `..` climbs out of the workspace.
    public static func localPath(_ uses: String) -> String? {
        var parts: [Substring] = []
        for part in uses.split(whereSeparator: { $0 == "/" || $0 == "\\" }) where part != "." {
            if part == ".." {
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }

    /// The action file (`action.yml`, else `action.yaml`) in `path` under `root`: its name and
    /// bytes, nil when there is none. A path that passes through a symbolic link, or a file that is
    /// one, is refused: the file must be the workspace's own, not one it points at.
    public static func readActionFile(in root: String, path: String) throws -> (name: String, bytes: [UInt8])? {
        let folder = path.isEmpty ? root : root + "/" + path
        for name in fileNames {
            let relative = path.isEmpty ? name : path + "/" + name
            var info = stat()
            guard lstat(folder + "/" + name, &info) == 0 else { continue }
            let linked = EngineError("'\(relative)' is (or passes through) a symbolic link", hint: "put the action's files in the repository itself")
            if ArtifactStore.passesThroughLink(root, relative) || info.st_mode & S_IFMT == S_IFLNK { throw linked }
            // Opened without following a link, then checked on what was opened: a link put there
            // after the check above (by a process of the job) is refused too.
            let descriptor = open(folder + "/" + name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard descriptor >= 0 else {
                if errno == ELOOP { throw linked }
                throw EngineError("cannot read '\(relative)': \(String(cString: strerror(errno)))")
            }
            defer { close(descriptor) }
            guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { throw EngineError("'\(relative)' is not a regular file") }
            guard info.st_size <= 1 << 20 else { throw EngineError("'\(relative)' is larger than 1 MiB") }
            var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
            var count = 0
            while count < bytes.count {
                let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + count, $0.count - count) }
                if got < 0, errno == EINTR { continue }
                guard got >= 0 else { throw EngineError("cannot read '\(relative)': \(String(cString: strerror(errno)))") }
                if got == 0 { break }
                count += got
            }
            guard count <= 1 << 20 else { throw EngineError("'\(relative)' is larger than 1 MiB") }
            return (name, Array(bytes[..<count]))
        }
        return nil
    }

    /// The names GitHub's runner looks for when a folder has no action file.
    public static let dockerfileNames = ["Dockerfile", "dockerfile"]

    /// GitHub's runner takes a folder with a Dockerfile and no action file as a docker action
    /// without inputs, built from that Dockerfile (in the folder that holds it): the action, named
    /// `label` + the Dockerfile's name, when `path` under `root` has one. A Dockerfile that is (or
    /// passes through) a symbolic link is refused, as an action file is.
    public static func dockerfileAction(in root: String, path: String, label: String, at location: SourceLocation?) throws -> ActionDefinition? {
        let folder = path.isEmpty ? root : root + "/" + path
        for name in dockerfileNames {
            var info = stat()
            guard lstat(folder + "/" + name, &info) == 0 else { continue }
            let relative = path.isEmpty ? name : path + "/" + name
            if ArtifactStore.passesThroughLink(root, relative) || info.st_mode & S_IFMT == S_IFLNK {
                throw EngineError("'\(relative)' is (or passes through) a symbolic link", hint: "put the action's files in the repository itself")
            }
            guard info.st_mode & S_IFMT == S_IFREG else { throw EngineError("'\(relative)' is not a regular file") }
            var action = ActionDefinition(name: nil, file: label + name, inputs: [], outputs: [],
                                          using: Located("docker", at: location), steps: [])
            action.docker = DockerRuns(image: Located(name, at: location))
            return action
        }
        return nil
    }

    /// The project's path of a local action `./P/REST` (or `./P`) that a step uses after an earlier step of its
    /// job checked the project out at a literal `path: P` (`actions/checkout` with no other
    /// `repository:` than `${{ github.repository }}`): GitHub reads it from that copy (containerd's
    /// and poetry's workflows do this), which holds the project's REST. Nil otherwise (audit 54: a
    /// false warning said the action was missing).
    static func throughCheckout(_ path: String, job: Job?, before step: Int) -> String? {
        guard let job else { return nil }
        for earlier in job.steps where earlier.index < step {
            guard let uses = earlier.uses?.value, JobRunner.actionName(uses) == "actions/checkout" else { continue }
            let with = Dictionary(earlier.with.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
            if let repository = with["repository"], repository.source.value.filter({ $0 != " " }) != "${{github.repository}}" { continue }
            guard let field = with["path"], field.template.isLiteral, let folder = localPath(field.source.value.trimmingCharacters(in: .whitespaces)),
                  !folder.isEmpty, path == folder || path.hasPrefix(folder + "/") else { continue }
            // `./P` itself is the project's root action (an action repository testing itself;
            // audit 56 F1: docker/build-push-action's workflow was warned about).
            return path == folder ? "" : String(path.dropFirst(folder.count + 1))
        }
        return nil
    }

    /// Read every local action the workflow uses from the project folder (what a job's workspace
    /// holds), and the local actions those use in turn: their problems are the workflow's (with
    /// the action file's positions), and a job that would run one NixActions does not run (a
    /// node or docker action, or an action such as `actions/setup-node` used inside one) becomes
    /// an unsupported feature of that job, which `run` refuses. An action not in the project is a
    /// warning: an earlier step may make it (actions/checkout with `path:`).
    ///
    /// Remote actions (`OWNER/REPO[/PATH]@REF`) are fetched through `remote` (`run`), for the jobs
    /// in `running` (all when nil), and then checked like local ones, with the actions they use;
    /// one that cannot be fetched, or has no valid action file, is an error of its step. Without
    /// `remote` (`validate`, `run --dry-run`) they are not read: a note says so.
    public static func checkLocalActions(_ workflow: inout Workflow, projectDirectory: String, functions: FunctionArities? = nil,
                                         remote: RemoteActionStore? = nil, running: Set<String>? = nil,
                                         ownRepository: Bool = true) -> [Diagnostic] {
        var checker = LocalActionChecker(root: projectDirectory, functions: functions, remote: remote, running: running)
        checker.selfIsProject = ownRepository
        checker.workflowFile = workflow.file.isEmpty ? nil : URL(fileURLWithPath: workflow.file, relativeTo: URL(fileURLWithPath: projectDirectory)).standardizedFileURL.path
        if let remote {
            remote.prefetch(workflow.actionUses.compactMap { use in
                running.map { $0.contains(use.job) } ?? true ? RemoteActionReference(use.uses.value) : nil
            })
        }
        var warnedBeforeCheckout: Set<String> = []
        for use in workflow.actionUses {
            let inCheckout = ActionLoader.isLocal(use.uses.value)
                ? ActionLoader.actionPath(use.uses.value).flatMap { throughCheckout($0, job: workflow.job(use.job), before: use.stepIndex) } : nil
            if ownRepository, workflow.triggers != nil, ActionLoader.isLocal(use.uses.value), let job = workflow.job(use.job), job.call == nil,
               !job.steps.contains(where: { $0.index < use.stepIndex && $0.uses.map { JobRunner.actionName($0.value) } == "actions/checkout" }),
               warnedBeforeCheckout.insert(use.job).inserted {
                // The job's workspace holds a copy of the project here; on GitHub it is empty until
                // actions/checkout, and this step fails there (audit 66 fidelity H3). Once per job,
                // at its first such step; not for another repository's workflow, which the user
                // cannot change.
                checker.diagnostics.warning(
                    "the local action '\(use.uses.value)' is used before any actions/checkout in its job: on GitHub the step fails "
                        + "(the workspace is empty until a checkout); here the job's workspace is a copy of the project",
                    at: use.uses.location, context: use.context, hint: "add '- uses: actions/checkout@v4' before this step")
            }
            checker.visit(use.uses, with: use.with, job: use.job, step: use.stepIndex, context: use.context, chain: [], path: inCheckout,
                          owner: workflow.job(use.job))
        }
        remote?.removeEmptyFolders()
        workflow.unsupported += checker.unsupported
        workflow.remoteActions.merge(checker.remoteActions) { _, new in new }
        return checker.diagnostics.sorted
    }
}

/// The walk of `checkLocalActions`: each action file is read and compiled once.
struct LocalActionChecker {
    let root: String
    let functions: FunctionArities?
    /// Fetches remote actions (nil: they are not read).
    var remote: RemoteActionStore? = nil
    /// The jobs whose remote actions are fetched (nil: all).
    var running: Set<String>? = nil
    /// The remote actions fetched, by `RemoteActionReference.key`.
    var remoteActions: [String: RemoteAction] = [:]
    /// Whether `$/PATH` names the project: not in a workflow of another repository (a remote
    /// called file), whose own repository is the fetched one.
    var selfIsProject = true
    /// The workflow file's path, absolute: where a missing local action may be found instead.
    var workflowFile: String? = nil
    var diagnostics = DiagnosticBag()
    var unsupported: [UnsupportedFeature] = []
    /// Path → the compiled action (nil: missing or unreadable, already reported), the errors its
    /// file had, the context they were reported in, and the jobs they were reported for.
    var loaded: [String: (action: ActionDefinition?, errors: [Diagnostic], context: String, jobs: Set<String>)] = [:]
    /// Job, action and depth whose steps were walked: another route to the action at that depth
    /// finds nothing new (audit 55 H1: actions that each use the next one several times were walked
    /// once per route, exponential in the depth: ten uses over ten levels ran out of memory).
    var walked: Set<String> = []
    /// Job and `uses` place already said to nest too deep (once, however many routes reach it).
    var saidTooDeep: Set<String> = []

    /// `path`: where in the project a local action is, when not where `uses` says (`throughCheckout`).
    /// `owner`: the job, whose checkouts before `step` also place the local actions that the
    /// composite actions it reaches use (audit 56 F2: electron's nested actions were warned about).
    mutating func visit(_ uses: Located<String>, with: [(name: String, value: TemplateField)], job: String, step: Int, context: String,
                        chain: [String], path given: String? = nil, owner: Job? = nil) {
        let feature = "job '\(job)', step \(step + 1): the action '\(uses.value)'"
        let reference = RemoteActionReference(uses.value)
        if reference != nil {
            guard remote != nil, running.map({ $0.contains(job) }) ?? true else {
                if remote == nil, chain.isEmpty {
                    diagnostics.note("the action '\(uses.value)' is fetched when a run starts; validate does not read it",
                                     at: uses.location, context: context)
                }
                return
            }
        }
        if ActionLoader.isSelf(uses.value), !selfIsProject || chain.last?.hasPrefix("remote:") == true {
            // Another repository's action or workflow naming its own repository: not read from there yet.
            refuse("\(feature) (a self-repository reference in another repository's \(selfIsProject ? "action" : "workflow"))", job: job,
                   at: uses.location, context: context, hint: "name that repository with OWNER/REPO/PATH@REF")
            return
        }
        guard let path = reference.map({ "remote:" + $0.key }) ?? given ?? ActionLoader.actionPath(uses.value) else {
            // GitHub resolves it against the workspace without looking (github/codeql-action's own
            // `./../action/init`); here the workspace's parent is the run's, not the user's.
            refuse("\(feature) (a folder outside the workspace)", job: job, at: uses.location, context: context,
                   hint: "a local action here is a folder of the workspace: ./.github/actions/NAME")
            return
        }
        if let first = chain.firstIndex(of: path) {
            // Valid while an `if:` stops it (GitHub fails only past its depth limit, as `run` does).
            let cycle = (chain[first...] + [path]).map { $0.hasPrefix("remote:") ? String($0.dropFirst(7)) : "./\($0)" }.joined(separator: " → ")
            diagnostics.warning("composite actions use each other in a cycle: \(cycle)", at: uses.location, context: context,
                                hint: "the step fails when it runs them more than \(ActionLoader.maxDepth) deep (GitHub's limit); an 'if:' must end it")
            return
        }
        guard chain.count < ActionLoader.maxDepth else {
            if saidTooDeep.insert("\(job)\u{0}\(uses.location.map { "\($0)" } ?? "")\u{0}\(uses.value)").inserted {
                diagnostics.warning("composite actions nest more than \(ActionLoader.maxDepth) deep at '\(uses.value)'; the step fails when it gets there (GitHub's limit)",
                                    at: uses.location, context: context)
            }
            return
        }
        let action: ActionDefinition?
        if var known = loaded[path] {
            action = known.action
            // The file's errors are each job's that uses it (a run of only that job must stop too).
            if !known.jobs.contains(job) {
                for var error in known.errors {
                    error.context = error.context.map { $0.replacingOccurrences(of: known.context, with: context) }
                    diagnostics.append(error)
                }
                known.jobs.insert(job)
                loaded[path] = known
            }
        } else {
            let before = diagnostics.diagnostics.count
            action = reference.map { loadRemote($0, uses: uses, context: context) } ?? load(path, uses: uses, context: context)
            let errors = diagnostics.diagnostics[before...].filter { $0.severity == .error }
            loaded[path] = (action, Array(errors), context, [job])
        }
        guard let action else { return }
        checkInputs(with, of: action, uses: uses.value, context: context)
        guard action.runs else {
            // A JavaScript or docker action whose `runs` is not valid: its errors are said already.
            if ActionDefinition.isNode(action.using.value) || ActionDefinition.isDocker(action.using.value) { return }
            refuse("\(feature) (runs.using: \(action.using.value))", job: job, at: uses.location, context: context,
                   hint: "composite actions (runs.using: composite), JavaScript ones (\(ActionDefinition.nodeVersions.joined(separator: ", "))) "
                       + "and docker ones run here")
            return
        }
        guard walked.insert("\(job)\u{0}\(path)\u{0}\(chain.count)").inserted else { return }
        let inner = context + " › action '\(uses.value)'"
        for innerStep in action.steps {
            guard let innerUses = innerStep.uses else { continue }
            if ActionLoader.isReadFromFiles(innerUses.value) {
                let placed = ActionLoader.isLocal(innerUses.value)
                    ? ActionLoader.actionPath(innerUses.value).flatMap { ActionLoader.throughCheckout($0, job: owner, before: step) } : nil
                visit(innerUses, with: innerStep.with, job: job, step: step, context: inner, chain: chain + [path], path: placed, owner: owner)
            } else if !innerUses.value.hasPrefix("docker://") && !JobRunner.supportedActions.contains(JobRunner.actionName(innerUses.value)) {
                refuse("\(feature), through its step \(innerStep.index + 1): the action '\(innerUses.value)'", job: job,
                       at: innerUses.location, context: inner,
                       hint: "actions run here: \(JobRunner.supportedActions.joined(separator: ", ")), docker://IMAGE, and composite, JavaScript and docker actions")
            }
        }
    }

    /// GitHub's "Unexpected input(s)" warning: a `with:` key the action does not declare (without case).
    mutating func checkInputs(_ with: [(name: String, value: TemplateField)], of action: ActionDefinition, uses: String, context: String) {
        for (name, value) in with where action.input(name) == nil {
            let declared = action.inputs.map(\.id)
            diagnostics.warning(
                "the action '\(uses)' declares no input '\(name)' (it is passed on, as GitHub does, with this warning)",
                at: value.source.location, context: context,
                hint: declared.isEmpty ? "the action declares no inputs"
                    : didYouMean(name, in: declared).map { "did you mean '\($0)'?" } ?? "its inputs: \(declared.joined(separator: ", "))")
        }
    }

    mutating func refuse(_ description: String, job: String, at location: SourceLocation?, context: String, hint: String) {
        let item = UnsupportedFeature(description, job: job, at: location)
        unsupported.append(item)
        diagnostics.warning(item.message, at: location, context: context, hint: hint)
    }

    /// A remote action: fetched (`RemoteActionStore`), then its file read from the fetched tree.
    /// Anything wrong is an error: no earlier step can change what the repository holds.
    mutating func loadRemote(_ reference: RemoteActionReference, uses: Located<String>, context: String) -> ActionDefinition? {
        guard let remote else { return nil }
        let fetched: RemoteActionStore.Fetched
        do {
            fetched = try remote.fetch(reference)
        } catch {
            diagnostics.error(error.message, at: uses.location, context: context, hint: error.hint)
            return nil
        }
        let named = "\(reference.repositoryName)@\(reference.ref)"
        let found: (name: String, bytes: [UInt8])?
        do {
            found = try ActionLoader.readActionFile(in: fetched.tree, path: reference.path)
        } catch {
            diagnostics.error("cannot read the action '\(uses.value)': \(error)", at: uses.location, context: context)
            return nil
        }
        let folder = reference.path.isEmpty ? "the root of \(named)" : "'\(reference.path)' of \(named)"
        guard let found else {
            let dockerfile: ActionDefinition?
            do {
                dockerfile = try ActionLoader.dockerfileAction(in: fetched.tree, path: reference.path,
                                                               label: named + "/" + (reference.path.isEmpty ? "" : reference.path + "/"), at: uses.location)
            } catch {
                diagnostics.error("cannot read the action '\(uses.value)': \(error)", at: uses.location, context: context)
                return nil
            }
            if let action = dockerfile {
                remoteActions[reference.key] = RemoteAction(reference: reference, commit: fetched.commit, tree: fetched.tree, action: action)
                return action
            }
            diagnostics.error("no action.yml, action.yaml or Dockerfile in \(folder) (commit \(fetched.commit.prefix(12)))", at: uses.location, context: context,
                              hint: "check the path after the repository's name, and the ref")
            return nil
        }
        let file = named + "/" + (reference.path.isEmpty ? "" : reference.path + "/") + found.name
        var (action, valid) = compile(found.bytes, file: file, uses: uses, context: context)
        if let action, !leavesRoot(action, folder: reference.path, of: named, context: context) { valid = false }
        if let action, valid {
            remoteActions[reference.key] = RemoteAction(reference: reference, commit: fetched.commit, tree: fetched.tree, action: action)
        }
        return action
    }

    /// An action file's bytes compiled, its problems reported; `valid`: without errors.
    mutating func compile(_ bytes: [UInt8], file: String, uses: Located<String>, context: String) -> (action: ActionDefinition?, valid: Bool) {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            diagnostics.error("the action file '\(file)' is not UTF-8 text", at: uses.location, context: context)
            return (nil, false)
        }
        let result = ActionLoader.load(yaml: text, file: file, context: context, functions: functions)
        for diagnostic in result.diagnostics { diagnostics.append(diagnostic) }
        return (result.action, !result.hasErrors)
    }

    /// The folder holding the workflow file, or one above it (up to the project, or four levels),
    /// in which `path` has an action file, when the project is another folder.
    func projectHolding(_ path: String) -> String? {
        guard let workflowFile else { return nil }
        var folder = PathText.parent(workflowFile)
        let project = URL(fileURLWithPath: root).standardizedFileURL.path
        for _ in 0..<4 {
            guard folder != project, folder != "/", !folder.isEmpty else { return nil }
            let holder = path.isEmpty ? folder : folder + "/" + path
            if (ActionLoader.fileNames + ActionLoader.dockerfileNames).contains(where: { FileManager.default.fileExists(atPath: holder + "/" + $0) }) {
                return folder
            }
            folder = PathText.parent(folder)
        }
        return nil
    }

    mutating func load(_ path: String, uses: Located<String>, context: String) -> ActionDefinition? {
        let found: (name: String, bytes: [UInt8])?
        do {
            found = try ActionLoader.readActionFile(in: root, path: path)
        } catch {
            diagnostics.error("cannot read the action '\(uses.value)': \(error)", at: uses.location, context: context)
            return nil
        }
        guard let found else {
            do {
                if let action = try ActionLoader.dockerfileAction(in: root, path: path, label: path.isEmpty ? "" : path + "/", at: uses.location) {
                    return action
                }
            } catch {
                diagnostics.error("cannot read the action '\(uses.value)': \(error)", at: uses.location, context: context)
                return nil
            }
            if ActionLoader.isSelf(uses.value) {
                // Read from the project when the step runs: nothing a step does can add it.
                diagnostics.error("no action.yml, action.yaml or Dockerfile in '\(uses.value)' of the project", at: uses.location, context: context,
                                  hint: "$/PATH is a folder of the project (the repository the workflow is in): check the path")
                return nil
            }
            // Run from another folder than the workflow's project (an example run from the
            // repository's root): the action is there, beside the workflow (audit 58 examples L8).
            if let folder = projectHolding(path) {
                diagnostics.warning(
                    "no action.yml, action.yaml or Dockerfile in '\(uses.value)' of the project", at: uses.location, context: context,
                    hint: "local actions are found in the project, which is the current folder (\(root)); '\(uses.value)' is in \(folder), "
                        + (folder == workflowFile.map(PathText.parent) ? "the workflow file's folder" : "above the workflow file")
                        + ": run from there (cd \(ShellWords.quoteIfNeeded(folder)))")
                return nil
            }
            diagnostics.warning(
                "no action.yml, action.yaml or Dockerfile in '\(uses.value)' of the project", at: uses.location, context: context,
                hint: "the step reads it from the job's workspace when it runs, and fails if it is not there: "
                    + "check the path, or make it in an earlier step (actions/checkout with 'path:')")
            return nil
        }
        let action = compile(found.bytes, file: (path.isEmpty ? "" : path + "/") + found.name, uses: uses, context: context).action
        if let action, !leavesRoot(action, folder: path, of: "the project", context: context) { return nil }
        if let node = action?.node {
            // A script the project does not hold: node's own "Cannot find module" stack at run
            // time named no line of the action (audit 51). A warning: an earlier step may build it.
            for (key, script) in node.scripts {
                let full = root + "/" + (path.isEmpty ? "" : path + "/") + script.value
                var status = stat()
                guard stat(full, &status) != 0 || (status.st_mode & S_IFMT) != S_IFREG else { continue }
                diagnostics.warning("runs.\(key) '\(script.value)' of the action '\(uses.value)' is not a file of the project",
                                    at: script.location, context: context,
                                    hint: "the step fails when it runs unless an earlier step makes it (npm run build, actions/checkout with 'path:'); else fix the path")
            }
        }
        return action
    }

    /// Whether the action's `runs` paths stay in the repository it is read from; else an error.
    mutating func leavesRoot(_ action: ActionDefinition, folder: String, of repository: String, context: String) -> Bool {
        guard let (key, value) = ActionLoader.pathLeavingRoot(action, folder: folder) else { return true }
        diagnostics.error("runs.\(key) '\(value.value)' leads out of \(repository)", at: value.location, context: context,
                          hint: "name a file of the repository, as 'dist/index.js' or '../dist/index.js' for a sub-action")
        return false
    }
}
