import Testing
@testable import NixActionsEngine

@Suite("Expression functions")
struct ExpressionFunctionTests {
    @Test("contains", arguments: [
        ("contains('Hello World', 'WORLD')", true),
        ("contains('Hello World', 'planet')", false),
        ("contains('abc', '')", true),
        ("contains(nums, 2)", true),
        ("contains(nums, '2')", true),
        ("contains(nums, 4)", false),
        ("contains(github.event.labels.*.name, 'ci')", true),
        ("contains(github.event.labels.*.name, 'feature')", false),
        ("contains(github.event, 'number')", false),
        ("contains(123, 2)", true),
        ("contains(true, 'RU')", true),
        ("contains(null, '')", true),
        ("contains('abc', nums)", false),
        ("contains(fromJSON('[]'), null)", false),
        ("CONTAINS('abc', 'B')", true),
    ] as [(String, Bool)])
    func contains(source: String, expected: Bool) throws {
        #expect(try ExprFixtures.eval(source) == .bool(expected))
    }

    @Test("startsWith and endsWith", arguments: [
        ("startsWith('Hello', 'he')", true),
        ("startsWith('Hello', 'lo')", false),
        ("startsWith('Hello', '')", true),
        ("endsWith('Hello', 'LO')", true),
        ("endsWith('Hello', 'he')", false),
        ("endsWith(12.5, '.5')", true),
        ("startsWith(github.ref, 'refs/heads/')", true),
        ("startsWith(nums, '1')", false),
        ("endsWith('abc', nums)", false),
        ("startsWith('a', 'abc')", false),
        ("endsWith('c', 'abc')", false),
        ("startswith('ABC', 'a')", true),
    ] as [(String, Bool)])
    func prefixSuffix(source: String, expected: Bool) throws {
        #expect(try ExprFixtures.eval(source) == .bool(expected))
    }

    @Test("format", arguments: [
        ("format('{0} {1}', 'a', 'b')", "a b"),
        ("format('{1}{0}{1}', 'a', 'b')", "bab"),
        ("format('Hello {0}!', env.NAME)", "Hello World!"),
        ("format('{{0}}', 1)", "{0}"),
        ("format('{{{0}}}', 'x')", "{x}"),
        ("format('}}{{')", "}{"),
        ("format('plain')", "plain"),
        ("format('{0}|{1}|{2}|{3}', null, true, 1.5, 2)", "|true|1.5|2"),
        ("format('{0:}', 5)", "5"),
        ("format('{0}', nums)", "Array"),
        ("format('{0}|{1}', fromJSON('{}'), join(fromJSON('[[1],{}]'), '-'))", "Object|Array-Object"),
        ("FORMAT('{0}', 'case')", "case"),
    ] as [(String, String)])
    func format(source: String, expected: String) throws {
        #expect(try ExprFixtures.eval(source) == .string(expected))
    }

    @Test("format: specifiers and stray text in a placeholder are errors (GitHub's Format.cs); arguments the template does not name are not evaluated")
    func formatStrict() throws {
        #expect(ExprFixtures.parseError("format('{0:N2}', 5)")?.message.contains("invalid format specifiers 'N2' for argument {0}") == true)
        #expect(ExprFixtures.parseError("format('{0 }', 5)")?.message.contains("is followed by ' ', not '}'") == true)
        #expect(try ExprFixtures.eval("format('x', fromJSON(''))") == "x")
        #expect(try ExprFixtures.eval("format('{1}', fromJSON(''), 'b')") == "b")
        #expect(ExprFixtures.evalError("format('{0}', fromJSON(''))")?.message == "fromJSON: empty input")
    }

