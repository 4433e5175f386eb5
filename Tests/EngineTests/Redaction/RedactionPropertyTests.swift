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

    // The two long loops below are minutes of CPU in a debug build on a loaded machine: they run
    // off Swift's cooperative threads (`offThePool`), which the other suites' tasks and timers
    // need meanwhile (two of them on two cores), and report what they found afterwards.

    @Test("100,000 random cases: no leak, output identical to the reference, any chunking")
    func randomCases() async throws {
        let seed = Self.seed
        let (cases, failure) = try await offThePool { () -> (Int, String?) in
            var rng = RedactionRandom(state: seed)
            var cases = 0
            // Each redactor (a set of secrets) serves several texts and chunkings.
            while cases < 100_000 {
                let first = RedactionReference.makeCase(&rng)
                // Every other redactor matches with two automatons: the secrets added after its
                // first build are in the small one (`Redactor.current()`).
                let split = cases % 50 == 25
                let redactor = split ? Redactor(smallBase: 0) : Redactor()
                for (index, secret) in first.secrets.enumerated() {
                    redactor.add(secret)
                    if split && index == first.secrets.count / 2 { _ = redactor.current() }
                }
                let patterns = RedactionReference.patterns(of: first.secrets)
                for k in 0..<25 {
                    let c = k == 0 ? first : Self.text(for: first.secrets, patterns: patterns, &rng)
                    if let failure = RedactionReference.check(c, redactor: redactor, patterns: patterns) {
                        return (cases, "seed \(seed), case \(cases): \(failure)\n\(c)")
                    }
                    cases += 1
                }
            }
            return (cases, nil)
        }
        if let failure { Issue.record(Comment(rawValue: failure)) } else { #expect(cases >= 100_000) }
        print("redactor property test: \(cases) cases, seed \(seed)")
    }

    @Test("20,000 random cases: values added between writes (that the text never holds) change nothing, the held-back end of a match included")
    func valuesAddedMidStream() async throws {
        let seed = Self.seed &+ 7
        let failure = try await offThePool { () -> String? in
            var rng = RedactionRandom(state: seed)
            func run(_ c: RedactionCase, adding: Bool, split: Bool, _ rng: inout RedactionRandom) -> [UInt8] {
                let redactor = split ? Redactor(smallBase: 0) : Redactor()
                for secret in c.secrets { redactor.add(secret) }
                var output: [UInt8] = []
                let stream = redactor.makeStream { output.append(contentsOf: $0) }
                var offset = 0
                for (index, size) in c.chunks.enumerated() {
                    c.text[offset..<(offset + size)].withUnsafeBytes { stream.write($0) }
                    offset += size
                    // A value the text does not hold (the text's bytes never include 0x01).
                    if adding && rng.next(2) == 0 { redactor.add("\u{1}extra-\(index)-\(rng.next(1_000_000))") }
                }
                stream.finish()
                return output
            }
            for number in 0..<20_000 {
                let first = RedactionReference.makeCase(&rng)
                let c = Self.text(for: first.secrets, patterns: RedactionReference.patterns(of: first.secrets), &rng)
                guard !c.text.contains(1) else { continue }
                let plain = run(c, adding: false, split: false, &rng)
                // Added values go to the small second automaton half of the time.
                let added = run(c, adding: true, split: number % 2 == 1, &rng)
                if plain != added {
                    return "case \(number): without additions \(String(decoding: plain, as: UTF8.self).debugDescription), "
                        + "with \(String(decoding: added, as: UTF8.self).debugDescription)\n\(c)"
                }
            }
            return nil
        }
        if let failure { Issue.record(Comment(rawValue: failure)) }
    }

    @Test("10,000 random cases: a value added after its beginning was shown (plainly, masked as a shorter value, flushed on idle) has the rest masked")
    func valueAddedAfterItsBeginning() async throws {
        let seed = Self.seed &+ 11
        let failure = try await offThePool { () -> String? in
            var rng = RedactionRandom(state: seed)
            let valueAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
            // No byte of the filler is in any form of a value (base64 has no punctuation but +/=).
            let filler = Array("-.,:; \n".utf8)
            func isValueByte(_ b: UInt8) -> Bool { valueAlphabet.contains(b) }
            for number in 0..<10_000 {
                // Distinct bytes: a prefix of the value occurs in it only at its start, and a byte
                // shown tells where it was.
                var letters = valueAlphabet
                for k in stride(from: letters.count - 1, to: 0, by: -1) { letters.swapAt(k, rng.next(k + 1)) }
                let value = Array(letters[..<(4 + rng.next(33))])
                let cut = rng.next(value.count)
                let redactor = number % 2 == 1 ? Redactor(smallBase: 0) : Redactor()
                // Registered from the start: nothing, a prefix of the value, or unrelated values.
                switch rng.next(3) {
                case 0: break
                case 1: redactor.add(String(decoding: value[..<(1 + rng.next(max(1, cut)))], as: UTF8.self))
                default:
                    for _ in 0..<(1 + rng.next(3)) {
                        // With a byte the text never holds.
                        redactor.add("q" + String(decoding: (0..<(3 + rng.next(10))).map { _ in valueAlphabet[rng.next(valueAlphabet.count)] }, as: UTF8.self))
                    }
                }
                func fill(_ n: Int) -> [UInt8] { (0..<n).map { _ in filler[rng.next(filler.count)] } }
                let before = fill(rng.next(300)) + value[..<cut]
                let after = Array(value[cut...]) + fill(rng.next(20)) + (rng.next(2) == 0 ? value : []) + fill(rng.next(20))
                var output: [UInt8] = []
                let stream = redactor.makeStream { output.append(contentsOf: $0) }
                // `flush()` (before an annotation) lets held bytes go by design: only before the value is added.
                func write(_ bytes: [UInt8], flushing: Bool) {
                    var offset = 0
                    while offset < bytes.count {
                        let size = min(bytes.count - offset, 1 + rng.next(rng.next(2) == 0 ? 8 : 200))
                        bytes[offset..<(offset + size)].withUnsafeBytes { stream.write($0) }
                        offset += size
                        switch rng.next(4) {
                        case 0: stream.flushIdle()
                        case 1: if flushing && rng.next(4) == 0 { stream.flush() }
                        default: break
                        }
                    }
                }
                write(before, flushing: true)
                if rng.next(2) == 0 { stream.flushIdle() }
                redactor.add(String(decoding: value, as: UTF8.self))
                write(after, flushing: false)
                stream.finish()
                let text = before + after
                let shown = output.filter(isValueByte)
                let fillerKept = output.filter { !isValueByte($0) && $0 != UInt8(ascii: "*") }
                if fillerKept != text.filter({ !isValueByte($0) }) || shown.count > cut || shown.contains(where: { value[cut...].contains($0) }) {
                    return "case \(number): value \(String(decoding: value, as: UTF8.self)), cut \(cut): "
                        + "\(String(decoding: text, as: UTF8.self).debugDescription) gave \(String(decoding: output, as: UTF8.self).debugDescription)"
                }
            }
            return nil
        }
        if let failure { Issue.record(Comment(rawValue: failure)) }
    }

    @Test("50,000 random cases with secrets of 12 to 40 pieces and long texts: the shift table's skips lose nothing")
    func randomCasesLongSecrets() async throws {
        let seed = Self.seed
        let (cases, skipping, failure) = try await offThePool { () -> (Int, Int, String?) in
            var rng = RedactionRandom(state: seed ^ 0x5_41F7)
            var cases = 0, skipping = 0
            while cases < 50_000 {
                let first = RedactionReference.makeCase(&rng, secretLength: 12...40)
                let redactor = Redactor()
                for secret in first.secrets { redactor.add(secret) }
                let patterns = RedactionReference.patterns(of: first.secrets)
                if (patterns.map(\.bytes.count).min() ?? 0) >= 11 { skipping += 1 }
                for k in 0..<10 {
                    let c = k == 0 ? first : Self.text(for: first.secrets, patterns: patterns, &rng, longOneIn: 2)
                    if let failure = RedactionReference.check(c, redactor: redactor, patterns: patterns) {
                        return (cases, skipping, "seed \(seed), long-secret case \(cases): \(failure)\n\(c)")
                    }
                    cases += 1
                }
            }
            return (cases, skipping, nil)
        }
        if let failure { Issue.record(Comment(rawValue: failure)) } else { #expect(cases >= 50_000) }
        // Most secret sets here have every pattern long enough for the shift table (11 bytes or more).
        #expect(skipping * 10 > cases / 2, "\(skipping) of \(cases / 10) secret sets used the shift table")
        print("redactor property test, long secrets: \(cases) cases, \(skipping) secret sets with the shift table, seed \(seed)")
    }

    @Test("secrets of 300 to 2,000 bytes (shifts capped at 255): masked in any chunking, plain text untouched")
    func veryLongSecrets() {
        var rng = RedactionRandom(state: Self.seed ^ 0x10_C6)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        for length in [300, 700, 2_000] {
            let secrets = (0..<3).map { _ in String(decoding: (0..<length).map { _ in alphabet[rng.next(alphabet.count)] }, as: UTF8.self) }
            let redactor = Redactor()
            for secret in secrets { redactor.add(secret) }
            let patterns = RedactionReference.patterns(of: secrets)
            for _ in 0..<20 {
                var text: [UInt8] = []
                for _ in 0..<(2 + rng.next(4)) {
                    text += Array(RedactionReference.randomString(&rng, length: rng.next(3000), small: false).utf8)
                    let form = patterns[rng.next(patterns.count)]
                    text += form.bytes
                }
                var chunks: [Int] = [], left = text.count
                while left > 0 {
                    let size = min(left, 1 + rng.next(rng.next(2) == 0 ? 64 : 5000))
                    chunks.append(size)
                    left -= size
                }
                let c = RedactionCase(secrets: secrets, text: text, chunks: chunks)
                if let failure = RedactionReference.check(c, redactor: redactor, patterns: patterns) {
                    Issue.record("secrets of \(length) bytes: \(failure)")
                    return
                }
            }
        }
    }

    /// A case with the given secrets and a fresh text and chunking.
    static func text(for secrets: [String], patterns: [RedactionPattern], _ rng: inout RedactionRandom, longOneIn: Int = 25) -> RedactionCase {
        var text: [UInt8] = []
        // One text in `longOneIn` is long (and mostly plain), so that the skip loops run.
        let long = rng.next(longOneIn) == 0
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
