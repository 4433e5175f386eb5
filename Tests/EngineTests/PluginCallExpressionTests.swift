@testable import NixActionsEngine
import Testing

@Suite("plugin.function(…) in expressions")
struct PluginCallExpressionTests {
    struct Doubler: PluginFunctionProvider {
        var arities: [String: Int] { ["math.double": 1] }
        func call(_ name: String, _ arguments: [ExpressionValue]) throws(PluginFunctionError) -> ExpressionValue {
            guard name == "math.double", case .number(let value)? = arguments.first else {
                throw PluginFunctionError("unknown function '\(name)'")
            }
            return .number(value * 2)
        }
    }

    @Test("a dotted name followed by ( is a plugin call; without ( it stays a property")
    func parsing() throws {
        let expression = try Expression.parse("math.double(github.run) == 8 && github.math.double")
        #expect(expression.pluginCalls.map(\.name) == ["math.double"])
        #expect(expression.pluginCalls.map(\.arguments) == [1])
        #expect(expression.references.map(\.root) == ["github", "github"])
        #expect(throws: ExpressionError.self) { try Expression.parse("math.double(1") }
    }

    @Test("evaluation calls the provider; an unknown function is an error at the call's offset")
    func evaluation() throws {
        let context = RuntimeContext(contexts: ["github": .object(["run": 4])], status: .ok, hashRoot: "/", functions: Doubler())
        #expect(try Expression.parse("math.double(github.run)").evaluate(context) == .number(8))
        #expect(try Template.parse("x=${{ math.double(2) }}").render(context) == "x=4")
        do {
            _ = try Expression.parse("1 == other.fn()").evaluate(context)
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "unknown function 'other.fn'")
            #expect(error.offset == 5)
        }
    }

    @Test("the validator checks names and argument counts when it knows the plugins")
    func validation() {
        let yaml = "jobs:\n  a:\n    steps:\n      - run: echo ${{ math.dubble(1) }} ${{ math.double(1, 2) }}\n"
        let checked = WorkflowLoader.load(yaml: yaml, file: "wf.yml", functions: ["math.double": 1])
        #expect(checked.diagnostics.map(\.message) == [
            "unknown function 'math.dubble' in 'run'", "'math.double' takes 1 argument, not 2",
        ])
        #expect(checked.diagnostics.first?.hint == "did you mean 'math.double'?")
        #expect(WorkflowLoader.load(yaml: yaml, file: "wf.yml").diagnostics.isEmpty)
    }

    @Test("with the plugins' signatures, a literal argument the call would refuse is an error at load time; expressions are left to the run")
    func literalTypes() {
        let yaml = """
            jobs:
              a:
                steps:
                  - run: echo ${{ text.round('abc', 1) }} ${{ text.round(1.5, 0.5) }} ${{ text.round(2, 1) }} ${{ text.round(github.run_id, 1) }}
                  - run: echo ${{ text.repeat(1, 2) }} ${{ text.flag(1) }} ${{ text.flag(true) }} ${{ text.repeat(null, 1) }}
            """
        let functions = FunctionArities(signatures: { ["text.round": "d(dl)", "text.repeat": "s(sl)", "text.flag": "b(b)"] })
        let checked = WorkflowLoader.load(yaml: yaml, file: "wf.yml", functionArities: functions)
        #expect(checked.diagnostics.map(\.message) == [
            "argument 1 of 'text.round' must be a number, not string",
            "argument 2 of 'text.round' must be a whole number, not number",
            "argument 1 of 'text.flag' must be true or false, not number",
        ], "\(checked.diagnostics)")
        #expect(checked.diagnostics.allSatisfy { $0.severity == .error && $0.hint == ($0.message.contains("flag") ? "signature b(b)" : "signature d(dl)") })
        #expect(checked.diagnostics.first?.location?.line == 4)
    }
}
