import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport

/// SplitMix64, seeded; a `RedactionCaseSource`.
struct RedactionRandom: RedactionCaseSource {
    var generator: SplitMix64
    init(state: UInt64) { generator = SplitMix64(seed: state) }
    mutating func next64() -> UInt64 { generator.next() }
    mutating func next(_ bound: Int) -> Int { Int(next64() % UInt64(bound)) }
}

@Suite("Redactor streams: property test against a reference implementation")
struct RedactionPropertyTests {
    /// Deterministic by default; `NIXACTIONS_REDACTOR_SEED=<n>` changes it.
    static let seed: UInt64 = ProcessInfo.processInfo.environment["NIXACTIONS_REDACTOR_SEED"].flatMap { UInt64($0) } ?? 0x5EC2E7

    @Test("100,000 random cases: no leak, output identical to the reference, any chunking")
    func randomCases() {
        var rng = RedactionRandom(state: Self.seed)
        var cases = 0
        // Each redactor (a set of secrets) serves several texts and chunkings.
        while cases < 100_000 {
            let first = RedactionReference.makeCase(&rng)
            let redactor = Redactor()
            for secret in first.secrets { redactor.add(secret) }
            let patterns = RedactionReference.patterns(of: first.secrets)
            for k in 0..<25 {
                let c = k == 0 ? first : Self.text(for: first.secrets, patterns: patterns, &rng)
                if let failure = RedactionReference.check(c, redactor: redactor, patterns: patterns) {
                    Issue.record("seed \(Self.seed), case \(cases): \(failure)\n\(c)")
                    return
                }
                cases += 1
            }
        }
        print("redactor property test: \(cases) cases, seed \(Self.seed)")
    }

    /// A case with the given secrets and a fresh text and chunking.
    static func text(for secrets: [String], patterns: [RedactionPattern], _ rng: inout RedactionRandom) -> RedactionCase {
        var text: [UInt8] = []
        // One text in 25 is long (and mostly plain), so that the four-at-a-time skip loop runs.
        let long = rng.next(25) == 0
        for _ in 0..<(long ? 8 + rng.next(8) : 1 + rng.next(5)) {
            switch rng.next(5) {
            case 0: text += Array(secrets[rng.next(secrets.count)].utf8)
            case 1, 2:
                guard !patterns.isEmpty else { break }
                let p = patterns[rng.next(patterns.count)]
                for (k, b) in p.bytes.enumerated() {
                    if k > 0 && p.wrapped && rng.next(5) == 0 { text += rng.next(2) == 0 ? [10] : [13, 10] }
                    text.append(b)
                }
            default: text += Array(RedactionReference.randomString(&rng, length: 1 + rng.next(long ? 20 : 6), small: !long && rng.next(2) == 0).utf8)
            }
        }
        var chunks: [Int] = [], left = text.count
        while left > 0 {
            let size = min(left, 1 + rng.next(long ? 300 : rng.next(2) == 0 ? 4 : 40))
            chunks.append(size)
            left -= size
        }
        return RedactionCase(secrets: secrets, text: text, chunks: chunks)
    }
}
