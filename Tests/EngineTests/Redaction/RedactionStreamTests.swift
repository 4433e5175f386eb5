import Foundation
@testable import NixActionsEngine
import Testing

/// Collects what a stream emits, write by write.
final class StreamProbe {
    var output: [UInt8] = []
    var text: String { String(decoding: output, as: UTF8.self) }
    var stream: RedactionStream!
    init(_ redactor: Redactor) {
        stream = redactor.makeStream { [unowned self] in self.output.append(contentsOf: $0) }
    }
    func write(_ s: String) { Array(s.utf8).withUnsafeBytes { stream.write($0) } }
}

@Suite("Redactor streams: hold-back, flush, finish, secrets added mid-stream, forms")
struct RedactionStreamTests {
    @Test("held-back bytes are released as soon as the next byte cannot continue a match")
    func holdBack() {
        let redactor = Redactor()
        redactor.add("abyx")
        let probe = StreamProbe(redactor)
        probe.write("a")
        #expect(probe.text == "")
        probe.write("by")
        #expect(probe.text == "")
        probe.write("c")
        #expect(probe.text == "abyc")
        probe.write("zzaby")
        #expect(probe.text == "abyczz")
        probe.write("x!")
        #expect(probe.text == "abyczz***!")
        probe.stream.finish()
        #expect(probe.text == "abyczz***!")
    }

    @Test("an idle flush keeps what may begin a secret (a pause inside one) and lets masked bytes go")
    func idleFlush() {
        let redactor = Redactor()
        redactor.add("secret-value")
        redactor.add("pass")
        redactor.add("password-123")
        let probe = StreamProbe(redactor)
        probe.write("x secret-")
        #expect(probe.text == "x ")
        probe.stream.flushIdle()
        probe.stream.flushIdle()
        #expect(probe.text == "x ")
        probe.write("value y ")
        #expect(probe.text == "x *** y ")
        // "pass" is masked whole but "password-123" may still follow: the mask goes on idle.
        probe.write("pass")
        #expect(probe.text == "x *** y ")
        probe.stream.flushIdle()
        #expect(probe.text == "x *** y ***")
        probe.write("word-")
        probe.stream.flushIdle()
        #expect(probe.text == "x *** y ***")
        probe.write("123 z")
        probe.stream.finish()
        #expect(probe.text == "x *** y *** z")
        probe.write("secret-")
        probe.stream.flushIdle()
        probe.stream.finish()
        #expect(probe.text == "x *** y *** zsecret-", "the end of the stream lets the beginning of a value go: it never ended")
    }

    @Test("flush emits what is held and still masks the rest of a secret; finish emits and resets")
    func flushAndFinish() {
        let redactor = Redactor()
        redactor.add("secret-value")
        let probe = StreamProbe(redactor)
        probe.write("x secret-")
        #expect(probe.text == "x ")
        probe.stream.flush()
        #expect(probe.text == "x secret-")
        probe.write("value y")
        #expect(probe.text == "x secret-*** y")
        probe.write(" secr")
        probe.stream.finish()
        #expect(probe.text == "x secret-*** y secr")
        probe.write("et-value")  // after finish, a new stream: "et-value" alone is no secret
        probe.stream.finish()
        #expect(probe.text == "x secret-*** y secret-value")
    }

    @Test("values added mid-stream apply from that point, also to held-back bytes")
    func addedMidStream() {
        let redactor = Redactor()
        let probe = StreamProbe(redactor)
        probe.write("token=abc123xyz\n")
        #expect(probe.text == "token=abc123xyz\n")  // pass-through while nothing is registered
        probe.write("token=abc1")
        #expect(probe.text == "token=abc123xyz\ntoken=abc1")
        redactor.add("abc123xyz")
        probe.write("23xyz\ntoken=abc123xyz\n")
        // "abc1" was already emitted before the secret was known: what follows is masked.
        #expect(probe.text == "token=abc123xyz\ntoken=abc1***\ntoken=***\n")
        redactor.add("partial-value")
        probe.write("a partial-")
        #expect(probe.text.hasSuffix("token=***\na "))
        redactor.add("partial-valueXYZ")  // a new version while "partial-" is held: re-fed
        probe.write("valueXYZ.")
        probe.stream.finish()
        #expect(probe.text.hasSuffix("token=***\na ***."))
    }

