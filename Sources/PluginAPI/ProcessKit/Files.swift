import CProcessSupport
import Foundation
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A pipe whose two ends are close-on-exec from the moment they exist (`pipe2` with
/// `O_CLOEXEC`): no child inherits them, not even one that another thread starts while the pipe
/// is made (a `pipe` followed by `fcntl(FD_CLOEXEC)` leaves that moment open). A child meant to
/// have an end gets it `dup2`ed onto its 0, 1 or 2, which clears the flag there.
/// - Returns: the read and write ends; nil when no pipe could be made (`errno` says why).
public func closeOnExecPipe() -> (read: Int32, write: Int32)? {
    var fds: [Int32] = [-1, -1]
    let rc = nxa_pipe_cloexec(&fds)
    guard rc == 0 else {
        errno = rc
        return nil
    }
    return (fds[0], fds[1])
}

/// A user (and group) files are handed to: the user a container's processes run as, when it is
/// not root, so that they can use what this process (root) made for them.
public struct FileOwner: Sendable, Hashable {
    public var uid: uid_t
    /// nil: the group is left as it is.
    public var gid: gid_t?

    public init(uid: uid_t, gid: gid_t?) {
        self.uid = uid
        self.gid = gid
    }

    /// `UID` or `UID:GID` in digits; nil for anything else (a name needs the image's own files).
    public init?(numeric spec: String) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let uid = parts.first.flatMap({ uid_t($0) }) else { return nil }
        var gid: gid_t?
        if parts.count == 2 {
            guard let number = gid_t(parts[1]) else { return nil }
            gid = number
        }
        self.init(uid: uid, gid: gid)
    }

    /// Whether `spec` (a container's `--user`) is root: empty, `0`, `root`, with any group.
    public static func isRoot(_ spec: String) -> Bool {
        let user = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return user.isEmpty || user == "0" || user == "root"
    }

    /// Give `path` itself (never what a symbolic link points to) to this owner. Returns an errno.
    public func apply(to path: String) -> Int32? {
        lchown(path, uid, gid ?? gid_t.max) == 0 ? nil : errno
    }

    /// Give `path` and everything under it to this owner, never following a symbolic link: the
    /// walk goes by descriptor (`openat` with `O_NOFOLLOW`, `fchownat` with
    /// `AT_SYMLINK_NOFOLLOW`), so a process of the job that swaps a folder for a link while the
    /// walk runs cannot turn it to files outside (review 48: by path, root could have been made
    /// to give away a file of this machine). `path` itself is checked not to be a link. Returns
    /// the first errno (and goes on with the rest).
    ///
    /// `base`: the folder `path` lies in (or is), one the job's processes cannot replace (a mount
    /// point of its container). The parts of `path` below it are opened one by one without
    /// following a link (`nxa_open_beneath`): a link swapped in for a folder on the way is refused
    /// (ELOOP), never followed out of `base`. A `path` outside `base` is refused (EXDEV).
    public func applyTree(to path: String, below base: String) -> Int32? {
        guard let (parent, name) = Self.openParent(of: path, below: base) else { return errno }
        defer { close(parent) }
        guard let name else {
            let fd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            return fd >= 0 ? applyTree(directory: fd) : errno
        }
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return errno }
        if info.st_mode & S_IFMT != S_IFDIR {
            return fchownat(parent, name, uid, gid ?? gid_t.max, AT_SYMLINK_NOFOLLOW) == 0 ? nil : errno
        }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        return applyTree(directory: fd)
    }

    /// The folder that holds `path`, opened beneath `base` without following a link, and the
    /// last part of `path` (nil when `path` is `base`). nil with `errno` set when it cannot be
    /// opened, or EXDEV when `path` is not `base` or inside it.
    static func openParent(of path: String, below base: String) -> (Int32, String?)? {
        let parts: [Substring]
        if path == base {
            parts = []
        } else if path.hasPrefix(base == "/" ? "/" : base + "/") {
            parts = path.dropFirst(base == "/" ? 1 : base.count + 1).split(separator: "/")
        } else {
            errno = EXDEV
            return nil
        }
        let top = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard top >= 0 else { return nil }
        guard let last = parts.last else { return (top, nil) }
        if last == "." || last == ".." {
            close(top)
            errno = EXDEV
            return nil
        }
        let parent = nxa_open_beneath(top, parts.dropLast().joined(separator: "/"), O_RDONLY | O_DIRECTORY)
        let saved = errno
        close(top)
        guard parent >= 0 else {
            errno = saved
            return nil
        }
        return (parent, String(last))
    }

    /// `fd`: an open folder, closed here. At most 1,024 folders deep (a deeper chain is left
    /// with ELOOP): the walk recurses.
    private func applyTree(directory fd: Int32, depth: Int = 0) -> Int32? {
        guard depth < 1024 else {
            close(fd)
            return ELOOP
        }
        var first: Int32? = fchown(fd, uid, gid ?? gid_t.max) == 0 ? nil : errno
        guard let stream = fdopendir(fd) else {
            let failure = errno
            close(fd)
            return first ?? failure
        }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name == [46] || name == [46, 46] { continue }
            let cName = name.map { CChar(bitPattern: $0) } + [0]
            // A folder is given by its descriptor as it is walked; anything else (a link itself) here.
            let child = openat(fd, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let error = child >= 0 ? applyTree(directory: child, depth: depth + 1)
                : fchownat(fd, cName, uid, gid ?? gid_t.max, AT_SYMLINK_NOFOLLOW) == 0 ? nil : errno
            if let error, first == nil { first = error }
        }
        return first
    }

    /// Give the folders from `base` (exclusive) down to `path` (exclusive) to this owner, each only
    /// if root owns it: what `mkdir -p` made on the way to a root a put wrote (review 48: a
    /// download to `out/dist` left `out/` root's). Each folder is opened from the one above it
    /// without following a link, and given by its descriptor.
    public func applyAncestors(of path: String, below base: String) -> Int32? {
        guard path.hasPrefix(base + "/") else { return nil }
        var current = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard current >= 0 else { return errno }
        defer { close(current) }
        var first: Int32?
        for part in path.dropFirst(base.count + 1).split(separator: "/").dropLast() where part != "." {
            guard part != ".." else { return first ?? EXDEV }
            let child = openat(current, String(part), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { break }
            close(current)
            current = child
            var info = stat()
            guard fstat(child, &info) == 0 else { break }
            if info.st_uid == 0, fchown(child, uid, gid ?? gid_t.max) != 0, first == nil { first = errno }
        }
        return first
    }
}

