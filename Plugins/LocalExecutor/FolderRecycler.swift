import Foundation
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Finished jobs' folders, emptied and kept for the next job (`jobs/.free-N`, holding an empty
/// `workspace` and `tmp`), on a thread of its own.
///
/// On a journaling file system with online discard, making and removing three folders costs a
/// short job more than its step does, so a job takes a finished job's folder by renaming it. The
/// checks that make a folder safe to hand on (both subfolders empty, no links, a fresh mode) take
/// a dozen system calls; they run here, off the jobs' path: `finished` only queues the folder. The
/// thread is woken once per `batch` finished jobs, or when the free folders run low (and there is
/// something to recycle), never once per job; it also looks every `delay` (50 ms, idle or not, as
/// the output flusher does), so a finished job's files never stay long. A job that finds no free folder makes its own.
///
/// Finished steps' script files are removed here too (`discard`): a step's result does not wait
/// for tmpfs to free its script.
///
/// `stop` ends the thread after the folder it is working on (it waits for that); folders and files
/// queued or kept are left for whoever removes their folders.
final class FolderRecycler: @unchecked Sendable {
    private let root: String
    private let limit: Int
    private let batch: Int
    private let condition = NSCondition()
    private var pending: [String] = []
    private var files: [String] = []
    private var free: [String] = []
    private var serial = 0
    private var stopped = false
    private var running = false
    private let ended = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - root: the folder the job folders are in (`RUN/jobs`); free ones are `root/.free-N`.
    ///   - limit: at most this many free folders are kept; the rest are removed.
    ///   - batch: finished folders that wake the thread.
    init(root: String, limit: Int = 64, batch: Int = 4) {
        self.root = root
        self.limit = limit
        self.batch = batch
    }

    /// The job of `directory` has finished (its processes have ended): empty it and keep it.
    func finished(_ directory: String) {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else { return }
        pending.append(directory)
        startIfNeeded()
        if pending.count >= batch || free.count < 2 {
            condition.signal()
        }
    }

    /// The step that ran `path` has ended: remove the file.
    func discard(_ path: String) {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else {
            unlink(path)
            return
        }
        files.append(path)
        startIfNeeded()
        if files.count >= batch * 4 {
            condition.signal()
        }
    }

    /// Rename a free folder to `directory`; false when there is none at hand (make one).
    func take(as directory: String) -> Bool {
        while true {
            condition.lock()
            guard !stopped, let folder = free.popLast() else {
                if !stopped && !pending.isEmpty {
                    condition.signal()
                }
                condition.unlock()
                return false
            }
            if free.count < 2 && !pending.isEmpty {
                condition.signal()
            }
            condition.unlock()
            if rename(folder, directory) == 0 { return true }
            FastFiles.removeTree(folder)
        }
    }

    /// Make a new job folder (holding an empty `workspace` and `tmp`) as `directory`, for a job
    /// that found no free one; false when it could not be made or renamed there (a folder already
    /// at `directory`: the caller then makes the folders in place, as before).
    ///
    /// The folders are made inside a batch folder of `root` (`.new-<token>`, one per
    /// `freshBatch` new job folders), not in `root` itself: `root` carries ext4's
    /// top-of-hierarchy flag (`FastFiles.spreadSubfolders`), so each folder made straight in it
    /// costs a scan of every block group's counters (Orlov's spread), while one made inside a batch
    /// folder is placed beside it: 0.12 ms of CPU per new job folder instead of 0.25 ms (`bench.py
    /// folders`). Each batch folder still gets a group of its own, away from the inodes earlier runs
    /// freed (docs/benchmarks.md, rounds 17 and 20). A rename keeps the folder where it was made,
    /// and the job's path stays `root/<job>`.
    func makeFresh(as directory: String) -> Bool {
        let (batch, index) = fresh.withLock { state -> (String?, Int) in
            if state.batch == nil || state.made >= Self.freshBatch {
                state.batch = makeBatchFolder()
                state.made = 0
            }
            state.made += 1
            return (state.batch, state.made)
        }
        guard let batch else { return false }
        let folder: String = batch + "/" + String(index)
        let folders: [String] = [folder, folder + "/workspace", folder + "/tmp"]
        guard folders.allSatisfy({ mkdir($0, 0o777) == 0 }),
              rename(folder, directory) == 0
        else {
            FastFiles.removeTree(folder)
            return false
        }
        return true
    }