    @Test("a value added after its beginning was shown has the rest masked: shown as itself, or masked as a shorter value, or in a form")
    func addedAfterItsBeginningWasShown() {
        // A shorter value masked, then the longer one it begins added, then the rest written.
        let redactor = Redactor()
        redactor.add("abcd")
        let probe = StreamProbe(redactor)
        probe.write("x abcd")
        probe.stream.flushIdle()
        #expect(probe.text == "x ***")
        redactor.add("abcdefgh")
        probe.write("efgh y\n")
        probe.stream.finish()
        #expect(probe.text == "x *** y\n")
        // Nothing registered (the stream passes buffers through), the beginning shown plainly.
        let plain = Redactor()
        let second = StreamProbe(plain)
        second.write("key: SECR")
        plain.add("SECRET-VALUE")
        second.write("ET-VALUE, again SECRET-VALUE\n")
        second.stream.finish()
        #expect(second.text == "key: SECR***, again ***\n")
        // The base64 form, its first half shown.
        let encoded = Array(Data("a-much-longer-secret-values".utf8).base64EncodedString().utf8)
        let forms = Redactor()
        let third = StreamProbe(forms)
        encoded[..<14].withUnsafeBytes { third.stream.write($0) }
        forms.add("a-much-longer-secret-values")
        encoded[14...].withUnsafeBytes { third.stream.write($0) }
        third.write("\n")
        third.stream.finish()
        #expect(third.text == String(decoding: encoded[..<14], as: UTF8.self) + "***\n")
        // Only the last bytes shown are read again: a value that began further back than the
        // history (at least 256 bytes) is masked from where it is seen whole.
        let far = Redactor()
        let fourth = StreamProbe(far)
        fourth.write("BEGIN" + String(repeating: "-", count: 300))
        far.add("BEGIN" + String(repeating: "-", count: 300) + "END")
        fourth.write("END BEGIN" + String(repeating: "-", count: 300) + "END\n")
        fourth.stream.finish()
        #expect(fourth.text == "BEGIN" + String(repeating: "-", count: 300) + "END ***\n")
    }

    @Test("base64 forms: none for a 4-byte value (its stable part would be 4 or 5 characters), all three alignments from 5 bytes")
    func base64FormsOfShortValues() {
        #expect(RedactionForms.base64(Array("abcd".utf8)).isEmpty)
        #expect(RedactionForms.base64(Array("abcde".utf8)).count == 3)
        #expect(RedactionForms.base64(Array("abcde".utf8)).allSatisfy { $0.count >= 6 })
    }

    @Test("a value added while the end of a match is held back keeps that match masked (the new automaton re-reads only the held bytes)")
    func addedWhileMatchHeld() {
        // Seen in a real step: 'L Secret11' then a third ::add-mask:: printed 'L ***1'.
        let redactor = Redactor()
        redactor.add("MixedSecret04")
        redactor.add("Secret11")
        let probe = StreamProbe(redactor)
        probe.write("L Secret11\n")
        redactor.add("Another-Secret-Value")
        probe.write("M Secret11\n")
        probe.stream.finish()
        #expect(probe.text == "L ***\nM ***\n")
        // Every split of the first line, and a new value at every point.
        let line = "x Secret11 MixedSecret04 y\n"
        for cut in 0...line.utf8.count {
            let redactor = Redactor()
            redactor.add("MixedSecret04")
            redactor.add("Secret11")
            let probe = StreamProbe(redactor)
            let bytes = Array(line.utf8)
            bytes[..<cut].withUnsafeBytes { probe.stream.write($0) }
            redactor.add("Another-Secret-Value-\(cut)")
            bytes[cut...].withUnsafeBytes { probe.stream.write($0) }
            probe.stream.finish()
            #expect(probe.text == "x *** *** y\n", "cut \(cut): \(probe.text)")
        }
    }

