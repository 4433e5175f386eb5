import Foundation
import NixActionsProcessKit
import Synchronization
import Testing

/// What a spawned process gets: exactly the environment it was given (laid out in one block), and
/// its own output, even while many processes are waited for at once (the read buffers are reused).
@Suite("ChildProcess: the environment and the output of a spawned process")
struct ChildEnvironmentTests {
    /// The child's environment as `env -0` prints it.
    static func environment(of given: [String: String]) throws -> [String: String] {
        let child = try ChildProcess(arguments: ["/usr/bin/env", "-0"], environment: given, directory: nil)
        var output: [UInt8] = []
        #expect(child.wait { stream, bytes in if stream == 1 { output += bytes } } == .exited(0))
        var seen: [String: String] = [:]
        for entry in output.split(separator: 0, omittingEmptySubsequences: true) {
            let text = String(decoding: entry, as: UTF8.self)
            let equals = try #require(text.firstIndex(of: "="))
            seen[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return seen
    }

    @Test("the child's environment is exactly the one given: empty values, '=' and newlines in values, unicode, many variables")
    func exactEnvironment() throws {
        var given = ["PATH": "/usr/bin:/bin", "EMPTY": "", "EQUALS": "a=b=c", "LINES": "one\ntwo\n", "UNICODE": "žluťoučký 🐴"]
        for index in 0..<300 { given["VAR_\(index)"] = String(repeating: "v\(index)", count: index % 40) }
        given[String(repeating: "K", count: 5000)] = String(repeating: "long", count: 10_000)
        #expect(try Self.environment(of: given) == given)
        #expect(try Self.environment(of: [:]) == [:])
    }

    @Test("40 children printing at once each get their own bytes back")
    func concurrentOutputs() throws {
        let count = 40
        let results = Mutex<[Int: (Termination, [UInt8], [UInt8])]>([:])
        DispatchQueue.concurrentPerform(iterations: count) { index in
            // 300 KB on stdout and a line on stderr: several reads of the 64 KiB buffer each.
            let script = "yes 'child \(index) says hello' | head -c 300000; echo 'err \(index)' >&2"
            guard let child = try? ChildProcess(arguments: ["/bin/sh", "-c", script], environment: ["PATH": "/usr/bin:/bin"],
                                                directory: nil) else { return }
            var out: [UInt8] = []
            var err: [UInt8] = []
            let ended = child.wait { stream, bytes in
                if stream == 1 { out += bytes } else { err += bytes }
            }
            results.withLock { $0[index] = (ended, out, err) }
        }
        let all = results.withLock { $0 }
        #expect(all.count == count)
        for index in 0..<count {
            let (ended, out, err) = try #require(all[index])
            #expect(ended == .exited(0))
            let line = Array("child \(index) says hello\n".utf8)
            let expected = Array((0..<(300_000 / line.count + 1)).flatMap { _ in line }.prefix(300_000))
            #expect(out == expected, "child \(index): \(out.count) bytes")
            #expect(err == Array("err \(index)\n".utf8))
        }
    }
}
