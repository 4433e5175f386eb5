import Foundation
@testable import NixActionsEngine
import Synchronization
import Testing
import TestSupport

@Suite("Redactor: one masking point in front of every sink")
struct RedactorTests {
    @Test("exact values, each line of a multi-line secret, and too-short values")
    func basics() {
        let redactor = Redactor()
        #expect(redactor.add("sk_live_123abc456def"))
        #expect(redactor.redact("key: sk_live_123abc456def!") == "key: ***!")
        #expect(redactor.add("line-one-secret\nline-two-secret"))
        #expect(redactor.redact("a line-two-secret b") == "a *** b")
        #expect(!redactor.add("ab"))
        #expect(redactor.redact("ab cd") == "ab cd")
        // White space around a one-line value: masked as written and trimmed, as GitHub's runner
        // does (audit 55 F6), so the spaces go with it where they are there.
        #expect(redactor.add(" spaced-value\t"))
        #expect(redactor.redact("x spaced-value\ty") == "x***y")
        #expect(redactor.redact("x spaced-value y") == "x *** y")
        // With a control character: also as the host writes it out in names and paths (`\x1B`),
        // where it was shown whole (audit 55b F1).
        let control = "tok\u{1B}en-Abc123XYZ"
        #expect(redactor.add(control))
        #expect(redactor.redact("uploaded artifact 'build-" + DisplayText.escaped(control) + "'") == "uploaded artifact 'build-***'")
        #expect(redactor.redact("raw " + control + " end") == "raw *** end")
        // As Swift writes a string in a description (`String(describing:)` of an error holding a
        // list of header values, audit 56 H2): `\u{01}`, `\'`, `\0`, computed by Swift itself here.
        for secret in ["TokA-\u{01}-TokB-secretpart", "it's-a-Secret-Value", "nul\u{0}-and-\u{7F}-DEL-value", "crlf-token-value\r"] {
            let swift = Redactor()
            #expect(swift.add(secret))
            let described = String(describing: [secret])
            #expect(swift.redact("error: invalid(" + described + ")") == "error: invalid([\"***\"])", "\(described)")
        }
    }

    @Test("a multi-line secret is also masked whole in its base64 and JSON forms, lines under 4 bytes included")
    func multiLineWhole() {
        let secret = "-----BEGIN KEY-----\nMIIEab\ncd\n-----END KEY-----\n"
        let redactor = Redactor()
        redactor.add(secret)
        let base64 = Data(secret.utf8).base64EncodedString()
        #expect(redactor.redact("data: " + base64 + " end") == "data: *** end", "\(redactor.redact(base64))")
        let json = String(decoding: try! JSONSerialization.data(withJSONObject: [secret]), as: UTF8.self)
        #expect(redactor.redact(json) == "[\"***\"]", "\(redactor.redact(json))")
        // Plain, line by line (GitHub's rule): a line under 4 bytes shows.
        #expect(redactor.redact(secret) == "***\n***\ncd\n***\n", "\(redactor.redact(secret))")
    }

    @Test("a secret whose lines are broken by U+2028, U+0085, VT or FF is masked whole on one output line, its short lines too, in a stream cut anywhere; broken by CR or LF, each line of 4 bytes or more is masked and a shorter one shows (audit 68 secrets)")
    func multiLineShortLines() {
        for secret in ["uni\u{2028}sepe-MM", "ab\u{85}cdefgh-NN", "xy\u{0B}cdefgh-OO", "  pin\u{0C}1234-abcd\u{2029}Q==  "] {
            let redactor = Redactor()
            redactor.add(secret)
            let printed = "J=[" + secret.trimmingCharacters(in: .whitespacesAndNewlines) + "]"
            #expect(redactor.redact(printed) == "J=[***]", "\(secret.debugDescription): \(redactor.redact(printed).debugDescription)")
            // Through the stream, cut at every byte.
            let bytes = Array(printed.utf8)
            for cut in 1..<bytes.count {
                var out: [UInt8] = []
                let stream = redactor.makeStream { out.append(contentsOf: $0) }
                bytes[..<cut].withUnsafeBytes { stream.write($0) }
                bytes[cut...].withUnsafeBytes { stream.write($0) }
                stream.finish()
                #expect(String(decoding: out, as: UTF8.self) == "J=[***]", "\(secret.debugDescription) cut at \(cut): \(String(decoding: out, as: UTF8.self).debugDescription)")
            }
        }
        // CR or LF: line by line (the documented limit: patterns hold no line break).
        for (secret, masked) in [("ab\ncdefgh-NN", "J=[ab\n***]"), ("xy\rcdefgh-PP", "J=[xy\r***]")] {
            let redactor = Redactor()
            redactor.add(secret)
            #expect(redactor.redact("J=[" + secret + "]") == masked, "\(redactor.redact("J=[" + secret + "]").debugDescription)")
        }
    }

