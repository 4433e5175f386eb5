import Testing
@testable import NixActionsEngine

@Suite("Expression static analysis")
struct ExpressionAnalysisTests {
    private func references(_ source: String) throws -> [ContextReference] {
        try Expression.parse(source).references
    }

    @Test("a property chain is one complete reference")
    func propertyChain() throws {
        #expect(try references("needs.build.outputs.v") ==
            [ContextReference(root: "needs", path: ["build", "outputs", "v"], isComplete: true, offset: 0)])
    }

    @Test("literal indexes are path elements")
    func literalIndex() throws {
        #expect(try references("matrix['os']") == [ContextReference(root: "matrix", path: ["os"], offset: 0)])
        #expect(try references("github.event.commits[0].message") ==
            [ContextReference(root: "github", path: ["event", "commits", "0", "message"], offset: 0)])
    }

    @Test("several references in source order with offsets")
    func several() throws {
        #expect(try references("steps.x.outputs.y == 'a' && needs.build.result") == [
            ContextReference(root: "steps", path: ["x", "outputs", "y"], offset: 0),
            ContextReference(root: "needs", path: ["build", "result"], offset: 28),
        ])
    }

    @Test("a dynamic index or * ends the static path")
    func incomplete() throws {
        #expect(try references("needs.*.result") == [ContextReference(root: "needs", path: [], isComplete: false, offset: 0)])
        #expect(try references("github.event.commits[*].id") ==
            [ContextReference(root: "github", path: ["event", "commits"], isComplete: false, offset: 0)])
        #expect(try references("matrix[env.KEY].x") == [
            ContextReference(root: "matrix", path: [], isComplete: false, offset: 0),
            ContextReference(root: "env", path: ["KEY"], offset: 7),
        ])
        #expect(try references("needs[format('{0}', inputs.job)]") == [
            ContextReference(root: "needs", path: [], isComplete: false, offset: 0),
            ContextReference(root: "inputs", path: ["job"], offset: 20),
        ])
    }

    @Test("whole contexts, groups, function arguments and case")
    func otherShapes() throws {
        #expect(try references("toJSON(github)") == [ContextReference(root: "github", path: [], offset: 7)])
        #expect(try references("(github.event).action") ==
            [ContextReference(root: "github", path: ["event", "action"], offset: 1)])
        #expect(try references("GitHub.Ref") == [ContextReference(root: "github", path: ["Ref"], offset: 0)])
        #expect(try references("!contains(fromJSON(vars.LIST), matrix.os)").map(\.description) ==
            ["vars.LIST", "matrix.os"])
        #expect(try references("fromJSON(env.J).x.y").map(\.description) == ["env.J"])
        #expect(try references("1 == 1 || 'a'").isEmpty)
        #expect(ContextReference(root: "needs", path: ["a"], isComplete: false, offset: 0).description == "needs.a.*")
    }

    @Test("status functions", arguments: [
        ("success()", Set<StatusFunction>([.success])),
        ("failure() || cancelled()", [.failure, .cancelled]),
        ("always()", [.always]),
        ("Always() && github.ref == 'x'", [.always]),
        ("!cancelled() && contains(github.ref, 'y')", [.cancelled]),
        ("github.ref == 'refs/heads/main'", []),
        ("format('{0}', failure())", [.failure]),
        ("fromJSON('[1]')[success() && 0]", [.success]),
    ] as [(String, Set<StatusFunction>)])
    func statusFunctions(source: String, expected: Set<StatusFunction>) throws {
        #expect(try Expression.parse(source).statusFunctions == expected)
    }

    @Test("parsing is deterministic and expressions compare by value")
    func equality() throws {
        let first = try Expression.parse("a.b == 'c'")
        let second = try Expression.parse("a.b == 'c'")
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(try first != Expression.parse("a.b == 'd'"))
        #expect(first.description == "a.b == 'c'")
    }
}
