import Foundation
import NixActionsProcessKit
@testable import NixActionsEngine
import Testing
import TestSupport

@Suite("Buffered writers: flushed on a timer, never crash on a dead output")
struct BufferedWriterTests {
    @Test("bytes written and left in the buffer reach the file within a few flush intervals")
    func timerFlush() async throws {
        let fds = try #require(closeOnExecPipe().map { [$0.read, $0.write] })
        defer { close(fds[0]) }
        let writer = BufferedWriter(fd: fds[1], ownsDescriptor: true)
        #expect(writer.write("hello\n") == 0)
        #expect(writer.write("world\n") == 6)  // offsets of what was written
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        var buffer = [UInt8](repeating: 0, count: 64)
        var got = 0
        for _ in 0..<40 where got < 12 {  // at most 2 s; the interval is 50 ms
            try await Task.sleep(for: .milliseconds(50))
            let count = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress! + got, 64 - got) }
            if count > 0 { got += count }
        }
        #expect(String(decoding: buffer[0..<got], as: UTF8.self) == "hello\nworld\n")
        writer.close()
    }

    @Test("a write to a closed pipe is reported once and dropped; the writer goes on")
    func deadOutput() {
        signal(SIGPIPE, SIG_IGN)  // as the nixactions executable does: EPIPE instead of death
        // Close-on-exec: no child another test starts meanwhile may hold the read end open.
        guard let fds = closeOnExecPipe().map({ [$0.read, $0.write] }) else {
            Issue.record("no pipe")
            return
        }
        close(fds[0])
        let failures = FailureCount()
        let writer = BufferedWriter(fd: fds[1], ownsDescriptor: true, capacity: 16) { _ in failures.add() }
        for _ in 0..<10 { writer.write("more than sixteen bytes\n") }
        writer.flush()
        #expect(failures.count == 1)
        writer.close()
    }

    @Test("a lazily opened writer makes its file on the flusher's pass, not on write; closeSoon writes out, closes and says so")
    func lazyOpenAndCloseSoon() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.path + "/job.log"
        let opens = FailureCount()
        let openedOn = ThreadBox()
        let writer = BufferedWriter(opening: {
            opens.add()
            openedOn.set(pthread_self())
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
            return fd >= 0 ? fd : -errno
        })
        let writerThread = pthread_self()
        #expect(writer.write("one\n") == 0)
        #expect(writer.write("two\n") == 4)
        let closed = FailureCount()
        writer.closeSoon { closed.add() }
        for _ in 0..<100 where closed.count == 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(closed.count == 1, "the flusher closes within a few intervals")
        #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "one\ntwo\n")
        #expect(opens.count == 1)
        #expect(openedOn.get().map { pthread_equal($0, writerThread) == 0 } == true, "the file is made on the flusher's thread, not the writer's")
        // Closed: its descriptor is gone (no descriptor of this process points at the file).
        let holders = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) == path
        }
        #expect(holders.isEmpty, "the log's descriptor is closed: \(holders)")
        writer.close()  // idempotent
        #expect(closed.count == 1)
    }

    @Test("a writer of whole lines (events.jsonl) keeps room ahead of its file's end while it writes, and gives it back when it closes, on ext4 too (review 61 H1: the punch alone freed nothing there)")
    func roomKeptAndGivenBack() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.path + "/events.jsonl"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        let writer = BufferedWriter(fd: fd, ownsDescriptor: true, recovery: .records)
        for number in 0..<10 { writer.write("{\"event\":\"line \(number)\"}\n") }
        writer.flush()
        func allocated() -> Int {
            var info = stat()
            return stat(path, &info) == 0 ? Int(info.st_blocks) * 512 : -1
        }
        // The test folder's file system has fallocate (ext4 or tmpfs here): 1 MiB is kept.
        let kept = allocated()
        writer.close()
        let left = allocated()
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_size == 10 * 19, "the file holds the lines only: \(info.st_size)")
        #expect(kept >= 1 << 20, "no room kept while writing: \(kept) bytes allocated")
        #expect(left < 64 << 10, "room still kept after the close: \(left) bytes allocated (\(kept) while writing)")
    }

    @Test("a lazily opened writer whose buffer fills before the flusher's pass makes its file on the writing thread, at once, and loses nothing")
    func lazyOpenWhenFull() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.path + "/job.log"
        let openedOn = ThreadBox()
        let writer = BufferedWriter(opening: {
            openedOn.set(pthread_self())
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
            return fd >= 0 ? fd : -errno
        }, capacity: 4096)
        let writerThread = pthread_self()
        let line = String(repeating: "x", count: 99) + "\n"
        for _ in 0..<100 { writer.write(line) }  // 10,000 bytes: more than the buffer holds
        #expect(openedOn.get().map { pthread_equal($0, writerThread) != 0 } == true, "the full buffer made the file on the writer's thread")
        #expect(FileManager.default.fileExists(atPath: path))
        writer.close()
        #expect((try? String(contentsOfFile: path, encoding: .utf8)) == String(repeating: line, count: 100))
    }

    @Test("a lazily opened writer whose file cannot be made reports it once; one that never had a byte makes no file")
    func lazyOpenFailure() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let failures = FailureCount()
        let writer = BufferedWriter(opening: { -EMFILE }) { error in
            #expect(error == EMFILE)
            failures.add()
        }
        writer.write("lost\n")
        writer.flush()
        writer.write("lost too\n")
        writer.close()
        #expect(failures.count == 1)
        let path = temp.path + "/never.log"
        let empty = BufferedWriter(opening: { open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600) })
        empty.flush()
        empty.close()
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    final class ThreadBox: @unchecked Sendable {
        private let lock = NSLock()
        private var value: pthread_t?
        func set(_ thread: pthread_t) { lock.lock(); value = thread; lock.unlock() }
        func get() -> pthread_t? { lock.lock(); defer { lock.unlock() }; return value }
    }

    final class FailureCount: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func add() { lock.lock(); value += 1; lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return value }
    }
}
