import Testing
@testable import NixActionsEngine

@Suite("Templates and conditions")
struct TemplateTests {
    @Test("segments of a template with text around an expression")
    func segments() throws {
        let template = try Template.parse("Hello ${{ env.NAME }}!")
        #expect(template.segments.count == 3)
        #expect(template.segments.first == .literal("Hello "))
        #expect(template.segments.last == .literal("!"))
        guard case .expression(let expression, let offset) = template.segments[1] else {
            Issue.record("the middle segment should be an expression")
            return
        }
        #expect(offset == 6)
        #expect(expression.source == " env.NAME ")
        #expect(!template.isLiteral)
        #expect(try template.render(ExprFixtures.context()) == "Hello World!")
    }

    @Test("several segments render with display strings")
    func multiple() throws {
        let template = try Template.parse("${{ 1 }}-${{ 'a' }}-${{ null }}-${{ true }}-${{ 1.50 }}${{ matrix.os }}")
        #expect(template.segments.count == 10)
        #expect(try template.render(ExprFixtures.context()) == "1-a--true-1.5ubuntu-latest")
    }

    @Test("objects and arrays in text are Object and Array, as GitHub's runner writes them; a whole value that is one is an error (GitHub: 'Expected a string'); toJSON gives the JSON")
    func objectInterpolation() throws {
        let template = try Template.parse("v=${{ fromJSON('{\"b\":1,\"a\":[true,null]}') }} n=${{ nums }} j=${{ toJSON(nums) }}")
        #expect(try template.render(ExprFixtures.context()) == "v=Object n=Array j=[\n  1,\n  2,\n  3\n]")
        #expect(try Template.parse(" ${{ nums }}\n").render(ExprFixtures.context()) == " Array\n")
        #expect(throws: ExpressionError.self) { try Template.parse("${{ nums }}").render(ExprFixtures.context()) }
        do {
            _ = try Template.parse("${{ fromJSON('{}') }}").render(ExprFixtures.context())
        } catch {
            #expect(error.message == "the expression gave an object, where a text is expected (GitHub fails it: 'Expected a string')")
            #expect(error.hint == "write toJSON(…) for its JSON")
        }
        #expect(try Template.parse("${{ 1.50 }}").render(ExprFixtures.context()) == "1.5")
    }

    @Test("literal templates")
    func literal() throws {
        let plain = try Template.parse("echo hello $HOME ${ not } {{ x }}")
        #expect(plain.isLiteral)
        #expect(plain.segments == [.literal("echo hello $HOME ${ not } {{ x }}")])
        let empty = try Template.parse("")
        #expect(empty.isLiteral)
        #expect(empty.segments.isEmpty)
        #expect(try empty.render(ExprFixtures.context()) == "")
        #expect(try Template.parse("a $").render(ExprFixtures.context()) == "a $")
    }

    @Test("'}}' inside a string literal does not close the expression")
    func closingInString() throws {
        let template = try Template.parse("x${{ format('{{0}}') }}y")
        #expect(template.segments.count == 3)
        #expect(try template.render(ExprFixtures.context()) == "x{0}y")
    }

    @Test("an unclosed ${{ is an error at its offset")
    func unclosed() {
        let error = ExprFixtures.templateError("echo ${{ env.NAME")
        #expect(error?.message == "unclosed '${{' at position 6: expected '}}'")
        #expect(error?.offset == 5)
        #expect(error?.hint == "close the expression with '}}'")
        let inString = ExprFixtures.templateError("${{ 'abc }}")
        #expect(inString?.offset == 0)
        #expect(inString?.hint == "a string literal inside the expression is not terminated")
        // Multi-byte text before the expression shifts the UTF-8 offset.
        #expect(ExprFixtures.templateError("ü ${{ x")?.offset == 3)
    }

