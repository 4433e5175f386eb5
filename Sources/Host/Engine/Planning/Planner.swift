import NixActionsPluginMessages

/// One job as it will run: a workflow job, or one combination of its matrix.
public struct PlannedJob: Sendable {
    /// Unique within the run, safe for file names (`test-node-20-os-linux`).
    public var key: String
    /// The workflow job it comes from.
    public var jobID: String
    /// What people read (`test (node: 20, os: linux)`).
    public var displayName: String
    /// The matrix combination, in the matrix's key order (empty without a matrix).
    public var matrix: [(key: String, value: ExpressionValue)]
    /// Position in its matrix and the matrix's size (0 and 1 without a matrix).
    public var matrixIndex: Int
    public var matrixTotal: Int
    /// `strategy.fail-fast` and `max-parallel` as evaluated for this job.
    public var failFast = true
    public var maxParallel: Int?
    /// A stand-in for a job whose strategy reads `needs`: its matrix is expanded when the jobs it
    /// needs have finished (`Planner.expand` with their outputs), and replaces this instance.
    public var awaitsExpansion = false

    init(key: String, jobID: String, displayName: String, matrix: [(key: String, value: ExpressionValue)],
         matrixIndex: Int, matrixTotal: Int) {
        self.key = key
        self.jobID = jobID
        self.displayName = displayName
        self.matrix = matrix
        self.matrixIndex = matrixIndex
        self.matrixTotal = matrixTotal
    }

    /// The `matrix` context: the combination's keys in its order (the matrix's, as `toJSON(matrix)`
    /// lists them on GitHub); a key given twice keeps its first place and its last value.
    /// The `matrix` context: null for a job without a matrix, as on GitHub (audit 53: it was `{}`,
    /// which `toJSON(matrix)` and `matrix == null` told apart).
    public var matrixObject: ExpressionValue {
        if matrix.isEmpty { return .null }
        var members = ExpressionObject(minimumCapacity: matrix.count)
        for entry in matrix { members[entry.key] = entry.value }
        return .object(members)
    }

    /// The `strategy` context of this instance.
    public var strategyContext: ExpressionValue {
        .object([
            "fail-fast": .bool(failFast), "job-index": .number(Double(matrixIndex)), "job-total": .number(Double(matrixTotal)),
            "max-parallel": .number(Double(maxParallel ?? matrixTotal)),
        ])
    }
}

/// The jobs of a run in dependency order, each workflow job expanded into its matrix instances.
public struct Plan: Sendable {
    public var workflow: Workflow
    public var graph: JobGraph
    /// Workflow job ids to run, in dependency order.
    public var order: [String]
    /// Instances of each job; a job whose strategy reads `needs` has one stand-in
    /// (`awaitsExpansion`), expanded when the jobs it needs have finished.
    public var instances: [String: [PlannedJob]]
    /// Jobs whose strategy could not be evaluated when the run was planned, with why: each is one
    /// stand-in (`awaitsExpansion`) that fails when it is due, as on GitHub, which evaluates a
    /// job's strategy then; the other jobs run (audit 63 fidelity M2: the whole run exited 2).
    public var strategyFailures: [(job: String, diagnostic: Diagnostic)] = []

    public var allInstances: [PlannedJob] { order.flatMap { instances[$0] ?? [] } }
}

public enum Planner {
    /// Largest matrix accepted (GitHub's limit).
    public static let maxMatrixSize = 256

