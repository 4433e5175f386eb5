/// Checks across a whole workflow: job references, cycles, duplicate ids.
public enum Validator {
    @discardableResult
    static func validate(_ workflow: Workflow, functions: FunctionArities? = nil, into diagnostics: inout DiagnosticBag) -> [SecretReference] {
        // Each job's needs, matrix size and step ids are checked on their own: in slices
        // (`Slices`), merged in order. The context is made only for a job with a problem.
        let jobs = workflow.jobs
        let ids = jobs.map(\.id)
        let known = Set(ids)
        let workflowName = workflow.name
        // A "did you mean" compares an unknown need with every job id: with thousands of both
        // (a generated file gone wrong), the hint lists ids instead, so validation stays fast.
        let unknown = jobs.reduce(0) { count, job in count + job.needs.filter { !known.contains($0.value) }.count }
        let suggest = unknown * ids.count <= 2_000_000
        let parts = Slices.map(count: jobs.count) { range in
            var found = DiagnosticBag()
            for index in range {
                checkShape(of: jobs[index], ids: ids, known: known, workflowName: workflowName, suggest: suggest, into: &found)
            }
            return found.diagnostics
        }
        for part in parts {
            for diagnostic in part { diagnostics.append(diagnostic) }
        }
        var expressions = ExpressionValidator(workflow: workflow, diagnostics: diagnostics, functions: functions)
        expressions.run()
        diagnostics = expressions.diagnostics
        // A strategy whose expressions read nothing (`matrix: ${{ fromJSON('…') }}`, a literal
        // matrix with `${{ 1 }}` in it) is expanded now, as the run would plan it, when the
        // workflow has no other error: validate and `run --dry-run` agree on it (audit 55 L1).
        if !diagnostics.hasErrors {
            for job in jobs where job.strategy.map(isConstant) == true {
                if case .failure(let problem) = Planner.expand(job, workflow: workflow, contexts: DictionaryExpressionContext([:])) {
                    diagnostics.append(problem)
                }
            }
        }
        let references = expressions.secretReferences
        if let cycle = JobGraph(workflow).cycle(ignoringSelf: true) {
            let first = workflow.job(cycle[0])
            // A long one is shown by its ends (audit 55 L9: 100,000 jobs were one 700 KB line).
            let path = cycle + [cycle[0]]
            let shown = path.count <= 21 ? path.joined(separator: " → ")
                : (path.prefix(10) + ["… \(path.count - 20) more …"] + path.suffix(10)).joined(separator: " → ")
            diagnostics.error(
                "dependency cycle\(path.count <= 21 ? "" : " of \(cycle.count) jobs"): \(shown)",
                at: first?.needs.first { cycle.contains($0.value) }?.location ?? first?.location,
                context: "workflow '\(workflow.name)'", hint: "remove one of these 'needs' to break the cycle")
        }
        return references
    }

    /// Whether a strategy's expressions, if it has any, give the same value in every run: no
    /// context, no plugin function, no `hashFiles` and no status function.
    static func isConstant(_ strategy: Strategy) -> Bool {
        let fields = strategy.expressions
        return !fields.isEmpty && fields.allSatisfy { field in
            field.template.segments.allSatisfy { segment in
                guard case .expression(let expression, _) = segment else { return true }
                return expression.references.isEmpty && expression.pluginCalls.isEmpty && expression.hashFilesCalls.isEmpty
                    && expression.statusFunctions.isEmpty
            }
        }
    }

    /// A job's `needs` (itself, an unknown job, one listed twice), the size of its literal matrix,
    /// and its step ids (each once).
    static func checkShape(of job: Job, ids: [String], known: Set<String>, workflowName: String, suggest: Bool = true,
                           into diagnostics: inout DiagnosticBag) {
        var context: String { "workflow '\(workflowName)' › job '\(job.id)'" }
        var seen: Set<String> = []
        for need in job.needs {
            if need.value == job.id {
                // Once, however often it is listed.
                if seen.insert(need.value).inserted {
                    diagnostics.error("job '\(job.id)' needs itself", at: need.location, context: context,
                                      hint: "remove '\(job.id)' from its needs; a job runs after the jobs it lists")
                }
            } else if !known.contains(need.value) {
                let suggestion = suggest ? didYouMean(need.value, in: ids.lazy.filter { $0 != job.id }) : nil
                // `needs: a, b` is one name in YAML; each part a job: the list was meant (audit 64 cli L7).
                let parts = need.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                let listMeant = parts.count > 1 && parts.allSatisfy { known.contains($0) }
                diagnostics.error(
                    "job '\(job.id)' needs '\(need.value)', which is not a job of this workflow",
                    at: need.location, context: context,
                    hint: listMeant ? "several jobs are a list: needs: [\(parts.joined(separator: ", "))]" : suggestion.map { "did you mean '\($0)'?" }
                        ?? "jobs here: \(ids.prefix(20).joined(separator: ", "))\(ids.count > 20 ? ", … (\(ids.count) jobs)" : "")")
            } else if job.needs.count > 1, !seen.insert(need.value).inserted {
                diagnostics.warning("'\(need.value)' is listed twice in needs", at: need.location, context: context)
            }
        }
        // Counted, never expanded: a 4096 × 4096 matrix is refused here, not built.
        if case .literal(let matrix)? = job.strategy?.matrix {
            if let problem = Planner.sizeProblem(matrix, jobID: job.id) {
                diagnostics.error(problem.message, at: job.strategy?.location, context: context, hint: problem.hint)
            } else if let emptied = Planner.emptiedMatrixWarning(matrix, jobID: job.id) {
                diagnostics.warning(emptied.message, at: job.strategy?.location, context: context, hint: emptied.hint)
            }
        }
        guard job.steps.count > 1 || !job.caches.isEmpty else { return }
        // Compared without case, as GitHub's parser does (`steps.build` and `steps.Build` are one).
        var stepIDs: [String: String] = [:]
        // A job's `cache:` entries put their outputs in `steps.<id>` too: a step with the same id
        // would hide them (audit 64 cache M2: `steps.cache.outputs.cache-hit` was empty after a hit).
        let cacheIDs = Dictionary(job.caches.map { ($0.id.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        for step in job.steps {
            guard let id = step.id else { continue }
            if let cache = cacheIDs[id.lowercased()] {
                diagnostics.error(
                    "step id '\(id)' is also the id of the job's cache\(cache.idWritten ? "" : " (its default)")"
                        + ": both would put their outputs in steps.\(cache.id).outputs",
                    at: step.location, context: context, hint: "give the step another id, or the cache one of its own: cache: { id: deps, … }")
            }
            if let earlier = stepIDs[id.lowercased()] {
                diagnostics.error(
                    "duplicate step id '\(id)' in job '\(job.id)'" + (earlier == id ? "" : " (as '\(earlier)': ids are compared without case)"),
                    at: step.location, context: context, hint: "step ids must be unique within a job")
            } else {
                stepIDs[id.lowercased()] = id
            }
        }
    }
}

/// A `secrets.NAME` read somewhere in a workflow.
public struct SecretReference: Sendable, Hashable {
    public var name: String
    /// The job whose expression reads it; nil at workflow level.
    public var job: String?
    public var location: SourceLocation?
    public var context: String
}
