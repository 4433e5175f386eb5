import Foundation
@testable import NixActionsEngine
import Testing

@Suite("Bounds: YAML alias bombs are refused before they are expanded")
struct BoundsAliasTests {
    /// Seven levels of ten aliases each: 10^7 scalars from a few hundred bytes (five levels already pass the budget).
    static func bomb(indent: String) -> String {
        var lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
        let names = ["a", "b", "c", "d", "e", "f", "g"]
        for (previous, name) in zip(names, names.dropFirst()) {
            lines.append("\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]")
        }
        return lines.map { indent + $0 }.joined(separator: "\n")
    }

    /// Loads `yaml`, returning the result and how long it took.
    func load(_ yaml: String) -> (LoadResult, Duration) {
        var result: LoadResult?
        let elapsed = ContinuousClock().measure { result = WorkflowLoader.load(yaml: yaml, file: "wf.yml") }
        return (result!, elapsed)
    }

    @Test("an alias bomb in executor.with is refused at the alias that goes over 100000 nodes, quickly")
    func executorOptions() throws {
        let yaml = """
            jobs:
              build:
                executor:
                  plugin: local
                  with:
            \(Self.bomb(indent: "          "))
                steps:
                  - run: echo hi
            """
        #expect(yaml.utf8.count < 700)
        let (result, elapsed) = load(yaml)
        #expect(result.workflow == nil)
        let error = try #require(result.diagnostics.first)
        #expect(result.diagnostics.count == 1)
        #expect(error.severity == .error)
        #expect(error.message.hasPrefix("YAML aliases expand to more than 100000 nodes; alias '*d' goes over the limit (in jobs.build.executor.with.e)"), "\(error)")
        // *a, *b and *c add 110 + 1110 + 11110 nodes; each *d in e adds 11111 more, so the eighth crosses 100000.
        #expect(error.location == SourceLocation(file: "wf.yml", line: 10, column: 46))
        #expect(error.context == "workflow 'wf' › job 'build'")
        #expect(error.hint?.contains("billion laughs") == true)
        #expect(elapsed < .seconds(1), "loading took \(elapsed)")
    }

    @Test("an alias bomb in a matrix value or in services is refused too")
    func matrixAndServices() throws {
        var entry = Self.bomb(indent: "            ")
        entry.replaceSubrange(entry.startIndex..<entry.index(entry.startIndex, offsetBy: 12), with: "          - ")
        let matrix = """
            jobs:
              test:
                strategy:
                  matrix:
                    os: [linux]
                    big:
            \(entry)
                steps:
                  - run: echo ${{ matrix.os }}
            """
        let (result, elapsed) = load(matrix)
        #expect(result.workflow == nil)
        let error = try #require(result.diagnostics.first)
        #expect(error.message.hasSuffix("(in jobs.test.strategy.matrix.big.e)"), "\(error)")
        #expect(error.location?.line == 11)  // the line of 'e', whose eighth *d crosses the limit
        #expect(error.context == "workflow 'wf' › job 'test'")
        #expect(elapsed < .seconds(1), "loading took \(elapsed)")

        let services = """
            jobs:
              web:
                services:
                  db:
            \(Self.bomb(indent: "        "))
                    copies: [*g, *g, *g]
                steps:
                  - run: echo hi
            """
        let (second, secondElapsed) = load(services)
        let refused = try #require(second.diagnostics.first)
        #expect(refused.message.hasSuffix("(in jobs.web.services.db.e)"), "\(refused)")
        #expect(refused.context == "workflow 'wf' › job 'web'")
        #expect(secondElapsed < .seconds(1), "loading took \(secondElapsed)")
    }

    @Test("ordinary anchors and aliases within the budget still load, and the budget counts expanded nodes")
    func withinBudget() throws {
        let (result, _) = load("""
            jobs:
              a:
                env: &defaults { A: "1", B: "2" }
                steps: [ { run: echo $A } ]
              b:
                env: *defaults
                steps: [ { run: echo $B } ]
            """)
        #expect(!result.hasErrors, "\(result.diagnostics)")
        #expect(result.workflow?.jobs.map { $0.env.map(\.name) } == [["A", "B"], ["A", "B"]])

        // Exactly at the limit is fine; one node more is not.
        let items = Array(repeating: "x", count: 999).joined(separator: ", ")  // a sequence of 1000 nodes
        let hundred = Array(repeating: "*s", count: 100).joined(separator: ", ")
        #expect(AliasBudget.overrun(in: "s: &s [\(items)]\nt: [\(hundred)]\n") == nil)
        let over = try #require(AliasBudget.overrun(in: "s: &s [\(items)]\nt: [\(hundred), *s]\n"))
        #expect(over.anchor == "s")
        #expect(over.path == ["t"])
    }
}
