import Foundation
import NixActionsProcessKit
@testable import NixActionsEngine
import Testing
import TestSupport

/// The programs the host runs itself (git, tar) through `HostCommand`.
@Suite("HostCommand: the host's git and tar get only their standard streams, every byte of output, and stop when told")
struct HostCommandTests {
    @Test("a descriptor the host holds open without close-on-exec is not inherited: the child has 0, 1 and 2 only")
    func onlyStandardDescriptors() throws {
        // What Foundation's `Pipe` makes: a pipe whose ends any child would inherit.
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { fds.forEach { close($0) } }
        // `; :` keeps a shell that would exec its last command (bash) from becoming `ls`.
        let listed = try HostCommand.run(["/bin/sh", "-c", "ls /proc/$$/fd; :"])
        #expect(listed.status == 0)
        #expect(String(decoding: listed.output, as: UTF8.self).split(separator: "\n") == ["0", "1", "2"])
        // No child holds the write end: closing ours ends the reader's wait at once.
        close(fds[1])
        fds[1] = -1
        var byte: UInt8 = 0
        #expect(read(fds[0], &byte, 1) == 0)
    }

    @Test("every byte of a large output arrives; standard error keeps its last 4 KiB; the exit status is the program's")
    func output() throws {
        let script = "head -c 3000000 /dev/zero | tr '\\0' x; i=0; while [ $i -lt 2000 ]; do echo error-line-$i >&2; i=$((i+1)); done; exit 3"
        let outcome = try HostCommand.run(["/bin/sh", "-c", script])
        #expect(outcome.status == 3)
        #expect(outcome.output.count == 3_000_000)
        #expect(outcome.output.allSatisfy { $0 == UInt8(ascii: "x") })
        #expect(outcome.errors.utf8.count <= 4096)
        #expect(outcome.errors.hasSuffix("error-line-1999\n"))
        #expect(!outcome.errors.contains("error-line-0\n"))
    }

    @Test("output a background process keeps open past the drain time is a failure, not output cut short in silence")
    func outputHeldOpen() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let pidFile = temp.path + "/bg.pid"
        let outcome = try HostCommand.run(["/bin/sh", "-c", "sleep 30 & echo $! > \(pidFile); echo first"],
                                          drainAfter: .milliseconds(300))
        if let pid = pid_t((try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") {
            kill(pid, SIGKILL)
        }
        #expect(outcome.status == 0)
        #expect(String(decoding: outcome.output, as: UTF8.self) == "first\n")
        #expect(!outcome.outputEnded)
        #expect(outcome.failure?.contains("did not end") == true)
        // Without a holder the same command's output ends.
        let plain = try HostCommand.run(["/bin/sh", "-c", "echo first"], drainAfter: .milliseconds(300))
        #expect(plain.outputEnded && plain.failure == nil)
    }

    @Test("a reader that refuses more output stops the program: it is killed and its status says so")
    func refused() throws {
        var chunks = 0
        let outcome = try HostCommand.stream(["yes"]) { _ in
            chunks += 1
            return chunks < 3
        }
        #expect(outcome.status == 128 + SIGKILL)
        #expect(chunks == 3)
    }

    @Test("no source of the host, the plugins or the tests starts a process with Foundation's Process or makes a Foundation Pipe (on Linux its waitUntilExit can wait for ever for a child that has ended)")
    func noFoundationProcess() throws {
        var offenders: [String] = []
        var scanned = 0
        for folder in ["Sources", "Plugins", "Tests"] {
            let root = packageDirectory.appendingPathComponent(folder).path
            let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
            for file in files where file.hasSuffix(".swift") && !file.hasSuffix("/HostCommandTests.swift") {
                let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
                scanned += 1
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                    if Self.calls("Process()", in: code) || Self.calls("Process.run(", in: code) || Self.calls("Pipe()", in: code) { offenders.append("\(folder)/\(file):\(number + 1)") }
                }
            }
        }
        #expect(scanned > 300)
        #expect(offenders.isEmpty, "use ProcessKit's ChildProcess (HostCommand) and closeOnExecPipe(); in tests runCommand, LaunchedProcess and ChildPipe: \(offenders)")
    }

    /// Whether `code` holds `call` as a name of its own (`Pipe()`, not `closeOnExecPipe()`).
    static func calls(_ call: String, in code: Substring) -> Bool {
        var rest = code[...]
        while let range = rest.range(of: call) {
            let before = range.lowerBound == code.startIndex ? nil : code[code.index(before: range.lowerBound)]
            if !(before.map { $0.isLetter || $0.isNumber || $0 == "_" } ?? false) { return true }
            rest = rest[range.upperBound...]
        }
        return false
    }

    @Test("a program that is not there is a spawn error naming it")
    func missing() {
        let error = #expect(throws: SpawnError.self) { try HostCommand.run(["nixactions-no-such-program"]) }
        #expect(error.map { "\($0)" }?.contains("nixactions-no-such-program") == true)
    }
}