    @Test("format errors found at parse time for literal format strings", arguments: [
        ("format('{1}', 'a')", "references argument {1} but only 1 argument was supplied"),
        ("format('{0}')", "references argument {0} but only 0 arguments were supplied"),
        ("format('{', 1)", "invalid format string: '{' at position 1"),
        ("format('{x}', 1)", "invalid format string: '{' at position 1"),
        ("format('a}b', 1)", "invalid format string: unbalanced '}' at position 2"),
        ("format('{0', 1)", "is not closed by '}'"),
    ] as [(String, String)])
    func formatParseErrors(source: String, fragment: String) {
        let error = ExprFixtures.parseError(source)
        #expect(error?.message.contains(fragment) == true, "\(String(describing: error))")
        #expect(error?.offset == 7)
    }

    @Test("format errors at evaluation for dynamic format strings")
    func formatEvalError() throws {
        _ = try Expression.parse("format(env.FMT, 'a')")
        let error = ExprFixtures.evalError("format(env.FMT, 'a')")
        #expect(error?.message == "format: format string references argument {1} but only 1 argument was supplied")
        #expect(error?.offset == 0)
        // The index as written, however long (audit 55 L2: shown clamped to {1000000}).
        let long = ExprFixtures.evalError("format('{99999999999999999999}', 'a')")
        #expect(long?.message.contains("references argument {99999999999999999999} but only 1 argument was supplied") == true, "\(String(describing: long))")
    }

    @Test("join", arguments: [
        ("join(nums)", "1,2,3"),
        ("join(nums, ' | ')", "1 | 2 | 3"),
        ("join(nums, '')", "123"),
        ("join('abc')", "abc"),
        ("join('abc', '-')", "abc"),
        ("join(12)", "12"),
        ("join(null)", ""),
        ("join(github.event.labels.*.name, '+')", "bug+CI"),
        ("join(github.event)", ""),
        ("join(fromJSON('[]'))", ""),
        ("join(fromJSON('[1, null, true]'), nums)", "1,,true"),
    ] as [(String, String)])
    func join(source: String, expected: String) throws {
        #expect(try ExprFixtures.eval(source) == .string(expected))
    }

