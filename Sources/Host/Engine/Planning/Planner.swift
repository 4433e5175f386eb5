import NixActionsPluginMessages

/// One job as it will run: a workflow job, or one combination of its matrix.
public struct PlannedJob: Sendable {
    /// Unique within the run, safe for file names (`test-node-20-os-linux`).
    public var key: String
    /// The workflow job it comes from.
    public var jobID: String
    /// What people read (`test (node: 20, os: linux)`).
    public var displayName: String
    /// The matrix combination, in key order (empty without a matrix).
    public var matrix: [(key: String, value: ExpressionValue)]
    /// Position in its matrix and the matrix's size (0 and 1 without a matrix).
    public var matrixIndex: Int
    public var matrixTotal: Int

    public var matrixObject: ExpressionValue {
        .object(Dictionary(matrix.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }))
    }
}

/// The jobs of a run in dependency order, each workflow job expanded into its matrix instances.
public struct Plan: Sendable {
    public var workflow: Workflow
    public var graph: JobGraph
    /// Workflow job ids to run, in dependency order.
    public var order: [String]
    /// Instances of each job; a job whose matrix comes from an expression over `needs` is expanded when it starts.
    public var instances: [String: [PlannedJob]]

    public var allInstances: [PlannedJob] { order.flatMap { instances[$0] ?? [] } }
}

public enum Planner {
    /// Largest matrix accepted (GitHub's limit).
    public static let maxMatrixSize = 256

    /// Plan `selected` jobs (and what they need; all when empty).
    public static func plan(_ workflow: Workflow, selected: [String] = []) -> Result<Plan, Diagnostic> {
        let graph = JobGraph(workflow)
        let order = graph.topologicalOrder(of: graph.closure(of: selected))
        var instances: [String: [PlannedJob]] = [:]
        for id in order {
            guard let job = workflow.job(id) else { continue }
            switch expand(job, workflow: workflow, contexts: staticContexts(workflow)) {
            case .success(let planned): instances[id] = planned
            case .failure(let diagnostic): return .failure(diagnostic)
            }
        }
        return .success(Plan(workflow: workflow, graph: graph, order: order, instances: instances))
    }

    /// Contexts known before anything runs (for matrices given as expressions).
    static func staticContexts(_ workflow: Workflow) -> DictionaryExpressionContext {
        DictionaryExpressionContext(["github": .object(["workflow": .string(workflow.name)]), "vars": .object([:]), "inputs": .object([:])])
    }

    /// The instances of `job`; matrix expressions are evaluated in `contexts`.
    public static func expand(
        _ job: Job, workflow: Workflow, contexts: some ExpressionContext
    ) -> Result<[PlannedJob], Diagnostic> {
        let context = "workflow '\(workflow.name)' › job '\(job.id)'"
        guard let matrix = job.strategy?.matrix else {
            return .success([PlannedJob(key: job.id, jobID: job.id, displayName: displayName(job, matrix: [], contexts: contexts), matrix: [], matrixIndex: 0, matrixTotal: 1)])
        }
        let literal: MatrixLiteral
        switch matrix {
        case .literal(let value): literal = value
        case .expression(let field):
            do {
                literal = try matrixLiteral(from: field.template.evaluateValue(contexts))
            } catch let error as ExpressionError {
                return .failure(Diagnostic(
                    .error, "cannot evaluate strategy.matrix: \(error.message)",
                    at: field.location(ofOffset: error.offset), context: context, hint: error.hint))
            } catch {
                return .failure(Diagnostic(.error, "cannot evaluate strategy.matrix: \(error)", at: field.source.location, context: context))
            }
        }
        let combinations = combine(literal)
        if combinations.isEmpty {
            return .failure(Diagnostic(.error, "the matrix of job '\(job.id)' has no combinations left after 'exclude'",
                                       at: job.strategy?.location, context: context))
        }
        if combinations.count > maxMatrixSize {
            return .failure(Diagnostic(
                .error, "the matrix of job '\(job.id)' has \(combinations.count) combinations; at most \(maxMatrixSize) are allowed",
                at: job.strategy?.location, context: context, hint: "split the job or exclude combinations"))
        }
        var used: Set<String> = []
        let planned = combinations.enumerated().map { index, combination -> PlannedJob in
            let label = combination.map { "\($0.key): \($0.value.displayString)" }.joined(separator: ", ")
            var key = safeKey(job.id + "-" + combination.map { "\($0.key)-\($0.value.displayString)" }.joined(separator: "-"))
            if !used.insert(key).inserted { key += "-\(index + 1)" }
            used.insert(key)
            let named = job.name.map { !$0.template.isLiteral } ?? false
            return PlannedJob(
                key: key, jobID: job.id,
                displayName: named ? displayName(job, matrix: combination, contexts: contexts) : "\(job.displayName) (\(label))",
                matrix: combination,
                matrixIndex: index, matrixTotal: combinations.count)
        }
        return .success(planned)
    }

