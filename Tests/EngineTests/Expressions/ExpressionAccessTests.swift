import Testing
@testable import NixActionsEngine

@Suite("Expression property, index and filter access")
struct ExpressionAccessTests {
    @Test("property and index access", arguments: [
        ("github.event_name", ExpressionValue.string("push")),
        ("github.event.commits[1].message", "two"),
        ("github.event.commits['1'].message", "two"),
        ("github.event.commits[1.7].message", "two"),
        ("github.event.commits[5]", .null),
        ("github.event.commits[-1]", .null),
        ("github['event']['number']", 42),
        ("github.event['commits'][0]['author'].name", "A"),
        ("matrix[env.KEY]", "ubuntu-latest"),
        ("needs.build.outputs.version", "1.2.3"),
        ("steps.x.outputs.y", "why"),
        ("nums[0]", 1),
        ("nums[true]", 2),
        ("nums[null]", 1),
        ("nums['x']", .null),
        ("(github.event).number", 42),
        ("fromJSON('{\"a\":{\"b\":1}}').a.b", 1),
        ("fromJSON('{\"true\": 1, \"null\": 2}').true", 1),
        ("fromJSON('{\"true\": 1, \"null\": 2}').null", 2),
        ("fromJSON('{\"my-key\": 3}').my-key", 3),
    ] as [(String, ExpressionValue)])
    func access(source: String, expected: ExpressionValue) throws {
        #expect(try ExprFixtures.eval(source) == expected)
    }

    @Test("missing properties and dereferencing null give null", arguments: [
        "github.missing", "github.missing.deeper", "github.event.number.foo", "github.event_name.length",
        "nums.foo", "(null)", "fromJSON('null').x", "env['']",
    ])
    func missing(source: String) throws {
        #expect(try ExprFixtures.eval(source) == .null)
    }

    @Test("context names and property names are case-insensitive")
    func caseInsensitive() throws {
        #expect(try ExprFixtures.eval("GITHUB.event_name") == "push")
        #expect(try ExprFixtures.eval("GitHub.EVENT.Number") == 42)
        #expect(try ExprFixtures.eval("github['EVENT_NAME']") == "push")
        #expect(try ExprFixtures.eval("Needs.Build.Outputs.VERSION") == "1.2.3")
    }

    @Test("env's variables are told apart by case, as on GitHub's Linux runners (audit 53: env.name found NAME)")
    func envByCase() throws {
        #expect(try ExprFixtures.eval("env.NAME") == "World")
        #expect(try ExprFixtures.eval("ENV.NAME") == "World", "the context's name is any case")
        #expect(try ExprFixtures.eval("env.name") == .null)
        #expect(try ExprFixtures.eval("env['Name']") == .null)
        #expect(try ExprFixtures.eval("env['NAME']") == "World")
        #expect(try ExprFixtures.eval("toJSON(env.Count)") == "null")
    }

    @Test("object filter *", arguments: [
        ("github.event.commits.*.message", ExpressionValue.array(["one", "two"])),
        ("github.event.commits[*].message", ["one", "two"]),
        ("github.event.commits.*.author.name", ["A", "B"]),
        ("github.event.commits.*.nothing", []),
        ("needs.*.result", ["success", "failure"]),
        ("matrix.*", ["ubuntu-latest", 18]),  // object values in the object's order
        ("github.event_name.*", []),
        ("nums.*", [1, 2, 3]),
        ("fromJSON('[[1,2],[3]]').*[0]", [1, 3]),
        ("fromJSON('[[1,2],[3]]').*[1]", [2]),
        ("fromJSON('[[1,2],[3]]').*.*", [1, 2, 3]),
        ("fromJSON('[{\"a\":{\"b\":1}},{\"a\":{\"b\":2}},{\"c\":3}]').*.a.b", [1, 2]),
        ("(github.event.commits.*).message", ["one", "two"]),
    ] as [(String, ExpressionValue)])
    func filter(source: String, expected: ExpressionValue) throws {
        #expect(try ExprFixtures.eval(source) == expected)
    }

    @Test("a filtered result is an ordinary array for functions and operators")
    func filteredAsArray() throws {
        #expect(try ExprFixtures.eval("join(github.event.commits.*.message)") == "one,two")
        #expect(try ExprFixtures.eval("toJSON(needs.*.result)") == "[\n  \"success\",\n  \"failure\"\n]")
        #expect(try ExprFixtures.eval("fromJSON(toJSON(github.event.commits.*.message))[1]") == "two")
    }

    @Test("unknown named values fail at evaluation with the name and offset")
    func unknownContext() {
        let error = ExprFixtures.evalError("1 == 1 && foo.bar")
        #expect(error?.message == "unrecognized named-value: 'foo'")
        #expect(error?.offset == 10)
        #expect(ExprFixtures.evalError("gihtub.ref")?.hint == "did you mean 'github'?")
    }
}
