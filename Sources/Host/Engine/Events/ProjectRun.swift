import Foundation
import NixActionsPluginMessages

/// Builds a run's `RunContext` from the project's git repository, the event (`--event`,
/// `--event-path`), the inputs and the vars: the `github` fields and the `GITHUB_*`/`RUNNER_*`
/// variables GitHub documents for a Linux runner, filled as far as a local run can know them.
public struct ProjectRun: Sendable {
    public var workflow: Workflow
    public var git: GitRepository
    public var eventName: String
    /// The payload of `--event-path` (nil: one is built from git).
    public var givenPayload: ExpressionObject?
    public var inputs: InputValues.Resolved
    public var vars: [String: String]
    public var runNumber: Int
    public var runID: UInt64
    /// Where the payload is written for steps (`GITHUB_EVENT_PATH`).
    public var eventPath: String
    /// The host's environment (`$USER`, `RUNNER_DEBUG`, `RUNNER_TOOL_CACHE`).
    public var hostEnvironment: [String: String]

    public static let zeroSHA = String(repeating: "0", count: 40)
    /// The `action` of a `pull_request` payload built from git.
    public static let pullRequestAction = "opened"
    /// The `number` of a `pull_request` payload built from git.
    public static let pullRequestNumber = 1

    public init(workflow: Workflow, git: GitRepository, eventName: String, givenPayload: ExpressionObject?,
                inputs: InputValues.Resolved, vars: [String: String], runNumber: Int, runID: UInt64, eventPath: String,
                hostEnvironment: [String: String]) {
        self.workflow = workflow
        self.git = git
        self.eventName = eventName
        self.givenPayload = givenPayload
        self.inputs = inputs
        self.vars = vars
        self.runNumber = runNumber
        self.runID = runID
        self.eventPath = eventPath
        self.hostEnvironment = hostEnvironment
    }

    var isPullRequest: Bool { eventName == "pull_request" || eventName == "pull_request_target" }

    /// owner/name from origin, else the folder's name under `$USER`.
    public var remote: RemoteLocation {
        if let location = RemoteLocation.parse(git.originURL) { return location }
        let folder = ((git.topLevel.isEmpty ? git.directory : git.topLevel) as NSString).lastPathComponent
        return RemoteLocation(host: "github.com", owner: user, name: folder)
    }

    var user: String { hostEnvironment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "local" }
    /// `github.actor`: git's `user.name`, else `$USER`.
    var actor: String { git.userName.isEmpty ? user : git.userName }

    /// The parts of the event every field is made from.
    public struct Facts: Sendable {
        public var sha: String
        public var ref: String
        public var headRef = ""
        public var baseRef = ""
        /// The commit the changes are counted from (push: before; pull request: the merge base).
        public var before = ""
        /// The pull request's action.
        public var action: String?
    }

    /// What the event says: its ref and commit, from the given payload where it has them, else from git.
    public var facts: Facts {
        let payload = givenPayload ?? [:]
        let head = git.branch.isEmpty ? "" : git.branch
        if isPullRequest {
            let pull = payload["pull_request"]?.objectValue ?? [:]
            let headRef = pull["head"]?.objectValue?["ref"]?.stringValue ?? head
            let baseRef = pull["base"]?.objectValue?["ref"]?.stringValue ?? (git.defaultBranch.isEmpty ? head : git.defaultBranch)
            let headSHA = pull["head"]?.objectValue?["sha"]?.stringValue ?? git.sha
            let baseSHA = pull["base"]?.objectValue?["sha"]?.stringValue ?? baseCommit(baseRef) ?? ""
            let number = payload["number"].flatMap(\.numberText) ?? "\(Self.pullRequestNumber)"
            var facts = Facts(sha: headSHA, ref: "refs/pull/\(number)/merge", headRef: headRef, baseRef: baseRef)
            facts.before = git.mergeBase(baseSHA, headSHA) ?? baseSHA
            facts.action = payload["action"]?.stringValue ?? (givenPayload == nil ? Self.pullRequestAction : nil)
            return facts
        }
        let ref = payload["ref"]?.stringValue.map { $0.hasPrefix("refs/") ? $0 : "refs/heads/\($0)" }
            ?? (!git.branch.isEmpty ? "refs/heads/\(git.branch)" : !git.tag.isEmpty ? "refs/tags/\(git.tag)" : "")
        let after = payload["after"]?.stringValue ?? payload["head_commit"]?.objectValue?["id"]?.stringValue ?? git.sha
        var facts = Facts(sha: after, ref: ref)
        if let before = payload["before"]?.stringValue {
            facts.before = before == Self.zeroSHA ? "" : before
        } else if !git.upstreamSHA.isEmpty, git.upstreamSHA != git.sha {
            facts.before = git.upstreamSHA
        } else {
            facts.before = git.parent(of: git.sha) ?? ""
        }
        return facts
    }

