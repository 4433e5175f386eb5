import CProcessSupport
import Foundation

/// Copies the project's files into a job's workspace, leaving out excluded names.
///
/// Never descends into the destination (the run directory may live inside the project, e.g. a
/// project in /tmp), and walks folders with an explicit stack rather than recursion.
public struct ProjectCopier {
    /// Names (matched against each path component, `fnmatch` globs) never copied.
    public let excludes: [String]
    /// Folders never copied nor entered: the run directory, where every job's workspace lives
    /// while other jobs are being copied.
    public let skipping: [String]

    public init(excludes: [String], skipping: [String]) {
        self.excludes = excludes
        self.skipping = skipping
    }

    /// Names are bytes from the folder to the syscalls: a name that is not UTF-8 (Latin-1 from an
    /// old archive) is copied as it is (audit 57 H2: made into a String, it was repaired into a
    /// name that does not exist and left out without a word, from plain copies and git checkouts).
    /// `cancelled` (asked every 64 entries; by default whether the calling task is cancelled)
    /// answering true stops it between two entries with `CancellationError`. A plugin passes its
    /// operation's `isCancelled`: a local job's start runs on the host's thread before its task is
    /// known to the plugin, so a cancel reaches it only through the host.
    public func copy(from source: URL, to destination: URL, cancelled: () -> Bool = { Task.isCancelled }) throws {
        let skipRoots = ([destination] + skipping.map { URL(fileURLWithPath: $0) }).map { RawPath($0.resolvingSymlinksInPath().path) }
        // The project itself gone (removed while the run went on) is not a folder that vanished
        // while it was copied: a job must not start in an empty workspace (audit 57 M1).
        var root = stat()
        let found = stat(source.path, &root) == 0
        guard found, root.st_mode & S_IFMT == S_IFDIR else { throw CopyFailure(unreadable: source.path, errno: found ? ENOTDIR : errno) }
        try walk([(RawPath(source.resolvingSymlinksInPath().path), RawPath(destination.path))], skipping: skipRoots, cancelled: cancelled)
    }

    /// Copy the file, symbolic link (as a link) or folder (with everything in it) at `source` to
    /// `destination`, replacing whatever is there (a link there is removed, never what it points
    /// to). With `merging`, a folder onto a folder is merged entry by entry instead. Names are
    /// bytes, as in `copy(from:to:)`: an artifact folder keeps names that are not UTF-8. FIFOs,
    /// sockets and devices are left out. A cancel of the calling task stops it with
    /// `CancellationError`.
    public static func copyItem(from source: String, to destination: String, merging: Bool = false) throws {
        try copyItem(RawPath(source), to: RawPath(destination), merging: merging)
    }

    /// Each entry of the folder `source` copied into the folder `destination` with
    /// `copyItem(from:to:merging:)`, names as bytes.
    public static func copyEntries(of source: String, into destination: String, merging: Bool = false) throws {
        let from = RawPath(source), to = RawPath(destination)
        for name in try names(in: from) { try copyItem(from.appending(name), to: to.appending(name), merging: merging) }
    }

    /// What the folder `source` holds, without the excluded names (at any depth, as tar's
    /// `--exclude` of a name) and the `skipping` paths (and `destination`, when it is inside),
    /// merged into the folder `destination`, as `tar -x` does it: a folder onto a folder is
    /// merged, anything else already at a path is replaced (a link there is removed, never what it
    /// points to); files, links and folders keep their modification times (tar's, which make and
    /// autotools read). Unlike tar, a file whose status changes while it is read is no error: a
    /// Git LFS object of a clone is a hard link to the origin's, and another clone linking it
    /// meanwhile changed its ctime, which failed `tar -c` ("file changed as we read it"). Names
    /// are bytes; `cancelled` is asked every 64 entries.
    public func merge(from source: String, into destination: String, cancelled: () -> Bool = { Task.isCancelled }) throws {
        let skipRoots = ([destination] + skipping).map { RawPath(URL(fileURLWithPath: $0).resolvingSymlinksInPath().path) }
        try walk([(RawPath(URL(fileURLWithPath: source).resolvingSymlinksInPath().path), RawPath(destination))], skipping: skipRoots,
                 merging: true, cancelled: cancelled)
    }

    /// `path` (not followed when a link) gets the access and modification times of `info`.
    static func setTimes(_ path: RawPath, _ info: stat) {
        let times = [info.st_atim, info.st_mtim]
        _ = path.with { name in times.withUnsafeBufferPointer { utimensat(AT_FDCWD, name, $0.baseAddress, AT_SYMLINK_NOFOLLOW) } }
    }