    /// Plan `selected` jobs (and what they need; all when empty).
    public static func plan(_ workflow: Workflow, selected: [String] = [], context: RunContext? = nil) -> Result<Plan, Diagnostic> {
        let contexts = staticContexts(workflow, context)
        let graph = JobGraph(workflow)
        let order = graph.topologicalOrder(of: graph.closure(of: selected))
        var instances: [String: [PlannedJob]] = [:]
        // Instance keys name log files, folders and events, so they must be unique in the run (compared
        // without case, for case-insensitive file systems): a job without a matrix keeps its id, and a
        // matrix instance whose key is taken (job `build-os-linux` next to `build` with `os: [linux]`)
        // gets a suffix.
        var used = Set(workflow.jobs.filter { $0.strategy?.matrix == nil }.map { fileKey($0.id).lowercased() })
        var strategyFailures: [(job: String, diagnostic: Diagnostic)] = []
        for id in order {
            guard let job = workflow.job(id) else { continue }
            if job.strategy?.usesNeeds == true {
                var standIn = PlannedJob(key: fileKey(job.id), jobID: job.id, displayName: job.displayName + " (matrix from needs)",
                                         matrix: [], matrixIndex: 0, matrixTotal: 1)
                standIn.awaitsExpansion = true
                instances[id] = [standIn]
                continue
            }
            switch expand(job, workflow: workflow, contexts: contexts) {
            case .success(var planned):
                if job.strategy?.matrix != nil {
                    for index in planned.indices { planned[index].key = uniqueKey(planned[index].key, used: &used) }
                }
                instances[id] = planned
            case .failure(let diagnostic):
                // Tried again when the job is due (its needs finished), where it fails that job.
                var standIn = PlannedJob(key: fileKey(job.id), jobID: job.id, displayName: job.displayName + " (strategy: error)",
                                         matrix: [], matrixIndex: 0, matrixTotal: 1)
                standIn.awaitsExpansion = true
                instances[id] = [standIn]
                strategyFailures.append((id, diagnostic))
            }
        }
        var plan = Plan(workflow: workflow, graph: graph, order: order, instances: instances)
        plan.strategyFailures = strategyFailures
        return .success(plan)
    }

    /// Contexts known before anything runs (for matrices given as expressions).
    public static func staticContexts(_ workflow: Workflow, _ context: RunContext? = nil) -> DictionaryExpressionContext {
        (context ?? .minimal(workflow: workflow.name)).expressionContext()
    }

