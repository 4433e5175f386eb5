import NixActionsPluginMessages

/// A workflow's `on:`: the events it listens to and each one's filters and inputs.
public struct WorkflowTriggers: Sendable {
    /// Events in file order.
    public var events: [EventTrigger] = []
    /// Where `on:` is.
    public var location: SourceLocation?

    public init(events: [EventTrigger] = [], location: SourceLocation? = nil) {
        self.events = events
        self.location = location
    }

    /// The trigger for `event`, if the workflow listens to it.
    public func trigger(_ event: String) -> EventTrigger? { events.first { $0.name == event } }

    /// The inputs a run may give: `workflow_dispatch`'s, then those of `workflow_call` it does not declare.
    public var inputs: [InputSpec] {
        let dispatch = trigger("workflow_dispatch")?.inputs ?? []
        let call = trigger("workflow_call")?.inputs ?? []
        return dispatch + call.filter { input in !dispatch.contains { $0.name == input.name } }
    }

    /// The events GitHub knows (docs "Events that trigger workflows").
    public static let knownEvents: [String] = [
        "branch_protection_rule", "check_run", "check_suite", "create", "delete", "deployment", "deployment_status",
        "discussion", "discussion_comment", "fork", "gollum", "image_version", "issue_comment", "issues", "label",
        "merge_group", "milestone", "page_build", "project", "project_card", "project_column", "public", "pull_request",
        "pull_request_comment", "pull_request_review", "pull_request_review_comment", "pull_request_target", "push",
        "registry_package", "release", "repository_dispatch", "schedule", "status", "watch", "workflow_call",
        "workflow_dispatch", "workflow_run",
    ]
}

/// One event of `on:` with its filters (`nil`: the filter is not given).
public struct EventTrigger: Sendable {
    public var name: String
    public var location: SourceLocation?
    public var branches: [Located<String>]?
    public var branchesIgnore: [Located<String>]?
    public var tags: [Located<String>]?
    public var tagsIgnore: [Located<String>]?
    public var paths: [Located<String>]?
    public var pathsIgnore: [Located<String>]?
    /// Activity types (`pull_request`'s `opened`, `synchronize`, …).
    public var types: [Located<String>]?
    /// `workflow_dispatch` / `workflow_call` inputs, in file order.
    public var inputs: [InputSpec] = []
    /// `workflow_call.outputs`: name → `value` (an expression over `jobs`), in file order.
    public var outputs: [(name: String, value: TemplateField)] = []
    /// `workflow_call.secrets`: the names a caller may pass, and whether each is required.
    public var secrets: [(name: String, required: Bool, location: SourceLocation?)] = []
    /// `schedule`: each entry's cron, in file order.
    public var crons: [String] = []

    public init(name: String, location: SourceLocation? = nil) {
        self.name = name
        self.location = location
    }
}

/// A declared input of `workflow_dispatch` or `workflow_call`.
public struct InputSpec: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case string, boolean, number, choice, environment }
    public var name: String
    public var kind: Kind
    public var required: Bool
    /// `default:` as written (nil: none, or an expression).
    public var defaultValue: String?
    /// A `workflow_call` input's `default: ${{ … }}`, evaluated when the workflow is called (or
    /// run) with `github`, `inputs` (those given) and `vars`; its value typed as the input.
    public var defaultExpression: TemplateField?
    /// `options:` of a choice.
    public var options: [String]
    public var description: String?
    public var location: SourceLocation?

    /// Whether the input has a default, written or an expression.
    public var hasDefault: Bool { defaultValue != nil || defaultExpression != nil }

    /// The value of `defaultExpression` in `context`, typed as the input (a boolean or number as
    /// such, a text as `--input` values are read); nil when there is none.
    public func evaluatedDefault(_ context: some ExpressionContext) throws -> ExpressionValue? {
        guard let field = defaultExpression else { return nil }
        switch InputValues.typed(try field.template.evaluateValue(context), for: self) {
        case .success(let typed): return typed
        case .failure(let problem):
            throw EngineError("default of input '\(name)': \(problem.message)", hint: "the expression must give a \(kind.rawValue)")
        }
    }

    public init(name: String, kind: Kind = .string, required: Bool = false, defaultValue: String? = nil,
                options: [String] = [], description: String? = nil, location: SourceLocation? = nil) {
        self.name = name
        self.kind = kind
        self.required = required
        self.defaultValue = defaultValue
        self.options = options
        self.description = description
        self.location = location
    }
}
