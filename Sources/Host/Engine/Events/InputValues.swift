import NixActionsPluginMessages

/// `--input NAME=VALUE` checked against `on.workflow_dispatch.inputs` / `on.workflow_call.inputs`.
///
/// `inputs.*` is typed (a boolean is `true`/`false`, a number is a number) while
/// `github.event.inputs.*` holds the same values as strings, as on GitHub.
public enum InputValues {
    public struct Resolved: Sendable {
        /// `inputs.*`.
        public var typed: [String: ExpressionValue] = [:]
        /// `github.event.inputs.*`.
        public var strings: [String: String] = [:]
    }

    /// Every problem of the given inputs.
    public struct Problems: Error, Sendable {
        public var diagnostics: [Diagnostic]
    }

    /// Why `value` is not a valid value for `spec` (nil when it is).
    public static func problem(_ value: String, for spec: InputSpec) -> String? {
        switch spec.kind {
        case .boolean:
            return ["true", "false"].contains(value.lowercased()) ? nil : "'\(value)' is not a boolean (true or false)"
        case .number:
            return Double(value.trimmingCharacters(in: .whitespaces)) != nil ? nil : "'\(value)' is not a number"
        case .choice:
            return spec.options.contains(value) ? nil : "'\(value)' is not one of the options (\(spec.options.joined(separator: ", ")))"
        case .string, .environment:
            return nil
        }
    }

    /// A value an expression gave (a call's `with`, a default), as `spec`'s input: a boolean or
    /// number as such, a text as `--input` values are read; else why it is not of the type.
    static func typed(_ value: ExpressionValue, for spec: InputSpec) -> Result<ExpressionValue, InputTypeProblem> {
        switch (spec.kind, value) {
        case (.boolean, .bool), (.number, .number): return .success(value)
        default:
            if let problem = problem(value.displayString, for: spec) { return .failure(InputTypeProblem(message: problem)) }
            return .success(typed(value.displayString, for: spec))
        }
    }

    /// Why a value is not of an input's type.
    struct InputTypeProblem: Error { let message: String }

    /// A call's `with:` value (an expression's result, or `WorkflowCall.withLiterals`) for a
    /// `workflow_call` input, checked as GitHub checks it: a number input takes a number and a
    /// boolean input a boolean, never text that reads as one (GitHub: "Unexpected value '60'";
    /// a job output or `github.event.inputs.*` is text: `fromJSON()` makes it a number). A string
    /// input given a number or a boolean gets its text, with a warning (GitHub refuses that too).
    /// `written`: the value as the file writes it, for one written without `${{ }}` (a quoted
    /// number is told to lose its quotes; a plain `3.10` given to a string input is `3.10`, not
    /// the number's `3.1`).
    static func forCall(_ value: ExpressionValue, for spec: InputSpec, written: String? = nil)
        -> (value: Result<ExpressionValue, InputTypeProblem>, warning: String?)
    {
        let literal = written != nil
        func kind(_ value: ExpressionValue) -> String {
            switch value {
            case .string: return "a string"
            case .number: return "a number"
            case .bool: return "a boolean"
            case .null: return "null"
            default: return "an object or array"
            }
        }
        let shown = written ?? value.displayString
        switch (spec.kind, value) {
        case (.boolean, .bool), (.number, .number), (.string, .string), (.choice, .string), (.environment, .string):
            return (.success(value), nil)
        case (_, .null):
            // Nothing (an input the caller itself was not given): the input's empty value, as
            // for an input not given.
            return (.success(spec.kind == .boolean ? .bool(false) : spec.kind == .number ? .number(0) : .string("")), nil)
        case (.boolean, _), (.number, _):
            let convert: String
            if case .string(let text) = value, problem(text, for: spec) == nil {
                convert = literal ? "; write it without quotes"
                    : "; make it \(spec.kind == .number ? "a number" : "a boolean") with fromJSON(), e.g. ${{ fromJSON(needs.JOB.outputs.NAME) }}"
            } else {
                convert = ""
            }
            return (.failure(InputTypeProblem(
                message: "'\(shown)' is \(kind(value)), and input '\(spec.name)' is a \(spec.kind.rawValue): GitHub refuses it (Unexpected value '\(shown)')\(convert)")),
                nil)
        case (_, .number), (_, .bool):
            // GitHub takes it and makes it text as it writes numbers (`3.10` is the number 3.1, so
            // '3.1'), as for `env:` and a step's `with:` (audit 63 fidelity H2: the written text was
            // kept, with a warning that GitHub may refuse it).
            let text = written.map { GitHubScalars.text(ofPlain: $0) ?? $0 } ?? value.displayString
            guard let written, text != written else { return (.success(.string(text)), nil) }
            return (.success(.string(text)),
                    "GitHub reads \(written) as \(kind(value) == "a boolean" ? "the boolean" : "the number") \(text), so the value is '\(text)'; quote it ('\(written)') to keep the text as written")
        default:
            return (.success(.string(shown)), nil)
        }
    }

    static func typed(_ value: String, for spec: InputSpec) -> ExpressionValue {
        switch spec.kind {
        case .boolean: return .bool(value.lowercased() == "true")
        case .number: return .number(Double(value.trimmingCharacters(in: .whitespaces)) ?? 0)
        default: return .string(value)
        }
    }