    func baseCommit(_ branch: String) -> String? {
        git.resolve("refs/remotes/origin/\(branch)") ?? git.resolve("refs/heads/\(branch)")
    }

    /// What the trigger check needs: the ref filters look at (a pull request's base branch) and the changed files.
    public func triggerEvent(_ facts: Facts) -> TriggerCheck.Event {
        let ref = isPullRequest ? "refs/heads/\(facts.baseRef)" : facts.ref
        let files = facts.sha.isEmpty ? nil : git.changedFiles(from: facts.before, to: facts.sha)
        return TriggerCheck.Event(name: eventName, ref: ref, action: facts.action, changedFiles: files)
    }

    /// The payload: the given one, or one built from git.
    public func payload(_ facts: Facts) -> ExpressionValue {
        if let givenPayload { return .object(givenPayload) }
        let remote = remote
        let repository: ExpressionValue = .object([
            "name": .string(remote.name), "full_name": .string(remote.fullName),
            "owner": .object(["login": .string(remote.owner), "name": .string(remote.owner)]),
            "default_branch": .string(git.defaultBranch), "master_branch": .string(git.defaultBranch),
            "html_url": .string("\(remote.serverURL)/\(remote.fullName)"),
            // Never the remote as written: it may hold a login (audit 53: a token in origin reached
            // $GITHUB_EVENT_PATH and the logs). GitHub's is always this.
            "clone_url": .string("\(remote.serverURL)/\(remote.fullName).git"),
        ])
        let sender: ExpressionValue = .object(["login": .string(actor), "type": .string("User")])
        var payload: [String: ExpressionValue] = ["repository": repository, "sender": sender]
        switch eventName {
        case "push":
            let list = git.commits(from: facts.before, to: facts.sha)
            let commits = list.map { commitObject($0, remote: remote) }
            payload["ref"] = .string(facts.ref)
            payload["before"] = .string(facts.before.isEmpty ? Self.zeroSHA : facts.before)
            payload["after"] = .string(facts.sha.isEmpty ? Self.zeroSHA : facts.sha)
            payload["created"] = .bool(facts.before.isEmpty)
            payload["deleted"] = .bool(false)
            payload["forced"] = .bool(false)
            payload["base_ref"] = .null
            payload["compare"] = .string("\(remote.serverURL)/\(remote.fullName)/compare/\(facts.before.prefix(12))...\(facts.sha.prefix(12))")
            payload["commits"] = .array(commits)
            let head = list.last.flatMap { $0.sha == facts.sha ? $0 : nil } ?? git.commit(facts.sha)
            payload["head_commit"] = head.map { commitObject($0, remote: remote) } ?? .null
            payload["pusher"] = .object(["name": .string(actor), "email": .string(git.userEmail)])
        case "pull_request", "pull_request_target":
            let head = git.commit(facts.sha)
            let branch = { (ref: String, sha: String) -> ExpressionValue in
                .object(["ref": .string(ref), "sha": .string(sha), "label": .string("\(remote.owner):\(ref)"), "repo": repository])
            }
            payload["action"] = .string(facts.action ?? Self.pullRequestAction)
            payload["number"] = .number(Double(Self.pullRequestNumber))
            let base = baseCommit(facts.baseRef) ?? ""
            // `labels` an empty list and `commits` the head's commits past the base, as GitHub's
            // payload has them (audit 63 fidelity L8: null, and missing; cpython fetches
            // `--depth=$(( commits + 1 ))`).
            let commitCount = git.commitCount(from: base, to: facts.sha) ?? 1
            payload["pull_request"] = .object([
                "labels": .array([]), "commits": .number(Double(commitCount)),
                "number": .number(Double(Self.pullRequestNumber)), "state": .string("open"), "draft": .bool(false), "merged": .bool(false),
                "title": .string(head?.message.split(separator: "\n").first.map(String.init) ?? facts.headRef),
                "body": .null, "user": .object(["login": .string(actor)]),
                "head": branch(facts.headRef, facts.sha),
                "base": branch(facts.baseRef, base),
            ])
        case "schedule":
            // The cron that fired: the first one (GitHub's docs tell several apart with
            // `github.event.schedule`; audit 53: it was missing). `--event-path` gives another.
            if let cron = workflow.triggers?.trigger("schedule")?.crons.first { payload["schedule"] = .string(cron) }
        case "workflow_dispatch":
            payload["inputs"] = .sortedObject(inputs.strings.mapValues(ExpressionValue.string))
            payload["ref"] = .string(facts.ref)
            payload["workflow"] = .string(workflowPath)
        default: break
        }
        return .sortedObject(payload)
    }

