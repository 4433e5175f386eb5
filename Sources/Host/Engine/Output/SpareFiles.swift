import Foundation
import NixActionsProcessKit

#if canImport(Glibc)
    import Glibc
#endif

/// Empty files made ahead of need, on a thread of their own, in a private folder of the run: a
/// job's log is a spare renamed into place, so a job never waits for its file system to allocate
/// an inode. (On the ext4 of our benchmark machine a file's creation costs about 1 ms once many
/// files were deleted nearby, a rename about 20 µs: the creation was a fifth of a chain's time per
/// job; see docs/benchmarks.md.) At most `count` spares exist at once, and the thread is woken
/// only when half of them are gone (one wake-up per `count / 2` jobs, not one per job); `stop`
/// removes what is left and returns only when the thread has ended, so nothing of it outlives the run.
final class SpareFiles: @unchecked Sendable {
    private let directory: String
    private let count: Int
    private let condition = NSCondition()
    private var spares: [(name: String, fd: Int32)] = []
    private var stopped = false
    private var serial = 0
    private let ended = DispatchSemaphore(value: 0)
    /// Spares are named `.spare-N`.
    static let prefix = ".spare-"

    init(directory: String, count: Int = 8) {
        self.directory = directory
        self.count = count
        let thread = Thread { [self] in
            loop()
            ended.signal()
        }
        thread.stackSize = 128 << 10
        thread.start()
    }

    private func loop() {
        condition.lock()
        defer { condition.unlock() }
        while !stopped {
            if spares.count >= count {
                condition.wait()
                continue
            }
            serial += 1
            let name = Self.prefix + String(serial)
            condition.unlock()
            let fd = open(directory + "/" + name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
            condition.lock()
            // The folder is gone, full or out of descriptors: jobs create their own logs.
            guard fd >= 0 else { return }
            if stopped {
                close(fd)
                unlink(directory + "/" + name)
                return
            }
            spares.append((name, fd))
        }
    }

    /// An open descriptor (write, append) of a new empty file `name` in the folder: a spare
    /// renamed to it. Nil when there is no spare at hand or `name` exists: then open it yourself.
    /// Callers serialize calls for one name (the reporter holds its lock).
    func take(as name: String) -> Int32? {
        condition.lock()
        guard !stopped, let spare = spares.popLast() else {
            condition.unlock()
            return nil
        }
        if spares.count == count / 2 { condition.signal() }
        condition.unlock()
        let target = directory + "/" + name
        switch FastFiles.renameNoReplace(directory + "/" + spare.name, target) {
        case nil: return spare.fd
        case EINVAL?, ENOSYS?:  // no RENAME_NOREPLACE here: check, then rename
            var info = stat()
            if lstat(target, &info) != 0, errno == ENOENT, rename(directory + "/" + spare.name, target) == 0 { return spare.fd }
        default: break
        }
        condition.lock()
        if stopped {
            condition.unlock()
            close(spare.fd)
            unlink(directory + "/" + spare.name)
        } else {
            spares.append(spare)
            condition.unlock()
        }
        return nil
    }

    /// Remove the spares left and end the thread (waits for it, a few milliseconds at most).
    func stop() {
        condition.lock()
        if stopped {
            condition.unlock()
            return
        }
        stopped = true
        let left = spares
        spares = []
        condition.signal()
        condition.unlock()
        for spare in left {
            close(spare.fd)
            unlink(directory + "/" + spare.name)
        }
        ended.wait()
    }
}
