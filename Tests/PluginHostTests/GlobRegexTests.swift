import Foundation
@testable import NixActionsPluginKit
import Testing
import TestSupport

/// Cache and artifact path globs become the POSIX regular expressions the get script's `awk`
/// matches paths with (`FilesTransfer.regex`): checked here with this machine's `awk`.
@Suite("Globs as awk regular expressions")
struct GlobRegexTests {
    /// Which of `paths` the glob's expression matches, by `awk` (the expression in ENVIRON, as the script passes it).
    func matched(_ glob: String, _ paths: [String]) throws -> [String] {
        let result = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/awk"), ["{ if ($0 ~ ENVIRON[\"re\"]) print }"],
                                            input: Data((paths.joined(separator: "\n") + "\n").utf8),
                                            environment: ["re": FilesTransfer.regex(glob)])
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test("bracket expressions: sets, negation (never '/'), a ']' member, a last '-', POSIX classes")
    func brackets() throws {
        let paths = ["o1.o", "o2.o", "o3.o", "na.o", "n1.o", "n].o", "n-.o", "n/.o", "ax", "]x", "bx", "-x", "1x", "x]"]
        #expect(try matched("o[12].o", paths) == ["o1.o", "o2.o"])
        #expect(try matched("n[!0-9].o", paths) == ["na.o", "n].o", "n-.o"])
        #expect(try matched("[!]a]x", paths) == ["bx", "-x", "1x"], "\(FilesTransfer.regex("[!]a]x"))")
        #expect(try matched("[!a-]x", paths) == ["]x", "bx", "1x"], "\(FilesTransfer.regex("[!a-]x"))")
        #expect(try matched("[[:digit:]]x", paths) == ["1x"], "\(FilesTransfer.regex("[[:digit:]]x"))")
        #expect(try matched("[![:digit:]]x", paths) == ["ax", "]x", "bx", "-x"], "\(FilesTransfer.regex("[![:digit:]]x"))")
        #expect(try matched("x[]]", paths) == ["x]"])
        // A "[:" that no ":]" closes is two members, as in bash ("[[:]" matches "[" or ":"); so
        // are "[." and "[=" (collating symbols and equivalence classes are not carried: the "[" is
        // a member); a "-" stays last, "/" stays out. awk refused every one of these before.
        let odd = ["[x", ":x", "ax", ".x", "=x", "-x", "/x", "bx", "]x"]
        for (glob, expected) in [("[[:]x", ["[x", ":x"]), ("[![:]x", ["ax", ".x", "=x", "-x", "bx", "]x"]), ("[[.]x", ["[x", ".x"]),
                                 ("[a[=]x", ["[x", "ax", "=x"]), ("[[:a-]x", ["[x", ":x", "ax", "-x"]), ("[![:a-]x", [".x", "=x", "bx", "]x"]),
                                 ("[][:]x", ["[x", ":x", "]x"]), ("[[:alpha:][:]x", ["[x", ":x", "ax", "bx"]),
                                 // An unknown class name (a typo) is members, not a class awk refuses.
                                 ("[[:foo:]]x", []), ("[[:dig:]x", ["[x", ":x"])] {
            #expect(try matched(glob, odd) == expected, "\(glob): \(FilesTransfer.regex(glob))")
        }
    }
}
