import Glibc
@testable import NixActionsProcessKit
import Testing
import TestSupport

/// `ByteSearch.firstOffset` finds what a naive search finds, in arrays and in slices.
@Suite struct ByteSearchTests {
    static func naive(_ needle: [UInt8], _ haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty else { return 0 }
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    @Test func edgeCases() {
        let mask = Array("::add-mask::".utf8)
        #expect(ByteSearch.firstOffset(of: mask, in: Array("x::add-mask::y".utf8)) == 1)
        #expect(ByteSearch.firstOffset(of: mask, in: Array(":::add-mask:".utf8)) == nil)  // one byte short at the end
        #expect(ByteSearch.firstOffset(of: mask, in: Array("::::add-mask::".utf8)) == 2)  // the first byte repeats
        #expect(ByteSearch.firstOffset(of: mask, in: []) == nil)
        #expect(ByteSearch.firstOffset(of: [], in: Array("abc".utf8)) == 0)
        #expect(ByteSearch.firstOffset(of: Array("abc".utf8), in: Array("ab".utf8)) == nil)
        let text = Array("..abc..abc".utf8)
        let slice = text[5...]  // "..abc": offsets are the slice's own indices
        #expect(ByteSearch.firstOffset(of: Array("abc".utf8), in: slice) == 7)
        // In a String's UTF-8 (the local executor's `{0}`), non-ASCII around it included.
        let placeholder = Array("{0}".utf8)
        #expect(ByteSearch.contains(placeholder, in: "bash {0}") && ByteSearch.contains(placeholder, in: "é{0}ü"))
        #expect(!ByteSearch.contains(placeholder, in: "{0") && !ByteSearch.contains(placeholder, in: "{}0}") && !ByteSearch.contains(placeholder, in: ""))
    }

    @Test func randomBuffersAgreeWithANaiveSearch() {
        var random = SplitMix64(seed: 0xB17E_5EA2)
        for _ in 0..<20_000 {
            // A small alphabet, so that partial matches and repeats are common.
            let haystack = (0..<Int(random.next() % 40)).map { _ in UInt8(97 + random.next() % 3) }
            let needle = (0..<Int(random.next() % 5)).map { _ in UInt8(97 + random.next() % 3) }
            #expect(ByteSearch.firstOffset(of: needle, in: haystack) == Self.naive(needle, haystack), "\(needle) in \(haystack)")
        }
    }

    @Test("a chunk that may register a secret: add-mask in any case, in either command form, at any place")
    func registersSecret() {
        for yes in ["::add-mask::x", "::ADD-MASK::x", "text ##[Add-Mask]x", "add-mask", "\n\n::add-mask::"] {
            #expect(ChildProcess.registersSecret(Array(yes.utf8)), "\(yes)")
        }
        for no in ["::add-task::x", "add-mas", "add_mask", "::warning::x", "", "a-mask", "Xdd-mask"] {
            #expect(!ChildProcess.registersSecret(Array(no.utf8)), "\(no)")
        }
    }

    @Test("add-mask values of whole lines, in either command form and case, escapes undone, Latin-1 kept")
    func addMaskValues() {
        #expect(TwoPipeOutput.addMaskValues(in: Array("a\n::add-mask::one-1\r  ::ADD-MASK::two%252\nx ##[add-mask]three%5D\n::add-mask::cut".utf8))
            == ["one-1", "two%2", "three]"].map { Array($0.utf8) })
        // Not UTF-8 (Latin-1): the value's own bytes.
        #expect(TwoPipeOutput.addMaskValues(in: Array("::add-mask::p".utf8) + [0xE4] + Array("ss-1\n".utf8)) == [Array("p".utf8) + [0xE4] + Array("ss-1".utf8)])
        #expect(TwoPipeOutput.addMaskValues(in: Array("add-mask is a command\n::warning::add-mask\n::add-mask::\n".utf8)).isEmpty)
    }

    /// Two real pipes holding `stdout` and `stderr`; `chunk` delivered as just read from `from`.
    /// The events: "secret V" and "output N: TEXT", in order.
    private static func deliver(_ steps: [(chunk: String, from: Int, stdout: String, stderr: String)]) -> [String] {
        var pipes: [[Int32]] = [[0, 0], [0, 0]]
        for index in 0..<2 { pipes[index].withUnsafeMutableBufferPointer { _ = pipe($0.baseAddress!) } }
        defer { for pair in pipes { close(pair[0]); close(pair[1]) } }
        var events: [String] = []
        var order = TwoPipeOutput(stdout: pipes[0][0], stderr: pipes[1][0], onSecret: { events.append("secret " + String(decoding: $0, as: UTF8.self)) })
        for step in steps {
            for (index, text) in [step.stdout, step.stderr].enumerated() where !text.isEmpty {
                _ = text.utf8CString.withUnsafeBytes { write(pipes[index][1], $0.baseAddress, $0.count - 1) }
            }
            var chunk = step.chunk
            chunk.withUTF8 { bytes in
                _ = order.deliver(UnsafeRawBufferPointer(bytes), from: step.from, otherOpen: true) { stream, bytes in
                    events.append("output \(stream): " + String(decoding: bytes, as: UTF8.self))
                }
            }
        }
        return events
    }

    @Test("two pipes: a chunk goes out only after the other pipe was read after it, and that read's add-mask values are registered first")
    func twoPipeOrder() {
        // Nothing on the other pipe: the chunk goes out at once.
        #expect(Self.deliver([("a\n", 0, "", "")]) == ["output 1: a\n"])
        // The value on stdout, its add-mask on stderr (written before it, read after it).
        #expect(Self.deliver([("value: S1\n", 0, "", "::add-mask::S1\n")])
            == ["secret S1", "output 1: value: S1\n", "output 2: ::add-mask::S1\n"])
        // The chase: stderr's chunk holds a value whose add-mask stdout got after the first read;
        // it waits until stdout has been read again.
        #expect(Self.deliver([("value: S1\n", 0, "::add-mask::S2\n", "::add-mask::S1\nvalue: S2\n")])
            == ["secret S1", "output 1: value: S1\n", "secret S2", "output 2: ::add-mask::S1\nvalue: S2\n", "output 1: ::add-mask::S2\n"])
        // An add-mask line whose beginning went out earlier is read whole.
        #expect(Self.deliver([("::add-mask::lo", 0, "", ""), ("value: long-one\n", 1, "ng-one\n", "")])
            == ["output 1: ::add-mask::lo", "secret long-one", "output 2: value: long-one\n", "output 1: ng-one\n"])
        // Without onSecret: delivered as read, the other pipe untouched.
        var events: [String] = []
        var plain = TwoPipeOutput(stdout: -1, stderr: -1, onSecret: nil)
        var text = "x\n"
        text.withUTF8 { bytes in _ = plain.deliver(UnsafeRawBufferPointer(bytes), from: 1, otherOpen: true) { stream, _ in events.append("output \(stream)") } }
        #expect(events == ["output 2"])
    }
}