    /// A commit as a push payload has it, with the paths it changed (audit 53: always empty, so
    /// `contains(github.event.head_commit.modified, 'README.md')` was false).
    func commitObject(_ commit: GitRepository.Commit, remote: RemoteLocation) -> ExpressionValue {
        let person = { (person: GitRepository.Person) -> ExpressionValue in
            .object(["name": .string(person.name), "email": .string(person.email), "username": .string(person.name)])
        }
        return .object([
            "id": .string(commit.sha), "tree_id": .string(""), "distinct": .bool(true), "message": .string(commit.message),
            "timestamp": .string(commit.timestamp), "url": .string("\(remote.serverURL)/\(remote.fullName)/commit/\(commit.sha)"),
            "author": person(commit.author), "committer": person(commit.committer),
            "added": .array(commit.changes.added.map(ExpressionValue.string)),
            "removed": .array(commit.changes.removed.map(ExpressionValue.string)),
            "modified": .array(commit.changes.modified.map(ExpressionValue.string)),
        ])
    }

    /// The workflow file relative to the repository's top folder (else as given).
    public var workflowPath: String {
        let file = URL(fileURLWithPath: workflow.file).standardizedFileURL.resolvingSymlinksInPath().path
        let top = URL(fileURLWithPath: git.topLevel.isEmpty ? git.directory : git.topLevel).standardizedFileURL.resolvingSymlinksInPath().path
        return file.hasPrefix(top + "/") ? String(file.dropFirst(top.count + 1)) : workflow.file
    }