    @Test("base64 in every alignment, URL- and JSON-escaped forms are masked")
    func encodings() {
        let secret = "p@ss word/with+chars\"q"
        let redactor = Redactor()
        redactor.add(secret)
        for prefix in ["", "x", "xy"] {
            let encoded = Data((prefix + secret + "tail").utf8).base64EncodedString()
            #expect(!redactor.redact(encoded).contains(String(Data(secret.utf8).base64EncodedString().dropLast(4))),
                    "base64 with prefix '\(prefix)' leaked: \(redactor.redact(encoded))")
            #expect(redactor.redact(encoded).contains("***"))
        }
        let url = secret.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"))!
        #expect(redactor.redact("https://x/?p=\(url)").contains("***"))
        let json = String(data: try! JSONEncoder().encode(["k": secret]), encoding: .utf8)!
        #expect(!redactor.redact(json).contains("word"))
    }

    @Test("a shell's quoting of a value: set -x and jq @sh ('\\''), printf %q (a backslash before each special character) (audit 53)")
    func shellQuoted() {
        let redactor = Redactor()
        redactor.add("p@ss word&x'y")
        #expect(redactor.redact("+ curl -u 'p@ss word&x'\\''y' https://x") == "+ curl -u '***' https://x")
        #expect(redactor.redact("p@ss\\ word\\&x\\'y") == "***")
        redactor.add("tok(1)|2")
        #expect(redactor.redact("arg=tok\\(1\\)\\|2;") == "arg=***;")
        // Python's shlex.quote, and bash's %q escaping `~` after `=` (review 53).
        #expect(redactor.redact("'p@ss word&x'\"'\"'y'") == "'***'")
        redactor.add("ab=~cdef")
        #expect(redactor.redact("ab=\\~cdef") == "***")
    }

    @Test("bash's declare -p / export -p / typeset -p (a backslash before $ ` \" \\) and Python's repr of a value with both quotes, as the real programs print them (audit 63 secrets M4, L1)",
          arguments: ["Pa$$w0rd!2024", "pa$s`w\"o\\rd x'9!", "C:\\Users\\deploy\"key", "p@ss w/rd+\"quote'&<x>\u{E9}", "tab\there'\"x",
                     "esc\u{1B}secret-value-123", "vt\u{0B}secret\u{7F}del"])
    func declareAndRepr(_ secret: String) async throws {
        let redactor = Redactor()
        redactor.add(secret)
        func output(_ executable: String, _ arguments: [String]) async throws -> String {
            try await runCommand(URL(fileURLWithPath: executable), arguments, environment: ["MYSEC": secret, "LC_ALL": "C.UTF-8"]).stdout
        }
        let bash = try await output("/bin/bash", ["-c", "declare -p MYSEC; export -p | grep MYSEC; typeset -p MYSEC"])
        #expect(bash.split(separator: "\n").count == 3, "\(bash)")
        let maskedBash = redactor.redact(bash)
        // (A value with a control character is printed in $'…': `\E`, `\v`, `\177`; review 63 L1.)
        #expect(!maskedBash.contains(secret) && maskedBash.components(separatedBy: "***").count == 4, "\(maskedBash)")
        let python = try await output("/usr/bin/python3", ["-c", "import os; s = os.environ['MYSEC']; print({'k': s}); print([s]); print(repr(s))"])
        let maskedPython = redactor.redact(python)
        #expect(maskedPython.components(separatedBy: "***").count == 4, "\(python) -> \(maskedPython)")
    }

    @Test("base64 wrapped as PEM (64 columns) and as base64(1) (76 columns) is masked on every line")
    func wrappedBase64() {
        let secret = "-----pem-like-secret-" + String(repeating: "0123456789", count: 12)
        let redactor = Redactor()
        redactor.add(secret)
        for (width, options) in [(64, Data.Base64EncodingOptions.lineLength64Characters), (76, .lineLength76Characters)] {
            let encoded = Data(("prefix " + secret).utf8).base64EncodedString(options: [options, .endLineWithLineFeed])
            let redacted = redactor.redact(encoded)
            let lines = encoded.split(separator: "\n")
            #expect(lines.count >= 2, "\(width)")
            // Every full line of the encoding lies inside the secret's part: none survives.
            for line in lines.dropFirst().dropLast() { #expect(!redacted.contains(line), "\(width): \(line) leaked") }
            #expect(redacted.contains("***"), "\(width)")
        }
    }

    @Test("secrets added mid-run apply to everything after, and every event kind is redacted")
    func reporterRedactsEverything() {
        final class Collect: RunReporter {
            let events = Mutex<[RunEvent]>([])
            func report(_ event: RunEvent) { events.withLock { $0.append(event) } }
        }
        let redactor = Redactor()
        let collect = Collect()
        let reporter = RedactingReporter(redactor: redactor, wrapping: collect)
        reporter.report(.output(job: "j", step: 0, stream: 1, line: "token=abc123xyz"))
        redactor.add("abc123xyz")
        reporter.report(.output(job: "j", step: 0, stream: 1, line: "token=abc123xyz"))
        reporter.report(.message(job: "j", level: .error, text: "failed with abc123xyz"))
        reporter.report(.jobFinished(job: "j", name: "j", outcome: .failure, duration: .zero,
                                     failure: JobFailure(stepName: "use abc123xyz", message: "abc123xyz leaked")))
        reporter.report(.annotation(Annotation(kind: .error, job: "j", step: 0, message: "x abc123xyz", file: nil, line: nil, title: nil)))
        // Output names too (a step can name one after a secret), each masked name kept apart.
        let outputs = ["abc123xyz": "1", "k-abc123xyz": "2", "plain": "abc123xyz", "***": "taken"]
        reporter.report(.stepFinished(job: "j", step: 0, name: "s", outcome: .success, exitCode: 0, duration: .zero, id: "s",
                                      conclusion: nil, outputs: outputs))
        reporter.report(.jobFinished(job: "j", name: "j", outcome: .success, duration: .zero, failure: nil, outputs: outputs))
        let events = collect.events.withLock { $0 }
        let texts = events.map { "\($0)" }
        #expect(texts[0].contains("token=abc123xyz"))  // before it was registered
        for text in texts.dropFirst() { #expect(!text.contains("abc123xyz"), "\(text)") }
        for event in events {
            guard case .stepFinished(_, _, _, _, _, _, _, _, let shown, _, _, _) = event else { continue }
            #expect(shown == ["***": "taken", "***-2": "1", "k-***": "2", "plain": "***"], "\(shown)")
        }
    }

    @Test("a key cut inside a secret is masked from the secret's start also when a suffix follows the cut (uniqueKey's -2, fileKey's hash)")
    func cutKeysWithSuffixes() {
        let long = "ghpXk29LmQw7Rt5Yu1Io3Pa8Sd6Fg4Hj0KlZx2Cv"
        let form = Array(long.lowercased())
        let windows = (0...(form.count - 4)).map { String(form[$0..<($0 + 4)]) }
        let redactor = Redactor()
        redactor.add(long)
        let reporter = RedactingReporter(redactor: redactor, wrapping: Collect())
        let cut = Planner.safeKey("l-v-" + String(repeating: "a", count: 103) + long)  // 120 characters, 13 of the secret
        let called = Planner.fileKey("c-" + Planner.safeKey("l-v-" + String(repeating: "a", count: 80) + long))  // 100 and a hash
        #expect(cut.count == 120 && called.count == 117)
        for key in [cut, cut + "-2", called, called + "-3", "short-key", "plain-" + String(repeating: "b", count: 120)] {
            let shown = reporter.key(key)
            for window in windows { #expect(!shown.contains(window), "\(key) shown as \(shown)") }
            if key.contains("ghpx") { #expect(shown.contains("***"), "\(shown)") } else { #expect(shown == key) }
        }
        #expect(reporter.key(cut + "-2").hasSuffix("***-2") && reporter.key(called).hasSuffix(String(called.suffix(17))))
    }

    final class Collect: RunReporter {
        func report(_ event: RunEvent) {}
    }
}
