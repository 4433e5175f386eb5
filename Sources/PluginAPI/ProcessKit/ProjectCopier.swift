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
    public func copy(from source: URL, to destination: URL) throws {
        let skipRoots = ([destination] + skipping.map { URL(fileURLWithPath: $0) }).map { Array($0.resolvingSymlinksInPath().path.utf8) }
        var pending: [([UInt8], [UInt8])] = [(Array(source.resolvingSymlinksInPath().path.utf8), Array(destination.path.utf8))]
        // The project itself gone (removed while the run went on) is not a folder that vanished
        // while it was copied: a job must not start in an empty workspace (audit 57 M1).
        var root = stat()
        guard stat(source.path, &root) == 0, root.st_mode & S_IFMT == S_IFDIR else {
            throw CopyFailure(unreadable: source.path, errno: errno == 0 ? ENOTDIR : errno)
        }
        while let (from, to) = pending.popLast() {
            for name in try Self.names(in: from) where !isExcluded(name) {
                let child = from + [UInt8(ascii: "/")] + name
                let target = to + [UInt8(ascii: "/")] + name
                // The destination and the run directory (or a folder that contains them) are never copied.
                if skipRoots.contains(where: { $0 == child || ($0.count > child.count && $0.starts(with: child + [UInt8(ascii: "/")])) }) { continue }
                // A file that vanished while the project was being copied is not an error.
                var info = stat()
                guard Self.withPath(child, { lstat($0, &info) }) == 0 else {
                    if errno == ENOENT { continue }
                    throw CopyFailure(unreadable: Self.shown(child), errno: errno)
                }
                switch info.st_mode & S_IFMT {
                case S_IFLNK:
                    var link = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
                    let length = Self.withPath(child) { readlink($0, &link, link.count - 1) }
                    guard length >= 0 else {
                        if errno == ENOENT { continue }
                        throw CopyFailure(unreadable: Self.shown(child), errno: errno)
                    }
                    let made = Self.withPath(Array(link[0..<length])) { linkText in Self.withPath(target) { symlink(linkText, $0) } }
                    guard made == 0 else { throw CopyFailure(path: Self.shown(target), errno: errno) }
                case S_IFDIR:
                    guard Self.withPath(target, { mkdir($0, info.st_mode & 0o7777 | 0o700) }) == 0 || errno == EEXIST else {
                        throw CopyFailure(path: Self.shown(target), errno: errno)
                    }
                    pending.append((child, target))
                case S_IFREG:
                    // A clone or an in-kernel copy: no bytes pass through this process.
                    let error = Self.withPath(child) { from in Self.withPath(target) { nxa_copy_file(from, $0) } }
                    if error != 0, error != ENOENT {
                        // Which side refused: the project's file, or the workspace.
                        let unreadable = (error == EACCES || error == EPERM) && Self.withPath(child, { access($0, R_OK) }) != 0
                        throw unreadable ? CopyFailure(unreadable: Self.shown(child), errno: error) : CopyFailure(path: Self.shown(target), errno: error)
                    }
                default:
                    continue  // sockets, fifos, devices: not project files
                }
            }
        }
    }

    /// `body` with `path` as a C string.
    static func withPath<T>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        (path + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }

    /// A path as messages show it (bytes that are not UTF-8 as U+FFFD).
    static func shown(_ path: [UInt8]) -> String { String(decoding: path, as: UTF8.self) }

    /// The names in a folder of the project, as bytes; a folder that cannot be read is a
    /// `CopyFailure` naming it (Foundation's error named neither the folder nor the cause).
    static func names(in folder: [UInt8]) throws -> [[UInt8]] {
        guard let handle = withPath(folder, { opendir($0) }) else {
            let error = errno  // opendir's
            if error == ENOENT { return [] }  // vanished while the project was being copied
            throw error == EACCES || error == EPERM ? CopyFailure(unreadable: shown(folder), errno: error) : CopyFailure(path: shown(folder), errno: error)
        }
        defer { closedir(handle) }
        var names: [[UInt8]] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
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
            if let errno, DescriptorShortage.matches(errno) { return DescriptorShortage.hint }
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

    func isExcluded(_ name: [UInt8]) -> Bool {
        Self.withPath(name) { name in excludes.contains { fnmatch($0, name, 0) == 0 } }
    }
}