    /// The run's context (and the payload written to `eventPath` by the caller).
    public func context(_ facts: Facts, payload: ExpressionValue) -> RunContext {
        let remote = remote
        let refName: String, refType: String
        if facts.ref.hasPrefix("refs/heads/") {
            refName = String(facts.ref.dropFirst("refs/heads/".count)); refType = "branch"
        } else if facts.ref.hasPrefix("refs/tags/") {
            refName = String(facts.ref.dropFirst("refs/tags/".count)); refType = "tag"
        } else if facts.ref.hasPrefix("refs/pull/") {
            refName = String(facts.ref.dropFirst("refs/pull/".count)); refType = "branch"
        } else {
            refName = facts.ref; refType = ""
        }
        let workflowRef = "\(remote.fullName)/\(workflowPath)@\(facts.ref)"
        let debug = hostEnvironment["RUNNER_DEBUG"] == "1" || hostEnvironment["ACTIONS_RUNNER_DEBUG"] == "true"
            || hostEnvironment["ACTIONS_STEP_DEBUG"] == "true"
        let toolCache = hostEnvironment["RUNNER_TOOL_CACHE"]
            ?? ((hostEnvironment["HOME"] ?? NSTemporaryDirectory()) as NSString).appendingPathComponent(".cache/nixactions/toolcache")
        // Without `name:`, GitHub's `github.workflow` is the file's path in the repository (audit
        // 53: the base name); the console still shows the base name.
        let workflowName = workflow.hasName ? workflow.name : workflowPath
        let fields: [String: String] = [
            "workflow": workflowName, "workflow_ref": workflowRef, "workflow_sha": facts.sha,
            "run_id": String(runID), "run_number": String(runNumber), "run_attempt": "1", "retention_days": "90",
            "event_name": eventName, "event_path": eventPath,
            "sha": facts.sha, "ref": facts.ref, "ref_name": refName, "ref_type": refType,
            "head_ref": facts.headRef, "base_ref": facts.baseRef,
            "repository": remote.fullName, "repository_owner": remote.owner, "repository_id": "", "repository_owner_id": "",
            "repositoryUrl": "git://\(remote.host)/\(remote.fullName).git",
            "actor": actor, "actor_id": "", "triggering_actor": actor,
            "server_url": remote.serverURL, "api_url": remote.apiURL, "graphql_url": remote.graphqlURL,
            "secret_source": "None", "token": "",
        ]
        var github = fields.mapValues(ExpressionValue.string)
        github["event"] = payload
        github["ref_protected"] = .bool(false)
        var environment: [String: String] = [
            "GITHUB_WORKFLOW": workflowName, "GITHUB_WORKFLOW_REF": workflowRef, "GITHUB_WORKFLOW_SHA": facts.sha,
            "GITHUB_RUN_ID": String(runID), "GITHUB_RUN_NUMBER": String(runNumber), "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_RETENTION_DAYS": "90", "GITHUB_EVENT_NAME": eventName, "GITHUB_EVENT_PATH": eventPath,
            "GITHUB_SHA": facts.sha, "GITHUB_REF": facts.ref, "GITHUB_REF_NAME": refName, "GITHUB_REF_TYPE": refType,
            "GITHUB_REF_PROTECTED": "false", "GITHUB_HEAD_REF": facts.headRef, "GITHUB_BASE_REF": facts.baseRef,
            "GITHUB_REPOSITORY": remote.fullName, "GITHUB_REPOSITORY_OWNER": remote.owner,
            "GITHUB_REPOSITORY_ID": "", "GITHUB_REPOSITORY_OWNER_ID": "",
            "GITHUB_ACTOR": actor, "GITHUB_ACTOR_ID": "", "GITHUB_TRIGGERING_ACTOR": actor,
            "GITHUB_SERVER_URL": remote.serverURL, "GITHUB_API_URL": remote.apiURL, "GITHUB_GRAPHQL_URL": remote.graphqlURL,
            "RUNNER_NAME": "nixactions", "RUNNER_ENVIRONMENT": "self-hosted", "RUNNER_TOOL_CACHE": toolCache,
        ]
        if debug { environment["RUNNER_DEBUG"] = "1" }
        var runner: [String: ExpressionValue] = [
            "name": .string("nixactions"), "environment": .string("self-hosted"), "tool_cache": .string(toolCache),
        ]
        if debug { runner["debug"] = .string("1") }
        var context = RunContext(
            github: github, vars: vars.mapValues(ExpressionValue.string), inputs: inputs.typed, environment: environment)
        context.runner = runner
        return context
    }
}

extension ExpressionValue {
    var objectValue: [String: ExpressionValue]? {
        if case .object(let members) = self { return members.unordered }
        return nil
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// A number or a string as text (`number: 12` in a payload).
    var numberText: String? {
        switch self {
        case .number(let value): return value == value.rounded() ? String(Int(value)) : String(value)
        case .string(let text): return text
        default: return nil
        }
    }
}