    /// New job folders per batch folder: a bad group (one full of inodes freed seconds ago,
    /// which ext4 skips one by one) costs at most this many folders.
    static let freshBatch = 32

    /// The batch folder new job folders are made in now, and how many it has had.
    private let fresh = Mutex<(batch: String?, made: Int)>((nil, 0))

    /// `root/.new-<token>`, making `root` (and the run folder above it, if need be) with the spread
    /// flag when it is not there yet.
    private func makeBatchFolder() -> String? {
        var random = SystemRandomNumberGenerator()
        let path = root + "/.new-" + String(random.next() as UInt64, radix: 36)
        if mkdir(path, 0o777) == 0 { return path }
        guard errno == ENOENT, (try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)) != nil
        else { return nil }
        // Each batch's folder is placed by the file system where it sees fit, not all in one place
        // beside those earlier runs removed.
        FastFiles.spreadSubfolders(root)
        return mkdir(path, 0o777) == 0 ? path : nil
    }

    /// End the thread (waits for the folder in hand, never for the queue).
    func stop() {
        condition.lock()
        let wait = running && !stopped
        stopped = true
        condition.signal()
        condition.unlock()
        if wait { ended.wait() }
    }

    private func startIfNeeded() {
        guard !running else { return }
        running = true
        let thread = Thread { [self] in
            loop()
            ended.signal()
        }
        thread.stackSize = 128 << 10
        thread.start()
    }

    private func loop() {
        condition.lock()
        while !stopped {
            // Between wakes (a full batch, few free folders, or every `delay`) finished jobs queue
            // up; each wake handles all of them, so none waits longer than `delay`.
            if files.isEmpty && pending.isEmpty {
                condition.wait(until: Date(timeIntervalSinceNow: Self.delay))
                continue
            }
            if !files.isEmpty {
                let remove = files
                files = []
                condition.unlock()
                for path in remove { unlink(path) }
                condition.lock()
                continue
            }
            let directory = pending.removeFirst()
            let room = free.count < limit
            condition.unlock()
            let fit = room && Self.emptied(directory)
            condition.lock()
            if fit {
                // Renamed and listed under the lock: a free folder on disk is one `take` can have.
                serial += 1
                let name = root + "/.free-" + String(serial)
                if rename(directory, name) == 0 {
                    free.append(name)
                    continue
                }
            }
            condition.unlock()
            FastFiles.removeTree(directory)
            condition.lock()
        }
        condition.unlock()
    }

    /// The longest a finished folder or script waits for the thread.
    static let delay: TimeInterval = 0.05

    /// Empty `directory`'s `workspace` and `tmp`; false (the caller removes the folder) when
    /// anything in it resists: something beside them, or a step that replaced one of them by a
    /// link (emptying refuses links, and the whole folder is removed instead: the link itself,
    /// never what it points to) or changed its mode (the next job gets a fresh folder's).
    static func emptied(_ directory: String) -> Bool {
        guard let freshMode else { return false }
        return FastFiles.emptySubfolders(directory, ["workspace", "tmp"], mode: freshMode) == nil
    }

    /// The mode a new folder gets (0777 less the umask).
    /// Read from `/proc/self/status` (`umask()` cannot be read without being set, which would race
    /// with other threads making files); nil, and no reuse, where it is not there.
    /// Read as bytes: Foundation's `trimmingCharacters` bridges through NSString, a quarter of a
    /// millisecond on the first job's end.
    static let freshMode: mode_t? = {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") })
        else { return nil }
        let digits = line.utf8.dropFirst("Umask:".utf8.count).filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
        guard let mask = mode_t(String(decoding: digits, as: UTF8.self), radix: 8) else { return nil }
        return 0o777 & ~mask
    }()
}
