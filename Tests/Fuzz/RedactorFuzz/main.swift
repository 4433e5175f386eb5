// libFuzzer target for the streaming redactor: the fuzzer's bytes choose the secrets, the text
// (with encoded and wrapped forms of the secrets) and the chunking. Asserts the property test's
// invariants: no leak, output byte-identical to the reference, for the stream and for redact().
// Not part of `swift test`; build and run with bench/fuzz-redactor.sh.

/// Random choices read from the fuzzer's input (zeros once it is exhausted).
struct FuzzSource: RedactionCaseSource {
    let bytes: UnsafeRawBufferPointer
    var at = 0
    mutating func next(_ bound: Int) -> Int {
        guard bound > 1 else { return 0 }
        var value = 0
        var range = 1
        while range < bound {
            value = value << 8 | (at < bytes.count ? Int(bytes[at]) : 0)
            at += 1
            range <<= 8
        }
        return value % bound
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func redactorFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var source = FuzzSource(bytes: UnsafeRawBufferPointer(start: data, count: size))
    let c = RedactionReference.makeCase(&source)
    if let failure = RedactionReference.check(c) {
        print("redactor fuzz failure: \(failure)\n\(c)")
        fatalError("redactor invariant violated")
    }
    return 0
}
