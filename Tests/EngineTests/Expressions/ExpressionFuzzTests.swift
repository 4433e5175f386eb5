import Testing
import TestSupport
@testable import NixActionsEngine

/// The fuzzers' generator (TestSupport's SplitMix64).
typealias ExprSplitMix64 = SplitMix64

@Suite("Expression fuzzing")
struct ExpressionFuzzTests {
    static let vocabulary = [
        "github", "env", "matrix", "needs", "steps", "nums", "inputs", "x", "event", "commits", "name",
        ".", ".", "[", "]", "(", ")", ",", "*", "!", "==", "!=", "<", "<=", ">", ">=", "&&", "||",
        "'a'", "'it''s'", "'{0}'", "'{'", "'}}'", "'[1,{\"a\":2}]'", "''", "1", "-2.5", "0xff", "1e3", ".5", "+3",
        "null", "true", "false", "NaN", "Infinity",
        "contains", "startsWith", "endsWith", "format", "join", "toJSON", "fromJSON", "hashFiles", "case",
        "success", "failure", "always", "cancelled", "formt",
        "'", "\"", "=", "&", "|", "é", "😀", "${{", "}}", "$", "{", "}", "-", "\t", "\n",
    ]

    static let seeds = [
        "github.event.commits[1].message == 'two'",
        "contains(github.event.labels.*.name, 'ci') && !cancelled()",
        "format('{0}-{1}', matrix.os, fromJSON('[1,2]')[0]) || 'x'",
        "join(needs.*.result, ', ') != '' && (1 < 2 || null >= false)",
        "startsWith(github.ref, 'refs/tags/') && endsWith(env.NAME, 'd')",
        "toJSON(fromJSON(env.JSON).a) == '[1]' || case(true, 1, 2)",
        "hashFiles('**/*.lock') && success() || failure() || always()",
        "(github['event']).number > 41.5 && nums[0] <= 0xff",
    ]

    static let alphabet: [Character] = Array("abcxyz019._-[](),*!=<>&|' \"{}$\n\té😀\u{0}") + ["\u{301}"]

    static func randomTokens(_ rng: inout ExprSplitMix64) -> String {
        let count = Int.random(in: 1...16, using: &rng)
        let separator = Bool.random(using: &rng) ? " " : ""
        return (0..<count).map { _ in vocabulary.randomElement(using: &rng) ?? "" }.joined(separator: separator)
    }

    static func mutate(_ rng: inout ExprSplitMix64) -> String {
        var characters = Array(seeds.randomElement(using: &rng) ?? "")
        for _ in 0..<Int.random(in: 1...3, using: &rng) where !characters.isEmpty {
            let position = Int.random(in: 0..<characters.count, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: characters.remove(at: position)
            case 1: characters.insert(alphabet.randomElement(using: &rng) ?? "a", at: position)
            case 2: characters[position] = alphabet.randomElement(using: &rng) ?? "a"
            case 3:
                let end = min(characters.count, position + Int.random(in: 1...8, using: &rng))
                characters.insert(contentsOf: characters[position..<end], at: position)
            default: characters.removeSubrange(position...)
            }
        }
        return String(characters)
    }

    /// Checks that a failure is a well-formed ExpressionError for `source`.
    static func check(_ error: ExpressionError, _ source: String) -> Bool {
        !error.message.isEmpty && error.source == source && (0...source.utf8.count).contains(error.offset)
    }

    @Test("20,000 random token sequences and mutations never crash; every failure is a well-formed ExpressionError")
    func fuzz() async throws {
        // Seconds of CPU: off Swift's cooperative threads, which other suites need meanwhile.
        let (tried, parsed, evaluated, malformed) = try await offThePool { Self.fuzzRound() }
        #expect(tried == 20_000)
        #expect(malformed.isEmpty, "malformed errors for: \(malformed.prefix(5))")
        // The generators must also produce valid input, or the fuzzing proves little.
        #expect(parsed > 1_000)
        #expect(evaluated > 500)
    }

    /// The fuzzing of `fuzz()`: how many sources were tried, parsed and evaluated, and the
    /// sources whose error was malformed.
    static func fuzzRound() -> (tried: Int, parsed: Int, evaluated: Int, malformed: [String]) {
        var rng = ExprSplitMix64(seed: 0x5EED_CAFE_F00D_0001)
        let context = ExprFixtures.context()
        var tried = 0
        var parsed = 0
        var evaluated = 0
        var malformed: [String] = []
        for iteration in 0..<20_000 {
            let source = iteration.isMultiple(of: 2) ? Self.randomTokens(&rng) : Self.mutate(&rng)
            tried += 1
            do {
                let expression = try Expression.parse(source)
                parsed += 1
                _ = expression.references
                _ = expression.statusFunctions
                do {
                    let value = try expression.evaluate(context)
                    _ = value.displayString
                    _ = value.toJSON(pretty: true)
                    evaluated += 1
                } catch {
                    if !Self.check(error, source) { malformed.append(source) }
                }
            } catch {
                if !Self.check(error, source) { malformed.append(source) }
            }
            let text = "run: ${{ " + source + " }} and ${{ env.NAME }}"
            do {
                _ = try Template.parse(text).render(context)
            } catch {
                if !Self.check(error, text) { malformed.append(text) }
            }
            do {
                _ = try Expression.parseCondition(source).evaluate(context)
            } catch {
                if !(0...source.utf8.count).contains(error.offset) { malformed.append(source) }
            }
        }
        return (tried, parsed, evaluated, malformed)
    }

    static func randomValue(_ rng: inout ExprSplitMix64, depth: Int) -> ExpressionValue {
        let kind = Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &rng)
        switch kind {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2:
            let choices: [Double] = [0, 1, -1, 0.5, 1e-7, 123_456.789, 9_007_199_254_740_992, 1e300]
            return .number(choices.randomElement(using: &rng) ?? 0)
        case 3:
            let pieces = ["a", "\"", "\\", "\n", "é", "😀", "\u{1}", "{0}", "'", " "]
            return .string((0..<Int.random(in: 0...4, using: &rng)).map { _ in pieces.randomElement(using: &rng) ?? "" }.joined())
        case 4:
            return .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var members: [String: ExpressionValue] = [:]
            for index in 0..<Int.random(in: 0...3, using: &rng) { members["k\(index)"] = randomValue(&rng, depth: depth + 1) }
            return .sortedObject(members)
        }
    }

    @Test("2,000 random values survive a JSON round trip, pretty and compact")
    func jsonRoundTrip() throws {
        var rng = ExprSplitMix64(seed: 42)
        var tried = 0
        for _ in 0..<2_000 {
            let value = Self.randomValue(&rng, depth: 0)
            #expect(try ExpressionValue.fromJSON(value.toJSON(pretty: true)) == value)
            #expect(try ExpressionValue.fromJSON(value.toJSON(pretty: false)) == value)
            tried += 1
        }
        #expect(tried == 2_000)
    }

    @Test("SplitMix64 produces the reference sequence")
    func splitMix() {
        var rng = ExprSplitMix64(seed: 1234567)
        #expect(rng.next() == 6_457_827_717_110_365_317)
        #expect(rng.next() == 3_203_168_211_198_807_973)
    }
}
