import Testing
@testable import NixActionsEngine

@Suite("Expression operators")
struct ExpressionOperatorTests {
    @Test("literals", arguments: [
        ("null", ExpressionValue.null), ("true", true), ("false", false), ("711", 711), ("-9.2", -9.2),
        ("0xff", 255), ("-2.99e-2", -0.0299), ("2e3", 2000), (".5", 0.5), ("+3", 3),
        ("'It''s open source!'", "It's open source!"), ("''", ""), ("''''", "'"), ("Infinity", .number(.infinity)),
    ] as [(String, ExpressionValue)])
    func literals(source: String, expected: ExpressionValue) throws {
        #expect(try ExprFixtures.eval(source) == expected)
    }

    @Test("white space as GitHub's lexer skips it: a no-break space, Unicode spaces and separators, between any tokens", arguments: [
        "\u{00A0}", "\u{0085}", "\u{1680}", "\u{2000}", "\u{2003}", "\u{200A}", "\u{2028}", "\u{2029}", "\u{202F}", "\u{205F}", "\u{3000}", "\t", "\u{0B}",
    ])
    func unicodeWhiteSpace(space: String) throws {
        // Around an operator, after '!', after an identifier and a number, inside a call.
        #expect(try ExprFixtures.eval("\(space)!github.event.number\(space)==\(space)false\(space)") == true)
        #expect(try ExprFixtures.eval("format(\(space)'{0}'\(space),\(space)1\(space))\(space)") == "1")
        #expect(try ExprFixtures.eval("2\(space)>\(space)1") == true)
        // Not white space: a zero-width space and a letter stay errors.
        #expect(ExprFixtures.evalError("1\u{200B}== 1") != nil)
    }

    @Test("NaN literal")
    func nanLiteral() throws {
        guard case .number(let value) = try ExprFixtures.eval("NaN") else {
            Issue.record("NaN should be a number")
            return
        }
        #expect(value.isNaN)
    }

    @Test("operator precedence", arguments: [
        // ! binds tighter than <: (!2) < 3 is false < 3 is 0 < 3.
        ("!2 < 3", true),
        ("!(2 < 3)", false),
        // && binds tighter than ||.
        ("true || false && false", true),
        ("(true || false) && false", false),
        ("false && false || true", true),
        // Relational binds tighter than equality: 2 == (2 > 1) is 2 == true is 2 == 1.
        ("2 == 2 > 1", false),
        ("1 < 2 == true", true),
        // Equality binds tighter than &&.
        ("1 == 1 && 2 == 2", true),
        ("'a' == 'b' || 'c' == 'C'", true),
        // . binds tighter than !.
        ("!github.event.number", false),
        ("!!github.event.number", true),
        ("3 > github.event.number", false),
        // A missing property is null, which compares as 0.
        ("3 > github.event.commits.length", true),
        ("github['event']['number'] > 41", true),
    ] as [(String, Bool)])
    func precedence(source: String, expected: Bool) throws {
        #expect(try ExprFixtures.eval(source) == .bool(expected))
    }

    @Test("property access on a negated value is null")
    func propertyOfGroup() throws {
        #expect(try ExprFixtures.eval("(!github).event") == .null)
    }