    @Test("expression errors are reported relative to the template")
    func embeddedErrors() throws {
        let syntax = ExprFixtures.templateError("abc ${{ 1 == }}")
        #expect(syntax?.message == "unexpected end of expression")
        #expect(syntax?.offset == 13)
        #expect(syntax?.source == "abc ${{ 1 == }}")

        let empty = ExprFixtures.templateError("x ${{ }}")
        #expect(empty?.message == "expected an expression")
        #expect(empty?.offset == 6)

        let template = try Template.parse("a ${{ nope.x }}")
        do {
            _ = try template.render(ExprFixtures.context())
            Issue.record("rendering should fail")
        } catch {
            #expect(error.message == "unrecognized named-value: 'nope'")
            #expect(error.offset == 6)
            #expect(error.source == "a ${{ nope.x }}")
        }
    }

    @Test("evaluateValue keeps the value of a lone expression; with white space around it, it is text, as GitHub's parser does not trim (audit 52)")
    func evaluateValue() throws {
        let context = ExprFixtures.context()
        #expect(try Template.parse("${{ fromJSON('[1,2]') }}").evaluateValue(context) == [1, 2])
        #expect(try Template.parse("  ${{ fromJSON('[1,2]') }} \n").evaluateValue(context) == "  Array \n")
        #expect(try Template.parse("${{ true }}\n").evaluateValue(context) == "true\n")
        #expect(try Template.parse("${{ matrix }}").evaluateValue(context) == ["os": "ubuntu-latest", "node": 18])
        #expect(try Template.parse("${{ 1 == 1 }}").evaluateValue(context) == true)
        #expect(try Template.parse("${{ 1 }} ${{ 2 }}").evaluateValue(context) == "1 2")
        #expect(try Template.parse("x${{ 1 }}").evaluateValue(context) == "x1")
        #expect(try Template.parse("text").evaluateValue(context) == "text")
    }

    @Test("template references are relative to the template")
    func templateReferences() throws {
        let template = try Template.parse("a ${{ env.X }} b ${{ needs.build.result }}")
        #expect(template.references == [
            ContextReference(root: "env", path: ["X"], offset: 6),
            ContextReference(root: "needs", path: ["build", "result"], offset: 21),
        ])
    }

    @Test("conditions accept bare and wrapped expressions")
    func conditions() throws {
        let context = ExprFixtures.context()
        let bare = try Expression.parseCondition("github.ref == 'refs/heads/main'")
        #expect(try bare.evaluate(context) == true)
        let wrapped = try Expression.parseCondition("${{ github.ref == 'refs/heads/main' }}")
        #expect(try wrapped.evaluate(context) == true)
        #expect(wrapped.source == " github.ref == 'refs/heads/main' ")
        let padded = try Expression.parseCondition("  ${{ success() }}  ")
        #expect(padded.statusFunctions == [.success])
        #expect(try Expression.parseCondition("${{ false }}").evaluate(context) == false)
    }

    @Test("a condition mixing ${{ }} and text is a string template, as on GitHub")
    func mixedCondition() throws {
        let context = ExprFixtures.context()
        let mixed = try Expression.parseCondition("${{ false }} && true")
        #expect(try mixed.evaluate(context) == "false && true")
        #expect(try mixed.evaluate(context).isTruthy)
        #expect(try Expression.parseCondition("{x} ${{ 1 }}").evaluate(context) == "{x} 1")
        let references = try Expression.parseCondition("a ${{ env.NAME }} ${{ failure() }}")
        #expect(references.references == [ContextReference(root: "env", path: ["NAME"], offset: 6)])
        #expect(references.statusFunctions == [.failure])
    }

    @Test("condition errors are relative to the condition text")
    func conditionErrors() {
        func conditionError(_ text: String) -> ExpressionError? {
            do {
                _ = try Expression.parseCondition(text)
                return nil
            } catch {
                return error
            }
        }
        #expect(conditionError("${{ 1 == }}")?.offset == 9)
        #expect(conditionError("${{ 1 == }} x")?.offset == 9)
        #expect(conditionError("${{ 1 == }} x")?.source == "${{ 1 == }} x")
        #expect(conditionError("a == ")?.offset == 5)
        #expect(conditionError("${{ a")?.message == "unclosed '${{' at position 1: expected '}}'")
    }
}
