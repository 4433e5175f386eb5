/// An action's metadata file (`action.yml` or `action.yaml`), as `ActionLoader` compiles it.
///
/// Only a composite action (`runs.using: composite`) is run; for the others (`node20`, `docker`)
/// `using` says what they are, and their `runs` is not read further.
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

    public var isComposite: Bool { using.value.lowercased() == "composite" }

    /// The input `key` names (GitHub matches `with:` keys to inputs without case).
    public func input(_ key: String) -> Input? {
        inputs.first { $0.id == key } ?? inputs.first { $0.id.lowercased() == key.lowercased() }
    }
}

/// A step's `uses: ./PATH` (a local action), kept by the loader: the action's file is read from
/// the project by `validate` and `run` (`ActionLoader.checkLocalActions`), and from the job's
/// workspace when the step runs.
public struct LocalActionUse: Sendable {
    public var job: String
    public var stepIndex: Int
    public var uses: Located<String>
    /// The step's `with:`, checked against the action's inputs.
    public var with: [(name: String, value: TemplateField)]
    /// "workflow 'W' › job 'J' › step N", for messages.
    public var context: String
}
