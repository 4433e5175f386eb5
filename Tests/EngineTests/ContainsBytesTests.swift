@testable import NixActionsEngine
import Testing

@Suite("String.containsBytes: substring search on UTF-8 bytes")
struct ContainsBytesTests {
    @Test("agrees with a plain search: start, middle, end, absent, repeated first bytes, unicode, empty")
    func agrees() {
        let cases: [(String, String, Bool)] = [
            ("echo ${{ env.X }}", "${{", true), ("${{", "${{", true), ("a $ { { b", "${{", false),
            ("$$$${{", "${{", true), ("x >> \"$GITHUB_ENV\"", "GITHUB_ENV", true), ("GITHUB_EN", "GITHUB_ENV", false),
            ("", "x", false), ("abc", "", true), ("ab", "abc", false), ("日本語 ${{ x }}", "${{", true), ("日本語", "本", true),
            ("abababac", "abac", true), ("abababab", "abac", false),
        ]
        for (haystack, needle, expected) in cases {
            #expect(haystack.containsBytes(needle) == expected, "\(haystack) / \(needle)")
            #expect(haystack.containsBytes(needle) == (needle.isEmpty || Array(haystack.utf8).firstRange(of: Array(needle.utf8)) != nil))
        }
    }
}
