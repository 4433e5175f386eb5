import Testing
@testable import NixActionsEngine

@Suite("Expression syntax errors")
struct ExpressionSyntaxErrorTests {
    @Test("each kind of syntax error has a precise message and offset", arguments: [
        ("1 ==", "unexpected end of expression", 4),
        ("a &&", "unexpected end of expression", 4),
        ("!", "unexpected end of expression", 1),
        ("(1 == 2", "expected ')' to close '(' opened at position 1", 7),
        ("a && (b || c", "expected ')' to close '(' opened at position 6", 12),
        ("(1 == 2]", "expected ')' to close '(' opened at position 1, found ']'", 7),
        ("a[1", "expected ']' to close '[' opened at position 2", 3),
        ("a[*", "expected ']' to close '[' opened at position 2", 3),
        ("1 == 2)", "unexpected token ')' at position 7", 6),
        ("a]", "unexpected token ']' at position 2", 1),
        ("1 2", "unexpected token '2' at position 3", 2),
        ("a b", "unexpected token 'b' at position 3", 2),
        (",", "unexpected token ',' at position 1", 0),
        ("*", "unexpected token '*' at position 1", 0),
        ("true()", "unexpected token '(' at position 5", 4),
        ("'x'[0]", "unexpected token '[' at position 4", 3),
        ("== 1", "unexpected token '==' at position 1", 0),
        ("'abc", "unterminated string literal starting at position 1", 0),
        ("a == 'it''s", "unterminated string literal starting at position 6", 5),
        ("a = b", "unexpected symbol '=' at position 3", 2),
        ("a & b", "unexpected symbol '&' at position 3", 2),
        ("a | b", "unexpected symbol '|' at position 3", 2),
        ("\"abc\"", "unexpected symbol '\"abc\"' at position 1", 0),
        ("a == é", "unexpected symbol 'é' at position 6", 5),
        ("a$b", "unexpected symbol 'a$b' at position 1", 0),
        ("a.", "expected a property name or '*' after '.'", 2),
        ("a.1", "expected a property name or '*' after '.', found '1'", 2),
        ("a.(b)", "expected a property name or '*' after '.', found '('", 2),
        ("'a'.b", "invalid number '.b' at position 4", 3),
        ("1.2.3", "invalid number '1.2.3' at position 1", 0),
        ("- 1", "invalid number '-' at position 1", 0),
        ("0xZZ", "invalid number '0xZZ' at position 1", 0),
        ("1-2", "invalid number '1-2' at position 1", 0),
        ("", "expected an expression", 0),
        ("   ", "expected an expression", 3),
        ("contains('a' 'b')", "expected ',' or ')' after argument 1 of 'contains', found 'b'", 13),
        ("format('x'", "expected ')' to close '(' of 'format' opened at position 7", 10),
        ("format('x',)", "unexpected token ')' at position 12", 11),
        ("contains(,)", "unexpected token ',' at position 10", 9),
        ("${{ a }}", "unexpected symbol '${{' at position 1", 0),
    ] as [(String, String, Int)])
    func syntaxError(source: String, message: String, offset: Int) {
        let error = ExprFixtures.parseError(source)
        #expect(error?.message == message)
        #expect(error?.offset == offset)
        #expect(error?.source == source)
    }

    @Test("hints for common mistakes", arguments: [
        ("a = b", "use '==' to compare values"),
        ("a & b", "use '&&' for a logical and"),
        ("a | b", "use '||' for a logical or"),
        ("\"abc\"", "string literals use single quotes, e.g. 'text'"),
        ("'abc", "close the string with ' (write '' for a literal quote)"),
        ("${{ a }}", "'${{' and '}}' delimit an expression in a template and cannot appear inside one"),
        ("'abc'.length", "a property name after '.' needs a context, function call or parenthesized expression before it"),
        ("github..sha", "two dots in a row: write one '.' between a context and its property (github.sha)"),  // audit 65 expressions L5
    ] as [(String, String)])
    func hints(source: String, hint: String) {
        #expect(ExprFixtures.parseError(source)?.hint == hint)
    }

    @Test("offsets are UTF-8 offsets")
    func utf8Offsets() {
        // 'é' is two bytes, so ')' is at byte 9 although it is the 8th character.
        let error = ExprFixtures.parseError("'é' == 1)")
        #expect(error?.offset == 9)
        #expect(error?.message == "unexpected token ')' at position 10")
    }

