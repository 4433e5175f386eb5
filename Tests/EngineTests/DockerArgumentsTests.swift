import Testing
@testable import NixActionsEngine

/// `with.args` of a docker action split as GitHub's runner hands it to docker (.NET's rules for a
/// command line), not as a POSIX shell would.
@Suite("Docker actions: with.args split as GitHub's runner splits it")
struct DockerArgumentsTests {
    @Test("blanks separate, double quotes group, single quotes and lone backslashes are characters")
    func splits() {
        let cases: [(String, [String])] = [
            ("", []),
            ("  a   b\tc  ", ["a", "b", "c"]),
            (#"-c "echo a b; exit 3""#, ["-c", "echo a b; exit 3"]),
            ("it's 'a b'", ["it's", "'a", "b'"]),
            (#"\d+ C:\path\ x"#, [#"\d+"#, #"C:\path\"#, "x"]),
            (#"say \"hi\""#, ["say", #""hi""#]),
            (#""a\\" b"#, [#"a\"#, "b"]),
            (#""" x"#, ["", "x"]),
            (#""quoted ""inner"" word""#, [#"quoted "inner" word"#]),
            (#"a"b c"d"#, ["ab cd"]),
            (#""unclosed word"#, ["unclosed word"]),
        ]
        for (text, words) in cases {
            #expect(JobRunner.dockerArguments(text) == words, "\(text)")
        }
    }
}