    @Test("toJSON pretty-prints, an object's keys in its order (GitHub's dictionaries keep insertion order)")
    func toJSON() throws {
        #expect(try ExprFixtures.eval("toJSON(nums)") == "[\n  1,\n  2,\n  3\n]")
        #expect(try ExprFixtures.eval("toJSON(needs.build)") ==
            "{\n  \"result\": \"success\",\n  \"outputs\": {\n    \"version\": \"1.2.3\"\n  }\n}")
        // Objects made in the engine keep the order they were written in; one from a Swift
        // dictionary is sorted (the same in every run).
        #expect(ExpressionValue.object(["b": 1, "a": 2, "c": 3]).toJSON(pretty: false) == #"{"b":1,"a":2,"c":3}"#)
        let unordered: [String: ExpressionValue] = ["b": 1, "a": 2, "c": 3]
        #expect(ExpressionValue.sortedObject(unordered).toJSON(pretty: false) == #"{"a":2,"b":1,"c":3}"#)
        // fromJSON keeps the text's order, for toJSON and for .* (audit 48 M1).
        #expect(try ExprFixtures.eval(#"toJSON(fromJSON('{"b":1,"a":{"z":true,"y":null},"c":[3]}'))"#) ==
            "{\n  \"b\": 1,\n  \"a\": {\n    \"z\": true,\n    \"y\": null\n  },\n  \"c\": [\n    3\n  ]\n}")
        #expect(try ExprFixtures.eval(#"join(fromJSON('{"z":1,"a":2,"m":3}').*)"#) == "1,2,3")
        #expect(try ExprFixtures.eval(#"join(fromJSON('[{"z":1,"a":2},{"m":3,"b":4}]').*.*)"#) == "1,2,3,4")
        #expect(try ExprFixtures.eval(#"toJSON(fromJSON('{"one":{"v":"one val"},"two":{"v":"two val"},"star":{"v":"star val"}}').*.v)"#)
                == "[\n  \"one val\",\n  \"two val\",\n  \"star val\"\n]")
        #expect(try ExprFixtures.eval("toJSON('a\"b')") == "\"a\\\"b\"")
        // Numbers as GitHub writes them (G15, `E`, bare NaN and Infinity), and the line
        // separators escaped as Newtonsoft does (audit 48 L5, L6).
        #expect(try ExprFixtures.eval("toJSON(fromJSON('1e21'))") == "1E+21")
        #expect(try ExprFixtures.eval("toJSON(fromJSON('12345678901234567'))") == "1.23456789012346E+16")
        #expect(try ExprFixtures.eval("toJSON(NaN)") == "NaN")
        #expect(try ExprFixtures.eval("toJSON(fromJSON('[-Infinity, 0.5]'))") == "[\n  -Infinity,\n  0.5\n]")
        #expect(try ExprFixtures.eval(#"toJSON(fromJSON('"\u2028\u2029\u0085x"'))"#) == #""\u2028\u2029\u0085x""#)
        #expect(try ExprFixtures.eval("toJSON(null)") == "null")
        #expect(try ExprFixtures.eval("toJSON(1.5)") == "1.5")
        #expect(try ExprFixtures.eval("toJson(true)") == "true")
    }

    @Test("fromJSON")
    func fromJSON() throws {
        #expect(try ExprFixtures.eval("fromJSON('{\"a\": [1, true, null]}').a[1]") == true)
        #expect(try ExprFixtures.eval("fromJSON('3')") == 3)
        #expect(try ExprFixtures.eval("fromJSON('\"x\"')") == "x")
        #expect(try ExprFixtures.eval("fromJSON(env.JSON).a[1]") == 2)
        #expect(try ExprFixtures.eval("fromJSON('true') == true") == true)
        #expect(try ExprFixtures.eval("fromJSON(toJSON(github.event))") == ExprFixtures.contexts["github"]?.property("event"))
        #expect(try ExprFixtures.eval("FromJSON('[1]')[0]") == 1)
    }

    @Test("an index on what is not a collection is null without evaluating the key, as GitHub's Index (audit 52)")
    func indexOnScalar() throws {
        #expect(try ExprFixtures.eval("github.nope[fromJSON('x')]") == .null)
        #expect(try ExprFixtures.eval("matrix.os[fromJSON('x')]") == .null)  // a string
        #expect(ExprFixtures.evalError("fromJSON('[1]')[fromJSON('x')]") != nil)
    }

    @Test("contains on text: case-insensitive, overlapping prefixes found (the search falls back, never restarts), a long needle in a long text (audit 52: quadratic)")
    func containsText() {
        for (hay, needle, expected) in [("aaab", "AAB", true), ("abababc", "ababc", true), ("abcabd", "abd", true), ("abcab", "abd", false),
                                        ("Straße", "SSE", false), ("ÄbC", "äB", true), ("", "", true), ("x", "", true), ("", "x", false)] {
            #expect(ExpressionComparison.containsIgnoringCase(hay, needle) == expected, "\(hay) \(needle)")
        }
        let hay = String(repeating: "a", count: 100_000), needle = String(repeating: "a", count: 10_000)
        #expect(!ExpressionComparison.containsIgnoringCase(hay, needle + "b"))
        #expect(ExpressionComparison.containsIgnoringCase(hay + "b", needle + "B"))
    }

    @Test("fromJSON reads what GitHub's runner's (Newtonsoft's) reader reads: single quotes (Python's repr), unquoted keys, comments, NaN and Infinity, hex and octal, text after the value; keys without case")
    func fromJSONLenient() throws {
        #expect(try ExprFixtures.eval("fromJSON('{''os'': ''ubuntu'', ''n'': [1, 2]}').os") == "ubuntu")
        #expect(try ExprFixtures.eval("fromJSON('{os: \"linux\", $x_1: 2}')['$x_1']") == 2)
        #expect(try ExprFixtures.eval("fromJSON('[1 /* one */, // two\n 2]')[1]") == 2)
        #expect(try ExprFixtures.eval("fromJSON('{\"a\":1} trailing text').a") == 1)
        #expect(try ExprFixtures.eval("fromJSON('[1] [2]')") == .array([1]))
        #expect(try ExprFixtures.eval("fromJSON('[0x1F, 017, 0, 0.5]')") == .array([31, 15, 0, 0.5]))
        // Newtonsoft reads a radix only when the number starts with 0: -017 is decimal (audit 52).
        #expect(try ExprFixtures.eval("fromJSON('[-017]')") == .array([-17]))
        // Trailing commas, a left-out element (""), numbers with a point at an end (audit 52).
        #expect(try ExprFixtures.eval("fromJSON('[1,2,]')") == .array([1, 2]))
        #expect(try ExprFixtures.eval("fromJSON('{\"a\":1,}').a") == 1)
        #expect(try ExprFixtures.eval("fromJSON('[1,,2]')") == .array([1, "", 2]))
        #expect(try ExprFixtures.eval("fromJSON('[1., .5, -.5]')") == .array([1, 0.5, -0.5]))
        // `-0` is Newtonsoft's integer 0, printed 0; `-0.0` a float that keeps its sign (audit 65 expressions L2).
        #expect(try ExprFixtures.eval("format('{0} {1}', fromJSON('-0'), fromJSON('-0.0'))") == "0 -0")
        // 64 levels, as Newtonsoft's MaxDepth; 65 fail.
        #expect((try? ExprFixtures.eval("fromJSON('\(String(repeating: "[", count: 64))\(String(repeating: "]", count: 64))')")) != nil)
        #expect(ExprFixtures.evalError("fromJSON('\(String(repeating: "[", count: 65))\(String(repeating: "]", count: 65))')")?.message.contains("nesting deeper than 64") == true)
        #expect(try ExprFixtures.eval("fromJSON('[NaN, Infinity, -Infinity, undefined]')[1]") == .number(.infinity))
        #expect(try ExprFixtures.eval("fromJSON('[NaN, Infinity, -Infinity, undefined]')[3]") == "")  // Undefined: "" on GitHub
        #expect(try ExprFixtures.eval(#"fromJSON('''it\''s''')"#) == "it's")
        // GitHub's objects are keyed without case: {"a":1,"A":2} is {"a": 2}.
        #expect(try ExprFixtures.eval("fromJSON('{\"a\":1,\"A\":2}')") == .object(["a": 2]))
        // Still errors: a missing colon, an unclosed string, an unknown word.
        for bad in ["fromJSON('{a 1}')", "fromJSON('''open')", "fromJSON('nope')", "fromJSON('0x')", "fromJSON('0x1G')", "fromJSON('08')",
                    "fromJSON('[1x]')", "fromJSON('00x1')", "fromJSON('-0x10')"] {
            #expect(ExprFixtures.evalError(bad)?.message.hasPrefix("fromJSON: invalid JSON") == true, "\(bad)")
        }
    }

    @Test("fromJSON of an array or object fails, as GitHub reads its text ('Array', 'Object'); contains, startsWith, endsWith and join evaluate their second argument only where GitHub reads it (audit 48 L3, L4)")
    func fromJSONOfValuesAndLazyArguments() throws {
        let array = ExprFixtures.evalError("toJSON(fromJSON(fromJSON('[1]')))")
        #expect(array?.message == "fromJSON: the argument is an array, not JSON text", "\(String(describing: array))")
        #expect(array?.hint?.contains("'Array'") == true)
        #expect(ExprFixtures.evalError("fromJSON(github.event)")?.message == "fromJSON: the argument is an object, not JSON text")
        // The second argument's error does not fail what GitHub never evaluates…
        #expect(try ExprFixtures.eval("contains(fromJSON('[]'), fromJSON(''))") == false)
        #expect(try ExprFixtures.eval("contains(fromJSON('{}'), fromJSON(''))") == false)
        #expect(try ExprFixtures.eval("startsWith(fromJSON('[]'), fromJSON(''))") == false)
        #expect(try ExprFixtures.eval("endsWith(github.event, fromJSON(''))") == false)
        #expect(try ExprFixtures.eval("join(fromJSON('[\"only\"]'), fromJSON(' '))") == "only")
        #expect(try ExprFixtures.eval("join('text', fromJSON(' '))") == "text")
        // …and does where it does.
        for evaluated in ["contains(fromJSON('[1]'), fromJSON(''))", "contains('abc', fromJSON(''))", "startsWith('a', fromJSON(''))",
                          "join(fromJSON('[1, 2]'), fromJSON(' '))"] {
            #expect(ExprFixtures.evalError(evaluated)?.message == "fromJSON: empty input", "\(evaluated)")
        }
    }

    @Test("fromJSON errors point at the call")
    func fromJSONErrors() {
        let empty = ExprFixtures.evalError("1 == 1 && fromJSON(env.EMPTY)")
        #expect(empty?.message == "fromJSON: empty input")
        #expect(empty?.offset == 10)
        let invalid = ExprFixtures.evalError("fromJSON('{bad')")
        #expect(invalid?.message.hasPrefix("fromJSON: invalid JSON") == true)
        #expect(invalid?.offset == 0)
        // The text it read is shown (escaped, at most 100 characters): a job's output `api,web`.
        #expect(invalid?.hint == "the text it read: '{bad'", "\(String(describing: invalid?.hint))")
        #expect(ExprFixtures.evalError("fromJSON('api,web\n')")?.hint == "the text it read: 'api,web\\n'")
        // A longer text is not shown at all: a piece of it could be a piece of a secret (review 59 H1).
        let long = ExprFixtures.evalError("fromJSON('\(String(repeating: "x", count: 150))')")
        #expect(long?.hint == "the text it read has 150 characters (not shown)")
    }

    @Test("hashFiles delegates to the context")
    func hashFiles() throws {
        #expect(try ExprFixtures.eval("hashFiles('**/package-lock.json', '!x')") == "hash(**/package-lock.json|!x)")
        let noHandler = DictionaryExpressionContext()
        do {
            _ = try Expression.parse("'k-' + hashFiles('a')").evaluate(noHandler)
            Issue.record("'+' is not an operator; parsing should fail")
        } catch {
            #expect(error.offset == 5)
        }
        do {
            _ = try Expression.parse("format('k-{0}', hashFiles('a'))").evaluate(noHandler)
            Issue.record("hashFiles without a handler should fail")
        } catch {
            #expect(error.message.hasPrefix("hashFiles"))
            #expect(error.offset == 16)
        }
        // GitHub's options: --follow-symbolic-links first, anything else with -- is an error; other arguments as text.
        #expect(ExprFixtures.evalError("hashFiles('--bogus', 'a')")?.message == "hashFiles: invalid glob option --bogus")
        #expect(try ExprFixtures.eval("hashFiles('--follow-symbolic-links', 'a')") == ExprFixtures.eval("hashFiles('a')"))
        #expect(try ExprFixtures.eval("hashFiles(1)") == ExprFixtures.eval("hashFiles('1')"))
    }

    @Test("status functions", arguments: [
        (ExpressionStatus(succeeded: true, cancelled: false), [true, false, true, false]),
        (ExpressionStatus(succeeded: false, cancelled: false), [false, true, true, false]),
        (ExpressionStatus(succeeded: true, cancelled: true), [false, false, true, true]),
        (ExpressionStatus(succeeded: false, cancelled: true), [false, true, true, true]),
    ])
    func statusFunctions(status: ExpressionStatus, expected: [Bool]) throws {
        let results = try ["success()", "failure()", "always()", "cancelled()"].map { source in
            try ExprFixtures.eval(source, status: status)
        }
        #expect(results == expected.map(ExpressionValue.bool))
        #expect(try ExprFixtures.eval("SUCCESS()", status: status) == .bool(expected[0]))
    }

    @Test("case picks the value after the first true predicate")
    func caseFunction() throws {
        #expect(try ExprFixtures.eval("case(true, 'a', 'b')") == "a")
        #expect(try ExprFixtures.eval("case(false, 'a', 'b')") == "b")
        #expect(try ExprFixtures.eval("case(false, 1, matrix.os == 'ubuntu-latest', 2, 3)") == 2)
        #expect(ExprFixtures.evalError("case('x', 1, 2)")?.message == "case: predicate 1 must evaluate to a boolean, got string")
        #expect(ExprFixtures.parseError("case(true, 1, false, 2)")?.message.contains("odd number") == true)
        // Only the chosen value is evaluated, and the predicates up to the first true one (GitHub's Case.cs).
        #expect(try ExprFixtures.eval("case(false, fromJSON(''), true, 'b', fromJSON(''))") == "b")
        #expect(try ExprFixtures.eval("case(env.NAME == '', fromJSON(''), fromJSON('{}'))") == .object([:]))
        #expect(try ExprFixtures.eval("case(true, 'a', 'x' == fromJSON(''), 'b', 'c')") == "a")
        #expect(ExprFixtures.evalError("case(false, 1, 'x', 2, 3)")?.message == "case: predicate 2 must evaluate to a boolean, got string")
    }

    @Test("wrong argument counts are parse errors with the signature as hint", arguments: [
        ("contains('a')", "too few arguments to 'contains': expected 2, got 1", "usage: contains(search, item)"),
        ("startsWith('a', 'b', 'c')", "too many arguments to 'startsWith': expected 2, got 3",
         "usage: startsWith(searchString, searchValue)"),
        ("join()", "too few arguments to 'join': expected at least 1, got 0", "usage: join(array, optionalSeparator)"),
        ("join(nums, ',', 1)", "too many arguments to 'join': expected at most 2, got 3", "usage: join(array, optionalSeparator)"),
        ("success(1)", "too many arguments to 'success': expected 0, got 1", "usage: success()"),
        ("toJSON()", "too few arguments to 'toJSON': expected 1, got 0", "usage: toJSON(value)"),
        ("fromJSON('1', '2')", "too many arguments to 'fromJSON': expected 1, got 2", "usage: fromJSON(value)"),
        ("format()", "too few arguments to 'format': expected at least 1, got 0",
         "usage: format(string, replaceValue0, replaceValue1, ..., replaceValueN)"),
        ("hashFiles()", "too few arguments to 'hashFiles': expected at least 1, got 0", "usage: hashFiles(path, ...)"),
        ("case(true, 1)", "too few arguments to 'case': expected at least 3, got 2",
         "usage: case(pred1, val1, pred2, val2, ..., default)"),
    ] as [(String, String, String)])
    func arity(source: String, message: String, hint: String) {
        let error = ExprFixtures.parseError(source)
        #expect(error?.message == message)
        #expect(error?.hint == hint)
        #expect(error?.offset == 0)
    }

    @Test("unknown functions get a did-you-mean hint")
    func unknownFunction() {
        let typo = ExprFixtures.parseError("1 == foramt('x')")
        #expect(typo?.message == "unrecognized function: 'foramt'")
        #expect(typo?.hint == "did you mean 'format'?")
        #expect(typo?.offset == 5)
        #expect(ExprFixtures.parseError("contain('a', 'b')")?.hint == "did you mean 'contains'?")
        #expect(ExprFixtures.parseError("startWith('a', 'b')")?.hint == "did you mean 'startsWith'?")
        let unknown = ExprFixtures.parseError("totallyUnknown()")
        #expect(unknown?.hint?.hasPrefix("available functions: contains, startsWith") == true)
    }
}
