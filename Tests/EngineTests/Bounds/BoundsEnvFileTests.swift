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
        #expect(error == EnvFileParser.UnclosedBlock(name: "multi", delimiter: "EOF", line: 2))
        #expect(error.description == "'multi<<EOF' on line 2 is never closed: matching delimiter 'EOF' not found")
        let closed = EnvFileParser.parseStrictly("a=1\nm<<END\nx\ny\nEND\nb=2\n")
        #expect((try? closed.get())?.map { "\($0.0)=\($0.1)" } == ["a=1", "m=x\ny", "b=2"])
    }

    @Test("the lenient reading (--env-file) still takes the rest of the file as the block's value")
    func lenient() {
        #expect(EnvFileParser.parse("a=1\nm<<EOF\nx\nb=2").map { "\($0.0)=\($0.1)" } == ["a=1", "m=x\nb=2"])
        #expect(EnvFileParser.parse("a=1\nm<<EOF\nx\nEOF\nb=2").map { "\($0.0)=\($0.1)" } == ["a=1", "m=x", "b=2"])
    }
}
