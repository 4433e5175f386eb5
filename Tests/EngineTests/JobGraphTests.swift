@testable import NixActionsEngine
import Testing

@Suite("Job graph: cycles, closure, order")
struct JobGraphTests {
    func graph(_ yaml: String) throws -> JobGraph {
        let result = WorkflowLoader.load(yaml: yaml, file: "wf.yml")
        return JobGraph(try #require(result.workflow))
    }

    @Test("the closure of selected jobs includes everything they need, transitively")
    func closure() throws {
        let graph = try graph("""
            jobs:
              a: { steps: [ { run: x } ] }
              b: { needs: a, steps: [ { run: x } ] }
              c: { needs: [b], steps: [ { run: x } ] }
              d: { steps: [ { run: x } ] }
            """)
        #expect(graph.closure(of: ["c"]) == ["a", "b", "c"])
        #expect(graph.closure(of: []) == ["a", "b", "c", "d"])
        #expect(graph.topologicalOrder() == ["a", "b", "c", "d"])
        #expect(graph.topologicalOrder(of: ["a", "b"]) == ["a", "b"])
    }

    @Test("a cycle is found and named")
    func cycle() throws {
        let graph = try graph("""
            jobs:
              a: { needs: c, steps: [ { run: x } ] }
              b: { needs: a, steps: [ { run: x } ] }
              c: { needs: b, steps: [ { run: x } ] }
            """)
        #expect(graph.cycle() == ["a", "c", "b"])
    }

    @Test("needs: unknown ones dropped, one listed twice kept once, a job that needs itself is a cycle of one")
    func edges() throws {
        let result = WorkflowLoader.load(yaml: """
            jobs:
              a: { steps: [ { run: x } ] }
              b: { needs: [a, a, nope], steps: [ { run: x } ] }
              c: { needs: [b, c, a, b], steps: [ { run: x } ] }
            """, file: "wf.yml")
        let graph = JobGraph(try #require(result.workflow))
        #expect(graph.ids == ["a", "b", "c"])
        #expect(graph.needs == ["a": [], "b": ["a"], "c": ["b", "c", "a"]])
        #expect(graph.cycle() == ["c"])
    }

    @Test("a cycle at the end of a long chain, and none in the chain alone, in either file order")
    func longChain() throws {
        func chain(_ count: Int, closed: Bool, reversed: Bool) throws -> JobGraph {
            var jobs = (0..<count).map { index in
                let need = index > 0 ? "j\(index - 1)" : (closed ? "j\(count - 1)" : "")
                return "  j\(index): { needs: [\(need)], steps: [ { run: x } ] }"
            }
            if reversed { jobs.reverse() }
            let result = WorkflowLoader.load(yaml: (["jobs:"] + jobs).joined(separator: "\n"), file: "wf.yml")
            return JobGraph(try #require(result.workflow))
        }
        for reversed in [false, true] {
            #expect(try chain(5000, closed: false, reversed: reversed).cycle() == nil)
            // From the first job in file order, following needs: j0 needs j4999, which needs j4998…
            let cycle = try chain(5000, closed: true, reversed: reversed).cycle()
            let fromFirst = reversed ? ["j4999"] + (0..<4999).reversed().map { "j\($0)" }
                                     : ["j0"] + (1..<5000).reversed().map { "j\($0)" }
            #expect(cycle == fromFirst)
        }
    }
}