    /// The instances of `job`; the strategy's expressions are evaluated in `contexts`.
    public static func expand(
        _ job: Job, workflow: Workflow, contexts: some ExpressionContext
    ) -> Result<[PlannedJob], Diagnostic> {
        let context = "workflow '\(workflow.name)' › job '\(job.id)'"
        func failure(_ what: String, _ error: any Error, _ field: TemplateField?) -> Result<[PlannedJob], Diagnostic> {
            if let error = error as? ExpressionError {
                return .failure(Diagnostic(
                    .error, "cannot evaluate \(what): \(error.message)",
                    at: field?.location(ofOffset: error.offset) ?? job.strategy?.location, context: context, hint: error.hint))
            }
            return .failure(Diagnostic(.error, "cannot evaluate \(what): \(error)", at: field?.source.location ?? job.strategy?.location, context: context))
        }
        var failFast = job.strategy?.failFast ?? true
        var maxParallel = job.strategy?.maxParallel
        func readFailFast(_ value: ExpressionValue) {
            if case .string(let text) = value, ["true", "false"].contains(text.lowercased()) { failFast = text.lowercased() == "true" }
            else { failFast = value.isTruthy }
        }
        func readMaxParallel(_ value: ExpressionValue, _ field: TemplateField, _ what: String) -> Diagnostic? {
            let number = value.coercedNumber
            guard !number.isNaN else {
                return Diagnostic(.error, "\(what) must be a number, the expression gave '\(value.displayString)'",
                                  at: field.source.location, context: context, hint: "0 or less means no limit")
            }
            maxParallel = Strategy.maxParallel(from: number)
            return nil
        }
        if let field = job.strategy?.failFastExpression {
            do {
                readFailFast(try field.template.evaluateValue(contexts))
            } catch { return failure("strategy.fail-fast", error, field) }
        }
        if let field = job.strategy?.maxParallelExpression {
            do {
                if let problem = readMaxParallel(try field.template.evaluateValue(contexts), field, "strategy.max-parallel") { return .failure(problem) }
            } catch { return failure("strategy.max-parallel", error, field) }
        }
        // `strategy: ${{ … }}`: an object of matrix, fail-fast and max-parallel (keys without
        // case); null or an object without `matrix` is one instance, as a strategy without one.
        var wholeMatrix: ExpressionValue?
        if job.strategy?.isWholeExpression == true, case .expression(let field)? = job.strategy?.matrix {
            let value: ExpressionValue
            do { value = try field.template.evaluateValue(contexts) } catch { return failure("strategy", error, field) }
            let example = #"e.g. {"fail-fast": false, "matrix": {"os": ["linux", "macos"]}}"#
            switch value {
            case .null:
                break
            case .object(let members):
                for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                    switch key.lowercased() {
                    case "matrix": wholeMatrix = member
                    case "fail-fast": if member != .null { readFailFast(member) }  // null: as not given
                    case "max-parallel":
                        if member == .null { continue }
                        if let problem = readMaxParallel(member, field, "strategy.max-parallel (of the strategy's expression)") { return .failure(problem) }
                    default:
                        return .failure(Diagnostic(
                            .error, "the strategy the expression gave has a key '\(key)'; a strategy has matrix, fail-fast and max-parallel",
                            at: field.source.location, context: context, hint: example))
                    }
                }
            default:
                return .failure(Diagnostic(
                    .error, "strategy must be an object, the expression gave \(value.kindName) '\(value.displayString)'",
                    at: field.source.location, context: context, hint: example))
            }
        }
        func finished(_ planned: [PlannedJob]) -> Result<[PlannedJob], Diagnostic> {
            .success(planned.map { instance in
                var instance = instance
                instance.failFast = failFast
                instance.maxParallel = maxParallel
                if job.name.map({ !$0.template.isLiteral }) ?? false {
                    instance.displayName = displayName(job, instance: instance, contexts: contexts)
                }
                return instance
            })
        }
        let noMatrix = job.strategy?.isWholeExpression == true && (wholeMatrix == nil || wholeMatrix == .null)
        guard let matrix = job.strategy?.matrix, !noMatrix else {
            return finished([PlannedJob(key: fileKey(job.id), jobID: job.id, displayName: job.displayName, matrix: [], matrixIndex: 0, matrixTotal: 1)])
        }
        let literal: MatrixLiteral
        switch matrix {
        case .literal(let value): literal = value
        case .expression(let field):
            do {
                literal = try matrixLiteral(from: wholeMatrix ?? field.template.evaluateValue(contexts))
            } catch { return failure("strategy.matrix", error, field) }
        case .deferred(let deferred):
            do {
                literal = try matrixLiteral(from: deferred, contexts)
            } catch let error as MatrixEvaluationError {
                return failure("strategy.matrix", error.error, error.field)
            } catch { return failure("strategy.matrix", error, nil) }
        }
        if let problem = sizeProblem(literal, jobID: job.id) {
            return .failure(Diagnostic(.error, problem.message, at: job.strategy?.location, context: context, hint: problem.hint))
        }
        if literal.dimensions.isEmpty && literal.include.isEmpty {
            return .failure(Diagnostic(.error, "the matrix of job '\(job.id)' has no dimensions", at: job.strategy?.location, context: context,
                                       hint: "an expression that gives the matrix must give at least one list, or include"))
        }
        if count(literal) == .exact(0) {
            // `exclude` removed every combination: GitHub's parser makes one instance without a
            // matrix then (its `strategy.job-total` 1), and so does this.
            return finished([PlannedJob(key: fileKey(job.id), jobID: job.id, displayName: job.displayName, matrix: [], matrixIndex: 0, matrixTotal: 1)])
        }
        let combinations = combine(literal)
        var used: Set<String> = []
        let planned = combinations.enumerated().map { index, combination -> PlannedJob in
            let label = combination.map { "\($0.key): \($0.value.displayString)" }.joined(separator: ", ")
            let key = uniqueKey(
                safeKey(job.id + "-" + combination.map { "\($0.key)-\($0.value.displayString)" }.joined(separator: "-")),
                used: &used)
            let named = job.name.map { !$0.template.isLiteral } ?? false
            return PlannedJob(
                key: key, jobID: job.id,
                // A templated name is rendered by `finished`, with the instance's strategy.
                displayName: named ? job.displayName : "\(job.displayName) (\(label))",
                matrix: combination,
                matrixIndex: index, matrixTotal: combinations.count)
        }
        return finished(planned)
    }

    /// A job's templated `name:` for one instance (GitHub shows it as rendered, without the matrix
    /// values), with the contexts GitHub gives it: `github`,
    /// `vars`, `inputs`, `matrix`, `strategy` and `needs` (empty while they have not finished: a
    /// name that reads them is rendered again when the job starts, `usesNeeds`).
    public static func displayName(_ job: Job, instance: PlannedJob, contexts: some ExpressionContext,
                                   needs: [String: ExpressionValue] = [:]) -> String {
        guard let field = job.name, !field.template.isLiteral else { return instance.displayName }
        var values: [String: ExpressionValue] = [
            "matrix": instance.matrixObject,
            "strategy": instance.strategyContext,
            "needs": .sortedObject(needs),
        ]
        for name in ["github", "vars", "inputs"] { values[name] = contexts.value(ofContext: name) ?? .object([:]) }
        var context = DictionaryExpressionContext(values)
        context.functions = (contexts as? DictionaryExpressionContext)?.functions
        return (try? field.template.render(context)) ?? instance.displayName
    }

    /// Whether a job's templated `name:` reads `needs` (then it is rendered when the job starts).
    public static func nameUsesNeeds(_ job: Job) -> Bool {
        guard let field = job.name, !field.template.isLiteral else { return false }
        return field.template.references.contains { $0.root.lowercased() == "needs" }
    }

    /// The warning for a matrix that `exclude` empties (it runs once, without a matrix), or nil.
    public static func emptiedMatrixWarning(_ matrix: MatrixLiteral, jobID: String) -> (message: String, hint: String)? {
        guard !(matrix.dimensions.isEmpty && matrix.include.isEmpty), count(matrix) == .exact(0) else { return nil }
        return ("the matrix of job '\(jobID)' has no combinations left after 'exclude': the job runs once, without a matrix (as on GitHub)",
                "remove an exclude rule or add values if it should run once per combination")
    }

    /// Most comparisons `exclude` and `include` may take: each rule against each value of the
    /// dimensions it names, each combination against each rule, each include entry against each
    /// combination. Bounds the time a matrix takes to expand (audit 55 H4: 10,000 values and as
    /// many exclude rules took 47 s); a real matrix takes thousands.
    public static let maxFilterWork = 20_000_000

    /// The combinations walked and the comparisons `exclude` and `include` would take, when the
    /// comparisons are more than `maxFilterWork` (nil: within it).
    static func filterWork(_ matrix: MatrixLiteral) -> (combinations: Int, comparisons: Int)? {
        guard !matrix.exclude.isEmpty || !matrix.include.isEmpty else { return nil }
        let sizes = matrix.dimensions.map(\.values.count)
        let walked = min(sizes.isEmpty ? 0 : sizes.reduce(1, saturatingMultiply), maxMatrixProduct)
        var work = 0
        for rule in matrix.exclude {
            for (key, _) in rule { work = saturatingAdd(work, matrix.dimensions.first { $0.key == key }?.values.count ?? 1) }
        }
        work = saturatingAdd(work, saturatingMultiply(walked, matrix.exclude.count))
        work = saturatingAdd(work, saturatingMultiply(walked, matrix.include.count))
        return work > maxFilterWork ? (walked, work) : nil
    }

    /// Most combinations looked at, one by one, to count a matrix exactly (the cross product before `exclude`).
    /// A larger cross product is refused unless `exclude` could not possibly bring it down to `maxMatrixSize`.
    public static let maxMatrixProduct = 65_536

    /// How many combinations `combine` makes, worked out without making them.
    public enum MatrixCount: Sendable, Equatable {
        /// Exactly this many.
        case exact(Int)
        /// At least this many (the cross product minus the most `exclude` could remove), all of
        /// `product` being too many to count one by one. Saturates at `Int.max`.
        case atLeast(Int, product: Int)
        /// The cross product is too large to count one by one, though `exclude` might remove most of it.
        case uncountable(product: Int)
    }

    /// The number of combinations of `matrix`, in time and memory bounded by `maxMatrixProduct`
    /// (never expanding the cross product).
    public static func count(_ matrix: MatrixLiteral) -> MatrixCount {
        let sizes = matrix.dimensions.map(\.values.count)
        let product = sizes.isEmpty ? 0 : sizes.reduce(1, saturatingMultiply)
        if product > maxMatrixProduct && matrix.exclude.isEmpty && matrix.include.isEmpty { return .exact(product) }
        if product > maxMatrixProduct {
            // Each exclude rule removes at most the combinations whose named keys match it.
            var removable = 0
            for rule in matrix.exclude {
                var removed = 1
                for dimension in matrix.dimensions {
                    let named = rule.filter { $0.key == dimension.key }
                    let matching = named.isEmpty
                        ? dimension.values.count
                        : dimension.values.filter { value in named.allSatisfy { filterMatches($0.value, value) } }.count
                    removed = saturatingMultiply(removed, matching)
                }
                removable = saturatingAdd(removable, removed)
            }
            let floor = product == Int.max ? Int.max : max(0, product - removable)
            return floor > maxMatrixSize ? .atLeast(floor, product: product) : .uncountable(product: product)
        }
        var base = 0
        // An include entry's keys that are dimensions, as rules (keys it adds match anything).
        let includes = matrix.include.map { entry in
            indexRule(entry.filter { key, _ in matrix.dimensions.contains { $0.key == key } }, of: matrix)
        }
        var matched = includes.map { _ in false }
        forEachCombination(matrix, count: product) { _, digits in
            base += 1
            for (index, rule) in includes.enumerated() where !matched[index] {
                if let rule { matched[index] = rule.allSatisfy { $0.matches[digits[$0.dimension]] } }
            }
        }
        return .exact(base + matched.filter { !$0 }.count)
    }

    /// A filter (an `exclude` rule, an `include` entry's dimension keys) as, per dimension it
    /// names, which of the dimension's values it matches: checking a combination then costs a
    /// lookup per key, not a comparison (a file with 1,200 rules over 65,536 combinations took
    /// 80 s). nil: it matches no combination (a value no dimension has).
    static func indexRule(_ filter: [(key: String, value: ExpressionValue)], of matrix: MatrixLiteral) -> [(dimension: Int, matches: [Bool])]? {
        var parts: [(dimension: Int, matches: [Bool])] = []
        for (key, value) in filter {
            guard let dimension = matrix.dimensions.firstIndex(where: { $0.key == key }) else {
                // Not a dimension: the same for every combination.
                if filterMatches(value, nil) { continue } else { return nil }
            }
            let matches = matrix.dimensions[dimension].values.map { filterMatches(value, $0) }
            guard matches.contains(true) else { return nil }
            parts.append((dimension, matches))
        }
        return parts
    }

    /// Why `matrix` cannot run (more than `maxMatrixSize` combinations), or nil. A matrix that
    /// `exclude` empties runs once without a matrix, as on GitHub (`emptiedMatrixWarning`).
    public static func sizeProblem(_ matrix: MatrixLiteral, jobID: String) -> (message: String, hint: String)? {
        let split = "split the job or exclude combinations"
        let dimensions = matrix.dimensions.map { String($0.values.count) }.joined(separator: " × ")
        func shown(_ number: Int) -> String { number == Int.max ? "more than \(Int.max)" : String(number) }
        if let work = filterWork(matrix) {
            return ("the matrix of job '\(jobID)' has \(matrix.exclude.count) exclude and \(matrix.include.count) include entries over \(shown(work.combinations)) "
                        + "combinations: more than \(maxFilterWork) comparisons to apply them (\(shown(work.comparisons)))",
                    "GitHub runs at most \(maxMatrixSize) combinations of a matrix: list the values to run instead of excluding most of them, or split the job")
        }
        switch count(matrix) {
        case .exact(let total) where total > maxMatrixSize:
            return ("the matrix of job '\(jobID)' has \(shown(total)) combinations; at most \(maxMatrixSize) are allowed", split)
        case .exact:
            return nil
        case .atLeast(let floor, let product):
            return ("the matrix of job '\(jobID)' has at least \(shown(floor)) combinations (\(dimensions) = \(shown(product)) before 'exclude'); at most \(maxMatrixSize) are allowed", split)
        case .uncountable(let product):
            return ("the matrix of job '\(jobID)' has \(shown(product)) combinations before 'exclude' (\(dimensions)); at most \(maxMatrixProduct) are expanded to apply 'exclude', and at most \(maxMatrixSize) can run", split)
        }
    }

    /// Calls `body` with each combination of the cross product (first dimension slowest) that no
    /// `exclude` rule removes, building one combination at a time.
    /// `body` also gets the combination's value index in each dimension.
    static func forEachCombination(
        _ matrix: MatrixLiteral, count: Int, _ body: ([(key: String, value: ExpressionValue)], [Int]) -> Void
    ) {
        guard count > 0 else { return }
        var digits = [Int](repeating: 0, count: matrix.dimensions.count)
        let rules = matrix.exclude.compactMap { indexRule($0, of: matrix) }
        for _ in 0..<count {
            let excluded = rules.contains { rule in rule.allSatisfy { $0.matches[digits[$0.dimension]] } }
            if !excluded {
                let combination = matrix.dimensions.enumerated().map { index, dimension in
                    (key: dimension.key, value: dimension.values[digits[index]])
                }
                body(combination, digits)
            }
            var position = digits.count - 1
            while position >= 0 {
                digits[position] += 1
                if digits[position] < matrix.dimensions[position].values.count { break }
                digits[position] = 0
                position -= 1
            }
        }
    }

    static func saturatingMultiply(_ a: Int, _ b: Int) -> Int {
        let (result, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int.max : result
    }

    static func saturatingAdd(_ a: Int, _ b: Int) -> Int {
        let (result, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : result
    }

    /// Cross product of the dimensions, then `exclude`, then `include` (GitHub's order and rules).
    /// Expects a matrix that `sizeProblem` accepts: the cross product is walked one combination at a
    /// time, and only those `exclude` keeps are stored.
    public static func combine(_ matrix: MatrixLiteral) -> [[(key: String, value: ExpressionValue)]] {
        let sizes = matrix.dimensions.map(\.values.count)
        let product = sizes.isEmpty ? 0 : sizes.reduce(1, saturatingMultiply)
        var combinations: [[(key: String, value: ExpressionValue)]] = []
        forEachCombination(matrix, count: min(product, maxMatrixProduct)) { combination, _ in combinations.append(combination) }
        let original = Set(matrix.dimensions.map(\.key))
        let baseCount = combinations.count
        // Where each key is in each combination: an include entry that adds a key finds it at once
        // (audit 55 H5: a search of the combination's keys, quadratic with many entries).
        var places: [[String: Int]] = combinations.map { combination in
            Dictionary(combination.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { first, _ in first })
        }
        for entry in matrix.include {
            var matched = false
            for index in 0..<baseCount {
                let fits = entry.allSatisfy { key, value in
                    !original.contains(key) || filterMatches(value, places[index][key].map { combinations[index][$0].value })
                }
                guard fits else { continue }
                matched = true
                for (key, value) in entry where !original.contains(key) {
                    if let at = places[index][key] {
                        combinations[index][at].value = value
                    } else {
                        places[index][key] = combinations[index].count
                        combinations[index].append((key, value))
                    }
                }
            }
            if !matched { combinations.append(entry) }
        }
        return combinations
    }

    /// Whether a combination's value matches the value an `exclude` rule or an `include` entry
    /// gives for that key, as GitHub's matrix filter decides it (actions/runner's `MatrixFilter`):
    /// each leaf of the filter's value (walking into objects, keys without case, and lists, by
    /// position) `==` the combination's value at the same path, null where it has none. `==` is
    /// the expressions' loose equality: strings without case, a number and a string as numbers
    /// (`3.10` matches `"3.10"`). So `target: { name: WASM }` matches every target named WASM,
    /// whatever else it holds.
    static func filterMatches(_ filter: ExpressionValue, _ value: ExpressionValue?) -> Bool {
        switch filter {
        case .object(let members):
            return members.allSatisfy { key, leaf in
                guard case .object(let object)? = value else { return filterMatches(leaf, nil) }
                return filterMatches(leaf, object[key] ?? object.first { $0.key.lowercased() == key.lowercased() }?.value)
            }
        case .array(let items):
            return items.enumerated().allSatisfy { index, leaf in
                guard case .array(let array)? = value, index < array.count else { return filterMatches(leaf, nil) }
                return filterMatches(leaf, array[index])
            }
        default:
            return ExpressionComparison.equals(filter, value ?? .null)
        }
    }

    /// A matrix given as a value (from `fromJSON`): an object of lists, with optional include/exclude,
    /// its dimensions in the object's order.
    static func matrixLiteral(from value: ExpressionValue) throws -> MatrixLiteral {
        guard case .object(let members) = value else {
            throw ExpressionError(message: "the matrix must be an object, got \(value.kindName)", offset: 0, source: "")
        }
        var literal = MatrixLiteral(dimensions: [], include: [], exclude: [])
        // In the object's order, as a written matrix's dimensions are in file order.
        for (key, member) in members {
            switch key {
            case "include": literal.include = try matrixEntries(member, key)
            case "exclude": literal.exclude = try matrixEntries(member, key)
            default:
                guard case .array(let values) = member else {
                    throw ExpressionError(message: "matrix dimension '\(key)' must be a list, got \(member.kindName)", offset: 0, source: "")
                }
                // GitHub: "Matrix vector 'os' does not contain any values" (audit 53: `{"os":[]}`
                // ran the job once with an empty matrix).
                guard !values.isEmpty else {
                    throw ExpressionError(message: "matrix dimension '\(key)' is empty", offset: 0, source: "")
                }
                literal.dimensions.append((key, values))
            }
        }
        literal.matchKeysWithoutCase()
        return literal
    }

    /// A matrix mapping with expressions, evaluated: dimensions in file order.
    static func matrixLiteral(from deferred: DeferredMatrix, _ contexts: some ExpressionContext) throws -> MatrixLiteral {
        func resolve(_ value: JSONValue) throws -> ExpressionValue {
            switch value {
            case .string(let text) where text.contains("${{"):
                let template = try Template.parse(text)
                do {
                    return try template.evaluateValue(contexts)
                } catch {
                    throw MatrixEvaluationError(error: error, field: deferred.fields.first { $0.source.value == text })
                }
            case .array(let items): return .array(try items.map(resolve))
            case .object(let members): return .sortedObject(try members.mapValues(resolve))
            default: return ExpressionValue(json: value)
            }
        }
        func entries(_ value: JSONValue?, _ key: String) throws -> [[(key: String, value: ExpressionValue)]] {
            guard let value else { return [] }
            return try matrixEntries(try resolve(value), key, sorted: true)
        }
        var literal = MatrixLiteral(dimensions: [], include: try entries(deferred.include, "include"), exclude: try entries(deferred.exclude, "exclude"))
        for (key, value) in deferred.dimensions {
            let resolved = try resolve(value)
            guard case .array(let values) = resolved else {
                throw ExpressionError(message: "matrix dimension '\(key)' must be a list, got \(resolved.kindName)", offset: 0, source: "")
            }
            guard !values.isEmpty else {
                throw ExpressionError(message: "matrix dimension '\(key)' is empty", offset: 0, source: "")
            }
            literal.dimensions.append((key, values))
        }
        literal.matchKeysWithoutCase()
        return literal
    }

    /// The entries of a matrix's `include` or `exclude` given by an expression: a list of
    /// non-empty objects (null is none). GitHub refuses the rest ("Matrix include mapping does not
    /// contain any values", "Matrix exclude filter must not be empty"); they were dropped here.
    static func matrixEntries(_ value: ExpressionValue, _ key: String, sorted: Bool = false) throws -> [[(key: String, value: ExpressionValue)]] {
        if case .null = value { return [] }
        guard case .array(let items) = value else {
            throw ExpressionError(message: "matrix.\(key) must be a list of objects, got \(value.kindName)", offset: 0, source: "")
        }
        return try items.map { item in
            guard case .object(let fields) = item else {
                throw ExpressionError(message: "each entry of matrix.\(key) must be an object, got \(item.kindName)", offset: 0, source: "")
            }
            guard !fields.isEmpty else {
                throw ExpressionError(message: "an entry of matrix.\(key) is empty ({})", offset: 0, source: "")
            }
            return sorted ? fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } : fields.map { ($0.key, $0.value) }
        }
    }

    /// An expression of a matrix that failed, with the field it is in.
    struct MatrixEvaluationError: Error {
        var error: any Error
        var field: TemplateField?
    }

    /// `key`, or `key-2`, `key-3`, … the first not in `used` (compared without case); records it in `used`.
    static func uniqueKey(_ key: String, used: inout Set<String>) -> String {
        var candidate = key
        var suffix = 1
        while !used.insert(candidate.lowercased()).inserted {
            suffix += 1
            candidate = "\(key)-\(suffix)"
        }
        return candidate
    }

    /// A job id as a key: itself, unless it is too long for a file name (255 bytes, with the
    /// `.log` and the suffixes a key may get): then its first 100 characters and a hash of the whole.
    static func fileKey(_ id: String) -> String {
        guard id.utf8.count > 120 else { return id }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(id.prefix(fileKeyPrefix)) + "-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// How much of a too-long id `fileKey` keeps before its hash.
    static let fileKeyPrefix = 100

    /// The longest key `safeKey` makes.
    static let keyLimit = 120

    /// Lowercase letters, digits and '-' only, at most `keyLimit` characters.
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
        return String(key.prefix(keyLimit))
    }
}
