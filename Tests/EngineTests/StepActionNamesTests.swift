@testable import NixActionsEngine
import Testing

/// `GITHUB_ACTION` / `github.action` as GitHub's workflow parser names steps (docs:
/// workflow-syntax.md's table of variables; docs audit 53 L12: `__self` and `__IMAGE` had no test).
@Suite("GITHUB_ACTION names of steps without an id")
struct StepActionNamesTests {
    func names(_ steps: String) throws -> [String] {
        let result = WorkflowLoader.load(yaml: "jobs:\n  a:\n    steps:\n" + steps, file: "wf.yml")
        #expect(!result.diagnostics.contains { $0.severity == .error }, "\(result.diagnostics)")
        let job = try #require(result.workflow?.job("a"))
        return StepActionNames.names(job.steps)
    }

    @Test("an id; __run, __run_2 for run steps; __OWNER_REPO for a remote action; __self for ./PATH, __selfRepository for $/PATH; __IMAGE for docker://IMAGE; unique without case over the ids")
    func kinds() throws {
        #expect(try names("""
                  - run: echo 1
                  - id: build
                    run: echo 2
                  - uses: actions/checkout@v4
                  - uses: actions/cache/save@v4
                  - uses: ./.github/actions/lint
                  - uses: ./other
                  - uses: docker://alpine:3.19
                  - run: echo 3
                  - id: __RUN_3
                    run: echo 4
                  - run: echo 5
            """) == ["__run", "build", "__actions_checkout", "__actions_cache", "__self", "__self_2", "__alpine_3_19", "__run_2", "__RUN_3", "__run_4"])
    }

    @Test("names keep at most 100 characters, the suffix included")
    func long() throws {
        let image = String(repeating: "x", count: 120)
        let names = try names("      - uses: docker://\(image)\n      - uses: docker://\(image)\n")
        #expect(names.map(\.count) == [100, 100])
        #expect(names[0] == "__" + String(repeating: "x", count: 98))
        #expect(names[1] == "__" + String(repeating: "x", count: 96) + "_2")
    }
}
