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

    public func copy(from source: URL, to destination: URL) throws {
        let manager = FileManager.default
        let skipRoots = ([destination] + skipping.map { URL(fileURLWithPath: $0) }).map { $0.resolvingSymlinksInPath().path }
        var pending: [(URL, URL)] = [(source.resolvingSymlinksInPath(), destination)]
        while let (from, to) = pending.popLast() {
            for name in try Self.names(in: from.path) where !isExcluded(name) {
                let child = from.appendingPathComponent(name)
                let target = to.appendingPathComponent(name)
                // The destination and the run directory (or a folder that contains them) are never copied.
                if skipRoots.contains(where: { $0 == child.path || $0.hasPrefix(child.path + "/") }) { continue }
                // A file that vanished while the project was being copied is not an error.
                var info = stat()
                guard lstat(child.path, &info) == 0 else { continue }
                do {
                    switch info.st_mode & S_IFMT {
                    case S_IFLNK:
                        let link = try manager.destinationOfSymbolicLink(atPath: child.path)
                        try manager.createSymbolicLink(atPath: target.path, withDestinationPath: link)
                    case S_IFDIR:
                        guard mkdir(target.path, info.st_mode & 0o7777 | 0o700) == 0 || errno == EEXIST else {
                            throw CopyFailure(path: target.path, errno: errno)
                        }
                        pending.append((child, target))
                    case S_IFREG:
                        // A clone or an in-kernel copy: no bytes pass through this process.
                        if let error = FastFiles.copyFile(from: child.path, to: target.path), error != ENOENT {
                            // Which side refused: the project's file, or the workspace.
                            let unreadable = (error == EACCES || error == EPERM) && access(child.path, R_OK) != 0
                            throw unreadable ? CopyFailure(unreadable: child.path, errno: error) : CopyFailure(path: target.path, errno: error)
                        }
                    default:
                        continue  // sockets, fifos, devices: not project files
                    }
                } catch let failure as CopyFailure {
                    throw failure
                } catch {
                    throw CopyFailure(path: child.path, reason: error.localizedDescription)
                }
            }
        }
    }

    /// The names in a folder of the project; a folder that cannot be read is a `CopyFailure`
    /// naming it (Foundation's error named neither the folder nor the cause).
    static func names(in folder: String) throws -> [String] {
        guard let names = FastFiles.names(in: folder, prefix: "") else {
            let error = errno  // opendir's
            if error == ENOENT { return [] }  // vanished while the project was being copied
            throw error == EACCES || error == EPERM ? CopyFailure(unreadable: folder, errno: error) : CopyFailure(path: folder, errno: error)
        }
        return names.filter { $0 != "." && $0 != ".." }
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

    func isExcluded(_ name: String) -> Bool {
        excludes.contains { fnmatch($0, name, 0) == 0 }
    }
}
