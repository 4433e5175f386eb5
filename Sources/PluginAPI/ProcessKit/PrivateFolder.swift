import CProcessSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A temporary folder only this user can enter, made fresh (never an existing one), and marked
/// as in use for as long as this process lives.
///
/// The mark is an exclusive `flock` on `<folder>/.lock`, held through a descriptor that is
/// closed on exec: the kernel drops it when the process dies, however it dies. `sweepDead` removes
/// the folders whose mark nobody holds any more: those of runs that were killed.
public final class PrivateFolder: Sendable {
    public let path: String
    private let lockFD: Int32

    public static let lockName = ".lock"

    /// Whether `name` is `<prefix>` and six letters or digits, as `init` makes them.
    public static func isMade(_ name: String, prefix: String) -> Bool {
        guard name.hasPrefix(prefix) else { return false }
        let tail = name.utf8.dropFirst(prefix.utf8.count)
        return tail.count == 6 && tail.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }

    /// Make `<base>/<prefix>XXXXXX` (mkdtemp: a new name, created exclusively, mode 0700).
    ///
    /// The folder is made and locked under a name sweepers ignore (`.<prefix>…`), then renamed
    /// (never over an existing name) to its final one: no sweeper ever sees it unlocked.
    public init(base: String, prefix: String) throws(SpawnError) {
        var template = Array("\(base)/.\(prefix)XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let start = buffer.baseAddress, mkdtemp(start) != nil else { return nil }
            return String(cString: start)
        }
        guard let made else { throw SpawnError(command: "mkdtemp \(base)/\(prefix)XXXXXX", errno: errno) }
        let fd = open(made + "/" + Self.lockName, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let saved = errno
            if fd >= 0 { close(fd) }
            Self.removeTree(made)
            throw SpawnError(command: "lock \(made)", errno: saved)
        }
        // The final name's six characters are drawn anew, not the made name's: another user
        // watching the folder (inotify) sees the made name and could take the final one first,
        // failing every run (EEXIST). A name taken (by chance, or so) is drawn again.
        var renamed = EEXIST
        var final = ""
        for _ in 0..<16 where renamed == EEXIST {
            final = base + "/" + prefix + Self.randomSuffix()
            renamed = nxa_rename_noreplace(made, final)
        }
        guard renamed == 0 else {
            close(fd)
            Self.removeTree(made)
            throw SpawnError(command: "rename \(made)", errno: renamed)
        }
        path = final
        lockFD = fd
    }

    /// Six letters or digits (`isMade`), from the system's random source.
    static func randomSuffix() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<6).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] }, as: UTF8.self)
    }

    /// Remove the folder and everything in it: the lock file last, so that the folder is never
    /// seen unlocked with something still in it.
    public func remove() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where name != Self.lockName {
            Self.removeTree(path + "/" + name)
        }
        unlink(path + "/" + Self.lockName)
        if rmdir(path) != 0 { Self.removeTree(path) }
    }

    /// Remove everything in the folder but `kept` (and then the lock file): what is left is a
    /// dead folder to `sweepDead`, which gives its `beforeRemoving` one more go at it.
    public func remove(keeping kept: String) { Self.empty(path, keeping: kept) }

    /// Remove everything in the folder at `path` but `kept`, its lock file last (a folder whose
    /// owner is gone too).
    public static func empty(_ path: String, keeping kept: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where name != lockName && name != kept {
            removeTree(path + "/" + name)
        }
        unlink(path + "/" + lockName)
    }

    deinit {
        close(lockFD)
    }

    /// Remove every folder in `base` whose name `matching` accepts (the names `init` gives) of this
    /// user whose lock no live process holds, or that has no lock file any more (a removal that was
    /// cut short: a folder gets its final name only once locked). Anything else, folders of other
    /// users and links are left alone.
    /// - Parameter beforeRemoving: called with each dead folder's name, before it is removed.
    /// - Returns: the folders removed.
    @discardableResult
    /// - Parameter prefix: only names beginning with it are considered (compared as bytes, so a
    ///   crowded /tmp costs little).
    public static func sweepDead(base: String, prefix: String, matching: (String) -> Bool,
                                 beforeRemoving: (String) -> Void = { _ in }) -> [String] {
        guard let names = FastFiles.names(in: base, prefix: prefix) else { return [] }
        var removed: [String] = []
        for name in names where matching(name) {
            let folder = base + "/" + name
            var info = stat()
            guard lstat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid() else { continue }
            // A folder of ours a step made unreadable (chmod 000) is read again (audit 66 hardening L2).
            if info.st_mode & S_IRWXU != S_IRWXU { chmod(folder, 0o700) }
            let fd = open(folder + "/" + lockName, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else {
                if errno == ENOENT {
                    beforeRemoving(name)
                    removeTree(folder)
                    removed.append(folder)
                }
                continue
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                beforeRemoving(name)
                removeTree(folder)
                removed.append(folder)
            }
            close(fd)
        }
        return removed
    }

    /// `rm -rf`, never following links out of the tree.
    static func removeTree(_ path: String) {
        FastFiles.removeTree(path)
    }
}