    @Test("a value added while a longer match is held: the matches read again may end before a kept one, which stays whole")
    func mergeOutOfOrder() {
        let redactor = Redactor()
        for secret in ["0123456789", "56789ABCDEFG", "5678"] { redactor.add(secret) }
        let probe = StreamProbe(redactor)
        probe.write("0123456789ABC")
        redactor.add("an-unrelated-value")
        probe.write("\n")
        probe.stream.finish()
        #expect(probe.text == "***ABC\n")
        var intervals: [Range<Int>] = [0..<4, 10..<20]
        RedactionAutomaton.merge(5..<8, into: &intervals, from: 0)
        #expect(intervals == [0..<4, 5..<8, 10..<20])
        RedactionAutomaton.merge(3..<6, into: &intervals, from: 0)
        #expect(intervals == [0..<8, 10..<20])
        RedactionAutomaton.merge(12..<15, into: &intervals, from: 0)
        #expect(intervals == [0..<8, 10..<20])
        RedactionAutomaton.merge(20..<25, into: &intervals, from: 0)
        #expect(intervals == [0..<8, 10..<25])
    }

    @Test("with nothing registered a stream passes buffers through unchanged, in one emit each")
    func passThrough() {
        let redactor = Redactor()
        var calls = 0
        var output: [UInt8] = []
        let stream = redactor.makeStream { calls += 1; output += $0 }
        let text = Array("line one\nline two\n".utf8)
        text.withUnsafeBytes { stream.write($0) }
        stream.finish()
        #expect(output == text)
        #expect(calls == 1)
    }

    @Test("overlapping and adjacent matches mask as one range; newlines inside survive")
    func unionAndNewlines() {
        let redactor = Redactor()
        redactor.add("abcdef")
        redactor.add("defghi")
        redactor.add("xyzw")
        redactor.add("abc")  // too short: never masked (4 bytes at least)
        #expect(redactor.redact("0abcdefghi1") == "0***1")
        #expect(redactor.redact("abcdefxyzw!") == "***!")
        #expect(redactor.redact("abc abcd") == "abc abcd")
        let wrapped = Data("-- a longer secret value, base64 wrapped --".utf8)
        let secretRedactor = Redactor()
        secretRedactor.add("a longer secret value, base64 wrapped")
        // Wrapped at 16 columns (CRLF), and at 12 (LF).
        func wrap(_ text: String, _ width: Int, _ eol: String) -> String {
            var out = "", line = ""
            for ch in text {
                line.append(ch)
                if line.count == width { out += line + eol; line = "" }
            }
            return out + line
        }
        let encoded = wrapped.base64EncodedString()
        for (width, eol) in [(16, "\r\n"), (12, "\n")] {
            let redacted = secretRedactor.redact(wrap(encoded, width, eol))
            #expect(redacted.contains("***" + eol + "***"), "\(redacted.debugDescription)")
            #expect(!redacted.contains("Y3Jl"), "\(redacted.debugDescription)")
            #expect(redacted.hasPrefix("LS0g"), "\(redacted.debugDescription)")
        }
    }

    @Test("matching is on bytes: a combining mark after the secret does not hide it")
    func bytes() {
        let redactor = Redactor()
        redactor.add("café")
        #expect(redactor.redact("x café\u{301} y") == "x ***\u{301} y")
        redactor.add("plainsecret")
        #expect(redactor.redact("plainsecret\u{301}") == "***\u{301}")
    }

