import NixActionsPluginMessages
import Testing

/// docs/caching.md: "a key is 1 to 512 bytes of UTF-8, with no ',' and no control characters".
@Suite("Cache keys as the host checks them")
struct CacheKeysTests {
    @Test("1 to 512 bytes (counted in UTF-8), no ',' and no control character; anything else is valid")
    func rules() {
        #expect(CacheKeys.problem("") == "the key is empty")
        #expect(CacheKeys.problem(String(repeating: "k", count: 512)) == nil)
        #expect(CacheKeys.problem(String(repeating: "k", count: 513)) == "the key is 513 bytes long, at most 512 are allowed")
        // 256 two-byte characters are 512 bytes; one more is over.
        #expect(CacheKeys.problem(String(repeating: "é", count: 256)) == nil)
        #expect(CacheKeys.problem(String(repeating: "é", count: 257)) != nil)
        #expect(CacheKeys.problem("a,b") == "the key contains ',', which is not allowed")
        for control in ["a\nb", "a\tb", "a\u{7f}b", "\u{1}"] {
            #expect(CacheKeys.problem(control) == "the key contains a control character (a line break?)", "\(control.debugDescription)")
        }
        for valid in ["node-modules-linux-x64-3f2a", "deps/ç/🙂", "a b;c|d=e", "v1:sha256-0123"] {
            #expect(CacheKeys.problem(valid) == nil, "\(valid)")
        }
    }
}
