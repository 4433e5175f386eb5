@testable import NixActionsEngine
import Testing

@Suite("Bounds: GITHUB_OUTPUT / GITHUB_ENV blocks that never close")
struct BoundsEnvFileTests {
    @Test("a NAME<<DELIM block without its delimiter is an error naming the variable, the delimiter and the line")
    func unclosed() {
        let text = "a=1\nmulti<<EOF\nline 1\nb=2\n"
        guard case .failure(let error) = EnvFileParser.parseStrictly(text) else {
            Issue.record("an unclosed block was accepted")
            return
        }
        #expect(error == .unclosed(EnvFileParser.UnclosedBlock(name: "multi", delimiter: "EOF", line: 2)))
        #expect(error.description == "'multi<<EOF' on line 2 is never closed: matching delimiter 'EOF' not found")
        let closed = EnvFileParser.parseStrictly("a=1\nm<<END\nx\ny\nEND\nb=2\n")
        #expect((try? closed.get())?.map { "\($0.0)=\($0.1)" } == ["a=1", "m=x\ny", "b=2"])
    }

    @Test("lines end at every \\n, a \\r\\n too (one Swift character), its CR kept as GitHub's Linux runner keeps it (audit 58 F4); a line that is neither NAME=VALUE nor NAME<<DELIM, a # line and a block without name or delimiter are errors, as on GitHub")
    func githubLines() throws {
        let crlf = try EnvFileParser.parseStrictly("version=1.2.3\r\nchannel=stable\r\nm<<EOF\r\na\r\nb\r\nEOF\r\nlf=1\n").get()
        #expect(crlf.map { "\($0.0)=\($0.1)" } == ["version=1.2.3\r", "channel=stable\r", "m=a\r\nb\r", "lf=1"])
        #expect(EnvFileParser.firstCRLFLine("a=1\nb=2\r\n") == 2 && EnvFileParser.firstCRLFLine("a=1\n") == nil)
        // A line that is only a CR is not empty there: neither NAME=VALUE nor a block.
        guard case .failure(.invalid(line: 2, _, _)) = EnvFileParser.parseStrictly("a=1\r\n\r\n") else {
            Issue.record("a CR line was skipped")
            return
        }
        #expect(EnvFileParser.lines("a\r\nb\nc\r\n") == ["a", "b", "c", ""])
        #expect(EnvFileParser.lines("a\r\nb\n", keepingCR: true) == ["a\r", "b", ""])
        #expect(try EnvFileParser.parseStrictly("\n\na=1\n\n").get().map(\.0) == ["a"])
        #expect(try EnvFileParser.parseStrictly("#c=1\n").get().map(\.0) == ["#c"])  // no comments
        for (text, line) in [("ok=1\ngarbage line\n", 2), ("# a comment\n", 1), ("d<<\nv\n\n", 1), ("<<EOF\nv\nEOF\n", 1)] {
            guard case .failure(.invalid(let at, _, _)) = EnvFileParser.parseStrictly(text) else {
                Issue.record("accepted: \(text.debugDescription)")
                continue
            }
            #expect(at == line, "\(text.debugDescription)")
        }
        // The lenient reading keeps comments and skips what it cannot read.
        #expect(EnvFileParser.parse("# c\ngarbage\na=1\r\nb=2").map { "\($0.0)=\($0.1)" } == ["a=1", "b=2"])
    }

    @Test("the lenient reading (--env-file) still takes the rest of the file as the block's value")
    func lenient() {
        #expect(EnvFileParser.parse("a=1\nm<<EOF\nx\nb=2").map { "\($0.0)=\($0.1)" } == ["a=1", "m=x\nb=2"])
        #expect(EnvFileParser.parse("a=1\nm<<EOF\nx\nEOF\nb=2").map { "\($0.0)=\($0.1)" } == ["a=1", "m=x", "b=2"])
    }
}
