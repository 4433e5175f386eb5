import NixActionsPluginMessages

/// What every expression of a run may see before any job starts: the run-level part of `github`
/// (the event, the commit, the repository, the run's id and number), `vars` and `inputs`; and the
/// run-level `GITHUB_*` variables every step gets. Made once per run (by the command line, from
/// the project's git repository, `--event`, `--input` and `--var`); planning, conditions, runs-on,
/// executor options and steps all read this one value.
public struct RunContext: Sendable {
    /// `github.*` fields shared by every job (`job`, `workspace` and `action` are added per job and step).
    public var github: [String: ExpressionValue]
    public var vars: [String: ExpressionValue]
    public var inputs: [String: ExpressionValue]
    /// `runner.*` fields known for the whole run (`name`, `tool_cache`, `environment`, `debug`);
    /// `os`, `arch` and `temp` are added per job by its executor.
    public var runner: [String: ExpressionValue] = [:]
    /// Variables every step gets (`GITHUB_SHA`, `GITHUB_REF`, `GITHUB_EVENT_NAME`, …); the
    /// workflow's, job's and step's `env` are set over them.
    public var environment: [String: String]
    /// Plugin functions (`text.lower(…)`), for what is evaluated before the jobs run too: a
    /// matrix, `runs-on`, a job's `name`, `concurrency` (audit 61 input H6: `validate` took them
    /// there, and `run` then said "unknown function"). Nil: none.
    public var functions: (any PluginFunctionProvider)?

    public init(
        github: [String: ExpressionValue], vars: [String: ExpressionValue] = [:],
        inputs: [String: ExpressionValue] = [:], environment: [String: String] = [:]
    ) {
        self.github = github
        self.vars = vars
        self.inputs = inputs
        self.environment = environment
    }

    /// The context of a run that knows nothing of its project: the workflow's name, the run's id,
    /// no event payload (what `validate`, `list` and `graph` evaluate with).
    public static func minimal(workflow: String, runID: String = "") -> RunContext {
        RunContext(
            github: ["workflow": .string(workflow), "run_id": .string(runID), "run_number": .string("1"),
                     "run_attempt": .string("1"), "event_name": .string("push"), "event": .object([:])],
            environment: ["GITHUB_WORKFLOW": workflow, "GITHUB_RUN_ID": runID, "GITHUB_RUN_NUMBER": "1",
                          "GITHUB_RUN_ATTEMPT": "1", "GITHUB_EVENT_NAME": "push"])
    }

    /// `github` as a job sees it.
    public func github(job: String?) -> ExpressionValue {
        guard let job else { return .sortedObject(github) }
        var fields = github
        fields["job"] = .string(job)
        return .sortedObject(fields)
    }

    /// `github`, `vars` and `inputs`: the contexts known before anything runs.
    public func staticContexts(job: String? = nil) -> [String: ExpressionValue] {
        ["github": github(job: job), "vars": .sortedObject(vars), "inputs": .sortedObject(inputs)]
    }

    /// An expression context of `contexts` (the static ones when nil) with this run's plugin functions.
    public func expressionContext(_ contexts: [String: ExpressionValue]? = nil, job: String? = nil) -> DictionaryExpressionContext {
        var context = DictionaryExpressionContext(contexts ?? staticContexts(job: job))
        context.functions = functions
        return context
    }
}