    static func copyItem(_ from: RawPath, to: RawPath, merging: Bool) throws {
        if Task.isCancelled { throw CancellationError() }
        var info = stat(), there = stat()
        guard from.with({ lstat($0, &info) }) == 0 else { throw CopyFailure(unreadable: from.shown, errno: errno) }
        let exists = to.with { lstat($0, &there) } == 0
        if merging, exists, info.st_mode & S_IFMT == S_IFDIR, there.st_mode & S_IFMT == S_IFDIR {
            for name in try names(in: from) { try copyItem(from.appending(name), to: to.appending(name), merging: true) }
            return
        }
        // Merging, what is there of another kind stays, and the copy stops (as GitHub's download
        // fails on it): a folder is never removed for a file, nor a file for a folder (audit 64
        // cache L2: a workspace folder and all it held were replaced by an artifact's file).
        if merging, exists, there.st_mode & S_IFMT == S_IFDIR {
            throw CopyFailure(path: to.shown, reason: "a folder is in the way of a file of the same name; nothing was removed")
        }
        if merging, exists, info.st_mode & S_IFMT == S_IFDIR, there.st_mode & S_IFMT == S_IFREG {
            throw CopyFailure(path: to.shown, reason: "a file is in the way of a folder of the same name; nothing was removed")
        }
        if exists {
            let error = to.with { nxa_remove_tree($0) }
            if error != 0 { throw CopyFailure(path: to.shown, errno: error) }
        }
        let copier = ProjectCopier(excludes: [], skipping: [])
        if let folder = try copier.place(from, at: to, info: info) { try copier.walk([folder], skipping: [], cancelled: { Task.isCancelled }) }
    }

    /// Copy what the folders of `start` hold into their targets, folder by folder with a stack.
    /// `merging` (`merge`): what is at a target already is merged (a folder) or replaced, and
    /// files, links and folders keep their modification times.
    func walk(_ start: [(RawPath, RawPath)], skipping skipRoots: [RawPath], merging: Bool = false, cancelled: () -> Bool) throws {
        var pending = start
        var folders: [(RawPath, stat)] = []  // merging: their times are set once they are filled
        var count = 0
        while let (from, to) = pending.popLast() {
            for name in try Self.names(in: from) where !isExcluded(name) {
                // Cancelled (the run's first signal, the job's time limit): stop between two
                // entries (audit 57 L2: a copy of 50,000 files ran 5 s past a signal).
                count &+= 1
                if count & 63 == 0, cancelled() { throw CancellationError() }
                let child = from.appending(name), target = to.appending(name)
                // The destination, the run directory and the other paths skipped are never copied
                // nor entered; a folder that holds one is copied without it (the project's
                // .nixactions without its runs/: audit 58 examples M3).
                if skipRoots.contains(where: { $0.bytes == child.bytes }) { continue }
                // A file that vanished while the project was being copied is not an error.
                var info = stat()
                guard child.with({ lstat($0, &info) }) == 0 else {
                    if errno == ENOENT { continue }
                    throw CopyFailure(unreadable: child.shown, errno: errno)
                }
                let kind = info.st_mode & S_IFMT
                var there = stat()
                if merging, target.with({ lstat($0, &there) }) == 0 {
                    if kind == S_IFDIR && there.st_mode & S_IFMT == S_IFDIR {
                        pending.append((child, target))
                        folders.append((target, info))
                        continue
                    }
                    let error = target.with { nxa_remove_tree($0) }
                    if error != 0 { throw CopyFailure(path: target.shown, errno: error) }
                }
                if let folder = try place(child, at: target, info: info) {
                    pending.append(folder)
                    if merging { folders.append((target, info)) }
                } else if merging, kind == S_IFREG || kind == S_IFLNK {
                    Self.setTimes(target, info)
                }
            }
        }
        // Deepest first: filling a folder changed its time, setting a child's does not.
        for (folder, info) in folders.reversed() { Self.setTimes(folder, info) }
    }

