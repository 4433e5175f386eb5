import CProcessSupport
import Foundation
@testable import NixActionsProcessKit
import Synchronization
import Testing

/// Where a step's process starts: inside its step's cgroup before its first instruction (made
/// there with clone3's CLONE_INTO_CGROUP, or moved there by the child before it execs on a kernel
/// without it), so that everything it forks is contained.
@Suite("ChildProcess: a step's process starts inside its cgroup")
struct SpawnIntoCgroupTests {
    /// A run cgroup for this test, or nil where this machine cannot make one.
    static func runCgroup() -> String? { CgroupV2.makeRunCgroup(name: "nixactions-spawntest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))") }

    /// Whether this machine lets a test make a run cgroup (one is made and removed to find out).
    static var canMakeRunCgroup: Bool { runCgroup().map { CgroupTree.remove($0); return true } ?? false }

    /// Run `script` as a step of `job`: how it ended, and the step's cgroup.
    static func runStep(_ job: JobContainment, _ script: String) throws -> (Termination, String?) {
        let step = job.makeStep()
        let child = try ChildProcess(arguments: ["/bin/sh", "-c", script], environment: ["PATH": "/usr/bin:/bin"],
                                     directory: nil, containment: step)
        let ended = child.wait { _, _ in }
        job.release(step)
        return (ended, step.cgroup)
    }