    @Test("JSON \\uXXXX forms (surrogate pairs, both cases), URL forms with + for space, in either case of hex")
    func escapedForms() {
        let redactor = Redactor()
        redactor.add("pä ss/😀\"x")
        #expect(redactor.redact(#"{"k":"p\u00e4 ss/\ud83d\ude00\"x"}"#) == #"{"k":"***"}"#)
        #expect(redactor.redact(#"{"k":"p\u00E4 ss/\uD83D\uDE00\"x"}"#) == #"{"k":"***"}"#)
        let json = String(data: try! JSONEncoder().encode(["k": "pä ss/😀\"x"]), encoding: .utf8)!
        #expect(redactor.redact(json) == #"{"k":"***"}"#, "\(json)")
        #expect(redactor.redact("q=p%C3%A4+ss%2F%F0%9F%98%80%22x&") == "q=***&")
        #expect(redactor.redact("q=p%C3%A4%20ss%2F%F0%9F%98%80%22x&") == "q=***&")
        // Lowercase hex, as some encoders write it (an audit saw `%2f` shown).
        #expect(redactor.redact("q=p%c3%a4+ss%2f%f0%9f%98%80%22x&") == "q=***&")
        #expect(redactor.redact("q=p%c3%a4%20ss%2f%f0%9f%98%80%22x&") == "q=***&")
    }

