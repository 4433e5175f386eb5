import Foundation
@testable import NixActionsProcessKit
import Synchronization
import Testing
import TestSupport

/// A step that prints faster than it is read gets a 1 MiB pipe and 1 MiB reads
/// (`ChildProcess.wait`, `PipeGrowth`); at most `PipeGrowth.limit` pipes are grown at once.
///
/// `PipeGrowth` counts for the whole test process, and other suites (80 children printing at
/// once in `ChildEnvironmentTests`) may hold grown pipes meanwhile. So the checks are on what
/// each wait itself saw: a read over 64 KiB can only come from a pipe this wait grew.
///
/// The tests wait for processes and threads off Swift's cooperative threads (`offThePool`),
/// which other suites' tasks need meanwhile.
@Suite("ChildProcess: pipes grow for steps that print a lot", .serialized)
struct PipeGrowthTests {
    struct Outcome {
        var ended: Termination?
        var total = 0
        var largest = 0
        var allZero = true
        /// The largest size of the stdout pipe seen from the callback (`F_GETPIPE_SZ`).
        var capacity = 0
    }

    /// Runs `head -c size /dev/zero`. The callback sleeps `stalls[n]` seconds on its n-th call,
    /// so that the pipe fills up: the first stall makes a 64 KiB read full (the pipe grows), a
    /// later one lets the grown pipe fill past 64 KiB, and holds the grown pipe meanwhile.
    static func run(size: Int, stalls: [TimeInterval]) throws -> Outcome {
        try run(["head", "-c", String(size), "/dev/zero"], stalls: stalls)
    }

    static func run(_ arguments: [String], stalls: [TimeInterval]) throws -> Outcome {
        let child = try ChildProcess(arguments: arguments, environment: ["PATH": "/usr/bin:/bin"], directory: nil, containment: nil)
        var outcome = Outcome()
        var calls = 0
        outcome.ended = child.wait { _, bytes in
            if calls < stalls.count && stalls[calls] > 0 { Thread.sleep(forTimeInterval: stalls[calls]) }
            calls += 1
            if outcome.allZero && !bytes.allSatisfy({ $0 == 0 }) { outcome.allZero = false }
            outcome.total += bytes.count
            outcome.largest = max(outcome.largest, bytes.count)
            outcome.capacity = max(outcome.capacity, Int(fcntl(child.stdoutFD, 1032)))  // F_GETPIPE_SZ
        }
        return outcome
    }

    /// Every grown pipe is given back. Other suites of this process may hold one for a moment, so
    /// this waits for the count to reach zero; a pipe never given back keeps it above.
    static func allGivenBack() async -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while PipeGrowth.current != 0 {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    @Test("a full pipe grows: reads of more than 64 KiB, every byte arrives, the pipe is given back")
    func grows() async throws {
        let size = 8 << 20
        // Other suites may hold all eight slots for a moment: try again, up to 20 times.
        let outcome = try await offThePool {
            var outcome = Outcome()
            for _ in 0..<20 {
                outcome = try Self.run(size: size, stalls: [0.1, 0, 0.1])
                if outcome.largest > 65536 { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return outcome
        }
        #expect(outcome.ended == .exited(0))
        #expect(outcome.total == size)
        #expect(outcome.allZero)
        #expect(outcome.largest > 65536, "largest read \(outcome.largest)")
        #expect(outcome.largest <= PipeGrowth.size)
        #expect(outcome.capacity == PipeGrowth.size)
        #expect(await Self.allGivenBack())
    }

    @Test("a step whose reads never fill 64 KiB keeps the default pipe")
    func smallStaysSmall() async throws {
        // Three bursts of 20,000 bytes: 60,000 in all, so no read can fill 64 KiB however late it is.
        let outcome = try await offThePool {
            try Self.run(["sh", "-c", "for i in 1 2 3; do head -c 20000 /dev/zero; sleep 0.05; done"], stalls: [])
        }
        #expect(outcome.ended == .exited(0))
        #expect(outcome.total == 60000)
        #expect(outcome.capacity > 0)
        #expect(outcome.capacity < PipeGrowth.size)
    }

    @Test("twelve such steps at once: at most eight read more than 64 KiB at a time, every byte of every step arrives")
    func limited() async throws {
        let size = 4 << 20
        let (finished, all) = try await offThePool {
            let outcomes = Mutex<[Outcome]>([])
            let done = DispatchGroup()
            for _ in 0..<12 {
                done.enter()
                Thread {
                    defer { done.leave() }
                    // All twelve fill their pipe (first stall) and try to grow it at about the same
                    // moment; those that got a slot keep it through the second stall, longer than
                    // the threads' start times can differ.
                    if let outcome = try? Self.run(size: size, stalls: [0.4, 0, 0.6]) {
                        outcomes.withLock { $0.append(outcome) }
                    }
                }.start()
            }
            let finished = done.wait(timeout: .now() + 120) == .success
            return (finished, outcomes.withLock { $0 })
        }
        #expect(finished)
        #expect(all.count == 12)
        #expect(all.allSatisfy { $0.ended == .exited(0) && $0.total == size && $0.allZero })
        // A read over 64 KiB needs a pipe this wait grew; slots held by other suites only
        // lower the count.
        let grown = all.filter { $0.largest > 65536 }.count
        #expect(grown <= PipeGrowth.limit, "\(grown) of 12 read more than 64 KiB at a time")
        #expect(await Self.allGivenBack())
    }
}
