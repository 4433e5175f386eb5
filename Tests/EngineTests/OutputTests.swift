@testable import NixActionsEngine
import Synchronization
import Testing

@Suite("Output plumbing")
struct OutputTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        func add(_ stream: Int32, _ line: String) { lines.withLock { $0.append("\(stream):\(line)") } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test("chunks split anywhere, even inside a UTF-8 sequence, come out as whole lines per stream")
    func lineSplitting() {
        let collected = Lines()
        let splitter = LineSplitter { collected.add($0, $1) }
        let text = Array("héllo\nwörld\r\npartial".utf8)
        for byte in text { [byte].withUnsafeBytes { splitter.write(stream: 1, $0) } }
        Array("err\n".utf8).withUnsafeBytes { splitter.write(stream: 2, $0) }
        #expect(collected.all == ["1:héllo", "1:wörld", "2:err"])
        splitter.finish()
        #expect(collected.all == ["1:héllo", "1:wörld", "2:err", "1:partial"])
    }

    @Test("an overlong line is emitted in pieces so memory stays bounded")
    func longLine() {
        let collected = Lines()
        let splitter = LineSplitter(maxLine: 4) { collected.add($0, $1) }
        Array("abcdefghij\n".utf8).withUnsafeBytes { splitter.write(stream: 1, $0) }
        #expect(collected.all == ["1:abcdefghij"])
        Array("abc".utf8).withUnsafeBytes { splitter.write(stream: 1, $0) }
        Array("de".utf8).withUnsafeBytes { splitter.write(stream: 1, $0) }
        #expect(collected.all == ["1:abcdefghij", "1:abcde"])
    }

    @Test("GITHUB_ENV / GITHUB_OUTPUT syntax: NAME=value and NAME<<DELIM blocks")
    func envFiles() {
        let parsed = EnvFileParser.parse("A=1\nB=x=y\nMULTI<<EOF\nline 1\nline 2\nEOF\n\nC=\n")
        #expect(parsed.map { "\($0.0)=\($0.1)" } == ["A=1", "B=x=y", "MULTI=line 1\nline 2", "C="])
    }

    @Test("did-you-mean suggests close names only")
    func suggestions() {
        #expect(didYouMean("stepz", in: ["steps", "needs"]) == "steps")
        #expect(didYouMean("zzzzzz", in: ["steps", "needs"]) == nil)
        #expect(didYouMean("Needs", in: ["steps", "needs"]) == "needs")
    }
}
