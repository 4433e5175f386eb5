import CProcessSupport
import Foundation
@testable import NixActionsProcessKit
import Synchronization
import Testing
import TestSupport

/// What a spawned process gets: exactly the environment it was given (laid out in one block), and
/// its own output, even while many processes are waited for at once (the read buffers are reused).
@Suite("ChildProcess: the environment and the output of a spawned process")
struct ChildEnvironmentTests {
    /// The child's environment as `env -0` prints it.
    static func environment(of given: [String: String]) throws -> [String: String] {
        let child = try ChildProcess(arguments: ["/usr/bin/env", "-0"], environment: given, directory: nil)
        var output: [UInt8] = []
        #expect(child.wait { stream, bytes in if stream == 1 { output += bytes } } == .exited(0))
        return try Self.parse(output.split(separator: 0, omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) })
    }

    /// `KEY=VALUE` entries as a dictionary; a name seen twice fails the test.
    static func parse(_ entries: [String]) throws -> [String: String] {
        var seen: [String: String] = [:]
        for text in entries {
            let equals = try #require(text.firstIndex(of: "="))
            let name = String(text[..<equals])
            #expect(seen[name] == nil, "\(name) is in the environment twice")
            seen[name] = String(text[text.index(after: equals)...])
        }
        return seen
    }

    /// The entries of the block `withEnvironmentBlock` passes to its body.
    static func block(_ environment: [String: String], overriding extra: (key: String, value: String)?) -> [String] {
        withEnvironmentBlock(environment, overriding: extra) { envp in
            var entries: [String] = []
            var index = 0
            while let entry = envp[index] {
                entries.append(String(cString: entry))
                index += 1
            }
            return entries
        }
    }

    @Test("a descriptor open without close-on-exec is not inherited: close_range, else /proc/self/fd, else every number",
          arguments: [0, 1, 2])
    func noInheritedDescriptors(level: Int32) throws {
        // What Foundation's `Pipe` makes: a pipe whose ends any child would inherit.
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { fds.forEach { close($0) } }
        nxa_test_close_fallback(level)
        let child: ChildProcess
        do {
            defer { nxa_test_close_fallback(0) }
            // `; :` keeps a shell that would exec its last command (bash) from becoming `ls`.
            child = try ChildProcess(arguments: ["/bin/sh", "-c", "ls /proc/$$/fd; :"], environment: ["PATH": "/usr/bin:/bin"], directory: nil)
        }
        var output: [UInt8] = []
        #expect(child.wait { stream, bytes in if stream == 1 { output += bytes } } == .exited(0))
        #expect(String(decoding: output, as: UTF8.self).split(separator: "\n") == ["0", "1", "2"])
    }

    @Test("a folder with the program's name early on PATH is passed over, as execvp does, by the spawn and by FastFiles.resolve")
    func folderOnPathIsSkipped() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let first = temp.path + "/first", second = temp.path + "/second"
        try FileManager.default.createDirectory(atPath: first + "/nxa-probe-tool", withIntermediateDirectories: true)
        try temp.write("second/nxa-probe-tool", "#!/bin/sh\necho from-second\n")
        chmod(second + "/nxa-probe-tool", 0o755)
        let searchPath = "\(first):\(second):/usr/bin:/bin"
        #expect(FastFiles.resolve("nxa-probe-tool", searchPath: searchPath) == second + "/nxa-probe-tool")
        let child = try Self.spawnWhenNotBusy { try ChildProcess(arguments: ["nxa-probe-tool"], environment: ["PATH": searchPath], directory: nil) }
        var output: [UInt8] = []
        #expect(child.wait { stream, bytes in if stream == 1 { output += bytes } } == .exited(0))
        #expect(String(decoding: output, as: UTF8.self) == "from-second\n")
        // Only the folder: the spawn fails, as execvp would (permission denied), not by running it.
        #expect(throws: SpawnError.self) {
            try ChildProcess(arguments: ["nxa-probe-tool"], environment: ["PATH": first], directory: nil)
        }
    }

    @Test("a script without a '#!' line is run by /bin/sh with its path and arguments, as execvp does; so is a file the kernel cannot run, which then fails")
    func scriptWithoutInterpreterLine() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let script = try temp.write("bin/nxa-plain-script", "printf '%s|' \"$0\" \"$@\"; echo; exit 3\n")
        chmod(script, 0o755)
        for argv0 in ["nxa-plain-script", script] {
            let child = try Self.spawnWhenNotBusy {
                try ChildProcess(arguments: [argv0, "one", "two words"],
                                 environment: ["PATH": temp.path + "/bin:/usr/bin:/bin"], directory: nil)
            }
            var output: [UInt8] = []
            #expect(child.wait { stream, bytes in if stream == 1 { output += bytes } } == .exited(3))
            #expect(String(decoding: output, as: UTF8.self) == script + "|one|two words|\n")
        }
        // A file that starts like an ELF binary but is not one: execve says ENOEXEC, so (as with
        // execvp) /bin/sh is given it, and fails on it: the spawn succeeds, the run fails, with the
        // shell's message on standard error.
        let binary = try temp.write("bin/nxa-bad-binary", "\u{7F}ELF\u{0}\u{0}\u{0}\u{1}\u{2}")
        chmod(binary, 0o755)
        let child = try Self.spawnWhenNotBusy { try ChildProcess(arguments: [binary], environment: ["PATH": "/usr/bin:/bin"], directory: nil) }
        var errors: [UInt8] = []
        let end = child.wait { stream, bytes in if stream == 2 { errors += bytes } }
        #expect(end != .exited(0))
        #expect(String(decoding: errors, as: UTF8.self).contains(binary))
    }

    /// Spawn, again while the file is busy (ETXTBSY): a test that writes a program and runs it
    /// races with other tests' spawns in this process, whose children hold a copy of the file's
    /// write descriptor between their fork and their exec.
    static func spawnWhenNotBusy(_ spawn: () throws -> ChildProcess) throws -> ChildProcess {
        for _ in 0..<100 {
            do { return try spawn() } catch let error as SpawnError where error.errno == ETXTBSY { usleep(10_000) }
        }
        return try spawn()
    }

    @Test("the tracking variable replaces one of the same name, or is added; every other variable is there once")
    func trackingOverride() throws {
        let name = JobContainment.trackingVariable
        let replaced = Self.block(["A": "1", name: "old", "B": ""], overriding: (name, "new"))
        #expect(replaced.count == 3)
        #expect(try Self.parse(replaced) == ["A": "1", name: "new", "B": ""])
        let added = Self.block(["A": "1"], overriding: (name, "new"))
        #expect(added.count == 2)
        #expect(try Self.parse(added) == ["A": "1", name: "new"])
        #expect(Self.block([:], overriding: nil).isEmpty)
        #expect(Self.block(["A": "1"], overriding: nil) == ["A=1"])
    }

    @Test("the child's environment is exactly the one given: empty values, '=' and newlines in values, unicode, many variables")
    func exactEnvironment() throws {
        var given = ["PATH": "/usr/bin:/bin", "EMPTY": "", "EQUALS": "a=b=c", "LINES": "one\ntwo\n", "UNICODE": "žluťoučký 🐴"]
        for index in 0..<300 { given["VAR_\(index)"] = String(repeating: "v\(index)", count: index % 40) }
        given[String(repeating: "K", count: 5000)] = String(repeating: "long", count: 10_000)
        #expect(try Self.environment(of: given) == given)
        #expect(try Self.environment(of: [:]) == [:])
    }

    @Test("80 children printing at once, each waited for on a thread of its own, each get their own bytes back")
    func concurrentOutputs() async throws {
        // More waits at once than the 64 read buffers kept for reuse.
        let count = 80
        let results = Collected()
        // The waiting is done off Swift's cooperative threads, which other suites need meanwhile.
        let finished = try await offThePool {
            let start = DispatchSemaphore(value: 0)
            let done = DispatchGroup()
            for index in 0..<count {
                done.enter()
                Thread {
                    defer { done.leave() }
                    start.wait()
                    Self.printAndWait(index, into: results)
                }.start()
            }
            for _ in 0..<count { start.signal() }
            return done.wait(timeout: .now() + 120) == .success
        }
        #expect(finished)
        let all = results.values.withLock { $0 }
        #expect(all.count == count)
        for index in 0..<count {
            let (ended, out, err) = try #require(all[index])
            #expect(ended == .exited(0))
            let line = Array("child \(index) says hello\n".utf8)
            let expected = Array((0..<(300_000 / line.count + 1)).flatMap { _ in line }.prefix(300_000))
            // Compared as a Bool, so that a failure names the first differing byte instead of printing 300 KB.
            if out != expected {
                let firstDifference = (0..<min(out.count, expected.count)).first { out[$0] != expected[$0] } ?? min(out.count, expected.count)
                Issue.record("child \(index): \(out.count) bytes, the first difference at byte \(firstDifference)")
            }
            #expect(err == Array("err \(index)\n".utf8))
        }
    }

    /// What each child printed, and how it ended, by its index.
    final class Collected: Sendable {
        let values = Mutex<[Int: (Termination, [UInt8], [UInt8])]>([:])
    }

    static func printAndWait(_ index: Int, into results: Collected) {
        // 300 KB on stdout and a line on stderr: several reads of the 64 KiB buffer each.
        let script = "yes 'child \(index) says hello' | head -c 300000; echo 'err \(index)' >&2"
        guard let child = try? ChildProcess(arguments: ["/bin/sh", "-c", script], environment: ["PATH": "/usr/bin:/bin"],
                                            directory: nil) else { return }
        var out: [UInt8] = []
        var err: [UInt8] = []
        let ended = child.wait { stream, bytes in
            if stream == 1 { out += bytes } else { err += bytes }
        }
        results.values.withLock { $0[index] = (ended, out, err) }
    }
}