    @Test("what common encoders print: Python's quote, encodeURIComponent, URLSearchParams, quote_plus, Go's and PHP's JSON, \\u0009 (each seen shown by audit 46); '' and XML/HTML entities as GitHub's runner masks them (audit 51)")
    func commonEncoders() {
        let cases: [(secret: String, printed: String)] = [
            ("abcd/efgh!ijkl", "abcd/efgh%21ijkl"),  // Python urllib.parse.quote (keeps '/')
            ("abcd/efgh(ijkl", "abcd/efgh%28ijkl"),
            ("abcd/efgh'ijkl", "abcd/efgh%27ijkl"),
            ("abcd!efgh@ijkl", "abcd!efgh%40ijkl"),  // encodeURIComponent, jq @uri (1.6)
            ("abcd/efgh!ijkl", "abcd%2Fefgh!ijkl"),
            ("abcd:efgh!ijkl", "abcd%3Aefgh!ijkl"),
            ("abcd~efgh~ijkl", "abcd%7Eefgh%7Eijkl"),  // URLSearchParams, PHP urlencode, Java URLEncoder
            ("abcd~efgh*ijkl x", "abcd%7Eefgh*ijkl+x"),
            ("abcd efgh/ijkl", "abcd+efgh/ijkl"),  // quote_plus(s, safe='/')
            // The WHATWG URL sets (audit 66 output M2): a password set on Node's `URL` (userinfo),
            // a `pathname`, `encodeURI`, the legacy `escape`.
            ("Tr0ub4dor&3@x", "Tr0ub4dor&3%40x"),
            ("pa$$w0rd@12", "pa$$w0rd%4012"),
            ("abc+def@ghi", "abc+def%40ghi"),
            ("p@ss w/rd&\"<x'>%41", "p%40ss%20w%2Frd&%22%3Cx'%3E%41"),  // userinfo
            ("p@ss w/rd&\"<x'>%41", "p@ss%20w/rd&%22%3Cx'%3E%41"),  // pathname
            ("p@ss w/rd&\"<x'>#41", "p@ss%20w/rd&%22%3Cx'%3E#41"),  // encodeURI
            ("p@ss w/rd&\"<x'>%41", "p@ss%20w/rd%26%22%3Cx%27%3E%2541"),  // escape
            ("abcd<efgh>ijkl", "abcd\\u003cefgh\\u003eijkl"),  // Go encoding/json
            ("abcd&efgh", "abcd\\u0026efgh"),
            ("pässwörd/1234", "p\\u00e4ssw\\u00f6rd\\/1234"),  // PHP json_encode
            ("pässwörd<1234", "p\\u00e4ssw\\u00f6rd\\u003c1234"),
            ("abcd\tefgh", "abcd\\u0009efgh"),
            ("abcd\tefgh", "abcd\\tefgh"),
            // Forms GitHub's runner masks (audit 51): `'` doubled, XML/HTML entities.
            ("ab'cd\"ef<gh>&12", "ab''cd\"ef<gh>&12"),  // YAML single-quoted, SQL, GitHub's expression strings
            ("ab'cd\"ef<gh>&12", "ab&apos;cd&quot;ef&lt;gh&gt;&amp;12"),  // XML (.NET SecurityElement)
            ("ab'cd\"ef<gh>&12", "ab&#39;cd&#34;ef&lt;gh&gt;&amp;12"),  // Go html.EscapeString
            ("ab'cd\"ef<gh>&12", "ab&#x27;cd&quot;ef&lt;gh&gt;&amp;12"),  // Python html.escape
            ("ab'cd\"ef<gh>&12", "ab'cd\"ef&lt;gh&gt;&amp;12"),  // XML text: Python saxutils.escape
        ]
        for (secret, printed) in cases {
            let redactor = Redactor()
            redactor.add(secret)
            #expect(redactor.redact("[" + printed + "]") == "[***]", "\(secret.debugDescription) printed as \(printed)")
        }
        // Letters, digits and "-._" only: no encoded form but the value.
        #expect(RedactionForms.urlEncoded(Array("abc-DEF_1.2".utf8)).isEmpty && RedactionForms.jsonEscaped("abc-DEF_1.2").isEmpty
                && RedactionForms.quotedForms("abc-DEF_1.2").isEmpty)
    }

    @Test("1,000 secrets: everything is still masked, and the automaton stays small")
    func manySecrets() {
        let redactor = Redactor()
        var rng = RedactionRandom(state: 7)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var secrets: [String] = []
        for _ in 0..<1_000 {
            let length = 8 + rng.next(33)
            secrets.append(String(decoding: (0..<length).map { _ in alphabet[rng.next(alphabet.count)] }, as: UTF8.self))
            redactor.add(secrets.last!)
        }
        let automaton = redactor.current().automatons.base
        #expect(automaton.memoryFootprint < 40_000_000, "\(automaton.memoryFootprint)")
        for secret in secrets.prefix(50) {
            #expect(redactor.redact("[\(secret)]") == "[***]")
            let b64 = Data("xx\(secret)yy".utf8).base64EncodedString()
            #expect(redactor.redact(b64).contains("***"))
        }
    }

    @Test("values added one at a time while a stream runs (a step masking and printing in a loop): each masked from its line on, at far less than a rebuild each")
    func valuesAddedOneByOne() {
        let redactor = Redactor()
        var out: [UInt8] = []
        let stream = redactor.makeStream { out += $0 }
        var expected = ""
        for index in 0..<3_000 {
            let value = "loop-value-\(index)-end"
            redactor.add(value)
            Array("got \(value)\n".utf8).withUnsafeBytes { stream.write($0) }
            expected += "got ***\n"
            if index % 500 == 0 {
                // An earlier value, from the base automaton or the recent one.
                let earlier = "loop-value-\(index / 2)-end"
                Array("again \(earlier)\n".utf8).withUnsafeBytes { stream.write($0) }
                expected += "again ***\n"
            }
        }
        stream.finish()
        #expect(String(decoding: out, as: UTF8.self) == expected)
        // Rebuilding everything at each value would read about 3,000² / 2 x (forms per value) patterns.
        let forms = RedactionForms.patterns(for: "loop-value-1500-end")!.count
        #expect(redactor.patternsBuilt < 3_000 * 3_000 / 2 * forms / 10, "\(redactor.patternsBuilt) patterns built")
        // Then much output: after 1 MiB read with two automatons, they are folded into one.
        #expect(!redactor.current().automatons.recent.isEmpty)
        let stream2 = redactor.makeStream { _ in }
        let block = Array(String(repeating: "plain output line, nothing secret here\n", count: 2_000).utf8)
        for _ in 0..<20 { block.withUnsafeBytes { stream2.write($0) } }
        stream2.finish()
        #expect(redactor.current().automatons.recent.isEmpty, "still two automatons after 1.6 MB")
        #expect(redactor.redact("x loop-value-2999-end loop-value-7-end") == "x *** ***")
    }
}
