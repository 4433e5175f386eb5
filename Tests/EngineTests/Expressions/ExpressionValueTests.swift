import Testing
@testable import NixActionsEngine

@Suite("Expression values")
struct ExpressionValueTests {
    @Test("GitHub truthiness rules")
    func truthiness() {
        let falsy: [ExpressionValue] = [.null, false, 0, .number(-0.0), .number(.nan), ""]
        for value in falsy { #expect(!value.isTruthy, "\(value) should be falsy") }
        let truthy: [ExpressionValue] = [true, 1, -1, .number(.infinity), "0", "false", " ", [], [:]]
        for value in truthy { #expect(value.isTruthy, "\(value) should be truthy") }
    }

    @Test("displayString of every kind", arguments: [
        (ExpressionValue.null, ""),
        (true, "true"),
        (false, "false"),
        (1.0, "1"),
        (1.5, "1.5"),
        (-2.0, "-2"),
        (.number(-0.0), "-0"),  // .NET Core 3.0+ (GitHub's runner) keeps the sign (audit 52)
        (0.1, "0.1"),
        // .NET's "G15", as GitHub's runner formats numbers (ExpressionConstants.NumberFormat).
        (9_007_199_254_740_992.0, "9.00719925474099E+15"),
        (999_999_999_999_999.0, "999999999999999"),
        (1e15, "1E+15"),
        (1e20, "1E+20"),
        (-1_234_567_890_123_456_789.0, "-1.23456789012346E+18"),
        (123_456_789.123_456_789, "123456789.123457"),
        (0.0001, "0.0001"),
        (0.000_012_5, "1.25E-05"),
        (1e-6, "1E-06"),
        (0.000_001_234, "1.234E-06"),
        (1e-20, "1E-20"),
        (1e100, "1E+100"),
        (.number(0.1 + 0.2), "0.3"),
        (.number(.nan), "NaN"),
        (.number(.infinity), "Infinity"),
        (.number(-.infinity), "-Infinity"),
        ("text", "text"),
        ([1, "a", .null], "[1,\"a\",null]"),
        (["b": 1, "a": [true]], "{\"b\":1,\"a\":[true]}"),  // keys in the object's order
    ] as [(ExpressionValue, String)])
    func displayString(value: ExpressionValue, expected: String) {
        #expect(value.displayString == expected)
    }

    @Test("string to number coercion follows GitHub's ParseNumber: decimal, Infinity, 0x and 0o as 32-bit integers (audit 48 L2)", arguments: [
        ("", 0.0), ("   ", 0.0), (" 12 ", 12.0), ("+1.5", 1.5), ("-3", -3.0), (".5", 0.5), ("5.", 5.0),
        ("1e3", 1000.0), ("2E-2", 0.02), ("0xff", 255.0), ("0o10", 8.0),
        ("0xFFFFFFFF", -1.0), ("0x80000000", -2_147_483_648.0), ("0x7fffffff", 2_147_483_647.0), ("0x000000010", 16.0),
        ("0o37777777777", -1.0), ("\u{2003}7\u{2028}", 7.0),
        ("Infinity", Double.infinity), ("-Infinity", -Double.infinity),
    ] as [(String, Double)])
    func numberCoercion(text: String, expected: Double) {
        #expect(ExpressionValue.string(text).coercedNumber == expected)
    }

    @Test("invalid numeric strings coerce to NaN", arguments: [
        "abc", "1a", "0x", "0xg", "-0xff", "1e", "e5", ".", "+", "1.2.3", "NaN", "infinit", "1 2",
        "0XFF", "0b101", "0O17", "0x100000000", "0o40000000000", "0o8", "\u{FEFF}1",
    ])
    func numberCoercionNaN(text: String) {
        #expect(ExpressionValue.string(text).coercedNumber.isNaN)
    }

    @Test("coercion of non-strings")
    func otherCoercions() {
        #expect(ExpressionValue.null.coercedNumber == 0)
        #expect(ExpressionValue.bool(true).coercedNumber == 1)
        #expect(ExpressionValue.bool(false).coercedNumber == 0)
        #expect(ExpressionValue.array([]).coercedNumber.isNaN)
        #expect(ExpressionValue.object([:]).coercedNumber.isNaN)
    }

    @Test("pretty JSON matches GitHub's toJSON layout")
    func prettyJSON() {
        let value: ExpressionValue = ["name": "x", "list": [1, 2.5, .null], "empty": [:], "none": [], "ok": true]
        let expected = """
        {
          "name": "x",
          "list": [
            1,
            2.5,
            null
          ],
          "empty": {},
          "none": [],
          "ok": true
        }
        """
        #expect(value.toJSON(pretty: true) == expected)
        #expect(value.toJSON(pretty: false) == "{\"name\":\"x\",\"list\":[1,2.5,null],\"empty\":{},\"none\":[],\"ok\":true}")
    }

    @Test("JSON string escaping")
    func jsonEscaping() {
        let value: ExpressionValue = .string("a\"b\\c\nd\te\u{01}é/")
        #expect(value.toJSON(pretty: false) == "\"a\\\"b\\\\c\\nd\\te\\u0001é/\"")
        #expect(ExpressionValue.number(.nan).toJSON(pretty: false) == "\"NaN\"")
    }

    @Test("fromJSON parses every JSON kind")
    func fromJSON() throws {
        let value = try ExpressionValue.fromJSON(" {\"a\": [1, -2.5e1, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"], \"b\": {}} ")
        let expected: ExpressionValue = ["a": [1, -25, true, false, .null, "xé😀\n"], "b": [:]]
        #expect(value == expected)
        #expect(try ExpressionValue.fromJSON("3") == 3)
        #expect(try ExpressionValue.fromJSON("\"s\"") == "s")
        #expect(try ExpressionValue.fromJSON("null") == .null)
    }

    @Test("fromJSON rejects invalid JSON with an offset", arguments: [
        ("", 0), ("{", 1), ("[1,]", 3), ("{\"a\" 1}", 5), ("tru", 0), ("01", 1), ("[1] x", 4),
        ("\"abc", 0), ("{'a': 1}", 1), ("1.", 2), ("\"\\x\"", 2), ("[NaN]", 1),
    ] as [(String, Int)])
    func fromJSONErrors(text: String, offset: Int) {
        do {
            let value = try ExpressionValue.fromJSON(text)
            Issue.record("expected an error, got \(value)")
        } catch {
            #expect(error.offset == offset, "\(error.message)")
            #expect(error.message.hasPrefix("invalid JSON"))
        }
    }

    @Test("fromJSON limits nesting instead of overflowing the stack")
    func fromJSONDepth() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: ExpressionError.self) { try ExpressionValue.fromJSON(deep) }
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: Never.self) { try ExpressionValue.fromJSON(fine) }
    }

    @Test("JSON round trip of pretty and compact output")
    func jsonRoundTrip() throws {
        let value: ExpressionValue = ["k": ["x": [1, "two", [3.25]], "y": .null], "quote": "it's \"q\""]
        #expect(try ExpressionValue.fromJSON(value.toJSON(pretty: true)) == value)
        #expect(try ExpressionValue.fromJSON(value.toJSON(pretty: false)) == value)
    }

    @Test("property lookup prefers the exact key, then ignores case")
    func propertyLookup() {
        let value: ExpressionValue = ["Name": 1, "name": 2, "Other": 3]
        #expect(value.property("name") == 2)
        #expect(value.property("Name") == 1)
        #expect(value.property("OTHER") == 3)
        #expect(value.property("missing") == nil)
        #expect(ExpressionValue.string("x").property("x") == nil)
    }
}
