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

    @Test("output read from both pipes at once: the add-mask values of both go to onSecret before either chunk, whole lines only")
    func simultaneousOutput() {
        #expect(SimultaneousOutput.addMaskValues(in: Array("a\n::add-mask::one-1\r  ::ADD-MASK::two%252\nx ##[add-mask]three%5D\n::add-mask::cut".utf8))
            == ["one-1", "two%2", "three]"].map { Array($0.utf8) })
        // Not UTF-8 (Latin-1): the value's own bytes.
        #expect(SimultaneousOutput.addMaskValues(in: Array("::add-mask::p".utf8) + [0xE4] + Array("ss-1\n".utf8)) == [Array("p".utf8) + [0xE4] + Array("ss-1".utf8)])
        #expect(SimultaneousOutput.addMaskValues(in: Array("add-mask is a command\n::warning::add-mask\n::add-mask::\n".utf8)).isEmpty)
        var events: [String] = []
        let chunks: [(stream: Int32, bytes: [UInt8])] = [
            (1, Array("value: secret-on-err\n::add-mask::secret-on-out\n".utf8)),
            (2, Array("::add-mask::secret-on-err\nvalue: secret-on-out\n".utf8)),
        ]
        SimultaneousOutput.deliver(chunks, onSecret: { events.append("secret " + String(decoding: $0, as: UTF8.self)) }) { stream, _ in events.append("output \(stream)") }
        #expect(events == ["secret secret-on-out", "secret secret-on-err", "output 1", "output 2"])
        // One chunk that masks and one that does not: the masking one first.
        events = []
        SimultaneousOutput.deliver([(1, Array("value\n".utf8)), (2, Array("::add-mask::abcd\n".utf8))], onSecret: { events.append("secret " + String(decoding: $0, as: UTF8.self)) }) {
            stream, _ in events.append("output \(stream)")
        }
        #expect(events == ["secret abcd", "output 2", "output 1"])
    }
}