    /// The cgroup v2 path of `/proc/self/cgroup`'s `0::` line in `text`.
    static func cgroupPaths(_ text: String) -> [String] {
        text.split(separator: "\n").filter { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
    }

    @Test("the step and the child it forks are in the step's cgroup; a second step reuses it; the job's cgroup ends them",
          .enabled(if: canMakeRunCgroup, "this machine cannot make a cgroup v2 for a run"))
    func madeInside() throws {
        let run = try #require(Self.runCgroup())
        defer { CgroupTree.kill(run, timeout: .seconds(5)); CgroupTree.remove(run) }
        let job = JobContainment(runCgroup: run, runTrackingID: "spawntest", key: "j")
        defer { job.endAll() }
        let mount = try #require(CgroupV2.mountPoint)
        for round in 1...2 {
            let step = job.makeStep()
            let stepCgroup = try #require(step.cgroup)
            let child = try ChildProcess(arguments: ["/bin/sh", "-c", "cat /proc/self/cgroup; sh -c 'cat /proc/self/cgroup'"],
                                         environment: ["PATH": "/usr/bin:/bin"], directory: nil, containment: step)
            var output: [UInt8] = []
            let ended = child.wait { stream, bytes in if stream == 1 { output += bytes } }
            #expect(ended == .exited(0))
            let paths = Self.cgroupPaths(String(decoding: output, as: UTF8.self))
            #expect(paths.count == 2, "round \(round): \(paths)")
            #expect(paths.allSatisfy { mount + $0 == stepCgroup }, "round \(round): \(paths) not in \(stepCgroup)")
            job.release(step)
        }
    }

    @Test("without clone3 (an older kernel), the vfork child moves itself into the step's cgroup before it execs: it and what it forks are inside",
          .enabled(if: canMakeRunCgroup, "this machine cannot make a cgroup v2 for a run"))
    func madeInsideWithoutClone3() throws {
        nxa_test_spawn_without_clone3(1)
        defer { nxa_test_spawn_without_clone3(0) }
        let run = try #require(Self.runCgroup())
        defer { CgroupTree.kill(run, timeout: .seconds(5)); CgroupTree.remove(run) }
        let job = JobContainment(runCgroup: run, runTrackingID: "vforktest", key: "j")
        defer { job.endAll() }
        let mount = try #require(CgroupV2.mountPoint)
        let step = job.makeStep()
        let stepCgroup = try #require(step.cgroup)
        let child = try ChildProcess(arguments: ["/bin/sh", "-c", "cat /proc/self/cgroup; sh -c 'cat /proc/self/cgroup'"],
                                     environment: ["PATH": "/usr/bin:/bin"], directory: nil, containment: step)
        var output: [UInt8] = []
        #expect(child.wait { stream, bytes in if stream == 1 { output += bytes } } == .exited(0))
        let paths = Self.cgroupPaths(String(decoding: output, as: UTF8.self))
        #expect(paths.count == 2, "\(paths)")
        #expect(paths.allSatisfy { mount + $0 == stepCgroup }, "\(paths) not in \(stepCgroup)")
        job.release(step)
    }

    @Test("an ended step's cgroup serves the job's next step when nothing of it is left; one with a process left behind does not",
          .enabled(if: canMakeRunCgroup, "this machine cannot make a cgroup v2 for a run"))
    func stepCgroupReuse() throws {
        let run = try #require(Self.runCgroup())
        defer { CgroupTree.kill(run, timeout: .seconds(5)); CgroupTree.remove(run) }
        let job = JobContainment(runCgroup: run, runTrackingID: "reusetest", key: "j")
        func runStep(_ script: String) throws -> String? {
            let (ended, cgroup) = try Self.runStep(job, script)
            #expect(ended == .exited(0))
            return cgroup
        }
        let first = try #require(try runStep("exit 0"))
        let second = try runStep("sleep 30 >/dev/null 2>&1 & exit 0")
        #expect(second == first, "the first step left nothing: its cgroup serves the second")
        let third = try runStep("exit 0")
        #expect(third != nil && third != second, "the second step left a process in its cgroup: the third gets another")
        // Looked at when the next step needs it, not when the step ended: a process left behind
        // that has exited by then does not keep the cgroup from serving.
        let fourth = try runStep("sleep 0.3 >/dev/null 2>&1 & exit 0")
        Thread.sleep(forTimeInterval: 0.8)
        #expect(try runStep("exit 0") == fourth, "the fourth step's process had exited: its cgroup serves the fifth")
        #expect(CgroupTree.isPopulated(first))
        job.endAll()
        #expect(!CgroupTree.isPopulated(first), "the job's end ends what its steps left")
    }

    @Test("a terminated step's cgroup is not handed to the next step, whose process the delayed SIGKILL must not reach",
          .enabled(if: canMakeRunCgroup, "this machine cannot make a cgroup v2 for a run"))
    func terminatedStepCgroupNotReused() throws {
        let run = try #require(Self.runCgroup())
        defer { CgroupTree.kill(run, timeout: .seconds(5)); CgroupTree.remove(run) }
        let pool = CgroupPool()
        let job = JobContainment(runCgroup: run, runTrackingID: "terminatetest", key: "j", pool: pool)
        let step = job.makeStep()
        let child = try ChildProcess(arguments: ["/bin/sh", "-c", "sleep 30"], environment: ["PATH": "/usr/bin:/bin"],
                                     directory: nil, containment: step)
        // SIGTERM ends it at once; the SIGKILL for what might be left follows after the grace.
        child.terminate(grace: .milliseconds(300))
        #expect(child.wait { _, _ in } == .signaled(SIGTERM))
        job.release(step)
        let next = job.makeStep()
        #expect(next.cgroup != nil && next.cgroup != step.cgroup)
        let cleanup = try ChildProcess(arguments: ["/bin/sh", "-c", "sleep 0.8; exit 0"], environment: ["PATH": "/usr/bin:/bin"],
                                       directory: nil, containment: next)
        #expect(cleanup.wait { _, _ in } == .exited(0), "the next step outlives the terminated step's SIGKILL")
        job.release(next)
        job.endAll()
        // Nor does the job's cgroup go to the pool for another job.
        let other = JobContainment(runCgroup: run, runTrackingID: "terminatetest", key: "k", pool: pool)
        #expect(other.cgroup != job.cgroup)
        other.endAll()
    }

    /// A child's SIGCHLD is checked against the thread that made it: blocked there (libdispatch's
    /// threads block every signal), it is queued for the process and wakes the main thread at every
    /// step. The spawning thread is left with SIGCHLD unblocked, so its default action drops it.
    @Test("the thread that spawns a step is left with SIGCHLD unblocked, and every other signal as it was")
    func leavesChildSignalUnblocked() async throws {
        let result = Mutex<(chld: Bool, int: Bool, ended: Termination?)?>(nil)
        let thread = Thread {
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_SETMASK, &all, nil)
            let child = try? ChildProcess(arguments: ["/bin/sh", "-c", "exit 3"], environment: ["PATH": "/usr/bin:/bin"],
                                          directory: nil, containment: nil)
            let ended = child?.wait { _, _ in }
            var mask = sigset_t()
            pthread_sigmask(SIG_BLOCK, nil, &mask)
            result.withLock { $0 = (sigismember(&mask, SIGCHLD) == 1, sigismember(&mask, SIGINT) == 1, ended) }
        }
        thread.start()
        let deadline = ContinuousClock.now + .seconds(20)
        while result.withLock({ $0 }) == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let seen = try #require(result.withLock { $0 })
        #expect(seen.ended == .exited(3))
        #expect(!seen.chld, "SIGCHLD is still blocked in the spawning thread")
        #expect(seen.int, "other signals must stay blocked")
    }