    /// Copy the entry `child` (`info` its lstat) to the new path `target`: a file's data, a
    /// link as a link, a folder made empty; returns the folder pair whose entries are still to copy.
    func place(_ child: RawPath, at target: RawPath, info: stat) throws -> (RawPath, RawPath)? {
        switch info.st_mode & S_IFMT {
        case S_IFLNK:
            var link = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)  // readlink leaves the NUL to us: zeros
            let length = child.with { readlink($0, &link, link.count - 1) }
            guard length >= 0 else {
                if errno == ENOENT { return nil }
                throw CopyFailure(unreadable: child.shown, errno: errno)
            }
            guard target.with({ symlink(link, $0) }) == 0 else { throw CopyFailure(path: target.shown, errno: errno) }
        case S_IFDIR:
            guard target.with({ mkdir($0, info.st_mode & 0o7777 | 0o700) }) == 0 || errno == EEXIST else {
                throw CopyFailure(path: target.shown, errno: errno)
            }
            return (child, target)
        case S_IFREG:
            // A clone or an in-kernel copy: no bytes pass through this process.
            let error = child.with { from in target.with { nxa_copy_file(from, $0) } }
            if error != 0, error != ENOENT {
                // Which side refused: the project's file, or the workspace.
                let unreadable = (error == EACCES || error == EPERM) && child.with({ access($0, R_OK) }) != 0
                throw unreadable ? CopyFailure(unreadable: child.shown, errno: error) : CopyFailure(path: target.shown, errno: error)
            }
        default:
            break  // sockets, fifos, devices: not project files
        }
        return nil
    }

    /// A path as the system takes it: bytes ending in NUL, passed to each call without a copy.
    struct RawPath {
        var bytes: [UInt8]
        init(_ text: String) { bytes = Array(text.utf8) + [0] }
        init(terminated bytes: [UInt8]) { self.bytes = bytes }

        /// `self/name`, `name` a NUL-terminated name from `names(in:)`.
        func appending(_ name: [UInt8]) -> RawPath {
            var joined = bytes
            joined[joined.count - 1] = UInt8(ascii: "/")
            joined += name
            return RawPath(terminated: joined)
        }

        func with<T>(_ body: (UnsafePointer<CChar>) -> T) -> T {
            bytes.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
        }

        /// As messages show it (bytes that are not UTF-8 as U+FFFD).
        var shown: String { String(decoding: bytes.dropLast(), as: UTF8.self) }
    }

    /// The names in a folder of the project, as NUL-terminated bytes; a folder that cannot be read
    /// is a `CopyFailure` naming it (Foundation's error named neither the folder nor the cause).
    static func names(in folder: RawPath) throws -> [[UInt8]] {
        guard let handle = folder.with({ opendir($0) }) else {
            let error = errno  // opendir's
            if error == ENOENT { return [] }  // vanished while the project was being copied
            throw error == EACCES || error == EPERM ? CopyFailure(unreadable: folder.shown, errno: error) : CopyFailure(path: folder.shown, errno: error)
        }
        defer { closedir(handle) }
        var names: [[UInt8]] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) + [0] }
            if name == [UInt8(ascii: "."), 0] || name == [UInt8(ascii: "."), UInt8(ascii: "."), 0] { continue }
            names.append(name)
        }
        return names
    }

    public struct CopyFailure: Error, LocalizedError {
        public let path: String
        public let reason: String
        /// The system's error number, when one caused it.
        public let errno: Int32?
        /// The project's own file or folder could not be read (not the workspace written).
        public let isUnreadableSource: Bool
        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
            self.errno = nil
            isUnreadableSource = false
        }
        public init(path: String, errno: Int32) {
            self.path = path
            self.reason = String(cString: strerror(errno))
            self.errno = errno
            isUnreadableSource = false
        }
        /// `path`, in the project, cannot be read by this user.
        public init(unreadable path: String, errno: Int32) {
            self.path = path
            self.reason = String(cString: strerror(errno))
            self.errno = errno
            isUnreadableSource = true
        }

        /// What to do about it: a shortage of descriptors says so (`DescriptorShortage`), a project
        /// file this user cannot read is named, anything else points at the run folder.
        public var hint: String {
            if let errno, DescriptorShortage.matches(errno) { return DescriptorShortage.hint(errno) }
            if isUnreadableSource {
                return "each job gets a copy of the project folder: make it readable by this user, move it out of the project, "
                    + "or commit the project to git (jobs then get a clone of its last commit)"
            }
            return "check that the run directory is writable and the disk has space"
        }
        public var errorDescription: String? {
            isUnreadableSource ? "cannot read \(path) in the project: \(reason)" : "cannot copy \(path): \(reason)"
        }
    }

    /// `name`: NUL-terminated.
    func isExcluded(_ name: [UInt8]) -> Bool {
        excludes.isEmpty ? false : name.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { name in excludes.contains { fnmatch($0, name.baseAddress!, 0) == 0 } }
        }
    }
}
