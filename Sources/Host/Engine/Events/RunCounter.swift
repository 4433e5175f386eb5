import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `github.run_number` and `github.run_id` of a project: the number goes up by one each run, the
/// id is a number unique in the project (milliseconds since 1970, moved past the last one given).
/// Both live in `.nixactions/run-number` (`NUMBER ID`), read and written under an exclusive
/// `flock` so that two runs started at once get two numbers.
public enum RunCounter {
    public static let fileName = "run-number"

    /// The next number and id for the project whose `.nixactions` folder is `folder` (made when
    /// missing, mode 0755). When the file cannot be written, the number is 1 and the id the time.
    ///
    /// The project is the repository's: neither the folder nor the file is followed if it is a
    /// symbolic link (a committed `run-number` link would have the runner overwrite its target),
    /// and a file that is not a regular file of this user is not used.
    /// - Returns: also why the counter was not used although it is there (a symbolic link, not a
    ///   regular file, another user's), or nil: a run says so (audit 53: `run_number` stayed 1
    ///   silently).
    public static func next(in folder: String, now: Date = Date()) -> (number: Int, id: UInt64, refused: String?) {
        take(in: folder, now: now, write: true)
    }

    /// What `next` would give, without taking it (`run --dry-run`).
    public static func peek(in folder: String, now: Date = Date()) -> (number: Int, id: UInt64) {
        let taken = take(in: folder, now: now, write: false)
        return (taken.number, taken.id)
    }

    static func take(in folder: String, now: Date, write: Bool) -> (number: Int, id: UInt64, refused: String?) {
        let timeID = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        /// Not used: 1 and the time, and why when the folder or file is there but is not ours to use.
        func unused(_ path: String, _ error: Int32) -> (Int, UInt64, String?) {
            let why = error == ELOOP || error == ENOTDIR ? "\(path) is a symbolic link, which is not followed; github.run_number is 1 (security.md)" : nil
            return (1, timeID, why)
        }
        if write { _ = mkdir(folder, 0o755) }
        let folderFD = open(folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard folderFD >= 0 else { return unused(folder, errno) }
        defer { close(folderFD) }
        let flags = (write ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
        var fd = openat(folderFD, fileName, flags, 0o644)
        let path = folder + "/" + fileName
        // A project it cannot write (read-only, another user's folder): the number still comes
        // from the counter, and the run says it is not kept (audit 57 M4: 1, silently).
        var notKept: String?
        if fd < 0, write, [EROFS, EACCES, EPERM, ENOSPC, EDQUOT].contains(errno) {
            notKept = "cannot write \(path) (\(String(cString: strerror(errno)))): this run's number is not kept, the next run gets it again"
            fd = openat(folderFD, fileName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        }
        guard fd >= 0 else { return notKept.map { (1, timeID, $0 + "; github.run_number is 1") } ?? unused(path, errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return (1, timeID, nil) }
        guard info.st_mode & S_IFMT == S_IFREG else { return (1, timeID, "\(path) is not a regular file; github.run_number is 1 (security.md)") }
        guard info.st_uid == geteuid() else { return (1, timeID, "\(path) belongs to another user; github.run_number is 1 (security.md)") }
        let writing = write && notKept == nil
        guard flock(fd, writing ? LOCK_EX : LOCK_SH) == 0 else { return (1, timeID, nil) }
        defer { flock(fd, LOCK_UN) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = pread(fd, &buffer, buffer.count, 0)
        let text = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        let lastNumber = fields.first.flatMap { Int($0) } ?? 0
        let lastID = fields.count > 1 ? UInt64(fields[1]) ?? 0 : 0
        let number = lastNumber + 1
        let id = max(timeID, lastID + 1)
        let line = Array("\(number) \(id)\n".utf8)
        if writing {
            // The new line first, then the file cut to it: a write that fails (a full disk) leaves
            // the old counter whole, never an empty file (audit 57 M4: the next run was 1 again).
            if pwrite(fd, line, line.count, 0) == line.count {
                _ = ftruncate(fd, off_t(line.count))
            } else {
                let error = errno
                return (number, id, "cannot write \(path) (\(String(cString: strerror(error)))): this run's number is not kept, the next run gets it again")
            }
        }
        return (number, id, notKept)
    }
}