    @Test("loose equality table", arguments: [
        ("1 == '1'", true),
        ("'abc' == 'ABC'", true),
        ("'abc' != 'ABC'", false),
        ("null == 0", true),
        ("null == false", true),
        ("null == ''", true),
        ("null == null", true),
        ("true == 1", true),
        ("false == 0", true),
        ("true == 2", false),
        ("true == 'true'", false),
        ("'' == 0", true),
        ("'  ' == 0", true),
        ("' 12 ' == 12", true),
        ("'0xff' == 255", true),
        ("'infinity' == Infinity", true), ("' -INFINITY ' == -Infinity", true), ("'infinit' == Infinity", false),  // .NET ignores case (audit 52)
        ("'1e3' == 1000", true),
        ("-1 == '-1'", true),
        ("'abc' == 0", false),
        ("'abc' != 0", true),
        ("NaN == NaN", false),
        ("NaN != NaN", true),
        ("'NaN' == NaN", false),
        ("Infinity == ' Infinity '", true),
        ("1 == 1.0", true),
        ("0 == -0", true),
        // Arrays and objects by reference, as on GitHub: the same place of a context is the same
        // one (audit 65 expressions H1); two made separately are not.
        ("nums == nums", true),
        ("nums != nums", false),
        ("github.event == github.event", true),
        ("github.event == github['EVENT']", true),
        ("(github.event) >= github.event", true),
        ("github.event.commits[0] == github.event.commits[1]", false),
        ("github.event.commits[0] == github.event.commits['0']", true),
        ("contains(github.event.commits, github.event.commits[1])", true),
        ("contains(github.event.commits, github.event)", false),
        ("fromJSON('{}') == fromJSON('{}')", false),
        ("fromJSON('[1]') == nums", false),
        ("github.event.commits.* == github.event.commits.*", false),
        ("'a' == nums", false),
        ("nums == 0", false),
        ("'straße' == 'STRASSE'", false),
        ("'ÄÖÜ' == 'äöü'", true),
        ("env.COUNT == 3", true),
        ("matrix.node == '18'", true),
    ] as [(String, Bool)])
    func looseEquality(source: String, expected: Bool) throws {
        #expect(try ExprFixtures.eval(source) == .bool(expected))
    }

    @Test("relational operators", arguments: [
        ("1 < 2", true), ("2 < 1", false), ("1.001 < 1.002", true),
        ("'abc' < 'ABD'", true), ("'b' > 'A'", true), ("'A' <= 'a'", true), ("'a' >= 'A'", true),
        ("1 < '2'", true), ("'10' > 9", true), ("'10' > '9'", false),
        ("true > false", true), ("false < true", true), ("true < true", false),
        ("null < 1", true), ("false < 1", true),
        ("NaN < 1", false), ("NaN > 1", false), ("NaN >= NaN", false), ("NaN <= NaN", false),
        ("2 >= 2", true), ("2 <= 1", false),
        ("nums < nums", false), ("nums > 1", false), ("'a' < nums", false),
    ] as [(String, Bool)])
    func relational(source: String, expected: Bool) throws {
        #expect(try ExprFixtures.eval(source) == .bool(expected))
    }

    @Test("&& and || return an operand, not a boolean", arguments: [
        ("'a' && 'b'", ExpressionValue.string("b")),
        ("'' && 'b'", ""),
        ("0 && 'b'", 0),
        ("null && 'b'", .null),
        ("0 || 'x'", "x"),
        ("null || 0", 0),
        ("'a' || 'b'", "a"),
        ("env.MISSING || 'default'", "default"),
        ("env.EMPTY || env.NAME", "World"),
        ("1 && 2 && 3", 3),
        ("0 || '' || null", .null),
        ("github.event_name == 'push' && 'deploy' || 'skip'", "deploy"),
        ("github.event_name == 'pr' && 'deploy' || 'skip'", "skip"),
    ] as [(String, ExpressionValue)])
    func logicalOperands(source: String, expected: ExpressionValue) throws {
        #expect(try ExprFixtures.eval(source) == expected)
    }

    @Test("&& and || short-circuit (the unknown name is never evaluated)")
    func shortCircuit() throws {
        #expect(try ExprFixtures.eval("false && nosuchcontext.x") == false)
        #expect(try ExprFixtures.eval("true || nosuchcontext.x") == true)
        #expect(try ExprFixtures.eval("true && fromJSON('{}') || nosuchcontext") == [:])
        #expect(ExprFixtures.evalError("true && nosuchcontext") != nil)
    }

    @Test("! yields a boolean")
    func not() throws {
        #expect(try ExprFixtures.eval("!''") == true)
        #expect(try ExprFixtures.eval("!'x'") == false)
        #expect(try ExprFixtures.eval("!nums") == false)
        #expect(try ExprFixtures.eval("!null") == true)
        #expect(try ExprFixtures.eval("!NaN") == true)
        #expect(try ExprFixtures.eval("!!'x'") == true)
    }

    @Test("keywords are case-sensitive; other spellings are context names")
    func keywordCase() {
        #expect(ExprFixtures.evalError("TRUE")?.message == "unrecognized named-value: 'TRUE'")
    }
}