/// Room on the file system kept for a file ahead of its end (`fallocate`, the size unchanged).
public enum FileRoom {
    /// Keep room for `length` bytes from `offset`; false where it cannot (a full disk, no support).
    @discardableResult
    public static func keep(_ fd: Int32, from offset: UInt64, length: UInt64) -> Bool {
        keeping(fd, from: offset, length: length) == 0
    }

    /// `keep`, saying why not: 0, or the errno (ENOSPC or EDQUOT for a full disk).
    public static func keeping(_ fd: Int32, from offset: UInt64, length: UInt64) -> Int32 {
        nxa_keep_room(fd, Int64(offset), Int64(length), 0)
    }

    /// Give back the room kept from `offset` (the file's end) on (`length` bytes of it). ext4
    /// ignores a hole punched from the end of a file; a truncation to the file's own size frees
    /// what lies past it there (and on tmpfs the punch does).
    public static func release(_ fd: Int32, from offset: UInt64, length: UInt64) {
        _ = nxa_keep_room(fd, Int64(offset), Int64(length), 1)
        var info = stat()
        if fstat(fd, &info) == 0 { _ = ftruncate(fd, info.st_size) }
    }
}

/// Small file operations for the per-step hot path, without Foundation's atomic writes
/// (temporary file, rename and fsync per call).
public enum FastFiles {
    /// Write `text` to `path` (created with mode 0600, truncated). Returns an errno on failure.
    public static func write(_ text: String, to path: String) -> Int32? {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var text = text
        return text.withUTF8 { bytes -> Int32? in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
    }

    /// Make `path` a new empty file (0600), whatever was there: removed first, then created with
    /// O_EXCL, so a link or a named pipe planted at the name is never followed or opened (a FIFO
    /// would block the caller). Returns the errno of a failure.
    public static func createEmpty(_ path: String) -> Int32? {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return errno }
        close(fd)
        return nil
    }