    @Test("nesting deeper than the limit is an error, not a crash")
    func depthLimit() {
        let parens = String(repeating: "(", count: 60) + "1" + String(repeating: ")", count: 60)
        let error = ExprFixtures.parseError(parens)
        #expect(error?.message == "exceeded maximum expression depth of 50")
        #expect(error?.offset == 50)  // the 51st '(' opens one level too many

        let bangs = String(repeating: "!", count: 60) + "true"
        #expect(ExprFixtures.parseError(bangs)?.message == "exceeded maximum expression depth of 50")

        let chain = "github" + String(repeating: ".a", count: 60)
        #expect(ExprFixtures.parseError(chain)?.message == "exceeded maximum expression depth of 50")

        let comparisons = Array(repeating: "1", count: 60).joined(separator: " == ")
        #expect(ExprFixtures.parseError(comparisons)?.message == "exceeded maximum expression depth of 50")

        let huge = String(repeating: "(", count: 10_000) + String(repeating: ")", count: 10_000)
        #expect(ExprFixtures.parseError(huge)?.message == "exceeded maximum expression depth of 50")

        let fine = String(repeating: "(", count: 20) + "1" + String(repeating: ")", count: 20)
        #expect(ExprFixtures.parseError(fine) == nil)

        // An index's key is one level below its index, as in GitHub's tree: 49 indexes are the
        // limit, as 49 property steps are (audit 48 L7: one level too many was counted).
        let indexes = { (count: Int) in "github" + (1...count).map { "[\($0)]" }.joined() }
        #expect(ExprFixtures.parseError(indexes(49)) == nil)
        #expect(ExprFixtures.parseError(indexes(50))?.message == "exceeded maximum expression depth of 50")
        #expect(ExprFixtures.parseError("github" + String(repeating: ".a", count: 49)) == nil)
        #expect(ExprFixtures.parseError("github" + String(repeating: ".a", count: 50))?.message == "exceeded maximum expression depth of 50")
        let longOr = Array(repeating: "false", count: 500).joined(separator: " || ")
        #expect(ExprFixtures.parseError(longOr) == nil)
    }

    @Test("expressions longer than GitHub's limit are rejected")
    func lengthLimit() {
        let long = "'" + String(repeating: "a", count: Expression.maxLength) + "'"
        let error = ExprFixtures.parseError(long)
        #expect(error?.message == "expression is too long: 21002 characters (UTF-16 code units), the limit is 21000")
        #expect(error?.offset == 0)
        let limit = "'" + String(repeating: "a", count: Expression.maxLength - 2) + "'"
        #expect(ExprFixtures.parseError(limit) == nil)
        // The spaces around it do not count: GitHub trims first (audit 52).
        #expect(ExprFixtures.parseError("  " + limit + "  ") == nil)
        // Counted as GitHub counts (.NET's String.Length): 12,002 characters in 24,002 bytes pass.
        let accented = "'" + String(repeating: "é", count: 12_000) + "'"
        #expect(ExprFixtures.parseError(accented) == nil)
    }

    @Test("a text with ${{ }} over 21,000 characters as GitHub's one format() expression is an error at its field; the same text without one is fine")
    func templateLength() {
        func errors(_ run: String) -> [String] {
            let yaml = "jobs:\n  a:\n    steps:\n      - run: |\n" + run.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n") + "\n"
            return WorkflowLoader.load(yaml: yaml, file: "wf.yml").diagnostics.filter { $0.severity == .error }.map(\.message)
        }
        let line = String(repeating: "x", count: 99) + "\n"
        let long = String(repeating: line, count: 211)  // 21,100 characters
        let found = errors(long + "echo ${{ github.sha }}")
        #expect(found.count == 1 && found[0].hasPrefix("'run' with its ${{ }} is one expression of "), "\(found)")
        #expect(found.first?.contains("over its limit of 21000") == true)
        #expect(errors(long + "echo sha").isEmpty)
        #expect(errors(String(repeating: line, count: 150) + "echo ${{ github.sha }}").isEmpty)
        // Braces and quotes count twice, as GitHub doubles them.
        #expect(errors(String(repeating: "{'}\n", count: 3_500) + "echo ${{ github.sha }}").count == 1)  // 14,000 characters, 24,500 doubled
    }

    @Test("the diagnostic shows the line and a caret")
    func diagnostic() {
        let error = ExprFixtures.parseError("a == 'x' &&\nb = c")
        #expect(error?.offset == 14)
        #expect(error?.diagnostic == "unexpected symbol '=' at position 15\n  b = c\n    ^\nhint: use '==' to compare values")
        #expect(error?.description == "unexpected symbol '=' at position 15 (hint: use '==' to compare values)")
    }

    @Test("an ExpressionError clamps its offset into the source")
    func clamping() {
        #expect(ExpressionError(message: "m", offset: 99, source: "abc").offset == 3)
        #expect(ExpressionError(message: "m", offset: -4, source: "abc").offset == 0)
    }
}
