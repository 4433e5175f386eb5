import Foundation
@testable import NixActionsProcessKit
import Synchronization
import Testing

/// A step that prints faster than it is read gets a 1 MiB pipe and 1 MiB reads
/// (`ChildProcess.wait`, `PipeGrowth`); at most `PipeGrowth.limit` pipes are grown at once.
/// Serialized: the limit is one count for the whole process.
@Suite("ChildProcess: pipes grow for steps that print a lot", .serialized)
struct PipeGrowthTests {
    /// Runs `head -c size /dev/zero`, sleeping in the first output callback so that the pipe fills.
    /// Returns the bytes received, the largest chunk and the most pipes grown seen during the wait.
    static func run(size: Int, stall: TimeInterval = 0.15) throws -> (total: Int, largest: Int, grownSeen: Int) {
        let child = try ChildProcess(arguments: ["head", "-c", String(size), "/dev/zero"],
                                     environment: ["PATH": "/usr/bin:/bin"], directory: nil, containment: nil)
        var total = 0, largest = 0, grownSeen = 0, calls = 0
        let ended = child.wait { stream, bytes in
            #expect(stream == 1)
            calls += 1
            if calls == 1 && stall > 0 { Thread.sleep(forTimeInterval: stall) }
            #expect(bytes.allSatisfy { $0 == 0 })
            total += bytes.count
            largest = max(largest, bytes.count)
            grownSeen = max(grownSeen, PipeGrowth.current)
        }
        #expect(ended == .exited(0))
        return (total, largest, grownSeen)
    }

    /// Every grown pipe is given back. Other suites of this process may hold one for a moment, so
    /// this waits for the count to reach zero; a pipe never given back keeps it above.
    static func allGivenBack() -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while PipeGrowth.current != 0 {
            if ContinuousClock.now > deadline { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return true
    }

    @Test("a full pipe grows: reads of more than 64 KiB, every byte arrives, the pipe is given back")
    func grows() throws {
        let size = 8 << 20
        let result = try Self.run(size: size)
        #expect(result.total == size)
        #expect(result.largest > 65536, "largest read \(result.largest)")
        #expect(result.largest <= PipeGrowth.size)
        #expect(result.grownSeen >= 1)
        #expect(Self.allGivenBack())
    }

    @Test("a step that prints little keeps the default pipe and 64 KiB reads")
    func smallStaysSmall() throws {
        let result = try Self.run(size: 1000, stall: 0)
        #expect(result.total == 1000)
        #expect(result.largest <= 65536)
        #expect(result.grownSeen == 0)
    }

    @Test("twelve such steps at once: at most eight pipes grown, every byte of every step arrives")
    func limited() throws {
        let size = 4 << 20
        let results = Mutex<[(total: Int, largest: Int, grownSeen: Int)]>([])
        let done = DispatchGroup()
        for _ in 0..<12 {
            done.enter()
            Thread {
                defer { done.leave() }
                // Long enough a stall that all twelve hold their pipes at once.
                if let result = try? Self.run(size: size, stall: 0.4) {
                    results.withLock { $0.append(result) }
                }
            }.start()
        }
        #expect(done.wait(timeout: .now() + 60) == .success)
        let all = results.withLock { $0 }
        #expect(all.count == 12)
        #expect(all.allSatisfy { $0.total == size })
        #expect(all.allSatisfy { $0.grownSeen <= PipeGrowth.limit })
        let grown = all.filter { $0.largest > 65536 }.count
        #expect(grown >= 1 && grown <= 12)
        #expect(Self.allGivenBack())
    }
}
