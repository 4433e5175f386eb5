import Foundation
import NixActionsPluginMessages
import Testing

/// The fast message JSON must be interchangeable with Foundation's: a plugin may use either.
@Suite("Message JSON: the fast coder and Foundation's read each other")
struct MessageJSONTests {
    static let awkward = [
        "", "plain", "quote \" backslash \\ slash /", "tab\tnew\nline\r\u{0}\u{1}\u{1F}\u{7F}", "é中😀\u{301}",
        "\u{2028}\u{2029}", String(repeating: "x", count: 70_000),
    ]

    func randomText(_ generator: inout some RandomNumberGenerator) -> String {
        let pieces = Self.awkward.filter { $0.count < 100 }
        return (0..<Int.random(in: 0...4, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
    }

    func randomStep(_ generator: inout some RandomNumberGenerator) -> StepSpec {
        var environment: [String: String] = [:]
        for index in 0..<Int.random(in: 0...20, using: &generator) { environment["V\(index)" + randomText(&generator)] = randomText(&generator) }
        var step = StepSpec(
            jobKey: randomText(&generator), index: Int.random(in: 0...1_000_000, using: &generator), displayName: randomText(&generator),
            script: Self.awkward.randomElement(using: &generator)!, shell: ["bash", randomText(&generator), "{0}"],
            environment: environment, workingDirectory: Bool.random(using: &generator) ? randomText(&generator) : nil,
            captureFiles: ["GITHUB_OUTPUT", randomText(&generator)], pathPrepend: [randomText(&generator)])
        if Bool.random(using: &generator) { step.captureAliases = ["JOB_ENV": randomText(&generator)] }
        return step
    }

    @Test("2,000 random messages: fast → Foundation and Foundation → fast give the same values")
    func roundTrips() async throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            // Seconds of CPU in a debug build: other suites' tasks get a turn between messages.
            await Task.yield()
            let step = randomStep(&generator)
            let fast = try MessageCoding.encode(step)
            #expect(try JSONDecoder().decode(StepSpec.self, from: Data(fast)) == step)
            #expect(try MessageCoding.decode(StepSpec.self, from: Array(JSONEncoder().encode(step))) == step)
            #expect(try MessageCoding.decode(StepSpec.self, from: fast) == step)

            var job = JobSpec(jobKey: randomText(&generator), displayName: randomText(&generator),
                              copyProject: Bool.random(using: &generator), copyExcludes: [randomText(&generator)])
            if Bool.random(using: &generator) { job.copySkipPaths = [randomText(&generator)] }
            #expect(try JSONDecoder().decode(JobSpec.self, from: Data(MessageCoding.encode(job))) == job)
            #expect(try MessageCoding.decode(JobSpec.self, from: Array(JSONEncoder().encode(job))) == job)

            var result = StepResult(exitCode: Bool.random(using: &generator) ? Int32.random(in: -1...255, using: &generator) : nil,
                                    signal: Bool.random(using: &generator) ? 9 : nil, files: ["GITHUB_OUTPUT": randomText(&generator)],
                                    cancelled: Bool.random(using: &generator) ? true : nil)
            result.outputLeftOpen = Bool.random(using: &generator) ? true : nil
            #expect(try JSONDecoder().decode(StepResult.self, from: Data(MessageCoding.encode(result))) == result)
            #expect(try MessageCoding.decode(StepResult.self, from: Array(JSONEncoder().encode(result))) == result)

            let failure = OperationFailure(message: randomText(&generator), hint: Bool.random(using: &generator) ? randomText(&generator) : nil)
            #expect(try MessageCoding.decode(OperationFailure.self, from: Array(JSONEncoder().encode(failure))) == failure)
        }
    }

    @Test("escapes other encoders write are read: \\/, \\u with surrogate pairs, whitespace, unknown members")
    func foreignJSON() throws {
        let text = #"""
             { "exitCode" : 3 , "files" : { "A" : "\/x\u00e9\uD83D\uDE00\b\f" } , "future" : [1, {"x": null}, 2.5e3, true] }
            """#
        let result = try MessageCoding.decode(StepResult.self, from: Array(text.utf8))
        #expect(result.exitCode == 3 && result.signal == nil)
        #expect(result.files["A"] == "/xé😀\u{8}\u{C}")
    }

    @Test("malformed messages are errors, never crashes", arguments: [
        "", "{", #"{"exitCode":1}"#, #"{"files":{"a":1}}"#, #"{"files":{}}x"#, #"{"files":{"a":"\ud800"}}"#,
        #"{"files":{"a":"\x"}}"#, "{\"files\":{\"a\":\"\n\"}}", String(repeating: "[", count: 100_000),
        #"{"exitCode":1.5,"files":{}}"#, #"{"exitCode":99999999999,"files":{}}"#,
    ])
    func malformed(_ text: String) {
        #expect(throws: (any Error).self) { try MessageCoding.decode(StepResult.self, from: Array(text.utf8)) }
    }

    @Test("numbersAsText: a number is the text written, every digit; the grammar is still checked")
    func numbersAsText() throws {
        let text = #"{"id": 12345678901234567890, "ratio": 1.50, "list": [-0.0, 1e400, 2E-3]}"#
        #expect(try JSONValue.parse(Array(text.utf8), numbersAsText: true)
            == .object(["id": .string("12345678901234567890"), "ratio": .string("1.50"),
                        "list": .array([.string("-0.0"), .string("1e400"), .string("2E-3")])]))
        #expect(try JSONValue.parse(Array(text.utf8))["ratio"] == .number(1.5), "messages keep doubles")
        for bad in ["01", "1.", "-", "1e", "+1", ".5", "0x10"] {
            #expect(throws: (any Error).self, "\(bad)") { try JSONValue.parse(Array("[\(bad)]".utf8), numbersAsText: true) }
        }
    }

    @Test("invalid UTF-8 inside a string is refused")
    func invalidUTF8() {
        let bytes: [UInt8] = Array(#"{"files":{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}}"#.utf8)
        #expect(throws: (any Error).self) { try MessageCoding.decode(StepResult.self, from: bytes) }
    }
}