    /// Most bytes `take` reads by default (16 MiB): the size limit of a step's GITHUB_OUTPUT, GITHUB_ENV,
    /// GITHUB_PATH and GITHUB_STEP_SUMMARY files. The host refuses a file that comes back longer.
    public static let captureLimit = 16 << 20

    /// The contents of `path` (nil when it does not exist), then remove it. At most `limit + 1` bytes
    /// are read, so a longer file comes back longer than `limit` (cut there), and is never held whole.
    /// Only a regular file is read: a step that put a symbolic link there (to a file of this
    /// machine, from inside a container) or a named pipe (which would block) gets nil.
    public static func take(_ path: String, limit: Int = captureLimit) -> String? {
        guard let fd = openRegular(path) else {
            var info = stat()
            if lstat(path, &info) == 0 { unlink(path) }  // a link, a device, a pipe: gone, unread
            return nil
        }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 16384)
        while data.count <= limit {
            let wanted = min(buffer.count, limit + 1 - data.count)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, wanted) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            data.append(contentsOf: buffer[0..<count])
        }
        close(fd)
        unlink(path)
        return String(decoding: data, as: UTF8.self)
    }

    /// `path` opened for reading if it is a regular file (the last part not a link), else nil:
    /// looked at first without opening it (`O_PATH`), so that a device node a container's process
    /// put there is never opened (review 52: opening `/dev/watchdog` is the damage), then opened
    /// again through the descriptor.
    public static func openRegular(_ path: String) -> Int32? {
        let handle = open(path, NXA_O_PATH | O_NOFOLLOW | O_CLOEXEC)
        guard handle >= 0 else { return nil }
        defer { close(handle) }
        return reopenRegular(handle)
    }

    /// The file `handle` (an `O_PATH` descriptor) opened for reading when it is a regular file.
    public static func reopenRegular(_ handle: Int32) -> Int32? {
        var info = stat()
        guard fstat(handle, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let fd = open("/proc/self/fd/\(handle)", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }

    /// `relative` (below the folder `base`) opened for reading if it is a regular file reached
    /// without a symbolic link anywhere on the way (`nxa_open_beneath`) and without opening
    /// anything else; nil otherwise.
    public static func openRegular(_ relative: String, beneath base: String) -> Int32? {
        let top = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard top >= 0 else { return nil }
        defer { close(top) }
        let handle = nxa_open_beneath(top, relative, NXA_O_PATH)
        guard handle >= 0 else { return nil }
        defer { close(handle) }
        return reopenRegular(handle)
    }

    /// Whether `relative` is a folder below `base`, links on the way followed only while they
    /// stay below it (never to a folder of this machine outside: review 52); nil when that
    /// cannot be told here (a link out, an absolute one a container reads otherwise, no openat2).
    public static func isFolder(_ relative: String, beneath base: String) -> Bool? {
        let top = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard top >= 0 else { return false }
        defer { close(top) }
        let handle = nxa_open_beneath_links(top, relative, NXA_O_PATH | O_DIRECTORY)
        guard handle >= 0 else { return errno == EXDEV || errno == ENOSYS || errno == EPERM ? nil : false }
        close(handle)
        return true
    }

    /// Copy the regular file `from` to the new file `to` with its permission bits: a
    /// copy-on-write clone where the file system allows, else an in-kernel copy. Returns an errno
    /// on failure.
    public static func copyFile(from: String, to: String) -> Int32? {
        let rc = nxa_copy_file(from, to)
        return rc == 0 ? nil : rc
    }

    /// Rename `from` to `to` unless `to` exists (renameat2 with RENAME_NOREPLACE: one call, no
    /// window between a check and the rename). Returns nil, or an errno: EEXIST when `to` exists;
    /// EINVAL or ENOSYS where the file system or kernel cannot do it (check and rename yourself).
    public static func renameNoReplace(_ from: String, _ to: String) -> Int32? {
        let rc = nxa_rename_noreplace(from, to)
        return rc == 0 ? nil : rc
    }

    /// On an ext4 without a journal, ask the file system to place each folder made in `path` (a
    /// folder this process made) in a block group of its own choosing rather than beside `path`
    /// (`chattr +T`). For the folders that hold one folder per run or per job: there, making a
    /// file or folder beside thousands freed in the last minutes (by earlier runs) costs a check of
    /// each (docs/benchmarks.md, round 17). Elsewhere nothing is changed. Returns an errno when the
    /// flag was not set (EOPNOTSUPP: not such a file system; ENOTTY: no such flag).
    @discardableResult
    public static func spreadSubfolders(_ path: String) -> Int32? {
        let rc = nxa_spread_subfolders(path)
        return rc == 0 ? nil : rc
    }

    /// Make the folder `path` and those above it that are missing (`mkdir -p`, mode 0755 whatever
    /// the umask: never writable by others, even under umask 000). Returns the errno of the first folder that could not be made (ENOTDIR when a file
    /// stands where a folder should be); an existing folder is not a failure.
    @discardableResult
    public static func makeFolders(_ path: String) -> Int32? {
        if mkdir(path, 0o755) == 0 { return nil }
        var failure = errno
        if failure == ENOENT {
            let parent = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            if !parent.isEmpty, let above = makeFolders(parent) { return above }
            if mkdir(path, 0o755) == 0 { return nil }
            failure = errno
        }
        var info = stat()
        guard failure == EEXIST, stat(path, &info) == 0 else { return failure }
        return info.st_mode & S_IFMT == S_IFDIR ? nil : ENOTDIR
    }

    /// Remove `path` and everything below it (links not followed, read-only folders made writable
    /// first). Returns an errno on failure; a missing `path` is not one.
    @discardableResult
    public static func removeTree(_ path: String) -> Int32? {
        let rc = nxa_remove_tree(path)
        return rc == 0 ? nil : rc
    }

    /// Empty the folders `names` inside the folder `path`, which must hold exactly those, each a
    /// real folder (not a link) with permission bits `mode`. Nil when all of that holds and they
    /// are empty now, else an errno (ENOTEMPTY: `path` holds something else; EPERM: another mode).
    public static func emptySubfolders(_ path: String, _ names: [String], mode: mode_t) -> Int32? {
        var pointers = names.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        let rc = pointers.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                nxa_empty_subfolders(path, $0, Int32(names.count), UInt32(mode))
            }
        }
        return rc == 0 ? nil : rc
    }

    /// The names in the folder `path` that begin with `prefix`, or nil when it cannot be read.
    /// Names are compared as bytes before any string is made: a shared /tmp can hold thousands of
    /// entries, and a run lists it at every start.
    public static func names(in path: String, prefix: String) -> [String]? {
        guard let folder = opendir(path) else { return nil }
        defer { closedir(folder) }
        let wanted = Array(prefix.utf8)
        var names: [String] = []
        while let entry = readdir(folder) {
            let matches = withUnsafeBytes(of: &entry.pointee.d_name) { raw -> Bool in
                let name = raw.bindMemory(to: UInt8.self)
                guard name.count > wanted.count else { return false }
                for index in 0..<wanted.count where name[index] != wanted[index] { return false }
                return name[wanted.count] != 0 || wanted.isEmpty
            }
            if matches {
                names.append(withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                })
            }
        }
        return names
    }

    private static let resolved = Mutex<[String: String]>([:])

    /// The absolute path of `command` in `searchPath` (cached), or `command` itself if it contains a
    /// slash or is not found (then the spawn reports the error).
    public static func resolve(_ command: String, searchPath: String) -> String {
        if command.utf8.contains(UInt8(ascii: "/")) { return command }  // bytes: not NSString's search
        let key = command + "\u{0}" + searchPath
        if let hit = resolved.withLock({ $0[key] }) { return hit }
        // The spawn's own lookup (as execvp's: a folder of that name is passed over).
        var found = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard nxa_find_in_path(command, searchPath, &found) == 0 else { return command }
        let path = found.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        resolved.withLock { $0[key] = path }
        return path
    }
}

