@testable import NixActionsEngine
import Synchronization
import Testing

@Suite("Bounds: an expression result is at most 1 MiB")
struct BoundsExpressionTests {
    /// `text.repeat(value, count)`, as the text plugin has it, counting its calls.
    final class Repeater: PluginFunctionProvider {
        let calls = Atomic<Int>(0)
        var arities: [String: Int] { ["text.repeat": 2] }
        func call(_ name: String, _ arguments: [ExpressionValue]) throws(PluginFunctionError) -> ExpressionValue {
            guard case .string(let text)? = arguments.first, case .number(let count)? = arguments.last, count >= 0 else {
                throw PluginFunctionError("'text.repeat' failed")
            }
            calls.add(1, ordering: .relaxed)
            return .string(String(repeating: text, count: Int(count)))
        }
    }

    static let limitMessage = "bytes; an expression result can be at most 5242880 bytes (5 MiB)"

    func error(_ source: String, _ context: some ExpressionContext) -> ExpressionError? {
        do {
            _ = try Expression.parse(source).evaluate(context)
            return nil
        } catch {
            return error
        }
    }

    @Test("nested plugin calls stop at the first result over 5 MiB, before the next call multiplies it")
    func nestedPluginCalls() throws {
        let repeater = Repeater()
        let context = RuntimeContext(contexts: [:], status: .ok, hashRoot: "/", functions: repeater)
        let source = "text.repeat(text.repeat(text.repeat('x', 1000), 5500), 3000)"
        let failure = try #require(error(source, context))
        #expect(failure.message == "the result of text.repeat() is 5500000 \(Self.limitMessage)")
        #expect(failure.offset == 12)  // the middle call
        #expect(failure.hint == "pass large data through files in the workspace rather than through expressions")
        #expect(repeater.calls.load(ordering: .relaxed) == 2)  // the outer call (3.3 GB) never happens
        // Exactly 5 MiB is allowed.
        #expect(try Expression.parse("text.repeat(text.repeat('x', 5120), 1024)").evaluate(context).displayString.utf8.count == 5 << 20)
    }

    @Test("format, join and toJSON results are capped too", arguments: [
        ("format('{0}{0}', format('{0}{0}', big))", "format", 6_000_000),
        ("join(fromJSON('[1, 2, 3]'), format('{0}{0}', big))", "join", 6_000_003),
        ("toJSON(quotes)", "toJSON", 6_000_002),  // every quote is escaped
    ] as [(String, String, Int)])
    func builtins(source: String, function: String, size: Int) throws {
        let context = DictionaryExpressionContext([
            "big": .string(String(repeating: "a", count: 1_500_000)), "quotes": .string(String(repeating: "\"", count: 3_000_000)),
        ])
        let failure = try #require(error(source, context), "\(source) was evaluated")
        #expect(failure.message == "the result of \(function)() is \(size) \(Self.limitMessage)")
    }

    @Test("format and join are measured before they are built: a result of gigabytes is refused without the memory (audit 66 hardening H1)")
    func measuredFirst() throws {
        let context = DictionaryExpressionContext(["big": .string(String(repeating: "a", count: 1_500_000))])
        // 5,000 references to 1.5 MB: 7.5 GB if it were built.
        let placeholders = String(repeating: "{0}", count: 5_000)
        let failure = try #require(error("format('\(placeholders)', big)", context))
        #expect(failure.message == "the result of format() is 7500000000 \(Self.limitMessage)")
        #expect(failure.hint == "pass large data through files in the workspace rather than through expressions")
        let items = "[" + Array(repeating: "1", count: 10_000).joined(separator: ",") + "]"
        let joined = try #require(error("join(fromJSON('\(items)'), big)", context))
        #expect(joined.message == "the result of join() is \(10_000 + 9_999 * 1_500_000) \(Self.limitMessage)")
        // A format's own mistakes are still said as such.
        #expect(error("format('{1}', big)", context)?.message.contains("format string references argument {1}") == true)
        #expect(try Expression.parse("format('{0}-{{x}}-{0}', 'ab')").evaluate(context).displayString == "ab-{x}-ab")
    }

    @Test("the expressions of one text give at most 10 MiB in all: many legal values are refused at the one that passes it (audit 66 hardening H1)")
    func templateTotal() throws {
        let context = DictionaryExpressionContext(["big": .string(String(repeating: "a", count: 4_000_000))])
        let template = try Template.parse("run ${{ big }} ${{ big }} ${{ big }} ${{ big }}")
        do {
            _ = try template.render(context)
            Issue.record("rendered 16 MB of expression results")
        } catch {
            #expect(error.message == "the expressions of this text give more than 10485760 bytes in all (10 MiB): 12000000 bytes up to this one", "\(error.message)")
            #expect(error.offset == 26, "the third expression")
        }
        // Two of them (8 MB) are fine.
        #expect(try Template.parse("${{ big }} ${{ big }}").render(context).utf8.count == 8_000_001)
    }

    @Test("a template whose expression goes over the limit fails with the expression's position in the template")
    func template() throws {
        let context = DictionaryExpressionContext(["big": .string(String(repeating: "a", count: 3_000_000))])
        do {
            _ = try Template.parse("echo ${{ format('{0}{0}', big) }}").render(context)
            Issue.record("rendered a 6 MB result")
        } catch {
            #expect(error.message == "the result of format() is 6000000 \(Self.limitMessage)")
            #expect(error.offset == 9)
        }
    }
}