    /// A job's `name:`, rendered with its matrix (GitHub shows a templated name as it is, without the matrix values).
    static func displayName(_ job: Job, matrix: [(key: String, value: ExpressionValue)], contexts: some ExpressionContext) -> String {
        guard let field = job.name, !field.template.isLiteral else { return job.displayName }
        var values: [String: ExpressionValue] = ["matrix": .object(Dictionary(matrix.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }))]
        for name in ["github", "vars", "inputs"] { values[name] = contexts.value(ofContext: name) ?? .object([:]) }
        return (try? field.template.render(DictionaryExpressionContext(values))) ?? job.displayName
    }

    /// Cross product of the dimensions, then `exclude`, then `include` (GitHub's order and rules).
    public static func combine(_ matrix: MatrixLiteral) -> [[(key: String, value: ExpressionValue)]] {
        var combinations: [[(key: String, value: ExpressionValue)]] = matrix.dimensions.isEmpty ? [] : [[]]
        for dimension in matrix.dimensions {
            combinations = combinations.flatMap { partial in dimension.values.map { partial + [(dimension.key, $0)] } }
            if combinations.count > maxMatrixSize * 16 { break }  // reported as too large by the caller
        }
        combinations.removeAll { combination in
            matrix.exclude.contains { rule in
                rule.allSatisfy { key, value in combination.contains { $0.key == key && looselyEqual($0.value, value) } }
            }
        }
        let original = Set(matrix.dimensions.map(\.key))
        let baseCount = combinations.count
        for entry in matrix.include {
            var matched = false
            for index in 0..<baseCount {
                let fits = entry.allSatisfy { key, value in
                    !original.contains(key) || combinations[index].contains { $0.key == key && looselyEqual($0.value, value) }
                }
                guard fits else { continue }
                matched = true
                for (key, value) in entry where !original.contains(key) {
                    if let at = combinations[index].firstIndex(where: { $0.key == key }) {
                        combinations[index][at].value = value
                    } else {
                        combinations[index].append((key, value))
                    }
                }
            }
            if !matched { combinations.append(entry) }
        }
        return combinations
    }

    static func looselyEqual(_ a: ExpressionValue, _ b: ExpressionValue) -> Bool {
        a == b || (a.isPrimitive && b.isPrimitive && a.displayString == b.displayString)
    }

    /// A matrix given as a value (from `fromJSON`): an object of lists, with optional include/exclude.
    static func matrixLiteral(from value: ExpressionValue) throws -> MatrixLiteral {
        guard case .object(let members) = value else {
            throw ExpressionError(message: "the matrix must be an object, got \(value.kindName)", offset: 0, source: "")
        }
        var literal = MatrixLiteral(dimensions: [], include: [], exclude: [])
        func entries(_ value: ExpressionValue) -> [[(key: String, value: ExpressionValue)]] {
            guard case .array(let items) = value else { return [] }
            return items.compactMap { item in
                guard case .object(let fields) = item else { return nil }
                return fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            }
        }
        for (key, member) in members.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "include": literal.include = entries(member)
            case "exclude": literal.exclude = entries(member)
            default:
                guard case .array(let values) = member else {
                    throw ExpressionError(message: "matrix dimension '\(key)' must be a list", offset: 0, source: "")
                }
                literal.dimensions.append((key, values))
            }
        }
        return literal
    }

    /// Lowercase letters, digits and '-' only.
    static func safeKey(_ text: String) -> String {
        var key = ""
        for scalar in text.lowercased().unicodeScalars {
            if ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_" {
                key.unicodeScalars.append(scalar)
            } else if !key.hasSuffix("-") {
                key += "-"
            }
        }
        while key.hasSuffix("-") { key.removeLast() }
        return String(key.prefix(120))
    }
}
