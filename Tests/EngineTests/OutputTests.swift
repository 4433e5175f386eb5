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
        // `<<` found in bytes (audit 66 remote H3): after `=` it is part of the value; before it, a block;
        // names and values beyond ASCII and with NUL bytes are kept.
        let mixed = EnvFileParser.parseStrictly("É=a<<b\nX<<E=Q\nv\u{0}1\nE=Q\nY=é\u{0}<<\n")
        #expect((try? mixed.get())?.map { "\($0.0)|\($0.1)" } == ["É|a<<b", "X|v\u{0}1", "Y|é\u{0}<<"], "\(mixed)")
        // 40,000 lines in a block and 40,000 lines of their own (4 MB each; 40 s before, in a release build).
        let line = String(repeating: "a", count: 98)
        let big = "X<<EOF\n" + Array(repeating: line, count: 40_000).joined(separator: "\n") + "\nEOF\n"
            + (0..<40_000).map { "K\($0)=\(line)" }.joined(separator: "\n") + "\n"
        let read = EnvFileParser.parseUntilProblem(big)
        #expect(read.problem == nil && read.entries.count == 40_001 && read.entries.first?.1.utf8.count == 40_000 * 99 - 1)
    }

    @Test("did-you-mean suggests close names only")
    func suggestions() {
        #expect(didYouMean("stepz", in: ["steps", "needs"]) == "steps")
        #expect(didYouMean("zzzzzz", in: ["steps", "needs"]) == nil)
        #expect(didYouMean("Needs", in: ["steps", "needs"]) == "needs")
    }
}
