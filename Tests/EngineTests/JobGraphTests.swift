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
}
