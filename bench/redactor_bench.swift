// Micro-benchmark of the streaming redactor: MB/s on generated log text with 0, 10, 100 and
// 1,000 random secrets (8-40 bytes); then bench.py's output line with secrets of 16-32 characters.
// Build and run with bench/redactor-bench.sh (release, -O).
import Foundation

struct Rng {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}

/// Typical CI log text: short ASCII lines of words, paths, numbers and timestamps.
func logText(bytes: Int, _ rng: inout Rng) -> [UInt8] {
    let words = ["Compiling", "module", "warning:", "error:", "note:", "Building", "for", "debugging", "the", "a",
                 "test", "passed", "failed", "after", "seconds", "Linking", "Downloading", "package", "from",
                 "https://github.com/apple/swift-nio", "/usr/src/app/Sources/Engine/Runner.swift:123:45:",
                 "unused", "variable", "'result'", "was", "never", "used;", "consider", "replacing", "with", "'_'",
                 "[INFO]", "[DEBUG]", "npm", "install", "added", "packages", "in", "ok", "Step", "Run", "make", "-j4",
                 "cc", "-O2", "-c", "src/main.c", "-o", "build/main.o", "PASS", "FAIL", "GET", "/api/v1/items", "200"]
    var out: [UInt8] = []
    out.reserveCapacity(bytes + 200)
    while out.count < bytes {
        out += Array("2024-05-01T12:\(10 + rng.next(50)):\(10 + rng.next(50)).\(100 + rng.next(900))Z ".utf8)
        for _ in 0..<(3 + rng.next(12)) {
            out += Array(words[rng.next(words.count)].utf8)
            out.append(rng.next(5) == 0 ? UInt8(ascii: "=") : UInt8(ascii: " "))
            if rng.next(6) == 0 { out += Array(String(rng.next(100_000)).utf8) + [32] }
        }
        out.append(10)
    }
    return out
}

@main
struct Bench {
    static func main() {
        var rng = Rng(state: 42)
        let size = 64 << 20
        let text = logText(bytes: size, &rng)
        let chunk = 64 << 10
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_.!@#$%^&*".utf8)
        // memcpy baseline
        var sink = [UInt8](repeating: 0, count: chunk)
        var best = Double.infinity
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            text.withUnsafeBytes { all in
                sink.withUnsafeMutableBytes { dst in
                    var at = 0
                    while at < all.count {
                        let n = min(chunk, all.count - at)
                        dst.baseAddress!.copyMemory(from: all.baseAddress! + at, byteCount: n)
                        at += n
                    }
                }
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start))
        }
        print(String(format: "memcpy (64 KiB chunks): %8.0f MB/s", Double(text.count) / best * 1e3))
        for count in [0, 10, 100, 1_000] {
            let redactor = Redactor()
            var secrets: [String] = []
            for _ in 0..<count {
                let length = 8 + rng.next(33)
                let secret = String(decoding: (0..<length).map { _ in alphabet[rng.next(alphabet.count)] }, as: UTF8.self)
                secrets.append(secret)
                redactor.add(secret)
            }
            let buildStart = DispatchTime.now().uptimeNanoseconds
            let automaton = redactor.current().automaton
            let buildTime = Double(DispatchTime.now().uptimeNanoseconds - buildStart) / 1e6
            // Sprinkle a few secrets (and base64 forms) into a copy of the text.
            var input = text
            for k in 0..<min(count, 200) {
                let at = rng.next(input.count - 200)
                let bytes = Array((k % 2 == 0 ? secrets[k] : Data(secrets[k].utf8).base64EncodedString()).utf8)
                input.replaceSubrange(at..<(at + bytes.count), with: bytes)
            }
            // The consumer copies what it gets (as a file writer would).
            var total = 0
            let stream = redactor.makeStream { bytes in
                sink.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
                total &+= bytes.count
            }
            let bestStream = bestTime(of: 3, streaming: input, to: stream, chunk: chunk)
            // redact(String) on lines, the line-by-line path.
            let lines = String(decoding: input.prefix(8 << 20), as: UTF8.self).split(separator: "\n").map(String.init)
            let lineBytes = lines.reduce(0) { $0 + $1.utf8.count + 1 }
            let lineStart = DispatchTime.now().uptimeNanoseconds
            var masked = 0
            for line in lines where redactor.redact(line).utf8.count != line.utf8.count { masked += 1 }
            let lineTime = Double(DispatchTime.now().uptimeNanoseconds - lineStart)
            print(String(format: "%5d secrets (%5d patterns, %6.1f MB tables, built in %6.1f ms): stream %7.0f MB/s   redact(line) %6.0f MB/s  (%d lines masked)",
                         count, automaton.patterns.count, Double(automaton.memoryFootprint) / 1e6, buildTime,
                         Double(input.count) / bestStream * 1e3, Double(lineBytes) / lineTime * 1e3, masked))
            _ = total
        }
        benchLine()
    }

    /// The best of `rounds` times (ns) to write `input` to `stream` in writes of `chunk` bytes and finish it.
    static func bestTime(of rounds: Int, streaming input: [UInt8], to stream: RedactionStream, chunk: Int) -> Double {
        var best = Double.infinity
        for _ in 0..<rounds {
            let start = DispatchTime.now().uptimeNanoseconds
            input.withUnsafeBytes { all in
                var at = 0
                while at < all.count {
                    let n = min(chunk, all.count - at)
                    stream.write(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)]))
                    at += n
                }
            }
            stream.finish()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start))
        }
        return best
    }

    /// bench.py's `secrets` and `secretfile` workload, the redactor alone: the output benchmark's
    /// 45-byte line repeated, secrets of 16 to 32 letters and digits (as `random_values` makes
    /// them). Reports adding the values, building the automaton and streaming (best of 5).
    static func benchLine() {
        var rng = Rng(state: 9)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        let line = Array("a typical log line of some length 0123456789\n".utf8)
        var text: [UInt8] = []
        text.reserveCapacity((64 << 20) + line.count)
        while text.count < 64 << 20 { text += line }
        let chunk = 64 << 10
        print("bench.py's line (45 bytes), secrets of 16-32 letters and digits, 64 KiB writes:")
        for count in [10, 100, 1_000] {
            let values = (0..<count).map { _ in
                String(decoding: (0..<(16 + rng.next(17))).map { _ in alphabet[rng.next(alphabet.count)] }, as: UTF8.self)
            }
            let redactor = Redactor()
            let addStart = DispatchTime.now().uptimeNanoseconds
            for value in values { redactor.add(value) }
            let buildStart = DispatchTime.now().uptimeNanoseconds
            let automaton = redactor.current().automaton
            let built = DispatchTime.now().uptimeNanoseconds
            var total = 0
            let stream = redactor.makeStream { total &+= $0.count }
            let best = bestTime(of: 5, streaming: text, to: stream, chunk: chunk)
            precondition(total == 5 * text.count, "the line must pass unmasked")
            print(String(format: "%5d secrets (%5d patterns, shortest %2d): added in %5.1f ms, built in %5.1f ms; stream %7.0f MB/s",
                         count, automaton.patterns.count, automaton.window, Double(buildStart - addStart) / 1e6,
                         Double(built - buildStart) / 1e6, Double(text.count) / best * 1e3))
        }
    }
}