extension FastFiles {
    /// Why a whole file could not be had: its reason and a hint.
    public struct ReadFailure: Error, Sendable {
        public let reason: String
        public let hint: String

        public init(reason: String, hint: String) {
            self.reason = reason
            self.hint = hint
        }

        /// Why a file could not be opened or read (`errno`), for a message and its hint.
        public init(errno error: Int32) {
            let text = String(cString: strerror(error))
            switch error {
            case _ where DescriptorShortage.matches(error): (reason, hint) = (text, DescriptorShortage.hint(error))
            case ENOENT: (reason, hint) = ("no such file", "check the path")
            case EACCES, EPERM: (reason, hint) = (text, "check its permissions")
            case EISDIR: (reason, hint) = ("it is a folder", "give the path of a file")
            default: (reason, hint) = (text, "check that it is a readable file")
            }
        }
    }

    /// The whole of `path`, at most `limit` bytes: a regular file, or a pipe (`<(command)`, a named
    /// pipe) read until its writers close it. Opened without waiting for a writer, so a named pipe
    /// nobody writes to reads as empty instead of blocking; a folder, a missing file or anything
    /// longer than `limit` (`/dev/zero`) is a failure that says so.
    public static func readWhole(_ path: String, limit: Int) -> Result<[UInt8], ReadFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(ReadFailure(errno: errno)) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { return .failure(ReadFailure(errno: EISDIR)) }
        // Blocking reads from here: a pipe's writer may not have written yet.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var bytes: [UInt8] = []
        if (info.st_mode & S_IFMT) == S_IFREG { bytes.reserveCapacity(min(Int(info.st_size), limit) + 1) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(errno: errno))
            }
            if count == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit {
                return .failure(ReadFailure(reason: "it is larger than \(limit >> 20) MiB", hint: "name a text file of a reasonable size (not a device or a pipe that never ends)"))
            }
        }
    }
}

