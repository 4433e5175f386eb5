import Foundation
@testable import NixActionsEngine
import Testing

@Suite("Bounds: matrix sizes are counted before anything is expanded")
struct BoundsMatrixTests {
    static func values(_ count: Int) -> String { (0..<count).map(String.init).joined(separator: ", ") }

    @Test("a 4096 × 4096 matrix is refused by validation, at the strategy, without building it")
    func hugeLiteral() throws {
        let yaml = """
            jobs:
              big:
                strategy:
                  matrix:
                    a: [\(Self.values(4096))]
                    b: [\(Self.values(4096))]
                steps:
                  - run: echo ${{ matrix.a }}
            """
        var result: LoadResult?
        let elapsed = ContinuousClock().measure { result = WorkflowLoader.load(yaml: yaml, file: "wf.yml") }
        let errors = try #require(result?.diagnostics.filter { $0.severity == .error })
        #expect(errors.count == 1)
        let error = try #require(errors.first)
        #expect(error.message == "the matrix of job 'big' has 16777216 combinations; at most 256 are allowed")
        #expect(error.location == SourceLocation(file: "wf.yml", line: 4, column: 7))
        #expect(error.context == "workflow 'wf' › job 'big'")
        #expect(error.hint == "split the job or exclude combinations")
        #expect(elapsed < .seconds(2), "took \(elapsed)")
    }

    @Test("a matrix from an expression is counted before it is expanded, at plan time, and by validate when it reads nothing")
    func hugeExpression() throws {
        // 1900 × 1900 fits in the longest expression allowed (21000 bytes).
        let values = (0..<1900).map(String.init).joined(separator: ",")
        let result = WorkflowLoader.load(yaml: """
            jobs:
              big:
                strategy:
                  matrix: ${{ fromJSON('{"a":[\(values)],"b":[\(values)],"exclude":[{"a":1}]}') }}
                steps:
                  - run: echo ${{ matrix.a }}
            """, file: "wf.yml")
        let workflow = try #require(result.workflow)
        // It reads no context: validate expands it as the plan would (audit 55 L1).
        #expect(result.diagnostics.map(\.message) == ["the matrix of job 'big' has at least 3608100 combinations (1900 × 1900 = 3610000 before 'exclude'); at most 256 are allowed"])
        var planned: Result<Plan, Diagnostic>?
        let elapsed = ContinuousClock().measure { planned = Planner.plan(workflow) }
        // The job fails when it is due (the other jobs run, as on GitHub); the plan says why.
        guard case .success(let plan)? = planned, let error = plan.strategyFailures.first?.diagnostic,
              plan.instances["big"]?.count == 1, plan.instances["big"]?.first?.awaitsExpansion == true else {
            Issue.record("planned a 1900 × 1900 matrix")
            return
        }
        // One exclude rule removes at most the 1900 combinations with a = 1.
        #expect(error.message == "the matrix of job 'big' has at least 3608100 combinations (1900 × 1900 = 3610000 before 'exclude'); at most 256 are allowed")
        #expect(error.location == SourceLocation(file: "wf.yml", line: 4, column: 7))
        #expect(elapsed < .seconds(2), "took \(elapsed)")
    }

    func literal(_ dimensions: [(String, [Int])], include: [[(String, Int)]] = [], exclude: [[(String, Int)]] = []) -> MatrixLiteral {
        func entries(_ list: [[(String, Int)]]) -> [[(key: String, value: ExpressionValue)]] {
            list.map { $0.map { (key: $0.0, value: ExpressionValue.number(Double($0.1))) } }
        }
        return MatrixLiteral(
            dimensions: dimensions.map { (key: $0.0, values: $0.1.map { ExpressionValue.number(Double($0)) }) },
            include: entries(include), exclude: entries(exclude))
    }

    @Test("exclude and include are accounted for: 16 × 17 less 16 runs, 16 × 16 plus a new include does not")
    func includeExclude() {
        let fits = literal([("a", Array(0..<16)), ("b", Array(0..<17))], exclude: [[("b", 16)]])
        #expect(Planner.count(fits) == .exact(256))
        #expect(Planner.sizeProblem(fits, jobID: "t") == nil)
        #expect(Planner.combine(fits).count == 256)

        let grown = literal([("a", Array(0..<16)), ("b", Array(0..<16))], include: [[("a", 1), ("c", 5)], [("a", 99)]])
        #expect(Planner.count(grown) == .exact(257))  // the first include extends a combination, the second adds one
        #expect(Planner.sizeProblem(grown, jobID: "t")?.message == "the matrix of job 't' has 257 combinations; at most 256 are allowed")

        let emptied = literal([("a", [1])], exclude: [[("a", 1)]])
        #expect(Planner.count(emptied) == .exact(0) && Planner.sizeProblem(emptied, jobID: "t") == nil, "GitHub runs it once")
        #expect(Planner.emptiedMatrixWarning(emptied, jobID: "t")?.message.hasPrefix("the matrix of job 't' has no combinations left after 'exclude': the job runs once") == true)
        #expect(Planner.emptiedMatrixWarning(fits, jobID: "t") == nil)
        #expect(Planner.count(literal([], include: [[("x", 1)], [("x", 2)]])) == .exact(2))
    }

