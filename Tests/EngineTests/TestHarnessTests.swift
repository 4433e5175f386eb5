import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The suite's own guard against hangs (Tests/TestSupport/CommandRun.swift): a command that runs
/// too long is killed, output a left-behind process holds open is given up on, and both say why.
@Suite("Test harness: no command a test runs waits for ever")
struct TestHarnessTests {
    @Test("a command over its time limit is killed with its process group, and its stderr says so with the processes it had")
    func killedAtLimit() async throws {
        let unique = Int.random(in: 100_000...999_999)
        let result = try await offThePool {
            try runToCompletion(["/bin/sh", "-c", "echo started; sleep 30.\(unique) & exec sleep 31.\(unique)"],
                                environment: ProcessInfo.processInfo.environment, limit: .seconds(1), drain: .seconds(2))
        }
        #expect(result.seconds < 10, "\(result.seconds)")
        #expect(result.status == SIGKILL, "\(result)")
        #expect(result.stdout == "started\n")
        #expect(result.stderr.contains("[test harness: killed after 1.0 seconds"), "\(result.stderr)")
        #expect(result.stderr.contains("sleep 31.\(unique)"), "the process tree is listed: \(result.stderr)")
        // The whole group went: the background sleep too.
        #expect(await livePids(after: .seconds(5)) { $0.hasPrefix("sleep 30.\(unique)") }.isEmpty)
    }

    @Test("output a process left running holds open is read for the drain time after the exit, then left with the holder named")
    func heldOutput() async throws {
        let marker = "nxaheld-\(UInt32.random(in: 0...UInt32.max))"
        let result = try await offThePool {
            try runToCompletion(["/bin/bash", "-c", "echo first; (exec -a \(marker) sleep 30) & echo second; exit 3"],
                                environment: ProcessInfo.processInfo.environment, drain: .seconds(1))
        }
        defer { for pid in livePids(where: { $0.hasPrefix(marker) }) { kill(pid, SIGKILL) } }
        #expect(result.status == 3)
        #expect(result.stdout == "first\nsecond\n")
        #expect(result.seconds < 2, "seconds count to the exit, not to the end of reading: \(result.seconds)")
        #expect(result.stderr.contains("[test harness: the output was still held open 1.0 seconds after the command exited"), "\(result.stderr)")
        #expect(result.stderr.contains(marker), "the holder is named: \(result.stderr)")
    }

    @Test("input reaches standard input; a command that ends at once is not slowed by the polling")
    func inputAndSpeed() async throws {
        let result = try await offThePool {
            try runToCompletion(["/bin/cat"], environment: [:], input: Data("through stdin\n".utf8))
        }
        #expect(result.status == 0)
        #expect(result.stdout == "through stdin\n")
        #expect(result.seconds < 1, "\(result.seconds)")
    }
}
