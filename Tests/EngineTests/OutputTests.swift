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
