// Shared by the property test (EngineTests) and the fuzz target (Tests/Fuzz/RedactorFuzz): a
// simple reference redactor, a random case generator and the checker. No imports of the engine
// here beyond what the test target needs, so that the fuzz script can compile this file together
// with Sources/Host/Engine/Redaction.
#if canImport(NixActionsEngine)
@testable import NixActionsEngine
#endif

/// Where random choices come from: a PRNG in tests, the fuzzer's bytes in the fuzz target.
protocol RedactionCaseSource {
    /// A value in `0..<bound` (`bound > 0`).
    mutating func next(_ bound: Int) -> Int
}

struct RedactionCase: CustomStringConvertible {
    var secrets: [String]
    var text: [UInt8]
    var chunks: [Int]
    var description: String {
        "secrets: \(secrets.map { Array($0.utf8) }) \(secrets.debugDescription)\ntext: \(text)\n\(String(decoding: text, as: UTF8.self).debugDescription)\nchunks: \(chunks)"
    }
}

enum RedactionReference {
    /// Every occurrence of every pattern, as the union of their intervals (touching ones merged).
    /// Exact patterns match their bytes; wrapped ones also with runs of up to two CR/LF bytes
    /// between consecutive bytes.
    static func intervals(_ input: [UInt8], patterns: [RedactionPattern]) -> [Range<Int>] {
        var found: [Range<Int>] = []
        // The input without CR/LF, and where each remaining byte was.
        var stripped: [UInt8] = [], origin: [Int] = []
        for (k, b) in input.enumerated() where b != 10 && b != 13 {
            stripped.append(b)
            origin.append(k)
        }
        for pattern in patterns {
            let p = pattern.bytes
            guard p.count > 0 else { continue }
            if pattern.wrapped {
                guard stripped.count >= p.count else { continue }
                for i in 0...(stripped.count - p.count) where stripped[i] == p[0] {
                    var ok = true
                    for j in 1..<p.count where stripped[i + j] != p[j] || origin[i + j] - origin[i + j - 1] > 3 {
                        ok = false
                        break
                    }
                    if ok { found.append(origin[i]..<(origin[i + p.count - 1] + 1)) }
                }
            } else {
                guard input.count >= p.count else { continue }
                for i in 0...(input.count - p.count) where input[i] == p[0] {
                    var ok = true
                    for j in 1..<p.count where input[i + j] != p[j] {
                        ok = false
                        break
                    }
                    if ok { found.append(i..<(i + p.count)) }
                }
            }
        }
        found.sort { $0.lowerBound < $1.lowerBound }
        var merged: [Range<Int>] = []
        for interval in found {
            if let last = merged.last, interval.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, interval.upperBound)
            } else {
                merged.append(interval)
            }
        }
        return merged
    }

    /// The redacted input, and for each output byte whether it was produced by a mask.
    static func redact(_ input: [UInt8], patterns: [RedactionPattern]) -> (output: [UInt8], masked: [Bool]) {
        var output: [UInt8] = [], masked: [Bool] = []
        var at = 0
        for interval in intervals(input, patterns: patterns) {
            for k in at..<interval.lowerBound {
                output.append(input[k])
                masked.append(false)
            }
            var inRun = false
            for k in interval {
                if input[k] == 10 || input[k] == 13 {
                    output.append(input[k])
                    masked.append(true)
                    inRun = false
                } else if !inRun {
                    output += [42, 42, 42]
                    masked += [true, true, true]
                    inRun = true
                }
            }
            at = interval.upperBound
        }
        for k in at..<input.count {
            output.append(input[k])
            masked.append(false)
        }
        return (output, masked)
    }

    /// Every pattern of every secret, computed by the forms code (the specification of what is masked).
    static func patterns(of secrets: [String]) -> [RedactionPattern] {
        secrets.flatMap { RedactionForms.patterns(for: $0) ?? [] }
    }

    // MARK: Random cases

    static let pieces: [String] = [
        "a", "b", "c", "a", "b", "c", "x", "Q", "0", "9", ".", "*", "+", "?", "(", ")", "[", "]", "{", "}", "|", "^",
        "$", "\\", "\"", "/", "%", " ", "\t", "é", "中", "😀", "\u{301}", "=", "-", "_", "~", "&", "\u{1}",
    ]

    static func randomString<S: RedactionCaseSource>(_ source: inout S, length: Int, small: Bool) -> String {
        var s = ""
        for _ in 0..<length { s += pieces[source.next(small ? 6 : pieces.count)] }
        return s
    }

    /// `secretLength`: how many pieces a secret is made of before the variations below (the
    /// default, 3 to 8, makes most shortest patterns too short for the shift table to skip by).
    static func makeCase<S: RedactionCaseSource>(_ source: inout S, secretLength: ClosedRange<Int> = 3...8) -> RedactionCase {
        var secrets: [String] = []
        let count = 1 + source.next(source.next(4) == 0 ? 4 : 2)
        for _ in 0..<count {
            let small = source.next(2) == 0
            var secret = randomString(&source, length: secretLength.lowerBound + source.next(secretLength.count), small: small)
            switch source.next(8) {
            case 0 where !secrets.isEmpty:  // a prefix of another
                let other = secrets[source.next(secrets.count)]
                secret = String(other.prefix(3 + source.next(max(1, other.count - 2))))
            case 1 where !secrets.isEmpty:  // overlaps another
                secret = String(secrets[source.next(secrets.count)].suffix(2)) + secret
            case 2:  // multi-line
                secret += [" \n ", "\n", "\r\n"][source.next(3)] + randomString(&source, length: 2 + source.next(5), small: small)
            default: break
            }
            secrets.append(secret)
        }
        let patterns = self.patterns(of: secrets)
        var text: [UInt8] = []
        for _ in 0..<(1 + source.next(7)) {
            switch source.next(8) {
            case 0, 1: text += Array(randomString(&source, length: 1 + source.next(8), small: source.next(2) == 0).utf8)
            case 2: text += source.next(2) == 0 ? [10] : [13, 10]
            case 3: text += Array(secrets[source.next(secrets.count)].utf8)
            case 4, 5, 6:  // a form, maybe cut, maybe wrapped
                guard !patterns.isEmpty else { break }
                let pattern = patterns[source.next(patterns.count)]
                var bytes = pattern.bytes
                if source.next(4) == 0 { bytes = Array(bytes.prefix(1 + source.next(bytes.count))) }
                if pattern.wrapped && source.next(2) == 0 {
                    var wrapped: [UInt8] = []
                    for (k, b) in bytes.enumerated() {
                        if k > 0 && source.next(4) == 0 { wrapped += [[10], [13, 10], [10, 10], [10, 10, 10]][source.next(4)] }
                        wrapped.append(b)
                    }
                    bytes = wrapped
                }
                text += bytes
            default: text += Array(pieces[source.next(pieces.count)].utf8)
            }
        }
        var chunks: [Int] = []
        var left = text.count
        let big = source.next(3) == 0
        while left > 0 {
            let size = min(left, 1 + source.next(big ? 64 : 5))
            chunks.append(size)
            left -= size
        }
        return RedactionCase(secrets: secrets, text: text, chunks: chunks)
    }

    // MARK: Checking

    /// Runs the case through a stream (and `redact` for the whole text); nil when it matches the
    /// reference and nothing leaks, else what went wrong.
    static func check(_ c: RedactionCase) -> String? {
        let redactor = Redactor()
        for secret in c.secrets { redactor.add(secret) }
        return check(c, redactor: redactor, patterns: patterns(of: c.secrets))
    }

    static func check(_ c: RedactionCase, redactor: Redactor, patterns: [RedactionPattern]) -> String? {
        let expected = redact(c.text, patterns: patterns)
        // No leak: no form of a secret survives in the output outside what the masks produced.
        for interval in intervals(expected.output, patterns: patterns) where !interval.contains(where: { expected.masked[$0] }) {
            return "reference leaks \(Array(expected.output[interval]))"
        }
        var output: [UInt8] = []
        let stream = redactor.makeStream { output.append(contentsOf: $0) }
        var at = 0
        c.text.withUnsafeBytes { bytes in
            for (index, size) in c.chunks.enumerated() {
                stream.write(UnsafeRawBufferPointer(rebasing: bytes[at..<(at + size)]))
                at += size
                // An idle timeout after about a third of the chunks (a pause in the middle of a
                // secret, say): it may release masked bytes early, never a byte of a secret, so
                // the output stays the reference's.
                if (index &* 2_654_435_761 &+ c.text.count) % 3 == 0 { stream.flushIdle() }
            }
        }
        stream.finish()
        if output != expected.output {
            return "stream output differs:\n  got      \(output)\n  expected \(expected.output)\n  got      \(String(decoding: output, as: UTF8.self).debugDescription)\n  expected \(String(decoding: expected.output, as: UTF8.self).debugDescription)"
        }
        if let text = String(validating: c.text, as: UTF8.self) {
            let redacted = redactor.redact(text)
            if Array(redacted.utf8) != expected.output {
                return "redact(String) differs: got \(redacted.debugDescription)"
            }
        }
        return nil
    }
}