    @Test("exclude and include entries are bounded by the comparisons they take, not left to run for minutes; many include entries adding keys take linear time (audit 55 H4, H5)")
    func filterWork() throws {
        // 10,000 values and as many exclude rules: 47 s in a debug build before.
        let excluded = literal([("x", Array(0..<10_000))], exclude: Array(0..<9_990).map { [("x", $0)] })
        var problem: (message: String, hint: String)?
        let elapsed = ContinuousClock().measure { problem = Planner.sizeProblem(excluded, jobID: "t") }
        #expect(elapsed < .seconds(1), "took \(elapsed)")
        #expect(problem?.message == "the matrix of job 't' has 9990 exclude and 0 include entries over 10000 combinations: more than 20000000 comparisons to apply them (199800000)",
                "\(String(describing: problem))")
        #expect(problem?.hint.hasPrefix("GitHub runs at most 256 combinations of a matrix") == true)
        // The same shape within the bound is expanded as before.
        let fewer = literal([("x", Array(0..<1_000))], exclude: Array(0..<990).map { [("x", $0)] })
        #expect(Planner.sizeProblem(fewer, jobID: "t") == nil)
        #expect(Planner.combine(fewer).map { $0.first?.value } == (990..<1_000).map { ExpressionValue.number(Double($0)) })
        // 50,000 include entries each adding a key to the one combination: each key found at once.
        let grown = literal([("x", [1])], include: (0..<50_000).map { [("x", 1), ("k\($0)", $0)] })
        #expect(Planner.sizeProblem(grown, jobID: "t") == nil)
        var combined: [[(key: String, value: ExpressionValue)]] = []
        let took = ContinuousClock().measure { combined = Planner.combine(grown) }
        #expect(took < .seconds(5), "took \(took)")
        #expect(combined.count == 1 && combined.first?.count == 50_001)
        #expect(combined.first?.last?.key == "k49999")
    }

    @Test("a cross product too large to walk is refused even when exclude might shrink it")
    func uncountable() {
        let matrix = literal([("a", Array(0..<300)), ("b", Array(0..<250))], exclude: Array(0..<299).map { [("a", $0)] })
        #expect(Planner.count(matrix) == .uncountable(product: 75_000))
        #expect(Planner.sizeProblem(matrix, jobID: "t")?.message
            == "the matrix of job 't' has 75000 combinations before 'exclude' (300 × 250); at most 65536 are expanded to apply 'exclude', and at most 256 can run")
        let overflow = literal(Array(0..<20).map { ("d\($0)", Array(0..<100)) })
        #expect(Planner.count(overflow) == .exact(Int.max))
        #expect(Planner.sizeProblem(overflow, jobID: "t")?.message
            == "the matrix of job 't' has more than \(Int.max) combinations; at most 256 are allowed")
    }

    @Test("the count without expanding agrees with the combinations made, for random small matrices")
    func countMatchesCombine() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let dimensionCount = Int.random(in: 0...3, using: &generator)
            let dimensions = (0..<dimensionCount).map { index in
                ("k\(index)", (0..<Int.random(in: 1...4, using: &generator)).map { _ in Int.random(in: 0...3, using: &generator) })
            }
            func entry() -> [(String, Int)] {
                (0..<4).compactMap { index in
                    Bool.random(using: &generator) ? ("k\(index)", Int.random(in: 0...3, using: &generator)) : nil
                }
            }
            let matrix = literal(
                dimensions, include: (0..<Int.random(in: 0...3, using: &generator)).map { _ in entry() },
                exclude: (0..<Int.random(in: 0...2, using: &generator)).map { _ in entry().filter { key, _ in dimensions.contains { $0.0 == key } } })
            #expect(Planner.count(matrix) == .exact(Planner.combine(matrix).count), "\(matrix)")
        }
    }
}