    /// Check `given` (name, value, in command-line order; later wins) against the declared inputs.
    /// Returns the values, or every problem as an error (the caller exits 2).
    /// `applyDeclarations`: whether the run's event takes the workflow's inputs (workflow_dispatch,
    /// workflow_call, or an event the file does not listen to, run anyway); else, as on GitHub,
    /// `inputs` is empty: only the values given are there, with no default and nothing required.
    /// `requireGiven` false: a required input not given is its type's empty value, not a problem
    /// (`graph`, which runs nothing, draws what it can).
    public static func resolve(_ given: [(name: String, value: String)], triggers: WorkflowTriggers?,
                               applyDeclarations: Bool = true, requireGiven: Bool = true) -> Result<Resolved, Problems> {
        let specs = triggers?.inputs ?? []
        var problems: [Diagnostic] = []
        var values: [String: String] = [:]
        var givenWrong: Set<String> = []  // given with a bad value: not also "required" (audit 64 cli M5)
        let declared = specs.map(\.name)
        for (name, value) in given {
            guard let spec = specs.first(where: { $0.name.lowercased() == name.lowercased() }) else {
                let hint = declared.isEmpty
                    ? "the workflow declares no inputs (on.workflow_dispatch.inputs or on.workflow_call.inputs)"
                    : didYouMean(name, in: declared).map { "did you mean '\($0)'? inputs: \(declared.joined(separator: ", "))" }
                        ?? "inputs: \(declared.joined(separator: ", "))"
                problems.append(Diagnostic(.error, "--input \(name): the workflow has no input '\(name)'", hint: hint))
                continue
            }
            if let problem = problem(value, for: spec) {
                problems.append(Diagnostic(.error, "--input \(name): \(problem) (input '\(spec.name)' is a \(spec.kind.rawValue))", at: spec.location))
                givenWrong.insert(spec.name)
                continue
            }
            values[spec.name] = value
        }
        var resolved = Resolved()
        // GitHub keeps a workflow_dispatch input's boolean a boolean in `inputs`, and its number
        // text (actions/runner#2848: such a value given to a called workflow's number input is
        // "Unexpected value"); a workflow_call number is a number.
        let dispatch = Set((triggers?.trigger("workflow_dispatch")?.inputs ?? []).map(\.name))
        for spec in specs {
            if !applyDeclarations && values[spec.name] == nil { continue }
            // A default from an expression is evaluated with the run's context (`evaluateDefaults`).
            if values[spec.name] == nil, spec.defaultExpression != nil { continue }
            guard let value = values[spec.name] ?? spec.defaultValue else {
                if spec.required && requireGiven && !givenWrong.contains(spec.name) {
                    problems.append(Diagnostic(
                        .error, "input '\(spec.name)' is required and has no default", at: spec.location,
                        hint: "give it with --input \(spec.name)=VALUE"))
                }
                // Not given and no default: GitHub's empty value of the type.
                switch spec.kind {
                case .boolean: resolved.typed[spec.name] = .bool(false)
                // workflow_call's 0 (GitHub: "0 for a number"); a dispatch number stays empty.
                case .number: if !dispatch.contains(spec.name) { resolved.typed[spec.name] = .number(0) }
                default: resolved.typed[spec.name] = .string("")
                }
                continue
            }
            let typed = spec.kind == .number && dispatch.contains(spec.name) ? .string(value) : typed(value, for: spec)
            resolved.typed[spec.name] = typed
            if case .bool(let flag) = typed { resolved.strings[spec.name] = flag ? "true" : "false" } else { resolved.strings[spec.name] = value }
        }
        return problems.isEmpty ? .success(resolved) : .failure(Problems(diagnostics: problems))
    }

    /// The inputs of `specs` not in `inputs` whose default is an expression, evaluated with
    /// `github`, `vars` and the inputs known (GitHub's contexts for an input's default), into
    /// `inputs`; a value of the wrong type is an error at the default's place. For a run of the
    /// file (`--input`) and for a call of it (`with`).
    public static func evaluateDefaults(_ specs: [InputSpec], github: ExpressionValue, vars: ExpressionValue,
                                        into inputs: inout [String: ExpressionValue]) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        let given = inputs
        let context = DictionaryExpressionContext(["github": github, "vars": vars, "inputs": .sortedObject(given)])
        for spec in specs where given[spec.name] == nil {
            guard let field = spec.defaultExpression else { continue }
            do {
                inputs[spec.name] = try spec.evaluatedDefault(context)
            } catch let error as EngineError {
                problems.append(Diagnostic(.error, error.message, at: field.source.location, hint: error.hint))
            } catch let error as ExpressionError {
                problems.append(Diagnostic(.error, "cannot evaluate the default of input '\(spec.name)': \(error.message)",
                                           at: field.location(ofOffset: error.offset), hint: error.hint))
            } catch {
                problems.append(Diagnostic(.error, "cannot evaluate the default of input '\(spec.name)': \(error)", at: field.source.location))
            }
        }
        return problems
    }
}
