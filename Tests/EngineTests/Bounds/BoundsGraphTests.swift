import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport

@Suite("Bounds: job graphs of tens of thousands of jobs are checked and planned in linear time")
struct BoundsGraphTests {
    enum Shape { case chain, reversedChain, layered }

    /// A workflow of `count` jobs, built directly (loading YAML is measured by the CLI tests).
    /// chain: j1 needs j0, j2 needs j1, …; reversedChain: the same, last job first in the file;
    /// layered: layers of 100 jobs, each needing three jobs of the layer before.
    static func workflow(_ shape: Shape, _ count: Int) -> Workflow {
        var jobs: [Job] = []
        jobs.reserveCapacity(count)
        for index in 0..<count {
            var job = Job(id: "j\(index)", location: nil)
            switch shape {
            case .chain, .reversedChain:
                if index > 0 { job.needs = [Located("j\(index - 1)", at: nil)] }
            case .layered:
                let layer = index / 100, slot = index % 100
                if layer > 0 {
                    job.needs = [0, 1, 7].map { Located("j\((layer - 1) * 100 + (slot + $0) % 100)", at: nil) }
                }
            }
            jobs.append(job)
        }
        if shape == .reversedChain { jobs.reverse() }
        return Workflow(name: "big", file: "big.yml", env: [], defaults: RunDefaults(), jobs: jobs, unsupported: [])
    }

    /// Cycle check, order and plan (with every job looked up by id, as the plan printer does).
    static func checkAndPlan(_ workflow: Workflow) throws -> Plan {
        #expect(JobGraph(workflow).cycle() == nil)
        let plan = try Planner.plan(workflow).get()
        #expect(plan.allInstances.allSatisfy { workflow.job($0.jobID)?.id == $0.jobID })
        return plan
    }

    /// The least CPU time of three runs (`threadCPUTime`), to keep a noisy machine out of the comparison.
    static func fastest(_ body: () throws -> Void) rethrows -> Duration {
        var best = Duration.seconds(3600)
        for _ in 0..<3 { best = min(best, try threadCPUTime(body)) }
        return best
    }

    @Test("20000 jobs in a chain (in both file orders) and a layered DAG: checked without recursion, in dependency order", arguments: [Shape.chain, .reversedChain, .layered])
    func orderAndSpeed(shape: Shape) throws {
        let big = Self.workflow(shape, 20_000)
        let plan = try Self.checkAndPlan(big)
        #expect(plan.order.count == 20_000)
        var position: [String: Int] = [:]
        for (index, id) in plan.order.enumerated() { position[id] = index }
        let misplaced = big.jobs.filter { job in job.needs.contains { position[$0.value]! > position[job.id]! } }
        #expect(misplaced.isEmpty)
        let small = Self.workflow(shape, 5_000)
        let smallTime = try Self.fastest { _ = try Self.checkAndPlan(small) }
        let bigTime = try Self.fastest { _ = try Self.checkAndPlan(big) }
        // Linear work makes 4 times the jobs take about 4 times as long; quadratic work, 16 times (12: room for a noisy machine).
        #expect(bigTime < .seconds(2), "20000 jobs took \(bigTime)")
        #expect(bigTime < smallTime * 12, "5000 jobs took \(smallTime), 20000 took \(bigTime)")
    }

    @Test("a job of 20000 steps, each reading the step before (steps.ID), is checked in linear time (audit 55 H5: the ids seen were searched, then copied, per step)")
    func manySteps() throws {
        func workflow(_ count: Int) -> String {
            "jobs:\n  a:\n    steps:\n" + (0..<count).map { "      - id: s\($0)\n        run: echo ${{ steps.s\(max($0 - 1, 0)).outputs.x }}\n" }.joined()
        }
        let small = workflow(5_000), big = workflow(20_000)
        var result: LoadResult?
        let smallTime = try Self.fastest { result = WorkflowLoader.load(yaml: small, file: "wf.yml") }
        #expect(result?.hasErrors == false)
        let bigTime = try Self.fastest { result = WorkflowLoader.load(yaml: big, file: "wf.yml") }
        #expect(result?.hasErrors == false && result?.workflow?.jobs.first?.steps.count == 20_000)
        // The first step reads itself ("no earlier step has id 's0'"); no other warning.
        #expect(result?.diagnostics.filter { $0.message.contains("no earlier step") }.count == 1, "\(result?.diagnostics.prefix(3) ?? [])")
        #expect(bigTime < smallTime * 12, "5000 steps took \(smallTime), 20000 took \(bigTime)")
    }

    @Test("a cycle at the end of a 20000-job chain is found and named, first job first, without recursion")
    func longCycle() {
        var workflow = Self.workflow(.chain, 20_000)
        workflow.jobs[0].needs = [Located("j19999", at: nil)]
        let cycle = JobGraph(workflow).cycle()
        #expect(cycle?.count == 20_000)
        #expect(cycle?.first == "j0")
        #expect(cycle?.dropFirst().first == "j19999")
        #expect(JobGraph(workflow).topologicalOrder().isEmpty)
        // Said by its ends (audit 55 L9: every name, on one line).
        var diagnostics = DiagnosticBag()
        _ = Validator.validate(workflow, into: &diagnostics)
        let message = diagnostics.diagnostics.first { $0.message.hasPrefix("dependency cycle") }?.message
        #expect(message == "dependency cycle of 20000 jobs: j0 → j19999 → j19998 → j19997 → j19996 → j19995 → j19994 → j19993 → j19992 → j19991 → … 19981 more … → j9 → j8 → j7 → j6 → j5 → j4 → j3 → j2 → j1 → j0",
                "\(message ?? "nil")")
    }

    @Test("the order keeps file order among jobs that could go in either order, as before")
    func fileOrderAmongEquals() throws {
        let result = WorkflowLoader.load(yaml: """
            jobs:
              b: { needs: a, steps: [ { run: x } ] }
              a: { steps: [ { run: x } ] }
              c: { steps: [ { run: x } ] }
              d: { needs: [c, b], steps: [ { run: x } ] }
              e: { needs: f, steps: [ { run: x } ] }
              f: { steps: [ { run: x } ] }
            """, file: "wf.yml")
        let graph = JobGraph(try #require(result.workflow))
        // Pass 1 places a, c, f (b and e need jobs later in the file); pass 2 b, d, e.
        #expect(graph.topologicalOrder() == ["a", "c", "f", "b", "d", "e"])
        #expect(graph.topologicalOrder(of: ["b", "a", "d"]) == ["a", "b", "d"])
    }

    @Test("jobs are found by id in constant time, also after the job list changes")
    func jobLookup() {
        var workflow = Self.workflow(.chain, 3)
        #expect(workflow.job("j2")?.id == "j2")
        #expect(workflow.job("nope") == nil)
        workflow.jobs[1] = Job(id: "renamed", location: nil)
        #expect(workflow.job("renamed")?.id == "renamed")
        #expect(workflow.job("j1") == nil)
        workflow.jobs.removeFirst()
        #expect(workflow.job("j2")?.id == "j2")
        #expect(workflow.job("j0") == nil)
    }
}