    /// A cgroup that `cgroup.kill` was written to is never handed to another step: on kernels that
    /// count kills (6.14 and later), a process made into it with CLONE_INTO_CGROUP is killed at birth.
    @Test("a killed job cgroup is not reused by the next job, and a killed step cgroup not by the next step",
          .enabled(if: canMakeRunCgroup, "this machine cannot make a cgroup v2 for a run"))
    func killedCgroupsAreNotReused() throws {
        let run = try #require(Self.runCgroup())
        defer { CgroupTree.kill(run, timeout: .seconds(5)); CgroupTree.remove(run) }
        let pool = CgroupPool()
        // A job whose step leaves a process behind: its cleanup has to kill the job's cgroup.
        let first = JobContainment(runCgroup: run, runTrackingID: "killtest", key: "a", pool: pool)
        let (leftBehind, firstCgroup) = try Self.runStep(first, "sleep 30 >/dev/null 2>&1 & exit 0")
        #expect(leftBehind == .exited(0))
        first.endAll()
        // The next job gets another cgroup, and its step runs.
        let second = JobContainment(runCgroup: run, runTrackingID: "killtest", key: "b", pool: pool)
        defer { second.endAll() }
        #expect(second.cgroup != first.cgroup)
        let (ran, _) = try Self.runStep(second, "exit 0")
        #expect(ran == .exited(0), "a step in a reused, killed cgroup is killed at birth")
        // A step killed with SIGKILL: the job's next step gets a fresh step cgroup and runs.
        let step = second.makeStep()
        let child = try ChildProcess(arguments: ["/bin/sh", "-c", "sleep 30"], environment: ["PATH": "/usr/bin:/bin"],
                                     directory: nil, containment: step)
        step.signalAll(SIGKILL)
        _ = child.wait { _, _ in }
        second.release(step)
        let (after, afterCgroup) = try Self.runStep(second, "exit 0")
        #expect(after == .exited(0))
        #expect(afterCgroup != step.cgroup)
        _ = firstCgroup
    }
}

@Suite("CgroupV2: where cgroup2 is mounted, from mountinfo")
struct CgroupMountInfoTests {
    @Test("the cgroup2 line's mount point, with optional fields or none, in a pure v2 or a hybrid setup; nil without cgroup2")
    func mountPoints() {
        let hybrid = """
            22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
            30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
            31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
            32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
            """
        #expect(CgroupV2.mountPoint(inMountInfo: hybrid) == "/sys/fs/cgroup/unified")
        let pure = "41 31 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n"
        #expect(CgroupV2.mountPoint(inMountInfo: pure) == "/sys/fs/cgroup")
        // A mount point whose name has a space (written \040), and a filesystem named like a dash field.
        let odd = """
            50 31 0:40 / /mnt/a\\040b rw - ext4 /dev/sda1 rw
            51 31 0:41 / /mnt/cg\\040two rw shared:3 master:1 - cgroup2 none rw
            """
        #expect(CgroupV2.mountPoint(inMountInfo: odd) == "/mnt/cg\\040two")
        #expect(CgroupV2.mountPoint(inMountInfo: "22 28 0:20 / /sys rw - sysfs sysfs rw\n") == nil)
        #expect(CgroupV2.mountPoint(inMountInfo: "") == nil)
        #expect(CgroupV2.mountPoint(inMountInfo: "garbage - cgroup2\n") == nil)
    }
}
