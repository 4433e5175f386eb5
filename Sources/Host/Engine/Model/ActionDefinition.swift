/// An action's metadata file (`action.yml` or `action.yaml`), as `ActionLoader` compiles it.
///
/// A composite action (`runs.using: composite`) runs its steps; a JavaScript action (`node12`,
/// `node16`, `node20`, `node24`) runs its `main` with the executor's `node` (`NodeRuns`); a docker
/// action (`docker`) runs its image with the executor's podman or docker (`DockerRuns`).
public struct ActionDefinition: Sendable {
    public struct Input: Sendable {
        public var id: String
        /// `default:`, evaluated when the step starts (github, strategy, matrix, job, runner, hashFiles).
        public var defaultValue: TemplateField?
        public var required: Bool
        public var deprecationMessage: String?
    }

    public struct Output: Sendable {
        public var id: String
        /// `value:`, evaluated after the action's last step (its steps, inputs, env, github, …).
        public var value: TemplateField
    }

    /// `name:`, or nil.
    public var name: String?
    /// The file, as diagnostics name it (relative to the project or workspace).
    public var file: String
    public var inputs: [Input]
    public var outputs: [Output]
    /// `runs.using`: `composite`, `node20`, `docker`, …
    public var using: Located<String>
    /// A composite action's `runs.steps`.
    public var steps: [Step]
    /// A JavaScript action's entry points; nil for any other.
    public var node: NodeRuns?
    /// A docker action's image, entry points and arguments; nil for any other.
    public var docker: DockerRuns?

    public var isComposite: Bool { using.value.lowercased() == "composite" }

    /// The `runs.using` values of JavaScript actions that GitHub's runner accepts (it runs node12
    /// and node16 ones on a later Node.js; here every one runs on the executor's `node`).
    public static let nodeVersions = ["node12", "node16", "node20", "node24"]

    /// Whether `using` names a JavaScript action.
    public static func isNode(_ using: String) -> Bool { nodeVersions.contains(using.lowercased()) }

    /// Whether `using` names a docker action.
    public static func isDocker(_ using: String) -> Bool { using.lowercased() == "docker" }

    /// Whether the action runs here: a composite, JavaScript or docker one (whose `runs` is valid).
    public var runs: Bool { isComposite || node != nil || docker != nil }

    /// The input `key` names (GitHub matches `with:` keys to inputs without case).
    public func input(_ key: String) -> Input? {
        inputs.first { $0.id == key } ?? inputs.first { $0.id.lowercased() == key.lowercased() }
    }
}

/// A JavaScript action's `runs:`: its scripts, paths relative to the action's folder, and when
/// its `pre` and `post` scripts run (`pre-if`, `post-if`; GitHub's default for both is `always()`).
public struct NodeRuns: Sendable {
    public var main: Located<String>
    public var pre: Located<String>?
    public var preCondition: ConditionField?
    public var post: Located<String>?
    public var postCondition: ConditionField?

    init(main: Located<String>, pre: Located<String>?, post: Located<String>?) {
        self.main = main
        self.pre = pre
        self.post = post
    }

    /// The scripts it names, each with its key: main, then pre and post when given.
    var scripts: [(key: String, path: Located<String>)] {
        [("main", main)] + (pre.map { [("pre", $0)] } ?? []) + (post.map { [("post", $0)] } ?? [])
    }
}

/// A docker action's `runs:` (GitHub's `runs.using: docker`): the image, the entry points that
/// replace its ENTRYPOINT (`entrypoint`, and `pre-entrypoint` and `post-entrypoint` with their
/// conditions), the arguments given to it and the variables set in it (both may use `inputs`).
public struct DockerRuns: Sendable {
    /// `Dockerfile` (a file of the action's folder, which is the build's context) or `docker://IMAGE`.
    public var image: Located<String>
    public var entrypoint: Located<String>?
    public var preEntrypoint: Located<String>?
    public var preCondition: ConditionField?
    public var postEntrypoint: Located<String>?
    public var postCondition: ConditionField?
    /// `runs.args`; nil when the file has none (the step's `args` input is used then).
    public var args: [TemplateField]?
    public var env: [EnvEntry] = []

    /// The image to pull (`docker://` dropped), or nil when it is built from a Dockerfile.
    public var pulled: String? { Self.pulledImage(image.value) }

    /// What follows `docker://` in `reference` (a `runs.image` or a step's `uses:`), or nil.
    public static func pulledImage(_ reference: String) -> String? {
        reference.hasPrefix("docker://") ? String(reference.dropFirst("docker://".count)) : nil
    }

    init(image: Located<String>) { self.image = image }
}

/// A step's `uses:` of an action read from files, kept by the loader: a local action (`./PATH`),
/// whose file is read from the project by `validate` and `run` (`ActionLoader.checkLocalActions`)
/// and from the job's workspace when the step runs, or a remote one (`OWNER/REPO[/PATH]@REF`),
/// which `run` fetches before any job starts (`RemoteActionStore`).
public struct ActionUse: Sendable {
    public var job: String
    public var stepIndex: Int
    public var uses: Located<String>
    /// The step's `with:`, checked against the action's inputs.
    public var with: [(name: String, value: TemplateField)]
    /// "workflow 'W' › job 'J' › step N", for messages.
    public var context: String
}

/// `OWNER/REPO[/PATH]@REF`: an action in another repository, at a branch, a tag or a commit.
public struct RemoteActionReference: Sendable, Hashable, CustomStringConvertible {
    public var owner: String
    public var repository: String
    /// The action's folder in the repository ("" for its root), parts joined with `/`.
    public var path: String
    public var ref: String

    /// Parses a well-formed reference (`WorkflowLoader.actionReferenceProblem` says nil); nil for
    /// a local, `$/` or `docker://` one. Parts are split on `/` and `\\` with empty ones dropped,
    /// as GitHub's parser splits them.
    public init?(_ uses: String) {
        guard !uses.hasPrefix("./"), !uses.hasPrefix(".\\"), !uses.hasPrefix("$/"), !uses.hasPrefix("docker://") else { return nil }
        let halves = uses.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard halves.count == 2, !halves[1].isEmpty else { return nil }
        let parts = halves[0].split { $0 == "/" || $0 == "\\" }
        guard parts.count >= 2 else { return nil }
        owner = String(parts[0])
        repository = String(parts[1])
        path = parts.dropFirst(2).joined(separator: "/")
        ref = String(halves[1])
    }

    /// `owner/repo` as GitHub's `github.action_repository` gives it.
    public var repositoryName: String { owner + "/" + repository }

    /// The key of the fetched tree: GitHub's names of owners and repositories are without case.
    public var treeKey: String { repositoryName.lowercased() + "@" + ref }

    /// The reference with its path: what `workflow.remoteActions` is keyed by.
    public var key: String { treeKey + (path.isEmpty ? "" : ":" + path) }

    public var description: String { repositoryName + (path.isEmpty ? "" : "/" + path) + "@" + ref }

    /// A full commit id: fetched once, then always taken from the cache.
    public var isCommit: Bool { Self.isCommitID(ref) }

    /// 40 lower-case hex digits: a full commit id as git prints it (and a kept tree's folder name).
    public static func isCommitID(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}

/// A remote action that `run` fetched: the commit its ref named, the folder of this machine that
/// holds that commit's files, and its action file compiled.
public struct RemoteAction: Sendable {
    public var reference: RemoteActionReference
    public var commit: String
    /// The repository's files at `commit`, shared by runs (each job that uses it gets a copy).
    public var tree: String
    public var action: ActionDefinition
}