/// Running out of file descriptors, said the same way wherever it happens: starting a step,
/// preparing a workspace, reading a workflow, loading a plugin.
public enum DescriptorShortage {
    /// Whether `error` means no descriptor was free (this process's limit, or the system's).
    public static func matches(_ error: Int32) -> Bool { error == EMFILE || error == ENFILE }

    /// What to do about this process running out (EMFILE), naming its soft limit.
    public static var hint: String { hint(EMFILE) }

    /// What to do about `error`: this process out of descriptors (EMFILE: how many it holds, its
    /// limit), or the whole system's table full (ENFILE: no limit of this process helps, and
    /// fewer jobs only if they are what holds them; audit 61 lost L3 blamed --jobs for both).
    public static func hint(_ error: Int32) -> String {
        if error == ENFILE {
            return "the system's table of open files is full (fs.file-max): other processes hold them; close some, or raise the system's limit"
        }
        let held = openCount().map { "\($0) open, " } ?? ""
        return "the process ran out of file descriptors (\(held)limit \(softLimit)): raise 'ulimit -n', or run fewer jobs at once (--jobs) if they are what holds them"
    }

    public static var softLimit: UInt64 {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        return UInt64(limit.rlim_cur)
    }

    /// How many descriptors this process has open: the entries of /proc/self/fd (less the one
    /// reading them), else (no /proc, or no descriptor free to read it) each number below the
    /// soft limit asked in turn, up to 65,536; nil beyond that.
    public static func openCount() -> Int? {
        if let names = FastFiles.names(in: "/proc/self/fd", prefix: "") { return max(0, names.count - 1) }
        let limit = softLimit
        guard limit <= 65536 else { return nil }
        return (0..<Int32(limit)).count { fcntl($0, F_GETFD) >= 0 }
    }
}

/// Path text without Foundation's `NSString` path methods: this toolchain's
/// `deletingLastPathComponent` traps on a path of one character (`"a"`, `"."`), which an artifact
/// path at the workspace's top (`path: f`) is.
public enum PathText {
    /// `path` without its last component, as `NSString.deletingLastPathComponent` gives it:
    /// `"a/b"` → `"a"`, `"/a"` → `"/"`, `"a"` → `""`, `"/"` → `"/"`; trailing slashes ignored.
    public static func parent(_ path: String) -> String {
        var text = Substring(path)
        while text.count > 1 && text.hasSuffix("/") { text = text.dropLast() }
        guard let slash = text.lastIndex(of: "/") else { return "" }
        if slash == text.startIndex { return "/" }
        var parent = text[..<slash]
        while parent.count > 1 && parent.hasSuffix("/") { parent = parent.dropLast() }
        return String(parent)
    }
}
